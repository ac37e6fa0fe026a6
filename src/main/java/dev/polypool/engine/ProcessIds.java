package dev.polypool.engine;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Process identities for contexts that stand in for OS processes.
 *
 * <p>A worker needs a pid of its own ({@code os.getpid()} differs per worker in CPython) and
 * the {@code N} of names such as {@code ForkPoolWorker-N}. Fake pids start above Linux's
 * largest possible pid ({@code PID_MAX_LIMIT}, 2<sup>22</sup>), so a program that signals a
 * worker's pid can never hit a real process. Thread-safe.
 */
public final class ProcessIds {
    private static final long FAKE_PID_BASE = 1L << 22;
    private static final AtomicInteger IDENTITY = new AtomicInteger();
    private static final AtomicInteger PIDS = new AtomicInteger();

    private ProcessIds() {
    }

    /** The JVM's own pid: the parent of every worker. */
    public static long parentPid() {
        return ProcessHandle.current().pid();
    }

    /** The next process identity, shared with {@code multiprocessing.process._process_counter}. */
    public static int nextIdentity() {
        return IDENTITY.incrementAndGet();
    }

    /** A new pid for a worker or process context, never a real process's. */
    public static long nextPid() {
        return FAKE_PID_BASE + PIDS.incrementAndGet();
    }
}
