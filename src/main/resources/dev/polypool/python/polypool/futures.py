"""``concurrent.futures.ProcessPoolExecutor`` whose workers are GraalPy contexts.

Like ``polypool.pool``, the executor lives in the submitting context and runs its tasks on
a Java ``WorkerPool``; a daemon thread completes the futures from the engine's outcomes.
Semantics are CPython 3.12's: a future can be cancelled until a worker takes its task; a
worker that dies (the task called ``os._exit``) or an initializer that raises breaks the
executor, failing pending and later futures with ``BrokenProcessPool``; a task's
``SystemExit`` (``sys.exit(3)``) is its future's exception and the executor goes on.
Workers are not daemonic: a task may start a pool. ``shutdown`` with
``cancel_futures=True`` waits ``SHUTDOWN_GRACE`` seconds for the running tasks, as CPython
waits for them, then stops those still running (their futures raise ``CancelledError``)
where CPython would wait forever.

As with CPython's fork start method, the workers start at the first ``submit`` and see
the program's state as it is then (functions defined after the executor was created
included).
"""

import itertools
import sys
import threading
import time
import weakref
from concurrent.futures import _base
from concurrent.futures.process import BrokenProcessPool

import multiprocessing as mp

from polypool import progress, tasks

_WORKER_PREFIX = {"fork": "ForkProcess", "spawn": "SpawnProcess", "forkserver": "ForkServerProcess"}
_BROKEN_MESSAGE = ("A process in the process pool was terminated abruptly while the "
                   "future was running or pending.")
_UNUSABLE_MESSAGE = "A child process terminated abruptly, the process pool is not usable anymore"

# how long shutdown(cancel_futures=True) lets running tasks finish before it stops them
SHUTDOWN_GRACE = 5.0
_STOPPED_MESSAGE = ("the task was still running %s s after shutdown(cancel_futures=True), "
                    "which stopped its worker" % SHUTDOWN_GRACE)
# how long each wait of shutdown() lasts, so that signal handlers run while it waits
_JOIN_SLICE_MS = 100

_jobs = itertools.count()
_executors = weakref.WeakSet()
_global_shutdown = False


class _EngineFuture(_base.Future):
    """A future whose task may still wait in the engine's queue."""

    def __init__(self, engine, job):
        super().__init__()
        self._engine = engine
        self._job = job

    def _mark_running_if_taken(self):
        # holds self._condition
        if self._state == _base.PENDING and not self._engine.isQueued(self._job):
            self._state = _base.RUNNING

    def running(self):
        with self._condition:
            self._mark_running_if_taken()
            return self._state == _base.RUNNING

    def cancel(self):
        with self._condition:
            if self._state == _base.PENDING and not self._engine.withdraw(self._job):
                self._state = _base.RUNNING
        if not super().cancel():
            return False
        # the task will never run: tell waiters now, as CPython's executor does when it
        # reaches a cancelled work item
        if self._state == _base.CANCELLED:
            self.set_running_or_notify_cancel()
        return True


