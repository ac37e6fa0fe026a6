package dev.polypool.engine;

import java.util.concurrent.CountDownLatch;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Value;

/**
 * One pool worker: a platform thread that owns one GraalPy context for its whole life, or,
 * in a pool with {@link RemoteWorkers}, one worker slot on a cluster member.
 *
 * <p>The thread takes a context, has the pool's {@link Driver} start it (identity, the
 * parent's state, the initializer), then takes tasks until it is told to stop,
 * reaches its task limit, or its context dies. Only this thread enters the context; other
 * threads only {@linkplain #cancel() cancel} it.
 */
final class Worker {
    private final WorkerPool pool;
    private final String name;
    private final int identity;
    private final long pid = ProcessIds.nextPid();
    private final Thread thread;
    private final CountDownLatch exited = new CountDownLatch(1);
    private final PoolStats.PerWorker stats;
    private volatile Context context;
    private volatile RemoteWorkers.Slot slot;
    private volatile boolean cancelled;
    // the remote slot's member left the cluster
    private volatile boolean memberLost;
    // the task being run and whether abort() targeted it; guarded by this
    private Task running;
    private boolean aborting;

    Worker(WorkerPool pool, String name, int identity) {
        this.pool = pool;
        this.name = name;
        this.identity = identity;
        this.stats = pool.stats().worker(name);
        this.thread = Thread.ofPlatform().name("polypool-" + name).daemon(true).unstarted(this::run);
    }

    String name() {
        return name;
    }

    void start() {
        thread.start();
    }

    /** Stops the worker: cancels the Python code it runs and wakes it if it waits for a task. */
    void cancel() {
        cancelled = true;
        thread.interrupt();
        RemoteWorkers.Slot s = slot;
        if (s != null) {
            s.close();
        }
        Context c = context;
        if (c != null) {
            try {
                c.close(true);
            } catch (RuntimeException ignored) {
                // the owner thread closes it too; either close suffices
            }
        }
    }

    /**
     * A task ended, the worker's {@code done}th: whether the worker must stop now, to be
     * replaced (its context is being closed under it, so the next task must not start
     * there, or it reached its task limit).
     */
    private boolean endsAfterTask(int limit, int done) {
        synchronized (this) {
            running = null;
            if (aborting) {
                return true;
            }
        }
        return limit > 0 && done >= limit;
    }

    /**
     * Stops the task of job {@code jobId} if this worker runs one: closes the context on
     * another thread (closing waits for the cancelled code to stop) and lets the worker exit
     * to be replaced. Never blocks.
     *
     * @return whether this worker was running a task of that job
     */
    boolean abort(long jobId) {
        Context c;
        synchronized (this) {
            if (running == null || running.jobId() != jobId || aborting) {
                return false;
            }
            aborting = true;
            c = context;
        }
        RemoteWorkers.Slot s = slot;
        if (s != null) {
            s.close();
            return true;
        }
        Thread.ofPlatform().name("polypool-abort-" + name).daemon(true).start(() -> {
            try {
                c.close(true);
            } catch (RuntimeException ignored) {
                // the worker closed it first
            }
        });
        return true;
    }

