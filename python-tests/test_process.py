"""Conformance tests for multiprocessing.Process and the queues between processes.

They pass on CPython (fork) and on polypool, where each process is a context of its own.
"""

import contextlib
import gc
import io
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import sys
import threading
import time
import unittest
from multiprocessing import Process, Queue, JoinableQueue, current_process

TIMEOUT = 60
PARENT_PID = os.getpid()


def report(q, tag):
    q.put((tag, current_process().name, os.getpid(), os.getpid() != PARENT_PID))


def raise_error():
    raise ValueError("raised in the child")


def exit_with(code):
    sys.exit(code)


def spin_forever():
    while True:
        pass


def sleep_for(seconds):
    time.sleep(seconds)


def consume(q, out):
    while True:
        item = q.get(timeout=TIMEOUT)
        if item is None:
            q.task_done()
            return
        out.put(item * 10)
        q.task_done()


def set_later(event):
    # a thread of the child's own, not a daemon: the child waits for it before exiting
    def set_it():
        time.sleep(0.5)
        event.set()
    threading.Thread(target=set_it).start()


def report_gc_thresholds(q):
    q.put(gc.get_threshold())
    gc.set_threshold(5)
    q.put(gc.get_threshold())


def handle_usr1(q, handled, release):
    # counts the SIGUSR1s it is sent; ends when released, after the parent saw them handled
    signal.signal(signal.SIGUSR1, lambda signum, frame: handled.put(signum))
    q.put("ready")
    release.wait(TIMEOUT)
    q.put("done")


def ignore_usr1(q, release):
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    q.put("ready")
    release.wait(TIMEOUT)
    q.put("done")


def restore_usr1(q):
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    q.put("ready")
    time.sleep(TIMEOUT)


class NotPicklable:
    def __reduce__(self):
        raise AttributeError("refuses to be pickled")


class Worker(Process):
    def __init__(self, q):
        super().__init__()
        self.q = q

    def run(self):
        self.q.put(("subclass", self.name))


