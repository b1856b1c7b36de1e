"""Export: any plot as PNG, any selection (the visible range) as CSV."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from bshm.errors import BshmError

log = logging.getLogger(__name__)


def export_png(target, path) -> Path:
    """Save a plot as PNG.

    Parameters
    ----------
    target : pyqtgraph GraphicsLayoutWidget, PlotWidget, PlotItem or QWidget
        What to save; a plain widget (e.g. a table) is grabbed as shown.
    path : path-like
        Output file (``.png`` added when missing).

    Raises
    ------
    bshm.errors.BshmError
        When the file cannot be written.
    """
    import pyqtgraph.exporters as pgx

    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_suffix(".png")
    item = None
    if hasattr(target, "ci"):  # GraphicsLayoutWidget
        item = target.ci
    elif hasattr(target, "getPlotItem"):
        item = target.getPlotItem()
    elif hasattr(target, "vb"):  # a PlotItem
        item = target
    ok = False
    if item is not None:
        exporter = pgx.ImageExporter(item)
        width = int(max(exporter.params["width"], 1200))
        exporter.params["width"] = width
        ok = exporter.export(str(path)) is not False and path.exists()
    else:
        ok = bool(target.grab().save(str(path), "PNG"))
    if not ok or not path.exists():
        raise BshmError(f"{path}: could not write the PNG (is the folder writable?)")
    return path


def iso_ms(times_ns: np.ndarray) -> np.ndarray:
    """ISO 8601 UTC strings (ms) for int64 ns times, vectorised."""
    return np.char.add(
        np.datetime_as_string(np.asarray(times_ns, dtype="datetime64[ns]"), unit="ms"), "Z"
    )


def export_csv(session, trace, start_ns: int, end_ns: int, path) -> tuple[Path, int]:
    """Write the visible range of a trace as CSV; returns (path, rows).

    Raw traces are re-read from the store so every time is exact (int64 ns
    and ISO UTC columns); an overview is written as per-block min/max.

    Raises
    ------
    bshm.errors.BshmError
        Nothing to export, or the file cannot be written.
    """
    path = Path(path)
    if path.suffix.lower() != ".csv":
        path = path.with_suffix(".csv")
    if trace is None:
        raise BshmError("nothing plotted to export")
    units = [session.channel_meta(trace.source, c).unit for c in trace.channels]
    if trace.kind == "raw":
        rec = session.read_record(trace.source, start_ns, end_ns, trace.channels)
        header = ["time_utc", "time_ns"] + [f"{c} [{u}]" for c, u in zip(trace.channels, units)]
        cols = [iso_ms(rec.times_ns), rec.times_ns.astype(str)]
        cols += [np.char.mod("%.7g", rec.data[:, i]) for i in range(rec.data.shape[1])]
        n = len(rec.times_ns)
    else:
        ok = np.isfinite(trace.t) & (trace.t >= start_ns / 1e9) & (trace.t < end_ns / 1e9)
        t_ns = (trace.t[ok][0::2] * 1e9).astype(np.int64)
        lo, hi = trace.y[ok][0::2], trace.y[ok][1::2]
        header = ["time_utc", "time_ns"]
        cols = [iso_ms(t_ns), t_ns.astype(str)]
        for i, (c, u) in enumerate(zip(trace.channels, units)):
            header += [f"{c} min [{u}]", f"{c} max [{u}]"]
            cols += [np.char.mod("%.7g", lo[:, i]), np.char.mod("%.7g", hi[:, i])]
        n = len(t_ns)
    if n == 0:
        raise BshmError("the visible range holds no samples to export")
    try:
        with open(path, "w", encoding="ascii", newline="\n") as fh:
            fh.write(",".join(header) + "\n")
            rows = np.column_stack(cols)
            for row in rows:
                fh.write(",".join(row) + "\n")
    except OSError as exc:
        raise BshmError(f"{path}: cannot write CSV ({exc.strerror})") from exc
    return path, n
