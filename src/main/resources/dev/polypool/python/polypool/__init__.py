"""polypool's Python side: multiprocessing pools whose workers are GraalPy contexts.

The Java engine (dev.polypool.engine) owns the workers and the task queue; the modules
here run inside the contexts. docs/architecture.md draws how they fit together.

Start-up
- main:          runs a script, ``-c`` command or ``-m`` module as ``python3`` does.
- bootstrap:     makes ``multiprocessing`` in a context use the engine (main and workers).
- hooks:         runs code right after a module is imported (how bootstrap patches lazily).
- _host:         the Java host object of this context (``MainContextBridge``), if any.
- protocol:      the wire protocol's constants, read once from Java (``Protocol``).

Pools, executors, processes (the submitting side)
- pool:          ``multiprocessing.Pool`` on the engine.
- futures:       ``concurrent.futures.ProcessPoolExecutor`` on the engine.
- tasks:         what both share: starting a ``WorkerPool``, sending tasks, reading outcomes.
- childstate:    what a new worker or process gets of its parent (``child_setup``, templates).
- process:       ``multiprocessing.Process``, each in a context of its own.
- progress:      counts for the progress lines of map calls (``POLYPOOL_PROGRESS=1``).

Workers (the receiving side)
- worker:        start-up and task runner of Python pools' workers and of processes.
- embed:         start-up and task runner of the Java API's (``PythonPool``) workers.
- cluster:       pools on a cluster's members: the script's files, a member's worker start-up.

Crossing contexts
- codec:         the wire format: pickles as Latin-1 text, spill files, function references.
- byvalue:       pickling functions and classes by value; pickling for a spawned child.
- snapshot:      the fork snapshot of ``__main__`` and of the program's modules.

Shared objects (on dev.polypool.sync)
- sync:          ``_multiprocessing.SemLock`` (locks, semaphores, conditions, events...).
- queues:        ``multiprocessing.Queue`` and ``JoinableQueue``.
- connection:    ``multiprocessing.Pipe``, ``Connection`` and ``connection.wait``.
- heap:          ``multiprocessing.heap`` memory (``Value``, ``Array``) shared by contexts.
- shared_memory: ``multiprocessing.shared_memory.SharedMemory``.
- managers:      ``multiprocessing.managers`` across contexts.
"""
