"""Conformance tests for multiprocessing.Pool.

Every test here passes on CPython (default "fork" start method) and so encodes
CPython's behaviour; polypool must pass them too.

Run on CPython:   python3 -m unittest discover -s python-tests -v
Run on polypool:  bin/polypool -m unittest discover -s python-tests -v

Worker functions are module-level so that they pickle by reference
(``test_pool.<name>``).  Pools are expensive on polypool, so most tests share a
single module-level Pool(2) (see setUpModule); only tests that need a pool in a
particular state (closed, terminated, with an initializer, ...) make their own.
"""

import multiprocessing
import multiprocessing.pool
import os
import pickle
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

from multiprocessing import Pool
from multiprocessing.pool import MaybeEncodingError, RemoteTraceback

from extensions import cpython_refuses
from hang_guard import TIMEOUT, bounded, hang_count

HERE = os.path.dirname(os.path.abspath(__file__))

WORKER_NAME_RE = re.compile(r"(Fork|Spawn|ForkServer)PoolWorker-\d+")



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


def sleep_square(x):
    time.sleep(0.2)
    return x * x


def raise_value_error(message):
    raise ValueError(message)


def fail_on_three(x):
    if x == 3:
        raise ValueError("item three is bad")
    return x * 10


def return_lock(_ignored=None):
    return threading.Lock()


def worker_info(_ignored=None):
    return (os.getpid(), multiprocessing.current_process().name)


def sleep_getpid(_ignored=None):
    time.sleep(0.2)
    return os.getpid()


def getpid_task(_ignored=None):
    return os.getpid()


_INIT_VALUE = None


def set_init_value(value, suffix):
    global _INIT_VALUE
    _INIT_VALUE = value + suffix


def get_init_value(_ignored=None):
    return _INIT_VALUE


_BARRIER = None


def keep_barrier(barrier):
    global _BARRIER
    _BARRIER = barrier


def meet_at_barrier(_ignored=None):
    # returns only once as many tasks run at once as the barrier has parties
    _BARRIER.wait(TIMEOUT)
    return multiprocessing.current_process().name


def count_start(counter):
    with counter.get_lock():
        counter.value += 1


