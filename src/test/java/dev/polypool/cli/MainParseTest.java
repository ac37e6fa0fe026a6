package dev.polypool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test
    void memberOptions() {
        Main.Invocation inv = Main.parse(new String[] {"--member", "--listen", "10.0.0.2:6000", "--join",
                "10.0.0.1:5701,[::1]", "--workers=3"});
        assertEquals("member", inv.mode());
        dev.polypool.cluster.MemberMain.Options o = dev.polypool.cluster.MemberMain.Options.parse(inv.argv());
        assertEquals("10.0.0.2", o.listen().getHostString());
        assertEquals(6000, o.listen().getPort());
        assertEquals(2, o.join().size());
        assertEquals("::1", o.join().get(1).getHostString());
        assertEquals(5701, o.join().get(1).getPort());
        assertEquals(3, o.workers());
        dev.polypool.cluster.MemberMain.Options d = dev.polypool.cluster.MemberMain.Options.parse(List.of());
        assertEquals("127.0.0.1", d.listen().getHostString());
        assertEquals(5701, d.listen().getPort());
        assertEquals(List.of(), d.join());
    }

    @Test
    void badMemberOptionsAreRejected() {
        for (String[] bad : new String[][] {{"--member", "--workers", "0"}, {"--member", "--workers", "x"},
                {"--member", "--listen", "h:99999"}, {"--member", "--listen"}, {"--member", "--bogus", "1"},
                {"--member", "--join", ","}}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Main.parse(bad),
                    String.join(" ", bad));
            assertTrue(e.getMessage().startsWith("polypool --member: "), e.getMessage());
        }
    }
}
