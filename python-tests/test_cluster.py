"""Scale-out (polypool only): pools whose workers run on cluster members (``POLYPOOL_CLUSTER``).

Members are separate JVMs (``bin/polypool --member``) on free loopback ports, started and
stopped here; the programs under test are child scripts on ``child_interpreter()`` with
``POLYPOOL_CLUSTER`` set. Each class makes its own cluster, with a cluster name and a
secret of its own. Every wait is bounded: a member that does not come up, or a script that
does not end, fails its test after ``WAIT`` seconds and is killed.

Run: bin/polypool -m unittest discover -s python-tests -p 'test_cluster.py' -v
"""

import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import unittest
import uuid

from extensions import ON_POLYPOOL, child_interpreter, in_process_pass_only, polypool_extension

WAIT = 240  # seconds: a member's start, a script's run, on a loaded 2-core machine


def free_port():
    """A loopback port nobody listens on now. Chosen at random and tried: GraalPy's
    sockets report port 0 for a socket bound to port 0."""
    while True:
        port = random.randrange(20000, 60000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


class Member:
    """A member JVM; its stderr is read by a thread, line by line."""

    def __init__(self, env, port, join=None, workers=1):
        self.port = port
        cmd = child_interpreter() + ["--member", "--listen", f"127.0.0.1:{port}", "--workers", str(workers)]
        if join:
            cmd += ["--join", join]
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.log = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.log.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text):
        """Wait until the member logs a line containing ``text``; False if it exits first."""
        while True:
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"member {self.port} did not log {text!r} within {WAIT} s: {self.log}")
            if line is None:
                return False
            if text in line:
                return True

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=WAIT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


def cluster_env(name, secret):
    env = dict(os.environ)
    env["POLYPOOL_CLUSTER_NAME"] = name
    env["POLYPOOL_CLUSTER_SECRET"] = secret
    env.pop("POLYPOOL_CLUSTER", None)
    return env


class Script:
    """A child script on the cluster, read through its stdout, told to go on through files."""

    def __init__(self, source, env, tmp, name="script.py"):
        path = os.path.join(tmp, name)
        self.steps = tempfile.mkdtemp(dir=tmp)
        env = dict(env, STEPS=self.steps)
        with open(path, "w") as f:
            f.write(textwrap.dedent(source))
        self.proc = subprocess.Popen(child_interpreter() + [path], env=env, cwd=tmp, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.err = []
        self._err_reader = threading.Thread(target=lambda: self.err.extend(self.proc.stderr), daemon=True)
        self._err_reader.start()

    def expect(self, text):
        """The script's next stdout line, which must start with ``text``."""
        box = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(WAIT)
        if not box or not box[0].startswith(text):
            self.proc.kill()
            raise AssertionError(f"expected {text!r}, got {box[:1]}; stderr: {''.join(self.err)}")
        return box[0][len(text):].strip()

    def step(self, name):
        """Tells the script to go on past ``wait_for(name)``."""
        open(os.path.join(self.steps, name), "w").close()

    def finish(self):
        """The exit status and the rest of stdout, once the script ended; its stderr is
        all in ``err`` then. (Not communicate(): it would read stderr too, racing the
        reader thread.)"""
        try:
            self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"the script did not end within {WAIT} s; stderr: {''.join(self.err)}")
        out = self.proc.stdout.read()
        self._err_reader.join(WAIT)
        return self.proc.returncode, out


def run_script(source, env, tmp, name="script.py"):
    s = Script(source, env, tmp, name)
    code, out = s.finish()
    return code, out, "".join(s.err)


