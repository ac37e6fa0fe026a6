"""The fork snapshot: what a child started with ``fork`` gets of its parent's state.

A forked CPython child has every function, class and global its parent had. A worker here
is a fresh context, so the parent's ``__main__`` is pickled (``dumps_main``): what it
defines (functions, classes of any metaclass, ``lru_cache`` functions) by value,
everything importable by reference, one global after another with one memo, so that
objects shared between globals stay shared. The worker restores it global by global
(``load_main``): a global that cannot be pickled in the parent, or rebuilt in the worker,
is left out alone, and using it there raises NameError saying why (``_Absent``). The
program's own modules are re-imported there with the data globals and class attributes
the parent had (``dumps_modules``, ``restore_modules``). What a forked child inherits
rather than receives (locks, semaphores, pipe ends) goes across as the same shared objects.
"""

import builtins
import functools
import importlib
import io
import os
import pickletools
import sys
import types
import typing

from polypool.byvalue import (PROTOCOL, ForkingPickler, _reduce_library_object, by_value,
                              child_being_started, findable, main_dict, reduce_class,
                              reduce_function, reduce_lru_cache, reduce_semlock,
                              reduce_typevar)
from polypool.codec import PART_BYTES, PartsPickler, PartsUnpickler


def trace(message):
    """A line of ``POLYPOOL_TRACE`` output (``dev.polypool.engine.Trace``)."""
    if os.environ.get("POLYPOOL_TRACE") is not None:
        import polyglot
        polyglot.import_value("polypool.trace").log(message)


class _MainPickler(ForkingPickler):
    """Pickles what ``__main__`` defines by value, everything else as usual.

    It also carries what a forked child inherits rather than receives: ``multiprocessing``
    locks, semaphores, conditions and events go across as the same shared objects, as
    they do with CPython's fork (CPython refuses to pickle them for a task).
    """

    def __init__(self, file, main, protocol=PROTOCOL):
        super().__init__(file, protocol)
        self._main_dict = main

    def reducer_override(self, obj):
        synchronize = sys.modules.get("multiprocessing.synchronize")
        if synchronize is not None and isinstance(obj, synchronize.SemLock):
            return reduce_semlock(obj)
        main_defined = getattr(obj, "__module__", None) == "__main__"
        if isinstance(obj, types.FunctionType) and (main_defined or obj.__globals__ is self._main_dict):
            # its globals are restored by name; and one that says it is of __main__ (a
            # wrapper) cannot be found there by name while the snapshot is loaded
            return reduce_function(obj)
        if isinstance(obj, type) and main_defined:
            return reduce_class(obj)
        if type(obj) is functools._lru_cache_wrapper and main_defined:
            return reduce_lru_cache(obj)
        if type(obj) is typing.TypeVar and main_defined:
            return reduce_typevar(obj)
        if isinstance(obj, types.ModuleType):
            name = obj.__name__
            if sys.modules.get(name) is obj and name not in ("__main__", "__mp_main__"):
                # with the submodules loaded here: `import email.message` makes
                # `email.message` an attribute of email, which the receiver uses
                prefix = name + "."
                loaded = sorted(m for m in list(sys.modules) if m.startswith(prefix))
                return (_import_package, (name, loaded)) if loaded else (importlib.import_module, (name,))
        if isinstance(obj, (types.FunctionType, type)) and not findable(obj):
            return by_value(obj, carry=False) or NotImplemented
        return _reduce_library_object(obj) or NotImplemented


class _SegmentPickler(_MainPickler, PartsPickler):
    """The pickler of a snapshot with a large ``bytes`` global: its large ``bytes`` objects
    stay out of the stream, as parts that the start-up state carries as blobs of their own
    (``codec.dumps``)."""


def _import_package(name, submodules):
    package = importlib.import_module(name)
    for submodule in submodules:
        try:
            importlib.import_module(submodule)
        except ImportError:
            pass  # where it is used, its absence is an AttributeError naming it
    return package


def _dump_main_value(value, main):
    buf = io.BytesIO()
    with child_being_started():
        _MainPickler(buf, main).dump(value)
    return buf.getvalue()


