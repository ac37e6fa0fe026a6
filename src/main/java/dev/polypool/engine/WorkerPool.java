package dev.polypool.engine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.BlockingDeque;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.graalvm.polyglot.HostAccess;

import dev.polypool.io.ConsoleSink;
import dev.polypool.sync.HandleTable;

/**
 * A fixed-size set of worker contexts that run {@link Task}s from one shared queue and
 * hand each {@link Outcome} to the pool's {@link Driver}. How a task travels, for both
 * drivers, is drawn in {@code docs/architecture.md}.
 *
 * <p><b>Run states.</b> A pool starts {@link Config#processes()} workers at construction, all
 * concurrently and in the background: the constructor does not wait for any context to be
 * created, and tasks submitted meanwhile wait in the queue. Then:
 * <ul>
 * <li>RUNNING: tasks are accepted. A worker that exits (it ran
 *     {@link Config#maxTasksPerWorker()} tasks, its context died, or {@link #abort} cancelled
 *     it) is replaced.</li>
 * <li>CLOSED, after {@link #close()}: submitting throws; the queued tasks still run, followed
 *     in the queue by one stop sign per worker. An exiting worker is replaced only while tasks
 *     remain queued.</li>
 * <li>TERMINATED, after {@link #terminate()} (from RUNNING or CLOSED): submitting throws,
 *     the queue is emptied, every worker's context is cancelled and none is replaced;
 *     {@code terminate} returns once every worker has exited.</li>
 * </ul>
 * Two conditions cut across the states. <i>Ended</i>: once the pool is not RUNNING and its
 * last worker has exited, the driver's {@link Driver#ended()} is called, once, and the handle
 * tables given to {@link #closeWhenEnded} are closed. <i>Broken</i>: a worker that cannot
 * start (its context fails, or the initializer raises) breaks the pool for good: queued and
 * later tasks complete as {@link Protocol#LOST} at once, and no worker is replaced.
 *
 * <p><b>Workers not needed.</b> After {@link #startOnlyWhenNeeded()}, a worker that has not
 * started its context yet when the pool is no longer RUNNING and no task is queued exits
 * without starting: a context takes a tenth of a second or more to make, and a Pool(32)
 * closed after a short map would otherwise wait for all of them (CPython forks its workers
 * in milliseconds).
 *
 * <p><b>Failures.</b> A task whose worker dies while running it (the task called
 * {@code os._exit}, or its context crashed) completes with status {@link Protocol#LOST}, so
 * a caller never waits forever.
 *
 * <p><b>Remote workers.</b> A pool made with {@link Config#remote()} runs its workers on a
 * cluster's members instead of in this JVM (see {@link RemoteWorkers}); queue, states and
 * outcomes stay here. A task whose member left while running it goes back to the front of the
 * queue, once ({@link #retryOrLose}); a second loss completes it as {@link Protocol#LOST}.
 *
 * <p><b>Callers.</b> A Python context calls the methods annotated {@link HostAccess.Export}
 * (its driver is an {@link OutcomeQueue}); the Java API calls them directly and may also
 * {@linkplain #abort(long) stop} a running task.
 *
 * <p>All methods are thread-safe.
 */
public final class WorkerPool {
    // the stop sign close() queues behind the tasks, one per worker
    private static final Task STOP = new Task(-1, -1, -1, null, false, null);

