package dev.polypool.engine;

import java.util.Map;

/**
 * The management interface of a pool's {@link PoolStats}: what {@code jconsole} and
 * {@code jcmd} show under {@code dev.polypool:type=PythonPool,name=...}. Times are seconds,
 * summed over tasks (queue wait) or workers (working, decoding).
 */
public interface PoolStatsMXBean {
    /** The pool's name. */
    String getName();

    /** The number of workers the pool keeps. */
    int getWorkers();

    /** Tasks queued so far. */
    long getTasksSubmitted();

    /** Tasks that returned a result. */
    long getTasksDone();

    /** Tasks whose function raised. */
    long getTasksFailed();

    /** Tasks lost with their worker, or failed because the pool was broken. */
    long getTasksLost();

    /** Tasks waiting in the queue now. */
    int getQueued();

    /** Time tasks spent in the queue, summed over tasks. */
    double getQueueWaitSeconds();

    /** Time workers spent running tasks, summed over workers. */
    double getWorkingSeconds();

    /** Time workers spent converting results to Java values. */
    double getDecodingSeconds();

    /** Time spent converting the Java API's arguments for the workers. */
    double getEncodingSeconds();

    /** Workers replaced (task limit reached, context died, call stopped). */
    long getWorkerReplacements();

    /** Seconds since the pool was made, until it ended. */
    double getElapsedSeconds();

    /** Tasks run, by worker name. */
    Map<String, Long> getTasksPerWorker();

    /** Time running and decoding, by worker name. */
    Map<String, Double> getBusySecondsPerWorker();
}
