"""The per-task cost of a pool's round trip, on Pool(2): many tiny tasks one per chunk,
and one apply() at a time. On a cluster (bench/cluster.sh) each is a round trip to a
member; locally a hand-off between threads of one JVM (or processes, on CPython)."""
import time
from multiprocessing import Pool

import _bench


def noop(x):
    return x


if __name__ == "__main__":
    _bench.setup()
    n = _bench.size(2000, 200)
    with Pool(2) as p:
        _bench.check(p.map(noop, range(10)) == list(range(10)), "warm-up result")

        def chunks():
            _bench.check(p.map(noop, range(n), chunksize=1) == list(range(n)), "map results")
        _bench.report("task_chunksize1", _bench.best_of(3, chunks) / n * 1e6, "us/task")

        def applies():
            for i in range(n // 10):
                p.apply(noop, (i,))
        _bench.report("apply_roundtrip", _bench.best_of(3, applies) / (n // 10) * 1e6, "us/call")
