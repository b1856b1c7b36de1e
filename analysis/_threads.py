"""BLAS thread discipline: one BLAS thread inside bshm's numerical work.

The matrices of the modal analysis are small (a few hundred rows): with
OpenBLAS's default of one thread per core, every call pays thread start-up
and synchronisation, and on a busy 2-core machine the threads wait for each
other.  Measured (DESIGN.md, 2026-12): one 6-channel 10-minute ``identify``
took 177 ms (idle) to 1,141 ms (one other process running) with the default
threads against 54 ms with one thread.  Parallelism in bshm comes from
processes (``bshm analyze --workers``), never from BLAS threads.

:func:`blas_limited` sets every loaded BLAS library to one thread for the
duration of a ``with`` block, through :mod:`threadpoolctl`, with no
environment variable.  It is cheap to enter (about 15 microseconds; the
:class:`threadpoolctl.ThreadpoolController` that scans the loaded libraries
costs milliseconds and is built once per process) and re-entrant across
threads: the first entrant sets the limit and restores the user's setting
when it leaves.  ``identify`` uses it, the ``analyze`` workers (local and
Dask, inside the task function) use it, and the viewer's worker can too::

    from bshm.analysis._threads import blas_limited

    with blas_limited():
        result = identify(data, fs)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["blas_limited", "blas_threads", "helper_pool", "idle_core"]

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {"depth": 0, "limiter": None, "owner": None, "controller": None}
_LOCAL = threading.local()
_POOL: dict[str, Any] = {}


def _reset_after_fork() -> None:  # pragma: no cover - exercised only in forked children
    global _LOCK
    _LOCK = threading.Lock()
    _POOL.clear()  # the parent's helper thread does not exist in the child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _controller() -> Any:
    """The process's BLAS thread-pool controller (built once, after the BLAS loads)."""
    ctl = _STATE["controller"]
    if ctl is None:
        import numpy  # noqa: F401 - load NumPy's and SciPy's BLAS before scanning
        import scipy.linalg  # noqa: F401
        from threadpoolctl import ThreadpoolController

        ctl = ThreadpoolController().select(user_api="blas")
        _STATE["controller"] = ctl
    return ctl


@contextmanager
def blas_limited(threads: int = 1) -> Iterator[None]:
    """Run the ``with`` block with every BLAS library limited to ``threads``.

    Parameters
    ----------
    threads : int, default 1
        Threads per BLAS library inside the block.

    Yields
    ------
    None

    Notes
    -----
    OpenBLAS has one process-wide pool, and threadpoolctl lets one Python
    thread at a time control it.  The thread that enters first sets the
    limit (as a threadpoolctl context, so it also gives the control back);
    blocks entered meanwhile by other threads or nested in the same thread
    share it.  The limit is lifted when the first thread leaves its
    outermost block, even if another thread is still inside (that thread's
    remaining BLAS calls may then use the default threads; a later block
    sets the limit again).  Never a stale limit, never a deadlock.
    """
    me = threading.current_thread()
    mine = getattr(_LOCAL, "depth", 0)
    _LOCAL.depth = mine + 1
    with _LOCK:
        _STATE["depth"] += 1
        if _STATE["limiter"] is None:
            limiter = _controller().limit(limits=int(threads))
            limiter.__enter__()
            _STATE["limiter"], _STATE["owner"] = limiter, me
    try:
        yield
    finally:
        _LOCAL.depth -= 1
        with _LOCK:
            _STATE["depth"] -= 1
            if _STATE["owner"] is me and _LOCAL.depth == 0:
                limiter, _STATE["limiter"], _STATE["owner"] = _STATE["limiter"], None, None
                limiter.__exit__(None, None, None)


def blas_threads() -> int:
    """Largest number of threads any loaded BLAS library would use now.

    Returns
    -------
    int
        0 when no BLAS library is loaded.
    """
    libs = _controller().lib_controllers
    return max((int(lib.get_num_threads()) for lib in libs), default=0)


def idle_core(loadavg: str = "/proc/loadavg") -> bool:
    """Is a core idle right now?  Fewer runnable threads than usable cores.

    Reads the number of currently runnable scheduling entities of the
    whole machine (the fourth field of ``/proc/loadavg``, which counts the
    calling thread itself) at this moment, not an average: on a 2-core
    machine, 1 means the other core is idle.  False where that file does
    not exist (not Linux), on one core, or when it cannot be read.
    About 10 microseconds.

    Parameters
    ----------
    loadavg : str
        The file to read (for tests).

    Returns
    -------
    bool
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    if cores < 2:
        return False
    try:
        with open(loadavg, "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return False
    return running < cores


def helper_pool() -> Any:
    """The process's one helper thread (a ``ThreadPoolExecutor`` of 1 worker).

    For kernels that share their work with it without ever waiting for it
    (see ``ssi_eig.leading_blocks_eigen``): a task that finds nothing left
    returns at once.  Built on first use, rebuilt in a forked child.
    """
    pool = _POOL.get("pool")
    if pool is None:
        from concurrent.futures import ThreadPoolExecutor

        with _LOCK:
            pool = _POOL.get("pool")
            if pool is None:
                pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bshm-helper")
                _POOL["pool"] = pool
    return pool
