"""``multiprocessing.Pipe``, its ``Connection``s and ``connection.wait`` on the engine.

A pipe is one ``dev.polypool.sync.SharedPipe`` shared by every context that holds one of
its ends; a ``Connection`` holds a ``PipeHandle``, the engine's stand-in for a file
descriptor, whose number is the connection's ``fileno()``. Messages cross as Latin-1 text
of the bytes sent, as everything else between contexts does.

Ends are inherited as CPython's descriptors are: a child started with 'fork' gets its own
handle of every end the parent holds open (so, as under fork, a reader sees end of file
only once the children that inherited the writer closed it or exited); with 'spawn' or
'forkserver' only of the ends it is given. A connection sent through a queue, a pipe or a
pool task is received with a handle of its own, as CPython's resource sharer duplicates
the descriptor. A context's handles close when it ends.

``wait`` watches connections, process sentinels (numbers of the same kind) and, as
CPython, any object with a ``fileno()``; readiness is signalled by Java, not polled.
"""

import contextlib
import errno
import selectors
import threading
import time
import weakref

import polyglot
from multiprocessing.context import BufferTooShort
from multiprocessing.reduction import ForkingPickler

from polypool import codec
# numbers from FIRST_FD on are the engine's handles; the rest are what pipe ends return
from polypool.protocol import (FIRST_FD, PIPE_BROKEN as _BROKEN, PIPE_CLOSED as _CLOSED,
                               PIPE_EMPTY as _EMPTY, PIPE_EOF as _EOF, PIPE_READY as _READY,
                               PIPE_TOO_LONG as _TOO_LONG)
from polypool.sync import wait_in_slices

_services = polyglot.import_value("polypool.sync")
_handles = polyglot.import_value("polypool.handles")  # this context's handles

# a slice of waiting on the engine's objects while also polling real descriptors
_MIXED_SLICE = 0.01


def _arrived(result):
    return type(result) is not int or result != _EMPTY


class Connection:
    """A connection to one end of a pipe, with the API of
    ``multiprocessing.connection.Connection``."""

    def __init__(self, end, readable=True, writable=True):
        if not readable and not writable:
            raise ValueError("at least one of `readable` and `writable` must be True")
        self._end = end
        self._handle = end.fd()
        self._readable = readable
        self._writable = writable

    def __del__(self):
        if getattr(self, "_handle", None) is not None:
            self._end.close()

    def _check_closed(self):
        if self._handle is None:
            raise OSError("handle is closed")

    def _check_readable(self):
        if not self._readable:
            raise OSError("connection is write-only")

    def _check_writable(self):
        if not self._writable:
            raise OSError("connection is read-only")

    def _bad_message_length(self):
        # as CPython: a duplex connection stops reading, a read-only one closes
        if self._writable:
            self._readable = False
        else:
            self.close()
        raise OSError("bad message length")

    @property
    def closed(self):
        """True if the connection is closed"""
        return self._handle is None

    @property
    def readable(self):
        """True if the connection is readable"""
        return self._readable

    @property
    def writable(self):
        """True if the connection is writable"""
        return self._writable

    def fileno(self):
        """File descriptor or handle of the connection"""
        self._check_closed()
        return self._handle

    def close(self):
        """Close the connection"""
        if self._handle is not None:
            try:
                self._end.close()
            finally:
                self._handle = None

    def send_bytes(self, buf, offset=0, size=None):
        """Send the bytes data from a bytes-like object"""
        self._check_closed()
        self._check_writable()
        view = memoryview(buf)
        if view.itemsize > 1:
            view = view.cast("B")
        n = view.nbytes
        if offset < 0:
            raise ValueError("offset is negative")
        if n < offset:
            raise ValueError("buffer length < offset")
        if size is None:
            size = n - offset
        elif size < 0:
            raise ValueError("size is negative")
        elif offset + size > n:
            raise ValueError("buffer length < offset + size")
        self._send(view[offset:offset + size])

    def send(self, obj):
        """Send a (picklable) object"""
        self._check_closed()
        self._check_writable()
        # pickled before anything is sent: an object that cannot be pickled sends nothing
        self._send(ForkingPickler.dumps(obj))

    def recv_bytes(self, maxlength=None):
        """Receive bytes data as a bytes object."""
        self._check_closed()
        self._check_readable()
        if maxlength is not None and maxlength < 0:
            raise ValueError("negative maxlength")
        data = self._receive(maxlength)
        if data is None:
            self._bad_message_length()
        return data

    def recv_bytes_into(self, buf, offset=0):
        """Receive bytes data into a writeable bytes-like object.
        Return the number of bytes read."""
        self._check_closed()
        self._check_readable()
        with memoryview(buf) as view:
            target = view.cast("B") if view.format != "B" or view.ndim != 1 else view
            if offset < 0:
                raise ValueError("negative offset")
            if offset > target.nbytes:
                raise ValueError("offset too large")
            data = self._receive(None)
            size = len(data)
            if target.nbytes < offset + size:
                raise BufferTooShort(data)
            target[offset:offset + size] = data
            return size

    def recv(self):
        """Receive a (picklable) object"""
        self._check_closed()
        self._check_readable()
        return ForkingPickler.loads(self._receive(None))

    def poll(self, timeout=0.0):
        """Whether there is any input available to be read"""
        self._check_closed()
        self._check_readable()
        state = wait_in_slices(self._end.poll, True, timeout, lambda s: s != _EMPTY)
        if state == _CLOSED:
            raise OSError("handle is closed")
        return state == _READY

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        self.close()

    def __reduce__(self):
        self._check_closed()
        inheritance = getattr(_spawning, "value", None)
        if inheritance is not None:
            token, shared = inheritance.transit.inherit(self._end), inheritance.shared
        else:
            token, shared = _services.transfer(self._end), False
        if token is None:
            raise OSError("handle is closed")
        return _rebuild_connection, (token.fd(), shared, self._readable, self._writable)

    def _send(self, data):
        if codec.is_large(data):
            status = self._end.sendFile(codec.spill(data), memoryview(data).nbytes)
        else:
            status = self._end.send(str(data, "latin-1"))
        if status == _BROKEN:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        if status == _CLOSED:
            raise OSError("handle is closed")

    def _receive(self, maxlength):
        """The next message as bytes; None if longer than ``maxlength``."""
        limit = -1 if maxlength is None else maxlength
        end = self._end
        result = wait_in_slices(lambda seconds: end.recv(seconds, limit), True, None, _arrived)
        if type(result) is str:
            return result.encode("latin-1")
        if type(result) is not int:  # a SpilledMessage
            return codec.unspill(result.file())
        if result == _EOF:
            raise EOFError
        if result == _TOO_LONG:
            return None
        raise OSError("handle is closed")


