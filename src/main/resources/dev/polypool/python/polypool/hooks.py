"""Run code right after a module is imported, whenever that happens."""

import sys


class _AfterImport:
    """A meta path finder that wraps the loader of chosen modules."""

    def __init__(self):
        self._callbacks = {}

    def add(self, name, callback):
        self._callbacks.setdefault(name, []).append(callback)

    def find_spec(self, name, path, target=None):
        callbacks = self._callbacks.pop(name, None)
        if callbacks is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_then_callbacks(module):
            exec_module(module)
            for callback in callbacks:
                callback(module)

        loader.exec_module = exec_then_callbacks
        return spec


_finder = _AfterImport()


def on_import(name, callback):
    """Call ``callback(module)`` once module ``name`` has executed; at once if it already has."""
    module = sys.modules.get(name)
    if module is not None:
        callback(module)
        return
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    _finder.add(name, callback)
