"""Foundation figures, run identically by CPython and polypool (bench/foundation.sh).

Prints one line per measurement: name, seconds (min of repeats), and a unit figure.
"""
import sys
import time
from multiprocessing import Pool


def square(x):
    return x * x


def first_of(t):
    return t[0]


def timed(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def pool_ready():
    with Pool(4) as p:
        p.apply(square, (1,))


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    t0 = time.perf_counter()
    pool_ready()
    print(f"pool4_ready_first      {time.perf_counter() - t0:8.3f} s")
    print(f"pool4_ready_warm       {timed(pool_ready, repeats):8.3f} s")
    n = 10_000
    ints = list(range(n))
    tuples = [(i,) for i in range(n)]
    with Pool(2) as p:
        p.map(square, range(100))
        t = timed(lambda: p.map(square, ints, chunksize=1), repeats)
        print(f"tiny_tasks_plain_10k   {t:8.3f} s  {t / n * 1e6:7.1f} us/task")
        t = timed(lambda: p.map(first_of, tuples, chunksize=1), repeats)
        print(f"tiny_tasks_pickle_10k  {t:8.3f} s  {t / n * 1e6:7.1f} us/task")
        t = timed(lambda: p.map(square, range(100_000)), repeats)
        print(f"default_chunks_100k    {t:8.3f} s")

        def round_trips():
            for i in range(200):
                p.apply_async(square, (i,)).get()
        t = timed(round_trips, repeats)
        print(f"apply_async_latency    {t:8.3f} s  {t / 200 * 1e6:7.1f} us/call")


if __name__ == "__main__":
    main()
