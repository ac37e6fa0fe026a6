package dev.polypool.engine;

import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Value;

/**
 * Whoever drives a {@link WorkerPool}: how its workers start, how their results become
 * {@link Outcome}s, and where the outcomes go. There are two: {@link OutcomeQueue}, for a
 * Python pool or executor in some context (workers start in {@code polypool.worker}, results
 * stay pickled, outcomes wait in a queue for the context's result thread), and the Java
 * API's, in {@code dev.polypool.PythonPool} (workers start in {@code polypool.embed}, results
 * are converted to Java values in the workers, outcomes complete futures directly).
 */
public interface Driver {
    /**
     * Makes a fresh context a worker of the pool and returns its task runner, the Python
     * callable {@code run(kind, function, plain, payload)}. Called in the worker's thread, the
     * only one that enters the context.
     *
     * @param context  the worker's context, prepared by {@link WarmContexts}
     * @param name     the worker's name ({@code multiprocessing.current_process().name})
     * @param identity the N of the name
     * @param pid      the worker's process id ({@code os.getpid()})
     * @param ppid     its parent's process id
     * @return the task runner
     * @throws PolyglotException if the start-up or the pool's initializer raised: the pool is broken
     */
    Value startWorker(WarmContexts.Prepared context, String name, int identity, long pid, long ppid);

    /**
     * Turns what the task runner returned into an outcome whose payload holds only Java
     * values. Called in the worker's thread; must not keep {@code result}.
     *
     * @param task   the task that ran
     * @param result what the runner returned, a value of the worker's context
     * @return the outcome to deliver
     */
    Outcome decode(Task task, Value result);

    /**
     * Receives an outcome of the pool: a decoded result, or a {@link Protocol#LOST} task
     * (the payload is then a message). Called from worker threads and from the pool's
     * callers; must not block.
     *
     * @param outcome the outcome
     */
    void deliver(Outcome outcome);

    /**
     * Called once the pool has ended (terminated, or closed with every worker gone): no
     * outcome follows. Must not block.
     */
    void ended();
}
