package dev.polypool;

import dev.polypool.io.ConsoleSink;
import dev.polypool.io.ProgressDisplay;
import dev.polypool.io.Terminal;

/**
 * This JVM's stdout and stderr as every {@link PythonPool}'s workers print to them, and the
 * progress lines of {@link ProgressListener#terminalLine}, which erase themselves around
 * those workers' lines.
 */
final class TerminalLines {
    static final ConsoleSink OUT = new ConsoleSink(System.out);
    static final ConsoleSink ERR = new ConsoleSink(System.err);
    private static ProgressDisplay display;

    private TerminalLines() {
    }

    /** The display on stderr, made on first use; call only when stderr is a terminal. */
    static synchronized ProgressDisplay display() {
        if (display == null) {
            display = new ProgressDisplay(ERR);
            if (Terminal.isTerminal(1)) {
                display.attach(OUT);
            }
        }
        return display;
    }
}
