package dev.polypool.bridge;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;

import org.graalvm.polyglot.Value;

import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Delivers signals to one main program's context as CPython delivers them to its process.
 *
 * <p>GraalPy runs a Python signal handler by queueing it for the main thread of the context
 * that installed it, which interrupts whatever that thread waits in ({@code time.sleep},
 * locks, queues, host calls). But it installs handlers as JVM-wide {@code sun.misc.Signal}
 * handlers, which one JVM running several programs (or whose launcher owns the signals)
 * cannot leave to it. So the main context installs its dispatcher for a signal through
 * {@link #adopt}: GraalPy's handler object is kept here and the JVM-wide handler put back,
 * and {@link #raise} calls the kept handler. Signals raised before the program started
 * wait until {@link #start}.
 *
 * <p>A signal the program ignores ({@link #ignored}; at first, those its process started
 * ignoring) is dropped here, as the kernel drops it for a CPython process: it interrupts no
 * wait.
 *
 * <p>A SIGTERM or SIGHUP that the main thread has not {@linkplain #taken taken} within
 * {@link #GRACE_MILLIS} (it is busy in code that never checks for signals, such as
 * {@code list()} of an endless iterator) is handed to the owner's
 * {@linkplain #onUnresponsive unresponsive action}, which ends the program as SIGKILL would:
 * a CPython process dies of those signals at once, whatever it runs.
 *
 * <p>Thread-safe.
 */
final class SignalRelay {
    /** How long the main thread may take to begin handling SIGTERM or SIGHUP. */
    static final long GRACE_MILLIS = 5000;

    /** Whoever changes JVM-wide signal handlers holds this. */
    private static final Object JVM_HANDLERS = new Object();
    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().daemon(true).name("polypool-signal-watchdog").unstarted(r));

    private final Map<Integer, SignalHandler> handlers = new ConcurrentHashMap<>();
    private final List<Integer> pending = new ArrayList<>(); // guarded by this
    private final Map<Integer, Long> awaiting = new ConcurrentHashMap<>(); // signal -> when raised
    private final java.util.Set<Integer> ignored = ConcurrentHashMap.newKeySet();
    private volatile int[] ignoredAtStart = new int[0];
    private boolean started; // guarded by this
    private volatile IntConsumer unresponsive;

    /**
     * Has {@code register} (Python code of the main context that installs its dispatcher for
     * {@code signum} with GraalPy's {@code signal.signal}) run, and keeps the handler it
     * installed; the JVM-wide handler stays what it was.
     *
     * @return false if the JVM does not let programs handle that signal (QUIT, USR2 on some VMs)
     */
    boolean adopt(int signum, Value register) {
        Signal signal;
        try {
            signal = new Signal(name(signum));
        } catch (IllegalArgumentException e) {
            return false;
        }
        synchronized (JVM_HANDLERS) {
            SignalHandler previous;
            try {
                // meanwhile a real signal comes here, to the program
                previous = Signal.handle(signal, s -> raise(signum));
            } catch (IllegalArgumentException e) {
                return false; // used by the VM
            }
            try {
                register.executeVoid();
            } finally {
                SignalHandler installed = Signal.handle(signal, previous);
                if (installed != previous && !(installed == SignalHandler.SIG_DFL || installed == SignalHandler.SIG_IGN)) {
                    handlers.put(signum, installed);
                }
            }
        }
        return handlers.containsKey(signum);
    }

    /** The program runs its own code from now on: deliver what came before. */
    void start() {
        List<Integer> early;
        synchronized (this) {
            started = true;
            early = List.copyOf(pending);
            pending.clear();
        }
        for (int signum : early) {
            raise(signum);
        }
    }

    /**
     * Makes the program see signal {@code signum} as CPython would: its handler runs in its
     * main thread (see {@code polypool.posix}). A signal the program has no dispatcher for
     * is dropped; one before the program started waits for {@link #start}.
     */
    void raise(int signum) {
        if (ignored.contains(signum)) {
            return;
        }
        if ((signum == 1 || signum == 15) && unresponsive != null) {
            long raisedAt = System.nanoTime();
            if (awaiting.putIfAbsent(signum, raisedAt) == null) {
                WATCHDOG.schedule(() -> {
                    IntConsumer action = unresponsive;
                    if (awaiting.remove(signum, raisedAt) && action != null) {
                        action.accept(signum);
                    }
                }, GRACE_MILLIS, TimeUnit.MILLISECONDS);
            }
        }
        synchronized (this) {
            if (!started) {
                pending.add(signum);
                return;
            }
        }
        SignalHandler handler = handlers.get(signum);
        if (handler != null) {
            handler.handle(new Signal(name(signum)));
        }
    }

    /** The signals the program starts ignoring; called before it starts. */
    void ignoreAtStart(java.util.Collection<Integer> signums) {
        ignoredAtStart = signums.stream().mapToInt(Integer::intValue).toArray();
        ignored.addAll(signums);
    }

    int[] ignoredAtStart() {
        return ignoredAtStart.clone();
    }

    /** The program's handler of {@code signum} is now {@code SIG_IGN} (or no longer is). */
    void ignored(int signum, boolean ignoring) {
        if (ignoring) {
            ignored.add(signum);
        } else {
            ignored.remove(signum);
        }
    }

    /** The main thread begins to handle {@code signum} (its handler or its default action). */
    void taken(int signum) {
        awaiting.remove(signum);
    }

    /** What ends the program when it does not take a SIGTERM or SIGHUP in time; null for nothing. */
    void onUnresponsive(IntConsumer action) {
        unresponsive = action;
    }

    static String name(int signum) {
        return switch (signum) {
            case 1 -> "HUP";
            case 2 -> "INT";
            case 3 -> "QUIT";
            case 10 -> "USR1";
            case 12 -> "USR2";
            case 14 -> "ALRM";
            case 15 -> "TERM";
            default -> throw new IllegalArgumentException("signal " + signum + " is not relayed");
        };
    }
}
