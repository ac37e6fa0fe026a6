package dev.polypool.cli;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Source;
import org.graalvm.polyglot.Value;

import dev.polypool.bridge.MainContextBridge;
import dev.polypool.engine.PolyglotRuntime;
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
            polypool runs multiprocessing pools on GraalPy contexts inside one JVM.""";

    private Main() {
    }

    /** What to run, parsed from the command line. */
    record Invocation(String mode, String target, List<String> argv) {
    }

    /**
     * Parses a {@code python3} command line.
     *
     * @throws IllegalArgumentException with CPython's wording for a bad command line
     */
    static Invocation parse(String[] args) {
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
    static int warmContextCount() {
        String v = System.getenv("POLYPOOL_WARM_CONTEXTS");
        if (v != null && !v.isBlank()) {
            try {
                return Math.max(0, Integer.parseInt(v.trim()));
            } catch (NumberFormatException e) {
                System.err.println("polypool: ignoring POLYPOOL_WARM_CONTEXTS=" + v + ": not a number");
            }
        }
        return Runtime.getRuntime().availableProcessors();
    }

    private static final List<String> START_METHODS = List.of("fork", "spawn", "forkserver");

    /**
     * What is wrong with a {@code POLYPOOL_START_METHOD} value, or null if it names a start
     * method or is unset (null or blank: the default, fork).
     */
    static String startMethodProblem(String value) {
        if (value == null || value.isBlank() || START_METHODS.contains(value.strip())) {
            return null;
        }
        return "POLYPOOL_START_METHOD=" + value + ": expected one of " + String.join(", ", START_METHODS);
    }

    /** Signals a Python program may handle: the program sees them instead of the JVM. */
    private static final int[] RELAYED_SIGNALS = {1, 2, 10, 12, 14, 15}; // HUP INT USR1 USR2 ALRM TERM

    private static void relaySignals(MainContextBridge bridge) {
        String[] names = {"HUP", "INT", "USR1", "USR2", "ALRM", "TERM"};
        for (int i = 0; i < names.length; i++) {
            int signum = RELAYED_SIGNALS[i];
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(names[i]), s -> bridge.raiseSignal(signum));
            } catch (IllegalArgumentException e) {
                // the VM uses this one itself
            }
        }
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns the exit status; never calls {@link System#exit}. */
    public static int run(String[] args) {
        Invocation inv;
        try {
            inv = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.err.println("usage: polypool [option] ... [-c cmd | -m mod | file | -] [arg] ...");
            return 2;
        }
        if (inv.mode().equals("help")) {
            System.out.println(USAGE);
            return 0;
        }
        String problem = startMethodProblem(System.getenv("POLYPOOL_START_METHOD"));
        if (problem != null) {
            System.err.println("polypool: " + problem);
            return 2;
        }
        PolyglotRuntime runtime;
        Trace.log("main started");
        try {
            runtime = PolyglotRuntime.get();
        } catch (IllegalStateException e) {
            System.err.println("polypool: " + e.getMessage());
            return 1;
        }
        ConsoleSink stdout = ConsoleSink.stdout();
        ConsoleSink stderr = ConsoleSink.stderr();
        OutputStream out = stdout.newLineStream();
        OutputStream err = stderr.newLineStream();
        // worker contexts warm up while the main context starts: most scripts make a pool
        MainContextBridge bridge = new MainContextBridge(runtime, inv.argv(), stdout, stderr, warmContextCount());
        relaySignals(bridge);
        Trace.log("engine ready");
        Context context = runtime.newContext(inv.argv(), System.in, out, err, bridge);
        int status;
        try {
            if (inv.mode().equals("version")) {
                Value v = context.eval("python", "__import__('sys').version.split()[0]");
                new PrintStream(out, true).println("Python " + v.asString());
                status = 0;
            } else {
                String mode = inv.mode().equals("stdin") ? "command" : inv.mode();
                String target = inv.mode().equals("stdin") ? new String(System.in.readAllBytes()) : inv.target();
                Value run = context.eval(Source.create("python", "__import__('polypool.main', fromlist=['run']).run"));
                Trace.log("main context ready");
                status = run.execute(mode, target).asInt();
                Trace.log("program finished");
            }
        } catch (PolyglotException e) {
            if (e.isExit()) {
                status = e.getExitStatus();
            } else {
                System.err.println("polypool: internal error: " + e.getMessage());
                status = 1;
            }
        } catch (java.io.IOException e) {
            System.err.println("polypool: cannot read the program: " + e.getMessage());
            status = 1;
        } finally {
            bridge.terminateAll();
            Trace.log("pools terminated");
        }
        try {
            out.flush();
            err.flush();
            context.close(true);
            Trace.log("main context closed");
        } catch (Exception ignored) {
            // closing a context whose program called os._exit; nothing left to flush
        }
        return status;
    }
}
