"""A pool worker's side: start-up in a fresh context, and the body of its task loop.

The loop itself is Java's (dev.polypool.engine.Worker): it takes a task, calls the function
``start`` returned, and sends what it gets back to the parent. This is the entry of the
workers of Python pools and of ``multiprocessing.Process`` children; the Java API's
workers start with ``polypool.embed.start`` instead (Java chooses, see
``dev.polypool.engine.Driver``).
"""

import importlib
import sys
import traceback
import types
from multiprocessing import process as mp_process

from polypool import bootstrap, childstate, codec, snapshot
from polypool.childstate import FUTURES_ERRORS
# codec.is_plain, inlined in run: an int within these crosses as it is
from polypool.codec import LONG_MAX, LONG_MIN
from polypool.protocol import CALL, MAP, OK_PREFIX, PLAIN_PREFIX, RAISED_PREFIX, STARCALL, STARMAP

_errors = None  # childstate.POOL_ERRORS or FUTURES_ERRORS, set by start()


def _apply(kind, func, payload):
    # the kinds of the smallest tasks first: this runs once per task
    if kind == CALL:
        return func(payload)
    if kind == STARCALL:
        return func(*payload)
    if kind == MAP:
        return list(map(func, payload))
    if kind == STARMAP:
        return [func(*args) for args in payload]
    args, kwds = payload
    return func(*args, **kwds)


def run(kind, ref, plain, payload):
    """Run one task.

    ``payload`` is the argument itself when ``plain``, else what ``codec.dumps`` made of it.
    Returns a plain result as it is (int, float, bool, None), ``PLAIN_PREFIX + result`` for
    a str result, ``OK_PREFIX + pickled result`` for any other, or a large one as the
    ``Blob`` of ``codec.dumps``, and ``RAISED_PREFIX + pickled exception`` on failure: each
    prefix is the digit of the outcome status (``polypool.protocol``).
    """
    try:
        if not plain:
            payload = codec.loads(payload)
        elif payload is None:
            payload = None  # Java's null arrives as polyglot.ForeignNone, not None itself
        if ref is None:
            func, payload = payload
        else:
            func = codec.resolve(ref)
        result = _apply(kind, func, payload)
    except Exception as e:
        return RAISED_PREFIX + _encode_exception(e)
    except BaseException as e:
        if _errors == FUTURES_ERRORS:
            # CPython's executor worker catches BaseException: SystemExit(3) on the future
            return RAISED_PREFIX + _encode_exception(e)
        _end_pool_worker(e)
    t = type(result)
    if t is int:
        if LONG_MIN <= result <= LONG_MAX:
            return result
    elif t is float or t is bool or result is None:
        return result
    elif t is str:
        return PLAIN_PREFIX + result
    try:
        encoded = codec.dumps(result, read_once=True)
    except Exception as e:
        if _errors == FUTURES_ERRORS:
            return RAISED_PREFIX + _encode_exception(e)
        from multiprocessing.pool import MaybeEncodingError
        return RAISED_PREFIX + _encode_exception(MaybeEncodingError(e, result))
    return OK_PREFIX + encoded if type(encoded) is str else encoded


def _end_pool_worker(exc):
    """What a CPython pool worker does with a SystemExit or KeyboardInterrupt of its task:
    its process ends, with the code of ``sys.exit`` (1 after printing anything else, as
    ``BaseProcess._bootstrap`` does); the pool reports the task lost with that exit code."""
    import os
    if isinstance(exc, SystemExit) and (exc.code is None or isinstance(exc.code, int)):
        code = exc.code or 0
    else:
        if isinstance(exc, SystemExit):
            print(exc.code, file=sys.stderr)
        else:
            sys.stderr.write(f"Process {mp_process.current_process().name}:\n")
            traceback.print_exception(exc)
        code = 1
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(code & 0xFF)


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


def preload(template):
    """Import the modules a forkserver worker starts with, in a context that has no identity
    yet, as CPython's fork server imports them once before it forks workers
    (``polypool.childstate.template``). A module that fails to import is skipped, as there."""
    import json
    template = json.loads(template)
    if "sys_path" in template:  # the parent's, where its own modules are found
        sys.path[:] = template["sys_path"]
    _import_preloaded(template["modules"])


def _import_preloaded(modules):
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            pass


