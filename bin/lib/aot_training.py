"""The training run of polypool's JVM AOT cache (bin/lib/common.sh): start-up and the
common multiprocessing paths, so that the classes they load are cached."""
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import Pool


def square(x):
    return x * x


if __name__ == "__main__":
    with Pool(2) as p:
        assert p.map(square, range(100)) == [x * x for x in range(100)]
        assert sum(p.imap(square, range(1000), chunksize=50)) == sum(x * x for x in range(1000))
        assert p.apply_async(square, (3,)).get() == 9
    with ProcessPoolExecutor(2) as ex:
        assert ex.submit(square, 4).result() == 16