def dumps_inherited(obj):
    """Pickle what a forked child would inherit (a pool's initializer and its arguments):
    as ``dumps_main`` pickles ``__main__``, with locks shared rather than refused."""
    return _dump_main_value(obj, main_dict()).decode("latin-1")


class _Segment:
    """Starts the pickle of each global of a snapshot: the first object it memoizes, so
    that the memo can be cut back to before a global that failed."""


def _reason(exc):
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def dumps_segments(items, main):
    """Pickle ``items`` (name -> value) one value after another into one stream with one
    memo, leaving out each value that fails. Returns the segments for ``loads_segments``
    (a tuple, pickled with the rest of the child's setup, whose pickle is its bytes as they
    are where Latin-1 text inside it would be re-encoded; when a value is a large ``bytes``
    object, every large one apart, as ``PartsPickler`` parts) and ``{name: why}`` for what
    was left out."""
    buf = io.BytesIO()
    # a persistent id costs a call for every object pickled (an object-rich snapshot took
    # twice as long here): parts only where a global is a large bytes object
    with_parts = any(type(v) is bytes and len(v) > PART_BYTES for v in items.values())
    pickler = (_SegmentPickler if with_parts else _MainPickler)(buf, main)
    parts = pickler.parts if with_parts else []
    names, ends, left_out = [], [], {}
    with child_being_started():
        for name, value in items.items():
            start = buf.tell()
            marker = _Segment()
            kept = len(parts)
            try:
                pickler.dump((marker, value))
            except Exception as e:
                if with_parts:
                    pickler.drop_parts(kept)
                # drop what the failed pickle memoized: no later global may refer to it
                # (GraalPy keys the memo by its own identity hash, not id())
                memo = pickler.memo.copy()
                cut = next((i for i, o in memo.values() if o is marker), None)
                if cut is not None:
                    pickler.memo = {k: v for k, v in memo.items() if v[0] < cut}
                buf.seek(start)
                buf.truncate()
                left_out[name] = _reason(e)
                continue
            names.append(name)
            ends.append(buf.tell())
    return (names, ends, left_out, buf.getvalue(), parts), left_out


def loads_segments(segments):
    """Rebuild the values of ``dumps_segments`` one by one: yields ``(name, value, None)``,
    or ``(name, None, why)`` for one left out in the parent or failing here. What a value
    that failed here would have made stands absent (``_Absent``) in the values that refer
    to it."""
    names, ends, left_out, data, parts = segments
    for name, why in left_out.items():
        yield name, None, f"it could not be copied from the parent ({why})"
    stream = io.BytesIO(data)
    unpickler = PartsUnpickler(stream, parts)
    start = 0
    for name, end in zip(names, ends):
        try:
            _, value = unpickler.load()
        except Exception as e:
            why = f"it could not be rebuilt in this worker ({_reason(e)})"
            yield name, None, why
            memo = unpickler.memo.copy()
            cut = max((i for i, o in memo.items() if type(o) is _Segment), default=0)
            # the value's memo slots, which later values may refer to, stand absent: protocol
            # 4 and later number memo entries in order, so each slot must be there
            made = sum(1 for op, _, _ in pickletools.genops(data[start:end]) if op.name == "MEMOIZE")
            absent = _Absent(name, why)
            stream.seek(end)
            unpickler = PartsUnpickler(stream, parts)
            unpickler.memo = {i: memo[i] if i < cut else absent for i in range(cut + made)}
        else:
            yield name, value, None
        start = end


class _Absent:
    """Stands, in this context's builtins, for a global of the parent's ``__main__`` that
    did not cross: every use of it raises NameError naming it and why. (GraalPy looks
    globals up in the real builtins only, so this is how a missing name can explain itself.)"""

    __slots__ = ("_error",)

    def __init__(self, name, why):
        object.__setattr__(self, "_error", f"name {name!r} is not defined: {why}")

    def _fail(self, *args, **kwargs):
        raise NameError(object.__getattribute__(self, "_error"))

    def __getattribute__(self, name):
        raise NameError(object.__getattribute__(self, "_error"))

    __setattr__ = __delattr__ = __call__ = __repr__ = __str__ = __bytes__ = __format__ = _fail
    __bool__ = __len__ = __iter__ = __next__ = __contains__ = __getitem__ = __setitem__ = _fail
    __delitem__ = __enter__ = __exit__ = __hash__ = __index__ = __int__ = __float__ = _fail
    __reduce__ = __reduce_ex__ = __await__ = __aiter__ = __instancecheck__ = __subclasscheck__ = _fail
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __neg__ = __pos__ = __abs__ = _fail
    __invert__ = __round__ = __fspath__ = _fail


