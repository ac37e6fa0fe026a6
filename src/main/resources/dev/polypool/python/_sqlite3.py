"""``_sqlite3`` on sqlite-jdbc's SQLite (``dev.polypool.stdlib.SqliteDb``).

GraalPy's ``_sqlite3`` is native code, which loads into one context per process; polypool
puts this module before it on ``sys.path`` so that ``sqlite3`` works in the main program and
in every worker at once. sqlite-jdbc loads its SQLite library once per JVM, and each
connection here is one SQLite connection of it. The API and its messages are CPython 3.12's
(GraalPy's ``sqlite3`` package is 3.12's); what SQLite's C API gives CPython and sqlite-jdbc
does not expose is derived: statement tails, parameter names and ``in_transaction`` from a
scan of the SQL (``dev.polypool.stdlib.SqlText``), ``lastrowid`` from
``last_insert_rowid()``, a blob handle from SQL reads and writes. ``set_authorizer``,
``create_window_function`` and ``setconfig``/``getconfig`` raise ``NotSupportedError``.
"""

import collections as _collections
import os as _os
import sys as _sys
import threading as _threading
import weakref as _weakref

import polyglot as _polyglot

_java = _polyglot.import_value("polypool.stdlib")

sqlite_version = _java.sqliteVersion()
sqlite_version_info = tuple(int(x) for x in sqlite_version.split("."))
_deprecated_version = "2.6.0"
threadsafety = 3
PARSE_DECLTYPES = 1
PARSE_COLNAMES = 2
LEGACY_TRANSACTION_CONTROL = -1

# SQLite's C API constants, as CPython's _sqlite3 exports them (SQLITE_ + name)
_CONSTANTS = dict(
    ABORT=4, ABORT_ROLLBACK=516, ALTER_TABLE=26, ANALYZE=28, ATTACH=24, AUTH=23, AUTH_USER=279,
    BUSY=5, BUSY_RECOVERY=261, BUSY_SNAPSHOT=517, BUSY_TIMEOUT=773, CANTOPEN=14,
    CANTOPEN_CONVPATH=1038, CANTOPEN_DIRTYWAL=1294, CANTOPEN_FULLPATH=782, CANTOPEN_ISDIR=526,
    CANTOPEN_NOTEMPDIR=270, CANTOPEN_SYMLINK=1550, CONSTRAINT=19, CONSTRAINT_CHECK=275,
    CONSTRAINT_COMMITHOOK=531, CONSTRAINT_FOREIGNKEY=787, CONSTRAINT_FUNCTION=1043,
    CONSTRAINT_NOTNULL=1299, CONSTRAINT_PINNED=2835, CONSTRAINT_PRIMARYKEY=1555,
    CONSTRAINT_ROWID=2579, CONSTRAINT_TRIGGER=1811, CONSTRAINT_UNIQUE=2067,
    CONSTRAINT_VTAB=2323, CORRUPT=11, CORRUPT_INDEX=779, CORRUPT_SEQUENCE=523,
    CORRUPT_VTAB=267, CREATE_INDEX=1, CREATE_TABLE=2, CREATE_TEMP_INDEX=3, CREATE_TEMP_TABLE=4,
    CREATE_TEMP_TRIGGER=5, CREATE_TEMP_VIEW=6, CREATE_TRIGGER=7, CREATE_VIEW=8,
    CREATE_VTABLE=29, DBCONFIG_DEFENSIVE=1010, DBCONFIG_DQS_DDL=1014, DBCONFIG_DQS_DML=1013,
    DBCONFIG_ENABLE_FKEY=1002, DBCONFIG_ENABLE_FTS3_TOKENIZER=1004,
    DBCONFIG_ENABLE_LOAD_EXTENSION=1005, DBCONFIG_ENABLE_QPSG=1007,
    DBCONFIG_ENABLE_TRIGGER=1003, DBCONFIG_ENABLE_VIEW=1015, DBCONFIG_LEGACY_ALTER_TABLE=1012,
    DBCONFIG_LEGACY_FILE_FORMAT=1016, DBCONFIG_NO_CKPT_ON_CLOSE=1006,
    DBCONFIG_RESET_DATABASE=1009, DBCONFIG_TRIGGER_EQP=1008, DBCONFIG_TRUSTED_SCHEMA=1017,
    DBCONFIG_WRITABLE_SCHEMA=1011, DELETE=9, DENY=1, DETACH=25, DONE=101, DROP_INDEX=10,
    DROP_TABLE=11, DROP_TEMP_INDEX=12, DROP_TEMP_TABLE=13, DROP_TEMP_TRIGGER=14,
    DROP_TEMP_VIEW=15, DROP_TRIGGER=16, DROP_VIEW=17, DROP_VTABLE=30, EMPTY=16, ERROR=1,
    ERROR_MISSING_COLLSEQ=257, ERROR_RETRY=513, ERROR_SNAPSHOT=769, FORMAT=24, FULL=13,
    FUNCTION=31, IGNORE=2, INSERT=18, INTERNAL=2, INTERRUPT=9, IOERR=10, IOERR_ACCESS=3338,
    IOERR_AUTH=7178, IOERR_BEGIN_ATOMIC=7434, IOERR_BLOCKED=2826, IOERR_CHECKRESERVEDLOCK=3594,
    IOERR_CLOSE=4106, IOERR_COMMIT_ATOMIC=7690, IOERR_CONVPATH=6666, IOERR_CORRUPTFS=8458,
    IOERR_DATA=8202, IOERR_DELETE=2570, IOERR_DELETE_NOENT=5898, IOERR_DIR_CLOSE=4362,
    IOERR_DIR_FSYNC=1290, IOERR_FSTAT=1802, IOERR_FSYNC=1034, IOERR_GETTEMPPATH=6410,
    IOERR_LOCK=3850, IOERR_MMAP=6154, IOERR_NOMEM=3082, IOERR_RDLOCK=2314, IOERR_READ=266,
    IOERR_ROLLBACK_ATOMIC=7946, IOERR_SEEK=5642, IOERR_SHMLOCK=5130, IOERR_SHMMAP=5386,
    IOERR_SHMOPEN=4618, IOERR_SHMSIZE=4874, IOERR_SHORT_READ=522, IOERR_TRUNCATE=1546,
    IOERR_UNLOCK=2058, IOERR_VNODE=6922, IOERR_WRITE=778, LIMIT_ATTACHED=7, LIMIT_COLUMN=2,
    LIMIT_COMPOUND_SELECT=4, LIMIT_EXPR_DEPTH=3, LIMIT_FUNCTION_ARG=6, LIMIT_LENGTH=0,
    LIMIT_LIKE_PATTERN_LENGTH=8, LIMIT_SQL_LENGTH=1, LIMIT_TRIGGER_DEPTH=10,
    LIMIT_VARIABLE_NUMBER=9, LIMIT_VDBE_OP=5, LIMIT_WORKER_THREADS=11, LOCKED=6,
    LOCKED_SHAREDCACHE=262, LOCKED_VTAB=518, MISMATCH=20, MISUSE=21, NOLFS=22, NOMEM=7,
    NOTADB=26, NOTFOUND=12, NOTICE=27, NOTICE_RECOVER_ROLLBACK=539, NOTICE_RECOVER_WAL=283,
    OK=0, OK_LOAD_PERMANENTLY=256, OK_SYMLINK=512, PERM=3, PRAGMA=19, PROTOCOL=15, RANGE=25,
    READ=20, READONLY=8, READONLY_CANTINIT=1288, READONLY_CANTLOCK=520, READONLY_DBMOVED=1032,
    READONLY_DIRECTORY=1544, READONLY_RECOVERY=264, READONLY_ROLLBACK=776, RECURSIVE=33,
    REINDEX=27, ROW=100, SAVEPOINT=32, SCHEMA=17, SELECT=21, TOOBIG=18, TRANSACTION=22,
    UPDATE=23, WARNING=28, WARNING_AUTOINDEX=284
)
globals().update({"SQLITE_" + _k: _v for _k, _v in _CONSTANTS.items()})

