package dev.polypool;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

import java.lang.management.ManagementFactory;

import javax.management.JMException;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;

import org.graalvm.polyglot.Source;
import org.graalvm.polyglot.Value;

import dev.polypool.cluster.ClusterClient;
import dev.polypool.cluster.ClusterSettings;
import dev.polypool.engine.Driver;
import dev.polypool.engine.EmbedResults;
import dev.polypool.engine.Outcome;
import dev.polypool.engine.PolyglotRuntime;
import dev.polypool.engine.PoolStats;
import dev.polypool.engine.Protocol;
import dev.polypool.engine.RemoteWorkers;
import dev.polypool.engine.Task;
import dev.polypool.engine.WarmContexts;
import dev.polypool.engine.WorkerPool;
import dev.polypool.io.ConsoleSink;

/**
 * A pool of Python workers that runs Python functions in parallel for Java code. Each
 * worker is a GraalPy context on a thread of its own; all of them share one polyglot engine
 * (and the code its JIT compiled), and each context has its own interpreter lock, so the
 * workers run Python in parallel within this JVM.
 *
 * <pre>{@code
 * try (PythonPool pool = PythonPool.builder().workers(4).sourceDirectory(Path.of("python")).build()) {
 *     PythonFunction<Long> square = PythonFunction.of("shapes:square").returning(Long.class);
 *     List<Long> squares = pool.map(square, List.of(1, 2, 3));           // [1, 4, 9]
 *     CompletableFuture<Long> one = pool.submit(square, 12);            // 144
 * }
 * }</pre>
 *
 * <p><b>Functions</b> are named {@code "module:qualname"} ({@link PythonFunction}). The
 * modules come from the Python standard library, from the
 * {@linkplain Builder#sourceDirectory source directories} and from
 * {@linkplain Builder#source(String, String) source text} given to the builder.
 *
 * <p><b>Conversions.</b> Arguments are converted to Python values when a call is
 * submitted, results back to Java values in the worker, following this table:
 * <table class="striped">
 * <caption>Java and Python values</caption>
 * <thead><tr><th>Java argument</th><th>Python</th><th>Java result</th></tr></thead>
 * <tbody>
 * <tr><td>{@code null}</td><td>{@code None}</td><td>{@code null}</td></tr>
 * <tr><td>{@link Boolean}</td><td>{@code bool}</td><td>{@link Boolean}</td></tr>
 * <tr><td>{@link Byte}, {@link Short}, {@link Integer}, {@link Long}, {@link java.math.BigInteger}</td>
 *     <td>{@code int}</td><td>{@link Long}; {@link java.math.BigInteger} outside the range of long</td></tr>
 * <tr><td>{@link Float}, {@link Double}</td><td>{@code float}</td><td>{@link Double}</td></tr>
 * <tr><td>{@link String}</td><td>{@code str}</td><td>{@link String}</td></tr>
 * <tr><td>{@code byte[]}, {@link java.nio.ByteBuffer} (its remaining bytes)</td><td>{@code bytes}</td><td>{@code byte[]}</td></tr>
 * <tr><td>{@code long[]}, {@code int[]}, {@code short[]}</td><td>{@code list} of {@code int}</td>
 *     <td>{@link List} of {@link Long}; {@code long[]} when asked for</td></tr>
 * <tr><td>{@code double[]}, {@code float[]}</td><td>{@code list} of {@code float}</td>
 *     <td>{@link List} of {@link Double}; {@code double[]} when asked for</td></tr>
 * <tr><td>{@link List}</td><td>{@code list} (and {@code tuple} as a result)</td><td>{@link List} (an {@link ArrayList})</td></tr>
 * <tr><td>{@link Map}</td><td>{@code dict}</td><td>{@link Map} (a {@link java.util.HashMap})</td></tr>
 * </tbody>
 * </table>
 * Containers convert element by element, except lists of 16 or more numbers all of one
 * kind and the primitive arrays, which cross as one block of 64-bit values; subclasses of
 * the Python types (an {@code IntEnum}, a named tuple) convert as their base type. Any other argument makes the
 * submitting call throw a {@link PythonConversionException}; any other result fails the
 * call with one. {@link PythonFunction#returning(Class)} asks for results of a Java type.
 *
 * <p><b>Failures.</b> A call whose Python function raised fails with a
 * {@link PythonException} carrying the Python type name, message and traceback. Futures
 * complete exceptionally with these exceptions; the blocking calls ({@link #map},
 * {@link #starmap} and the streams) throw them directly, and throw a
 * {@link CompletionException} wrapping the {@link java.util.concurrent.TimeoutException} of
 * a call that ran out of {@linkplain PythonFunction#withTimeout(Duration) time}.
 *
 * <p><b>Cancellation.</b> Cancelling a call's future with {@code cancel(true)} withdraws it
 * if it waits for a worker and otherwise stops the Python code running it: the worker's
 * context is cancelled and a new worker replaces it. {@code cancel(false)} only withdraws a
 * call that has not started. Dependent stages of the futures run in the worker threads
 * unless added with the {@code *Async} methods: keep them short.
 *
 * <p><b>Life cycle.</b> Workers start in the background when the pool is built; calls
 * submitted meanwhile wait. {@link #close()} lets queued calls finish;
 * {@link #shutdownNow()} stops everything. A worker that has run
 * {@linkplain Builder#maxTasksPerWorker(int) its quota} of calls is replaced.
 *
 * <p><b>On a cluster.</b> A pool built with {@link Builder#cluster cluster(members, name, secret)}
 * runs its workers on the members of a polypool cluster ({@code bin/polypool --member}) instead
 * of in this JVM, with everything above the workers unchanged: the same calls, conversions,
 * ordering, chunking, futures, cancellation and time limits. {@code build()} blocks until
 * every member passed the handshake, and throws a {@link ClusterConnectException} if one
 * refuses the secret or none answers. A member lost while it runs a call has that call run
 * once more elsewhere; with no member left, calls fail with a {@link PythonException} of type
 * {@value PythonException#WORKER_LOST}. Cancelling a call that runs on a member with
 * {@code cancel(true)} closes its worker there. See {@link Builder#cluster} for the details.
 *
 * <p><b>Requirements.</b> The JVM must run GraalPy's optimizing runtime:
 * {@code -XX:+UnlockExperimentalVMOptions -XX:+EnableJVMCI} and the Graal compiler jars on
 * {@code --upgrade-module-path} (see the project README); {@link Builder#build()} fails
 * otherwise.
 *
 * <p>This class is thread-safe: any number of threads may submit calls at once.
 */
