"""Conformance tests for the start methods (fork, spawn, forkserver) and for what each can
send to a worker.

Tests that change the program's start method, or that need a main script to be imported
again by spawned children, run a small script in a child interpreter (this same
implementation: ``extensions.child_interpreter()``). Pools are expensive on polypool, so
each start method gets one shared pool.
"""

import copyreg
import multiprocessing
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

from multiprocessing import reduction

from extensions import ON_POLYPOOL, child_interpreter, polypool_extension
from hang_guard import TIMEOUT, bounded

METHODS = ("fork", "spawn", "forkserver")
WORKER_PREFIX = {"fork": "ForkPoolWorker-", "spawn": "SpawnPoolWorker-",
                 "forkserver": "ForkServerPoolWorker-"}
PROCESS_PREFIX = {"fork": "ForkProcess-", "spawn": "SpawnProcess-",
                  "forkserver": "ForkServerProcess-"}

def square(x):
    return x * x


def worker_name(_):
    return multiprocessing.current_process().name


def identity(x):
    return x


def apply_function(f, x):
    return f(x)


class Point:
    """Pickled through a copyreg registration (``reduce_point``)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


def make_point(x, y):
    p = Point(x, y)
    p.rebuilt = True
    return p


def reduce_point(p):
    return make_point, (p.x, p.y)


copyreg.pickle(Point, reduce_point)


class Interval:
    """Pickled through ForkingPickler.register (multiprocessing.reduction)."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi


def make_interval(lo, hi):
    i = Interval(lo, hi)
    i.via = "forking-pickler"
    return i


reduction.register(Interval, lambda i: (make_interval, (i.lo, i.hi)))


class Stateful:
    """Round-trips through __getstate__/__setstate__."""

    def __init__(self, items):
        self.items = list(items)
        self.cache = object()  # not picklable: dropped by __getstate__

    def __getstate__(self):
        return {"items": self.items}

    def __setstate__(self, state):
        self.items = state["items"]
        self.cache = None


class Reduced:
    def __init__(self, n):
        self.n = n

    def __reduce__(self):
        return Reduced, (self.n + 1,)


def describe(obj):
    if isinstance(obj, Point):
        return ("point", obj.x, obj.y, getattr(obj, "rebuilt", False))
    if isinstance(obj, Interval):
        return ("interval", obj.lo, obj.hi, getattr(obj, "via", None))
    if isinstance(obj, Stateful):
        return ("stateful", obj.items, obj.cache)
    if isinstance(obj, Reduced):
        return ("reduced", obj.n)
    return ("other", repr(obj))


_pools = {}


def pool_for(method):
    pool = _pools.get(method)
    if pool is None:
        pool = _pools[method] = multiprocessing.get_context(method).Pool(1)
    return pool


def tearDownModule():
    for pool in _pools.values():
        pool.terminate()
        pool.join()


