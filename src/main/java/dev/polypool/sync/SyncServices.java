package dev.polypool.sync;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.ref.WeakReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.HostAccess;

/**
 * Creates the shared objects behind {@code multiprocessing}'s locks and queues and finds
 * them again by handle when one is unpickled in another context. Published to
 * every context as {@code polyglot.import_value("polypool.sync")}.
 *
 * <p>The registry holds objects weakly: a lock lives as long as some context holds it.
 * Open pipe handles and process sentinels are numbered like file descriptors, from
 * {@link #FIRST_FD} up (above any real descriptor number), so that Python code can hand
 * them to {@code multiprocessing.connection.wait} as CPython code hands it descriptors.
 * Thread-safe.
 */
public final class SyncServices {
    /** The first number given to a pipe handle or sentinel: above Linux's largest descriptor limit (2^20). */
    public static final int FIRST_FD = 1 << 24;

    private static final SyncServices INSTANCE = new SyncServices();

    private final AtomicLong nextHandle = new AtomicLong();
    private final Map<Long, WeakReference<SharedSemaphore>> semaphores = new ConcurrentHashMap<>();
    private final Map<Long, WeakReference<SharedQueue>> queues = new ConcurrentHashMap<>();
    private final Map<Long, WeakReference<SharedBuffer>> buffers = new ConcurrentHashMap<>();
    private final NamedSharedMemory namedMemory = new NamedSharedMemory(java.nio.file.Path.of("/dev/shm"));
    private final Map<String, ChannelListener> listeners = new ConcurrentHashMap<>();
    private final AtomicInteger nextFd = new AtomicInteger(FIRST_FD);
    private final Map<Integer, PipeHandle> openHandles = new ConcurrentHashMap<>();
    private final Map<Integer, WeakReference<Sentinel>> sentinels = new ConcurrentHashMap<>();
    private final Map<Context, HandleTable> contextHandles = new ConcurrentHashMap<>();
    private final Map<Context, Object> contextPrograms = new ConcurrentHashMap<>();

    private SyncServices() {
    }

    public static SyncServices get() {
        return INSTANCE;
    }

    /**
     * A new semaphore or recursive mutex.
     *
     * @throws IllegalArgumentException for an unknown kind or a value outside [0, maxValue]
     */
    @HostAccess.Export
    public SharedSemaphore newSemaphore(int kind, int value, int maxValue) {
        if (value < 0 || value > maxValue) {
            throw new IllegalArgumentException("invalid value");
        }
        long handle = nextHandle.incrementAndGet();
        SharedSemaphore s = new SharedSemaphore(handle, kind, value, maxValue);
        if (handle % 1024 == 0) {
            semaphores.values().removeIf(ref -> ref.get() == null);
        }
        semaphores.put(s.handle(), new WeakReference<>(s));
        return s;
    }

    /**
     * A new queue; {@code maxSize <= 0} for no bound.
     */
    @HostAccess.Export
    public SharedQueue newQueue(int maxSize) {
        long handle = nextHandle.incrementAndGet();
        SharedQueue q = new SharedQueue(handle, maxSize);
        if (handle % 1024 == 0) {
            queues.values().removeIf(ref -> ref.get() == null);
        }
        queues.put(handle, new WeakReference<>(q));
        return q;
    }

    /** The queue with this handle, or null if no context holds it any more. */
    @HostAccess.Export
    public SharedQueue lookupQueue(long handle) {
        WeakReference<SharedQueue> ref = queues.get(handle);
        return ref == null ? null : ref.get();
    }

    /**
     * A copy of a Python bytes-like object ({@code bytes}, {@code bytearray}, a contiguous
     * {@code memoryview}) to send to another context in one piece.
     *
     * @param raw      whether the bytes are the value itself rather than its pickle
     * @param readOnce whether exactly one reader opens it (see {@link Blob})
     * @throws IllegalArgumentException if {@code buffer} is not bytes-like or holds 2 GiB or more
     */
    @HostAccess.Export
    public Blob newBlob(org.graalvm.polyglot.Value buffer, boolean raw, boolean readOnce) {
        return Blob.copyOf(buffer, raw, readOnce);
    }

