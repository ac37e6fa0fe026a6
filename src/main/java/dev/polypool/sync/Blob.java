package dev.polypool.sync;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;

import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.Value;

/**
 * Bytes on their way from one context to another in one piece: a large pickle, or a large
 * {@code bytes} object sent as it is ({@code polypool.codec}).
 *
 * <p>GraalPy turns bytes into Latin-1 text, the other carrier, at tens of nanoseconds a byte;
 * a blob costs two bulk copies. The bytes live in native memory, off the Java heap: the
 * sender's bytes-like object is copied in with {@link Value#readBuffer} a chunk at a time, and
 * a reader {@linkplain #open() opens} the blob and turns that memory into {@code bytes} with
 * {@code ctypes.string_at} (GraalPy has no bulk path from a Java array into Python). So a
 * 100 MiB payload makes no 100 MiB Java array, whose garbage would grow the heap until the
 * collector noticed it. A blob that is read once (a task's argument, a result, a queue item)
 * frees its memory when its reader closes it; one read by many (a pool's fork snapshot, read
 * by every worker), or one never read (a task withdrawn or discarded), when the blob becomes
 * unreachable.
 *
 * <p>A blob may have parts, blobs of their own that its pickle refers to by index: the large
 * {@code bytes} objects of a pool's start-up state ({@code polypool.codec.PartsPickler}), so
 * that they are copied neither into that pickle nor out of it.
 *
 * <p>Thread-safe.
 */
public final class Blob {
    // frees the memory of a blob nobody read, or of one read by many, once it is unreachable
    private static final Cleaner CLEANER = Cleaner.create();
    // the sender's bytes cross through a small array, which stays in the CPU's cache
    private static final int CHUNK = 1 << 20;

    private final int size;
    private final boolean raw;
    private final boolean readOnce;
    private final Storage storage;
    private final Blob[] parts;
    private final AtomicBoolean opened = new AtomicBoolean();

    /**
     * The native memory of a blob, freed once; holds no reference to the blob (its cleaner).
     * The C library's malloc and free: closing a shared {@code Arena}, which any thread may
     * do, costs a handshake with every Java thread (measured here: 118-160 us for a 64 KiB
     * blob, against 43-70 us with a confined arena, at load 36).
     */
    private static final class Storage implements Runnable {
        private static final Linker LINKER = Linker.nativeLinker();
        private static final MethodHandle MALLOC = LINKER.downcallHandle(
                LINKER.defaultLookup().find("malloc").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        private static final MethodHandle FREE = LINKER.downcallHandle(
                LINKER.defaultLookup().find("free").orElseThrow(), FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));

        private final MemorySegment segment;
        private boolean freed; // guarded by this

        Storage(int size) {
            MemorySegment p;
            try {
                p = (MemorySegment) MALLOC.invokeExact((long) Math.max(size, 1));
            } catch (Throwable e) {
                throw new IllegalStateException(e);
            }
            if (p.equals(MemorySegment.NULL)) {
                throw new OutOfMemoryError("no native memory for a blob of " + size + " bytes");
            }
            segment = p.reinterpret(size);
        }

        synchronized boolean isFreed() {
            return freed;
        }

        /** A copy of the bytes, or null once freed. */
        synchronized byte[] copy() {
            return freed ? null : segment.toArray(ValueLayout.JAVA_BYTE);
        }

        @Override
        public synchronized void run() {
            if (!freed) {
                freed = true;
                try {
                    FREE.invokeExact(segment);
                } catch (Throwable e) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }

    private Blob(int size, boolean raw, boolean readOnce, Blob[] parts) {
        this.size = size;
        this.raw = raw;
        this.readOnce = readOnce;
        this.parts = parts.clone();
        this.storage = new Storage(size);
        CLEANER.register(this, storage);
    }

    /**
     * Copies a Python bytes-like object.
     *
     * @param buffer a value with buffer elements ({@code bytes}, {@code bytearray}, a
     *               contiguous {@code memoryview})
     * @param raw      whether the bytes are the value itself rather than a pickle of it
     * @param readOnce whether exactly one reader opens it
     * @param parts    the blob's parts, in the order its pickle refers to them
     * @throws IllegalArgumentException if {@code buffer} has no buffer elements or holds 2 GiB
     *                                  or more, or if a raw blob is given parts
     */
    static Blob copyOf(Value buffer, boolean raw, boolean readOnce, Blob... parts) {
        if (!buffer.hasBufferElements()) {
            throw new IllegalArgumentException("not a bytes-like object: " + buffer);
        }
        long n = buffer.getBufferSize();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("too large to send in one piece: " + n + " bytes");
        }
        Blob blob = new Blob((int) n, raw, readOnce, checkedParts(raw, parts));
        byte[] chunk = new byte[(int) Math.min(n, CHUNK)];
        for (long at = 0; at < n; at += chunk.length) {
            int length = (int) Math.min(chunk.length, n - at);
            if (length < chunk.length) {
                // GraalPy 25.0's memoryview (a pickle is one, of its BytesIO) reads as many
                // bytes as the array holds, whatever the length asked for: past its end, an
                // IndexOutOfBoundsException
                chunk = new byte[length];
            }
            buffer.readBuffer(at, chunk, 0, length);
            MemorySegment.copy(chunk, 0, blob.storage.segment, ValueLayout.JAVA_BYTE, at, length);
        }
        return blob;
    }

    /**
     * A blob of a copy of {@code bytes}; for Java senders and tests.
     *
     * @throws IllegalArgumentException if a raw blob is given parts
     */
    public static Blob of(byte[] bytes, boolean raw, boolean readOnce, Blob... parts) {
        Blob blob = new Blob(bytes.length, raw, readOnce, checkedParts(raw, parts));
        MemorySegment.copy(bytes, 0, blob.storage.segment, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return blob;
    }

    private static Blob[] checkedParts(boolean raw, Blob[] parts) {
        if (raw && parts.length > 0) {
            throw new IllegalArgumentException("a raw blob has no parts");
        }
        return parts;
    }

    /** The number of parts. */
    @HostAccess.Export
    public int parts() {
        return parts.length;
    }

    /**
     * The part at {@code index}.
     *
     * @throws IndexOutOfBoundsException if there is no such part
     */
    @HostAccess.Export
    public Blob part(int index) {
        return parts[index];
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
     * The blob's memory, for one reader to read and then close. Closing frees the memory of
     * a blob read once.
     *
     * @throws IllegalStateException if the blob is read once and was opened already
     */
    @HostAccess.Export
    public Native open() {
        if (storage.isFreed() || (readOnce && !opened.compareAndSet(false, true))) {
            throw new IllegalStateException("the blob was read already");
        }
        return new Native(this);
    }

    /**
     * A copy of the bytes, leaving the blob as it is; for Java readers and tests.
     *
     * @throws IllegalStateException if the blob is read once and was read already
     */
    public byte[] bytes() {
        byte[] copy = storage.copy();
        if (copy == null) {
            throw new IllegalStateException("the blob was read already");
        }
        return copy;
    }

    /** An open blob: the address of its memory, valid until {@link #close()}. */
    public static final class Native {
        private final Blob blob;

        private Native(Blob blob) {
            this.blob = blob;
        }

        /** The address of the first byte, valid until {@link #close()}. */
        @HostAccess.Export
        public long address() {
            return blob.storage.segment.address();
        }

        /** Done reading: frees the memory of a blob read once. */
        @HostAccess.Export
        public void close() {
            if (blob.readOnce) {
                blob.storage.run();
            }
        }
    }
}
