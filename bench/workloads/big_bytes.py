"""A 10 MiB bytes argument sent to a worker and returned: one round trip."""
from multiprocessing import Pool

import _bench


def echo(data):
    return data


if __name__ == "__main__":
    _bench.setup()
    data = bytes(range(256)) * (_bench.size(10, 2) * 4096)   # 10 MiB (quick: 2 MiB)
    with Pool(2) as p:
        _bench.check(p.apply(echo, (b"x",)) == b"x", "warm-up result")

        def round_trip():
            _bench.check(p.apply(echo, (data,)) == data, "bytes came back changed")
        _bench.report("bytes_10mib_roundtrip", _bench.best_of(_bench.size(5, 2), round_trip), "s")
