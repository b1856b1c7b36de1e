"""Bring data from other loggers (CSV here; TDMS, MiniSEED, UFF 58, TOA5 via
:mod:`bshm.io`) into the raw store.

A CSV file has a header row, a first column ``time`` and one column per
channel. The time column holds either ISO 8601 UTC times (fractional
seconds allowed) or seconds since the record's start; the start then comes
from the file name (e.g. ``rec_2026-03-01T12-00-00.csv`` or
``20260301T120000.csv``) or from ``start_ns``.

Every file is parsed and checked before anything is written, so a
malformed row (reported with file and line number) leaves the store
untouched. The write stage (:func:`write_records`, shared by every import
format) is idempotent: samples already in the store (same time within a
quarter of a sample period, same values) are skipped and counted, samples
that would interleave with stored ones or carry other values for a stored
time are refused with the file and the time span, and only the new samples
are written. A write that fails (a full or read-only disk) removes every
file it created, so an import either completes or leaves the store as it
was.
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
from typing import Any, Protocol

import numpy as np

from bshm.config import QUANTITIES
from bshm.errors import BshmError, ConfigError, StoreError
from bshm.store.schema import FS_MAX, FS_MIN, MAX_NAME_BYTES, check_name
from bshm.timeutil import NS_PER_S, parse_time, to_iso

log = logging.getLogger(__name__)

_NAME_TIME = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})[T_ \-]?(\d{2})[:\-]?(\d{2})[:\-]?(\d{2})(?:[.,](\d{1,9}))?"
)
#: Relative tolerance on the sampling interval before a file is called irregular.
REGULARITY_TOL = 0.01
#: Times must fit int64 ns (DESIGN.md "Time"), with a margin for the last sample.
_T_MIN = -(2**63) + 10**12
_T_MAX = 2**63 - 1 - 10**15
_RANGE_TEXT = "1677-09-22 .. 2262-04-11 UTC"


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
        with np.errstate(over="ignore"):
            ns = start + rel * NS_PER_S  # float: checked before it becomes int64
        out_of_range = np.flatnonzero((ns < _T_MIN) | (ns > _T_MAX))
        if out_of_range.size:
            i = int(out_of_range[0])
            raise CsvImportError(
                f"{path}:{first_line + i}: time {values[i]!r} s after the record start is "
                f"outside the times bshm can store ({_RANGE_TEXT})"
            )
        return start + np.round(rel * NS_PER_S).astype(np.int64)
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        try:
            t = parse_time(v)
        except ValueError:
            raise CsvImportError(
                f"{path}:{first_line + i}: time {v!r} is neither ISO 8601 "
                "(2026-03-01T12:00:00.010Z) nor seconds since the record start"
            ) from None
        if not _T_MIN <= t <= _T_MAX:
            raise CsvImportError(
                f"{path}:{first_line + i}: time {v!r} is outside the times bshm can store "
                f"({_RANGE_TEXT})"
            )
        out[i] = t
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
        try:
            sample = fh.read(4096)
        except UnicodeDecodeError as exc:
            raise CsvImportError(
                f"{path}: not a UTF-8 text file (byte {exc.start}: {exc.reason}); save it as "
                "UTF-8 or plain ASCII"
            ) from None
        fh.seek(0)
        delim = ";" if sample.count(";") > sample.count(",") else ","
        reader = csv.reader(fh, delimiter=delim)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise CsvImportError(f"{path}: empty file") from None
        except UnicodeDecodeError as exc:
            raise CsvImportError(
                f"{path}: not a UTF-8 text file ({exc.reason}); save it as UTF-8 or plain ASCII"
            ) from None
        if len(header) < 2 or header[0].lower() != "time":
            raise CsvImportError(
                f"{path}:1: the header must start with a 'time' column followed by one "
                f"column per channel (found {header[:4]})"
            )
        names = header[1:]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes or any(not n for n in names):
            raise CsvImportError(f"{path}:1: channel names must be unique and non-empty")
        long = [n for n in names if len(n.encode("utf-8")) > MAX_NAME_BYTES]
        if long:
            raise CsvImportError(
                f"{path}:1: channel name {long[0][:30]!r}... is longer than {MAX_NAME_BYTES} bytes"
            )
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
        except UnicodeDecodeError as exc:
            raise CsvImportError(
                f"{path}:{reader.line_num + 1}: not UTF-8 text ({exc.reason}); save the file as "
                "UTF-8 or plain ASCII"
            ) from None
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
    if not FS_MIN <= fs <= FS_MAX:
        raise CsvImportError(
            f"{path}: a sampling rate of {fs:g} Hz (from the time column) is not plausible "
            f"({FS_MIN:g}..{FS_MAX:g} Hz); check the time unit or give --fs"
        )
    with np.errstate(over="ignore"):
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
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read channel file: {exc}", str(path)) from None
    except RecursionError:
        raise ConfigError("channel file nested too deeply to read", str(path)) from None
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
    format's reader (see :func:`bshm.io.read_segments`). Importing the same
    samples again writes nothing (see :func:`write_records`).

    Returns
    -------
    dict
        ``{"files", "segments", "samples", "skipped_samples", "fs", "channels",
        "start", "end", "gaps", "written": [file, ...]}``; ``samples`` counts
        the new samples written, ``skipped_samples`` those already in the store.

    Raises
    ------
    CsvImportError
        A file cannot be imported (names the file and line), or its samples
        conflict with samples already in the store.
    bshm.errors.ConfigError
        Bad station/source/channel descriptions.
    bshm.errors.DiskFullError
        The disk is full or read-only (nothing is left half-written).
    """
    from bshm.io import read_segments

    _check_names(station, source)
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
    sampling rate; samples already stored are skipped, conflicting ones
    refuse the import (:func:`write_records`); time between records becomes
    gap records. Nothing is written when a check fails.

    Returns
    -------
    dict
        The summary of :func:`write_records` (``"segments"`` counts the records).
    """
    from bshm.store import ChannelMeta

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
    return write_records(parsed, out_dir, station=station, source=source, channels=metas,
                         fs=first.fs, rollover_s=rollover_s, kind="import")


def _check_names(station: str, source: str) -> None:
    try:
        check_name(station, "--station")
        check_name(source, "--source")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


class ImportRecord(Protocol):
    """What the write stage needs of one imported record (any format)."""

    path: Path
    times_ns: np.ndarray
    data: np.ndarray


@dataclass
class _Plan:
    record: Any
    times: np.ndarray  # the times the writer will store (regular grid from the first)
    new: np.ndarray  # bool mask of samples to write
    duplicates: int


def write_records(
    records: Sequence[ImportRecord],
    out_dir: str | Path,
    *,
    station: str,
    source: str,
    channels: Sequence[Any],
    fs: float,
    rollover_s: float = 3600.0,
    kind: str = "import",
) -> dict:
    """The write stage of every importer: check against the store, then write.

    Each record is a regular series (``times_ns`` (n,), ``data`` (n,
    n_channels) float32) of one source. Before anything is written, every
    sample is compared with the samples of ``source`` already in
    ``out_dir`` and with those of the records before it:

    - a sample whose time is within a quarter period of a stored sample's
      and whose values are the same (NaN equals NaN) is a duplicate: skipped
      and counted;
    - a sample with the time of a stored sample but other values, or
      between stored samples of a contiguous run (another time grid), is a
      conflict: the import is refused naming the record and the time span;
    - every other sample is new and written (blocks in time order); the
      time between consecutive records becomes a gap record unless the
      store already holds samples there.

    On any failure while writing (e.g. :class:`bshm.errors.DiskFullError`)
    every file written by this call is removed.

    Parameters
    ----------
    records : sequence of ImportRecord
        Checked records, each with ``path`` (names it in messages),
        ``times_ns`` and ``data``.
    out_dir : str or Path
        The raw store folder.
    station, source : str
        Names (usable in file names: :func:`bshm.store.schema.check_name`).
    channels : sequence of ChannelMeta
        The columns of ``data``.
    fs : float
        Sampling rate (Hz).
    rollover_s : float
        File period (s).
    kind : str
        Source kind stored with the data.

    Returns
    -------
    dict
        ``{"files", "samples", "skipped_samples", "fs", "channels", "start",
        "end", "gaps", "written"}``.
    """
    from bshm.store import SourceSpec

    _check_names(station, source)
    out = Path(out_dir)
    try:
        spec = SourceSpec(name=source, kind=kind, fs=fs, channels=tuple(channels))
        from bshm.store.schema import validate_spec

        validate_spec(spec)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    recs = sorted(records, key=lambda r: int(r.times_ns[0]))
    if not recs:
        raise CsvImportError("nothing to import")
    stored = _Stored(out, station, spec)
    try:
        return _plan_and_write(recs, stored, out, station, spec, fs, rollover_s)
    finally:
        stored.close()


def _plan_and_write(recs: list[Any], stored: _Stored, out: Path, station: str, spec: Any,
                    fs: float, rollover_s: float) -> dict:
    from bshm.store.schema import grid_times, period_ns

    source = spec.name
    p = period_ns(fs)
    plans: list[_Plan] = []
    for r in recs:
        n = int(r.times_ns.shape[0])
        t = grid_times(int(r.times_ns[0]), np.arange(n, dtype=np.int64), fs)
        data = np.asarray(r.data, np.float32)
        dup, conflict = stored.compare(t, data)
        where = f"samples of source {source!r} already in {out}"
        for q in plans:  # earlier records of this import
            d2, c2 = _compare(t, data, q.times[q.new], np.asarray(q.record.data, np.float32)[q.new],
                              [(int(q.times[0]), int(q.times[-1]) + p)], p)
            if c2.any() and not conflict.any():
                where = f"the samples of {Path(str(q.record.path)).name} in this import"
            dup |= d2
            conflict |= c2
        if conflict.any():
            i = np.flatnonzero(conflict)
            raise CsvImportError(
                f"{r.path}: {i.size} sample(s) from {to_iso(int(t[i[0]]))} to "
                f"{to_iso(int(t[i[-1]]))} conflict with {where} (other values at the same "
                "times, or another time grid); nothing imported"
            )
        plans.append(_Plan(r, t, ~dup, int(dup.sum())))
    gaps = []
    for a, b in zip(plans, plans[1:], strict=False):
        g0, g1 = int(a.times[-1]) + p, int(b.times[0])
        if g1 - g0 > p // 2 and not stored.covers(g0, g1):
            same = Path(str(a.record.path)) == Path(str(b.record.path))
            why = f"gap in {Path(str(a.record.path)).name}" if same else (
                "no data between imported files")
            gaps.append((g0, g1, why))
    total_new = sum(int(q.new.sum()) for q in plans)
    written = _write(out, station, spec, plans, gaps, rollover_s) if total_new else []
    skipped = sum(q.duplicates for q in plans)
    if skipped:
        log.info("%d sample(s) already in %s were skipped", skipped, out)
    return {
        "files": len({str(q.record.path) for q in plans}),
        "segments": len(plans),
        "samples": total_new,
        "skipped_samples": skipped,
        "fs": fs,
        "channels": [c.name for c in spec.channels],
        "start": to_iso(int(plans[0].times[0])),
        "end": to_iso(int(plans[-1].times[-1])),
        "gaps": len(gaps) if total_new else 0,
        "written": [str(x) for x in written],
    }


def _write(out: Path, station: str, spec: Any, plans: list[_Plan],
           gaps: list[tuple[int, int, str]], rollover_s: float) -> list[Path]:
    """Write the new samples (all or nothing)."""
    from bshm.store import RawWriter

    w = RawWriter(out, station, [spec], rollover_s=rollover_s, flush_interval_s=3600.0)
    try:
        pending = sorted(gaps)
        for q in plans:
            data = np.asarray(q.record.data, np.float32)
            for a, b in _segments(q.new):
                t0 = int(q.times[a])
                while pending and pending[0][0] < t0:
                    g0, g1, why = pending.pop(0)
                    w.add_gap(spec.name, g0, g1, why)
                w.write(spec.name, data[a:b], t0_ns=t0)
        for g0, g1, why in pending:
            w.add_gap(spec.name, g0, g1, why)
        w.close()
    except BaseException:
        removed = w.abandon()
        if removed:
            log.warning("import failed: removed the %d file(s) it had written", len(removed))
        raise
    return list(w.paths)


def _segments(mask: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous ``[a, b)`` runs of True."""
    d = np.diff(np.concatenate([[0], mask.view(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(),
                    strict=True))


def _compare(t: np.ndarray, v: np.ndarray, st: np.ndarray, sv: np.ndarray,
             runs: list[tuple[int, int]], p: int) -> tuple[np.ndarray, np.ndarray]:
    """``(duplicate, conflict)`` masks of samples ``(t, v)`` against stored ``(st, sv)``."""
    n = t.shape[0]
    dup = np.zeros(n, bool)
    conflict = np.zeros(n, bool)
    if st.shape[0]:
        j = np.searchsorted(st, t)
        lo = np.clip(j - 1, 0, st.shape[0] - 1)
        hi = np.clip(j, 0, st.shape[0] - 1)
        j = np.where(np.abs(st[lo] - t) <= np.abs(st[hi] - t), lo, hi)  # nearest stored sample
        near = np.abs(st[j] - t) <= p // 4
        same = near & np.all((sv[j] == v) | (np.isnan(sv[j]) & np.isnan(v)), axis=1)
        dup = same
        conflict = near & ~same
    if runs:
        starts = np.array([a for a, _ in runs], np.int64)
        ends = np.array([b for _, b in runs], np.int64)
        k = np.searchsorted(starts, t, side="right") - 1
        inside = (k >= 0) & (t < ends[np.maximum(k, 0)])
        conflict |= inside & ~dup & ~conflict
    return dup, conflict


class _Stored:
    """The samples of one source already in the store (nothing when empty)."""

    def __init__(self, out: Path, station: str, spec: Any) -> None:
        self.reader: Any = None
        self.source = spec.name
        self.p = int(round(NS_PER_S / spec.fs))
        if not out.is_dir():
            return
        from bshm.store import open_raw

        try:
            r = open_raw(out, allow_empty=True)
        except StoreError as exc:
            raise CsvImportError(f"{out}: cannot read the raw store to import into "
                                 f"({exc})") from None
        if r.files and r.station and r.station != station:
            r.close()
            raise ConfigError(
                f"{out} holds the files of station {r.station!r}, not {station!r}: import with "
                f"--station {r.station} or into another folder"
            )
        info = r.sources.get(spec.name)
        if info is None:
            r.close()
            return
        want = [c.name for c in spec.channels]
        if list(info.channel_names) != want or abs(info.fs - spec.fs) > REGULARITY_TOL * spec.fs:
            r.close()
            raise ConfigError(
                f"{out}: source {spec.name!r} is stored with channels "
                f"{list(info.channel_names)} at {info.fs:g} Hz, not {want} at {spec.fs:g} Hz; "
                "import under another --source name"
            )
        self.reader = r
        self.runs = r.records(spec.name)

    def compare(self, t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.reader is None:
            return np.zeros(t.shape[0], bool), np.zeros(t.shape[0], bool)
        rec = self.reader.read(self.source, int(t[0]) - self.p, int(t[-1]) + self.p)
        return _compare(t, v, rec.times_ns, rec.data, self.runs, self.p)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()

    def covers(self, a: int, b: int) -> bool:
        """True when a stored run intersects ``[a, b)``."""
        if self.reader is None:
            return False
        return any(s < b and e > a for s, e in self.runs)
