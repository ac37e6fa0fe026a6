package dev.polypool.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.Value;

import dev.polypool.sync.Blob;

/**
 * The driver of a pool that Python code drives ({@code multiprocessing.Pool},
 * {@code ProcessPoolExecutor}): its workers start in {@code polypool.worker} with the
 * parent's pickled state, their results stay encoded, and the outcomes wait here until the
 * submitting context's result thread takes them with {@link #pollOutcomes(long)}.
 *
 * <p>Thread-safe.
 */
public final class OutcomeQueue implements Driver {
    // queued by ended(); stays last, so that every takeOutcomes() after it sees the end
    private static final Outcome END = new Outcome(-1, -1, Protocol.LOST, null);
    private static final Object[] NO_OUTCOMES = new Object[0];

    private final Object setup;
    private final BlockingQueue<Outcome> outcomes = new LinkedBlockingQueue<>();
    private volatile boolean endReached;

    /**
     * @param setup the parent's state for {@code polypool.worker.start}, as pickled text or,
     *              when large, a {@link Blob} ({@code polypool.childstate.child_setup})
     */
    public OutcomeQueue(Object setup) {
        this.setup = Objects.requireNonNull(setup);
    }

    @Override
    public Value startWorker(WarmContexts.Prepared context, String name, int identity, long pid, long ppid) {
        return context.worker().invokeMember("start", name, identity, pid, ppid, setup);
    }

    /**
     * A text result starts with the digit of its status ({@link Protocol#OK} pickled result,
     * {@link Protocol#RAISED} pickled exception, {@link Protocol#PLAIN} a str); a
     * {@link Blob} is a large result ({@link Protocol#OK}); any other value (int, float,
     * bool or None) is a plain result.
     *
     * @throws IllegalStateException if a text result starts with another character
     */
    @Override
    public Outcome decode(Task task, Value result) {
        if (result.isString()) {
            String s = result.asString();
            int status = s.isEmpty() ? -1 : s.charAt(0) - '0';
            if (status != Protocol.OK && status != Protocol.RAISED && status != Protocol.PLAIN) {
                throw new IllegalStateException("a worker's result has no status prefix: " + s.substring(0, Math.min(s.length(), 20)));
            }
            return new Outcome(task.jobId(), task.index(), status, s.substring(1));
        }
        if (result.isHostObject() && result.asHostObject() instanceof Blob blob) {
            return new Outcome(task.jobId(), task.index(), Protocol.OK, blob);
        }
        return new Outcome(task.jobId(), task.index(), Protocol.PLAIN, result.isNull() ? null : result.as(Object.class));
    }

    @Override
    public void deliver(Outcome outcome) {
        outcomes.add(outcome);
    }

    @Override
    public void ended() {
        outcomes.add(END);
    }

    /**
     * Waits for outcomes and returns them flattened as
     * {@code [jobId, index, status, payload, jobId, index, ...]}. Blocks until at least one
     * outcome is ready or the pool has ended; returns an empty array once the pool has ended
     * and every outcome was taken.
     *
     * @throws InterruptedException if the calling thread is interrupted while waiting
     */
    public Object[] takeOutcomes() throws InterruptedException {
        return flatten(outcomes.take());
    }

    /**
     * As {@link #takeOutcomes()}, waiting at most {@code timeoutMillis}: an empty array means
     * that the pool has ended if {@link #endReached()} says so, else that none came in time.
     *
     * <p>The submitting context's result thread waits here, and a thread that waits in a
     * Java call cannot join a Truffle thread-local handshake: until it returns to Python, a
     * handshake another thread of its context starts waits for it. GraalPy starts one when
     * a context first uses a language of its own, as the first {@code import ctypes} does,
     * which without a bound on this wait hung the program while its pool was idle (and once
     * even with it, so the main context now imports {@code _ctypes} before it has a second
     * thread: {@code polypool.main}).
     *
     * @throws InterruptedException if the calling thread is interrupted while waiting
     */
    @HostAccess.Export
    public Object[] pollOutcomes(long timeoutMillis) throws InterruptedException {
        Outcome first = outcomes.poll(timeoutMillis, TimeUnit.MILLISECONDS);
        return first == null ? NO_OUTCOMES : flatten(first);
    }

    /** Whether a take or poll has met the end: every outcome was taken and none follows. */
    @HostAccess.Export
    public boolean endReached() {
        return endReached;
    }

    private Object[] flatten(Outcome first) {
        List<Outcome> batch = new ArrayList<>();
        batch.add(first);
        outcomes.drainTo(batch, 4095);
        Object[] flat = new Object[batch.size() * 4];
        int n = 0;
        boolean ended = false;
        for (Outcome o : batch) {
            if (o == END) {
                ended = true;
                continue;
            }
            flat[n++] = o.jobId();
            flat[n++] = o.index();
            flat[n++] = o.status();
            flat[n++] = o.payload();
        }
        if (ended) {
            endReached = true;
            outcomes.add(END);
        }
        if (n == flat.length) {
            return flat;
        }
        return n == 0 ? NO_OUTCOMES : Arrays.copyOf(flat, n);
    }
}
