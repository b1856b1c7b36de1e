"""Reading results files (:class:`ResultsReader`), see :mod:`bshm.store.results`.

Every read failure of a results file (a damaged chunk, unreadable metadata)
becomes one clear :class:`~bshm.errors.DamagedFileError` or
:class:`~bshm.errors.StoreError` naming the file.
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
from bshm.store.results import RESULTS_KIND, _check_file, _read_columns


def _read_error(path: Path, exc: BaseException, what: str = "cannot read") -> StoreError:
    if is_checksum_error(exc):
        return DamagedFileError(
            f"{path}: damaged results file ({short(exc)}); restore it from a backup, or run "
            "'bshm analyze --reprocess' to compute it again", path=str(path))
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


class ResultsReader:
    """Read a results file (context manager). Every method returns plain NumPy data.

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

    def __enter__(self) -> ResultsReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self.f.close()

    @property
    @_guarded
    def channels(self) -> list[str]:
        """Channel names of the mode shapes (rows of every shape)."""
        if "windows" in self.f and "channels" in self.f["windows"].attrs:
            return json.loads(self.f["windows"].attrs["channels"])
        return []

    @_guarded
    def windows(self) -> dict[str, np.ndarray]:
        """Per-window table: ``start_ns, end_ns, processed, reason, rms, n_modes`` (n_windows,)."""
        if "windows" not in self.f:
            return {
                k: np.zeros(0)
                for k in ("start_ns", "end_ns", "processed", "reason", "rms", "n_modes")
            }
        return _read_columns(self.f["windows"])

    @_guarded
    def environment(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Environment per window: ``(names, start_ns (n,), values (n, n_vars))``."""
        if "environment" not in self.f or "values" not in self.f["environment"]:
            return [], np.zeros(0, np.int64), np.zeros((0, 0))
        names = json.loads(self.f["environment"].attrs["names"])
        return names, self.f["windows/start_ns"][()], self.f["environment/values"][()]

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
        cols = _read_columns(self.f["modes"])
        t = cols["window_start_ns"]
        keep = np.ones(t.size, bool)
        if start_ns is not None:
            keep &= t >= start_ns
        if end_ns is not None:
            keep &= t < end_ns
        return {k: v[keep] for k, v in cols.items()}

    @_guarded
    def _derived(self, name: str) -> dict[str, Any]:
        if name not in self.f:
            return {}
        g = self.f[name]
        out: dict[str, Any] = _read_columns(g)
        for k, v in g.attrs.items():
            out[k] = json.loads(v) if isinstance(v, str) and v[:1] in "[{" else v
        return out

    def tracks(self) -> dict[str, Any]:
        """Tracked modes: ``time_ns (n_w,), mode_ids, frequency/damping/mac (n_w, n_modes)
        with NaN where a mode was not found, shape (n_w, n_modes, n_ch) complex,
        ref_frequency (n_modes,), ref_shape (n_modes, n_ch)``."""
        return self._derived("tracks")

    def features(self) -> dict[str, Any]:
        """Compensated features: ``time_ns, predicted, residual (n_w, n_modes)``, model attrs."""
        return self._derived("features")

    def indices(self) -> dict[str, Any]:
        """Damage indices: ``time_ns, freq_shift_pct (n_w, n_modes), t2, t2_limits (3,),
        mac (n_w, n_modes), comac (n_ch,), level (n_w,)``."""
        return self._derived("indices")

    @_guarded
    def alarms(self) -> list[dict[str, Any]]:
        """Alarms as DESIGN.md alarm objects (time order)."""
        if "alarms" not in self.f or "time_ns" not in self.f["alarms"]:
            return []
        from bshm.timeutil import to_iso

        c = _read_columns(self.f["alarms"])
        out = []
        for i in np.argsort(c["time_ns"], kind="stable"):
            out.append(
                {
                    "time_ns": int(c["time_ns"][i]),
                    "time": to_iso(int(c["time_ns"][i])),
                    "level": int(c["level"][i]),
                    "index": str(c["index"][i]),
                    "value": float(c["value"][i]),
                    "threshold": float(c["threshold"][i]),
                    "mode": str(c["mode"][i]) or None,
                    "channel": str(c["channel"][i]) or None,
                    "message": str(c["message"][i]),
                }
            )
        return out

    @_guarded
    def fatigue(self) -> dict[str, dict[str, Any]]:
        """Per gauge: ``window_start_ns, window_end_ns, counts (n, n_bins), miner_damage (n,),
        range_edges (n_bins+1,), unit`` plus any extra attributes."""
        out: dict[str, dict[str, Any]] = {}
        if "fatigue" not in self.f:
            return out
        for gauge, g in self.f["fatigue"].items():
            d: dict[str, Any] = _read_columns(g)
            d.update({k: v for k, v in g.attrs.items()})
            out[gauge] = d
        return out

    @_guarded
    def channel_health(self) -> dict[str, np.ndarray]:
        """Channel-health rows: ``time_ns, channel, check, value, status, message``."""
        if "channel_health" not in self.f:
            return {}
        return _read_columns(self.f["channel_health"])

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
            return (k.decode() if isinstance(k, bytes) else k) == RESULTS_KIND
    except (OSError, RuntimeError):
        return False


def summarize(path: str | os.PathLike) -> dict[str, Any]:
    """What a results file holds, as a JSON-ready dict (for ``bshm inspect``)."""
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
        return {
            "schema_version": int(r.f.attrs["schema_version"]),
            "kind": RESULTS_KIND,
            "station": r.station,
            "files": [str(r.path)],
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
            "fatigue_gauges": sorted(r.fatigue()),
            "models": sorted(r.models()),
        }
