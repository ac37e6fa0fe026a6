"""Marks for the few tests whose outcome differs by design between CPython and polypool.

polypool deliberately sends what CPython cannot pickle (lambdas, closures, nested
functions, functions defined under ``if __name__ == "__main__":`` in a spawned program) and
fails fast where CPython's spawn hangs. Tests of CPython's refusal run on CPython only;
tests of the extension run on polypool only. Everything else runs on both.
"""

import importlib.util
import os
import sys
import unittest

ON_POLYPOOL = importlib.util.find_spec("polypool") is not None

cpython_refuses = unittest.skipIf(
    ON_POLYPOOL, "CPython's refusal; polypool sends it by value (documented extension)")

polypool_extension = unittest.skipUnless(
    ON_POLYPOOL, "documented polypool extension; CPython refuses or hangs here")

# for tests whose programs run in JVMs of their own (bin/polypool children, servers, cluster
# members) whatever runs the tests: on the resident engine (POLYPOOL_SERVER=1) the suite
# would only run the same JVMs again, so the in-process pass alone runs them
in_process_pass_only = unittest.skipIf(
    os.environ.get("POLYPOOL_SERVER") == "1",
    "starts JVMs of its own: the in-process pass of the suite runs it")


def child_interpreter():
    """The command that runs a child script on this same implementation:
    ``$POLYPOOL_TEST_INTERPRETER``, else ``sys.executable`` (``bin/polypool`` on polypool)."""
    return [os.environ.get("POLYPOOL_TEST_INTERPRETER") or sys.executable]
