package dev.polypool.server;

import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A run's standard input: the client's, read on demand. Each read that finds nothing
 * buffered asks the client for at most that many bytes ({@link Frames#STDIN_WANTED}); the
 * client does one {@code read(2)} of its stdin and sends what it got. So the client never
 * reads ahead: input the program does not read stays for whoever reads it next, as with
 * {@code python3}, and a terminal works line by line. An empty answer is end of file;
 * a later read asks again (a terminal can go on after Ctrl-D). Once the run is over or
 * the client has gone, reads return end of file.
 */
final class RemoteStdin extends InputStream {
    private static final byte[] CLOSED = new byte[0];
    private final Frames.Writer writer;
    private final LinkedBlockingQueue<byte[]> answers = new LinkedBlockingQueue<>();
    private volatile boolean closed;
    private byte[] buffer = new byte[0];
    private int pos;

    RemoteStdin(Frames.Writer writer) {
        this.writer = writer;
    }

    /** What the client read from its stdin; empty at end of file. */
    void deliver(byte[] data) {
        answers.add(data);
    }

    /** Ends input for good: the run is over or the client has gone. */
    @Override
    public void close() {
        closed = true;
        answers.add(CLOSED);
    }

    @Override
    public int read() throws InterruptedIOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public synchronized int read(byte[] b, int off, int len) throws InterruptedIOException {
        if (len == 0) {
            return 0;
        }
        if (pos == buffer.length) {
            if (closed) {
                return -1;
            }
            writer.send(Frames.STDIN_WANTED, Frames.intPayload(Math.min(len, 1 << 16)));
            byte[] data;
            try {
                data = answers.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while reading stdin");
            }
            if (data.length == 0) {
                return -1;
            }
            buffer = data;
            pos = 0;
        }
        int n = Math.min(len, buffer.length - pos);
        System.arraycopy(buffer, pos, b, off, n);
        pos += n;
        return n;
    }

    @Override
    public synchronized int available() {
        return buffer.length - pos;
    }
}
