package dev.polypool.sync;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.TimeUnit;

import org.graalvm.polyglot.HostAccess;

/**
 * A two-way message connection between two threads, in any contexts: what a
 * {@code multiprocessing.managers} proxy and its manager's server talk through
 * ({@link ChannelListener} makes them).
 *
 * <p>Each {@link End} belongs to the thread that created it (the proxy's thread, the
 * server's accepting thread). A receiver sees the end of the stream once the other end is
 * closed, or its owner thread has died (its context was closed or terminated), and every
 * message sent before has been read, as a socket reader sees EOF when the peer process
 * exits. Messages are opaque strings (Latin-1 pickles). Thread-safe.
 */
public final class SharedChannel {
    /** What {@link End#recv} returns when no message came in time. */
    public static final String EMPTY = "\u0000polypool-empty";
    /** What {@link End#recv} returns once the other end is gone and every message was read. */
    public static final String EOF = "\u0000polypool-eof";

    /** {@link End#send} result: queued. */
    public static final int SENT = 0;
    /** {@link End#send} result: this end is closed. */
    public static final int CLOSED = 1;
    /** {@link End#send} result: the other end is gone. */
    public static final int PEER_GONE = 2;

    private final End first;
    private final End second;

    /** A connected pair; the first end belongs to the calling thread, the second to none yet. */
    SharedChannel() {
        first = new End(Thread.currentThread());
        second = new End(null);
        first.peer = second;
        second.peer = first;
    }

    End first() {
        return first;
    }

    End second() {
        return second;
    }

    /** One end of the connection. */
    public final class End {
        private final Deque<String> inbox = new ArrayDeque<>();
        private End peer;
        private Thread owner;
        private boolean closed;

        private End(Thread owner) {
            this.owner = owner;
        }

        /** Gives this end to the calling thread (the one that accepted it). */
        void claim() {
            synchronized (SharedChannel.this) {
                owner = Thread.currentThread();
            }
        }

        private boolean gone() {
            return closed || (owner != null && !owner.isAlive());
        }

        /**
         * Queues a message for the other end; never blocks.
         *
         * @return {@link #SENT}, {@link #CLOSED} or {@link #PEER_GONE}
         */
        @HostAccess.Export
        public int send(String message) {
            synchronized (SharedChannel.this) {
                if (closed) {
                    return CLOSED;
                }
                if (peer.gone()) {
                    return PEER_GONE;
                }
                peer.inbox.addLast(message);
                SharedChannel.this.notifyAll();
                return SENT;
            }
        }

        /**
         * Waits, holding the channel's monitor, until a message is in or none can come any
         * more, or {@code timeoutSeconds} have passed.
         *
         * @return false if interrupted (the interrupt status is kept)
         */
        private boolean awaitReadable(double timeoutSeconds) {
            long deadline = System.nanoTime() + (long) (Math.max(0, timeoutSeconds) * 1e9);
            try {
                long left;
                while (inbox.isEmpty() && !closed && !peer.gone()
                        && (left = deadline - System.nanoTime()) > 0) {
                    // a dying owner thread does not notify: look again at least every 50 ms
                    TimeUnit.NANOSECONDS.timedWait(SharedChannel.this, Math.min(left, 50_000_000L));
                }
                return true;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }

        /**
         * Takes the oldest message sent by the other end, waiting at most
         * {@code timeoutSeconds} for one (0: do not wait).
         *
         * @return the message, {@link #EMPTY} on timeout (or interruption), or {@link #EOF}
         *         when no message can come any more
         */
        @HostAccess.Export
        public String recv(double timeoutSeconds) {
            synchronized (SharedChannel.this) {
                if (!awaitReadable(timeoutSeconds)) {
                    return EMPTY;
                }
                if (!inbox.isEmpty()) {
                    return inbox.pollFirst();
                }
                return closed || peer.gone() ? EOF : EMPTY;
            }
        }

        /**
         * Waits at most {@code timeoutSeconds} until {@link #recv} would not block: a message
         * is waiting or no message can come any more.
         *
         * @return whether recv would return at once
         */
        @HostAccess.Export
        public boolean poll(double timeoutSeconds) {
            synchronized (SharedChannel.this) {
                awaitReadable(timeoutSeconds);
                return !inbox.isEmpty() || closed || peer.gone();
            }
        }

        /** Closes this end: the other end reads what was sent, then the end of the stream. */
        @HostAccess.Export
        public void close() {
            synchronized (SharedChannel.this) {
                closed = true;
                inbox.clear();
                SharedChannel.this.notifyAll();
            }
        }

        @HostAccess.Export
        public boolean closed() {
            synchronized (SharedChannel.this) {
                return closed;
            }
        }
    }
}
