package dev.polypool;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Function;

/**
 * The results of calls submitted lazily from an input iterator, with at most
 * {@code window} calls submitted but not yet returned: {@code imap} (input order) and
 * {@code imapUnordered} (completion order). Not thread-safe, like any iterator.
 */
final class ResultIterator<R> implements Iterator<R> {
    private final Iterator<?> input;
    private final int window;
    private final boolean ordered;
    private final Function<Object, CompletableFuture<R>> submit;
    // ordered: the calls in input order; unordered: completed calls in completion order
    private final ArrayDeque<CompletableFuture<R>> inOrder = new ArrayDeque<>();
    private final LinkedBlockingQueue<CompletableFuture<R>> completed = new LinkedBlockingQueue<>();
    private final Set<CompletableFuture<R>> inFlight = ConcurrentHashMap.newKeySet();
    private final Runnable atEnd;
    private int outstanding;
    private boolean ended;
    private boolean endReported;

    /** {@code atEnd}, if not null, runs once, when the last result has been returned. */
    ResultIterator(Iterator<?> input, int window, boolean ordered, Function<Object, CompletableFuture<R>> submit,
                   Runnable atEnd) {
        this.input = input;
        this.window = window;
        this.ordered = ordered;
        this.submit = submit;
        this.atEnd = atEnd;
    }

    @Override
    public boolean hasNext() {
        fill();
        if (outstanding == 0 && !ended && !endReported && atEnd != null) {
            endReported = true;
            atEnd.run();
        }
        return outstanding > 0;
    }

    @Override
    public R next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        try {
            CompletableFuture<R> f = ordered ? inOrder.removeFirst() : completed.take();
            outstanding--;
            inFlight.remove(f);
            return PythonPool.await(f);
        } catch (InterruptedException e) {
            cancelAll();
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted while waiting for a result");
        } catch (RuntimeException | Error e) {
            cancelAll();
            throw e;
        }
    }

    /** Cancels the calls in flight (stopping running ones) and reads no more input. */
    void cancelAll() {
        ended = true;
        for (CompletableFuture<R> f : inFlight) {
            f.cancel(true);
        }
        inFlight.clear();
        inOrder.clear();
        completed.clear();
        outstanding = 0;
    }

    private void fill() {
        try {
            while (!ended && outstanding < window && input.hasNext()) {
                CompletableFuture<R> f = submit.apply(input.next());
                outstanding++;
                inFlight.add(f);
                if (ordered) {
                    inOrder.addLast(f);
                } else {
                    f.whenComplete((r, e) -> completed.add(f));
                }
            }
        } catch (RuntimeException | Error e) {
            cancelAll();
            throw e;
        }
    }
}