def _become_child(name, identity, pid, ppid, setup, daemon):
    # identity: the N of a pool worker's name; None for a Process, which brings its own
    """Give this fresh context its identity and what its start method carries over of the
    parent; returns the encoded initializer and its arguments."""
    global _errors
    setup = codec.loads(setup)
    _errors = setup["errors"]
    if daemon is None:
        # pool workers are daemonic; executor workers not, as in CPython 3.9+, so that a
        # task may start a pool of its own
        daemon = _errors != FUTURES_ERRORS
    start_method = setup["start_method"]
    bootstrap.install_worker(name, identity, pid, ppid, start_method, daemon)
    mp_process.current_process().authkey = setup["authkey"]
    mp_process._parent_process = mp_process._ParentProcess(*setup["parent"])
    sys.path[:] = setup["sys_path"]
    childstate.adopt(setup["cwd"], setup["environ"])
    sys.argv = list(setup["argv"])
    if "log_level" in setup:
        from multiprocessing import util
        if setup["log_to_stderr"]:
            util.log_to_stderr()
        util.get_logger().setLevel(setup["log_level"])
    if "main_text" in setup:
        # fork: the parent's main module as it was a moment ago, without running it again
        snapshot.restore_modules(setup["modules"])
        main = types.ModuleType("__main__")
        if setup["main_file"] is not None:
            main.__file__ = setup["main_file"]
        sys.modules["__main__"] = sys.modules["__mp_main__"] = main
        snapshot.load_main(setup["main_text"], main)
        snapshot.restore_logging(setup.get("logging"))
    else:
        # already imported when the context was prepared with the template; this covers a
        # context made before the preload list changed
        _import_preloaded(setup.get("preload", ()))
        _import_main(setup["main_origin"])
    return setup["init"]


def _import_main(origin):
    """Run the parent's main script again as ``__mp_main__``, as a spawned CPython child
    does; starting a process from its top-level code raises CPython's bootstrapping
    RuntimeError (``polypool.childstate.check_may_have_children``)."""
    main = types.ModuleType("__mp_main__")
    sys.modules["__main__"] = sys.modules["__mp_main__"] = main
    if origin is None:
        return
    import runpy
    kind, where = origin
    current = mp_process.current_process()
    current._inheriting = True
    try:
        if kind == "path":
            namespace = runpy.run_path(where, run_name="__mp_main__")
        else:
            namespace = runpy.run_module(where, run_name="__mp_main__", alter_sys=True)
    finally:
        del current._inheriting
    main.__dict__.update(namespace)
    sys.modules["__main__"] = sys.modules["__mp_main__"] = main


def _print_failure():
    traceback.print_exc()
    sys.stderr.flush()


def start(name, identity, pid, ppid, setup):
    """Make this fresh context a pool worker of the parent that sent ``setup``.

    Gives the context its process identity and the parent's ``__main__`` (as it was when
    the pool started under fork, imported again under spawn and forkserver), and runs the
    pool's initializer. Returns ``run``. A start-up or initializer failure is reported on
    stderr as CPython reports a failed worker, and re-raised.
    """
    try:
        init_text = _become_child(name, identity, pid, ppid, setup, daemon=None)
    except BaseException:
        _print_failure()  # e.g. the re-imported main script started a process
        raise
    try:
        initializer, initargs = codec.loads(init_text)
        if initializer is not None:
            initializer(*initargs)
    except BaseException:
        # what CPython's pool worker and executor worker each print before exiting
        header = "Exception in initializer:" if _errors == FUTURES_ERRORS else f"Process {name}:"
        sys.stderr.write(header + "\n")
        _print_failure()
        raise
    return run


def run_process(name, pid, ppid, setup, process_text, sentinel):
    """Run a ``multiprocessing.Process`` sent by the parent; returns its exit code.

    The process object's own ``_bootstrap`` runs it, as in a CPython child: it becomes
    ``current_process()``, runs ``run()``, reports an uncaught exception and finalises.
    ``sentinel`` is this process's own, for the processes it starts.
    """
    try:
        _become_child(name, None, pid, ppid, setup, daemon=False)
    except Exception:
        _print_failure()  # as a CPython child that fails before running its target
        return 1
    childstate.own_sentinel = sentinel
    process = codec.loads(process_text)
    # _bootstrap ends by joining the non-daemon threads, through their locks in this set;
    # the context was prepared on another Java thread, whose entry here is stale: only
    # threads the process itself starts from now on are to be waited for
    import threading
    with threading._shutdown_locks_lock:
        threading._shutdown_locks.clear()
    # the Java thread running the process is a daemon _DummyThread to Python; as a CPython
    # child's main thread it is not, so the threads it starts are not daemons either
    threading.current_thread()._daemonic = False
    # an int for Java: sys.exit(False) makes _bootstrap return the bool, exit status 0
    code = int(process._bootstrap(mp_process._parent_process.sentinel))
    # a CPython child waits for its non-daemon threads before it exits; _bootstrap's
    # threading._shutdown() returns at once here, since the context's main thread (the
    # stale entry of the thread that prepared it) is stopped
    current, main = threading.current_thread(), threading.main_thread()
    for thread in threading.enumerate():
        if thread is not current and thread is not main and not thread.daemon:
            thread.join()
    return code
