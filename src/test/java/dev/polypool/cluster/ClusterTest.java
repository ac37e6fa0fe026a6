package dev.polypool.cluster;

import static dev.polypool.engine.Protocol.CALL;
import static dev.polypool.engine.Protocol.STARMAP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.Value;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import dev.polypool.engine.OutcomeQueue;
import dev.polypool.engine.PolyglotRuntime;
import dev.polypool.engine.Protocol;
import dev.polypool.engine.WorkerPool;
import dev.polypool.io.ConsoleSink;

/**
 * Members embedded in this JVM, a client of them, and {@link WorkerPool}s whose workers are
 * slots on the members: results, the handshake, and a member that dies under a running map.
 */
@Timeout(600)
class ClusterTest {
    static final String SECRET = "the-secret";
    static final ClusterSettings SETTINGS = new ClusterSettings("junit-" + ProcessHandle.current().pid(), SECRET);
    static final ByteArrayOutputStream memberLog = new ByteArrayOutputStream();
    static final PrintStream log = new PrintStream(memberLog, true);
    static Path cache;
    static Context context;
    static Value codec;
    static String setup;
    static MemberMain.Running first;
    static MemberMain.Running second;
    static InetSocketAddress firstAddress;
    static ClusterClient client;

    static InetSocketAddress freeAddress() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return InetSocketAddress.createUnresolved("127.0.0.1", s.getLocalPort());
        }
    }

    static MemberMain.Running member(InetSocketAddress listen, List<InetSocketAddress> join, ClusterSettings settings)
            throws ClusterClient.Refused {
        return MemberMain.start(new MemberMain.Options(listen, join, 1), settings, cache, log);
    }

    @BeforeAll
    static void startCluster() throws Exception {
        cache = Files.createTempDirectory("polypool-cluster-test");
        context = PolyglotRuntime.get().newContext(List.of(""), InputStream.nullInputStream(), System.out,
                System.err, null);
        context.eval("python", """
                import time
                from polypool import codec, childstate
                def nap(seconds, x):
                    time.sleep(seconds)
                    return x
                SETUP = childstate.child_setup('fork')  # __main__.nap goes with it
                """);
        codec = context.eval("python", "codec");
        setup = context.eval("python", "SETUP").asString();
        firstAddress = freeAddress();
        first = member(firstAddress, List.of(), SETTINGS);
        second = member(freeAddress(), List.of(firstAddress), SETTINGS);
        client = ClusterClient.connect(List.of(firstAddress), SETTINGS, 60_000, log);
    }

    @AfterAll
    static void stopCluster() {
        if (client != null) {
            client.close();
        }
        if (second != null) {
            second.close();
        }
        if (first != null) {
            first.close();
        }
        context.close();
    }

    static String enc(String pythonExpression) {
        return context.eval("python", "codec.dumps(" + pythonExpression + ")").asString();
    }

    static WorkerPool remotePool(int processes, ByteArrayOutputStream out) {
        ConsoleSink sink = new ConsoleSink(out);
        return new WorkerPool(PolyglotRuntime.get(), new WorkerPool.Config(processes, 0, "ForkPoolWorker",
                List.of(""), sink, sink, null, new OutcomeQueue(setup),
                client.workers(setup, false, List.of(""), Map.of(), sink, sink)));
    }

    /**
     * Takes outcomes until {@code n} arrived; returns them by task id, then index, as
     * [status, payload]. Tasks run on several members at once, so outcomes of different
     * tasks interleave.
     */
    static Map<Long, Map<Integer, Object[]>> collect(WorkerPool pool, int n) throws InterruptedException {
        Map<Long, Map<Integer, Object[]>> byTask = new HashMap<>();
        int arrived = 0;
        while (arrived < n) {
            Object[] flat = ((OutcomeQueue) pool.driver()).takeOutcomes();
            assertTrue(flat.length > 0, "pool ended early");
            for (int k = 0; k < flat.length; k += 4) {
                byTask.computeIfAbsent((Long) flat[k], id -> new HashMap<>())
                        .put((Integer) flat[k + 1], new Object[] {flat[k + 2], flat[k + 3]});
                arrived++;
            }
        }
        return byTask;
    }

    @Test
    void resultsComeBackFromTheMembers() throws Exception {
        assertEquals(2, client.workers());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        WorkerPool pool = remotePool(2, out);
        try {
            for (int i = 0; i < 20; i++) {
                pool.submit(1, i, STARMAP, "operator:mul", false, enc("[(" + i + ", " + i + ")]"));
            }
            pool.submit(2, 0, CALL, "math:factorial", true, 20L);
            pool.submit(3, 0, CALL, "math:sqrt", true, "not a number");
            pool.submit(4, 0, CALL, "builtins:print", true, "printed remotely");
            Map<Long, Map<Integer, Object[]>> byTask = collect(pool, 23);
            Map<Integer, Object[]> results = byTask.get(1L);
            for (int i = 0; i < 20; i++) {
                assertEquals(Protocol.OK, results.get(i)[0], String.valueOf(results.get(i)[1]));
                assertEquals(i * i, codec.invokeMember("loads", results.get(i)[1]).getArrayElement(0).asInt());
            }
            Map<Long, Object[]> others = new HashMap<>();
            for (long id = 2; id <= 4; id++) {
                others.put(id, byTask.get(id).get(0));
            }
            assertEquals(Protocol.PLAIN, others.get(2L)[0]);
            assertEquals(2432902008176640000L, ((Number) others.get(2L)[1]).longValue());
            assertEquals(Protocol.RAISED, others.get(3L)[0]);
            assertEquals(Protocol.PLAIN, others.get(4L)[0]);
        } finally {
            pool.terminate();
        }
        assertTrue(out.toString().contains("printed remotely\n"), out.toString());
    }

    @Test
    void aClientWithAnotherSecretIsRefused() {
        ClusterClient.Refused e = assertThrows(ClusterClient.Refused.class, () -> ClusterClient.connect(
                List.of(firstAddress), new ClusterSettings(SETTINGS.name(), "wrong"), 60_000, log));
        assertTrue(e.getMessage().contains("POLYPOOL_CLUSTER_SECRET"), e.getMessage());
    }

    @Test
    void aMemberWithAnotherSecretIsRefused() {
        ClusterClient.Refused e = assertThrows(ClusterClient.Refused.class, () -> member(freeAddress(),
                List.of(firstAddress), new ClusterSettings(SETTINGS.name(), "wrong")));
        assertTrue(e.getMessage().contains("POLYPOOL_CLUSTER_SECRET"), e.getMessage());
    }

    @Test
    void theTasksOfADeadMemberRunAgainElsewhere() throws Exception {
        MemberMain.Running third = member(freeAddress(), List.of(firstAddress), SETTINGS);
        try {
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (client.workers() < 3 && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertEquals(3, client.workers(), memberLog.toString());
            WorkerPool pool = remotePool(3, new ByteArrayOutputStream());
            try {
                for (int i = 0; i < 30; i++) {
                    // each chunk sleeps 0.2 s, then returns its number
                    pool.submit(1, i, STARMAP, "__main__:nap", false,
                            enc("[(0.2, " + i + ")]"));
                }
                Map<Integer, Object[]> results = new HashMap<>();
                boolean crashed = false;
                while (results.size() < 30) {
                    Object[] flat = ((OutcomeQueue) pool.driver()).takeOutcomes();
                    assertTrue(flat.length > 0, "pool ended early");
                    for (int k = 0; k < flat.length; k += 4) {
                        results.put((Integer) flat[k + 1], new Object[] {flat[k + 2], flat[k + 3]});
                    }
                    if (!crashed && results.size() >= 3) {
                        third.crash();
                        crashed = true;
                    }
                }
                for (int i = 0; i < 30; i++) {
                    assertEquals(Protocol.OK, results.get(i)[0], String.valueOf(results.get(i)[1]));
                    assertEquals(i, codec.invokeMember("loads", results.get(i)[1]).getArrayElement(0).asInt());
                }
            } finally {
                pool.terminate();
            }
        } finally {
            third.close();
        }
    }
}