_OK, _ROW, _DONE = 0, 100, 101
_LIMIT_SQL_LENGTH = 1
_DML, _QUERY = 1, 2  # dev.polypool.stdlib.SqlText's kinds
_ERROR_NAMES = {}
_names = _java.sqliteErrorNames()
for _i in range(0, len(_names), 2):
    _ERROR_NAMES.setdefault(int(_names[_i]), str(_names[_i + 1]))
del _names, _i


class Warning(Exception):
    pass


class Error(Exception):
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


_EXCEPTIONS = (Warning, Error, InterfaceError, DatabaseError, DataError, OperationalError,
               IntegrityError, InternalError, ProgrammingError, NotSupportedError)
for _e in _EXCEPTIONS:
    _e.__module__ = "sqlite3"
del _e

# primary result code -> exception, as CPython's _pysqlite_seterror maps them
_BY_CODE = {2: InternalError, 12: InternalError, 11: DatabaseError, 18: DataError,
            19: IntegrityError, 20: IntegrityError, 21: InterfaceError, 25: InterfaceError}
for _c in (1, 3, 4, 5, 6, 8, 9, 10, 13, 14, 15, 16, 17):
    _BY_CODE[_c] = OperationalError
del _c


# the exception a callback raised during the current step: MemoryError and OverflowError
# become MemoryError and DataError, as SQLite's nomem/toobig results do in CPython
_callback_exception = None


def _raise_error(db, code=None):
    global _callback_exception
    pending, _callback_exception = _callback_exception, None
    if isinstance(pending, MemoryError):
        raise MemoryError()
    if isinstance(pending, OverflowError):
        exc = DataError("string or blob too big")
        exc.sqlite_errorcode = 18
        exc.sqlite_errorname = "SQLITE_TOOBIG"
        raise exc
    code = db.errorCode() if code is None else code
    message = db.errorMessage()
    message = "not an error" if message is None else str(message)
    primary = code & 0xFF
    if primary == 7:
        raise MemoryError()
    exc = _BY_CODE.get(primary, DatabaseError)(message)
    exc.sqlite_errorcode = code
    exc.sqlite_errorname = _ERROR_NAMES.get(code, _ERROR_NAMES.get(primary, "unknown"))
    raise exc


class PrepareProtocol:
    """PEP 246 style object adaption protocol type."""

    def __init__(self, *args, **kwargs):
        pass


PrepareProtocol.__module__ = "sqlite3"

adapters = {}
converters = {}
_base_type_adapted = False
_callback_tracebacks = False
_missing = object()


def register_adapter(type, adapter, /):
    """Register a function to adapt Python objects to SQLite values."""
    global _base_type_adapted
    if type in (int, float, str, bytearray):
        _base_type_adapted = True
    adapters[(type, PrepareProtocol)] = adapter


def register_converter(typename, converter, /):
    """Register a function to convert SQLite values to Python objects."""
    if not isinstance(typename, str):
        raise TypeError(f"register_converter() argument 1 must be str, not {type(typename).__name__}")
    converters[typename.upper()] = converter


def adapt(obj, proto=PrepareProtocol, alt=_missing, /):
    """Adapt given object to given protocol."""
    adapter = adapters.get((type(obj), proto))
    if adapter is not None:
        return adapter(obj)
    try:
        proto_adapt = proto.__adapt__
    except AttributeError:
        pass
    else:
        adapted = proto_adapt(obj)
        if adapted is not None:
            return adapted
    try:
        conform = obj.__conform__
    except AttributeError:
        pass
    else:
        adapted = conform(proto)
        if adapted is not None:
            return adapted
    if alt is not _missing:
        return alt
    raise ProgrammingError("can't adapt")


def complete_statement(statement):
    """Checks if a string contains a complete SQL statement."""
    if not isinstance(statement, str):
        raise TypeError(f"complete_statement() argument 'statement' must be str, not {type(statement).__name__}")
    return bool(_java.sqliteComplete(statement))


