"""A worker's side of the Java embedding API (``dev.polypool.PythonPool``).

Java sends plain arguments (None, bool, int within a Java long, float, str) as they are,
and anything else as a flat sequence of tokens: a tag, then what the tag announces, with
containers in prefix order. A result goes back the same way: the exact plain types as they
are, any other value as a Python list of tokens, which Java reads in the worker's thread.
The tags are Java's (``dev.polypool.engine.Protocol``, read through ``polypool.protocol``).
This is the entry of the Java API's workers: Java calls ``start`` here instead of
``polypool.worker.start``.
"""

import array
import linecache
import sys
import traceback
import types

from polypool import bootstrap, codec
from polypool.codec import LONG_MAX, LONG_MIN
from polypool.protocol import APPLY, MAP, STARCALL
from polypool.protocol import (TAG_BIGINT as BIGINT, TAG_BYTES as BYTES, TAG_DICT as DICT,
                               TAG_FALSE as FALSE, TAG_FLOAT as FLOAT, TAG_FLOATS as FLOATS,
                               TAG_INT as INT, TAG_INTS as INTS, TAG_LIST as LIST, TAG_NONE as NONE, TAG_RAISED as RAISED,
                               TAG_STR as STR, TAG_TRUE as TRUE,
                               TAG_UNCONVERTIBLE as UNCONVERTIBLE)

# lists of this many numbers or more go as one block of 64-bit values (INTS, FLOATS)
_BULK_MIN = 16


def _decode(tokens, i):
    """The value whose tokens start at ``tokens[i]``, and the index after them."""
    tag = tokens[i]
    if tag == NONE:
        return None, i + 1
    if tag == TRUE:
        return True, i + 1
    if tag == FALSE:
        return False, i + 1
    if tag == INT or tag == FLOAT or tag == STR:
        return tokens[i + 1], i + 2
    if tag == BIGINT:
        return int(tokens[i + 1]), i + 2
    if tag == BYTES:
        # a Java byte[] cannot enter Python in bulk; its Latin-1 string can
        return tokens[i + 1].encode("latin-1"), i + 2
    if tag == INTS or tag == FLOATS:
        # the machine's 64-bit values, as Java packed them: one string, not a token each
        return array.array("q" if tag == INTS else "d", tokens[i + 1].encode("latin-1")).tolist(), i + 2
    if tag == LIST:
        n = tokens[i + 1]
        i += 2
        items = []
        for _ in range(n):
            item, i = _decode(tokens, i)
            items.append(item)
        return items, i
    if tag == DICT:
        n = tokens[i + 1]
        i += 2
        d = {}
        for _ in range(n):
            key, i = _decode(tokens, i)
            d[key], i = _decode(tokens, i)
        return d, i
    raise ValueError(f"polypool: unknown token tag {tag!r}")


def decode_args(tokens):
    """The argument list encoded by Java as one LIST token sequence."""
    return _decode(tokens, 0)[0]


class _Unconvertible(Exception):
    pass


def _encode(obj, out):
    # exact types first: the common cases; then subclasses (IntEnum, namedtuple...) as their base
    t = type(obj)
    if obj is None:
        out.append(NONE)
    elif t is bool:
        out.append(TRUE if obj else FALSE)
    elif t is int or (isinstance(obj, int) and not isinstance(obj, bool)):
        obj = int(obj)
        if LONG_MIN <= obj <= LONG_MAX:
            out.append(INT)
            out.append(obj)
        else:
            out.append(BIGINT)
            out.append(str(obj))
    elif t is float or isinstance(obj, float):
        out.append(FLOAT)
        out.append(float(obj))
    elif t is str or isinstance(obj, str):
        out.append(STR)
        out.append(str(obj))
    elif t is bytes or isinstance(obj, bytes):
        out.append(BYTES)
        out.append(bytes(obj))
    elif (t is list or t is tuple) and len(obj) >= _BULK_MIN and _bulk(obj, out):
        pass
    elif t is list or t is tuple or isinstance(obj, (list, tuple)):
        out.append(LIST)
        out.append(len(obj))
        for item in obj:
            _encode(item, out)
    elif t is dict or isinstance(obj, dict):
        out.append(DICT)
        out.append(len(obj))
        for key, value in obj.items():
            _encode(key, out)
            _encode(value, out)
    else:
        raise _Unconvertible(f"cannot convert Python {t.__module__}.{t.__qualname__} to a Java value"
                             if t.__module__ != "builtins" else
                             f"cannot convert Python {t.__qualname__} to a Java value")


