"""The process API of CPython on Linux, where GraalPy's Java POSIX backend lacks it.

Installed by ``polypool.bootstrap`` in the main context and in every worker and process,
before any program code runs. The backend raises ``UnsupportedOperation`` or an internal
error for ``getppid``, ``getpgid``, ``killpg``..., returns 32 for
``sysconf("SC_SEM_NSEMS_MAX")`` where Linux gives -1, and knows no signals between
contexts. Here:

- ``sysconf``, ``cpu_count``, ``getppid``, ``getpgid``, ``getsid``, ``setsid``,
  ``sched_getaffinity`` and ``resource.getrusage`` call the C library of the JVM's process
  (``dev.polypool.engine.NativePosix``): the values are Linux's, as CPython gives them.
  Workers and processes are contexts of that process, so they share its process group,
  session and CPUs; ``setsid`` in one of them only gives it a session of its own.
- ``os.kill(pid, sig)`` reaches the program itself (its own pid: the signal is delivered
  as below), a ``multiprocessing.Process`` child by its pid (0 checks that it runs; a
  signal it handles runs its handler, in a thread of its own that interrupts no wait, and
  one it ignores does nothing; any other ends it as ``terminate``/``kill`` do, exit code
  minus the signal), the
  main program from a worker (the parent pid), a ``subprocess`` child by the pid GraalPy
  gave it (one already waited for: ``ProcessLookupError``, and ``waitpid`` of it
  ``ChildProcessError``, as in CPython), and any other process of the system.
- Signals: ``signal.signal`` and ``getsignal`` keep the program's handlers here. In the
  main context, the signals the JVM lets a program handle (INT, TERM, HUP, USR1, USR2,
  ALRM) reach ``_deliver`` in the main thread, wherever it waits, through
  ``dev.polypool.bridge.MainContextBridge.raiseSignal``: the program's handler runs, or
  SIGINT's default raises ``KeyboardInterrupt``, or a default action that ends the
  program exits with status 128 + the signal (143 for SIGTERM), the way the main program's
  normal exit goes (pools stopped, shared memory and spilled messages removed), without
  running its ``finally`` blocks or ``atexit`` handlers, as the signal would.
  ``signal.raise_signal`` and ``os.kill(os.getpid(), sig)`` in the main thread run the
  handler before they return, as in CPython. A signal the process started ignoring
  (``nohup``, a shell's background job) starts as ``SIG_IGN``, and an ignored signal
  interrupts no wait.
"""

import errno
import operator
import os
import sys
import threading
import time

import polyglot

import _signal
import signal

_native = polyglot.import_value("polypool.posix")

