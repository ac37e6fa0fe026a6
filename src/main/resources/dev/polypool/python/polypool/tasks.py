"""What the submitting side of every engine pool shares: starting the Java pool, sending
tasks, and reading outcomes back. Used by ``polypool.pool`` (``multiprocessing.Pool``)
and ``polypool.futures`` (``ProcessPoolExecutor``).
"""

import itertools
import os
import types

from polypool import byvalue, codec
from polypool._host import host
from polypool.childstate import (FUTURES_ERRORS, POOL_ERRORS, check_may_have_children, child_setup,
                                 forks, template)
# for polypool.pool and polypool.futures, which submit tasks of these kinds and read these statuses
from polypool.protocol import APPLY, BY_VALUE, CALL, LOST, MAP, OK, PLAIN, RAISED, STARCALL, STARMAP


def function_ref(func):
    """``"module:qualname"`` when unpickling by reference would find ``func``, else None."""
    if not isinstance(func, (types.FunctionType, types.BuiltinFunctionType)) or not byvalue.findable(func):
        return None
    module_name = func.__module__
    if module_name == "__mp_main__":
        module_name = "__main__"
    return f"{module_name}:{func.__qualname__}"


def chunked(items, size):
    """Consecutive chunks of ``size`` items, the last one maybe shorter: slices of a list,
    tuple or range (a range's chunks pickle small), lists of any other iterable, which is
    read lazily, one chunk at a time."""
    if type(items) in (list, tuple, range):
        return (items[i:i + size] for i in range(0, len(items), size))
    it = iter(items)
    return iter(lambda: list(itertools.islice(it, size)), [])


def default_workers():
    """What a pool with no size gets: every worker of the cluster the program runs on
    (``POLYPOOL_CLUSTER``), else one per processor."""
    from polypool import cluster
    return cluster.workers() or os.cpu_count() or 1


def start_engine(processes, max_tasks, name_prefix, start_method, initializer, initargs, errors,
                 follow=False):
    """Start a Java WorkerPool whose workers inherit this context's state; on a cluster's
    members when the program runs on one, with a worker for each of the cluster's when
    ``follow``."""
    from polypool import cluster, connection
    check_may_have_children()
    with connection.inheriting(start_method, shared=True) as inherited:
        setup = child_setup(start_method, initializer, initargs, errors)
        if cluster.workers() is not None:
            engine = cluster.start_engine(host, processes, follow, max_tasks, name_prefix, setup)
        else:
            engine = host.startPool(processes, max_tasks or 0, name_prefix, setup, template(start_method))
    engine.closeWhenEnded(inherited)
    if initializer is None and start_method == "fork":
        # a worker's start is then invisible to the program: one the pool never needed
        # need not start (a context takes far longer to make than CPython takes to fork).
        # Not under spawn or forkserver, whose workers run the main script's top level.
        engine.startOnlyWhenNeeded()
    return engine


_BATCH = 64  # tasks per call to the engine in Sender.submit_all
_POLL_MS = 100  # the longest wait of the result thread in one call to the engine


