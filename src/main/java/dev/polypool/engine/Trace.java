package dev.polypool.engine;

import java.lang.management.ManagementFactory;

/**
 * Start-up and life-cycle tracing to stderr, on when the environment variable
 * {@code POLYPOOL_TRACE} is set: each line gives the time since the JVM started.
 */
public final class Trace {
    public static final boolean ENABLED = System.getenv("POLYPOOL_TRACE") != null;
    private static final long JVM_START = ManagementFactory.getRuntimeMXBean().getStartTime();

    private Trace() {
    }

    public static void log(String message) {
        if (ENABLED) {
            System.err.printf("[polypool %7.3fs %s] %s%n", (System.currentTimeMillis() - JVM_START) / 1000.0,
                    Thread.currentThread().getName(), message);
        }
    }
}