    /**
     * How to build this pool's workers.
     *
     * @param processes          number of workers, at least 1
     * @param maxTasksPerWorker  tasks after which a worker is replaced; 0 for never
     * @param namePrefix         worker names are {@code namePrefix + "-" + identity}
     * @param argv               {@code sys.argv} in each worker
     * @param stdout             where workers' standard output goes
     * @param stderr             where workers' standard error goes
     * @param warm               where workers take their contexts from; null to create each
     *                           in its worker's thread
     * @param driver             how workers start, how results are decoded, who receives the outcomes
     * @param remote             where the workers run when not in this JVM; null for here
     */
    public record Config(int processes, int maxTasksPerWorker, String namePrefix, List<String> argv,
                         ConsoleSink stdout, ConsoleSink stderr, WarmContexts warm, Driver driver,
                         RemoteWorkers remote) {
        /** A pool whose workers run in this JVM. */
        public Config(int processes, int maxTasksPerWorker, String namePrefix, List<String> argv,
                      ConsoleSink stdout, ConsoleSink stderr, WarmContexts warm, Driver driver) {
            this(processes, maxTasksPerWorker, namePrefix, argv, stdout, stderr, warm, driver, null);
        }

        public Config {
            if (processes < 1) {
                throw new IllegalArgumentException("processes must be at least 1");
            }
            if (maxTasksPerWorker < 0) {
                throw new IllegalArgumentException("maxTasksPerWorker must be >= 0");
            }
            Objects.requireNonNull(namePrefix);
            argv = List.copyOf(argv);
            Objects.requireNonNull(stdout);
            Objects.requireNonNull(stderr);
            Objects.requireNonNull(driver);
        }
    }

    private enum State { RUNNING, CLOSED, TERMINATED }

    private final PolyglotRuntime runtime;
    private final Config config;
    // a deque: a task whose remote worker was lost goes back to the front, before the stop signs
    private final BlockingDeque<Task> tasks = new LinkedBlockingDeque<>();
    private final List<Worker> workers = new CopyOnWriteArrayList<>();
    private final AtomicInteger queuedTasks = new AtomicInteger();
    // jobs abort() found on no worker: one may be between the queue and its worker's run
    private final Set<Long> abortedJobs = ConcurrentHashMap.newKeySet();
    private final Object lock = new Object();
    // written under lock; read without it by workers deciding whether to start at all
    private volatile State state = State.RUNNING;
    private volatile boolean startOnDemand;
    private String brokenReason;
    private boolean endSignalled;
    private final List<HandleTable> releasedAtEnd = new ArrayList<>();
    private final PoolStats stats;
    private volatile ConsoleSink statsAtEnd;
    // tasks that already went back to the queue once after a lost member; guarded by lock
    private final Set<Task> retried = Collections.newSetFromMap(new IdentityHashMap<>());

    /**
     * Creates the pool and starts its workers in the background.
     *
     * @throws IllegalStateException if the polyglot runtime cannot start (see {@link PolyglotRuntime#get()})
     */
    public WorkerPool(PolyglotRuntime runtime, Config config) {
        this.runtime = Objects.requireNonNull(runtime);
        this.config = Objects.requireNonNull(config);
        this.stats = new PoolStats(config.namePrefix(), config.processes(), queuedTasks::get);
        Log.ENGINE.info(() -> "pool " + stats.getName() + " starting " + config.processes() + " workers");
        synchronized (lock) {
            for (int i = 0; i < config.processes(); i++) {
                startWorker();
            }
        }
        if (config.remote() != null) {
            config.remote().attach(this);
        }
    }

    /** Why the pool is broken (a worker could not start), or null while it is not. */
    public String brokenReason() {
        synchronized (lock) {
            return brokenReason;
        }
    }

    /** The number of workers, live or starting. */
    public int workerCount() {
        return workers.size();
    }

    /**
     * Starts {@code n} more workers while the pool runs and is not broken: a remote pool that
     * follows its cluster's size grows when a member joins. Never blocks.
     */
    public void grow(int n) {
        synchronized (lock) {
            if (state != State.RUNNING || brokenReason != null) {
                return;
            }
            for (int i = 0; i < n; i++) {
                startWorker();
            }
        }
    }

    /**
     * Lets workers that are not needed any more skip their start (see the class comment):
     * for pools whose workers' start has no effect a program could see, that is with no
     * initializer. Never blocks.
     */
    @HostAccess.Export
    public void startOnlyWhenNeeded() {
        startOnDemand = true;
    }

    /** Whether a worker that has not started yet should still start. */
    boolean workerWanted() {
        return !startOnDemand || state == State.RUNNING || queuedTasks.get() > 0;
    }

