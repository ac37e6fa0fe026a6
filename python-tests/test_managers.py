"""Conformance tests for multiprocessing managers: Manager(), SyncManager and its proxy
types, BaseManager.register.

They pass on CPython (fork) and on polypool, where the manager's server runs in a process
context of its own and proxies reach it from any context.
"""

import multiprocessing
import queue
import threading
import unittest
from multiprocessing import Pool, Process
from multiprocessing.managers import BaseManager, BaseProxy, SyncManager

from hang_guard import bounded

TIMEOUT = 60


def _fill(d, lst, ns):
    d["child"] = 1
    lst.append("from child")
    ns.seen = True


def _put_to(q, event, items):
    for item in items:
        q.put(item)
    event.set()


def _store(d, key):
    d[key] = key * key
    return key


def _append_under_lock(lst, lock, n):
    for i in range(n):
        with lock:
            lst.append(i)


def _bump(value, lock):
    with lock:
        value.value += 1


class Counter:
    def __init__(self, start=0):
        self.count = start

    def increment(self, by=1):
        self.count += by
        return self.count

    def get(self):
        return self.count

    def fail(self):
        raise ZeroDivisionError("counter failed")


class CounterManager(BaseManager):
    pass


CounterManager.register("Counter", Counter)


class SyncManagerTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.manager = multiprocessing.Manager()

    @classmethod
    def tearDownClass(cls):
        cls.manager.shutdown()

    def test_dict_and_list_are_proxies_returning_copies(self):
        d = self.manager.dict({"a": 1})
        d["b"] = [1]
        self.assertIsInstance(d, BaseProxy)
        self.assertEqual(d["a"], 1)
        self.assertEqual(len(d), 2)
        self.assertEqual(sorted(d.keys()), ["a", "b"])
        d["b"].append(2)  # appends to a copy: the stored list is unchanged, as in CPython
        self.assertEqual(d["b"], [1])
        self.assertEqual(d.copy(), {"a": 1, "b": [1]})
        self.assertEqual(d.get("missing", 5), 5)
        self.assertIn("a", d)
        lst = self.manager.list(range(3))
        lst.append(3)
        lst.extend([4, 5])
        self.assertEqual(lst[1:3], [1, 2])
        self.assertEqual(list(lst), [0, 1, 2, 3, 4, 5])
        lst[0] = 10
        self.assertEqual(lst.pop(), 5)
        self.assertEqual(lst[:], [10, 1, 2, 3, 4])
        self.assertEqual(str(lst), str([10, 1, 2, 3, 4]))

    def test_errors_are_raised_in_the_caller(self):
        d = self.manager.dict()
        with self.assertRaises(KeyError):
            d["missing"]
        lst = self.manager.list()
        with self.assertRaises(IndexError):
            lst.pop()
        with self.assertRaises(ValueError):
            lst.index(7)
        with self.assertRaises(AttributeError):
            lst.no_such_method()

    def test_namespace(self):
        ns = self.manager.Namespace()
        ns.x = 1
        ns.y = "two"
        self.assertEqual((ns.x, ns.y), (1, "two"))
        with self.assertRaises(AttributeError):
            ns.z
        del ns.x
        self.assertFalse(hasattr(ns, "x"))
        self.assertIn("NamespaceProxy object, typeid 'Namespace'", repr(ns))

    def test_proxies_in_a_child_process(self):
        d = self.manager.dict()
        lst = self.manager.list()
        ns = self.manager.Namespace()
        p = Process(target=_fill, args=(d, lst, ns))
        p.start()
        p.join(TIMEOUT)
        self.assertEqual(p.exitcode, 0)
        self.assertEqual(d.copy(), {"child": 1})
        self.assertEqual(lst[:], ["from child"])
        self.assertTrue(ns.seen)

    def test_proxies_as_pool_task_arguments(self):
        d = self.manager.dict()
        with Pool(2) as pool:
            keys = bounded(pool.starmap, _store, [(d, k) for k in range(5)])
        self.assertEqual(keys, list(range(5)))
        self.assertEqual(d.copy(), {k: k * k for k in range(5)})

    def test_queues(self):
        q = self.manager.Queue()
        event = self.manager.Event()
        p = Process(target=_put_to, args=(q, event, [1, "two", (3,)]))
        p.start()
        self.assertTrue(event.wait(TIMEOUT))
        self.assertEqual([q.get(timeout=TIMEOUT) for _ in range(3)], [1, "two", (3,)])
        p.join(TIMEOUT)
        with self.assertRaises(queue.Empty):
            q.get(timeout=0.1)
        bounded_q = self.manager.Queue(1)
        bounded_q.put(1)
        with self.assertRaises(queue.Full):
            bounded_q.put(2, timeout=0.1)
        jq = self.manager.JoinableQueue()
        jq.put("job")
        self.assertEqual(jq.get(), "job")
        jq.task_done()
        jq.join()
        with self.assertRaises(ValueError):
            jq.task_done()

    def test_locks_and_semaphores(self):
        lock = self.manager.Lock()
        self.assertTrue(lock.acquire())
        self.assertFalse(lock.acquire(timeout=0.1))
        self.assertFalse(lock.acquire(False))
        self.assertIsNone(lock.release())
        with self.assertRaisesRegex(RuntimeError, "release unlocked lock"):
            lock.release()  # the server's error, raised again here
        with lock:
            self.assertFalse(lock.acquire(False))
        self.assertTrue(lock.acquire(False))
        lock.release()
        self.assertIn("unlocked", str(lock))
        rlock = self.manager.RLock()
        with rlock:
            with rlock:
                pass
        sem = self.manager.Semaphore(2)
        self.assertTrue(sem.acquire())
        self.assertTrue(sem.acquire())
        self.assertFalse(sem.acquire(timeout=0.1))
        sem.release()
        sem.release()
        bsem = self.manager.BoundedSemaphore(1)
        with self.assertRaises(ValueError):
            bsem.release()
        lst = self.manager.list()
        procs = [Process(target=_append_under_lock, args=(lst, lock, 5)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(TIMEOUT)
        self.assertEqual([p.exitcode for p in procs], [0, 0])
        self.assertEqual(sorted(lst[:]), sorted(list(range(5)) * 2))

    def test_condition_event_barrier(self):
        cond = self.manager.Condition()
        with cond:
            self.assertFalse(cond.wait(0.1))
            cond.notify_all()
        event = self.manager.Event()
        self.assertFalse(event.is_set())
        self.assertFalse(event.wait(0.1))
        event.set()
        self.assertTrue(event.wait(1))
        event.clear()
        self.assertFalse(event.is_set())
        barrier = self.manager.Barrier(2, timeout=TIMEOUT)
        self.assertEqual(barrier.parties, 2)
        t = threading.Thread(target=barrier.wait)
        t.start()
        self.assertIn(barrier.wait(), (0, 1))
        t.join(TIMEOUT)
        barrier.abort()
        self.assertTrue(barrier.broken)
        with self.assertRaises(threading.BrokenBarrierError):
            barrier.wait()

    def test_value_and_array(self):
        value = self.manager.Value("i", 1)
        self.assertEqual(value.value, 1)
        value.value = 5
        self.assertEqual(value.get(), 5)
        lock = self.manager.Lock()
        procs = [Process(target=_bump, args=(value, lock)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(TIMEOUT)
        self.assertEqual(value.value, 7)
        array = self.manager.Array("d", [1.0, 2.0])
        array[0] = 3.5
        self.assertEqual(list(array), [3.5, 2.0])
        self.assertEqual(len(array), 2)

    def test_nested_proxies(self):
        outer = self.manager.list()
        inner = self.manager.dict()
        outer.append(inner)
        inner["k"] = "v"
        self.assertEqual(outer[0]["k"], "v")  # the stored proxy refers to the same dict


class LifecycleTest(unittest.TestCase):

    def test_context_manager_and_states(self):
        with multiprocessing.Manager() as manager:
            self.assertIsInstance(manager, SyncManager)
            d = manager.dict(a=1)
            self.assertEqual(d["a"], 1)
            self.assertIsNotNone(manager.address)
            with self.assertRaisesRegex(multiprocessing.ProcessError, "Already started server"):
                manager.start()
        with self.assertRaisesRegex(multiprocessing.ProcessError, "Manager has shut down"):
            manager.start()

    def test_start_and_shutdown(self):
        manager = SyncManager()
        manager.start()
        lst = manager.list([1, 2])
        self.assertEqual(lst[:], [1, 2])
        manager.shutdown()
        manager.join(TIMEOUT)

    def test_bad_initializer(self):
        with self.assertRaisesRegex(TypeError, "initializer must be a callable"):
            SyncManager().start(initializer=42)

    def test_registered_class(self):
        with CounterManager() as manager:
            counter = manager.Counter(10)
            self.assertEqual(counter.increment(), 11)
            self.assertEqual(counter.increment(by=4), 15)
            self.assertEqual(counter.get(), 15)
            with self.assertRaisesRegex(ZeroDivisionError, "counter failed"):
                counter.fail()
            with self.assertRaises(AttributeError):
                counter.count  # only methods are exposed

    def test_connect_to_a_running_manager(self):
        with CounterManager() as manager:
            counter = manager.Counter(1)
            other = CounterManager(address=manager.address, authkey=manager._authkey)
            other.connect()
            self.assertEqual(counter.get(), 1)
            wrong = CounterManager(address=manager.address, authkey=b"wrong key")
            with self.assertRaises(multiprocessing.AuthenticationError):
                wrong.connect()

    def test_xmlrpclib_serializer(self):
        # every message goes as XML-RPC, from the first client and from a second one
        with CounterManager(serializer="xmlrpclib") as manager:
            counter = manager.Counter(5)
            self.assertEqual(counter.increment(by=2), 7)
            other = CounterManager(address=manager.address, authkey=manager._authkey,
                                   serializer="xmlrpclib")
            other.connect()
            self.assertEqual(counter.get(), 7)


if __name__ == "__main__":
    unittest.main()
