"""What the submitting side of every engine pool shares: starting the Java pool, sending
tasks, and reading outcomes back. Used by ``polypool.pool`` (``multiprocessing.Pool``)
and ``polypool.futures`` (``ProcessPoolExecutor``).
"""

import os
import sys
import types

from polypool import bootstrap, byvalue, codec, snapshot
from polypool._host import host

# task kinds, as polypool.worker applies them
APPLY = 0     # payload (args, kwds): one call
MAP = 1       # payload [x, ...]: [f(x), ...]
STARMAP = 2   # payload [args, ...]: [f(*args), ...]
CALL = 3      # payload x: f(x)
STARCALL = 4  # payload args: f(*args)

# outcome statuses (dev.polypool.engine.WorkerPool)
OK, RAISED, LOST, PLAIN = 0, 1, 2, 3

# how a worker wraps a task's exception: as multiprocessing.pool or concurrent.futures do
POOL_ERRORS = "pool"
FUTURES_ERRORS = "futures"


def function_ref(func):
    """``"module:qualname"`` when unpickling by reference would find ``func``, else None."""
    if not isinstance(func, (types.FunctionType, types.BuiltinFunctionType)):
        return None
    module_name = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not module_name or not qualname or "<" in qualname:
        return None
    obj = sys.modules.get(module_name)
    try:
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        return None
    if obj is not func:
        return None
    if module_name == "__mp_main__":
        module_name = "__main__"
    return f"{module_name}:{qualname}"


def check_may_have_children():
    """CPython's rules: a daemonic process (a pool worker) starts no processes, and a
    spawned child starts none while it still imports the parent's main script."""
    from multiprocessing import process, spawn
    spawn._check_not_importing_main()
    if host is None or process.current_process()._config.get("daemon"):
        raise AssertionError("daemonic processes are not allowed to have children")


def main_origin():
    """Where a spawned child finds the parent's main script: ``("path", file)``,
    ``("name", module)`` for ``-m``, or None (``-c``, stdin, an interactive session), as
    CPython's ``spawn.get_preparation_data`` decides."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if name is not None:
        # CPython never re-runs a package's __main__ (python -m unittest, pip...)
        return None if name == "__main__" or name.endswith(".__main__") else ("name", name)
    file = getattr(main, "__file__", None)
    return ("path", os.path.abspath(file)) if file else None


def forks(start_method):
    return start_method == "fork"


def child_setup(start_method, initializer=None, initargs=(), errors=POOL_ERRORS):
    """What a new worker or process context needs of this one, read by
    ``polypool.worker``: under fork the program's state now and the pool's initializer;
    under spawn and forkserver where to re-import the main script from instead. Call it
    in a ``polypool.connection.inheriting`` block: pipe ends in that state are inherited."""
    main = sys.modules.get("__main__")
    from multiprocessing import process
    # the authkey is inherited as a forked child inherits it: manager proxies sent to
    # workers authenticate with it
    setup = {"start_method": start_method, "sys_path": list(sys.path), "errors": errors,
             "main_file": getattr(main, "__file__", None),
             "authkey": bytes(process.current_process().authkey),
             "parent": (process.current_process().name, os.getpid(), bootstrap.own_sentinel)}
    from multiprocessing import util
    if util._logger is not None:
        # multiprocessing's logger, as CPython carries it over (spawn's preparation data; a
        # forked child inherits it)
        setup["log_level"] = util._logger.getEffectiveLevel()
        setup["log_to_stderr"] = util._log_to_stderr
    init = (initializer, tuple(initargs))
    if forks(start_method):
        setup["main_text"] = snapshot.dumps_main()
        setup["modules"] = snapshot.dumps_modules()
        setup["init"] = snapshot.dumps_inherited(init)
    else:
        setup["main_origin"] = main_origin()
        if start_method == "forkserver":
            setup["preload"] = list(bootstrap.forkserver_preload)
        setup["init"] = byvalue.dumps_spawn(init, inherit=True)
    return codec.dumps(setup)


def template(start_method):
    """What the engine prepares a new worker's context with before the worker starts: under
    forkserver, the modules of ``set_forkserver_preload()`` to import (see
    ``polypool.worker.preload``); None for nothing."""
    if start_method != "forkserver":
        return None
    # '__main__' is re-imported by every forkserver worker anyway (polypool.worker)
    modules = [m for m in bootstrap.forkserver_preload if m != "__main__"]
    if not modules:
        return None
    import json
    return json.dumps({"sys_path": list(sys.path), "modules": modules})


def start_engine(processes, max_tasks, name_prefix, start_method, initializer, initargs, errors):
    """Start a Java WorkerPool whose workers inherit this context's state."""
    from polypool import connection
    check_may_have_children()
    with connection.inheriting(start_method, shared=True) as inherited:
        setup = child_setup(start_method, initializer, initargs, errors)
        engine = host.startPool(processes, max_tasks or 0, name_prefix, setup, template(start_method))
    engine.closeWhenEnded(inherited)
    return engine


_BATCH = 64  # tasks per call to the engine in Sender.submit_all


class Sender:
    """Encodes tasks for one engine: plain values as they are, anything else pickled.

    A function goes by reference when the worker can import it. Otherwise (a lambda, a
    closure, a function of the main script that a spawned worker may not define) its
    pickled value stands in for the reference, ``"!" + text``, which each worker decodes
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
            ref = "!" + (codec.dumps(func) if self._forks else byvalue.dumps_spawn(func))
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
                    batch.add_text(self._encode(ref, func, payload))
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


def outcomes(engine):
    """Yield ``(job, index, status, value)`` for every outcome until the engine ends.

    ``value`` is decoded: the result, the exception, or for LOST the engine's message.
    A result that cannot be unpickled here comes as RAISED with the unpickling error.
    """
    while True:
        batch = engine.takeOutcomes()
        n = len(batch)
        if n == 0:
            return
        for k in range(0, n, 4):
            job, index, status, payload = batch[k], batch[k + 1], batch[k + 2], batch[k + 3]
            if status == OK or status == RAISED:
                try:
                    payload = codec.loads(payload)
                except Exception as e:
                    status, payload = RAISED, e
            elif payload is None:
                payload = None  # Java's null arrives as polyglot.ForeignNone, not None itself
            yield job, index, status, payload
