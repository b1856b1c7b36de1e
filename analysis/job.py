"""The incremental, idempotent long-term monitoring job (``bshm analyze``).

One run:

1. takes an exclusive ``fcntl.flock`` on ``<data_dir>/results/<station>.analyze.lock``
   (another run holding it raises :class:`~bshm.errors.LockError`; the kernel
   releases the lock of a killed run, so a stale lock never blocks);
2. plans the windows of the raw store and keeps those not yet in the
   results file nor staged by an earlier, interrupted run;
3. reads, checks and identifies them on the executor (local or Dask),
   staging each finished batch atomically;
4. merges the staged windows into the results file (copy, modify, atomic
   rename) and recomputes the derived results from all stored windows:
   tracking against the reference modal set, compensation, damage indices and
   graded alarms. The models are trained once, when the baseline period is
   complete, and stored; later runs reuse them, so results already reported
   never change;
5. appends to the alarm feed every stored alarm the feed does not hold yet.

Each step is idempotent, so a run killed anywhere is finished by the next.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bshm.analysis.job_config import DAY_NS, JobSettings, resolve_settings
from bshm.analysis.job_derive import derive
from bshm.analysis.job_exec import batched, load_pending, make_executor, write_pending
from bshm.analysis.windows import plan_windows

from bshm.errors import ConfigError, LockError

log = logging.getLogger(__name__)

__all__ = ["AnalysisSummary", "job_lock", "run_analysis"]

EXIT_LOCKED = 75  # EX_TEMPFAIL: another run holds the lock; cron retries later


@dataclass
class AnalysisSummary:
    """What a run did (``to_json`` gives the DESIGN.md ``bshm analyze --json`` object).

    Attributes
    ----------
    station : str
    results_path : Path
    processed, skipped : int, dict
        Windows processed / skipped (by reason) in this run.
    total_windows : int
        Windows stored in the results file.
    tracked_modes : list of dict
        ``{"id", "mean_frequency_hz", "availability"}`` per tracked mode.
    alarms : list of dict
        Alarm objects raised in this run (DESIGN.md format).
    baseline : (int, int)
        Baseline period used (ns).
    baseline_complete : bool
        False while the data do not yet cover the baseline: no indices then.
    models : dict
        Compensation model choice and fit quality.
    notes : list of str
    executor : str
    files_skipped : list of dict
        Raw files (or sources of files) not read, with the reason
        (:meth:`bshm.store.RawReader.problems`): damaged, duplicated or
        overlapping an earlier file.
    """

    station: str
    results_path: Path
    processed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    total_windows: int = 0
    tracked_modes: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    baseline: tuple[int, int] | None = None
    baseline_complete: bool = False
    models: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    executor: str = "local"
    strain: dict[str, Any] = field(default_factory=dict)
    files_skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def max_level(self) -> int:
        """Highest alarm level raised in this run (0 if none)."""
        return max((int(a["level"]) for a in self.alarms), default=0)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object (DESIGN.md keys plus extra ones)."""
        from bshm.timeutil import to_iso

        bl = None
        if self.baseline:
            bl = {
                "start_ns": self.baseline[0],
                "end_ns": self.baseline[1],
                "start": to_iso(self.baseline[0]),
                "end": to_iso(self.baseline[1]),
                "complete": self.baseline_complete,
            }
        return {
            "station": self.station,
            "results": str(self.results_path),
            "windows": {
                "processed": self.processed,
                "skipped": dict(self.skipped),
                "total": self.total_windows,
            },
            "tracked_modes": self.tracked_modes,
            "alarms": self.alarms,
            "baseline": bl,
            "models": self.models,
            "executor": self.executor,
            "strain": self.strain,
            "notes": self.notes,
            "files_skipped": self.files_skipped,
        }


