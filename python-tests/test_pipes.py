"""Conformance tests for multiprocessing.Pipe, Connection, connection.wait, Process.sentinel,
parent_process() and SimpleQueue.

They pass on CPython (fork) and on polypool, where each process is a context of its own and
a pipe is a Java object shared by the contexts holding its ends. Blocking receives are
preceded by poll(TIMEOUT), so that a missing message fails a test instead of hanging it.
"""

import array
import multiprocessing
import os
import pickle
import re
import socket
import threading
import unittest
from multiprocessing import Pipe, Pool, Process, Queue, SimpleQueue, parent_process
from multiprocessing.connection import wait

from hang_guard import bounded

TIMEOUT = 60


def received(conn, timeout=TIMEOUT):
    """The next object on conn; fails instead of blocking forever."""
    if not conn.poll(timeout):
        raise AssertionError("nothing arrived within %s s" % timeout)
    return conn.recv()


# ---- process targets

def echo_large(conn):
    # a large message both ways: bytes back reversed, an object back with a mark
    data = conn.recv_bytes()
    conn.send_bytes(data[::-1])
    obj = conn.recv()
    conn.send((obj, "echoed"))
    conn.close()


def echo_twice(conn):
    parent = parent_process()
    conn.send(("hello", os.getpid(), parent.name, parent.pid, parent.is_alive(),
               isinstance(parent.sentinel, int)))
    message = conn.recv()
    conn.send_bytes(message * 2)


def send_and_exit(conn, count):
    for i in range(count):
        conn.send(i)
    # exits without closing conn: the end closes with the process


def spin_holding(conn):
    conn.send("ready")
    while True:
        pass


def count_until_eof(reader, writer, results):
    writer.close()  # the child's copy of the writer, as fork inherits it
    n = 0
    try:
        while True:
            n += reader.recv()
    except EOFError:
        results.put(("eof", n))


def poll_inherited_reader(reader, results):
    results.put(reader.poll(0.5))


def do_nothing():
    pass


def wait_for_word(conn):
    word = conn.recv()
    conn.send(word.upper())


def produce(queue, count):
    for i in range(count):
        queue.put((i, "item"))


def consume_simple(queue, results):
    results.put(queue.get())


_pool_conn = None


def keep_conn(conn):
    global _pool_conn
    _pool_conn = conn


def send_through_kept(x):
    _pool_conn.send((x, os.getpid()))
    return x


def send_through_arg(conn, x):
    conn.send(x)
    return x


