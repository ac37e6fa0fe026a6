package dev.polypool.engine;

import static dev.polypool.engine.Protocol.APPLY;
import static dev.polypool.engine.Protocol.CALL;
import static dev.polypool.engine.Protocol.MAP;
import static dev.polypool.engine.Protocol.STARMAP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.Value;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import dev.polypool.io.ConsoleSink;

/**
 * Drives {@link WorkerPool} from Java, with a client context that encodes tasks and decodes
 * outcomes the way polypool's Python pool does.
 */
@Timeout(300)
class WorkerPoolTest {

    static Context client;
    static Value codec;
    static String setup;
    static ByteArrayOutputStream workerOut = new ByteArrayOutputStream();

    @BeforeAll
    static void startClient() {
        client = PolyglotRuntime.get().newContext(List.of(""), InputStream.nullInputStream(),
                System.out, System.err, null);
        client.eval("python", """
                import sys, os
                from polypool import codec
                def spin(n):
                    while True:
                        n += 1
                def pid_and_name(_):
                    import multiprocessing
                    return os.getpid(), multiprocessing.current_process().name
                def shout(x):
                    print('line', x)
                    return x
                from polypool import childstate
                SETUP = childstate.child_setup('fork')
                """);
        codec = client.eval("python", "codec");
        setup = client.eval("python", "SETUP").asString();
    }

    @AfterAll
    static void closeClient() {
        client.close();
    }

    static String enc(String pythonExpression) {
        return client.eval("python", "codec.dumps(" + pythonExpression + ")").asString();
    }

    static Value dec(Object payload) {
        return codec.invokeMember("loads", payload);
    }

    static WorkerPool newPool(int processes, int maxTasks) {
        ConsoleSink sink = new ConsoleSink(workerOut);
        return new WorkerPool(PolyglotRuntime.get(),
                new WorkerPool.Config(processes, maxTasks, "ForkPoolWorker", List.of(""), sink, sink, null,
                        new OutcomeQueue(setup)));
    }

    static Object[] take(WorkerPool pool) throws InterruptedException {
        return ((OutcomeQueue) pool.driver()).takeOutcomes();
    }

    /** Takes outcomes until {@code n} arrived; returns them by index as [status, payload]. */
    static Map<Integer, Object[]> collect(WorkerPool pool, int n) throws InterruptedException {
        Map<Integer, Object[]> byIndex = new HashMap<>();
        while (byIndex.size() < n) {
            Object[] flat = take(pool);
            assertTrue(flat.length > 0, "pool ended early");
            for (int k = 0; k < flat.length; k += 4) {
                byIndex.put((Integer) flat[k + 1], new Object[] {flat[k + 2], flat[k + 3]});
            }
        }
        return byIndex;
    }

    @Test
    void runsChunksAndReturnsEveryResult() throws Exception {
        WorkerPool pool = newPool(2, 0);
        try {
            for (int i = 0; i < 20; i++) {
                pool.submit(1, i, STARMAP, "operator:mul", false, enc("[(" + i + ", " + i + "), (" + i + ", 2)]"));
            }
            Map<Integer, Object[]> out = collect(pool, 20);
            for (int i = 0; i < 20; i++) {
                assertEquals(Protocol.OK, out.get(i)[0]);
                Value v = dec(out.get(i)[1]);
                assertEquals(i * i, v.getArrayElement(0).asInt());
                assertEquals(i * 2, v.getArrayElement(1).asInt());
            }
        } finally {
            pool.terminate();
        }
    }

