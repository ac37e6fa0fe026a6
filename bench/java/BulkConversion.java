import java.util.Arrays;
import java.util.List;
import java.util.stream.DoubleStream;
import java.util.stream.LongStream;

import dev.polypool.PythonFunction;
import dev.polypool.PythonPool;

/**
 * The round trip of big values through the Java API: {@code submit(ident, value).get()} for
 * lists of 1,000 and 100,000 numbers and a byte array of 1 MiB, the function returning its
 * argument; and {@code map} of 10,000 items one call a task and in chunks. A benchmark, not a test: {@code bench/java-conversions.sh} builds polypool,
 * compiles this file against it and runs it; medians of several rounds, after a warm-up.
 */
public final class BulkConversion {
    private BulkConversion() {
    }

    public static void main(String[] args) throws Exception {
        try (PythonPool pool = PythonPool.builder().workers(1)
                .source("bench", "def ident(x):\n    return x\n").build()) {
            PythonFunction<Object> ident = PythonFunction.of("bench:ident");
            for (int n : new int[] {1_000, 100_000}) {
                List<Long> longs = LongStream.range(0, n).boxed().toList();
                List<Double> doubles = DoubleStream.iterate(0.5, d -> d + 1).limit(n).boxed().toList();
                int calls = n == 1_000 ? 200 : 5;
                report("List<Long> of " + n + " there and back", calls, () -> pool.submit(ident, longs).get());
                report("List<Double> of " + n + " there and back", calls, () -> pool.submit(ident, doubles).get());
            }
            List<Long> items = LongStream.range(0, 10_000).boxed().toList();
            report("map of 10000 items, a call a task", 2, () -> pool.map(ident, items, 1, null));
            report("map of 10000 items, default chunks", 2, () -> pool.map(ident, items));
            byte[] mib = new byte[1 << 20];
            Arrays.fill(mib, (byte) 0xA5);
            report("byte[1 MiB] there and back", 20, () -> pool.submit(ident, (Object) mib).get());
        }
    }

    interface Body {
        void run() throws Exception;
    }

    private static void report(String what, int calls, Body body) throws Exception {
        for (int i = 0; i < calls * 5; i++) {
            body.run(); // warm-up: until the JIT has compiled both sides
        }
        int rounds = 5;
        double[] millis = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < calls; i++) {
                body.run();
            }
            millis[r] = (System.nanoTime() - t0) / 1e6 / calls;
        }
        Arrays.sort(millis);
        System.out.printf("%-40s median %8.3f ms a call (min %.3f, max %.3f)%n", what, millis[rounds / 2],
                millis[0], millis[rounds - 1]);
    }
}
