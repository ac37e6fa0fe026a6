"""``multiprocessing.Queue`` and ``JoinableQueue`` on shared Java queues.

CPython's queues are a pipe plus a feeder thread; contexts share no file descriptors, so
here a queue is one ``dev.polypool.sync.SharedQueue`` that every context holding the queue
refers to. Items are pickled by ``put`` and unpickled by ``get``. An item that cannot be
pickled is handed to ``_on_queue_feeder_error`` (which prints the error) and dropped, as
CPython's feeder thread does, so ``put`` does not raise and the queue goes on. Passing a queue to a ``Process`` or a pool's ``initargs`` shares it; sending one
as a task argument raises CPython's ``RuntimeError``.
"""

import queue as _queue

import polyglot
from multiprocessing import context

from polypool import codec
from polypool.sync import lookup_shared, wait_in_slices

_services = polyglot.import_value("polypool.sync")
_EMPTY = "\x00polypool-empty"  # SharedQueue.EMPTY: no pickle starts with NUL


def _got_item(result):
    return result != _EMPTY


class Queue:
    """A process-shared FIFO with the API of ``multiprocessing.Queue``."""

    def __init__(self, maxsize=0, *, ctx=None):
        if maxsize <= 0:
            maxsize = 2**31 - 1  # CPython: the semaphore maximum
        self._init(_services.newQueue(maxsize), maxsize)

    def _init(self, shared, maxsize):
        self._shared = shared
        self._maxsize = maxsize
        self._closed = False

    def __reduce__(self):
        context.assert_spawning(self)
        return _rebuild, (type(self), self._shared.handle(), self._maxsize)

    def _check_closed(self):
        if self._closed:
            raise ValueError(f"Queue {self!r} is closed")

    def put(self, obj, block=True, timeout=None):
        self._check_closed()
        try:
            item = codec.dumps(obj, read_once=True)
        except Exception as e:
            self._on_queue_feeder_error(e, obj)
            return
        if not wait_in_slices(lambda seconds: self._shared.put(item, seconds), block, timeout, bool):
            raise _queue.Full

    def get(self, block=True, timeout=None):
        self._check_closed()
        item = wait_in_slices(self._shared.get, block, timeout, _got_item)
        if item == _EMPTY:
            raise _queue.Empty
        return codec.loads(item)

    def put_nowait(self, obj):
        return self.put(obj, False)

    def get_nowait(self):
        return self.get(False)

    def qsize(self):
        return self._shared.size()

    def empty(self):
        return self._shared.size() == 0

    def full(self):
        return self._shared.size() >= self._maxsize

    def close(self):
        self._closed = True

    def join_thread(self):
        # no feeder thread: what was put is already in the shared queue
        assert self._closed, f"Queue {self!r} not closed"

    def cancel_join_thread(self):
        pass

    @staticmethod
    def _on_queue_feeder_error(e, obj):
        """CPython's hook for an item that could not be pickled; subclasses override it."""
        import traceback
        traceback.print_exc()


class JoinableQueue(Queue):
    """A ``Queue`` whose consumers mark items done, with the API of ``multiprocessing.JoinableQueue``."""

    def task_done(self):
        if not self._shared.taskDone():
            raise ValueError("task_done() called too many times")

    def join(self):
        wait_in_slices(self._shared.join, True, None, bool)


def _rebuild(cls, handle, maxsize):
    shared = lookup_shared(_services.lookupQueue, handle, "queue")
    obj = cls.__new__(cls)
    obj._init(shared, maxsize)
    return obj
