"""What polypool tells about a running program: progress lines (``POLYPOOL_PROGRESS=1``,
``bin/polypool --progress``), drawn on stderr when it is a terminal, one per running map
call, erased around the lines workers print; each pool's statistics when it ends
(``POLYPOOL_STATS=1``); the engine's log (``POLYPOOL_LOG``).

A polypool extension. Each test runs a program in a child interpreter (in a JVM of its own),
some under ``script``, which gives it a pseudo-terminal and copies what reaches the terminal
to a pipe; every child is bounded by a timeout.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

from extensions import child_interpreter, in_process_pass_only, polypool_extension

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


def _run(args, env, terminal, server_root=None):
    # in a JVM of its own unless a server root is given: on the resident engine POLYPOOL_LOG
    # applies from the run that started the server
    env = dict(os.environ, POLYPOOL_SERVER="0", **env)
    if server_root:
        env.update(POLYPOOL_SERVER="1", POLYPOOL_SERVER_ROOT=server_root)
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
@in_process_pass_only
class InsightTest(unittest.TestCase):
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
        self.check_lines_on_a_terminal(None)

    def test_lines_on_a_terminal_from_the_resident_engine(self):
        # the client's stderr is the terminal: the server draws through it
        root = tempfile.mkdtemp(dir=self.dir)
        try:
            self.check_lines_on_a_terminal(root)
        finally:
            subprocess.run(child_interpreter() + ["--server", "stop"], capture_output=True, timeout=TIMEOUT,
                           env=dict(os.environ, POLYPOOL_SERVER="1", POLYPOOL_SERVER_ROOT=root))

    def check_lines_on_a_terminal(self, server_root):
        done = _run(child_interpreter() + [self.program], {"POLYPOOL_PROGRESS": "1"}, terminal=True,
                    server_root=server_root)
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

    def test_no_lines_without_a_terminal_and_stats_at_each_pools_end(self):
        done = _run(child_interpreter() + [self.program], {"POLYPOOL_PROGRESS": "1", "POLYPOOL_STATS": "1"},
                    terminal=False)
        err = done.stderr.decode()
        self.assertEqual(done.returncode, 0, err)
        self.assertNotIn("\x1b", done.stdout.decode() + err)
        self.assertIn("executor 435", done.stdout.decode())
        # stderr holds the two summaries and nothing else
        self.assertRegex(err, r"^polypool stats: Pool-\d+, 2 workers, [\d.]+ s\n"
                              r"  tasks: 40 submitted, 40 done, 0 failed, 0 lost; 0 workers replaced\n"
                              r"  time: [\d.]+ s queued \([\d.]+ ms a task\), [\d.]+ s working \(\d+% of 2 workers\), "
                              r"[\d.]+ s decoding\n"
                              r"(  ForkPoolWorker-\d: \d+ tasks, [\d.]+ s busy\n){2}"
                              r"polypool stats: ProcessPoolExecutor-\d+, 2 workers, [\d.]+ s\n"
                              r"  tasks: 8 submitted, 8 done, 0 failed, 0 lost; 0 workers replaced\n"
                              r"  time: .*\n"
                              r"(  ForkProcess-\d: \d+ tasks, [\d.]+ s busy\n){1,2}$")
        tasks = re.findall(r"ForkPoolWorker-\d: (\d+) tasks", err)
        self.assertEqual(sum(map(int, tasks)), 40, err)

    def test_stats_count_failures_and_replaced_workers(self):
        code = ("from multiprocessing import Pool\n"
                "with Pool(1, maxtasksperchild=2) as p:\n"
                "    print(p.map(abs, [1, -2, 3, -4], chunksize=1))\n"
                "    try:\n"
                "        p.apply(abs, ('x',))\n"
                "    except TypeError:\n"
                "        print('raised')\n")
        done = _run(child_interpreter() + ["-c", code], {"POLYPOOL_STATS": "1", "POLYPOOL_LOG": "debug"},
                    terminal=False)
        err = done.stderr.decode()
        self.assertEqual(done.returncode, 0, err)
        self.assertEqual(done.stdout.decode(), "[1, 2, 3, 4]\nraised\n")
        # five tasks, two a worker: the third worker runs the last one, the first two were
        # replaced before it was taken (a replacement after the last task would race the end)
        self.assertIn("tasks: 5 submitted, 4 done, 1 failed, 0 lost; 2 workers replaced", err)
        self.assertEqual(len(re.findall(r"ForkPoolWorker-\d: 2 tasks", err)), 2, err)
        self.assertEqual(len(re.findall(r"ForkPoolWorker-\d: 1 tasks", err)), 1, err)
        # the engine's log (POLYPOOL_LOG=debug): workers started, replaced, the pool's end
        log = re.findall(r"^polypool: (DEBUG|INFO|WARNING): (.*)$", err, re.M)
        self.assertIn(("INFO", "pool Pool-1 starting 1 workers"), log, err)
        self.assertIn(("DEBUG", "worker ForkPoolWorker-1 started"), log, err)
        self.assertIn(("DEBUG", "pool Pool-1: worker ForkPoolWorker-1 replaced by ForkPoolWorker-2"), log, err)
        self.assertIn(("DEBUG", "pool Pool-1: worker ForkPoolWorker-2 replaced by ForkPoolWorker-3"), log, err)
        self.assertIn(("INFO", "pool Pool-1 ended: 4 tasks done, 1 failed, 0 lost"), log, err)


    def test_progress_option_and_a_bad_log_level(self):
        args = child_interpreter() + ["--progress", "-c",
                                      "from multiprocessing import Pool\n"
                                      "with Pool(2) as p: print(sum(p.map(abs, range(-50, 50))))"]
        done = _run(args, {"POLYPOOL_PROGRESS": "", "POLYPOOL_LOG": "loud"}, terminal=True)
        out = done.stdout.decode()
        self.assertEqual(done.returncode, 0, out)
        self.assertRegex(out, r"map\(abs\) +100/100 100% .*\r?\n2500")
        self.assertTrue(out.startswith("polypool: ignoring POLYPOOL_LOG=loud: expected debug, info or warning\r\n"),
                        repr(out[:200]))


if __name__ == "__main__":
    unittest.main()
