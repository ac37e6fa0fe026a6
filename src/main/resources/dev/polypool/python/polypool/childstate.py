"""What a new worker or process context gets of the one that starts it.

The starting side's half of a child's start-up: ``child_setup`` encodes the state that the
start method carries over (read by ``polypool.worker``), ``template`` what the engine
prepares a forkserver worker's context with, and the program state they read
(``forkserver_preload``, ``own_sentinel``), which ``polypool.bootstrap`` and
``polypool.worker`` set. Imported by ``bootstrap`` in every context, so it imports the
pickling modules only when a child is started.
"""

import os
import sys

from polypool._host import host

# how a worker wraps a task's exception: as multiprocessing.pool or concurrent.futures do
POOL_ERRORS = "pool"
FUTURES_ERRORS = "futures"

# modules that forkserver workers import before the main script, as CPython's server does
forkserver_preload = []

# the sentinel of this context's process, which its children see as their parent's
own_sentinel = None


def forks(start_method):
    return start_method == "fork"


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


def child_setup(start_method, initializer=None, initargs=(), errors=POOL_ERRORS):
    """What a new worker or process context needs of this one, read by
    ``polypool.worker``: under fork the program's state now and the pool's initializer;
    under spawn and forkserver where to re-import the main script from instead. Call it
    in a ``polypool.connection.inheriting`` block: pipe ends in that state are inherited."""
    from multiprocessing import process
    from polypool import byvalue, codec, snapshot
    main = sys.modules.get("__main__")
    # the authkey is inherited as a forked child inherits it: manager proxies sent to
    # workers authenticate with it
    setup = {"start_method": start_method, "sys_path": list(sys.path), "errors": errors,
             "main_file": getattr(main, "__file__", None),
             "authkey": bytes(process.current_process().authkey),
             "parent": (process.current_process().name, os.getpid(), own_sentinel),
             # a CPython child inherits the OS process's working directory and environment,
             # as os.chdir and os.environ left them; a context starts with the engine's
             "cwd": os.getcwd(), "environ": dict(os.environ),
             # as a forked child inherits it and spawn's preparation data carries it
             "argv": list(sys.argv)}
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
        setup["logging"] = snapshot.dumps_logging()
        setup["init"] = snapshot.dumps_inherited(init)
    else:
        setup["main_origin"] = main_origin()
        if start_method == "forkserver":
            setup["preload"] = list(forkserver_preload)
        setup["init"] = byvalue.dumps_spawn(init, inherit=True)
    return codec.dumps(setup, blob=True)  # read by every worker: a large one as a Blob


def adopt(cwd, environ):
    """Make this context's working directory ``cwd`` and its environment (``os.environ``
    and what ``os.putenv`` gives subprocesses) exactly ``environ``, a dict of str."""
    try:
        os.chdir(cwd)
    except OSError:
        pass  # removed since: a forked CPython child keeps it as its cwd all the same
    for key in [k for k in os.environ if k not in environ]:
        del os.environ[key]
    for key, value in environ.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def template(start_method):
    """What the engine prepares a new worker's context with before the worker starts: under
    forkserver, the modules of ``set_forkserver_preload()`` to import (see
    ``polypool.worker.preload``); None for nothing."""
    if start_method != "forkserver":
        return None
    # '__main__' is re-imported by every forkserver worker anyway (polypool.worker)
    modules = [m for m in forkserver_preload if m != "__main__"]
    if not modules:
        return None
    import json
    return json.dumps({"sys_path": list(sys.path), "modules": modules})