def enable_callback_tracebacks(enable, /):
    """Enable or disable callback functions throwing errors to stderr."""
    global _callback_tracebacks
    _callback_tracebacks = bool(int(enable))


def _print_callback_traceback(callback, exc=None):
    """Reports the exception being handled, raised by ``callback``, if tracebacks are on."""
    global _callback_exception
    exc = _sys.exc_info()[1] if exc is None else exc
    _callback_exception = exc
    if _callback_tracebacks:
        _sys.unraisablehook(_Unraisable(exc, callback))


class _Unraisable:
    def __init__(self, exc, callback):
        self.exc_type = type(exc)
        self.exc_value = exc
        self.exc_traceback = exc.__traceback__
        self.err_msg = None
        self.object = callback


_INT_MIN, _INT_MAX = -(1 << 63), (1 << 63) - 1
_PLAIN = frozenset((str, float, type(None), bytes))


def _bindable(value, index):
    """A parameter as the Java side binds it: int, float, str, bytes or None."""
    t = type(value)
    if not _base_type_adapted:
        if t is int:
            if _INT_MIN <= value <= _INT_MAX:
                return value
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        if t in _PLAIN:
            return value
    if _base_type_adapted or t not in (bytearray,):
        value = adapt(value, PrepareProtocol, value)
        t = type(value)
        if t is int:
            if _INT_MIN <= value <= _INT_MAX:
                return value
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        if t in _PLAIN:
            return value
    if isinstance(value, int):
        return _bindable(int(value), index)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    try:
        return bytes(memoryview(value))
    except TypeError:
        pass
    raise ProgrammingError(f"Error binding parameter {index}: type '{type(value).__name__}' is not supported")


def _from_java(value):
    """A value from Java (int, float, str, null or a SqliteBytes) as Python's."""
    if type(value) in _RESULT_TYPES:
        return value
    if value is None:
        # also a Java null passed as an argument, polyglot's ForeignNone ("is None" but not None)
        return None
    return value.latin1().encode("latin-1")


_RESULT_TYPES = frozenset((int, float, str))


def _to_result(value):
    """A user function's result as the Java side sets it."""
    t = type(value)
    if t is int:
        if _INT_MIN <= value <= _INT_MAX:
            return value
        raise OverflowError("Python int too large to convert to SQLite INTEGER")
    if t in _PLAIN:
        if t is str:
            value.encode("utf-8")  # lone surrogates raise, as in CPython
        return value
    if isinstance(value, int):
        return _to_result(int(value))
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    view = memoryview(value)
    if not view.c_contiguous:
        raise BufferError("underlying buffer is not C-contiguous")
    return view.tobytes()


def _decode(s, ncols, text_factory=None):
    """The rows of ``s``, in dev.polypool.stdlib.Cells' format, as tuples."""
    rows = []
    row = []
    i = 0
    n = len(s)
    find = s.find
    while i < n:
        t = s[i]
        if t == "N":
            row.append(None)
            i += 1
        elif t == "I":
            j = find(";", i)
            row.append(int(s[i + 1:j]))
            i = j + 1
        elif t == "S":
            j = find(":", i)
            e = j + 1 + int(s[i + 1:j])
            row.append(s[j + 1:e])
            i = e
        elif t == "F":
            j = find(";", i)
            row.append(float(s[i + 1:j]))
            i = j + 1
        else:
            j = find(":", i)
            e = j + 1 + int(s[i + 1:j])
            v = s[j + 1:e].encode("latin-1")
            row.append(text_factory(v) if t == "T" else v)
            i = e
        if len(row) == ncols:
            rows.append(tuple(row))
            row = []
    return rows


def _check_surrogates(bound):
    for v in bound:
        if type(v) is str:
            v.encode("utf-8")


def _raise_bind_or_step(db, rc, bound):
    if rc == _SURROGATE:
        _check_surrogates(bound)
    _raise_error(db, rc)


_SURROGATE = -2  # SqliteStatement.SURROGATE
_NEEDS_PYTHON = -3  # SqliteStatement.NEEDS_PYTHON
_PLAIN_ROWS = frozenset((tuple, list))
_PLAIN_VALUES = frozenset((int, float, str, bytes, type(None)))


def _is_plain_batch(batch):
    """Whether every row is a tuple or list of int, float, str, bytes or None (a few bulk calls)."""
    if not set(map(type, batch)) <= _PLAIN_ROWS:
        return False
    from itertools import chain
    return set(map(type, chain.from_iterable(batch))) <= _PLAIN_VALUES



class _CallbackError(Exception):
    """Raised to the Java side with SQLite's message as the only argument."""


class _Statement:
    __slots__ = ("java", "kind", "nparams", "names", "ncols", "in_use", "sql", "_colnames", "_decltypes")

    def __init__(self, java, sql):
        self.java = java
        self.sql = sql
        self.kind = java.kind()
        self.nparams = java.parameterCount()
        names = None
        for i in range(1, self.nparams + 1):
            name = java.parameterName(i)
            if name is not None:
                if names is None:
                    names = [None] * self.nparams
                names[i - 1] = str(name)
        self.names = names
        self.ncols = java.columnCount()
        self.in_use = False
        self._colnames = None
        self._decltypes = None

    def colnames(self):
        if self._colnames is None:
            self._colnames = [str(n) for n in self.java.columnNames()]
        return self._colnames

    def decltypes(self):
        if self._decltypes is None:
            self._decltypes = [None if t is None else str(t) for t in self.java.declaredTypes()]
        return self._decltypes

    def bind(self, params):
        """The parameter row as a list the Java side binds."""
        n = self.nparams
        if type(params) in (tuple, list) or (not isinstance(params, dict) and _is_sequence(params)):
            if len(params) != n:
                raise ProgrammingError(f"Incorrect number of bindings supplied. The current statement uses {n}, "
                                       f"and there are {len(params)} supplied.")
            if self.names is not None:
                for i, name in enumerate(self.names):
                    if name is not None:
                        import warnings
                        warnings.warn(f"Binding {i + 1} ('{name}') is a named parameter, but you supplied a "
                                      "sequence which requires nameless (qmark) placeholders. Starting with "
                                      "Python 3.14 an sqlite3.ProgrammingError will be raised.",
                                      DeprecationWarning, stacklevel=4)
                        break
            out = None
            for i in range(n):
                v = params[i]
                t = type(v)
                if not _base_type_adapted and (t in _PLAIN or (t is int and _INT_MIN <= v <= _INT_MAX)):
                    if out is not None:
                        out.append(v)
                    continue
                if out is None:
                    out = [params[j] for j in range(i)]
                out.append(_bindable(v, i + 1))
            if out is None:
                return params if type(params) in (tuple, list) else [params[i] for i in range(n)]
            return out
        if isinstance(params, dict):
            out = []
            exact = type(params) is dict
            for i in range(n):
                name = self.names[i] if self.names is not None else None
                if name is None:
                    raise ProgrammingError(f"Binding {i + 1} has no name, but you supplied a dictionary "
                                           "(which has only names).")
                key = name[1:]
                try:
                    v = params[key] if not exact else params[key]
                except KeyError:
                    raise ProgrammingError(f"You did not supply a value for binding parameter {name}.") from None
                out.append(_bindable(v, i + 1))
            return out
        raise ProgrammingError("parameters are of unsupported type")


