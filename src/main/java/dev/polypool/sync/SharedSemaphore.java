package dev.polypool.sync;

import java.util.concurrent.TimeUnit;

import org.graalvm.polyglot.HostAccess;

/**
 * The state behind {@code multiprocessing}'s locks and semaphores: one Java object that
 * every context holding the lock refers to, so that a {@code Lock} passed to another
 * context is the same lock, not a copy.
 *
 * <p>It has the semantics of CPython's {@code _multiprocessing.SemLock}: a counting
 * semaphore bounded by {@code maxValue}, or a recursive mutex owned by one thread. Threads
 * are identified by the calling Java thread, which is the Python thread in every context.
 *
 * <p>Thread-safe; {@link #acquire} blocks with a time limit so that Python can check for
 * signals and cancellation between waits.
 */
public final class SharedSemaphore {
    /** {@code multiprocessing.synchronize.RECURSIVE_MUTEX}. */
    public static final int RECURSIVE_MUTEX = 0;
    /** {@code multiprocessing.synchronize.SEMAPHORE}. */
    public static final int SEMAPHORE = 1;

    /** {@link #release} result: released. */
    public static final int RELEASED = 0;
    /** {@link #release} result: a recursive mutex released by a thread that does not own it. */
    public static final int NOT_OWNER = 1;
    /** {@link #release} result: a bounded semaphore released above its maximum. */
    public static final int TOO_MANY_RELEASES = 2;

    private final long handle;
    private final int kind;
    private final int maxValue;
    private int value;
    private Thread owner;
    private int recursion;

    SharedSemaphore(long handle, int kind, int value, int maxValue) {
        if (kind != RECURSIVE_MUTEX && kind != SEMAPHORE) {
            throw new IllegalArgumentException("unrecognized kind");
        }
        this.handle = handle;
        this.kind = kind;
        this.value = value;
        this.maxValue = maxValue;
    }

    /** The number by which other contexts find this object ({@link SyncServices#lookup}). */
    @HostAccess.Export
    public long handle() {
        return handle;
    }

    /**
     * Takes one unit, waiting at most {@code timeoutSeconds} (0: do not wait). A recursive
     * mutex already owned by the calling thread is taken again at once.
     *
     * @return whether the unit was taken; false on timeout or interruption
     */
    @HostAccess.Export
    public synchronized boolean acquire(double timeoutSeconds) {
        Thread me = Thread.currentThread();
        if (kind == RECURSIVE_MUTEX && owner == me) {
            recursion++;
            return true;
        }
        if (value == 0 && timeoutSeconds > 0) {
            long deadline = System.nanoTime() + (long) (timeoutSeconds * 1e9);
            try {
                long left;
                while (value == 0 && (left = deadline - System.nanoTime()) > 0) {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        if (value == 0) {
            return false;
        }
        value--;
        if (kind == RECURSIVE_MUTEX) {
            owner = me;
            recursion = 1;
        }
        return true;
    }

    /** Gives one unit back; returns {@link #RELEASED}, {@link #NOT_OWNER} or {@link #TOO_MANY_RELEASES}. */
    @HostAccess.Export
    public synchronized int release() {
        if (kind == RECURSIVE_MUTEX) {
            if (owner != Thread.currentThread()) {
                return NOT_OWNER;
            }
            if (--recursion > 0) {
                return RELEASED;
            }
            owner = null;
        } else if (value >= maxValue) {
            return TOO_MANY_RELEASES;
        }
        value++;
        notify();
        return RELEASED;
    }

    /** The recursion depth of the calling thread's hold on a recursive mutex, else 0. */
    @HostAccess.Export
    public synchronized int heldByCaller() {
        return kind == RECURSIVE_MUTEX && owner == Thread.currentThread() ? recursion : 0;
    }

    /** The current value: free units. */
    @HostAccess.Export
    public synchronized int value() {
        return value;
    }
}
