package dev.polypool.cli;

import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Source;
import org.graalvm.polyglot.Value;

import dev.polypool.bridge.MainContextBridge;
import dev.polypool.cluster.ClusterClient;
import dev.polypool.cluster.ClusterSettings;
import dev.polypool.cluster.MemberMain;
import dev.polypool.engine.NativePosix;
import dev.polypool.engine.PolyglotRuntime;
import dev.polypool.engine.ProcessEnvironment;
import dev.polypool.engine.Protocol;
import dev.polypool.engine.Trace;
import dev.polypool.io.ConsoleSink;

/**
 * {@code bin/polypool}: runs a Python program the way {@code python3} does, with
 * {@code multiprocessing} on the polypool engine.
 *
 * <pre>
 * polypool [options] script.py [args]   run a script
 * polypool [options] -c CODE [args]     run a command
 * polypool [options] -m MODULE [args]   run a library module as a script
 * </pre>
 *
 * {@code sys.argv} is as in CPython; the exit status is that of {@code SystemExit}, 1 after
 * an uncaught exception (whose traceback goes to stderr), 2 for a usage error. CPython's
 * interpreter flags that do not change a program's meaning here ({@code -u -B -E -s -S -I
 * -O -OO -q}, {@code -W arg}, {@code -X opt}) are accepted and ignored.
 */
public final class Main {
    private static final String USAGE = """
            usage: polypool [option] ... [-c cmd | -m mod | file | -] [arg] ...
              -c cmd : program passed in as string (terminates option list)
              -m mod : run library module as a script (terminates option list)
              file   : program read from script file
              -      : program read from stdin
              -V     : print the Python version number and exit
              --progress : progress lines on stderr for map calls (first; as POLYPOOL_PROGRESS=1)
            polypool runs multiprocessing pools on GraalPy contexts inside one JVM.""";

    private Main() {
    }

    /**
     * Where a run's program finds its standard streams, working directory and environment:
     * this JVM's own for an in-process run, the client's in the resident engine.
     *
     * @param started  called once the main context exists, with it (signals reach the
     *                 program through its {@linkplain Prepared#bridge() bridge})
     * @param prepared a main context made ahead of the run for these streams and this
     *                 environment, or null to make one
     */
    public record Launch(InputStream stdin, ConsoleSink stdout, ConsoleSink stderr, ProcessEnvironment environment,
                         Consumer<Prepared> started, Prepared prepared) {
        /** This JVM's own streams, working directory and environment. */
        public static Launch inProcess() {
            return new Launch(System.in, ConsoleSink.stdout(), ConsoleSink.stderr(), ProcessEnvironment.INHERIT,
                    main -> {
                        relaySignals(main.bridge());
                        main.bridge().stdinIsTerminal(dev.polypool.io.Terminal.isTerminal(0));
                    }, null);
        }
    }

    /**
     * {@link #run} returns {@code SIGNALLED | n} for a program that ended as a process killed
     * by signal {@code n} does: an uncaught {@code KeyboardInterrupt} (CPython then kills
     * itself with SIGINT) or a signal's default action. The resident engine's client then
     * dies of {@code n} ({@code bin/lib/client.c}); a JVM of its own exits with
     * {@code 128 + n}, as a shell reports such a death.
     */
    public static final int SIGNALLED = 0x100;

    /** The JVM's exit code for a {@link #run} status. */
    static int exitCode(int status) {
        return (status & SIGNALLED) != 0 ? 128 + (status & 0xff) : status;
    }

    private static final Source MAIN_RUN = Source.create("python",
            "__import__('polypool.main', fromlist=['run']).run");
    private static final Source ADOPT = Source.create("python",
            "lambda cwd, flat: (lambda l: __import__('polypool.childstate', fromlist=['adopt'])"
                    + ".adopt(cwd, dict(zip(l[::2], l[1::2]))))([str(x) for x in flat])");
    private static final Source SET_ARGV = Source.create("python",
            "lambda *argv: setattr(__import__('sys'), 'argv', [str(a) for a in argv])");

