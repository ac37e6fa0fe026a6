package dev.polypool.sync;

import org.graalvm.polyglot.HostAccess;

/**
 * One open reference to one end of a {@link SharedPipe}: what a file descriptor is to a
 * CPython pipe. A {@code multiprocessing.connection.Connection} holds one; a child that
 * inherits the connection gets a handle of its own, so that the end stays open until every
 * context holding it has closed it or ended.
 *
 * <p>A handle has a {@linkplain #fd() number} unique in the JVM, which Python uses as the
 * connection's {@code fileno()}. Its {@linkplain HandleTable owner} closes it when the
 * owning context ends. Thread-safe; blocking calls are those of {@link SharedPipe}.
 */
public final class PipeHandle implements Waitable {
    private final SharedPipe pipe;
    private final int end;
    private final int fd;
    /** Guarded by the pipe's lock. */
    boolean closed;
    /** Guarded by {@link HandleTable#OWNERSHIP}. */
    HandleTable owner;

    PipeHandle(SharedPipe pipe, int end) {
        this.pipe = pipe;
        this.end = end;
        this.fd = SyncServices.get().registerHandle(this);
    }

    SharedPipe pipe() {
        return pipe;
    }

    int end() {
        return end;
    }

    /** The number standing for this handle: the connection's {@code fileno()}. */
    @HostAccess.Export
    public int fd() {
        return fd;
    }

    /** Whether this end may receive. */
    @HostAccess.Export
    public boolean readable() {
        return pipe.readable(end);
    }

    /** Whether this end may send. */
    @HostAccess.Export
    public boolean writable() {
        return pipe.writable(end);
    }

    /**
     * Sends one message to the other end; never blocks.
     *
     * @return {@link SharedPipe#SENT}, {@link SharedPipe#BROKEN} (no open handle of the other
     *         end is left) or {@link SharedPipe#CLOSED} (this handle is closed)
     */
    @HostAccess.Export
    public int send(String message) {
        return pipe.send(this, message);
    }

    /**
     * Sends the {@code length} bytes in the file at {@code path} as one message; never blocks.
     * The receiver gets a {@link SpilledMessage} naming the file and deletes the file once read;
     * a message that is not sent, or that is dropped unread, deletes it here.
     *
     * @return as {@link #send(String)}
     */
    @HostAccess.Export
    public int sendFile(String path, long length) {
        SpilledMessage message = new SpilledMessage(path, length);
        int status = pipe.send(this, message);
        if (status != SharedPipe.SENT) {
            message.delete();
        }
        return status;
    }

    /**
     * Takes the next message, waiting at most {@code timeoutSeconds}.
     *
     * @param maxLength the longest message to take, negative for any: a longer one stays queued
     * @return the message (a {@code String} or a {@link SpilledMessage}), or the
     *         {@code Integer} {@link SharedPipe#EMPTY},
     *         {@link SharedPipe#EOF}, {@link SharedPipe#TOO_LONG} or {@link SharedPipe#CLOSED}
     */
    @HostAccess.Export
    public Object recv(double timeoutSeconds, long maxLength) {
        return pipe.receive(this, timeoutSeconds, maxLength);
    }

    /**
     * Waits at most {@code timeoutSeconds} for a message or end of file.
     *
     * @return {@link SharedPipe#READY} when one is there, {@link SharedPipe#EMPTY} when not,
     *         {@link SharedPipe#CLOSED} if this handle is closed
     */
    @HostAccess.Export
    public int poll(double timeoutSeconds) {
        return pipe.poll(this, timeoutSeconds);
    }

    /** Closes this handle; idempotent. The end closes when its last handle does. */
    @HostAccess.Export
    public void close() {
        if (pipe.close(this)) {
            SyncServices.get().unregisterHandle(fd);
            HandleTable.forget(this);
        }
    }

    @Override
    public boolean isReady() {
        return pipe.ready(end);
    }

    @Override
    public void addWaiter(Waiter waiter) {
        pipe.addWaiter(end, waiter);
    }

    @Override
    public void removeWaiter(Waiter waiter) {
        pipe.removeWaiter(end, waiter);
    }
}