    private void wakeStartingWorkers() {
        if (startOnDemand && config.warm() != null) {
            config.warm().wakeTakers();
        }
    }

    /** The names of the live workers, in start order. */
    @HostAccess.Export
    public List<String> workerNames() {
        List<String> names = new ArrayList<>();
        for (Worker w : workers) {
            names.add(w.name());
        }
        return names;
    }

    /**
     * Queues a task; never blocks. The arguments are those of {@link Task}.
     *
     * @throws IllegalStateException if the pool was closed or terminated
     */
    @HostAccess.Export
    public void submit(long jobId, int index, int kind, String function, boolean plain, Object payload) {
        enqueue(jobId, List.of(new Task(jobId, index, kind, function, plain, payload)));
    }

    /**
     * Queues tasks {@code firstIndex}, {@code firstIndex + 1}, ... of job {@code jobId}, all of
     * one kind and function, with encoded (not plain) payloads; never blocks. One call queues
     * many tasks because each call from Python releases and re-acquires the calling context's
     * GIL, which costs far more than queueing when other threads of that context wait for it.
     *
     * @param payloads the payloads end to end
     * @param ends     where each payload ends in {@code payloads}, comma-separated
     * @throws IllegalStateException    if the pool was closed or terminated
     * @throws IllegalArgumentException if {@code ends} does not describe {@code payloads}
     */
    @HostAccess.Export
    public void submitBatch(long jobId, int firstIndex, int kind, String function, String payloads, String ends) {
        String[] marks = ends.isEmpty() ? new String[0] : ends.split(",");
        List<Task> batch = new ArrayList<>(marks.length);
        int start = 0;
        for (String mark : marks) {
            int end = Integer.parseInt(mark);
            if (end < start || end > payloads.length()) {
                throw new IllegalArgumentException("payload end " + end + " outside " + start + ".." + payloads.length());
            }
            batch.add(new Task(jobId, firstIndex + batch.size(), kind, function, false, payloads.substring(start, end)));
            start = end;
        }
        if (start != payloads.length()) {
            throw new IllegalArgumentException("payloads go on past the last end, " + start);
        }
        enqueue(jobId, batch);
    }

    /**
     * Queues tasks {@code firstIndex}, {@code firstIndex + 1}, ... of job {@code jobId}, all of
     * one kind and function, whose payloads are plain integers (see {@link Task#plain()});
     * never blocks. The batched counterpart of {@link #submit} for the commonest plain
     * payload, for the reason given at {@link #submitBatch}.
     *
     * @param values the integers in decimal, comma-separated
     * @throws IllegalStateException if the pool was closed or terminated
     * @throws NumberFormatException if {@code values} holds something else
     */
    @HostAccess.Export
    public void submitLongBatch(long jobId, int firstIndex, int kind, String function, String values) {
        String[] numbers = values.isEmpty() ? new String[0] : values.split(",");
        List<Task> batch = new ArrayList<>(numbers.length);
        for (String number : numbers) {
            batch.add(new Task(jobId, firstIndex + batch.size(), kind, function, true, Long.parseLong(number)));
        }
        enqueue(jobId, batch);
    }

    private void enqueue(long jobId, List<Task> batch) {
        synchronized (lock) {
            if (state != State.RUNNING) {
                throw new IllegalStateException("Pool not running");
            }
            stats.submitted(batch.size());
            if (brokenReason != null) {
                for (Task t : batch) {
                    deliver(new Outcome(jobId, t.index(), Protocol.LOST, brokenReason));
                }
                return;
            }
            queuedTasks.addAndGet(batch.size());
            tasks.addAll(batch);
            stats.queueChanged();
        }
    }

    /**
     * Removes the queued tasks of job {@code jobId} before any worker takes them; never blocks.
     *
     * @return whether any task was removed (false if all were taken or the job is unknown)
     */
    @HostAccess.Export
    public boolean withdraw(long jobId) {
        synchronized (lock) {
            int before = tasks.size();
            tasks.removeIf(t -> t.jobId() == jobId && t != STOP);
            int removed = before - tasks.size();
            queuedTasks.addAndGet(-removed);
            stats.queueChanged();
            return removed > 0;
        }
    }

