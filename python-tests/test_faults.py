"""The fault suite: programs that misbehave the way real ones do, and what the pool does.

Every case runs on CPython and on polypool, except where CPython hangs or breaks: those
tests assert polypool's documented better behaviour and are skipped on CPython
(``polypool_extension``; README, "How it differs"). Cases that send signals to the
program itself run it as a child interpreter (``extensions.child_interpreter``).

Nothing here can hang a CI run: every blocking call is bounded (``hang_guard.bounded``
or a timeout), and a watchdog started for every test ends the whole run with a message
naming the test if it is still running ``WATCHDOG`` seconds later.

Run on CPython:   python3 -m unittest discover -s python-tests -p 'test_faults.py' -v
Run on polypool:  bin/polypool -m unittest discover -s python-tests -p 'test_faults.py' -v
"""

import multiprocessing
import os
import sys
import threading
import time
import unittest
from concurrent.futures import CancelledError, ProcessPoolExecutor

from extensions import ON_POLYPOOL, polypool_extension
from hang_guard import TIMEOUT, bounded

WATCHDOG = 240


class FaultTest(unittest.TestCase):
    """A test case whose every test runs under a watchdog."""

    def setUp(self):
        name = self.id()

        def expired():
            sys.__stderr__.write(f"\nwatchdog: {name} still running after {WATCHDOG} s; ending the run\n")
            sys.__stderr__.flush()
            os._exit(3)

        self._watchdog = threading.Timer(WATCHDOG, expired)
        self._watchdog.daemon = True
        self._watchdog.start()

    def tearDown(self):
        self._watchdog.cancel()


# ---------------------------------------------------------------------------
# Task functions (module level: they pickle by reference)
# ---------------------------------------------------------------------------

def square(x):
    return x * x


def sleep_then(x):
    time.sleep(60)
    return x


_shared = {}


def init_shared(lock, queue, reader):
    _shared.update(lock=lock, queue=queue, reader=reader)


def block(kind):
    """Block for good (or a minute), in one of the ways a task can."""
    if kind == "sleep":
        time.sleep(60)
    elif kind == "mp-lock":
        _shared["lock"].acquire()
    elif kind == "mp-queue":
        _shared["queue"].get()
    elif kind == "pipe":
        _shared["reader"].recv()
    elif kind == "event":
        threading.Event().wait()
    elif kind == "thread-lock":
        lock = threading.Lock()
        lock.acquire()
        lock.acquire()
    elif kind == "busy":
        while True:
            pass
    return kind


BLOCKING = ["sleep", "mp-lock", "mp-queue", "pipe", "event", "thread-lock", "busy"]


def block_in_process(kind, lock, queue, reader):
    init_shared(lock, queue, reader)
    block(kind)


# ---------------------------------------------------------------------------
# terminate() and shutdown() stop whatever the workers do
# ---------------------------------------------------------------------------