for _op in ("add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "divmod", "pow",
            "lshift", "rshift", "and", "xor", "or"):
    for _form in ("__%s__", "__r%s__", "__i%s__"):
        setattr(_Absent, _form % _op, _Absent._fail)
del _op, _form


# names that belong to the module object, not to the program
_MODULE_DUNDERS = frozenset(("__builtins__", "__loader__", "__spec__", "__name__",
                             "__cached__", "__package__"))


def dumps_main():
    """Snapshot the globals of ``__main__`` as segments (``dumps_segments``), for ``load_main``.

    A global that cannot be pickled (an open file, a running pool...) is left out alone:
    ``POLYPOOL_TRACE`` lists it, and using it in the worker raises NameError saying why.
    """
    main = main_dict()
    items = {} if main is None else {k: v for k, v in main.items() if k not in _MODULE_DUNDERS}
    segments, left_out = dumps_segments(items, main)
    for name, why in left_out.items():
        trace(f"__main__.{name} left out of the fork snapshot: {why}")
    return segments


def load_main(segments, module):
    """Fill ``module`` (the worker's ``__main__``) from the segments of ``dumps_main``, global
    by global; one that does not cross stands absent (``_Absent``)."""
    namespace = module.__dict__
    for name, value, why in loads_segments(segments):
        if why is None:
            namespace[name] = value
            continue
        trace(f"__main__.{name} is not defined in this worker: {why}")
        if not hasattr(builtins, name):
            setattr(builtins, name, _Absent(name, why))


def _library_roots():
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.dirname(__file__))}
    return tuple(os.path.join(os.path.realpath(r), "") for r in roots if r)


# module file -> whether it is the program's: every pool start asks for each loaded module,
# and realpath costs tens of microseconds a call on GraalPy (a Pool() start spent 0.3-1 s here)
_program_files = {}
_roots = None


def _is_program_module(name, module):
    global _roots
    if name in ("__main__", "__mp_main__") or not isinstance(module, types.ModuleType):
        return False
    file = getattr(module, "__file__", None)
    if not file:
        return False
    verdict = _program_files.get(file)
    if verdict is None:
        if _roots is None:
            _roots = _library_roots()
        path = os.path.realpath(file)
        verdict = _program_files[file] = not path.startswith(_roots) and "-packages" + os.sep not in path
    return verdict


def _class_data(module_name, module):
    """The data attributes of the classes ``module`` defines (``Counter.count = 5``), which
    its re-import would reset: ``{(class name, attribute): value}``."""
    import enum
    data = {}
    for key, cls in list(module.__dict__.items()):
        if not isinstance(cls, type) or cls.__module__ != module_name or cls.__qualname__ != key \
                or isinstance(cls, enum.EnumType):
            continue
        for attr, value in list(cls.__dict__.items()):
            if attr.startswith("__") and attr.endswith("__"):
                continue
            if isinstance(value, (types.FunctionType, type, types.ModuleType)) or hasattr(type(value), "__get__"):
                continue  # methods, properties, nested classes: the re-import makes them
            data[key, attr] = value
    return data


def _program_state(name, module):
    values = {}
    for key, value in list(module.__dict__.items()):
        if key.startswith("__") and key.endswith("__"):
            continue
        if isinstance(value, (types.ModuleType, types.FunctionType, type)) and \
                getattr(value, "__module__", name) == name:
            continue
        values[key] = value
    for key, value in _class_data(name, module).items():
        values[key] = value
    return values


