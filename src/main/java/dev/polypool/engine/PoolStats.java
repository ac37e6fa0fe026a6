package dev.polypool.engine;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;

/**
 * What one {@link WorkerPool} did: tasks submitted, done, failed and lost, the time tasks
 * waited in the queue, the time workers spent running them and decoding their results, per
 * worker, and how many workers were replaced. Also the pool's MBean
 * ({@link PoolStatsMXBean}), registered by whoever wants one.
 *
 * <p>The counters are {@link LongAdder}s fed from the pool's and workers' threads with
 * {@link System#nanoTime()} readings, a few per task, and read without stopping anyone:
 * a reading taken while tasks run is a moment's, not a consistent snapshot.
 *
 * <p>Queue wait is the integral of the queue's length over time (summed from the length
 * each time it changes), which is the sum of every task's time in the queue, by Little's
 * law, without a timestamp per task.
 */
public final class PoolStats implements PoolStatsMXBean {
    private static final AtomicInteger POOLS = new AtomicInteger();

    private volatile String name;
    private final int workerCount;
    private final IntSupplier queueLength;
    private final long created = System.nanoTime();
    private final LongAdder submitted = new LongAdder();
    private final LongAdder done = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder lost = new LongAdder();
    private final LongAdder working = new LongAdder();
    private final LongAdder decoding = new LongAdder();
    private final LongAdder encoding = new LongAdder();
    private final LongAdder replacements = new LongAdder();
    private final Map<String, PerWorker> workers = new ConcurrentHashMap<>();
    // the queue-length integral; guarded by this
    private long lastLength;
    private long lastChange = created;
    private long waitArea;
    private volatile long ended;

    PoolStats(String namePrefix, int workerCount, IntSupplier queueLength) {
        this.name = defaultName(namePrefix) + "-" + POOLS.incrementAndGet();
        this.workerCount = workerCount;
        this.queueLength = queueLength;
    }

    /**
     * {@code PythonPool} for the Java API's workers, {@code Pool} for CPython's pool workers,
     * {@code ProcessPoolExecutor} for an executor's, else the prefix.
     */
    private static String defaultName(String prefix) {
        if (prefix.equals("PythonPoolWorker")) {
            return "PythonPool";
        }
        if (prefix.endsWith("PoolWorker")) {
            return "Pool";
        }
        if (prefix.endsWith("Process")) {
            return "ProcessPoolExecutor";
        }
        return prefix;
    }

    /** Names the pool (before its MBean is registered): the Java API's builder sets it. */
    public void rename(String newName) {
        name = newName;
    }

    // ---- hooks: WorkerPool and Worker ----

    void submitted(int n) {
        submitted.add(n);
        queueChanged();
    }

    /** The queue's length changed (a task taken, withdrawn, dropped). */
    synchronized void queueChanged() {
        long now = System.nanoTime();
        waitArea += lastLength * (now - lastChange);
        lastChange = now;
        lastLength = queueLength.getAsInt();
    }

    void outcome(int status) {
        switch (status) {
            case Protocol.RAISED -> failed.add(1);
            case Protocol.LOST -> lost.add(1);
            default -> done.add(1);
        }
    }

    /** The per-worker counters of worker {@code name}, made once. */
    PerWorker worker(String workerName) {
        return workers.computeIfAbsent(workerName, n -> new PerWorker());
    }

    void replaced() {
        replacements.add(1);
    }

    /** Time spent converting a call's arguments for the workers (the Java API). */
    public void encoded(long nanos) {
        encoding.add(nanos);
    }

    void ended() {
        queueChanged();
        ended = System.nanoTime();
    }

    /** One worker's counters: tasks run, time running them and decoding their results. */
    final class PerWorker {
        private final LongAdder tasks = new LongAdder();
        private final LongAdder busy = new LongAdder();