class ConnectionTest(unittest.TestCase):
    """One context: the API and its errors, as CPython's."""

    def setUp(self):
        self.a, self.b = Pipe()

    def tearDown(self):
        self.a.close()
        self.b.close()

    def test_objects_both_ways(self):
        self.a.send({"k": [1, 2.5, "x"]})
        self.b.send(None)
        self.a.send(b"")
        self.assertEqual(received(self.b), {"k": [1, 2.5, "x"]})
        self.assertEqual(received(self.b), b"")
        self.assertIsNone(received(self.a))
        self.assertTrue(self.a.readable and self.a.writable)

    def test_send_bytes_offset_and_size(self):
        self.a.send_bytes(b"abcdef", 1, 3)
        self.a.send_bytes(bytearray(b"xyz"), 2)
        self.a.send_bytes(b"\x00\xff" * 3)
        self.a.send_bytes(array.array("i", [1, 2]))
        self.assertEqual(self.b.recv_bytes(), b"bcd")
        self.assertEqual(self.b.recv_bytes(), b"z")
        self.assertEqual(self.b.recv_bytes(), b"\x00\xff" * 3)
        self.assertEqual(self.b.recv_bytes(), array.array("i", [1, 2]).tobytes())
        for args, message in [((b"abc", 4), "buffer length < offset"),
                              ((b"abc", -1), "offset is negative"),
                              ((b"abc", 1, 3), "buffer length < offset + size"),
                              ((b"abc", 1, -1), "size is negative")]:
            with self.assertRaisesRegex(ValueError, re.escape(message)):
                self.a.send_bytes(*args)
        with self.assertRaises(TypeError):
            self.a.send_bytes("text")
        self.assertFalse(self.b.poll(0.05), "a refused send_bytes sent nothing")

    def test_bad_message_length(self):
        self.a.send_bytes(b"hello world")
        with self.assertRaisesRegex(ValueError, "negative maxlength"):
            self.b.recv_bytes(-1)
        with self.assertRaisesRegex(OSError, "bad message length"):
            self.b.recv_bytes(3)
        # a duplex connection stops reading but stays open for writing
        self.assertFalse(self.b.closed)
        self.assertFalse(self.b.readable)
        with self.assertRaisesRegex(OSError, "connection is write-only"):
            self.b.recv()
        self.b.send("still writable")
        self.assertEqual(received(self.a), "still writable")
        # a read-only connection closes
        r, w = Pipe(duplex=False)
        w.send_bytes(b"too long")
        with self.assertRaisesRegex(OSError, "bad message length"):
            r.recv_bytes(2)
        self.assertTrue(r.closed)
        w.close()

    def test_recv_bytes_into(self):
        buf = bytearray(6)
        self.a.send_bytes(b"ab")
        self.assertEqual(self.b.recv_bytes_into(buf, 2), 2)
        self.assertEqual(buf, bytearray(b"\x00\x00ab\x00\x00"))
        ints = array.array("i", [0, 0, 0, 0])
        self.a.send_bytes(array.array("i", [7, 8]))
        self.assertEqual(self.b.recv_bytes_into(ints, ints.itemsize), 2 * ints.itemsize)
        self.assertEqual(ints.tolist(), [0, 7, 8, 0])
        with self.assertRaisesRegex(ValueError, "negative offset"):
            self.b.recv_bytes_into(buf, -1)
        with self.assertRaisesRegex(ValueError, "offset too large"):
            self.b.recv_bytes_into(buf, 7)
        self.a.send_bytes(b"0123456789")
        with self.assertRaises(multiprocessing.BufferTooShort) as cm:
            self.b.recv_bytes_into(buf)
        self.assertEqual(cm.exception.args[0], b"0123456789")
        self.assertFalse(self.b.poll(), "the message was consumed")

    def test_poll(self):
        self.assertFalse(self.b.poll())
        self.assertFalse(self.b.poll(0.05))
        self.assertFalse(self.b.poll(-1))
        self.a.send(1)
        self.assertTrue(self.b.poll())
        self.assertTrue(self.b.poll(None))
        self.assertEqual(self.b.recv(), 1)

    def test_one_way_pipe(self):
        r, w = Pipe(duplex=False)
        self.assertEqual((r.readable, r.writable, w.readable, w.writable), (True, False, False, True))
        with self.assertRaisesRegex(OSError, "connection is read-only"):
            r.send(1)
        with self.assertRaisesRegex(OSError, "connection is read-only"):
            r.send_bytes(b"x")
        with self.assertRaisesRegex(OSError, "connection is write-only"):
            w.recv()
        with self.assertRaisesRegex(OSError, "connection is write-only"):
            w.recv_bytes()
        with self.assertRaisesRegex(OSError, "connection is write-only"):
            w.poll()
        w.send([1])
        self.assertEqual(received(r), [1])
        r.close()
        w.close()

    def test_closed_handle(self):
        with self.a as same:
            self.assertIs(same, self.a)
        self.assertTrue(self.a.closed)
        self.a.close()  # idempotent
        for call in (lambda: self.a.send(1), lambda: self.a.recv(), lambda: self.a.poll(),
                     lambda: self.a.fileno(), lambda: self.a.send_bytes(b"x"),
                     lambda: self.a.recv_bytes()):
            with self.assertRaisesRegex(OSError, "handle is closed"):
                call()

    def test_eof_after_drain_and_broken_pipe(self):
        self.a.send("last")
        self.a.close()
        self.assertTrue(self.b.poll(), "end of file makes the connection readable")
        self.assertEqual(self.b.recv(), "last")
        with self.assertRaises(EOFError):
            self.b.recv()
        with self.assertRaises(EOFError):
            self.b.recv_bytes()
        with self.assertRaises(BrokenPipeError):
            self.b.send(1)
        self.assertEqual(wait([self.b], 0), [self.b])

    def test_unpicklable_send_sends_nothing(self):
        with self.assertRaises((AttributeError, pickle.PicklingError, TypeError)):
            self.a.send(lambda: 1)
        self.assertFalse(self.b.poll(0.05))
        self.a.send("next")
        self.assertEqual(received(self.b), "next")

    def test_fileno(self):
        fds = {self.a.fileno(), self.b.fileno()}
        self.assertEqual(len(fds), 2)
        self.assertTrue(all(isinstance(fd, int) and fd >= 0 for fd in fds))

    def test_wait_on_connections(self):
        c, d = Pipe()
        self.assertEqual(wait([self.a, self.b, c, d], 0.05), [])
        self.a.send(1)
        d.send(2)
        self.assertEqual(set(wait([self.a, self.b, c, d], TIMEOUT)), {self.b, c})

        class Wrapper:
            def __init__(self, conn):
                self.conn = conn

            def fileno(self):
                return self.conn.fileno()

        wrapped = Wrapper(self.b)
        self.assertEqual(wait([wrapped, d], 0), [wrapped])
        self.assertEqual(wait([self.b.fileno()], 0), [self.b.fileno()])
        with self.assertRaisesRegex(KeyError, "already registered"):
            wait([c, c], 0)
        with self.assertRaisesRegex(ValueError, "Invalid file object"):
            wait([object()], 0)
        with self.assertRaisesRegex(ValueError, "Invalid file descriptor: -1"):
            wait([-1], 0)
        self.assertEqual(wait([], 0), [])
        c.close()
        with self.assertRaisesRegex(OSError, "handle is closed"):
            wait([c], 0)
        d.close()

    def test_wait_on_connections_and_real_descriptors(self):
        s1, s2 = socket.socketpair()
        r, w = os.pipe()
        try:
            self.assertEqual(wait([self.b, s1, r], 0.05), [])
            s2.send(b"x")
            self.assertEqual(wait([self.b, s1, r], TIMEOUT), [s1])
            self.a.send(1)
            os.write(w, b"y")
            self.assertEqual(set(wait([self.b, s1, r], TIMEOUT)), {self.b, s1, r})
        finally:
            for closing in (s1.close, s2.close, lambda: os.close(r), lambda: os.close(w)):
                closing()


