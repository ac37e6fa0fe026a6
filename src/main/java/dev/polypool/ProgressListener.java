package dev.polypool;

import dev.polypool.io.ProgressDisplay;
import dev.polypool.io.Terminal;

/**
 * Told how far a {@link PythonPool#map(PythonFunction, Iterable, int, ProgressListener) map}
 * or {@link PythonPool#imap(PythonFunction, Iterable, ProgressListener) imap} call has got:
 * how many of its calls are done, out of how many. Called from the pool's worker threads, one
 * call at a time, with {@code done} growing; keep it short. One listener serves one call.
 */
@FunctionalInterface
public interface ProgressListener {
    /**
     * Reports progress.
     *
     * @param done  calls completed so far (returned, raised or cancelled)
     * @param total calls in all, or -1 while unknown (an {@code imap} over an input that is
     *              not a collection); the last report has {@code done == total}
     */
    void progress(long done, long total);

    /**
     * A listener that draws the progress line {@code bin/polypool --progress} draws (done/total,
     * rate, elapsed, ETA) on this process's stderr, if that is a terminal, and does nothing
     * otherwise. Lines the pools' workers print to stderr or stdout go above it.
     *
     * @param label what runs, such as {@code "map(score)"}
     * @return a listener for one call
     */
    static ProgressListener terminalLine(String label) {
        if (!Terminal.isTerminal(2)) {
            return (done, total) -> {
            };
        }
        return new ProgressListener() {
            private ProgressDisplay.Bar bar;
            private long reported;

            @Override
            public synchronized void progress(long done, long total) {
                if (bar == null) {
                    bar = TerminalLines.display().start(label, total);
                } else if (total >= 0) {
                    bar.setTotal(total);
                }
                bar.advance(done - reported);
                reported = done;
                if (total >= 0 && done >= total) {
                    bar.finish();
                }
            }
        };
    }
}
