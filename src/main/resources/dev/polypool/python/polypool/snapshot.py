"""The fork snapshot: what a child started with ``fork`` gets of its parent's state.

A forked CPython child has every function, class and global its parent had. A worker here
is a fresh context, so the parent's ``__main__`` is pickled (``dumps_main``) with what it
defines by value and everything importable by reference, and rebuilt in the worker
(``load_main``); the program's own modules are re-imported there with the data globals the
parent had changed (``dumps_modules``, ``restore_modules``). What a forked child inherits
rather than receives (locks, semaphores, pipe ends) goes across as the same shared objects.
"""

import importlib
import io
import os
import sys
import types

from polypool import codec
from polypool.byvalue import (PROTOCOL, ForkingPickler, by_value, child_being_started,
                              findable, main_dict, reduce_function, reduce_class, reduce_semlock)

class _MainPickler(ForkingPickler):
    """Pickles what ``__main__`` defines by value, everything else as usual.

    It also carries what a forked child inherits rather than receives: ``multiprocessing``
    locks, semaphores, conditions and events go across as the same shared objects, as
    they do with CPython's fork (CPython refuses to pickle them for a task).
    """

    def __init__(self, file, main):
        super().__init__(file, PROTOCOL)
        self._main_dict = main

    def reducer_override(self, obj):
        synchronize = sys.modules.get("multiprocessing.synchronize")
        if synchronize is not None and isinstance(obj, synchronize.SemLock):
            return reduce_semlock(obj)
        if isinstance(obj, types.FunctionType) and obj.__globals__ is self._main_dict:
            return reduce_function(obj)
        if isinstance(obj, type) and obj.__module__ == "__main__" and type(obj) is type:
            return reduce_class(obj)
        if isinstance(obj, types.ModuleType):
            name = obj.__name__
            if sys.modules.get(name) is obj and name not in ("__main__", "__mp_main__"):
                # with the submodules loaded here: `import email.message` makes
                # `email.message` an attribute of email, which the receiver uses
                prefix = name + "."
                loaded = sorted(m for m in list(sys.modules) if m.startswith(prefix))
                return (_import_package, (name, loaded)) if loaded else (importlib.import_module, (name,))
        if isinstance(obj, (types.FunctionType, type)) and not findable(obj):
            return by_value(obj) or NotImplemented
        return NotImplemented


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


# names that belong to the module object, not to the program
_MODULE_DUNDERS = frozenset(("__builtins__", "__loader__", "__spec__", "__name__",
                             "__cached__", "__package__"))


def dumps_main():
    """Snapshot the globals of ``__main__`` as Latin-1 text, for ``load_main``.

    A global that cannot be copied into another context (an open file, a running pool...)
    is left out: it is absent in the worker, where using it raises NameError.
    """
    main = main_dict()
    if main is None:
        return codec.dumps({})
    items = {k: v for k, v in main.items() if k not in _MODULE_DUNDERS}
    try:
        return _dump_main_value(items, main).decode("latin-1")
    except Exception:
        pass
    kept = {}
    for name, value in items.items():
        try:
            _dump_main_value(value, main)
        except Exception:
            continue
        kept[name] = value
    return _dump_main_value(kept, main).decode("latin-1")


def load_main(text, module):
    """Fill ``module`` (the worker's ``__main__``) from the text of ``dumps_main``."""
    module.__dict__.update(codec.loads(text))


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
    main = main_dict()
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
                _dump_main_value(value, main)
            except Exception:
                continue
            values[key] = value
        if values:
            try:
                states[name] = _dump_main_value(values, main).decode("latin-1")
            except Exception:
                pass
    return states


def restore_modules(states):
    """Arrange for each module of ``dumps_modules`` to get its state when imported."""
    from polypool.hooks import on_import
    for name, state in states.items():
        on_import(name, lambda module, state=state: module.__dict__.update(codec.loads(state)))