class ProcessPipeTest(unittest.TestCase):
    """Pipes between processes, EOF when the last holder of an end is gone, sentinels."""

    def test_round_trip_with_a_child(self):
        a, b = Pipe()
        p = Process(target=echo_twice, args=(b,))
        p.start()
        hello, pid, parent_name, parent_pid, parent_alive, sentinel_is_int = received(a)
        self.assertEqual(hello, "hello")
        self.assertEqual(pid, p.pid)
        self.assertNotEqual(pid, os.getpid())
        self.assertEqual((parent_name, parent_pid, parent_alive, sentinel_is_int),
                         ("MainProcess", os.getpid(), True, True))
        a.send(b"ping")
        self.assertTrue(a.poll(TIMEOUT))
        self.assertEqual(a.recv_bytes(), b"pingping")
        p.join(TIMEOUT)
        self.assertEqual(p.exitcode, 0)
        self.assertIsNone(parent_process())

    def test_large_messages_with_a_child(self):
        # larger than what polypool sends as text (1 MiB): it goes through a file
        data = bytes(range(256)) * (12 * 1024)  # 3 MiB
        a, b = Pipe()
        p = Process(target=echo_large, args=(b,))
        p.start()
        b.close()
        a.send_bytes(b"xx" + data + b"yy", 2, len(data))
        self.assertTrue(a.poll(TIMEOUT))
        self.assertEqual(a.recv_bytes(), data[::-1])
        obj = {"blob": bytearray(data), "n": 7}
        a.send(obj)
        self.assertEqual(received(a), (obj, "echoed"))
        p.join(TIMEOUT)
        self.assertEqual(p.exitcode, 0)
        with self.assertRaises(EOFError):
            bounded(a.recv)

    def test_large_message_limits(self):
        data = b"z" * (3 << 20)
        a, b = Pipe()

        def send_meanwhile():
            # CPython's send blocks until the reader has taken what the OS buffer cannot hold
            def send():
                try:
                    a.send_bytes(data)
                except OSError:
                    pass  # the reader gave up on it
            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            return sender

        sender = send_meanwhile()
        buf = bytearray(len(data) + 10)
        self.assertEqual(bounded(b.recv_bytes_into, buf, 10), len(data))
        self.assertEqual(buf[10:], data)
        sender.join(TIMEOUT)
        sender = send_meanwhile()
        with self.assertRaises(multiprocessing.BufferTooShort) as cm:
            bounded(b.recv_bytes_into, bytearray(100))
        self.assertEqual(cm.exception.args[0], data)
        sender.join(TIMEOUT)
        sender = send_meanwhile()
        with self.assertRaisesRegex(OSError, "bad message length"):
            bounded(b.recv_bytes, len(data) - 1)
        b.close()
        sender.join(TIMEOUT)
        a.close()

    def test_eof_once_the_child_holding_the_writer_exits(self):
        r, w = Pipe(duplex=False)
        p = Process(target=send_and_exit, args=(w, 3))
        p.start()
        w.close()  # the parent's copy; the child's closes when it exits
        got = [received(r) for _ in range(3)]
        self.assertEqual(got, [0, 1, 2])
        self.assertTrue(r.poll(TIMEOUT))
        with self.assertRaises(EOFError):
            r.recv()
        p.join(TIMEOUT)
        r.close()

    def test_eof_once_the_child_holding_the_writer_is_terminated(self):
        r, w = Pipe(duplex=False)
        p = Process(target=spin_holding, args=(w,), daemon=True)
        p.start()
        w.close()
        self.assertEqual(received(r), "ready")
        p.terminate()
        p.join(TIMEOUT)
        self.assertEqual(p.exitcode, -15)
        self.assertTrue(r.poll(TIMEOUT))
        with self.assertRaises(EOFError):
            r.recv()

    def test_child_reads_until_eof(self):
        r, w = Pipe(duplex=False)
        results = Queue()
        p = Process(target=count_until_eof, args=(r, w, results))
        p.start()
        r.close()
        for i in range(1, 5):
            w.send(i)
        w.close()
        self.assertEqual(results.get(timeout=TIMEOUT), ("eof", 10))
        p.join(TIMEOUT)
        self.assertEqual(p.exitcode, 0)

    def test_forked_child_inherits_the_ends_it_was_not_given(self):
        # under fork the child also holds the writer, so its reader never reaches EOF
        r, w = Pipe(duplex=False)
        results = Queue()
        p = Process(target=poll_inherited_reader, args=(r, results))
        p.start()
        w.close()
        self.assertIs(results.get(timeout=TIMEOUT), False)
        p.join(TIMEOUT)

    def test_sentinels_and_wait(self):
        quick = Process(target=do_nothing)
        a, b = Pipe()
        slow = Process(target=wait_for_word, args=(b,))
        with self.assertRaisesRegex(ValueError, "process not started"):
            quick.sentinel
        quick.start()
        slow.start()
        self.assertIsInstance(quick.sentinel, int)
        self.assertNotEqual(quick.sentinel, slow.sentinel)
        self.assertEqual(wait([quick.sentinel, slow.sentinel], TIMEOUT), [quick.sentinel])
        self.assertEqual(wait([slow.sentinel, a], 0.1), [])
        a.send("word")
        self.assertIn(a, wait([slow.sentinel, a], TIMEOUT))
        self.assertEqual(a.recv(), "WORD")
        self.assertEqual(wait([slow.sentinel], TIMEOUT), [slow.sentinel])
        for p in (quick, slow):
            p.join(TIMEOUT)
            self.assertEqual(p.exitcode, 0)
        quick.close()
        with self.assertRaisesRegex(ValueError, "process object is closed"):
            quick.sentinel

    def test_simple_queue_between_processes(self):
        q = SimpleQueue()
        self.assertTrue(q.empty())
        producer = Process(target=produce, args=(q, 3))
        producer.start()
        got = [bounded(q.get) for _ in range(3)]
        self.assertEqual(got, [(0, "item"), (1, "item"), (2, "item")])
        producer.join(TIMEOUT)
        self.assertTrue(q.empty())
        results = Queue()
        q.put({"to": "child"})
        consumer = Process(target=consume_simple, args=(q, results))
        consumer.start()
        self.assertEqual(results.get(timeout=TIMEOUT), {"to": "child"})
        consumer.join(TIMEOUT)
        q.close()
        with self.assertRaisesRegex(OSError, "handle is closed"):
            q.get()
        with self.assertRaisesRegex(OSError, "handle is closed"):
            q.put(1)


