package dev.polypool.bridge;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.HostAccess;

import dev.polypool.cluster.ClusterClient;
import dev.polypool.engine.ChildProcess;
import dev.polypool.engine.OutcomeQueue;
import dev.polypool.engine.PolyglotRuntime;
import dev.polypool.engine.ProcessEnvironment;
import dev.polypool.engine.StandardTerminals;
import dev.polypool.engine.WarmContexts;
import dev.polypool.engine.WorkerPool;
import dev.polypool.io.ConsoleSink;
import dev.polypool.io.ProgressDisplay;
import dev.polypool.sync.HandleTable;
import dev.polypool.sync.Sentinel;

/**
 * The host object a main context sees as {@code polyglot.import_value("polypool")}: how
 * Python code in that context reaches the engine.
 *
 * <p>It starts pools and processes on behalf of the program and remembers them, so that
 * whoever owns the program can {@linkplain #terminateAll() stop every worker} when it ends,
 * as CPython terminates daemonic pool workers at exit. Thread-safe.
 */
public final class MainContextBridge {
    private final PolyglotRuntime runtime;
    private volatile List<String> argv;
    private final ProcessEnvironment environment;
    private volatile int endingSignal;
    private final ConsoleSink stdout;
    private final ConsoleSink stderr;
    private final StandardTerminals terminals;
    private final int warmContexts;
    private final WarmContexts warm;
    private String templateKey; // guarded by this, as is templates
    private WarmContexts templates;
    private final List<WorkerPool> pools = new CopyOnWriteArrayList<>();
    private final List<ChildProcess> children = new CopyOnWriteArrayList<>();
    private final Sentinel sentinel = new Sentinel();
    private final java.util.concurrent.atomic.AtomicInteger identities = new java.util.concurrent.atomic.AtomicInteger();
    private final SignalRelay signals = new SignalRelay();
    private volatile ProgressDisplay progress;
    private volatile ClusterClient cluster;

    /**
     * Creates the bridge and starts warming {@code warmContexts} worker contexts, which see
     * this bridge too (child processes can start processes of their own).
     */
    public MainContextBridge(PolyglotRuntime runtime, List<String> argv, ConsoleSink stdout, ConsoleSink stderr,
                             int warmContexts) {
        this(runtime, argv, ProcessEnvironment.INHERIT, stdout, stderr, warmContexts);
    }

    /**
     * Creates the bridge of a program whose contexts start in {@code environment}'s working
     * directory with its environment variables, and starts warming {@code warmContexts}
     * worker contexts.
     */
    public MainContextBridge(PolyglotRuntime runtime, List<String> argv, ProcessEnvironment environment,
                             ConsoleSink stdout, ConsoleSink stderr, int warmContexts) {
        this.runtime = Objects.requireNonNull(runtime);
        this.argv = List.copyOf(argv);
        this.environment = Objects.requireNonNull(environment);
        this.stdout = Objects.requireNonNull(stdout);
        this.stderr = Objects.requireNonNull(stderr);
        this.terminals = new StandardTerminals(stdout, stderr);
        this.warmContexts = warmContexts;
        this.warm = new WarmContexts(runtime, argv, environment, stdout, stderr, warmContexts, this, null,
                this::nextIdentity);
    }

    /**
     * Where a worker or process takes its context from: the plain warm contexts, or for a
     * template (the forkserver start method with modules to preload) a supply of contexts
     * prepared with it. One template supply is kept, as CPython keeps one fork server; a
     * new template replaces it.
     */
    private synchronized WarmContexts supplyFor(String template) {
        if (template == null) {
            return warm;
        }
        if (!template.equals(templateKey)) {
            if (templates != null) {
                templates.close();
            }
            templateKey = template;
            templates = new WarmContexts(runtime, argv, environment, stdout, stderr, warmContexts, this, template,
                    this::nextIdentity);
        }
        return templates;
    }

    /**
     * Starts preparing worker contexts with {@code template} in the background, so that the
     * workers that ask for it later (see {@link #startPool}) find them ready; returns at once.
     */
    @HostAccess.Export
    public void prepareTemplate(String template) {
        supplyFor(Objects.requireNonNull(template));
    }

    /**
     * Starts a pool of {@code processes} workers; returns at once, while the workers start
     * in the background. Its outcomes come from its {@link OutcomeQueue}
     * ({@link WorkerPool#driver()}).
     *
     * @param setup    encoded parent state for the workers ({@code polypool.worker.start})
     * @param template what to prepare the workers' contexts with before they start
     *                 ({@code polypool.worker.preload}); null for none
     */
    @HostAccess.Export
    public WorkerPool startPool(int processes, int maxTasksPerWorker, String namePrefix, Object setup,
                                String template) {
        WorkerPool pool = new WorkerPool(runtime, new WorkerPool.Config(processes, maxTasksPerWorker, namePrefix,
                argv, stdout, stderr, supplyFor(template), new OutcomeQueue(setup)));
        if ("1".equals(environment.getenv("POLYPOOL_STATS"))) {
            pool.printStatsAtEnd(stderr);
        }
        pools.add(pool);
        return pool;
    }

