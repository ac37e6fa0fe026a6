"""Runs the user's program in the main context the way ``python3`` does.

``run`` returns the exit status: 0, the code of ``SystemExit``, or 1 after printing an
uncaught exception's traceback (without polypool's own frames) to stderr.
"""

# NFI, which ctypes runs on, initialises in a context with a handshake of all the context's
# threads. A pool's result thread coming back from a call into the engine did not always
# join it: the first `import ctypes` of a program with an idle pool hung (seen on the
# resident engine, jstack: the main thread at PolyglotLanguageContext.ensureInitialized).
# Here, while preparing the main context, it has one thread (50-60 ms).
import _ctypes  # noqa: F401

import atexit
import builtins
import os
import signal
import sys
import threading
import traceback
import types

from polypool import bootstrap, posix
from polypool._host import host


def _new_main(file=None):
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    if file is not None:
        main.__file__ = file
    sys.modules["__main__"] = main
    sys.modules["__mp_main__"] = main
    return main


def _exit_status(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


def _print_uncaught(exc):
    # drop the frames of this module: the traceback starts in the user's code, as in CPython
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__") == __name__:
        tb = tb.tb_next
    if isinstance(exc, KeyboardInterrupt):
        # nor the signal dispatcher's frame, where CPython's traceback ends at the
        # interrupted line
        exc = exc.with_traceback(_without_dispatcher(tb))
        tb = exc.__traceback__
    traceback.print_exception(type(exc), exc, tb)


def _without_dispatcher(tb):
    frames = []
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    while frames and frames[-1].tb_frame.f_globals.get("__name__") == posix.__name__:
        frames.pop()
    head = None
    for entry in reversed(frames):
        head = types.TracebackType(head, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return head


def _execute(mode, target):
    if mode == "script":
        path = os.path.abspath(target) if os.path.isabs(target) else target
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
        with open(path, "rb") as f:
            source = f.read()
        main = _new_main(target)
        exec(compile(source, target, "exec"), main.__dict__)
    elif mode == "command":
        sys.path.insert(0, "")
        main = _new_main()
        exec(compile(target, "<string>", "exec"), main.__dict__)
    elif mode == "module":
        import runpy
        sys.path.insert(0, os.getcwd())
        _new_main()
        runpy._run_module_as_main(target, alter_argv=True)
    else:
        raise ValueError(f"unknown mode {mode!r}")


def run(mode, target):
    bootstrap.install_main()
    status = 0
    try:
        posix.terminals_ready(host)
        posix.signals_ready(host)
        _execute(mode, target)
    except SystemExit as e:
        status = _exit_status(e)
    except KeyboardInterrupt as e:
        _print_uncaught(e)
        # CPython kills itself with SIGINT: its parent sees -2, a shell 130
        host.endingBySignal(signal.SIGINT)
        status = 128 + signal.SIGINT
    except BaseException as e:
        _print_uncaught(e)
        status = 1
    # CPython's finalisation: wait for non-daemon threads, then run atexit handlers
    try:
        threading._shutdown()
    except BaseException:
        pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    return status
