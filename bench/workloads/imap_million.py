"""imap over many small items, consumed as they arrive: throughput. bench/run samples the
resident memory of the whole process tree meanwhile (peak RSS)."""
import time
from multiprocessing import Pool

import _bench


def square(x):
    return x * x


if __name__ == "__main__":
    _bench.setup()
    n = _bench.size(1_000_000, 100_000)
    with Pool(2) as p:
        p.map(square, range(1000))   # both workers up
        t0 = time.perf_counter()
        total = 0
        for y in p.imap(square, range(n), chunksize=1000):
            total += y
        t = time.perf_counter() - t0
        _bench.check(total == sum(x * x for x in range(n)), "imap sum")
        _bench.report("imap_1m_throughput", n / t / 1e6, "Mitems/s")
