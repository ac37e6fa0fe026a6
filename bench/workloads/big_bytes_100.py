"""A 100 MiB bytes argument sent to a worker and returned, as a new user writes it: the
payload is a global of the main script, so a fork carries it to the workers too.
bench/run samples the resident memory of the process tree meanwhile (peak RSS)."""
import time
from multiprocessing import Pool

import _bench


def echo(data):
    return data


if __name__ == "__main__":
    _bench.setup()
    data = bytes(range(256)) * (_bench.size(100, 10) * 4096)   # 100 MiB (quick: 10 MiB)
    with Pool(2) as p:
        _bench.check(p.apply(echo, (b"x",)) == b"x", "warm-up result")
        t0 = time.perf_counter()
        back = p.apply(echo, (data,))
        t = time.perf_counter() - t0
        _bench.check(back == data, "bytes came back changed")
        _bench.report("bytes_100mib_roundtrip", t, "s")