def _is_sequence(obj):
    try:
        len(obj)
        obj.__getitem__
    except (TypeError, AttributeError):
        return False
    return not isinstance(obj, (str, bytes))


def _check_thread(conn):
    if conn._check_same_thread and _threading.get_ident() != conn._thread_ident:
        raise ProgrammingError("SQLite objects created in a thread can only be used in that same thread. "
                               f"The object was created in thread id {conn._thread_ident} and this is "
                               f"thread id {_threading.get_ident()}.")


class Connection:
    """SQLite database connection object."""

    def __init__(self, database, timeout=5.0, detect_types=0, isolation_level="", check_same_thread=True,
                 factory=None, cached_statements=128, uri=False, *, autocommit=LEGACY_TRANSACTION_CONTROL):
        if getattr(self, "_db", None) is not None:
            self.close()
        database = _os.fsdecode(_os.fspath(database)) if not isinstance(database, str) else database
        if "\0" in database:
            raise ValueError("embedded null character")
        if not isinstance(timeout, (int, float)):
            raise TypeError(f"must be real number, not {type(timeout).__name__}")
        if not isinstance(detect_types, int):
            raise TypeError(f"'{type(detect_types).__name__}' object cannot be interpreted as an integer")
        _check_autocommit(autocommit)
        flags = 0x2 | 0x4 | (0x40 if uri else 0)  # READWRITE | CREATE | URI
        db = _java.sqliteOpen(database, flags, int(timeout * 1000))
        if not db.isOpen():
            _raise_error(db)
        self._db = db
        self._finalizer = _weakref.finalize(self, db.close)
        self._thread_ident = _threading.get_ident()
        self._check_same_thread = bool(check_same_thread)
        self._detect_types = detect_types
        self._cache = _collections.OrderedDict()
        self._cache_size = cached_statements
        self._cursors = _weakref.WeakSet()
        self._trace = None
        self._autocommit = autocommit
        self.row_factory = None
        self.text_factory = str
        self._isolation_level = None
        self._begin_sql = None
        self.isolation_level = isolation_level
        for e in _EXCEPTIONS:
            setattr(self, e.__name__, e)
        if autocommit is False:
            self._exec("BEGIN")

    # -- state checks

    def _check_init(self):
        if getattr(self, "_db", _missing) is _missing:
            raise ProgrammingError("Base Connection.__init__ not called.")

    def _check(self):
        db = getattr(self, "_db", _missing)
        if db is _missing:
            raise ProgrammingError("Base Connection.__init__ not called.")
        if db is None:
            raise ProgrammingError("Cannot operate on a closed database.")
        _check_thread(self)
        return db

    def _exec(self, sql):
        db = self._db
        if self._trace is not None:
            self._call_trace(sql)
        if db.exec(sql) != _OK:
            _raise_error(db)

    def _call_trace(self, sql):
        try:
            self._trace(sql)
        except Exception:
            _print_callback_traceback(self._trace)

    def _statement(self, sql):
        if "\0" in sql:
            raise ProgrammingError("the query contains a null character")
        sql.encode("utf-8")  # lone surrogates raise UnicodeEncodeError, as in CPython
        st = self._cache.get(sql)
        if st is not None:
            self._cache.move_to_end(sql)
            if not st.in_use:
                return st
        st = self._prepare(sql)
        if self._cache_size > 0:
            self._cache[sql] = st
            if len(self._cache) > self._cache_size:
                _, old = self._cache.popitem(last=False)
                if not old.in_use:
                    old.java.close()
        return st

    def _prepare(self, sql):
        db = self._db
        if len(sql) > db.limit(_LIMIT_SQL_LENGTH, -1):
            raise DataError("query string is too large")
        java = db.prepare(sql, 0)
        if java is None:
            _raise_error(db)
        if java.hasTail():
            java.close()
            raise ProgrammingError("You can only execute one statement at a time.")
        return _Statement(java, sql)

    # -- attributes

    @property
    def isolation_level(self):
        self._check_init()
        return self._isolation_level

    @isolation_level.setter
    def isolation_level(self, value):
        if value is None:
            self._isolation_level = None
            self._begin_sql = None
            if self._db is not None and self._autocommit == LEGACY_TRANSACTION_CONTROL and self._db.inTransaction():
                self._exec("COMMIT")
            return
        if not isinstance(value, str):
            raise TypeError("isolation_level must be str or None, not " + type(value).__name__)
        level = str.upper(value)
        if level not in ("", "DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError("isolation_level string must be '', 'DEFERRED', 'IMMEDIATE', or 'EXCLUSIVE'")
        self._isolation_level = str(value)
        self._begin_sql = "BEGIN " + level

    @property
    def autocommit(self):
        self._check()
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value):
        self._check()
        _check_autocommit(value)
        if value is True and self._db.inTransaction():
            self._exec("COMMIT")
        elif value is False and not self._db.inTransaction():
            self._exec("BEGIN")
        self._autocommit = value

    @property
    def in_transaction(self):
        return bool(self._check().inTransaction())

    @property
    def total_changes(self):
        return int(self._check().totalChanges())

    # -- DB-API

    def cursor(self, factory=_missing):
        self._check()
        cur = Cursor(self) if factory is _missing else factory(self)
        if not issubclass(type(cur), Cursor):
            raise TypeError(f"factory must return a cursor, not {type(cur).__name__}")
        if self.row_factory is not None:
            cur.row_factory = self.row_factory
        return cur

    def execute(self, sql, parameters=(), /):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, parameters, /):
        return self.cursor().executemany(sql, parameters)

    def executescript(self, sql_script, /):
        return self.cursor().executescript(sql_script)

    def commit(self):
        db = self._check()
        if self._autocommit == LEGACY_TRANSACTION_CONTROL:
            if db.inTransaction():
                self._exec("COMMIT")
        elif self._autocommit is False:
            self._exec("COMMIT")
            self._exec("BEGIN")

    def rollback(self):
        db = self._check()
        if self._autocommit == LEGACY_TRANSACTION_CONTROL:
            if db.inTransaction():
                self._exec("ROLLBACK")
        elif self._autocommit is False:
            self._exec("ROLLBACK")
            self._exec("BEGIN")

    def close(self):
        db = getattr(self, "_db", _missing)
        if db is _missing:
            raise ProgrammingError("Base Connection.__init__ not called.")
        if db is None:
            return
        _check_thread(self)
        if self._autocommit is False and db.inTransaction():
            self._exec("ROLLBACK")
        for cur in list(self._cursors):
            cur._release()
        self._cache.clear()
        self._db = None
        self._finalizer.detach()
        if db.close() != _OK:
            _raise_error(db)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.rollback()
                raise
        else:
            self.rollback()
        return False

    def __call__(self, sql=_missing, /):
        self._check()
        if sql is _missing:
            raise TypeError("__call__() missing required argument 'sql' (pos 1)")
        if not isinstance(sql, str):
            raise TypeError("argument must be str, not " + type(sql).__name__)
        return self._statement(sql)

    # -- callbacks

    def create_function(self, name, narg, func, *, deterministic=False):
        db = self._check()
        if func is None:
            rc = db.createFunction(name, narg, bool(deterministic), None)
        else:
            def call(*args):
                try:
                    result = func(*[_from_java(a) for a in args])
                except BaseException:
                    _print_callback_traceback(func)
                    raise _CallbackError("user-defined function raised exception") from None
                try:
                    return _to_result(result)
                except BaseException as e:
                    _print_callback_traceback(func, e)
                    raise _CallbackError("user-defined function raised exception") from None
            rc = db.createFunction(name, narg, bool(deterministic), call)
        if rc != _OK:
            raise OperationalError("Error creating function")

    def create_aggregate(self, name, n_arg, aggregate_class):
        db = self._check()
        if aggregate_class is None:
            rc = db.createAggregate(name, n_arg, None, None, None)
        else:
            def create():
                try:
                    return [aggregate_class()]
                except BaseException:
                    _print_callback_traceback(aggregate_class)
                    raise _CallbackError("user-defined aggregate's '__init__' method raised error") from None

            def step(holder, *args):
                try:
                    method = holder[0].step
                except AttributeError as e:
                    _print_callback_traceback(aggregate_class, e)
                    raise _CallbackError("user-defined aggregate's 'step' method not defined") from None
                try:
                    method(*[_from_java(a) for a in args])
                except BaseException:
                    _print_callback_traceback(aggregate_class)
                    raise _CallbackError("user-defined aggregate's 'step' method raised error") from None

            def finish(holder):
                try:
                    method = holder[0].finalize
                except AttributeError as e:
                    _print_callback_traceback(aggregate_class, e)
                    raise _CallbackError("user-defined aggregate's 'finalize' method not defined") from None
                try:
                    return _to_result(method())
                except BaseException:
                    _print_callback_traceback(aggregate_class)
                    raise _CallbackError("user-defined aggregate's 'finalize' method raised error") from None
            rc = db.createAggregate(name, n_arg, create, step, finish)
        if rc != _OK:
            raise OperationalError("Error creating aggregate")

    def create_window_function(self, name, num_params, aggregate_class, /):
        self._check()
        raise NotSupportedError("create_window_function is not supported by polypool's sqlite3")

    def create_collation(self, name, callback, /):
        db = self._check()
        if not isinstance(name, str):
            raise TypeError(f"create_collation() argument 1 must be str, not {type(name).__name__}")
        name.encode("utf-8")
        if callback is None:
            rc = db.createCollation(name, None)
        else:
            if not callable(callback):
                raise TypeError("parameter must be callable")

            def compare(a, b):
                try:
                    r = callback(a, b)
                    if not isinstance(r, int):
                        return 0
                    return 1 if r > 0 else -1 if r < 0 else 0
                except BaseException:
                    _print_callback_traceback(callback)
                    return 0
            rc = db.createCollation(name, compare)
        if rc != _OK:
            _raise_error(db)

    def set_progress_handler(self, progress_handler, n):
        db = self._check()
        if progress_handler is None:
            db.setProgressHandler(None, 0)
            return

        def handler():
            try:
                return bool(progress_handler())
            except BaseException:
                _print_callback_traceback(progress_handler)
                return True
        db.setProgressHandler(handler, n)

    def set_authorizer(self, authorizer_callback):
        self._check()
        if authorizer_callback is not None:
            raise NotSupportedError("set_authorizer is not supported by polypool's sqlite3 "
                                    "(sqlite-jdbc has no authorizer)")

    def set_trace_callback(self, trace_callback):
        self._check()
        self._trace = trace_callback

    def enable_load_extension(self, enable, /):
        self._check()
        raise NotSupportedError("enable_load_extension is not supported by polypool's sqlite3")

    def load_extension(self, name, /, *, entrypoint=None):
        self._check()
        raise NotSupportedError("load_extension is not supported by polypool's sqlite3")

    def interrupt(self):
        db = getattr(self, "_db", None)
        if db is None:
            raise ProgrammingError("Cannot operate on a closed database.")
        db.interrupt()

    def getlimit(self, category, /):
        db = self._check()
        if not 0 <= category <= 11:
            raise ProgrammingError("'category' is out of bounds")
        return int(db.limit(category, -1))

    def setlimit(self, category, limit, /):
        db = self._check()
        if not 0 <= category <= 11:
            raise ProgrammingError("'category' is out of bounds")
        return int(db.limit(category, limit))

    def getconfig(self, op, /):
        self._check()
        raise NotSupportedError("getconfig is not supported by polypool's sqlite3")

    def setconfig(self, op, enable=True, /):
        self._check()
        raise NotSupportedError("setconfig is not supported by polypool's sqlite3")

    def serialize(self, *, name="main"):
        db = self._check()
        data = db.serialize(name)
        if data is None:
            _raise_error(db)
        return _from_java(data)

    def deserialize(self, data, /, *, name="main"):
        db = self._check()
        data = bytes(memoryview(data))
        if db.deserialize(name, data) != _OK:
            _raise_error(db)

    def backup(self, target, *, pages=-1, progress=None, name="main", sleep=0.250):
        db = self._check()
        if not isinstance(target, Connection):
            raise TypeError(f"backup() argument 'target' must be sqlite3.Connection, not {type(target).__name__}")
        if target is self:
            raise ValueError("target cannot be the same connection instance")
        target_db = target._check()
        if progress is not None and not callable(progress):
            raise TypeError("progress argument must be a callable")
        if db.backupTo(target_db, name) != _OK:
            _raise_error(db)
        if progress is not None:
            pages = self.execute(f'PRAGMA "{name}".page_count').fetchone()[0]
            progress(_DONE, 0, pages)

    def iterdump(self):
        self._check()
        from sqlite3.dump import _iterdump
        return _iterdump(self)

    def blobopen(self, table, column, row, /, *, readonly=False, name="main"):
        self._check()
        return Blob(self, table, column, row, readonly, name)


