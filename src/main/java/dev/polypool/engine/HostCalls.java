package dev.polypool.engine;

import org.graalvm.polyglot.Value;

/**
 * Lets Java, rather than a Python context, drive a {@link WorkerPool}: the embedding API.
 *
 * <p>A pool configured with {@code HostCalls} starts its workers through
 * {@code polypool.embed} (its {@link WorkerPool.Config#setup() setup} is a Java array, not
 * pickled text), has each task's result converted into Java values by {@link #decode} in the
 * worker's own thread (the only thread allowed to touch the context's values), and hands
 * every outcome to {@link #deliver} instead of queueing it for {@link WorkerPool#takeOutcomes()}.
 */
public interface HostCalls {
    /**
     * Converts what the worker's task function returned into an outcome whose payload holds
     * only Java values. Called in the worker's thread; must not keep {@code result}.
     *
     * @param task   the task that ran
     * @param result what {@code polypool.embed.run} returned, a value of the worker's context
     * @return the outcome to deliver
     */
    Outcome decode(Task task, Value result);

    /**
     * Receives every outcome of the pool: decoded results, {@link Protocol#LOST} tasks
     * (the payload is then a message) and the end marker (job id {@code -1}) once the pool
     * has ended. Called from worker threads and from the pool's callers; must not block.
     *
     * @param outcome the outcome
     */
    void deliver(Outcome outcome);
}
