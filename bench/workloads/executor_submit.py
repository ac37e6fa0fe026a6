"""ProcessPoolExecutor(2): latency of one submit() to its result, one at a time."""
from concurrent.futures import ProcessPoolExecutor

import _bench


def square(x):
    return x * x


if __name__ == "__main__":
    _bench.setup()
    n = _bench.size(500, 100)
    with ProcessPoolExecutor(2) as ex:
        list(ex.map(square, range(100)))   # workers up

        def round_trips():
            for i in range(n):
                _bench.check(ex.submit(square, i).result(timeout=60) == i * i, "submit result")
        t = _bench.best_of(_bench.size(3, 1), round_trips)
        _bench.report("executor_submit_latency", t / n * 1e6, "us/call")
