"""Encoding of everything that crosses from one context to another.

Contexts never share Python objects: a value leaves its context as text (a ``str`` whose
characters are the bytes of a pickle, read as Latin-1), travels through Java, and is
rebuilt in the receiving context. Latin-1 text is used because a Java ``String`` is the one
bulk carrier GraalPy converts to and from without a per-byte loop.

Tasks, results and exceptions are pickled with ``multiprocessing.reduction.ForkingPickler``,
as CPython sends them, so ``copyreg`` and ``ForkingPickler.register`` reductions apply and
an object CPython cannot send fails here with the same exception.

The parent's ``__main__`` is different: fork semantics let a worker see functions and
classes defined in the main script, which CPython gets for free by copying the process.
``dumps_main`` pickles those by value (code objects through ``marshal``), while everything
importable still goes by reference.
"""

import builtins
import contextlib
import importlib
import io
import marshal
import os
import pickle
import sys
import types

from multiprocessing.reduction import ForkingPickler

_PROTOCOL = pickle.HIGHEST_PROTOCOL


# Beyond this size a pickle that is read once travels through a file in the engine's
# transfer directory (in /dev/shm): GraalPy's Latin-1 encode and decode cost about 50 ns a
# byte, a file write and read a small fraction of that.
_FILE_THRESHOLD = 1 << 20
_FILE_MARK = "\x00"  # never the first character of a pickle (protocol 2+ starts with \x80)
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
        data = ForkingPickler.dumps(obj, _PROTOCOL)
    except (pickle.PicklingError, AttributeError) as first:
        # the C pickler's fast path is kept for the common case: by value only on failure
        buf = io.BytesIO()
        try:
            _ValuePickler(buf).dump(obj)
        except Exception:
            raise first from None
        data = buf.getbuffer()
    if read_once and is_large(data):
        return _FILE_MARK + spill(data)
    return str(data, "latin-1")


def is_large(data):
    """Whether ``data`` (bytes-like) should cross contexts in a file (``spill``) rather
    than as Latin-1 text, which GraalPy makes at tens of nanoseconds a byte."""
    return memoryview(data).nbytes > _FILE_THRESHOLD


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
    """Rebuild an object from the text of ``dumps`` or ``dumps_main``."""
    if text[:1] == _FILE_MARK:
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


# ---------------------------------------------------------------------------
# by-value pickling of the main module (fork semantics)

def _main_dict():
    main = sys.modules.get("__main__")
    return main.__dict__ if main is not None else None


def _module_dict(name):
    """The globals of a function rebuilt by value: its module's, as loaded in this context."""
    if name in (None, "__main__", "__mp_main__"):
        return _main_dict()
    try:
        return importlib.import_module(name).__dict__
    except ImportError:
        return {"__builtins__": builtins, "__name__": name}


def _make_function(code, name, ncells, module=None):
    closure = tuple(types.CellType() for _ in range(ncells)) or None
    return types.FunctionType(marshal.loads(code), _module_dict(module), name, None, closure)


def _set_function_state(func, state):
    (func.__defaults__, func.__kwdefaults__, func.__qualname__, func.__doc__,
     func.__module__, annotations, attrs, cells) = state
    func.__annotations__ = annotations
    func.__dict__.update(attrs)
    for cell, value in zip(func.__closure__ or (), cells):
        if value is not _EMPTY_CELL:
            cell.cell_contents = value


class _EmptyCell:
    def __reduce__(self):
        return "_EMPTY_CELL"


_EMPTY_CELL = _EmptyCell()


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell, e.g. a closure variable assigned later
        return _EMPTY_CELL


def _reduce_function(func):
    cells = func.__closure__ or ()
    state = (func.__defaults__, func.__kwdefaults__, func.__qualname__, func.__doc__,
             func.__module__, func.__annotations__, dict(func.__dict__),
             tuple(_cell_value(c) for c in cells))
    return (_make_function, (marshal.dumps(func.__code__), func.__name__, len(cells), func.__module__),
            state, None, None, _set_function_state)


_CLASS_SKIP = frozenset(("__dict__", "__weakref__"))


def _make_class(metaclass, name, bases, namespace):
    return metaclass(name, bases, namespace)


def _set_class_state(cls, attrs):
    for key, value in attrs.items():
        setattr(cls, key, value)


def _reduce_class(cls):
    slots = cls.__dict__.get("__slots__", ())
    if isinstance(slots, str):
        slots = (slots,)
    skip = _CLASS_SKIP.union(slots)
    namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                 "__doc__": cls.__doc__}
    if "__slots__" in cls.__dict__:
        namespace["__slots__"] = cls.__dict__["__slots__"]
    attrs = {k: v for k, v in cls.__dict__.items() if k not in skip and k not in namespace}
    return (_make_class, (type(cls), cls.__name__, cls.__bases__, namespace),
            attrs, None, None, _set_class_state)


