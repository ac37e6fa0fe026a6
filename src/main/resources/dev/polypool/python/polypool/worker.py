"""A pool worker's side: start-up in a fresh context, and the body of its task loop.

The loop itself is Java's (dev.polypool.engine.Worker): it takes a task, calls the function
``start`` returned, and sends the text it gets back to the parent.
"""

import importlib
import sys
import traceback
import types

from polypool import bootstrap, codec
from polypool.tasks import APPLY, CALL, FUTURES_ERRORS, MAP, STARCALL, STARMAP

_functions = {}
_errors = None  # tasks.POOL_ERRORS or tasks.FUTURES_ERRORS, set by start()


def _resolve(ref):
    """Look up a ``module:qualname`` function reference, as unpickling would."""
    func = _functions.get(ref)
    if func is None:
        module_name, qualname = ref.split(":", 1)
        obj = importlib.import_module(module_name)
        try:
            for part in qualname.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            raise AttributeError(f"Can't get attribute {qualname!r} on {sys.modules[module_name]!r}") from None
        func = _functions[ref] = obj
    return func


def _apply(kind, func, payload):
    if kind == MAP:
        return list(map(func, payload))
    if kind == STARMAP:
        return [func(*args) for args in payload]
    if kind == CALL:
        return func(payload)
    if kind == STARCALL:
        return func(*payload)
    args, kwds = payload
    return func(*args, **kwds)


def run(kind, ref, plain, payload):
    """Run one task.

    ``payload`` is the argument itself when ``plain``, else pickled text. Returns a plain
    result as it is (int, float, bool, None), ``'2' + result`` for a str result,
    ``'0' + pickled result`` for any other, and ``'1' + pickled exception`` on failure.
    """
    try:
        if not plain:
            payload = codec.loads(payload)
        if ref is None:
            func, payload = payload
        else:
            func = _resolve(ref)
        result = _apply(kind, func, payload)
    except Exception as e:
        return "1" + _encode_exception(e)
    if codec.is_plain(result):
        return "2" + result if type(result) is str else result
    try:
        return "0" + codec.dumps(result)
    except Exception as e:
        if _errors == FUTURES_ERRORS:
            return "1" + _encode_exception(e)
        from multiprocessing.pool import MaybeEncodingError
        return "1" + _encode_exception(MaybeEncodingError(e, result))


def _encode_exception(exc):
    """The exception with its traceback text, which the parent chains as the cause."""
    if _errors == FUTURES_ERRORS:
        from concurrent.futures.process import _ExceptionWithTraceback as Wrapper
    else:
        from multiprocessing.pool import ExceptionWithTraceback as Wrapper
    try:
        return codec.dumps(Wrapper(exc, exc.__traceback__))
    except Exception as e:
        from multiprocessing.pool import MaybeEncodingError
        return codec.dumps(Wrapper(MaybeEncodingError(e, exc), None))


def _become_child(name, identity, pid, ppid, setup, daemon):
    # identity: the N of a pool worker's name; None for a Process, which brings its own
    """Give this fresh context its identity and the parent's state; returns the setup's
    initializer and its arguments, still encoded."""
    global _errors
    start_method, sys_path, main_file, main_text, module_states, init_text, _errors = codec.loads(setup)
    bootstrap.install_worker(name, identity, pid, ppid, start_method, daemon)
    sys.path[:] = sys_path
    codec.restore_modules(module_states)
    main = types.ModuleType("__main__")
    if main_file is not None:
        main.__file__ = main_file
    sys.modules["__main__"] = main
    sys.modules["__mp_main__"] = main
    codec.load_main(main_text, main)
    return init_text


def start(name, identity, pid, ppid, setup):
    """Make this fresh context a pool worker of the parent that sent ``setup``.

    Gives the context its process identity, rebuilds the parent's ``__main__`` as it was
    when the pool started, and runs the pool's initializer. Returns ``run``. An initializer
    that raises is reported on stderr as CPython reports a failed worker, and re-raised.
    A ``setup`` that is not text comes from Java's embedding API (``polypool.embed``).
    """
    if not isinstance(setup, str):
        from polypool import embed
        return embed.start(name, identity, pid, ppid, setup)
    init_text = _become_child(name, identity, pid, ppid, setup, daemon=True)
    try:
        initializer, initargs = codec.loads(init_text)
        if initializer is not None:
            initializer(*initargs)
    except BaseException:
        # what CPython's pool worker and executor worker each print before exiting
        header = "Exception in initializer:" if _errors == FUTURES_ERRORS else f"Process {name}:"
        sys.stderr.write(header + "\n")
        traceback.print_exc()
        sys.stderr.flush()
        raise
    return run


def run_process(name, pid, ppid, setup, process_text):
    """Run a ``multiprocessing.Process`` sent by the parent; returns its exit code.

    The process object's own ``_bootstrap`` runs it, as in a CPython child: it becomes
    ``current_process()``, runs ``run()``, reports an uncaught exception and finalises.
    """
    _become_child(name, None, pid, ppid, setup, daemon=False)
    process = codec.loads(process_text)
    # _bootstrap ends by joining the non-daemon threads, through their locks in this set;
    # the context was prepared on another Java thread, whose entry here is stale: only
    # threads the process itself starts from now on are to be waited for
    import threading
    with threading._shutdown_locks_lock:
        threading._shutdown_locks.clear()
    return process._bootstrap()