# os.sysconf_names of CPython on Linux (glibc's numbers)
SYSCONF_NAMES = {'SC_2_CHAR_TERM': 95, 'SC_2_C_BIND': 47, 'SC_2_C_DEV': 48, 'SC_2_C_VERSION': 96, 'SC_2_FORT_DEV': 49, 'SC_2_FORT_RUN': 50, 'SC_2_LOCALEDEF': 52, 'SC_2_SW_DEV': 51, 'SC_2_UPE': 97, 'SC_2_VERSION': 46, 'SC_AIO_LISTIO_MAX': 23, 'SC_AIO_MAX': 24, 'SC_AIO_PRIO_DELTA_MAX': 25, 'SC_ARG_MAX': 0, 'SC_ASYNCHRONOUS_IO': 12, 'SC_ATEXIT_MAX': 87, 'SC_AVPHYS_PAGES': 86, 'SC_BC_BASE_MAX': 36, 'SC_BC_DIM_MAX': 37, 'SC_BC_SCALE_MAX': 38, 'SC_BC_STRING_MAX': 39, 'SC_CHARCLASS_NAME_MAX': 45, 'SC_CHAR_BIT': 101, 'SC_CHAR_MAX': 102, 'SC_CHAR_MIN': 103, 'SC_CHILD_MAX': 1, 'SC_CLK_TCK': 2, 'SC_COLL_WEIGHTS_MAX': 40, 'SC_DELAYTIMER_MAX': 26, 'SC_EQUIV_CLASS_MAX': 41, 'SC_EXPR_NEST_MAX': 42, 'SC_FSYNC': 15, 'SC_GETGR_R_SIZE_MAX': 69, 'SC_GETPW_R_SIZE_MAX': 70, 'SC_INT_MAX': 104, 'SC_INT_MIN': 105, 'SC_IOV_MAX': 60, 'SC_JOB_CONTROL': 7, 'SC_LINE_MAX': 43, 'SC_LOGIN_NAME_MAX': 71, 'SC_LONG_BIT': 106, 'SC_MAPPED_FILES': 16, 'SC_MB_LEN_MAX': 108, 'SC_MEMLOCK': 17, 'SC_MEMLOCK_RANGE': 18, 'SC_MEMORY_PROTECTION': 19, 'SC_MESSAGE_PASSING': 20, 'SC_MINSIGSTKSZ': 249, 'SC_MQ_OPEN_MAX': 27, 'SC_MQ_PRIO_MAX': 28, 'SC_NGROUPS_MAX': 3, 'SC_NL_ARGMAX': 119, 'SC_NL_LANGMAX': 120, 'SC_NL_MSGMAX': 121, 'SC_NL_NMAX': 122, 'SC_NL_SETMAX': 123, 'SC_NL_TEXTMAX': 124, 'SC_NPROCESSORS_CONF': 83, 'SC_NPROCESSORS_ONLN': 84, 'SC_NZERO': 109, 'SC_OPEN_MAX': 4, 'SC_PAGESIZE': 30, 'SC_PAGE_SIZE': 30, 'SC_PASS_MAX': 88, 'SC_PHYS_PAGES': 85, 'SC_PII': 53, 'SC_PII_INTERNET': 56, 'SC_PII_INTERNET_DGRAM': 62, 'SC_PII_INTERNET_STREAM': 61, 'SC_PII_OSI': 57, 'SC_PII_OSI_CLTS': 64, 'SC_PII_OSI_COTS': 63, 'SC_PII_OSI_M': 65, 'SC_PII_SOCKET': 55, 'SC_PII_XTI': 54, 'SC_POLL': 58, 'SC_PRIORITIZED_IO': 13, 'SC_PRIORITY_SCHEDULING': 10, 'SC_REALTIME_SIGNALS': 9, 'SC_RE_DUP_MAX': 44, 'SC_RTSIG_MAX': 31, 'SC_SAVED_IDS': 8, 'SC_SCHAR_MAX': 111, 'SC_SCHAR_MIN': 112, 'SC_SELECT': 59, 'SC_SEMAPHORES': 21, 'SC_SEM_NSEMS_MAX': 32, 'SC_SEM_VALUE_MAX': 33, 'SC_SHARED_MEMORY_OBJECTS': 22, 'SC_SHRT_MAX': 113, 'SC_SHRT_MIN': 114, 'SC_SIGQUEUE_MAX': 34, 'SC_SSIZE_MAX': 110, 'SC_STREAM_MAX': 5, 'SC_SYNCHRONIZED_IO': 14, 'SC_THREADS': 67, 'SC_THREAD_ATTR_STACKADDR': 77, 'SC_THREAD_ATTR_STACKSIZE': 78, 'SC_THREAD_DESTRUCTOR_ITERATIONS': 73, 'SC_THREAD_KEYS_MAX': 74, 'SC_THREAD_PRIORITY_SCHEDULING': 79, 'SC_THREAD_PRIO_INHERIT': 80, 'SC_THREAD_PRIO_PROTECT': 81, 'SC_THREAD_PROCESS_SHARED': 82, 'SC_THREAD_SAFE_FUNCTIONS': 68, 'SC_THREAD_STACK_MIN': 75, 'SC_THREAD_THREADS_MAX': 76, 'SC_TIMERS': 11, 'SC_TIMER_MAX': 35, 'SC_TTY_NAME_MAX': 72, 'SC_TZNAME_MAX': 6, 'SC_T_IOV_MAX': 66, 'SC_UCHAR_MAX': 115, 'SC_UINT_MAX': 116, 'SC_UIO_MAXIOV': 60, 'SC_ULONG_MAX': 117, 'SC_USHRT_MAX': 118, 'SC_VERSION': 29, 'SC_WORD_BIT': 107, 'SC_XBS5_ILP32_OFF32': 125, 'SC_XBS5_ILP32_OFFBIG': 126, 'SC_XBS5_LP64_OFF64': 127, 'SC_XBS5_LPBIG_OFFBIG': 128, 'SC_XOPEN_CRYPT': 92, 'SC_XOPEN_ENH_I18N': 93, 'SC_XOPEN_LEGACY': 129, 'SC_XOPEN_REALTIME': 130, 'SC_XOPEN_REALTIME_THREADS': 131, 'SC_XOPEN_SHM': 94, 'SC_XOPEN_UNIX': 91, 'SC_XOPEN_VERSION': 89, 'SC_XOPEN_XCU_VERSION': 90, 'SC_XOPEN_XPG2': 98, 'SC_XOPEN_XPG3': 99, 'SC_XOPEN_XPG4': 100}

