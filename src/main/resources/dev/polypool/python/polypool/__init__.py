"""polypool's Python side: multiprocessing pools whose workers are GraalPy contexts.

The Java engine (dev.polypool.engine) owns the workers and the task queue; the modules
here run inside the contexts:

- bootstrap: makes ``multiprocessing`` in a context use the engine.
- codec:     turns tasks, results and the parent's ``__main__`` into text that crosses
             contexts through Java.
- pool:      ``multiprocessing.Pool`` on the engine (runs in the submitting context).
- worker:    a worker context's start-up and task loop body.
- main:      runs a script, ``-c`` command or ``-m`` module as ``python3`` does.
"""