    /**
     * Makes the program's pools run their workers on {@code cluster}'s members
     * ({@code POLYPOOL_CLUSTER}); {@code multiprocessing.Process} still runs here.
     */
    public void useCluster(ClusterClient cluster) {
        this.cluster = cluster;
    }

    /** The number of workers of the cluster the program's pools run on, or -1 without one. */
    @HostAccess.Export
    public int clusterWorkers() {
        ClusterClient c = cluster;
        return c == null ? -1 : c.workers();
    }

    /**
     * Starts a pool whose workers run on the cluster's members; returns at once, as
     * {@link #startPool} does.
     *
     * @param processes the number of workers, spread over the members
     * @param follow    whether the pool has a worker for every worker of the cluster instead,
     *                  growing when a member joins
     * @param paths     the program's files the workers must find, relative to a directory of
     *                  their {@code sys.path}, one a line
     * @param contents  their contents end to end, each byte a character
     * @param ends      where each content ends in {@code contents}, comma-separated
     * @throws IllegalStateException if the program runs on no cluster
     */
    @HostAccess.Export
    public WorkerPool startClusterPool(int processes, boolean follow, int maxTasksPerWorker, String namePrefix,
                                       Object setup, String paths, String contents, String ends) {
        ClusterClient c = cluster;
        if (c == null) {
            throw new IllegalStateException("this program runs on no cluster");
        }
        java.util.Map<String, byte[]> files = new java.util.HashMap<>();
        String[] names = paths.isEmpty() ? new String[0] : paths.split("\n");
        String[] marks = ends.isEmpty() ? new String[0] : ends.split(",");
        if (names.length != marks.length) {
            throw new IllegalArgumentException(names.length + " paths but " + marks.length + " contents");
        }
        int start = 0;
        for (int i = 0; i < names.length; i++) {
            int end = Integer.parseInt(marks[i]);
            files.put(names[i], contents.substring(start, end).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            start = end;
        }
        WorkerPool pool = new WorkerPool(runtime, new WorkerPool.Config(processes, maxTasksPerWorker, namePrefix,
                argv, stdout, stderr, null, new OutcomeQueue(setup),
                c.workers(setup, follow, argv, files, stdout, stderr)));
        pools.add(pool);
        return pool;
    }

    /**
     * Starts a {@code multiprocessing.Process} in a context of its own; returns at once.
     *
     * @param setup   the parent's state, encoded as for a pool's workers
     * @param process the pickled {@code Process} object
     * @param inherited the pipe handles the process inherits (a transit table), closed when it ends
     * @param template  as for {@link #startPool}
     */
    @HostAccess.Export
    public ChildProcess startProcess(String name, Object setup, String process, HandleTable inherited,
                                     String template) {
        children.removeIf(c -> c.exitCode() != null);
        ChildProcess child = new ChildProcess(supplyFor(template), name, setup, process, inherited);
        children.add(child);
        return child;
    }

    /**
     * The next process identity (the {@code N} of {@code ForkPoolWorker-N}), counted per
     * program from 1 as in CPython, also when a resident engine runs many programs.
     */
    @HostAccess.Export
    public int nextIdentity() {
        return identities.incrementAndGet();
    }

    /**
     * The number of the main program's sentinel, which children see as
     * {@code parent_process().sentinel}: ready once the program has ended.
     */
    @HostAccess.Export
    public int sentinel() {
        return sentinel.fd();
    }

    /**
     * Sets the program's command line ({@code sys.argv} of its workers and processes from
     * now on): a resident engine prepares a bridge before it knows which program will run.
     */
    public synchronized void setArgv(List<String> argv) {
        this.argv = List.copyOf(argv);
        warm.setArgv(this.argv);
        if (templates != null) {
            templates.setArgv(this.argv);
        }
    }

    /**
     * Makes the main program see signal {@code signum} as CPython would: the handler the
     * program installed with {@code signal.signal} runs in its main thread, interrupting
     * whatever it waits in; SIGINT's default raises {@code KeyboardInterrupt}; a default
     * action that ends a process ends the program with status 128 + {@code signum}, its
     * pools stopped. Never blocks. A signal that arrives before the program runs its own
     * code is delivered when it starts to; one the program cannot handle (see
     * {@code polypool.posix.RELAYED}) is dropped.
     */
    @HostAccess.Export
    public void raiseSignal(int signum) {
        signals.raise(signum);
    }

    /**
     * Called by the main context just before it ends with status 128 + {@code signum} as a
     * process killed by that signal ends (an uncaught {@code KeyboardInterrupt}, a signal's
     * default action): see {@link #signalled}.
     */
    @HostAccess.Export
    public void endingBySignal(int signum) {
        endingSignal = signum;
    }

    /**
     * The run's status for the main program's exit status {@code status}:
     * {@code Main.SIGNALLED | n} if the program said it ends by signal n
     * ({@link #endingBySignal}) and exits with 128 + n; else {@code status}.
     */
    public int signalled(int status) {
        int signum = endingSignal;
        return signum > 0 && status == 128 + signum ? dev.polypool.cli.Main.SIGNALLED | signum : status;
    }

    /**
     * Installs the main context's dispatcher for {@code signum}: {@code register} runs
     * GraalPy's {@code signal.signal} and {@link #raiseSignal} reaches what it installed.
     *
     * @return whether the signal can be relayed
     */
    @HostAccess.Export
    public boolean adoptSignal(int signum, org.graalvm.polyglot.Value register) {
        return signals.adopt(signum, register);
    }

    /** Says whether the program's stdin is a terminal (its stdout and stderr say so themselves). */
    public void stdinIsTerminal(boolean value) {
        terminals.stdinIsTerminal(value);
    }

    /** Whether the program's stdin, stdout and stderr are terminals, for its {@code isatty()}. */
    @HostAccess.Export
    public boolean[] standardTerminals() {
        return terminals.standardTerminals();
    }

    /**
     * The signals the program's process started ignoring (inherited {@code SIG_IGN}): the
     * program starts ignoring them too, as CPython does. Called before the program starts.
     */
    public void ignoreSignalsAtStart(java.util.Collection<Integer> signums) {
        signals.ignoreAtStart(signums);
    }

    /** What {@link #ignoreSignalsAtStart} was given, for the program's {@code signal.getsignal}. */
    @HostAccess.Export
    public int[] signalsIgnoredAtStart() {
        return signals.ignoredAtStart();
    }

    /** The program now ignores {@code signum} (its handler is {@code SIG_IGN}), or no longer does. */
    @HostAccess.Export
    public void signalIgnored(int signum, boolean ignored) {
        signals.ignored(signum, ignored);
    }

    /** The main thread begins to handle {@code signum}: its handler, or the default action, runs. */
    @HostAccess.Export
    public void signalTaken(int signum) {
        signals.taken(signum);
    }

    /**
     * Sets what ends the program when its main thread has not begun to handle a SIGTERM or
     * SIGHUP within a few seconds (it runs code that never checks for signals); called with
     * the signal's number, on another thread. Without one, such a program goes on.
     */
    public void onUnresponsiveSignal(java.util.function.IntConsumer action) {
        signals.onUnresponsive(action);
    }

    /** The program starts its own code: signals raised until now are delivered. */
    @HostAccess.Export
    public void deliverPendingSignals() {
        signals.start();
    }

    /**
     * Draws progress lines for the program's map calls from now on
     * ({@code POLYPOOL_PROGRESS=1}, {@code --progress}), if its stderr is a terminal; stdout
     * lines written to the same terminal then erase them too. Call before the program runs.
     */
    public synchronized void showProgress() {
        if (progress == null && stderr.isTerminal()) {
            progress = new ProgressDisplay(stderr);
            if (stdout.isTerminal()) {
                progress.attach(stdout);
            }
        }
    }

    /** Whether {@link #progress} draws lines: {@link #showProgress} was called on a terminal. */
    @HostAccess.Export
    public boolean progressShown() {
        return progress != null;
    }

    /**
     * Starts a progress line for a map call of the program ({@code polypool.progress}).
     *
     * @param label what runs, such as {@code "map(square)"}
     * @param total how many items, or -1 when unknown
     * @return the line, or null when progress is not shown
     */
    @HostAccess.Export
    public ProgressDisplay.Bar progress(String label, long total) {
        ProgressDisplay p = progress;
        return p == null ? null : p.start(label, total);
    }

    /**
     * Terminates every pool this context started and closes the warm contexts; blocks until
     * the pools' workers have exited. Then unlinks the shared memory the program's contexts
     * left linked, as CPython's resource tracker does when a program ends.
     */
    public void terminateAll() {
        sentinel.fire();
        for (WorkerPool pool : pools) {
            pool.terminate();
        }
        pools.clear();
        for (ChildProcess child : children) {
            child.terminate(9);
        }
        children.clear();
        warm.close();
        ProgressDisplay p = progress;
        if (p != null) {
            p.close();
        }
        synchronized (this) {
            if (templates != null) {
                templates.close();
            }
        }
        dev.polypool.sync.SyncServices.get().programEnded(this, new java.io.PrintStream(stderr.newLineStream(), true));
    }
}
