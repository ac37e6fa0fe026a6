"""The Java host object of this context, if the engine published one.

``dev.polypool.bridge.MainContextBridge``, which starts pools and processes, is published
to the main context of ``bin/polypool`` and to the workers and processes started from it
(a process may start processes of its own; a pool worker is refused, as in CPython). The
workers of the Java API (``dev.polypool.PythonPool``) and contexts made directly by Java
code (tests) have none: ``host`` is None there.
"""

import polyglot

try:
    host = polyglot.import_value("polypool")
except Exception:  # no bridge published in this context
    host = None
