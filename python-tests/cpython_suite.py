"""Runs CPython 3.11's own multiprocessing tests (``test/_test_multiprocessing.py``) on the
interpreter that runs this script, one test class per child process, and prints per-class counts.

    python3 python-tests/cpython_suite.py --start-method fork           # CPython's reference
    bin/polypool python-tests/cpython_suite.py --start-method spawn     # polypool
    ... --only WithProcessesTestPool,WithThreadsTestQueue --timeout 300 --json out.json

The tests are always CPython 3.11's file, found with the ``test`` package of the ``python3`` on
the PATH (``--cpython-test-dir`` or ``$CPYTHON_TEST_DIR`` overrides). GraalPy ships
``test.support`` of Python 3.12 and no ``_test_multiprocessing``, so the driver writes a
``test`` package into a temporary directory that it puts first on ``sys.path`` (and on
``PYTHONPATH`` for the tests' own child interpreters): it holds a link to CPython's
``_test_multiprocessing.py`` and takes everything else (``test.support``) from the running
interpreter's own ``test`` package, and ``test_multiprocessing_<method>.py`` as CPython's (which
this CPython install lacks): the test classes live there, as under regrtest, so every process
and worker (they start with their parent's ``sys.path``) finds them by name.

The parent lists the test classes that ``install_tests_in_module_dict`` builds for the start
method (the ones ``test_multiprocessing_<method>`` runs), then runs each class in a child
(``sys.executable`` of this script, i.e. ``bin/polypool`` on polypool) with a timeout; a child
that times out or dies counts its class as one error. The child prints one ``RESULT`` line
(JSON) with the counts and the ids of the failing tests. Exit status 0 when every class passed.
"""

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

# resolved once: a test class may change the working directory of the interpreter that runs
# the driver (on polypool's resident engine, of the server the runs share)
SCRIPT = os.path.abspath(__file__)

def cpython_test_dir():
    explicit = os.environ.get("CPYTHON_TEST_DIR")
    if explicit:
        return explicit
    return subprocess.run(
        ["python3", "-c", "import test, os; print(os.path.dirname(test.__file__))"],
        check=True, capture_output=True, text=True, timeout=60).stdout.strip()


_SHIM_INIT = """\
# Written by polypool's python-tests/cpython_suite.py: the running interpreter's own test
# package (test.support; GraalPy's is a namespace package) plus CPython 3.11's _test_multiprocessing.py, linked next to this file.
import os as _os, sys as _sys
_here = _os.path.dirname(_os.path.abspath(__file__))
__path__ = [_here] + [d for d in (_os.path.join(p or _os.getcwd(), "test") for p in _sys.path)
                      if _os.path.isdir(d) and _os.path.abspath(d) != _here]
"""


def make_shim(test_dir, into):
    """A directory holding a ``test`` package that finds CPython's ``_test_multiprocessing``
    and the running interpreter's ``test.support``; on ``sys.path`` it makes
    ``import test._test_multiprocessing`` work in every process and worker."""
    package = os.path.join(into, "test")
    os.makedirs(package, exist_ok=True)
    with open(os.path.join(package, "__init__.py"), "w") as f:
        f.write(_SHIM_INIT)
    # with the scripts it runs from its own directory (mp_fork_bomb.py, mp_preload.py)
    for name in ["_test_multiprocessing.py"] + [n for n in os.listdir(test_dir)
                                                if n.startswith("mp_") and n.endswith(".py")]:
        link = os.path.join(package, name)
        if not os.path.lexists(link):
            os.symlink(os.path.join(test_dir, name), link)
    for method in ("fork", "spawn", "forkserver"):
        # what CPython's test/test_multiprocessing_<method>.py does: its classes are then
        # found by name in every process, as under regrtest
        with open(os.path.join(package, f"test_multiprocessing_{method}.py"), "w") as f:
            f.write("import test._test_multiprocessing\n"
                    f"test._test_multiprocessing.install_tests_in_module_dict(globals(), {method!r})\n")
    return into


def suite_module(shim, start_method):
    """``test.test_multiprocessing_<start_method>``, from the shim."""
    if shim not in sys.path:
        sys.path.insert(0, shim)  # workers start with the parent's sys.path
    for name in [m for m in sys.modules if m == "test" or m.startswith("test.")]:
        del sys.modules[name]  # an earlier import of the interpreter's own test package
    return importlib.import_module("test.test_multiprocessing_" + start_method)


