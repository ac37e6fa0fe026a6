"""The wire protocol between the engine and these modules, as Java defines it.

``dev.polypool.engine.Protocol`` holds each constant once and publishes them to every
context; this module reads them once, so that the Python side names what Java numbers:
task kinds, outcome statuses (a worker's text result starts with its status digit), the
marks of encoded values, the start methods, SemLock kinds and release codes, the results of
pipe operations, and the value tokens of the Java API. See ``docs/architecture.md``.
"""

import polyglot

_java = polyglot.import_value("polypool.protocol")

# task kinds: how polypool.worker applies a task's function to its payload
APPLY, MAP, STARMAP, CALL, STARCALL = (_java.APPLY, _java.MAP, _java.STARMAP, _java.CALL,
                                       _java.STARCALL)

# outcome statuses, and the prefixes of a worker's text results that carry the first three
OK, RAISED, PLAIN, LOST = _java.OK, _java.RAISED, _java.PLAIN, _java.LOST
OK_PREFIX, RAISED_PREFIX, PLAIN_PREFIX = str(OK), str(RAISED), str(PLAIN)

# a function reference sent by value; the size beyond which a pipe message goes in a file
BY_VALUE, SPILL_BYTES = _java.BY_VALUE, _java.SPILL_BYTES

START_METHODS = tuple(_java.START_METHODS)

# SemLock kinds and the results of SharedSemaphore.release
RECURSIVE_MUTEX, SEMAPHORE = _java.RECURSIVE_MUTEX, _java.SEMAPHORE
RELEASED, NOT_OWNER, TOO_MANY_RELEASES = _java.RELEASED, _java.NOT_OWNER, _java.TOO_MANY_RELEASES

# what a pipe end's send, recv and poll return (dev.polypool.sync.PipeHandle)
PIPE_EMPTY, PIPE_EOF, PIPE_TOO_LONG = _java.PIPE_EMPTY, _java.PIPE_EOF, _java.PIPE_TOO_LONG
PIPE_CLOSED, PIPE_BROKEN, PIPE_READY = _java.PIPE_CLOSED, _java.PIPE_BROKEN, _java.PIPE_READY
FIRST_FD = _java.FIRST_FD  # pipe handles and sentinels are numbered from here up

# value tokens of the Java API (polypool.embed, dev.polypool.Conversions)
TAG_NONE, TAG_TRUE, TAG_FALSE, TAG_INT, TAG_BIGINT = (_java.TAG_NONE, _java.TAG_TRUE, _java.TAG_FALSE,
                                                      _java.TAG_INT, _java.TAG_BIGINT)
TAG_FLOAT, TAG_STR, TAG_BYTES, TAG_LIST, TAG_DICT = (_java.TAG_FLOAT, _java.TAG_STR, _java.TAG_BYTES,
                                                     _java.TAG_LIST, _java.TAG_DICT)
TAG_INTS, TAG_FLOATS = _java.TAG_INTS, _java.TAG_FLOATS
TAG_RAISED, TAG_UNCONVERTIBLE = _java.TAG_RAISED, _java.TAG_UNCONVERTIBLE

del _java