    /**
     * A main context and its bridge, whose worker contexts start warming at once; the
     * resident engine makes one ahead of the next run (a spare), which then only pays for
     * what the program itself does. Not thread-safe: one run uses it.
     */
    public static final class Prepared {
        private final MainContextBridge bridge;
        private final Context context;
        private final OutputStream out;
        private final OutputStream err;
        private Value run;
        private volatile int killedWith = -1;

        private Prepared(MainContextBridge bridge, Context context, OutputStream out, OutputStream err) {
            this.bridge = bridge;
            this.context = context;
            this.out = out;
            this.err = err;
        }

        /**
         * Creates the bridge and the main context; returns before any Python code has run
         * unless {@link #importMain()} is called.
         */
        public static Prepared create(PolyglotRuntime runtime, List<String> argv, ProcessEnvironment environment,
                                      InputStream stdin, ConsoleSink stdout, ConsoleSink stderr, int warmContexts) {
            // worker contexts warm up while the main context starts: most scripts make a pool
            MainContextBridge bridge = new MainContextBridge(runtime, argv, environment, stdout, stderr, warmContexts);
            OutputStream out = stdout.newLineStream();
            OutputStream err = stderr.newLineStream();
            Context context = runtime.newContext(argv, environment, stdin, out, err, bridge);
            return new Prepared(bridge, context, out, err);
        }

        /** The bridge through which the program reaches the engine and signals reach it. */
        public MainContextBridge bridge() {
            return bridge;
        }

        /**
         * Ends the program as SIGKILL would: its main context is cancelled (its code stops at
         * the next safepoint) and its pools and processes are stopped, on threads of their
         * own; the run then returns {@code status}. Never blocks. A program in code that polls
         * no safepoint goes on until it leaves that code.
         */
        public void kill(int status) {
            synchronized (this) {
                if (killedWith >= 0) {
                    return;
                }
                killedWith = status;
            }
            Trace.log("killing the program");
            Thread.ofPlatform().daemon(true).name("polypool-kill").start(() -> {
                try {
                    context.close(true);
                } catch (RuntimeException ignored) {
                    // closed already: the program ended meanwhile
                }
            });
            Thread.ofPlatform().daemon(true).name("polypool-kill-pools").start(bridge::terminateAll);
        }

        /** Whether {@link #kill} was called. */
        public boolean killed() {
            return killedWith >= 0;
        }

        /** Initialises GraalPy and imports {@code polypool.main} (seconds in a cold engine). */
        public void importMain() {
            if (run == null) {
                run = context.eval(MAIN_RUN);
            }
        }

        /**
         * Makes the context's working directory and {@code os.environ} {@code environment}'s,
         * for a spare made for another that {@linkplain ProcessEnvironment#canStandInFor can
         * stand in for} it. Call on the thread that runs the program, before it runs.
         */
        public void adopt(ProcessEnvironment environment) {
            String[] flat = new String[environment.env().size() * 2];
            int i = 0;
            for (Map.Entry<String, String> e : environment.env().entrySet()) {
                flat[i++] = e.getKey();
                flat[i++] = e.getValue();
            }
            context.eval(ADOPT).execute(environment.cwd().toString(), flat);
        }

        private void setArgv(List<String> argv) {
            bridge.setArgv(argv);
            context.eval(SET_ARGV).execute(argv.toArray());
        }

        /** Stops the program's workers and closes the context; never throws. */
        public void close() {
            bridge.terminateAll();
            Trace.log("pools terminated");
            try {
                out.flush();
                err.flush();
                context.close(true);
                Trace.log("main context closed");
            } catch (Exception ignored) {
                // closing a context whose program called os._exit; nothing left to flush
            }
            dev.polypool.sync.SyncServices.get().detach(context);
        }
    }

