"""Count the primes below a limit, split across a process pool.

Runs unchanged on CPython (python3 examples/primes.py) and on polypool
(bin/polypool examples/primes.py); prints the same lines on both.
"""
import sys
import time
from multiprocessing import Pool, cpu_count


def count_primes(bounds):
    """Primes in [lo, hi) by trial division: deliberately pure-Python CPU work."""
    lo, hi = bounds
    found = 0
    for n in range(max(lo, 2), hi):
        if n % 2 == 0:
            found += n == 2
            continue
        d = 3
        while d * d <= n:
            if n % d == 0:
                break
            d += 2
        else:
            found += 1
    return found


def main():
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    step = 50_000
    ranges = [(lo, min(lo + step, limit)) for lo in range(0, limit, step)]
    start = time.perf_counter()
    with Pool(cpu_count()) as pool:
        counts = pool.map(count_primes, ranges)
    elapsed = time.perf_counter() - start
    print(f"{sum(counts)} primes below {limit:,} in {len(ranges)} chunks")
    print(f"largest chunk count: {max(counts)}, smallest: {min(counts)}")
    print(f"pool time: {elapsed:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
