"""Executors and the crash-safe staging area of the analysis job.

The expensive part (reading and identifying windows) runs on an executor:
in this process (``LocalExecutor``) or on Dask (``DaskExecutor``: a
``LocalCluster`` of N single-threaded worker processes, or an existing
scheduler). Work is sent in batches of windows; each batch's results come
back to this process, which writes them atomically (temporary file +
rename) to ``<results>/pending/``. A run killed at any moment therefore
loses at most the batches in flight; the next run finds the staged batches
and does not recompute them. The executors return the same
:class:`~bshm.analysis.windows.WindowResult` objects, so the results do not
depend on the executor.

Every batch runs with one BLAS thread (:func:`bshm.analysis._threads.blas_limited`,
entered inside the task function, so it also holds in workers started by
``dask worker`` with the default environment): parallelism comes from the
worker processes, and BLAS threads on top of them only make the small
matrices of the modal analysis slower (measured 338 s against 32 s for 240
windows on 2 cores).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from bshm.analysis.windows import WindowConfig, WindowResult, process_batch

log = logging.getLogger(__name__)

__all__ = [
    "DaskExecutor",
    "LocalExecutor",
    "call_limited",
    "load_pending",
    "make_executor",
    "run_batch",
    "write_pending",
]


def run_batch(
    cfg: WindowConfig,
    windows: Sequence[tuple[int, int]],
    files: Any = False,
    health: dict | None = None,
) -> list[WindowResult]:
    """:func:`~bshm.analysis.windows.process_batch` with one BLAS thread (the task function).

    Picklable by reference, so Dask workers import it from bshm; the limit is
    set in the worker process itself, whatever its environment. ``files``:
    the batch's raw files planned by the job
    (:func:`~bshm.analysis.windows.plan_batch_files`; None: the whole folder),
    or False to list the folder in the task. ``health``: the plausible
    ranges of the source's channels, to check the health of each record for
    the strain part too (``WindowResult.health``), or None.
    """
    from bshm.analysis._threads import blas_limited

    kw: dict[str, Any] = {} if files is False else {"planned": True}
    if health is not None:
        kw["health_ranges"] = health
    with blas_limited():
        if files is False:
            return process_batch(cfg, windows, **kw)
        return process_batch(cfg, windows, files, **kw)


def _plans(batches: Sequence[Any], files: Sequence[Any] | None) -> list[Any]:
    if files is None:
        return [False] * len(batches)
    if len(files) != len(batches):
        raise ValueError(f"{len(files)} file plans for {len(batches)} batches")
    return list(files)


def call_limited(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn(*args)`` with one BLAS thread (for probes and small tasks on workers)."""
    from bshm.analysis._threads import blas_limited

    with blas_limited():
        return fn(*args)


class LocalExecutor:
    """Process batches one after the other in this process."""

    name = "local"

    def map(
        self,
        cfg: WindowConfig,
        batches: Sequence[Sequence[tuple[int, int]]],
        files: Sequence[Any] | None = None,
        health: dict | None = None,
    ) -> Iterator[list[WindowResult]]:
        """Yield the results of each batch as it completes (``files``, ``health``: see
        run_batch)."""
        for b, f in zip(batches, _plans(batches, files), strict=True):
            yield run_batch(cfg, b, f, health)

    def close(self) -> None:
        """Nothing to release."""


#: Dask settings of the local cluster's workers (``--workers N``):
#:
#: - no statistical profiler (it samples the running task's stack every
#:   10 ms for the dashboard: ~5 % of a window's CPU);
#: - glibc's own memory thresholds. Dask's nanny starts its workers with
#:   ``MALLOC_TRIM_THRESHOLD_=65536``; setting that variable switches off
#:   glibc's adaptive mmap threshold, so every array above 128 kB (a window is
#:   60,000 x 12 samples: each temporary is MBs) is a fresh ``mmap`` whose
#:   pages fault in again and again: 107 vs 71 ms of CPU per window, 40 % of
#:   the workers' time in the kernel (docs/bench/analyze.md, 2026-12-02).
WORKER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


class DaskExecutor:
    """Process batches on Dask: a local cluster of ``workers`` processes or a scheduler.

    Parameters
    ----------
    workers : int, optional
        Start a ``LocalCluster`` with this many single-threaded workers.
    scheduler : str, optional
        Address of an existing scheduler (``tcp://host:8786``); its workers
        must import the same bshm version and see the data folder at the
        same path.
    """

    name = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - extra not installed
            from bshm.errors import AnalysisError

            raise AnalysisError(
                "--workers/--scheduler need Dask: pip install 'bshm[cluster]'"
            ) from exc
        if not logging.getLogger("bshm").isEnabledFor(logging.DEBUG):
            # importing distributed resets its loggers to INFO: one line per worker event
            logging.getLogger("distributed").setLevel(logging.WARNING)
        self._cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except OSError as exc:  # (TimeoutError too): one clear line, no traceback
                from bshm.errors import AnalysisError

                raise AnalysisError(
                    f"cannot reach the Dask scheduler {scheduler} ({exc}); is it running, and "
                    "is the address right? (or run without --scheduler)"
                ) from None
        else:
            import dask

            # no statistical profiler in the local workers: it samples the task's
            # stack every 10 ms (for the dashboard's profile page) and cost 4-5 % of
            # the workers' CPU per window (108.6 -> 103.7 ms, docs/bench/analyze.md)
            with dask.config.set(WORKER_CONFIG):
                self._cluster = LocalCluster(
                    n_workers=int(workers or 1),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    # Dask logs every worker start/stop at INFO; keep them for -vv
                    silence_logs=(
                        logging.DEBUG
                        if logging.getLogger("bshm").isEnabledFor(logging.DEBUG)
                        else logging.WARNING
                    ),
                )
            self.client = Client(self._cluster)
        self.name = f"dask({scheduler or f'{workers} local workers'})"

    def map(
        self,
        cfg: WindowConfig,
        batches: Sequence[Sequence[tuple[int, int]]],
        files: Sequence[Any] | None = None,
        health: dict | None = None,
    ) -> Iterator[list[WindowResult]]:
        """Yield the results of each batch as it completes (any order; ``files``,
        ``health``: see run_batch)."""
        from distributed import as_completed

        futs = [
            self.client.submit(run_batch, cfg, list(b), f, health, pure=False)
            for b, f in zip(batches, _plans(batches, files), strict=True)
        ]
        try:
            for fut in as_completed(futs):
                yield fut.result()
        finally:
            for f in futs:
                f.cancel()

    def close(self) -> None:
        """Close the client and the local cluster."""
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(workers: int | None = None, scheduler: str | None = None):
    """The executor for the options: local when neither is given."""
    if scheduler or (workers and workers > 0):
        return DaskExecutor(workers, scheduler)
    return LocalExecutor()