def _check_autocommit(value):
    if value is not True and value is not False and value != LEGACY_TRANSACTION_CONTROL:
        raise ValueError("autocommit must be True, False, or sqlite3.LEGACY_TRANSACTION_CONTROL")


class Cursor:
    """SQLite database cursor class."""

    def __init__(self, connection, /):
        if getattr(self, "_locked", False):
            raise ProgrammingError("Recursive use of cursors not allowed.")
        if not isinstance(connection, Connection):
            raise TypeError(f"argument 1 must be sqlite3.Connection, not {type(connection).__name__}")
        self._connection = connection
        self._stmt = None
        self._ahead = []   # rows read ahead by iteration: a batch crosses from Java at once
        self._ahead_at = 0
        self._read = 0
        self._closed = False
        self._locked = False
        self._converters = None
        self._raw = None
        self.arraysize = 1
        self._description = None
        self._rowcount = -1
        self._lastrowid = None
        self.row_factory = None
        connection._cursors.add(self)

    connection = property(lambda self: self._connection)
    description = property(lambda self: self._description)
    rowcount = property(lambda self: self._rowcount)
    lastrowid = property(lambda self: self._lastrowid)

    def _check(self):
        conn = getattr(self, "_connection", None)
        if conn is None:
            raise ProgrammingError("Base Cursor.__init__ not called.")
        if self._closed:
            raise ProgrammingError("Cannot operate on a closed cursor.")
        if self._locked:
            raise ProgrammingError("Recursive use of cursors not allowed.")
        conn._check()
        return conn

    def _release(self):
        self._ahead = []
        self._ahead_at = 0
        self._read = 0
        if self._stmt is not None:
            self._stmt.java.reset()
            self._stmt.in_use = False
            self._stmt = None

    def execute(self, sql, parameters=(), /):
        return self._execute(False, sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):
        return self._execute(True, sql, seq_of_parameters)

    def _execute(self, many, sql, params):
        conn = self._check()
        if not isinstance(sql, str):
            name = "executemany" if many else "execute"
            raise TypeError(f"{name}() argument 1 must be str, not {type(sql).__name__}")
        if many:
            rows = iter(params)
        self._release()
        self._description = None
        self._rowcount = 0
        self._locked = True
        try:
            st = conn._statement(sql)
            if many and st.kind == _QUERY:
                raise ProgrammingError("executemany() can only execute DML statements.")
            db = conn._db
            if conn._begin_sql is not None and conn._autocommit == LEGACY_TRANSACTION_CONTROL \
                    and st.kind == _DML and not db.inTransaction():
                conn._exec(conn._begin_sql)
            java = st.java
            trace = conn._trace
            if not many:
                bound = st.bind(params)
                if trace is not None:
                    conn._call_trace(sql)
                rc = java.execute(bound)
                if rc != _ROW and rc != _DONE:
                    _raise_bind_or_step(db, rc, bound)
                st.ncols = java.columnCount()
                self._describe(st)
                self._rowcount = int(java.changes()) if st.kind == _DML else -1
                self._lastrowid = int(java.lastInsertRowid())
                if rc == _ROW:
                    st.in_use = True
                    self._stmt = st
            else:
                total = 0
                batch = []
                count = 0
                ran = False
                # rows of plain values go to Java as they are, checked a batch at a time
                raw = not _base_type_adapted and st.names is None
                try:
                    for p in rows:
                        batch.append(p if raw else st.bind(p))
                        count += 1
                        ran = True
                        if trace is not None:
                            conn._call_trace(sql)
                        if count == 1024 or trace is not None:
                            total += self._run_batch(st, db, batch, raw)
                            batch = []
                            count = 0
                finally:
                    if count:
                        total += self._run_batch(st, db, batch, raw)
                if ran:
                    self._describe(st)
                self._rowcount = total if st.kind == _DML else -1
        except BaseException:
            self._rowcount = -1
            raise
        finally:
            self._locked = False
        return self

    def _run_batch(self, st, db, batch, raw):
        """Executes a batch of parameter rows: bound ones, or (raw) rows as the program gave them."""
        java = st.java
        done = 0
        if raw:
            if _is_plain_batch(batch):
                rc = java.executeMany(batch)
                done = int(java.changes())
                if rc == _DONE:
                    return done
                if rc != _NEEDS_PYTHON:
                    _check_surrogates(batch[java.stoppedAt()])
                    _raise_error(db, rc)
                batch = batch[java.stoppedAt():]
            # bound here one by one: a row that cannot be bound raises after the rows before it ran
            bound = []
            error = None
            for p in batch:
                try:
                    bound.append(st.bind(p))
                except BaseException as e:
                    error = e
                    break
            batch = bound
        else:
            error = None
        if batch:
            rc = java.executeMany(batch)
            if rc != _DONE:
                _check_surrogates(batch[java.stoppedAt()])
                _raise_error(db, rc)
            done += int(java.changes())
        if error is not None:
            raise error
        return done

    def _describe(self, st):
        if st._colnames is not None and len(st._colnames) != st.ncols:
            st._colnames = st._decltypes = None
        if st.ncols == 0:
            self._converters = None
            self._raw = None
            return
        conn = self._connection
        detect = conn._detect_types
        names = st.colnames()
        desc = []
        convs = None
        for i, name in enumerate(names):
            conv = None
            if detect & PARSE_COLNAMES:
                lb = name.find("[")
                if lb >= 0:
                    rb = name.find("]", lb)
                    if rb >= 0:
                        conv = converters.get(name[lb + 1:rb].upper())
                    name = name[:lb].rstrip()
            if conv is None and detect & PARSE_DECLTYPES:
                decl = st.decltypes()[i]
                if decl:
                    word = decl.split("(")[0].split(" ")[0] if decl else decl
                    conv = converters.get(word.upper())
            if conv is not None:
                if convs is None:
                    convs = [None] * len(names)
                convs[i] = conv
            desc.append((name, None, None, None, None, None, None))
        self._description = tuple(desc)
        self._converters = convs
        self._raw = None if convs is None else "".join("0" if c is None else "1" for c in convs)

    def executescript(self, sql_script, /):
        conn = self._check()
        if not isinstance(sql_script, str):
            raise TypeError(f"executescript() argument 1 must be str, not {type(sql_script).__name__}")
        if "\0" in sql_script:
            raise ValueError("embedded null character")
        sql_script.encode("utf-8")
        db = conn._db
        if len(sql_script) > db.limit(_LIMIT_SQL_LENGTH, -1):
            raise DataError("query string is too large")
        self._release()
        if conn._autocommit == LEGACY_TRANSACTION_CONTROL and db.inTransaction():
            conn._exec("COMMIT")
        trace = None if conn._trace is None else conn._call_trace
        if db.executeScript(sql_script, trace) != _OK:
            _raise_error(db)
        return self

    def _fetch(self, n):
        st = self._stmt
        if st is None:
            return []
        conn = self._connection
        text_factory = conn.text_factory
        as_bytes = text_factory is not str
        java = st.java
        data = java.fetch(n, self._raw, as_bytes)
        failed = java.failed()
        if not java.hasRow():
            st.in_use = False
            self._stmt = None
        self._locked = True
        try:
            out = _decode(data, st.ncols, text_factory if as_bytes else None)
            convs = self._converters
            if convs is not None:
                out = [tuple([v if c is None else c(v) if v else None for v, c in zip(row, convs)]) for row in out]
            factory = self.row_factory
            if factory is not None:
                out = [factory(self, row) for row in out]
        finally:
            self._locked = False
        if failed:
            self._release()
            _raise_error(conn._db)
        return out

    def __iter__(self):
        return self

    def _next_row(self):
        ahead = self._ahead
        if self._ahead_at < len(ahead):
            row = ahead[self._ahead_at]
            self._ahead_at += 1
            return row
        if self._stmt is None:
            return _missing
        # read ahead as far as rows were read already, so a short query steps as CPython's does
        n = min(max(self._read, 1), 256)
        rows = self._fetch(n)
        self._read += len(rows)
        if not rows:
            return _missing
        self._ahead = rows
        self._ahead_at = 1
        return rows[0]

    def _take(self, n):
        """Up to n rows (all if n is None): those read ahead first."""
        out = self._ahead[self._ahead_at:self._ahead_at + n] if n is not None else self._ahead[self._ahead_at:]
        self._ahead_at += len(out)
        while self._stmt is not None and (n is None or len(out) < n):
            rows = self._fetch(1024 if n is None else min(n - len(out), 1024))
            self._read += len(rows)
            out.extend(rows)
        return out

    def __next__(self):
        self._check()
        row = self._next_row()
        if row is _missing:
            raise StopIteration
        return row

    def fetchone(self):
        self._check()
        row = self._next_row()
        return None if row is _missing else row

    def fetchmany(self, size=None):
        self._check()
        if size is None:
            size = self.arraysize
        return self._take(size) if size > 0 else []

    def fetchall(self):
        self._check()
        return self._take(None)

    def close(self):
        conn = getattr(self, "_connection", None)
        if conn is None:
            raise ProgrammingError("Base Cursor.__init__ not called.")
        if self._locked:
            raise ProgrammingError("Recursive use of cursors not allowed.")
        _check_thread(conn)
        if conn._db is None:
            raise ProgrammingError("Cannot operate on a closed database.")
        self._release()
        self._closed = True

    def __del__(self):
        try:
            if self._stmt is not None and self._connection._db is not None:
                self._release()
        except Exception:
            pass

    def setinputsizes(self, sizes, /):
        pass

    def setoutputsize(self, size, column=None, /):
        pass