@contextmanager
def job_lock(path: Path):
    """Exclusive, non-blocking ``flock`` on ``path`` for the duration of a run.

    Raises
    ------
    LockError
        If another process holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 64, 0).decode(errors="replace").strip()
            raise LockError(
                f"another bshm analyze is running on this station "
                f"(lock {path}{', pid ' + other if other else ''}); try later"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _progress_bar(progress: Any, total: int) -> tuple[Callable[[int], None], Callable[[], None]]:
    if callable(progress):
        return progress, lambda: None
    if progress is False or total == 0:
        return (lambda n: None), (lambda: None)
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - optional extra
        return (lambda n: None), (lambda: None)
    bar = tqdm(
        total=total,
        unit="window",
        desc="analyze",
        disable=None if progress is None else False,
        leave=False,
    )
    return bar.update, bar.close


def _stored_starts(path: Path) -> set[int]:
    if not path.exists():
        return set()
    from bshm.store.results import ResultsReader

    with ResultsReader(path) as r:
        return set(np.asarray(r.windows().get("start_ns", []), np.int64).tolist())


def run_analysis(
    data_dir: str | os.PathLike,
    *,
    station: Any = None,
    baseline: str | tuple[int | None, int | None] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Any = None,
    config: str | os.PathLike | None = None,
    reprocess: bool = False,
    batch_size: int | None = None,
    settings: JobSettings | None = None,
    monitor_strain: bool = True,
) -> AnalysisSummary:
    """Process every window of ``data_dir`` not processed yet (see the module docstring).

    Parameters
    ----------
    data_dir : str or os.PathLike
        Folder of the raw HDF5 files. Results go to ``data_dir/results/``.
    station : bshm.config.Station or path, optional
        Station config; default ``data_dir/station.toml`` if present, else
        settings inferred from the raw files.
    baseline : str ``"FROM..TO"`` or (start_ns, end_ns), optional
        Training period of the models (default: config, else the first
        ``baseline_days`` days).
    workers : int, optional
        Run on a local Dask cluster of this many processes.
    scheduler : str, optional
        Address of an existing Dask scheduler.
    progress : None, bool or callable
        None: a tqdm bar only on a terminal; True/False: force on/off; a
        callable receives the number of windows finished by each batch.
    config : path, optional
        Station config file (same as a path in ``station``).
    reprocess : bool
        Delete the results (not the alarm feed) and start again.
    batch_size : int, optional
        Windows per unit of work (default: 4 per worker-sized chunk).
    settings : JobSettings, optional
        Ready-made settings (tests); overrides station/config/baseline.
    monitor_strain : bool
        Also run the strain part (:func:`bshm.analysis.thresholds.monitor_raw`:
        fatigue, threshold alarms, channel health) on the same store, under
        the same lock (default True).

    Returns
    -------
    AnalysisSummary

    Raises
    ------
    LockError
        Another run is active on the same station.
    ConfigError
        Bad config, settings or baseline.
    bshm.errors.AnalysisError
        The models cannot be trained (e.g. too few windows in the baseline).
    """
    from bshm.store import open_raw
    from bshm.store.results import ResultsWriter, results_path

    st = settings or resolve_settings(data_dir, station=station, config=config, baseline=baseline)
    rpath = results_path(st.data_dir, st.station)
    pending_dir = rpath.parent / "pending"
    summary = AnalysisSummary(st.station, rpath, notes=list(st.notes))
    for n in st.notes:
        log.info("%s", n)
    with job_lock(rpath.parent / f"{st.station}.analyze.lock"):
        if reprocess:
            rpath.unlink(missing_ok=True)
            shutil.rmtree(pending_dir, ignore_errors=True)
        _check_settings(rpath, st)
        with open_raw(st.data_dir) as reader:
            if st.window.source not in reader.sources:
                raise ConfigError(
                    f"source {st.window.source!r} is not in the raw files of {st.data_dir}"
                )
            fs = reader.sources[st.window.source].fs
            runs = reader.records(st.window.source)
            summary.files_skipped = reader.problems()  # damaged, duplicated, overlapping
            summary.notes += [f"not read: {p['reason']}" for p in summary.files_skipped]
        planned = plan_windows(runs, st.window.window_s, st.overlap, fs)
        staged, _ = load_pending(pending_dir)
        done = _stored_starts(rpath) | {r.start_ns for r in staged}
        todo = [w for w in planned if w[0] not in done]
        log.info("%s: %d windows planned, %d to process", st.station, len(planned), len(todo))
        if todo:
            executor = make_executor(workers, scheduler)
            summary.executor = executor.name
            n_par = max(1, int(workers or 1))
            size = batch_size or max(1, min(16, -(-len(todo) // (4 * n_par))))
            update, close = _progress_bar(progress, len(todo))
            try:
                for results in executor.map(st.window, batched(todo, size)):
                    write_pending(pending_dir, results)
                    update(len(results))
            finally:
                close()
                executor.close()
        staged, files = load_pending(pending_dir)
        new = [r for r in staged if r.start_ns not in _stored_starts(rpath)] if staged else []
        for r in new:
            if r.status == "processed":
                summary.processed += 1
            else:
                summary.skipped[r.reason] = summary.skipped.get(r.reason, 0) + 1
        # two transactions: the windows are kept even if the models cannot be trained
        with ResultsWriter(rpath, st.station) as w:
            w.append_windows(staged, channels=st.window.channels, env_names=st.window.env_names)
            summary.total_windows = int(w.window_starts().size)
        for p in files:
            p.unlink(missing_ok=True)
        with ResultsWriter(rpath, st.station) as w:
            out = derive(w, st, planned_end=planned[-1][1] if planned else None)
            added = w.append_alarms(out.alarms)
        if monitor_strain:
            summary.strain = _monitor_strain(st)
            strain_alarms = summary.strain.pop("alarm_objects", [])
        else:
            strain_alarms = []
        _feed(st, rpath)
    summary.alarms = [a.to_dict() for a in added] + [a.to_dict() for a in strain_alarms]
    summary.tracked_modes = out.tracked_modes
    summary.baseline = out.baseline
    summary.baseline_complete = out.baseline_complete
    summary.models = out.models
    summary.notes += out.notes
    log.info(
        "%s: %d windows processed, %d skipped, %d alarms raised",
        st.station,
        summary.processed,
        sum(summary.skipped.values()),
        len(summary.alarms),
    )
    return summary


def _check_settings(rpath: Path, st: JobSettings) -> None:
    """Refuse to mix windows identified with different settings in one file."""
    if not rpath.exists():
        return
    from bshm.store.results import ResultsReader

    with ResultsReader(rpath) as r:
        old = r.models().get("settings")
    if old is not None and old != st.fingerprint():
        changed = sorted(
            k for k in set(old) | set(st.fingerprint()) if old.get(k) != st.fingerprint().get(k)
        )
        raise ConfigError(
            f"{rpath}: the analysis settings changed since these results were computed "
            f"({', '.join(changed)}); run with --reprocess to start again"
        )


def _monitor_strain(st: JobSettings) -> dict[str, Any]:
    """Fatigue, thresholds and channel health of the same store (strain part)."""
    from bshm.errors import BshmError

    try:
        from bshm.analysis.thresholds import monitor_raw
    except ImportError:  # pragma: no cover - part not installed
        return {}
    try:
        ms = monitor_raw(st.data_dir, st.station_cfg, window_s=st.window.window_s, feed=st.feed)
    except BshmError as exc:
        log.error("strain/fatigue monitoring failed: %s", exc)
        return {"error": str(exc)}
    return {
        "windows": ms.windows,
        "fatigue_windows": ms.fatigue_windows,
        "health_rows": ms.health_rows,
        "alarm_objects": list(ms.alarms),
    }


def _feed(st: JobSettings, rpath: Path) -> int:
    """Append to the alarm feed every stored alarm it does not hold yet."""
    from bshm.alarms import Alarm, AlarmFeed
    from bshm.store.results import ResultsReader

    feed = AlarmFeed(st.feed)
    have = {
        (
            int(d["time_ns"]),
            d["index"],
            d.get("mode") or "",
            d.get("channel") or "",
            int(d["level"]),
        )
        for d in feed.read()
        if d.get("station") in (None, st.station)
    }
    with ResultsReader(rpath) as r:
        stored = r.alarms()
    todo = [
        Alarm(
            a["time_ns"],
            a["level"],
            a["index"],
            a["value"],
            a["threshold"],
            a["mode"],
            a["message"],
            a["channel"],
            st.station,
        )
        for a in stored
        if (a["time_ns"], a["index"], a["mode"] or "", a["channel"] or "", a["level"]) not in have
    ]
    return feed.append(todo)


def default_baseline(first_ns: int, days: float) -> tuple[int, int]:
    """The first ``days`` days from ``first_ns``."""
    return first_ns, first_ns + int(days * DAY_NS)
