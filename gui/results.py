"""Everything the viewer reads from a results file, the alarm feed and the
station config, in one place (no Qt).

The monitoring job adds fields over time (alarm ``kind``/``subject``/
``event``, per-window flags): read them here, with defaults when they are
missing, so the views only ever see one shape of data.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bshm.analysis.report_alarms import (
    alarm_states,
    attach_acks,
    current_state_rows,
    guess_kind,
    merge_alarms,
    read_feed,
    subject_of,
)

from bshm.errors import StoreError

log = logging.getLogger(__name__)

__all__ = [
    "alarm_states",
    "current_state_rows",
    "guess_kind",
    "merge_alarms",
    "read_feed",
    "subject_of",
    "load_results",
    "acknowledge",
    "refresh_acks",
    "window_of",
    "station_info",
    "mac",
]

NS = 1_000_000_000
DEFAULT_WINDOW_S = 600.0


@dataclass
class StationInfo:
    """What the station config says about the structure (for the deck sketch)."""

    spans_m: tuple[float, ...] = ()
    channel_x: dict[str, float] = field(default_factory=dict)
    channel_dir: dict[str, str] = field(default_factory=dict)
    feed: Path | None = None
    config: Path | None = None

    @property
    def supports_m(self) -> np.ndarray:
        """Support positions (m): 0 and the end of every span."""
        if not self.spans_m:
            return np.empty(0)
        return np.concatenate(([0.0], np.cumsum(self.spans_m)))


def find_station_config(folder: Path | None) -> Path | None:
    """``station.toml`` in a data folder or its parent (where ``bshm`` commands put it)."""
    if folder is None:
        return None
    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    for cand in (folder / "station.toml", folder.parent / "station.toml"):
        if cand.is_file():
            return cand
    return None


def station_info(data_dir: Path | None, sources: dict | None = None) -> StationInfo:
    """Bridge spans, sensor positions/directions and the alarm feed of a station.

    From ``station.toml`` next to the data when there is one (a config that
    does not load is logged and skipped); sensor positions also come from
    the raw files' channel metadata (``sources``: name -> SourceInfo).
    """
    info = StationInfo()
    cfg = find_station_config(data_dir)
    if sources:
        for src in sources.values():
            for c in src.channels:
                x = c.location[0] if c.location else math.nan
                if x is not None and math.isfinite(float(x)):
                    info.channel_x[c.name] = float(x)
                if c.direction:
                    info.channel_dir[c.name] = str(c.direction)
    if cfg is not None:
        try:
            from bshm.config import load_station

            st = load_station(cfg)
        except Exception as exc:  # noqa: BLE001 - a bad config must not stop the viewer
            log.warning("%s: not used (%s)", cfg, str(exc).splitlines()[0])
        else:
            info.config = cfg
            info.spans_m = tuple(float(s) for s in st.bridge_spans_m)
            info.feed = Path(st.alarms.feed) if st.alarms.feed else None
            for s in st.sources:
                for c in s.channels:
                    x = c.location[0] if c.location else math.nan
                    if math.isfinite(float(x)):
                        info.channel_x.setdefault(c.name, float(x))
                    if c.direction:
                        info.channel_dir.setdefault(c.name, c.direction)
    if info.feed is None and data_dir is not None:
        d = Path(data_dir)
        info.feed = (d.parent if d.is_file() else d) / "alarms.jsonl"
    return info


def load_results(path, data_dir: Path | None = None, sources: dict | None = None) -> dict:
    """Everything the trend, alarm and modal views show, read once.

    Returns
    -------
    dict
        ``station``, ``path``, ``tracks``, ``env`` (names, start_ns, values),
        ``indices``, ``features``, ``limits``, ``windows``, ``channels`` (of
        the mode shapes), ``alarms`` (alarm objects with ``id``, ``kind``,
        ``state``, ``ack`` added), ``alarm_state`` (the job's current state,
        ``{}`` for older files), ``model_versions`` (training periods and
        their conditions), ``fatigue``, ``info`` (:class:`StationInfo`),
        ``ack_path``.

    Raises
    ------
    bshm.errors.StoreError
        Not a readable results file.
    """
    from bshm.store.results import open_results

    path = Path(path)
    if data_dir is None:
        data_dir = path.parent.parent if path.parent.name == "results" else path.parent
    try:
        with open_results(path) as r:
            names, start, values = r.environment()
            out = {
                "station": r.station,
                "path": path,
                "tracks": r.tracks(),
                "indices": r.indices(),
                "features": r.features(),
                "env": (list(names), np.asarray(start), np.asarray(values)),
                "windows": r.windows(),
                "channels": list(r.channels),
                "limits": (r.models().get("limits") or {}),
                "stored_alarms": r.alarms(),
                "alarm_state": r.alarm_state(),
                "model_versions": r.model_versions(),
                "fatigue": r.fatigue(),
            }
    except (OSError, KeyError, ValueError) as exc:
        raise StoreError(f"{path}: cannot read as a bshm results file ({exc})") from exc
    info = station_info(data_dir, sources)
    out["info"] = info
    out["ack_path"] = _ack_file(info)
    out["alarms"] = merge_alarms(
        out["stored_alarms"], info.feed, out["station"], out["alarm_state"]
    )
    refresh_acks(out)
    return out


def _ack_file(info: StationInfo) -> Path | None:
    from bshm.alarms import ack_path

    return ack_path(info.feed) if info.feed is not None else None


def refresh_acks(results: dict) -> dict[str, dict[str, Any]]:
    """Re-read the acknowledgements and attach each to its alarm (``ack`` key)."""
    return attach_acks(results["alarms"], results.get("ack_path"))


def acknowledge(results: dict, alarm: dict[str, Any], by: str, comment: str) -> dict[str, Any]:
    """Store an acknowledgement beside the feed (never in it) and attach it.

    Raises
    ------
    ValueError
        Empty name.
    bshm.errors.StoreError
        The acknowledgement file cannot be written.
    """
    from bshm.alarms import AckLog

    p = results.get("ack_path")
    if p is None:
        raise StoreError("no alarm feed location known: cannot store the acknowledgement")
    try:
        obj = AckLog(p).append(alarm["id"], by, comment)
    except OSError as exc:
        raise StoreError(f"{p}: cannot store the acknowledgement ({exc.strerror})") from exc
    refresh_acks(results)
    return obj


def window_of(results: dict, t_ns: int) -> tuple[int, int]:
    """The analysis window that starts at ``t_ns`` (or holds it); 600 s by default."""
    w = results.get("windows") or {}
    s = np.asarray(w.get("start_ns", []), np.int64)
    e = np.asarray(w.get("end_ns", []), np.int64)
    if s.size:
        k = np.flatnonzero((s <= t_ns) & (t_ns < np.maximum(e, s + 1)))
        if k.size:
            return int(s[k[-1]]), int(e[k[-1]])
        k = np.flatnonzero(s == t_ns)
        if k.size:
            return int(s[k[0]]), int(e[k[0]])
        lengths = e - s
        lengths = lengths[lengths > 0]
        if lengths.size:
            return int(t_ns), int(t_ns + int(np.median(lengths)))
    return int(t_ns), int(t_ns + DEFAULT_WINDOW_S * NS)


def temperature_at(env: tuple, times_ns: np.ndarray) -> tuple[str, np.ndarray]:
    """The structural (else first) temperature interpolated at ``times_ns``."""
    names, start, values = env
    if not names or values.size == 0:
        return "", np.full(len(times_ns), np.nan)
    pick = next((i for i, n in enumerate(names) if n.upper() == "T1"), None)
    if pick is None:
        pick = next((i for i, n in enumerate(names) if "t" in n.lower()), 0)
    col = values[:, pick]
    ok = np.isfinite(col)
    if not ok.any():
        return names[pick], np.full(len(times_ns), np.nan)
    t = np.asarray(times_ns, dtype=np.float64)
    return names[pick], np.interp(
        t, start[ok].astype(np.float64), col[ok], left=np.nan, right=np.nan
    )


def mac(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Modal assurance criterion of every column of ``a`` (n_ch, m) with every
    column of ``b`` (n_ch, k): shape (m, k), in [0, 1]; NaN rows are dropped."""
    a = np.asarray(a, np.complex128)
    b = np.asarray(b, np.complex128)
    ok = np.all(np.isfinite(a), axis=1) & np.all(np.isfinite(b), axis=1)
    a, b = a[ok], b[ok]
    num = np.abs(a.conj().T @ b) ** 2
    den = np.outer(np.real(np.sum(a.conj() * a, axis=0)), np.real(np.sum(b.conj() * b, axis=0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)
