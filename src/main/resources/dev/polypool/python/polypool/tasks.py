"""What the submitting side of every engine pool shares: starting the Java pool, sending
tasks, and reading outcomes back. Used by ``polypool.pool`` (``multiprocessing.Pool``)
and ``polypool.futures`` (``ProcessPoolExecutor``).
"""

import os
import sys
import types

from polypool import bootstrap, codec
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
    """CPython's rule: a daemonic process (a pool worker) starts no processes."""
    from multiprocessing import process
    if host is None or process.current_process()._config.get("daemon"):
        raise AssertionError("daemonic processes are not allowed to have children")


def child_setup(start_method, initializer=None, initargs=(), errors=POOL_ERRORS):
    """What a new worker or process context needs of this one: the program's state now
    (fork semantics), and the pool's initializer; read by ``polypool.worker``. Call it in
    a ``polypool.connection.inheriting`` block: pipe ends in that state are inherited."""
    from multiprocessing import process
    main_text = codec.dumps_main()
    main = sys.modules.get("__main__")
    parent = (process.current_process().name, os.getpid(), bootstrap.own_sentinel)
    return codec.dumps((
        start_method, list(sys.path), getattr(main, "__file__", None), main_text,
        codec.dumps_modules(), codec.dumps_inherited((initializer, tuple(initargs))), errors, parent))


def start_engine(processes, max_tasks, name_prefix, start_method, initializer, initargs, errors):
    """Start a Java WorkerPool whose workers inherit this context's state."""
    from polypool import connection
    check_may_have_children()
    with connection.inheriting(start_method, shared=True) as inherited:
        setup = child_setup(start_method, initializer, initargs, errors)
        engine = host.startPool(processes, max_tasks or 0, name_prefix, setup)
    engine.closeWhenEnded(inherited)
    return engine


class Sender:
    """Encodes tasks for one engine: plain values as they are, anything else pickled;
    functions by reference when the worker can import them, else pickled with the task."""

    def __init__(self, engine):
        self._engine = engine
        self._refs = {}

    def _ref(self, func):
        try:
            return self._refs[func]
        except (KeyError, TypeError):
            ref = function_ref(func)
            try:
                self._refs[func] = ref
            except TypeError:
                pass
            return ref

    def submit(self, job, index, kind, func, payload):
        """Queue one task; raises what pickling raises for a payload that cannot be sent."""
        ref = self._ref(func)
        if ref is None and "<locals>" in getattr(func, "__qualname__", ""):
            # CPython's pickle refuses nested functions by reference, in these words
            raise AttributeError(f"Can't pickle local object {func.__qualname__!r}")
        if ref is not None and (kind == CALL) and codec.is_plain(payload):
            self._engine.submit(job, index, kind, ref, True, payload)
        else:
            text = codec.dumps(payload if ref is not None else (func, payload))
            self._engine.submit(job, index, kind, ref, False, text)


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
            yield job, index, status, payload