public final class PythonPool implements AutoCloseable {
    private static final Source EMBED = Source.create("python", "__import__('polypool.embed', fromlist=['start'])");
    // the pool whose call the current thread is completing (a worker thread running dependent stages)
    private static final ThreadLocal<PythonPool> COMPLETING = new ThreadLocal<>();

    private final WorkerPool workers;
    private final WarmContexts warm;
    private final int workerCount;
    // the pool's connection to its cluster, or null for workers in this JVM
    private final ClusterClient cluster;
    // on a cluster without workers(n): one worker per worker of the cluster, as it grows and shrinks
    private final boolean followsCluster;
    private final Map<Long, Call<?>> pending = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final ScheduledThreadPoolExecutor timer;
    private final Object lifecycle = new Object();
    private volatile boolean shutdown;
    private final PoolStats stats;
    private final ObjectName mbean;

    private PythonPool(Builder b) {
        PolyglotRuntime runtime = PolyglotRuntime.get();
        if (b.name != null && ManagementFactory.getPlatformMBeanServer().isRegistered(mbeanName(b.name))) {
            throw new IllegalStateException("a PythonPool named " + b.name + " is running");
        }
        ConsoleSink out = TerminalLines.OUT;
        ConsoleSink err = TerminalLines.ERR;
        List<String> argv = List.of("");
        List<String> sources = new ArrayList<>();
        b.sources.forEach((name, text) -> {
            sources.add(name);
            sources.add(text);
        });
        WorkerSetup setup = new WorkerSetup(b.startMethod,
                b.directories.stream().map(p -> p.toAbsolutePath().toString()).toArray(String[]::new),
                sources.toArray(String[]::new), b.modules.toArray(String[]::new),
                b.initializer == null ? "" : b.initializer.name(), Conversions.encodeArguments(b.initArgs));
        this.followsCluster = b.clusterMembers != null && !b.workersSet;
        RemoteWorkers remote = null;
        int processes = b.workers;
        if (b.clusterMembers != null) {
            this.cluster = connect(b);
            try {
                remote = remoteWorkers(b, setup, out, err);
            } catch (RuntimeException e) {
                cluster.close();
                throw e;
            }
            if (followsCluster) {
                // at least one: with no member left the pool starts broken, its calls failing
                processes = Math.max(1, cluster.workers());
            }
        } else {
            this.cluster = null;
        }
        this.workerCount = processes;
        this.warm = b.warmContexts > 0 ? new WarmContexts(runtime, argv, out, err, b.warmContexts, null) : null;
        this.timer = new ScheduledThreadPoolExecutor(1, r -> Thread.ofPlatform().name("polypool-timeouts").daemon(true)
                .unstarted(r));
        timer.setRemoveOnCancelPolicy(true);
        this.workers = new WorkerPool(runtime, new WorkerPool.Config(processes, b.maxTasksPerWorker, "PythonPoolWorker",
                argv, out, err, warm, new EmbedDriver(setup), remote));
        this.stats = workers.stats();
        if (b.name != null) {
            stats.rename(b.name);
        }
        this.mbean = mbeanName(stats.getName());
        if ("1".equals(System.getenv("POLYPOOL_STATS"))) {
            workers.printStatsAtEnd(err);
        }
        try {
            ManagementFactory.getPlatformMBeanServer().registerMBean(stats, mbean);
        } catch (JMException e) {
            // another pool of that name started meanwhile: this one runs without an MBean
        }
    }

    /** How long {@link Builder#build()} waits for a cluster's members to answer. */
    private static final long CLUSTER_TIMEOUT_MILLIS = 20_000;

    private static ClusterClient connect(Builder b) {
        try {
            return ClusterClient.connect(b.clusterMembers, new ClusterSettings(b.clusterName, b.clusterSecret),
                    CLUSTER_TIMEOUT_MILLIS, System.err, "");
        } catch (ClusterClient.Refused e) {
            throw new ClusterConnectException(e.getMessage(), !e.unanswered());
        }
    }

    /**
     * The pool's workers on its cluster: each starts as a local worker would, from the same
     * settings, with the {@code .py} files of the source directories (under {@code .src0},
     * {@code .src1}, ... of the files the members receive) in place of the directories.
     */
    private RemoteWorkers remoteWorkers(Builder b, WorkerSetup setup, ConsoleSink out, ConsoleSink err) {
        Map<String, byte[]> files = new java.util.HashMap<>();
        String[] directories = new String[b.directories.size()];
        for (int i = 0; i < directories.length; i++) {
            directories[i] = ".src" + i;
            addPythonFiles(b.directories.get(i), directories[i], files);
        }
        Object[] remoteSetup = {setup.startMethod(), directories, setup.sources(), setup.modules(),
                setup.initializer(), setup.initArguments()};
        return cluster.embedWorkers(remoteSetup, followsCluster, files, out, err);
    }

