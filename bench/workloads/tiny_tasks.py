"""Per-task overhead on Pool(2): tiny tasks one per chunk, many tasks in default chunks,
and the round trip of one apply_async."""
from multiprocessing import Pool

import _bench


def square(x):
    return x * x


if __name__ == "__main__":
    _bench.setup()
    n_tiny = _bench.size(10_000, 2_000)
    n_default = _bench.size(100_000, 20_000)
    n_async = _bench.size(500, 100)
    repeats = _bench.size(3, 1)
    tiny = list(range(n_tiny))
    expected_tiny = [x * x for x in tiny]
    with Pool(2) as p:
        p.map(square, range(1000), chunksize=1)   # both workers up and warm

        def run_tiny():
            _bench.check(p.map(square, tiny, chunksize=1) == expected_tiny, "tiny results")
        t = _bench.best_of(repeats, run_tiny)
        _bench.report("tiny_tasks_chunksize1", t / n_tiny * 1e6, "us/task")

        def run_default():
            _bench.check(len(p.map(square, range(n_default))) == n_default, "default-chunk results")
        _bench.report("tasks_default_chunks", _bench.best_of(repeats, run_default), "s")

        def run_async():
            for i in range(n_async):
                _bench.check(p.apply_async(square, (i,)).get(timeout=60) == i * i, "apply_async result")
        t = _bench.best_of(repeats, run_async)
        _bench.report("apply_async_roundtrip", t / n_async * 1e6, "us/call")
