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
import queue
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from concurrent.futures import CancelledError, ProcessPoolExecutor

from extensions import ON_POLYPOOL, child_interpreter, polypool_extension
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


# ---------------------------------------------------------------------------
# Workers that die, exit, or send what cannot cross
# ---------------------------------------------------------------------------

def hard_exit(code):
    os._exit(code)


def soft_exit(code):
    sys.exit(code)


class NotUnpicklable(Exception):
    """Pickles, but unpickling calls __init__ with one argument of two."""

    def __init__(self, a, b):
        super().__init__(a)


def raise_not_unpicklable(x):
    raise NotUnpicklable(x, 2)


def return_a_lock(_):
    return threading.Lock()


def nested_pool_map(n):
    with multiprocessing.Pool(2) as pool:
        return pool.map(square, range(n))


def length(data):
    return len(data)


def raising_input(n):
    yield from range(n)
    raise ValueError("the input broke")


class WorkerFaultTest(FaultTest):
    @polypool_extension
    def test_os_exit_in_a_pool_task(self):
        # CPython replaces the worker and the task's result never comes
        with multiprocessing.Pool(2) as pool:
            lost = pool.apply_async(hard_exit, (1,))
            with self.assertRaisesRegex(RuntimeError, r"exited with exitcode 1 while running the task"):
                lost.get(timeout=TIMEOUT)
            self.assertEqual(type(lost._value).__name__, "WorkerLostError")
            self.assertEqual(pool.apply_async(square, (4,)).get(timeout=TIMEOUT), 16)

    @polypool_extension
    def test_sys_exit_in_a_pool_task(self):
        with multiprocessing.Pool(2) as pool:
            with self.assertRaisesRegex(RuntimeError, r"exited with exitcode 3 while running the task"):
                pool.apply_async(soft_exit, (3,)).get(timeout=TIMEOUT)
            self.assertEqual(pool.apply_async(square, (5,)).get(timeout=TIMEOUT), 25)

    def test_sys_exit_in_an_executor_task_is_its_result(self):
        with ProcessPoolExecutor(2) as executor:
            with self.assertRaises(SystemExit) as caught:
                executor.submit(soft_exit, 3).result(timeout=TIMEOUT)
            self.assertEqual(caught.exception.code, 3)
            self.assertEqual(executor.submit(square, 3).result(timeout=TIMEOUT), 9)

    def test_os_exit_in_an_executor_task_breaks_it(self):
        from concurrent.futures.process import BrokenProcessPool
        executor = ProcessPoolExecutor(2)
        try:
            with self.assertRaises(BrokenProcessPool) as caught:
                executor.submit(hard_exit, 1).result(timeout=TIMEOUT)
            if ON_POLYPOOL:  # the cause says what happened; CPython gives none
                self.assertIn("exited with exitcode 1", str(caught.exception.__cause__))
        finally:
            bounded(executor.shutdown)

    def test_a_pool_inside_an_executor_task(self):
        with ProcessPoolExecutor(1) as executor:
            self.assertEqual(executor.submit(nested_pool_map, 4).result(timeout=TIMEOUT * 2), [0, 1, 4, 9])

    @polypool_extension
    def test_exception_that_cannot_be_unpickled(self):
        # CPython's pool result thread dies (hang); its executor breaks
        with multiprocessing.Pool(1) as pool:
            with self.assertRaisesRegex(TypeError, "missing 1 required positional argument"):
                pool.apply_async(raise_not_unpicklable, (1,)).get(timeout=TIMEOUT)
            self.assertEqual(pool.apply_async(square, (6,)).get(timeout=TIMEOUT), 36)
        with ProcessPoolExecutor(1) as executor:
            with self.assertRaisesRegex(TypeError, "missing 1 required positional argument"):
                executor.submit(raise_not_unpicklable, 1).result(timeout=TIMEOUT)
            self.assertEqual(executor.submit(square, 6).result(timeout=TIMEOUT), 36)

    def test_result_that_cannot_be_pickled(self):
        with multiprocessing.Pool(1) as pool:
            with self.assertRaises(multiprocessing.pool.MaybeEncodingError):
                pool.apply_async(return_a_lock, (1,)).get(timeout=TIMEOUT)
            self.assertEqual(pool.apply_async(square, (7,)).get(timeout=TIMEOUT), 49)

    def test_a_100_mib_argument(self):
        data = bytes(100 << 20)
        with multiprocessing.Pool(1) as pool:
            self.assertEqual(pool.apply_async(length, (data,)).get(timeout=TIMEOUT * 3), len(data))

    def test_pool_of_32_on_few_cores(self):
        with multiprocessing.Pool(32) as pool:
            self.assertEqual(pool.map_async(square, range(200)).get(timeout=TIMEOUT * 4),
                             [x * x for x in range(200)])

    def test_pools_from_several_threads_at_once(self):
        results, errors = {}, []

        def use_a_pool(n):
            try:
                with multiprocessing.Pool(2) as pool:
                    results[n] = pool.map_async(square, range(n, n + 20)).get(timeout=TIMEOUT * 3)
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=use_a_pool, args=(n,)) for n in (0, 100, 200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT * 4)
        self.assertEqual(errors, [])
        self.assertEqual(results, {n: [x * x for x in range(n, n + 20)] for n in (0, 100, 200)})

    def test_input_iterator_that_raises(self):
        with multiprocessing.Pool(2) as pool:
            for method in (pool.imap, pool.imap_unordered):
                with self.subTest(method=method.__name__):
                    seen = []
                    with self.assertRaisesRegex(ValueError, "the input broke"):
                        for value in method(square, raising_input(3)):
                            seen.append(value)
                    self.assertLessEqual(len(seen), 3)
            with self.assertRaisesRegex(ValueError, "the input broke"):
                pool.map(square, raising_input(3))
            self.assertEqual(pool.apply_async(square, (8,)).get(timeout=TIMEOUT), 64)

    def test_input_iterator_that_raises_after_a_long_imap(self):
        # once GraalPy compiles the feeder, the exception's frames (the feeder's) are read
        # through the consumer's stack, unless the feeder fixed them (a JVM NPE ended the run)
        for _ in range(2):
            with multiprocessing.Pool(2) as pool:
                for method in (pool.imap, pool.imap_unordered):
                    with self.assertRaisesRegex(ValueError, "the input broke"):
                        for value in method(square, raising_input(3)):
                            pass
                self.assertEqual(sum(pool.imap(square, (x for x in range(2000)))),
                                 sum(x * x for x in range(2000)))

    def test_10000_apply_async_without_get_then_close_and_join(self):
        pool = multiprocessing.Pool(2)
        results = [pool.apply_async(square, (i,)) for i in range(10000)]
        pool.close()
        bounded(pool.join)
        self.assertTrue(all(r.ready() for r in results))
        self.assertEqual(sum(r.get(0) for r in results), sum(i * i for i in range(10000)))