class Row:
    """A row of a query's result, by index and by case-insensitive column name."""

    __slots__ = ("_description", "_data")

    def __new__(cls, cursor, data, /):
        if not isinstance(cursor, Cursor):
            raise TypeError(f"Row() argument 1 must be sqlite3.Cursor, not {type(cursor).__name__}")
        if not isinstance(data, tuple):
            raise TypeError(f"Row() argument 2 must be tuple, not {type(data).__name__}")
        self = object.__new__(cls)
        self._description = cursor.description
        self._data = data
        return self

    def keys(self):
        return [d[0] for d in self._description] if self._description else []

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return iter(self._data)

    def __getitem__(self, key):
        if isinstance(key, str):
            # as CPython's: ASCII letters match in any case, other characters exactly
            ascii_key = key.isascii()
            lowered = key.lower() if ascii_key else key
            if self._description:
                for i, d in enumerate(self._description):
                    name = d[0]
                    if name == key or (ascii_key and name.isascii() and name.lower() == lowered):
                        return self._data[i]
            raise IndexError("No item with that key")
        if isinstance(key, (int, slice)):
            return self._data[key]
        raise IndexError("Index must be int or string")

    def __eq__(self, other):
        if not isinstance(other, Row):
            return NotImplemented
        return self._description == other._description and self._data == other._data

    def __ne__(self, other):
        if not isinstance(other, Row):
            return NotImplemented
        return not self == other

    def __hash__(self):
        return hash(self._description) ^ hash(self._data)


