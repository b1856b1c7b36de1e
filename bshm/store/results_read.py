"""Reading the HDF5 results store: :class:`ResultsReader` and the shared read helpers.

Split from :mod:`bshm.store.results` (which re-exports these names); see that
module for the layout and ``docs/hdf5-schema-results.md`` for the schema.
Row tables are returned whole: the rows sealed in segment files
(:mod:`bshm.store.results_seg`) followed by those of the head file.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from bshm.errors import DamagedFileError, StoreError
from bshm.store.h5io import is_checksum_error, short


def _read_error(path: Path, exc: BaseException, what: str = "cannot read") -> StoreError:
    if is_checksum_error(exc):
        return DamagedFileError(
            f"{path}: damaged results file ({short(exc)}); restore it from a backup, or run "
            "'bshm analyze --reprocess' to compute it again",
            path=str(path),
        )
    return StoreError(f"{path}: {what}: {short(exc)}")


def _guarded(fn):
    """Turn h5py read failures of a results file into one clear error."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except (OSError, RuntimeError) as exc:
            raise _read_error(self.path, exc) from None

    return wrapper


def _table_rows(
    f,
    path: Path,
    table: str,
    start_ns: int | None = None,
    end_ns: int | None = None,
    columns: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Rows of a table over the listed segments and the head, optionally in [start, end)."""
    from bshm.store import results_seg as seg

    if columns is not None and (start_ns is not None or end_ns is not None):
        tc = next((c for c in seg.TIME_COLUMNS if table in f and c in f[table]), None)
        if tc is not None and tc not in columns:
            columns = (*columns, tc)
    parts = []
    if table in f and seg.is_row_group(f[table]):
        parts = seg.read_segment_columns(
            path, seg.manifest(f), table, start_ns=start_ns, end_ns=end_ns, columns=columns
        )
    if table in f:
        parts.append(seg._columns(f[table], columns))
    out = seg.concat(parts)
    if out and (start_ns is not None or end_ns is not None):
        tc = next((c for c in seg.TIME_COLUMNS if c in out), None)
        if tc is not None:
            t = out[tc]
            keep = np.ones(t.shape[0], bool)
            if start_ns is not None:
                keep &= t >= start_ns
            if end_ns is not None:
                keep &= t < end_ns
            out = {k: v[keep] for k, v in out.items()}
    return out


def _json_loads(raw: Any) -> Any:
    if isinstance(raw, bytes):
        raw = raw.decode()
    return json.loads(raw)


def _read_state(f, name: str, default: Any = None) -> Any:
    if "state" not in f or name not in f["state"]:
        return default
    return _json_loads(f["state"][name][()])


def _alarm_objects(f, first: int = 0, *, sort: bool = True) -> list[dict[str, Any]]:
    """Alarm objects (DESIGN.md keys plus id, kind, subject, event, fields)."""
    if "alarms" not in f or "time_ns" not in f["alarms"]:
        return []
    from bshm.alarms import alarm_id
    from bshm.store.results_seg import _columns
    from bshm.timeutil import to_iso

    c = _columns(f["alarms"])
    n = c["time_ns"].size
    st = f.attrs.get("station", "")
    st = st.decode() if isinstance(st, bytes) else str(st)

    def col(name: str, i: int, default: Any = "") -> Any:
        return c[name][i] if name in c else default

    idx = list(range(first, n))
    if sort:
        idx.sort(key=lambda i: (int(c["time_ns"][i]), i))
    out = []
    for i in idx:
        kind = str(col("kind", i, "")) or "structural"
        subject = str(col("subject", i, "")) or None
        event = str(col("event", i, "")) or None
        station = str(col("station", i, "")) or st or None
        mode = str(c["mode"][i]) or None
        channel = str(c["channel"][i]) or None
        level = int(c["level"][i])
        t = int(c["time_ns"][i])
        aid = str(col("id", i, "")) or alarm_id(
            station, kind, str(c["index"][i]), mode, channel, t, level, subject, event
        )
        fields = str(col("fields", i, ""))
        d = {
            "id": aid,
            "kind": kind,
            "time_ns": t,
            "time": to_iso(t),
            "level": level,
            "index": str(c["index"][i]),
            "value": _finite(c["value"][i]),
            "threshold": _finite(c["threshold"][i]),
            "mode": mode,
            "channel": channel,
            "station": station,
            "subject": subject,
            "event": event,
            "message": str(c["message"][i]),
        }
        if fields:
            d["fields"] = _json_loads(fields)
        out.append(d)
    return out


def _finite(x: Any) -> float | None:
    v = float(x)
    return v if np.isfinite(v) else None


# --------------------------------------------------------------------------- reader


class ResultsReader:
    """Read a results file (context manager). Every method returns plain NumPy data.

    Row tables are returned whole: the rows sealed in segment files
    (:mod:`bshm.store.results_seg`) followed by those of the file itself.

    Parameters
    ----------
    path : str or os.PathLike
        The results file.

    Raises
    ------
    bshm.errors.StoreError
        If the file is not a results file; ``SchemaVersionError`` for an
        unsupported schema version.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        import h5py

        from bshm.store.results import _check_file

        self.path = Path(path)
        try:
            self.f = h5py.File(self.path, "r")
        except (OSError, RuntimeError) as exc:
            raise _read_error(self.path, exc, "cannot open results file") from None
        try:
            _check_file(self.f, self.path)
        except BaseException:
            self.f.close()
            raise
        st = self.f.attrs.get("station", "")
        self.station = st.decode() if isinstance(st, bytes) else str(st)
        self._cache: dict[str, dict[str, np.ndarray]] = {}

    def __enter__(self) -> ResultsReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self.f.close()

    @property
    @_guarded
    def schema_version(self) -> int:
        """Schema version of the file."""
        return int(self.f.attrs["schema_version"])

    @_guarded
    def _rows(self, table: str) -> dict[str, np.ndarray]:
        if table not in self._cache:
            self._cache[table] = _table_rows(self.f, self.path, table)
        return self._cache[table]

    @_guarded
    def rows(
        self,
        table: str,
        *,
        start_ns: int | None = None,
        end_ns: int | None = None,
        columns: tuple[str, ...] | None = None,
    ) -> dict[str, np.ndarray]:
        """Every row of a table (columns), optionally with its time in [start_ns, end_ns)
        and only some ``columns``."""
        if start_ns is None and end_ns is None and columns is None:
            return dict(self._rows(table))
        return _table_rows(self.f, self.path, table, start_ns, end_ns, columns)

    @_guarded
    def window_starts(self, start_ns: int | None = None) -> np.ndarray:
        """Start times (ns) of the stored windows (all, or from ``start_ns`` on)."""
        if "windows" not in self.f or "start_ns" not in self.f["windows"]:
            return np.zeros(0, np.int64)
        cols = self.rows("windows", start_ns=start_ns, columns=("start_ns",))
        return np.asarray(cols.get("start_ns", np.zeros(0)), np.int64)

    @_guarded
    def last_window_start(self) -> int | None:
        """Start (ns) of the newest stored window (from the manifest and the head)."""
        from bshm.store.results_seg import manifest, sealed_range

        if "windows" not in self.f or "start_ns" not in self.f["windows"]:
            return None
        head = self.f["windows/start_ns"][()]
        sealed = sealed_range(manifest(self.f), "windows")
        cands = ([int(head.max())] if head.size else []) + ([sealed[1]] if sealed else [])
        return max(cands) if cands else None

    @_guarded
    def fatigue_state(self) -> dict[str, dict[str, Any]]:
        """Per gauge, the attributes only (the saved state, S-N curve ...), no rows."""
        if "fatigue" not in self.f:
            return {}
        return {
            g: {k: v for k, v in grp.attrs.items() if k != "bshm_rows"}
            for g, grp in self.f["fatigue"].items()
        }

    @property
    @_guarded
    def channels(self) -> list[str]:
        """Channel names of the mode shapes (rows of every shape)."""
        if "windows" in self.f and "channels" in self.f["windows"].attrs:
            return json.loads(self.f["windows"].attrs["channels"])
        return []

    @_guarded
    def windows(self) -> dict[str, np.ndarray]:
        """Per-window table: ``start_ns, end_ns, processed, reason, rms, n_modes`` (n_windows,),
        plus ``excluded`` (channels left out, comma-separated) and ``detail`` (schema 2)."""
        if "windows" not in self.f:
            return {
                k: np.zeros(0)
                for k in ("start_ns", "end_ns", "processed", "reason", "rms", "n_modes")
            }
        return dict(self._rows("windows"))

    @_guarded
    def environment(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Environment per window: ``(names, start_ns (n,), values (n, n_vars))``."""
        if "environment" not in self.f or "values" not in self.f["environment"]:
            return [], np.zeros(0, np.int64), np.zeros((0, 0))
        names = json.loads(self.f["environment"].attrs["names"])
        return names, self._rows("windows")["start_ns"], self._rows("environment")["values"]

    @_guarded
    def modes(
        self, start_ns: int | None = None, end_ns: int | None = None
    ) -> dict[str, np.ndarray]:
        """Identified modes, flat rows: ``window_start_ns, frequency (Hz), damping (ratio),
        mpc, stability, shape (n_rows, n_channels) complex``, optionally in [start, end)."""
        if "modes" not in self.f:
            return {
                "window_start_ns": np.zeros(0, np.int64),
                "frequency": np.zeros(0),
                "damping": np.zeros(0),
                "mpc": np.zeros(0),
                "stability": np.zeros(0, np.int32),
                "shape": np.zeros((0, len(self.channels)), np.complex64),
            }
        return self.rows("modes", start_ns=start_ns, end_ns=end_ns)

    @_guarded
    def _derived(self, name: str) -> dict[str, Any]:
        if name not in self.f:
            return {}
        g = self.f[name]
        out: dict[str, Any] = dict(self._rows(name))
        for k, v in g.attrs.items():
            if k == "bshm_rows":
                continue
            out[k] = json.loads(v) if isinstance(v, str) and v[:1] in "[{" else v
        return out

    @_guarded
    def tracks(self) -> dict[str, Any]:
        """Tracked modes: ``time_ns (n_w,), mode_ids, frequency/damping/mac (n_w, n_modes)
        with NaN where a mode was not found, shape (n_w, n_modes, n_ch) complex,
        ref_frequency (n_modes,), ref_shape (n_modes, n_ch)``.

        Before the models are trained: the provisional tracks of the baseline
        period (``provisional`` is True), recomputed by every run."""
        out = self._derived("tracks")
        if not out or "time_ns" not in out:
            prov = self._derived("tracks_provisional")
            if prov:
                prov["provisional"] = True
                return prov
            return out
        if "ref_frequency" not in out:
            ref = self.models().get("reference")
            if ref:
                out["ref_frequency"] = np.asarray(ref["frequency"], float)
                out["ref_shape"] = (
                    np.asarray(ref["shape_real"], float) + 1j * np.asarray(ref["shape_imag"], float)
                ).astype(np.complex64)
        return out

    @_guarded
    def features(self) -> dict[str, Any]:
        """Compensated features: ``time_ns, predicted, residual (n_w, n_modes)``, model attrs."""
        return self._derived("features")

    @_guarded
    def indices(self) -> dict[str, Any]:
        """Damage indices: ``time_ns, freq_shift_pct (n_w, n_modes), t2, t2_limits (n_w, 3),
        mac_drop (n_w, n_modes), comac (n_w, n_ch), level (n_w,)`` (the structural alarm
        state after each window), and per window ``window_level``, ``assessable``,
        ``inside`` (inside the trained conditions), ``model_version``, ``compensation``
        (index into the attribute ``compensation_names``)."""
        out = self._derived("indices")
        if out and "mac_limits" not in out:
            nov = self.models().get("novelty")
            lim = self.models().get("limits")
            if nov and lim:
                spread = np.asarray(nov.get("mac_spread", []), float)
                out["mac_limits"] = np.asarray(lim["mac_drop"], float)[None, :] + spread[:, None]
        return out

    @_guarded
    def alarms(self) -> list[dict[str, Any]]:
        """Alarms as DESIGN.md alarm objects (time order), with ``id``, ``kind``,
        ``subject``, ``event`` (and ``fields`` when stored)."""
        return _alarm_objects(self.f)

    @_guarded
    def alarm_state(self) -> dict[str, Any]:
        """The current alarm state, as the job left it (the same as ``--json`` ``state``).

        Returns
        -------
        dict
            ``{"updated_ns", "subjects": {subject: {"kind", "level", "level_name",
            "active", "since_ns", "since", "alarm_id", "index", "message"}},
            "kinds": {kind: {"level", "active", "subjects"}}}``; empty dict when
            the job has not stored any state yet.
        """
        return _read_state(self.f, "alarm_state", {}) or {}

    @_guarded
    def model_versions(self) -> list[dict[str, Any]]:
        """Every model version the job trained (oldest first): ``version``,
        ``trained_ns``, ``periods`` (training periods), ``conditions`` and the models."""
        return _read_state(self.f, "model_versions", []) or []

    @_guarded
    def state(self, name: str, default: Any = None) -> Any:
        """A JSON document of ``/state`` (``job``, ``strain``, ``outbox`` ...)."""
        return _read_state(self.f, name, default)

    @_guarded
    def fatigue(self) -> dict[str, dict[str, Any]]:
        """Per gauge: ``window_start_ns, window_end_ns, counts (n, n_bins), miner_damage (n,),
        range_edges (n_bins+1,), unit`` plus any extra attributes."""
        out: dict[str, dict[str, Any]] = {}
        if "fatigue" not in self.f:
            return out
        for gauge, g in self.f["fatigue"].items():
            d: dict[str, Any] = dict(self._rows(f"fatigue/{gauge}"))
            d.update({k: v for k, v in g.attrs.items() if k != "bshm_rows"})
            out[gauge] = d
        return out

    @_guarded
    def channel_health(self) -> dict[str, np.ndarray]:
        """Channel-health rows: ``time_ns, channel, check, value, status, message``."""
        if "channel_health" not in self.f:
            return {}
        return dict(self._rows("channel_health"))

    @_guarded
    def models(self) -> dict[str, Any]:
        """Model descriptions stored by the job (``reference``, ``compensation`` ...)."""
        if "models" not in self.f:
            return {}
        return {k: json.loads(v) for k, v in self.f["models"].attrs.items()}


def open_results(path: str | os.PathLike) -> ResultsReader:
    """Open a results file for reading (see :class:`ResultsReader`)."""
    return ResultsReader(path)


def is_results_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is an HDF5 file with ``bshm_kind = "results"``."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            k = f.attrs.get("bshm_kind")
            return (k.decode() if isinstance(k, bytes) else k) == "results"
    except (OSError, RuntimeError):
        return False


def summarize(path: str | os.PathLike) -> dict[str, Any]:
    """What a results file holds, as a JSON-ready dict (for ``bshm inspect``)."""
    from bshm.store.results_seg import manifest

    with ResultsReader(path) as r:
        w = r.windows()
        processed = np.asarray(w.get("processed", np.zeros(0, bool)), bool)
        reasons: dict[str, int] = {}
        for reason, p in zip(w.get("reason", []), processed):
            if not p:
                reasons[str(reason)] = reasons.get(str(reason), 0) + 1
        tr = r.tracks()
        tracked = []
        if tr:
            freq = np.asarray(tr["frequency"])
            for j, mid in enumerate(tr["mode_ids"]):
                col = freq[:, j]
                ok = np.isfinite(col)
                tracked.append(
                    {
                        "id": str(mid),
                        "mean_frequency_hz": float(np.mean(col[ok])) if ok.any() else None,
                        "availability": float(ok.mean()) if col.size else 0.0,
                    }
                )
        alarms = r.alarms()
        starts = np.asarray(w.get("start_ns", np.zeros(0, np.int64)), np.int64)
        state = r.alarm_state()
        return {
            "schema_version": int(r.f.attrs["schema_version"]),
            "kind": "results",
            "station": r.station,
            "files": [str(r.path)],
            "segments": [e["file"] for e in manifest(r.f)],
            "channels": r.channels,
            "windows": {
                "total": int(starts.size),
                "processed": int(processed.sum()),
                "skipped": reasons,
                "start_ns": int(starts.min()) if starts.size else None,
                "end_ns": int(np.asarray(w["end_ns"]).max()) if starts.size else None,
            },
            "modes": int(r.modes()["frequency"].size),
            "tracked_modes": tracked,
            "alarms": {
                "count": len(alarms),
                "max_level": max((a["level"] for a in alarms), default=0),
            },
            "state": state.get("kinds", {}),
            "fatigue_gauges": sorted(r.fatigue()),
            "models": sorted(r.models()),
            "model_versions": len(r.model_versions()),
        }