def _bulk(items, out):
    """Appends ``items`` as one INTS or FLOATS block if all are exact ints within a Java
    long, or all exact floats; returns whether it did."""
    first = type(items[0])
    if first is int and all(type(x) is int for x in items):
        try:
            block = array.array("q", items)
        except OverflowError:  # an int outside a long: token by token, BIGINT where needed
            return False
        out.append(INTS)
    elif first is float and all(type(x) is float for x in items):
        block = array.array("d", items)
        out.append(FLOATS)
    else:
        return False
    out.append(block.tobytes())
    return True


def encode_result(obj):
    """``obj`` itself when Java reads it unambiguously, else its list of tokens."""
    t = type(obj)
    if obj is None or t is str or t is bool or (t is int and LONG_MIN <= obj <= LONG_MAX):
        return obj
    out = []
    try:
        _encode(obj, out)
    except _Unconvertible as e:
        return [UNCONVERTIBLE, str(e)]
    except RecursionError:
        return [UNCONVERTIBLE, "cannot convert a self-containing Python value to a Java value"]
    return out


def _type_name(t):
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def encode_exception(exc):
    return [RAISED, _type_name(type(exc)), str(exc),
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]


def run(kind, ref, plain, payload):
    """Call ``ref`` with the arguments in ``payload``; returns the encoded result or
    exception. ``kind`` is ``STARCALL`` (``ref(*arguments)``), ``APPLY`` (the payload is
    ``[arguments, keywords]``), ``MAP`` (``[[item, ...], keywords]``, one call per item) or
    ``STARMAP`` (``[[arguments, ...], keywords]``): a chunk of a map returns the list of
    results, and the first call that raises fails the chunk."""
    try:
        func = codec.resolve(ref)
        if kind == STARCALL:
            result = func(*payload) if plain else func(*decode_args(payload))
        elif kind == APPLY:
            args, kwargs = decode_args(payload)
            result = func(*args, **kwargs)
        elif kind == MAP:
            items, kwargs = decode_args(payload)
            result = [func(x, **kwargs) for x in items]
        else:
            calls, kwargs = decode_args(payload)
            result = [func(*args, **kwargs) for args in calls]
    except BaseException as e:
        return encode_exception(e)
    return encode_result(result)


def _add_source_module(name, text):
    filename = f"<polypool source {name}>"
    # lets tracebacks show the lines of code that came as text
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    try:
        exec(compile(text, filename, "exec"), module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise


def start(name, identity, pid, ppid, start_method, paths, sources, modules, init_ref, init_args):
    """Make this fresh context a worker of a Java ``PythonPool``; returns ``run``.

    The arguments after the identity are those of ``dev.polypool.PythonPool``'s builder:
    the start method, source directories, ``[module name, source text, ...]``, modules to
    import, the initializer's reference or '' and its argument tokens. An initializer that
    raises is reported on stderr and re-raised: the pool is broken.
    """
    bootstrap.install_worker(name, identity, pid, ppid, start_method)
    sys.path[:0] = list(paths)
    sources = list(sources)
    for k in range(0, len(sources), 2):
        _add_source_module(sources[k], sources[k + 1])
    for module in modules:
        __import__(module)
    if init_ref:
        try:
            codec.resolve(init_ref)(*decode_args(init_args))
        except BaseException:
            sys.stderr.write(f"Process {name}:\n")
            traceback.print_exc()
            sys.stderr.flush()
            raise
    return run
