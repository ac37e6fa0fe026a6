package dev.polypool.sync;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.graalvm.polyglot.HostAccess;

/**
 * A block of native memory that every context holding it reads and writes in place: the
 * memory behind {@code multiprocessing}'s {@code Value}, {@code Array}, {@code RawValue},
 * {@code RawArray} and {@code Barrier} (what CPython allocates from
 * {@code multiprocessing.heap}). Python wraps {@link #address()} in a ctypes object, so
 * there is one copy of the data, as in memory a forked child shares with its parent.
 *
 * <p>It also stands for a mapping of POSIX shared memory ({@link NamedSharedMemory}).
 * Allocated memory is zero-filled, aligned for any C type, and freed by the garbage collector
 * once no context refers to this object; Python keeps the object referenced from every
 * ctypes object built on the address. Thread-safe (immutable).
 */
public final class SharedBuffer {
    /** Alignment of every block: enough for {@code long double} and {@code max_align_t}. */
    static final long ALIGNMENT = 16;

    private final long handle;
    private final MemorySegment segment;

    SharedBuffer(long handle, long size) {
        if (size < 0) {
            throw new IllegalArgumentException("negative size " + size);
        }
        this.handle = handle;
        // a zero-size request still gets a distinct address, as CPython's heap rounds up to 1
        this.segment = Arena.ofAuto().allocate(Math.max(size, 1), ALIGNMENT);
    }

    /** A block over memory allocated elsewhere: a mapping of POSIX shared memory. */
    SharedBuffer(long handle, MemorySegment segment) {
        this.handle = handle;
        this.segment = segment;
    }

    /**
     * The number by which other contexts find this block ({@link SyncServices#lookupBuffer},
     * or {@link SyncServices#lookupSharedMemory} for a mapping).
     */
    @HostAccess.Export
    public long handle() {
        return handle;
    }

    /** The address of the first byte; valid as long as this object is reachable. */
    @HostAccess.Export
    public long address() {
        return segment.address();
    }

    /** The usable size in bytes (at least 1). */
    @HostAccess.Export
    public long size() {
        return segment.byteSize();
    }

    /** The memory, for Java readers (tests). */
    MemorySegment segment() {
        return segment;
    }
}
