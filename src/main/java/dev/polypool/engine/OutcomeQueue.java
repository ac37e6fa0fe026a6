package dev.polypool.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.Value;

/**
 * The driver of a pool that Python code drives ({@code multiprocessing.Pool},
 * {@code ProcessPoolExecutor}): its workers start in {@code polypool.worker} with the
 * parent's pickled state, their results stay encoded, and the outcomes wait here until the
 * submitting context's result thread takes them with {@link #takeOutcomes()}.
 *
 * <p>Thread-safe.
 */
public final class OutcomeQueue implements Driver {
    // queued by ended(); stays last, so that every takeOutcomes() after it sees the end
    private static final Outcome END = new Outcome(-1, -1, Protocol.LOST, null);
    private static final Object[] NO_OUTCOMES = new Object[0];

    private final String setup;
    private final BlockingQueue<Outcome> outcomes = new LinkedBlockingQueue<>();

    /**
     * @param setup the parent's state for {@code polypool.worker.start}, as pickled text
     *              ({@code polypool.childstate.child_setup})
     */
    public OutcomeQueue(String setup) {
        this.setup = Objects.requireNonNull(setup);
    }

    @Override
    public Value startWorker(WarmContexts.Prepared context, String name, int identity, long pid, long ppid) {
        return context.worker().invokeMember("start", name, identity, pid, ppid, setup);
    }

    /**
     * A text result starts with the digit of its status ({@link Protocol#OK} pickled result,
     * {@link Protocol#RAISED} pickled exception, {@link Protocol#PLAIN} a str); any other
     * value (int, float, bool or None) is a plain result.
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
    @HostAccess.Export
    public Object[] takeOutcomes() throws InterruptedException {
        List<Outcome> batch = new ArrayList<>();
        batch.add(outcomes.take());
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
            outcomes.add(END);
        }
        if (n == flat.length) {
            return flat;
        }
        return n == 0 ? NO_OUTCOMES : Arrays.copyOf(flat, n);
    }
}
