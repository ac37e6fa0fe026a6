package dev.polypool.io;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Whether a file descriptor of this JVM's process is a terminal, asked of the C library
 * ({@code isatty(3)}): GraalPy's {@code isatty()} is always false (its Java POSIX layer knows
 * no terminals), and {@link System#console()} speaks for stdin and stdout together.
 */
public final class Terminal {
    private static final MethodHandle ISATTY = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("isatty").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private Terminal() {
    }

    /** Whether {@code fd} (1 for stdout, 2 for stderr) is a terminal; false if that cannot be told. */
    public static boolean isTerminal(int fd) {
        try {
            return (int) ISATTY.invokeExact(fd) == 1;
        } catch (Throwable e) {
            return false;
        }
    }
}
