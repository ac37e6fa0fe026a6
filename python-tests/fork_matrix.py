"""The runner of the fork-semantics matrix, imported by the program that
``test_fork_semantics.py`` writes (``fork_matrix_defs.py`` three times: ``T`` top level of
``__main__``, ``G`` under ``if __name__ == "__main__":``, ``M`` a module of the program).

``main(method)`` tries every kind of definition from every place in every use, and prints
one line per cell, ``<use> <place> <kind> <outcome>``. Uses: ``task`` (the callable of
``Pool.apply``), ``arg`` (a task argument), ``result`` (what a task returns), ``init`` (a
pool's initializer argument), ``pipe`` (an item sent through a ``Pipe`` to a process and
back) and ``process`` (a ``Process`` target). Outcomes: ``ok`` (the worker saw what the
parent sees, and what came back is the parent's own class, member or function), ``diff``
(it behaves differently there), ``other-type`` (it came back as a copy of the parent's
class, not the class itself), ``ERR <exception type>``, ``exit <code>`` (a process), and
``skip`` for a cell ``expected`` says CPython hangs in (it is not run on CPython).

Every description is computed from the object alone (and its class), so it is the same in
the parent and in a worker that has the definitions.
"""

import enum
import multiprocessing
import sys
import traceback
import types

TIMEOUT = 60
PLACES = ("T", "G", "M")
USES = ("task", "arg", "result", "init", "pipe", "process")
PROCESS_KINDS = ("plain", "wraps", "singledispatch", "globals", "lambda", "closure")
BY_VALUE_ONLY = {"lambda": "PicklingError", "closure": "AttributeError"}
PLAIN_SAMPLES = {"typeddict"}  # its instances are plain dicts
FUNCTION_KINDS = {"wraps", "singledispatch", "recursive", "mutually-recursive",
                  "defaults-annotations", "globals", "lambda", "closure"}


def expected(method, place, use, kind, polypool):
    """What CPython prints for a cell (polypool: the same, but for the documented
    by-value extension); ``hang`` where CPython never finishes (its workers die
    unpickling the task or their initializer arguments and are restarted forever)."""
    fork = method == "fork"
    if not fork and place == "G" and use == "result":
        return "ERR NameError"  # the task looks up KINDS_G, which a spawned child lacks
    if kind in BY_VALUE_ONLY and use != "pipe":
        if polypool:
            return "ok"  # extension: sent by value
        if fork and use in ("init", "process"):
            return "ok"  # a forked child gets them without pickling
        return "ERR MaybeEncodingError" if use == "result" else "ERR " + BY_VALUE_ONLY[kind]
    if kind in BY_VALUE_ONLY:
        return "ERR " + BY_VALUE_ONLY[kind]  # a Pipe pickles as CPython does, everywhere
    if not fork and place == "G" and not (kind in PLAIN_SAMPLES and use != "task"):
        # the re-imported main script does not define what the guard defines
        if use == "pipe":
            return "ERR AttributeError"
        if not polypool:
            return "exit 1" if use == "process" else "hang"
        # extension: a task function, a pool's initializer arguments and a Process go
        # by value where the child lacks them; other task arguments and callables go
        # by name as in CPython, and the task fails at once where CPython hangs
        if use in ("init", "process") or (use == "task" and kind in FUNCTION_KINDS):
            return "ok"
        return "ERR AttributeError"
    if not fork and kind == "class-attribute-changed" and use in ("arg", "init", "pipe"):
        return "diff"  # the child's class is the re-imported one, count == 0
    return "ok"


def _names(objs):
    return [getattr(o, "__name__", "?") for o in objs]


