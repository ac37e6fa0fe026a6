"""Conformance tests for shared ctypes objects (Value, Array, RawValue, RawArray), Barrier
and multiprocessing.shared_memory.

They pass on CPython (fork) and on polypool, where the memory is native memory that every
context maps: a write in a child process or pool worker is seen by the parent.
"""

import ctypes
import multiprocessing
import os
import sys
import threading
import unittest
from multiprocessing import Pool, Process, sharedctypes, shared_memory

from hang_guard import bounded

TIMEOUT = 60

# GraalPy's own ctypes (not polypool) differs from CPython's in a few places; those tests
# are expected to fail there, and report an unexpected success once GraalPy is fixed
graalpy_ctypes_gap = unittest.expectedFailure if sys.implementation.name == "graalpy" else (lambda f: f)

# set before the pool starts: workers inherit it, as a forked child inherits a global
_GLOBAL_COUNTER = None
_worker_value = None


class Point(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_double)]


def _move_point(point):
    with point.get_lock():
        point.x += 1
        point.y *= 2


def _init_with_value(value):
    global _worker_value
    _worker_value = value


def _add_to_inherited(n):
    with _worker_value.get_lock():
        _worker_value.value += n
    return _worker_value.value


def _add_to_global(n):
    with _GLOBAL_COUNTER.get_lock():
        _GLOBAL_COUNTER.value += n
    return True


def _identity(x):
    return x


def _child_writes(value, array, chars, raw):
    with value.get_lock():
        value.value += 5
    for i in range(len(array)):
        array[i] = array[i] * 10
    chars.value = b"child"
    raw[0] = 7.5


def _child_increments(value, lock, times):
    for _ in range(times):
        with lock:
            value.value += 1


def _barrier_party(barrier, results):
    index = barrier.wait(timeout=TIMEOUT)
    with results.get_lock():
        results[index] += 1


def _attach_and_write(name, data):
    shm = shared_memory.SharedMemory(name)
    shm.buf[:len(data)] = data
    shm.close()


def _write_through_inherited(shm, data):
    shm.buf[:len(data)] = data


def _set_list_item(sl, index, value):
    sl[index] = value


def _read_block(name):
    shm = shared_memory.SharedMemory(name)
    try:
        return bytes(shm.buf[:4])
    finally:
        shm.close()


def _run_process(target, *args):
    p = Process(target=target, args=args)
    p.start()
    p.join(TIMEOUT)
    if p.is_alive():
        p.terminate()
        raise AssertionError("child process did not finish")
    return p.exitcode


