"""Conformance tests for multiprocessing's locks, semaphores, conditions and events.

They pass on CPython (fork) and on polypool, where these objects are shared Java objects.
"""

import _multiprocessing
import multiprocessing
import os
import threading
import time
import unittest
from multiprocessing import Pool

TIMEOUT = 60

_worker_lock = None


def _init_with_lock(lock):
    global _worker_lock
    _worker_lock = lock


def _try_worker_lock(_):
    # the parent holds the lock: a worker sharing it cannot take it
    return _worker_lock.acquire(timeout=0.2)


def _hold(lock, seconds):
    with lock:
        time.sleep(seconds)


class LockTest(unittest.TestCase):

    def test_lock_is_exclusive_and_not_recursive(self):
        lock = multiprocessing.Lock()
        self.assertTrue(lock.acquire())
        self.assertFalse(lock.acquire(False))
        self.assertFalse(lock.acquire(timeout=0.05))
        lock.release()
        self.assertTrue(lock.acquire(block=False))
        lock.release()
        with self.assertRaises(ValueError):
            lock.release()

    def test_lock_blocks_other_threads(self):
        lock = multiprocessing.Lock()
        t = threading.Thread(target=_hold, args=(lock, 0.5))
        t.start()
        time.sleep(0.1)
        start = time.monotonic()
        self.assertTrue(lock.acquire(timeout=TIMEOUT))
        self.assertGreater(time.monotonic() - start, 0.2)
        lock.release()
        t.join()

    def test_rlock_is_recursive_and_owned(self):
        rlock = multiprocessing.RLock()
        self.assertTrue(rlock.acquire())
        self.assertTrue(rlock.acquire())
        result = []
        t = threading.Thread(target=lambda: result.append(rlock.acquire(timeout=0.05)))
        t.start()
        t.join()
        self.assertEqual(result, [False])
        rlock.release()
        rlock.release()
        with self.assertRaises(AssertionError):
            rlock.release()

    def test_semaphores(self):
        sem = multiprocessing.Semaphore(2)
        self.assertTrue(sem.acquire(False))
        self.assertTrue(sem.acquire(False))
        self.assertFalse(sem.acquire(False))
        self.assertEqual(sem.get_value(), 0)
        sem.release()
        sem.release()
        sem.release()  # an unbounded semaphore goes above its start value
        self.assertEqual(sem.get_value(), 3)
        bounded = multiprocessing.BoundedSemaphore(1)
        self.assertTrue(bounded.acquire())
        bounded.release()
        with self.assertRaises(ValueError):
            bounded.release()

    def test_event_and_condition(self):
        event = multiprocessing.Event()
        self.assertFalse(event.is_set())
        self.assertFalse(event.wait(0.05))
        threading.Timer(0.1, event.set).start()
        self.assertTrue(event.wait(TIMEOUT))
        cond = multiprocessing.Condition()
        box = []

        def produce():
            time.sleep(0.1)
            with cond:
                box.append(1)
                cond.notify()

        threading.Thread(target=produce).start()
        with cond:
            self.assertTrue(cond.wait_for(lambda: box, TIMEOUT))

    def test_lock_cannot_be_sent_with_a_task(self):
        lock = multiprocessing.Lock()
        with Pool(1) as pool:
            with self.assertRaises(RuntimeError) as cm:
                pool.apply_async(_hold, (lock, 0)).get(TIMEOUT)
            self.assertIn("inheritance", str(cm.exception))

    def test_lock_given_to_initializer_is_shared(self):
        lock = multiprocessing.Lock()
        with Pool(2, initializer=_init_with_lock, initargs=(lock,)) as pool:
            with lock:
                self.assertEqual(pool.map(_try_worker_lock, range(2), chunksize=1), [False, False])
            self.assertEqual(pool.map(_try_worker_lock, range(1)), [True])


class SemLockTypeTest(unittest.TestCase):
    # _multiprocessing.SemLock used directly, as CPython's SemLockTests do

    def test_subclass_acquires_and_releases(self):
        class CountingSemLock(_multiprocessing.SemLock):
            pass
        name = f"/polypool-test-semlock-{os.getpid()}"
        semaphore_kind = 1  # multiprocessing.synchronize.SEMAPHORE
        s = CountingSemLock(semaphore_kind, 2, 2, name, False)
        _multiprocessing.sem_unlink(name)
        self.assertTrue(s.acquire(timeout=1))
        self.assertTrue(s.acquire(False))
        self.assertFalse(s.acquire(False))
        self.assertEqual(s._get_value(), 0)
        s.release()
        s.release()
        with self.assertRaisesRegex(ValueError, "released too many times"):
            s.release()
        self.assertEqual(_multiprocessing.SemLock.SEM_VALUE_MAX, 2**31 - 1)


if __name__ == "__main__":
    unittest.main()
