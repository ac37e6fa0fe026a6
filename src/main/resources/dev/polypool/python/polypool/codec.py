"""The wire format: how a value crosses from one context to another.

Contexts never share Python objects: a value leaves its context as text (a ``str`` whose
characters are the bytes of a pickle, read as Latin-1), travels through Java, and is
rebuilt in the receiving context. Latin-1 text is used because a Java ``String`` is the one
bulk carrier GraalPy converts to and from without a per-byte loop. Above 1 MiB a pickle
that is read once goes through a file instead (``spill``); a few plain values cross as
they are (``is_plain``).

Tasks, results and exceptions are pickled with ``multiprocessing.reduction.ForkingPickler``,
as CPython sends them, so ``copyreg`` and ``ForkingPickler.register`` reductions apply and
an object CPython cannot send fails here with the same exception. What pickle cannot find
by name goes by value (``polypool.byvalue``); the fork snapshot of ``__main__`` is
``polypool.snapshot``.
"""

import importlib
import io
import os
import pickle
import sys

from multiprocessing.reduction import ForkingPickler

from polypool.byvalue import PROTOCOL, ValuePickler, qualified
# Beyond SPILL_BYTES a pickle that is read once travels through a file in the engine's
# transfer directory (in /dev/shm): GraalPy's Latin-1 encode and decode cost about 50 ns a
# byte, a file write and read a small fraction of that. SPILLED is never the first
# character of a pickle (protocol 2+ starts with \x80).
from polypool.protocol import BY_VALUE, SPILL_BYTES, SPILLED

_transfer_dir = None


def dumps(obj, read_once=False):
    """Pickle ``obj`` as CPython's multiprocessing would, returned as Latin-1 text.

    With ``read_once`` (task arguments, results, queue items: each is loaded exactly once)
    a large pickle goes to a file and the text names it; ``loads`` reads and removes it.

    Beyond CPython: a function or class that pickle cannot find by reference (a lambda, a
    nested function, a closure, a class defined in a function) goes by value instead of
    raising. Everything else CPython refuses still fails, with CPython's exception.
    """
    try:
        data = ForkingPickler.dumps(obj, PROTOCOL)
    except (pickle.PicklingError, AttributeError) as first:
        # the C pickler's fast path is kept for the common case: by value only on failure
        buf = io.BytesIO()
        try:
            ValuePickler(buf).dump(obj)
        except Exception:
            raise first from None
        data = buf.getbuffer()
    if read_once and is_large(data):
        return SPILLED + spill(data)
    return str(data, "latin-1")


def is_large(data):
    """Whether ``data`` (bytes-like) should cross contexts in a file (``spill``) rather
    than as Latin-1 text, which GraalPy makes at tens of nanoseconds a byte."""
    return memoryview(data).nbytes > SPILL_BYTES


def spill(data):
    """Write ``data`` to a new file of the engine's transfer directory; returns its path,
    for ``unspill`` in whichever context reads it."""
    global _transfer_dir
    if _transfer_dir is None:
        import polyglot
        _transfer_dir = str(polyglot.import_value("polypool.sync").transferDirectory())
    import tempfile
    fd, path = tempfile.mkstemp(dir=_transfer_dir)
    with open(fd, "wb") as f:
        f.write(data)
    return path


def unspill(path):
    """The bytes of a ``spill`` file, which is removed."""
    try:
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


def loads(text):
    """Rebuild an object from the text of ``dumps`` (or of any pickler of ``byvalue`` and
    ``snapshot``)."""
    if text[:1] == SPILLED:
        return pickle.loads(unspill(text[1:]))
    return pickle.loads(text.encode("latin-1"))


_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1


def is_plain(obj):
    """Whether ``obj`` crosses as it is, with no pickling: the fast path for tiny tasks.

    Java keeps such a value as a boxed primitive or a ``String`` and GraalPy converts it
    back to the same Python value in the receiving context. Exact types only (no ``int``
    or ``str`` subclasses, whose class pickling would preserve), and ints within Java's
    ``long``.
    """
    t = type(obj)
    if t is int:
        return _LONG_MIN <= obj <= _LONG_MAX
    return t is str or t is float or t is bool or obj is None


_functions = {}  # function references already resolved in this context


def resolve(ref):
    """The function a task names: ``"module:qualname"``, looked up as unpickling would, or
    ``BY_VALUE + text``, a pickled function. Cached: a worker resolves each reference once."""
    func = _functions.get(ref)
    if func is None and ref.startswith(BY_VALUE):
        func = _functions[ref] = loads(ref[len(BY_VALUE):])
    elif func is None:
        module_name, qualname = ref.split(":", 1)
        try:
            func = qualified(importlib.import_module(module_name), qualname)
        except AttributeError:
            raise AttributeError(f"Can't get attribute {qualname!r} on {sys.modules[module_name]!r}") from None
        _functions[ref] = func
    return func