class _Result(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passed = []

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed.append(test.id())


def run_child(start_method, class_name, verbosity):
    """Runs one class of the installed tests; prints its RESULT line."""
    module = suite_module(os.environ["CPYTHON_SUITE_SHIM"], start_method)
    # a top-level suite runs the module's setUpModule/tearDownModule around the class
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(getattr(module, class_name))
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=verbosity, resultclass=_Result)
    result = runner.run(suite)
    skipped = len(result.skipped)
    report = {
        "class": class_name,
        "run": result.testsRun,
        "passed": len(result.passed),
        "failed": len(result.failures) + len(result.unexpectedSuccesses),
        "errors": len(result.errors),
        "skipped": skipped,
        "expected_failures": len(result.expectedFailures),
        "failing": sorted({t.id().rsplit(".", 1)[-1] if hasattr(t, "id") else str(t)
                           for t, _ in result.failures + result.errors}),
    }
    print("RESULT " + json.dumps(report), flush=True)


def list_classes(start_method, shim):
    module = suite_module(shim, start_method)
    return sorted(n for n, v in vars(module).items()
                  if isinstance(v, type) and issubclass(v, unittest.TestCase) and v.__module__ == module.__name__)


def run_parent(args):
    test_dir = args.cpython_test_dir or cpython_test_dir()
    shim = make_shim(test_dir, tempfile.mkdtemp(prefix="cpython-suite-"))
    classes = list_classes(args.start_method, shim)
    if args.only:
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - set(classes))
        if unknown:
            sys.exit(f"cpython_suite: unknown classes for {args.start_method}: {', '.join(unknown)}")
        classes = [c for c in classes if c in wanted]
    if args.list:
        print("\n".join(classes))
        return 0
    interpreter = sys.executable or "python3"
    print(f"# {interpreter} {sys.version.split()[0]} ({sys.implementation.name}), start method "
          f"{args.start_method}, tests {os.path.join(test_dir, '_test_multiprocessing.py')}", flush=True)
    # PYTHONPATH: for the tests' own child interpreters (python -c "from test._test_multiprocessing ...")
    pythonpath = os.pathsep.join(filter(None, [shim, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, CPYTHON_SUITE_SHIM=shim, PYTHONPATH=pythonpath)
    totals = dict(run=0, passed=0, failed=0, errors=0, skipped=0)
    reports = []
    print(f"{'class':52} {'run':>4} {'pass':>4} {'fail':>4} {'err':>4} {'skip':>4} {'s':>5}", flush=True)
    for name in classes:
        t0 = time.monotonic()
        try:
            child = subprocess.run([interpreter, SCRIPT, "--start-method",
                                    args.start_method, "--child", name,
                                    "--verbosity", str(args.verbosity)],
                                   env=env, capture_output=True, text=True, timeout=args.timeout)
            lines = [l for l in child.stdout.splitlines() if l.startswith("RESULT ")]
            if lines:
                report = json.loads(lines[-1][len("RESULT "):])
            else:
                report = dict(run=1, passed=0, failed=0, errors=1, skipped=0,
                              failing=[f"child exited {child.returncode} without a result"])
            tail = child.stderr
        except subprocess.TimeoutExpired as e:
            report = dict(run=1, passed=0, failed=0, errors=1, skipped=0,
                          failing=[f"timed out after {args.timeout} s"])
            tail = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        report["class"] = name
        report["seconds"] = round(time.monotonic() - t0, 1)
        reports.append(report)
        for k in totals:
            totals[k] += report[k]
        print(f"{name:52} {report['run']:4} {report['passed']:4} {report['failed']:4} "
              f"{report['errors']:4} {report['skipped']:4} {report['seconds']:5.0f}"
              + (f"  {' '.join(report['failing'])}" if report["failing"] else ""), flush=True)
        if args.logs:
            os.makedirs(args.logs, exist_ok=True)
            with open(os.path.join(args.logs, name + ".log"), "w") as log:
                log.write(tail)
    print(f"{'TOTAL':52} {totals['run']:4} {totals['passed']:4} {totals['failed']:4} "
          f"{totals['errors']:4} {totals['skipped']:4}", flush=True)
    shutil.rmtree(shim, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"interpreter": interpreter, "implementation": sys.implementation.name,
                       "start_method": args.start_method, "totals": totals, "classes": reports},
                      out, indent=1)
    return 0 if totals["failed"] == totals["errors"] == 0 else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start-method", default="fork", choices=("fork", "spawn", "forkserver"))
    parser.add_argument("--only", help="comma-separated class names (see --list)")
    parser.add_argument("--list", action="store_true", help="list the classes and exit")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per class (600)")
    parser.add_argument("--json", help="write the per-class counts to this file")
    parser.add_argument("--logs", help="write each class's unittest output to DIR/<class>.log")
    parser.add_argument("--verbosity", type=int, default=1)
    parser.add_argument("--cpython-test-dir", help="directory of CPython 3.11's test package")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.start_method, args.child, args.verbosity)
        return 0
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
