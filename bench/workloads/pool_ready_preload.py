"""Pool(4) ready time for a program that imports heavier modules at top level.

Under spawn and forkserver every worker imports the main script again, so these imports
run again in every worker, unless forkserver preloads them (``set_forkserver_preload``),
as this program does when that is its start method. Under fork they are carried over.
``pool4_preload_ready_first`` is the program's first pool, ``pool4_preload_ready_again``
the best of later pools.
"""
import decimal
import email.message
import http.client
import multiprocessing
import statistics
import time

import _bench

MODULES = ["decimal", "email.message", "http.client", "statistics"]


def use_modules(x):
    msg = email.message.EmailMessage()
    msg["Subject"] = str(decimal.Decimal(x) / 4)
    return statistics.mean([x, x]), msg["Subject"], http.client.OK


def ready():
    t0 = time.perf_counter()
    with multiprocessing.Pool(4) as p:
        _bench.check(p.apply(use_modules, (2,)) == (2, "0.5", 200), "apply result")
        return time.perf_counter() - t0


if __name__ == "__main__":
    if _bench.setup() == "forkserver":
        multiprocessing.set_forkserver_preload(MODULES)
    _bench.report("pool4_preload_ready_first", ready(), "s")
    _bench.report("pool4_preload_ready_again", min(ready() for _ in range(_bench.size(5, 2))), "s")
