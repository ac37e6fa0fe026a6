package dev.polypool.engine;

import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.Source;
import org.graalvm.polyglot.Value;

import dev.polypool.io.ConsoleSink;

/**
 * Worker contexts created ahead of need, so that starting a pool, or replacing a retired
 * worker, does not wait for GraalPy to initialise a context (0.1-0.7 s each on a warm engine,
 * seconds on a cold one).
 *
 * <p>A warm context has run GraalPy's initialisation and imported polypool's worker module,
 * but has no identity yet: the pool's {@link Driver#startWorker} ({@code polypool.worker.start}
 * or {@code polypool.embed.start}) or a process's {@code polypool.worker.run_process} gives
 * it one. A supply made with a <em>template</em>
 * also runs {@code polypool.worker.preload(template)} in each context: that is how the
 * forkserver start method's workers come with the modules of {@code set_forkserver_preload()}
 * already imported, as CPython's forkserver forks them from a server that imported them once.
 * The supply keeps up to
 * {@code target} contexts ready or in the making, creating them on daemon threads, and makes
 * a new one whenever one is taken.
 *
 * <p>Thread-safe.
 */
public final class WarmContexts {
    private static final Source WORKER_MODULE = Source.create("python",
            "__import__('polypool.worker', fromlist=['start'])");

    /**
     * A context ready to become a worker.
     *
     * @param context the context, not entered by any thread
     * @param out     its standard output stream
     * @param err     its standard error stream
     * @param worker  the module {@code polypool.worker}, to be used by the owning thread
     */
    public record Prepared(Context context, OutputStream out, OutputStream err, Value worker) {
        /**
         * Writes out what the context printed and closes it, cancelling any code it still
         * runs, then closes the pipe handles it held. Never throws: a context already closed
         * (by a cancelling thread) is fine.
         */
        public void close() {
            try {
                out.flush();
                err.flush();
            } catch (java.io.IOException ignored) {
                // the console is gone; nothing left to save
            }
            try {
                context.close(true);
            } catch (RuntimeException ignored) {
                // already closed by whoever cancelled it
            }
            // as a process's descriptors close at exit: readers of its pipes see end of file
            dev.polypool.sync.SyncServices.get().detach(context);
        }
    }

    private final PolyglotRuntime runtime;
    private final IntSupplier identities;
    private volatile List<String> argv;
    private volatile boolean argvChanged;
    private final ProcessEnvironment environment;
    private final ConsoleSink stdout;
    private final ConsoleSink stderr;
    private final int target;
    private final Object bridge;
    private final String template;
    private final Deque<Prepared> ready = new ArrayDeque<>();
    private int inFlight;
    private boolean closed;

    /**
     * Starts creating {@code target} contexts in the background; returns at once.
     *
     * @param argv   {@code sys.argv} of every context
     * @param bridge host object published in every context (see {@link PolyglotRuntime#newContext})
     */
    public WarmContexts(PolyglotRuntime runtime, List<String> argv, ConsoleSink stdout, ConsoleSink stderr, int target,
                        Object bridge) {
        this(runtime, argv, stdout, stderr, target, bridge, null);
    }

    /**
     * Starts creating {@code target} contexts in the background, each prepared with
     * {@code template}; returns at once.
     *
     * @param template what {@code polypool.worker.preload} makes of each context before it is
     *                 handed out; null for none
     */
    public WarmContexts(PolyglotRuntime runtime, List<String> argv, ConsoleSink stdout, ConsoleSink stderr, int target,
                        Object bridge, String template) {
        this(runtime, argv, ProcessEnvironment.INHERIT, stdout, stderr, target, bridge, template,
                ProcessIds::nextIdentity);
    }

    /**
     * Starts creating {@code target} contexts in the background, whose working directory and
     * environment are {@code environment}'s; returns at once.
     *
     * @param identities where the workers of pools on this supply take their identities
     *                   (the {@code N} of {@code ForkPoolWorker-N}): one program's counter
     */
    public WarmContexts(PolyglotRuntime runtime, List<String> argv, ProcessEnvironment environment,
                        ConsoleSink stdout, ConsoleSink stderr, int target, Object bridge, String template,
                        IntSupplier identities) {
        this.identities = Objects.requireNonNull(identities);
        this.runtime = Objects.requireNonNull(runtime);
        this.argv = List.copyOf(argv);
        this.environment = Objects.requireNonNull(environment);
        this.stdout = Objects.requireNonNull(stdout);
        this.stderr = Objects.requireNonNull(stderr);
        if (target < 0) {
            throw new IllegalArgumentException("target must be >= 0");
        }
        this.target = target;
        this.bridge = bridge;
        this.template = template;
        synchronized (this) {
            refill();
        }
    }

