package dev.polypool;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import java.util.stream.Stream;

import javax.management.MBeanServer;
import javax.management.ObjectName;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Every call, conversion and failure path of the Java embedding API. */
@Timeout(300)
class PythonPoolTest {
    static final String TOOLS = """
            import enum, os, time, multiprocessing
            class Color(enum.IntEnum):
                RED = 1
            class MyError(Exception):
                pass
            def echo(*args):
                return args
            def one(x):
                return x
            def kinds(*args):
                return [type(a).__name__ for a in args]
            def keywords(*args, **kwargs):
                return [list(args), kwargs]
            def one_or_fail(x):
                if x < 0:
                    raise ValueError(str(x))
                return x
            def element_kinds(xs):
                return [type(xs).__name__] + sorted({type(x).__name__ for x in xs})
            def add(a, b):
                return a + b
            def fail(message):
                raise MyError(message)
            def a_set():
                return {1}
            def color():
                return Color.RED
            def spin():
                while True:
                    pass
            def nap(seconds, value):
                time.sleep(seconds)
                return value
            _state = []
            def init(x, y):
                _state.append((x, y))
            def state():
                return _state
            def pid():
                return os.getpid()
            def whoami():
                return multiprocessing.current_process().name, multiprocessing.get_start_method()
            def bad_init():
                raise RuntimeError("no database")
            """;
    static final long WAIT = 120;

    static PythonPool pool;

    @BeforeAll
    static void start() {
        pool = PythonPool.builder().workers(2).source("tools", TOOLS).build();
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    static PythonFunction<Object> fn(String name) {
        return PythonFunction.of("tools:" + name);
    }

    static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(WAIT, TimeUnit.SECONDS);
    }