class Sender:
    """Encodes tasks for one engine: plain values as they are, anything else pickled.

    A function goes by reference when the worker can import it. Otherwise (a lambda, a
    closure, a function of the main script that a spawned worker may not define) its
    pickled value stands in for the reference, ``BY_VALUE + text``, which each worker decodes
    once. Other callables (bound methods, partials, callable objects) are pickled with
    every task, as CPython does.
    """

    def __init__(self, engine, start_method="fork"):
        self._engine = engine
        self._forks = forks(start_method)
        self._refs = {}

    def _ref(self, func):
        try:
            return self._refs[func]
        except (KeyError, TypeError):
            pass
        ref = function_ref(func)
        if ref is not None and not self._forks and ref.startswith("__main__:"):
            ref = None
        if ref is None and isinstance(func, types.FunctionType):
            ref = BY_VALUE + (codec.dumps(func) if self._forks else byvalue.dumps_spawn(func))
        if ref is not None:
            self._refs[func] = ref
        return ref

    def submit(self, job, index, kind, func, payload):
        """Queue one task; raises what pickling raises for a payload that cannot be sent."""
        ref = self._ref(func)
        if ref is not None and kind == CALL and codec.is_plain(payload):
            self._engine.submit(job, index, kind, ref, True, payload)
        else:
            self._engine.submit(job, index, kind, ref, False, self._encode(ref, func, payload))

    def _encode(self, ref, func, payload):
        return codec.dumps(payload if ref is not None else (func, payload), read_once=True)

    def submit_all(self, job, kind, func, payloads, first=0):
        """Queue tasks ``first``, ``first + 1``, ... of ``job``, one per payload, in batches:
        each call to the engine releases and re-acquires this context's GIL, a hand-off to
        the result thread that costs more than a small task. Returns ``(queued, error)``:
        how many tasks were queued, and None or what stopped the rest (a payload that
        cannot be pickled, a pool that was closed meanwhile)."""
        batch = _Batch(self._engine, job, first, kind)
        try:
            ref = batch.ref = self._ref(func)
            plain_ok = ref is not None and kind == CALL
            for payload in payloads:
                if plain_ok and type(payload) is int and codec.is_plain(payload):
                    batch.add_long(payload)
                elif plain_ok and codec.is_plain(payload):
                    batch.flush()
                    self._engine.submit(job, batch.next_index, kind, ref, True, payload)
                    batch.next_index += 1
                else:
                    encoded = self._encode(ref, func, payload)
                    if type(encoded) is str:
                        batch.add_text(encoded)
                    else:  # a Blob, alone
                        batch.flush()
                        self._engine.submit(job, batch.next_index, kind, ref, False, encoded)
                        batch.next_index += 1
            batch.flush()
        except Exception as e:
            try:  # the tasks before the one that failed still run, as in CPython
                batch.flush()
            except Exception:
                pass
            return batch.next_index - first, e
        return batch.next_index - first, None


class _Batch:
    """Tasks of one job on their way to the engine: a run of pickled payloads, or of plain
    integers, sent in one call once ``_BATCH`` are gathered or the run ends."""

    def __init__(self, engine, job, first, kind):
        self._engine, self._job, self._kind = engine, job, kind
        self.ref = None
        self.next_index = first  # of the next task to be queued
        self._texts, self._longs = [], []

    def add_text(self, text):
        if self._longs:
            self.flush()
        self._texts.append(text)
        if len(self._texts) == _BATCH:
            self.flush()

    def add_long(self, value):
        if self._texts:
            self.flush()
        self._longs.append(value)
        if len(self._longs) == _BATCH:
            self.flush()

    def flush(self):
        if self._texts:
            ends, end = [], 0
            for text in self._texts:
                end += len(text)
                ends.append(str(end))
            self._engine.submitBatch(self._job, self.next_index, self._kind, self.ref,
                                     "".join(self._texts), ",".join(ends))
            self.next_index += len(self._texts)
            self._texts.clear()
        elif self._longs:
            self._engine.submitLongBatch(self._job, self.next_index, self._kind, self.ref,
                                         ",".join(map(str, self._longs)))
            self.next_index += len(self._longs)
            self._longs.clear()


def outcome_batches(engine):
    """Yield the outcomes as the engine hands them over, until it ends: flattened lists
    ``[job, index, status, payload, job, ...]``, payloads still encoded (``decode``).
    A whole batch at a time, so that a result thread's loop over it costs no generator
    switch per outcome."""
    driver = engine.driver()  # the pool's dev.polypool.engine.OutcomeQueue
    poll = driver.pollOutcomes
    while True:
        # bounded, so that this thread comes back to Python often enough for the handshakes
        # of its context (OutcomeQueue.pollOutcomes says why)
        batch = poll(_POLL_MS)
        if len(batch) == 0:
            if driver.endReached():
                return
            continue
        yield batch


def decode(status, payload):
    """``(status, value)`` of one outcome of a batch: the result, the exception, or for LOST
    the engine's message. A result that cannot be unpickled here comes as RAISED with the
    unpickling error."""
    if status == OK or status == RAISED:
        try:
            return status, codec.loads(payload)
        except Exception as e:
            return RAISED, e
    if payload is None:
        return status, None  # Java's null arrives as polyglot.ForeignNone, not None itself
    return status, payload


def outcomes(engine):
    """Yield ``(job, index, status, value)`` for every outcome until the engine ends, the
    value decoded as ``decode`` does."""
    for batch in outcome_batches(engine):
        for k in range(0, len(batch), 4):
            status, value = decode(batch[k + 2], batch[k + 3])
            yield batch[k], batch[k + 1], status, value
