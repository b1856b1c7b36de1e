"""What a raw file or folder (or a results file) holds: ``bshm inspect``.

:func:`summarize` returns a JSON-ready dict (the ``bshm inspect --json``
contract, also used by the viewer and the demo); :func:`format_text` turns
it into the human summary.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bshm.errors import StoreError
from bshm.store import schema as S
from bshm.timeutil import NS_PER_S, to_iso


def _file_kind(path: Path) -> str:
    """``bshm_kind`` of an HDF5 file ("" when absent or unreadable)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            k = f.attrs.get(S.ATTR_KIND, "")
    except (OSError, RuntimeError, ValueError):
        return ""
    return k.decode() if isinstance(k, bytes) else str(k)


def _merged_total(gaps: list[S.Gap]) -> int:
    """Total time (ns) covered by gaps, overlaps counted once."""
    spans = sorted((g.start_ns, g.end_ns) for g in gaps)
    total = 0
    if not spans:
        return total
    cur_s, cur_e = spans[0]
    for a, b in spans[1:]:
        if a > cur_e:
            total += cur_e - cur_s
            cur_s, cur_e = a, b
        else:
            cur_e = max(cur_e, b)
    return total + cur_e - cur_s


def summarize(path: str | os.PathLike, *, records: bool = True) -> dict[str, Any]:
    """Summarise a raw file, a folder of raw files, or a results file.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.h5``/``.h5.part`` raw file, a folder of them, or a results file
        (root attribute ``bshm_kind == "results"``).
    records : bool, optional
        Count the contiguous runs of each source (reads every block table).

    Returns
    -------
    dict
        For raw data: ``{"schema_version", "kind": "raw", "station", "path",
        "start_ns", "end_ns", "start", "end", "files": [path, ...],
        "file_info": [...], "skipped": [...], "damaged": [{"file", "reason"}],
        "excluded": [{"file", "kind", "source", "kept", "start_ns", "end_ns",
        "reason"}], "sources": [{"name", "kind", "fs",
        "timing", "samples", "start_ns", "end_ns", "start", "end", "gaps",
        "gap_total_s", "counters", "channels": [{"name", "quantity", "unit",
        ...}], "records"}]}``. Times are int64 ns and ISO 8601 UTC strings;
        ``end_ns`` is the last sample's time. A results file gives
        :func:`bshm.store.results.summarize`'s dict.

    Raises
    ------
    bshm.errors.StoreError
        Nothing readable at ``path``.
    """
    p = Path(path)
    if p.is_file() and _file_kind(p) == "results":
        try:
            from bshm.store import results
        except ImportError:
            raise StoreError(f"{p}: a results file, and this bshm cannot read results") from None
        fn = getattr(results, "summarize", None)
        if fn is None:
            raise StoreError(f"{p}: a results file, and this bshm cannot summarise results")
        return fn(p)
    from bshm.store.reader import open_raw

    with open_raw(p) as r:
        return _summarize_raw(r, records)