# pids above Linux's largest are the engine's own: workers and processes (ProcessIds)
_MAX_OS_PID = 1 << 22

_SC_NPROCESSORS_ONLN = SYSCONF_NAMES["SC_NPROCESSORS_ONLN"]

# signals whose default action is to do nothing
_IGNORED_BY_DEFAULT = {signal.SIGCHLD, signal.SIGURG, signal.SIGWINCH, signal.SIGCONT}
# what the main context asks the JVM to relay (others are taken by the JVM itself)
RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM)

_graalpy_signal = _signal.signal
_graalpy_kill = os.kill
_graalpy_waitpid = os.waitpid
_handlers = {}          # signal number -> what the program set
_is_main = False        # whether this is the main program's context
_own_session = False    # setsid() was called in this worker or process context


def _check(result):
    value, error = result[0], result[1]
    if error:
        raise OSError(error, os.strerror(error))
    return value


def _no_such_process():
    return ProcessLookupError(errno.ESRCH, os.strerror(errno.ESRCH))


def _os_pid(pid):
    """The operating system's pid for ``pid`` as this context knows it: 0 for this
    process (this context, another context of this JVM, the JVM itself)."""
    pid = int(pid)
    if pid == 0 or pid == os.getpid():
        return 0
    if pid >= _MAX_OS_PID:
        if _native.signalChild(pid, 0):
            return 0
        raise _no_such_process()
    return pid


# -- os -------------------------------------------------------------------------------

def sysconf(name):
    if isinstance(name, str):
        try:
            name = SYSCONF_NAMES[name]
        except KeyError:
            raise ValueError("unrecognized configuration name") from None
    return _check(_native.sysconf(int(name)))


def cpu_count():
    n = _check(_native.sysconf(_SC_NPROCESSORS_ONLN))
    return n if n >= 1 else None


def getppid():
    return _check(_native.getppid())


def getpgid(pid):
    real = _os_pid(pid)
    if real == 0 and _own_session:
        return os.getpid()
    return _check(_native.getpgid(real))


def getpgrp():
    return getpgid(0)


def getsid(pid):
    real = _os_pid(pid)
    if real == 0 and _own_session:
        return os.getpid()
    return _check(_native.getsid(real))


def setsid():
    global _own_session
    if _is_main:
        _check(_native.setsid())
        return
    # a worker or process: a context of the JVM, not a process of its own
    if _own_session:
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))
    _own_session = True


def sched_getaffinity(pid):
    cpus = list(_native.schedGetaffinity(_os_pid(pid)))
    _check((None, cpus[-1]))
    return set(cpus[:-1])


def kill(pid, sig):
    pid, sig = int(pid), int(sig)
    if not 0 <= sig < signal.NSIG:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    if pid == os.getpid():
        _signal_self(sig)
    elif pid >= _MAX_OS_PID:
        if not _native.signalChild(pid, sig):
            raise _no_such_process()
    elif pid in _reaped:
        raise _no_such_process()
    elif pid == _main_pid():  # from a worker or process: its parent program
        if sig != 0:
            _host().raiseSignal(sig)
    elif _is_subprocess(pid):
        if sig in (0, signal.SIGTERM, signal.SIGKILL) or pid not in _subprocess_os_pids:
            _graalpy_kill(pid, sig)  # the only signals it sends
        else:
            _check(_native.kill(_subprocess_os_pids[pid], sig))
    else:
        _check(_native.kill(pid, sig))


