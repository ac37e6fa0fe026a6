package dev.polypool;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import dev.polypool.cluster.ClusterClient;
import dev.polypool.cluster.ClusterSettings;
import dev.polypool.cluster.MemberMain;

/**
 * {@link PythonPool.Builder#cluster}: pools whose workers run on members embedded in this
 * JVM (each a Hazelcast member on a free loopback port, with one worker): results as a local
 * pool's, in order; the handshake; a member stopped under a running map; no member left; bad
 * arguments.
 */
@Timeout(600)
class PythonPoolClusterTest {
    static final String SECRET = "java-api-secret";
    static final String NAME = "junit-api-" + ProcessHandle.current().pid();
    // a module in a source directory: it reaches the members as a file
    static final String TOOLS = """
            import multiprocessing, time
            G = None
            def square(x):
                return x * x
            def describe(x):
                return [x, str(x), {"k": x, "half": x / 2}, x * 2 ** 70, (x, -x), None, x % 2 == 0]
            def scaled(x, factor=1):
                return x * factor
            def nap(seconds, x, log=None):
                if log:  # the item, and where this module is: each member has a cache of its own
                    with open(log, "a") as f:
                        f.write(f"{x} {__file__}\\n")
                time.sleep(seconds)
                return x
            def fail(log):
                with open(log, "a") as f:
                    f.write("fail\\n")
                raise ValueError("raised on a member")
            def block(n):
                return bytes(range(n))
            def init(value):
                global G
                G = value
            def g():
                return [G, multiprocessing.get_start_method()]
            """;
    static final ByteArrayOutputStream memberLog = new ByteArrayOutputStream();
    static final PrintStream log = new PrintStream(memberLog, true);
    static Path sources;
    static InetSocketAddress firstAddress;
    static MemberMain.Running first;
    static MemberMain.Running second;

