"""Thread-based pools keep working, in the main process and inside pool workers.

Passes on CPython (fork) and on polypool.
"""

import multiprocessing.dummy
import threading
import traceback
import types
import unittest
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool
from multiprocessing.pool import ThreadPool

TIMEOUT = 60


def square(x):
    return x * x


def thread_name(_):
    return threading.current_thread().name


def fail(x):
    raise ValueError(x)


def failing_input(total, when):
    for i in range(total):
        if i == when:
            raise ValueError("the input broke")
        yield i


def thread_pool_in_worker(n):
    # a process-pool task that runs its own thread pools
    with ThreadPool(2) as tp:
        a = tp.map(square, range(n))
    with multiprocessing.dummy.Pool(2) as dp:
        b = dp.map(square, range(n))
    with ThreadPoolExecutor(2) as ex:
        c = list(ex.map(square, range(n)))
    return a, b, c


class ThreadPoolTest(unittest.TestCase):

    def test_thread_pool_api(self):
        with ThreadPool(3) as tp:
            self.assertEqual(tp.map(square, range(10)), [x * x for x in range(10)])
            self.assertEqual(tp.apply_async(square, (7,)).get(TIMEOUT), 49)
            self.assertEqual(sorted(tp.imap_unordered(square, range(5))), [0, 1, 4, 9, 16])
            self.assertEqual(tp.starmap(pow, [(2, 3), (3, 2)]), [8, 9])
            names = set(tp.map(thread_name, range(30), chunksize=1))
            self.assertTrue(all(not n.startswith("MainThread") for n in names), names)
        with self.assertRaises(ValueError):
            tp.map(square, [1])

    def test_thread_pool_runs_unpicklable_work(self):
        # threads share the process: lambdas and locks need no pickling
        lock = threading.Lock()
        with ThreadPool(2) as tp:
            self.assertEqual(tp.map(lambda x: (x, lock.locked()), [1]), [(1, False)])

    def assert_frames_readable(self, call, *args):
        """The names of the frames of what ``call(*args)`` raises, read here, where it
        arrived, as unittest's assertRaises does (traceback.clear_frames, where GraalPy
        ended the program)."""
        try:
            call(*args)
        except ValueError as e:
            tb, names = e.__traceback__, []
            while tb is not None:
                frame = tb.tb_frame  # a Java null: the next line raises UnboundLocalError
                self.assertIsInstance(frame, types.FrameType)
                names.append(frame.f_code.co_name)
                tb = tb.tb_next
            traceback.clear_frames(e.__traceback__)
            return names
        self.fail("no ValueError")

    def test_failed_tasks_keep_frames_the_caller_can_read(self):
        def drain(it):
            for _ in range(10):
                it.next(TIMEOUT)

        # several failures per worker thread: the first one of each came through whole
        with ThreadPool(2) as tp:
            for i in range(8):
                names = self.assert_frames_readable(tp.apply_async(fail, (i,)).get, TIMEOUT)
                self.assertEqual(names[-1], "fail")
            # the input's exception is raised again in a worker thread
            for when in (0, 0, 3, 3, 7):
                names = self.assert_frames_readable(drain, tp.imap(square, failing_input(10, when)))
                self.assertEqual(names[-1], "failing_input")
            self.assertEqual(tp.apply_async(square, (4,)).get(TIMEOUT), 16)

    def test_multiprocessing_dummy(self):
        self.assertIsInstance(multiprocessing.dummy.current_process(), threading.Thread)
        with multiprocessing.dummy.Pool(2) as dp:
            self.assertEqual(dp.map(square, range(6)), [0, 1, 4, 9, 16, 25])
        q = multiprocessing.dummy.Queue()
        q.put(5)
        self.assertEqual(q.get(timeout=TIMEOUT), 5)

    def test_thread_pool_executor(self):
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="tpe") as ex:
            self.assertEqual(ex.submit(square, 9).result(TIMEOUT), 81)
            self.assertTrue(ex.submit(thread_name, 0).result(TIMEOUT).startswith("tpe_"))
            self.assertEqual(list(ex.map(square, range(4), timeout=TIMEOUT)), [0, 1, 4, 9])

    def test_thread_pools_inside_a_process_pool_worker(self):
        with Pool(1) as pool:
            a, b, c = pool.apply_async(thread_pool_in_worker, (5,)).get(TIMEOUT)
        expected = [0, 1, 4, 9, 16]
        self.assertEqual((a, b, c), (expected, expected, expected))


if __name__ == "__main__":
    unittest.main()
