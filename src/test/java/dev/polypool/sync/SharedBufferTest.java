package dev.polypool.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;

class SharedBufferTest {
    private final SyncServices services = SyncServices.get();

    @Test
    void blocksAreZeroedAlignedAndFoundByHandle() {
        SharedBuffer b = services.newBuffer(24);
        assertEquals(24, b.size());
        assertEquals(0, b.address() % SharedBuffer.ALIGNMENT);
        for (long i = 0; i < 24; i++) {
            assertEquals(0, b.segment().get(ValueLayout.JAVA_BYTE, i));
        }
        assertSame(b, services.lookupBuffer(b.handle()));
        assertNull(services.lookupBuffer(-1));
    }

    @Test
    void everyHolderSeesTheSameMemory() {
        SharedBuffer b = services.newBuffer(8);
        b.segment().set(ValueLayout.JAVA_INT, 4, 1234);
        assertEquals(1234, services.lookupBuffer(b.handle()).segment().get(ValueLayout.JAVA_INT, 4));
    }

    @Test
    void zeroSizeGetsADistinctByteAndNegativeSizeIsRefused() {
        SharedBuffer a = services.newBuffer(0);
        SharedBuffer b = services.newBuffer(0);
        assertEquals(1, a.size());
        assertNotEquals(a.address(), b.address());
        assertThrows(IllegalArgumentException.class, () -> services.newBuffer(-1));
    }
}