    /**
     * What to run, parsed from the command line.
     *
     * @param progress whether {@code --progress} asked for progress lines
     */
    record Invocation(String mode, String target, List<String> argv, boolean progress) {
        Invocation(String mode, String target, List<String> argv) {
            this(mode, target, argv, false);
        }

        Invocation withProgress(boolean on) {
            return new Invocation(mode, target, argv, on);
        }
    }

    /**
     * Parses a {@code python3} command line.
     *
     * @throws IllegalArgumentException with CPython's wording for a bad command line
     */
    static Invocation parse(String[] args) {
        if (args.length > 0 && args[0].equals("--member")) {
            List<String> options = Arrays.asList(args).subList(1, args.length);
            MemberMain.Options.parse(options); // refuse a bad command line before anything starts
            return new Invocation("member", null, List.copyOf(options));
        }
        // polypool's own options come first; the rest is python3's command line
        int first = 0;
        boolean progress = false;
        while (first < args.length && args[first].equals("--progress")) {
            progress = true;
            first++;
        }
        return parsePython(Arrays.copyOfRange(args, first, args.length)).withProgress(progress);
    }

    private static Invocation parsePython(String[] args) {
        int i = 0;
        while (i < args.length) {
            String a = args[i];
            if (a.equals("-c") || a.equals("-m")) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("Argument expected for the " + a + " option");
                }
                List<String> argv = new ArrayList<>();
                argv.add(a);
                argv.addAll(Arrays.asList(args).subList(i + 2, args.length));
                return new Invocation(a.equals("-c") ? "command" : "module", args[i + 1], argv);
            }
            if (a.equals("-W") || a.equals("-X")) {
                i += 2;
                continue;
            }
            if (a.equals("-") || !a.startsWith("-")) {
                List<String> argv = new ArrayList<>(Arrays.asList(args).subList(i, args.length));
                return new Invocation(a.equals("-") ? "stdin" : "script", a, argv);
            }
            if (a.equals("--")) {
                i++;
                continue;
            }
            if (a.equals("-V") || a.equals("--version")) {
                return new Invocation("version", null, List.of());
            }
            if (a.equals("-h") || a.equals("--help")) {
                return new Invocation("help", null, List.of());
            }
            if (a.startsWith("-c") || a.startsWith("-m")) {
                // -cCODE and -mMODULE, as CPython accepts
                List<String> argv = new ArrayList<>();
                argv.add(a.substring(0, 2));
                argv.addAll(Arrays.asList(args).subList(i + 1, args.length));
                return new Invocation(a.startsWith("-c") ? "command" : "module", a.substring(2), argv);
            }
            for (char f : a.substring(1).toCharArray()) {
                if ("uBEsSIOqbdiv".indexOf(f) < 0) {
                    throw new IllegalArgumentException("Unknown option: -" + f);
                }
            }
            i++;
        }
        return new Invocation("stdin", "-", List.of(""));
    }

    /**
     * How many worker contexts to warm up ahead of need: {@code POLYPOOL_WARM_CONTEXTS}, else
     * the number of processors (what {@code Pool()} starts).
     */
    public static int warmContextCount(ProcessEnvironment environment, PrintStream messages) {
        String v = environment.getenv("POLYPOOL_WARM_CONTEXTS");
        if (v != null && !v.isBlank()) {
            try {
                return Math.max(0, Integer.parseInt(v.trim()));
            } catch (NumberFormatException e) {
                messages.println("polypool: ignoring POLYPOOL_WARM_CONTEXTS=" + v + ": not a number");
            }
        }
        return Runtime.getRuntime().availableProcessors();
    }

    /**
     * What is wrong with a {@code POLYPOOL_START_METHOD} value, or null if it names a start
     * method or is unset (null or blank: the default, fork).
     */
    static String startMethodProblem(String value) {
        if (value == null || value.isBlank() || Protocol.START_METHODS.contains(value.strip())) {
            return null;
        }
        return "POLYPOOL_START_METHOD=" + value + ": expected one of " + String.join(", ", Protocol.START_METHODS);
    }

    /** Signals a Python program may handle: the program sees them instead of the JVM. */
    private static final int[] RELAYED_SIGNALS = {1, 2, 10, 12, 14, 15}; // HUP INT USR1 USR2 ALRM TERM

    private static void relaySignals(MainContextBridge bridge) {
        // a program deaf to SIGTERM/SIGHUP dies as a CPython process would, at once
        bridge.onUnresponsiveSignal(signum -> {
            System.out.flush();
            System.err.flush();
            Thread.ofPlatform().daemon(true).start(() -> {
                try {
                    Thread.sleep(2000);
                } catch (InterruptedException ignored) {
                    // halt now
                }
                Runtime.getRuntime().halt(128 + signum);
            });
            System.exit(128 + signum);
        });
        String[] names = {"HUP", "INT", "USR1", "USR2", "ALRM", "TERM"};
        List<Integer> ignored = new ArrayList<>();
        for (int i = 0; i < names.length; i++) {
            int signum = RELAYED_SIGNALS[i];
            sun.misc.Signal signal = new sun.misc.Signal(names[i]);
            sun.misc.SignalHandler relay = s -> bridge.raiseSignal(signum);
            try {
                if (sun.misc.Signal.handle(signal, relay) == sun.misc.SignalHandler.SIG_IGN) {
                    // started ignoring it (nohup, a shell's background job): the program
                    // starts ignoring it too, and the JVM must be let handle it for when
                    // the program sets a handler
                    ignored.add(signum);
                    NativePosix.get().restoreDefaultAction(signum);
                    sun.misc.Signal.handle(signal, relay);
                }
            } catch (IllegalArgumentException e) {
                // the VM uses this one itself
            }
        }
        bridge.ignoreSignalsAtStart(ignored);
    }

    public static void main(String[] args) {
        Launch launch = Launch.inProcess();
        LogSetup.configure(System.getenv("POLYPOOL_LOG"), launch.stderr().newLineStream(),
                new PrintStream(launch.stderr().newLineStream(), true));
        System.exit(exitCode(run(args, launch)));
    }

    /**
     * Runs a command line in this JVM and returns the exit status, or {@link #SIGNALLED}
     * {@code | n} for a program that ended as if killed by signal n; never calls
     * {@link System#exit}.
     */
    public static int run(String[] args) {
        return run(args, Launch.inProcess());
    }

    /**
     * Runs a command line with {@code launch}'s streams and environment; returns the exit
     * status, or {@link #SIGNALLED} {@code | n} as {@link #run(String[])} does.
     */
    public static int run(String[] args, Launch launch) {
        ProcessEnvironment environment = launch.environment();
        PrintStream messages = new PrintStream(launch.stderr().newLineStream(), true);
        Invocation inv;
        try {
            inv = parse(args);
        } catch (IllegalArgumentException e) {
            messages.println(e.getMessage());
            messages.println("usage: polypool [option] ... [-c cmd | -m mod | file | -] [arg] ...");
            return unused(launch, 2);
        }
        if (inv.mode().equals("help")) {
            PrintStream out = new PrintStream(launch.stdout().newLineStream(), true);
            out.println(USAGE);
            return unused(launch, 0);
        }
        if (inv.mode().equals("member")) {
            unused(launch, 0);
            return MemberMain.run(MemberMain.Options.parse(inv.argv()), environment, messages);
        }
        String problem = startMethodProblem(environment.getenv("POLYPOOL_START_METHOD"));
        if (problem != null) {
            messages.println("polypool: " + problem);
            return unused(launch, 2);
        }
        java.util.concurrent.CompletableFuture<ClusterClient> cluster;
        try {
            cluster = connectCluster(environment, messages);
        } catch (IllegalArgumentException e) {
            messages.println("polypool: " + e.getMessage());
            return unused(launch, 2);
        }
        PolyglotRuntime runtime;
        Trace.log("main started");
        try {
            runtime = PolyglotRuntime.get();
        } catch (IllegalStateException e) {
            messages.println("polypool: " + e.getMessage());
            return unused(launch, 1);
        }
        Prepared main = launch.prepared();
        if (main == null) {
            main = Prepared.create(runtime, inv.argv(), environment, launch.stdin(), launch.stdout(),
                    launch.stderr(), warmContextCount(environment, messages));
        } else {
            main.setArgv(inv.argv());
        }
        Trace.log("engine ready");
        if (inv.progress() || "1".equals(environment.getenv("POLYPOOL_PROGRESS"))) {
            main.bridge.showProgress();
        }
        launch.started().accept(main);
        int status;
        ClusterClient client = null;
        try {
            if (cluster != null) {
                try {
                    client = cluster.join();
                } catch (java.util.concurrent.CompletionException e) {
                    messages.println("polypool: " + e.getCause().getMessage());
                    return 1;
                }
                main.bridge.useCluster(client);
            }
            if (inv.mode().equals("version")) {
                Value v = main.context.eval("python", "__import__('sys').version.split()[0]");
                new PrintStream(main.out, true).println("Python " + v.asString());
                status = 0;
            } else {
                String mode = inv.mode().equals("stdin") ? "command" : inv.mode();
                String target = inv.mode().equals("stdin") ? new String(launch.stdin().readAllBytes()) : inv.target();
                main.importMain();
                Trace.log("main context ready");
                status = main.run.execute(mode, target).asInt();
                Trace.log("program finished");
                status = main.bridge.signalled(status);
            }
        } catch (PolyglotException e) {
            if (main.killedWith >= 0) {
                status = main.killedWith;
            } else if (e.isExit()) {
                status = main.bridge.signalled(e.getExitStatus());
            } else {
                messages.println("polypool: internal error: " + e.getMessage());
                if (Trace.ENABLED) {
                    e.printStackTrace(messages);
                }
                status = 1;
            }
        } catch (java.io.IOException e) {
            messages.println("polypool: cannot read the program: " + e.getMessage());
            status = 1;
        } finally {
            main.close();
            if (client != null) {
                client.close();
            }
        }
        return status;
    }

    /** How long a script waits for the cluster of {@code POLYPOOL_CLUSTER} to answer. */
    private static final long CLUSTER_TIMEOUT_MILLIS = 20_000;

    /**
     * Starts connecting to the cluster of {@code POLYPOOL_CLUSTER}, if set, while the main
     * context starts; the program runs once every member passed the handshake.
     *
     * @return the connection to come, or null without {@code POLYPOOL_CLUSTER}
     * @throws IllegalArgumentException if the variables are malformed
     */
    private static java.util.concurrent.CompletableFuture<ClusterClient> connectCluster(ProcessEnvironment env,
                                                                                       PrintStream messages) {
        String where = env.getenv("POLYPOOL_CLUSTER");
        if (where == null || where.isBlank()) {
            return null;
        }
        List<java.net.InetSocketAddress> addresses;
        try {
            addresses = ClusterSettings.parseAddresses(where);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("POLYPOOL_CLUSTER=" + where + ": " + e.getMessage());
        }
        ClusterSettings settings = ClusterSettings.fromEnvironment(env);
        java.util.concurrent.CompletableFuture<ClusterClient> f = new java.util.concurrent.CompletableFuture<>();
        Thread.ofPlatform().name("polypool-cluster-connect").daemon(true).start(() -> {
            try {
                f.complete(ClusterClient.connect(addresses, settings, CLUSTER_TIMEOUT_MILLIS, messages));
            } catch (ClusterClient.Refused | RuntimeException e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    /** Closes the launch's prepared context, which a run that ends before its program does not use. */
    private static int unused(Launch launch, int status) {
        if (launch.prepared() != null) {
            launch.prepared().close();
        }
        return status;
    }
}
