package dev.polypool.engine;

import java.lang.System.Logger.Level;
import java.util.function.Supplier;

/**
 * The engine's log: worker life cycle, broken pools, the spill directory. It goes through
 * {@link System.Logger} under the names {@code dev.polypool.engine} (pools and workers) and
 * {@code dev.polypool.sync} (spill files), so a Java application sees it in whatever its
 * {@link System.LoggerFinder} routes to (java.util.logging by default, SLF4J through a
 * bridge). {@code bin/polypool} {@linkplain #silence() silences} it unless
 * {@code POLYPOOL_LOG} asks for it; then not even the logging framework is loaded.
 *
 * <p>Levels: INFO for a pool starting and ending (two lines a pool), DEBUG for each worker
 * starting, ending and being replaced, WARNING for a worker that died under a task and a
 * pool that broke.
 */
public final class Log {
    public static final Log ENGINE = new Log("dev.polypool.engine");
    public static final Log SYNC = new Log("dev.polypool.sync");

    private static volatile boolean silenced;

    private final String name;
    private volatile System.Logger logger;

    private Log(String name) {
        this.name = name;
    }

    /** Drops every message from now on ({@code bin/polypool} without {@code POLYPOOL_LOG}). */
    public static void silence() {
        silenced = true;
    }

    public void debug(Supplier<String> message) {
        log(Level.DEBUG, message);
    }

    public void info(Supplier<String> message) {
        log(Level.INFO, message);
    }

    public void warning(Supplier<String> message) {
        log(Level.WARNING, message);
    }

    private void log(Level level, Supplier<String> message) {
        if (silenced) {
            return;
        }
        System.Logger l = logger;
        if (l == null) {
            logger = l = System.getLogger(name);
        }
        l.log(level, message);
    }
}
