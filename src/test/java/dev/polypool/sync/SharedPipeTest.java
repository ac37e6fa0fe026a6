package dev.polypool.sync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class SharedPipeTest {
    private final SyncServices services = SyncServices.get();

    private static HandleTable contextTable() {
        return new HandleTable(false);
    }

    @Test
    void messagesFlowBothWaysInOrder() {
        PipeHandle[] ends = contextTable().newPipe(true);
        assertEquals(SharedPipe.SENT, ends[0].send("one"));
        assertEquals(SharedPipe.SENT, ends[0].send(""));
        assertEquals(SharedPipe.SENT, ends[1].send("\u0000\u00ff"));
        assertEquals("one", ends[1].recv(0, -1));
        assertEquals("", ends[1].recv(0, -1));
        assertEquals(SharedPipe.EMPTY, ends[1].recv(0, -1));
        assertEquals("\u0000\u00ff", ends[0].recv(0, -1));
        assertNotEquals(ends[0].fd(), ends[1].fd());
        assertTrue(ends[0].fd() >= SyncServices.FIRST_FD);
        assertSame(ends[0], services.pipeHandle(ends[0].fd()));
    }

    @Test
    void spilledMessagesAreMeasuredByTheirBytesAndTheirFilesDeletedWhenDropped() throws Exception {
        PipeHandle[] ends = contextTable().newPipe(true);
        java.nio.file.Path dir = java.nio.file.Path.of(services.transferDirectory());
        java.nio.file.Path read = java.nio.file.Files.createTempFile(dir, "test", null);
        assertEquals(SharedPipe.SENT, ends[0].sendFile(read.toString(), 5_000_000));
        assertEquals(SharedPipe.TOO_LONG, ends[1].recv(0, 4_999_999));
        SpilledMessage m = (SpilledMessage) ends[1].recv(0, 5_000_000);
        assertEquals(read.toString(), m.file());
        assertTrue(java.nio.file.Files.exists(read), "the receiver deletes the file it reads");
        java.nio.file.Files.delete(read);

        java.nio.file.Path dropped = java.nio.file.Files.createTempFile(dir, "test", null);
        ends[0].sendFile(dropped.toString(), 10);
        ends[1].close();
        assertFalse(java.nio.file.Files.exists(dropped), "a message nobody can read loses its file");
        java.nio.file.Path broken = java.nio.file.Files.createTempFile(dir, "test", null);
        assertEquals(SharedPipe.BROKEN, ends[0].sendFile(broken.toString(), 10));
        assertFalse(java.nio.file.Files.exists(broken), "a message not sent loses its file");
        ends[0].close();
    }

    @Test
    void oneWayPipeReadsAtEndZeroAndWritesAtEndOne() {
        PipeHandle[] ends = contextTable().newPipe(false);
        assertTrue(ends[0].readable());
        assertFalse(ends[0].writable());
        assertFalse(ends[1].readable());
        assertTrue(ends[1].writable());
    }

    @Test
    void tooLongMessageStaysQueued() {
        PipeHandle[] ends = contextTable().newPipe(true);
        ends[0].send("hello");
        assertEquals(SharedPipe.TOO_LONG, ends[1].recv(0, 4));
        assertEquals("hello", ends[1].recv(0, 5));
    }

    @Test
    void endOfFileOnlyAfterTheLastHandleOfThePeerClosesAndTheQueueIsDrained() {
        HandleTable table = contextTable();
        PipeHandle[] ends = table.newPipe(false);
        PipeHandle copy = table.duplicate(ends[1]);
        ends[1].send("m");
        ends[1].close();
        assertEquals(SharedPipe.READY, ends[0].poll(0));
        assertEquals("m", ends[0].recv(0, -1));
        assertEquals(SharedPipe.EMPTY, ends[0].recv(0, -1), "a copy of the writer is still open");
        copy.close();
        assertEquals(SharedPipe.EOF, ends[0].recv(0, -1));
        assertEquals(SharedPipe.READY, ends[0].poll(0));
    }

    @Test
    void sendingToAClosedEndIsABrokenPipeAndAClosedHandleRefusesEverything() {
        PipeHandle[] ends = contextTable().newPipe(true);
        ends[0].close();
        ends[0].close(); // idempotent
        assertEquals(SharedPipe.BROKEN, ends[1].send("x"));
        assertEquals(SharedPipe.CLOSED, ends[0].send("x"));
        assertEquals(SharedPipe.CLOSED, ends[0].recv(0, -1));
        assertEquals(SharedPipe.CLOSED, ends[0].poll(0));
        assertNull(services.pipeHandle(ends[0].fd()));
    }

    @Test
    void blockedReceiverWakesOnMessageAndOnEndOfFile() throws Exception {
        PipeHandle[] ends = contextTable().newPipe(false);
        CompletableFuture<Object> first = CompletableFuture.supplyAsync(() -> ends[0].recv(30, -1));
        Thread.sleep(50);
        ends[1].send("woken");
        assertEquals("woken", first.get(30, TimeUnit.SECONDS));
        CompletableFuture<Object> second = CompletableFuture.supplyAsync(() -> ends[0].recv(30, -1));
        Thread.sleep(50);
        ends[1].close();
        assertEquals(SharedPipe.EOF, second.get(30, TimeUnit.SECONDS));
    }

    @Test
    void interruptedReceiverReturnsEarlyAndKeepsItsInterruptStatus() throws Exception {
        PipeHandle[] ends = contextTable().newPipe(true);
        AtomicReference<Object> result = new AtomicReference<>();
        AtomicReference<Boolean> interrupted = new AtomicReference<>();
        Thread t = Thread.ofPlatform().start(() -> {
            result.set(ends[0].recv(30, -1));
            interrupted.set(Thread.currentThread().isInterrupted());
        });
        Thread.sleep(50);
        t.interrupt();
        t.join(10_000);
        assertFalse(t.isAlive());
        assertEquals(SharedPipe.EMPTY, result.get());
        assertTrue(interrupted.get());
    }

    @Test
    void closingATableClosesItsHandlesAndRefusesNewOnes() {
        HandleTable context = contextTable();
        HandleTable other = contextTable();
        PipeHandle[] ends = context.newPipe(true);
        PipeHandle reader = other.adopt(services.transfer(ends[1]));
        ends[1].close();
        context.closeAll();
        assertEquals(0, context.size());
        assertEquals(SharedPipe.EOF, reader.recv(0, -1));
        assertNull(context.duplicate(reader), "a closed table takes no handle");
        assertEquals(1, other.size());
    }

    @Test
    void adoptionMovesTransitAndFloatingHandlesButNeverAnotherContextsOnes() {
        HandleTable parent = contextTable();
        HandleTable child = contextTable();
        PipeHandle[] ends = parent.newPipe(true);
        assertNull(child.adopt(ends[0]), "owned by the parent's context");
        HandleTable transit = services.newHandleTable();
        PipeHandle inherited = transit.inherit(ends[0]);
        assertSame(inherited, transit.inherit(ends[0]), "one copy per parent handle");
        assertSame(inherited, child.adopt(inherited));
        assertEquals(0, transit.size());
        assertEquals(1, child.size());
        transit.closeAll();
        assertEquals(SharedPipe.SENT, inherited.send("still open"));
        PipeHandle floating = services.transfer(ends[0]);
        assertSame(floating, child.adopt(floating));
        floating.close();
        assertNull(child.adopt(floating), "closed");
    }

    @Test
    void inheritAllCopiesEveryOpenHandleAndClosingTheTransitReleasesThem() {
        HandleTable parent = contextTable();
        PipeHandle[] ends = parent.newPipe(false);
        HandleTable transit = services.newHandleTable();
        transit.inheritAll(parent);
        assertEquals(2, transit.size());
        ends[1].close();
        assertEquals(SharedPipe.EMPTY, ends[0].poll(0), "the inherited writer keeps the pipe open");
        transit.closeAll();
        assertEquals(SharedPipe.EOF, ends[0].recv(0, -1));
    }

    @Test
    void awaitReadyReturnsTheReadyOnesAndWakesOnAnyChange() throws Exception {
        HandleTable table = contextTable();
        PipeHandle[] p = table.newPipe(true);
        PipeHandle[] q = table.newPipe(true);
        Sentinel sentinel = new Sentinel();
        List<Waitable> items = List.of(p[0], q[0], sentinel);
        assertArrayEquals(new int[0], services.awaitReady(items, 0.05));
        CountDownLatch waiting = new CountDownLatch(1);
        CompletableFuture<int[]> woken = CompletableFuture.supplyAsync(() -> {
            waiting.countDown();
            return services.awaitReady(items, 30);
        });
        waiting.await();
        Thread.sleep(50);
        q[1].send("x");
        assertArrayEquals(new int[] {1}, woken.get(30, TimeUnit.SECONDS));
        sentinel.fire();
        p[1].close();
        assertArrayEquals(new int[] {0, 1, 2}, services.awaitReady(items, 30));
        assertSame(sentinel, services.waitable(sentinel.fd()));
        assertSame(q[0], services.waitable(q[0].fd()));
    }

    @Test
    void awaitReadyOnNothingWaitsForTheTimeout() {
        long start = System.nanoTime();
        assertArrayEquals(new int[0], services.awaitReady(List.of(), 0.05));
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(40));
    }
}
