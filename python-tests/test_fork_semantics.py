"""Fork semantics for real programs: every kind of definition a program makes, at the top
level of ``__main__`` (T), under ``if __name__ == "__main__":`` (G) and in a module of the
program (M), used as a pool's task function, a task argument, a result, an initializer
argument, a ``Pipe`` item and a ``Process`` target, under each start method.

The definitions must live in a real ``__main__``, so each start method runs one program in
a child interpreter (this same implementation): ``fork_matrix_defs.py`` written three
times, and ``fork_matrix.main``, which prints one line per cell. Each line must be what
``fork_matrix.expected`` says CPython prints (on polypool: the same, but for the documented
by-value extension). Cells where CPython hangs are not run on CPython.
"""

import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

import fork_matrix
from extensions import ON_POLYPOOL, child_interpreter, polypool_extension

HERE = os.path.dirname(os.path.abspath(__file__))

PROGRAM = """\
import sys
sys.path.insert(0, {tests!r})
{top}
import matrix_module

if __name__ == "__main__":
{guarded}
    Counter_T.count = Counter_G.count = matrix_module.Counter_M.count = 5
    import fork_matrix
    fork_matrix.main(sys.argv[1], {polypool!r})
"""


def definitions(place):
    with open(os.path.join(HERE, "fork_matrix_defs.py")) as f:
        return f.read().replace("_X", "_" + place)


def run_matrix(method):
    """Run the matrix program under ``method``; returns ``({cell: outcome}, process)``."""
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "matrix_module.py"), "w") as f:
            f.write(definitions("M"))
        script = os.path.join(tmp, "matrix_main.py")
        with open(script, "w") as f:
            f.write(PROGRAM.format(tests=HERE, top=definitions("T"), polypool=ON_POLYPOOL,
                                   guarded=textwrap.indent(definitions("G"), "    ")))
        proc = subprocess.run(child_interpreter() + [script, method], cwd=tmp,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=900)
    cells = {}
    for line in proc.stdout.splitlines():
        use, place, kind, result = line.split(" ", 3)
        cells[use, place, kind] = result
    return cells, proc


class ForkSemanticsMatrixTest(unittest.TestCase):
    def check(self, method):
        cells, proc = run_matrix(method)
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        self.assertGreater(len(cells), 500, proc.stdout[-2000:])
        wrong = []
        for (use, place, kind), got in sorted(cells.items()):
            want = fork_matrix.expected(method, place, use, kind, ON_POLYPOOL)
            if want == "hang":
                want = "skip"  # never run where CPython hangs
            if got != want:
                wrong.append(f"{use} {place} {kind}: {got}, expected {want}")
        self.assertEqual(wrong, [], "\n" + "\n".join(wrong) + "\n" + proc.stderr[-3000:])

    def test_fork(self):
        self.check("fork")

    def test_spawn(self):
        self.check("spawn")

    def test_forkserver(self):
        self.check("forkserver")


# POLYPOOL_TRACE prints to the JVM's stderr, which on the resident engine is its log: the
# trace tests run in a JVM of their own (CPython ignores both variables)
TRACED = {"POLYPOOL_TRACE": "1", "POLYPOOL_SERVER": "0"}


def run_program(source, env=None):
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "program.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent(source))
        return subprocess.run(child_interpreter() + [script], cwd=tmp, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=600,
                              env=dict(os.environ, **(env or {})))


class LargeGlobalsTest(unittest.TestCase):
    def test_large_bytes_globals_reach_every_worker_shared_as_in_the_parent(self):
        # polypool carries each bytes object over 1 MiB apart from the snapshot's pickle;
        # `failing` makes one such object of a global that cannot cross, which must not
        # shift the ones after it
        proc = run_program("""\
            import hashlib
            import multiprocessing as mp

            big = bytes(range(256)) * 8192
            alias = big
            holder = [big, b"small", big]
            failing = [bytes(3 << 20), open(__file__)]
            after = b"y" * (3 << 20)

            def check(_):
                return (hashlib.sha256(big).hexdigest(), alias is big, holder[0] is big,
                        holder[2] is big, holder[1], len(after), hashlib.sha256(after).hexdigest())

            if __name__ == "__main__":
                want = check(0)
                with mp.get_context("fork").Pool(2) as pool:
                    got = pool.map(check, range(4), chunksize=1)
                print(got == [want] * 4, want[1:6])
            """)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, "True (True, True, True, b'small', 3145728)\n")


