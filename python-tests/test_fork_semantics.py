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
from extensions import ON_POLYPOOL, child_interpreter

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


if __name__ == "__main__":
    unittest.main()