    /**
     * A pickle's blob with its parts ({@code polypool.codec.PartsPickler}): a copy of
     * {@code buffer}, holding the blobs of {@code parts}.
     *
     * @param parts a Python sequence of blobs
     * @throws IllegalArgumentException if {@code buffer} is not bytes-like or holds 2 GiB or
     *                                  more, or an element of {@code parts} is not a blob
     */
    @HostAccess.Export
    public Blob newBlob(org.graalvm.polyglot.Value buffer, boolean raw, boolean readOnce,
            org.graalvm.polyglot.Value parts) {
        Blob[] blobs = new Blob[Math.toIntExact(parts.getArraySize())];
        for (int i = 0; i < blobs.length; i++) {
            org.graalvm.polyglot.Value part = parts.getArrayElement(i);
            if (!part.isHostObject() || !(part.asHostObject() instanceof Blob blob)) {
                throw new IllegalArgumentException("not a blob: " + part);
            }
            blobs[i] = blob;
        }
        return Blob.copyOf(buffer, raw, readOnce, blobs);
    }

    /**
     * The directory through which large pickles travel between contexts, created on first
     * use (in {@code /dev/shm} when the machine has it) and deleted with its files when the
     * JVM exits.
     *
     * @throws UncheckedIOException if the directory cannot be created
     */
    @HostAccess.Export
    public String transferDirectory() {
        return TransferDirectory.PATH;
    }

    /** Holder: the directory exists only once some context sends a large pickle. */
    private static final class TransferDirectory {
        static final String PATH = create();

        private static String create() {
            try {
                Path shm = Path.of("/dev/shm");
                Path dir = Files.isDirectory(shm) && Files.isWritable(shm)
                        ? Files.createTempDirectory(shm, "polypool-")
                        : Files.createTempDirectory("polypool-");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(dir)));
                dev.polypool.engine.Log.SYNC.debug(() -> "spill files (pickles over "
                        + dev.polypool.engine.Protocol.SPILL_BYTES + " bytes) go to " + dir);
                return dir.toString();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private static void deleteTree(Path dir) {
            try (Stream<Path> files = Files.list(dir)) {
                files.forEach(f -> f.toFile().delete());
            } catch (IOException | UncheckedIOException ignored) {
                // best effort at exit
            }
            dir.toFile().delete();
        }
    }

    /** The semaphore with this handle, or null if no context holds it any more. */
    @HostAccess.Export
    public SharedSemaphore lookup(long handle) {
        WeakReference<SharedSemaphore> ref = semaphores.get(handle);
        return ref == null ? null : ref.get();
    }

    /**
     * A new block of {@code size} zeroed bytes of native memory shared by the contexts that hold it.
     *
     * @throws IllegalArgumentException if {@code size} is negative
     */
    @HostAccess.Export
    public SharedBuffer newBuffer(long size) {
        long handle = nextHandle.incrementAndGet();
        SharedBuffer b = new SharedBuffer(handle, size);
        if (handle % 1024 == 0) {
            buffers.values().removeIf(ref -> ref.get() == null);
        }
        buffers.put(handle, new WeakReference<>(b));
        return b;
    }

    /** The block with this handle, or null if no context holds it any more. */
    @HostAccess.Export
    public SharedBuffer lookupBuffer(long handle) {
        WeakReference<SharedBuffer> ref = buffers.get(handle);
        return ref == null ? null : ref.get();
    }

    /** POSIX shared memory by name; see {@link NamedSharedMemory#open}. */
    @HostAccess.Export
    public Object openSharedMemory(String name, boolean create, long size) {
        Object program = null;
        try {
            program = contextPrograms.get(Context.getCurrent());
        } catch (IllegalStateException notInAContext) {
            // a Java caller: the block is cleaned up when the JVM exits
        }
        return namedMemory.open(name, create, size, program);
    }

    /**
     * The program whose contexts were {@linkplain #attach attached} with {@code program}
     * has ended: unlinks the shared memory blocks they opened and left linked, with the
     * warning CPython's resource tracker prints, to {@code err}.
     */
    public void programEnded(Object program, java.io.PrintStream err) {
        namedMemory.release(program, err);
    }

    /** A mapping of POSIX shared memory by handle; see {@link NamedSharedMemory#lookup}. */
    @HostAccess.Export
    public SharedBuffer lookupSharedMemory(long handle) {
        return namedMemory.lookup(handle);
    }

    /** Removes a POSIX shared memory name; 0 or an errno. */
    @HostAccess.Export
    public int unlinkSharedMemory(String name) {
        return namedMemory.unlink(name);
    }

    /**
     * A listener at {@code address} owned by the calling thread, or null if a live listener
     * already has that address.
     */
    @HostAccess.Export
    public ChannelListener newListener(String address) {
        // a manager's server never closes its listener: drop those whose process has ended
        listeners.values().removeIf(l -> !l.open());
        ChannelListener fresh = new ChannelListener(address);
        ChannelListener current = listeners.compute(address,
                (key, old) -> old != null && old.open() ? old : fresh);
        return current == fresh ? fresh : null;
    }

