"""The strain part of the job: fatigue, thresholds, channel health and sensor alarms.

:func:`monitor_raw` processes the windows of every source that are new since
its last run (a watermark per source in ``/state/strain``), so its cost is
proportional to the new data. Per window and channel:

1. **health** (:func:`bshm.analysis.health.check_record`, with each channel's
   plausible range): rows in ``/channel_health``; a *failed* channel feeds
   the sensor alarm state ``sensor:<channel>`` (kind ``sensor``), which
   rises when ``k`` of the last ``n`` windows failed and clears after ``m``
   of the last ``n_clear`` did not;
2. **thresholds** on the channels that did not fail, implausible samples left
   out: the state ``threshold:<channel>:<check>`` (kind ``threshold``) rises
   at once with the level a window reaches and clears after ``m`` of the
   last ``n_clear`` windows below the first limit;
3. **fatigue** of the strain gauges that did not fail, implausible samples
   left out like dropouts (a gauge reading 1e30 never adds Miner damage);
   the rainflow residue is carried from window to window in the saved state.

Everything of a batch (rows, fatigue state, watermarks, alarm states,
alarms) is written in one results transaction, so a run killed anywhere is
finished by the next without counting anything twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bshm.analysis.alarm_state import Rule, SubjectState
from bshm.analysis.job_files import runs_from
from bshm.analysis.thresholds import (
    StrainBaseline,
    _fit_baselines,
    _mean_temperature,
    _temperature_channel,
    _windows,
    evaluate_window,
    thresholds_of,
)

log = logging.getLogger(__name__)


@dataclass
class MonitorSummary:
    """What :func:`monitor_raw` did."""

    windows: int = 0
    fatigue_windows: int = 0
    alarms: list[Any] = field(default_factory=list)
    health_rows: int = 0
    baseline: dict[str, dict[str, float]] | None = None


def _ranges(reader: Any, station: Any) -> dict[str, tuple[float, float] | None]:
    from bshm.analysis.health import valid_range_of

    out = {}
    for info in reader.sources.values():
        for c in info.channels:
            cfg = None
            if station is not None:
                try:
                    _, cfg = station.channel(c.name)
                except (KeyError, AttributeError):
                    cfg = None
            out[c.name] = valid_range_of(cfg if cfg is not None else c)
    return out


def _masked(data: np.ndarray, channels: Sequence[Any], ranges: dict) -> np.ndarray:
    """The samples with those outside each channel's plausible range set to NaN."""
    x = np.array(data, dtype=np.float64)
    for j, c in enumerate(channels):
        vr = ranges.get(c.name)
        if vr is not None:
            with np.errstate(invalid="ignore"):
                x[(x[:, j] < vr[0]) | (x[:, j] > vr[1]), j] = np.nan
    return x


