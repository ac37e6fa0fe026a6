package dev.polypool.engine;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The working directory and environment variables of the OS process a run of a program
 * stands in for, given to each of its contexts through the {@code Context.Builder}.
 *
 * <p>{@link #INHERIT} is this JVM's own (an in-process run); the resident engine gives
 * each run the client's, so that {@code os.getcwd()} and {@code os.environ} are those of
 * the shell that started {@code bin/polypool}, never the server's.
 *
 * @param cwd the working directory, absolute; null for this JVM's
 * @param env the environment variables; null for this JVM's
 */
public record ProcessEnvironment(Path cwd, Map<String, String> env) {
    /** This JVM's own working directory and environment. */
    public static final ProcessEnvironment INHERIT = new ProcessEnvironment(null, null);

    // read while a context starts (GraalPy's options and encodings, site's user directory,
    // tempfile's directory, polypool's own settings): a context made with one value keeps it
    private static final List<String> READ_AT_START_PREFIXES = List.of("PYTHON", "POLYPOOL", "GRAAL", "JAVA",
            "LC_", "XDG_");
    private static final Set<String> READ_AT_START = Set.of("LANG", "LANGUAGE", "TZ", "HOME", "PATH", "TMPDIR",
            "TEMP", "TMP");

    public ProcessEnvironment {
        if (cwd != null && !cwd.isAbsolute()) {
            throw new IllegalArgumentException("the working directory must be absolute: " + cwd);
        }
        env = env == null ? null : Map.copyOf(env);
    }

    /**
     * Whether a context made for this environment can stand in for one made for
     * {@code other} once its working directory and {@code os.environ} are made
     * {@code other}'s ({@code polypool.childstate.adopt}): both are a client's, and they
     * differ in no variable read while a context starts. A shell's {@code _} (the command
     * that started the run: {@code time}, {@code nice}...), {@code OLDPWD} or a terminal's
     * own variables may differ.
     */
    public boolean canStandInFor(ProcessEnvironment other) {
        if (equals(other)) {
            return true;
        }
        if (env == null || other.env == null || cwd == null || other.cwd == null) {
            return false;
        }
        Set<String> names = new HashSet<>(env.keySet());
        names.addAll(other.env.keySet());
        for (String name : names) {
            if (readAtStart(name) && !Objects.equals(env.get(name), other.env.get(name))) {
                return false;
            }
        }
        return true;
    }

    private static boolean readAtStart(String name) {
        return READ_AT_START.contains(name) || READ_AT_START_PREFIXES.stream().anyMatch(name::startsWith);
    }

    /** The value of environment variable {@code name}, or null. */
    public String getenv(String name) {
        Objects.requireNonNull(name);
        return env == null ? System.getenv(name) : env.get(name);
    }
}
