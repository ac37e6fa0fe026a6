package dev.polypool.sync;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.graalvm.polyglot.HostAccess;

/**
 * A process's end as something to wait on: what CPython's {@code Process.sentinel} file
 * descriptor is. It becomes ready once, when {@linkplain #fire() fired}, and stays ready.
 * Its {@linkplain #fd() number} is what Python sees as the sentinel, for
 * {@code multiprocessing.connection.wait}. Thread-safe.
 */
public final class Sentinel implements Waitable {
    private final List<Waiter> waiters = new CopyOnWriteArrayList<>();
    private final int fd;
    private volatile boolean fired;

    public Sentinel() {
        this.fd = SyncServices.get().registerSentinel(this);
    }

    /** The number standing for this sentinel (see {@link SyncServices#waitable}). */
    @HostAccess.Export
    public int fd() {
        return fd;
    }

    /** Marks the process as ended and wakes everyone waiting on it. Idempotent. */
    public void fire() {
        fired = true;
        for (Waiter w : waiters) {
            w.signal();
        }
    }

    @Override
    public boolean isReady() {
        return fired;
    }

    @Override
    public void addWaiter(Waiter waiter) {
        waiters.add(waiter);
    }

    @Override
    public void removeWaiter(Waiter waiter) {
        waiters.remove(waiter);
    }
}