def monitor_raw(
    data_dir: Any,
    station: Any = None,
    *,
    window_s: float = 600.0,
    baseline_days: float | None = None,
    batch_windows: int = 200,
    feed: Any = None,
    rule: tuple[int, int, int, int] = (3, 5, 10, 12),
    now_ns: int | None = None,
    station_name: str | None = None,
    reader: Any = None,
    workers: int | None = None,
    health: Any = None,
) -> MonitorSummary:
    """Strain, fatigue, threshold, health and sensor monitoring of the new raw windows.

    Writes to the results file (``<data_dir>/results/<station>_results.h5``):
    fatigue rows and gauge state (:func:`bshm.analysis.fatigue.save_fatigue`),
    channel-health rows, and the state changes of the sensor and threshold
    alarm states. Safe to rerun: each source's windows are processed once
    (watermark), and every write is de-duplicated by the results store.

    Parameters
    ----------
    data_dir : path
        Raw store folder.
    station : bshm.config.Station, optional
        Gives the thresholds (``Channel.thresholds``), the plausible ranges
        (``Channel.valid_range``), fatigue settings and the temperature
        channel; without it only fatigue (all strain channels, EN 1993-1-9
        detail 71), health and sensor alarms run (default ranges).
    window_s : float
        Window length (s).
    baseline_days : float, optional
        Reference period of the strain baselines for ``change`` limits,
        from the first sample (default: the station's ``baseline_days``).
    batch_windows : int
        Windows written to the results file per transaction.
    feed : path, optional
        Deliver the stored, undelivered alarms to this JSON-lines feed at the
        end (the job delivers them itself: leave it None there).
    rule : (k, n, m, n_clear)
        Sensor states rise on ``k`` of ``n`` failed windows and clear on
        ``m`` of ``n_clear`` sound ones; threshold states rise at once and
        clear on ``m`` of ``n_clear`` windows below the first limit.
    now_ns : int, optional
        Time of the run (for the stored alarm-state summary).
    station_name : str, optional
        Overrides the station name (else the config's, else the raw files').
    reader : bshm.store.RawReader, optional
        An open reader over (at least) the files holding the new windows;
        default: one over the whole folder.
    workers : int, optional
        With 2 or more and at least ``PARALLEL_MIN`` new windows of a source
        (a catch-up) of at least ``PARALLEL_MIN_SAMPLES`` samples a window,
        the reading and the health checks of those windows run in that many
        processes, ahead of the states, fatigue and thresholds here (same
        results, in the same order).
    health : bshm.analysis.job.HealthHandOver, optional
        The health of windows of one source already checked by the job's
        window workers (same records, same plausible ranges): used for
        exactly those windows instead of reading and checking them again.
        Ignored when its ranges are not the ones here.

    Returns
    -------
    MonitorSummary
    """
    from bshm.store import open_raw
    from bshm.store.results import ResultsReader, ResultsWriter, results_path

    summary = MonitorSummary()
    th = thresholds_of(station) if station is not None else {}
    days = (
        baseline_days
        if baseline_days is not None
        else float(getattr(getattr(station, "analysis", None), "baseline_days", 14.0))
    )
    wns = int(window_s * 1e9)
    sensor_rule = Rule(*rule)
    thr_rule = Rule(1, 1, rule[2], rule[3])
    from contextlib import nullcontext

    with open_raw(data_dir) if reader is None else nullcontext(reader) as reader:
        name = station_name or getattr(station, "name", None) or reader.station
        rpath = results_path(data_dir, name)
        models: dict = {}
        strain_state: dict = {}
        if rpath.exists():
            with ResultsReader(rpath) as rr:
                models = rr.models()
                strain_state = rr.state("strain", {}) or {}
        tch = _temperature_channel(reader, station)
        ranges = _ranges(reader, station)
        baselines = {
            k: StrainBaseline(**v) for k, v in (models.get("strain_baseline") or {}).items()
        }
        change_ch = [c for c, t in th.items() if getattr(t, "change", None) is not None]
        if change_ch and not baselines and tch is not None:
            baselines = _fit_baselines(reader, change_ch, tch, wns, days)
            if baselines:
                with ResultsWriter(rpath, name) as w:
                    w.write_model("strain_baseline", {k: b.to_dict() for k, b in baselines.items()})
        summary.baseline = {k: b.to_dict() for k, b in baselines.items()}
        run = _Run(
            rpath,
            name,
            station,
            th,
            ranges,
            baselines,
            tch,
            sensor_rule,
            thr_rule,
            strain_state,
            summary,
            now_ns,
        )
        if health is not None and health.ranges != ranges:
            log.info("channel health of the windows checked again: other plausible ranges")
            health = None
        for src, info in reader.sources.items():
            done = run.done.get(src)
            new = _windows(runs_from(reader.records(src), done), wns)
            given: list[Any] = [None] * len(new)
            if health is not None and src == health.source:
                given = [health.take(src, a, b) for a, b in new]
            # the windows whose health is not handed over are checked as before
            rest = [i for i, g in enumerate(given) if g is None]
            heavy = info.fs * window_s * len(info.channels) >= PARALLEL_MIN_SAMPLES
            ahead = _HealthAhead(
                data_dir, src, [new[i] for i in rest], ranges, workers if heavy else None
            )
            k_of = {i: k for k, i in enumerate(rest)}
            try:
                for i, (a, b) in enumerate(new):
                    g = given[i]
                    given[i] = None  # the compact form is unpacked once, then dropped
                    pre = (g.n_rows, g.unpack()) if g is not None else ahead.get(k_of[i])
                    rec = None
                    if pre is None or run.needs_data(info):
                        rec = reader.read(src, a, b)
                    n_rows = rec.data.shape[0] if rec is not None else pre[0]
                    if n_rows < 3:
                        run.done[src] = max(run.done.get(src, b), b)
                        continue
                    summary.windows += 1
                    run.window(reader, src, info, rec, a, b, health=pre and pre[1])
                    if summary.windows % batch_windows == 0:
                        run.flush()
            finally:
                ahead.close()
        run.flush()  # one transaction for the rest: rows, fatigue state, watermarks, states
    if feed is not None:
        from bshm.analysis.job_feed import deliver_stored

        deliver_stored(rpath, name, feed, now_ns)
    log.info(
        "%s: %d windows, %d fatigue rows, %d alarm state changes, %d health rows",
        name,
        summary.windows,
        summary.fatigue_windows,
        len(summary.alarms),
        summary.health_rows,
    )
    return summary


