"""Pools on a cluster's members (``POLYPOOL_CLUSTER``, or a Java ``PythonPool`` built with
``cluster(...)``): both sides of a worker's start-up.

The script's side (``start_engine``) starts a Java pool whose workers are slots on the
members (``dev.polypool.cluster.ClusterClient``), sending with the usual pickled setup the
program's own files: the main script and the modules it imported from outside the Python
installation, each under its path relative to the ``sys.path`` directory it was found in.
The members cache them by content. The member's side (``member_start``) points the
worker's ``sys.path`` and main script at that copy, then starts it as a local pool worker
(``polypool.worker.start``). A Java pool's worker (``member_embed_start``) finds the pool's
source directories in that copy and starts as ``polypool.embed.start``.
"""

import os
import sys

from polypool import codec

_MAIN_DIR = ".main"  # the directory of a copied tree that holds the main script


def workers():
    """The number of workers of the cluster this program runs on, or None without one."""
    from polypool._host import host
    if host is None:
        return None
    n = host.clusterWorkers()
    return None if n < 0 else n


def _module_path(name, module):
    """Where ``module`` sits relative to its ``sys.path`` directory, or None for a module
    whose file does not match its name (a namespace, a module loaded from elsewhere)."""
    file = getattr(module, "__file__", None)
    if not file or not file.endswith(".py"):
        return None
    parts = name.split(".")
    rel = os.path.join(*parts, "__init__.py") if hasattr(module, "__path__") else os.path.join(*parts) + ".py"
    path = os.path.abspath(file)
    if not path.endswith(os.sep + rel):
        return None
    return rel, path


def program_files():
    """``{relative path: bytes}`` of the program's own files: its modules and main script."""
    from polypool import snapshot
    files = {}
    for name, module in list(sys.modules.items()):
        if not snapshot._is_program_module(name, module):
            continue
        found = _module_path(name, module)
        if found is not None:
            try:
                with open(found[1], "rb") as f:
                    files[found[0]] = f.read()
            except OSError:
                pass  # a module whose file went away: the member's import fails as it would here
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    if file and os.path.isfile(file):
        with open(file, "rb") as f:
            files[os.path.join(_MAIN_DIR, os.path.basename(file))] = f.read()
    return files


def start_engine(host, processes, follow, max_tasks, name_prefix, setup):
    files = program_files()
    paths = list(files)
    contents = [str(files[p], "latin-1") for p in paths]
    ends, end = [], 0
    for c in contents:
        end += len(c)
        ends.append(str(end))
    return host.startClusterPool(processes, follow, max_tasks or 0, name_prefix, setup,
                                 "\n".join(paths), "".join(contents), ",".join(ends))


def member_start(name, identity, pid, ppid, setup_text, tree):
    """Start a pool worker on a member: ``polypool.worker.start`` with the script's state,
    its files found in ``tree``, this member's copy of them."""
    from polypool import worker
    setup = codec.loads(setup_text)
    setup["sys_path"] = [tree] + list(setup["sys_path"])
    main_file = setup.get("main_file")
    if main_file:
        copy = os.path.join(tree, _MAIN_DIR, os.path.basename(main_file))
        if os.path.isfile(copy):
            setup["main_file"] = copy
            if setup.get("main_origin", (None,))[0] == "path":
                setup["main_origin"] = ("path", copy)
    # the script's sentinel is a handle of its own JVM, which means nothing here
    parent_name, parent_pid, _ = setup["parent"]
    setup["parent"] = (parent_name, parent_pid, None)
    # the script's directory and environment are another machine's: a member's worker
    # keeps its member's
    setup["cwd"], setup["environ"] = os.getcwd(), dict(os.environ)
    return worker.start(name, identity, pid, ppid, codec.dumps(setup, blob=True))


def member_embed_start(name, identity, pid, ppid, start_method, directories, sources, modules, init_ref,
                       init_args, tree):
    """Start a Java ``PythonPool``'s worker on a member: ``polypool.embed.start`` with the
    pool's settings, its source ``directories`` (paths within ``tree``, this member's copy
    of their files) put in front of ``sys.path``."""
    from polypool import embed
    paths = [os.path.join(tree, d) for d in directories]
    return embed.start(name, identity, pid, ppid, start_method, paths, sources, modules, init_ref, init_args)
