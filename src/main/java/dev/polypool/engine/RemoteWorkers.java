package dev.polypool.engine;

/**
 * Where the workers of a pool run when they run on other machines: worker slots of a
 * cluster's members ({@code dev.polypool.cluster} implements it). A {@link WorkerPool} made
 * with one keeps its queue, run states and results here; each of its {@link Worker} threads
 * {@linkplain #open opens} a slot, a context on some member, and runs its tasks there one at
 * a time, as a local worker runs them in its context.
 *
 * <p>Thread-safe.
 */
public interface RemoteWorkers {
    /**
     * Opens a worker slot on some member and starts the worker there (its identity, the
     * parent's state, the pool's initializer); blocks until it has started.
     *
     * @param name     the worker's name ({@code multiprocessing.current_process().name})
     * @param identity the N of the name
     * @param lost     run (on any thread) when the slot's member leaves the cluster while the
     *                 slot is open
     * @return the slot, or null when the pool already has a worker for every worker of the
     *         cluster (a pool that follows the cluster's size shrinks with it)
     * @throws Unavailable if the worker cannot start: no member is left, or its start-up or
     *                     initializer failed; the pool is broken
     * @throws InterruptedException if interrupted while waiting
     */
    Slot open(String name, int identity, Runnable lost) throws Unavailable, InterruptedException;

    /** Called once by the pool these workers serve, as it is made. */
    void attach(WorkerPool pool);

    /** One worker on a member. */
    interface Slot {
        /**
         * Runs one task in the slot's worker; blocks until its outcome comes back.
         *
         * @throws MemberLost if the member left or died before the outcome came
         * @throws InterruptedException if interrupted while waiting
         */
        Outcome run(Task task) throws MemberLost, InterruptedException;

        /** Closes the slot and its worker, cancelling a task it runs; never blocks or throws. */
        void close();
    }

    /** No worker can be had: the pool is broken, for the reason in the message. */
    final class Unavailable extends Exception {
        public Unavailable(String message) {
            super(message);
        }
    }

    /** A slot's member is gone: what it was running may run again elsewhere. */
    final class MemberLost extends Exception {
        public MemberLost(String message) {
            super(message);
        }
    }
}
