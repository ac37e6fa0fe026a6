package dev.polypool.engine;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.Engine;
import org.graalvm.polyglot.EnvironmentAccess;
import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.Value;
import org.graalvm.polyglot.io.IOAccess;

import dev.polypool.stdlib.JavaStdlib;
import dev.polypool.sync.SyncServices;

/**
 * The process-wide polyglot {@link Engine} and the factory of every GraalPy context polypool
 * creates: the main script's context and each worker's.
 *
 * <p>All contexts share this one engine, so code that the Truffle JIT compiled for one worker
 * is reused by every other (a second context's first call of a hot function takes
 * milliseconds instead of hundreds). Sharing requires every context to have the same host
 * access configuration, which is why the configuration lives here and nowhere else.
 *
 * <p>The engine refuses to run on the interpreter-only Truffle runtime: GraalPy is several
 * times slower than CPython there, so a silent fallback would betray polypool's purpose.
 * {@link #get()} throws instead, naming the JVM flags that are missing.
 *
 * <p>This class is thread-safe.
 */
public final class PolyglotRuntime {
    /** Guest code may call exactly the Java methods annotated with {@link HostAccess.Export}. */
    static final HostAccess HOST_ACCESS = HostAccess.newBuilder(HostAccess.EXPLICIT)
            .allowArrayAccess(true)
            .allowListAccess(true)
            .build();

    /**
     * All of the host's I/O, with {@code /proc} files readable (see {@link ProcFileSystem}),
     * through a file system of the context's own: a file system keeps the working directory
     * ({@code os.chdir}), which one context must not change for another.
     */
    private static IOAccess ioAccess() {
        return IOAccess.newBuilder()
                .allowHostSocketAccess(true)
                .fileSystem(new ProcFileSystem(org.graalvm.polyglot.io.FileSystem.newDefaultFileSystem()))
                .build();
    }

    private static volatile PolyglotRuntime instance;

    private final Engine engine;
    private final Path pythonSources;
    private final Path bytecodeCache;

    private PolyglotRuntime() {
        Engine created = Engine.newBuilder("python")
                .option("engine.WarnInterpreterOnly", "false")
                .build();
        if ("Interpreted".equals(created.getImplementationName())) {
            created.close();
            throw new IllegalStateException(
                    "the optimizing Truffle runtime is not active (GraalPy would run several times slower than CPython). "
                            + "Run on a JDK with JVMCI (JDK 25) with -XX:+UnlockExperimentalVMOptions -XX:+EnableJVMCI "
                            + "and the Graal compiler jars on --upgrade-module-path (bin/polypool does this)");
        }
        this.engine = created;
        this.pythonSources = PythonSources.directory();
        this.bytecodeCache = PythonSources.cacheRoot().resolve("pycache");
    }

    /**
     * Returns the runtime, creating the shared engine on first use (about half a second in a
     * cold JVM).
     *
     * @throws IllegalStateException if only the interpreter-only Truffle runtime is available
     */
    public static PolyglotRuntime get() {
        PolyglotRuntime r = instance;
        if (r == null) {
            synchronized (PolyglotRuntime.class) {
                r = instance;
                if (r == null) {
                    r = new PolyglotRuntime();
                    instance = r;
                }
            }
        }
        return r;
    }

    /** The name of the active Truffle runtime; {@code "GraalVM CE"} when the JIT is active. */
    public String implementationName() {
        return engine.getImplementationName();
    }

    /** The launcher that started this JVM ({@code bin/polypool} exports it), or null. */
    private static final String EXECUTABLE = System.getenv("POLYPOOL_EXECUTABLE");

    /**
     * Creates a GraalPy context on the shared engine. The context is not entered and has run
     * no Python code yet; its first evaluation pays for GraalPy's initialisation (0.1-0.7 s
     * on a warm engine, seconds on a cold one).
     *
     * @param argv   {@code sys.argv}
     * @param in     standard input of the context
     * @param out    standard output of the context
     * @param err    standard error of the context
     * @param bridge host object published to Python as {@code polyglot.import_value("polypool")}
     * @return the context; its pipe handles are closed by {@link SyncServices#detach} once it is
     */
    public Context newContext(List<String> argv, InputStream in, OutputStream out, OutputStream err, Object bridge) {
        return newContext(argv, ProcessEnvironment.INHERIT, in, out, err, bridge);
    }

    /**
     * Creates a GraalPy context as {@link #newContext(List, InputStream, OutputStream,
     * OutputStream, Object)} does, whose {@code os.getcwd()} and {@code os.environ} start as
     * {@code environment}'s.
     */
    public Context newContext(List<String> argv, ProcessEnvironment environment, InputStream in, OutputStream out,
                              OutputStream err, Object bridge) {
        // $PYTHONPATH (the run's: a resident engine's own is not the program's), which CPython
        // puts on sys.path after the script's directory and GraalPy embedded ignores; after
        // polypool's own directory, whose pyexpat must win over GraalPy's native one
        String pythonPath = environment.getenv("PYTHONPATH");
        Context.Builder b = Context.newBuilder("python")
                .engine(engine)
                .allowHostAccess(HOST_ACCESS)
                .allowIO(ioAccess())
                // ctypes needs it; multiprocessing's Value/Array and shared_memory are ctypes
                // objects over native memory that every context maps (dev.polypool.sync.SharedBuffer)
                .allowNativeAccess(true)
                .allowCreateThread(true)
                .allowCreateProcess(true)
                .allowPolyglotAccess(org.graalvm.polyglot.PolyglotAccess.ALL)
                .in(in)
                .out(out)
                .err(err)
                .options(Map.of(
                        "python.PythonPath", pythonPath == null || pythonPath.isEmpty()
                                ? pythonSources.toString()
                                : pythonSources + java.io.File.pathSeparator + pythonPath,
                        "python.DontWriteBytecodeFlag", "false",
                        "python.PyCachePrefix", bytecodeCache.toString()))
                .arguments("python", argv.toArray(String[]::new));
        if (environment.env() == null) {
            b.allowEnvironmentAccess(EnvironmentAccess.INHERIT);
        } else {
            // NONE: the context sees exactly these variables, not the server's own
            b.allowEnvironmentAccess(EnvironmentAccess.NONE).environment(environment.env());
        }
        if (environment.cwd() != null) {
            b.currentWorkingDirectory(environment.cwd());
        }
        if (EXECUTABLE != null) {
            // sys.executable: programs re-run "the interpreter" with it (subprocess, tests)
            b.option("python.Executable", EXECUTABLE);
        }
        Context context = b.build();
        // initialised here rather than at its first evaluation, so that its sharing layer
        // exists for SourcePins to keep what it parses
        context.initialize("python");
        SourcePins.attach(context);
        // initialise the bindings even without a bridge: GraalPy's import_value fails otherwise
        Value bindings = context.getPolyglotBindings();
        bindings.putMember("polypool.sync", SyncServices.get());
        bindings.putMember(Protocol.BINDING, Protocol.published());
        bindings.putMember("polypool.trace", Trace.SINK);
        // Java back ends of the stdlib modules GraalPy has only as native code (one context per process)
        JavaStdlib stdlib = JavaStdlib.forContext();
        bindings.putMember("polypool.stdlib", stdlib);
        bindings.putMember("polypool.posix", NativePosix.get());
        SyncServices.get().attach(context, bridge);
        SyncServices.get().onDetach(context, stdlib::closeAll);
        if (bridge != null) {
            bindings.putMember("polypool", bridge);
        }
        return context;
    }
}
