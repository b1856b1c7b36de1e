"""Bring data from other loggers (CSV here; TDMS, MiniSEED, UFF 58, TOA5 via
:mod:`bshm.io`) into the raw store.

A CSV file has a header row, a first column ``time`` and one column per
channel. The time column holds either ISO 8601 UTC times (fractional
seconds allowed) or seconds since the record's start; the start then comes
from the file name (e.g. ``rec_2026-03-01T12-00-00.csv`` or
``20260301T120000.csv``) or from ``start_ns``.

Every file is parsed and checked before anything is written, so a
malformed row (reported with file and line number) leaves the store
untouched.
"""

from __future__ import annotations

import csv
import logging
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bshm.config import QUANTITIES
from bshm.errors import BshmError, ConfigError
from bshm.timeutil import NS_PER_S, parse_time, to_iso

log = logging.getLogger(__name__)

_NAME_TIME = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})[T_ \-]?(\d{2})[:\-]?(\d{2})[:\-]?(\d{2})(?:[.,](\d{1,9}))?"
)
#: Relative tolerance on the sampling interval before a file is called irregular.
REGULARITY_TOL = 0.01


class CsvImportError(BshmError):
    """A file cannot be imported (message names the file and line)."""


@dataclass
class ChannelInfo:
    """What the user told us about one CSV column."""

    name: str
    quantity: str = "other"
    unit: str = ""
    location: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    direction: str = ""


@dataclass
class ParsedFile:
    """One checked, regularly sampled record (a CSV file, or a segment of another format).

    ``meta`` holds what the file itself says about its channels (readers of
    ``bshm.io``); ``--quantity``/``--unit``/``--channels`` override it.
    """

    path: Path
    times_ns: np.ndarray
    data: np.ndarray
    channels: list[str]
    fs: float = field(default=0.0)
    meta: dict[str, ChannelInfo] = field(default_factory=dict)
    origin: str = "CSV"


def start_from_name(path: Path) -> int | None:
    """The record start encoded in a file name, or None."""
    m = _NAME_TIME.search(path.stem)
    if not m:
        return None
    y, mo, d, h, mi, s, frac = m.groups()
    text = f"{y}-{mo}-{d}T{h}:{mi}:{s}" + (f".{frac}" if frac else "") + "Z"
    try:
        return parse_time(text)
    except ValueError:
        return None


def _parse_time_column(
    path: Path, values: list[str], first_line: int, start_ns: int | None
) -> np.ndarray:
    """Times in ns from a column of ISO times or of relative seconds."""
    try:
        rel = np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        rel = None
    if rel is not None:
        start = start_ns if start_ns is not None else start_from_name(path)
        if start is None:
            raise CsvImportError(
                f"{path}: the time column holds seconds since the record start, but the "
                "start is unknown: put it in the file name (e.g. rec_2026-03-01T12-00-00.csv) "
                "or give --start"
            )
        bad = np.flatnonzero(~np.isfinite(rel))
        if bad.size:
            raise CsvImportError(
                f"{path}:{first_line + int(bad[0])}: time {values[bad[0]]!r} is not finite"
            )
        return start + np.round(rel * NS_PER_S).astype(np.int64)
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        try:
            out[i] = parse_time(v)
        except ValueError:
            raise CsvImportError(
                f"{path}:{first_line + i}: time {v!r} is neither ISO 8601 "
                "(2026-03-01T12:00:00.010Z) nor seconds since the record start"
            ) from None
    return out