# ---------------------------------------------------------------------------
# The process API: os, resource, /proc
# ---------------------------------------------------------------------------

# above any pid Linux hands out (pid_max is at most 2^22)
NO_SUCH_PID = 2 ** 30


def process_facts(_=None):
    """What a program reads of its process, in a worker as in the main program."""
    with open("/proc/self/status") as f:
        status = f.read()
    with open("/proc/meminfo") as f:
        meminfo = f.readline()
    with open("/proc/cpuinfo", "rb") as f:
        cpuinfo = f.read()
    with open("/sys/devices/system/cpu/online") as f:
        online = f.read()
    return {
        "pid": os.getpid(), "ppid": os.getppid(), "pgrp": os.getpgrp(), "pgid": os.getpgid(0),
        "sid": os.getsid(0), "cpus": os.sched_getaffinity(0), "cpu_count": os.cpu_count(),
        "sem_nsems_max": os.sysconf("SC_SEM_NSEMS_MAX"), "pagesize": os.sysconf("SC_PAGESIZE"),
        "online": os.sysconf("SC_NPROCESSORS_ONLN"), "status": status, "meminfo": meminfo,
        "cpuinfo": cpuinfo, "sys_online": online,
    }


def pid_alive_check(pid):
    os.kill(pid, 0)
    return True


