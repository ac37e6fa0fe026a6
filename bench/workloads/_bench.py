"""Shared by the workloads: start method, sizes and the lines bench/run reads.

A workload prints one line per figure on stdout::

    BENCH <metric> <value> <unit>

and nothing else that starts with ``BENCH``. It runs unchanged on CPython and on
polypool; bench/run chooses the start method (``BENCH_START_METHOD``) and the size
(``BENCH_QUICK=1`` for the smoke mode).
"""

import multiprocessing
import os
import sys
import time

QUICK = os.environ.get("BENCH_QUICK") == "1"


def setup():
    """Applies the start method bench/run asked for; returns its name."""
    method = os.environ.get("BENCH_START_METHOD")
    if method:
        multiprocessing.set_start_method(method)
    return multiprocessing.get_start_method()


def size(full, quick):
    return quick if QUICK else full


def report(metric, value, unit):
    print(f"BENCH {metric} {value:.6g} {unit}", flush=True)


def best_of(repeats, fn):
    """The shortest of ``repeats`` timings of ``fn()``, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def check(condition, what):
    # a wrong result would make the timing meaningless: fail the run instead
    if not condition:
        sys.exit(f"workload check failed: {what}")