def dumps_modules():
    """Snapshot the data globals of the program's own modules, for ``restore_modules``.

    CPython's fork copies every module as the parent left it; a worker here re-imports a
    module when it needs one, so the values the program changed since the import would be
    lost. The program's own modules are those loaded from files outside the Python
    installation and its site-packages. Their data globals and the data attributes of
    their classes cross; functions, classes and submodules come back with the re-import,
    and what cannot be pickled stays as the re-import makes it.
    Returns ``{module name: segments}``.
    """
    main = main_dict()
    states = {}
    for name, module in list(sys.modules.items()):
        if not _is_program_module(name, module):
            continue
        values = _program_state(name, module)
        if values:
            states[name], left_out = dumps_segments(values, main)
            for key, why in left_out.items():
                trace(f"{name}.{_dotted(key)} left out of the fork snapshot: {why}")
    return states


def _dotted(key):
    return ".".join(key) if isinstance(key, tuple) else key


def _restore_module(name, state, module):
    for key, value, why in loads_segments(state):
        if why is not None:
            trace(f"{name}.{_dotted(key)} keeps its value of a fresh import: {why}")
            continue
        try:
            if isinstance(key, tuple):
                setattr(getattr(module, key[0]), key[1], value)
            else:
                module.__dict__[key] = value
        except Exception as e:
            trace(f"{name}.{_dotted(key)} keeps its value of a fresh import: {_reason(e)}")


def restore_modules(states):
    """Arrange for each module of ``dumps_modules`` to get its state when imported."""
    from polypool.hooks import on_import
    for name, state in states.items():
        on_import(name, functools.partial(_restore_module, name, state))


# -- logging as configured ----------------------------------------------------------------
# A forked CPython child has its parent's logging configuration: the loggers' levels and
# handlers (logging.basicConfig in the main program, then logging in the workers). Handlers
# hold streams and locks, so they go across as descriptions of the kinds a program
# configures: stream handlers on sys.stdout or sys.stderr and file handlers, with their
# level and format (a Formatter subclass as a plain Formatter of the same format). Others,
# and filters, are left out.

def _formatter_state(logging, formatter):
    if formatter is None:
        return None
    styles = {logging.PercentStyle: "%", logging.StrFormatStyle: "{", logging.StringTemplateStyle: "$"}
    return formatter._fmt, formatter.datefmt, styles.get(type(formatter._style), "%")


def _handler_state(logging, handler):
    formatter = _formatter_state(logging, handler.formatter)
    if isinstance(handler, logging.FileHandler):
        # the parent has it open already: the child appends, as it would to the shared fd
        return "file", handler.baseFilename, handler.encoding, handler.level, formatter
    if type(handler) is logging.StreamHandler:
        for name in ("stdout", "stderr"):
            if handler.stream is getattr(sys, name) or handler.stream is getattr(sys, f"__{name}__"):
                return "stream", name, None, handler.level, formatter
    return None


def dumps_logging():
    """The parent's logging configuration, or None if it never imported logging."""
    logging = sys.modules.get("logging")
    if logging is None:
        return None
    handlers, index = [], {}
    loggers = [(None, logging.root)] + [(name, lg) for name, lg in list(logging.root.manager.loggerDict.items())
                                          if isinstance(lg, logging.Logger)]
    states = []
    for name, logger in loggers:
        kept = []
        for h in logger.handlers:
            if id(h) not in index:
                state = _handler_state(logging, h)
                index[id(h)] = None if state is None else len(handlers)
                if state is not None:
                    handlers.append(state)
            if index[id(h)] is not None:
                kept.append(index[id(h)])
        states.append((name, logger.level, logger.propagate, logger.disabled, kept))
    return {"handlers": handlers, "loggers": states, "disable": logging.root.manager.disable}


def restore_logging(state):
    if state is None:
        return
    import logging
    made = []
    for kind, where, encoding, level, formatter in state["handlers"]:
        if kind == "file":
            h = logging.FileHandler(where, mode="a", encoding=encoding, delay=True)
        else:
            h = logging.StreamHandler(getattr(sys, where))
        h.setLevel(level)
        if formatter is not None:
            fmt, datefmt, style = formatter
            h.setFormatter(logging.Formatter(fmt, datefmt, style))
        made.append(h)
    for name, level, propagate, disabled, kept in state["loggers"]:
        logger = logging.root if name is None else logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled
        logger.handlers = [made[i] for i in kept]
    logging.disable(state["disable"])
