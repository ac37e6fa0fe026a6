package dev.polypool.engine;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

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

    public ProcessEnvironment {
        if (cwd != null && !cwd.isAbsolute()) {
            throw new IllegalArgumentException("the working directory must be absolute: " + cwd);
        }
        env = env == null ? null : Map.copyOf(env);
    }

    /** The value of environment variable {@code name}, or null. */
    public String getenv(String name) {
        Objects.requireNonNull(name);
        return env == null ? System.getenv(name) : env.get(name);
    }
}
