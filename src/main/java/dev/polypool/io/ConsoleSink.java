package dev.polypool.io;

import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * One of the process's own output streams (stdout or stderr), shared by every context.
 *
 * <p>Each context writes through its own {@link #newLineStream() line stream}, which holds
 * bytes until a line is complete and then writes whole lines under this sink's lock, so lines
 * printed by concurrently running workers never interleave mid-line. CPython's workers get
 * the same effect from writing each line with one {@code write(2)}. With a
 * {@link ProgressDisplay} on the same terminal, those writes erase its progress lines first.
 */
public final class ConsoleSink {
    private final OutputStream target;
    private final int fd; // the process's descriptor this writes to, or -1
    private volatile boolean terminal; // told: it reaches a terminal elsewhere (a resident engine's client)
    private volatile ProgressDisplay overlay;

    public ConsoleSink(OutputStream target) {
        this(target, -1);
    }

    private ConsoleSink(OutputStream target, int fd) {
        this.target = target;
        this.fd = fd;
    }

    /** The process's standard output, unbuffered. */
    public static ConsoleSink stdout() {
        return new ConsoleSink(new FileOutputStream(FileDescriptor.out), 1);
    }

    /** The process's standard error, unbuffered. */
    public static ConsoleSink stderr() {
        return new ConsoleSink(new FileOutputStream(FileDescriptor.err), 2);
    }

    /**
     * Whether this reaches a terminal: it was {@linkplain #reachesTerminal told so}, or it is
     * the process's own stdout or stderr and that is a terminal (asked when asked).
     */
    public boolean isTerminal() {
        return terminal || fd >= 0 && Terminal.isTerminal(fd);
    }

    /** Says whether what this writes reaches a terminal, such as a resident engine's client's. */
    public void reachesTerminal(boolean value) {
        terminal = value;
    }

    OutputStream target() {
        return target;
    }

    /** From now on, writes go through {@code display}, which keeps its progress lines out of their way. */
    void overlay(ProgressDisplay display) {
        overlay = display;
    }

    /** Returns a new stream for one context; its partial last line is written on {@code flush}. */
    public OutputStream newLineStream() {
        return new LineStream();
    }

    private void writeAtomically(byte[] b, int off, int len) throws IOException {
        ProgressDisplay display = overlay;
        if (display != null) {
            display.write(target, b, off, len);
            return;
        }
        synchronized (this) {
            target.write(b, off, len);
            target.flush();
        }
    }

    private final class LineStream extends OutputStream {
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) throws IOException {
            pending.write(b);
            if (b == '\n') {
                drain();
            }
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            int lastNewline = -1;
            for (int i = off + len - 1; i >= off; i--) {
                if (b[i] == '\n') {
                    lastNewline = i;
                    break;
                }
            }
            if (lastNewline < 0) {
                pending.write(b, off, len);
                return;
            }
            if (pending.size() == 0) {
                writeAtomically(b, off, lastNewline + 1 - off);
            } else {
                pending.write(b, off, lastNewline + 1 - off);
                drain();
            }
            pending.write(b, lastNewline + 1, off + len - lastNewline - 1);
        }

        @Override
        public synchronized void flush() throws IOException {
            drain();
        }

        @Override
        public void close() throws IOException {
            flush();
        }

        private void drain() throws IOException {
            if (pending.size() > 0) {
                byte[] bytes = pending.toByteArray();
                pending.reset();
                writeAtomically(bytes, 0, bytes.length);
            }
        }
    }
}
