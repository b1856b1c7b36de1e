"""The incremental, idempotent long-term monitoring job (``bshm analyze``).

One run:

1. takes an exclusive ``fcntl.flock`` on ``<data_dir>/results/<station>.analyze.lock``
   (another run holding it raises :class:`~bshm.errors.LockError`; the kernel
   releases the lock of a killed run, so a stale lock never blocks);
2. plans the windows of the raw store and keeps those not yet in the
   results file nor staged by an earlier, interrupted run;
3. reads, checks and identifies them on the executor (local or Dask),
   staging each finished batch atomically;
4. merges the staged windows into the results file, then *judges* the new
   windows only (:mod:`bshm.analysis.job_derive`): tracking, compensation,
   indices and the alarm states, continued from the stored state. The
   models are trained once, when the baseline period is complete, and
   stored; ``--extend-baseline`` adds model versions. Results already
   reported never change;
5. runs the strain part on the new raw windows only (fatigue, thresholds,
   channel health and sensor alarms: :func:`bshm.analysis.thresholds.monitor_raw`);
6. delivers to the alarm feed every stored alarm not delivered yet (the
   results file's alarm table is the outbox, see :func:`bshm.alarms.deliver`)
   and reports them (``--json``, exit code).

Each step is idempotent, so a run killed anywhere is finished by the next.
The cost of a run depends on the new data, not on the length of the history.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bshm.analysis.job_config import DAY_NS, JobSettings, resolve_settings
from bshm.analysis.job_derive import derive
from bshm.analysis.job_exec import batched, load_pending, make_executor, write_pending
from bshm.analysis.job_files import open_files, runs_from
from bshm.analysis.windows import plan_windows

from bshm.errors import ConfigError, LockError
from bshm.store.results import _test_hook

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
        Alarm objects delivered by this run (DESIGN.md format plus ``id``,
        ``kind``, ``subject``, ``event``): the state changes of this run and
        any stored by an earlier run that was killed before delivering them.
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
    state : dict
        The current alarm state (:meth:`bshm.store.results.ResultsReader.alarm_state`).
    judged : int
        Windows judged (indices and alarm states) in this run.
    ignored : dict
        Windows not analysed, by reason (e.g. ``future``: dated after the
        wall clock, a clock error), and ``late_files``: raw files that
        appeared with a start before the analysed period.
    files : dict
        ``raw``: raw files in the folder; ``opened``: files this run opened.
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
    state: dict[str, Any] = field(default_factory=dict)
    judged: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)

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
                "judged": self.judged,
                "ignored": dict(self.ignored),
            },
            "files": dict(self.files),
            "tracked_modes": self.tracked_modes,
            "alarms": self.alarms,
            "baseline": bl,
            "models": self.models,
            "executor": self.executor,
            "strain": self.strain,
            "state": self.state,
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


def _stored_starts(path: Path, since: int | None = None) -> tuple[set[int], int | None]:
    """Starts of the stored windows from ``since`` on (default: from the newest one on:
    the only ones a run may plan again), and the newest start."""
    if not path.exists():
        return set(), None
    from bshm.store.results import ResultsReader

    with ResultsReader(path) as r:
        last = r.last_window_start()
        if last is None:
            return set(), None
        frm = last if since is None else min(since, last)
        return set(r.window_starts(start_ns=frm).tolist()), last


def _remove_results(rpath: Path, pending_dir: Path) -> None:
    from bshm.store.results_seg import segment_dir

    rpath.unlink(missing_ok=True)
    shutil.rmtree(segment_dir(rpath), ignore_errors=True)
    shutil.rmtree(pending_dir, ignore_errors=True)


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
    extend_baseline: str | None = None,
    now_ns: int | None = None,
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
        ``baseline_days`` days of the station's main recording period).
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
        fatigue, threshold alarms, channel health, sensor alarms) on the same
        store, under the same lock (default True).
    extend_baseline : str, optional
        ``"FROM..TO"``: add that period to the training set (a new model
        version), only if the structural state over it was normal;
        ``"auto"``: do so with the period since the last training period
        when it is long, normal and holds conditions the models do not know.
    now_ns : int, optional
        The wall-clock time of the run (default: now): windows dated more
        than a day after it are ignored, and "no new raw data" is measured
        up to it.

    Returns
    -------
    AnalysisSummary

    Raises
    ------
    LockError
        Another run is active on the same station.
    ConfigError
        Bad config, settings or baseline; a refused baseline extension.
    bshm.errors.AnalysisError
        The models cannot be trained (e.g. too few windows in the baseline).
    """
    from bshm.store.results import ResultsWriter, results_path

    st = settings or resolve_settings(data_dir, station=station, config=config, baseline=baseline)
    now = int(now_ns if now_ns is not None else time.time_ns())
    rpath = results_path(st.data_dir, st.station)
    pending_dir = rpath.parent / "pending"
    summary = AnalysisSummary(st.station, rpath, notes=list(st.notes))
    for n in st.notes:
        log.info("%s", n)
    from bshm.analysis._threads import blas_limited

    # one BLAS thread in this process too: the steps after the windows (health
    # checks of every raw file, tracking, models) are small matrix-vector work
    # that OpenBLAS's threads slow down 2-3x on a busy 2-core machine
    with job_lock(rpath.parent / f"{st.station}.analyze.lock"), blas_limited():
        if reprocess:
            _remove_results(rpath, pending_dir)
        _check_settings(rpath, st)
        staged, _ = load_pending(pending_dir)
        stored, last = _stored_starts(rpath)
        last = max(
            (t for t in [last, *(r.start_ns for r in staged)] if t is not None), default=None
        )
        files, found = _files_needed(st, rpath, last, monitor_strain, summary)
        with open_files(st.data_dir, files) as reader:
            if st.window.source not in reader.sources:
                raise ConfigError(
                    f"source {st.window.source!r} is not in the raw files of {st.data_dir}"
                )
            fs = reader.sources[st.window.source].fs
            runs = runs_from(reader.records(st.window.source), last)
            summary.files_skipped = reader.problems()  # damaged, duplicated, overlapping
            summary.notes += [f"not read: {p['reason']}" for p in summary.files_skipped]
            data_end = _data_end(reader, now)
            planned = plan_windows(runs, st.window.window_s, st.overlap, fs)
            future = [p for p in planned if p[0] > now + DAY_NS]
            if future:
                from bshm.timeutil import to_iso

                planned = [p for p in planned if p[0] <= now + DAY_NS]
                summary.ignored["future"] = len(future)
                summary.notes.append(
                    f"{len(future)} window(s) dated after the wall clock (e.g. "
                    f"{to_iso(future[0][0], digits=0)}) ignored: check the clock of the logger"
                )
            # the strain part's health of the source's records, checked by the window
            # workers that hold them (not read and checked a second time)
            hand = HealthHandOver.start(st, reader, runs, planned) if monitor_strain else None
            _identify(
                st,
                planned,
                pending_dir,
                stored,
                summary,
                workers,
                scheduler,
                progress,
                batch_size,
                hand,
            )
            with ResultsWriter(rpath, st.station) as w:
                out = derive(w, st, planned_end=planned[-1][1] if planned else None, now_ns=now)
                if extend_baseline:
                    from bshm.analysis.job_extend import extend

                    out.notes += extend(w, st, extend_baseline, now)
                w.append_alarms(out.alarms)
                _monitoring_data(w, st, data_end, now, summary, found)
                _write_alarm_state(w, now)
            log.info("%s: tracking, models, indices and alarms written", st.station)
            if monitor_strain:
                summary.strain = _monitor_strain(st, now, reader, workers, hand)
        _test_hook("after-results")
        summary.alarms, summary.state = _deliver(st, rpath, now)
    summary.tracked_modes = out.tracked_modes
    summary.baseline = out.baseline
    summary.baseline_complete = out.baseline_complete
    summary.models = out.models
    summary.judged = out.judged
    summary.notes += out.notes
    log.info(
        "%s: %d windows processed, %d skipped, %d judged, %d alarms delivered",
        st.station,
        summary.processed,
        sum(summary.skipped.values()),
        summary.judged,
        len(summary.alarms),
    )
    return summary


