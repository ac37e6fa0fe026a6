package dev.polypool.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NamedSharedMemoryTest {
    @TempDir
    Path dir;

    @Test
    void createMapsAFileThatAttachedMappingsShare() throws IOException {
        NamedSharedMemory shm = new NamedSharedMemory(dir);
        SharedBuffer created = (SharedBuffer) shm.open("/block", true, 100);
        assertEquals(100, created.size());
        assertEquals(100, Files.size(dir.resolve("block")));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("block"))));
        SharedBuffer attached = (SharedBuffer) shm.open("/block", false, 0);
        created.segment().set(ValueLayout.JAVA_LONG, 8, 42L);
        assertEquals(42L, attached.segment().get(ValueLayout.JAVA_LONG, 8));
        assertSame(attached, shm.lookup(attached.handle()));
        assertNull(shm.lookup(-1));
        assertEquals(0, shm.unlink("/block"));
    }

    @Test
    void errorsAreErrnoValues() throws IOException {
        NamedSharedMemory shm = new NamedSharedMemory(dir);
        assertInstanceOf(SharedBuffer.class, shm.open("/x", true, 8));
        assertEquals(NamedSharedMemory.EEXIST, shm.open("/x", true, 8));
        assertEquals(NamedSharedMemory.ENOENT, shm.open("/missing", false, 0));
        assertEquals(NamedSharedMemory.EINVAL, shm.open("/a/b", true, 8));
        assertEquals(NamedSharedMemory.EINVAL, shm.open("/", true, 8));
        assertEquals(NamedSharedMemory.ENAMETOOLONG, shm.open("/" + "n".repeat(256), true, 8));
        Files.createFile(dir.resolve("empty"));
        assertEquals(NamedSharedMemory.EMPTY, shm.open("/empty", false, 0));
        assertEquals(0, shm.unlink("/x"));
        assertTrue(shm.tracked().isEmpty());
    }

    @Test
    void unlinkRemovesTheNameButNotTheMapping() {
        NamedSharedMemory shm = new NamedSharedMemory(dir);
        SharedBuffer m = (SharedBuffer) shm.open("/gone", true, 16);
        assertEquals(java.util.List.of("/gone"), shm.tracked());
        assertEquals(0, shm.unlink("/gone"));
        assertFalse(Files.exists(dir.resolve("gone")));
        assertTrue(shm.tracked().isEmpty());
        m.segment().set(ValueLayout.JAVA_BYTE, 15, (byte) 7);
        assertEquals(7, m.segment().get(ValueLayout.JAVA_BYTE, 15));
        assertEquals(NamedSharedMemory.ENOENT, shm.unlink("/gone"));
        assertEquals(NamedSharedMemory.ENOENT, shm.open("/gone", false, 0));
    }

    @Test
    void cleanUpUnlinksWhatWasLeaked() {
        NamedSharedMemory shm = new NamedSharedMemory(dir);
        shm.open("/leaked", true, 8);
        shm.cleanUp();
        assertFalse(Files.exists(dir.resolve("leaked")));
        assertTrue(shm.tracked().isEmpty());
    }

    @Test
    void releaseUnlinksOnlyWhatItsProgramLeaked() {
        NamedSharedMemory shm = new NamedSharedMemory(dir);
        Object one = new Object();
        Object other = new Object();
        shm.open("/mine", true, 8, one);
        shm.open("/theirs", true, 8, other);
        java.io.ByteArrayOutputStream warnings = new java.io.ByteArrayOutputStream();
        shm.release(one, new java.io.PrintStream(warnings, true));
        assertFalse(Files.exists(dir.resolve("mine")));
        assertTrue(Files.exists(dir.resolve("theirs")));
        assertEquals(java.util.List.of("/theirs"), shm.tracked());
        assertTrue(warnings.toString().contains("1 leaked shared_memory objects to clean up at shutdown: [/mine]"),
                warnings.toString());
        shm.release(one, new java.io.PrintStream(warnings, true));
        shm.cleanUp();
        assertTrue(shm.tracked().isEmpty());
    }
}
