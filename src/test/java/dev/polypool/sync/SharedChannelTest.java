package dev.polypool.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

class SharedChannelTest {
    private final SyncServices services = SyncServices.get();

    private static String address(String name) {
        return "/test/" + name + "-" + System.nanoTime();
    }

    @Test
    void messagesFlowBothWaysInOrder() {
        String address = address("flow");
        ChannelListener listener = services.newListener(address);
        SharedChannel.End client = services.connect(address);
        SharedChannel.End server = listener.accept(1);
        assertNotNull(server);
        assertEquals(SharedChannel.SENT, client.send("a"));
        assertEquals(SharedChannel.SENT, client.send("b"));
        assertTrue(server.poll(0));
        assertEquals("a", server.recv(1));
        assertEquals("b", server.recv(1));
        assertEquals(SharedChannel.EMPTY, server.recv(0.01));
        assertFalse(server.poll(0.01));
        server.send("reply");
        assertEquals("reply", client.recv(1));
        listener.close();
    }

    @Test
    void closingAnEndGivesEofAfterTheQueuedMessages() {
        String address = address("eof");
        ChannelListener listener = services.newListener(address);
        SharedChannel.End client = services.connect(address);
        SharedChannel.End server = listener.accept(1);
        client.send("last");
        client.close();
        assertEquals("last", server.recv(1));
        assertEquals(SharedChannel.EOF, server.recv(1));
        assertEquals(SharedChannel.PEER_GONE, server.send("x"));
        assertEquals(SharedChannel.CLOSED, client.send("x"));
        listener.close();
    }

    @Test
    void anEndWhoseThreadDiedReadsAsClosed() throws Exception {
        String address = address("dead");
        ChannelListener listener = services.newListener(address);
        AtomicReference<SharedChannel.End> client = new AtomicReference<>();
        Thread t = new Thread(() -> client.set(services.connect(address)));
        t.start();
        t.join();
        SharedChannel.End server = listener.accept(1);
        assertEquals(SharedChannel.EOF, server.recv(5));
        assertTrue(server.poll(0));
        listener.close();
    }

    @Test
    void recvWaitsForAMessageFromAnotherThread() throws Exception {
        String address = address("wait");
        ChannelListener listener = services.newListener(address);
        SharedChannel.End client = services.connect(address);
        SharedChannel.End server = listener.accept(1);
        CompletableFuture<String> received = CompletableFuture.supplyAsync(() -> server.recv(30));
        Thread.sleep(50);
        client.send("hello");
        assertEquals("hello", received.get(30, TimeUnit.SECONDS));
        listener.close();
    }

    @Test
    void addressesAreUniqueWhileTheListenerLives() throws Exception {
        String address = address("unique");
        ChannelListener listener = services.newListener(address);
        assertNull(services.newListener(address));
        assertNull(listener.accept(0.01));
        listener.close();
        assertFalse(listener.open());
        assertNull(services.connect(address));
        // a listener whose owner thread died frees its address too
        Thread t = new Thread(() -> services.newListener(address));
        t.start();
        t.join();
        assertNotNull(services.newListener(address));
    }

    @Test
    void closingTheListenerEndsPendingConnections() {
        String address = address("pending");
        ChannelListener listener = services.newListener(address);
        SharedChannel.End client = services.connect(address);
        listener.close();
        assertEquals(SharedChannel.EOF, client.recv(1));
    }
}