# --------------------------------------------------------------------------- staging

_FIELDS = ("frequencies", "damping", "mpc", "stability")


def write_pending(folder: Path, results: Sequence[WindowResult]) -> Path:
    """Write a batch of window results atomically to ``folder`` (npz)."""
    folder.mkdir(parents=True, exist_ok=True)
    rs = sorted(results, key=lambda r: r.start_ns)
    name = f"{rs[0].start_ns}_{rs[-1].start_ns}.npz"
    meta = [
        {
            "start_ns": r.start_ns,
            "end_ns": r.end_ns,
            "status": r.status,
            "reason": r.reason,
            "rms": r.rms,
            "env": r.env,
            "detail": r.detail,
            "excluded": list(r.excluded),
            "health": _health_meta(r.health),
        }
        for r in rs
    ]
    arrays: dict[str, Any] = {"meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)}
    for i, r in enumerate(rs):
        for f in _FIELDS:
            arrays[f"{i}_{f}"] = np.asarray(getattr(r, f))
        arrays[f"{i}_shapes"] = np.asarray(r.shapes, np.complex128)
        if r.health is not None:  # the strain part's health of the record, if checked
            arrays[f"{i}_hvalues"] = r.health.values
            arrays[f"{i}_hcodes"] = r.health.codes
    tmp = folder / (name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        final = folder / name
        os.replace(tmp, final)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)  # a full disk leaves no partial batch behind
        from bshm.store.h5io import disk_full_error

        full = disk_full_error(exc, folder, "stage results in") if isinstance(exc, OSError) \
            else None
        if full is not None:
            raise full from None
        raise
    return final


def load_pending(folder: Path) -> tuple[list[WindowResult], list[Path]]:
    """Every staged window result (unreadable or temporary files are removed)."""
    out: list[WindowResult] = []
    files: list[Path] = []
    names: dict[tuple, tuple] = {}  # one tuple of channel names for all windows
    if not folder.is_dir():
        return out, files
    for p in sorted(folder.iterdir()):
        if p.suffix != ".npz":
            p.unlink(missing_ok=True)  # *.tmp of a killed run
            continue
        try:
            with np.load(p, allow_pickle=False) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                for i, m in enumerate(meta):
                    r = WindowResult(
                        m["start_ns"],
                        m["end_ns"],
                        m["status"],
                        m["reason"],
                        m["rms"],
                        m["env"],
                        detail=m.get("detail", ""),
                        excluded=tuple(m.get("excluded", ())),
                    )
                    for f in _FIELDS:
                        setattr(r, f, z[f"{i}_{f}"])
                    r.shapes = z[f"{i}_shapes"]
                    h = m.get("health")  # batches staged by an older version have none
                    if h is not None and f"{i}_hcodes" in z.files:
                        r.health = _health_from(h, z[f"{i}_hvalues"], z[f"{i}_hcodes"], names)
                    out.append(r)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("dropping unreadable staged results %s: %s", p, exc)
            p.unlink(missing_ok=True)
            continue
        files.append(p)
    return out, files


def _health_meta(h: Any) -> dict | None:
    if h is None:
        return None
    return {
        "n_rows": h.n_rows,
        "channels": list(h.channels),
        "quantities": list(h.quantities),
        "reasons": [[j, list(r)] for j, r in h.reasons],
        "full": h.full,
    }


def _health_from(m: dict, values: np.ndarray, codes: np.ndarray, names: dict) -> Any:
    from bshm.analysis.health import PackedHealth

    ch = tuple(m["channels"])
    q = tuple(m["quantities"])
    return PackedHealth(
        int(m["n_rows"]),
        names.setdefault(ch, ch),
        names.setdefault(q, q),
        np.asarray(values, np.float64),
        np.asarray(codes, np.int8),
        tuple((int(j), tuple(r)) for j, r in m["reasons"]),
        bool(m["full"]),
    )


def batched(windows: Sequence[tuple[int, int]], size: int) -> list[list[tuple[int, int]]]:
    """Split windows into batches of at most ``size`` (time order kept)."""
    size = max(1, int(size))
    return [list(windows[i : i + size]) for i in range(0, len(windows), size)]


ProgressFn = Callable[[int], None]