def parse_csv(path: Path, *, start_ns: int | None = None, fs: float | None = None) -> ParsedFile:
    """Read and check one CSV file.

    Raises
    ------
    CsvImportError
        For a missing header, a row with the wrong number of columns, a
        value that is not a number, times that go back or are irregular;
        the message names the file and line.
    """
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CsvImportError(f"{path}: cannot open ({exc.strerror})") from None
    with fh:
        sample = fh.read(4096)
        fh.seek(0)
        delim = ";" if sample.count(";") > sample.count(",") else ","
        reader = csv.reader(fh, delimiter=delim)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise CsvImportError(f"{path}: empty file") from None
        except UnicodeDecodeError:
            raise CsvImportError(f"{path}: not a UTF-8 text file") from None
        if len(header) < 2 or header[0].lower() != "time":
            raise CsvImportError(
                f"{path}:1: the header must start with a 'time' column followed by one "
                f"column per channel (found {header[:4]})"
            )
        names = header[1:]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes or any(not n for n in names):
            raise CsvImportError(f"{path}:1: channel names must be unique and non-empty")
        times_txt: list[str] = []
        rows: list[list[float]] = []
        try:
            for line_no, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise CsvImportError(
                        f"{path}:{line_no}: {len(row)} columns, the header has {len(header)}"
                    )
                times_txt.append(row[0].strip())
                vals = []
                for col, cell in enumerate(row[1:], start=1):
                    c = cell.strip()
                    if c == "" or c.lower() in ("nan", "na", "null"):
                        vals.append(math.nan)
                        continue
                    try:
                        vals.append(float(c))
                    except ValueError:
                        raise CsvImportError(
                            f"{path}:{line_no}: column {header[col]!r}: {c!r} is not a number"
                        ) from None
                rows.append(vals)
        except UnicodeDecodeError:
            raise CsvImportError(f"{path}: not a UTF-8 text file") from None
        except csv.Error as exc:
            raise CsvImportError(f"{path}:{reader.line_num}: {exc}") from None
    if len(rows) < 2:
        raise CsvImportError(f"{path}: needs at least 2 data rows, found {len(rows)}")
    times = _parse_time_column(path, times_txt, 2, start_ns)
    dt = np.diff(times)
    if np.any(dt <= 0):
        i = int(np.flatnonzero(dt <= 0)[0])
        raise CsvImportError(f"{path}:{i + 3}: time does not increase ({times_txt[i + 1]!r})")
    if fs is None:
        step = float(np.median(dt))
        fs = NS_PER_S / step
    step = NS_PER_S / fs
    irregular = np.flatnonzero(np.abs(dt - step) > REGULARITY_TOL * step)
    if irregular.size:
        i = int(irregular[0])
        raise CsvImportError(
            f"{path}:{i + 3}: sampling is irregular (step {dt[i] / 1e6:.3f} ms, expected "
            f"{step / 1e6:.3f} ms); resample it first or give --fs"
        )
    data = np.asarray(rows, dtype=np.float32)
    return ParsedFile(path=path, times_ns=times, data=data, channels=names, fs=fs)


def read_sidecar(path: Path) -> dict[str, ChannelInfo]:
    """Channel descriptions from a small TOML file::

    [channels.A1]
    quantity = "acceleration"
    unit = "m/s2"
    location = 12.5
    """
    from bshm._validate import Table, Validator

    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read channel file: {exc}", str(path)) from None
    v = Validator()
    root = Table(doc, "")
    chans = v.table(root, "channels", required=True)
    out: dict[str, ChannelInfo] = {}
    for name in list(chans.data):
        t = v.table(chans, name)
        q = v.choice(t, "quantity", QUANTITIES, default="other") or "other"
        u = v.string(t, "unit", default="") or ""
        loc = v.location(t, "location")
        v.no_unknown(t)
        out[name] = ChannelInfo(name, q, u, loc)
    v.no_unknown(root)
    if v.problems:
        raise ConfigError(v.problems, str(path))
    return out


