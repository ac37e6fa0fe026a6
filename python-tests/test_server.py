"""The resident engine (``POLYPOOL_SERVER=1``): what ``bin/polypool`` forwards to the
server, what one run leaves to the next, and how a dead server is replaced.

A polypool extension: the tests drive ``bin/polypool`` in subprocesses, each class with
servers of its own in a temporary ``POLYPOOL_SERVER_ROOT``, stopped at the end. Every
subprocess is bounded by a timeout.
"""

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from extensions import in_process_pass_only, polypool_extension

HERE = os.path.dirname(os.path.abspath(__file__))
POLYPOOL = os.path.join(os.path.dirname(HERE), "bin", "polypool")
# a server's first run builds the engine: seconds, or minutes on a loaded machine
TIMEOUT = 600


def _env(root, **extra):
    env = {k: v for k, v in os.environ.items() if k != "POLYPOOL_TRACE"}
    env.update(POLYPOOL_SERVER="1", POLYPOOL_SERVER_ROOT=root)
    env.update(extra)
    return env


def run(root, *args, input=None, cwd=None, **extra):
    return subprocess.run([POLYPOOL, *args], env=_env(root, **extra), input=input, cwd=cwd,
                          capture_output=True, text=True, timeout=TIMEOUT)


def server_pids(root):
    pids = {}
    for path in glob.glob(os.path.join(root, "server-*", "pid")):
        try:
            with open(path) as f:
                pids[os.path.dirname(path)] = int(f.read())
        except (OSError, ValueError):
            pass
    return pids


def alive(pid):
    # ps, not os.kill or /proc: on polypool os.kill reaches only the processes it started
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True,
                           timeout=60).stdout.strip()
    return state != "" and not state.startswith("Z")


def kill(pid, sig):
    subprocess.run(["kill", f"-{int(sig)}", str(pid)], check=True, timeout=60)


# Runs the client under CPython and prints its pid, its first line of output, then its
# returncode: unambiguous (a status of 143 is not death by SIGTERM), whatever runs the tests.
SUPERVISOR = ("import subprocess, sys\n"
              "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)\n"
              "print(p.pid, p.stdout.readline().strip(), flush=True)\n"
              "p.stdout.read()\nprint(p.wait(), flush=True)\n")


def supervised(root, *args):
    return subprocess.Popen(["python3", "-c", SUPERVISOR, POLYPOOL, *args], env=_env(root),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, what, limit=TIMEOUT):
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit} s")
        time.sleep(0.1)


class ServerCase(unittest.TestCase):
    """A class whose tests share one server root."""

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="polypool-server-test-")

    @classmethod
    def tearDownClass(cls):
        subprocess.run([POLYPOOL, "--server", "stop"], env=_env(cls.root), capture_output=True, timeout=TIMEOUT)
        for pid in server_pids(cls.root).values():
            wait_for(lambda: not alive(pid), f"server {pid} stopping", 60)
        shutil.rmtree(cls.root, ignore_errors=True)

    def ok(self, *args, **kwargs):
        p = run(self.root, *args, **kwargs)
        self.assertEqual(p.returncode, 0, p.stderr + self.logs())
        return p.stdout

    def logs(self):
        text = ""
        for path in glob.glob(os.path.join(self.root, "server-*", "server.log")):
            with open(path) as f:
                text += f"\n--- {path}\n" + f.read()
        return text

    def wait_for(self, predicate, what, limit=TIMEOUT):
        """:func:`wait_for`, failing with the servers' logs."""
        try:
            wait_for(predicate, what, limit)
        except AssertionError as e:
            self.fail(f"{e}{self.logs()}")

    def the_pid(self):
        pids = server_pids(self.root)
        self.assertEqual(len(pids), 1, pids)
        return next(iter(pids.values()))