    /**
     * Creates a worker context in the calling thread, without the supply.
     *
     * @throws org.graalvm.polyglot.PolyglotException if GraalPy fails to initialise it
     */
    public static Prepared prepare(PolyglotRuntime runtime, List<String> argv, ConsoleSink stdout, ConsoleSink stderr,
                                   Object bridge) {
        return prepare(runtime, argv, ProcessEnvironment.INHERIT, stdout, stderr, bridge, null);
    }

    private static Prepared prepare(PolyglotRuntime runtime, List<String> argv, ProcessEnvironment environment,
                                    ConsoleSink stdout, ConsoleSink stderr, Object bridge, String template) {
        OutputStream out = stdout.newLineStream();
        OutputStream err = stderr.newLineStream();
        Context context = runtime.newContext(argv, environment, java.io.InputStream.nullInputStream(), out, err,
                bridge);
        context.getPolyglotBindings().putMember("polypool.terminals", new StandardTerminals(stdout, stderr));
        try {
            Value worker = context.eval(WORKER_MODULE);
            if (template != null) {
                worker.invokeMember("preload", template);
            }
            return new Prepared(context, out, err, worker);
        } catch (RuntimeException e) {
            context.close(true);
            throw e;
        }
    }

    /**
     * Returns a warm context: a ready one at once, else the next one being made (blocking
     * until it is), else one made in the calling thread. Then starts making a replacement.
     *
     * @throws InterruptedException if interrupted while waiting for a context in the making
     * @throws org.graalvm.polyglot.PolyglotException if the context must be made here and
     *         GraalPy fails to initialise it, or the template fails to load
     */
    public Prepared take() throws InterruptedException {
        return take(() -> true);
    }

    /**
     * As {@link #take()}, for a taker that may stop needing a context while it waits (a
     * worker of a pool closed meanwhile): returns null once {@code wanted} says false,
     * checked before waiting and whenever {@link #wakeTakers()} is called or a context is made.
     */
    public Prepared take(BooleanSupplier wanted) throws InterruptedException {
        Prepared p;
        synchronized (this) {
            while (ready.isEmpty() && inFlight > 0 && !closed && wanted.getAsBoolean()) {
                wait();
            }
            if (!wanted.getAsBoolean()) {
                return null;
            }
            p = ready.pollFirst();
            if (p != null) {
                refill();
            }
        }
        if (p == null) {
            return prepare(runtime, argv, environment, stdout, stderr, bridge, template);
        }
        if (argvChanged) {
            // made before the program's command line was known (a resident engine's spare)
            p.context().eval(SET_ARGV).execute(argv.toArray());
        }
        return p;
    }

    private static final Source SET_ARGV = Source.create("python",
            "lambda *argv: setattr(__import__('sys'), 'argv', [str(a) for a in argv])");

    /** The next process identity of the program these contexts are for. */
    public int nextIdentity() {
        return identities.getAsInt();
    }

    /**
     * Sets {@code sys.argv} of the contexts handed out from now on, including those made
     * already.
     */
    public void setArgv(List<String> argv) {
        this.argv = List.copyOf(argv);
        this.argvChanged = true;
    }

    /** Wakes the takers waiting for a context, so that they check whether they still want one. */
    public synchronized void wakeTakers() {
        notifyAll();
    }

    /** Stops making contexts and closes the ready ones. */
    public void close() {
        List<Prepared> toClose;
        synchronized (this) {
            closed = true;
            toClose = List.copyOf(ready);
            ready.clear();
            notifyAll();
        }
        for (Prepared p : toClose) {
            p.close();
        }
    }

    // holds the monitor
    private void refill() {
        while (!closed && ready.size() + inFlight < target) {
            inFlight++;
            Thread.ofPlatform().name("polypool-warm-context").daemon(true).start(this::makeOne);
        }
    }

    private void makeOne() {
        Prepared p = null;
        try {
            Trace.log("warming a context");
            p = prepare(runtime, argv, environment, stdout, stderr, bridge, template);
            Trace.log("warm context ready");
        } catch (RuntimeException e) {
            Trace.log("warming failed: " + e);
        }
        synchronized (this) {
            inFlight--;
            if (p != null && !closed) {
                ready.addLast(p);
                p = null;
            }
            notifyAll();
        }
        if (p != null) {
            p.close();
        }
    }
}
