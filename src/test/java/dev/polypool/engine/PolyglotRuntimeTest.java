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

    /**
     * A module parsed in one context is found in the engine's parse cache by the next context,
     * after garbage collections: SourcePins holds what GraalPy's compile() drops (without it
     * the entry goes with the first collection and the second context parses and compiles anew).
     */
    @Test
    void parsedCodeOutlivesGarbageCollectionForTheNextContext() throws Exception {
        java.nio.file.Path module = java.nio.file.Files.createTempFile("pinned", ".py");
        java.nio.file.Files.writeString(module, "def f(x):\n    return x + " + System.nanoTime() + "\n");
        String compile = "src = open(%s).read()\nexec(compile(src, %s, 'exec', dont_inherit=True), {})\n"
                .formatted(pythonString(module), pythonString(module));
        try {
            try (Context a = PolyglotRuntime.get().newContext(List.of(""), InputStream.nullInputStream(), System.out,
                    System.err, null)) {
                a.eval("python", compile);
            }
            for (int i = 0; i < 3; i++) {
                System.gc();
                Thread.sleep(50);
            }
            java.util.function.Predicate<Object> thisModule = source -> {
                try {
                    // Truffle's Source (public API; SourceImpl, its class, is not)
                    Class<?> truffleSource = Class.forName("com.oracle.truffle.api.source.Source");
                    return module.toString().equals(truffleSource.getMethod("getPath").invoke(source));
                } catch (ReflectiveOperationException e) {
                    throw new AssertionError(e);
                }
            };
            assertEquals(0, SourcePins.hits(thisModule));
            try (Context b = PolyglotRuntime.get().newContext(List.of(""), InputStream.nullInputStream(), System.out,
                    System.err, null)) {
                b.eval("python", compile);
            }
            assertEquals(1, SourcePins.hits(thisModule), "the second context parsed the module again");
        } finally {
            java.nio.file.Files.delete(module);
        }
    }

    private static String pythonString(java.nio.file.Path p) {
        return "'" + p.toString().replace("\\", "\\\\").replace("'", "\\'") + "'";
    }
}