def _is_subprocess(pid):
    """Whether ``pid`` is one GraalPy gave a ``subprocess`` child: it numbers them itself
    (1, 2, ...), which the operating system's pids must not be taken for."""
    try:
        _graalpy_kill(pid, 0)
        return True
    except OSError:
        return False


_subprocess_os_pids = {}  # GraalPy's pid of a subprocess child -> the operating system's
# GraalPy's pids of subprocess children already waited for (until it gives the number to a
# new child): GraalPy's kill or waitpid of one fails with an internal error that ends the program
_reaped = set()


def waitpid(pid, options):
    pid, options = int(pid), int(options)
    if pid in _reaped:
        raise ChildProcessError(errno.ECHILD, os.strerror(errno.ECHILD))
    result = _graalpy_waitpid(pid, options)
    if result[0] > 0:
        _reaped.add(result[0])
        _subprocess_os_pids.pop(result[0], None)
    return result


def _fork_exec(*args, **kwargs):
    # GraalPy sends children only SIGTERM and SIGKILL: to send others (Popen.send_signal),
    # learn the child's real pid, the JVM's one new child (unknown if several started at once)
    before = set(_native.childProcesses())
    pid = _graalpy_fork_exec(*args, **kwargs)
    _reaped.discard(pid)  # GraalPy numbers children anew from the lowest free number
    started = set(_native.childProcesses()) - before
    if len(started) == 1:
        _subprocess_os_pids[pid] = started.pop()
    return pid


def killpg(pgid, sig):
    pgid, sig = int(pgid), int(sig)
    if pgid == getpgrp():
        # the group includes this JVM: its Process children first, then the program
        if sig != 0:
            for pid in list(_native.childPids()):
                _native.signalChild(pid, sig)
        _check(_native.killpg(pgid, 0))
        kill(_main_pid(), sig)
    else:
        _check(_native.killpg(pgid, sig))


def _main_pid():
    """The pid of the main program: that of the JVM."""
    return _native.processId()


def _host():
    from polypool._host import host
    return host


_graalpy_exit = os._exit


def _exit(status):
    # said first, so that the pool reporting a lost worker can give its exit code
    _native.noteExit(os.getpid(), operator.index(status))
    _graalpy_exit(status)


# -- resource -------------------------------------------------------------------------

def getrusage(who):
    import resource
    values = list(_native.getrusage(int(who)))
    if values[16]:
        if values[16] == errno.EINVAL:
            raise ValueError("invalid who parameter")
        _check((None, values[16]))
    return resource.struct_rusage((values[0] / 1e6, values[1] / 1e6, *values[2:16]))


# -- signals --------------------------------------------------------------------------

def _current(signum):
    return _handlers.get(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)


def _valid(signum):
    signum = int(signum)
    if not 1 <= signum < signal.NSIG:
        raise ValueError("signal number out of range")
    return signum


def _set_handler(signalnum, handler):
    signum = _valid(signalnum)
    if handler not in (signal.SIG_IGN, signal.SIG_DFL) and not callable(handler):
        raise TypeError("signal handler must be signal.SIG_IGN, signal.SIG_DFL, or a callable object")
    if _is_main and threading.current_thread() is not threading.main_thread():
        raise ValueError("signal only works in main thread of the main interpreter")
    if signum in (signal.SIGKILL, signal.SIGSTOP):
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    previous = _current(signum)
    _handlers[signum] = int(handler) if handler in (signal.SIG_IGN, signal.SIG_DFL) else handler
    if _is_main and signum in RELAYED:
        _host().signalIgnored(signum, handler == signal.SIG_IGN)
    elif not _is_main:
        # a Process child: its handler or SIG_IGN, not the default action, meets os.kill
        _native.childHandles(os.getpid(), signum,
                             None if handler == signal.SIG_DFL else (lambda: _deliver_sent(signum)))
    return int(previous) if previous in (signal.SIG_IGN, signal.SIG_DFL) else previous


