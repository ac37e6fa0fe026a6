"""Pool(4): from creating the pool to its first result, in a running interpreter.

``pool4_ready_first`` is the program's first pool, created as soon as the program starts
(what a script sees); ``pool4_ready_again`` the best of later pools in the same process.
"""
import time
from multiprocessing import Pool

import _bench


def square(x):
    return x * x


def ready():
    t0 = time.perf_counter()
    with Pool(4) as p:
        _bench.check(p.apply(square, (3,)) == 9, "apply result")
        return time.perf_counter() - t0


if __name__ == "__main__":
    _bench.setup()
    _bench.report("pool4_ready_first", ready(), "s")
    _bench.report("pool4_ready_again", min(ready() for _ in range(_bench.size(5, 2))), "s")
