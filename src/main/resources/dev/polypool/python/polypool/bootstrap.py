"""Makes ``multiprocessing`` inside a GraalPy context run on the polypool engine.

Runs before any user code, in the main context (``install_main``) and in every worker
(``install_worker``). It changes the stdlib in place rather than shadowing it, so every
path a program may take reaches the engine: ``multiprocessing.Pool``,
``multiprocessing.pool.Pool``, ``get_context(...).Pool``. GraalPy's own start method
('graalpy') is removed: the start methods are CPython's names, with 'fork' the default as
on Linux.
"""

import itertools
import os
import sys

import multiprocessing
import multiprocessing.context as mp_context
import multiprocessing.pool as mp_pool
import multiprocessing.process as mp_process

import polyglot

from polypool import childstate, hooks
from polypool._host import host
from polypool.protocol import START_METHODS
_WORKER_PREFIX = {"fork": "ForkPoolWorker", "spawn": "SpawnPoolWorker",
                  "forkserver": "ForkServerPoolWorker"}

_installed = False


class EngineContext(mp_context.BaseContext):
    """A start-method context whose pools and processes run on the engine."""

    def __init__(self, name):
        self._name = name

    @property
    def Process(self):
        # imported on first use: start-up of every context pays for nothing it does not use
        from polypool.process import PROCESS_CLASSES
        return PROCESS_CLASSES[self._name]

    def worker_prefix(self):
        return _WORKER_PREFIX[self._name]

    # multiprocessing.synchronize creates its SemLocks through these (a GraalPy hook)
    def _SemLock(self, kind, value, maxvalue, name, unlink):
        from polypool.sync import SemLock
        return SemLock(kind, value, maxvalue, name, unlink)

    def _SemLock_rebuild(self, *args):
        from polypool.sync import SemLock
        return SemLock._rebuild(*args)

    def _sem_unlink(self, name):
        from polypool.sync import sem_unlink
        sem_unlink(name)

    def _get_id(self):
        return os.getpid()


# named as CPython's context classes of the start methods
class ForkContext(EngineContext):
    pass


class SpawnContext(EngineContext):
    pass


class ForkServerContext(EngineContext):
    pass


_CONTEXT_CLASSES = {"fork": ForkContext, "spawn": SpawnContext, "forkserver": ForkServerContext}


def _get_all_start_methods(self):
    return list(START_METHODS)


def set_forkserver_preload(self, module_names):
    if not all(type(m) is str for m in module_names):
        raise TypeError("module_names must be a list of strings")
    childstate.forkserver_preload[:] = module_names
    # CPython's server imports them when it starts, at the first forkserver process; the
    # engine can start preparing workers with them now, while the program goes on
    template = childstate.template("forkserver")
    if host is not None and template is not None:
        host.prepareTemplate(template)


def _default_start_method():
    """The start method a program gets unless it sets one: ``POLYPOOL_START_METHOD``, else
    fork, the default on Linux."""
    method = os.environ.get("POLYPOOL_START_METHOD", "").strip() or "fork"
    if method not in START_METHODS:
        raise ValueError(f"POLYPOOL_START_METHOD={method!r}: expected one of {', '.join(START_METHODS)}")
    return method


# every context's queues (multiprocessing.Queue is bound to the default context); named
# as the methods they replace, so that pickling a bound one finds them again
def Queue(self, maxsize=0):
    from polypool.queues import Queue
    return Queue(maxsize)


def JoinableQueue(self, maxsize=0):
    from polypool.queues import JoinableQueue
    return JoinableQueue(maxsize)


def _pool_new(cls, *args, **kwargs):
    # multiprocessing.pool.Pool(...) builds an engine pool; subclasses such as ThreadPool
    # keep the stdlib implementation.
    if cls is _StdPool:
        from polypool.pool import Pool
        return object.__new__(Pool)
    return object.__new__(cls)


_StdPool = mp_pool.Pool


def _thread_pool_queues(self):
    """``ThreadPool._setup_queues`` with ``polypool.pool.ThreadPoolResults`` as the result
    queue (frames of failed tasks the consumer can read)."""
    import queue
    from polypool.pool import ThreadPoolResults
    self._inqueue = queue.SimpleQueue()
    self._outqueue = ThreadPoolResults()
    self._quick_put = self._inqueue.put
    self._quick_get = self._outqueue.get


def _use_engine_executor(_module):
    if "polypool.futures" not in sys.modules:
        import polypool.futures  # noqa: F401 -- installs itself into concurrent.futures


def _use_shared_heap(module):
    from polypool import heap
    heap.install(module)


def _use_plain_class_cache(module):
    from polypool import heap
    heap.install_sharedctypes(module)