    void awaitExit() {
        try {
            exited.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        if (pool.config().remote() != null) {
            runRemote(pool.config().remote());
            return;
        }
        WorkerPool.Config config = pool.config();
        WarmContexts.Prepared prepared = null;
        boolean replace = false;
        Task current = null;
        try {
            Value runner;
            try {
                if (!pool.workerWanted()) {
                    return;
                }
                prepared = config.warm() != null ? config.warm().take(pool::workerWanted)
                        : WarmContexts.prepare(pool.runtime(), config.argv(), config.stdout(), config.stderr(), null);
                if (prepared == null) {
                    return; // the pool was closed with nothing left for this worker to do
                }
                context = prepared.context();
                if (cancelled) {
                    return;
                }
                runner = config.driver().startWorker(prepared, name, identity, pid,
                        ProcessIds.parentPid());
            } catch (PolyglotException e) {
                if (!cancelled) {
                    pool.markBroken("worker " + name + " failed to start: " + describe(e));
                }
                return;
            }
            Trace.log("ready");
            Log.ENGINE.debug(() -> "worker " + name + " started");
            int limit = config.maxTasksPerWorker();
            int done = 0;
            while (!cancelled) {
                current = pool.nextTask();
                if (current == null) {
                    break;
                }
                synchronized (this) {
                    running = current;
                }
                if (!pool.takeAborted(current.jobId())) {
                    long start = System.nanoTime();
                    Value result = runner.execute(current.kind(), current.function(), current.plain(), current.payload());
                    long ran = System.nanoTime();
                    Outcome outcome = config.driver().decode(current, result);
                    stats.ran(ran - start, System.nanoTime() - ran);
                    pool.deliver(outcome);
                }
                current = null;
                if (endsAfterTask(limit, ++done)) {
                    replace = true;
                    break;
                }
            }
        } catch (InterruptedException e) {
            // terminate() woke us
        } catch (RuntimeException e) {
            // the context died under the task (os._exit, a crash): lose the task, not the pool
            if (!cancelled) {
                replace = true;
                if (current != null) {
                    String lost = "worker " + name + " " + death(e) + " while running the task";
                    Log.ENGINE.warning(() -> lost);
                    pool.deliver(new Outcome(current.jobId(), current.index(), Protocol.LOST, lost));
                }
            }
        } finally {
            if (prepared != null) {
                prepared.close();
            }
            Trace.log("exited");
            Log.ENGINE.debug(() -> "worker " + name + " exited");
            exited.countDown();
            pool.workerExited(this, replace);
        }
    }

    /**
     * The loop of a remote worker: as {@link #run()}'s, with the slot's member in place of a
     * context. A task whose member is lost goes back to the pool's queue (once) and the worker
     * is replaced, on another member; so is an idle worker whose member left.
     */
    private void runRemote(RemoteWorkers remote) {
        boolean replace = false;
        Task current = null;
        RemoteWorkers.Slot s = null;
        try {
            try {
                s = remote.open(name, identity, this::memberLeft);
            } catch (RemoteWorkers.Unavailable e) {
                if (!cancelled) {
                    pool.markBroken(e.getMessage());
                }
                return;
            }
            if (s == null) {
                return;
            }
            slot = s;
            if (cancelled) {
                return;
            }
            int limit = pool.config().maxTasksPerWorker();
            int done = 0;
            while (!cancelled && !memberLost) {
                current = pool.nextTask();
                if (current == null) {
                    break;
                }
                synchronized (this) {
                    running = current;
                }
                if (!pool.takeAborted(current.jobId())) {
                    Outcome outcome;
                    try {
                        outcome = s.run(current);
                    } catch (RemoteWorkers.MemberLost e) {
                        boolean aborted;
                        synchronized (this) {
                            aborted = aborting;
                        }
                        if (!cancelled && !aborted) {
                            replace = true;
                            pool.retryOrLose(current, "worker " + name + " was lost with its member: " + e.getMessage());
                        }
                        current = null;
                        break;
                    }
                    pool.ranRemotely(current);
                    pool.deliver(outcome);
                }
                current = null;
                if (endsAfterTask(limit, ++done)) {
                    replace = true;
                    break;
                }
            }
            replace |= memberLost && !cancelled;
        } catch (InterruptedException e) {
            // terminate() woke us, or the member left while we waited for a task
            if (memberLost && !cancelled) {
                replace = true;
                if (current != null) {
                    pool.retryOrLose(current, "worker " + name + " was lost with its member");
                }
            }
        } finally {
            if (s != null) {
                s.close();
            }
            Trace.log("exited");
            exited.countDown();
            pool.workerExited(this, replace);
        }
    }

    private void memberLeft() {
        memberLost = true;
        thread.interrupt();
    }

    /**
     * How the worker's context ended under a task, in CPython's terms: the exit code of
     * {@code os._exit} (also after a task's {@code sys.exit}, see {@code polypool.worker}),
     * else what failed in the engine.
     */
    private String death(RuntimeException e) {
        Integer status = NativePosix.takeExit(pid);
        if (status == null && e instanceof PolyglotException p && p.isExit()) {
            status = p.getExitStatus();
        }
        if (status != null) {
            return "exited with exitcode " + status;
        }
        return "died (" + (e instanceof PolyglotException p ? describe(p) : e.toString()) + ")";
    }

    private static String describe(PolyglotException e) {
        if (e.isExit()) {
            return "exit status " + e.getExitStatus();
        }
        if (e.isCancelled()) {
            return "cancelled";
        }
        return String.valueOf(e.getMessage());
    }
}