    /** Adds the {@code .py} files under {@code directory} (not in hidden directories or {@code __pycache__}). */
    private static void addPythonFiles(Path directory, String prefix, Map<String, byte[]> files) {
        try (Stream<Path> walk = Files.walk(directory)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path rel = directory.relativize(p);
                boolean skipped = false;
                for (Path part : rel) {
                    String n = part.toString();
                    skipped |= n.startsWith(".") || n.equals("__pycache__");
                }
                if (!skipped && p.toString().endsWith(".py") && Files.isRegularFile(p)) {
                    files.put(prefix + "/" + rel.toString().replace(java.io.File.separatorChar, '/'),
                            Files.readAllBytes(p));
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot read the source directory " + directory, e);
        } catch (java.io.UncheckedIOException e) {
            throw new java.io.UncheckedIOException("cannot read the source directory " + directory, e.getCause());
        }
    }

    private static ObjectName mbeanName(String name) {
        try {
            return new ObjectName("dev.polypool:type=PythonPool,name=" + ObjectName.quote(name));
        } catch (MalformedObjectNameException e) {
            throw new IllegalArgumentException("not usable as a pool name: " + name, e);
        }
    }

    /**
     * Returns what the pool did so far: calls submitted, done, failed and lost, time queued,
     * working, converting, per worker. The pool's MBean,
     * {@code dev.polypool:type=PythonPool,name=<name>} in the platform MBean server, shows
     * the same while the pool runs.
     *
     * @return the figures of this moment
     */
    public PoolStatistics stats() {
        return new PoolStatistics(stats.getName(), stats.getWorkers(), stats.getTasksSubmitted(),
                stats.getTasksDone(), stats.getTasksFailed(), stats.getTasksLost(), stats.getQueued(),
                seconds(stats.getQueueWaitSeconds()), seconds(stats.getWorkingSeconds()),
                seconds(stats.getDecodingSeconds()), seconds(stats.getEncodingSeconds()),
                stats.getWorkerReplacements(), stats.getTasksPerWorker(), stats.summary());
    }

    private static Duration seconds(double s) {
        return Duration.ofNanos(Math.round(s * 1e9));
    }

    /**
     * Returns the pool's name: {@link Builder#name(String)}'s, else {@code PythonPool-N}.
     *
     * @return the name, also that of the pool's MBean
     */
    public String name() {
        return stats.getName();
    }

    /**
     * Returns a new builder with the defaults: as many workers as processors, start method
     * {@code "fork"}, no initializer, no task limit, no warm contexts.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Returns the number of workers the pool keeps.
     *
     * @return the number set by {@link Builder#workers(int)}; for a pool on a cluster built
     *         without it, the number of workers the pool has now, one per worker of the
     *         cluster's members (it changes as members join and leave)
     */
    public int workers() {
        return followsCluster ? Math.max(1, workers.workerCount()) : workerCount;
    }

    /**
     * Submits a call of {@code function} with {@code args}; returns at once.
     *
     * @param <R>      the Java type of the result
     * @param function the function; its result type and time limit apply
     * @param args     the positional arguments, converted as listed in the class description
     * @return a future completing with the result, or exceptionally with a
     *         {@link PythonException}, a {@link PythonConversionException} or a
     *         {@link java.util.concurrent.TimeoutException}
     * @throws PythonConversionException if an argument does not convert to a Python value
     * @throws RejectedExecutionException if the pool was closed or shut down
     * @throws NullPointerException       if {@code function} or {@code args} is null
     */
    public <R> CompletableFuture<R> submit(PythonFunction<R> function, Object... args) {
        Objects.requireNonNull(function, "function");
        Objects.requireNonNull(args, "args");
        return enqueue(function, encodeCall(function, Arrays.asList(args)));
    }

    /**
     * Submits a call of {@code function} with positional and keyword arguments,
     * {@code function(*args, **keywords)}; returns at once. The same as
     * {@code submit(function.withKeywords(keywords), args.toArray())}.
     *
     * @param <R>      the Java type of the result
     * @param function the function; its result type, time limit and keywords apply
     * @param args     the positional arguments
     * @param keywords the keyword arguments, by name
     * @return a future completing as {@link #submit(PythonFunction, Object...)}'s does
     * @throws PythonConversionException  if an argument does not convert to a Python value
     * @throws RejectedExecutionException if the pool was closed or shut down
     * @throws NullPointerException       if an argument of this method, or a keyword's name, is null
     */
    public <R> CompletableFuture<R> submit(PythonFunction<R> function, List<?> args, Map<String, ?> keywords) {
        Objects.requireNonNull(function, "function");
        Objects.requireNonNull(args, "args");
        return submit(function.withKeywords(keywords), args.toArray());
    }

    /**
     * Returns a call of {@code function} with {@code args} as a {@link java.util.concurrent.Callable},
     * for code that takes callables: {@code invokeAll} of {@link #asExecutorService()}, or any
     * executor. Nothing runs until it is called or submitted; arguments that do not convert
     * fail then.
     *
     * @param <R>      the Java type of the result
     * @param function the function; its result type, time limit and keywords apply
     * @param args     the positional arguments
     * @return the call, which runs on this pool
     * @throws NullPointerException if {@code function} or {@code args} is null
     */
    public <R> PythonCall<R> callable(PythonFunction<R> function, Object... args) {
        return new PythonCall<>(this, function, args);
    }

    /**
     * Returns this pool as an {@link java.util.concurrent.ExecutorService}, for code that
     * wants one: the {@link PythonCall}s of {@link #callable} run on the workers (submitting
     * one never blocks; {@code cancel(true)} stops its Python code), other tasks each on a
     * virtual thread. The executor service is a view: shutting it down rejects new tasks
     * through it and leaves the pool running; closing the pool is its owner's job.
     *
     * @return a new view of this pool
     */
    public java.util.concurrent.ExecutorService asExecutorService() {
        return new PythonExecutorService(this);
    }

    /**
     * Submits a call of the function named {@code function} ({@code "module:qualname"});
     * the same as {@code submit(PythonFunction.of(function), args)}.
     *
     * @param function the function's name
     * @param args     the positional arguments
     * @return a future completing with the result, converted as listed in the class description
     * @throws IllegalArgumentException   if {@code function} is not of the form {@code "module:qualname"}
     * @throws PythonConversionException  if an argument does not convert to a Python value
     * @throws RejectedExecutionException if the pool was closed or shut down
     */
    public CompletableFuture<Object> submit(String function, Object... args) {
        return submit(PythonFunction.of(function), args);
    }

    /**
     * Calls {@code function} on every item and returns the results in input order; blocks
     * until all are done. The calls run in parallel on the workers, in chunks of the size
     * {@code multiprocessing.Pool.map} chooses (the items divided by four times the workers,
     * rounded up), or one call at a time for a function with a time limit.
     *
     * @param <R>      the Java type of the results
     * @param function the function
     * @param items    the arguments, one per call; read before this method returns
     * @return the results, in the order of {@code items}
     * @throws PythonException           the failure of the first call (in input order) that failed
     * @throws PythonConversionException if an item or a result does not convert
     * @throws CompletionException       wrapping the {@code TimeoutException} of a call that timed out
     * @throws CancellationException     if a call was cancelled, for instance by {@link #shutdownNow()}
     * @throws InterruptedException      if interrupted while waiting; the remaining calls are cancelled
     * @throws RejectedExecutionException if the pool was closed or shut down
     */
    public <R> List<R> map(PythonFunction<R> function, Iterable<?> items) throws InterruptedException {
        return map(function, items, 0, null);
    }

    /**
     * Like {@link #map(PythonFunction, Iterable)}, with the items sent to the workers
     * {@code chunksize} at a time (one task per chunk, as {@code Pool.map}'s
     * {@code chunksize}), and {@code listener} told of the progress.
     *
     * @param <R>       the Java type of the results
     * @param function  the function; with a time limit, each chunk has that limit
     * @param items     the arguments, one per call; read before this method returns
     * @param chunksize calls per task, at least 1; 0 for the default
     * @param listener  called with (done, total) each time calls complete, from worker
     *                  threads, one call at a time, the last time with done equal to total;
     *                  null for none. What it throws is ignored.
     * @return the results, in the order of {@code items}
     * @throws IllegalArgumentException if {@code chunksize} is negative
     * @throws InterruptedException     if interrupted while waiting; the remaining calls are cancelled
     */
    public <R> List<R> map(PythonFunction<R> function, Iterable<?> items, int chunksize, ProgressListener listener)
            throws InterruptedException {
        Objects.requireNonNull(items, "items");
        List<List<?>> calls = new ArrayList<>();
        for (Object item : items) {
            calls.add(Arrays.asList(item));
        }
        return all(function, calls, true, chunksize, listener);
    }

    /**
     * Calls {@code function} once per argument list, each list's elements being the
     * positional arguments ({@code function(*args)}), and returns the results in input
     * order; blocks until all are done. Fails as {@link #map} does.
     *
     * @param <R>           the Java type of the results
     * @param function      the function
     * @param argumentLists the positional arguments of each call; read before this method returns
     * @return the results, in the order of {@code argumentLists}
     * @throws InterruptedException if interrupted while waiting; the remaining calls are cancelled
     * @throws NullPointerException if an argument list is null
     */
    public <R> List<R> starmap(PythonFunction<R> function, Iterable<? extends List<?>> argumentLists)
            throws InterruptedException {
        Objects.requireNonNull(argumentLists, "argumentLists");
        List<List<?>> calls = new ArrayList<>();
        for (List<?> args : argumentLists) {
            calls.add(Objects.requireNonNull(args, "argument list"));
        }
        return all(function, calls, false, 0, null);
    }

    /**
     * Like {@link #starmap(PythonFunction, Iterable)}, in chunks of {@code chunksize} calls,
     * with a progress {@code listener}, as {@link #map(PythonFunction, Iterable, int, ProgressListener)}.
     *
     * @param <R>           the Java type of the results
     * @param function      the function
     * @param argumentLists the positional arguments of each call; read before this method returns
     * @param chunksize     calls per task, at least 1; 0 for the default
     * @param listener      told of the progress; null for none
     * @return the results, in the order of {@code argumentLists}
     * @throws InterruptedException if interrupted while waiting; the remaining calls are cancelled
     */
    public <R> List<R> starmap(PythonFunction<R> function, Iterable<? extends List<?>> argumentLists, int chunksize,
                               ProgressListener listener) throws InterruptedException {
        Objects.requireNonNull(argumentLists, "argumentLists");
        List<List<?>> calls = new ArrayList<>();
        for (List<?> args : argumentLists) {
            calls.add(Objects.requireNonNull(args, "argument list"));
        }
        return all(function, calls, false, chunksize, listener);
    }

    /**
     * Returns a stream of the results of {@code function} applied to each item, in input
     * order. Items are read lazily: at most twice as many calls as there are workers are
     * submitted or unconsumed at any time, so an endless {@code items} is fine. Closing the
     * stream cancels the calls in flight. A failed call throws from the stream's terminal
     * operation, as {@link #map} does; an interrupt makes it throw a
     * {@link CancellationException} with the thread's interrupt status set.
     *
     * @param <R>      the Java type of the results
     * @param function the function
     * @param items    the arguments, one per call, read as results are consumed
     * @return a sequential stream of the results; close it to cancel the calls in flight
     * @throws RejectedExecutionException if the pool was closed or shut down
     */
    public <R> Stream<R> imap(PythonFunction<R> function, Iterable<?> items) {
        return stream(function, items, true, null);
    }

    /**
     * Like {@link #imap(PythonFunction, Iterable)}, with {@code listener} told of each
     * completed call: (done, total), total being the size of a {@link java.util.Collection}
     * and -1 for any other input, until the last call, after which it is told (done, done).
     *
     * @param <R>      the Java type of the results
     * @param function the function
     * @param items    the arguments, one per call, read as results are consumed
     * @param listener called from worker threads, one call at a time; what it throws is ignored
     * @return a sequential stream of the results; close it to cancel the calls in flight
     */
    public <R> Stream<R> imap(PythonFunction<R> function, Iterable<?> items, ProgressListener listener) {
        return stream(function, items, true, Objects.requireNonNull(listener, "listener"));
    }

    /**
     * Like {@link #imap}, but returns each result as soon as its call completes, in
     * completion order.
     *
     * @param <R>      the Java type of the results
     * @param function the function
     * @param items    the arguments, one per call, read as results are consumed
     * @return a sequential stream of the results; close it to cancel the calls in flight
     * @throws RejectedExecutionException if the pool was closed or shut down
     */
    public <R> Stream<R> imapUnordered(PythonFunction<R> function, Iterable<?> items) {
        return stream(function, items, false, null);
    }

    /**
     * Stops accepting calls, lets every submitted call finish, then stops the workers;
     * blocks until they have exited. Does nothing if already closed or shut down.
     * If interrupted while waiting, it stops everything as {@link #shutdownNow()} does and
     * returns with the interrupt status set.
     *
     * @throws IllegalStateException if called from a dependent stage of one of this pool's
     *                               futures running in a worker thread, which would wait for itself
     */
    @Override
    public void close() {
        checkNotCompleting();
        synchronized (lifecycle) {
            if (shutdown) {
                return;
            }
            shutdown = true;
        }
        workers.close();
        try {
            workers.join(-1);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            workers.terminate();
        }
        release();
    }

    /**
     * Stops at once: discards queued calls, cancels the Python code of running ones (their
     * futures, and those of queued calls, are cancelled) and stops the workers; blocks until
     * they have exited. Calls submitted later are rejected.
     *
     * @throws IllegalStateException if called from a dependent stage of one of this pool's
     *                               futures running in a worker thread, which would wait for itself
     */
    public void shutdownNow() {
        checkNotCompleting();
        synchronized (lifecycle) {
            shutdown = true;
        }
        workers.terminate();
        release();
    }

    /**
     * Returns whether the pool was closed or shut down.
     *
     * @return true once {@link #close()} or {@link #shutdownNow()} has been called
     */
    public boolean isShutdown() {
        return shutdown;
    }

    private void checkNotCompleting() {
        if (COMPLETING.get() == this) {
            throw new IllegalStateException("a worker thread cannot close its own pool: "
                    + "add the dependent stage with an *Async method");
        }
    }

    private void release() {
        for (Call<?> call : pending.values()) {
            call.cancel(false);
        }
        pending.clear();
        timer.shutdownNow();
        try {
            ManagementFactory.getPlatformMBeanServer().unregisterMBean(mbean);
        } catch (JMException e) {
            // released twice (close after shutdownNow), or registered under another pool
        }
        if (warm != null) {
            warm.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    /** How one task travels: its kind ({@link Protocol}), whether its payload is plain, the payload. */
    private record Encoded(int kind, boolean plain, Object payload) {
    }

    /** One call's task: {@code STARCALL} with plain or token arguments, {@code APPLY} with keywords. */
    private Encoded encodeCall(PythonFunction<?> function, List<?> args) {
        long start = System.nanoTime();
        try {
            if (function.keywords().isEmpty()) {
                Object[] array = args.toArray();
                boolean plain = Conversions.allPlain(array);
                return new Encoded(Protocol.STARCALL, plain, plain ? array : Conversions.encodeArguments(args));
            }
            return new Encoded(Protocol.APPLY, false, Conversions.encodeArguments(List.of(args, function.keywords())));
        } finally {
            stats.encoded(System.nanoTime() - start);
        }
    }

    /**
     * A chunk of calls as one task: {@code MAP} with {@code [[item, ...], keywords]} for calls
     * of one argument each ({@code map}; a list of numbers then crosses in bulk), else
     * {@code STARMAP} with {@code [[args, ...], keywords]}.
     */
    private Encoded encodeChunk(PythonFunction<?> function, List<List<?>> calls, boolean single) {
        long start = System.nanoTime();
        try {
            if (single) {
                List<Object> items = new ArrayList<>(calls.size());
                for (List<?> args : calls) {
                    items.add(args.get(0));
                }
                return new Encoded(Protocol.MAP, false, Conversions.encodeArguments(List.of(items, function.keywords())));
            }
            return new Encoded(Protocol.STARMAP, false, Conversions.encodeArguments(List.of(calls, function.keywords())));
        } finally {
            stats.encoded(System.nanoTime() - start);
        }
    }

    private <R> CompletableFuture<R> enqueue(PythonFunction<R> function, Encoded task) {
        int kind = task.kind();
        boolean plain = task.plain();
        Object payload = task.payload();
        long id = ids.incrementAndGet();
        Call<R> call = new Call<>(id, function);
        pending.put(id, call);
        try {
            if (shutdown) {
                throw new RejectedExecutionException("the pool is shut down");
            }
            workers.submit(id, 0, kind, function.name(), plain, payload);
        } catch (IllegalStateException e) {
            pending.remove(id);
            throw new RejectedExecutionException("the pool is shut down", e);
        } catch (RuntimeException e) {
            pending.remove(id);
            throw e;
        }
        Duration timeout = function.timeout();
        if (timeout != null) {
            call.timeout = timer.schedule(call::timeOut, timeout.toNanos(), TimeUnit.NANOSECONDS);
        }
        return call;
    }

    /** {@code single}: each call has one argument (map), which lets a chunk's items cross as one list. */
    private <R> List<R> all(PythonFunction<R> function, List<List<?>> calls, boolean single, int chunksize,
                            ProgressListener listener) throws InterruptedException {
        Objects.requireNonNull(function, "function");
        if (chunksize < 0) {
            throw new IllegalArgumentException("chunksize must be >= 0 (0 for the default): " + chunksize);
        }
        int size = calls.size();
        if (chunksize == 0) {
            chunksize = function.timeout() != null ? 1 : defaultChunksize(size);
        }
        // convert everything first: a bad item fails the call before anything runs
        List<Encoded> tasks = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        for (int i = 0; i < size; i += chunksize) {
            List<List<?>> chunk = calls.subList(i, Math.min(size, i + chunksize));
            tasks.add(chunksize == 1 ? encodeCall(function, chunk.get(0)) : encodeChunk(function, chunk, single));
            sizes.add(chunk.size());
        }
        Progress progress = listener == null ? null : new Progress(listener, size);
        if (progress != null && size == 0) {
            progress.add(0);
        }
        List<CompletableFuture<?>> futures = new ArrayList<>(tasks.size());
        try {
            for (int i = 0; i < tasks.size(); i++) {
                CompletableFuture<?> f = chunksize == 1 ? enqueue(function, tasks.get(i))
                        : enqueue(function.chunkCall(), tasks.get(i));
                futures.add(f);
                if (progress != null) {
                    int n = sizes.get(i);
                    f.whenComplete((r, e) -> progress.add(n));
                }
            }
            List<R> results = new ArrayList<>(size);
            for (CompletableFuture<?> f : futures) {
                Object value = await(f);
                if (chunksize == 1) {
                    @SuppressWarnings("unchecked")
                    R r = (R) value;
                    results.add(r);
                } else {
                    for (Object v : (List<?>) value) {
                        results.add(Conversions.cast(v, function.resultType()));
                    }
                }
            }
            return results;
        } finally {
            for (CompletableFuture<?> f : futures) {
                f.cancel(true);
            }
        }
    }

    /** {@code multiprocessing.Pool.map}'s: the items over four times the workers, rounded up. */
    private int defaultChunksize(int items) {
        int per = workers() * 4;
        return Math.max(1, items / per + (items % per == 0 ? 0 : 1));
    }

    /** Counts a call's completed items for its listener, one report at a time. */
    private static final class Progress {
        private final ProgressListener listener;
        private final long total;
        private long done;

        Progress(ProgressListener listener, long total) {
            this.listener = listener;
            this.total = total;
        }

        synchronized void add(long n) {
            done += n;
            report(done, total);
        }

        /** The input ended: its total is what was done. */
        synchronized void end() {
            report(done, done);
        }

        private void report(long d, long t) {
            try {
                listener.progress(d, t);
            } catch (RuntimeException ignored) {
                // a listener's failure is not the call's
            }
        }
    }

    /** The result of a call once completed, its failure thrown unchecked (as the blocking calls document). */
    static <R> R await(CompletableFuture<R> f) throws InterruptedException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new CompletionException(cause);
        }
    }

    private <R> Stream<R> stream(PythonFunction<R> function, Iterable<?> items, boolean ordered,
                                 ProgressListener listener) {
        Objects.requireNonNull(function, "function");
        Objects.requireNonNull(items, "items");
        if (shutdown) {
            throw new RejectedExecutionException("the pool is shut down");
        }
        Progress progress = listener == null ? null
                : new Progress(listener, items instanceof java.util.Collection<?> c ? c.size() : -1);
        ResultIterator<R> it = new ResultIterator<>(items.iterator(), 2 * workers(), ordered, item -> {
            CompletableFuture<R> f = enqueue(function, encodeCall(function, Arrays.asList(item)));
            if (progress != null) {
                f.whenComplete((r, e) -> progress.add(1));
            }
            return f;
        }, progress == null ? null : progress::end);
        Spliterator<R> split = Spliterators.spliteratorUnknownSize(it, ordered ? Spliterator.ORDERED : 0);
        return StreamSupport.stream(split, false).onClose(it::cancelAll);
    }

    /** A submitted call: its future, cancellable down to the running Python code. */
    private final class Call<R> extends CompletableFuture<R> {
        final long id;
        final PythonFunction<R> function;
        volatile java.util.concurrent.ScheduledFuture<?> timeout;

        Call(long id, PythonFunction<R> function) {
            this.id = id;
            this.function = function;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean cancelled = super.cancel(mayInterruptIfRunning);
            if (cancelled) {
                stop(mayInterruptIfRunning);
            }
            return cancelled;
        }

        void timeOut() {
            if (completeExceptionally(new java.util.concurrent.TimeoutException(
                    function.name() + " did not complete within " + function.timeout()))) {
                stop(true);
            }
        }

        private void stop(boolean running) {
            pending.remove(id);
            var t = timeout;
            if (t != null) {
                t.cancel(false);
            }
            if (!workers.withdraw(id) && running) {
                workers.abort(id);
            }
        }

        void finish(Outcome outcome) {
            var t = timeout;
            if (t != null) {
                t.cancel(false);
            }
            switch (outcome.status()) {
                case Protocol.OK -> {
                    try {
                        complete(Conversions.cast(outcome.payload(), function.resultType()));
                    } catch (PythonConversionException e) {
                        completeExceptionally(e);
                    }
                }
                case Protocol.RAISED -> completeExceptionally(Conversions.exception((EmbedResults.Failure) outcome.payload()));
                default -> completeExceptionally(new PythonException(PythonException.WORKER_LOST,
                        String.valueOf(outcome.payload()), ""));
            }
        }
    }

    /**
     * What each worker starts with: the builder's settings, as {@code polypool.embed.start}
     * takes them.
     *
     * @param startMethod   what {@code multiprocessing.get_start_method()} says
     * @param directories   absolute paths put in front of {@code sys.path}
     * @param sources       module name, source text, module name, ...
     * @param modules       modules to import at start
     * @param initializer   the initializer's {@code "module:qualname"}, or ""
     * @param initArguments its arguments, as {@link Conversions#encodeArguments} tokens
     */
    private record WorkerSetup(String startMethod, String[] directories, String[] sources, String[] modules,
                               String initializer, Object[] initArguments) {
    }

    /** Starts workers in {@code polypool.embed}, converts results in them and completes the calls' futures. */
    private final class EmbedDriver implements Driver {
        private final WorkerSetup setup;

        EmbedDriver(WorkerSetup setup) {
            this.setup = setup;
        }

        @Override
        public Value startWorker(WarmContexts.Prepared context, String name, int identity, long pid, long ppid) {
            return context.context().eval(EMBED).invokeMember("start", name, identity, pid, ppid, setup.startMethod(),
                    setup.directories(), setup.sources(), setup.modules(), setup.initializer(), setup.initArguments());
        }

        @Override
        public Outcome decode(Task task, Value result) {
            return EmbedResults.decode(task, result);
        }

        @Override
        public void ended() {
            // release() cancels whatever is still pending
        }

        @Override
        public void deliver(Outcome outcome) {
            Call<?> call = pending.remove(outcome.jobId());
            if (call != null) {
                COMPLETING.set(PythonPool.this);
                try {
                    call.finish(outcome);
                } finally {
                    COMPLETING.remove();
                }
            }
        }
    }

    /**
     * Builds a {@link PythonPool}. Not thread-safe; each method returns this builder.
     */
    public static final class Builder {
        private int workers = Runtime.getRuntime().availableProcessors();
        private boolean workersSet;
        private List<InetSocketAddress> clusterMembers;
        private String clusterName;
        private String clusterSecret;
        private String startMethod = "fork";
        private final List<Path> directories = new ArrayList<>();
        private final List<String> modules = new ArrayList<>();
        private final Map<String, String> sources = new LinkedHashMap<>();
        private PythonFunction<?> initializer;
        private List<Object> initArgs = List.of();
        private int maxTasksPerWorker;
        private int warmContexts;
        private String name;

        private Builder() {
        }

        /**
         * Names the pool (default {@code PythonPool-N}): its {@link PythonPool#stats()} and
         * its MBean, {@code dev.polypool:type=PythonPool,name=<name>}, carry it. Two running
         * pools cannot share a name.
         *
         * @param name the pool's name
         * @return this builder
         * @throws IllegalArgumentException if {@code name} is blank
         */
        public Builder name(String name) {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("a pool name must not be blank");
            }
            this.name = name;
            return this;
        }

        /**
         * Sets the number of workers (default: the number of processors; on a
         * {@linkplain #cluster cluster}, every worker of the cluster).
         *
         * @param n the number of workers
         * @return this builder
         * @throws IllegalArgumentException if {@code n} is less than 1
         */
        public Builder workers(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("workers must be at least 1: " + n);
            }
            workers = n;
            workersSet = true;
            return this;
        }

