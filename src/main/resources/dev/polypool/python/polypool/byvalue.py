"""Pickling functions and classes by value, and pickling for a child being started.

CPython pickles a function or class by reference: the receiver imports it by name. A
lambda, a closure, a nested function or a class defined in a function has no such name;
polypool sends those by value instead (code objects through ``marshal``), as cloudpickle
does: a function with the globals it uses (``used_globals``), which the receiver adds to
its module's where missing; a class of any metaclass as a skeleton and its attributes
(``reduce_class``; enums from their members, ``_reduce_enum``), with an id that makes it
the same class in every context that gets it again or sends it back. ``ValuePickler`` is
the fallback of ``polypool.codec.dumps``; ``SpawnPickler`` pickles for a child that
re-imports the main script (spawn, forkserver); ``child_being_started`` lets locks through
as a forked or spawned child inherits them. Imports nothing of polypool: ``codec`` and
``snapshot`` build on it.
"""

import abc
import builtins
import contextlib
import enum
import functools
import importlib
import io
import marshal
import os
import pickle
import sys
import types
import typing
import weakref

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


def _define_in_main(obj, module, qualname):
    """Define a function or class of ``__main__`` made here by value there, if its name
    is free, as a forked child would have it: later tasks, results and the references of
    a definition to itself then find it by name."""
    if module in ("__main__", "__mp_main__") and qualname.isidentifier():
        namespace = main_dict()
        if namespace is not None:
            namespace.setdefault(qualname, obj)


def _make_function(code, name, ncells, module=None, qualname=None):
    closure = tuple(types.CellType() for _ in range(ncells)) or None
    func = types.FunctionType(marshal.loads(code), _module_dict(module), name, None, closure)
    _define_in_main(func, module, qualname or name)
    return func


def _set_function_state(func, state):
    (func.__defaults__, func.__kwdefaults__, func.__qualname__, func.__doc__,
     func.__module__, annotations, attrs, cells) = state[:8]
    func.__annotations__ = annotations
    func.__dict__.update(attrs)
    for cell, value in zip(func.__closure__ or (), cells):
        if value is not _EMPTY_CELL:
            cell.cell_contents = value
    if len(state) > 8:
        # the globals it uses that this context lacks (a name set under the main guard
        # when the worker re-imported the script): what this context has stays
        for key, value in state[8].items():
            func.__globals__.setdefault(key, value)


class _EmptyCell:
    def __reduce__(self):
        return "_EMPTY_CELL"


_EMPTY_CELL = _EmptyCell()


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell, e.g. a closure variable assigned later
        return _EMPTY_CELL


_code_globals = weakref.WeakKeyDictionary()


