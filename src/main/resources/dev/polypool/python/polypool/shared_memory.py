"""``multiprocessing.shared_memory.SharedMemory`` without ``_posixshmem.shm_open``.

GraalPy's ``_posixshmem`` has no ``shm_open`` and its ``mmap`` of a file is not shared
memory. Here Java maps the POSIX shared memory object itself (``/dev/shm/<name>``, as glibc's
``shm_open`` does, see ``dev.polypool.sync.NamedSharedMemory``) and the block's ``buf`` is
a ``memoryview`` of that mapping: every context, and any other process that opens the same
name, sees the same bytes. ``ShareableList`` works unchanged on top of it.
"""

import errno
import os

import polyglot
from multiprocessing import context

from polypool import byvalue
from polypool.heap import memoryview_at

_services = polyglot.import_value("polypool.sync")
_EMPTY = -1  # NamedSharedMemory.EMPTY


def _raise_errno(code, name):
    raise OSError(code, os.strerror(code), name)  # OSError picks the subclass, e.g. FileExistsError


def _inherit(cls, name, size, handle):
    self = cls.__new__(cls)
    self._name = name
    self._size = size
    self._mapping = None if handle is None else _services.lookupSharedMemory(handle)
    self._buf = None if self._mapping is None else memoryview_at(
        self._mapping.address(), size, self._mapping)
    return self


def _inheriting():
    return isinstance(context.get_spawning_popen(), byvalue.Inheriting)


def _inherit_list(cls, shm, list_len, allocated_offsets):
    self = cls.__new__(cls)
    self.shm = shm
    self._list_len = list_len
    self._allocated_offsets = allocated_offsets
    return self


def install(module):
    stdlib = module.SharedMemory

    class SharedMemory(stdlib):
        __doc__ = stdlib.__doc__

        def __init__(self, name=None, create=False, size=0):
            # the argument checks of CPython 3.12, in its words
            if not size >= 0:
                raise ValueError("'size' must be a positive integer")
            if create and size == 0:
                raise ValueError("'size' must be a positive number different from zero")
            if name is None and not create:
                raise ValueError("'name' can only be None if create=True")
            while True:
                # looked up at each call, as CPython does (tests patch it)
                shm_name = module._make_filename() if name is None else "/" + name
                mapping = _services.openSharedMemory(shm_name, bool(create), size)
                if isinstance(mapping, int):
                    if mapping == errno.EEXIST and name is None:
                        continue  # a random name already taken: draw another
                    if mapping == _EMPTY:
                        raise ValueError("cannot mmap an empty file")
                    _raise_errno(mapping, shm_name)
                break
            self._name = shm_name
            self._mapping = mapping
            self._size = mapping.size()
            self._buf = memoryview_at(mapping.address(), self._size, mapping)

        def close(self):
            """Closes access to the shared memory from this instance but does
            not destroy the shared memory block."""
            if self._buf is not None:
                self._buf.release()
                self._buf = None
            # the mapping goes when nothing refers to it any more (no view can outlive it)
            self._mapping = None

        def __reduce__(self):
            if _inheriting():
                # fork semantics: the child gets this very mapping, even once unlinked
                handle = None if self._mapping is None else self._mapping.handle()
                return _inherit, (type(self), self._name, self._size, handle)
            return super().__reduce__()

        def unlink(self):
            """Requests that the underlying shared memory block be destroyed.

            The name is removed at once; memory already mapped stays valid."""
            if self._name:
                code = _services.unlinkSharedMemory(self._name)
                if code:
                    _raise_errno(code, self._name)

    SharedMemory.__module__ = module.__name__
    SharedMemory.__qualname__ = "SharedMemory"
    module.SharedMemory = SharedMemory

    reduce_list = module.ShareableList.__reduce__

    def __reduce__(self):
        if _inheriting():  # as above: the same memory, not the name looked up again
            return _inherit_list, (type(self), self.shm, self._list_len, self._allocated_offsets)
        return reduce_list(self)

    module.ShareableList.__reduce__ = __reduce__