def _summarize_raw(r: Any, with_records: bool) -> dict[str, Any]:
    sums = r.summaries()
    problems = r.problems()
    sources = []
    for name, info in r.sources.items():
        n = r.n_samples(name)
        start = end = None
        if n:
            start, end = r.span(name)
        gaps = r.gaps(name)
        src: dict[str, Any] = {
            "name": name,
            "kind": info.kind,
            "fs": info.fs,
            "timing": info.timing,
            "samples": n,
            "start_ns": start,
            "end_ns": end,
            "start": to_iso(start) if start is not None else None,
            "end": to_iso(end) if end is not None else None,
            "gaps": len(gaps),
            "gap_total_s": _merged_total(gaps) / NS_PER_S,
            "counters": r.counters(name),
            "channels": [
                {"name": c.name, "quantity": c.quantity, "unit": c.unit,
                 "location": [None if v != v else v for v in c.location],
                 "direction": c.direction, "calibration": c.calibration}
                for c in info.channels
            ],
        }
        if with_records:
            src["records"] = len(r.records(name)) if n else 0
        sources.append(src)
    starts = [s["start_ns"] for s in sources if s["start_ns"] is not None]
    ends = [s["end_ns"] for s in sources if s["end_ns"] is not None]
    t0 = min(starts) if starts else None
    t1 = max(ends) if ends else None
    return {
        "schema_version": max((s.version for s in sums), default=S.SCHEMA_VERSION),
        "kind": S.KIND,
        "station": r.station,
        "path": str(r.path),
        "start_ns": t0,
        "end_ns": t1,
        "start": to_iso(t0) if t0 is not None else None,
        "end": to_iso(t1) if t1 is not None else None,
        "files": [str(s.path) for s in sums],
        "file_info": [
            {"path": str(s.path), "start_ns": s.start_ns, "start": to_iso(s.start_ns),
             "live": s.live, "size_bytes": s.stat[1], "schema_version": s.version}
            for s in sums
        ],
        "skipped": [{"path": str(p), "reason": why} for p, why in r.skipped],
        "damaged": [{"file": x["file"], "reason": x["reason"]} for x in problems
                    if x["kind"] == "damaged"],
        "excluded": [x for x in problems if x["kind"] in ("overlap", "duplicate")],
        "sources": sources,
    }


def _duration(ns: int) -> str:
    s = ns / NS_PER_S
    if s < 120:
        return f"{s:.3g} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def format_text(summary: dict[str, Any], *, max_files: int = 10) -> str:
    """Human-readable text of a :func:`summarize` dict."""
    if summary.get("kind") != S.KIND:
        return _format_generic(summary)
    out = [f"station   {summary['station']}   (raw schema {summary['schema_version']})"]
    files = summary["file_info"]
    live = sum(f["live"] for f in files)
    span = ""
    if summary["start_ns"] is not None:
        span = f"  {summary['start']} .. {summary['end']}"
    out.append(f"files     {len(files)}" + (f" ({live} live)" if live else "") + span)
    half = max_files // 2
    shown = files if len(files) <= max_files else files[:half] + [None] + files[-half:]
    for f in shown:
        if f is None:
            out.append(f"          ... {len(files) - 2 * (max_files // 2)} more ...")
            continue
        out.append(f"          {Path(f['path']).name}  {f['size_bytes'] / 1e6:.2f} MB")
    damaged = {d["file"] for d in summary.get("damaged", [])}
    for sk in summary["skipped"]:
        tag = "DAMAGED " if sk["path"] in damaged else "skipped "
        out.append(f"{tag}  {sk['reason']}")
    for ex in summary.get("excluded", []):
        out.append(f"excluded  {ex['reason']}")
    for s in summary["sources"]:
        out.append("")
        out.append(f"source {s['name']}  ({s['kind']}, {s['timing']}, {s['fs']:g} Hz, "
                   f"{len(s['channels'])} channels)")
        if s["samples"]:
            out.append(f"  samples   {s['samples']}  {s['start']} .. {s['end']}  "
                       f"({_duration(s['end_ns'] - s['start_ns'])})")
        else:
            out.append("  samples   0")
        chans = ", ".join(f"{c['name']} [{c['unit']}]" for c in s["channels"])
        out.append(f"  channels  {chans}")
        out.append(f"  gaps      {s['gaps']}" + (f"  ({s['gap_total_s']:.6g} s in total)"
                                                  if s["gaps"] else ""))
        if "records" in s:
            out.append(f"  records   {s['records']} contiguous run(s)")
        cnt = " ".join(f"{k}={v}" for k, v in s["counters"].items())
        out.append(f"  counters  {cnt or '-'}")
    return "\n".join(out)


def _format_generic(d: dict[str, Any], indent: str = "") -> str:
    lines = []
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(f"{indent}{k}:")
            lines.append(_format_generic(v, indent + "  "))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            lines.append(f"{indent}{k}:")
            for item in v:
                lines.append(indent + "  - " + ", ".join(f"{a}={b}" for a, b in item.items()))
        else:
            lines.append(f"{indent}{k}: {v}")
    return "\n".join(x for x in lines if x)