def _getsignal(signalnum):
    handler = _current(_valid(signalnum))
    return int(handler) if handler in (signal.SIG_IGN, signal.SIG_DFL) else handler


def raise_signal(signalnum):
    _signal_self(_valid(signalnum))


def _signal_self(sig):
    if sig == 0:
        return
    if _is_main and threading.current_thread() is not threading.main_thread():
        # CPython runs handlers in the main thread only: the bridge interrupts it
        _host().raiseSignal(sig)
        return
    _deliver(sig, sys._getframe(2))


def _deliver(signum, frame):
    """What the signal does to this context, run in its main thread."""
    if _is_main:
        _host().signalTaken(signum)
    handler = _current(signum)
    if handler == signal.SIG_IGN or (handler == signal.SIG_DFL and signum in _IGNORED_BY_DEFAULT):
        return
    if handler == signal.SIG_DFL:
        _die(signum)
    handler(signum, frame)


def _deliver_sent(signum):
    """A signal sent to this Process child by another context, on a thread of its own."""
    try:
        _deliver(signum, None)
    except BaseException:
        sys.excepthook(*sys.exc_info())


def _die(signum):
    """The default action of a signal that ends a process."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    if not _is_main and _native.signalChild(os.getpid(), signum):
        while True:  # a Process child: its context is being closed, exit code -signum
            time.sleep(1)
    if _is_main and _host() is not None:
        _host().endingBySignal(signum)
    os._exit(128 + signum)


# -- installation -----------------------------------------------------------------------

def install():
    """Replace what the Java POSIX backend lacks; in every context."""
    import resource
    os.sysconf = sysconf
    os.sysconf_names = dict(SYSCONF_NAMES)
    os.cpu_count = cpu_count
    os.getppid = getppid
    os.getpgid = getpgid
    os.getpgrp = getpgrp
    os.getsid = getsid
    os.setsid = setsid
    os.sched_getaffinity = sched_getaffinity
    os.kill = kill
    os.waitpid = waitpid
    os.killpg = killpg
    os._exit = _exit
    resource.getrusage = getrusage
    global _graalpy_fork_exec
    import _posixsubprocess
    if _posixsubprocess.fork_exec is not _fork_exec:
        _graalpy_fork_exec = _posixsubprocess.fork_exec
        _posixsubprocess.fork_exec = _fork_exec
        if "subprocess" in sys.modules:
            sys.modules["subprocess"]._fork_exec = _fork_exec
    _signal.signal = _set_handler
    _signal.getsignal = _getsignal
    _signal.raise_signal = signal.raise_signal = raise_signal


def install_main(host):
    """Have the JVM relay the signals it can to this, the main program's context."""
    global _is_main
    _is_main = True
    for signum in RELAYED:
        host.adoptSignal(int(signum), lambda signum=signum: _graalpy_signal(int(signum), _deliver))


def terminals_ready(host):
    """The program's ``isatty()`` of its standard streams, and ``os.isatty`` of fds 0-2, say
    what the process's (or the resident engine's client's) fds are: GraalPy's say False."""
    terminals = [bool(t) for t in host.standardTerminals()]
    for fd, stream in enumerate((sys.__stdin__, sys.__stdout__, sys.__stderr__)):
        raw = getattr(getattr(stream, "buffer", None), "raw", None)
        if terminals[fd] and raw is not None:
            raw.isatty = lambda: True
    graalpy_isatty = os.isatty

    def isatty(fd):
        fd = operator.index(fd)
        return terminals[fd] if 0 <= fd <= 2 else graalpy_isatty(fd)
    os.isatty = isatty


def signals_ready(host):
    """The program starts: those signals its process started ignoring it ignores too (as
    CPython, which installs its SIGINT handler only where SIGINT was not ignored), and what
    arrived while the context was being prepared is delivered."""
    for signum in host.signalsIgnoredAtStart():
        _handlers[int(signum)] = int(signal.SIG_IGN)
    host.deliverPendingSignals()