    @Test
    void aBatchQueuesOneTaskPerPayloadWithConsecutiveIndices() throws Exception {
        WorkerPool pool = newPool(2, 0);
        try {
            List<String> payloads = new java.util.ArrayList<>();
            StringBuilder ends = new StringBuilder();
            int end = 0;
            for (int i = 0; i < 5; i++) {
                payloads.add(enc("[" + (i * i) + ".0]"));
                end += payloads.get(i).length();
                ends.append(i == 0 ? "" : ",").append(end);
            }
            pool.submitBatch(5, 10, MAP, "math:sqrt", String.join("", payloads), ends.toString());
            Map<Integer, Object[]> out = collect(pool, 5);
            for (int i = 0; i < 5; i++) {
                assertEquals(Protocol.OK, out.get(10 + i)[0]);
                assertEquals(i, dec(out.get(10 + i)[1]).getArrayElement(0).asDouble());
            }
            // ends that do not describe the payloads queue nothing
            String one = payloads.get(0);
            assertThrows(IllegalArgumentException.class, () -> pool.submitBatch(6, 0, MAP, "math:sqrt", one, "1"));
            assertThrows(IllegalArgumentException.class,
                    () -> pool.submitBatch(6, 0, MAP, "math:sqrt", one, String.valueOf(one.length() + 1)));
            pool.submitBatch(6, 0, MAP, "math:sqrt", "", "");
            assertThrows(NumberFormatException.class, () -> pool.submitLongBatch(6, 0, CALL, "builtins:abs", "1,x"));
            pool.submit(6, 0, MAP, "math:sqrt", false, one);
            assertEquals(0.0, dec(collect(pool, 1).get(0)[1]).getArrayElement(0).asDouble());
        } finally {
            pool.terminate();
        }
    }

    @Test
    void aBatchOfIntegersCrossesAsPlainValues() throws Exception {
        WorkerPool pool = newPool(1, 0);
        try {
            pool.submitLongBatch(11, 3, CALL, "builtins:abs", "-1,2," + (Long.MIN_VALUE + 1));
            Map<Integer, Object[]> out = collect(pool, 3);
            assertEquals(Protocol.PLAIN, out.get(3)[0]);
            assertEquals(1L, ((Number) out.get(3)[1]).longValue());
            assertEquals(2L, ((Number) out.get(4)[1]).longValue());
            assertEquals(Long.MAX_VALUE, ((Number) out.get(5)[1]).longValue());
        } finally {
            pool.terminate();
        }
    }

    @Test
    void plainValuesCrossWithoutPickling() throws Exception {
        WorkerPool pool = newPool(1, 0);
        try {
            pool.submit(7, 0, CALL, "math:factorial", true, 20);
            pool.submit(7, 1, CALL, "builtins:abs", true, -2.5);
            pool.submit(7, 2, CALL, "builtins:str", true, 42);
            pool.submit(7, 3, CALL, "builtins:bool", true, null);
            pool.submit(7, 4, CALL, "builtins:list", true, "ab");
            Map<Integer, Object[]> out = collect(pool, 5);
            assertEquals(Protocol.PLAIN, out.get(0)[0]);
            assertEquals(2432902008176640000L, ((Number) out.get(0)[1]).longValue());
            assertEquals(2.5, out.get(1)[1]);
            assertEquals("42", out.get(2)[1]);
            assertEquals(Boolean.FALSE, out.get(3)[1]);
            // a list is no plain value: it comes back pickled
            assertEquals(Protocol.OK, out.get(4)[0]);
            assertEquals("b", dec(out.get(4)[1]).getArrayElement(1).asString());
        } finally {
            pool.terminate();
        }
    }

    @Test
    void taskExceptionComesBackWithTracebackAndPoolStaysUsable() throws Exception {
        WorkerPool pool = newPool(1, 0);
        try {
            pool.submit(2, 0, MAP, "math:sqrt", false, enc("[-1.0]"));
            Object[] failed = collect(pool, 1).get(0);
            assertEquals(Protocol.RAISED, failed[0]);
            Value exc = dec(failed[1]);
            assertEquals("ValueError", exc.getMetaObject().getMetaSimpleName());
            assertTrue(exc.getMember("__cause__").toString().contains("Traceback"));
            pool.submit(2, 1, MAP, "math:sqrt", false, enc("[16.0]"));
            assertEquals(4.0, dec(collect(pool, 1).get(1)[1]).getArrayElement(0).asDouble());
        } finally {
            pool.terminate();
        }
    }

