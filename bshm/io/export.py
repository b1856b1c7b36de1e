"""What ``bshm export`` writes: modes and time series as UFF, trends as CSV/JSON."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from bshm.errors import ConfigError, StoreError
from bshm.timeutil import to_iso

log = logging.getLogger(__name__)


def find_results(path: str | Path) -> Path:
    """A results file, given it or the data folder holding ``results/*_results.h5``.

    Raises
    ------
    bshm.errors.StoreError
        Nothing found.
    """
    p = Path(path)
    if p.is_dir():
        found = sorted(p.glob("results/*_results.h5")) or sorted(p.glob("*_results.h5"))
        if not found:
            raise StoreError(f"{p}: no results file (results/*_results.h5); run 'bshm analyze'")
        return found[0]
    if not p.exists():
        raise StoreError(f"{p}: results file not found")
    return p


def channel_metas(
    *,
    config: str | Path | None = None,
    raw: str | Path | None = None,
    results: Path | None = None,
) -> dict[str, Any]:
    """Channel metadata (location, direction, unit, quantity) by name.

    From the station config when given, else from the raw files (``raw``,
    else the data folder above ``results/``, else nothing).
    """
    if config is not None:
        from bshm.config import load_station

        st = load_station(config)
        return {c.name: c.meta() for _, c in st.iter_channels()}
    folder = (
        Path(raw) if raw is not None else (results.parent.parent if results is not None else None)
    )
    if folder is None:
        return {}
    cfg = folder / "station.toml"
    if raw is None and cfg.exists():
        return channel_metas(config=cfg)
    from bshm.store import open_raw

    try:
        with open_raw(folder) as r:
            return {c.name: c for info in r.sources.values() for c in info.channels}
    except StoreError as exc:
        if raw is not None:
            raise
        log.info("no raw files beside %s (%s): sensor geometry unknown", results, exc)
        return {}


def _modal_set(
    r: Any, at_ns: int | None
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, list[str], str]:
    tr = r.tracks()
    if not tr or "ref_frequency" not in tr:
        raise StoreError(f"{r.path}: no tracked modes yet (run 'bshm analyze' first)")
    ids = [x.decode() if isinstance(x, bytes) else str(x) for x in tr["mode_ids"]]
    chans = list(tr.get("channels") or r.channels)
    if at_ns is None:
        ref = r.models().get("reference") or {}
        damp = ref.get("damping")
        if damp is None:
            with np.errstate(all="ignore"):
                damp = (
                    np.nanmedian(np.asarray(tr["damping"], float), axis=0)
                    if np.isfinite(np.asarray(tr["damping"], float)).any()
                    else np.full(len(ids), np.nan)
                )
        return (
            ids,
            np.asarray(tr["ref_frequency"], float),
            np.asarray(damp, float),
            np.asarray(tr["ref_shape"]),
            chans,
            "reference modal set",
        )
    t = np.asarray(tr["time_ns"], np.int64)
    w = r.windows()
    starts, ends = np.asarray(w["start_ns"], np.int64), np.asarray(w["end_ns"], np.int64)
    i = int(np.searchsorted(t, at_ns, side="right")) - 1
    end = ends[starts == t[i]][0] if i >= 0 and (starts == t[i]).any() else None
    if i < 0 or end is None or at_ns >= end:
        near = to_iso(int(t[np.argmin(np.abs(t - at_ns))])) if t.size else "none"
        raise ConfigError(
            f"--time {to_iso(at_ns)}: not in a processed window "
            f"(nearest processed window starts {near})"
        )
    return (
        ids,
        np.asarray(tr["frequency"][i], float),
        np.asarray(tr["damping"][i], float),
        np.asarray(tr["shape"][i]),
        chans,
        f"window {to_iso(int(t[i]), digits=0)} .. {to_iso(int(end), digits=0)}",
    )


def export_uff(
    out: str | Path,
    *,
    results: str | Path | None = None,
    raw: str | Path | None = None,
    config: str | Path | None = None,
    at_ns: int | None = None,
    span: tuple[int, int] | None = None,
    source: str | None = None,
    channels: list[str] | None = None,
    complex_modes: bool = False,
) -> dict[str, Any]:
    """Write a Universal File: geometry (15), modes (55) and/or time series (58).

    Parameters
    ----------
    out : path
        The ``.unv``/``.uff`` file (written atomically).
    results : path, optional
        Results file or data folder: modes of the reference set, or of the
        window holding ``at_ns``.
    raw : path, optional
        Raw data folder: with ``span`` the time series of ``source``.
    config : path, optional
        Station config for the sensor geometry (default: the raw files).

    Returns
    -------
    dict
        ``{"out", "nodes", "modes", "series", "what", "notes"}``.
    """
    from bshm.io.uff_export import dataset_15, geometry, modes_55, series_58, write_uff
    from bshm.store.results import open_results

    sets: list[dict[str, Any]] = []
    mode_sets: list[dict[str, Any]] = []
    series: list[dict[str, Any]] = []
    what = []
    geo_channels: list[str] = []
    res = find_results(results) if results is not None else None
    metas = channel_metas(config=config, raw=raw, results=res)
    station = ""
    record = None
    if raw is not None and span is not None:
        record, station = _read_raw(raw, span, source, channels)
        geo_channels = list(record.channel_names)
    if res is not None:
        with open_results(res) as r:
            station = r.station or station
            ids, f, z, shapes, chans, label = _modal_set(r, at_ns)
        geo_channels = list(dict.fromkeys([*chans, *geo_channels]))
    if not geo_channels:
        raise ConfigError("nothing to export: give RESULTS, or --raw DIR with --time FROM..TO")
    geo = geometry(geo_channels, metas)
    sets.append(dataset_15(geo))
    if res is not None:
        sub = _sub_geometry(geo, chans)
        mode_sets = modes_55(
            sub,
            ids,
            f,
            z,
            shapes,
            complex_modes=complex_modes,
            title=f"bshm {station} {label}"[:80],
            when=label,
        )
        sets += mode_sets
        what.append(f"{len(mode_sets)} modes ({label})")
    if record is not None:
        series = series_58(
            _sub_geometry(geo, list(record.channel_names)), record, title=f"bshm {station}"
        )
        sets += series
        what.append(f"{len(series)} time series of {record.source}")
    path = write_uff(out, sets)
    return {
        "out": str(path),
        "nodes": len(geo.coords),
        "modes": len(mode_sets),
        "series": len(series),
        "what": what,
        "notes": geo.notes,
    }


def _sub_geometry(geo: Any, chans: list[str]) -> Any:
    from bshm.io.uff_export import Geometry

    return Geometry(list(chans), geo.node, geo.axis, geo.coords, geo.notes)


def _read_raw(
    raw: str | Path, span: tuple[int, int], source: str | None, channels: list[str] | None
) -> tuple[Any, str]:
    from bshm.store import open_raw

    with open_raw(raw) as r:
        names = list(r.sources)
        if source is None:
            source = next(
                (
                    n
                    for n in names
                    if any(c.quantity == "acceleration" for c in r.sources[n].channels)
                ),
                names[0],
            )
        if source not in names:
            raise ConfigError(f"--source {source!r}: not in {raw} (sources: {', '.join(names)})")
        try:
            rec = r.read(source, span[0], span[1], channels=channels)
        except ValueError as exc:
            raise ConfigError(f"--channels: {exc}") from None
        station = r.station or ""
    if rec.n_samples == 0:
        raise ConfigError(
            f"--time {to_iso(span[0])}..{to_iso(span[1])}: no samples of {source!r} in this period"
        )
    return rec, station


def parse_span(text: str) -> tuple[int | None, tuple[int, int] | None]:
    """``--time``: one time (a window) or ``FROM..TO`` (a period)."""
    from bshm.timeutil import parse_time

    try:
        if ".." in text:
            a, b = (parse_time(x) for x in text.split("..", 1))
            if b <= a:
                raise ConfigError(f"--time {text!r}: the end must be after the start")
            return None, (a, b)
        return parse_time(text), None
    except ValueError as exc:
        raise ConfigError(f"--time: {exc}") from None


def dumps(obj: Any) -> str:
    """JSON text (for ``--json``)."""
    return json.dumps(obj, indent=1)
