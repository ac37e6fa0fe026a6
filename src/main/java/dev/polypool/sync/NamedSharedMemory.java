package dev.polypool.sync;

import java.io.IOException;
import java.lang.ref.WeakReference;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.graalvm.polyglot.HostAccess;

/**
 * POSIX shared memory by name, as {@code multiprocessing.shared_memory} uses it: a block
 * named {@code /psm_x} is the file {@code /dev/shm/psm_x} (where glibc's {@code shm_open}
 * puts it), mapped shared into this process. Every {@code SharedMemory} object maps the
 * file afresh, so all contexts, and other processes on the machine, see the same bytes.
 *
 * <p>Failures come back as errno values rather than exceptions, so that Python raises the
 * {@code OSError} subclass CPython raises. Like CPython's resource tracker, this object
 * remembers the names opened and not unlinked, and unlinks them with a warning on stderr
 * when their program ends ({@link #release}; a resident engine runs many) or else when the
 * JVM exits. Thread-safe.
 */
final class NamedSharedMemory {
    /** errno values, as on Linux. */
    static final int ENOENT = 2;
    static final int EACCES = 13;
    static final int EEXIST = 17;
    static final int EINVAL = 22;
    static final int ENAMETOOLONG = 36;
    /** {@link #open} result for an existing block of size 0, which cannot be mapped. */
    public static final int EMPTY = -1;

    private static final int NAME_MAX = 255;

    private final Path directory;
    private final AtomicLong nextHandle = new AtomicLong();
    private final Map<Long, WeakReference<SharedBuffer>> mappings = new ConcurrentHashMap<>();
    private static final Object NO_PROGRAM = new Object();
    private final Map<String, Object> tracked = new java.util.LinkedHashMap<>(); // name -> program
    private boolean hookInstalled;

    NamedSharedMemory(Path directory) {
        this.directory = directory;
    }

    /**
     * Creates (exclusively, mode 0600, {@code size} zero bytes) or opens the block
     * {@code name} and maps all of it.
     *
     * @param name a name with its leading slash, as {@code shm_open} takes it
     * @return a {@link SharedBuffer} over the mapping, or an {@code Integer}: an errno, or {@link #EMPTY} when an
     *         existing block has size 0
     */
    public Object open(String name, boolean create, long size) {
        return open(name, create, size, null);
    }

    /** As {@link #open(String, boolean, long)}, for {@code program} (see {@link #release}), or null. */
    Object open(String name, boolean create, long size, Object program) {
        Path path;
        try {
            path = pathOf(name);
        } catch (ErrnoException e) {
            return e.errno;
        }
        FileChannel channel;
        try {
            channel = create
                    ? FileChannel.open(path, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                            StandardOpenOption.WRITE),
                            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))
                    : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            return errnoOf(e);
        }
        try (channel) {
            if (create && size > 0) {
                channel.write(ByteBuffer.allocate(1), size - 1);  // extends the file with zeros
            }
            long actual = channel.size();
            if (actual == 0) {
                return EMPTY;
            }
            long handle = nextHandle.incrementAndGet();
            SharedBuffer mapping = new SharedBuffer(handle,
                    channel.map(FileChannel.MapMode.READ_WRITE, 0, actual, Arena.ofAuto()));
            if (handle % 1024 == 0) {
                mappings.values().removeIf(ref -> ref.get() == null);
            }
            mappings.put(handle, new WeakReference<>(mapping));
            track(name, program == null ? NO_PROGRAM : program);
            return mapping;
        } catch (IOException e) {
            if (create) {
                deleteQuietly(path);
            }
            return EINVAL;
        }
    }

    /**
     * The mapping with this handle, or null if no context holds it any more: what a child
     * inherits, which stays valid even after the name was unlinked, as a forked child's
     * copy of its parent's mapping does.
     */
    public SharedBuffer lookup(long handle) {
        WeakReference<SharedBuffer> ref = mappings.get(handle);
        return ref == null ? null : ref.get();
    }

    /** The errno the POSIX call would have set for the failure a file operation threw. */
    private static int errnoOf(IOException e) {
        if (e instanceof FileAlreadyExistsException) {
            return EEXIST;
        }
        if (e instanceof NoSuchFileException) {
            return ENOENT;
        }
        return e instanceof AccessDeniedException ? EACCES : EINVAL;
    }

    /**
     * Removes the name (mappings stay valid until collected).
     *
     * @return 0, or an errno
     */
    public int unlink(String name) {
        try {
            Files.delete(pathOf(name));
            return 0;
        } catch (ErrnoException e) {
            return e.errno;
        } catch (IOException e) {
            return errnoOf(e);
        } finally {
            synchronized (this) {
                tracked.remove(name);
            }
        }
    }

    /** The names opened and not unlinked since (what CPython's resource tracker holds). */
    synchronized List<String> tracked() {
        return new ArrayList<>(tracked.keySet());
    }

    private synchronized void track(String name, Object program) {
        tracked.putIfAbsent(name, program);
        if (!hookInstalled) {
            hookInstalled = true;
            Runtime.getRuntime().addShutdownHook(new Thread(this::cleanUp, "polypool-shared-memory-cleanup"));
        }
    }

    /** At exit, as CPython's resource tracker does: unlink what the program leaked, and say so. */
    void cleanUp() {
        unlinkLeaked(tracked(), System.err);
    }

    /** {@code program} ended: as {@link #cleanUp} for the names it opened, warning on {@code err}. */
    void release(Object program, java.io.PrintStream err) {
        List<String> leaked;
        synchronized (this) {
            leaked = tracked.entrySet().stream().filter(e -> e.getValue() == program).map(Map.Entry::getKey).toList();
        }
        unlinkLeaked(leaked, err);
    }

    private void unlinkLeaked(List<String> leaked, java.io.PrintStream err) {
        if (leaked.isEmpty()) {
            return;
        }
        err.println("polypool: UserWarning: resource_tracker: There appear to be " + leaked.size()
                + " leaked shared_memory objects to clean up at shutdown: " + leaked);
        for (String name : leaked) {
            unlink(name);
        }
        err.flush();
    }

    private Path pathOf(String name) throws ErrnoException {
        String file = name;
        while (file.startsWith("/")) {
            file = file.substring(1);
        }
        if (file.isEmpty() || file.contains("/") || file.equals(".") || file.equals("..")) {
            throw new ErrnoException(EINVAL);
        }
        if (file.length() > NAME_MAX) {
            throw new ErrnoException(ENAMETOOLONG);
        }
        return directory.resolve(file);
    }

    private static void deleteQuietly(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // best effort: the failure being reported matters more
        }
    }

    private static final class ErrnoException extends Exception {
        final int errno;

        ErrnoException(int errno) {
            super(null, null, false, false);
            this.errno = errno;
        }
    }
}