def _files_needed(
    st: JobSettings, rpath: Path, last: int | None, strain: bool, summary: AnalysisSummary
) -> tuple[list[Path] | None, list[tuple[str, int | None]]]:
    """The raw files this run must open (None: all of them), and the folder's listing."""
    from bshm.analysis.job_files import files_from, listing

    marks: list[int | None] = [last]
    prev_max = None
    if rpath.exists():
        from bshm.store.results import ResultsReader

        with ResultsReader(rpath) as r:
            done = (r.state("strain", {}) or {}).get("done", {})
            prev_max = (r.state("monitor", {}) or {}).get("files_max_start")
        if strain:
            marks += [int(v) - 1 for v in done.values()] if done else [None]
    elif strain:
        marks.append(None)
    t_from = None
    if all(m is not None for m in marks):
        t_from = min(int(m) for m in marks if m is not None)
        if prev_max is not None:
            # every file that started before the newest one of the last run was seen
            # then: a source that stopped long ago must not make every run open all
            # the later files
            t_from = max(t_from, int(prev_max) - DAY_NS)
    files = listing(st.data_dir)
    subset, _ = files_from(files, t_from)
    summary.files = {"raw": len(files), "opened": len(files) if subset is None else len(subset)}
    return subset, files


def _identify(
    st, planned, pending_dir, stored, summary, workers, scheduler, progress, batch_size, hand=None
) -> None:
    """Identify the planned windows not stored yet, stage them, merge them (one transaction).

    ``hand`` (a :class:`HealthHandOver`): the workers also check the health of
    the source's records, collected in it for the strain part.
    """
    from bshm.store.results import ResultsWriter

    rpath = summary.results_path
    staged, _ = load_pending(pending_dir)
    if staged:  # staged by a killed run, maybe merged already: check them all
        stored = stored | _stored_starts(rpath, min(r.start_ns for r in staged))[0]
    done = stored | {r.start_ns for r in staged}
    todo = [w for w in planned if w[0] not in done]
    log.info("%s: %d windows planned, %d to process", st.station, len(planned), len(todo))
    if todo:
        executor = make_executor(workers, scheduler)
        summary.executor = executor.name
        n_par = max(1, int(workers or 1))
        size = batch_size or max(1, min(16, -(-len(todo) // (4 * n_par))))
        update, close = _progress_bar(progress, len(todo))
        from bshm.analysis.windows import plan_batch_files

        batches = batched(todo, size)
        # one listing of the folder for all batches (a task listing a year of files
        # costs ~0.25 s)
        plans = plan_batch_files(st.data_dir, batches)
        try:
            ranges = hand.ranges if hand is not None else None
            for results in executor.map(st.window, batches, plans, ranges):
                write_pending(pending_dir, results)
                update(len(results))
        finally:
            close()
            executor.close()
    staged, files = load_pending(pending_dir)
    if hand is not None:
        hand.collect(staged, {w[0] for w in todo})
    for r in staged:
        r.health = None  # kept in the hand-over only
        if r.start_ns in stored:
            continue
        if r.status == "processed":
            summary.processed += 1
        else:
            summary.skipped[r.reason] = summary.skipped.get(r.reason, 0) + 1
    # the windows are kept even if the models cannot be trained afterwards
    with ResultsWriter(rpath, st.station) as w:
        w.append_windows(staged, channels=st.window.channels, env_names=st.window.env_names)
        summary.total_windows = w.n_windows()
    for p in files:
        p.unlink(missing_ok=True)
    log.info("%s: %d staged windows merged into the results", st.station, len(staged))


class HealthHandOver:
    """The channel health of the window source's records, from the window workers.

    The strain part (:func:`bshm.analysis.strain_job.monitor_raw`) checks
    the health of every record window of every source; for the windows of
    the modal source the window workers hold the same record already, so
    they check it too (:func:`bshm.analysis.windows.process_window`
    ``health_ranges``) and the strain part uses their health for exactly
    those ``(source, start, end)`` (with the same plausible ``ranges``),
    reading and checking every other window itself as before.

    A health is handed over only when the record cannot have changed since
    the worker read it: its window lay inside a recorded run when this run
    planned it (a window may end half a sample after its run), or, for a
    batch staged by an earlier run, the record was full (every sample, no
    gap).

    Attributes
    ----------
    source : str
    ranges : dict
        Channel name -> plausible range (:func:`bshm.analysis.strain_job._ranges`).
    windows : dict
        ``(start_ns, end_ns)`` -> :class:`bshm.analysis.health.PackedHealth`.
    """

    def __init__(self, source: str, ranges: dict, inside: set) -> None:
        self.source = source
        self.ranges = ranges
        self.windows: dict[tuple[int, int], Any] = {}
        self._inside = inside

    @classmethod
    def start(cls, st: JobSettings, reader: Any, runs: list, planned: list) -> HealthHandOver:
        from bisect import bisect_right

        from bshm.analysis.strain_job import _ranges

        starts = [a for a, _ in runs]
        inside = set()
        for a, b in planned:
            k = bisect_right(starts, a) - 1
            if k >= 0 and b <= runs[k][1]:
                inside.add((a, b))
        return cls(st.window.source, _ranges(reader, st.station_cfg), inside)

    def collect(self, results: list, this_run: set) -> None:
        """Keep the health of the staged ``results`` that may be handed over."""
        for r in results:
            h = r.health
            if h is None:
                continue
            w = (int(r.start_ns), int(r.end_ns))
            if h.full or (r.start_ns in this_run and w in self._inside):
                self.windows[w] = h
        self._inside = set()

    def take(self, source: str, a: int, b: int) -> Any:
        """The health of that window, if handed over (each is given once)."""
        if source != self.source:
            return None
        return self.windows.pop((int(a), int(b)), None)


def _data_end(reader: Any, now: int) -> int | None:
    """Time of the newest raw sample of any source (ignoring samples dated in the future)."""
    ends = []
    for src in reader.sources:
        try:
            runs = reader.records(src)
        except (KeyError, ValueError):
            continue
        ends += [int(b) for _, b in runs if int(b) <= now + DAY_NS]
    return max(ends) if ends else None


def _late_files(mon: dict[str, Any], summary: AnalysisSummary, files: list) -> None:
    """Count raw files that appeared with a start before the newest file of the last run."""
    starts = [s for _, s in files if s is not None]
    prev_max, prev_n = mon.get("files_max_start"), mon.get("files_n")
    if prev_max is not None and prev_n is not None:
        late = sum(1 for s in starts if s <= prev_max) - int(prev_n)
        if late > 0:
            summary.ignored["late_files"] = late
            summary.notes.append(
                f"{late} raw file(s) appeared with a start before the newest file analysed "
                "last time (a late import?): their windows are not analysed; run with "
                "--reprocess to analyse the whole store in order"
            )
    if starts:
        mon["files_max_start"] = max(starts)
        mon["files_n"] = len(starts)


def _monitoring_data(
    w: Any,
    st: JobSettings,
    data_end: int | None,
    now: int,
    summary: AnalysisSummary,
    files: list,
) -> None:
    """The ``monitoring:data`` state: no new raw data for ``interrupted_after_s``."""
    from bshm.analysis.alarm_state import SubjectState

    from bshm.alarms import Alarm
    from bshm.timeutil import to_iso

    limit = int(st.interrupted_after_s * 1e9)
    mon = w.read_json("monitor", {}) or {}
    _late_files(mon, summary, files)
    states = {k: SubjectState.from_dict(v) for k, v in mon.get("states", {}).items()}
    s = states.setdefault("monitoring:data", SubjectState("monitoring:data", "monitoring"))
    if limit <= 0 or data_end is None:
        mon["states"] = {k: v.to_dict() for k, v in states.items()}
        w.write_json("monitor", mon)
        return
    silent = now - data_end > limit
    ch = None
    if silent and s.level == 0:
        ch = s.force(data_end + limit, 2)
        msg = (
            f"Monitoring interrupted: no new raw data since {to_iso(data_end, digits=0)} "
            f"(more than {st.interrupted_after_s / 3600:g} h). Check the acquisition, the "
            "logger and the disk."
        )
    elif not silent and s.level > 0:
        ch = s.force(data_end, 0)
        msg = f"Monitoring resumed: new raw data up to {to_iso(data_end, digits=0)}."
    if ch is not None:
        a = Alarm(
            ch.time_ns,
            ch.new,
            "data",
            float("nan"),
            limit / 3.6e12,
            None,
            msg,
            None,
            st.station,
            kind="monitoring",
            subject="monitoring:data",
            event=ch.event,
            fields={"latest_data_ns": int(data_end)},
        )
        s.last = {"alarm_id": a.id, "index": a.index, "message": a.message}
        w.append_alarms([a])
    mon["states"] = {k: v.to_dict() for k, v in states.items()}
    w.write_json("monitor", mon)


def _write_alarm_state(w: Any, now: int) -> None:
    from bshm.analysis.job_feed import write_alarm_state

    write_alarm_state(w, now)


def _deliver(st: JobSettings, rpath: Path, now: int) -> tuple[list[dict], dict]:
    from bshm.analysis.job_feed import deliver_stored

    return deliver_stored(rpath, st.station, st.feed, now)


def _check_settings(rpath: Path, st: JobSettings) -> None:
    """Refuse to mix windows identified with different settings in one file."""
    if not rpath.exists():
        return
    from bshm.store.results import ResultsReader

    with ResultsReader(rpath) as r:
        old = r.models().get("settings")
        ver = r.schema_version
    from bshm.store.results import RESULTS_SCHEMA_VERSION

    if ver < RESULTS_SCHEMA_VERSION:
        raise ConfigError(
            f"{rpath}: results schema version {ver} was written by an older bshm; run with "
            "--reprocess to recompute them (the raw data are not touched)"
        )
    if old is not None and old != st.fingerprint():
        changed = sorted(
            k for k in set(old) | set(st.fingerprint()) if old.get(k) != st.fingerprint().get(k)
        )
        raise ConfigError(
            f"{rpath}: the analysis settings changed since these results were computed "
            f"({', '.join(changed)}); run with --reprocess to start again"
        )


def _monitor_strain(
    st: JobSettings,
    now: int,
    reader: Any = None,
    workers: int | None = None,
    hand: HealthHandOver | None = None,
) -> dict[str, Any]:
    """Fatigue, thresholds, channel health and sensor alarms of the new raw windows."""
    from bshm.errors import BshmError

    try:
        from bshm.analysis.thresholds import monitor_raw
    except ImportError:  # pragma: no cover - part not installed
        return {}
    try:
        ms = monitor_raw(
            st.data_dir,
            st.station_cfg,
            window_s=st.window.window_s,
            rule=(st.persistence_k, st.persistence_n, st.clear_m, st.clear_n),
            now_ns=now,
            station_name=st.station,
            reader=reader,
            workers=workers,
            health=hand,
        )
    except BshmError as exc:
        log.error("strain/fatigue monitoring failed: %s", exc)
        return {"error": str(exc)}
    return {
        "windows": ms.windows,
        "fatigue_windows": ms.fatigue_windows,
        "health_rows": ms.health_rows,
        "sensor_alarms": len([a for a in ms.alarms if a.kind == "sensor"]),
        "threshold_alarms": len([a for a in ms.alarms if a.kind == "threshold"]),
    }


def default_baseline(first_ns: int, days: float) -> tuple[int, int]:
    """The first ``days`` days from ``first_ns``."""
    return first_ns, first_ns + int(days * DAY_NS)