class ProcessTest(unittest.TestCase):

    def test_target_runs_in_a_child_with_its_own_identity(self):
        q = Queue()
        procs = [Process(target=report, args=(q, i)) for i in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(TIMEOUT)
        results = sorted(q.get(timeout=TIMEOUT) for _ in procs)
        self.assertEqual([r[0] for r in results], [0, 1, 2])
        self.assertTrue(all(r[3] for r in results), "a child's pid differs from the parent's")
        self.assertEqual(len({r[2] for r in results}), 3)
        self.assertEqual(sorted(r[1] for r in results), sorted(p.name for p in procs))
        self.assertEqual([p.exitcode for p in procs], [0, 0, 0])
        self.assertEqual({r[2] for r in results}, {p.pid for p in procs})
        self.assertFalse(any(p.is_alive() for p in procs))

    def test_exit_codes(self):
        failing = Process(target=raise_error)
        exiting = Process(target=exit_with, args=(3,))
        for p in (failing, exiting):
            p.start()
            p.join(TIMEOUT)
        self.assertEqual(failing.exitcode, 1)
        self.assertEqual(exiting.exitcode, 3)

    def test_sys_exit_with_a_bool(self):
        # sys.exit(False) is status 0, sys.exit(True) status 1
        for code, status in ((False, 0), (True, 1)):
            p = Process(target=exit_with, args=(code,))
            p.start()
            p.join(TIMEOUT)
            self.assertEqual(p.exitcode, status)

    def test_terminate_and_kill_stop_a_busy_child(self):
        p = Process(target=spin_forever, daemon=True)
        p.start()
        self.assertTrue(p.is_alive())
        self.assertIsNone(p.exitcode)
        p.terminate()
        p.join(TIMEOUT)
        self.assertEqual(p.exitcode, -15)
        k = Process(target=sleep_for, args=(TIMEOUT,))
        k.start()
        k.kill()
        k.join(TIMEOUT)
        self.assertEqual(k.exitcode, -9)

    def _signal_while_running(self, target, args, signal_it):
        """Starts ``target(q, *args, release)``, calls ``signal_it(p)`` once the child says
        "ready", then releases it and checks that it ends on its own with status 0."""
        q, release = Queue(), multiprocessing.Event()
        p = Process(target=target, args=(q, *args, release), daemon=True)
        p.start()
        try:
            self.assertEqual(q.get(timeout=TIMEOUT), "ready")
            signal_it(p)
            self.assertTrue(p.is_alive())
        finally:
            release.set()
        self.assertEqual(q.get(timeout=TIMEOUT), "done")
        p.join(TIMEOUT)
        self.assertEqual(p.exitcode, 0)

    def test_signal_runs_the_childs_handler(self):
        handled = Queue()

        def signal_twice(p):
            for _ in range(2):
                os.kill(p.pid, signal.SIGUSR1)
                self.assertEqual(handled.get(timeout=TIMEOUT), signal.SIGUSR1)
        self._signal_while_running(handle_usr1, (handled,), signal_twice)

    def test_signal_the_child_ignores(self):
        self._signal_while_running(ignore_usr1, (), lambda p: os.kill(p.pid, signal.SIGUSR1))

    def test_signal_with_its_default_action_back_ends_the_child(self):
        q = Queue()
        p = Process(target=restore_usr1, args=(q,), daemon=True)
        p.start()
        self.assertEqual(q.get(timeout=TIMEOUT), "ready")
        os.kill(p.pid, signal.SIGUSR1)
        p.join(TIMEOUT)
        self.assertEqual(p.exitcode, -signal.SIGUSR1)

    def test_an_ended_child_takes_signals_until_it_is_joined(self):
        # until its parent reads its exit code it is a zombie, which a signal reaches and
        # does nothing to (CPython's TestIgnoreEINTR signals a child that may have ended)
        # (not under forkserver: there the fork server, not the parent, reaps it at once)
        p = multiprocessing.get_context("fork").Process(target=exit_with, args=(3,))
        p.start()
        multiprocessing.connection.wait([p.sentinel], TIMEOUT)
        os.kill(p.pid, 0)
        os.kill(p.pid, signal.SIGUSR1)
        p.join(TIMEOUT)
        self.assertEqual(p.exitcode, 3)
        with self.assertRaises(ProcessLookupError):
            os.kill(p.pid, 0)

    def test_join_timeout_and_active_children(self):
        p = Process(target=sleep_for, args=(1.0,))
        p.start()
        start = time.monotonic()
        p.join(0.1)
        self.assertLess(time.monotonic() - start, 0.9)
        self.assertTrue(p.is_alive())
        self.assertIn(p, multiprocessing.active_children())
        p.join(TIMEOUT)
        self.assertNotIn(p, multiprocessing.active_children())

    def test_subclass_run(self):
        q = Queue()
        w = Worker(q)
        w.start()
        w.join(TIMEOUT)
        self.assertEqual(q.get(timeout=TIMEOUT), ("subclass", w.name))

    def test_bad_use(self):
        p = Process(target=sleep_for, args=(0,))
        with self.assertRaises(AssertionError):
            p.join()  # not started
        p.start()
        with self.assertRaises(AssertionError):
            p.start()  # started twice
        p.join(TIMEOUT)
        self.assertEqual(current_process().name, "MainProcess")


class ProcessThreadsTest(unittest.TestCase):

    def test_child_waits_for_its_non_daemon_threads(self):
        event = multiprocessing.Event()
        p = Process(target=set_later, args=(event,))
        p.start()
        p.join(TIMEOUT)
        self.assertEqual(p.exitcode, 0)
        self.assertTrue(event.is_set())


class QueueTest(unittest.TestCase):

    def test_fifo_and_exceptions(self):
        q = Queue(maxsize=2)
        q.put(1)
        q.put_nowait([2])
        self.assertTrue(q.full())
        with self.assertRaises(queue.Full):
            q.put(3, timeout=0.05)
        self.assertEqual(q.get(), 1)
        self.assertEqual(q.get_nowait(), [2])
        with self.assertRaises(queue.Empty):
            q.get(timeout=0.05)
        with self.assertRaises(queue.Empty):
            q.get_nowait()
        q.close()
        q.join_thread()
        with self.assertRaises(ValueError):
            q.put(4)

    def test_unpicklable_item_is_reported_and_dropped(self):
        # CPython's feeder thread pickles, prints the error and goes on with the next item
        q = Queue(maxsize=1)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            q.put(NotPicklable())
            q.put(True)
            self.assertIs(q.get(timeout=TIMEOUT), True)
        self.assertTrue(q.empty())
        self.assertIn("AttributeError: refuses to be pickled", err.getvalue())
        q.close()
        q.join_thread()

    def test_joinable_queue_with_consumer_process(self):
        jobs, results = JoinableQueue(), Queue()
        consumer = Process(target=consume, args=(jobs, results))
        consumer.start()
        for i in range(5):
            jobs.put(i)
        jobs.put(None)
        jobs.join()
        self.assertEqual(sorted(results.get(timeout=TIMEOUT) for _ in range(5)), [0, 10, 20, 30, 40])
        consumer.join(TIMEOUT)
        self.assertEqual(consumer.exitcode, 0)
        with self.assertRaises(ValueError):
            jobs.task_done()

    def test_queue_cannot_be_sent_as_a_pool_task(self):
        q = Queue()
        with multiprocessing.Pool(1) as pool:
            with self.assertRaises(RuntimeError) as cm:
                pool.apply_async(report, (q, 0)).get(TIMEOUT)
        self.assertIn("inheritance", str(cm.exception))


class ChildProcessTest(unittest.TestCase):
    # what multiprocessing's resource tracker does with the process it starts

    def test_a_child_waited_for_is_gone(self):
        from multiprocessing import util
        pid = util.spawnv_passfds(os.fsencode(sys.executable), [sys.executable, "-c", "pass"], ())
        self.assertEqual(os.waitpid(pid, 0), (pid, 0))
        with self.assertRaises(ChildProcessError):
            os.waitpid(pid, 0)
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)
        again = util.spawnv_passfds(os.fsencode(sys.executable), [sys.executable, "-c", "pass"], ())
        os.kill(again, 0)  # a new child is there, whatever its number
        self.assertEqual(os.waitpid(again, 0), (again, 0))


