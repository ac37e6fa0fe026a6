"""``multiprocessing.Process`` on the engine: each process is a context of its own.

``Popen`` is what ``BaseProcess.start`` creates through the context's process class; it
asks Java (``dev.polypool.engine.ChildProcess``) to run the pickled process object in a
fresh context that inherits this one's state, as a forked child does. The child inherits
pipe ends as a child process inherits descriptors (see ``polypool.connection``); its
``sentinel`` is a number ``multiprocessing.connection.wait`` understands.
"""

import os
import signal
import sys

from multiprocessing import process as mp_process

from polypool import byvalue, childstate, connection, snapshot
from polypool._host import host
from polypool.sync import wait_in_slices


class Popen:
    """The engine's counterpart of ``multiprocessing.popen_fork.Popen``."""

    def __init__(self, process_obj):
        childstate.check_may_have_children()
        self.returncode = None
        self.finalizer = None
        from multiprocessing import context
        self.method = process_obj._start_method or context._default_context.get_start_method()
        for stream in (sys.stdout, sys.stderr):  # as fork: no output printed twice or lost
            try:
                stream.flush()
            except Exception:
                pass
        with connection.inheriting(self.method, shared=False) as inherited:
            setup = childstate.child_setup(self.method)
            if childstate.forks(self.method):
                text = snapshot.dumps_inherited(process_obj)
            else:
                text = byvalue.dumps_spawn(process_obj, inherit=True)
            self._child = host.startProcess(process_obj.name, setup, text, inherited,
                                            childstate.template(self.method))
        self.pid = self._child.pid()
        self.sentinel = self._child.sentinel()

    def poll(self, flag=os.WNOHANG):
        if self.returncode is None:
            code = self._child.exitCode()
            if code is not None:
                self.returncode = code
            elif flag == 0:
                return self.wait()
        return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            if not wait_in_slices(self._child.join, True, timeout, bool):
                return None
            self.returncode = self._child.exitCode()
        return self.returncode

    def _send_signal(self, sig):
        if self.returncode is None:
            self._child.terminate(int(sig))

    def terminate(self):
        self._send_signal(signal.SIGTERM)

    def kill(self):
        self._send_signal(signal.SIGKILL)

    def close(self):
        pass


def _popen(process_obj):
    return Popen(process_obj)


class ForkProcess(mp_process.BaseProcess):
    _start_method = "fork"
    _Popen = staticmethod(_popen)


class SpawnProcess(mp_process.BaseProcess):
    _start_method = "spawn"
    _Popen = staticmethod(_popen)


class ForkServerProcess(mp_process.BaseProcess):
    _start_method = "forkserver"
    _Popen = staticmethod(_popen)


PROCESS_CLASSES = {"fork": ForkProcess, "spawn": SpawnProcess, "forkserver": ForkServerProcess}
