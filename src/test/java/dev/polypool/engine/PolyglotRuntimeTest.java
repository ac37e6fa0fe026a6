package dev.polypool.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.List;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.Value;
import org.junit.jupiter.api.Test;

class PolyglotRuntimeTest {

    /** Every run must use the optimizing runtime; the interpreter-only one is 4x slower than CPython. */
    @Test
    void optimizingTruffleRuntimeIsActive() {
        assertEquals("GraalVM CE", PolyglotRuntime.get().implementationName());
    }

    /**
     * Python calls the exported methods of the engine's host objects. (This is what keeps
     * polypool off the module path: in a named module it fails with "foreign object has no
     * attribute 'newSemaphore'" unless dev.polypool.sync is exported to every module;
     * exports or opens to org.graalvm.truffle alone do not do, see docs/architecture.md.)
     */
    @Test
    void pythonCallsExportedHostMethods() {
        try (Context c = PolyglotRuntime.get().newContext(List.of(""), InputStream.nullInputStream(), System.out,
                System.err, null)) {
            Value lock = c.eval("python", """
                    import polyglot
                    lock = polyglot.import_value("polypool.sync").newSemaphore(1, 1, 1)
                    (lock.acquire(0.0), lock.release(), lock.release())""");
            assertEquals(List.of(true, Protocol.RELEASED, Protocol.TOO_MANY_RELEASES), lock.as(List.class));
        }
    }

    /** polypool.protocol names every constant of Protocol, with Java's value. */
    @Test
    void everyContextReadsTheProtocolFromJava() throws IllegalAccessException {
        try (Context c = PolyglotRuntime.get().newContext(List.of(""), InputStream.nullInputStream(), System.out,
                System.err, null)) {
            Value protocol = c.eval("python", "import polypool.protocol as p; p");
            int checked = 0;
            for (Field f : Protocol.class.getFields()) {
                if (!Modifier.isStatic(f.getModifiers())) {
                    continue;
                }
                Value v = protocol.getMember(f.getName());
                Object java = f.get(null);
                if (java instanceof List<?> list) {
                    assertEquals(list, v.as(List.class), f.getName());
                } else if (java instanceof Integer i) {
                    assertEquals(i.intValue(), v.asInt(), f.getName());
                } else {
                    assertEquals(java, v.asString(), f.getName());
                }
                checked++;
            }
            assertTrue(checked > 20);
            assertEquals(String.valueOf(Protocol.OK), protocol.getMember("OK_PREFIX").asString(),
                    "a result's prefix is its status digit");
        }
    }
}