class ValueTest(unittest.TestCase):

    def test_typecodes_and_ctypes_types(self):
        self.assertEqual(multiprocessing.Value("i", 7).value, 7)
        self.assertEqual(multiprocessing.Value("d", 2.5).value, 2.5)
        self.assertEqual(multiprocessing.Value("c", b"x").value, b"x")
        self.assertEqual(multiprocessing.Value("Q", 2**62).value, 2**62)
        self.assertEqual(multiprocessing.Value(ctypes.c_short, -3).value, -3)
        self.assertEqual(multiprocessing.Value(ctypes.c_bool, True).value, True)
        self.assertEqual(multiprocessing.Value("i").value, 0)
        v = multiprocessing.Value("h", 0)
        v.value = 2**15  # wraps as a C short does
        self.assertEqual(v.value, -(2**15))

    @graalpy_ctypes_gap
    def test_unsigned_64_bit_values_above_2_to_the_63(self):
        # GraalPy: OverflowError "Python int too large to convert to Java long"
        self.assertEqual(multiprocessing.Value("Q", 2**64 - 1).value, 2**64 - 1)

    def test_synchronized_wrapper(self):
        v = multiprocessing.Value("i", 1)
        self.assertIsInstance(v, sharedctypes.Synchronized)
        self.assertIsInstance(v.get_obj(), ctypes.c_int)
        lock = v.get_lock()
        self.assertTrue(lock.acquire(timeout=1))
        lock.release()  # an RLock by default: the wrapper's own methods take it too
        with v:
            v.value += 1
        self.assertEqual(v.value, 2)
        self.assertIn("Synchronized wrapper for", repr(v))

    def test_lock_argument(self):
        raw = multiprocessing.Value("i", 3, lock=False)
        self.assertIsInstance(raw, ctypes.c_int)
        self.assertFalse(hasattr(raw, "get_lock"))
        lock = multiprocessing.Lock()
        v = multiprocessing.Value("i", 3, lock=lock)
        self.assertIs(v.get_lock(), lock)
        with self.assertRaisesRegex(AttributeError, "has no method 'acquire'"):
            multiprocessing.Value("i", 3, lock="not a lock")

    def test_raw_value(self):
        r = multiprocessing.RawValue("d", 1.25)
        self.assertIsInstance(r, ctypes.c_double)
        self.assertEqual(r.value, 1.25)
        self.assertEqual(sharedctypes.RawValue(ctypes.c_long).value, 0)

    def test_bad_typecodes_and_values(self):
        with self.assertRaises(TypeError):
            multiprocessing.Value("z", 1)
        with self.assertRaises(TypeError):
            multiprocessing.Value("i", "text")
        with self.assertRaises(TypeError):
            multiprocessing.RawValue(42)

    def test_synchronized_value_cannot_be_pickled_outside_inheritance(self):
        import pickle
        from multiprocessing.reduction import ForkingPickler
        with self.assertRaisesRegex(RuntimeError, "Synchronized objects should only be shared "
                                                  "between processes through inheritance"):
            ForkingPickler.dumps(multiprocessing.Value("i", 1))
        with self.assertRaisesRegex(RuntimeError, "c_int objects should only be shared"):
            ForkingPickler.dumps(multiprocessing.RawValue("i", 1))
        with self.assertRaisesRegex(RuntimeError, "Synchronized objects"):
            pickle.dumps(multiprocessing.Value("i", 1))

    def test_synchronized_structure(self):
        # synchronized() builds a wrapper class per Structure class, with a property per field
        p = multiprocessing.Value(Point, 1, 2.5)
        self.assertIsInstance(p, sharedctypes.SynchronizedBase)
        self.assertEqual(type(p).__name__, "SynchronizedPoint")
        self.assertIs(type(multiprocessing.Value(Point)), type(p))  # the class is cached
        self.assertEqual((p.x, p.y), (1, 2.5))
        self.assertEqual(_run_process(_move_point, p), 0)
        self.assertEqual((p.x, p.y), (2, 5.0))
        raw = sharedctypes.synchronized(multiprocessing.RawValue(Point, 3, 0.5))
        self.assertEqual(raw.x, 3)


class ArrayTest(unittest.TestCase):

    def test_sizes_initialisers_and_indexing(self):
        a = multiprocessing.Array("i", 4)
        self.assertEqual(a[:], [0, 0, 0, 0])
        b = multiprocessing.Array("d", [1.0, 2.0, 3.0])
        self.assertEqual(len(b), 3)
        self.assertEqual(b[1], 2.0)
        self.assertEqual(b[-1], 3.0)
        self.assertEqual(b[::2], [1.0, 3.0])
        b[0:2] = [5.0, 6.0]
        self.assertEqual(list(b), [5.0, 6.0, 3.0])
        c = multiprocessing.Array(ctypes.c_int, range(5), lock=False)
        self.assertEqual(c[:], [0, 1, 2, 3, 4])

    def test_array_errors(self):
        a = multiprocessing.Array("i", 3)
        with self.assertRaises(IndexError):
            a[3]
        with self.assertRaises(IndexError):
            a[5] = 1
        with self.assertRaisesRegex(ValueError, "Can only assign sequence of same size"):
            a[0:2] = [1, 2, 3]
        with self.assertRaises(TypeError):
            a[0] = "x"
        with self.assertRaises(TypeError):
            multiprocessing.Array("z", 3)

    def test_char_arrays(self):
        c = multiprocessing.Array("c", b"hello")
        self.assertEqual(c.value, b"hello")
        self.assertEqual(c.raw, b"hello")
        self.assertEqual(c[1:3], b"el")
        c.value = b"HELLO"
        self.assertEqual(c.raw, b"HELLO")
        with self.assertRaises(ValueError):
            c.value = b"too long"
        r = multiprocessing.RawArray(ctypes.c_char, 4)
        self.assertEqual(r.raw, b"\x00" * 4)
        r.raw = b"abcd"
        self.assertEqual(r.value, b"abcd")
        self.assertEqual(len(multiprocessing.RawArray("i", 6)), 6)

    @graalpy_ctypes_gap
    def test_shorter_char_value_is_nul_terminated(self):
        # GraalPy: the bytes are copied without the terminating NUL
        c = multiprocessing.Array("c", b"hello")
        c.value = b"hi"
        self.assertEqual(c.value, b"hi")
        self.assertEqual(c.raw, b"hi\x00lo")

    def test_synchronized_array_wrapper(self):
        a = multiprocessing.Array("i", [1, 2])
        self.assertIsInstance(a, sharedctypes.SynchronizedArray)
        self.assertEqual(len(a.get_obj()), 2)
        with a.get_lock():
            a[0] += 10
        self.assertEqual(a[:], [11, 2])


class CrossProcessTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        global _GLOBAL_COUNTER
        _GLOBAL_COUNTER = multiprocessing.Value("i", 0)
        cls.inherited = multiprocessing.Value("i", 0)
        cls.pool = Pool(2, initializer=_init_with_value, initargs=(cls.inherited,))

    @classmethod
    def tearDownClass(cls):
        cls.pool.terminate()
        cls.pool.join()

    def test_child_process_writes_are_seen_by_the_parent(self):
        value = multiprocessing.Value("i", 1)
        array = multiprocessing.Array("i", [1, 2, 3])
        chars = multiprocessing.Array("c", 8)
        raw = multiprocessing.RawArray("d", 2)
        self.assertEqual(_run_process(_child_writes, value, array, chars, raw), 0)
        self.assertEqual(value.value, 6)
        self.assertEqual(array[:], [10, 20, 30])
        self.assertEqual(chars.value, b"child")
        self.assertEqual(raw[:], [7.5, 0.0])

    def test_processes_increment_under_a_lock(self):
        value = multiprocessing.Value("i", 0, lock=False)
        lock = multiprocessing.Lock()
        procs = [Process(target=_child_increments, args=(value, lock, 50)) for _ in range(3)]
        for p in procs:
            p.start()
        with lock:
            value.value += 1000
        for p in procs:
            p.join(TIMEOUT)
        self.assertEqual([p.exitcode for p in procs], [0, 0, 0])
        self.assertEqual(value.value, 1150)

    def test_pool_initargs_share_the_value(self):
        before = self.inherited.value
        bounded(self.pool.map, _add_to_inherited, [1, 2, 3, 4], chunksize=1)
        self.assertEqual(self.inherited.value, before + 10)

    def test_pool_workers_share_an_inherited_global(self):
        self.assertEqual(bounded(self.pool.map, _add_to_global, [5, 5], chunksize=1), [True, True])
        self.assertEqual(_GLOBAL_COUNTER.value, 10)

    def test_synchronized_value_as_a_task_argument_is_refused(self):
        with self.assertRaisesRegex(RuntimeError, "^Synchronized objects should only be shared "
                                                  "between processes through inheritance$"):
            bounded(self.pool.apply, _identity, (multiprocessing.Value("i", 1),))
        with self.assertRaisesRegex(RuntimeError, "^SynchronizedArray objects should only be shared"):
            bounded(self.pool.map, _identity, [multiprocessing.Array("i", 2)])
        with self.assertRaisesRegex(RuntimeError, "^c_double_Array_2 objects should only be shared"):
            bounded(self.pool.apply, _identity, (multiprocessing.RawArray("d", 2),))


class BarrierTest(unittest.TestCase):

    def test_barrier_across_processes(self):
        barrier = multiprocessing.Barrier(3)
        results = multiprocessing.Array("i", 3)
        procs = [Process(target=_barrier_party, args=(barrier, results)) for _ in range(2)]
        for p in procs:
            p.start()
        index = barrier.wait(timeout=TIMEOUT)
        with results.get_lock():
            results[index] += 1
        for p in procs:
            p.join(TIMEOUT)
        self.assertEqual([p.exitcode for p in procs], [0, 0])
        self.assertEqual(results[:], [1, 1, 1])  # each party got its own index

    def test_attributes_action_and_reuse(self):
        calls = []
        barrier = multiprocessing.Barrier(2, action=lambda: calls.append(1), timeout=TIMEOUT)
        self.assertEqual(barrier.parties, 2)
        self.assertEqual(barrier.n_waiting, 0)
        self.assertFalse(barrier.broken)
        for _ in range(2):  # a barrier can be passed again once it released everyone
            t = threading.Thread(target=barrier.wait)
            t.start()
            barrier.wait()
            t.join(TIMEOUT)
        self.assertEqual(calls, [1, 1])

    def test_timeout_and_abort_break_the_barrier(self):
        barrier = multiprocessing.Barrier(2)
        with self.assertRaises(threading.BrokenBarrierError):
            barrier.wait(timeout=0.2)
        self.assertTrue(barrier.broken)
        with self.assertRaises(threading.BrokenBarrierError):
            barrier.wait(timeout=0.2)
        barrier.reset()
        self.assertFalse(barrier.broken)
        barrier.abort()
        self.assertTrue(barrier.broken)
        with self.assertRaises(threading.BrokenBarrierError):
            barrier.wait()


