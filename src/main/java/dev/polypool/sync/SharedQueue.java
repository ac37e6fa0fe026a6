package dev.polypool.sync;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.TimeUnit;

import org.graalvm.polyglot.HostAccess;

/**
 * The state behind {@code multiprocessing.Queue} and {@code JoinableQueue}: one FIFO of
 * encoded items shared by every context the queue reaches.
 *
 * <p>Items are opaque to Java: plain values or pickled text, as the Python side encoded
 * them. A bounded queue ({@code maxSize > 0}) blocks producers when full. Blocking calls
 * wait at most the time they are given, so Python can check for signals between waits.
 * Thread-safe.
 */
public final class SharedQueue {
    private final long handle;
    private final int maxSize;
    private final Deque<Object> items = new ArrayDeque<>();
    private long unfinished;

    SharedQueue(long handle, int maxSize) {
        this.handle = handle;
        this.maxSize = maxSize;
    }

    /** The number by which other contexts find this queue ({@link SyncServices#lookupQueue}). */
    @HostAccess.Export
    public long handle() {
        return handle;
    }

    /**
     * Appends an item, waiting at most {@code timeoutSeconds} for room.
     *
     * @return whether the item was added (false: the queue stayed full)
     */
    @HostAccess.Export
    public synchronized boolean put(Object item, double timeoutSeconds) {
        if (!awaitCondition(() -> maxSize <= 0 || items.size() < maxSize, timeoutSeconds)) {
            return false;
        }
        items.addLast(item == null ? NullItem.INSTANCE : item);
        unfinished++;
        notifyAll();
        return true;
    }

    /**
     * Removes the oldest item, waiting at most {@code timeoutSeconds} for one.
     *
     * @return the item, or {@link #EMPTY} if none came
     */
    @HostAccess.Export
    public synchronized Object get(double timeoutSeconds) {
        if (!awaitCondition(() -> !items.isEmpty(), timeoutSeconds)) {
            return EMPTY;
        }
        Object item = items.pollFirst();
        notifyAll();
        return item == NullItem.INSTANCE ? null : item;
    }

    /** Marks one item taken earlier as processed; false if more were marked than put. */
    @HostAccess.Export
    public synchronized boolean taskDone() {
        if (unfinished <= 0) {
            return false;
        }
        if (--unfinished == 0) {
            notifyAll();
        }
        return true;
    }

    /** Waits at most {@code timeoutSeconds} for every item put to be marked done. */
    @HostAccess.Export
    public synchronized boolean join(double timeoutSeconds) {
        return awaitCondition(() -> unfinished == 0, timeoutSeconds);
    }

    @HostAccess.Export
    public synchronized int size() {
        return items.size();
    }

    /** What {@link #get} returns when no item came in time (no pickle starts with NUL). */
    public static final String EMPTY = "\u0000polypool-empty";

    private boolean awaitCondition(java.util.function.BooleanSupplier ready, double timeoutSeconds) {
        long deadline = System.nanoTime() + (long) (Math.max(0, timeoutSeconds) * 1e9);
        try {
            long left;
            while (!ready.getAsBoolean() && (left = deadline - System.nanoTime()) > 0) {
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return ready.getAsBoolean();
    }

    private enum NullItem { INSTANCE }
}