    static InetSocketAddress freeAddress() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return InetSocketAddress.createUnresolved("127.0.0.1", s.getLocalPort());
        }
    }

    static MemberMain.Running member(InetSocketAddress listen, List<InetSocketAddress> join, String name)
            throws Exception {
        return member(listen, join, name, Files.createTempDirectory("polypool-api-cluster-cache"));
    }

    static MemberMain.Running member(InetSocketAddress listen, List<InetSocketAddress> join, String name, Path cache)
            throws ClusterClient.Refused {
        return MemberMain.start(new MemberMain.Options(listen, join, 1), new ClusterSettings(name, SECRET), cache, log);
    }

    @BeforeAll
    static void startCluster() throws Exception {
        sources = Files.createTempDirectory("polypool-api-cluster-src");
        Files.writeString(sources.resolve("ctools.py"), TOOLS);
        firstAddress = freeAddress();
        first = member(firstAddress, List.of(), NAME);
        second = member(freeAddress(), List.of(firstAddress), NAME);
    }

    @AfterAll
    static void stopCluster() {
        if (second != null) {
            second.close();
        }
        if (first != null) {
            first.close();
        }
    }

    static PythonPool.Builder clusterPool() {
        return PythonPool.builder().cluster(List.of(firstAddress), NAME, SECRET).sourceDirectory(sources);
    }

    static <T> PythonFunction<T> f(String name, Class<T> type) {
        return PythonFunction.of("ctools:" + name).returning(type);
    }

    @Test
    void resultsAreThoseOfALocalPool() throws Exception {
        List<Integer> items = IntStream.range(0, 40).boxed().toList();
        PythonFunction<Object> describe = f("describe", Object.class);
        List<Object> local;
        try (PythonPool pool = PythonPool.builder().workers(1).sourceDirectory(sources).build()) {
            local = pool.map(describe, items);
        }
        try (PythonPool pool = clusterPool().build()) {
            assertEquals(2, pool.workers(), "one worker per worker of the two members");
            assertEquals(local, pool.map(describe, items));
            assertEquals(local, pool.map(describe, items, 1, null), "one call per task");
            assertEquals(local.subList(3, 4), List.of(pool.submit(describe, 3).get(60, TimeUnit.SECONDS)));
            List<Long> squares = items.stream().map(x -> (long) x * x).toList();
            assertEquals(squares, pool.map(f("square", Long.class), items, 3, null));
            assertEquals(List.of(20L, 6L), pool.starmap(f("scaled", Long.class), List.of(List.of(10, 2), List.of(3, 2))));
            assertEquals(List.of(30L), pool.map(f("scaled", Long.class).withKeywords(Map.of("factor", 3)), List.of(10)));
            assertEquals(BigInteger.valueOf(5).shiftLeft(70),
                    ((List<?>) pool.submit(describe, 5).get(60, TimeUnit.SECONDS)).get(3));
            assertArrayEquals(new byte[] {0, 1, 2, 3},
                    pool.submit(f("block", byte[].class), 4).get(60, TimeUnit.SECONDS));
            long[] ints = pool.submit(PythonFunction.of("builtins:list").returning(long[].class),
                    LongStream.rangeClosed(1, 20).toArray()).get(60, TimeUnit.SECONDS);
            assertArrayEquals(LongStream.rangeClosed(1, 20).toArray(), ints);
        }
    }

    @Test
    void resultsComeInInputOrder() throws Exception {
        // later items finish first: the order is the input's, not the completion order
        List<List<?>> calls = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            calls.add(List.of(0.01 * (12 - i), i));
        }
        List<Long> expected = IntStream.range(0, 12).mapToObj(i -> (long) i).toList();
        try (PythonPool pool = clusterPool().workers(3).build()) {
            assertEquals(3, pool.workers());
            assertEquals(expected, pool.starmap(f("nap", Long.class), calls, 1, null));
            List<Double> seconds = IntStream.range(0, 12).mapToObj(i -> 0.01 * (12 - i)).toList();
            Iterator<Double> delay = seconds.iterator();
            PythonFunction<Long> nap = f("nap", Long.class);
            try (Stream<Long> s = pool.imap(PythonFunction.of("builtins:int").returning(Long.class),
                    expected.stream().map(String::valueOf).toList())) {
                assertEquals(expected, s.toList());
            }
            List<CompletableFuture<Long>> futures = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                futures.add(pool.submit(nap, delay.next(), i));
            }
            for (int i = 0; i < 12; i++) {
                assertEquals(i, futures.get(i).get(60, TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void workersStartWithThePoolsSettings() throws Exception {
        try (PythonPool pool = clusterPool().workers(2).startMethod("spawn")
                .source("texttools", "def twice(x):\n    return 2 * x\n")
                .initializer(f("init", Object.class), "set by the initializer").build()) {
            // each of the two workers ran the initializer
            assertEquals(Collections.nCopies(6, List.of("set by the initializer", "spawn")),
                    pool.starmap(f("g", Object.class), Collections.nCopies(6, List.of()), 1, null));
            assertEquals(List.of("set by the initializer", "spawn"), pool.submit(f("g", Object.class)).get(60, TimeUnit.SECONDS));
            assertEquals(14L, pool.submit(PythonFunction.of("texttools:twice").returning(Long.class), 7)
                    .get(60, TimeUnit.SECONDS));
            PythonException e = assertThrows(PythonException.class, () -> pool.map(f("square", Long.class),
                    List.of(1, "x")));
            assertEquals("TypeError", e.pythonType());
            assertTrue(e.pythonTraceback().contains("ctools.py"), e.pythonTraceback());
        }
    }

    @Test
    void aCallOutOfTimeIsStoppedOnItsMember() throws Exception {
        try (PythonPool pool = clusterPool().workers(1).build()) {
            // the worker is up on its member: the next call runs at once, and runs out of time there
            assertEquals(4L, pool.submit(f("square", Long.class), 2).get(120, TimeUnit.SECONDS));
            CompletableFuture<Long> slow = pool.submit(f("nap", Long.class).withTimeout(Duration.ofSeconds(1)), 600, 1);
            ExecutionException e = assertThrows(ExecutionException.class, () -> slow.get(120, TimeUnit.SECONDS));
            assertInstanceOf(TimeoutException.class, e.getCause());
            // the only worker was closed on its member and replaced: the pool goes on
            assertEquals(9L, pool.submit(f("square", Long.class), 3).get(120, TimeUnit.SECONDS));
            assertEquals(1, pool.stats().workerReplacements());
        }
    }

    @Test
    void aPoolWithAnotherSecretIsRefusedAtOnce() {
        ClusterConnectException e = assertThrows(ClusterConnectException.class,
                () -> PythonPool.builder().cluster(List.of(firstAddress), NAME, "not the secret").build());
        assertTrue(e.refused());
        assertTrue(e.getMessage().contains("refused") && e.getMessage().contains("SECRET"), e.getMessage());
    }

    @Test
    void aPoolForAClusterOfAnotherNameGivesUpInTime() {
        // the member answers, but as a member of NAME: the client waits for its 20 s, then fails
        ClusterConnectException e = assertThrows(ClusterConnectException.class,
                () -> PythonPool.builder().cluster(List.of(firstAddress), NAME + "-other", SECRET).build());
        assertFalse(e.refused());
        assertTrue(e.getMessage().contains("no polypool cluster named '" + NAME + "-other' answered"), e.getMessage());
    }

    @Test
    void badArgumentsAreRefused() {
        PythonPool.Builder b = PythonPool.builder();
        List<InetSocketAddress> one = List.of(firstAddress);
        assertEquals("members", assertThrows(NullPointerException.class, () -> b.cluster(null, NAME, SECRET)).getMessage());
        assertEquals("name", assertThrows(NullPointerException.class, () -> b.cluster(one, null, SECRET)).getMessage());
        assertEquals("secret", assertThrows(NullPointerException.class, () -> b.cluster(one, NAME, null)).getMessage());
        assertThrows(NullPointerException.class, () -> b.cluster(Collections.singletonList(null), NAME, SECRET));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> b.cluster(List.of(), NAME, SECRET))
                .getMessage().contains("at least one member"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> b.cluster(one, " ", SECRET))
                .getMessage().contains("blank"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> b.cluster(List.of(new InetSocketAddress("127.0.0.1", 0)), NAME, SECRET))
                .getMessage().contains("port 0"));
        IllegalStateException warm = assertThrows(IllegalStateException.class,
                () -> PythonPool.builder().cluster(one, NAME, SECRET).warmContexts(1).build());
        assertTrue(warm.getMessage().contains("warmContexts"), warm.getMessage());
    }

    @Test
    void theCallsOfAStoppedMemberRunAgainOnTheOthers() throws Exception {
        Path runs = Files.createTempFile("polypool-api-runs", ".log");
        Path thirdCache = Files.createTempDirectory("polypool-api-cluster-cache");
        MemberMain.Running third = member(freeAddress(), List.of(firstAddress), NAME, thirdCache);
        try (PythonPool pool = clusterPool().build()) {
            assertEquals(3, pool.workers(), "the pool follows the cluster: one worker per member");
            // a call that raised has its outcome: it is never run again, whatever happens later
            PythonException raised = assertThrows(PythonException.class,
                    () -> PythonPool.await(pool.submit(f("fail", Object.class), runs.toString())));
            assertEquals("ValueError", raised.pythonType());
            List<List<?>> calls = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                calls.add(List.of(0.5, i, runs.toString()));
            }
            CompletableFuture<List<Long>> all = CompletableFuture.supplyAsync(() -> {
                try {
                    return pool.starmap(f("nap", Long.class), calls, 1, null);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            // the third member has begun a call (its worker writes its line, then sleeps): stop it under that call
            while (!Files.readString(runs).contains(thirdCache.toString())) {
                assertFalse(all.isDone(), "the map ended before the third member ran a call");
                Thread.sleep(20);
            }
            third.crash();
            assertEquals(LongStream.range(0, 30).boxed().toList(), all.get(300, TimeUnit.SECONDS));
            Map<String, Integer> count = new HashMap<>();
            for (String line : Files.readAllLines(runs)) {
                count.merge(line.split(" ")[0], 1, Integer::sum);
            }
            assertEquals(1, count.get("fail"), "the call that raised ran once");
            for (int i = 0; i < 30; i++) {
                int n = count.getOrDefault(String.valueOf(i), 0);
                assertTrue(n == 1 || n == 2, i + " ran " + n + " times");
            }
            assertTrue(count.containsValue(2), "the call the third member was running ran again: " + count);
        } finally {
            third.close();
            Files.deleteIfExists(runs);
        }
    }

    @Test
    void withNoMemberLeftTheCallsFail() throws Exception {
        String alone = NAME + "-alone";
        InetSocketAddress where = freeAddress();
        MemberMain.Running only = member(where, List.of(), alone);
        try (PythonPool pool = PythonPool.builder().cluster(List.of(where), alone, SECRET).sourceDirectory(sources)
                .build()) {
            assertEquals(1, pool.workers());
            assertEquals(4L, pool.submit(f("square", Long.class), 2).get(120, TimeUnit.SECONDS));
            CompletableFuture<Long> running = pool.submit(f("nap", Long.class), 60, 1);
            CompletableFuture<Long> queued = pool.submit(f("nap", Long.class), 0, 2);
            Thread.sleep(500); // lets the first call reach the member; the test holds either way
            only.crash();
            for (CompletableFuture<Long> c : List.of(running, queued)) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> c.get(120, TimeUnit.SECONDS));
                PythonException lost = assertInstanceOf(PythonException.class, e.getCause());
                assertEquals(PythonException.WORKER_LOST, lost.pythonType());
                assertTrue(lost.getMessage().contains("no polypool cluster member is left"), lost.getMessage());
            }
            ExecutionException later = assertThrows(ExecutionException.class,
                    () -> pool.submit(f("square", Long.class), 3).get(120, TimeUnit.SECONDS));
            assertEquals(PythonException.WORKER_LOST, ((PythonException) later.getCause()).pythonType());
        } finally {
            only.close();
        }
    }
}