def _use_shared_memory(module):
    from polypool import shared_memory
    shared_memory.install(module)


def _use_engine_managers(module):
    from polypool import managers
    managers.install(module)


def _use_engine_pipes(module):
    from polypool import connection
    module.Pipe = connection.Pipe
    module.wait = connection.wait
    # ThreadPool waits on its SimpleQueue (an engine pipe) with the wait pool.py imported
    mp_pool.wait = connection.wait
    # the handshake's markers by their Python 3.11 names (GraalPy's 3.12 stdlib made them private)
    for name in ("CHALLENGE", "WELCOME", "FAILURE"):
        if not hasattr(module, name):
            setattr(module, name, getattr(module, "_" + name))


def _use_java_unicodedata(module):
    from polypool import stdlib
    stdlib.install_unicodedata(module)


def _install_common():
    global _installed
    if _installed:
        return
    _installed = True
    # the process API the Java POSIX backend lacks (os.kill, getppid, sysconf, signals...)
    from polypool import posix
    posix.install()
    # concurrent.futures loads its process pool lazily; replace it when it is loaded
    hooks.on_import("concurrent.futures.process", _use_engine_executor)
    # Value/Array/Barrier memory, shared_memory and managers across contexts
    hooks.on_import("multiprocessing.heap", _use_shared_heap)
    hooks.on_import("multiprocessing.sharedctypes", _use_plain_class_cache)
    hooks.on_import("multiprocessing.shared_memory", _use_shared_memory)
    hooks.on_import("multiprocessing.managers", _use_engine_managers)
    # Pipe and wait (and SimpleQueue, built on them) work across contexts
    hooks.on_import("multiprocessing.connection", _use_engine_pipes)
    # unicodedata's native parts (lookup, east_asian_width, combining) in Java, for every context
    hooks.on_import("unicodedata", _use_java_unicodedata)
    # gc.get_threshold/set_threshold, which GraalPy lacks
    import gc
    from polypool import stdlib
    stdlib.install_gc(gc)
    # the SemLock type itself, for code that uses or subclasses it directly
    import _multiprocessing
    from polypool import sync
    _multiprocessing.SemLock = sync.SemLock
    _multiprocessing.sem_unlink = sync.sem_unlink
    contexts = {name: _CONTEXT_CLASSES[name](name) for name in START_METHODS}
    mp_context._concrete_contexts = contexts
    default = mp_context._default_context
    default._default_context = contexts[_default_start_method()]
    default._actual_context = None
    mp_context.DefaultContext.get_all_start_methods = _get_all_start_methods
    mp_context.BaseContext.set_forkserver_preload = set_forkserver_preload
    mp_context.BaseContext.Queue = Queue
    mp_context.BaseContext.JoinableQueue = JoinableQueue
    # the package bound the default context's methods when it was imported
    multiprocessing.Queue = default.Queue
    multiprocessing.JoinableQueue = default.JoinableQueue
    multiprocessing.get_all_start_methods = default.get_all_start_methods
    multiprocessing.set_forkserver_preload = default.set_forkserver_preload
    _StdPool.__new__ = _pool_new
    mp_pool.ThreadPool._setup_queues = _thread_pool_queues
    # Lines printed by concurrent workers must stay whole and reach the console promptly,
    # as CPython's line-buffered stdout on a terminal does.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except Exception:
            pass


class _IdentityCounter:
    """``_process_counter`` backed by Java, so Java-started workers share the numbering."""

    def __iter__(self):
        return self

    def __next__(self):
        return host.nextIdentity()


def install_main():
    _install_common()
    from polypool import posix
    posix.install_main(host)
    childstate.own_sentinel = host.sentinel()
    mp_process._process_counter = _IdentityCounter()


def install_worker(name, identity, pid, ppid, start_method, daemon=True):
    _install_common()
    mp_context._default_context._actual_context = mp_context._concrete_contexts[start_method]
    os.getpid = lambda: pid
    os.getppid = lambda: ppid
    current = object.__new__(mp_process.BaseProcess)
    current._identity = (identity,) if identity is not None else ()
    current._config = dict(mp_process._current_process._config)
    current._parent_pid = ppid
    current._parent_name = "MainProcess"
    current._popen = None
    current._closed = False
    current._target = None
    current._args = ()
    current._kwargs = {}
    current._name = name
    current._config["daemon"] = daemon
    current._start_method = start_method
    mp_process._current_process = current
    terminals = polyglot.import_value("polypool.terminals")
    if terminals is not None:  # a worker of a pool of the Java API has none
        from polypool import posix
        posix.terminals_ready(terminals)
    mp_process._process_counter = itertools.count(1)
    mp_process._children = set()
