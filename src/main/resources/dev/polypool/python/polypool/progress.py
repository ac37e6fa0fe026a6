"""Progress lines for the map calls of pools and executors (``POLYPOOL_PROGRESS=1``, or
``bin/polypool --progress``), drawn by Java (``dev.polypool.io.ProgressDisplay``) on stderr
when it is a terminal.

``pool`` and ``futures`` call one hook per map call; when progress is not shown it returns
at once and changes nothing. When it is, the hook wraps the call's result object (its
``_set``, the method the result thread completes it with) to count the items done, and
hands the counts to Java at most every ``_PUSH_SECONDS``, and at the end.
"""

import threading
import time

from polypool._host import host

_PUSH_SECONDS = 0.05
_shown = None


def _enabled():
    global _shown
    if _shown is None:
        # decided before the program runs (cli.Main), so asked once
        _shown = host is not None and bool(host.progressShown())
    return _shown


def _label(kind, func):
    name = getattr(func, "__name__", None) or type(func).__name__
    return f"{kind}({name})"


class _Tracker:
    """Counts done items of one call and passes them on to its Java line."""

    def __init__(self, kind, func, total):
        self._bar = host.progress(_label(kind, func), total)
        self._lock = threading.Lock()
        self._pending = 0
        self._counted = 0
        self._last = time.monotonic()

    def add(self, n):
        with self._lock:
            self._pending += n
            self._counted += n
            now = time.monotonic()
            if now - self._last < _PUSH_SECONDS:
                return
            n, self._pending, self._last = self._pending, 0, now
        self._bar.advance(n)

    def set_total(self, n):
        self._bar.setTotal(n)

    def top_up(self, total):
        """Counts whatever of ``total`` has not been counted yet (callbacks still to run)."""
        with self._lock:
            n = total - self._counted
        if n > 0:
            self.add(n)

    def finish(self):
        with self._lock:
            n, self._pending = self._pending, 0
        if n:
            self._bar.advance(n)
        self._bar.finish()


def track_map(result, kind, func, length, chunksize):
    """``Pool.map``/``starmap`` and their ``_async`` forms: ``result`` is the ``MapResult``
    of ``length`` items in chunks of ``chunksize``."""
    if not _enabled() or length == 0:
        return
    tracker = _Tracker(kind, func, length)
    set_chunk = result._set

    def _set(i, outcome):
        tracker.add(max(0, min(chunksize, length - i * chunksize)))
        if result._number_left <= 1:
            # before the result completes: the program may print as soon as it has
            tracker.finish()
        set_chunk(i, outcome)
    result._set = _set


def track_imap(result, kind, func, iterable, chunksize):
    """``Pool.imap``/``imap_unordered``: ``result`` is the ``IMapIterator``; the total is
    known for an input with a length, and learnt when the feeder has read a lazy input of
    single items."""
    if not _enabled():
        return
    total = len(iterable) if hasattr(type(iterable), "__len__") else -1
    tracker = _Tracker(kind, func, total)
    set_item, set_length = result._set, result._set_length

    # each finishes the line before the call that completes the iterator, so that the
    # final line comes before what the program prints once it has the last item
    def _set(i, obj):
        ok, value = obj
        tracker.add(1 if chunksize == 1 else (len(value) if ok else chunksize))
        length = result._length
        if length is not None and result._index + len(result._unsorted) + 1 >= length:
            tracker.finish()
        set_item(i, obj)

    def _set_length(length):
        if total < 0 and chunksize == 1:
            tracker.set_total(length)
        if result._index >= length:
            tracker.finish()
        set_length(length)
    result._set, result._set_length = _set, _set_length


class _Counted:
    """An iterator that counts what it yields: how many items ``Executor.map`` read."""

    def __init__(self, iterator):
        self._it = iterator
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._it)
        self.count += 1
        return item


def counted(iterator):
    """``iterator`` itself unless progress is shown; then one that counts its items."""
    return _Counted(iterator) if _enabled() else iterator


def track_futures(futures, items, func, chunksize, results):
    """``Executor.map``: ``futures`` are its calls (or chunks of ``chunksize``), submitted
    from ``items``, the iterator ``counted`` returned, and ``results`` the iterator ``map``
    returns. Returns that iterator, or one that finishes the line when it ends: the futures'
    callbacks run after the result is handed over, too late to put the final line before
    what the program prints next."""
    if type(items) is not _Counted or not futures:
        return results
    total = items.count
    tracker = _Tracker("Executor.map", func, total)

    def done(future):
        n = 1
        if chunksize > 1:
            ok = not future.cancelled() and future.exception() is None
            n = len(future.result()) if ok else chunksize
        tracker.add(n)
    for future in futures:
        future.add_done_callback(done)

    def finishing():
        try:
            yield from results
            tracker.top_up(total)
        finally:
            tracker.finish()
    return finishing()