class ProcessApiTest(FaultTest):
    def check_facts(self, facts):
        self.assertIsInstance(facts["ppid"], int)
        self.assertGreater(facts["ppid"], 0)
        self.assertEqual(facts["pgrp"], facts["pgid"])
        self.assertIsInstance(facts["sid"], int)
        self.assertTrue(facts["cpus"])
        self.assertLessEqual(len(facts["cpus"]), facts["cpu_count"])
        self.assertEqual(facts["online"], facts["cpu_count"])
        self.assertEqual(facts["sem_nsems_max"], -1)  # no limit, as on Linux
        self.assertEqual(facts["pagesize"], resource.getpagesize())
        self.assertIn("Name:", facts["status"])
        self.assertIn("Pid:", facts["status"])
        self.assertTrue(facts["meminfo"].startswith("MemTotal:"), facts["meminfo"])
        self.assertIn(b"processor", facts["cpuinfo"])
        self.assertTrue(facts["sys_online"].strip())

    def test_process_api_in_the_main_program(self):
        self.check_facts(process_facts())

    def test_process_api_in_a_worker(self):
        with multiprocessing.Pool(1) as pool:
            facts = pool.apply_async(process_facts).get(timeout=TIMEOUT)
        self.check_facts(facts)
        self.assertEqual(facts["ppid"], os.getpid())
        self.assertEqual(facts["pgrp"], os.getpgrp())

    def test_sysconf_names_and_errors(self):
        self.assertIn("SC_SEM_NSEMS_MAX", os.sysconf_names)
        self.assertEqual(os.sysconf(os.sysconf_names["SC_PAGESIZE"]), resource.getpagesize())
        with self.assertRaises(ValueError):
            os.sysconf("SC_NO_SUCH_NAME")

    def test_kill_and_lookups_of_an_unknown_pid(self):
        for call in (lambda: os.kill(NO_SUCH_PID, 0), lambda: os.kill(NO_SUCH_PID, signal.SIGTERM),
                     lambda: os.getpgid(NO_SUCH_PID), lambda: os.getsid(NO_SUCH_PID),
                     lambda: os.sched_getaffinity(NO_SUCH_PID)):
            with self.assertRaises(ProcessLookupError):
                call()

    def test_kill_zero_and_killpg_zero_of_the_program_itself(self):
        self.assertIsNone(os.kill(os.getpid(), 0))
        self.assertIsNone(os.killpg(os.getpgrp(), 0))

    def test_getrusage_of_children(self):
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.assertGreaterEqual(usage.ru_utime, 0.0)
        self.assertGreaterEqual(usage.ru_maxrss, 0)
        self.assertGreater(resource.getrusage(resource.RUSAGE_SELF).ru_utime, 0.0)
        with self.assertRaises(ValueError):
            resource.getrusage(12345)

    def test_kill_of_a_process_child_by_pid(self):
        for sig, code in ((signal.SIGTERM, -signal.SIGTERM), (signal.SIGKILL, -signal.SIGKILL)):
            with self.subTest(sig=sig):
                p = multiprocessing.Process(target=time.sleep, args=(60,))
                p.start()
                self.assertIsNone(os.kill(p.pid, 0))
                os.kill(p.pid, sig)
                p.join(TIMEOUT)
                self.assertEqual(p.exitcode, code)

    def test_signal_handler_runs_for_kill_and_raise_signal(self):
        got = []
        previous = signal.signal(signal.SIGUSR1, lambda signum, frame: got.append(signum))
        try:
            self.assertEqual(previous, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGUSR1)
            signal.raise_signal(signal.SIGUSR1)
            self.assertEqual(got, [signal.SIGUSR1, signal.SIGUSR1])
        finally:
            signal.signal(signal.SIGUSR1, signal.SIG_DFL)

    def test_sigint_to_itself_raises_keyboard_interrupt(self):
        self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)
        with self.assertRaises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        with self.assertRaises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)

    def test_signal_arguments_checked_as_in_cpython(self):
        with self.assertRaises(OSError):
            signal.signal(signal.SIGKILL, signal.SIG_IGN)
        with self.assertRaises(TypeError):
            signal.signal(signal.SIGUSR1, 42)
        with self.assertRaises(ValueError):
            signal.signal(0, signal.SIG_IGN)
        errors = []

        def from_a_thread():
            try:
                signal.signal(signal.SIGUSR1, signal.SIG_IGN)
            except ValueError as e:
                errors.append(e)

        t = threading.Thread(target=from_a_thread)
        t.start()
        t.join(TIMEOUT)
        self.assertEqual(len(errors), 1)


# ---------------------------------------------------------------------------
# Signals from outside: a child interpreter that the test signals
# ---------------------------------------------------------------------------

