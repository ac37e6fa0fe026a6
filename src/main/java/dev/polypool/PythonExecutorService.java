package dev.polypool;

import java.util.List;
import java.util.Set;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.RunnableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A {@link PythonPool} seen as an {@link java.util.concurrent.ExecutorService}
 * ({@link PythonPool#asExecutorService()}), for code that wants one. A {@link PythonCall}
 * (from {@link PythonPool#callable}) runs on a worker of the pool: submitting it only queues
 * it, cancelling its future with {@code cancel(true)} stops its Python code, as cancelling a
 * {@link PythonPool#submit} future does. Any other task, a Java {@code Runnable} or
 * {@code Callable}, runs on a virtual thread of its own.
 *
 * <p>This is a view: {@link #shutdown()} and {@link #shutdownNow()} end the view (new tasks
 * are rejected; {@code shutdownNow} also cancels the tasks it runs), and
 * {@link #awaitTermination} waits for the tasks submitted through it. The pool itself keeps
 * running until its owner closes it; tasks submitted once it is closed are rejected.
 */
final class PythonExecutorService extends AbstractExecutorService {
    private final PythonPool pool;
    // the tasks submitted and not yet finished: Runnables, futures among them
    private final Set<Object> running = ConcurrentHashMap.newKeySet();
    private final Object lock = new Object();
    private volatile boolean shutdown;

    PythonExecutorService(PythonPool pool) {
        this.pool = pool;
    }

    @Override
    protected <T> RunnableFuture<T> newTaskFor(Callable<T> callable) {
        if (callable instanceof PythonCall<T> call) {
            return new PythonTask<>(call);
        }
        return super.newTaskFor(callable);
    }

    @Override
    public void execute(Runnable command) {
        synchronized (lock) {
            if (shutdown || pool.isShutdown()) {
                throw new RejectedExecutionException(shutdown ? "the executor service is shut down"
                        : "the pool is shut down");
            }
            running.add(command);
        }
        if (command instanceof PythonTask<?> task) {
            task.run(); // queues the call; never blocks
            return;
        }
        Thread.ofVirtual().name("polypool-executor-task").start(() -> {
            try {
                command.run();
            } finally {
                finished(command);
            }
        });
    }

    private void finished(Object task) {
        synchronized (lock) {
            running.remove(task);
            lock.notifyAll();
        }
    }

    @Override
    public void shutdown() {
        synchronized (lock) {
            shutdown = true;
            lock.notifyAll();
        }
    }

    @Override
    public List<Runnable> shutdownNow() {
        shutdown();
        for (Object task : running) {
            if (task instanceof Future<?> f) {
                f.cancel(true);
            }
        }
        return List.of(); // nothing waits here: a task is queued on the pool or running
    }

    @Override
    public boolean isShutdown() {
        return shutdown;
    }

    @Override
    public boolean isTerminated() {
        synchronized (lock) {
            return shutdown && running.isEmpty();
        }
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        synchronized (lock) {
            while (!(shutdown && running.isEmpty())) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            }
            return true;
        }
    }

    /** A Python call's future: {@code run} queues it on the pool; cancelling reaches the call. */
    private final class PythonTask<T> extends CompletableFuture<T> implements RunnableFuture<T> {
        private final PythonCall<T> call;
        private volatile CompletableFuture<T> submitted;

        PythonTask(PythonCall<T> call) {
            this.call = call;
        }

        @Override
        public void run() {
            if (isDone()) {
                finished(this);
                return;
            }
            CompletableFuture<T> f;
            try {
                f = call.submitTo(pool);
            } catch (RuntimeException e) {
                completeExceptionally(e);
                finished(this);
                return;
            }
            submitted = f;
            f.whenComplete((value, failure) -> {
                if (failure == null) {
                    complete(value);
                } else {
                    completeExceptionally(failure instanceof CompletionException c && c.getCause() != null
                            ? c.getCause() : failure);
                }
                finished(this);
            });
            if (isCancelled()) {
                f.cancel(true); // cancelled while being submitted
            }
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean cancelled = super.cancel(mayInterruptIfRunning);
            CompletableFuture<T> f = submitted;
            if (cancelled && f != null) {
                f.cancel(mayInterruptIfRunning);
            }
            finished(this);
            return cancelled;
        }
    }
}
