"""Read every chunk of every file of a store: ``bshm inspect --verify``.

Raw and results datasets carry a Fletcher32 checksum per chunk, so reading
a chunk tells whether its bytes are still those that were written.
:func:`verify` reads every attribute and every chunk of every dataset of
a raw file, a results file, or a data folder (its ``*.h5`` and
``*.h5.part`` files and ``results/*.h5``) and reports what fails: the
file, the dataset, the rows and, for samples, their time span. Files
written before checksums existed are read too, and listed as unverifiable
(damage in their data cannot be detected).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import h5py

from bshm.errors import StoreError
from bshm.store import schema as S
from bshm.store.h5io import open_read, short
from bshm.timeutil import to_iso

log = logging.getLogger(__name__)


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = sorted(p for p in path.iterdir() if S.is_raw_name(p) and p.is_file())
    res = path / "results"
    if res.is_dir():
        found += sorted(p for p in res.iterdir() if p.name.endswith(".h5") and p.is_file())
    return found


def verify(path: str | os.PathLike) -> dict[str, Any]:
    """Verify a file or a data folder.

    Parameters
    ----------
    path : str or os.PathLike
        A raw or results file, or a data folder.

    Returns
    -------
    dict
        ``{"path", "ok", "files": [{"file", "kind", "ok", "datasets",
        "chunks", "checksums", "problems": [...]}], "damaged": [{"file",
        "dataset", "rows", "start_ns", "end_ns", "start", "end",
        "reason"}], "unverifiable": [file, ...]}``. ``ok`` is False when
        any file or chunk is damaged.

    Raises
    ------
    bshm.errors.StoreError
        ``path`` does not exist or holds no HDF5 file.
    """
    p = Path(path)
    if not p.exists():
        raise StoreError(f"{p}: no such file or folder")
    files = _files(p)
    if not files:
        raise StoreError(f"{p}: no HDF5 files to verify (*.h5, *.h5.part, results/*.h5)")
    reports = [verify_file(f) for f in files]
    damaged = [dict(file=r["file"], **x) for r in reports for x in r["problems"]]
    return {
        "path": str(p),
        "ok": not damaged,
        "files": reports,
        "damaged": damaged,
        "unverifiable": [r["file"] for r in reports if r["ok"] and not r["checksums"]],
    }


def verify_file(path: Path) -> dict[str, Any]:
    """Read every attribute and chunk of one file (see :func:`verify`)."""
    out: dict[str, Any] = {"file": str(path), "kind": "", "ok": True, "datasets": 0,
                           "chunks": 0, "checksums": True, "problems": []}
    try:
        f, _ = open_read(path)
    except (OSError, RuntimeError, ValueError) as exc:
        out.update(ok=False, checksums=False)
        out["problems"].append({"dataset": None, "reason": f"cannot open: {short(exc)}"})
        return out
    try:
        with f:
            k = f.attrs.get(S.ATTR_KIND, "")
            out["kind"] = k.decode() if isinstance(k, bytes) else str(k)
            _visit(f, out)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        out["problems"].append({"dataset": None, "reason": f"cannot read: {short(exc)}"})
    out["ok"] = not out["problems"]
    if out["problems"]:
        log.warning("%s: %d damaged part(s)", path, len(out["problems"]))
    return out


def _visit(f: h5py.File, out: dict[str, Any]) -> None:
    names: list[str] = []

    def collect(name: str, obj: Any) -> None:
        names.append(name)

    _read_attrs(f, "/", out)
    f.visititems(collect)
    for name in names:
        try:
            obj = f[name]
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            out["problems"].append({"dataset": name, "reason": f"cannot open: {short(exc)}"})
            continue
        _read_attrs(obj, name, out)
        if isinstance(obj, h5py.Dataset):
            _read_dataset(f, obj, name, out)


def _read_attrs(obj: Any, name: str, out: dict[str, Any]) -> None:
    try:
        for key in list(obj.attrs):
            obj.attrs[key]
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        out["problems"].append({"dataset": name, "reason": f"attributes: {short(exc)}"})


def _read_dataset(f: h5py.File, ds: h5py.Dataset, name: str, out: dict[str, Any]) -> None:
    out["datasets"] += 1
    if ds.chunks is None:
        try:
            ds[()]
        except (OSError, RuntimeError, ValueError) as exc:
            out["problems"].append({"dataset": name, "reason": short(exc)})
        return
    if not ds.fletcher32:
        out["checksums"] = False
    if ds.size == 0:
        return
    bad: list[tuple[int, int, str]] = []
    for sel in ds.iter_chunks():
        out["chunks"] += 1
        try:
            ds[sel]
        except (OSError, RuntimeError, ValueError) as exc:
            r = sel[0] if isinstance(sel, tuple) else sel
            bad.append((int(r.start or 0), int(r.stop), short(exc)))
    for r0, r1, why in bad:
        item: dict[str, Any] = {"dataset": name, "rows": [r0, r1 - 1],
                                "reason": f"chunk failed its checksum ({why})"}
        item.update(_span(f, name, r0, r1))
        out["problems"].append(item)


def _span(f: h5py.File, name: str, r0: int, r1: int) -> dict[str, Any]:
    """Time span of damaged rows of a raw source's data (empty otherwise)."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != S.SOURCES_GROUP or parts[2] != S.DATA:
        return {}
    from bshm.store.fileindex import OpenFile, _source_info, row_span

    try:
        info = _source_info(parts[1], f[S.SOURCES_GROUP][parts[1]])
        span = row_span(OpenFile(Path(f.filename), f), info, r0, r1)
    except (OSError, RuntimeError, KeyError, ValueError, StoreError):
        return {}
    if span is None:
        return {}
    return {"source": parts[1], "start_ns": span[0], "end_ns": span[1],
            "start": to_iso(span[0]), "end": to_iso(span[1])}


def format_text(report: dict[str, Any]) -> str:
    """Human-readable text of a :func:`verify` report."""
    files = report["files"]
    chunks = sum(r["chunks"] for r in files)
    n_bad = len({d["file"] for d in report["damaged"]})
    lines = [f"verified {len(files)} file(s), {chunks} chunk(s): "
             + ("no damage found" if report["ok"] else f"{n_bad} damaged file(s)")]
    for d in report["damaged"]:
        where = Path(d["file"]).name
        if d.get("dataset"):
            where += f": {d['dataset']}"
        if d.get("rows"):
            where += f" rows {d['rows'][0]}..{d['rows'][1]}"
        if d.get("start"):
            where += f" ({d['start']} .. {d['end']})"
        lines.append(f"  DAMAGED {where}: {d['reason']}")
    for u in report["unverifiable"]:
        lines.append(f"  no checksums: {Path(u).name} (written before checksums: damage in "
                     "its data cannot be detected)")
    return "\n".join(lines)