class SharedMemoryTest(unittest.TestCase):

    def setUp(self):
        self.blocks = []

    def tearDown(self):
        for shm in self.blocks:
            shm.close()
            try:
                shm.unlink()
            except FileNotFoundError:
                pass

    def create(self, size, name=None):
        shm = shared_memory.SharedMemory(name, create=True, size=size)
        self.blocks.append(shm)
        return shm

    def test_random_names_come_from_make_filename(self):
        # CPython draws a new name with shared_memory._make_filename at each try, and
        # draws again when the name is taken
        from unittest import mock
        taken = self.create(1)
        mine = f"/psm_polypool_test_{os.getpid()}"
        with mock.patch("multiprocessing.shared_memory._make_filename",
                        side_effect=["/" + taken.name, mine]) as make_filename:
            shm = self.create(1)
        self.assertEqual(shm.name, mine.lstrip("/"))
        self.assertEqual(make_filename.call_count, 2)

    def test_create_attach_and_attributes(self):
        shm = self.create(16)
        self.assertEqual(shm.size, 16)
        self.assertEqual(len(shm.buf), 16)
        self.assertEqual(bytes(shm.buf), b"\x00" * 16)
        self.assertFalse(shm.name.startswith("/"))
        self.assertIn(shm.name, repr(shm))
        shm.buf[:3] = b"abc"
        other = shared_memory.SharedMemory(shm.name)
        self.assertEqual(other.size, 16)  # the size comes from the block when attaching
        self.assertEqual(bytes(other.buf[:3]), b"abc")
        other.buf[3] = ord("d")
        self.assertEqual(bytes(shm.buf[:4]), b"abcd")
        other.close()
        self.assertIsNone(other.buf)
        self.assertEqual(bytes(shm.buf[:4]), b"abcd")

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "'size' must be a positive integer"):
            shared_memory.SharedMemory(create=True, size=-1)
        with self.assertRaisesRegex(ValueError, "'size' must be a positive number different from zero"):
            shared_memory.SharedMemory(create=True, size=0)
        with self.assertRaisesRegex(ValueError, "'name' can only be None if create=True"):
            shared_memory.SharedMemory()
        shm = self.create(8)
        with self.assertRaises(FileExistsError) as cm:
            shared_memory.SharedMemory(shm.name, create=True, size=8)
        self.assertEqual(cm.exception.filename, "/" + shm.name)
        shm.close()
        shm.unlink()
        with self.assertRaises(FileNotFoundError) as cm:
            shared_memory.SharedMemory(shm.name)
        self.assertEqual(cm.exception.filename, "/" + shm.name)
        with self.assertRaises(FileNotFoundError):
            shm.unlink()

    def test_unlink_keeps_open_mappings(self):
        shm = self.create(4)
        shm.unlink()
        shm.buf[0] = 9  # the memory lives on until closed, as a POSIX mapping does
        self.assertEqual(shm.buf[0], 9)

    def test_memory_seen_across_processes(self):
        shm = self.create(32)
        self.assertEqual(_run_process(_attach_and_write, shm.name, b"by name"), 0)
        self.assertEqual(bytes(shm.buf[:7]), b"by name")
        self.assertEqual(_run_process(_write_through_inherited, shm, b"inherit"), 0)
        self.assertEqual(bytes(shm.buf[:7]), b"inherit")
        with Pool(1) as pool:
            # a SharedMemory pickles by name: a pool task attaches to the same block
            self.assertEqual(bounded(pool.apply, _read_block, (shm.name,)), b"inhe")
            self.assertEqual(bounded(pool.apply, _identity, (shm,)).name, shm.name)

    def test_shareable_list(self):
        sl = shared_memory.ShareableList(["text", 7, 2.5, None, True, b"by"])
        self.blocks.append(sl.shm)
        self.assertEqual(list(sl), ["text", 7, 2.5, None, True, b"by"])
        self.assertEqual(len(sl), 6)
        self.assertEqual(_run_process(_set_list_item, sl, 1, 99), 0)
        self.assertEqual(sl[1], 99)
        other = shared_memory.ShareableList(name=sl.shm.name)
        self.assertEqual(other[0], "text")
        other[0] = "new"
        self.assertEqual(sl[0], "new")
        self.assertEqual(sl.count(None), 1)
        self.assertEqual(sl.index(2.5), 2)
        with self.assertRaises(IndexError):
            sl[6]
        with self.assertRaises(ValueError):
            sl[0] = "a string too long for its slot"
        other.shm.close()


if __name__ == "__main__":
    unittest.main()
