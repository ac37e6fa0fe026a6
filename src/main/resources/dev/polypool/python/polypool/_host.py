"""The Java host object of this context, if the engine published one."""

import polyglot

try:
    host = polyglot.import_value("polypool")
except Exception:  # a context without a bridge (a worker)
    host = None
