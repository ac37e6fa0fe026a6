"""``multiprocessing.heap.BufferWrapper`` on native memory shared by every context.

CPython's ``Value``, ``Array``, ``RawValue``, ``RawArray`` (``multiprocessing.sharedctypes``)
and ``Barrier`` get their memory from ``heap.BufferWrapper``: blocks of an mmap that a
forked child shares with its parent. Here a block is a ``dev.polypool.sync.SharedBuffer``,
native memory that every context wraps in place with ctypes, so a write in a child is seen
by the parent. The stdlib's ``sharedctypes`` and ``synchronize`` run unchanged on it;
pickling a block (when a ``Value`` reaches a child through inheritance) sends its handle.
``install_sharedctypes`` makes ``synchronized()`` of a ``Structure`` work on GraalPy.
"""

import ctypes
import sys

import polyglot

from polypool.sync import lookup_shared

_services = polyglot.import_value("polypool.sync")


def memoryview_at(address, size, keep_alive):
    """A writable ``memoryview`` (format ``'B'``) of ``size`` bytes at ``address``.

    ``keep_alive`` (the Java object owning the memory) is kept by the view's exporter, so
    the memory lives as long as anything built on the view.
    """
    exporter = (ctypes.c_ubyte * size).from_address(address)
    exporter._polypool_owner = keep_alive
    return memoryview(exporter).cast("B")


class BufferWrapper:
    """A block of ``size`` zeroed bytes, with the interface of ``multiprocessing.heap.BufferWrapper``."""

    def __init__(self, size):
        # CPython's Heap.malloc checks, in its words
        if size < 0:
            raise ValueError("Size {0:n} out of range".format(size))
        if sys.maxsize <= size:
            raise OverflowError("Size {0:n} too large".format(size))
        self._init(_services.newBuffer(size), size)

    def _init(self, block, size):
        self._block = block
        self._size = size
        self._address = block.address()

    def create_memoryview(self):
        return memoryview_at(self._address, self._size, self._block)

    def __reduce__(self):
        return _rebuild, (self._block.handle(), self._size)


def _rebuild(handle, size):
    block = lookup_shared(_services.lookupBuffer, handle, "shared memory block")
    wrapper = BufferWrapper.__new__(BufferWrapper)
    wrapper._init(block, size)
    return wrapper


def install_sharedctypes(sharedctypes_module):
    """``synchronized()`` of a ``Structure`` caches the wrapper class it makes per ctypes
    class in a ``WeakKeyDictionary``; GraalPy's ctypes classes cannot be weakly referenced
    (``TypeError``), so the cache is a plain dict: a wrapper class then lives as long as the
    program, as its ``Structure`` class usually does."""
    sharedctypes_module.class_cache = {}


def install(heap_module):
    """Make ``multiprocessing.heap`` hand out shared blocks."""
    heap_module.BufferWrapper = BufferWrapper