def global_names(code):
    """The names ``code`` and the code nested in it use, globals among them (attribute
    names too: GraalPy has no ``dis`` to tell them apart)."""
    try:
        return _code_globals[code]
    except (KeyError, TypeError):
        pass
    names = dict.fromkeys(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.update(dict.fromkeys(global_names(const)))
    names = tuple(names)
    try:
        _code_globals[code] = names
    except TypeError:
        pass
    return names


def used_globals(func):
    """The globals ``func`` refers to that its module defines (not builtins), as
    cloudpickle carries them with a function sent by value."""
    g = func.__globals__
    return {k: g[k] for k in global_names(func.__code__) if k in g}


def _orphan_globals(func):
    """Whether ``func``'s globals are no module's (``collections.namedtuple`` makes
    ``__new__`` in a namespace of its own): the receiver cannot find them by name."""
    name = func.__globals__.get("__name__")
    if name in ("__main__", "__mp_main__"):
        return False
    module = sys.modules.get(name)
    return module is None or getattr(module, "__dict__", None) is not func.__globals__


def carries_globals(func):
    """Whether ``func`` sent by value takes globals with it: a function of ``__main__``
    (the receiver's may lack what the parent set under its guard) or of no module; a
    module's function finds them in the module, imported in the receiver."""
    return func.__globals__.get("__name__") in ("__main__", "__mp_main__") or _orphan_globals(func)


def reduce_function(func, carried=None):
    """The by-value reduction of ``func``; ``carried``: globals to send with it (always
    those it uses when its globals are no module's)."""
    if carried is None and _orphan_globals(func):
        carried = used_globals(func)
    cells = func.__closure__ or ()
    state = (func.__defaults__, func.__kwdefaults__, func.__qualname__, func.__doc__,
             func.__module__, func.__annotations__, dict(func.__dict__),
             tuple(_cell_value(c) for c in cells))
    if carried:
        state += (carried,)
    # its globals are those of the module that made it, not always its __module__: a
    # wrapper of functools.wraps or a method dataclasses made says the class's module
    module = func.__globals__.get("__name__", func.__module__)
    return (_make_function, (marshal.dumps(func.__code__), func.__name__, len(cells), module,
                             func.__qualname__),
            state, None, None, _set_function_state)


# Class identity across messages, as cloudpickle's class tracker keeps it: a class sent by
# value gets an id in the sender, and a context that already has the class of that id
# (it made it from an earlier message, or it is the sender itself) uses its own class.
_class_ids = weakref.WeakKeyDictionary()
_classes_by_id = weakref.WeakValueDictionary()
_fresh = weakref.WeakSet()  # made here from a message, state still to be set


def _class_id(cls):
    cid = _class_ids.get(cls)
    if cid is None:
        cid = _class_ids[cls] = os.urandom(16).hex()
        _classes_by_id[cid] = cls
    return cid


def _known_class(cid, make):
    cls = _classes_by_id.get(cid) if cid is not None else None
    if cls is None:
        cls = make()
        if cid is not None:
            _classes_by_id[cid] = cls
            _class_ids[cls] = cid
        _fresh.add(cls)
        _define_in_main(cls, cls.__module__, cls.__qualname__)
    return cls


def _skip_init_subclass(cls, **kwargs):
    pass


@contextlib.contextmanager
def _init_subclass_suppressed(bases):
    """A copied class is not defined again: its bases' ``__init_subclass__`` (which may
    register it somewhere, as the copied state already shows) does not run."""
    patched = []
    for base in {c for b in bases for c in b.__mro__}:
        hook = base.__dict__.get("__init_subclass__")
        if hook is None or base is object:
            continue
        try:
            base.__init_subclass__ = classmethod(_skip_init_subclass)
        except (TypeError, AttributeError):
            continue  # a built-in type (typing.Generic in GraalPy): its hook runs
        patched.append((base, hook))
    try:
        yield
    finally:
        for base, hook in patched:
            setattr(base, "__init_subclass__", hook)


def _make_class(metaclass, name, bases, namespace, cid=None):
    def make():
        # the metaclass's own __new__ and __init__ do not run either: what they set is
        # in the copied state; ABCMeta's still does, for its caches and registry
        with _init_subclass_suppressed(bases):
            if isinstance(metaclass, type) and issubclass(metaclass, abc.ABCMeta):
                return abc.ABCMeta.__new__(metaclass, name, bases, dict(namespace))
            return type.__new__(metaclass, name, bases, dict(namespace))
    return _known_class(cid, make)


def _set_class_state(cls, state):
    if cls not in _fresh:
        return  # this context's own class, or one it made before: it keeps its state
    _fresh.discard(cls)
    attrs, registry = state
    for key, value in attrs.items():
        setattr(cls, key, value)
    for subclass in registry:
        cls.register(subclass)


_CLASS_SKIP = frozenset(("__dict__", "__weakref__"))
# ABCMeta's caches (C and pure-Python abc): a new class gets its own, then the registry
_ABC_STATE = frozenset(("_abc_impl", "_abc_registry", "_abc_cache", "_abc_negative_cache",
                        "_abc_negative_cache_version"))


def _abc_registry(cls):
    if "_abc_registry" in cls.__dict__:  # _py_abc
        return list(cls._abc_registry)
    return [ref() for ref in abc._get_dump(cls)[0] if ref() is not None]


def reduce_class(cls):
    """The by-value reduction of a class of any metaclass: a skeleton made with its
    metaclass, bases, name and slots, then its attributes set one by one."""
    if isinstance(cls, enum.EnumType):
        return _reduce_enum(cls)
    slots = cls.__dict__.get("__slots__", ())
    if isinstance(slots, str):
        slots = (slots,)
    skip = _CLASS_SKIP.union(slots)
    namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                 "__doc__": cls.__doc__}
    for key in ("__slots__", "__orig_bases__"):  # typing.Generic's hook needs the latter
        if key in cls.__dict__:
            namespace[key] = cls.__dict__[key]
    registry = ()
    if isinstance(cls, abc.ABCMeta):
        skip = skip.union(_ABC_STATE)
        registry = _abc_registry(cls)
    attrs = {k: v for k, v in cls.__dict__.items() if k not in skip and k not in namespace}
    return (_make_class, (type(cls), cls.__name__, cls.__bases__, namespace, _class_id(cls)),
            (attrs, registry), None, None, _set_class_state)


