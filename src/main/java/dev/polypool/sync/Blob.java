package dev.polypool.sync;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.Value;

/**
 * Bytes on their way from one context to another in one piece: a large pickle, or a large
 * {@code bytes} object sent as it is ({@code polypool.codec}).
 *
 * <p>GraalPy turns bytes into Latin-1 text, the other carrier, at tens of nanoseconds a byte;
 * a blob costs two bulk copies. It is made from a Python bytes-like object with one
 * {@link Value#readBuffer} copy into a Java array. A reader {@linkplain #open() opens} a
 * native copy, which Python turns into {@code bytes} with {@code ctypes.string_at} (GraalPy
 * has no bulk path from a Java array into Python), and closes it at once. A blob that is
 * read once (a task's argument, a result, a queue item) lets go of its array as soon as it
 * is opened; one read by many (a pool's fork snapshot, read by every worker) keeps it.
 *
 * <p>Thread-safe.
 */
public final class Blob {
    private final int size;
    private final boolean raw;
    private final boolean readOnce;
    private volatile byte[] bytes;

    private Blob(byte[] bytes, boolean raw, boolean readOnce) {
        this.size = bytes.length;
        this.raw = raw;
        this.readOnce = readOnce;
        this.bytes = bytes;
    }

    /**
     * Copies a Python bytes-like object.
     *
     * @param buffer a value with buffer elements ({@code bytes}, {@code bytearray}, a
     *               contiguous {@code memoryview})
     * @param raw      whether the bytes are the value itself rather than a pickle of it
     * @param readOnce whether exactly one reader opens it
     * @throws IllegalArgumentException if {@code buffer} has no buffer elements or holds 2 GiB or more
     */
    static Blob copyOf(Value buffer, boolean raw, boolean readOnce) {
        if (!buffer.hasBufferElements()) {
            throw new IllegalArgumentException("not a bytes-like object: " + buffer);
        }
        long n = buffer.getBufferSize();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("too large to send in one piece: " + n + " bytes");
        }
        byte[] copy = new byte[(int) n];
        buffer.readBuffer(0, copy, 0, copy.length);
        return new Blob(copy, raw, readOnce);
    }

    /** A blob of {@code bytes}, not copied; for Java senders and tests. */
    public static Blob of(byte[] bytes, boolean raw, boolean readOnce) {
        return new Blob(bytes, raw, readOnce);
    }

    /** The number of bytes. */
    @HostAccess.Export
    public int size() {
        return size;
    }

    /** Whether exactly one reader opens it. */
    public boolean readOnce() {
        return readOnce;
    }

    /** Whether the bytes are the value itself ({@code bytes}) rather than its pickle. */
    @HostAccess.Export
    public boolean raw() {
        return raw;
    }

    /**
     * A native copy of the bytes, to be closed by the same thread once read. A blob read
     * once lets go of its bytes here.
     *
     * @throws IllegalStateException if the blob is read once and was opened already
     */
    @HostAccess.Export
    public Native open() {
        Native n = new Native(bytes());
        if (readOnce) {
            bytes = null;
        }
        return n;
    }

    /** The bytes; for Java readers and tests. */
    public byte[] bytes() {
        byte[] b = bytes;
        if (b == null) {
            throw new IllegalStateException("the blob was read already");
        }
        return b;
    }

    /** Native memory holding a copy of a blob, freed by {@link #close()}. */
    public static final class Native {
        private final Arena arena = Arena.ofConfined();
        private final MemorySegment segment;

        private Native(byte[] bytes) {
            segment = arena.allocate(Math.max(bytes.length, 1));
            MemorySegment.copy(bytes, 0, segment, ValueLayout.JAVA_BYTE, 0, bytes.length);
        }

        /** The address of the first byte, valid until {@link #close()}. */
        @HostAccess.Export
        public long address() {
            return segment.address();
        }

        /** Frees the memory; must be called by the thread that opened it. */
        @HostAccess.Export
        public void close() {
            arena.close();
        }
    }
}
