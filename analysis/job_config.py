"""Settings of the analysis job: from a station config, or inferred from the raw files."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bshm.analysis.tracking import TrackSettings
from bshm.analysis.windows import QualitySettings, WindowConfig

from bshm.errors import ConfigError

log = logging.getLogger(__name__)

DAY_NS = 86_400 * 1_000_000_000


@dataclass(frozen=True)
class JobSettings:
    """Everything the job needs (built by :func:`resolve_settings`).

    Attributes
    ----------
    station : str
    data_dir : Path
    window : WindowConfig
    overlap : float
    temperatures : tuple of str
        Environmental variables used for compensation (empty: PCA model).
    baseline : (int or None, int or None)
        Explicit baseline (ns); ``None`` ends use ``baseline_days``.
    baseline_days : float
    feed : Path
    persistence_k, persistence_n : int
        Raise an alarm state when ``persistence_k`` of the last
        ``persistence_n`` assessable windows reach a level.
    clear_m, clear_n : int
        Lower it when ``clear_m`` of the last ``clear_n`` assessable windows
        are below the clear limit.
    interrupted_after_s : float
        No assessable window (or no new raw data) for this long raises a
        "monitoring interrupted" alarm (0: never).
    frequency_shift_pct, novelty_alpha, mac_drop : tuple of 3 float
    lags_h : tuple of float
        Temperature lags offered to the regression (hours).
    average_windows : int
        Windows averaged by the smoothed indices (``t2_avg`` and the
        frequency shift): 12 = 36 h of 3-hourly records, 12 h of hourly ones.
    inferred : bool
        True when no station config was found and the settings were inferred.
    notes : list of str
        What was inferred, for the user.
    station_cfg : bshm.config.Station or None
        The loaded station config (None when inferred).
    """

    station: str
    data_dir: Path
    window: WindowConfig
    overlap: float = 0.0
    temperatures: tuple[str, ...] = ()
    baseline: tuple[int | None, int | None] = (None, None)
    baseline_days: float = 14.0
    feed: Path = Path("alarms.jsonl")
    persistence_k: int = 3
    persistence_n: int = 5
    clear_m: int = 10
    clear_n: int = 12
    interrupted_after_s: float = 86400.0
    frequency_shift_pct: tuple[float, float, float] = (1.0, 2.0, 4.0)
    novelty_alpha: tuple[float, float, float] = (1e-2, 1e-3, 1e-4)
    mac_drop: tuple[float, float, float] = (0.05, 0.10, 0.20)
    lags_h: tuple[float, ...] = (3.0,)
    average_windows: int = 12
    tracking: TrackSettings = field(default_factory=TrackSettings)
    channel_x: tuple[float, ...] = ()
    inferred: bool = False
    notes: tuple[str, ...] = ()
    station_cfg: Any = None

    def fingerprint(self) -> dict[str, Any]:
        """The settings that determine the per-window results (stored with them)."""
        w = self.window
        return {
            "source": w.source,
            "channels": list(w.channels),
            "window_s": w.window_s,
            "overlap": self.overlap,
            "decimate_to_hz": w.decimate_to_hz,
            "freq_min_hz": w.freq_min_hz,
            "freq_max_hz": w.freq_max_hz,
            "method": w.method,
            "max_order": w.max_order,
            "time_lag": w.time_lag,
        }


def parse_baseline(text: str | None) -> tuple[int | None, int | None]:
    """Parse ``FROM..TO`` (ISO 8601 times or dates; either side may be empty).

    Raises
    ------
    ConfigError
        If the text is not of that form.
    """
    from bshm.timeutil import parse_time

    if text is None:
        return (None, None)
    if ".." not in text:
        raise ConfigError(f"--baseline {text!r}: use FROM..TO, e.g. 2026-01-01..2026-01-15")
    a, b = text.split("..", 1)
    try:
        s = parse_time(a) if a.strip() else None
        e = parse_time(b) if b.strip() else None
    except ValueError as exc:
        raise ConfigError(f"--baseline: {exc}") from None
    if s is not None and e is not None and e <= s:
        raise ConfigError(f"--baseline {text!r}: the end must be after the start")
    return (s, e)


def _from_station(st, data_dir: Path, reader, notes: list[str]) -> dict[str, Any]:
    a = st.analysis
    src = a.source
    if src is None:
        for s in st.sources:
            if any(c.quantity == "acceleration" for c in s.channels):
                src = s.name
                break
    if src is None or src not in reader.sources:
        raise ConfigError(
            f"{st.path}: analysis.source: no acceleration source "
            f"{src!r} in the raw files (sources: {', '.join(reader.sources)})"
        )
    info = reader.sources[src]
    chans = tuple(a.channels) or tuple(
        c.name for c in info.channels if c.quantity == "acceleration"
    )
    temps = (a.temperature,) if a.temperature else ()
    al = st.alarms
    return {
        "station": st.name,
        "source": src,
        "channels": chans,
        "temperatures": temps,
        "a": a,
        "feed": Path(al.feed),
        "alarms": al,
    }


def resolve_settings(
    data_dir: str | Path,
    *,
    station: Any = None,
    config: str | Path | None = None,
    baseline: str | tuple[int | None, int | None] | None = None,
) -> JobSettings:
    """Build the job settings.

    Parameters
    ----------
    data_dir : str or Path
        Folder of the raw files.
    station : bshm.config.Station or path, optional
        A loaded station, or the path of its config.
    config : path, optional
        Station config file (same as a path in ``station``).
    baseline : str ``FROM..TO`` or (start_ns, end_ns), optional
        Overrides the baseline of the config.

    Returns
    -------
    JobSettings

    Raises
    ------
    ConfigError
        Unreadable config, or raw files without acceleration channels.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ConfigError(f"{data_dir}: no such folder (DATA_DIR must hold the raw HDF5 files)")
    notes: list[str] = []
    if station is None:
        cfg_path = Path(config) if config else data_dir / "station.toml"
        if config or cfg_path.exists():
            from bshm import load_station

            station = load_station(cfg_path)
    elif isinstance(station, (str, Path)):
        from bshm import load_station

        station = load_station(station)
    from bshm.analysis.job_files import listing, open_files

    from bshm.errors import StoreError

    files = None
    if station is not None:
        # the sources and channels are in every file of a configured station: the
        # newest files are enough (opening a year of hourly files is not)
        newest = [Path(p) for p, _ in listing(data_dir)[-2:]]
        if newest:
            with open_files(data_dir, newest) as r:
                if all(src.name in r.sources for src in station.sources):
                    files = newest
    from contextlib import ExitStack

    with ExitStack() as stack:
        try:
            reader = stack.enter_context(open_files(data_dir, files))
        except StoreError as exc:
            raise ConfigError(f"{data_dir}: cannot read raw files: {exc}") from exc
        if station is not None:
            d = _from_station(station, data_dir, reader, notes)
        else:
            d = _infer(data_dir, reader, notes)
        info = reader.sources[d["source"]]
        missing = [c for c in d["channels"] if c not in info.channel_names]
        if missing:
            raise ConfigError(
                f"analysis.channels: {', '.join(missing)} not in source "
                f"{d['source']!r} (channels: {', '.join(info.channel_names)})"
            )
        meta = {c.name: c for c in info.channels}
        xs = tuple(float(meta[c].location[0]) for c in d["channels"])
        ranges = tuple(_valid_range(station, meta[c]) for c in d["channels"])
        env = []
        for t in d["temperatures"]:
            for sname, sinfo in reader.sources.items():
                if t in sinfo.channel_names:
                    env.append((sname, t))
                    break
            else:
                notes.append(
                    f"temperature channel {t!r} is not in the raw files: "
                    "using the output-only PCA model"
                )
        used = [n for _, n in env]
        for sname, sinfo in reader.sources.items():  # other temperatures: stored, not regressed
            env += [
                (sname, c.name)
                for c in sinfo.channels
                if c.quantity == "temperature" and c.name not in used
            ]
        env_meta = {
            ch: _valid_range(station, {c.name: c for c in reader.sources[sname].channels}[ch])
            for sname, ch in env
        }
    a = d["a"]
    win = WindowConfig(
        str(data_dir),
        d["source"],
        tuple(d["channels"]),
        tuple(env),
        a.window_s,
        a.decimate_to_hz,
        a.freq_min_hz,
        a.freq_max_hz,
        a.method,
        a.max_order,
        a.time_lag,
        QualitySettings(),
        ranges,
        tuple(env_meta[n] for _, n in env),
    )
    bl: tuple[int | None, int | None] = (a.baseline_start_ns, a.baseline_end_ns)
    if baseline is not None:
        bl = parse_baseline(baseline) if isinstance(baseline, str) else (baseline[0], baseline[1])
    al = d["alarms"]
    kw = {}
    if al is not None:
        kw = {
            "persistence_k": al.persistence_k,
            "persistence_n": al.persistence_n,
            "frequency_shift_pct": tuple(al.frequency_shift_pct),
            "novelty_alpha": tuple(al.novelty_alpha),
            "mac_drop": tuple(al.mac_drop),
            "clear_m": al.clear_m,
            "clear_n": al.clear_n,
            "interrupted_after_s": al.interrupted_after_s,
        }
    return JobSettings(
        d["station"],
        data_dir,
        win,
        a.overlap,
        tuple(n for _, n in env if n in d["temperatures"]),
        bl,
        a.baseline_days,
        d["feed"],
        channel_x=xs,
        inferred=station is None,
        notes=tuple(notes),
        station_cfg=station,
        **kw,
    )