def parse_assignments(items: Sequence[str], what: str) -> dict[str, str]:
    """``["A1=acceleration", ...]`` -> ``{"A1": "acceleration"}``."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigError(f"--{what} {item!r}: use NAME={what.upper()}, e.g. A1=m/s2")
        out[name.strip()] = value.strip()
    return out


def collect_files(inputs: Sequence[str | Path], fmt: str | None = None) -> list[Path]:
    """Files named directly or found in the folders given (by the format's extensions)."""
    from bshm.io import folder_files

    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found, what = folder_files(p, fmt)
            if not found:
                raise CsvImportError(f"{p}: no {what} files in this folder")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise CsvImportError(f"{p}: no such file or folder")
    return files


def _merged_info(user: ChannelInfo | None, file: ChannelInfo | None, name: str) -> ChannelInfo:
    """What the user said about a channel, completed by what the file says."""
    u = user or ChannelInfo(name)
    f = file or ChannelInfo(name)
    return ChannelInfo(
        name,
        u.quantity if u.quantity != "other" else f.quantity,
        u.unit or f.unit,
        u.location if not all(math.isnan(x) for x in u.location) else f.location,
        u.direction or f.direction,
    )


def import_csv(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    station: str,
    source: str = "import",
    channels: Mapping[str, ChannelInfo] | None = None,
    start_ns: int | None = None,
    fs: float | None = None,
    rollover_s: float = 3600.0,
    fmt: str | None = None,
    reader_options: Mapping[str, Any] | None = None,
) -> dict:
    """Import CSV files (or any format of :mod:`bshm.io`) into the raw store in ``out_dir``.

    Every file is checked before anything is written. Files must share the
    same channels and sampling rate; the time between consecutive files
    (beyond one sample) is recorded as a gap. ``fmt`` forces a format
    (default: from each file's extension); ``reader_options`` go to the
    format's reader (see :func:`bshm.io.read_segments`).

    Returns
    -------
    dict
        ``{"files", "samples", "fs", "channels", "start", "end", "gaps"}``.
    """
    from bshm.io import read_segments

    _check_info(channels)
    paths = collect_files(inputs, fmt)
    if start_ns is not None and len(paths) > 1:
        log.info("--start applies to every file whose name holds no time")
    parsed = [
        seg
        for p in paths
        for seg in read_segments(p, fmt=fmt, start_ns=start_ns, fs=fs, **(reader_options or {}))
    ]
    return import_parsed(
        parsed, out_dir, station=station, source=source, channels=channels, rollover_s=rollover_s
    )


def _check_info(channels: Mapping[str, ChannelInfo] | None) -> None:
    for name, ci in (channels or {}).items():
        if ci.quantity not in QUANTITIES:
            raise ConfigError(
                f"--quantity {name}={ci.quantity}: not one of {', '.join(QUANTITIES)}"
            )


def import_parsed(
    parsed: list[ParsedFile],
    out_dir: str | Path,
    *,
    station: str,
    source: str = "import",
    channels: Mapping[str, ChannelInfo] | None = None,
    rollover_s: float = 3600.0,
) -> dict:
    """Check records already in memory (e.g. from :func:`bshm.io.from_sep005`) and store them.

    The write stage of :func:`import_csv`: records must share channels and
    sampling rate and must not overlap; time between records becomes gap
    records. Nothing is written when a check fails.

    Returns
    -------
    dict
        ``{"files", "segments", "samples", "fs", "channels", "start", "end", "gaps"}``.
    """
    from bshm.store import ChannelMeta, RawWriter, SourceSpec

    _check_info(channels)
    info = dict(channels or {})
    if not parsed:
        raise CsvImportError("nothing to import: the input holds no samples")
    parsed = sorted(parsed, key=lambda f: int(f.times_ns[0]))
    first = parsed[0]
    for f in parsed[1:]:
        if f.channels != first.channels:
            raise CsvImportError(
                f"{f.path}: channels {f.channels} differ from {first.path.name}'s {first.channels}"
            )
        if abs(f.fs - first.fs) > REGULARITY_TOL * first.fs:
            raise CsvImportError(
                f"{f.path}: sampling rate {f.fs:g} Hz differs from {first.fs:g} Hz"
            )
    for a, b in zip(parsed, parsed[1:], strict=False):
        if b.times_ns[0] <= a.times_ns[-1]:
            raise CsvImportError(f"{b.path}: overlaps {a.path.name} in time")
    unknown = [n for n in info if n not in first.channels]
    if unknown:
        raise ConfigError(
            f"channels {unknown} are not in the {first.origin} files "
            f"(channels: {', '.join(first.channels)})"
        )
    metas = []
    for name in first.channels:
        ci = _merged_info(info.get(name), first.meta.get(name), name)
        metas.append(
            ChannelMeta(
                name=name,
                quantity=ci.quantity,
                unit=ci.unit,
                location=ci.location,
                direction=ci.direction,
                calibration=f"imported from {first.origin}",
            )
        )
    missing = [m.name for m in metas if m.quantity == "other"]
    if missing:
        log.warning(
            "no quantity given for %s: stored as 'other' (use --quantity NAME=...)",
            ", ".join(missing),
        )
    rate = first.fs
    spec = SourceSpec(name=source, kind="import", fs=rate, channels=tuple(metas))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gaps = 0
    step = NS_PER_S / rate
    with RawWriter(out, station, [spec], rollover_s=rollover_s) as w:
        prev_end: int | None = None
        prev_path: Path | None = None
        for f in parsed:
            t0 = int(f.times_ns[0])
            if prev_end is not None and t0 - prev_end > 1.5 * step:
                why = f"gap in {f.path.name}" if f.path == prev_path else (
                    "no data between imported files")
                w.add_gap(source, prev_end + int(round(step)), t0, why)
                gaps += 1
            w.write(source, f.data, t0_ns=t0)
            prev_end, prev_path = int(f.times_ns[-1]), f.path
    n = sum(len(f.data) for f in parsed)
    return {
        "files": len({f.path for f in parsed}),
        "segments": len(parsed),
        "samples": n,
        "fs": rate,
        "channels": first.channels,
        "start": to_iso(int(first.times_ns[0])),
        "end": to_iso(int(parsed[-1].times_ns[-1])),
        "gaps": gaps,
    }