#: Fewest new windows of a source for which :func:`monitor_raw` checks the
#: channels' health in worker processes (below it, starting them costs more).
PARALLEL_MIN = 64
#: Fewest samples (rate x window x channels) in a window of a source for which
#: the worker processes pay: a task opens its windows' files again, about 5 ms
#: a window, against about 1 ms to read and check a temperature record (2
#: channels at 1 Hz) here: 1,500 such windows took 8.6 s in 2 processes and
#: 1.5 s in this one (docs/bench/analyze.md, 2026-12-02).
PARALLEL_MIN_SAMPLES = 100_000
_CHUNK = 24  # windows per task


def _health_of(rec, a: int, b: int, ranges: dict) -> list:
    from bshm.analysis.health import check_record, gap_fraction

    gf = gap_fraction(rec.gaps, a, b)
    return check_record(rec.data, rec.fs, rec.channels, gap_fraction=gf, valid_ranges=ranges)


def _health_task(data_dir: str, src: str, windows: list, ranges: dict, files=False) -> list:
    """Read and check windows of one source (a worker's task): [(rows, health or None)].

    ``files``: the raw files of the windows planned by the caller
    (:func:`bshm.analysis.windows.plan_batch_files`), or False to list them here.
    """
    from bshm.analysis._threads import blas_limited
    from bshm.analysis.job_files import open_files
    from bshm.analysis.windows import _files_for

    if files is False:
        files = _files_for(data_dir, windows[0][0], windows[-1][1])
    out = []
    with blas_limited(), open_files(data_dir, files) as reader:
        for a, b in windows:
            rec = reader.read(src, a, b)
            n = rec.data.shape[0]
            out.append((n, _health_of(rec, a, b, ranges) if n >= 3 else None))
    return out


class _HealthAhead:
    """Health of a source's new windows computed ahead in worker processes.

    ``get(i)`` gives ``(rows, health)`` of the i-th window, or None when the
    windows are checked here (few windows, no workers, or a worker failed:
    then this process reads and checks them itself, with the same result).
    """

    def __init__(self, data_dir, src: str, windows: list, ranges: dict, workers) -> None:
        self.pool = None
        self.futs: list = []
        self.cache: dict[int, list] = {}
        if not workers or int(workers) < 2 or len(windows) < PARALLEL_MIN:
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        from bshm.analysis.windows import plan_batch_files

        chunks = [windows[i : i + _CHUNK] for i in range(0, len(windows), _CHUNK)]
        # one listing of the folder for every chunk (a year of files: ~0.25 s a listing)
        plans = plan_batch_files(data_dir, chunks)
        try:
            self.pool = ProcessPoolExecutor(int(workers), mp_context=mp.get_context("spawn"))
            self.futs = [
                self.pool.submit(_health_task, str(data_dir), src, c, ranges, f)
                for c, f in zip(chunks, plans, strict=True)
            ]
        except (OSError, RuntimeError) as exc:  # no processes here: check them in this one
            log.info("health checks in this process: %s", exc)
            self.close()

    def get(self, i: int):
        if self.pool is None:
            return None
        k = i // _CHUNK
        if k not in self.cache:
            try:
                self.cache = {k: self.futs[k].result()}
            except Exception as exc:  # noqa: BLE001 - e.g. a worker killed: do it here
                log.warning("health checks of a batch failed in a worker (%s): redone here", exc)
                self.cache = {k: []}
        got = self.cache[k]
        j = i - k * _CHUNK
        return got[j] if j < len(got) else None

    def close(self) -> None:
        if self.pool is not None:
            for f in self.futs:
                f.cancel()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