def _infer(data_dir: Path, reader, notes: list[str]) -> dict[str, Any]:
    from bshm.config import AnalysisSettings

    src = None
    for name, info in reader.sources.items():
        if any(c.quantity == "acceleration" for c in info.channels):
            src = name
            break
    if src is None:
        raise ConfigError(
            f"{data_dir}: no station.toml and no acceleration channel in the raw "
            "files; give --config station.toml"
        )
    info = reader.sources[src]
    chans = tuple(c.name for c in info.channels if c.quantity == "acceleration")
    temps = []
    for sinfo in reader.sources.values():
        temps += [c.name for c in sinfo.channels if c.quantity == "temperature"]
    temps = temps[:1]
    notes.append(
        f"no station.toml in {data_dir}: inferred the settings from the raw files "
        f"(source {src!r}, channels {', '.join(chans)}, temperature "
        f"{temps[0] if temps else 'none (PCA model)'}, 600 s windows, "
        "baseline = the first 14 days)"
    )
    return {
        "station": reader.station or data_dir.name,
        "source": src,
        "channels": chans,
        "temperatures": tuple(temps),
        "a": AnalysisSettings(),
        "feed": data_dir / "alarms.jsonl",
        "alarms": None,
    }


def _valid_range(station: Any, meta: Any) -> tuple[float, float] | None:
    """Plausible range of a channel: the station config's, else the quantity's default."""
    from bshm.analysis.health import valid_range_of

    if station is not None:
        try:
            _, ch = station.channel(meta.name)
        except KeyError:
            ch = None
        if ch is not None:
            return valid_range_of(ch)
    return valid_range_of(meta)