def make_bytes(n):
    return bytes(range(256)) * (n // 256)


def log_in_worker(name):
    import logging
    logging.getLogger(name).debug("left out by the level")
    logging.getLogger(name).info("from %s", multiprocessing.current_process().name.split("-")[0])


def argv_of_worker():
    return sys.argv


def cwd_and_environ(names, queue=None):
    seen = (os.getcwd(), {name: os.environ.get(name) for name in names})
    if queue is not None:
        queue.put(seen)
    return seen


def chdir_and_report(path):
    os.chdir(path)
    return os.getcwd()


def type_and_size(value):
    return type(value).__name__, len(value)


class BytesSubclass(bytes):
    pass


# large enough to cross contexts in one piece rather than as text (polypool.codec)
BIG = 3 * 1024 * 1024


FORK_VALUE = "original"


def get_fork_value(_ignored=None):
    return FORK_VALUE


def print_line(line):
    print(line)
    return len(line)


# A module-level lambda: pickle looks up ``test_pool.<lambda>`` and fails.
MODULE_LAMBDA = lambda x: x  # noqa: E731


# ---------------------------------------------------------------------------
# Shared pool
# ---------------------------------------------------------------------------

_shared_pool = None


def setUpModule():
    global _shared_pool
    _shared_pool = Pool(2)


def tearDownModule():
    global _shared_pool
    if _shared_pool is not None:
        pool, _shared_pool = _shared_pool, None
        pool.close()
        bounded(pool.join)


class SharedPoolTestCase(unittest.TestCase):
    """Tests that run on the module-level Pool(2)."""

    @property
    def pool(self):
        return _shared_pool

    def setUp(self):
        self._hangs_before = hang_count()

    def tearDown(self):
        # If a call hung, the shared pool may be wedged: replace it so that
        # the following tests are not affected.
        global _shared_pool
        if hang_count() != self._hangs_before:
            old = _shared_pool
            threading.Thread(target=old.terminate, daemon=True).start()
            _shared_pool = Pool(2)


# ---------------------------------------------------------------------------
# Constructor argument validation (no pool is ever started)
# ---------------------------------------------------------------------------

class ConstructorValidationTest(unittest.TestCase):
    def test_processes_zero(self):
        with self.assertRaises(ValueError):
            Pool(processes=0)

    def test_processes_negative(self):
        with self.assertRaises(ValueError):
            Pool(processes=-1)

    def test_maxtasksperchild_zero(self):
        with self.assertRaises(ValueError):
            Pool(processes=1, maxtasksperchild=0)

    def test_initializer_not_callable(self):
        with self.assertRaises(TypeError):
            Pool(processes=1, initializer=42)


# ---------------------------------------------------------------------------
# apply / apply_async
# ---------------------------------------------------------------------------

class ApplyTest(SharedPoolTestCase):
    def test_apply(self):
        self.assertEqual(bounded(self.pool.apply, square, (7,)), 49)

    def test_apply_kwds(self):
        self.assertEqual(bounded(self.pool.apply, add_kw, (1,), {"b": 2, "c": 3}), 6)

    def test_apply_async_get(self):
        r = self.pool.apply_async(add, (2, 3))
        self.assertEqual(r.get(timeout=TIMEOUT), 5)
        self.assertTrue(r.ready())
        self.assertTrue(r.successful())

    def test_ready_wait_successful(self):
        r = self.pool.apply_async(sleep_return, (0.5, "done"))
        self.assertFalse(r.ready())
        with self.assertRaises(ValueError):
            r.successful()
        # wait() with a short timeout returns (None) without the result.
        self.assertIsNone(r.wait(0.01))
        self.assertFalse(r.ready())
        r.wait(TIMEOUT)
        self.assertTrue(r.ready())
        self.assertTrue(r.successful())
        self.assertEqual(r.get(timeout=TIMEOUT), "done")

    def test_successful_false_after_error(self):
        r = self.pool.apply_async(raise_value_error, ("nope",))
        r.wait(TIMEOUT)
        self.assertTrue(r.ready())
        self.assertFalse(r.successful())

    def test_get_timeout(self):
        r = self.pool.apply_async(sleep_return, (1.0, "late"))
        with self.assertRaises(multiprocessing.TimeoutError):
            r.get(timeout=0.1)
        self.assertFalse(r.ready())
        # The task still completes afterwards.
        self.assertEqual(r.get(timeout=TIMEOUT), "late")

    def test_callback_runs_in_parent(self):
        parent_pid = os.getpid()
        seen = []

        def callback(value):
            seen.append((value, os.getpid()))

        r = self.pool.apply_async(worker_info, callback=callback)
        worker_pid, _ = r.get(timeout=TIMEOUT)
        # The callback has run by the time get() returns.
        self.assertEqual(len(seen), 1)
        value, callback_pid = seen[0]
        self.assertEqual(value[0], worker_pid)
        self.assertEqual(callback_pid, parent_pid)
        self.assertNotEqual(worker_pid, parent_pid)

    def test_error_callback_runs_in_parent(self):
        parent_pid = os.getpid()
        seen = []
        called_ok = []

        def error_callback(exc):
            seen.append((exc, os.getpid()))

        r = self.pool.apply_async(raise_value_error, ("err-cb",),
                                  callback=called_ok.append,
                                  error_callback=error_callback)
        with self.assertRaises(ValueError):
            r.get(timeout=TIMEOUT)
        self.assertEqual(called_ok, [])
        self.assertEqual(len(seen), 1)
        exc, callback_pid = seen[0]
        self.assertIsInstance(exc, ValueError)
        self.assertEqual(str(exc), "err-cb")
        self.assertEqual(callback_pid, parent_pid)


# ---------------------------------------------------------------------------
# map / map_async / starmap
# ---------------------------------------------------------------------------

class MapTest(SharedPoolTestCase):
    def test_map_order(self):
        data = list(range(30))
        self.assertEqual(bounded(self.pool.map, square, data), [x * x for x in data])

    def test_map_empty(self):
        self.assertEqual(bounded(self.pool.map, square, []), [])

    def test_map_explicit_chunksize(self):
        data = list(range(23))
        self.assertEqual(bounded(self.pool.map, square, data, chunksize=4),
                         [x * x for x in data])
        self.assertEqual(bounded(self.pool.map, square, data, chunksize=1),
                         [x * x for x in data])

    def test_map_generator_input(self):
        self.assertEqual(bounded(self.pool.map, square, (x for x in range(12))),
                         [x * x for x in range(12)])

    def test_map_async_callback_gets_full_list(self):
        parent_pid = os.getpid()
        seen = []

        def callback(values):
            seen.append((values, os.getpid()))

        r = self.pool.map_async(square, range(10), callback=callback)
        self.assertEqual(r.get(timeout=TIMEOUT), [x * x for x in range(10)])
        self.assertEqual(len(seen), 1)
        self.assertEqual(seen[0][0], [x * x for x in range(10)])
        self.assertEqual(seen[0][1], parent_pid)

    def test_starmap(self):
        pairs = [(1, 2), (3, 4), (5, 6), (-1, 1)]
        self.assertEqual(bounded(self.pool.starmap, add, pairs), [3, 7, 11, 0])

    def test_starmap_async(self):
        seen = []
        pairs = [(i, i) for i in range(8)]
        r = self.pool.starmap_async(add, pairs, callback=seen.append)
        self.assertEqual(r.get(timeout=TIMEOUT), [2 * i for i in range(8)])
        self.assertEqual(seen, [[2 * i for i in range(8)]])


# ---------------------------------------------------------------------------
# imap / imap_unordered
# ---------------------------------------------------------------------------

class IMapTest(SharedPoolTestCase):
    def test_imap_order(self):
        self.assertEqual(bounded(lambda: list(self.pool.imap(square, range(15)))),
                         [x * x for x in range(15)])

    def test_imap_chunksize(self):
        self.assertEqual(bounded(lambda: list(self.pool.imap(square, range(25), chunksize=4))),
                         [x * x for x in range(25)])

    def test_imap_unordered_same_multiset(self):
        result = bounded(lambda: list(self.pool.imap_unordered(square, range(20))))
        self.assertEqual(len(result), 20)
        self.assertEqual(sorted(result), [x * x for x in range(20)])

    def test_imap_unordered_chunksize(self):
        result = bounded(lambda: list(self.pool.imap_unordered(square, range(20), chunksize=3)))
        self.assertEqual(sorted(result), [x * x for x in range(20)])

    def test_imap_next_timeout(self):
        it = self.pool.imap(identity, [0])
        # warm-up: make sure the iterator protocol works at all
        self.assertEqual(it.next(timeout=TIMEOUT), 0)
        with self.assertRaises(StopIteration):
            it.next(timeout=TIMEOUT)

        it = self.pool.imap(sleep_square, [1, 2])
        # sleep_square takes 0.2 s; a 0.01 s timeout cannot be met.
        with self.assertRaises(multiprocessing.TimeoutError):
            it.next(timeout=0.01)
        self.assertEqual(it.next(timeout=TIMEOUT), 1)
        self.assertEqual(it.next(timeout=TIMEOUT), 4)
        with self.assertRaises(StopIteration):
            it.next(timeout=TIMEOUT)


# ---------------------------------------------------------------------------
# Exceptions raised by tasks
# ---------------------------------------------------------------------------

class TaskExceptionTest(SharedPoolTestCase):
    def test_exception_propagates_with_remote_traceback(self):
        r = self.pool.apply_async(raise_value_error, ("boom-17",))
        with self.assertRaises(ValueError) as cm:
            r.get(timeout=TIMEOUT)
        exc = cm.exception
        self.assertIs(type(exc), ValueError)
        self.assertEqual(str(exc), "boom-17")
        self.assertEqual(exc.args, ("boom-17",))
        cause = exc.__cause__
        self.assertIsInstance(cause, RemoteTraceback)
        text = str(cause)
        self.assertIn("Traceback (most recent call last)", text)
        self.assertIn("raise_value_error", text)
        self.assertIn("ValueError: boom-17", text)

    def test_apply_raises(self):
        with self.assertRaises(ValueError) as cm:
            bounded(self.pool.apply, raise_value_error, ("sync-boom",))
        self.assertEqual(str(cm.exception), "sync-boom")

    def test_map_with_failing_item_raises(self):
        with self.assertRaises(ValueError) as cm:
            bounded(self.pool.map, fail_on_three, range(8))
        self.assertEqual(str(cm.exception), "item three is bad")
        self.assertIsInstance(cm.exception.__cause__, RemoteTraceback)
        self.assertIn("fail_on_three", str(cm.exception.__cause__))

    def test_imap_failing_item_raises_at_that_position(self):
        it = self.pool.imap(fail_on_three, range(6))
        self.assertEqual([it.next(timeout=TIMEOUT) for _ in range(3)],
                         [0, 10, 20])
        with self.assertRaises(ValueError):
            it.next(timeout=TIMEOUT)
        self.assertEqual(it.next(timeout=TIMEOUT), 40)

    def test_pool_usable_after_task_error(self):
        with self.assertRaises(ValueError):
            self.pool.apply_async(raise_value_error, ("x",)).get(timeout=TIMEOUT)
        self.assertEqual(self.pool.apply_async(square, (9,)).get(timeout=TIMEOUT), 81)
        self.assertEqual(bounded(self.pool.map, square, range(5)), [0, 1, 4, 9, 16])


# ---------------------------------------------------------------------------
# Pickling failures
# ---------------------------------------------------------------------------

class PicklingTest(SharedPoolTestCase):
    @cpython_refuses
    def test_lambda_function_raises_picklingerror(self):
        r = self.pool.apply_async(MODULE_LAMBDA, (1,))
        with self.assertRaises(pickle.PicklingError):
            r.get(timeout=TIMEOUT)
        self.assertEqual(bounded(self.pool.apply, square, (5,)), 25)

    @cpython_refuses
    def test_map_lambda_raises_picklingerror(self):
        with self.assertRaises(pickle.PicklingError):
            bounded(self.pool.map, MODULE_LAMBDA, range(4))
        self.assertEqual(bounded(self.pool.map, square, range(4)), [0, 1, 4, 9])

    def test_unpicklable_argument_raises_typeerror(self):
        r = self.pool.apply_async(identity, (threading.Lock(),))
        with self.assertRaises(TypeError):
            r.get(timeout=TIMEOUT)
        # The pool is still usable afterwards.
        self.assertEqual(self.pool.apply_async(add, (40, 2)).get(timeout=TIMEOUT), 42)

    def test_map_one_item_per_task_keeps_values_and_types(self):
        # runs of small ints, other plain values and pickled ones, as tasks are batched
        items = list(range(100)) + [2**70, -2**63, True, None, 1.5, "s", [1], (2,)] * 3 + \
            list(range(-50, 50)) + [False]
        got = bounded(self.pool.map, identity, items, 1)
        self.assertEqual(got, items)
        self.assertEqual([type(x) for x in got], [type(x) for x in items])

    def test_map_one_item_per_task_keeps_float_signs_and_text(self):
        items = [-0.0, float("nan"), float("inf"), 0.0, "\udc80", "\u20ac", "", None] * 20
        got = bounded(self.pool.map, identity, items, 1)
        self.assertEqual([(type(x), repr(x)) for x in got], [(type(x), repr(x)) for x in items])

    def test_map_one_item_per_task_failing_midway_and_its_callbacks(self):
        # the first failure wins; the callback sees the whole list once all items are in
        with self.assertRaises(ValueError):
            bounded(self.pool.map, fail_on_three, range(50), 1)
        seen = []
        r = self.pool.map_async(square, range(300), 1, callback=seen.append)
        self.assertEqual(r.get(timeout=TIMEOUT), [x * x for x in range(300)])
        self.assertEqual(seen, [[x * x for x in range(300)]])

    def test_map_with_an_unpicklable_item_raises_typeerror(self):
        # many tasks, so that they go to the workers in several batches
        items = list(range(300)) + [threading.Lock()] + list(range(300))
        for chunksize in (1, 7):
            with self.subTest(chunksize=chunksize), self.assertRaises(TypeError):
                bounded(self.pool.map, identity, items, chunksize)
        self.assertEqual(bounded(self.pool.map, square, range(200), 3), [x * x for x in range(200)])

    def test_imap_fails_only_at_the_unpicklable_item(self):
        items = list(range(150)) + [threading.Lock()] + list(range(150, 300))

        def consume():
            it = self.pool.imap(identity, items)
            got, errors = [], []
            for _ in range(301):
                try:
                    got.append(it.next(TIMEOUT))
                except TypeError as e:
                    errors.append(e)
            return got, errors

        got, errors = bounded(consume)
        self.assertEqual(got, list(range(300)))
        self.assertEqual(len(errors), 1)
        it = self.pool.imap(identity, items, 10)
        self.assertEqual(bounded(lambda: [next(it) for _ in range(150)]), list(range(150)))
        with self.assertRaises(TypeError):
            bounded(next, it)
        # the generator CPython returns ends with its first failed chunk
        with self.assertRaises(StopIteration):
            bounded(next, it)

    def test_unpicklable_result_raises_maybeencodingerror(self):
        r = self.pool.apply_async(return_lock)
        with self.assertRaises(MaybeEncodingError) as cm:
            r.get(timeout=TIMEOUT)
        self.assertIn("Error sending result", str(cm.exception))
        self.assertFalse(r.successful())
        self.assertEqual(bounded(self.pool.apply, square, (6,)), 36)

    def test_map_unpicklable_result_raises_maybeencodingerror(self):
        with self.assertRaises(MaybeEncodingError):
            bounded(self.pool.map, return_lock, range(3))
        self.assertEqual(bounded(self.pool.map, square, range(3)), [0, 1, 4])


# ---------------------------------------------------------------------------
# Worker identity
# ---------------------------------------------------------------------------

class LargePayloadTest(SharedPoolTestCase):
    """Arguments and results of several MiB keep their value and exact type."""

    def test_bytes_argument_and_result(self):
        data = make_bytes(BIG)
        back = bounded(self.pool.apply, identity, (data,))
        self.assertIs(type(back), bytes)
        self.assertEqual(back, data)

    def test_bytes_made_in_the_worker(self):
        self.assertEqual(bounded(self.pool.apply, make_bytes, (BIG,)), make_bytes(BIG))

    def test_bytearray_and_bytes_subclass_keep_their_type(self):
        self.assertEqual(bounded(self.pool.apply, type_and_size, (bytearray(BIG),)), ("bytearray", BIG))
        self.assertEqual(bounded(self.pool.apply, type_and_size, (BytesSubclass(b"x" * BIG),)),
                         ("BytesSubclass", BIG))
        back = bounded(self.pool.apply, identity, (BytesSubclass(b"y" * BIG),))
        self.assertIs(type(back), BytesSubclass)

    def test_large_pickled_values_in_map_and_imap(self):
        rows = [list(range(i, i + 100_000)) for i in range(3)]
        self.assertEqual(bounded(self.pool.map, identity, rows, chunksize=1), rows)
        self.assertEqual(bounded(lambda: list(self.pool.imap(identity, rows))), rows)
        self.assertEqual(bounded(self.pool.map, len, [make_bytes(BIG)] * 3), [BIG] * 3)

    def test_large_queue_item(self):
        q = multiprocessing.Queue()
        data = make_bytes(BIG)
        q.put(data)
        q.put([data, "tail"])
        self.assertEqual(q.get(timeout=TIMEOUT), data)
        self.assertEqual(q.get(timeout=TIMEOUT), [data, "tail"])


class WorkerIdentityTest(SharedPoolTestCase):
    def test_parent_is_main_process(self):
        self.assertEqual(multiprocessing.current_process().name, "MainProcess")
        self.assertIsNone(multiprocessing.parent_process())

    def test_worker_name_and_pid(self):
        parent_pid = os.getpid()
        pid, name = bounded(self.pool.apply, worker_info)
        self.assertRegex(name, WORKER_NAME_RE)
        self.assertIsNotNone(WORKER_NAME_RE.fullmatch(name), name)
        self.assertNotEqual(pid, parent_pid)

    def test_different_workers_have_different_pids(self):
        parent_pid = os.getpid()
        pids = bounded(self.pool.map, sleep_getpid, range(4), chunksize=1)
        self.assertEqual(len(pids), 4)
        self.assertEqual(len(set(pids)), 2, pids)
        self.assertNotIn(parent_pid, pids)

    def test_join_running_pool_raises(self):
        with self.assertRaises(ValueError):
            bounded(self.pool.join)
        # still running and usable
        self.assertEqual(bounded(self.pool.apply, square, (3,)), 9)


class WorkingDirectoryTest(unittest.TestCase):
    def test_a_workers_chdir_is_its_own(self):
        here = os.getcwd()
        with tempfile.TemporaryDirectory() as elsewhere:
            with Pool(2) as pool:
                moved = bounded(pool.apply, chdir_and_report, (elsewhere,))
                self.assertEqual(os.path.realpath(moved), os.path.realpath(elsewhere))
                self.assertEqual(os.getcwd(), here)  # the program's is its own
                self.assertEqual(os.path.abspath("."), here)


class InheritedStateTest(unittest.TestCase):
    """A child starts in the directory and with the environment that os.chdir and
    os.environ left in its parent (CPython: the OS process's own, which a forked or
    spawned child inherits). Not forkserver: CPython's children get its server's, as it
    was when the server started."""

    def setUp(self):
        here = os.getcwd()
        saved = dict(os.environ)
        self.elsewhere = tempfile.mkdtemp()
        self.addCleanup(os.rmdir, self.elsewhere)

        def restore():
            os.chdir(here)
            os.environ.clear()
            os.environ.update(saved)
        self.addCleanup(restore)
        os.chdir(self.elsewhere)
        os.environ["POLYPOOL_TEST_SET"] = "set by the parent"
        os.environ.pop("POLYPOOL_TEST_UNSET", None)
        self.names = ["POLYPOOL_TEST_SET", "POLYPOOL_TEST_UNSET", "HOME"]
        self.home = os.environ.pop("HOME", None)
        self.expected = {"POLYPOOL_TEST_SET": "set by the parent", "POLYPOOL_TEST_UNSET": None,
                         "HOME": None}

    def check(self, seen):
        cwd, environ = seen
        self.assertEqual(os.path.realpath(cwd), os.path.realpath(self.elsewhere))
        self.assertEqual(environ, self.expected)

    def test_pool_process_and_executor_workers(self):
        import concurrent.futures
        for method in ("fork", "spawn"):
            with self.subTest(method=method):
                ctx = multiprocessing.get_context(method)
                with ctx.Pool(1) as pool:
                    self.check(bounded(pool.apply, cwd_and_environ, (self.names,)))
                queue = ctx.Queue()
                child = ctx.Process(target=cwd_and_environ, args=(self.names, queue))
                child.start()
                self.check(bounded(queue.get, timeout=TIMEOUT))
                bounded(child.join)
                with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as ex:
                    self.check(bounded(ex.submit(cwd_and_environ, self.names).result))

    def test_sys_argv_as_the_parent_left_it(self):
        saved = list(sys.argv)
        self.addCleanup(setattr, sys, "argv", saved)
        sys.argv = saved + ["added by the parent"]
        for method in ("fork", "spawn"):
            with self.subTest(method=method):
                with multiprocessing.get_context(method).Pool(1) as pool:
                    self.assertEqual(bounded(pool.apply, argv_of_worker), sys.argv)

    def test_a_forked_worker_logs_as_the_parent_configured(self):
        import logging
        name = "polypool.test.inherited"
        logger = logging.getLogger(name)
        path = os.path.join(self.elsewhere, "log.txt")
        handler = logging.FileHandler(path, mode="w")
        handler.setFormatter(logging.Formatter("{levelname}|{name}|{message}", style="{"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

        def undo():
            logger.removeHandler(handler)
            handler.close()
            logger.setLevel(logging.NOTSET)
            logger.propagate = True
            os.remove(path)
        self.addCleanup(undo)
        logger.info("from the parent")
        handler.flush()
        with multiprocessing.get_context("fork").Pool(1) as pool:
            bounded(pool.apply, log_in_worker, (name,))
        with open(path) as f:
            self.assertEqual(f.read().splitlines(), [f"INFO|{name}|from the parent", f"INFO|{name}|from ForkPoolWorker"])

    def test_a_later_change_reaches_a_later_pool_only(self):
        with Pool(1) as first:
            os.environ["POLYPOOL_TEST_SET"] = "changed"
            with Pool(1) as second:
                self.check(bounded(first.apply, cwd_and_environ, (self.names,)))
                self.expected["POLYPOOL_TEST_SET"] = "changed"
                self.check(bounded(second.apply, cwd_and_environ, (self.names,)))


# ---------------------------------------------------------------------------
# Pool lifecycle (each test owns its pool)
# ---------------------------------------------------------------------------

class LifecycleTest(unittest.TestCase):
    def test_close_then_join_completes_queued_tasks(self):
        pool = Pool(2)
        try:
            results = [pool.apply_async(sleep_return, (0.1, i)) for i in range(6)]
            mapped = pool.map_async(square, range(10))
            pool.close()
            with self.assertRaisesRegex(ValueError, "Pool not running"):
                pool.apply_async(square, (1,))
            with self.assertRaisesRegex(ValueError, "Pool not running"):
                bounded(pool.map, square, [1, 2])
            with self.assertRaises(ValueError):
                pool.imap(square, [1, 2])
            bounded(pool.join)
            self.assertTrue(all(r.ready() for r in results))
            self.assertEqual([r.get(timeout=0) for r in results], list(range(6)))
            self.assertTrue(mapped.ready())
            self.assertEqual(mapped.get(timeout=0), [x * x for x in range(10)])
        finally:
            bounded(pool.terminate)
            bounded(pool.join)

    def test_many_workers_closed_at_once_complete_queued_tasks(self):
        # more workers than cores, closed before most have started: every queued task
        # still runs, and join() returns
        pool = Pool(8)
        try:
            mapped = pool.map_async(square, range(40), chunksize=1)
            single = pool.apply_async(square, (7,))
            pool.close()
            bounded(pool.join)
            self.assertEqual(mapped.get(timeout=0), [x * x for x in range(40)])
            self.assertEqual(single.get(timeout=0), 49)
        finally:
            bounded(pool.terminate)
            bounded(pool.join)

    def test_every_worker_runs_its_initializer_by_join(self):
        # as in CPython, also when the pool was closed before any task ran
        counter = multiprocessing.Value("i", 0)
        pool = Pool(4, initializer=count_start, initargs=(counter,))
        try:
            pool.close()
            bounded(pool.join)
        finally:
            bounded(pool.terminate)
        self.assertEqual(counter.value, 4)

    def test_tasks_spread_over_every_worker(self):
        # four tasks that each wait until four run at once: only four workers sharing them
        # finish them, as CPython's do
        barrier = multiprocessing.Barrier(4)
        with Pool(4, initializer=keep_barrier, initargs=(barrier,)) as pool:
            names = bounded(pool.map, meet_at_barrier, range(4), chunksize=1)
        self.assertEqual(len(set(names)), 4, names)

    def test_terminate_then_join(self):
        pool = Pool(2)
        self.assertEqual(bounded(pool.map, square, range(4)), [0, 1, 4, 9])
        # Occupy both workers with long tasks; terminate must not wait for them.
        pending = [pool.apply_async(sleep_return, (20, i)) for i in range(2)]
        time.sleep(0.3)
        start = time.monotonic()
        bounded(pool.terminate)
        bounded(pool.join)
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 15)
        self.assertFalse(any(r.ready() and r.successful() for r in pending))
        with self.assertRaisesRegex(ValueError, "Pool not running"):
            pool.apply_async(square, (1,))

    def test_context_manager_terminates(self):
        with Pool(2) as p:
            self.assertEqual(bounded(p.map, square, range(5)), [0, 1, 4, 9, 16])
        with self.assertRaisesRegex(ValueError, "Pool not running"):
            bounded(p.map, square, range(5))
        with self.assertRaises(ValueError):
            p.apply_async(square, (1,))
        bounded(p.join)


# ---------------------------------------------------------------------------
# initializer / maxtasksperchild / fork state
# ---------------------------------------------------------------------------

class InitializerTest(unittest.TestCase):
    def test_initializer_sets_worker_global(self):
        with Pool(2, initializer=set_init_value, initargs=("hello", "-init")) as pool:
            self.assertEqual(bounded(pool.map, get_init_value, range(6), chunksize=1),
                             ["hello-init"] * 6)
            self.assertEqual(bounded(pool.apply, get_init_value), "hello-init")
        # The parent's global is untouched.
        self.assertIsNone(_INIT_VALUE)


class MaxTasksPerChildTest(unittest.TestCase):
    def test_workers_are_replaced(self):
        parent_pid = os.getpid()
        pool = Pool(2, maxtasksperchild=1)
        try:
            results = [pool.apply_async(getpid_task) for _ in range(6)]
            pids = [r.get(timeout=TIMEOUT) for r in results]
            squares = [pool.apply_async(square, (i,)) for i in range(4)]
            self.assertEqual([r.get(timeout=TIMEOUT) for r in squares],
                             [0, 1, 4, 9])
        finally:
            pool.close()
            bounded(pool.join)
        self.assertNotIn(parent_pid, pids)
        self.assertGreater(len(set(pids)), 2, pids)


class ForkStateTest(unittest.TestCase):
    def test_workers_see_parent_global_changed_before_pool_creation(self):
        global FORK_VALUE
        old = FORK_VALUE
        FORK_VALUE = "changed-before-pool"
        try:
            with Pool(1) as pool:
                self.assertEqual(bounded(pool.apply, get_fork_value), "changed-before-pool")
        finally:
            FORK_VALUE = old

    def test_workers_see_a_large_global_of_the_parent(self):
        global FORK_VALUE
        old = FORK_VALUE
        FORK_VALUE = make_bytes(BIG)
        try:
            with Pool(2) as pool:
                self.assertEqual(bounded(pool.map, get_fork_value, range(2), chunksize=1),
                                 [make_bytes(BIG)] * 2)
        finally:
            FORK_VALUE = old


# ---------------------------------------------------------------------------
# Worker stdout (needs a child interpreter)
# ---------------------------------------------------------------------------

def _child_interpreter():
    """The interpreter to run child scripts with: $POLYPOOL_TEST_INTERPRETER,
    else sys.executable; sys.executable is '' on polypool, so fall back to this
    repository's bin/polypool launcher then."""
    env = os.environ.get("POLYPOOL_TEST_INTERPRETER")
    if env:
        return [env]
    if sys.executable:
        return [sys.executable]
    launcher = os.path.join(os.path.dirname(HERE), "bin", "polypool")
    if os.access(launcher, os.X_OK):
        return [launcher]
    return None


CHILD_SCRIPT = """\
import sys
sys.path.insert(0, {tests_dir!r})
from multiprocessing import Pool
import test_pool

if __name__ == "__main__":
    pool = Pool(2)
    n = pool.apply(test_pool.print_line, ({marker!r},))
    pool.close()
    pool.join()
    print("parent-done", n)
"""


class WorkerStdoutTest(unittest.TestCase):
    def test_worker_print_reaches_stdout(self):
        interpreter = _child_interpreter()
        if interpreter is None:
            self.skipTest("no interpreter: set POLYPOOL_TEST_INTERPRETER")
        marker = "worker-line: the quick brown fox jumps over the lazy dog 12345"
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "child_print.py")
            with open(script, "w") as f:
                f.write(CHILD_SCRIPT.format(tests_dir=HERE, marker=marker))
            proc = subprocess.run(interpreter + [script], cwd=tmp,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.splitlines()
        self.assertEqual(lines.count(marker), 1, proc.stdout)
        self.assertIn("parent-done %d" % len(marker), lines)


CTYPES_SCRIPT = """\
import sys
from multiprocessing import Pool

if __name__ == "__main__":
    assert "ctypes" not in sys.modules
    with Pool(2) as pool:
        pool.apply(abs, (-1,))  # the pool idle, its result thread waiting
        import ctypes  # the first in this program
        print("ok", pool.apply(abs, (-2,)), ctypes.sizeof(ctypes.c_int))
"""


class FreshProgramTest(unittest.TestCase):
    def test_first_ctypes_import_while_a_pool_is_idle(self):
        # polypool hung here once: the import waited for the idle result thread
        interpreter = _child_interpreter()
        if interpreter is None:
            self.skipTest("no interpreter: set POLYPOOL_TEST_INTERPRETER")
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "first_ctypes.py")
            with open(script, "w") as f:
                f.write(CTYPES_SCRIPT)
            proc = subprocess.run(interpreter + [script], cwd=tmp,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.split(), ["ok", "2", "4"])


if __name__ == "__main__":
    unittest.main()