def run_script(source, *args, env=None, modules=None):
    """Run ``source`` as a main script in a child interpreter, with ``modules`` (name to
    source) beside it; returns the CompletedProcess."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in (modules or {}).items():
            with open(os.path.join(tmp, name + ".py"), "w") as f:
                f.write(textwrap.dedent(text))
        script = os.path.join(tmp, "main_script.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent(source))
        return subprocess.run(child_interpreter() + [script, *args], cwd=tmp,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=600, env=env)


BOOTSTRAP_ERROR = "An attempt has been made to start a new process before the"


class StartMethodApiTest(unittest.TestCase):
    def test_all_start_methods(self):
        self.assertEqual(multiprocessing.get_all_start_methods(), ["fork", "spawn", "forkserver"])

    def test_unknown_context_raises_valueerror(self):
        with self.assertRaises(ValueError):
            multiprocessing.get_context("threads")

    def test_context_reports_its_method(self):
        names = {"fork": "ForkContext", "spawn": "SpawnContext", "forkserver": "ForkServerContext"}
        for method in METHODS:
            ctx = multiprocessing.get_context(method)
            self.assertEqual(ctx.get_start_method(), method)
            self.assertEqual(type(ctx).__name__, names[method])
            self.assertIsInstance(ctx, multiprocessing.context.BaseContext)

    def test_concrete_context_refuses_set_start_method(self):
        with self.assertRaises(ValueError):
            multiprocessing.get_context("spawn").set_start_method("fork")

    def test_forkserver_preload_needs_strings(self):
        with self.assertRaises(TypeError):
            multiprocessing.get_context("forkserver").set_forkserver_preload([os])

    def test_set_and_get_in_a_program(self):
        proc = run_script("""\
            import multiprocessing as mp
            print(mp.get_start_method(allow_none=True))
            print(mp.get_start_method())
            try:
                mp.set_start_method("spawn")
            except RuntimeError as e:
                print("RuntimeError", e)
            mp.set_start_method("spawn", force=True)
            print(mp.get_start_method())
            try:
                mp.set_start_method("nope", force=True)
            except ValueError as e:
                print("ValueError", e)
            mp.set_start_method(None, force=True)
            print(mp.get_start_method(allow_none=True))
            mp.set_start_method("forkserver")
            print(mp.get_context().get_start_method())
            """)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.splitlines(), [
            "None", "fork", "RuntimeError context has already been set", "spawn",
            "ValueError cannot find context for 'nope'", "None", "forkserver"])


class WorkerNamesTest(unittest.TestCase):
    def test_pool_worker_names_follow_the_method(self):
        for method in METHODS:
            with self.subTest(method=method):
                name = bounded(pool_for(method).apply, worker_name, (0,))
                self.assertTrue(name.startswith(WORKER_PREFIX[method]), name)

    def test_process_names_follow_the_method(self):
        for method in METHODS:
            with self.subTest(method=method):
                p = multiprocessing.get_context(method).Process(target=square, args=(2,))
                self.assertTrue(p.name.startswith(PROCESS_PREFIX[method]), p.name)
                p.start()
                p.join(TIMEOUT)
                self.assertEqual(p.exitcode, 0)

    def test_forkserver_preload_is_imported_before_workers_start(self):
        # in a program of its own: CPython's server reads the preload list once, at its start.
        # The preloaded module records which process imported it: the fork server, not the
        # worker (polypool: a template context, before it became the worker).
        proc = run_script("""\
            import multiprocessing as mp
            import os
            import sys

            def preloaded_elsewhere(_=None):
                if "preloaded_here" not in sys.modules:
                    return False
                import preloaded_here
                return preloaded_here.PID != os.getpid()

            def process_body():
                sys.exit(0 if preloaded_elsewhere() else 3)

            if __name__ == "__main__":
                ctx = mp.get_context("forkserver")
                ctx.set_forkserver_preload(["preloaded_here", "no_such_module_here"])
                with ctx.Pool(2) as pool:
                    print(pool.map(preloaded_elsewhere, range(4)))
                p = ctx.Process(target=process_body)
                p.start()
                p.join()
                print(p.exitcode)
                print("preloaded_here" in sys.modules)
            """, modules={"preloaded_here": "import os\nPID = os.getpid()\n"})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.splitlines(), ["[True, True, True, True]", "0", "False"])


class PicklingTest(unittest.TestCase):
    """copyreg, ForkingPickler.register, __reduce__ and __getstate__ under every method."""

    def test_registered_reductions_round_trip(self):
        cases = [
            (Point(1, 2), ("point", 1, 2, True)),
            (Interval(3, 4), ("interval", 3, 4, "forking-pickler")),
            (Stateful([5, 6]), ("stateful", [5, 6], None)),
            (Reduced(7), ("reduced", 8)),
        ]
        for method in METHODS:
            pool = pool_for(method)
            for obj, expected in cases:
                with self.subTest(method=method, obj=type(obj).__name__):
                    self.assertEqual(bounded(pool.apply, describe, (obj,)), expected)

    def test_results_use_registrations_too(self):
        for method in METHODS:
            with self.subTest(method=method):
                back = bounded(pool_for(method).apply, identity, (Point(8, 9),))
                self.assertEqual(back, Point(8, 9))
                self.assertTrue(back.rebuilt)

    def test_large_buffers_round_trip(self):
        # larger than polypool's in-memory threshold (1 MiB): they travel through a file
        blob = bytes(range(256)) * (12 * 1024)
        for method in METHODS:
            pool = pool_for(method)
            with self.subTest(method=method):
                self.assertEqual(bounded(pool.apply, identity, (blob,)), blob)
                back = bounded(pool.apply, identity, (bytearray(blob),))
                self.assertIsInstance(back, bytearray)
                self.assertEqual(back, blob)
                self.assertEqual(bounded(pool.map, len, [blob, blob[:10]], 1), [len(blob), 10])

    def test_unpicklable_argument_fails_in_the_caller(self):
        for method in METHODS:
            pool = pool_for(method)
            with self.subTest(method=method):
                gen = (i for i in range(3))
                r = pool.apply_async(identity, (gen,))
                with self.assertRaisesRegex(TypeError, "generator"):
                    r.get(TIMEOUT)
                self.assertEqual(bounded(pool.apply, square, (6,)), 36)


class MainScriptModulesTest(unittest.TestCase):
    def test_submodules_the_main_script_imported_are_there_in_workers(self):
        # `import xml.sax.saxutils` binds only `xml` in __main__; the worker needs the
        # submodules too, whether they came with a fork or with importing the script again
        proc = run_script("""\
            import multiprocessing as mp
            import xml.sax.saxutils

            def escaped(text):
                return xml.sax.saxutils.escape(text)

            if __name__ == "__main__":
                for method in ("fork", "spawn", "forkserver"):
                    with mp.get_context(method).Pool(1) as pool:
                        print(method, pool.apply(escaped, ("<&>",)))
            """)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.splitlines(),
                         ["fork &lt;&amp;&gt;", "spawn &lt;&amp;&gt;", "forkserver &lt;&amp;&gt;"])


class SpawnMainTest(unittest.TestCase):
    def test_spawned_children_import_the_main_script_again(self):
        proc = run_script("""\
            import multiprocessing as mp
            import sys
            # one write: print() writes the text and the newline apart, and the children
            # print at the same moment
            sys.stdout.write(f"top {__name__}\\n")
            sys.stdout.flush()

            def cube(x):
                return x ** 3

            if __name__ == "__main__":
                mp.set_start_method("spawn")
                pool = mp.Pool(2)
                print(pool.map(cube, range(4)), flush=True)
                pool.close()  # not terminate: both workers finish starting
                pool.join()
                p = mp.Process(target=cube, args=(2,))
                p.start()
                p.join()
                print("exit", p.exitcode, flush=True)
            """)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.splitlines()
        self.assertEqual(lines[0], "top __main__")
        self.assertEqual(lines.count("top __mp_main__"), 3, proc.stdout)  # 2 workers, 1 process
        self.assertIn("[0, 1, 8, 27]", lines)
        self.assertEqual(lines[-1], "exit 0")

    def test_os_exit_in_a_child_ends_it_quietly(self):
        # os._exit after the child's work (as multiprocessing.util's finalizer tests do): the
        # status it gave, what it sent arrives, and nothing on stderr, under every method
        proc = run_script("""\
            import multiprocessing as mp
            import os

            def child(conn, close):
                conn.send("sent")
                if close:
                    conn.close()
                os._exit(0 if close else 7)

            if __name__ == "__main__":
                for method in ("fork", "spawn", "forkserver"):
                    ctx = mp.get_context(method)
                    for close in (True, False):
                        parent, child_end = ctx.Pipe()
                        p = ctx.Process(target=child, args=(child_end, close))
                        p.start()
                        p.join(300)
                        print(method, close, p.exitcode, parent.recv(), flush=True)
            """)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.splitlines(),
                         [f"{m} {c} {0 if c else 7} sent" for m in METHODS for c in (True, False)])
        self.assertEqual(proc.stderr, "")

    def test_unguarded_process_fails_to_bootstrap(self):
        proc = run_script("""\
            import multiprocessing as mp

            def hello():
                print("hello from the child")

            mp.set_start_method("spawn", force=True)
            p = mp.Process(target=hello)
            p.start()
            p.join()
            print("exit", p.exitcode)
            """)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # the child's re-import of the script cannot start its own child
        self.assertEqual(proc.stdout.splitlines(), ["exit 1"])
        self.assertIn(BOOTSTRAP_ERROR, proc.stderr)

    @polypool_extension
    def test_unguarded_pool_fails_fast(self):
        # CPython's pool replaces the failing workers forever and never returns
        proc = run_script("""\
            import multiprocessing as mp

            def square(x):
                return x * x

            mp.set_start_method("spawn", force=True)
            with mp.Pool(2) as pool:
                print(pool.map(square, range(3)))
            """)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(BOOTSTRAP_ERROR, proc.stderr)
        # the parent's map fails with the workers' start-up error instead of waiting
        self.assertRegex(proc.stderr, r"(?m)^\S*Error: worker \S+ failed to start: RuntimeError")

    @unittest.skipUnless(ON_POLYPOOL, "POLYPOOL_START_METHOD is polypool's")
    def test_default_start_method_from_the_environment(self):
        env = dict(os.environ, POLYPOOL_START_METHOD="spawn")
        proc = run_script("""\
            import multiprocessing as mp

            def name():
                return mp.current_process().name.split("-")[0]

            if __name__ == "__main__":
                print(mp.get_start_method(), mp.get_start_method(allow_none=True))
                with mp.Pool(1) as pool:
                    print(pool.apply(name))
            """, env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.splitlines(), ["spawn spawn", "SpawnPoolWorker"])


# ---------------------------------------------------------------------------
# Documented extension: what CPython cannot pickle, polypool sends by value

def make_adder(n):
    def add(x):
        return x + n
    return add


@polypool_extension
class ByValueExtensionTest(unittest.TestCase):
    def test_lambdas_closures_and_nested_functions_as_tasks(self):
        def local_square(x):
            return x * x
        for method in METHODS:
            pool = pool_for(method)
            with self.subTest(method=method):
                self.assertEqual(bounded(pool.map, lambda x: x + 1, range(3)), [1, 2, 3])
                self.assertEqual(bounded(pool.map, make_adder(10), range(3)), [10, 11, 12])
                self.assertEqual(bounded(pool.map, local_square, range(3)), [0, 1, 4])
                self.assertEqual(bounded(pool.apply, apply_function, (lambda x: -x, 4)), -4)

    def test_local_class_instances(self):
        class Local:
            def __init__(self, v):
                self.v = v

            def double(self):
                return self.v * 2
        for method in METHODS:
            with self.subTest(method=method):
                self.assertEqual(bounded(pool_for(method).apply, Local.double, (Local(21),)), 42)

    def test_executor_sends_lambdas(self):
        from concurrent.futures import ProcessPoolExecutor
        for method in ("fork", "spawn"):
            with self.subTest(method=method):
                with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method)) as ex:
                    self.assertEqual(ex.submit(lambda a, b: a * b, 6, 7).result(TIMEOUT), 42)

    def test_guarded_main_functions_under_spawn(self):
        proc = run_script("""\
            import multiprocessing as mp
            if __name__ == "__main__":
                def shout(s):
                    return s.upper() + "!"
                with mp.get_context("spawn").Pool(1) as pool:
                    print(pool.map(shout, ["a", "b"]))
                    print(pool.apply(lambda: "lambda ok"))
            """)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.splitlines(), ["['A!', 'B!']", "lambda ok"])


if __name__ == "__main__":
    unittest.main()