        /**
         * Runs the pool's workers on the members of a polypool cluster instead of in this JVM:
         * members started with {@code bin/polypool --member}, or embedded in some JVM, whose
         * {@code POLYPOOL_CLUSTER_NAME} is {@code name} and {@code POLYPOOL_CLUSTER_SECRET} is
         * {@code secret}. It is what {@code POLYPOOL_CLUSTER} does for a Python script.
         *
         * <p>{@link #build()} connects to the members at {@code members} (one that answers is
         * enough: it knows the others), checks that each member of the cluster knows
         * {@code secret} and proves it knows it too, and fails with a
         * {@link ClusterConnectException} if a member refuses or none answers within 20
         * seconds. Without {@link #workers(int)} the pool has one worker per worker of the
         * cluster's members, and grows and shrinks as members join and leave; with it, that
         * many workers, spread over the members by how many workers each has. Each worker
         * starts on a member as a local one would: the start method, the source modules, the
         * modules to import and the initializer apply there; the {@code .py} files of the
         * {@linkplain #sourceDirectory source directories} (outside hidden directories and
         * {@code __pycache__}), as they are when the pool is built, go to each member once
         * and are cached there by content. What remote workers print comes to this JVM's
         * standard output and error, whole lines.
         *
         * <p>A member that leaves or dies takes its workers with it: a call or chunk that one
         * of them was running goes back to the front of the queue and runs again, once, on
         * another worker (so a function may run twice for the same arguments; one that raised
         * is never run again), and the pool replaces the workers elsewhere (a pool that follows
         * the cluster's size does not). When no member is left, the calls not done and those
         * submitted later fail with a {@link PythonException} of type
         * {@value PythonException#WORKER_LOST} whose message says so. The secret
         * authenticates members and pools to each other; it does not encrypt the traffic, and
         * a pool's functions run arbitrary code on the members.
         *
         * @param members where to reach members of the cluster, at least one; a host name or
         *                address and the port a member listens on (5701 by default)
         * @param name    the cluster's name ({@code POLYPOOL_CLUSTER_NAME} of the members;
         *                theirs is {@code "polypool"} by default)
         * @param secret  the cluster's secret ({@code POLYPOOL_CLUSTER_SECRET} of the members);
         *                empty for members started without one
         * @return this builder
         * @throws NullPointerException     if an argument, or an element of {@code members}, is null
         * @throws IllegalArgumentException if {@code members} is empty or has an address with
         *                                  no host or port 0, or {@code name} is blank
         */
        public Builder cluster(List<InetSocketAddress> members, String name, String secret) {
            Objects.requireNonNull(members, "members");
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(secret, "secret");
            if (members.isEmpty()) {
                throw new IllegalArgumentException("a cluster needs the address of at least one member");
            }
            List<InetSocketAddress> copy = new ArrayList<>();
            for (InetSocketAddress a : members) {
                Objects.requireNonNull(a, "a member's address");
                if (a.getHostString() == null || a.getHostString().isBlank()) {
                    throw new IllegalArgumentException("a member's address has no host: " + a);
                }
                if (a.getPort() == 0) {
                    throw new IllegalArgumentException("a member's address has port 0: " + a);
                }
                copy.add(InetSocketAddress.createUnresolved(a.getHostString(), a.getPort()));
            }
            if (name.isBlank()) {
                throw new IllegalArgumentException("a cluster name must not be blank");
            }
            clusterMembers = List.copyOf(copy);
            clusterName = name.strip();
            clusterSecret = secret;
            return this;
        }

