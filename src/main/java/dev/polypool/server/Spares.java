package dev.polypool.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.IntSupplier;

import dev.polypool.cli.Main;
import dev.polypool.engine.PolyglotRuntime;
import dev.polypool.engine.ProcessEnvironment;
import dev.polypool.io.ConsoleSink;

/**
 * The resident engine's spare: a main context (GraalPy initialised, {@code polypool.main}
 * imported) with its worker contexts warming, made before the run that will use it
 * arrives, so that the run only pays for what its program does.
 *
 * <p>A context is built with one working directory and environment, and some of its
 * variables are read as it starts, so the spare is made for one {@link ProcessEnvironment}:
 * that of the last run (a person re-runs from the same shell), or the server's own at start
 * (the first client's). A run whose environment differs from it only in variables read
 * later (a shell's {@code _}, a terminal's own) or in its working directory takes the spare
 * and adopts its own ({@link Main.Prepared#adopt}); a run that differs in one read at start
 * ({@code PYTHONPATH}, {@code HOME}, {@code LANG}...) makes its contexts afresh, and the spare
 * is dropped. Its streams are relays, connected to the run's when the run takes it; its
 * {@code sys.argv} is set then. A few spares are kept ({@code POLYPOOL_SERVER_SPARES},
 * default 2; a new server makes one until its first run ends). Thread-safe.
 */
final class Spares {
    private final List<Spare> slots = new java.util.ArrayList<>(); // guarded by this
    private final int count;

    /** Keeps {@code count} spares: with two, a run that follows another at once finds one made. */
    Spares(int count) {
        this.count = count;
    }

    /** A spare in the making or made, with the relays its contexts write to and read from. */
    static final class Spare {
        final ProcessEnvironment environment;
        final RelayOutput out = new RelayOutput();
        final RelayOutput err = new RelayOutput();
        final RelayInput in = new RelayInput();
        final ConsoleSink stdout = new ConsoleSink(out);
        final ConsoleSink stderr = new ConsoleSink(err);
        private final CompletableFuture<Main.Prepared> prepared = new CompletableFuture<>();
        // Python's main thread is the one that imported threading: the program runs on it
        private final ExecutorService thread = Executors.newSingleThreadExecutor(
                r -> Thread.ofPlatform().daemon(true).name("polypool-main").unstarted(r));

        Spare(ProcessEnvironment environment) {
            this.environment = environment;
        }

        /** Runs {@code program} on the thread that made the spare, and returns its status. */
        int run(IntSupplier program) {
            try {
                return thread.submit(program::getAsInt).get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while the program ran", e);
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
            } finally {
                thread.shutdown();
            }
        }

        private void make() {
            try {
                Main.Prepared p = Main.Prepared.create(PolyglotRuntime.get(), List.of(""), environment, in, stdout,
                        stderr, Main.warmContextCount(environment, new PrintStream(OutputStream.nullOutputStream())));
                p.importMain();
                prepared.complete(p);
            } catch (RuntimeException e) {
                Server.log("making a spare context failed: " + e);
                prepared.complete(null);
            }
        }

        /** The prepared context, waiting for it while it is made; null if making it failed. */
        Main.Prepared await() {
            return prepared.join();
        }

        void discard() {
            thread.execute(() -> {
                Main.Prepared p = await();
                if (p != null) {
                    p.close();
                }
            });
            thread.shutdown();
        }
    }

    /**
     * Tops the spares up to {@link #count} for {@code environment}: starts making them, and
     * drops those that cannot {@linkplain ProcessEnvironment#canStandInFor stand in} for it.
     */
    synchronized void prepare(ProcessEnvironment environment) {
        prepare(environment, count);
    }

    /** As {@link #prepare(ProcessEnvironment)}, up to {@code upTo} spares (at most {@link #count}). */
    synchronized void prepare(ProcessEnvironment environment, int upTo) {
        slots.removeIf(s -> {
            boolean other = !s.environment.canStandInFor(environment);
            if (other) {
                s.discard();
            }
            return other;
        });
        while (slots.size() < Math.min(upTo, count)) {
            Spare s = new Spare(environment);
            // one after another: the first is the one a run waits for
            CompletableFuture<?> before = slots.isEmpty() ? CompletableFuture.completedFuture(null)
                    : slots.get(slots.size() - 1).prepared;
            slots.add(s);
            before.whenComplete((p, e) -> {
                try {
                    s.thread.execute(s::make);
                } catch (java.util.concurrent.RejectedExecutionException dropped) {
                    s.prepared.complete(null); // discarded before its turn
                }
            });
        }
    }

    /**
     * Takes a spare that can {@linkplain ProcessEnvironment#canStandInFor stand in} for
     * {@code environment}, one that is ready if there is one; returns null if there is none
     * (and drops the others). The run adopts its environment if the spare's is another.
     */
    synchronized Spare take(ProcessEnvironment environment) {
        Spare chosen = null;
        for (Spare s : slots) {
            if (s.environment.canStandInFor(environment) && (chosen == null || better(s, chosen, environment))) {
                chosen = s;
            }
        }
        if (chosen == null) {
            clear();
            return null;
        }
        slots.remove(chosen);
        return chosen;
    }

    /** Made before unmade; then one made for this very environment. */
    private static boolean better(Spare s, Spare than, ProcessEnvironment environment) {
        if (s.prepared.isDone() != than.prepared.isDone()) {
            return s.prepared.isDone();
        }
        return s.environment.equals(environment) && !than.environment.equals(environment);
    }

    /** Drops the spares. */
    synchronized void clear() {
        for (Spare s : slots) {
            s.discard();
        }
        slots.clear();
    }

    /** An output stream that holds what is written until it is connected to its target. */
    static final class RelayOutput extends OutputStream {
        private final ByteArrayOutputStream early = new ByteArrayOutputStream();
        private OutputStream target;

        synchronized void connect(OutputStream to) throws IOException {
            to.write(early.toByteArray());
            early.reset();
            target = to;
        }

        @Override
        public synchronized void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            if (target == null) {
                early.write(b, off, len);
            } else {
                target.write(b, off, len);
            }
        }

        @Override
        public synchronized void flush() throws IOException {
            if (target != null) {
                target.flush();
            }
        }
    }

    /** An input stream whose reads wait until it is connected to its source. */
    static final class RelayInput extends InputStream {
        private InputStream source;

        synchronized void connect(InputStream from) {
            source = from;
            notifyAll();
        }

        private synchronized InputStream source() throws InterruptedIOException {
            try {
                while (source == null) {
                    wait();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException();
            }
            return source;
        }

        @Override
        public int read() throws IOException {
            return source().read();
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            return source().read(b, off, len);
        }

        @Override
        public int available() throws IOException {
            InputStream s;
            synchronized (this) {
                s = source;
            }
            return s == null ? 0 : s.available();
        }
    }
}
