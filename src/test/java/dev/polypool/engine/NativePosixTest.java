package dev.polypool.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;

import org.graalvm.polyglot.io.FileSystem;
import org.junit.jupiter.api.Test;

class NativePosixTest {
    private static final int ESRCH = 3;
    private static final int EINVAL = 22;
    private static final int SC_PAGESIZE = 30;
    private static final int SC_SEM_NSEMS_MAX = 32;

    @Test
    void sysconfGivesLinuxValues() {
        NativePosix posix = NativePosix.get();
        assertArrayEquals(new long[] {4096, 0}, posix.sysconf(SC_PAGESIZE));
        assertArrayEquals(new long[] {-1, 0}, posix.sysconf(SC_SEM_NSEMS_MAX)); // no limit, no error
        assertEquals(EINVAL, posix.sysconf(123456)[1]);
    }

    @Test
    void processCallsReportErrno() {
        NativePosix posix = NativePosix.get();
        assertEquals(ProcessHandle.current().parent().orElseThrow().pid(), posix.getppid()[0]);
        assertArrayEquals(new long[] {0, 0}, posix.kill((int) posix.processId(), 0));
        assertEquals(ESRCH, posix.kill(1 << 30, 0)[1]);
        int[] cpus = posix.schedGetaffinity(0);
        assertEquals(0, cpus[cpus.length - 1]);
        assertTrue(cpus.length > 1);
        assertEquals(0, posix.getrusage(-1)[16]);
        assertEquals(EINVAL, posix.getrusage(12345)[16]);
    }

    @Test
    void procFilesReadWhole() throws Exception {
        FileSystem fs = new ProcFileSystem(FileSystem.newDefaultFileSystem());
        Path status = fs.parsePath("/proc/self/status");
        try (SeekableByteChannel ch = fs.newByteChannel(status, Set.of(StandardOpenOption.READ))) {
            assertTrue(ch.size() > 0);
            ByteBuffer buf = ByteBuffer.allocate((int) ch.size());
            while (buf.hasRemaining() && ch.read(buf) > 0) {
                // fill
            }
            assertTrue(new String(buf.array(), StandardCharsets.UTF_8).startsWith("Name:"));
            assertEquals(-1, ch.read(ByteBuffer.allocate(1)));
        }
        Path tmp = Files.createTempFile("polypool", ".txt");
        try {
            Files.writeString(tmp, "plain");
            try (SeekableByteChannel ch = fs.newByteChannel(tmp, Set.of(StandardOpenOption.READ))) {
                assertEquals(5, ch.size()); // other files are the default file system's
            }
        } finally {
            Files.delete(tmp);
        }
    }
}
