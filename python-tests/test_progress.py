"""Progress lines (``POLYPOOL_PROGRESS=1``, ``bin/polypool --progress``): drawn on stderr
when it is a terminal, one per running map call, erased around the lines workers print.

A polypool extension. Each test runs a program in a child interpreter under ``script``,
which gives it a pseudo-terminal and copies what reaches the terminal to a pipe; every
child is bounded by a timeout.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

from extensions import child_interpreter, polypool_extension

# a child's first run may build the engine: minutes on a loaded machine
TIMEOUT = 600
ERASE = "\r\x1b[K"

PROGRAM = textwrap.dedent("""
    import time
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import Pool

    def slow(x):
        time.sleep(0.02)
        if x % 10 == 0:
            print("worker line", x, flush=True)
        return x

    def lazy(n):
        for i in range(n):
            time.sleep(0.05)  # the total stays unknown while this runs
            yield i

    if __name__ == "__main__":
        with Pool(2) as p:
            print("map", sum(p.map(slow, range(40), chunksize=2)))
            print("imap", sum(p.imap(slow, lazy(20))))
        with ProcessPoolExecutor(2) as ex:
            print("executor", sum(ex.map(slow, range(30), chunksize=4)))
""")


def _run(args, env, terminal):
    env = dict(os.environ, **env)
    if terminal:
        command = ["script", "-q", "-e", "-c", " ".join(map(_quote, args)), "/dev/null"]
    else:
        command = args
    return subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=TIMEOUT)


def _quote(arg):
    return "'" + arg.replace("'", "'\\''") + "'"


@polypool_extension
@unittest.skipUnless(shutil.which("script"), "needs script(1) for a pseudo-terminal")
class ProgressLineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.program = os.path.join(cls.dir, "prog.py")
        with open(cls.program, "w") as f:
            f.write(PROGRAM)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_lines_on_a_terminal(self):
        done = _run(child_interpreter() + [self.program], {"POLYPOOL_PROGRESS": "1"}, terminal=True)
        out = done.stdout.decode()
        self.assertEqual(done.returncode, 0, out)
        self.assertIn("map 780", out)
        self.assertIn("imap 190", out)
        self.assertIn("executor 435", out)
        lines = out.replace("\r\n", "\n").split("\n")
        # each call's final line stays, whole, before what the program printed next
        self.assertRegex(out, r"map\(slow\) +40/40 100% \[#{20}\] [\d.]+/s \d+:\d\d\r?\nmap 780")
        self.assertRegex(out, r"imap\(slow\) +20/20 100% \[#{20}\] [\d.]+/s \d+:\d\d\r?\nimap 190")
        self.assertRegex(out, r"Executor\.map\(slow\) +30/30 100% \[#{20}\] [\d.]+/s \d+:\d\d\r?\n"
                              r"executor 435")
        # while it runs: done/total, rate, elapsed and ETA; a lazy input: count and rate
        self.assertRegex(out, r"map\(slow\) +\d+/40 +\d+% \[[#.]{20}\] [\d.]+/s \d+:\d\d ETA ")
        self.assertRegex(out, r"imap\(slow\) +\d+ [\d.]+/s \d+:\d\d")
        # a worker's line never shares a terminal line with a progress line
        worker_lines = [line for line in lines if "worker line" in line]
        self.assertEqual(len(worker_lines), 4 + 2 + 3, out)
        for line in worker_lines:
            self.assertRegex(line.rpartition(ERASE)[2], r"^worker line \d+\r?$", repr(line))
        # the last thing on the terminal is the program's own output, nothing left drawn
        self.assertTrue(out.rstrip("\r\n").endswith("executor 435"), repr(out[-300:]))

    def test_nothing_drawn_when_stderr_is_not_a_terminal(self):
        done = _run(child_interpreter() + [self.program], {"POLYPOOL_PROGRESS": "1"}, terminal=False)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stderr.decode(), "")
        self.assertNotIn("\x1b", done.stdout.decode())
        self.assertIn("executor 435", done.stdout.decode())

    def test_progress_option(self):
        env = {k: "" for k in ("POLYPOOL_PROGRESS",)}
        args = child_interpreter() + ["--progress", "-c",
                                      "from multiprocessing import Pool\n"
                                      "with Pool(2) as p: print(sum(p.map(abs, range(-50, 50))))"]
        done = _run(args, env, terminal=True)
        out = done.stdout.decode()
        self.assertEqual(done.returncode, 0, out)
        self.assertRegex(out, r"map\(abs\) +100/100 100% .*\r?\n2500")


if __name__ == "__main__":
    unittest.main()
