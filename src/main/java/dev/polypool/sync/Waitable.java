package dev.polypool.sync;

/**
 * Something a thread can wait on until it is ready, as {@code select} waits on a file
 * descriptor: a pipe end that has a message or is at end of file, a process that has exited.
 *
 * <p>{@link SyncServices#awaitReady} waits on several at once: it registers one
 * {@link Waiter} with each, and a waitable {@linkplain Waiter#signal() signals} its waiters
 * whenever it may have become ready. Implementations are thread-safe and never call back
 * into a waiter while holding a lock that {@link #isReady()} takes.
 */
public interface Waitable {
    /** Whether a read (or a join) would not block now. */
    boolean isReady();

    /** Signals {@code waiter} from now on whenever this may have become ready. */
    void addWaiter(Waiter waiter);

    /** Stops signalling {@code waiter}. */
    void removeWaiter(Waiter waiter);
}
