package dev.polypool.server;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The framing of the resident engine's protocol: each frame is a type byte, a big-endian
 * 32-bit payload length and the payload. {@code bin/lib/client.c} is the other end.
 *
 * <p>Server to client first: {@link #ACCEPTED}, once a session has taken the connection. A
 * connection that ends (end of file or reset) before it was never served: the server stopped
 * listening while it waited in the backlog (the server retired, or exited idle), and the
 * client connects again, to a successor. One that ends after it lost its server mid-run.
 *
 * <p>Client to server: {@link #ARGV}, {@link #CWD}, {@link #ENV}, {@link #TTY}, {@link #IGNORED}, then
 * {@link #GO} to start the run (or one {@link #CONTROL} frame instead); during the run
 * {@link #STDIN} answers each {@link #STDIN_WANTED} (an empty payload is end of file) and
 * {@link #SIGNAL} forwards a signal the client received. Server to client after
 * {@link #ACCEPTED}: {@link #STDOUT}, {@link #STDERR}, {@link #STDIN_WANTED}, and {@link #EXIT} last.
 */
final class Frames {
    static final byte ACCEPTED = 'K';  // empty
    static final byte ARGV = 'A';      // NUL-terminated strings
    static final byte CWD = 'C';       // a path
    static final byte ENV = 'V';       // NUL-terminated NAME=value strings
    static final byte TTY = 'T';       // 3 bytes: isatty(0), isatty(1), isatty(2)
    static final byte IGNORED = 'D';   // 32-bit numbers of the signals the client started ignoring
    static final byte GO = 'G';        // empty
    static final byte CONTROL = 'Q';   // "status", "stop" or "retire"
    static final byte STDIN = 'I';     // bytes read from the client's stdin; empty at end of file
    static final byte SIGNAL = 'S';    // a 32-bit signal number
    static final byte STDOUT = 'O';
    static final byte STDERR = 'E';
    static final byte STDIN_WANTED = 'N'; // a 32-bit count: read at most this much once
    static final byte EXIT = 'X';      // a 32-bit run status: an exit code, or Main.SIGNALLED | n

    /** The largest payload accepted from a client. */
    static final int MAX_PAYLOAD = 64 << 20;

    record Frame(byte type, byte[] payload) {
        String text() {
            return new String(payload, StandardCharsets.UTF_8);
        }

        int intValue() {
            if (payload.length != 4) {
                throw new IllegalArgumentException("expected 4 bytes in frame " + (char) type);
            }
            return intAt(0);
        }

        List<Integer> ints() {
            List<Integer> out = new ArrayList<>();
            for (int i = 0; i + 4 <= payload.length; i += 4) {
                out.add(intAt(i));
            }
            return out;
        }

        /** The big-endian 32-bit number at {@code offset} of the payload. */
        private int intAt(int offset) {
            return ((payload[offset] & 0xff) << 24) | ((payload[offset + 1] & 0xff) << 16)
                    | ((payload[offset + 2] & 0xff) << 8) | (payload[offset + 3] & 0xff);
        }

        List<String> strings() {
            List<String> out = new ArrayList<>();
            int start = 0;
            for (int i = 0; i < payload.length; i++) {
                if (payload[i] == 0) {
                    out.add(new String(payload, start, i - start, StandardCharsets.UTF_8));
                    start = i + 1;
                }
            }
            return out;
        }
    }

    private Frames() {
    }

    /** The next frame, or null at end of stream. */
    static Frame read(DataInputStream in) throws IOException {
        int type = in.read();
        if (type < 0) {
            return null;
        }
        int length = in.readInt();
        if (length < 0 || length > MAX_PAYLOAD) {
            throw new IOException("bad frame length " + length);
        }
        byte[] payload = new byte[length];
        in.readFully(payload);
        return new Frame((byte) type, payload);
    }

    static DataInputStream input(InputStream in) {
        return new DataInputStream(new java.io.BufferedInputStream(in));
    }

    static byte[] intPayload(int v) {
        return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    /**
     * Writes frames to one connection, from a thread of its own: the program's threads only
     * queue them, so that cancelling a program (which interrupts its threads) never closes
     * the connection under a write. Thread-safe. Once the client has gone, frames are
     * dropped: the run goes on to its end as a program whose terminal closed would.
     */
    static final class Writer {
        private static final int CHUNK = 1 << 16;
        private static final byte[] END = new byte[0];
        private final OutputStream out;
        private final LinkedBlockingQueue<byte[]> queue = new LinkedBlockingQueue<>(1024);
        private final Thread thread;
        private volatile boolean broken;

        Writer(OutputStream out) {
            this.out = out;
            this.thread = Thread.ofPlatform().daemon(true).name("polypool-frame-writer").start(this::drain);
        }

        private void drain() {
            try {
                for (byte[] frame = queue.take(); frame != END; frame = queue.take()) {
                    if (!broken) {
                        try {
                            out.write(frame);
                        } catch (IOException e) {
                            broken = true;
                        }
                    }
                }
            } catch (InterruptedException e) {
                broken = true;
            }
        }

        void send(byte type, byte[] b, int off, int len) {
            do {
                int n = Math.min(len, CHUNK);
                byte[] frame = new byte[5 + n];
                frame[0] = type;
                frame[1] = (byte) (n >>> 24);
                frame[2] = (byte) (n >>> 16);
                frame[3] = (byte) (n >>> 8);
                frame[4] = (byte) n;
                System.arraycopy(b, off, frame, 5, n);
                if (!broken) {
                    try {
                        queue.put(frame);
                    } catch (InterruptedException e) {
                        // a cancelled program: what it was writing is lost, as with a killed process
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
                off += n;
                len -= n;
            } while (len > 0);
        }

        /** Sends what is queued, then stops; waits for at most 10 s. */
        void finish() {
            try {
                queue.put(END);
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        void send(byte type, byte[] payload) {
            send(type, payload, 0, payload.length);
        }

        void send(byte type, String text) {
            send(type, text.getBytes(StandardCharsets.UTF_8));
        }

        /** An output stream whose every write is one frame of {@code type}. */
        OutputStream stream(byte type) {
            return new OutputStream() {
                @Override
                public void write(int b) {
                    send(type, new byte[] {(byte) b});
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    if (len > 0) {
                        send(type, b, off, len);
                    }
                }
            };
        }
    }
}