SEMANTICS = """
    import hashlib, json, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import Pool, current_process, get_context
    import helper

    _seen = []

    def init(tag):
        global _tag
        _tag = tag

    def tagged(x):
        return f"{_tag}{x}"

    def pid(_):
        return os.getpid()

    def loud(x):
        print(f"out {x}")
        print(f"err {x}", file=sys.stderr)
        return x

    def fails(x):
        raise ValueError(f"bad {x}")

    # over 1 MiB: it crosses as a part of the start-up state's blob (polypool.codec)
    BLOCK = bytes(range(256)) * 8192

    def block_digest(_):
        return hashlib.sha256(BLOCK).hexdigest()

    def gen():
        for i in range(50):
            yield i

    if __name__ == "__main__":
        r = {}
        with Pool(2, initializer=init, initargs=("t",)) as p:
            r["map"] = p.map(helper.square, range(100))
            r["chunks"] = p.map(helper.square, range(100), chunksize=7)
            r["starmap"] = p.starmap(pow, [(2, i) for i in range(10)])
            r["imap"] = list(p.imap(helper.square, gen()))
            r["unordered"] = sorted(p.imap_unordered(helper.square, range(30)))
            r["lambda"] = p.map(lambda x: x + 1, range(5))
            r["init"] = p.map(tagged, range(3))
            got = []
            p.apply_async(helper.square, (12,), callback=got.append).get(timeout=60)
            r["callback"] = got
            r["big"] = len(p.apply(helper.echo, ("x" * 3_000_000,)))
            r["global"] = p.map(block_digest, range(4), chunksize=1) == [block_digest(0)] * 4
            try:
                p.apply(fails, (1,))
            except ValueError as e:
                r["raised"] = str(e)
            r["loud"] = p.map(loud, range(3))
        with get_context("spawn").Pool(2) as p:
            r["spawn"] = p.map(helper.square, range(10))
        with Pool(1, maxtasksperchild=2) as p:
            r["maxtasks"] = len(set(p.map(pid, range(6), chunksize=1)))
        with ProcessPoolExecutor(2) as ex:
            r["executor"] = list(ex.map(helper.square, range(10)))
            r["submit"] = ex.submit(pow, 3, 4).result(timeout=60)
        print("RESULT " + json.dumps(r))
"""

HELPER = """
    def square(x):
        return x * x

    def echo(x):
        return x
"""


@polypool_extension
@in_process_pass_only
class ClusterSemanticsTest(unittest.TestCase):
    """A cluster of two members; results as a local pool gives them."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="polypool-cluster-")
        cls.secret = uuid.uuid4().hex
        cls.env = cluster_env("test-" + uuid.uuid4().hex[:8], cls.secret)
        first = free_port()
        cls.members = [Member(cls.env, first)]
        try:
            assert cls.members[0].wait_for("listening on"), cls.members[0].log
            cls.members.append(Member(cls.env, free_port(), join=f"127.0.0.1:{first}"))
            assert cls.members[1].wait_for("listening on"), cls.members[1].log
        except BaseException:
            cls.tearDownClass()
            raise
        cls.address = f"127.0.0.1:{first}"

    @classmethod
    def tearDownClass(cls):
        for m in cls.members:
            m.stop()

    def script_env(self, **changes):
        env = dict(self.env, POLYPOOL_CLUSTER=self.address)
        env.update(changes)
        return env

    def test_results_match_a_local_pool(self):
        with open(os.path.join(self.tmp, "helper.py"), "w") as f:
            f.write(textwrap.dedent(HELPER))
        code, out, err = run_script(SEMANTICS, self.script_env(), self.tmp)
        self.assertEqual(code, 0, err)
        line = [l for l in out.splitlines() if l.startswith("RESULT ")]
        self.assertEqual(len(line), 1, out)
        r = json.loads(line[0][len("RESULT "):])
        squares = [x * x for x in range(100)]
        self.assertEqual(r["map"], squares)
        self.assertEqual(r["chunks"], squares)
        self.assertEqual(r["starmap"], [2 ** i for i in range(10)])
        self.assertEqual(r["imap"], [x * x for x in range(50)])
        self.assertEqual(r["unordered"], sorted(x * x for x in range(30)))
        self.assertEqual(r["lambda"], [1, 2, 3, 4, 5])
        self.assertEqual(r["init"], ["t0", "t1", "t2"])
        self.assertEqual(r["callback"], [144])
        self.assertEqual(r["big"], 3_000_000)
        self.assertTrue(r["global"])
        self.assertEqual(r["raised"], "bad 1")
        self.assertEqual(r["loud"], [0, 1, 2])
        self.assertEqual(r["spawn"], [x * x for x in range(10)])
        self.assertEqual(r["maxtasks"], 3)  # a new worker every 2 tasks
        self.assertEqual(r["executor"], [x * x for x in range(10)])
        self.assertEqual(r["submit"], 81)
        # remote workers' output reaches the script's own streams, whole lines
        for i in range(3):
            self.assertIn(f"out {i}\n", out.replace("\r", ""))
            self.assertIn(f"err {i}\n", err)

    def test_a_script_with_another_secret_is_refused(self):
        code, out, err = run_script("print('ran')\n", self.script_env(POLYPOOL_CLUSTER_SECRET="wrong"), self.tmp,
                                    "refused.py")
        self.assertNotEqual(code, 0)
        self.assertNotIn("ran", out)
        self.assertIn("POLYPOOL_CLUSTER_SECRET", err)

    def test_a_member_with_another_secret_is_refused(self):
        m = Member(dict(self.env, POLYPOOL_CLUSTER_SECRET="wrong"), free_port(), join=self.address)
        try:
            m.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            m.kill()
            self.fail(f"a member with another secret kept running: {m.log}")
        m.reader.join(WAIT)  # its last lines
        self.assertNotEqual(m.proc.returncode, 0)
        self.assertIn("POLYPOOL_CLUSTER_SECRET", "".join(m.log))


FAILOVER = """
    import os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import Pool, current_process

    def name(_):
        time.sleep(0.05)
        return current_process().name

    def wait_for(step):
        # the test tells the script through files: GraalPy's subprocess pipes do not carry
        # a parent's writes to its child's stdin
        deadline = time.time() + 200
        while not os.path.exists(os.path.join(os.environ["STEPS"], step)) and time.time() < deadline:
            time.sleep(0.1)

    RUNS = os.environ.get("RUNS")  # a global: the fork snapshot takes it to the members

    def slow(x):
        with open(RUNS, "a") as f:
            f.write(f"{x}\\n")
        if x == 3:
            raise ValueError("three")
        time.sleep(0.3)
        return x * x

    if __name__ == "__main__":
        p = Pool()  # every worker of the cluster, joiners too
        print("SIZE", p._processes, flush=True)
        wait_for("joined")
        deadline = time.time() + 120
        names = set()
        while len(names) < 2 and time.time() < deadline:
            names |= set(p.map(name, range(8), chunksize=1))
        print("WORKERS", len(names), flush=True)
        res = p.map_async(slow, [3], error_callback=lambda e: None)
        res.wait(60)
        got = []
        for v in p.imap(slow, range(4, 24)):
            got.append(v)
            if len(got) == 3:
                print("KILL", flush=True)
                wait_for("killed-one")
        print("IMAP", got == [x * x for x in range(4, 24)], flush=True)
        wait_for("killed-all")
        try:
            p.apply_async(slow, (100,)).get(timeout=120)
            print("POOL no error", flush=True)
        except Exception as e:
            print("POOL", type(e).__name__, str(e).replace("\\n", " "), flush=True)
        p.terminate()
        try:
            with ProcessPoolExecutor() as ex:
                ex.submit(slow, 101).result(timeout=120)
            print("EXECUTOR no error", flush=True)
        except Exception as e:
            print("EXECUTOR", type(e).__name__, flush=True)
