package dev.polypool.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.Value;

/**
 * The process calls that GraalPy's Java POSIX backend lacks ({@code getppid}, {@code
 * getpgid}, {@code kill}, {@code sysconf} with Linux's values...), made on the C library of
 * this JVM's process through the JDK's foreign function interface, for {@code
 * polypool.posix}. Every context sees it as {@code polyglot.import_value("polypool.posix")}.
 *
 * <p>Each call returns {@code [result, errno]}: errno is 0 on success, else the C library's
 * error number, which Python turns into the {@code OSError} subclass CPython raises. The
 * pids here are the operating system's; {@link #signalChild} reaches the contexts that
 * {@code multiprocessing.Process} children run in, whose pids only polypool knows.
 *
 * <p>Thread-safe; the native functions are linked on first use.
 */
public final class NativePosix {
    private static final NativePosix INSTANCE = new NativePosix();

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;

    /** struct rusage on 64-bit Linux: two struct timeval, then 14 longs. */
    private static final int RUSAGE_BYTES = 18 * 8;
    private static final int AFFINITY_BYTES = 1024 / 8;

    /** Exit codes given to {@code os._exit} by contexts that have not ended yet, by pid. */
    private static final Map<Long, Integer> EXITS = new ConcurrentHashMap<>();

    private NativePosix() {
    }

    public static NativePosix get() {
        return INSTANCE;
    }

    private static final class Calls {
        static final MethodHandle ERRNO_LOCATION = LINKER.downcallHandle(
                LIBC.find("__errno_location").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS));
        static final MethodHandle SYSCONF = link("sysconf", FunctionDescriptor.of(LONG, INT));
        static final MethodHandle GETPPID = link("getppid", FunctionDescriptor.of(INT));
        static final MethodHandle GETPGID = link("getpgid", FunctionDescriptor.of(INT, INT));
        static final MethodHandle GETSID = link("getsid", FunctionDescriptor.of(INT, INT));
        static final MethodHandle SETSID = link("setsid", FunctionDescriptor.of(INT));
        static final MethodHandle KILL = link("kill", FunctionDescriptor.of(INT, INT, INT));
        static final MethodHandle KILLPG = link("killpg", FunctionDescriptor.of(INT, INT, INT));
        static final MethodHandle GETRUSAGE = link("getrusage", FunctionDescriptor.of(INT, INT, ValueLayout.ADDRESS));
        static final MethodHandle SCHED_GETAFFINITY = link("sched_getaffinity",
                FunctionDescriptor.of(INT, INT, LONG, ValueLayout.ADDRESS));