@polypool_extension
@in_process_pass_only
class RunTest(ServerCase):
    def test_cwd_env_and_argv_are_the_clients(self):
        with tempfile.TemporaryDirectory() as d:
            out = self.ok("-c", "import os, sys; print(os.getcwd(), os.environ.get('SERVER_TEST'), sys.argv)",
                          "a b", "c", cwd=d, SERVER_TEST="x y")
            self.assertEqual(out, f"{os.path.realpath(d)} x y ['-c', 'a b', 'c']\n")

    def test_workers_see_the_runs_cwd_and_env(self):
        code = ("import os\nfrom multiprocessing import Pool\n"
                "def f(_):\n    return os.getcwd(), os.environ.get('SERVER_TEST')\n"
                "if __name__ == '__main__':\n"
                "    with Pool(2) as p:\n        print(sorted(set(p.map(f, range(4)))))\n")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "prog.py"), "w") as f:
                f.write(code)
            out = self.ok("prog.py", cwd=d, SERVER_TEST="w")
            self.assertEqual(out, str([(os.path.realpath(d), "w")]) + "\n")

    def test_a_spare_takes_on_another_runs_cwd_and_env(self):
        # the spare made after a run serves the next run from another directory with other
        # variables (none read as a context starts), which the program and its workers see
        code = ("import os\nfrom multiprocessing import Pool\n"
                "def f(_):\n    return os.getcwd(), os.environ.get('SERVER_TEST')\n"
                "if __name__ == '__main__':\n"
                "    with Pool(1) as p:\n        print(f(0), p.apply(f, (0,)))\n")
        with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
            d1, d2 = os.path.realpath(d1), os.path.realpath(d2)
            for where, value in ((d1, "one"), (d2, "two"), (d1, None)):
                extra = {} if value is None else {"SERVER_TEST": value}
                self.assertEqual(self.ok("-c", code, cwd=where, **extra), f"{(where, value)} {(where, value)}\n")
        self.assertIn("takes the run's", self.logs())

    def test_nothing_leaks_into_the_next_run(self):
        leak = ("import builtins, os, sys, json, threading, time\n"
                "builtins.LEAKED = 1\nsys.modules['leaked_module'] = json\n"
                "os.environ['LEAKED_VAR'] = '1'\nos.chdir('/')\n"
                "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"
                "open(os.path.join(sys.argv[1], 'left-open'), 'w').write('x')\n"
                "from multiprocessing import Pool\nPool(1)\nprint('leaked')\n")
        check = ("import builtins, os, sys\n"
                 "print(hasattr(builtins, 'LEAKED'), 'leaked_module' in sys.modules, "
                 "'LEAKED_VAR' in os.environ, os.getcwd())\n")
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(self.ok("-c", leak, d, cwd=d), "leaked\n")
            self.assertEqual(self.ok("-c", check, cwd=d), f"False False False {os.path.realpath(d)}\n")

    def test_shared_memory_a_run_leaves_goes_when_it_ends(self):
        p = run(self.root, "-c", "from multiprocessing import shared_memory\n"
                "block = shared_memory.SharedMemory(create=True, size=64)\nprint(block.name)")
        self.assertEqual(p.returncode, 0, p.stderr)
        path = os.path.join("/dev/shm", p.stdout.strip().lstrip("/"))
        self.assertFalse(os.path.exists(path), path)  # the server still runs
        self.assertIn("leaked shared_memory objects to clean up", p.stderr)

    def test_process_names_count_from_1_in_every_run(self):
        code = ("from multiprocessing import Pool, Process, current_process\n"
                "def name(_):\n    return current_process().name\n"
                "if __name__ == '__main__':\n"
                "    p = Process(target=print)\n    p.start()\n    p.join()\n"
                "    with Pool(1) as pool:\n        print(p.name, pool.map(name, [0]))\n")
        for _ in range(2):
            self.assertEqual(self.ok("-c", code), "\nProcess-1 ['ForkPoolWorker-2']\n")

    def test_stdin(self):
        self.assertEqual(self.ok("-c", "import sys; print(sys.stdin.read().split())", input="a b\nc\n"),
                         "['a', 'b', 'c']\n")
        self.assertEqual(self.ok("-", input="print(6 * 7)\n"), "42\n")
        p = run(self.root, "-c", "input()", input="")
        self.assertEqual(p.returncode, 1)
        self.assertIn("EOFError", p.stderr)

    def test_exit_statuses_end_only_the_run(self):
        pid = None
        for code, status in (("import sys; sys.exit(3)", 3), ("raise ValueError('boom')", 1),
                             ("import os; print('x', flush=True); os._exit(7)", 7), ("pass", 0)):
            p = run(self.root, "-c", code)
            self.assertEqual(p.returncode, status, (code, p.stderr))
            pid = pid or self.the_pid()
            self.assertEqual(self.the_pid(), pid)
            self.assertTrue(alive(pid))
        p = run(self.root, "-c", "raise ValueError('boom')")
        self.assertIn("ValueError: boom", p.stderr)

    def test_streams_keep_their_order(self):
        code = ("import sys\nfor i in range(200):\n    print(i)\n    print(-i, file=sys.stderr)\n")
        p = run(self.root, "-c", code)
        self.assertEqual(p.stdout.split(), [str(i) for i in range(200)])
        self.assertEqual(p.stderr.split(), [str(-i) for i in range(200)])

    def test_concurrent_runs(self):
        code = "import sys, time; time.sleep(2); print(sys.argv[1])"
        procs = [subprocess.Popen([POLYPOOL, "-c", code, str(i)], env=_env(self.root), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for i in range(2)]
        outs = [p.communicate(timeout=TIMEOUT) for p in procs]
        self.assertEqual([p.returncode for p in procs], [0, 0], outs)
        self.assertEqual([o for o, _ in outs], ["0\n", "1\n"])

    def test_sigterm_and_sigint_end_the_run(self):
        self.ok("-c", "pass")  # the server is up: the signal reaches a running program
        for sig in (signal.SIGTERM, signal.SIGINT):
            p = supervised(self.root, "-c", "import time; print('up', flush=True); time.sleep(600)")
            pid, up = p.stdout.readline().split()
            self.assertEqual(up, "up")
            kill(pid, sig)
            out, err = p.communicate(timeout=TIMEOUT)
            # the client dies of the signal, as CPython does (by SIGTERM's default action,
            # and by SIGINT after an uncaught KeyboardInterrupt): its parent sees -signal
            self.assertEqual(out, f"{-sig}\n", err)
        self.assertEqual(self.ok("-c", "print('after')"), "after\n")

    def test_status_and_stop(self):
        self.ok("-c", "pass")
        p = subprocess.run([POLYPOOL, "--server", "status"], env=_env(self.root), capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"pid {self.the_pid()}", p.stdout)


@polypool_extension
@in_process_pass_only
class RecoveryTest(ServerCase):
    def test_server_killed_during_a_run(self):
        self.ok("-c", "pass")
        pid = self.the_pid()
        p = subprocess.Popen([POLYPOOL, "-c", "import time; print('up', flush=True); time.sleep(600)"],
                             env=_env(self.root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.stdout.readline(), "up\n")
        kill(pid, signal.SIGKILL)
        _, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 1)
        self.assertIn("ended during this run", err)
        self.assertEqual(self.ok("-c", "print('again')"), "again\n")
        self.assertNotEqual(self.the_pid(), pid)

    def test_a_run_whose_client_is_gone_ends(self):
        self.ok("-c", "pass")
        pid = self.the_pid()
        tick = os.path.join(self.root, "tick")
        code = ("import time\nwhile True:\n"
                f"    open({tick!r}, 'w').write(repr(time.time()))\n    print('up', flush=True)\n"
                "    time.sleep(0.05)\n")
        p = subprocess.Popen([POLYPOOL, "-c", code], env=_env(self.root), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.stdout.readline(), "up\n")
        p.kill()  # the client, as kill -9 or a closed terminal would
        p.communicate(timeout=TIMEOUT)

        def stopped():
            before = os.stat(tick).st_mtime_ns
            time.sleep(1)
            return os.stat(tick).st_mtime_ns == before
        self.wait_for(stopped, "the run ending")
        self.assertIn("its client is gone", self.logs())
        self.assertEqual(self.ok("-c", "print('again')"), "again\n")
        self.assertEqual(self.the_pid(), pid)  # the server stays

    def test_a_run_that_cannot_be_stopped_retires_its_server(self):
        self.ok("-c", "pass")
        pid = self.the_pid()
        for sig in (signal.SIGKILL, signal.SIGTERM):
            # code that never polls for cancellation holds its thread, in a server or not: one
            # call into Java's BigInteger for minutes (a loop such as any(itertools.repeat(0))
            # may become cancellable once the JIT has compiled what it calls)
            p = supervised(self.root, "-c", "print('up', flush=True); 7 ** 10 ** 9")
            client, up = p.stdout.readline().split()
            self.assertEqual(up, "up")
            kill(client, sig)
            out, err = p.communicate(timeout=TIMEOUT)
            # the client dies of the signal, as a CPython process would (by SIGTERM's
            # default action: the program never got to handle it)
            self.assertEqual(out, f"{-sig}\n", err)
            self.wait_for(lambda: not alive(pid), "the server retiring and exiting")
            self.assertIn("does not stop", self.logs())
            self.assertEqual(self.ok("-c", "print('again')"), "again\n")
            self.assertNotEqual(self.the_pid(), pid)
            pid = self.the_pid()

    def test_stale_socket(self):
        self.ok("-c", "pass")
        pid = self.the_pid()
        kill(pid, signal.SIGKILL)
        self.wait_for(lambda: not alive(pid), "the killed server gone", 60)
        [sock] = glob.glob(os.path.join(self.root, "server-*", "socket"))
        self.assertTrue(os.path.exists(sock))  # left behind: nobody listens on it
        self.assertEqual(self.ok("-c", "print('again')"), "again\n")
        self.assertNotEqual(self.the_pid(), pid)

    def test_a_connection_closed_unanswered_is_made_again(self):
        # what a client meets when the server stops listening with it in the backlog (the
        # server retiring, or exiting idle): a listener that closes it before a word
        self.ok("-c", "pass")
        [(d, pid)] = server_pids(self.root).items()
        run(self.root, "--server", "stop")
        self.wait_for(lambda: not alive(pid), "the stopped server gone", 60)
        sock = os.path.join(d, "socket")
        fake = ("import os, socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.settimeout(600)\n"
                "s.bind(sys.argv[1])\ns.listen(8)\nprint('listening', flush=True)\n"
                "c, _ = s.accept()\nos.unlink(sys.argv[1])\nc.close()\ns.close()\nprint('closed', flush=True)\n")
        with subprocess.Popen(["python3", "-c", fake, sock], stdout=subprocess.PIPE, text=True) as listener:
            self.assertEqual(listener.stdout.readline(), "listening\n")
            self.assertEqual(self.ok("-c", "print('served')"), "served\n")
            self.assertEqual(listener.stdout.read(), "closed\n")
        self.assertNotEqual(self.the_pid(), pid)

    def test_a_new_build_retires_the_old_server(self):
        self.ok("-c", "pass")
        [(old_dir, old)] = server_pids(self.root).items()
        # the JVM options are part of the build's key, as the jar and the JDK are
        self.ok("-c", "pass", POLYPOOL_JVM_OPTS="-Dpolypool.test.build=2")
        self.wait_for(lambda: not alive(old), "the old server retiring")
        new = [d for d in server_pids(self.root) if d != old_dir]
        self.assertEqual(len(new), 1)

    def test_recycled_after_max_runs(self):
        root = tempfile.mkdtemp(prefix="polypool-server-test-")
        try:
            pids = []
            for _ in range(3):
                p = run(root, "-c", "pass", POLYPOOL_SERVER_MAX_RUNS="2")
                self.assertEqual(p.returncode, 0, p.stderr)
                pids.append(list(server_pids(root).values()))
            # the first server served the second run too, and retires after it: its pid file
            # may be gone already when the second run's client returns
            self.assertIn(pids[1], (pids[0], []))
            self.assertEqual(len(pids[2]), 1)
            self.assertNotEqual(pids[2], pids[0])
        finally:
            subprocess.run([POLYPOOL, "--server", "stop"], env=_env(root), capture_output=True, timeout=TIMEOUT)
            for pid in server_pids(root).values():
                wait_for(lambda: not alive(pid), f"server {pid} stopping", 60)
            shutil.rmtree(root, ignore_errors=True)

    @unittest.skipUnless(os.getuid() == 0 and shutil.which("setpriv") and os.path.exists("/usr/bin/python3"),
                         "needs root, setpriv and /usr/bin/python3 to act as another user")
    def test_another_uid_is_refused(self):
        self.ok("-c", "pass")
        [d] = server_pids(self.root)
        # the directory is closed to others (0700); a link from outside it, opened up,
        # lets another uid reach the socket, so that the server's own check is what refuses
        link = os.path.join(tempfile.mkdtemp(prefix="polypool-uid-"), "socket")
        subprocess.run(["ln", os.path.join(d, "socket"), link], check=True, timeout=60)
        subprocess.run(["chmod", "777", link], check=True, timeout=60)
        subprocess.run(["chmod", "755", os.path.dirname(link)], check=True, timeout=60)
        probe = ("import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.settimeout(60)\n"
                 "s.connect(sys.argv[1])\n"
                 "try:\n    s.sendall(b'Q\\0\\0\\0\\x06status')\n    print(repr(s.recv(100)))\n"
                 "except (BrokenPipeError, ConnectionResetError):\n    print(repr(b''))\n")
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                            probe, link], capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "b''\n")  # closed without an answer
        with open(os.path.join(d, "server.log")) as f:
            self.assertIn("refused a connection", f.read())
        shutil.rmtree(os.path.dirname(link))


if __name__ == "__main__":
    unittest.main()