def _make_enum(metaclass, name, bases, qualname, module, members, boundary, cid):
    def make():
        namespace = metaclass.__prepare__(name, bases)
        namespace["__module__"] = module
        namespace["__qualname__"] = qualname
        for key, value in members.items():
            namespace[key] = value
        kwargs = {"boundary": boundary} if boundary is not None else {}
        return metaclass.__new__(metaclass, name, bases, namespace, **kwargs)
    return _known_class(cid, make)


def _set_enum_state(cls, attrs):
    if cls not in _fresh:
        return
    _fresh.discard(cls)
    for key, value in attrs.items():
        if key not in cls.__dict__:  # what the enum machinery made is there already
            setattr(cls, key, value)


def _reduce_enum(cls):
    """An enum by value, as cloudpickle sends one: the class is made again from its
    members' values, then its methods and other attributes are set."""
    members = {k: m._value_ for k, m in cls.__members__.items()}
    attrs = {k: v for k, v in cls.__dict__.items()
             if k not in members and k not in _CLASS_SKIP and k not in ("__module__", "__qualname__")}
    return (_make_enum, (type(cls), cls.__name__, cls.__bases__, cls.__qualname__, cls.__module__,
                         members, getattr(cls, "_boundary_", None), _class_id(cls)),
            attrs, None, None, _set_enum_state)


def _make_lru_cache(func, maxsize, typed):
    return functools.lru_cache(maxsize=maxsize, typed=typed)(func)


def _set_dict(obj, attrs):
    obj.__dict__.update(attrs)


def reduce_lru_cache(wrapper):
    """An ``lru_cache`` function by value (its cache stays behind): its own reduction
    names it, which fails where the name is not defined yet."""
    params = wrapper.cache_parameters()
    attrs = {k: v for k, v in wrapper.__dict__.items() if k != "__wrapped__"}
    return (_make_lru_cache, (wrapper.__wrapped__, params["maxsize"], params["typed"]),
            attrs, None, None, _set_dict)


def _make_typevar(name, constraints, bound, covariant, contravariant):
    return typing.TypeVar(name, *constraints, bound=bound, covariant=covariant,
                          contravariant=contravariant)


def _typevar_from_main(name, *args):
    """A ``TypeVar`` of ``__main__`` as this context's main module defines it, else made
    and defined there (see ``_from_main``)."""
    namespace = main_dict() or {}
    tv = namespace.get(name)
    if type(tv) is not typing.TypeVar:
        tv = _make_typevar(name, *args)
        _define_in_main(tv, "__main__", name)
    return tv


def reduce_typevar(tv):
    """A ``TypeVar`` by value: its own reduction names it in its module."""
    return _make_typevar, (tv.__name__, tv.__constraints__, tv.__bound__, tv.__covariant__,
                           tv.__contravariant__)


def _make_mappingproxy(mapping):
    return types.MappingProxyType(mapping)  # its type has no name pickle can find


def _reduce_library_object(obj):
    """Reductions for what a class copied by value holds but pickle refuses or copies
    wrongly: properties, class and static methods, mapping proxies, weak containers, and
    the sentinels of ``dataclasses`` (which must stay the module's own objects)."""
    t = type(obj)
    if t is types.ModuleType and sys.modules.get(obj.__name__) is obj:
        return importlib.import_module, (obj.__name__,)  # a global a function carries
    if t is property:
        return property, (obj.fget, obj.fset, obj.fdel, obj.__doc__)
    if t is classmethod or t is staticmethod:
        return t, (obj.__func__,), (dict(obj.__dict__) or None)
    if t is types.MappingProxyType:
        return _make_mappingproxy, (dict(obj),)
    if t is weakref.WeakKeyDictionary or t is weakref.WeakValueDictionary:
        return t, (dict(obj.items()),)
    if t is weakref.WeakSet:
        return t, (list(obj),)
    if t is functools._lru_cache_wrapper and not findable(obj):
        return reduce_lru_cache(obj)
    dataclasses = sys.modules.get("dataclasses")
    if dataclasses is not None:
        if t is dataclasses._FIELD_BASE:
            return getattr, (dataclasses, obj.name)
        if t is dataclasses._MISSING_TYPE:
            return getattr, (dataclasses, "MISSING")
    return None


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


