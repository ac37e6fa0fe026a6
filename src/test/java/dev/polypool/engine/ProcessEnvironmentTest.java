package dev.polypool.engine;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

class ProcessEnvironmentTest {
    private static final Map<String, String> SHELL = Map.of("PATH", "/usr/bin", "HOME", "/home/u", "_",
            "/usr/bin/polypool", "TERM", "xterm", "PYTHONPATH", "/lib/py");

    private static ProcessEnvironment env(String cwd, Map<String, String> changes) {
        Map<String, String> m = new HashMap<>(SHELL);
        changes.forEach((k, v) -> {
            if (v == null) {
                m.remove(k);
            } else {
                m.put(k, v);
            }
        });
        return new ProcessEnvironment(Path.of(cwd), m);
    }

    /** The shell's variables without {@code name}. */
    private static ProcessEnvironment without(String name) {
        Map<String, String> removed = new HashMap<>();
        removed.put(name, null);
        return env("/home/u", removed);
    }

    @Test
    void variablesReadLaterAndTheDirectoryMayDiffer() {
        ProcessEnvironment spare = env("/home/u", Map.of());
        assertTrue(spare.canStandInFor(spare));
        assertTrue(spare.canStandInFor(env("/tmp", Map.of("_", "/usr/bin/time", "OLDPWD", "/home/u"))));
        assertTrue(spare.canStandInFor(env("/home/u", Map.of("TERM", "screen"))));
        assertTrue(spare.canStandInFor(without("TERM")));
    }

    @Test
    void variablesReadAtStartMayNot() {
        ProcessEnvironment spare = env("/home/u", Map.of());
        for (String name : new String[] {"PYTHONPATH", "PYTHONHASHSEED", "POLYPOOL_START_METHOD", "HOME", "PATH",
                "LANG", "LC_ALL", "TZ", "TMPDIR", "XDG_CACHE_HOME"}) {
            assertFalse(spare.canStandInFor(env("/home/u", Map.of(name, "other"))), name);
        }
        assertFalse(spare.canStandInFor(without("HOME")));
    }

    @Test
    void theJvmsOwnOnlyForItself() {
        ProcessEnvironment client = env("/home/u", Map.of());
        assertTrue(ProcessEnvironment.INHERIT.canStandInFor(ProcessEnvironment.INHERIT));
        assertFalse(ProcessEnvironment.INHERIT.canStandInFor(client));
        assertFalse(client.canStandInFor(ProcessEnvironment.INHERIT));
    }

    @Test
    void aRelativeDirectoryIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new ProcessEnvironment(Path.of("rel"), Map.of()));
    }
}
