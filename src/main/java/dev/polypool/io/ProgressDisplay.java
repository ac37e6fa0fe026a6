package dev.polypool.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

import org.graalvm.polyglot.HostAccess;

/**
 * Progress lines at the bottom of a terminal: one per running {@link Bar} (a {@code map},
 * {@code imap}, ...), each showing done/total, rate, elapsed time and ETA, or for an
 * unknown total the count and the rate.
 *
 * <p>The lines are redrawn in place by a daemon thread ({@code polypool-progress}) at most
 * ten times a second, and only while a bar runs. Everything else written to the terminal
 * goes through the {@link ConsoleSink}s {@linkplain ConsoleSink#overlay attached} to this
 * display, which erase the lines before writing whole lines of output, so a line a worker
 * prints never shares a terminal line with a progress line; the lines come back at the next
 * redraw. While output that does not end with a newline is on the terminal (a prompt, say)
 * nothing is drawn. A finished bar leaves its final line above the output that follows.
 *
 * <p>Thread-safe: bars are advanced from any thread.
 */
public final class ProgressDisplay {
    private static final long TICK_NANOS = 100_000_000L; // at most 10 redraws a second
    private static final int LABEL_WIDTH = 22;
    private static final int BAR_WIDTH = 20;

    private final OutputStream terminal;
    private final List<Bar> bars = new ArrayList<>(); // guarded by this
    private int drawnLines;                            // progress lines on the terminal now
    private boolean midLine;                           // output without its newline is on the terminal
    private boolean renderer;                          // whether the redraw thread runs
    private String drawn = "";                         // what the lines on the terminal say

    /** A display writing to {@code stderr}'s target, which must be a terminal. */
    public ProgressDisplay(ConsoleSink stderr) {
        this.terminal = stderr.target();
        stderr.overlay(this);
    }

    /** Also erases the lines around whole lines written to {@code sink} (stdout on the same terminal). */
    public void attach(ConsoleSink sink) {
        sink.overlay(this);
    }

    /**
     * Starts a progress line.
     *
     * @param label what runs, such as {@code "map(square)"}
     * @param total how many items, or a negative number when unknown
     */
    public Bar start(String label, long total) {
        Bar bar = new Bar(label, total, System.nanoTime());
        synchronized (this) {
            bars.add(bar);
            if (!renderer) {
                renderer = true;
                Thread.ofPlatform().name("polypool-progress").daemon(true).start(this::render);
            }
        }
        return bar;
    }

    /** Erases the lines and forgets every bar (the program ends). */
    public synchronized void close() {
        erase();
        bars.clear();
        flush();
    }

    /** Writes {@code b} to {@code target} (the terminal) with the progress lines out of the way. */
    synchronized void write(OutputStream target, byte[] b, int off, int len) throws IOException {
        erase();
        target.write(b, off, len);
        target.flush();
        if (len > 0) {
            midLine = b[off + len - 1] != '\n';
        }
    }

    private void render() {
        while (true) {
            try {
                Thread.sleep(TICK_NANOS / 1_000_000L);
            } catch (InterruptedException e) {
                return;
            }
            synchronized (this) {
                if (bars.isEmpty()) {
                    renderer = false;
                    return;
                }
                redraw();
            }
        }
    }

    // holds this
    private void redraw() {
        if (midLine) {
            return;
        }
        long now = System.nanoTime();
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < bars.size(); i++) {
            if (i > 0) {
                s.append('\n');
            }
            s.append(bars.get(i).line(now));
        }
        String lines = s.toString();
        if (drawnLines > 0 && lines.equals(drawn)) {
            return;
        }
        erase();
        put(lines);
        drawn = lines;
        drawnLines = bars.size();
        flush();
    }

    // holds this: the cursor is at the end of the last progress line
    private void erase() {
        if (drawnLines == 0) {
            return;
        }
        StringBuilder s = new StringBuilder("\r\033[K");
        for (int i = 1; i < drawnLines; i++) {
            s.append("\033[A\033[K");
        }
        put(s.toString());
        drawnLines = 0;
    }

    private synchronized void finish(Bar bar) {
        if (!bars.remove(bar)) {
            return;
        }
        erase();
        if (!midLine) {
            put(bar.line(System.nanoTime()) + "\n");
        }
        flush();
    }

    private void put(String s) {
        try {
            terminal.write(s.getBytes(StandardCharsets.UTF_8));
        } catch (IOException ignored) {
            // the terminal went away: the program's own writes will say so
        }
    }

    private void flush() {
        try {
            terminal.flush();
        } catch (IOException ignored) {
            // as in put
        }
    }

    /** One progress line; Python's {@code polypool.progress} and the Java API advance it. */
    public final class Bar {
        private final String label;
        private final long started;
        private final AtomicLong done = new AtomicLong();
        private volatile long total;
        private volatile long ended; // System.nanoTime() at finish, or 0

        private Bar(String label, long total, long started) {
            this.label = label.length() > LABEL_WIDTH ? label.substring(0, LABEL_WIDTH - 1) + "~" : label;
            this.total = total;
            this.started = started;
        }

        /** Counts {@code n} more items done. */
        @HostAccess.Export
        public void advance(long n) {
            done.addAndGet(n);
        }

        /** Sets the total once it is known (an {@code imap} whose input has been read). */
        @HostAccess.Export
        public void setTotal(long n) {
            total = n;
        }

        /** Ends the bar: its final line stays on the terminal. Idempotent. */
        @HostAccess.Export
        public void finish() {
            if (ended == 0) {
                ended = System.nanoTime();
                ProgressDisplay.this.finish(this);
            }
        }

        String line(long now) {
            long end = ended != 0 ? ended : now;
            double seconds = Math.max(1e-9, (end - started) / 1e9);
            long n = done.get();
            long t = total;
            if (t >= 0 && n > t) {
                n = t; // a pool that failed the rest of a call at once counts it in full
            }
            double rate = n / seconds;
            StringBuilder s = new StringBuilder(label);
            while (s.length() < LABEL_WIDTH) {
                s.append(' ');
            }
            if (t >= 0) {
                s.append(String.format(Locale.ROOT, " %d/%d %3d%% [", n, t, t == 0 ? 100 : n * 100 / t));
                int filled = t == 0 ? BAR_WIDTH : (int) Math.min(BAR_WIDTH, n * BAR_WIDTH / t);
                s.append("#".repeat(filled)).append(".".repeat(BAR_WIDTH - filled)).append(']');
            } else {
                s.append(' ').append(n);
            }
            s.append(' ').append(formatRate(rate)).append(' ').append(clock(seconds));
            if (t >= 0 && ended == 0) {
                s.append(" ETA ").append(n == 0 || n >= t ? "?" : clock((t - n) / rate));
            }
            return s.toString();
        }
    }

    static String formatRate(double perSecond) {
        if (perSecond >= 100) {
            return String.format(Locale.ROOT, "%.0f/s", perSecond);
        }
        return String.format(Locale.ROOT, "%.1f/s", perSecond);
    }

    /** {@code m:ss}, or {@code h:mm:ss} from an hour on. */
    static String clock(double seconds) {
        long s = Math.round(seconds);
        if (s >= 3600) {
            return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
        }
        return String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
