"""Conformance tests for concurrent.futures (ProcessPoolExecutor and friends).

Every test here passes on CPython (default "fork" start method) and so encodes
CPython's behaviour; polypool must pass them too.

Run on CPython:   python3 -m unittest discover -s python-tests -p 'test_futures.py' -v
Run on polypool:  bin/polypool -m unittest discover -s python-tests -p 'test_futures.py' -v

Worker functions are module-level so that they pickle by reference
(``test_futures.<name>``).  Executors are expensive on polypool, so most tests
share one module-level ProcessPoolExecutor(2) (see setUpModule); only tests
that need an executor in a particular state (shut down, broken, with an
initializer, ...) make their own -- about ten in all.

Every blocking call is bounded: result()/exception()/as_completed()/wait()/
map() get a timeout, and calls without one (shutdown(wait=True), ...) go
through ``bounded()``, so a broken implementation fails instead of hanging.
Tests on the shared executor leave it idle when they finish (they wait for
their slow tasks), so that the next test starts with two free workers.
"""

import concurrent.futures
import concurrent.futures.process
import multiprocessing
import os
import pickle
import re
import threading
import time
import unittest

from concurrent.futures import (ALL_COMPLETED, FIRST_COMPLETED,
                                FIRST_EXCEPTION, CancelledError, Future,
                                ProcessPoolExecutor, ThreadPoolExecutor,
                                as_completed, wait)
from concurrent.futures.process import BrokenProcessPool

from extensions import cpython_refuses
from hang_guard import TIMEOUT, bounded, hang_count, note_hang

# Names CPython gives to ProcessPoolExecutor workers: the context's Process
# class name plus the global process counter, e.g. 'ForkProcess-3'.
WORKER_NAME_RE = re.compile(r"(Fork|Spawn|ForkServer)Process-\d+")
SPAWN_WORKER_NAME_RE = re.compile(r"SpawnProcess-\d+")


# ---------------------------------------------------------------------------
# Waiting with hang protection
# ---------------------------------------------------------------------------

def get(future):
    """future.result(timeout=TIMEOUT); a timeout counts as a hang."""
    try:
        return future.result(timeout=TIMEOUT)
    except concurrent.futures.TimeoutError:
        raise note_hang("Future.result") from None


def wait_all(futures):
    """Wait for every future (ALL_COMPLETED) with a timeout; returns done."""
    done, not_done = wait(futures, timeout=TIMEOUT)
    if not_done:
        raise note_hang("wait(ALL_COMPLETED)")
    return done


def wait_until(predicate, what):
    """Poll predicate() until it is true; fail after TIMEOUT seconds."""
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise note_hang(what)
        time.sleep(0.005)


# ---------------------------------------------------------------------------
# Worker functions (module level: pickled by reference)
# ---------------------------------------------------------------------------

def square(x):
    return x * x


def add(a, b):
    return a + b


def add_kw(a, b=0, *, c=0):
    return a + b + c


def identity(x):
    return x


def sleep_return(seconds, value):
    time.sleep(seconds)
    return value


def arg_count(*args):
    return len(args)


def raise_value_error(message):
    raise ValueError(message)


def fail_on_three(x):
    if x == 3:
        raise ValueError("item three is bad")
    return x * 10


def return_lock():
    return threading.Lock()


def worker_info():
    return os.getpid(), multiprocessing.current_process().name


def sleep_getpid(seconds):
    time.sleep(seconds)
    return os.getpid()


def exit_abruptly():
    os._exit(1)


def failing_initializer():
    raise RuntimeError("initializer fails on purpose")


_INIT_VALUE = None


def set_init_value(value, suffix):
    global _INIT_VALUE
    _INIT_VALUE = value + suffix


def get_init_value(seconds=0.0):
    time.sleep(seconds)
    return _INIT_VALUE


def current_thread_name():
    time.sleep(0.05)
    return threading.current_thread().name