    /**
     * Stops the Python code running a task of job {@code jobId}, if a worker runs one: its
     * context is cancelled and the worker replaced, as after a crash. Never blocks; the task's
     * outcome, if any comes, is to be ignored.
     *
     * @return whether a running task of the job was found
     */
    public boolean abort(long jobId) {
        // recorded first: a worker that took the task but had not yet marked it running
        // finds it here instead (an entry for a task that had already finished stays behind)
        abortedJobs.add(jobId);
        boolean found = false;
        for (Worker w : workers) {
            found |= w.abort(jobId);
        }
        if (found) {
            abortedJobs.remove(jobId);
        }
        return found;
    }

    /** Whether a task of job {@code jobId} still waits in the queue for a worker. */
    @HostAccess.Export
    public boolean isQueued(long jobId) {
        for (Task t : tasks) {
            if (t.jobId() == jobId && t != STOP) {
                return true;
            }
        }
        return false;
    }

    /** This pool's driver; for a pool a Python context drives, its {@link OutcomeQueue}. */
    @HostAccess.Export
    public Driver driver() {
        return config.driver();
    }

    /** Stops accepting tasks; queued tasks still run, then the workers exit. Never blocks. */
    @HostAccess.Export
    public void close() {
        synchronized (lock) {
            if (state != State.RUNNING) {
                return;
            }
            state = State.CLOSED;
            for (int i = 0; i < workers.size(); i++) {
                tasks.add(STOP);
            }
            signalEndIfDone();
        }
        wakeStartingWorkers();
    }

    /**
     * Discards queued tasks and stops every worker, cancelling the Python code it runs.
     * Output the workers already printed is flushed. Returns once every worker has exited.
     */
    @HostAccess.Export
    public void terminate() {
        List<Worker> snapshot;
        synchronized (lock) {
            state = State.TERMINATED;
            tasks.clear();
            queuedTasks.set(0);
            stats.queueChanged();
            snapshot = List.copyOf(workers);
        }
        for (Worker w : snapshot) {
            w.cancel();
        }
        for (Worker w : snapshot) {
            w.awaitExit();
        }
        synchronized (lock) {
            signalEndIfDone();
        }
    }

    /**
     * Waits until every worker has exited, which happens only after {@link #close()} or
     * {@link #terminate()}.
     *
     * @param timeoutMillis how long to wait at most; negative for no limit
     * @return true if all workers exited, false on timeout
     * @throws IllegalStateException if the pool is still running
     * @throws InterruptedException  if interrupted while waiting
     */
    @HostAccess.Export
    public boolean join(long timeoutMillis) throws InterruptedException {
        synchronized (lock) {
            if (state == State.RUNNING) {
                throw new IllegalStateException("Pool is still running");
            }
            long deadline = timeoutMillis < 0 ? Long.MAX_VALUE : System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
            while (!workers.isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(lock, timeoutMillis < 0 ? TimeUnit.SECONDS.toNanos(1) : left);
            }
            return true;
        }
    }

    /**
     * Closes {@code inherited} (the pipe handles the workers inherit from the pool's creator)
     * once the pool has ended, as a pool's worker processes close theirs when they exit; at
     * once if it has ended already.
     */
    @HostAccess.Export
    public void closeWhenEnded(HandleTable inherited) {
        synchronized (lock) {
            if (!endSignalled) {
                releasedAtEnd.add(inherited);
                return;
            }
        }
        inherited.closeAll();
    }

    /** What this pool did so far: its counters, also its MBean. */
    public PoolStats stats() {
        return stats;
    }

    /** Has the pool write {@link PoolStats#summary()} to {@code sink} when it ends ({@code POLYPOOL_STATS=1}). */
    public void printStatsAtEnd(ConsoleSink sink) {
        statsAtEnd = sink;
    }

