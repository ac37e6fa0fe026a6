package dev.polypool.sync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;

import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.HostAccess;
import org.junit.jupiter.api.Test;

class BlobTest {
    private static byte[] pattern(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + i / 7);
        }
        return b;
    }

    private static byte[] read(Blob.Native open, int size) {
        return MemorySegment.ofAddress(open.address()).reinterpret(size).toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void aBufferIsCopiedWholeAcrossChunks() {
        // sizes around the 1 MiB chunk: the last chunk shorter, exact, or the only one
        try (Context context = Context.newBuilder().allowHostAccess(HostAccess.ALL).build()) {
            for (int n : new int[] {0, 1, 1000, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) - 5}) {
                byte[] data = pattern(n);
                Blob blob = Blob.copyOf(context.asValue(ByteBuffer.wrap(data)), true, false);
                assertEquals(n, blob.size());
                assertTrue(blob.raw());
                assertArrayEquals(data, blob.bytes(), "size " + n);
                Blob.Native open = blob.open();
                assertArrayEquals(data, read(open, n), "size " + n);
                open.close();
            }
        }
    }

    @Test
    void aBlobReadOnceIsFreedByItsReader() {
        byte[] data = pattern(5000);
        Blob blob = Blob.of(data, false, true);
        assertFalse(blob.raw());
        Blob.Native open = blob.open();
        assertThrows(IllegalStateException.class, blob::open);
        assertArrayEquals(data, read(open, data.length));
        open.close();
        assertThrows(IllegalStateException.class, blob::open);
        assertThrows(IllegalStateException.class, blob::bytes);
    }

    @Test
    void aBlobKeepsItsPartsInOrder() {
        Blob first = Blob.of(pattern(3000), true, false);
        Blob second = Blob.of(pattern(7), true, false);
        Blob blob = Blob.of(pattern(100), false, false, first, second);
        assertEquals(2, blob.parts());
        assertSame(first, blob.part(0));
        assertSame(second, blob.part(1));
        assertThrows(IndexOutOfBoundsException.class, () -> blob.part(2));
        assertEquals(0, first.parts());
    }

    @Test
    void aRawBlobHasNoParts() {
        Blob part = Blob.of(pattern(10), true, false);
        assertThrows(IllegalArgumentException.class, () -> Blob.of(pattern(10), true, false, part));
    }

    @Test
    void aBlobReadByManyStaysReadable() {
        byte[] data = pattern(5000);
        Blob blob = Blob.of(data, false, false);
        for (int i = 0; i < 3; i++) {
            Blob.Native open = blob.open();
            assertArrayEquals(data, read(open, data.length));
            open.close();
        }
        assertArrayEquals(data, blob.bytes());
    }

    @Test
    void notABufferIsRefused() {
        try (Context context = Context.newBuilder().allowHostAccess(HostAccess.ALL).build()) {
            assertThrows(IllegalArgumentException.class, () -> Blob.copyOf(context.asValue("text"), true, true));
        }
    }
}
