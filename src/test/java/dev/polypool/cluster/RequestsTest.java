package dev.polypool.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;

import org.junit.jupiter.api.Test;

import com.hazelcast.internal.nio.BufferObjectDataOutput;
import com.hazelcast.internal.serialization.InternalSerializationService;
import com.hazelcast.internal.serialization.impl.DefaultSerializationServiceBuilder;

import dev.polypool.sync.Blob;

class RequestsTest {
    private static final InternalSerializationService SERIALIZATION = new DefaultSerializationServiceBuilder().build();

    private static Object roundTrip(Object value) throws IOException {
        BufferObjectDataOutput out = SERIALIZATION.createObjectDataOutput();
        Requests.writeValue(out, value);
        return Requests.readValue(SERIALIZATION.createObjectDataInput(out.toByteArray()));
    }

    @Test
    void aBlobCrossesWithItsParts() throws IOException {
        Blob first = Blob.of(new byte[] {1, 2, 3}, true, false);
        Blob second = Blob.of(new byte[] {4}, true, false);
        Blob back = (Blob) roundTrip(Blob.of(new byte[] {9, 8}, false, false, first, second));
        assertArrayEquals(new byte[] {9, 8}, back.bytes());
        assertFalse(back.raw());
        assertFalse(back.readOnce());
        assertEquals(2, back.parts());
        assertArrayEquals(new byte[] {1, 2, 3}, back.part(0).bytes());
        assertArrayEquals(new byte[] {4}, back.part(1).bytes());
        assertTrue(back.part(0).raw());
    }

    @Test
    void aRawBlobReadOnceStaysSo() throws IOException {
        Blob back = (Blob) roundTrip(Blob.of(new byte[] {7}, true, true));
        assertTrue(back.raw());
        assertTrue(back.readOnce());
        assertEquals(0, back.parts());
    }
}
