"""The functions of ``unicodedata`` that GraalPy 25.0 takes from its native
``_cpython_unicodedata`` (which loads into one context per process), computed in Java
(``dev.polypool.stdlib.JavaStdlib``) so that they work in every context; and the
``gc`` functions GraalPy lacks."""

import operator

import polyglot

_java = polyglot.import_value("polypool.stdlib")


def _code_point(function, chr):
    if not isinstance(chr, str):
        raise TypeError(f"{function}() argument must be a unicode character, not {type(chr).__name__}")
    if len(chr) != 1:
        raise TypeError(f"{function}() argument must be a unicode character, not str")
    return ord(chr)


def combining(chr, /):
    """Returns the canonical combining class assigned to the character chr as integer."""
    return _java.combining(_code_point("combining", chr))


def east_asian_width(chr, /):
    """Returns the east asian width assigned to the character chr as string."""
    return _java.eastAsianWidth(_code_point("east_asian_width", chr))


def lookup(name, /):
    """Look up character by name."""
    if isinstance(name, (bytes, bytearray)):
        name = name.decode("latin-1")
    elif not isinstance(name, str):
        raise TypeError(f"a bytes-like object is required, not '{type(name).__name__}'")
    if len(name) > 256:
        raise KeyError("name too long")
    code_point = _java.lookup(name) if name.isascii() else -1
    if code_point < 0:
        raise KeyError(f"undefined character name '{name}'")
    return chr(code_point)


def install_unicodedata(module):
    module.combining = combining
    module.east_asian_width = east_asian_width
    module.lookup = lookup


# CPython's defaults; GraalPy's collector is the JVM's, which takes no thresholds
_thresholds = [700, 10, 10]


def get_threshold():
    """Return the current collection thresholds."""
    return tuple(_thresholds)


def set_threshold(threshold0, *more):
    """Set the collection thresholds (kept for get_threshold: GraalPy's collector, the
    JVM's, does not use them)."""
    if len(more) > 2:
        raise TypeError(f"set_threshold() takes at most 3 arguments ({1 + len(more)} given)")
    values = [operator.index(value) for value in (threshold0,) + more]
    _thresholds[:len(values)] = values


def install_gc(module):
    if not hasattr(module, "get_threshold"):
        module.get_threshold = get_threshold
        module.set_threshold = set_threshold