def describe(kind, o):
    """What an object of ``kind`` shows of itself: its value, behaviour and class."""
    t = type(o)
    if kind == "plain":
        return f"{t.__qualname__} {o.show()}"
    if kind in ("dataclass", "frozen-dataclass", "slots-dataclass"):
        import dataclasses
        text = f"{o!r} {[f.name for f in dataclasses.fields(o)]} {o == t(**dataclasses.asdict(o))}"
        if kind == "frozen-dataclass":
            try:
                o.x = 9
            except dataclasses.FrozenInstanceError:
                text += f" frozen {hash(o) == hash(t(o.x))}"
        if kind == "slots-dataclass":
            text += f" {t.__slots__} {hasattr(o, '__dict__')}"
        if kind == "dataclass":
            text += f" {t(0).tags == []} {t(0).tags is not t(0).tags}"
        return text
    if kind in ("enum", "intenum", "flag", "intflag"):
        members = list(t)
        text = f"{o!r} {o.value} {_names(members)} {o is t(o.value)} {[m is t[m.name] for m in members]}"
        if kind == "enum":
            text += f" {o.label()}"
        if kind in ("intenum", "intflag"):
            text += f" {o + 1} {isinstance(o, int)}"
        if kind in ("flag", "intflag"):
            text += f" {[m in o for m in members]} {(o & members[0]) is members[0]}"
        return text
    if kind == "namedtuple":
        return f"{o!r} {o.both()} {t._fields} {t._field_defaults} {t(2)} {o._replace(a=7)}"
    if kind == "collections-namedtuple":
        return f"{o!r} {t._fields} {t._make([3, 4])} {o._asdict()}"
    if kind == "typeddict":
        return f"{t.__name__} {sorted(o.items())}"
    if kind == "abc":
        return (f"{t.__qualname__} {o.area()} {isinstance(o, o.abc)} {isinstance(o.virtual, o.abc)} "
                f"{issubclass(type(o.virtual), o.abc)} {isinstance(1, o.abc)} {sorted(o.abc.__abstractmethods__)}")
    if kind == "protocol":
        return f"{t.__qualname__} {o.size()} {isinstance(o, o.proto)} {isinstance(1, o.proto)}"
    if kind == "generic":
        return f"{t.__qualname__} {o.get()} {_names(t.__parameters__)} {t[int].__origin__ is t}"
    if kind == "metaclass":
        return f"{t.__qualname__} {type(t).__qualname__} {t.tag} {o.v}"
    if kind == "init-subclass":
        return f"{t.__qualname__} {t.tag} {t.__mro__[1].registry}"
    if kind == "class-decorator":
        return f"{t.__qualname__} {t.decorated}"
    if kind == "methods":
        return f"{t.__qualname__} {t.make(4).v} {t.twice(5)} {o.double} {o.expensive} {vars(o)}"
    if kind == "slots":
        return f"{t.__qualname__} {o.a} {o.b} {t.__slots__} {hasattr(o, '__dict__')}"
    if kind == "nested-class":
        return f"{t.__qualname__} {o.v}"
    if kind in ("exception", "exception-init"):
        return f"{t.__qualname__} {o.args} {str(o)} {getattr(o, 'code', None)} {isinstance(o, Exception)}"
    if kind == "wraps":
        return f"{o.__name__} {o.__doc__} {o(4)} {o.__wrapped__(4)}"
    if kind == "lru-cache":
        return f"{o.__name__} {o(20)} {o.cache_parameters()}"
    if kind == "partial":
        return f"{o.func.__name__} {o.keywords} {o(3)}"
    if kind == "singledispatch":
        return f"{o.__name__} {o(1)} {o('s')} {o(1.5)} {sorted(c.__name__ for c in o.registry)}"
    if kind == "recursive":
        return f"{o.__name__} {o(6)}"
    if kind == "mutually-recursive":
        return f"{o.__name__} {o(10)} {o(7)}"
    if kind == "defaults-annotations":
        return f"{o.__name__} {o('x')} {o('y', 'hi', punct='?')} {o.__defaults__} {o.__kwdefaults__} {o.__annotations__}"
    if kind == "globals":
        return f"{o.__name__} {o(2)}"
    if kind in ("lambda", "closure"):
        return f"{o(4)}"
    if kind == "class-attribute-changed":
        return f"{t.__qualname__} {t.count}"
    if kind == "cycle":
        return f"{o.name} {o.peer.name} {o.peer.peer is o}"
    raise ValueError(kind)


def _findable(obj):
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    found = module
    try:
        for part in obj.__qualname__.split("."):
            found = getattr(found, part)
    except AttributeError:
        return False
    return found is obj


def same(got, want):
    """Whether ``got`` is what CPython's pickling would give back of ``want``: the same
    class, member or (named) function, an object of the very same class."""
    if isinstance(want, (type, enum.Enum)):
        return got is want
    if isinstance(want, types.FunctionType) and _findable(want):
        return got is want
    return type(got) is type(want)


def outcome(got_description, want_description, identical=True):
    if got_description != want_description:
        return "diff"
    return "ok" if identical else "other-type"


def error(e):
    return "ERR " + type(e).__name__


def namespaces():
    main = sys.modules["__main__"]
    return {"T": main.KINDS_T, "G": main.KINDS_G, "M": sys.modules["matrix_module"].KINDS_M}


def produce(place, kind):
    """A task: the sample global of ``kind`` in this worker, for the ``result`` use. Finds
    it as a program's function would: by its global name."""
    main = sys.modules["__main__"]
    if place == "M":
        import matrix_module
        return matrix_module.KINDS_M[kind][3]
    return eval(f"KINDS_{place}", main.__dict__)[kind][3]


_stored = {}


def store(samples):
    """A pool initializer: describe what came in the initializer's arguments."""
    for kind, sample in samples.items():
        try:
            _stored[kind] = describe(kind, sample)
        except Exception as e:
            _stored[kind] = error(e)


