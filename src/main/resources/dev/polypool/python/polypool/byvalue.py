"""Pickling functions and classes by value, and pickling for a child being started.

CPython pickles a function or class by reference: the receiver imports it by name. A
lambda, a closure, a nested function or a class defined in a function has no such name;
polypool sends those by value instead (code objects through ``marshal``), as cloudpickle
does. ``ValuePickler`` is the fallback of ``polypool.codec.dumps``; ``SpawnPickler``
pickles for a child that re-imports the main script (spawn, forkserver);
``child_being_started`` lets locks through as a forked or spawned child inherits them.
Imports nothing of polypool: ``codec`` and ``snapshot`` build on it.
"""

import builtins
import contextlib
import importlib
import io
import marshal
import pickle
import sys
import types

from multiprocessing.reduction import ForkingPickler

PROTOCOL = pickle.HIGHEST_PROTOCOL


def main_dict():
    main = sys.modules.get("__main__")
    return main.__dict__ if main is not None else None


def _module_dict(name):
    """The globals of a function rebuilt by value: its module's, as loaded in this context."""
    if name in (None, "__main__", "__mp_main__"):
        return main_dict()
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


def reduce_function(func):
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


def reduce_class(cls):
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


def reduce_semlock(obj):
    sl = obj._semlock
    state = {k: v for k, v in obj.__dict__.items() if k not in ("_semlock", "acquire", "release")}
    return _rebuild_semlock, (type(obj), sl.handle, sl.kind, sl.maxvalue, state)


def qualified(obj, qualname):
    """What the dotted ``qualname`` names inside ``obj`` (a module), found as pickle finds
    a function or class by reference; raises AttributeError if there is no such name."""
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def findable(obj):
    """Whether pickle would find ``obj`` (a function or class) again by its name."""
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    qualname = getattr(obj, "__qualname__", "")
    if module is None or "<" in qualname:
        return False
    try:
        return qualified(module, qualname) is obj
    except AttributeError:
        return False


def by_value(obj):
    """The by-value reduction of a function or a plain class, or None for anything else."""
    if isinstance(obj, types.FunctionType):
        return reduce_function(obj)
    if isinstance(obj, type) and type(obj) is type:
        return reduce_class(obj)
    return None


class ValuePickler(ForkingPickler):
    """Pickles functions and classes that cannot be found by name by value (the
    extension ``polypool.codec.dumps`` falls back to); everything else as ``ForkingPickler`` does."""

    def __init__(self, file):
        super().__init__(file, PROTOCOL)

    def reducer_override(self, obj):
        if isinstance(obj, (types.FunctionType, type)) and not findable(obj):
            return by_value(obj) or NotImplemented
        return NotImplemented


def _from_main(qualname, fallback):
    """A ``__main__`` function or class as the re-imported main script defines it (spawn),
    else rebuilt from its value: one the script defines under ``if __name__ ==
    "__main__":`` exists only in the parent."""
    try:
        return qualified(sys.modules.get("__main__"), qualname)
    except AttributeError:
        return pickle.loads(fallback.encode("latin-1"))


class SpawnPickler(ForkingPickler):
    """Pickles for a child that starts from a fresh context (spawn, forkserver): what
    ``__main__`` defines goes by name, found in the child's re-imported main script, with
    its value as a fallback; other unnamed functions and classes by value. With
    ``inherit``, locks and semaphores go across as the same shared objects."""

    def __init__(self, file, inherit=False, forced=None):
        super().__init__(file, PROTOCOL)
        self._inherit = inherit
        self._forced = forced

    def reducer_override(self, obj):
        if self._inherit:
            synchronize = sys.modules.get("multiprocessing.synchronize")
            if synchronize is not None and isinstance(obj, synchronize.SemLock):
                return reduce_semlock(obj)
        if not isinstance(obj, (types.FunctionType, type)):
            return NotImplemented
        if obj is self._forced or not findable(obj):
            return by_value(obj) or NotImplemented
        if obj.__module__ in ("__main__", "__mp_main__") and by_value(obj) is not None:
            buf = io.BytesIO()
            SpawnPickler(buf, self._inherit, forced=obj).dump(obj)
            return _from_main, (obj.__qualname__, buf.getvalue().decode("latin-1"))
        return NotImplemented


def dumps_spawn(obj, inherit=False):
    """Pickle ``obj`` for a spawned child (see ``_SpawnPickler``), as Latin-1 text."""
    buf = io.BytesIO()
    with child_being_started() if inherit else contextlib.nullcontext():
        SpawnPickler(buf, inherit).dump(obj)
    return buf.getvalue().decode("latin-1")


class Inheriting:
    """Stands for a child being started, so that ``assert_spawning`` lets objects through."""


@contextlib.contextmanager
def child_being_started():
    """Pickle as for a child being started: ``assert_spawning`` lets locks through."""
    from multiprocessing import context
    previous = context.get_spawning_popen()
    context.set_spawning_popen(Inheriting())
    try:
        yield
    finally:
        context.set_spawning_popen(previous)