SIGNALLED_CHILD = r"""
import multiprocessing, os, queue, signal, sys, threading, time

def sleep_long(x):
    time.sleep(60)
    return x

def wait_in(kind, pool):
    if kind == "time.sleep":
        time.sleep(60)
    elif kind == "Event.wait":
        threading.Event().wait(60)
    elif kind == "Queue.get":
        multiprocessing.Queue().get(timeout=60)
    elif kind == "map":
        pool.map(sleep_long, range(4))
    elif kind == "get":
        pool.apply_async(sleep_long, (1,)).get(60)
    elif kind == "join":
        p = multiprocessing.Pool(1)
        p.apply_async(sleep_long, (1,))
        p.close()
        try:
            p.join()
        finally:
            p.terminate()

def say(*words):
    print(*words, flush=True)

def handle_sigint():
    got = []
    signal.signal(signal.SIGINT, lambda s, f: got.append(s))
    say("waiting handler")
    while not got:
        time.sleep(0.05)
    say("handled", got[0])

if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "waits":
        pool = multiprocessing.Pool(2)
        for kind in sys.argv[2:]:
            say("waiting", kind)
            try:
                wait_in(kind, pool)
                say("not interrupted", kind)
            except KeyboardInterrupt:
                say("interrupted", kind)
        pool.terminate()
        say("done")
    elif mode == "handler":
        handle_sigint()
    elif mode == "ignored":
        say("ignoring", signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
            signal.getsignal(signal.SIGHUP) == signal.SIG_IGN)
        say("waiting ignored")
        time.sleep(4)  # the SIGINT and SIGHUP sent meanwhile change nothing
        say("slept")
        handle_sigint()
    elif mode == "uncaught":
        with multiprocessing.Pool(2) as pool:
            say("waiting uncaught")
            pool.map(sleep_long, range(4))
    elif mode == "term-handler":
        signal.signal(signal.SIGTERM, lambda s, f: sys.exit(7))
        say("waiting term-handler")
        time.sleep(60)
    elif mode == "term-default":
        from multiprocessing import shared_memory
        block = shared_memory.SharedMemory(create=True, size=1024)
        say("block", block.name)
        try:
            say("waiting term-default")
            time.sleep(60)
        finally:
            say("finally ran")
    elif mode == "term-busy":
        import itertools
        say("waiting term-busy")
        # C code (Java code in GraalPy) that checks for no signal, for a minute or two (55 ns an
        # item here): past the 5 s grace, yet finite, since polypool cannot stop it and the
        # resident engine's thread would spin for the rest of a test suite run on it
        any(itertools.repeat(0, 2 * 10**9))  # GraalPy: a count that fits in 32 bits
"""


class SignalledChild:
    """A child interpreter running SIGNALLED_CHILD, read line by line with a timeout."""

    def __init__(self, test, *args, env=None, ignore=()):
        interpreter = child_interpreter()
        self._dir = tempfile.TemporaryDirectory()
        script = os.path.join(self._dir.name, "signalled_child.py")
        with open(script, "w") as f:
            f.write(SIGNALLED_CHILD)
        command = interpreter + [script, *args]
        if ignore:  # a shell that ignores them, then becomes the child (GraalPy has no preexec_fn)
            traps = " ".join(signal.Signals(s).name[3:] for s in ignore)
            command = ["sh", "-c", 'trap "" %s; exec "$@"' % traps, "sh"] + command
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=dict(os.environ, **(env or {})))
        self._lines = queue.Queue()
        self._err = []
        threading.Thread(target=self._read, args=(self.proc.stdout, self._lines.put), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self._err.append), daemon=True).start()
        test.addCleanup(self.close)

    @staticmethod
    def _read(stream, put):
        for line in stream:
            put(line.rstrip("\n"))
        put(None)

    def line(self):
        try:
            return self._lines.get(timeout=TIMEOUT * 2)
        except queue.Empty:
            raise AssertionError("the child printed nothing for %s s" % (TIMEOUT * 2)) from None

    def signal_when_waiting(self, sig):
        line = self.line()
        assert line is not None and line.startswith("waiting"), (line, self.stderr())
        time.sleep(1)  # let it get into the wait
        self.proc.send_signal(sig)
        return line

    def finish(self):
        rest = []
        while (line := self.line()) is not None:
            rest.append(line)
        self.proc.wait(TIMEOUT)
        return rest

    def stderr(self):
        return "\n".join(line for line in self._err if line is not None)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()
        self._dir.cleanup()


