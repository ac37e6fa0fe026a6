"""``multiprocessing.Pool`` whose workers are GraalPy contexts run by the Java engine.

The pool object lives in the submitting context. It encodes tasks (``codec``), hands them
to its ``dev.polypool.engine.WorkerPool``, and a daemon result-handler thread takes the
outcomes back, decodes them and completes the stdlib's own result objects
(``ApplyResult``, ``MapResult``, ``IMapIterator``...), which therefore behave exactly as in
CPython: ordering, ``get(timeout)``, callbacks, ``successful()``.

Where CPython would hang (a worker dies mid-task, the pool is terminated under a waiting
``get()``), the result fails with ``WorkerLostError`` instead. A callback that raises is
reported through ``threading.excepthook`` and delivery goes on; waiting inside a callback
for a result that is not ready raises ``RuntimeError`` (CPython's result thread dies, or
deadlocks).
"""

import itertools
import queue
import sys
import threading
import warnings

import multiprocessing.pool as mp_pool
from multiprocessing import util
from multiprocessing.pool import (ApplyResult, IMapIterator, IMapUnorderedIterator,
                                  MapResult)

from polypool import progress, tasks
from polypool.tasks import APPLY, CALL, MAP, STARCALL, STARMAP

INIT, RUN, CLOSE, TERMINATE = "INIT", "RUN", "CLOSE", "TERMINATE"


# how long each wait of join() lasts, so that signal handlers run while it waits
_JOIN_SLICE_MS = 100

# iterables that imap may consume in batches (see Pool._feed_in_batches)
_IN_MEMORY = (list, tuple, range)


def _in_this_thread(error):
    """Fixes the frames of ``error``'s traceback while this thread still runs them.

    The feeder hands the consumer an exception raised in its own frames, which keep running.
    GraalPy builds a traceback's frame objects lazily, by finding each frame on the stack of
    the thread that reads ``tb_frame``: read in the consumer, the feeder's frames are not on
    its stack and ``tb_frame`` comes back as a Java null, which ends the whole program with
    ``NullPointerException: Null receiver values are not supported by libraries`` (in
    ``traceback.clear_frames``, which ``unittest``'s ``assertRaises`` calls, say). Reading
    them here, in the thread that runs them, fixes them in the traceback, which stays whole as
    in CPython. The same for the exceptions chained to ``error``."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        tb = error.__traceback__
        while tb is not None:
            tb.tb_frame
            tb = tb.tb_next
        if error.__cause__ is not None:
            _in_this_thread(error.__cause__)
        error = error.__context__


class ThreadPoolResults(queue.SimpleQueue):
    """``multiprocessing.pool.ThreadPool``'s result queue (``_outqueue``): a failed task's
    exception is caught in the stdlib's ``worker`` loop, whose frame keeps running in the
    worker thread, and read in the consumer's. With GraalPy the frame of that loop comes
    back from ``tb_frame`` as a Java null from a worker thread's second failure on (the
    ``NullPointerException`` of ``_in_this_thread``; ``traceback.clear_frames``, which
    ``assertRaises`` calls, ends the program). ``put`` runs in the worker thread, inside
    that loop, so it fixes the frames there before the result goes on."""

    def put(self, item, block=True, timeout=None):
        # items are (job, index, (success, value)) and the None that stops the result thread
        if type(item) is tuple and len(item) == 3 and type(item[2]) is tuple:
            success, value = item[2]
            if not success and isinstance(value, BaseException):
                _in_this_thread(value)
        super().put(item, block, timeout)


def _chunks(result):
    yield from result


def _guarded(callback):
    """``callback`` reporting what it raises, as ``threading.excepthook`` reports a thread's
    uncaught exception, so that its result still completes and delivery goes on (CPython's
    result thread dies instead, and the pool hangs)."""
    if callback is None:
        return None

    def call(value):
        try:
            callback(value)
        except Exception as e:
            # the traceback starts in the callback, as in a thread's own target
            tb = e.__traceback__.tb_next
            threading.excepthook(threading.ExceptHookArgs((type(e), e, tb, threading.current_thread())))
    return call


class _ResultEvent(threading.Event):
    """A result's event, which refuses to be waited for in the thread that would set it
    (``_setter``). ``Pool._watch`` makes the event of a new result one."""

    def wait(self, timeout=None):
        if not self.is_set() and threading.current_thread() is self._setter:
            raise RuntimeError("waiting in a pool callback for a result that is not ready would "
                               "never end: callbacks run in the thread that delivers results")
        return super().wait(timeout)


class WorkerLostError(RuntimeError):
    """A task's worker died before the task finished, or the pool was terminated."""


