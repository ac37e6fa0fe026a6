"""``multiprocessing.managers`` across contexts.

CPython's manager is a server process that proxies reach over a Unix socket. GraalPy has
no ``AF_UNIX`` sockets and contexts share no file descriptors, so the stdlib's manager
code (``Server``, ``BaseProxy``, ``SyncManager`` and its proxy types, ``register``) runs
unchanged on another transport: ``Listener`` and ``Client`` here connect threads of any
contexts through ``dev.polypool.sync.SharedChannel`` objects found by address, and carry
the same pickled messages and authentication handshake as CPython's connections. The
server still runs in a process of its own (a context, started by ``BaseManager.start``),
so proxies return copies and re-raise the server's exceptions as in CPython. Addresses
are reachable only from this JVM.
"""

import errno
import itertools
import queue
import threading
import time

import polyglot
from multiprocessing import connection, util
from multiprocessing.context import ProcessError
from multiprocessing.reduction import ForkingPickler

from polypool.sync import wait_in_slices

_services = polyglot.import_value("polypool.sync")
_EMPTY = "\x00polypool-empty"  # SharedChannel.EMPTY
_EOF = "\x00polypool-eof"      # SharedChannel.EOF
_SENT, _CLOSED = 0, 1          # SharedChannel.SENT, CLOSED


def _key(address):
    """The Java registry key of an address: Unix-socket paths as they are, (host, port) pairs as text."""
    if isinstance(address, str):
        return address
    if isinstance(address, tuple) and len(address) == 2:
        return f"{address[0]}:{address[1]}"
    raise ValueError(f"address type of {address!r} unrecognized")


class Connection:
    """One end of a ``SharedChannel``, with the interface of ``multiprocessing.connection.Connection``."""

    def __init__(self, end):
        self._end = end

    def _check_closed(self):
        if self._end is None:
            raise OSError("handle is closed")

    @property
    def closed(self):
        return self._end is None

    @property
    def readable(self):
        return True

    @property
    def writable(self):
        return True

    def fileno(self):
        self._check_closed()
        raise OSError(errno.EBADF, "a polypool manager connection has no file descriptor")

    def send_bytes(self, buf, offset=0, size=None):
        self._check_closed()
        data = memoryview(buf).cast("B")
        if offset < 0:
            raise ValueError("offset is negative")
        if len(data) < offset:
            raise ValueError("buffer length < offset")
        if size is None:
            size = len(data) - offset
        elif size < 0:
            raise ValueError("size is negative")
        elif offset + size > len(data):
            raise ValueError("buffer length < offset + size")
        status = self._end.send(bytes(data[offset:offset + size]).decode("latin-1"))
        if status != _SENT:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def send(self, obj):
        self._check_closed()
        self.send_bytes(ForkingPickler.dumps(obj))

    def recv_bytes(self, maxlength=None):
        self._check_closed()
        if maxlength is not None and maxlength < 0:
            raise ValueError("negative maxlength")
        message = wait_in_slices(self._end.recv, True, None, lambda m: m != _EMPTY)
        if message == _EOF:
            raise EOFError
        if maxlength is not None and len(message) > maxlength:
            self.close()
            raise OSError("bad message length")
        return message.encode("latin-1")

    def recv(self):
        return ForkingPickler.loads(self.recv_bytes())

    def poll(self, timeout=0.0):
        self._check_closed()
        return bool(wait_in_slices(self._end.poll, timeout is None or timeout > 0,
                                   timeout, bool))

    def close(self):
        if self._end is not None:
            self._end.close()
            self._end = None

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()


_ports = itertools.count(49152)  # "ports" for ("host", 0) addresses, from the dynamic range


class Listener:
    """Accepts manager connections at an address, as ``multiprocessing.connection.Listener``."""

    def __init__(self, address=None, family=None, backlog=1, authkey=None):
        if authkey is not None and not isinstance(authkey, bytes):
            raise TypeError("authkey should be a byte string")
        if address is None:
            address = connection.arbitrary_address(family or "AF_UNIX")
        if isinstance(address, tuple) and address[1] == 0:
            while True:
                candidate = (address[0], next(_ports))
                listener = _services.newListener(_key(candidate))
                if listener is not None:
                    address = candidate
                    break
        else:
            listener = _services.newListener(_key(address))
            if listener is None:
                raise OSError(errno.EADDRINUSE, "Address already in use")
        self._listener = listener
        self._address = address
        self._authkey = authkey

    def accept(self):
        if self._listener is None:
            raise OSError("listener is closed")
        end = wait_in_slices(self._listener.accept, True, None,
                             lambda e: e is not None or not self._listener.open())
        if end is None:
            time.sleep(0.1)  # the stdlib's accepter retries at once: do not spin
            raise OSError("listener is closed")
        conn = Connection(end)
        if self._authkey is not None:
            connection.deliver_challenge(conn, self._authkey)
            connection.answer_challenge(conn, self._authkey)
        return conn

    def close(self):
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    @property
    def address(self):
        return self._address

    @property
    def last_accepted(self):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()