def Pipe(duplex=True):
    """Returns pair of connection objects at either end of a pipe"""
    ends = _handles.newPipe(bool(duplex))
    return tuple(Connection(end, end.readable(), end.writable()) for end in ends)


# ---------------------------------------------------------------------------
# ends crossing contexts

_received = weakref.WeakValueDictionary()  # token number -> the connection rebuilt from it


def _rebuild_connection(token, shared, readable, writable):
    conn = _received.get(token)
    if conn is None:
        handle = _services.pipeHandle(token)
        if handle is not None:
            handle = _handles.duplicate(handle) if shared else _handles.adopt(handle)
        if handle is None:
            raise OSError(errno.EBADF, "the pipe end was closed before it was received")
        conn = Connection(handle, readable, writable)
        _received[token] = conn
    return conn


class _Inheritance:
    def __init__(self, transit, shared):
        self.transit = transit
        self.shared = shared


_spawning = threading.local()


@contextlib.contextmanager
def inheriting(start_method, shared):
    """Pickles made in the block by this thread are the state of a child being started.

    Yields the transit table (``dev.polypool.sync.HandleTable``) holding the child's copies
    of pipe ends, which the caller hands to the engine to close when the child (``shared``
    False: a process, which adopts the copies) or the pool (``shared`` True: each worker
    duplicates them) ends. It is closed here if the block raises.
    """
    transit = _services.newHandleTable()
    if start_method == "fork":
        transit.inheritAll(_handles)
    previous = getattr(_spawning, "value", None)
    _spawning.value = _Inheritance(transit, shared)
    try:
        yield transit
    except BaseException:
        transit.closeAll()
        raise
    finally:
        _spawning.value = previous


# ---------------------------------------------------------------------------
# wait

def _fd_of(obj):
    # the checks and messages of selectors, through which CPython's wait registers objects
    if isinstance(obj, int):
        fd = obj
    else:
        try:
            fd = int(obj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {obj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


def wait(object_list, timeout=None):
    """Wait till an object in object_list is ready/readable.

    Returns list of those objects in object_list which are ready/readable."""
    objects, fds = [], set()
    for obj in object_list:
        fd = _fd_of(obj)
        if fd in fds:
            raise KeyError(f"{obj!r} (FD {fd}) is already registered")
        fds.add(fd)
        objects.append((obj, fd))
    ours, waitables, foreign, gone = [], [], [], []
    for obj, fd in objects:
        if fd < FIRST_FD:
            foreign.append(obj)
            continue
        waitable = obj._end if isinstance(obj, Connection) else _services.waitable(fd)
        if waitable is None:
            # a closed handle or a forgotten process: ready, as poll() reports a closed fd
            gone.append(obj)
        else:
            ours.append(obj)
            waitables.append(waitable)
    if gone:
        timeout = 0
    if not foreign:
        ready = wait_in_slices(lambda seconds: _services.awaitReady(waitables, seconds),
                               True, timeout, len)
        return gone + [ours[i] for i in ready]
    return gone + _wait_mixed(ours, waitables, foreign, timeout)


def _wait_mixed(ours, waitables, foreign, timeout):
    """Wait on the engine's objects and real descriptors together, in short slices."""
    deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
    with selectors.DefaultSelector() as selector:
        for obj in foreign:
            selector.register(obj, selectors.EVENT_READ)
        while True:
            ready = [ours[i] for i in _services.awaitReady(waitables, 0.0)]
            left = _MIXED_SLICE if deadline is None else min(_MIXED_SLICE, deadline - time.monotonic())
            ready += [key.fileobj for key, _ in selector.select(0 if ready else max(left, 0.0))]
            if ready or (deadline is not None and time.monotonic() >= deadline):
                return ready
