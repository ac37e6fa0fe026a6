package dev.polypool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The engine logs through {@link System.Logger}, which in a JVM without another
 * {@link System.LoggerFinder} is java.util.logging: what an application's handler receives.
 */
@Timeout(300)
class LoggingTest {
    static final String TOOLS = """
            import os
            def one(x):
                return x
            def die():
                os._exit(3)
            def bad_init():
                raise RuntimeError("no database")
            """;

    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Logger logger = Logger.getLogger("dev.polypool");
    private Level previous;
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord r) {
            records.add(r);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void capture() {
        previous = logger.getLevel();
        logger.setLevel(Level.ALL);
        handler.setLevel(Level.ALL);
        logger.addHandler(handler);
    }

    @AfterEach
    void release() {
        logger.removeHandler(handler);
        logger.setLevel(previous);
    }

    private List<String> messages(Level level) {
        return records.stream().filter(r -> r.getLevel() == level).map(LogRecord::getMessage).toList();
    }

    private static boolean any(List<String> messages, String regex) {
        return messages.stream().anyMatch(m -> m.matches(regex));
    }

    @Test
    void workersStartingReplacedDyingAndThePoolsEnd() throws Exception {
        String name;
        try (PythonPool pool = PythonPool.builder().workers(1).maxTasksPerWorker(1).source("tools", TOOLS).build()) {
            name = pool.name();
            assertEquals(List.of(1L, 2L), pool.map(PythonFunction.of("tools:one"), List.of(1, 2)));
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> pool.submit("tools:die").get(120, TimeUnit.SECONDS));
            assertInstanceOf(PythonException.class, e.getCause());
        }
        List<String> info = messages(Level.INFO);
        List<String> debug = messages(Level.FINE);
        List<String> warnings = messages(Level.WARNING);
        assertTrue(any(info, "pool " + name + " starting 1 workers"), info.toString());
        assertTrue(any(debug, "worker PythonPoolWorker-\\d+ started"), debug.toString());
        assertTrue(any(debug, "worker PythonPoolWorker-\\d+ exited"), debug.toString());
        assertTrue(any(debug, "pool " + name + ": worker PythonPoolWorker-\\d+ replaced by PythonPoolWorker-\\d+"),
                debug.toString());
        assertTrue(any(info, "pool " + name + " ended: 2 tasks done, 0 failed, 1 lost"), info.toString());
        assertTrue(any(warnings, "worker PythonPoolWorker-\\d+ exited with exitcode 3 while running the task"),
                warnings.toString());
        assertTrue(records.stream().allMatch(r -> r.getLoggerName().startsWith("dev.polypool.")));
    }

    @Test
    void aBrokenPoolIsAWarning() throws Exception {
        try (PythonPool pool = PythonPool.builder().workers(1).source("tools", TOOLS)
                .initializer(PythonFunction.of("tools:bad_init")).build()) {
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> pool.submit("tools:one", 1).get(120, TimeUnit.SECONDS));
            assertInstanceOf(PythonException.class, e.getCause());
            List<String> warnings = messages(Level.WARNING);
            assertTrue(any(warnings, "pool " + pool.name() + " is broken: worker PythonPoolWorker-\\d+ failed to start: .*"),
                    warnings.toString());
        }
    }
}