def _rebuild_semlock(cls, handle, kind, maxvalue, state):
    from polypool.sync import SemLock
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    obj._semlock = SemLock._rebuild(handle, kind, maxvalue, None)
    obj._make_methods()
    return obj


def _reduce_semlock(obj):
    sl = obj._semlock
    state = {k: v for k, v in obj.__dict__.items() if k not in ("_semlock", "acquire", "release")}
    return _rebuild_semlock, (type(obj), sl.handle, sl.kind, sl.maxvalue, state)


class _MainPickler(ForkingPickler):
    """Pickles what ``__main__`` defines by value, everything else as usual.

    It also carries what a forked child inherits rather than receives: ``multiprocessing``
    locks, semaphores, conditions and events go across as the same shared objects, as
    they do with CPython's fork (CPython refuses to pickle them for a task).
    """

    def __init__(self, file, main_dict):
        super().__init__(file, _PROTOCOL)
        self._main_dict = main_dict

    def reducer_override(self, obj):
        synchronize = sys.modules.get("multiprocessing.synchronize")
        if synchronize is not None and isinstance(obj, synchronize.SemLock):
            return _reduce_semlock(obj)
        if isinstance(obj, types.FunctionType) and obj.__globals__ is self._main_dict:
            return _reduce_function(obj)
        if isinstance(obj, type) and obj.__module__ == "__main__" and type(obj) is type:
            return _reduce_class(obj)
        if isinstance(obj, types.ModuleType):
            name = obj.__name__
            if sys.modules.get(name) is obj and name not in ("__main__", "__mp_main__"):
                # with the submodules loaded here: `import email.message` makes
                # `email.message` an attribute of email, which the receiver uses
                prefix = name + "."
                loaded = sorted(m for m in list(sys.modules) if m.startswith(prefix))
                return (_import_package, (name, loaded)) if loaded else (importlib.import_module, (name,))
        if isinstance(obj, (types.FunctionType, type)) and not _findable(obj):
            return _by_value(obj) or NotImplemented
        return NotImplemented


def _import_package(name, submodules):
    package = importlib.import_module(name)
    for submodule in submodules:
        try:
            importlib.import_module(submodule)
        except ImportError:
            pass  # where it is used, its absence is an AttributeError naming it
    return package


def _findable(obj):
    """Whether pickle would find ``obj`` (a function or class) again by its name."""
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    qualname = getattr(obj, "__qualname__", "")
    if module is None or "<" in qualname:
        return False
    found = module
    try:
        for part in qualname.split("."):
            found = getattr(found, part)
    except AttributeError:
        return False
    return found is obj


def _by_value(obj):
    """The by-value reduction of a function or a plain class, or None for anything else."""
    if isinstance(obj, types.FunctionType):
        return _reduce_function(obj)
    if isinstance(obj, type) and type(obj) is type:
        return _reduce_class(obj)
    return None


class _ValuePickler(ForkingPickler):
    """Pickles functions and classes that cannot be found by name by value (the
    extension ``dumps`` falls back to); everything else as ``ForkingPickler`` does."""

    def __init__(self, file):
        super().__init__(file, _PROTOCOL)

    def reducer_override(self, obj):
        if isinstance(obj, (types.FunctionType, type)) and not _findable(obj):
            return _by_value(obj) or NotImplemented
        return NotImplemented


def _from_main(qualname, fallback):
    """A ``__main__`` function or class as the re-imported main script defines it (spawn),
    else rebuilt from its value: one the script defines under ``if __name__ ==
    "__main__":`` exists only in the parent."""
    obj = sys.modules.get("__main__")
    try:
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    except AttributeError:
        return loads(fallback)


class _SpawnPickler(ForkingPickler):
    """Pickles for a child that starts from a fresh context (spawn, forkserver): what
    ``__main__`` defines goes by name, found in the child's re-imported main script, with
    its value as a fallback; other unnamed functions and classes by value. With
    ``inherit``, locks and semaphores go across as the same shared objects."""

    def __init__(self, file, inherit=False, forced=None):
        super().__init__(file, _PROTOCOL)
        self._inherit = inherit
        self._forced = forced

    def reducer_override(self, obj):
        if self._inherit:
            synchronize = sys.modules.get("multiprocessing.synchronize")
            if synchronize is not None and isinstance(obj, synchronize.SemLock):
                return _reduce_semlock(obj)
        if not isinstance(obj, (types.FunctionType, type)):
            return NotImplemented
        if obj is self._forced or not _findable(obj):
            return _by_value(obj) or NotImplemented
        if obj.__module__ in ("__main__", "__mp_main__") and _by_value(obj) is not None:
            buf = io.BytesIO()
            _SpawnPickler(buf, self._inherit, forced=obj).dump(obj)
            return _from_main, (obj.__qualname__, buf.getvalue().decode("latin-1"))
        return NotImplemented