        static final MethodHandle SIGNAL = LINKER.downcallHandle(LIBC.find("signal").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, INT, ValueLayout.ADDRESS));

        private static MethodHandle link(String name, FunctionDescriptor descriptor) {
            return LINKER.downcallHandle(LIBC.find(name).orElseThrow(), descriptor,
                    Linker.Option.captureCallState("errno"));
        }
    }

    /** Calls {@code handle(state, args...)} with errno cleared first; returns [result, errno or 0]. */
    private static long[] call(MethodHandle handle, boolean failsWithMinusOne, Object... args) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            Object[] full = new Object[args.length + 1];
            full[0] = state;
            System.arraycopy(args, 0, full, 1, args.length);
            // sysconf returns -1 for "no limit" without setting errno: errno must start at 0
            ((MemorySegment) Calls.ERRNO_LOCATION.invoke()).reinterpret(4).set(INT, 0, 0);
            Object r = handle.invokeWithArguments(full);
            long result = r instanceof Integer i ? i : (Long) r;
            int errno = (int) ERRNO.get(state, 0L);
            return new long[] {result, result == -1 && (failsWithMinusOne || errno != 0) ? errno : 0};
        } catch (Throwable e) {
            throw new IllegalStateException("native call failed: " + e, e);
        }
    }

    /**
     * Gives signal {@code signum} its default action in this process. The JVM will not
     * handle a signal the process started ignoring (it leaves SIG_IGN in place), which a
     * program may yet want to handle, as a CPython program may.
     */
    public void restoreDefaultAction(int signum) {
        try {
            Calls.SIGNAL.invoke(signum, MemorySegment.NULL); // SIG_DFL
        } catch (Throwable e) {
            throw new IllegalStateException("signal(" + signum + ", SIG_DFL) failed: " + e, e);
        }
    }

    /** A context of pid {@code pid} is calling {@code os._exit(status)}. */
    @HostAccess.Export
    public void noteExit(long pid, int status) {
        EXITS.put(pid, status);
    }

    /** Whether the context of pid {@code pid} has called {@code os._exit} and not yet ended. */
    static boolean exiting(long pid) {
        return EXITS.containsKey(pid);
    }

    /** The status the context of pid {@code pid} gave {@code os._exit}, or null; forgets it. */
    static Integer takeExit(long pid) {
        return EXITS.remove(pid);
    }

    /** The pid of this JVM, which the main program sees as {@code os.getpid()}. */
    @HostAccess.Export
    public long processId() {
        return ProcessHandle.current().pid();
    }

    /** {@code sysconf(name)}: the value, -1 for no limit, errno EINVAL for an unknown name. */
    @HostAccess.Export
    public long[] sysconf(int name) {
        return call(Calls.SYSCONF, false, name);
    }

    @HostAccess.Export
    public long[] getppid() {
        return call(Calls.GETPPID, true);
    }

    @HostAccess.Export
    public long[] getpgid(int pid) {
        return call(Calls.GETPGID, true, pid);
    }

    @HostAccess.Export
    public long[] getsid(int pid) {
        return call(Calls.GETSID, true, pid);
    }

    @HostAccess.Export
    public long[] setsid() {
        return call(Calls.SETSID, true);
    }

    @HostAccess.Export
    public long[] kill(int pid, int signal) {
        return call(Calls.KILL, true, pid, signal);
    }

    @HostAccess.Export
    public long[] killpg(int pgid, int signal) {
        return call(Calls.KILLPG, true, pgid, signal);
    }

    /**
     * {@code getrusage(who)} as 16 numbers: user and system time in microseconds, then the 14
     * counters of struct rusage from {@code ru_maxrss}; errno as the 17th (0 on success).
     */
    @HostAccess.Export
    public long[] getrusage(int who) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment usage = arena.allocate(RUSAGE_BYTES, 8);
            long[] r = call(Calls.GETRUSAGE, true, who, usage);
            long[] out = new long[17];
            out[0] = usage.get(LONG, 0) * 1_000_000 + usage.get(LONG, 8);
            out[1] = usage.get(LONG, 16) * 1_000_000 + usage.get(LONG, 24);
            for (int i = 0; i < 14; i++) {
                out[2 + i] = usage.get(LONG, 32 + 8L * i);
            }
            out[16] = r[1];
            return out;
        }
    }

    /** The CPUs {@code pid} (0 for this process) may run on, errno last (0 on success). */
    @HostAccess.Export
    public int[] schedGetaffinity(int pid) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(AFFINITY_BYTES, 8);
            long[] r = call(Calls.SCHED_GETAFFINITY, true, pid, (long) AFFINITY_BYTES, mask);
            if (r[1] != 0) {
                return new int[] {(int) r[1]};
            }
            int[] cpus = new int[AFFINITY_BYTES * 8 + 1];
            int n = 0;
            for (int cpu = 0; cpu < AFFINITY_BYTES * 8; cpu++) {
                if ((mask.get(ValueLayout.JAVA_BYTE, cpu / 8) & (1 << (cpu % 8))) != 0) {
                    cpus[n++] = cpu;
                }
            }
            cpus[n++] = 0;
            return Arrays.copyOf(cpus, n);
        }
    }

    /**
     * Sends {@code signal} to the {@code multiprocessing.Process} child of pid {@code pid}: 0
     * only checks that it runs; a signal the child handles or ignores ({@link #childHandles})
     * runs what it installed; any other ends it ({@code exitcode} minus the signal, as
     * {@code terminate}/{@code kill} do).
     *
     * @return whether a running child has that pid, or one that ended and whose exit code was
     *         not read yet (a zombie: the signal does nothing to it)
     */
    @HostAccess.Export
    public boolean signalChild(long pid, int signal) {
        ChildProcess child = ChildProcess.running(pid);
        if (child == null) {
            return ChildProcess.unreaped(pid); // a zombie takes a signal and does nothing
        }
        if (signal != 0) {
            child.signal(signal);
        }
        return true;
    }

    /**
     * The {@code multiprocessing.Process} child of pid {@code pid} (the caller) now handles or
     * ignores {@code signal}: {@code deliver}, a callable of its context, runs when it is sent
     * the signal; null when the signal's default action is back.
     *
     * @return whether a running child has that pid (a pool worker is none)
     */
    @HostAccess.Export
    public boolean childHandles(long pid, int signal, Value deliver) {
        ChildProcess child = ChildProcess.running(pid);
        if (child == null) {
            return false;
        }
        child.handleSignal(signal, deliver);
        return true;
    }

    /** The operating system's pids of this JVM's child processes ({@code subprocess} children). */
    @HostAccess.Export
    public long[] childProcesses() {
        return ProcessHandle.current().children().mapToLong(ProcessHandle::pid).toArray();
    }

    /** The pids of the running {@code multiprocessing.Process} children of any context. */
    @HostAccess.Export
    public long[] childPids() {
        return ChildProcess.runningPids();
    }
}
