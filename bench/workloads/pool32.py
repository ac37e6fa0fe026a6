"""Pool(32) on a machine with fewer cores: its start, how many of its workers share 320
tiny tasks, and close() + join() right after."""
import multiprocessing
import time

import _bench


def worker_name(_):
    return multiprocessing.current_process().name


if __name__ == "__main__":
    _bench.setup()
    t0 = time.perf_counter()
    p = multiprocessing.Pool(32)
    _bench.report("pool32_start", time.perf_counter() - t0, "s")
    names = p.map(worker_name, range(320), chunksize=1)
    _bench.check(len(names) == 320, "map results")
    _bench.report("pool32_workers_used", len(set(names)), "workers")
    t0 = time.perf_counter()
    p.close()
    p.join()
    _bench.report("pool32_close_join", time.perf_counter() - t0, "s")
