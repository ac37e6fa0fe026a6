import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.LongStream;

import dev.polypool.PythonFunction;
import dev.polypool.PythonPool;

/**
 * Measures the per-call overhead of {@code PythonPool.submit(...).get()} for a trivial Python
 * function next to a plain {@link ExecutorService} hop, and the cost of converting larger
 * values. A benchmark, not a test: {@code bench/java-api.sh [calls]} builds polypool, compiles
 * this file against it and runs it. Prints medians of several rounds;
 * compare numbers only within one run.
 */
public final class SubmitOverhead {
    private SubmitOverhead() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = 5;
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 5000;
        ExecutorService executor = Executors.newSingleThreadExecutor();
        try (PythonPool pool = PythonPool.builder().workers(1)
                .source("bench", "def ident(x):\n    return x\n").build()) {
            PythonFunction<Long> ident = PythonFunction.of("bench:ident").returning(Long.class);
            report("ExecutorService submit(() -> x).get()", rounds, calls, () -> {
                for (int i = 0; i < calls; i++) {
                    final long x = i;
                    executor.submit(() -> x).get();
                }
            });
            // warm-up: the worker's first calls run in GraalPy's interpreter until the JIT compiles them
            for (int i = 0; i < 20000; i++) {
                pool.submit(ident, (long) i).get();
            }
            report("PythonPool submit(ident, x).get(), 1 worker", rounds, calls, () -> {
                for (int i = 0; i < calls; i++) {
                    pool.submit(ident, (long) i).get();
                }
            });
            List<Long> list = LongStream.range(0, 1000).boxed().toList();
            report("PythonPool submit(ident, List of 1000 Long).get()", rounds, 200, () -> {
                for (int i = 0; i < 200; i++) {
                    pool.submit(PythonFunction.of("bench:ident"), list).get();
                }
            });
            byte[] mib = new byte[1 << 20];
            Arrays.fill(mib, (byte) 0xA5);
            report("PythonPool submit(ident, byte[1 MiB]).get()", rounds, 20, () -> {
                for (int i = 0; i < 20; i++) {
                    pool.submit(PythonFunction.of("bench:ident"), (Object) mib).get();
                }
            });
        }
        try (PythonPool pool = PythonPool.builder().workers(2)
                .source("bench", "def ident(x):\n    return x\n").build()) {
            PythonFunction<Long> ident = PythonFunction.of("bench:ident").returning(Long.class);
            List<Long> items = LongStream.range(0, calls).boxed().toList();
            pool.map(ident, LongStream.range(0, 20000).boxed().toList());
            report("PythonPool map(ident, " + calls + " items), 2 workers, per item", rounds, calls, () -> pool.map(ident, items));
            report("ExecutorService(2) invokeAll, " + calls + " items, per item", rounds, calls, () -> {
                ExecutorService two = Executors.newFixedThreadPool(2);
                List<Future<Long>> fs = new ArrayList<>();
                for (Long x : items) {
                    fs.add(two.submit(() -> x));
                }
                for (Future<Long> f : fs) {
                    f.get();
                }
                two.shutdown();
            });
        } finally {
            executor.shutdown();
        }
    }

    interface Body {
        void run() throws Exception;
    }

    private static void report(String what, int rounds, int calls, Body body) throws Exception {
        double[] perCallMicros = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            long t0 = System.nanoTime();
            body.run();
            perCallMicros[r] = (System.nanoTime() - t0) / 1e3 / calls;
        }
        Arrays.sort(perCallMicros);
        System.out.printf("%-62s median %9.1f us/call (min %.1f, max %.1f)%n", what, perCallMicros[rounds / 2],
                perCallMicros[0], perCallMicros[rounds - 1]);
    }
}
