package dev.polypool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;

import org.junit.jupiter.api.Test;

class MainParseTest {

    @Test
    void scriptGetsArgvLikeCPython() {
        Main.Invocation inv = Main.parse(new String[] {"-u", "x.py", "-c", "y"});
        assertEquals("script", inv.mode());
        assertEquals("x.py", inv.target());
        assertEquals(List.of("x.py", "-c", "y"), inv.argv());
    }

    @Test
    void commandAndModule() {
        Main.Invocation c = Main.parse(new String[] {"-c", "print(1)", "a"});
        assertEquals("command", c.mode());
        assertEquals("print(1)", c.target());
        assertEquals(List.of("-c", "a"), c.argv());
        Main.Invocation m = Main.parse(new String[] {"-B", "-m", "unittest", "-v"});
        assertEquals("module", m.mode());
        assertEquals("unittest", m.target());
        assertEquals(List.of("-m", "-v"), m.argv());
        assertEquals("json.tool", Main.parse(new String[] {"-mjson.tool"}).target());
    }

    @Test
    void optionsWithArgumentsAreSkipped() {
        Main.Invocation inv = Main.parse(new String[] {"-W", "ignore", "-X", "dev", "s.py"});
        assertEquals("s.py", inv.target());
    }

    @Test
    void badCommandLinesAreRejected() {
        assertEquals("Argument expected for the -c option",
                assertThrows(IllegalArgumentException.class, () -> Main.parse(new String[] {"-c"})).getMessage());
        assertEquals("Unknown option: -z",
                assertThrows(IllegalArgumentException.class, () -> Main.parse(new String[] {"-z", "x.py"})).getMessage());
    }

    @Test
    void progressFlagComesBeforePythonsCommandLine() {
        Main.Invocation inv = Main.parse(new String[] {"--progress", "-u", "x.py", "--progress"});
        assertTrue(inv.progress());
        assertEquals("x.py", inv.target());
        assertEquals(List.of("x.py", "--progress"), inv.argv());
        assertFalse(Main.parse(new String[] {"x.py"}).progress());
        assertTrue(Main.parse(new String[] {"--progress", "-c", "pass"}).progress());
        // after python3's own options it is one of them, and CPython has none of that name
        assertEquals("Unknown option: --",
                assertThrows(IllegalArgumentException.class,
                        () -> Main.parse(new String[] {"-u", "--progress", "x.py"})).getMessage());
    }

    @Test
    void startMethodFromTheEnvironmentIsChecked() {
        for (String ok : new String[] {null, "", " ", "fork", "spawn", " forkserver "}) {
            assertNull(Main.startMethodProblem(ok), String.valueOf(ok));
        }
        assertEquals("POLYPOOL_START_METHOD=threads: expected one of fork, spawn, forkserver",
                Main.startMethodProblem("threads"));
    }
}
