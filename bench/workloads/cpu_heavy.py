"""8 CPU-heavy pure-Python tasks on Pool(2): the first batch (JIT warm-up included on
polypool) and the best later batch."""
import time
from multiprocessing import Pool

import _bench


def work(n):
    total = 0
    for i in range(n):
        total += (i * i) % 7
    return total


if __name__ == "__main__":
    _bench.setup()
    n = _bench.size(3_000_000, 300_000)
    expected = work(1000)
    with Pool(2) as p:
        _bench.check(p.apply(work, (1000,)) == expected, "warm-up result")  # workers up

        def batch():
            results = p.map(work, [n] * 8, chunksize=1)
            _bench.check(len(set(results)) == 1, "batch results")
        t0 = time.perf_counter()
        batch()
        _bench.report("cpu_heavy_first", time.perf_counter() - t0, "s")
        _bench.report("cpu_heavy_warm", _bench.best_of(_bench.size(4, 2), batch), "s")