_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement, not built in


def by_value(obj, carry=True):
    """The by-value reduction of a function (with the globals it uses when ``carry``), a
    class or an ``lru_cache`` function; None for anything else."""
    if isinstance(obj, types.FunctionType):
        return reduce_function(obj, used_globals(obj) if carry and carries_globals(obj) else None)
    if isinstance(obj, type) and obj.__flags__ & _HEAP_TYPE:
        return reduce_class(obj)
    if type(obj) is functools._lru_cache_wrapper:
        return reduce_lru_cache(obj)
    return None


def _unnamed(obj):
    """Whether ``obj`` is a function or class pickle cannot find by its name."""
    return isinstance(obj, (types.FunctionType, type, functools._lru_cache_wrapper)) and not findable(obj)


class ValuePickler(ForkingPickler):
    """Pickles functions and classes that cannot be found by name by value (the
    extension ``polypool.codec.dumps`` falls back to); everything else as ``ForkingPickler`` does."""

    def __init__(self, file):
        super().__init__(file, PROTOCOL)

    def reducer_override(self, obj):
        if _unnamed(obj):
            return by_value(obj) or NotImplemented
        return _reduce_library_object(obj) or NotImplemented


def _from_main(qualname, fallback):
    """A ``__main__`` function or class as this context's main module defines it (the
    re-imported script, under spawn), else rebuilt from its value (which defines it
    there, ``_define_in_main``): one the script defines under ``if __name__ ==
    "__main__":`` exists only in the parent. Without a fallback, it is one being rebuilt
    further out in the same message."""
    try:
        obj = qualified(sys.modules.get("__main__"), qualname)
        if getattr(obj, "__qualname__", qualname) == qualname:  # not one a base defines
            return obj
    except AttributeError:
        if fallback is None:
            raise
    return pickle.loads(fallback.encode("latin-1"))


class SpawnPickler(ForkingPickler):
    """Pickles for a child that starts from a fresh context (spawn, forkserver): what
    ``__main__`` defines goes by name, found in the child's re-imported main script, with
    its value as a fallback; other unnamed functions and classes by value, functions with
    the globals they use. With ``inherit``, locks and semaphores go across as the same
    shared objects."""

    def __init__(self, file, inherit=False, forced=None, active=frozenset(), texts=None):
        super().__init__(file, PROTOCOL)
        self._inherit = inherit
        self._forced = forced
        self._active = active  # ids of the main objects whose values are being pickled
        self._texts = {} if texts is None else texts  # main object id -> its value, pickled
        self._needs = set()  # ids in _active this pickle refers to

    def reducer_override(self, obj):
        if self._inherit:
            synchronize = sys.modules.get("multiprocessing.synchronize")
            if synchronize is not None and isinstance(obj, synchronize.SemLock):
                return reduce_semlock(obj)
        if type(obj) is typing.TypeVar and obj.__module__ in ("__main__", "__mp_main__"):
            return (_typevar_from_main,) + reduce_typevar(obj)[1:]
        if not isinstance(obj, (types.FunctionType, type, functools._lru_cache_wrapper)):
            return _reduce_library_object(obj) or NotImplemented
        if obj is self._forced or not findable(obj):
            return by_value(obj) or NotImplemented
        if obj.__module__ in ("__main__", "__mp_main__"):
            if id(obj) in self._active:
                # one being pickled further out (a method's __class__ cell, a recursive
                # function): made before this part of the message is loaded
                self._needs.add(id(obj))
                return _from_main, (obj.__qualname__, None)
            text = self._texts.get(id(obj))
            if text is None:
                buf = io.BytesIO()
                nested = SpawnPickler(buf, self._inherit, obj, self._active | {id(obj)}, self._texts)
                nested.dump(obj)
                text = buf.getvalue().decode("latin-1")
                needs = nested._needs - {id(obj)}
                if needs:
                    self._needs |= needs  # good only inside what it refers to
                else:
                    self._texts[id(obj)] = text
            return _from_main, (obj.__qualname__, text)
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
