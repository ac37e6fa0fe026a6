"""``_multiprocessing.SemLock`` on shared Java objects (dev.polypool.sync).

``multiprocessing.synchronize`` builds ``Lock``, ``RLock``, ``Semaphore``,
``BoundedSemaphore``, ``Condition``, ``Event`` and ``Barrier`` on this class, so they all
become objects shared by every context they reach, instead of POSIX semaphores (which
GraalPy's Java POSIX layer does not provide). Unpickling a lock in another context finds
the same Java object through its handle.
"""

import time

import polyglot

from polypool.protocol import NOT_OWNER, RECURSIVE_MUTEX, SEMAPHORE, TOO_MANY_RELEASES

_services = polyglot.import_value("polypool.sync")

# blocking calls wait in slices, so that signals and context cancellation get through
_WAIT_SLICE = 0.1


def wait_in_slices(operation, block, timeout, succeeded):
    """Call ``operation(seconds)``, a Java wait of at most that long, until
    ``succeeded(result)`` or the wait (``block``, ``timeout`` as in ``Lock.acquire``) is
    over; returns the last result."""
    if not block:
        return operation(0.0)
    deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
    while True:
        left = _WAIT_SLICE if deadline is None else min(_WAIT_SLICE, deadline - time.monotonic())
        result = operation(max(left, 0.0))
        if succeeded(result) or (deadline is not None and time.monotonic() >= deadline):
            return result


def lookup_shared(lookup, handle, what):
    """The engine's object for ``handle``, found by ``lookup`` as a pickled reference to it
    is rebuilt; FileNotFoundError once the object is gone, as CPython raises when a named
    semaphore or a memory block is opened after it was unlinked."""
    shared = lookup(handle)
    if shared is None:
        raise FileNotFoundError(f"the {what} with handle {handle} no longer exists")
    return shared


class SemLock:
    """The interface of CPython's ``_multiprocessing.SemLock``."""

    SEM_VALUE_MAX = 2**31 - 1

    def __init__(self, kind, value, maxvalue, name=None, unlink=True):
        if kind not in (RECURSIVE_MUTEX, SEMAPHORE):
            raise ValueError("unrecognized kind")
        if value < 0 or value > self.SEM_VALUE_MAX:
            raise ValueError("invalid value")
        self._init(_services.newSemaphore(kind, value, max(maxvalue, value)), kind, maxvalue)

    def _init(self, shared, kind, maxvalue):
        self._shared = shared
        self.kind = kind
        self.maxvalue = maxvalue
        self.name = None
        self.handle = shared.handle()
        self._held = 0  # units this object took and has not released (CPython's count)

    @classmethod
    def _rebuild(cls, handle, kind, maxvalue, name):
        shared = lookup_shared(_services.lookup, handle, "lock")
        self = cls.__new__(cls)
        self._init(shared, kind, maxvalue)
        return self

    def acquire(self, block=True, timeout=None):
        got = wait_in_slices(self._shared.acquire, block, timeout, bool)
        if got:
            self._held += 1
        return got

    def release(self):
        status = self._shared.release()
        if status == NOT_OWNER:
            raise AssertionError("attempt to release recursive lock not owned by thread")
        if status == TOO_MANY_RELEASES:
            raise ValueError("semaphore or lock released too many times")
        if self._held > 0:
            self._held -= 1

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *args):
        self.release()

    def _count(self):
        return self._shared.heldByCaller() if self.kind == 0 else self._held

    def _is_mine(self):
        return self._shared.heldByCaller() > 0 if self.kind == 0 else self._held > 0

    def _get_value(self):
        return self._shared.value()

    def _is_zero(self):
        return self._shared.value() == 0

    def _after_fork(self):
        self._held = 0


def sem_unlink(name):
    """Named semaphores do not exist here: every SemLock is unnamed."""