        /**
         * Sets the start method the workers report to {@code multiprocessing}
         * ({@code "fork"}, the default, {@code "spawn"} or {@code "forkserver"}). Workers of a
         * Java pool inherit no parent state, so the methods differ only in what
         * {@code multiprocessing.get_start_method()} says and in what processes the
         * functions start themselves.
         *
         * @param method the start method's name
         * @return this builder
         * @throws IllegalArgumentException if {@code method} is not one of those names
         */
        public Builder startMethod(String method) {
            if (!Protocol.START_METHODS.contains(method)) {
                throw new IllegalArgumentException("cannot find context for " + (method == null ? "None" : "'" + method + "'"));
            }
            startMethod = method;
            return this;
        }

        /**
         * Adds a directory to the front of each worker's {@code sys.path}, in the order
         * added, so that its modules and packages can be imported.
         *
         * @param directory a directory of Python modules or packages
         * @return this builder
         * @throws IllegalArgumentException if {@code directory} is not a directory
         */
        public Builder sourceDirectory(Path directory) {
            if (!Files.isDirectory(directory)) {
                throw new IllegalArgumentException("not a directory: " + directory);
            }
            directories.add(directory);
            return this;
        }

        /**
         * Adds a module made from Python source text: each worker runs {@code source} as
         * module {@code moduleName} before any call, so its functions can be called as
         * {@code "moduleName:function"}. Tracebacks show its lines.
         *
         * @param moduleName the module's name, such as {@code "tools"} or {@code "pkg.tools"}
         * @param source     the module's Python source text
         * @return this builder
         * @throws IllegalArgumentException if {@code moduleName} is not a dotted Python name
         */
        public Builder source(String moduleName, String source) {
            PythonFunction.of(moduleName + ":x"); // validates the dotted name
            sources.put(moduleName, Objects.requireNonNull(source, "source"));
            return this;
        }