    static Throwable failure(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(WAIT, TimeUnit.SECONDS));
        return e.getCause();
    }

    @Test
    void submitCallsAFunctionByNameAndByHandle() throws Exception {
        assertEquals(5L, get(pool.submit("tools:add", 2, 3)));
        assertEquals("ab", get(pool.submit(fn("add"), "a", "b")));
        assertEquals(120L, get(pool.submit("math:factorial", 5)));
        assertEquals(List.of(), get(pool.submit(fn("echo"))));
    }

    @Test
    void plainArgumentsArriveAsPythonTypes() throws Exception {
        assertEquals(List.of("bool", "int", "int", "int", "int", "float", "float", "str"),
                get(pool.submit(fn("kinds"), true, (byte) 1, (short) 2, 3, 4L, 1.5f, 2.5, "s")));
        assertEquals(List.of("NoneType", "int"), get(pool.submit(fn("kinds"), null, 1)));
        assertEquals(List.of("bytes", "list", "dict", "int"),
                get(pool.submit(fn("kinds"), new byte[] {1}, List.of(1), Map.of("a", 1), BigInteger.TEN.pow(30))));
    }

    @Test
    void valuesRoundTrip() throws Exception {
        byte[] allBytes = new byte[256];
        for (int i = 0; i < 256; i++) {
            allBytes[i] = (byte) i;
        }
        BigInteger big = BigInteger.TWO.pow(100).negate();
        List<Object> nested = Arrays.asList(1L, null, List.of("x", List.of()), Map.of("k", List.of(true)));
        List<Object> args = Arrays.asList(null, true, false, 7L, Long.MIN_VALUE, big, 2.0, -0.5, "héllo ☃", "",
                nested, Map.of(1L, "one", "two", 2.0));
        @SuppressWarnings("unchecked")
        List<Object> back = (List<Object>) get(pool.submit(fn("echo"), args.toArray()));
        assertEquals(args, back);
        assertInstanceOf(Double.class, back.get(6), "a Python float that is a whole number stays a Double");
        assertInstanceOf(BigInteger.class, back.get(5));
        byte[] bytes = (byte[]) get(pool.submit(fn("one"), (Object) allBytes));
        assertArrayEquals(allBytes, bytes);
        assertEquals(2.0, get(pool.submit(fn("one"), 2.0)));
        assertEquals(3L, get(pool.submit(fn("one"), 3)));
        assertEquals(1L, get(pool.submit(fn("color"))), "an IntEnum converts as an int");
        assertEquals(List.of(1L, 2L), get(pool.submit("builtins:tuple", List.of(1, 2))));
        assertEquals(new BigInteger("1267650600228229401496703205376"), get(pool.submit("builtins:pow", 2, 100)));
    }

    @Test
    void bigListsArraysAndBuffersConvertInBulk() throws Exception {
        List<Long> longs = LongStream.range(-500, 500).map(i -> i * 1_000_000_007L).boxed().toList();
        assertEquals(longs, get(pool.submit(fn("one"), longs)));
        List<Double> doubles = LongStream.range(0, 100).mapToObj(i -> i / 3.0).toList();
        assertEquals(doubles, get(pool.submit(fn("one"), doubles)));
        // a Python list of Python ints or floats, whichever way it came
        assertEquals(List.of("list", "int"),
                get(pool.submit(fn("element_kinds"), java.util.stream.IntStream.range(0, 20).boxed().toList())));
        assertEquals(List.of("list", "float"), get(pool.submit(fn("element_kinds"), doubles)));
        assertEquals(List.of("list", "int"), get(pool.submit(fn("element_kinds"), new long[] {1, 2})));
        assertEquals(List.of("list", "float"), get(pool.submit(fn("element_kinds"), new float[] {1, 2})));
        assertEquals(List.of("list", "list", "list", "list", "list", "bytes"),
                get(pool.submit(fn("kinds"), new long[] {1, 2}, new int[] {3}, new short[0], new double[] {0.5},
                        new float[] {1.5f}, java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3}))));
        assertEquals(List.of(List.of(1L, Long.MAX_VALUE), List.of(-3L), List.of(0.5, 1.5)),
                get(pool.submit(fn("echo"), new long[] {1, Long.MAX_VALUE}, new int[] {-3}, new double[] {0.5, 1.5})));
        java.nio.ByteBuffer buffer = java.nio.ByteBuffer.wrap(new byte[] {9, 8, 7, 6});
        buffer.position(1);
        assertArrayEquals(new byte[] {8, 7, 6}, (byte[]) get(pool.submit(fn("one"), buffer)));
        assertEquals(1, buffer.position(), "the buffer's position stays");
        // mixed or unrepresentable lists go element by element, with their own types
        List<Object> mixed = new ArrayList<>(longs.subList(0, 20));
        mixed.add("x");
        assertEquals(mixed, get(pool.submit(fn("one"), mixed)));
        List<Object> huge = new ArrayList<>(longs.subList(0, 20));
        huge.add(BigInteger.TEN.pow(30));
        assertEquals(huge, get(pool.submit(fn("one"), huge)));
        // typed: a long[] or double[] result
        assertArrayEquals(new long[] {0, 1, 2, 3}, get(pool.submit(PythonFunction.of("builtins:list")
                .returning(long[].class), new long[] {0, 1, 2, 3})));
        assertArrayEquals(new double[] {0.5, 2.0}, get(pool.submit(PythonFunction.of("builtins:list")
                .returning(double[].class), List.of(0.5, 2L))), 0.0);
        assertInstanceOf(PythonConversionException.class, failure(pool.submit(PythonFunction.of("builtins:list")
                .returning(long[].class), List.of(1, "x"))));
    }

    @Test
    void typedResults() throws Exception {
        assertEquals(Long.valueOf(9), get(pool.submit(fn("add").returning(Long.class), 4, 5)));
        Integer asInt = get(pool.submit(fn("add").returning(Integer.class), 4, 5));
        assertEquals(9, asInt);
        assertEquals(BigInteger.valueOf(9), get(pool.submit(fn("add").returning(BigInteger.class), 4, 5)));
        assertEquals("ab", get(pool.submit(fn("add").returning(String.class), "a", "b")));
        Throwable wrong = failure(pool.submit(fn("add").returning(String.class), 1, 2));
        assertInstanceOf(PythonConversionException.class, wrong);
        assertTrue(wrong.getMessage().contains("java.lang.String"), wrong.getMessage());
        assertInstanceOf(PythonConversionException.class,
                failure(pool.submit(fn("add").returning(Integer.class), 1L << 40, 0)));
    }

    @Test
    void unconvertibleValuesFailClearly() throws Exception {
        PythonConversionException arg = assertThrows(PythonConversionException.class,
                () -> pool.submit(fn("one"), new Object()));
        assertTrue(arg.getMessage().contains("java.lang.Object"), arg.getMessage());
        List<Object> selfish = new ArrayList<>();
        selfish.add(selfish);
        assertThrows(PythonConversionException.class, () -> pool.submit(fn("one"), selfish));
        Throwable result = failure(pool.submit(fn("a_set")));
        assertInstanceOf(PythonConversionException.class, result);
        assertEquals("cannot convert Python set to a Java value", result.getMessage());
    }

    @Test
    void pythonExceptionsCarryTypeMessageAndTraceback() throws Exception {
        PythonException e = assertInstanceOf(PythonException.class, failure(pool.submit(fn("fail"), "boom")));
        assertEquals("tools.MyError", e.pythonType());
        assertEquals("boom", e.pythonMessage());
        assertEquals("tools.MyError: boom", e.getMessage());
        assertTrue(e.pythonTraceback().startsWith("Traceback (most recent call last):"), e.pythonTraceback());
        assertTrue(e.pythonTraceback().contains("raise MyError(message)"), e.pythonTraceback());
        assertTrue(e.pythonTraceback().endsWith("tools.MyError: boom\n"), e.pythonTraceback());

        PythonException zero = assertInstanceOf(PythonException.class, failure(pool.submit("operator:truediv", 1, 0)));
        assertEquals("ZeroDivisionError", zero.pythonType());
        assertEquals("division by zero", zero.pythonMessage());
        assertEquals("ModuleNotFoundError",
                ((PythonException) failure(pool.submit("no_such_module:f"))).pythonType());
        assertEquals("AttributeError", ((PythonException) failure(pool.submit("tools:nothing"))).pythonType());
        assertThrows(IllegalArgumentException.class, () -> PythonFunction.of("not a name"));
        assertThrows(IllegalArgumentException.class, () -> PythonFunction.of("module_only"));
    }

    @Test
    void mapAndStarmapKeepInputOrder() throws Exception {
        List<Long> items = LongStream.range(0, 50).boxed().toList();
        PythonFunction<Long> square = PythonFunction.of("tools:add").returning(Long.class);
        List<List<?>> pairs = items.stream().<List<?>>map(i -> List.of(i, i)).toList();
        assertEquals(items.stream().map(i -> 2 * i).toList(), pool.starmap(square, pairs));
        assertEquals(items.stream().map(i -> "" + i).toList(),
                pool.map(PythonFunction.of("builtins:str").returning(String.class), items));
        assertEquals(List.of(), pool.map(fn("one"), List.of()));
    }

    @Test
    void mapThrowsTheFirstFailureInInputOrder() {
        PythonException e = assertThrows(PythonException.class,
                () -> pool.starmap(fn("add"), List.of(List.of(1, 2), List.of(1, "x"), List.of("y", 1))));
        assertEquals("TypeError", e.pythonType());
        assertTrue(e.pythonMessage().contains("int") && e.pythonMessage().contains("str"), e.pythonMessage());
        assertThrows(PythonConversionException.class, () -> pool.map(fn("one"), List.of(1, new Object())));
    }

    /** An endless input that counts how many items were read. */
    static Iterable<Long> counting(AtomicInteger reads) {
        return () -> new Iterator<>() {
            public boolean hasNext() {
                return true;
            }

            public Long next() {
                return (long) reads.incrementAndGet();
            }
        };
    }

    @Test
    void imapReadsInputLazilyInOrder() {
        AtomicInteger reads = new AtomicInteger();
        try (Stream<Long> s = pool.imap(fn("one").returning(Long.class), counting(reads))) {
            assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L), s.limit(7).toList());
        }
        assertTrue(reads.get() <= 7 + 2 * pool.workers(), "read " + reads.get() + " items");
        assertEquals(LongStream.range(0, 30).boxed().toList(),
                pool.imap(fn("one"), LongStream.range(0, 30).boxed().toList()).toList());
    }

    @Test
    void imapUnorderedReturnsEveryResult() {
        Set<Object> got = pool.imapUnordered(fn("one"), LongStream.range(0, 30).boxed().toList())
                .collect(Collectors.toSet());
        assertEquals(LongStream.range(0, 30).boxed().collect(Collectors.toSet()), got);
        AtomicInteger reads = new AtomicInteger();
        try (Stream<Long> s = pool.imapUnordered(fn("one").returning(Long.class), counting(reads))) {
            assertEquals(5, s.limit(5).count());
        }
        assertTrue(reads.get() <= 5 + 2 * pool.workers(), "read " + reads.get() + " items");
        PythonException e = assertThrows(PythonException.class,
                () -> pool.imapUnordered(fn("fail"), List.of("a")).toList());
        assertEquals("a", e.pythonMessage());
    }

    @Test
    void manyThreadsSubmitAtOnce() throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(8);
        try {
            List<Future<List<Long>>> perThread = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                long base = t * 1000L;
                perThread.add(threads.submit(() -> {
                    List<CompletableFuture<Long>> fs = new ArrayList<>();
                    for (long i = 0; i < 40; i++) {
                        fs.add(pool.submit(fn("add").returning(Long.class), base, i));
                    }
                    List<Long> out = new ArrayList<>();
                    for (CompletableFuture<Long> f : fs) {
                        out.add(f.get(WAIT, TimeUnit.SECONDS));
                    }
                    return out;
                }));
            }
            for (int t = 0; t < 8; t++) {
                long base = t * 1000L;
                assertEquals(LongStream.range(0, 40).map(i -> base + i).boxed().toList(),
                        perThread.get(t).get(WAIT, TimeUnit.SECONDS));
            }
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void timeoutStopsTheCallAndTheWorkerIsReplaced() throws Exception {
        try (PythonPool one = PythonPool.builder().workers(1).source("tools", TOOLS).build()) {
            CompletableFuture<Object> spinning = one.submit(fn("spin").withTimeout(Duration.ofSeconds(3)));
            assertInstanceOf(TimeoutException.class, failure(spinning));
            // the single worker was stopped and replaced, or this would never complete
            assertEquals(3L, get(one.submit(fn("add"), 1, 2)));
            CompletionException e = assertThrows(CompletionException.class,
                    () -> one.starmap(fn("spin").withTimeout(Duration.ofSeconds(2)), List.of(List.of())));
            assertInstanceOf(TimeoutException.class, e.getCause());
        }
    }

    @Test
    void cancelStopsRunningPythonCode() throws Exception {
        try (PythonPool one = PythonPool.builder().workers(1).source("tools", TOOLS).build()) {
            assertEquals(1L, get(one.submit(fn("one"), 1))); // the worker is up
            CompletableFuture<Object> spinning = one.submit(fn("spin"));
            CompletableFuture<Object> queued = one.submit(fn("one"), 2);
            Thread.sleep(1000);
            assertTrue(spinning.cancel(true));
            assertThrows(CancellationException.class, spinning::join);
            assertEquals(2L, get(queued));
            CompletableFuture<Object> waiting = one.submit(fn("nap"), 1.0, "late");
            CompletableFuture<Object> neverStarts = one.submit(fn("one"), 3);
            assertTrue(neverStarts.cancel(false));
            assertEquals("late", get(waiting));
            assertEquals(4L, get(one.submit(fn("one"), 4)));
        }
    }

    @Test
    void closeFinishesQueuedCallsAndRejectsNewOnes() throws Exception {
        PythonPool one = PythonPool.builder().workers(1).source("tools", TOOLS).build();
        List<CompletableFuture<Object>> fs = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            fs.add(one.submit(fn("nap"), 0.1, (long) i));
        }
        one.close();
        assertTrue(one.isShutdown());
        for (int i = 0; i < 5; i++) {
            assertTrue(fs.get(i).isDone());
            assertEquals((long) i, fs.get(i).join());
        }
        assertThrows(RejectedExecutionException.class, () -> one.submit(fn("one"), 1));
        one.close(); // idempotent
    }

    @Test
    void aDependentStageCannotCloseThePoolUnderItself() throws Exception {
        // the call takes long enough for the stage to be added before it completes
        CompletableFuture<Throwable> refused = pool.submit(fn("nap"), 1.0, 1).handle((r, e) -> {
            try {
                pool.close();
                return null;
            } catch (IllegalStateException expected) {
                return expected;
            }
        });
        Throwable t = refused.get(WAIT, TimeUnit.SECONDS);
        assertInstanceOf(IllegalStateException.class, t);
        assertEquals(7L, get(pool.submit(fn("one"), 7)), "the pool is still open");
    }

    @Test
    void shutdownNowStopsRunningAndQueuedCalls() throws Exception {
        PythonPool one = PythonPool.builder().workers(1).source("tools", TOOLS).build();
        assertEquals(1L, get(one.submit(fn("one"), 1)));
        CompletableFuture<Object> spinning = one.submit(fn("spin"));
        CompletableFuture<Object> queued = one.submit(fn("one"), 2);
        Thread.sleep(500);
        one.shutdownNow();
        assertTrue(spinning.isCancelled());
        assertTrue(queued.isCancelled());
        assertThrows(RejectedExecutionException.class, () -> one.submit(fn("one"), 1));
        assertThrows(RejectedExecutionException.class, () -> one.imap(fn("one"), List.of(1)));
    }

    @Test
    void initializerAndModulesRunInEveryWorker(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("greeting.py"), "def hello(name):\n    return 'hello ' + name\n");
        try (PythonPool p = PythonPool.builder().workers(2).sourceDirectory(dir).source("tools", TOOLS)
                .modules("greeting", "json").initializer(fn("init"), "db", List.of(1, 2)).startMethod("spawn")
                .warmContexts(1).build()) {
            assertEquals("hello you", get(p.submit("greeting:hello", "you")));
            List<Object> expected = List.of(List.of("db", List.of(1L, 2L)));
            for (Object state : p.starmap(fn("state"), java.util.Collections.nCopies(8, List.of()))) {
                assertEquals(expected, state);
            }
            @SuppressWarnings("unchecked")
            List<Object> who = (List<Object>) get(p.submit(fn("whoami")));
            assertTrue(((String) who.get(0)).startsWith("PythonPoolWorker-"), who.toString());
            assertEquals("spawn", who.get(1));
        }
    }

    @Test
    void failingInitializerBreaksThePool() throws Exception {
        try (PythonPool p = PythonPool.builder().workers(1).source("tools", TOOLS).initializer(fn("bad_init")).build()) {
            PythonException e = assertInstanceOf(PythonException.class, failure(p.submit(fn("one"), 1)));
            assertEquals(PythonException.WORKER_LOST, e.pythonType());
            assertTrue(e.pythonMessage().contains("no database"), e.pythonMessage());
        }
    }

    @Test
    void maxTasksPerWorkerReplacesWorkers() throws Exception {
        try (PythonPool p = PythonPool.builder().workers(1).maxTasksPerWorker(1).source("tools", TOOLS).build()) {
            Set<Object> pids = new HashSet<>();
            for (int i = 0; i < 3; i++) {
                pids.add(get(p.submit(fn("pid"))));
            }
            assertEquals(3, pids.size(), pids.toString());
        }
    }

    @Test
    void keywordArguments() throws Exception {
        assertEquals(List.of(List.of(1L), Map.of("sep", "-", "n", 2L)),
                get(pool.submit(fn("keywords"), List.of(1), Map.of("sep", "-", "n", 2))));
        PythonFunction<Object> withSep = fn("keywords").withKeywords(Map.of("sep", "-"));
        assertEquals(Map.of("sep", "-"), withSep.keywords());
        // a name given again takes the new value, as functools.partial
        assertEquals(List.of(List.of(), Map.of("sep", "+")),
                get(pool.submit(withSep, List.of(), Map.of("sep", "+"))));
        assertEquals(List.of(List.of(), Map.of("sep", "-")), get(pool.submit(withSep)));
        // map, chunked or not, starmap and imap pass them to every call
        List<Object> expected = List.of(List.of(List.of(7L), Map.of("sep", "-")), List.of(List.of(8L), Map.of("sep", "-")));
        assertEquals(expected, pool.map(withSep, List.of(7, 8), 2, null));
        assertEquals(expected, pool.map(withSep, List.of(7, 8), 1, null));
        assertEquals(expected, pool.starmap(withSep, List.of(List.of(7), List.of(8))));
        assertEquals(expected, pool.imap(withSep, List.of(7, 8)).toList());
        PythonException bad = assertInstanceOf(PythonException.class,
                failure(pool.submit(fn("add"), List.of(1), Map.of("c", 2))));
        assertEquals("TypeError", bad.pythonType());
        assertThrows(PythonConversionException.class, () -> fn("one").withKeywords(Map.of("x", new Object())));
        Map<String, Object> nullName = new java.util.HashMap<>();
        nullName.put(null, 1);
        assertThrows(NullPointerException.class, () -> fn("one").withKeywords(nullName));
    }

    @Test
    void mapInChunksKeepsOrderFailuresAndReportsProgress() throws Exception {
        PythonFunction<Long> twice = PythonFunction.of("tools:add").returning(Long.class);
        List<Long> items = LongStream.range(0, 103).boxed().toList();
        List<long[]> reports = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Long> doubled = pool.starmap(twice, items.stream().<List<?>>map(i -> List.of(i, i)).toList(), 10,
                (done, total) -> reports.add(new long[] {done, total}));
        assertEquals(items.stream().map(i -> 2 * i).toList(), doubled);
        assertEquals(11, reports.size(), "one report per chunk");
        for (int i = 0; i < reports.size(); i++) {
            assertEquals(103, reports.get(i)[1]);
            assertTrue(i == 0 || reports.get(i)[0] > reports.get(i - 1)[0], "done grows");
        }
        assertEquals(103, reports.get(reports.size() - 1)[0]);
        // results typed per element; the first failure in input order, also within a chunk
        assertEquals(List.of("0", "1", "2"), pool.map(PythonFunction.of("builtins:str").returning(String.class),
                List.of(0, 1, 2), 2, null));
        PythonException e = assertThrows(PythonException.class, () -> pool.map(fn("one_or_fail"),
                List.of(0, 1, 2, -3, 4, -5), 2, null));
        assertEquals("-3", e.pythonMessage());
        assertInstanceOf(PythonConversionException.class, assertThrows(PythonConversionException.class,
                () -> pool.map(PythonFunction.of("builtins:str").returning(Long.class), List.of(1, 2, 3), 3, null)));
        assertThrows(IllegalArgumentException.class, () -> pool.map(fn("one"), List.of(1), -1, null));
        List<long[]> none = new ArrayList<>();
        assertEquals(List.of(), pool.map(fn("one"), List.of(), 0, (d, t) -> none.add(new long[] {d, t})));
        assertArrayEquals(new long[] {0, 0}, none.get(0));
    }

    @Test
    void imapReportsProgressAndItsEnd() {
        List<long[]> reports = new java.util.concurrent.CopyOnWriteArrayList<>();
        Iterable<Integer> lazy = () -> List.of(1, 2, 3).iterator(); // not a Collection: no total
        assertEquals(List.of(1L, 2L, 3L), pool.imap(fn("one"), lazy, (d, t) -> reports.add(new long[] {d, t})).toList());
        assertArrayEquals(new long[] {3, 3}, reports.get(reports.size() - 1));
        assertTrue(reports.subList(0, reports.size() - 1).stream().allMatch(r -> r[1] == -1));
        reports.clear();
        assertEquals(List.of(1L, 2L), pool.imap(fn("one"), List.of(1, 2), (d, t) -> reports.add(new long[] {d, t}))
                .toList());
        assertTrue(reports.stream().allMatch(r -> r[1] == 2));
        assertEquals(2, reports.get(reports.size() - 1)[0]);
    }

    @Test
    void asExecutorServiceRunsPythonCallsOnTheWorkers() throws Exception {
        ExecutorService executor = pool.asExecutorService();
        List<java.util.concurrent.Callable<Object>> calls = List.of(pool.callable(fn("add"), 1, 2),
                pool.callable(fn("add"), "a", "b"), () -> "java");
        List<Future<Object>> done = executor.invokeAll(calls, WAIT, TimeUnit.SECONDS);
        assertEquals(List.of(3L, "ab", "java"), List.of(done.get(0).get(), done.get(1).get(), done.get(2).get()));
        // a PythonCall is a Callable anywhere; its failure is the call's
        assertEquals(5L, pool.callable(fn("add"), 2, 3).call());
        Future<Object> failed = executor.submit(pool.callable(fn("fail"), "boom"));
        ExecutionException e = assertThrows(ExecutionException.class, () -> failed.get(WAIT, TimeUnit.SECONDS));
        assertEquals("boom", ((PythonException) e.getCause()).pythonMessage());
        assertEquals("x", executor.invokeAny(List.of(pool.callable(fn("one"), "x")), WAIT, TimeUnit.SECONDS));
        // cancel(true) stops the Python code; the worker is replaced and the pool goes on
        Future<Object> spinning = executor.submit(pool.callable(fn("spin")));
        assertTrue(spinning.cancel(true));
        assertThrows(CancellationException.class, () -> spinning.get(WAIT, TimeUnit.SECONDS));
        assertEquals(4L, get(pool.submit(fn("add"), 2, 2)));
        AtomicInteger ran = new AtomicInteger();
        executor.execute(ran::incrementAndGet);
        executor.shutdown();
        assertTrue(executor.awaitTermination(WAIT, TimeUnit.SECONDS));
        assertTrue(executor.isTerminated());
        assertEquals(1, ran.get());
        assertThrows(RejectedExecutionException.class, () -> executor.submit(pool.callable(fn("one"), 1)));
        assertEquals(1L, get(pool.submit(fn("one"), 1)), "the pool outlives its view");
    }

    @Test
    void statsCountCallsPerWorkerAndTheMBeanShowsThem() throws Exception {
        ObjectName name = new ObjectName("dev.polypool:type=PythonPool,name=\"stats test\"");
        try (PythonPool p = PythonPool.builder().name("stats test").workers(2).maxTasksPerWorker(4)
                .source("tools", TOOLS).build()) {
            assertEquals("stats test", p.name());
            assertThrows(IllegalStateException.class, () -> PythonPool.builder().name("stats test").build());
            assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L), p.map(fn("one").returning(Long.class),
                    List.of(1, 2, 3, 4, 5, 6, 7, 8, 9), 1, null));
            assertInstanceOf(PythonException.class, failure(p.submit(fn("fail"), List.of("boom"))));
            PoolStatistics s = p.stats();
            assertEquals("stats test", s.name());
            assertEquals(2, s.workers());
            assertEquals(10, s.tasksSubmitted());
            assertEquals(9, s.tasksDone());
            assertEquals(1, s.tasksFailed());
            assertEquals(0, s.tasksLost());
            assertEquals(0, s.queued());
            assertEquals(10L, s.tasksPerWorker().values().stream().mapToLong(Long::longValue).sum());
            // 4 calls a worker: at least two workers were replaced after 10 calls
            assertTrue(s.workerReplacements() >= 2, s.summary());
            assertTrue(s.working().compareTo(Duration.ZERO) > 0, s.summary());
            assertTrue(s.encoding().compareTo(Duration.ZERO) > 0, s.summary()); // the List argument
            assertTrue(s.summary().contains("10 submitted, 9 done, 1 failed, 0 lost"), s.summary());

            MBeanServer server = ManagementFactory.getPlatformMBeanServer();
            assertEquals(9L, server.getAttribute(name, "TasksDone"));
            assertEquals(1L, server.getAttribute(name, "TasksFailed"));
            assertEquals(2, server.getAttribute(name, "Workers"));
            assertInstanceOf(javax.management.openmbean.TabularData.class, server.getAttribute(name, "TasksPerWorker"));
            assertTrue(server.isRegistered(name));
        }
        assertTrue(!ManagementFactory.getPlatformMBeanServer().isRegistered(name), "unregistered once closed");
    }

    @Test
    void builderRejectsBadSettings() {
        assertThrows(IllegalArgumentException.class, () -> PythonPool.builder().workers(0));
        assertThrows(IllegalArgumentException.class, () -> PythonPool.builder().startMethod("vfork"));
        assertThrows(IllegalArgumentException.class, () -> PythonPool.builder().maxTasksPerWorker(-1));
        assertThrows(IllegalArgumentException.class, () -> PythonPool.builder().warmContexts(-1));
        assertThrows(IllegalArgumentException.class, () -> PythonPool.builder().name(" "));
        assertThrows(IllegalArgumentException.class, () -> PythonPool.builder().sourceDirectory(Path.of("/no/such/dir")));
        assertThrows(IllegalArgumentException.class, () -> PythonPool.builder().source("bad name", ""));
        assertThrows(PythonConversionException.class,
                () -> PythonPool.builder().initializer(fn("init"), new Object()));
        assertThrows(IllegalArgumentException.class, () -> fn("one").withTimeout(Duration.ZERO));
        assertNotEquals(fn("one").returning(Long.class).resultType(), fn("one").resultType());
    }
}