class Pool(mp_pool.Pool):
    """A process pool on the polypool engine, with CPython 3.12's ``Pool`` API."""

    def __init__(self, processes=None, initializer=None, initargs=(),
                 maxtasksperchild=None, context=None):
        self._state = INIT
        self._engine = None
        self._ctx = context or mp_pool.get_context()
        self._cache = {}
        self._feeder = None
        self._feed_queue = None
        follow = processes is None  # on a cluster: as many workers as it has, joiners too
        if processes is None:
            processes = tasks.default_workers()
        if processes < 1:
            raise ValueError("Number of processes must be at least 1")
        if maxtasksperchild is not None:
            if not isinstance(maxtasksperchild, int) or maxtasksperchild <= 0:
                raise ValueError("maxtasksperchild must be a positive int or None")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._processes = processes
        self._initializer = initializer
        self._initargs = initargs
        self._maxtasksperchild = maxtasksperchild

        prefix = self._ctx.worker_prefix() if hasattr(self._ctx, "worker_prefix") else "ForkPoolWorker"
        self._engine = tasks.start_engine(processes, maxtasksperchild, prefix, self._ctx.get_start_method(),
                                          initializer, initargs, tasks.POOL_ERRORS, follow=follow)
        self._sender = tasks.Sender(self._engine, self._ctx.get_start_method())
        self._state = RUN
        self._result_handler = threading.Thread(
            target=Pool._handle_results, args=(self._engine, self._cache),
            name="polypool-results", daemon=True)
        self._result_handler.start()
        self._terminate = util.Finalize(
            self, Pool._terminate_pool, args=(self._engine,), exitpriority=15)

    # -- submitting ---------------------------------------------------------

    def _check_running(self):
        if self._state != RUN:
            raise ValueError("Pool not running")

    def _watch(self, result):
        # a get() or wait() in a callback runs in the result thread, which alone completes
        # results: waiting there for one that is not ready would wait forever
        # the result's own event changes class: making a second Event (a Condition and its
        # lock) cost ~15 us of GraalPy per apply_async, measured
        event = result._event
        event.__class__ = _ResultEvent
        event._setter = self._result_handler
        return result

    def _submit(self, job, index, kind, func, payload):
        self._sender.submit(job, index, kind, func, payload)

    def apply(self, func, args=(), kwds={}):
        self._check_running()
        return self.apply_async(func, args, kwds).get()

    def apply_async(self, func, args=(), kwds={}, callback=None, error_callback=None):
        self._check_running()
        result = self._watch(ApplyResult(self, _guarded(callback), _guarded(error_callback)))
        try:
            args = tuple(args)
            if len(args) == 1 and not kwds:
                self._submit(result._job, 0, CALL, func, args[0])
            else:
                self._submit(result._job, 0, APPLY, func, (tuple(args), dict(kwds)))
        except Exception as e:
            result._set(0, (False, e))
        return result

    def map(self, func, iterable, chunksize=None):
        return self._map_async(func, iterable, MAP, chunksize).get()

    def starmap(self, func, iterable, chunksize=None):
        return self._map_async(func, iterable, STARMAP, chunksize).get()

    def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        return self._map_async(func, iterable, MAP, chunksize, callback, error_callback)

    def starmap_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        return self._map_async(func, iterable, STARMAP, chunksize, callback, error_callback)

    def _default_chunksize(self, length):
        chunksize, extra = divmod(length, self._processes * 4)
        return chunksize + 1 if extra else chunksize

    def _map_async(self, func, iterable, kind, chunksize=None, callback=None, error_callback=None):
        self._check_running()
        if not hasattr(iterable, "__len__"):
            iterable = list(iterable)
        if chunksize is None:
            chunksize = self._default_chunksize(len(iterable))
        if len(iterable) == 0:
            chunksize = 0
        result = self._watch(MapResult(self, chunksize, len(iterable), _guarded(callback),
                                       error_callback=_guarded(error_callback)))
        progress.track_map(result, "map" if kind == MAP else "starmap", func, len(iterable), chunksize)
        if chunksize == 0:
            return result
        if chunksize == 1:
            # one item per task, sent without a list around it (the result handler adds it back)
            task_kind = CALL if kind == MAP else STARCALL
            payloads = iterable
        else:
            task_kind = kind
            payloads = tasks.chunked(list(iterable), chunksize)
        chunks = len(iterable) // chunksize + bool(len(iterable) % chunksize)
        queued, error = self._sender.submit_all(result._job, task_kind, func, payloads)
        if error is not None:
            # CPython fails every chunk that cannot be sent, and the result completes once
            # every chunk is accounted for: fail the rest without sending them
            for rest in range(queued, chunks):
                result._set(rest, (False, error))
        return result

    def imap(self, func, iterable, chunksize=1):
        return self._imap(IMapIterator, func, iterable, chunksize)

    def imap_unordered(self, func, iterable, chunksize=1):
        return self._imap(IMapUnorderedIterator, func, iterable, chunksize)

    def _imap(self, iterator_class, func, iterable, chunksize):
        self._check_running()
        if chunksize < 1:
            raise ValueError("Chunksize must be 1+, not {0:n}".format(chunksize))
        result = iterator_class(self)
        progress.track_imap(result, "imap" if iterator_class is IMapIterator else "imap_unordered",
                            func, iterable, chunksize)
        self._feed((result, func, iterable, chunksize))
        if chunksize == 1:
            return result
        # a generator over the items in CPython; chain runs in Java on GraalPy, several times
        # faster, and _chunks ends it at the first failed chunk as that generator ends
        return itertools.chain.from_iterable(_chunks(result))

    def _feed(self, work):
        if self._feeder is None:
            self._feed_queue = queue.SimpleQueue()
            self._feeder = threading.Thread(target=self._handle_feed, name="polypool-tasks", daemon=True)
            self._feeder.start()
        self._feed_queue.put(work)

    def _handle_feed(self):
        """Consume lazy ``imap`` inputs in the background, as CPython's task handler does."""
        while True:
            work = self._feed_queue.get()
            if work is None:
                return
            result, func, iterable, chunksize = work
            if type(iterable) in _IN_MEMORY:
                self._feed_in_batches(result, func, iterable, chunksize)
                continue
            index = -1
            try:
                for chunk in tasks.chunked(iterable, chunksize):
                    index += 1
                    if self._state == TERMINATE:
                        return
                    try:
                        if chunksize == 1:
                            self._submit(result._job, index, CALL, func, chunk[0])
                        else:
                            self._submit(result._job, index, MAP, func, chunk)
                    except Exception as e:
                        _in_this_thread(e)
                        result._set(index, (False, e))
            except Exception as e:  # the input iterable raised
                index += 1
                _in_this_thread(e)
                result._set(index, (False, e))
            result._set_length(index + 1)

    def _feed_in_batches(self, result, func, items, chunksize):
        # Items already in memory cannot block the way a generator may (one waiting for
        # earlier results, say), so they can go to the engine many tasks per call.
        if chunksize == 1:
            kind, payloads = CALL, items
        else:
            kind, payloads = MAP, list(tasks.chunked(items, chunksize))
        first = 0
        while first < len(payloads) and self._state != TERMINATE:
            queued, error = self._sender.submit_all(result._job, kind, func, payloads[first:], first)
            first += queued
            if error is not None:
                result._set(first, (False, error))  # as CPython: that task fails, the rest go on
                first += 1
        result._set_length(len(payloads))

    # -- results -------------------------------------------------------------

    @staticmethod
    def _handle_results(engine, cache):
        PLAIN = tasks.PLAIN
        for batch in tasks.outcome_batches(engine):
            for k in range(0, len(batch), 4):
                result = cache.get(batch[k])
                if result is None:
                    continue
                index, status, value = batch[k + 1], batch[k + 2], batch[k + 3]
                if (status == PLAIN and type(result) is MapResult and result._chunksize == 1
                        and result._number_left > 1 and result._success and "_set" not in result.__dict__):
                    # what MapResult._set does with one item that does not complete the
                    # map, without its call, tuple and list: the commonest outcome of tiny
                    # tasks ("_set" in the instance: progress wraps it, and counts)
                    # a Java null arrives as polyglot.ForeignNone, which "is None" yet is
                    # not Python's None
                    result._value[index] = None if value is None else value
                    result._number_left -= 1
                    continue
                status, value = tasks.decode(status, value)
                if status == tasks.LOST:
                    outcome = (False, WorkerLostError(value))
                elif status == tasks.RAISED:
                    outcome = (False, value)
                elif type(result) is MapResult and result._chunksize == 1:
                    outcome = (True, [value])
                else:
                    outcome = (True, value)
                try:
                    result._set(index, outcome)
                except Exception:
                    # a failing callback must not stop the delivery of other results
                    sys.excepthook(*sys.exc_info())
        Pool._fail_pending(cache, "the pool was terminated before the task finished")

    @staticmethod
    def _fail_pending(cache, message):
        for job, result in list(cache.items()):
            try:
                if isinstance(result, MapResult):
                    while job in cache:
                        result._set(0, (False, WorkerLostError(message)))
                elif isinstance(result, IMapIterator):
                    result._set(result._index, (False, WorkerLostError(message)))
                    result._set_length(result._index)
                else:
                    result._set(0, (False, WorkerLostError(message)))
            except Exception:
                cache.pop(job, None)

    # -- life cycle ------------------------------------------------------------

    def close(self):
        util.debug("closing pool")
        if self._state == RUN:
            self._state = CLOSE
            if self._feeder is not None:
                self._feed_queue.put(None)
                self._feeder.join()
            self._engine.close()

    def terminate(self):
        util.debug("terminating pool")
        if self._state == INIT:
            return
        self._state = TERMINATE
        if self._feeder is not None:
            self._feed_queue.put(None)  # wakes a feeder waiting for work; it checks the state
        self._terminate()

    @staticmethod
    def _terminate_pool(engine):
        engine.terminate()

    def join(self):
        util.debug("joining pool")
        if self._state == RUN:
            raise ValueError("Pool is still running")
        elif self._state not in (CLOSE, TERMINATE):
            raise ValueError("In unknown state")
        if self._feeder is not None and self._state == CLOSE:
            self._feeder.join()
        # after terminate() the feeder may be blocked in the program's input iterator (a
        # daemon thread, it stops at its next state check): join() does not wait for it
        while not self._engine.join(_JOIN_SLICE_MS):
            pass  # in slices: a signal handler (Ctrl-C) runs between them
        self._result_handler.join()

    def __enter__(self):
        self._check_running()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.terminate()

    def __reduce__(self):
        raise NotImplementedError(
            "pool objects cannot be passed between processes or pickled")

    def __repr__(self):
        return (f"<{type(self).__module__}.{type(self).__qualname__} "
                f"state={self._state} pool_size={getattr(self, '_processes', None)}>")

    def __del__(self, _warn=warnings.warn, RUN=RUN):
        if getattr(self, "_state", None) == RUN:
            _warn(f"unclosed running multiprocessing pool {self!r}", ResourceWarning, source=self)