        /**
         * Adds modules that each worker imports when it starts, before any call, so their
         * import cost is not paid by the first calls and import errors break the pool early.
         *
         * @param moduleNames dotted module names
         * @return this builder
         * @throws IllegalArgumentException if a name is not a dotted Python name
         */
        public Builder modules(String... moduleNames) {
            for (String m : moduleNames) {
                PythonFunction.of(m + ":x");
                modules.add(m);
            }
            return this;
        }

        /**
         * Sets a function each worker calls with {@code args} when it starts, as
         * {@code multiprocessing.Pool}'s {@code initializer} and {@code initargs}. If it
         * raises, the worker prints the traceback, the pool is broken and every call fails
         * with a {@link PythonException} of type {@value PythonException#WORKER_LOST}.
         *
         * @param function the initializer
         * @param args     its positional arguments, converted as call arguments are
         * @return this builder
         * @throws PythonConversionException if an argument does not convert
         */
        public Builder initializer(PythonFunction<?> function, Object... args) {
            List<Object> list = Arrays.asList(args.clone());
            Conversions.encodeArguments(list);
            initializer = Objects.requireNonNull(function, "function");
            initArgs = list;
            return this;
        }

        /**
         * Sets how many calls a worker runs before a fresh one replaces it, as
         * {@code maxtasksperchild}; 0 (the default) for no limit.
         *
         * @param n the number of calls per worker, or 0
         * @return this builder
         * @throws IllegalArgumentException if {@code n} is negative
         */
        public Builder maxTasksPerWorker(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("maxTasksPerWorker must be >= 0: " + n);
            }
            maxTasksPerWorker = n;
            return this;
        }

        /**
         * Sets how many spare worker contexts to keep initialised ahead of need (default 0),
         * so that the workers, and those replacing retired or cancelled ones, start without
         * waiting for GraalPy to create a context (0.1 s to seconds each).
         *
         * @param n the number of spare contexts
         * @return this builder
         * @throws IllegalArgumentException if {@code n} is negative
         */
        public Builder warmContexts(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("warmContexts must be >= 0: " + n);
            }
            warmContexts = n;
            return this;
        }

        /**
         * Creates the pool and starts its workers in the background; returns without waiting
         * for them. For a pool on a {@linkplain #cluster cluster}, first connects to its
         * members and checks them, blocking for up to 20 seconds when none answers.
         *
         * @return the pool
         * @throws IllegalStateException     if GraalPy's optimizing runtime is not available in this JVM,
         *                                   a running pool has this pool's {@linkplain #name(String) name},
         *                                   or {@link #warmContexts(int)} is set for a pool on a cluster
         *                                   (its members keep contexts warm themselves)
         * @throws ClusterConnectException   if a member of the cluster refused the pool's secret,
         *                                   or none answered in time
         * @throws java.io.UncheckedIOException if a source directory cannot be read for the cluster
         */
        public PythonPool build() {
            if (clusterMembers != null && warmContexts > 0) {
                throw new IllegalStateException("warmContexts(" + warmContexts + ") has no effect on a cluster: "
                        + "its members keep their workers' contexts warm themselves");
            }
            return new PythonPool(this);
        }
    }
}