def stored():
    return dict(_stored)


def echo(conn):
    """A process: send back the description of every item received, and the item."""
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        except Exception as e:
            conn.send(("err", error(e)))
            continue
        if message is None:
            return
        kind, item = message
        try:
            conn.send(("ok", describe(kind, item), item))
        except Exception as e:
            conn.send(("err", error(e)))


def _cells(method, polypool):
    for place in PLACES:
        for kind in namespaces()[place]:
            for use in USES:
                if use == "process" and kind not in PROCESS_KINDS:
                    continue
                if use == "task" and namespaces()[place][kind][0] is None:
                    continue
                yield place, kind, use, expected(method, place, use, kind, polypool)


def main(method, polypool):
    ctx = multiprocessing.get_context(method)
    kinds = namespaces()
    results = {}
    cells = list(_cells(method, polypool))
    todo = {(p, k, u) for p, k, u, e in cells if e != "hang"}
    pool = ctx.Pool(2)
    try:
        for place, kind, use in sorted(todo):
            if use not in ("task", "arg", "result"):
                continue
            func, args, kwargs, sample = kinds[place][kind]
            try:
                if use == "task":
                    got = pool.apply_async(func, args, kwargs).get(TIMEOUT)
                    want = func(*args, **kwargs)
                    if func is sample:  # a function: compare what it returned
                        results[place, kind, use] = outcome(repr(got), repr(want), type(got) is type(want))
                    else:
                        results[place, kind, use] = outcome(describe(kind, got), describe(kind, want), same(got, want))
                elif use == "arg":
                    got = pool.apply_async(describe, (kind, sample)).get(TIMEOUT)
                    results[place, kind, use] = outcome(got, describe(kind, sample))
                else:
                    got = pool.apply_async(produce, (place, kind)).get(TIMEOUT)
                    results[place, kind, use] = outcome(describe(kind, got), describe(kind, sample), same(got, sample))
            except multiprocessing.TimeoutError:
                results[place, kind, use] = "ERR TimeoutError"
                pool.terminate()
                pool = ctx.Pool(2)
            except Exception as e:
                results[place, kind, use] = error(e)
    finally:
        pool.terminate()
        pool.join()

    for place in PLACES:
        group = [k for k in kinds[place] if (place, k, "init") in todo]
        # what CPython cannot pickle would fail the whole group: one pool each
        batches = [[k for k in group if k not in BY_VALUE_ONLY]] + [[k] for k in group if k in BY_VALUE_ONLY]
        for batch in batches:
            if not batch:
                continue
            samples = {k: kinds[place][k][3] for k in batch}
            try:
                with ctx.Pool(1, initializer=store, initargs=(samples,)) as p:
                    got = p.apply_async(stored).get(TIMEOUT)
                for k in batch:
                    results[place, k, "init"] = outcome(got.get(k), describe(k, samples[k]))
            except Exception as e:
                for k in batch:
                    results[place, k, "init"] = error(e)

    for place in PLACES:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=echo, args=(child,))
        proc.start()
        child.close()
        for kind in kinds[place]:
            if (place, kind, "pipe") not in todo:
                continue
            sample = kinds[place][kind][3]
            try:
                parent.send((kind, sample))
            except Exception as e:
                results[place, kind, "pipe"] = error(e)
                continue
            if not parent.poll(TIMEOUT):
                results[place, kind, "pipe"] = "ERR TimeoutError"
                break
            try:
                reply = parent.recv()
            except Exception as e:  # the process died
                results[place, kind, "pipe"] = error(e)
                break
            if reply[0] == "err":
                results[place, kind, "pipe"] = reply[1]
            else:
                results[place, kind, "pipe"] = outcome(reply[1], describe(kind, sample), same(reply[2], sample))
        try:
            parent.send(None)  # a forked child holds this end too: no end of file
        except OSError:
            pass
        parent.close()
        proc.join(TIMEOUT)
        if proc.is_alive():
            proc.terminate()

    for place, kind, use in sorted(todo):
        if use != "process":
            continue
        func, args, kwargs = kinds[place][kind][:3]
        try:
            proc = ctx.Process(target=func, args=args, kwargs=kwargs)
            proc.start()
            proc.join(TIMEOUT)
            if proc.is_alive():
                proc.terminate()
                results[place, kind, use] = "ERR TimeoutError"
            else:
                results[place, kind, use] = "ok" if proc.exitcode == 0 else f"exit {proc.exitcode}"
        except Exception as e:
            results[place, kind, use] = error(e)

    for place, kind, use, want in cells:
        print(use, place, kind, results.get((place, kind, use), "skip"), flush=True)
