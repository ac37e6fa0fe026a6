package dev.polypool.engine;

import java.lang.management.ManagementFactory;

import org.graalvm.polyglot.HostAccess;

/**
 * Start-up and life-cycle tracing to stderr, on when the environment variable
 * {@code POLYPOOL_TRACE} is set: each line gives the time since the JVM started. Python code
 * logs through {@link #SINK}, published to every context as
 * {@code polyglot.import_value("polypool.trace")}.
 */
public final class Trace {
    public static final boolean ENABLED = System.getenv("POLYPOOL_TRACE") != null;
    private static final long JVM_START = ManagementFactory.getRuntimeMXBean().getStartTime();

    private Trace() {
    }

    /** Python's way to {@link #log}. */
    public static final Sink SINK = new Sink();

    public static final class Sink {
        private Sink() {
        }

        @HostAccess.Export
        public void log(String message) {
            Trace.log(message);
        }
    }

    public static void log(String message) {
        if (ENABLED) {
            System.err.printf("[polypool %7.3fs %s] %s%n", (System.currentTimeMillis() - JVM_START) / 1000.0,
                    Thread.currentThread().getName(), message);
        }
    }
}