class SignalTest(FaultTest):
    WAITS = ["time.sleep", "Event.wait", "Queue.get", "map", "get", "join"]

    def test_sigint_raises_keyboard_interrupt_wherever_the_main_thread_waits(self):
        child = SignalledChild(self, "waits", *self.WAITS)
        for kind in self.WAITS:
            self.assertEqual(child.signal_when_waiting(signal.SIGINT), "waiting " + kind)
            self.assertEqual(child.line(), "interrupted " + kind, child.stderr())
        self.assertEqual(child.finish(), ["done"])
        self.assertEqual(child.proc.returncode, 0, child.stderr())

    def test_sigint_runs_the_programs_handler(self):
        child = SignalledChild(self, "handler")
        child.signal_when_waiting(signal.SIGINT)
        self.assertEqual(child.finish(), ["handled %d" % signal.SIGINT])
        self.assertEqual(child.proc.returncode, 0, child.stderr())

    def test_signals_ignored_at_start_stay_ignored_until_the_program_handles_them(self):
        # as under nohup, or a shell's background job: the process starts with SIG_IGN
        child = SignalledChild(self, "ignored", ignore=(signal.SIGINT, signal.SIGHUP))
        self.assertEqual(child.line(), "ignoring True True", child.stderr())
        child.signal_when_waiting(signal.SIGINT)
        child.proc.send_signal(signal.SIGHUP)
        self.assertEqual(child.line(), "slept", child.stderr())
        child.signal_when_waiting(signal.SIGINT)
        self.assertEqual(child.finish(), ["handled %d" % signal.SIGINT])
        self.assertEqual(child.proc.returncode, 0, child.stderr())

    def test_uncaught_keyboard_interrupt_ends_the_program(self):
        child = SignalledChild(self, "uncaught")
        child.signal_when_waiting(signal.SIGINT)
        self.assertEqual(child.finish(), [])
        # CPython kills itself with SIGINT (the shell sees 130), as the resident engine's
        # client does; polypool in a JVM of its own exits with 130
        self.assertIn(child.proc.returncode, (130, -signal.SIGINT))
        self.assertIn("KeyboardInterrupt", child.stderr())
        self.assertIn("Traceback (most recent call last):", child.stderr())

    def test_sigterm_runs_the_programs_handler(self):
        child = SignalledChild(self, "term-handler")
        child.signal_when_waiting(signal.SIGTERM)
        child.finish()
        self.assertEqual(child.proc.returncode, 7, child.stderr())

    def test_sigterm_ends_a_program_busy_in_code_that_checks_no_signal(self):
        child = SignalledChild(self, "term-busy")
        child.signal_when_waiting(signal.SIGTERM)
        self.assertEqual(child.finish(), [])
        # polypool's main thread never takes the signal here: it is ended after a grace
        self.assertIn(child.proc.returncode, (143, -signal.SIGTERM), child.stderr())

    def test_sigterm_default_ends_the_program_and_removes_shared_memory(self):
        child = SignalledChild(self, "term-default")
        name = child.line().split()[1]
        path = os.path.join("/dev/shm", name.lstrip("/"))
        self.assertTrue(os.path.exists(path))
        child.signal_when_waiting(signal.SIGTERM)
        self.assertEqual(child.finish(), [])  # no finally block runs
        # CPython is killed by the signal, as the resident engine's client is; polypool in a
        # JVM of its own exits with 128 + 15, as the shell shows it
        self.assertIn(child.proc.returncode, (143, -signal.SIGTERM))
        # CPython's resource tracker removes the block once the program is gone
        for _ in range(100):
            if not os.path.exists(path):
                break
            time.sleep(0.1)
        self.assertFalse(os.path.exists(path))


class TerminalTest(unittest.TestCase):
    """The program's (and its workers') ``isatty()`` of the standard streams tells what the fds are."""

    PROGRAM = ("import os, sys, multiprocessing as mp\n"
               "def flags(): return sys.stdout.isatty(), sys.stderr.isatty(), os.isatty(1), os.isatty(2)\n"
               "if __name__ == '__main__':\n"
               "    with mp.Pool(1) as p: worker = p.apply(flags)\n"
               "    print(sys.stdin.isatty(), os.isatty(0), *flags(), *worker)\n")

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def run_child(self, under_a_terminal):
        script = os.path.join(self.dir.name, "flags.py")
        with open(script, "w") as f:
            f.write(self.PROGRAM)
        command = child_interpreter() + [script]
        if under_a_terminal:
            command = ["script", "-q", "-e", "-c", " ".join(shlex.quote(a) for a in command), "/dev/null"]
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TIMEOUT * 10)
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout.strip().splitlines()[-1].split()

    @unittest.skipUnless(shutil.which("script"), "needs script(1) for a pseudo-terminal")
    def test_a_terminal(self):
        # a worker's stdout and stderr are the program's
        self.assertEqual(self.run_child(True), ["True"] * 10)

    def test_pipes(self):
        self.assertEqual(self.run_child(False), ["False"] * 10)


if __name__ == "__main__":
    unittest.main()