    /** A connection to the listener at {@code address} for the calling thread, or null if none listens there. */
    @HostAccess.Export
    public SharedChannel.End connect(String address) {
        ChannelListener listener = listeners.get(address);
        return listener == null ? null : listener.connect();
    }

    void forgetListener(ChannelListener listener) {
        listeners.remove(listener.address(), listener);
    }

    // ---- pipes, sentinels and waiting

    /**
     * Gives {@code context} a handle table of its own, published to it as
     * {@code polyglot.import_value("polypool.handles")}; {@link #detach} closes it.
     *
     * @param program what the context's program is known by (its bridge), for
     *                {@link #programEnded}; null for none
     */
    public void attach(Context context, Object program) {
        HandleTable table = new HandleTable(false);
        context.getPolyglotBindings().putMember("polypool.handles", table);
        contextHandles.put(context, table);
        if (program != null) {
            contextPrograms.put(context, program);
        }
    }

    /** Closes every pipe handle {@code context} held: call once the context is closed. */
    public void detach(Context context) {
        contextPrograms.remove(context);
        HandleTable table = contextHandles.remove(context);
        if (table != null) {
            table.closeAll();
        }
        List<Runnable> actions = detachActions.remove(context);
        if (actions != null) {
            actions.forEach(Runnable::run);
        }
    }

    private final Map<Context, List<Runnable>> detachActions = new ConcurrentHashMap<>();

    /**
     * Runs {@code action} when {@code context} is {@linkplain #detach detached}: for what a
     * context holds outside Python (open SQLite databases) and must release with it.
     */
    public void onDetach(Context context, Runnable action) {
        detachActions.computeIfAbsent(context, c -> new CopyOnWriteArrayList<>()).add(action);
    }

    /** A new transit table: the pipe handles a child being started inherits (see {@link HandleTable}). */
    @HostAccess.Export
    public HandleTable newHandleTable() {
        return new HandleTable(true);
    }

    /**
     * A copy of {@code handle} owned by no table, for a context that will
     * {@linkplain HandleTable#adopt adopt} it (a connection sent through a queue or a pipe);
     * null if {@code handle} is closed.
     */
    @HostAccess.Export
    public PipeHandle transfer(PipeHandle handle) {
        return handle.pipe().duplicate(handle);
    }

    /** The open pipe handle numbered {@code fd}, or null. */
    @HostAccess.Export
    public PipeHandle pipeHandle(int fd) {
        return openHandles.get(fd);
    }

    /** The open pipe handle or live sentinel numbered {@code fd}, or null. */
    @HostAccess.Export
    public Waitable waitable(int fd) {
        PipeHandle handle = openHandles.get(fd);
        if (handle != null) {
            return handle;
        }
        WeakReference<Sentinel> ref = sentinels.get(fd);
        return ref == null ? null : ref.get();
    }

    /**
     * Waits until at least one of {@code items} is ready, or {@code timeoutSeconds} have
     * passed, or the calling thread is interrupted (its interrupt status is kept).
     *
     * @return the indices in {@code items} of those that are ready, in order; empty if none
     */
    @HostAccess.Export
    public int[] awaitReady(List<Waitable> items, double timeoutSeconds) {
        Waiter waiter = new Waiter();
        for (Waitable w : items) {
            w.addWaiter(waiter);
        }
        try {
            long deadline = System.nanoTime() + (long) (Math.max(0, timeoutSeconds) * 1e9);
            while (true) {
                int[] ready = readyIndices(items);
                long left = deadline - System.nanoTime();
                if (ready.length > 0 || left <= 0 || !waiter.await(left)) {
                    return ready.length > 0 ? ready : readyIndices(items);
                }
            }
        } finally {
            for (Waitable w : items) {
                w.removeWaiter(waiter);
            }
        }
    }

    private static int[] readyIndices(List<Waitable> items) {
        int[] ready = new int[items.size()];
        int n = 0;
        for (int i = 0; i < ready.length; i++) {
            if (items.get(i).isReady()) {
                ready[n++] = i;
            }
        }
        return java.util.Arrays.copyOf(ready, n);
    }

    int registerHandle(PipeHandle handle) {
        int fd = nextFd.getAndIncrement();
        openHandles.put(fd, handle);
        return fd;
    }

    void unregisterHandle(int fd) {
        openHandles.remove(fd);
    }

    int registerSentinel(Sentinel sentinel) {
        int fd = nextFd.getAndIncrement();
        if (fd % 1024 == 0) {
            sentinels.values().removeIf(ref -> ref.get() == null);
        }
        sentinels.put(fd, new WeakReference<>(sentinel));
        return fd;
    }
}
