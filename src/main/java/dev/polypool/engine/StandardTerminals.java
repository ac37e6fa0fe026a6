package dev.polypool.engine;

import java.util.Objects;

import org.graalvm.polyglot.HostAccess;

import dev.polypool.io.ConsoleSink;

/**
 * Whether a context's standard streams reach a terminal, for its {@code isatty()}
 * ({@code polypool.posix.terminals_ready}; GraalPy's is always false): the main program's
 * (through {@code MainContextBridge}) and each worker's. Asked when the program or the worker
 * starts, so a spare made before its run knows the run's terminal. A worker's stdin is never
 * one: its stdin is empty, as multiprocessing makes a child's {@code /dev/null}.
 */
public final class StandardTerminals {
    private final ConsoleSink stdout;
    private final ConsoleSink stderr;
    private volatile boolean stdin;

    public StandardTerminals(ConsoleSink stdout, ConsoleSink stderr) {
        this.stdout = Objects.requireNonNull(stdout);
        this.stderr = Objects.requireNonNull(stderr);
    }

    /** Says whether stdin is a terminal (stdout and stderr say so themselves); false until told. */
    public void stdinIsTerminal(boolean value) {
        stdin = value;
    }

    /** Whether stdin, stdout and stderr are terminals now. */
    @HostAccess.Export
    public boolean[] standardTerminals() {
        return new boolean[] {stdin, stdout.isTerminal(), stderr.isTerminal()};
    }
}