@polypool_extension
class WhatCannotCrossTest(unittest.TestCase):
    """A forked CPython child has every global; a polypool worker lacks the ones that
    cannot be copied into another context, and only those."""

    def test_each_global_that_cannot_cross_is_absent_alone(self):
        proc = run_program("""\
            import multiprocessing as mp
            import threading

            def numbers():
                yield 1

            log = open(__file__)          # an open file
            gen = numbers()               # a generator
            thread = threading.Thread(target=print)
            kept = {"log": "a string", "n": 3}

            def use(name):
                try:
                    return repr(eval(name) if name != "log" else log.read())
                except NameError as e:
                    return "NameError: " + str(e)

            def defined(name):
                return name in globals()

            if __name__ == "__main__":
                with mp.get_context("fork").Pool(1) as pool:
                    for name in ("log", "gen", "thread", "kept"):
                        print(name, pool.apply(use, (name,)))
                    print("in globals", pool.apply(defined, ("log",)))
            """, env=TRACED)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.splitlines()
        self.assertEqual(len(lines), 5, proc.stdout)
        self.assertRegex(lines[0], r"^log NameError: name 'log' is not defined: it could not be "
                                   r"copied from the parent \(TypeError: cannot pickle '_io.TextIOWrapper'")
        self.assertRegex(lines[1], r"^gen NameError: name 'gen' is not defined: .*generator")
        self.assertRegex(lines[2], r"^thread NameError: name 'thread' is not defined: ")
        self.assertEqual(lines[3], "kept {'log': 'a string', 'n': 3}")
        self.assertEqual(lines[4], "in globals False")
        for name in ("log", "gen", "thread"):
            self.assertRegex(proc.stderr, rf"__main__\.{name} left out of the fork snapshot: ")

    def test_a_global_that_fails_in_the_worker_is_absent_alone(self):
        # made in the parent, its reduction fails when the worker rebuilds it
        proc = run_program("""\
            import multiprocessing as mp

            def refuse():
                raise RuntimeError("only in the parent")

            class Picky:
                def __reduce__(self):
                    return refuse, ()

            picky = Picky()
            holder = [picky, 3]
            after = [1, 2]

            def use(name):
                try:
                    return repr(eval(name).__class__.__name__)
                except NameError as e:
                    return "NameError: " + str(e)

            if __name__ == "__main__":
                with mp.get_context("fork").Pool(1) as pool:
                    print(pool.apply(use, ("picky",)))
                    print(pool.apply(use, ("holder[1]",)))
                    print(pool.apply(use, ("holder[0]",)))
                    print(pool.apply(use, ("after",)))
            """, env=TRACED)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        absent = ("NameError: name 'picky' is not defined: it could not be rebuilt in this worker "
                  "(RuntimeError: only in the parent)")
        # a global that refers to it crosses, with it absent inside
        self.assertEqual(proc.stdout.splitlines(), [absent, "'int'", absent, "'list'"])
        self.assertIn("__main__.picky is not defined in this worker: it could not be rebuilt", proc.stderr)


@polypool_extension
class ByValueCarriesGlobalsTest(unittest.TestCase):
    def test_a_lambda_brings_the_globals_it_uses(self):
        # k and helper exist only in the parent: a spawned child re-imports the script
        proc = run_program("""\
            import multiprocessing as mp

            if __name__ == "__main__":
                k = 3

                def helper(x):
                    return x + k

                for method in ("spawn", "forkserver", "fork"):
                    with mp.get_context(method).Pool(2) as pool:
                        print(method, pool.map(lambda x: helper(x) * k, range(4)))
            """)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.splitlines(), [
            "spawn [9, 12, 15, 18]", "forkserver [9, 12, 15, 18]", "fork [9, 12, 15, 18]"])


if __name__ == "__main__":
    unittest.main()
