package dev.polypool.sync;

/**
 * The wake-up call of one thread waiting on several {@link Waitable}s. A signal that comes
 * before the wait is not lost: the next {@link #await} returns at once. Thread-safe.
 */
public final class Waiter {
    private boolean signalled;

    /** Wakes the waiting thread, or the next one to wait. */
    public synchronized void signal() {
        signalled = true;
        notifyAll();
    }

    /**
     * Waits for a signal for at most {@code nanos}, and consumes it.
     *
     * @return false if the calling thread was interrupted (its interrupt status is kept)
     */
    synchronized boolean await(long nanos) {
        long deadline = System.nanoTime() + nanos;
        try {
            long left;
            while (!signalled && (left = deadline - System.nanoTime()) > 0) {
                java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        signalled = false;
        return true;
    }
}
