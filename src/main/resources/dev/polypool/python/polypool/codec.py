"""The wire format: how a value crosses from one context to another.

Contexts never share Python objects: a small value leaves its context as text (a ``str``
whose characters are the bytes of a pickle, read as Latin-1), travels through Java, and is
rebuilt in the receiving context. A large one crosses as a ``dev.polypool.sync.Blob``
(``BLOB_BYTES``): its bytes copied into native memory in bulk and back out of it with
``ctypes.string_at``, two copies where Latin-1 text costs tens of nanoseconds a byte each
way; a large ``bytes`` argument or result goes that way without being pickled at all. A
few plain values cross as they are (``is_plain``). Pipes send large messages through a
file (``spill``).

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
# Beyond SPILL_BYTES a pipe message travels through a file in the engine's transfer
# directory (in /dev/shm): GraalPy's Latin-1 encode and decode cost about 30-50 ns a byte,
# a file write and read a small fraction of that.
from polypool.protocol import BY_VALUE, SPILL_BYTES

# Beyond this many bytes a pickle crosses as a Blob rather than as Latin-1 text: measured
# here, text costs about 30 ns a byte each way on GraalPy, a blob a few microseconds a call
# and a fraction of a nanosecond a byte.
BLOB_BYTES = 16 * 1024

# Beyond this many bytes a ``bytes`` object in what many contexts load (a pool's start-up
# state) crosses as a blob of its own, a part of the state's blob, rather than inside its
# pickle: a 100 MiB global of a forked program was otherwise copied into the snapshot's
# pickle, that into the state's, then out of both again in every worker.
PART_BYTES = 1024 * 1024

_transfer_dir = None
_sync = None


def _services():
    global _sync
    if _sync is None:
        import polyglot
        _sync = polyglot.import_value("polypool.sync")
    return _sync


def dumps(obj, read_once=False, blob=False):
    """Pickle ``obj`` as CPython's multiprocessing would, returned as Latin-1 text, or with
    ``read_once`` or ``blob`` as a ``Blob`` when it is large (``BLOB_BYTES``).

    ``read_once`` is for task arguments, results and queue items, each loaded exactly once:
    their blob lets go of its bytes when read, and a large ``bytes`` object crosses as it
    is, unpickled. ``blob`` is for what many contexts load (a pool's start-up state): its
    ``bytes`` objects over ``PART_BYTES`` cross as raw parts of its blob, outside the pickle.

    Beyond CPython: a function or class that pickle cannot find by reference (a lambda, a
    nested function, a closure, a class defined in a function) goes by value instead of
    raising. Everything else CPython refuses still fails, with CPython's exception.
    """
    if read_once and type(obj) is bytes and len(obj) > BLOB_BYTES:
        return _services().newBlob(obj, True, True)
    if blob:
        return _dumps_shared(obj)
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
    if read_once and memoryview(data).nbytes > BLOB_BYTES:
        return _services().newBlob(data, False, True)
    return str(data, "latin-1")


class PartsPickler(ForkingPickler):
    """A ``ForkingPickler`` that leaves each ``bytes`` object over ``PART_BYTES`` out of its
    stream, as a persistent id: its index in ``parts`` (one entry however often it is met)."""

    def __init__(self, file, protocol=PROTOCOL):
        super().__init__(file, protocol)
        self.parts = []
        self._index = {}

    def persistent_id(self, obj):
        if type(obj) is not bytes or len(obj) <= PART_BYTES:
            return None
        index = self._index.get(id(obj))
        if index is None:
            index = self._index[id(obj)] = len(self.parts)
            self.parts.append(obj)  # also keeps id(obj) from being reused
        return index

    def drop_parts(self, count):
        """Forget the parts after the first ``count`` (those of a pickle that failed)."""
        del self.parts[count:]
        self._index = {k: i for k, i in self._index.items() if i < count}


class PartsUnpickler(pickle.Unpickler):
    """Reads what a ``PartsPickler`` wrote, given its ``parts`` (or what they became)."""

    def __init__(self, file, parts):
        super().__init__(file)
        self._parts = parts

    def persistent_load(self, pid):
        return self._parts[pid]


def _dumps_shared(obj):
    # for many readers: its large bytes objects as raw parts of the blob, never read once
    buf = io.BytesIO()
    pickler = PartsPickler(buf)
    pickler.dump(obj)
    data = buf.getbuffer()
    if not pickler.parts and data.nbytes <= BLOB_BYTES:
        return str(data, "latin-1")
    services = _services()
    parts = [services.newBlob(part, True, False) for part in pickler.parts]
    return services.newBlob(data, False, False, parts)


def is_large(data):
    """Whether a pipe message ``data`` (bytes-like) should cross contexts in a file
    (``spill``) rather than as Latin-1 text, which GraalPy makes at tens of nanoseconds a
    byte."""
    return memoryview(data).nbytes > SPILL_BYTES


def spill(data):
    """Write ``data`` to a new file of the engine's transfer directory; returns its path,
    for ``unspill`` in whichever context reads it."""
    global _transfer_dir
    if _transfer_dir is None:
        _transfer_dir = str(_services().transferDirectory())
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


def loads(encoded):
    """Rebuild an object from what ``dumps`` made (or the text of any pickler of ``byvalue``
    and ``snapshot``)."""
    if type(encoded) is str:
        return pickle.loads(encoded.encode("latin-1"))
    data = _read(encoded)  # a Blob
    if encoded.raw():
        return data
    count = encoded.parts()
    if not count:
        return pickle.loads(data)
    parts = [_read(encoded.part(i)) for i in range(count)]
    return PartsUnpickler(io.BytesIO(data), parts).load()


def _read(blob):
    from ctypes import string_at
    native = blob.open()
    try:
        return string_at(native.address(), blob.size())
    finally:
        native.close()


LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1


def is_plain(obj):
    """Whether ``obj`` crosses as it is, with no pickling: the fast path for tiny tasks.

    Java keeps such a value as a boxed primitive or a ``String`` and GraalPy converts it
    back to the same Python value in the receiving context. Exact types only (no ``int``
    or ``str`` subclasses, whose class pickling would preserve), and ints within Java's
    ``long``.
    """
    t = type(obj)
    if t is int:
        return LONG_MIN <= obj <= LONG_MAX
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
