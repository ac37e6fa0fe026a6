package dev.polypool.engine;

import java.util.Objects;

import org.graalvm.polyglot.HostAccess;

import dev.polypool.io.ConsoleSink;

/**
 * Whether a worker context's standard streams reach a terminal, for its {@code isatty()}
 * ({@code polypool.posix.terminals_ready}; GraalPy's is always false). Asked when the worker
 * starts, so a spare made before its run knows the run's terminal. A worker's stdin is never
 * one: its stdin is empty, as multiprocessing makes a child's {@code /dev/null}.
 */
public final class StandardTerminals {
    private final ConsoleSink stdout;
    private final ConsoleSink stderr;

    StandardTerminals(ConsoleSink stdout, ConsoleSink stderr) {
        this.stdout = Objects.requireNonNull(stdout);
        this.stderr = Objects.requireNonNull(stderr);
    }

    /** Whether stdin, stdout and stderr are terminals now. */
    @HostAccess.Export
    public boolean[] standardTerminals() {
        return new boolean[] {false, stdout.isTerminal(), stderr.isTerminal()};
    }
}