class HandshakeTest(unittest.TestCase):
    """multiprocessing.connection's authentication handshake, by the names of Python 3.11."""

    class Scripted:
        """A connection that receives the given messages in turn and drops what is sent."""

        def __init__(self, *messages):
            self.messages = list(messages)
            self.sent = []

        def recv_bytes(self, maxlength=None):
            return self.messages.pop(0) if self.messages else b""

        def send_bytes(self, data):
            self.sent.append(data)

    def test_markers(self):
        from multiprocessing import connection
        self.assertEqual(connection.CHALLENGE, b"#CHALLENGE#")
        self.assertEqual(connection.WELCOME, b"#WELCOME#")
        self.assertEqual(connection.FAILURE, b"#FAILURE#")

    def test_answer_challenge_rejected(self):
        from multiprocessing import connection
        # a challenge as Python 3.11 sends it: 20 random bytes, no digest name
        conn = self.Scripted(connection.CHALLENGE + b"x" * 20, b"something bogus")
        with self.assertRaises(multiprocessing.AuthenticationError):
            connection.answer_challenge(conn, b"abc")
        self.assertEqual(len(conn.sent), 1)  # the digest was sent, then the answer refused

    def test_answer_challenge_bare_marker(self):
        from multiprocessing import connection
        with self.assertRaises(multiprocessing.AuthenticationError):
            connection.answer_challenge(self.Scripted(connection.CHALLENGE, b"bogus"), b"abc")

    def test_handshake_between_ends(self):
        from multiprocessing import connection
        a, b = Pipe()
        try:
            thread = threading.Thread(target=connection.deliver_challenge, args=(a, b"key"))
            thread.start()
            connection.answer_challenge(b, b"key")
            thread.join(TIMEOUT)
            self.assertFalse(thread.is_alive())
        finally:
            a.close()
            b.close()


class PoolPipeTest(unittest.TestCase):

    def test_pipe_in_initargs_and_as_a_task_argument(self):
        r, w = Pipe(duplex=False)
        with Pool(2, initializer=keep_conn, initargs=(w,)) as pool:
            self.assertEqual(bounded(pool.map, send_through_kept, range(4)), [0, 1, 2, 3])
            got = sorted(received(r)[0] for _ in range(4))
            self.assertEqual(got, [0, 1, 2, 3])
            a, b = Pipe()
            self.assertEqual(pool.apply_async(send_through_arg, (b, "sent by a task")).get(TIMEOUT),
                             "sent by a task")
            self.assertEqual(received(a), "sent by a task")
            pool.terminate()
            bounded(pool.join)
        # the workers' copies closed as they exited: ours is the last writer
        self.assertFalse(r.poll(0.05))
        w.close()
        self.assertTrue(r.poll(TIMEOUT))
        with self.assertRaises(EOFError):
            r.recv()


if __name__ == "__main__":
    unittest.main()