"""


@polypool_extension
@in_process_pass_only
class ClusterFailoverTest(unittest.TestCase):
    """A member joins, one is killed mid-map, then the last one."""

    def test_join_kill_and_no_member_left(self):
        tmp = tempfile.mkdtemp(prefix="polypool-cluster-")
        env = cluster_env("test-" + uuid.uuid4().hex[:8], uuid.uuid4().hex)
        runs = os.path.join(tmp, "runs")
        first = free_port()
        a = Member(env, first)
        members = [a]
        script = None
        try:
            self.assertTrue(a.wait_for("listening on"), a.log)
            script = Script(FAILOVER, dict(env, POLYPOOL_CLUSTER=f"127.0.0.1:{first}", RUNS=runs), tmp)
            self.assertEqual(script.expect("SIZE"), "1")
            b = Member(env, free_port(), join=f"127.0.0.1:{first}")
            members.append(b)
            self.assertTrue(b.wait_for("listening on"), b.log)
            script.step("joined")
            self.assertEqual(script.expect("WORKERS"), "2")  # the joiner added capacity
            script.expect("KILL")
            b.kill()
            script.step("killed-one")
            self.assertEqual(script.expect("IMAP"), "True")  # complete and in order
            a.kill()
            script.step("killed-all")
            pool_error = script.expect("POOL")
            self.assertTrue(pool_error.startswith("WorkerLostError"), pool_error)
            self.assertIn("no polypool cluster member", pool_error)
            self.assertEqual(script.expect("EXECUTOR"), "BrokenProcessPool")
            code, _ = script.finish()
            self.assertEqual(code, 0, "".join(script.err))
            with open(runs) as f:
                ran = [int(line) for line in f]
            self.assertEqual(ran.count(3), 1)  # a task that raised never runs again
            for x in range(4, 24):
                self.assertIn(ran.count(x), (1, 2), x)  # at most once more, after its member died
        finally:
            if script is not None and script.proc.poll() is None:
                script.proc.kill()
            for m in members:
                m.stop()


if __name__ == "__main__":
    unittest.main()
