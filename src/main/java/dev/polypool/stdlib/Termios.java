package dev.polypool.stdlib;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.Value;

/**
 * The C library's terminal calls for polypool's {@code termios} module (GraalPy's is native
 * code, which loads into one context per process), through the JDK's foreign function
 * interface. The descriptors are this process's: 0, 1 and 2 are the JVM's own standard
 * streams, which a context run in-process shares. Each call returns its result with the C
 * library's errno last (0 on success), which Python turns into {@code termios.error}.
 * Thread-safe.
 */
public final class Termios {
    private static final Termios INSTANCE = new Termios();

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;

    /** glibc's struct termios on Linux: four flags, c_line, c_cc[32], then the two speeds. */
    private static final int TERMIOS_BYTES = 60, CC_OFFSET = 17, NCCS = 32, ISPEED_OFFSET = 52, OSPEED_OFFSET = 56;
    private static final long TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414;

    private Termios() {
    }

    static Termios get() {
        return INSTANCE;
    }

    private static final class Calls {
        static final MethodHandle TCGETATTR = link("tcgetattr", FunctionDescriptor.of(INT, INT, ValueLayout.ADDRESS));
        static final MethodHandle TCSETATTR = link("tcsetattr",
                FunctionDescriptor.of(INT, INT, INT, ValueLayout.ADDRESS));
        static final MethodHandle TCSENDBREAK = link("tcsendbreak", FunctionDescriptor.of(INT, INT, INT));
        static final MethodHandle TCDRAIN = link("tcdrain", FunctionDescriptor.of(INT, INT));
        static final MethodHandle TCFLUSH = link("tcflush", FunctionDescriptor.of(INT, INT, INT));
        static final MethodHandle TCFLOW = link("tcflow", FunctionDescriptor.of(INT, INT, INT));
        static final MethodHandle IOCTL = LINKER.downcallHandle(LIBC.find("ioctl").orElseThrow(),
                FunctionDescriptor.of(INT, INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS),
                Linker.Option.firstVariadicArg(2), Linker.Option.captureCallState("errno"));

        private static MethodHandle link(String name, FunctionDescriptor descriptor) {
            return LINKER.downcallHandle(LIBC.find(name).orElseThrow(), descriptor,
                    Linker.Option.captureCallState("errno"));
        }
    }

    private static int errno(int rc, MemorySegment state) {
        return rc < 0 ? (int) ERRNO.get(state, 0L) : 0;
    }

    /**
     * {@code tcgetattr}: {@code [iflag, oflag, cflag, lflag, ispeed, ospeed, cc0, ..., cc31,
     * errno]}.
     */
    @HostAccess.Export
    public long[] getattr(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment t = arena.allocate(TERMIOS_BYTES, 4);
            int rc = (int) Calls.TCGETATTR.invokeExact(state, fd, t);
            long[] out = new long[6 + NCCS + 1];
            out[out.length - 1] = errno(rc, state);
            if (rc == 0) {
                for (int i = 0; i < 4; i++) {
                    out[i] = Integer.toUnsignedLong(t.get(INT, 4L * i));
                }
                out[4] = Integer.toUnsignedLong(t.get(INT, ISPEED_OFFSET));
                out[5] = Integer.toUnsignedLong(t.get(INT, OSPEED_OFFSET));
                for (int i = 0; i < NCCS; i++) {
                    out[6 + i] = Byte.toUnsignedLong(t.get(ValueLayout.JAVA_BYTE, CC_OFFSET + i));
                }
            }
            return out;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * {@code tcsetattr} with {@code attrs} laid out as {@link #getattr} returns them (without
     * the errno); returns the errno.
     */
    @HostAccess.Export
    public int setattr(int fd, int when, Value attrs) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment t = arena.allocate(TERMIOS_BYTES, 4);
            int rc = (int) Calls.TCGETATTR.invokeExact(state, fd, t);
            if (rc != 0) {
                return errno(rc, state);
            }
            for (int i = 0; i < 4; i++) {
                t.set(INT, 4L * i, (int) attrs.getArrayElement(i).asLong());
            }
            t.set(INT, ISPEED_OFFSET, (int) attrs.getArrayElement(4).asLong());
            t.set(INT, OSPEED_OFFSET, (int) attrs.getArrayElement(5).asLong());
            for (int i = 0; i < NCCS; i++) {
                t.set(ValueLayout.JAVA_BYTE, CC_OFFSET + i, (byte) attrs.getArrayElement(6 + i).asLong());
            }
            rc = (int) Calls.TCSETATTR.invokeExact(state, fd, when, t);
            return errno(rc, state);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** tcsendbreak (0), tcdrain (1), tcflush (2) or tcflow (3) of {@code fd}; returns the errno. */
    @HostAccess.Export
    public int control(int call, int fd, int arg) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = switch (call) {
                case 0 -> (int) Calls.TCSENDBREAK.invokeExact(state, fd, arg);
                case 1 -> (int) Calls.TCDRAIN.invokeExact(state, fd);
                case 2 -> (int) Calls.TCFLUSH.invokeExact(state, fd, arg);
                default -> (int) Calls.TCFLOW.invokeExact(state, fd, arg);
            };
            return errno(rc, state);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** The window size: {@code [rows, columns, errno]}; rows or columns of -1 keep the current. */
    @HostAccess.Export
    public int[] winsize(int fd, int rows, int columns, boolean set) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment w = arena.allocate(8, 2);
            int rc = (int) Calls.IOCTL.invokeExact(state, fd, TIOCGWINSZ, w);
            if (rc == 0 && set) {
                w.set(ValueLayout.JAVA_SHORT, 0, (short) rows);
                w.set(ValueLayout.JAVA_SHORT, 2, (short) columns);
                rc = (int) Calls.IOCTL.invokeExact(state, fd, TIOCSWINSZ, w);
            }
            return new int[] {Short.toUnsignedInt(w.get(ValueLayout.JAVA_SHORT, 0)),
                    Short.toUnsignedInt(w.get(ValueLayout.JAVA_SHORT, 2)), errno(rc, state)};
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }
}