        void ran(long runNanos, long decodeNanos) {
            tasks.add(1);
            busy.add(runNanos + decodeNanos);
            working.add(runNanos);
            decoding.add(decodeNanos);
        }
    }

    // ---- readings ----

    @Override
    public String getName() {
        return name;
    }

    @Override
    public int getWorkers() {
        return workerCount;
    }

    @Override
    public long getTasksSubmitted() {
        return submitted.sum();
    }

    @Override
    public long getTasksDone() {
        return done.sum();
    }

    @Override
    public long getTasksFailed() {
        return failed.sum();
    }

    @Override
    public long getTasksLost() {
        return lost.sum();
    }

    @Override
    public int getQueued() {
        return queueLength.getAsInt();
    }

    @Override
    public synchronized double getQueueWaitSeconds() {
        long now = ended != 0 ? ended : System.nanoTime();
        return (waitArea + lastLength * (now - lastChange)) / 1e9;
    }

    @Override
    public double getWorkingSeconds() {
        return working.sum() / 1e9;
    }

    @Override
    public double getDecodingSeconds() {
        return decoding.sum() / 1e9;
    }

    @Override
    public double getEncodingSeconds() {
        return encoding.sum() / 1e9;
    }

    @Override
    public long getWorkerReplacements() {
        return replacements.sum();
    }

    @Override
    public double getElapsedSeconds() {
        return ((ended != 0 ? ended : System.nanoTime()) - created) / 1e9;
    }

    @Override
    public Map<String, Long> getTasksPerWorker() {
        Map<String, Long> m = new LinkedHashMap<>();
        workers.entrySet().stream().sorted(Map.Entry.comparingByKey(PoolStats::byNumber))
                .forEach(e -> m.put(e.getKey(), e.getValue().tasks.sum()));
        return m;
    }

    @Override
    public Map<String, Double> getBusySecondsPerWorker() {
        Map<String, Double> m = new LinkedHashMap<>();
        workers.entrySet().stream().sorted(Map.Entry.comparingByKey(PoolStats::byNumber))
                .forEach(e -> m.put(e.getKey(), e.getValue().busy.sum() / 1e9));
        return m;
    }

    // ForkPoolWorker-2 before ForkPoolWorker-10
    private static int byNumber(String a, String b) {
        int c = Integer.compare(a.length(), b.length());
        return c != 0 ? c : a.compareTo(b);
    }

    /**
     * The summary {@code POLYPOOL_STATS=1} prints when a pool ends: a few lines, the pool's
     * totals first, then one line per worker.
     */
    public String summary() {
        double elapsed = getElapsedSeconds();
        long submitted = getTasksSubmitted();
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "polypool stats: %s, %d workers, %.2f s%n", name, workerCount, elapsed));
        s.append(String.format(Locale.ROOT,
                "  tasks: %d submitted, %d done, %d failed, %d lost; %d workers replaced%n",
                submitted, getTasksDone(), getTasksFailed(), getTasksLost(), getWorkerReplacements()));
        s.append(String.format(Locale.ROOT,
                "  time: %.3f s queued (%.2f ms a task), %.3f s working (%.0f%% of %d workers), %.3f s decoding",
                getQueueWaitSeconds(), submitted == 0 ? 0.0 : getQueueWaitSeconds() * 1e3 / submitted,
                getWorkingSeconds(), elapsed <= 0 ? 0.0 : 100 * getWorkingSeconds() / (elapsed * workerCount),
                workerCount, getDecodingSeconds()));
        if (encoding.sum() > 0) { // only the Java API encodes on the Java side
            s.append(String.format(Locale.ROOT, ", %.3f s encoding", getEncodingSeconds()));
        }
        s.append(System.lineSeparator());
        Map<String, Double> busy = getBusySecondsPerWorker();
        getTasksPerWorker().forEach((w, n) -> s.append(String.format(Locale.ROOT,
                "  %s: %d tasks, %.3f s busy%n", w, n, busy.get(w))));
        return s.toString();
    }
}