def thread_pool_in_worker(n):
    """Runs a ThreadPoolExecutor inside a process-pool worker."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="inner") as tp:
        squares = list(tp.map(square, range(n), timeout=30))
        futures = [tp.submit(current_thread_name) for _ in range(4)]
        names = sorted({f.result(timeout=30) for f in futures})
    return os.getpid(), squares, names


# A module-level lambda: pickle looks up ``test_futures.<lambda>`` and fails
# with pickle.PicklingError.
MODULE_LAMBDA = lambda x: x  # noqa: E731


# ---------------------------------------------------------------------------
# Shared executor
# ---------------------------------------------------------------------------

_shared = None


def setUpModule():
    global _shared
    _shared = ProcessPoolExecutor(max_workers=2)
    # Warm up: start the workers before the first test.
    get(_shared.submit(square, 2))


def tearDownModule():
    global _shared
    if _shared is not None:
        ex, _shared = _shared, None
        bounded(ex.shutdown, wait=True)


class SharedExecutorTestCase(unittest.TestCase):
    """Tests that run on the module-level ProcessPoolExecutor(2)."""

    @property
    def ex(self):
        return _shared

    def setUp(self):
        self._hangs_before = hang_count()

    def tearDown(self):
        # If a call hung, the shared executor may be wedged: replace it so
        # that the following tests are not affected.
        global _shared
        if hang_count() != self._hangs_before:
            old = _shared
            threading.Thread(target=old.shutdown,
                             kwargs={"wait": False, "cancel_futures": True},
                             daemon=True).start()
            _shared = ProcessPoolExecutor(max_workers=2)


# ---------------------------------------------------------------------------
# Constructor argument validation (no worker is ever started)
# ---------------------------------------------------------------------------

class ConstructorValidationTest(unittest.TestCase):
    def test_max_workers_zero_raises_value_error(self):
        with self.assertRaises(ValueError) as cm:
            ProcessPoolExecutor(max_workers=0)
        self.assertIn("max_workers must be greater than 0", str(cm.exception))

    def test_max_workers_negative_raises_value_error(self):
        with self.assertRaises(ValueError):
            ProcessPoolExecutor(max_workers=-1)

    def test_initializer_not_callable_raises_type_error(self):
        with self.assertRaises(TypeError) as cm:
            ProcessPoolExecutor(max_workers=1, initializer=42)
        self.assertIn("initializer must be a callable", str(cm.exception))

    def test_max_tasks_per_child_with_fork_context_raises_value_error(self):
        with self.assertRaises(ValueError) as cm:
            ProcessPoolExecutor(max_workers=1,
                                mp_context=multiprocessing.get_context("fork"),
                                max_tasks_per_child=2)
        self.assertIn("fork", str(cm.exception))

    def test_max_tasks_per_child_bad_values(self):
        spawn = multiprocessing.get_context("spawn")
        for bad in (0, -1):
            with self.subTest(max_tasks_per_child=bad):
                with self.assertRaises(ValueError):
                    ProcessPoolExecutor(max_workers=1, mp_context=spawn,
                                        max_tasks_per_child=bad)
        with self.assertRaises(TypeError):
            ProcessPoolExecutor(max_workers=1, mp_context=spawn,
                                max_tasks_per_child=1.5)


# ---------------------------------------------------------------------------
# Executors with particular configurations (one dedicated executor each)
# ---------------------------------------------------------------------------

class ExecutorConfigurationTest(unittest.TestCase):
    def test_max_workers_none_works(self):
        parent_pid = os.getpid()
        ex = ProcessPoolExecutor(max_workers=None)
        try:
            self.assertEqual(get(ex.submit(square, 12)), 144)
            self.assertEqual(list(ex.map(square, range(5), timeout=TIMEOUT)),
                             [0, 1, 4, 9, 16])
            pid, name = get(ex.submit(worker_info))
            self.assertNotEqual(pid, parent_pid)
            self.assertIsNotNone(WORKER_NAME_RE.fullmatch(name), name)
        finally:
            bounded(ex.shutdown, wait=True)

    def test_fork_mp_context_with_initializer(self):
        ctx = multiprocessing.get_context("fork")
        ex = ProcessPoolExecutor(max_workers=2, mp_context=ctx,
                                 initializer=set_init_value,
                                 initargs=("hello", "-init"))
        try:
            futures = [ex.submit(get_init_value, 0.1) for _ in range(6)]
            self.assertEqual([get(f) for f in futures], ["hello-init"] * 6)
            self.assertEqual(list(ex.map(get_init_value, [0.0] * 3, timeout=TIMEOUT)),
                             ["hello-init"] * 3)
            pid, name = get(ex.submit(worker_info))
            self.assertNotEqual(pid, os.getpid())
            self.assertIsNotNone(re.fullmatch(r"ForkProcess-\d+", name), name)
        finally:
            bounded(ex.shutdown, wait=True)
        # The initializer ran in the workers only.
        self.assertIsNone(_INIT_VALUE)

    def test_max_tasks_per_child_replaces_workers(self):
        # With mp_context=None and max_tasks_per_child set, CPython picks the
        # "spawn" context (fork is incompatible with max_tasks_per_child).
        parent_pid = os.getpid()
        ex = ProcessPoolExecutor(max_workers=1, max_tasks_per_child=1)
        try:
            infos = [get(ex.submit(worker_info)) for _ in range(3)]
            self.assertEqual(get(ex.submit(add, 40, 2)), 42)
        finally:
            bounded(ex.shutdown, wait=True)
        pids = [pid for pid, _ in infos]
        self.assertNotIn(parent_pid, pids)
        self.assertEqual(len(set(pids)), 3, pids)
        for _, name in infos:
            self.assertIsNotNone(SPAWN_WORKER_NAME_RE.fullmatch(name), name)


# ---------------------------------------------------------------------------
# submit and Future
# ---------------------------------------------------------------------------

class FutureTest(SharedExecutorTestCase):
    def test_submit_returns_future_with_result(self):
        f = self.ex.submit(square, 7)
        self.assertIsInstance(f, Future)
        self.assertEqual(f.result(timeout=TIMEOUT), 49)
        self.assertTrue(f.done())
        self.assertFalse(f.running())
        self.assertFalse(f.cancelled())
        self.assertIsNone(f.exception(timeout=TIMEOUT))

    def test_submit_args_and_kwargs(self):
        self.assertEqual(get(self.ex.submit(add_kw, 1, b=2, c=3)), 6)
        self.assertEqual(get(self.ex.submit(add_kw, 1, 4)), 5)
        self.assertEqual(get(self.ex.submit(identity, {"k": [1, (2, 3)]})),
                         {"k": [1, (2, 3)]})

    def test_one_argument_keeps_its_value_and_type(self):
        # one positional argument goes alone (a plain one unpickled), not in a tuple
        items = [2**70, -2**63, 2**63, True, False, None, 0, 1.5, -0.0, float("nan"), "s",
                 "\udc80\u20ac", b"b", [1], (2,), (), [], {"k": (1,)}]
        for item in items:
            with self.subTest(item=item):
                back = get(self.ex.submit(identity, item))
                self.assertEqual((type(back), repr(back)), (type(item), repr(item)))
        back = bounded(lambda: list(self.ex.map(identity, items, timeout=TIMEOUT)))
        self.assertEqual([(type(x), repr(x)) for x in back], [(type(x), repr(x)) for x in items])
        self.assertEqual(get(self.ex.submit(arg_count, (1, 2))), 1)
        self.assertEqual(bounded(lambda: list(self.ex.map(arg_count, [(1, 2), ()], timeout=TIMEOUT))), [1, 1])
        self.assertEqual(get(self.ex.submit(arg_count)), 0)

    def test_states_while_running_and_after(self):
        f = self.ex.submit(sleep_return, 1.0, "slow")
        self.assertFalse(f.done())
        self.assertFalse(f.cancelled())
        wait_until(lambda: f.running() or f.done(), "future to start running")
        self.assertTrue(f.running())
        self.assertFalse(f.done())
        self.assertEqual(get(f), "slow")
        self.assertFalse(f.running())
        self.assertTrue(f.done())
        self.assertFalse(f.cancelled())

    def test_result_timeout_raises_timeout_error(self):
        f = self.ex.submit(sleep_return, 0.8, "late")
        with self.assertRaises(TimeoutError):
            f.result(timeout=0.05)
        with self.assertRaises(concurrent.futures.TimeoutError):
            f.exception(timeout=0.05)
        self.assertFalse(f.done())
        self.assertFalse(f.cancelled())
        self.assertEqual(get(f), "late")

    def test_exception_returns_exception_object(self):
        f = self.ex.submit(raise_value_error, "bad-value-1")
        exc = f.exception(timeout=TIMEOUT)
        self.assertIs(type(exc), ValueError)
        self.assertEqual(exc.args, ("bad-value-1",))
        self.assertTrue(f.done())
        self.assertFalse(f.cancelled())
        self.assertFalse(f.running())

    def test_result_raises_with_remote_traceback_cause(self):
        f = self.ex.submit(raise_value_error, "boom-17")
        with self.assertRaises(ValueError) as cm:
            f.result(timeout=TIMEOUT)
        exc = cm.exception
        self.assertIs(type(exc), ValueError)
        self.assertEqual(str(exc), "boom-17")
        cause = exc.__cause__
        self.assertIsNotNone(cause)
        self.assertEqual(type(cause).__name__, "_RemoteTraceback")
        self.assertIsInstance(cause, concurrent.futures.process._RemoteTraceback)
        text = str(cause)
        self.assertIn("Traceback (most recent call last)", text)
        self.assertIn("raise_value_error", text)
        self.assertIn("ValueError: boom-17", text)

    def test_executor_usable_after_task_error(self):
        with self.assertRaises(ValueError):
            self.ex.submit(raise_value_error, "x").result(timeout=TIMEOUT)
        self.assertEqual(get(self.ex.submit(square, 9)), 81)

    def test_add_done_callback_runs_in_parent(self):
        parent_pid = os.getpid()
        seen = []
        called = threading.Event()

        def callback(fut):
            seen.append((fut, os.getpid(), fut.result()))
            called.set()

        f = self.ex.submit(sleep_return, 0.3, "cb-value")
        f.add_done_callback(callback)
        self.assertEqual(get(f), "cb-value")
        self.assertTrue(called.wait(TIMEOUT), "callback was not called")
        self.assertEqual(len(seen), 1)
        fut, pid, value = seen[0]
        self.assertIs(fut, f)
        self.assertEqual(pid, parent_pid)
        self.assertEqual(value, "cb-value")

    def test_add_done_callback_after_completion_runs_immediately(self):
        f = self.ex.submit(square, 5)
        self.assertEqual(get(f), 25)
        seen = []
        f.add_done_callback(
            lambda fut: seen.append((fut, os.getpid(), threading.get_ident())))
        # Called synchronously, in the calling thread, before returning.
        self.assertEqual(seen, [(f, os.getpid(), threading.get_ident())])

    def test_callback_sees_exception(self):
        called = threading.Event()
        seen = []

        def callback(fut):
            seen.append(fut.exception())
            called.set()

        f = self.ex.submit(raise_value_error, "cb-error")
        f.add_done_callback(callback)
        self.assertTrue(called.wait(TIMEOUT), "callback was not called")
        self.assertIs(type(seen[0]), ValueError)
        self.assertEqual(str(seen[0]), "cb-error")


# ---------------------------------------------------------------------------
# map
# ---------------------------------------------------------------------------

class MapTest(SharedExecutorTestCase):
    def test_map_order(self):
        self.assertEqual(list(self.ex.map(square, range(20), timeout=TIMEOUT)),
                         [x * x for x in range(20)])

    def test_map_order_with_uneven_durations(self):
        delays = [0.3, 0.0, 0.2, 0.0, 0.1]
        self.assertEqual(
            list(self.ex.map(sleep_return, delays, range(5), timeout=TIMEOUT)),
            [0, 1, 2, 3, 4])

    def test_map_empty(self):
        self.assertEqual(list(self.ex.map(square, [], timeout=TIMEOUT)), [])

    def test_map_multiple_iterables_shortest_wins(self):
        self.assertEqual(
            list(self.ex.map(add, [1, 2, 3, 4], [10, 20, 30], timeout=TIMEOUT)),
            [11, 22, 33])
        self.assertEqual(
            list(self.ex.map(add, iter(range(100)), "abc".encode(), timeout=TIMEOUT)),
            [97, 99, 101])

    def test_map_chunksize(self):
        self.assertEqual(
            list(self.ex.map(square, range(23), chunksize=5, timeout=TIMEOUT)),
            [x * x for x in range(23)])
        self.assertEqual(
            list(self.ex.map(add, range(7), range(7), chunksize=3, timeout=TIMEOUT)),
            [2 * x for x in range(7)])

    def test_map_chunksize_below_one_raises(self):
        with self.assertRaises(ValueError) as cm:
            self.ex.map(square, range(3), chunksize=0)
        self.assertIn("chunksize must be >= 1", str(cm.exception))

    def test_map_returns_iterator(self):
        it = self.ex.map(square, range(3), timeout=TIMEOUT)
        self.assertIs(iter(it), it)
        self.assertEqual(next(it), 0)
        self.assertEqual(list(it), [1, 4])

    def test_map_exception_raised_at_failing_item(self):
        # map() itself does not raise; iteration raises at the bad item.
        it = self.ex.map(fail_on_three, range(6), timeout=TIMEOUT)
        self.assertEqual([next(it), next(it), next(it)], [0, 10, 20])
        with self.assertRaises(ValueError) as cm:
            next(it)
        self.assertEqual(str(cm.exception), "item three is bad")
        self.assertEqual(type(cm.exception.__cause__).__name__, "_RemoteTraceback")
        self.assertIn("fail_on_three", str(cm.exception.__cause__))

    def test_map_exception_with_chunksize_fails_whole_chunk(self):
        # With chunksize=2 the chunks are [0,1] [2,3] [4,5]: the error in
        # item 3 loses item 2 too (CPython runs a chunk as one call).
        it = self.ex.map(fail_on_three, range(6), chunksize=2, timeout=TIMEOUT)
        got = []
        with self.assertRaises(ValueError):
            for value in it:
                got.append(value)
        self.assertEqual(got, [0, 10])

    def test_map_timeout(self):
        start = time.monotonic()
        it = self.ex.map(sleep_return, [0.6], ["late"], timeout=0.05)
        with self.assertRaises(TimeoutError):
            list(it)
        self.assertLess(time.monotonic() - start, 0.55)
        # Let the slow task finish so the shared workers are idle again.
        time.sleep(max(0.0, 0.7 - (time.monotonic() - start)))


# ---------------------------------------------------------------------------
# as_completed and wait
# ---------------------------------------------------------------------------

class AsCompletedWaitTest(SharedExecutorTestCase):
    def test_as_completed_yields_each_future_once(self):
        futures = [self.ex.submit(sleep_return, 0.05 * (i % 3), i) for i in range(8)]
        # A duplicate in the input is still yielded only once.
        yielded = list(as_completed(futures + [futures[0]], timeout=TIMEOUT))
        self.assertEqual(len(yielded), 8)
        self.assertEqual(set(yielded), set(futures))
        self.assertTrue(all(f.done() for f in yielded))
        self.assertEqual(sorted(f.result() for f in yielded), list(range(8)))

    def test_as_completed_finished_futures_first(self):
        done = self.ex.submit(square, 3)
        self.assertEqual(get(done), 9)
        slow = self.ex.submit(sleep_return, 0.5, "slow")
        order = list(as_completed([slow, done], timeout=TIMEOUT))
        self.assertEqual(order, [done, slow])

    def test_as_completed_timeout(self):
        fast = self.ex.submit(square, 4)
        self.assertEqual(get(fast), 16)
        slow = self.ex.submit(sleep_return, 0.8, "slow")
        it = as_completed([fast, slow], timeout=0.1)
        self.assertIs(next(it), fast)
        with self.assertRaises(TimeoutError):
            next(it)
        self.assertEqual(get(slow), "slow")

    def test_wait_first_completed(self):
        slow = self.ex.submit(sleep_return, 1.0, "slow")
        fast = self.ex.submit(sleep_return, 0.05, "fast")
        done, not_done = wait([slow, fast], timeout=TIMEOUT,
                              return_when=FIRST_COMPLETED)
        self.assertEqual(done, {fast})
        self.assertEqual(not_done, {slow})
        self.assertEqual(get(slow), "slow")

    def test_wait_first_exception(self):
        slow = self.ex.submit(sleep_return, 1.0, "slow")
        ok = self.ex.submit(square, 2)
        bad = self.ex.submit(raise_value_error, "first-exception")
        done, not_done = wait([slow, ok, bad], timeout=TIMEOUT,
                              return_when=FIRST_EXCEPTION)
        self.assertIn(bad, done)
        self.assertEqual(not_done, {slow})
        self.assertIsInstance(bad.exception(), ValueError)
        self.assertEqual(get(slow), "slow")

    def test_wait_first_exception_without_exception_waits_for_all(self):
        futures = [self.ex.submit(sleep_return, 0.1, i) for i in range(4)]
        done, not_done = wait(futures, timeout=TIMEOUT, return_when=FIRST_EXCEPTION)
        self.assertEqual(done, set(futures))
        self.assertEqual(not_done, set())

    def test_wait_all_completed(self):
        futures = [self.ex.submit(sleep_return, 0.05 * i, i) for i in range(5)]
        futures.append(self.ex.submit(raise_value_error, "in-all"))
        done, not_done = wait(futures, timeout=TIMEOUT, return_when=ALL_COMPLETED)
        self.assertEqual(done, set(futures))
        self.assertEqual(not_done, set())
        self.assertEqual([f.result() for f in futures[:5]], list(range(5)))

    def test_wait_timeout_returns_not_done(self):
        slow = self.ex.submit(sleep_return, 0.8, "slow")
        fast = self.ex.submit(square, 6)
        self.assertEqual(get(fast), 36)
        done, not_done = wait([slow, fast], timeout=0.1)
        self.assertEqual(done, {fast})
        self.assertEqual(not_done, {slow})
        self.assertEqual(get(slow), "slow")


# ---------------------------------------------------------------------------
# cancel
# ---------------------------------------------------------------------------

class CancelTest(SharedExecutorTestCase):
    def test_cancel_pending_future(self):
        # Occupy both workers, then queue more work behind them.
        blockers = [self.ex.submit(sleep_return, 1.0, "blocker-%d" % i)
                    for i in range(2)]
        wait_until(lambda: all(b.running() or b.done() for b in blockers),
                   "blockers to start")
        queued = [self.ex.submit(square, i) for i in range(8)]
        # A running future cannot be cancelled.
        self.assertFalse(blockers[0].cancel())
        self.assertFalse(blockers[0].cancelled())

        callback_seen = []
        queued[-1].add_done_callback(callback_seen.append)
        to_cancel = queued[-3:]
        for f in to_cancel:
            self.assertTrue(f.cancel())
        # The done-callback ran synchronously inside cancel().
        self.assertEqual(callback_seen, [queued[-1]])
        for f in to_cancel:
            self.assertTrue(f.cancelled())
            self.assertTrue(f.done())
            self.assertFalse(f.running())
            self.assertTrue(f.cancel())  # cancelling again still says True
            with self.assertRaises(CancelledError):
                f.result(timeout=TIMEOUT)
            with self.assertRaises(CancelledError):
                f.exception(timeout=TIMEOUT)
        self.assertIs(CancelledError, concurrent.futures.CancelledError)

        # The others run normally.
        self.assertEqual([get(b) for b in blockers], ["blocker-0", "blocker-1"])
        self.assertEqual([get(f) for f in queued[:-3]], [i * i for i in range(5)])
        # Cancelled futures show up as done in wait()/as_completed().
        done, not_done = wait(queued, timeout=TIMEOUT)
        self.assertEqual(done, set(queued))
        self.assertEqual(set(as_completed(to_cancel, timeout=TIMEOUT)), set(to_cancel))

    def test_cancel_finished_future_returns_false(self):
        f = self.ex.submit(square, 11)
        self.assertEqual(get(f), 121)
        self.assertFalse(f.cancel())
        self.assertFalse(f.cancelled())
        self.assertEqual(f.result(timeout=TIMEOUT), 121)

        g = self.ex.submit(raise_value_error, "done-with-error")
        self.assertIsInstance(g.exception(timeout=TIMEOUT), ValueError)
        self.assertFalse(g.cancel())
        self.assertFalse(g.cancelled())


# ---------------------------------------------------------------------------
# Pickling failures
# ---------------------------------------------------------------------------

class PicklingTest(SharedExecutorTestCase):
    @cpython_refuses
    def test_module_lambda_raises_pickling_error(self):
        f = self.ex.submit(MODULE_LAMBDA, 1)
        with self.assertRaises(pickle.PicklingError):
            f.result(timeout=TIMEOUT)
        self.assertTrue(f.done())
        # The executor is still usable afterwards.
        self.assertEqual(get(self.ex.submit(square, 5)), 25)

    @cpython_refuses
    def test_local_lambda_raises_attribute_error(self):
        # CPython 3.11/3.12: pickling a local object raises AttributeError
        # ("Can't pickle local object ...").
        f = self.ex.submit(lambda x: x, 1)
        with self.assertRaises(AttributeError) as cm:
            f.result(timeout=TIMEOUT)
        self.assertIn("local object", str(cm.exception))
        self.assertEqual(get(self.ex.submit(square, 6)), 36)

    def test_unpicklable_argument_raises_type_error(self):
        f = self.ex.submit(identity, threading.Lock())
        with self.assertRaises(TypeError) as cm:
            f.result(timeout=TIMEOUT)
        self.assertIn("pickle", str(cm.exception))
        self.assertEqual(get(self.ex.submit(add, 40, 2)), 42)
        self.assertEqual(list(self.ex.map(square, range(4), timeout=TIMEOUT)),
                         [0, 1, 4, 9])

    def test_unpicklable_result_raises_type_error(self):
        f = self.ex.submit(return_lock)
        with self.assertRaises(TypeError) as cm:
            f.result(timeout=TIMEOUT)
        self.assertIn("pickle", str(cm.exception))
        self.assertEqual(type(cm.exception.__cause__).__name__, "_RemoteTraceback")
        self.assertEqual(get(self.ex.submit(square, 7)), 49)


# ---------------------------------------------------------------------------
# Worker identity
# ---------------------------------------------------------------------------

class WorkerIdentityTest(SharedExecutorTestCase):
    def test_parent_is_main_process(self):
        self.assertEqual(multiprocessing.current_process().name, "MainProcess")
        self.assertIsNone(multiprocessing.parent_process())

    def test_worker_pid_and_name(self):
        pid, name = get(self.ex.submit(worker_info))
        self.assertNotEqual(pid, os.getpid())
        self.assertIsNotNone(WORKER_NAME_RE.fullmatch(name), name)
        self.assertNotEqual(name, "MainProcess")

    def test_two_workers_have_distinct_pids(self):
        futures = [self.ex.submit(sleep_getpid, 0.3) for _ in range(6)]
        pids = [get(f) for f in futures]
        self.assertNotIn(os.getpid(), pids)
        self.assertEqual(len(set(pids)), 2, pids)


# ---------------------------------------------------------------------------
# shutdown (dedicated executors)
# ---------------------------------------------------------------------------

class ShutdownTest(unittest.TestCase):
    def test_shutdown_wait_true_waits_then_submit_raises(self):
        ex = ProcessPoolExecutor(max_workers=2)
        futures = [ex.submit(sleep_return, 0.3, i) for i in range(4)]
        bounded(ex.shutdown, wait=True)
        # Everything pending finished before shutdown() returned.
        self.assertTrue(all(f.done() for f in futures))
        self.assertEqual([f.result(timeout=0) for f in futures], [0, 1, 2, 3])
        with self.assertRaises(RuntimeError) as cm:
            ex.submit(square, 1)
        self.assertIn("cannot schedule new futures after shutdown",
                      str(cm.exception))
        with self.assertRaises(RuntimeError):
            ex.map(square, range(3))
        # A second shutdown is harmless.
        bounded(ex.shutdown, wait=True)

    def test_shutdown_wait_false_pending_futures_still_complete(self):
        ex = ProcessPoolExecutor(max_workers=2)
        try:
            futures = [ex.submit(sleep_return, 0.2, i) for i in range(5)]
            bounded(ex.shutdown, wait=False)
            with self.assertRaises(RuntimeError):
                ex.submit(square, 1)
            self.assertEqual([get(f) for f in futures], [0, 1, 2, 3, 4])
            self.assertFalse(any(f.cancelled() for f in futures))
        finally:
            bounded(ex.shutdown, wait=True)

    def test_shutdown_cancel_futures(self):
        ex = ProcessPoolExecutor(max_workers=2)
        futures = [ex.submit(sleep_return, 0.5, i) for i in range(10)]
        wait_until(lambda: futures[0].running() or futures[0].done(),
                   "first future to start")
        bounded(ex.shutdown, wait=True, cancel_futures=True)
        # Nothing hangs: every future is done, either cancelled or with
        # its result.
        self.assertTrue(all(f.done() for f in futures))
        cancelled = [f for f in futures if f.cancelled()]
        self.assertGreaterEqual(len(cancelled), 1)
        self.assertTrue(futures[-1].cancelled())
        self.assertFalse(futures[0].cancelled())
        for i, f in enumerate(futures):
            if f.cancelled():
                with self.assertRaises(CancelledError):
                    f.result(timeout=0)
            else:
                self.assertEqual(f.result(timeout=0), i)
        with self.assertRaises(RuntimeError):
            ex.submit(square, 1)

    def test_context_manager_shuts_down_on_exit(self):
        with ProcessPoolExecutor(2) as ex:
            self.assertIsInstance(ex, ProcessPoolExecutor)
            futures = [ex.submit(sleep_return, 0.2, i) for i in range(4)]
            self.assertEqual(get(ex.submit(square, 3)), 9)
        # __exit__ is shutdown(wait=True): everything has finished.
        self.assertTrue(all(f.done() for f in futures))
        self.assertEqual([f.result(timeout=0) for f in futures], [0, 1, 2, 3])
        with self.assertRaises(RuntimeError):
            ex.submit(square, 1)


# ---------------------------------------------------------------------------
# Broken pools (dedicated executors)
# ---------------------------------------------------------------------------

class BrokenPoolTest(unittest.TestCase):
    def test_worker_exit_breaks_pool(self):
        ex = ProcessPoolExecutor(max_workers=2)
        try:
            self.assertEqual(get(ex.submit(square, 3)), 9)
            f = ex.submit(exit_abruptly)
            with self.assertRaises(BrokenProcessPool) as cm:
                f.result(timeout=TIMEOUT)
            exc = cm.exception
            self.assertIsInstance(exc, concurrent.futures.BrokenExecutor)
            self.assertIsInstance(exc, RuntimeError)
            self.assertIn("terminated abruptly", str(exc))
            self.assertTrue(f.done())
            self.assertFalse(f.cancelled())
            # The executor is marked broken: no new work is accepted.
            with self.assertRaises(BrokenProcessPool) as cm2:
                ex.submit(square, 2)
            self.assertIn("not usable anymore", str(cm2.exception))
        finally:
            bounded(ex.shutdown, wait=True)

    def test_initializer_failure_breaks_pool(self):
        # CPython: the worker logs "Exception in initializer:" and exits,
        # which breaks the pool.
        ex = ProcessPoolExecutor(max_workers=1, initializer=failing_initializer)
        try:
            f = ex.submit(square, 2)
            with self.assertRaises(BrokenProcessPool):
                f.result(timeout=TIMEOUT)
            with self.assertRaises(BrokenProcessPool):
                ex.submit(square, 3)
        finally:
            bounded(ex.shutdown, wait=True)


# ---------------------------------------------------------------------------
# ThreadPoolExecutor
# ---------------------------------------------------------------------------

class ThreadPoolExecutorTest(unittest.TestCase):
    def test_submit_and_map(self):
        with ThreadPoolExecutor(max_workers=3) as tp:
            self.assertEqual(tp.submit(add, 2, 3).result(timeout=TIMEOUT), 5)
            self.assertEqual(list(tp.map(square, range(10), timeout=TIMEOUT)),
                             [x * x for x in range(10)])
            self.assertEqual(list(tp.map(add, [1, 2, 3], [10, 20], timeout=TIMEOUT)),
                             [11, 22])

    def test_exception_is_the_raised_object(self):
        marker = ValueError("thread-error")

        def raise_marker():
            raise marker

        with ThreadPoolExecutor(max_workers=1) as tp:
            f = tp.submit(raise_marker)
            self.assertIs(f.exception(timeout=TIMEOUT), marker)
            with self.assertRaises(ValueError) as cm:
                f.result(timeout=TIMEOUT)
            self.assertIs(cm.exception, marker)

    def test_max_workers_zero_raises(self):
        with self.assertRaises(ValueError):
            ThreadPoolExecutor(max_workers=0)

    def test_thread_name_prefix(self):
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="pfx") as tp:
            names = {tp.submit(current_thread_name).result(timeout=TIMEOUT)
                     for _ in range(3)}
        for name in names:
            self.assertIsNotNone(re.fullmatch(r"pfx_\d+", name), name)

    def test_submit_after_shutdown_raises(self):
        tp = ThreadPoolExecutor(max_workers=1)
        self.assertEqual(tp.submit(square, 4).result(timeout=TIMEOUT), 16)
        bounded(tp.shutdown, wait=True)
        with self.assertRaises(RuntimeError):
            tp.submit(square, 4)


class ThreadPoolInProcessWorkerTest(SharedExecutorTestCase):
    def test_thread_pool_inside_process_worker(self):
        pid, squares, names = get(self.ex.submit(thread_pool_in_worker, 6))
        self.assertNotEqual(pid, os.getpid())
        self.assertEqual(squares, [0, 1, 4, 9, 16, 25])
        self.assertTrue(names)
        for name in names:
            self.assertIsNotNone(re.fullmatch(r"inner_\d+", name), name)


if __name__ == "__main__":
    unittest.main()