Row.__module__ = "sqlite3"


class Blob:
    """An open blob, read and written through SQL (sqlite-jdbc has no incremental blob I/O)."""

    def __init__(self, connection, table, column, row, readonly, name):
        self._conn = connection
        self._where = f'"{_ident(name)}"."{_ident(table)}"'
        self._column = f'"{_ident(column)}"'
        self._row = row
        self._readonly = readonly
        self._offset = 0
        cur = connection.execute(f"SELECT typeof({self._column}), length({self._column}) "
                                 f"FROM {self._where} WHERE rowid = ?", (row,))
        found = cur.fetchone()
        if found is None:
            raise OperationalError("no such rowid: %d" % row)
        if found[0] not in ("blob", "text"):
            raise OperationalError(f"cannot open value of type {found[0]}")
        self._length = found[1]
        self._closed = False

    def _check(self):
        if self._closed:
            raise ProgrammingError("Cannot operate on a closed blob.")
        self._conn._check()

    def __len__(self):
        self._check()
        return self._length

    def _read(self, offset, length):
        return self._conn.execute(f"SELECT substr(CAST({self._column} AS BLOB), ?, ?) FROM {self._where} "
                                  "WHERE rowid = ?", (offset + 1, length, self._row)).fetchone()[0]

    def _write(self, offset, data):
        if self._readonly:
            raise OperationalError("attempt to write a readonly database")
        whole = bytearray(self._read(0, self._length))
        whole[offset:offset + len(data)] = data
        self._conn.execute(f"UPDATE {self._where} SET {self._column} = ? WHERE rowid = ?", (bytes(whole), self._row))

    def read(self, length=-1, /):
        self._check()
        remaining = self._length - self._offset
        if length < 0 or length > remaining:
            length = remaining
        if length <= 0:
            return b""
        data = self._read(self._offset, length)
        self._offset += len(data)
        return data

    def write(self, data, /):
        self._check()
        data = bytes(memoryview(data))
        if len(data) > self._length - self._offset:
            raise ValueError("data longer than blob length")
        self._write(self._offset, data)
        self._offset += len(data)

    def seek(self, offset, origin=0, /):
        self._check()
        if origin == _os.SEEK_CUR:
            if offset > 2 ** 31 - 1 - self._offset:
                raise OverflowError("seek offset results in overflow")
            offset += self._offset
        elif origin == _os.SEEK_END:
            offset += self._length
        elif origin != _os.SEEK_SET:
            raise ValueError("'origin' should be os.SEEK_SET, os.SEEK_CUR, or os.SEEK_END")
        if not 0 <= offset <= self._length:
            raise ValueError("offset out of blob range")
        self._offset = offset

    def tell(self):
        self._check()
        return self._offset

    def close(self):
        self._conn._check()
        self._closed = True

    def __enter__(self):
        self._check()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    __iter__ = None  # as CPython's: a blob is indexable, not iterable

    def __delitem__(self, key):
        raise TypeError("Blob doesn't support item deletion")

    def __getitem__(self, key):
        self._check()
        if isinstance(key, slice):
            return bytes(self._read(0, self._length))[key]
        if not hasattr(type(key), "__index__"):
            raise TypeError("Blob indices must be integers")
        index = key.__index__()
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("Blob index out of range")
        return self._read(index, 1)[0]

    def __setitem__(self, key, value):
        self._check()
        if isinstance(key, slice):
            start, stop, step = key.indices(self._length)
            whole = bytearray(self._read(0, self._length))
            data = bytes(memoryview(value))
            if len(range(start, stop, step)) != len(data):
                raise IndexError("Blob slice assignment is wrong size")
            whole[key] = data
            self._write(0, bytes(whole))
            return
        if not hasattr(type(key), "__index__"):
            raise TypeError("Blob indices must be integers")
        index = key.__index__()
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("Blob index out of range")
        if not isinstance(value, int):
            raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
        if not 0 <= value <= 255:
            raise ValueError("byte must be in range(0, 256)")
        self._write(index, bytes([value]))


def _ident(name):
    return str(name).replace('"', '""')


def connect(database, *args, **kwargs):
    """Opens a connection to the SQLite database file database."""
    factory = kwargs.pop("factory", None)
    if len(args) >= 5:
        args = list(args)
        factory = args.pop(4) if factory is None else factory
    if factory is None:
        factory = Connection
    return factory(database, *args, **kwargs)


def _cannot_pickle(self, protocol=None):
    raise TypeError(f"cannot pickle '{type(self).__module__}.{type(self).__qualname__}' object")


for _cls in (Connection, Cursor, Blob, PrepareProtocol):
    _cls.__module__ = "sqlite3"
for _cls in (Connection, Cursor, Blob, Row):
    # as CPython's: a connection lives in its process (a fork's copy of one is not usable)
    _cls.__reduce_ex__ = _cannot_pickle
del _cls