    @Test
    void workerDeathLosesOnlyItsTaskAndIsReplaced() throws Exception {
        WorkerPool pool = newPool(1, 0);
        try {
            pool.submit(3, 0, APPLY, "os:_exit", false, enc("((3,), {})"));
            Object[] lost = collect(pool, 1).get(0);
            assertEquals(Protocol.LOST, lost[0]);
            assertTrue(lost[1].toString().contains("exited with exitcode 3"), lost[1].toString());
            pool.submit(3, 1, MAP, "math:sqrt", false, enc("[9.0]"));
            assertEquals(3.0, dec(collect(pool, 1).get(1)[1]).getArrayElement(0).asDouble());
        } finally {
            pool.terminate();
        }
    }

    @Test
    void workersHaveDistinctIdentitiesAndAreReplacedAfterMaxTasks() throws Exception {
        WorkerPool pool = newPool(2, 1);
        try {
            for (int i = 0; i < 6; i++) {
                pool.submit(4, i, MAP, "__main__:pid_and_name", false, enc("[None]"));
            }
            Set<Long> pids = new HashSet<>();
            for (Object[] o : collect(pool, 6).values()) {
                assertEquals(Protocol.OK, o[0]);
                Value pair = dec(o[1]).getArrayElement(0);
                long pid = pair.getArrayElement(0).asLong();
                assertTrue(pair.getArrayElement(1).asString().matches("ForkPoolWorker-\\d+"));
                assertTrue(pid != ProcessIds.parentPid());
                pids.add(pid);
            }
            // one task per worker: six tasks need six workers
            assertEquals(6, pids.size());
        } finally {
            pool.terminate();
        }
    }

    @Test
    void queuedTasksCanBeWithdrawnUntilAWorkerTakesThem() throws Exception {
        WorkerPool pool = newPool(1, 0);
        try {
            pool.submit(8, 0, APPLY, "time:sleep", false, enc("((1.0,), {})"));
            pool.submit(9, 0, MAP, "math:sqrt", false, enc("[4.0]"));
            assertTrue(pool.isQueued(9));
            assertTrue(pool.withdraw(9));
            assertFalse(pool.isQueued(9));
            assertFalse(pool.withdraw(9), "nothing left to withdraw");
            pool.submit(10, 0, MAP, "math:sqrt", false, enc("[9.0]"));
            Object[] first = take(pool);
            List<Object> jobs = new ArrayList<>();
            for (int k = 0; k < first.length; k += 4) {
                jobs.add(first[k]);
            }
            while (jobs.size() < 2) {
                Object[] more = take(pool);
                for (int k = 0; k < more.length; k += 4) {
                    jobs.add(more[k]);
                }
            }
            assertEquals(List.of(8L, 10L), jobs, "the withdrawn task never ran");
        } finally {
            pool.terminate();
        }
    }

    @Test
    void terminateStopsRunningPythonCode() throws Exception {
        WorkerPool pool = newPool(2, 0);
        pool.submit(5, 0, MAP, "__main__:spin", false, enc("[0]"));
        pool.submit(5, 1, APPLY, "time:sleep", false, enc("((1000,), {})"));
        Thread.sleep(3000);
        long t0 = System.nanoTime();
        pool.terminate();
        assertTrue(pool.join(60_000));
        assertTrue(System.nanoTime() - t0 < 60_000_000_000L);
        assertEquals(0, take(pool).length, "a terminated pool ends its outcome stream");
        assertThrows(IllegalStateException.class, () -> pool.submit(5, 2, MAP, "math:sqrt", false, enc("[1.0]")));
    }

    @Test
    void closeFinishesQueuedTasksAndOutputIsWhole() throws Exception {
        WorkerPool pool = newPool(2, 0);
        for (int i = 0; i < 10; i++) {
            pool.submit(6, i, MAP, "__main__:shout", false, enc("[" + i + "]"));
        }
        assertThrows(IllegalStateException.class, () -> pool.join(0));
        pool.close();
        assertTrue(pool.join(120_000));
        List<Integer> seen = new ArrayList<>(collect(pool, 10).keySet());
        assertEquals(10, seen.size());
        assertEquals(0, take(pool).length);
        String printed = workerOut.toString(StandardCharsets.UTF_8);
        for (int i = 0; i < 10; i++) {
            assertTrue(printed.contains("line " + i + "\n"), printed);
        }
        assertFalse(pool.workerNames().iterator().hasNext());
    }
}
