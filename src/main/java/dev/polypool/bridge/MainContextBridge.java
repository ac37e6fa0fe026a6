package dev.polypool.bridge;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;

import org.graalvm.polyglot.HostAccess;

import dev.polypool.engine.ChildProcess;
import dev.polypool.engine.PolyglotRuntime;
import dev.polypool.engine.ProcessIds;
import dev.polypool.engine.WarmContexts;
import dev.polypool.engine.WorkerPool;
import dev.polypool.io.ConsoleSink;
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
    private final List<String> argv;
    private final ConsoleSink stdout;
    private final ConsoleSink stderr;
    private final WarmContexts warm;
    private final List<WorkerPool> pools = new CopyOnWriteArrayList<>();
    private final List<ChildProcess> children = new CopyOnWriteArrayList<>();
    private final Sentinel sentinel = new Sentinel();

    /**
     * Creates the bridge and starts warming {@code warmContexts} worker contexts, which see
     * this bridge too (child processes can start processes of their own).
     */
    public MainContextBridge(PolyglotRuntime runtime, List<String> argv, ConsoleSink stdout, ConsoleSink stderr,
                             int warmContexts) {
        this.runtime = Objects.requireNonNull(runtime);
        this.argv = List.copyOf(argv);
        this.stdout = Objects.requireNonNull(stdout);
        this.stderr = Objects.requireNonNull(stderr);
        this.warm = new WarmContexts(runtime, argv, stdout, stderr, warmContexts, this);
    }

    /**
     * Starts a pool of {@code processes} workers; returns at once, while the workers start
     * in the background.
     *
     * @param setup encoded parent state for the workers ({@code polypool.worker.start})
     */
    @HostAccess.Export
    public WorkerPool startPool(int processes, int maxTasksPerWorker, String namePrefix, String setup) {
        WorkerPool pool = new WorkerPool(runtime, new WorkerPool.Config(
                processes, maxTasksPerWorker, namePrefix, argv, setup, stdout, stderr, warm));
        pools.add(pool);
        return pool;
    }

    /**
     * Starts a {@code multiprocessing.Process} in a context of its own; returns at once.
     *
     * @param setup   the parent's state, encoded as for a pool's workers
     * @param process the pickled {@code Process} object
     * @param inherited the pipe handles the process inherits (a transit table), closed when it ends
     */
    @HostAccess.Export
    public ChildProcess startProcess(String name, String setup, String process, HandleTable inherited) {
        children.removeIf(c -> c.exitCode() != null);
        ChildProcess child = new ChildProcess(warm, name, setup, process, inherited);
        children.add(child);
        return child;
    }

    /** The next process identity (the {@code N} of {@code ForkPoolWorker-N}). */
    @HostAccess.Export
    public int nextIdentity() {
        return ProcessIds.nextIdentity();
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
     * Terminates every pool this context started and closes the warm contexts; blocks until
     * the pools' workers have exited.
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
    }
}
