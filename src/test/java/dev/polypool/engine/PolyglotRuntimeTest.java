package dev.polypool.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PolyglotRuntimeTest {

    /** Every run must use the optimizing runtime; the interpreter-only one is 4x slower than CPython. */
    @Test
    void optimizingTruffleRuntimeIsActive() {
        assertEquals("GraalVM CE", PolyglotRuntime.get().implementationName());
    }
}