class _Run:
    """The state of one :func:`monitor_raw` run between two flushes."""

    def __init__(
        self,
        rpath,
        name,
        station,
        th,
        ranges,
        baselines,
        tch,
        sensor_rule,
        thr_rule,
        strain_state,
        summary,
        now_ns,
    ) -> None:
        from bshm.analysis.fatigue import load_fatigue_state

        from bshm.store.results import ResultsReader

        self.rpath, self.name, self.station = rpath, name, station
        self.th, self.ranges, self.baselines, self.tch = th, ranges, baselines, tch
        self.sensor_rule, self.thr_rule = sensor_rule, thr_rule
        self.summary, self.now_ns = summary, now_ns
        self.done: dict[str, int] = {k: int(v) for k, v in strain_state.get("done", {}).items()}
        self._saved_done = dict(self.done)
        self.states = {
            k: SubjectState.from_dict(v) for k, v in strain_state.get("states", {}).items()
        }
        self.fatigue: dict = {}
        if rpath.exists():
            with ResultsReader(rpath) as rr:
                self.fatigue = load_fatigue_state(rr.fatigue_state())
        self.batch: dict[str, list[Any]] = {"fatigue": [], "alarms": [], "health": []}
        self.fset = getattr(station, "fatigue", None)

    def needs_data(self, info) -> bool:
        """Whether a window of this source needs its samples beyond the health checks."""
        return bool(self.th) or any(c.quantity == "strain" for c in info.channels)

    def window(self, reader, src: str, info, rec, a: int, b: int, health=None) -> None:
        from bshm.analysis.fatigue import process_strain_window
        from bshm.analysis.health import FAILED

        if health is None:
            health = _health_of(rec, a, b, self.ranges)
        self.batch["health"] += [r for h in health for r in h.rows(a)]
        failed = {h.channel for h in health if h.status == FAILED}
        for h in health:
            self._sensor(h, a, info)
        if not self.needs_data(info):
            self.done[src] = max(self.done.get(src, b), b)
            return
        x = _masked(rec.data, rec.channels, self.ranges)
        if any(c.quantity == "strain" for c in rec.channels):
            keep = [j for j, c in enumerate(rec.channels) if c.name not in failed]
            out, self.fatigue = process_strain_window(
                x[:, keep],
                [rec.channels[j] for j in keep],
                start_ns=a,
                end_ns=b,
                settings=self.fset,
                state=self.fatigue,
            )
            self.batch["fatigue"] += out
        th = {k: v for k, v in self.th.items() if k not in failed}
        if th:
            temp = _mean_temperature(reader, self.tch, a, b) if self.baselines else None
            if temp is not None and self.tch is not None and self.tch[1] in failed:
                temp = None
            res = evaluate_window(
                x,
                rec.times_ns,
                rec.channels,
                th,
                station=self.name,
                temperature=temp,
                baselines=self.baselines,
            )
            levels = {(r.channel, r.kind): r for r in res.results}
            for (ch, _), r in levels.items():
                self._threshold(r, a, {c.name: c for c in rec.channels}[ch])
        self.done[src] = max(self.done.get(src, b), b)

    def _sensor(self, h, t: int, info) -> None:
        from bshm.analysis.health import FAILED

        from bshm.alarms import Alarm

        subj = f"sensor:{h.channel}"
        s = self.states.setdefault(subj, SubjectState(subj, "sensor"))
        w = 2 if h.status == FAILED else 0
        ch = s.feed(t, w, w, self.sensor_rule)
        if ch is None:
            return
        bad = [(k, v) for k, v in h.checks.items() if v[1] == FAILED]
        check, (value, _) = bad[0] if bad else ("status", (0.0, ""))
        r = self.sensor_rule
        if ch.new:
            why = "; ".join(x for x in h.reasons if x.split(":")[0] in {k for k, _ in bad})
            msg = (
                f"Sensor {h.channel} ({h.quantity}, source {info.name}) failed its checks in "
                f"at least {r.raise_k} of the last {r.raise_n} windows: {why}. Its data are "
                "excluded (from the identification, the compensation, the thresholds and "
                "the fatigue count) until it recovers; the bridge is not judged from it."
            )
        else:
            msg = (
                f"Sensor {h.channel} back to normal: sound in {r.clear_m} of the last "
                f"{r.clear_n} windows."
            )
        a = Alarm(
            t,
            ch.new,
            check,
            value,
            float("nan"),
            None,
            msg,
            h.channel,
            self.name,
            kind="sensor",
            subject=subj,
            event=ch.event,
            fields={"checks": {k: v[0] for k, v in h.checks.items()}},
        )
        s.last = {"alarm_id": a.id, "index": a.index, "message": a.message}
        self.batch["alarms"].append(a)

    def _threshold(self, r, t: int, meta) -> None:
        from dataclasses import replace

        from bshm.analysis.thresholds import _WORDS, to_alarm

        subj = f"threshold:{r.channel}:{r.kind}"
        s = self.states.setdefault(subj, SubjectState(subj, "threshold"))
        ch = s.feed(r.time_ns, r.level, r.level, self.thr_rule)
        if ch is None:
            return
        if ch.new:
            a = to_alarm(r, unit=getattr(meta, "unit", ""), station=self.name)
            if ch.event == "de-escalated":
                a = replace(
                    a,
                    message=f"{r.channel}: {r.kind} back below the "
                    f"{_WORDS[ch.old]} limit; still at level {ch.new}. " + a.message,
                )
            a = replace(a, level=ch.new, kind="threshold", subject=subj, event=ch.event)
        else:
            from bshm.alarms import Alarm

            a = Alarm(
                r.time_ns,
                0,
                r.kind,
                r.value,
                r.threshold,
                None,
                f"{r.channel}: {r.kind} below its limits in {self.thr_rule.clear_m} of the "
                f"last {self.thr_rule.clear_n} windows: back to normal.",
                r.channel,
                self.name,
                kind="threshold",
                subject=subj,
                event=ch.event,
            )
        s.last = {"alarm_id": a.id, "index": a.index, "message": a.message}
        self.batch["alarms"].append(a)

    def flush(self) -> None:
        if not any(self.batch.values()) and self.done == self._saved_done:
            return
        from bshm.analysis.fatigue import save_fatigue
        from bshm.analysis.job_feed import write_alarm_state

        from bshm.store.results import ResultsWriter

        with ResultsWriter(self.rpath, self.name) as w:  # one copy-on-write transaction
            if self.batch["fatigue"]:
                self.summary.fatigue_windows += save_fatigue(
                    self.rpath, self.batch["fatigue"], self.fatigue, writer=w
                )
            self.summary.alarms += w.append_alarms(self.batch["alarms"])
            self.summary.health_rows += w.append_channel_health(self.batch["health"])
            w.write_json(
                "strain",
                {"done": self.done, "states": {k: v.to_dict() for k, v in self.states.items()}},
            )
            write_alarm_state(w, self.now_ns)
        for v in self.batch.values():
            v.clear()
        self._saved_done = dict(self.done)
