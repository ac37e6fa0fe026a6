package dev.polypool.engine;

import java.io.IOException;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Value;

import dev.polypool.sync.HandleTable;
import dev.polypool.sync.Sentinel;

/**
 * A {@code multiprocessing.Process} running in a context of its own, on a platform thread
 * of its own.
 *
 * <p>The context receives the parent's state (the same start-up as a pool worker) and the
 * pickled {@code Process} object, whose {@code _bootstrap} runs the target exactly as in a
 * CPython child: the exit code is 0, the argument of {@code sys.exit}, or 1 after an
 * uncaught exception (whose traceback the child prints). {@link #terminate(int)} cancels the
 * running code, even a pure-Python loop, and the exit code becomes minus the signal number,
 * as for a signalled CPython child.
 *
 * <p>When the process ends, every pipe handle it held is closed (those it inherited and those
 * it opened), and then its {@linkplain #sentinel() sentinel} fires, so that whoever sees the
 * process ended also sees end of file on the pipes only it was writing to.
 *
 * <p>Thread-safe. Python calls the methods annotated {@link HostAccess.Export}.
 */
public final class ChildProcess {
    /** The running children of every context, by pid, for os.kill (see {@link NativePosix}). */
    private static final Map<Long, ChildProcess> RUNNING = new ConcurrentHashMap<>();
    /**
     * The pids of children that ended and whose exit code their parent has not read yet: as
     * zombies, they still take signals (without effect), as {@code os.kill(pid, 0)} tells.
     */
    private static final Set<Long> UNREAPED = ConcurrentHashMap.newKeySet();

    private final String name;
    private final long pid = ProcessIds.nextPid();
    private final Thread thread;
    private final Sentinel sentinel = new Sentinel();
    private volatile Context context;
    private Integer exitCode;
    private int terminatedBy;
    /** What runs, in the process's context, a signal it handles or ignores, by signal. */
    private final Map<Integer, Value> handlers = new ConcurrentHashMap<>();

    /**
     * Starts the process; returns at once.
     *
     * @param warm    where to take the context from
     * @param setup   the parent's state, as for a pool worker ({@code polypool.worker.run_process})
     * @param process the pickled {@code Process} object
     * @param inherited the pipe handles the process inherits, closed when it ends
     */
    public ChildProcess(WarmContexts warm, String name, Object setup, String process, HandleTable inherited) {
        this.name = name;
        RUNNING.put(pid, this);
        this.thread = Thread.ofPlatform().name("polypool-" + name).daemon(true)
                .start(() -> run(warm, setup, process, inherited));
    }

    private void run(WarmContexts warm, Object setup, String process, HandleTable inherited) {
        int code;
        WarmContexts.Prepared prepared = null;
        try {
            prepared = warm.take();
            context = prepared.context();
            synchronized (this) {
                if (terminatedBy != 0) {
                    throw new IllegalStateException("terminated before it started");
                }
            }
            code = prepared.worker().invokeMember("run_process", name, pid, ProcessIds.parentPid(), setup, process,
                    sentinel.fd()).asInt();
        } catch (PolyglotException e) {
            code = e.isExit() ? e.getExitStatus() : 1;
            if (!e.isExit() && !e.isCancelled()) {
                report(prepared, e);
            }
        } catch (InterruptedException | RuntimeException e) {
            code = 1;
            report(prepared, e);
        } finally {
            if (prepared != null) {
                prepared.close();
            }
            inherited.closeAll();
        }
        Integer exited = NativePosix.takeExit(pid); // os._exit(n): its context ends without a status
        if (exited != null) {
            code = exited;
        }
        synchronized (this) {
            exitCode = terminatedBy != 0 ? -terminatedBy : code;
            UNREAPED.add(pid);
            RUNNING.remove(pid);
            handlers.clear();
            notifyAll();
        }
        sentinel.fire();
        Trace.log("process " + name + " exited with " + exitCode);
    }

    /** The running child of pid {@code pid}, or null. */
    static ChildProcess running(long pid) {
        return RUNNING.get(pid);
    }

    /** Whether {@code pid} is a child that ended and whose exit code was not read yet. */
    static boolean unreaped(long pid) {
        return UNREAPED.contains(pid);
    }

    static long[] runningPids() {
        return RUNNING.keySet().stream().mapToLong(Long::longValue).toArray();
    }

    /** The pid the process sees as {@code os.getpid()}. */
    @HostAccess.Export
    public long pid() {
        return pid;
    }

    /** The number of the process's sentinel, ready once the process has ended ({@code Process.sentinel}). */
    @HostAccess.Export
    public int sentinel() {
        return sentinel.fd();
    }

    /** The exit code, or null while the process runs; once read, the pid is free (reaped). */
    @HostAccess.Export
    public synchronized Integer exitCode() {
        if (exitCode != null) {
            UNREAPED.remove(pid);
        }
        return exitCode;
    }

    /**
     * Waits for the process to end.
     *
     * @param timeoutSeconds how long to wait at most; 0 to poll
     * @return whether the process has ended
     */
    @HostAccess.Export
    public synchronized boolean join(double timeoutSeconds) {
        long deadline = System.nanoTime() + (long) (timeoutSeconds * 1e9);
        try {
            long left;
            while (exitCode == null && (left = deadline - System.nanoTime()) > 0) {
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return exitCode != null;
    }

    /** The process now handles or ignores {@code signal} by {@code deliver}, or (null) no longer does. */
    void handleSignal(int signal, Value deliver) {
        if (deliver == null || deliver.isNull()) {
            handlers.remove(signal);
        } else {
            handlers.put(signal, deliver);
        }
    }

    /**
     * Sends the process {@code signal} (not 0): what it installed for it runs in its context,
     * on a thread of its own so that the sender does not wait (a CPython handler runs in the
     * receiver's main thread; this one interrupts no wait there); without one, the signal ends
     * the process as {@link #terminate} does.
     */
    void signal(int signal) {
        Value deliver = handlers.get(signal);
        if (deliver == null) {
            terminate(signal);
            return;
        }
        Thread.ofPlatform().daemon(true).name("polypool-signal-" + name).start(() -> {
            try {
                deliver.executeVoid();
            } catch (RuntimeException ignored) {
                // the process ended meanwhile (its context closed); deliver reports its own errors
            }
        });
    }

    /** Stops the process as {@code signal} would (15 for terminate, 9 for kill); never blocks. */
    @HostAccess.Export
    public void terminate(int signal) {
        synchronized (this) {
            if (exitCode != null || terminatedBy != 0) {
                return;
            }
            terminatedBy = signal;
        }
        thread.interrupt();
        Context c = context;
        if (c != null) {
            // close(true) waits for the cancelled code to stop: not on the caller's thread
            Thread.ofPlatform().daemon(true).start(() -> {
                try {
                    c.close(true);
                } catch (RuntimeException ignored) {
                    // the process ended meanwhile
                }
            });
        }
    }

    /**
     * An engine failure (not the program's own exception, which the child prints itself). Not
     * after {@code os._exit}: its context is torn down under the running code, which then
     * ends with whatever the tear-down threw (under spawn: {@code ThreadDeath} or a
     * {@code NullPointerException}), not a failure of the process.
     */
    private void report(WarmContexts.Prepared prepared, Exception e) {
        if (terminatedBy == 0 && !NativePosix.exiting(pid)) {
            String message = "polypool: process " + name + " failed: " + e + System.lineSeparator();
            try {
                if (prepared != null) {
                    prepared.err().write(message.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                } else {
                    System.err.print(message);
                }
            } catch (IOException ignored) {
                // the console is gone
            }
        }
    }
}