def dumps_spawn(obj, inherit=False):
    """Pickle ``obj`` for a spawned child (see ``_SpawnPickler``), as Latin-1 text."""
    buf = io.BytesIO()
    with _child_being_started() if inherit else contextlib.nullcontext():
        _SpawnPickler(buf, inherit).dump(obj)
    return buf.getvalue().decode("latin-1")


class _Inheriting:
    """Stands for a child being started, so that ``assert_spawning`` lets objects through."""


@contextlib.contextmanager
def _child_being_started():
    """Pickle as for a child being started: ``assert_spawning`` lets locks through."""
    from multiprocessing import context
    previous = context.get_spawning_popen()
    context.set_spawning_popen(_Inheriting())
    try:
        yield
    finally:
        context.set_spawning_popen(previous)


def _dump_main_value(value, main_dict):
    buf = io.BytesIO()
    with _child_being_started():
        _MainPickler(buf, main_dict).dump(value)
    return buf.getvalue()


def dumps_inherited(obj):
    """Pickle what a forked child would inherit (a pool's initializer and its arguments):
    as ``dumps_main`` pickles ``__main__``, with locks shared rather than refused."""
    return _dump_main_value(obj, _main_dict()).decode("latin-1")


# names that belong to the module object, not to the program
_MODULE_DUNDERS = frozenset(("__builtins__", "__loader__", "__spec__", "__name__",
                             "__cached__", "__package__"))


def dumps_main():
    """Snapshot the globals of ``__main__`` as Latin-1 text, for ``load_main``.

    A global that cannot be copied into another context (an open file, a running pool...)
    is left out: it is absent in the worker, where using it raises NameError.
    """
    main_dict = _main_dict()
    if main_dict is None:
        return dumps({})
    items = {k: v for k, v in main_dict.items() if k not in _MODULE_DUNDERS}
    try:
        return _dump_main_value(items, main_dict).decode("latin-1")
    except Exception:
        pass
    kept = {}
    for name, value in items.items():
        try:
            _dump_main_value(value, main_dict)
        except Exception:
            continue
        kept[name] = value
    return _dump_main_value(kept, main_dict).decode("latin-1")


def load_main(text, module):
    """Fill ``module`` (the worker's ``__main__``) from the text of ``dumps_main``."""
    module.__dict__.update(loads(text))


# ---------------------------------------------------------------------------
# the program's own modules (fork semantics beyond __main__)

def _library_roots():
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.dirname(__file__))}
    return tuple(os.path.join(os.path.realpath(r), "") for r in roots if r)


def _is_program_module(name, module):
    if name in ("__main__", "__mp_main__") or not isinstance(module, types.ModuleType):
        return False
    file = getattr(module, "__file__", None)
    if not file:
        return False
    path = os.path.realpath(file)
    return not path.startswith(_library_roots()) and "-packages" + os.sep not in path


def dumps_modules():
    """Snapshot the data globals of the program's own modules, for ``restore_modules``.

    CPython's fork copies every module as the parent left it; a worker here re-imports a
    module when it needs one, so the values the program changed since the import would be
    lost. The program's own modules are those loaded from files outside the Python
    installation and its site-packages. Functions, classes and submodules come back with
    the re-import and are left out, as is anything that cannot be pickled.
    Returns ``{module name: text}``.
    """
    main_dict = _main_dict()
    states = {}
    for name, module in list(sys.modules.items()):
        if not _is_program_module(name, module):
            continue
        values = {}
        for key, value in list(module.__dict__.items()):
            if key.startswith("__") and key.endswith("__"):
                continue
            if isinstance(value, (types.ModuleType, types.FunctionType, type)) and \
                    getattr(value, "__module__", name) == name:
                continue
            try:
                _dump_main_value(value, main_dict)
            except Exception:
                continue
            values[key] = value
        if values:
            try:
                states[name] = _dump_main_value(values, main_dict).decode("latin-1")
            except Exception:
                pass
    return states


def restore_modules(states):
    """Arrange for each module of ``dumps_modules`` to get its state when imported."""
    from polypool.hooks import on_import
    for name, state in states.items():
        on_import(name, lambda module, state=state: module.__dict__.update(loads(state)))