class GcThresholdTest(unittest.TestCase):
    # WithProcessesTestFinalize sets them; they are a process's own

    def test_get_and_set_threshold(self):
        old = gc.get_threshold()
        self.assertEqual(len(old), 3)
        self.assertTrue(all(type(t) is int for t in old), old)
        try:
            gc.set_threshold(5, 6, 7)
            self.assertEqual(gc.get_threshold(), (5, 6, 7))
            gc.set_threshold(8)  # the others stay
            self.assertEqual(gc.get_threshold(), (8, 6, 7))
            for bad in ((1.5,), ("1",), (1, 2, 3, 4)):
                with self.assertRaises(TypeError):
                    gc.set_threshold(*bad)
            self.assertEqual(gc.get_threshold(), (8, 6, 7))
            q = Queue()
            p = Process(target=report_gc_thresholds, args=(q,))
            p.start()
            first, second = q.get(timeout=TIMEOUT), q.get(timeout=TIMEOUT)
            p.join(TIMEOUT)
            self.assertEqual(p.exitcode, 0)
            self.assertEqual(len(first), 3)
            self.assertEqual(second[0], 5)
            self.assertEqual(gc.get_threshold(), (8, 6, 7))  # the child's own
        finally:
            gc.set_threshold(*old)
        self.assertEqual(gc.get_threshold(), old)


if __name__ == "__main__":
    unittest.main()