class TerminateTest(FaultTest):
    def terminated(self, pool):
        bounded(pool.terminate)
        bounded(pool.join)

    def test_join_after_terminate_with_pending_imap(self):
        pool = multiprocessing.Pool(2)
        it = pool.imap(sleep_then, range(4))
        self.terminated(pool)
        del it

    def test_join_after_terminate_with_partly_consumed_imap(self):
        pool = multiprocessing.Pool(2)
        it = pool.imap(square, range(10))
        self.assertEqual([next(it), next(it)], [0, 1])
        self.terminated(pool)

    def test_join_after_terminate_with_imap_unordered_of_a_generator(self):
        pool = multiprocessing.Pool(2)
        it = pool.imap_unordered(sleep_then, (i for i in range(4)))
        self.terminated(pool)
        del it

    def test_join_after_terminate_with_fully_consumed_imap(self):
        pool = multiprocessing.Pool(2)
        self.assertEqual(list(pool.imap(square, range(5))), [0, 1, 4, 9, 16])
        self.terminated(pool)

    def test_terminate_stops_workers_in_time_sleep(self):
        pool = multiprocessing.Pool(2)
        result = pool.map_async(sleep_then, range(4))
        time.sleep(0.5)
        self.terminated(pool)
        self.assertFalse(result.ready() and result.successful())

    def test_terminate_stops_workers_blocked_anywhere(self):
        lock = multiprocessing.Lock()
        queue = multiprocessing.Queue()
        reader, writer = multiprocessing.Pipe(duplex=False)
        lock.acquire()
        pool = multiprocessing.Pool(len(BLOCKING), init_shared, (lock, queue, reader))
        results = [pool.apply_async(block, (kind,)) for kind in BLOCKING]
        time.sleep(1)
        self.terminated(pool)
        for r in results:
            self.assertFalse(r.ready() and r.successful())
        writer.close()

    def test_input_in_a_worker_does_not_wait(self):
        # a worker's stdin is /dev/null's, as a pool worker's is in CPython
        with multiprocessing.Pool(1) as pool:
            with self.assertRaises(EOFError):
                pool.apply_async(input).get(timeout=TIMEOUT)

    def test_process_terminate_and_kill_stop_a_blocked_process(self):
        lock = multiprocessing.Lock()
        queue = multiprocessing.Queue()
        reader, writer = multiprocessing.Pipe(duplex=False)
        lock.acquire()
        for kind in BLOCKING:
            for stop, code in (("terminate", -15), ("kill", -9)):
                with self.subTest(kind=kind, stop=stop):
                    p = multiprocessing.Process(target=block_in_process, args=(kind, lock, queue, reader))
                    p.start()
                    time.sleep(0.3)
                    getattr(p, stop)()
                    p.join(TIMEOUT)
                    self.assertEqual(p.exitcode, code)

    @polypool_extension
    def test_shutdown_cancel_futures_stops_running_tasks(self):
        # CPython's shutdown waits for running tasks: forever, for these
        lock = multiprocessing.Lock()
        queue = multiprocessing.Queue()
        reader, writer = multiprocessing.Pipe(duplex=False)
        lock.acquire()
        executor = ProcessPoolExecutor(len(BLOCKING), initializer=init_shared, initargs=(lock, queue, reader))
        running = [executor.submit(block, kind) for kind in BLOCKING]
        queued = [executor.submit(square, i) for i in range(5)]
        time.sleep(1)
        bounded(executor.shutdown, cancel_futures=True)
        for f in running + queued:
            self.assertTrue(f.done())
            if not f.cancelled():
                with self.assertRaises(CancelledError):
                    f.result(timeout=0)


# ---------------------------------------------------------------------------
# Callbacks that raise, get() inside a callback
# ---------------------------------------------------------------------------

def failing_callback(value):
    raise ValueError(f"callback failed on {value!r}")


def raise_key_error(x):
    raise KeyError(x)


class CapturedExcepthook:
    """Collects what threading.excepthook is given, for the duration of a with block."""

    def __enter__(self):
        self.reports = []
        self._saved = threading.excepthook
        threading.excepthook = self.reports.append
        return self

    def __exit__(self, *exc):
        threading.excepthook = self._saved


@polypool_extension
class CallbackTest(FaultTest):
    # CPython's result thread dies with the first callback that raises: later results
    # never arrive, and a get() inside a callback deadlocks
    @classmethod
    def setUpClass(cls):
        cls.pool = multiprocessing.Pool(2)

    @classmethod
    def tearDownClass(cls):
        cls.pool.terminate()
        bounded(cls.pool.join)

    def test_raising_callback_is_reported_and_delivery_goes_on(self):
        with CapturedExcepthook() as hook:
            first = self.pool.apply_async(square, (3,), callback=failing_callback)
            self.assertEqual(first.get(timeout=TIMEOUT), 9)
            many = self.pool.map_async(square, range(3), callback=failing_callback)
            self.assertEqual(many.get(timeout=TIMEOUT), [0, 1, 4])
            self.assertEqual(self.pool.apply_async(square, (5,)).get(timeout=TIMEOUT), 25)
        self.assertEqual([type(r.exc_value) for r in hook.reports], [ValueError, ValueError])
        self.assertEqual(str(hook.reports[0].exc_value), "callback failed on 9")
        # the traceback is the callback's own
        self.assertEqual(hook.reports[0].exc_traceback.tb_frame.f_code.co_name, "failing_callback")

    def test_raising_error_callback_is_reported_and_the_error_delivered(self):
        with CapturedExcepthook() as hook:
            r = self.pool.apply_async(raise_key_error, (1,), error_callback=failing_callback)
            with self.assertRaises(KeyError):
                r.get(timeout=TIMEOUT)
        self.assertEqual(len(hook.reports), 1)
        self.assertIn("KeyError", str(hook.reports[0].exc_value))

    def test_get_inside_a_callback(self):
        done = self.pool.apply_async(square, (2,))
        done.wait(TIMEOUT)
        pending = self.pool.apply_async(sleep_then, (1,))
        seen = []

        def callback(value):
            seen.append(done.get())  # ready: works
            try:
                pending.get(timeout=TIMEOUT)
            except RuntimeError as e:
                seen.append(str(e))

        self.pool.apply_async(square, (5,), callback=callback).get(timeout=TIMEOUT)
        self.assertEqual(seen[0], 4)
        self.assertIn("callback", seen[1])


if __name__ == "__main__":
    unittest.main()
