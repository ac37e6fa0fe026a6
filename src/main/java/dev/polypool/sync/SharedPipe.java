package dev.polypool.sync;

import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The channel behind {@code multiprocessing.Pipe}: two ends, each with a queue of the
 * messages sent to it from the other end, shared by every context holding an end.
 *
 * <p>Contexts hold ends through {@link PipeHandle}s, which play the part of file
 * descriptors: an end may have several open handles (one per context that inherited it),
 * and an end is closed once every handle of it is. A read at an end whose peer has no
 * open handle left, and whose queue is drained, reports end of file; a write to an end
 * with no open handle fails as a broken pipe. Messages are opaque strings (Latin-1 text of
 * the bytes sent), or for large ones a {@link SpilledMessage}: a file holding the bytes,
 * which the receiver reads and deletes, and which is deleted if the message is dropped. A pipe made with {@code duplex = false} is read at end 0 and written at
 * end 1, as CPython's {@code Pipe(duplex=False)} returns {@code (reader, writer)}.
 *
 * <p>Queues are unbounded, so a send never blocks (CPython's blocks when the OS buffer is
 * full, which can deadlock a sender that waits for its reader). Blocking calls wait at most
 * the time they are given and return early if the thread is interrupted, so Python can
 * check for signals and cancellation between waits. Thread-safe.
 */
public final class SharedPipe {
    /** {@link #receive} result: no message came in time. */
    public static final int EMPTY = 0;
    /** {@link #receive} result: the queue is drained and the peer end is closed. */
    public static final int EOF = 1;
    /** {@link #receive} result: the next message is longer than the limit; it was left queued. */
    public static final int TOO_LONG = 2;
    /** Result of every operation on a closed handle. */
    public static final int CLOSED = 3;
    /** {@link #send} result: queued. */
    public static final int SENT = 0;
    /** {@link #send} result: the receiving end is closed, the message was dropped. */
    public static final int BROKEN = 4;
    /** {@link #poll} result: a receive would not block. */
    public static final int READY = 5;

    private final boolean duplex;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition[] arrived = {lock.newCondition(), lock.newCondition()};
    @SuppressWarnings("unchecked")
    private final ArrayDeque<Object>[] inbox = new ArrayDeque[] {new ArrayDeque<Object>(), new ArrayDeque<Object>()};
    private final int[] open = new int[2];
    @SuppressWarnings("unchecked")
    private final List<Waiter>[] waiters = new List[] {new CopyOnWriteArrayList<Waiter>(), new CopyOnWriteArrayList<Waiter>()};

    SharedPipe(boolean duplex) {
        this.duplex = duplex;
    }

    /** Whether {@code end} may receive: both ends of a duplex pipe, else end 0. */
    public boolean readable(int end) {
        return duplex || end == 0;
    }

    /** Whether {@code end} may send: both ends of a duplex pipe, else end 1. */
    public boolean writable(int end) {
        return duplex || end == 1;
    }

    /** A new open handle of {@code end}, owned by no table yet. */
    PipeHandle open(int end) {
        lock.lock();
        try {
            open[end]++;
        } finally {
            lock.unlock();
        }
        return new PipeHandle(this, end);
    }

    /** A new handle of the same end as {@code handle}, or null if {@code handle} is closed. */
    PipeHandle duplicate(PipeHandle handle) {
        lock.lock();
        try {
            if (handle.closed) {
                return null;
            }
            open[handle.end()]++;
        } finally {
            lock.unlock();
        }
        return new PipeHandle(this, handle.end());
    }

    /** Closes {@code handle}; returns false if it was closed already. */
    boolean close(PipeHandle handle) {
        int peer = 1 - handle.end();
        lock.lock();
        try {
            if (handle.closed) {
                return false;
            }
            handle.closed = true;
            if (--open[handle.end()] > 0) {
                return true;
            }
            // nobody can read these any more; the peer now reads EOF or writes into a broken pipe
            for (Object message : inbox[handle.end()]) {
                if (message instanceof SpilledMessage spilled) {
                    spilled.delete();
                }
            }
            inbox[handle.end()].clear();
            arrived[peer].signalAll();
        } finally {
            lock.unlock();
        }
        signal(peer);
        return true;
    }

    /**
     * Queues {@code message} for the peer of {@code handle}'s end; never blocks.
     *
     * @param message a {@code String} or a {@link SpilledMessage}
     * @return {@link #SENT}, {@link #BROKEN} or {@link #CLOSED}
     */
    int send(PipeHandle handle, Object message) {
        int peer = 1 - handle.end();
        lock.lock();
        try {
            if (handle.closed) {
                return CLOSED;
            }
            if (open[peer] == 0) {
                return BROKEN;
            }
            inbox[peer].addLast(message);
            arrived[peer].signal();
        } finally {
            lock.unlock();
        }
        signal(peer);
        return SENT;
    }

    /**
     * Takes the next message sent to {@code handle}'s end, waiting at most
     * {@code timeoutSeconds} for one.
     *
     * @param maxLength the longest message to take; negative for no limit
     * @return the message, or {@link #EMPTY}, {@link #EOF}, {@link #TOO_LONG} or {@link #CLOSED}
     */
    Object receive(PipeHandle handle, double timeoutSeconds, long maxLength) {
        int end = handle.end();
        lock.lock();
        try {
            int state = awaitReadable(handle, timeoutSeconds);
            if (state != READY) {
                return state;
            }
            Object next = inbox[end].peekFirst();
            if (next == null) {
                return EOF;
            }
            long length = next instanceof SpilledMessage spilled ? spilled.length() : ((String) next).length();
            if (maxLength >= 0 && length > maxLength) {
                return TOO_LONG;
            }
            return inbox[end].pollFirst();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits at most {@code timeoutSeconds} until a receive at {@code handle}'s end would not
     * block (a message is queued, or the peer is closed).
     *
     * @return {@link #READY} if it would not, {@link #EMPTY} if it still would, {@link #CLOSED}
     */
    int poll(PipeHandle handle, double timeoutSeconds) {
        lock.lock();
        try {
            return awaitReadable(handle, timeoutSeconds);
        } finally {
            lock.unlock();
        }
    }

    boolean isClosed(PipeHandle handle) {
        lock.lock();
        try {
            return handle.closed;
        } finally {
            lock.unlock();
        }
    }

    /** Whether a receive at {@code end} would not block. */
    boolean ready(int end) {
        lock.lock();
        try {
            return isReadable(end);
        } finally {
            lock.unlock();
        }
    }

    void addWaiter(int end, Waiter waiter) {
        waiters[end].add(waiter);
    }

    void removeWaiter(int end, Waiter waiter) {
        waiters[end].remove(waiter);
    }

    // holds the lock
    private boolean isReadable(int end) {
        return !inbox[end].isEmpty() || open[1 - end] == 0;
    }

    // holds the lock; READY, EMPTY or CLOSED
    private int awaitReadable(PipeHandle handle, double timeoutSeconds) {
        int end = handle.end();
        long left = (long) (Math.max(0, timeoutSeconds) * 1e9);
        try {
            while (!handle.closed && !isReadable(end) && left > 0) {
                left = arrived[end].awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (handle.closed) {
            return CLOSED;
        }
        return isReadable(end) ? READY : EMPTY;
    }

    // never under the lock: awaitReady takes the pipe's lock to check readiness, so a
    // waiter's monitor must not be taken inside it
    private void signal(int end) {
        for (Waiter w : waiters[end]) {
            w.signal();
        }
    }
}