def Client(address, family=None, authkey=None):
    """Connect to the ``Listener`` at ``address``, as ``multiprocessing.connection.Client``."""
    if authkey is not None and not isinstance(authkey, bytes):
        raise TypeError("authkey should be a byte string")
    end = _services.connect(_key(address))
    if end is None:
        if isinstance(address, str):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    conn = Connection(end)
    if authkey is not None:
        connection.answer_challenge(conn, authkey)
        connection.deliver_challenge(conn, authkey)
    return conn


def _import_xmlrpclib():
    # as CPython's XmlListener and XmlClient do: _xml_dumps/_xml_loads use this global
    import xmlrpc.client
    connection.xmlrpclib = xmlrpc.client


class XmlListener(Listener):
    def accept(self):
        _import_xmlrpclib()
        return connection.ConnectionWrapper(super().accept(), connection._xml_dumps,
                                            connection._xml_loads)


def XmlClient(*args, **kwds):
    _import_xmlrpclib()
    return connection.ConnectionWrapper(Client(*args, **kwds), connection._xml_dumps,
                                        connection._xml_loads)


class _AddressWriter:
    """What the server process reports its address through: a queue, not a pipe, since
    contexts share no file descriptors."""

    def __init__(self, address_queue):
        self._queue = address_queue

    def send(self, address):
        self._queue.put(address)

    def close(self):
        self._queue.close()


def _read_address(address_queue, server):
    """The address the server process reports; EOFError if it ends first, as a pipe reader
    sees when the writing process dies."""
    while True:
        try:
            return address_queue.get(timeout=0.1)
        except queue.Empty:
            if not server.is_alive():
                raise EOFError from None


def _start(self, initializer=None, initargs=()):
    """Start the server process of this manager (``BaseManager.start``)."""
    from multiprocessing.managers import State
    state = self._state.value
    if state != State.INITIAL:
        if state == State.STARTED:
            raise ProcessError("Already started server")
        if state == State.SHUTDOWN:
            raise ProcessError("Manager has shut down")
        raise ProcessError("Unknown state {!r}".format(state))
    if initializer is not None and not callable(initializer):
        raise TypeError("initializer must be a callable")
    from polypool.queues import Queue
    address_queue = Queue()
    self._process = self._ctx.Process(
        target=type(self)._run_server,
        args=(self._registry, self._address, self._authkey, self._serializer,
              _AddressWriter(address_queue), initializer, initargs))
    self._process.name = type(self).__name__ + "-" + ":".join(str(i) for i in self._process._identity)
    self._process.start()
    self._address = _read_address(address_queue, self._process)
    self._state.value = State.STARTED
    self.shutdown = util.Finalize(
        self, type(self)._finalize_manager,
        args=(self._process, self._address, self._authkey, self._state, self._Client,
              self._shutdown_timeout),
        exitpriority=0)


class Lock:
    """``SyncManager.Lock``'s object in the server: a ``threading.Lock`` whose ``release``
    of an unlocked lock raises ``RuntimeError``, as CPython's does and GraalPy's does not.
    (GraalPy's lock type cannot be subclassed; a wrapper costs nothing next to the message
    each proxy call is, which is why only the manager's lock gets one.) ``acquire`` and
    ``locked`` are the lock's own."""

    __slots__ = ("_lock", "_releasing", "acquire", "locked")

    def __init__(self):
        self._lock = threading.Lock()
        self._releasing = threading.Lock()  # two releases of a held lock: the second raises
        self.acquire = self._lock.acquire
        self.locked = self._lock.locked

    def release(self):
        with self._releasing:
            if not self._lock.locked():
                raise RuntimeError("release unlocked lock")
            self._lock.release()

    def __enter__(self):
        return self._lock.__enter__()

    def __exit__(self, *args):
        self.release()

    def __repr__(self):
        return repr(self._lock)


def install(module):
    """Put the engine's transport under ``multiprocessing.managers``."""
    module.listener_client["pickle"] = (Listener, Client)
    module.listener_client["xmlrpclib"] = (XmlListener, XmlClient)
    module.BaseManager.start = _start
    module.SyncManager.register("Lock", Lock, module.AcquirerProxy)
