package dev.polypool.cli;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import dev.polypool.engine.Log;

/**
 * {@code POLYPOOL_LOG=debug|info|warning}: where {@code bin/polypool} sends the engine's
 * {@link System.Logger} messages. Unset, they are dropped before any logging framework
 * loads; set, the {@code dev.polypool} loggers of java.util.logging (the JDK's default
 * backend of {@code System.Logger}) print {@code polypool: LEVEL: message} lines at that
 * level and above to stderr (the resident engine's: to its {@code server.log}, at the level
 * of the run that started it).
 */
public final class LogSetup {
    // java.util.logging keeps loggers weakly: this one holds the level and the handler
    private static Logger configured;

    private LogSetup() {
    }

    /** The java.util.logging level of a {@code POLYPOOL_LOG} value, or null if it names none. */
    static Level level(String value) {
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "debug" -> Level.FINE;
            case "info" -> Level.INFO;
            case "warning", "warn" -> Level.WARNING;
            default -> null;
        };
    }

    /**
     * Applies {@code value} (null or blank: silent) for this JVM; problems are reported on
     * {@code messages}.
     */
    public static synchronized void configure(String value, OutputStream target, PrintStream messages) {
        if (value == null || value.isBlank()) {
            Log.silence();
            return;
        }
        Level level = level(value);
        if (level == null) {
            messages.println("polypool: ignoring POLYPOOL_LOG=" + value + ": expected debug, info or warning");
            Log.silence();
            return;
        }
        Logger logger = Logger.getLogger("dev.polypool");
        logger.setUseParentHandlers(false);
        logger.setLevel(level);
        PrintStream out = new PrintStream(target, true, StandardCharsets.UTF_8);
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (isLoggable(r)) {
                    String name = r.getLevel() == Level.FINE ? "DEBUG" : r.getLevel().getName();
                    out.println("polypool: " + name + ": " + r.getMessage());
                }
            }

            @Override
            public void flush() {
                out.flush();
            }

            @Override
            public void close() {
                flush();
            }
        };
        handler.setLevel(level);
        logger.addHandler(handler);
        configured = logger;
    }
}
