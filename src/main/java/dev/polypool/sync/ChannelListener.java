package dev.polypool.sync;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.TimeUnit;

import org.graalvm.polyglot.HostAccess;

/**
 * Accepts {@link SharedChannel} connections made to an address: the transport of
 * {@code multiprocessing.managers} between contexts (in place of CPython's Unix socket).
 * Addresses live in this JVM only ({@link SyncServices#newListener}).
 *
 * <p>The listener belongs to the thread that created it: once that thread has died (its
 * context ended) or {@link #close} was called, it accepts nothing more and its address is
 * free. Thread-safe.
 */
public final class ChannelListener {
    private final String address;
    private final Thread owner = Thread.currentThread();
    private final Deque<SharedChannel.End> pending = new ArrayDeque<>();
    private boolean closed;

    ChannelListener(String address) {
        this.address = address;
    }

    @HostAccess.Export
    public String address() {
        return address;
    }

    /** Whether connections can still be made to this listener. */
    @HostAccess.Export
    public synchronized boolean open() {
        return !closed && owner.isAlive();
    }

    /**
     * Takes the oldest connection made to this listener, waiting at most
     * {@code timeoutSeconds}; the end returned belongs to the calling thread.
     *
     * @return the server's end, or null on timeout, interruption or when closed
     */
    @HostAccess.Export
    public synchronized SharedChannel.End accept(double timeoutSeconds) {
        long deadline = System.nanoTime() + (long) (Math.max(0, timeoutSeconds) * 1e9);
        try {
            long left;
            while (pending.isEmpty() && !closed && (left = deadline - System.nanoTime()) > 0) {
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
        SharedChannel.End end = closed ? null : pending.pollFirst();
        if (end != null) {
            end.claim();
        }
        return end;
    }

    /** Stops accepting; connections not yet accepted see the end of the stream. */
    @HostAccess.Export
    public void close() {
        synchronized (this) {
            closed = true;
            pending.forEach(SharedChannel.End::close);
            pending.clear();
            notifyAll();
        }
        SyncServices.get().forgetListener(this);
    }

    /** A new connection for the calling thread, or null if this listener no longer accepts. */
    synchronized SharedChannel.End connect() {
        if (!open()) {
            return null;
        }
        SharedChannel channel = new SharedChannel();
        pending.addLast(channel.second());
        notifyAll();
        return channel.first();
    }
}
