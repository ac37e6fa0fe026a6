"""Hang protection shared by the conformance tests.

Blocking calls that take no timeout (``Pool.map``, ``join``, ``shutdown``...) go through
``bounded``, so that a hanging implementation fails one test instead of stalling the
whole run; tests that share a pool compare ``hang_count()`` before and after to replace
a pool that a hang may have left busy.
"""

import threading

TIMEOUT = 60

_hangs = 0


class HangError(AssertionError):
    """A blocking call did not return within TIMEOUT seconds."""


def note_hang(what):
    """Count a hang and return the error to raise for it."""
    global _hangs
    _hangs += 1
    return HangError("%s did not finish within %s s" % (what, TIMEOUT))


def hang_count():
    return _hangs


def bounded(fn, *args, **kwargs):
    """Call fn(*args, **kwargs) in a daemon thread; fail after TIMEOUT seconds.

    Exceptions raised by fn propagate unchanged."""
    outcome = {}

    def target():
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as e:  # re-raised in the caller below
            outcome["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(TIMEOUT)
    if t.is_alive():
        raise note_hang(getattr(fn, "__qualname__", repr(fn)))
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