class ProcessPoolExecutor(_base.Executor):
    """An executor running calls in worker contexts of the polypool engine."""

    def __init__(self, max_workers=None, mp_context=None, initializer=None, initargs=(), *,
                 max_tasks_per_child=None):
        self._follow = max_workers is None  # on a cluster: as many workers as it has
        if max_workers is None:
            max_workers = tasks.default_workers()
        elif max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if mp_context is None:
            # as CPython 3.12: a worker limit implies spawn, which fork cannot honour there
            mp_context = mp.get_context("spawn" if max_tasks_per_child is not None else None)
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if max_tasks_per_child is not None:
            if not isinstance(max_tasks_per_child, int):
                raise TypeError("max_tasks_per_child must be an integer")
            if max_tasks_per_child <= 0:
                raise ValueError("max_tasks_per_child must be >= 1")
            if mp_context.get_start_method(allow_none=False) == "fork":
                raise ValueError("max_tasks_per_child is incompatible with the 'fork' "
                                 "multiprocessing start method; supply a different mp_context.")
        self._max_workers = max_workers
        self._mp_context = mp_context
        self._shutdown_lock = threading.Lock()
        self._shutdown_thread = False
        self._broken = False
        self._pending = {}
        self._max_tasks_per_child = max_tasks_per_child
        self._initializer = initializer
        self._initargs = initargs
        self._engine = None
        _executors.add(self)

    def _start_engine(self):
        # holds self._shutdown_lock; the workers inherit the state of this moment
        method = self._mp_context.get_start_method()
        self._engine = tasks.start_engine(
            self._max_workers, self._max_tasks_per_child, _WORKER_PREFIX.get(method, "ForkProcess"),
            method, self._initializer, self._initargs, tasks.FUTURES_ERRORS, follow=self._follow)
        self._sender = tasks.Sender(self._engine, method)
        self._results = threading.Thread(
            target=ProcessPoolExecutor._handle_results,
            args=(weakref.ref(self), self._engine, self._pending, self._shutdown_lock),
            name="polypool-futures", daemon=True)
        self._results.start()

    def _check_open(self):
        # holds self._shutdown_lock
        if self._broken:
            raise BrokenProcessPool(self._broken)
        if self._shutdown_thread:
            raise RuntimeError("cannot schedule new futures after shutdown")
        if _global_shutdown:
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    def _submit(self, kind, fn, payload):
        with self._shutdown_lock:
            self._check_open()
            if self._engine is None:
                self._start_engine()
            job = next(_jobs)
            future = _EngineFuture(self._engine, job)
            self._pending[job] = future
            try:
                self._sender.submit(job, 0, kind, fn, payload)
            except Exception as e:
                # what cannot be pickled fails its own future; the executor stays usable
                del self._pending[job]
                future.set_exception(e)
            return future

    def submit(self, fn, /, *args, **kwargs):
        if kwargs:
            return self._submit(tasks.APPLY, fn, (args, kwargs))
        if len(args) == 1:
            # the argument alone: a plain one then crosses unpickled (tasks.Sender)
            return self._submit(tasks.CALL, fn, args[0])
        return self._submit(tasks.STARCALL, fn, args)

    submit.__doc__ = _base.Executor.submit.__doc__

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        """Like ``map(fn, *iterables)`` with the calls made in the pool; results in order.

        Raises ``TimeoutError`` if a result is not ready ``timeout`` seconds after the call
        to ``map``, and the exception of the first call that raised, when reached.
        """
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        end_time = None if timeout is None else timeout + time.monotonic()
        args = progress.counted(zip(*iterables))
        if chunksize == 1 and len(iterables) == 1:
            fs = [self._submit(tasks.CALL, fn, a[0]) for a in args]
        elif chunksize == 1:
            fs = [self._submit(tasks.STARCALL, fn, a) for a in args]
        else:
            fs = [self._submit(tasks.STARMAP, fn, batch) for batch in tasks.chunked(args, chunksize)]

        def result_iterator():
            try:
                fs.reverse()
                while fs:
                    future = fs.pop()
                    if end_time is None:
                        value = _base._result_or_cancel(future)
                    else:
                        value = _base._result_or_cancel(future, end_time - time.monotonic())
                    if chunksize == 1:
                        yield value
                    else:
                        yield from value
            finally:
                for future in fs:
                    future.cancel()
        return progress.track_futures(fs, args, fn, chunksize, result_iterator())

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._shutdown_lock:
            self._shutdown_thread = True
            if self._engine is None:
                return
            running = []
            if cancel_futures:
                for job, future in list(self._pending.items()):
                    if future.cancel():
                        self._pending.pop(job, None)
                    else:
                        running.append(future)
            self._engine.close()
        if running:
            if wait:
                self._stop_after_grace(running)
            else:
                threading.Thread(target=self._stop_after_grace, args=(running,),
                                 name="polypool-shutdown", daemon=True).start()
        if wait:
            while not self._engine.join(_JOIN_SLICE_MS):
                pass  # in slices: a signal handler (Ctrl-C) runs between them
            self._results.join()

    shutdown.__doc__ = _base.Executor.shutdown.__doc__

    def _stop_after_grace(self, running):
        # CPython's shutdown waits for running tasks, forever for one blocked for good: here
        # they have SHUTDOWN_GRACE seconds, then their workers are stopped wherever they wait
        _base.wait(running, timeout=SHUTDOWN_GRACE)
        late = [f for f in running if not f.done()]
        if late:
            for future in late:
                _complete(future, _base.CancelledError(_STOPPED_MESSAGE))
            self._engine.terminate()

    @staticmethod
    def _handle_results(executor_ref, engine, pending, lock):
        for job, _index, status, value in tasks.outcomes(engine):
            with lock:
                future = pending.pop(job, None)
            if future is None:
                continue
            if status == tasks.LOST:
                ProcessPoolExecutor._break(executor_ref, engine, pending, lock, value)
                _complete(future, _broken_error(value))
            elif status == tasks.RAISED:
                _complete(future, value)
            else:
                _complete(future, None, value)
        # the engine ended (shut down or broken): nothing left can complete
        with lock:
            leftovers = list(pending.values())
            pending.clear()
        for future in leftovers:
            _complete(future, _broken_error("the executor's workers are gone"))

    @staticmethod
    def _break(executor_ref, engine, pending, lock, reason):
        """A worker died: the executor is broken, as CPython's is after losing a process."""
        executor = executor_ref()
        with lock:
            if executor is not None:
                if executor._broken:
                    return
                executor._broken = _UNUSABLE_MESSAGE
            others = list(pending.values())
            pending.clear()
        for future in others:
            _complete(future, _broken_error(reason))
        threading.Thread(target=engine.terminate, name="polypool-terminate", daemon=True).start()


def _complete(future, error, result=None):
    """Finish ``future`` unless it already is (cancelled meanwhile)."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except _base.InvalidStateError:
        pass


def _broken_error(reason):
    error = BrokenProcessPool(_BROKEN_MESSAGE)
    error.__cause__ = _base.Error(reason)
    return error


def _python_exit():
    # as CPython: at exit, submitted work still runs to completion
    global _global_shutdown
    _global_shutdown = True
    for executor in list(_executors):
        executor.shutdown(wait=True)


threading._register_atexit(_python_exit)


def _install():
    # by sys.modules: the package's attribute is bound only once this import completes
    sys.modules["concurrent.futures.process"].ProcessPoolExecutor = ProcessPoolExecutor
    sys.modules["concurrent.futures"].ProcessPoolExecutor = ProcessPoolExecutor


_install()
