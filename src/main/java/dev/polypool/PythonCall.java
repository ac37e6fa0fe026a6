package dev.polypool;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;

/**
 * One call of a Python function with its arguments, as a {@link Callable}, made by
 * {@link PythonPool#callable(PythonFunction, Object...)}: what Java code that takes
 * {@code Callable}s (an {@link java.util.concurrent.ExecutorService}'s {@code invokeAll}, a
 * library) runs on the pool. Given to the pool's {@link PythonPool#asExecutorService()}, it
 * runs on a worker without holding a thread of the caller's; {@link #call()} itself submits
 * the call and waits for its result. Immutable; may be called any number of times.
 *
 * @param <R> the Java type of the result
 */
public final class PythonCall<R> implements Callable<R> {
    private final PythonPool pool;
    private final PythonFunction<R> function;
    private final Object[] args;

    PythonCall(PythonPool pool, PythonFunction<R> function, Object[] args) {
        this.pool = pool;
        this.function = Objects.requireNonNull(function, "function");
        this.args = Objects.requireNonNull(args, "args").clone();
    }

    /**
     * Runs the call on the pool and waits for its result.
     *
     * @return the result, converted as {@link PythonPool} describes
     * @throws PythonException           if the Python function raised
     * @throws PythonConversionException if an argument or the result does not convert
     * @throws InterruptedException      if interrupted while waiting; the call is then cancelled
     */
    @Override
    public R call() throws Exception {
        var f = pool.submit(function, args);
        try {
            return PythonPool.await(f);
        } finally {
            f.cancel(true);
        }
    }

    /** Submits the call to {@code target}; returns at once. */
    java.util.concurrent.CompletableFuture<R> submitTo(PythonPool target) {
        return target.submit(function, args);
    }

    @Override
    public String toString() {
        List<Object> shown = Arrays.asList(args);
        return "PythonCall[" + function.name() + shown + "]";
    }
}
