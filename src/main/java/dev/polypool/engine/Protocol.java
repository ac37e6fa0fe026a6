package dev.polypool.engine;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.graalvm.polyglot.proxy.ProxyObject;

import dev.polypool.sync.SharedPipe;
import dev.polypool.sync.SharedSemaphore;
import dev.polypool.sync.SyncServices;

/**
 * The wire protocol between the engine and polypool's Python modules, defined here once.
 * Every public constant of this class is published to every context as a member of
 * {@code polyglot.import_value("polypool.protocol")}, which {@code polypool/protocol.py}
 * reads once; Java code uses the constants directly. See {@code docs/architecture.md}.
 */
public final class Protocol {
    // ---- task kinds: how polypool.worker applies a task's function to its payload

    /** Payload {@code (args, kwds)}: one call {@code f(*args, **kwds)}. */
    public static final int APPLY = 0;
    /** Payload {@code [x, ...]}: {@code [f(x), ...]}, a chunk of {@code map}. */
    public static final int MAP = 1;
    /** Payload {@code [args, ...]}: {@code [f(*args), ...]}, a chunk of {@code starmap}. */
    public static final int STARMAP = 2;
    /** Payload {@code x}: {@code f(x)}. */
    public static final int CALL = 3;
    /** Payload {@code args}: {@code f(*args)}; the one kind of {@code polypool.embed}. */
    public static final int STARCALL = 4;

    // ---- outcome statuses. A worker that returns text starts it with the digit of its
    // status ('0' OK, '1' RAISED, '2' PLAIN); any other value it returns is PLAIN.

    /** The payload is the pickled result (or for the Java API, the converted result). */
    public static final int OK = 0;
    /** The payload is the pickled exception the task raised (for the Java API, a {@code PythonException}). */
    public static final int RAISED = 1;
    /** The payload is the result itself, a plain value (see {@link Task#plain()}). */
    public static final int PLAIN = 2;
    /** The task was lost with its worker, or its pool is broken; the payload is a message. */
    public static final int LOST = 3;

    // ---- marks of encoded values

    /** Starts a function reference that is the pickled function itself, not {@code "module:qualname"}. */
    public static final String BY_VALUE = "!";
    /** Pipe messages larger than this many bytes cross in a file of the transfer directory. */
    public static final int SPILL_BYTES = 1 << 20;

    // ---- start methods, CPython's names; the first is the default

    /** The start methods, in CPython's order; {@code "fork"} is the default, as on Linux. */
    public static final List<String> START_METHODS = List.of("fork", "spawn", "forkserver");

    // ---- SemLock (dev.polypool.sync.SharedSemaphore)

    /** Kind of a recursive mutex ({@code multiprocessing.synchronize.RECURSIVE_MUTEX}). */
    public static final int RECURSIVE_MUTEX = SharedSemaphore.RECURSIVE_MUTEX;
    /** Kind of a counting semaphore ({@code multiprocessing.synchronize.SEMAPHORE}). */
    public static final int SEMAPHORE = SharedSemaphore.SEMAPHORE;
    /** Release result: released. */
    public static final int RELEASED = SharedSemaphore.RELEASED;
    /** Release result: a recursive mutex released by a thread that does not own it. */
    public static final int NOT_OWNER = SharedSemaphore.NOT_OWNER;
    /** Release result: a bounded semaphore released above its maximum. */
    public static final int TOO_MANY_RELEASES = SharedSemaphore.TOO_MANY_RELEASES;

    // ---- pipe ends (dev.polypool.sync.PipeHandle): what send, recv and poll return

    /** Nothing to read yet (recv, poll). */
    public static final int PIPE_EMPTY = SharedPipe.EMPTY;
    /** End of file: every writer is closed (recv, poll). */
    public static final int PIPE_EOF = SharedPipe.EOF;
    /** The message is longer than the reader's limit (recv). */
    public static final int PIPE_TOO_LONG = SharedPipe.TOO_LONG;
    /** This handle is closed. */
    public static final int PIPE_CLOSED = SharedPipe.CLOSED;
    /** No open handle of the other end is left (send). */
    public static final int PIPE_BROKEN = SharedPipe.BROKEN;
    /** A message is ready (poll). */
    public static final int PIPE_READY = SharedPipe.READY;
    /** The first number of a pipe handle or sentinel, which {@code multiprocessing.connection.wait} takes as a descriptor. */
    public static final int FIRST_FD = SyncServices.FIRST_FD;

    // ---- value tokens of the Java API (dev.polypool.Conversions, polypool/embed.py)

    /** Token tags: a value converted between Java and Python is a tag, then what it announces. */
    public static final int TAG_NONE = 0, TAG_TRUE = 1, TAG_FALSE = 2, TAG_INT = 3, TAG_BIGINT = 4, TAG_FLOAT = 5,
            TAG_STR = 6, TAG_BYTES = 7, TAG_LIST = 8, TAG_DICT = 9;
    /**
     * Token tags of a list of numbers converted in bulk: the 64-bit integers or doubles in this
     * machine's byte order follow, as one Latin-1 string from Java or one {@code bytes} from Python.
     */
    public static final int TAG_INTS = 10, TAG_FLOATS = 11;
    /** Token tag of a result that is an exception: type name, message, traceback follow. */
    public static final int TAG_RAISED = 20;
    /** Token tag of a result that does not convert to a Java value: the reason follows. */
    public static final int TAG_UNCONVERTIBLE = 21;

    /** The binding under which every context finds these constants. */
    static final String BINDING = "polypool.protocol";

    private static final ProxyObject PUBLISHED = ProxyObject.fromMap(constants());

    private Protocol() {
    }

    /** The object published as {@link #BINDING}: one member per public constant. */
    static ProxyObject published() {
        return PUBLISHED;
    }

    private static Map<String, Object> constants() {
        Map<String, Object> map = new LinkedHashMap<>();
        try {
            for (Field f : Protocol.class.getFields()) {
                if (Modifier.isStatic(f.getModifiers())) {
                    Object value = f.get(null);
                    map.put(f.getName(), value instanceof List<?> list ? list.toArray() : value);
                }
            }
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
        return map;
    }
}