    // ---- called by workers ----

    Config config() {
        return config;
    }

    PolyglotRuntime runtime() {
        return runtime;
    }

    /** Blocks for the next task; returns null when the worker should exit. */
    Task nextTask() throws InterruptedException {
        Task t = tasks.take();
        if (t == STOP) {
            return null;
        }
        if (queuedTasks.decrementAndGet() == 0 && state != State.RUNNING) {
            wakeStartingWorkers();
        }
        stats.queueChanged();
        return t;
    }

    /** Whether {@link #abort} was asked for this job before its worker marked it running; forgets it. */
    boolean takeAborted(long jobId) {
        return abortedJobs.remove(jobId);
    }

    void deliver(Outcome outcome) {
        stats.outcome(outcome.status());
        config.driver().deliver(outcome);
    }

    /**
     * A remote worker's member was lost while running {@code task}: it goes back to the front
     * of the queue, unless it went back once already or the pool cannot run it any more, in
     * which case it completes as {@link Protocol#LOST} with {@code why}.
     */
    void retryOrLose(Task task, String why) {
        synchronized (lock) {
            if (state != State.TERMINATED && brokenReason == null && retried.add(task)) {
                queuedTasks.incrementAndGet();
                tasks.addFirst(task);
                return;
            }
            retried.remove(task);
        }
        deliver(new Outcome(task.jobId(), task.index(), Protocol.LOST, why));
    }

    /** A remote worker ran {@code task} to its outcome: it is no longer one that went back. */
    void ranRemotely(Task task) {
        synchronized (lock) {
            retried.remove(task);
        }
    }

    /** A worker could not start: fail what is queued and what comes later. */
    void markBroken(String reason) {
        synchronized (lock) {
            if (brokenReason == null) {
                brokenReason = reason;
                Log.ENGINE.warning(() -> "pool " + stats.getName() + " is broken: " + reason);
            }
            List<Task> pending = new ArrayList<>();
            tasks.drainTo(pending);
            for (Task t : pending) {
                if (t != STOP) {
                    queuedTasks.decrementAndGet();
                    deliver(new Outcome(t.jobId(), t.index(), Protocol.LOST, reason));
                } else {
                    tasks.add(STOP);
                }
            }
            stats.queueChanged();
        }
    }

    /** Called once by every worker as its thread ends. */
    void workerExited(Worker worker, boolean replace) {
        synchronized (lock) {
            workers.remove(worker);
            boolean wanted = state == State.RUNNING || (state == State.CLOSED && queuedTasks.get() > 0);
            if (replace && wanted && brokenReason == null) {
                startWorker();
                stats.replaced();
                String next = workers.get(workers.size() - 1).name();
                Log.ENGINE.debug(() -> "pool " + stats.getName() + ": worker " + worker.name() + " replaced by " + next);
            }
            signalEndIfDone();
            lock.notifyAll();
        }
    }

    private void startWorker() {
        int identity = config.warm() != null ? config.warm().nextIdentity() : ProcessIds.nextIdentity();
        Worker w = new Worker(this, config.namePrefix() + "-" + identity, identity);
        workers.add(w);
        w.start();
    }

    private void signalEndIfDone() {
        if (!endSignalled && state != State.RUNNING && workers.isEmpty()) {
            endSignalled = true;
            for (HandleTable t : releasedAtEnd) {
                t.closeAll();
            }
            releasedAtEnd.clear();
            stats.ended();
            Log.ENGINE.info(() -> "pool " + stats.getName() + " ended: " + stats.getTasksDone() + " tasks done, "
                    + stats.getTasksFailed() + " failed, " + stats.getTasksLost() + " lost");
            ConsoleSink out = statsAtEnd;
            if (out != null) {
                try (java.io.OutputStream s = out.newLineStream()) {
                    s.write(stats.summary().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                } catch (java.io.IOException ignored) {
                    // stderr is gone: nobody to tell
                }
            }
            config.driver().ended();
        }
    }
}
