"""NI TDMS files (LabVIEW, DAQmx loggers) via npTDMS (``bshm[formats]``).

Two layouts are read:

- *waveform* channels, the DAQmx logging default: each channel carries
  ``wf_start_time`` (absolute, UTC), ``wf_start_offset`` and
  ``wf_increment`` (s); channels of a group are aligned on their common
  sample grid (:func:`bshm.io._common.assemble`).
- a group with a *time channel* (TDMS timestamps): one time per row; jumps
  in it are gaps (:func:`bshm.io._common.split_rows`).

Units come from the NI property ``unit_string``; the quantity is guessed
from the unit. Timestamps are read at full TDMS resolution (2^-64 s) and
rounded to ns.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from bshm.io._common import (
    Trace,
    assemble,
    channel_info,
    clean_rate,
    need,
    split_rows,
)
from bshm.timeutil import NS_PER_S

log = logging.getLogger(__name__)

#: Seconds from the TDMS epoch (1904-01-01 UTC) to the Unix epoch.
TDMS_EPOCH_OFFSET_S = 2_082_844_800
ORIGIN = "TDMS"


def tdms_ns(seconds: Any, fractions: Any) -> Any:
    """TDMS (seconds since 1904, 2^-64 fractions) -> int64 ns since 1970 (rounded).

    Works on scalars and arrays.
    """
    sec = np.asarray(seconds, dtype=np.int64) - TDMS_EPOCH_OFFSET_S
    frac = np.asarray(fractions, dtype=np.uint64)
    # round(frac * 1e9 / 2^64) without overflow: split frac into 32-bit halves
    hi = (frac >> np.uint64(32)).astype(np.int64)
    lo = (frac & np.uint64(0xFFFFFFFF)).astype(np.int64)
    ns_x32 = hi * NS_PER_S + ((lo * NS_PER_S) >> 32)  # frac * 1e9 / 2^32
    ns = (ns_x32 + (1 << 31)) >> 32
    out = sec * NS_PER_S + ns
    return int(out) if np.ndim(out) == 0 else out


def _ts_ns(value: Any, path: Path, what: str) -> int:
    from bshm.importer import CsvImportError

    if hasattr(value, "seconds") and hasattr(value, "second_fractions"):
        return tdms_ns(value.seconds, value.second_fractions)
    try:
        return int(np.datetime64(value, "ns").astype(np.int64))
    except (TypeError, ValueError):
        raise CsvImportError(f"{path}: {what}: {value!r} is not a time") from None


def read_tdms(path: Path, *, group: str | None = None, start_ns: int | None = None) -> list:
    """Read one TDMS file into importer records (see the module doc).

    Parameters
    ----------
    path : Path
    group : str, optional
        Only this group (default: every group holding numeric channels).
    start_ns : int, optional
        Start of waveforms that carry no ``wf_start_time`` (else the start
        encoded in the file name).

    Raises
    ------
    bshm.importer.CsvImportError
        Unreadable file, no numeric channel, channels of different rates in
        the selected groups, inconsistent lengths in a time-channel group.
    MissingExtraError
        npTDMS is not installed.
    """
    from bshm.importer import CsvImportError

    nptdms = need("nptdms", "reading TDMS files")
    try:
        f = nptdms.TdmsFile.read(path, raw_timestamps=True)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise CsvImportError(f"{path}: not a readable TDMS file ({exc})") from None
    groups = list(f.groups())
    if group is not None:
        names = [g.name for g in groups]
        if group not in names:
            raise CsvImportError(
                f"{path}: no group {group!r} (groups: {', '.join(names) or 'none'})"
            )
        groups = [g for g in groups if g.name == group]
    all_names = [c.name for g in groups for c in g.channels()]
    traces: list[Trace] = []
    meta: dict = {}
    rows = []
    for g in groups:
        chans = list(g.channels())
        time_ch = [c for c in chans if _is_time(c)]
        numeric = [c for c in chans if not _is_time(c) and _is_numeric(c)]
        skipped = [c.name for c in chans if c not in time_ch and c not in numeric]
        if skipped:
            log.info(
                "%s: group %s: non-numeric channels skipped: %s", path, g.name, ", ".join(skipped)
            )
        if not numeric:
            continue
        label = {
            c.name: c.name if all_names.count(c.name) == 1 else f"{g.name}/{c.name}"
            for c in numeric
        }
        for c in numeric:
            unit = str(c.properties.get("unit_string", ""))
            meta[label[c.name]] = channel_info(label[c.name], unit)
        if time_ch:
            rows.append(_time_group(path, g, time_ch[0], numeric, label, meta))
            continue
        for c in numeric:
            traces.append(_waveform(path, g, c, label[c.name], start_ns))
    if not traces and not rows:
        where = f"group {group}" if group else "the file"
        raise CsvImportError(f"{path}: no numeric channel in {where}")
    if traces and rows:
        raise CsvImportError(
            f"{path}: mixes waveform groups and groups with a time channel: import one "
            "group at a time (--group NAME)"
        )
    if rows:
        if len(rows) > 1:
            raise CsvImportError(
                f"{path}: several groups with a time channel: import one at a time (--group NAME)"
            )
        return rows[0]
    return assemble(path, traces, meta=meta, origin=ORIGIN)


def _is_time(c: Any) -> bool:
    d = getattr(c, "dtype", None)
    return d is not None and (
        d.names == ("seconds", "second_fractions")
        or d.names == ("second_fractions", "seconds")
        or np.issubdtype(d, np.datetime64)
    )


def _is_numeric(c: Any) -> bool:
    d = getattr(c, "dtype", None)
    return (
        d is not None
        and d.names is None
        and (np.issubdtype(d, np.number) or np.issubdtype(d, np.bool_))
        and not np.issubdtype(d, np.complexfloating)
    )


def _waveform(path: Path, g: Any, c: Any, name: str, start_ns: int | None) -> Trace:
    from bshm.importer import CsvImportError, start_from_name

    p = c.properties
    where = f"group {g.name!r} channel {c.name!r}"
    inc = p.get("wf_increment")
    if inc is None or not float(inc) > 0:
        raise CsvImportError(
            f"{path}: {where}: no wf_increment (sampling interval): not a waveform channel "
            "and the group has no time channel"
        )
    t0: int | None
    if "wf_start_time" in p:
        t0 = _ts_ns(p["wf_start_time"], path, f"{where} wf_start_time")
    else:
        t0 = start_ns if start_ns is not None else start_from_name(path)
        if t0 is None:
            raise CsvImportError(
                f"{path}: {where}: no wf_start_time: give the record start with --start "
                "(or put it in the file name)"
            )
    t0 += int(round(float(p.get("wf_start_offset", 0.0)) * NS_PER_S))
    fs = clean_rate(1.0 / float(inc))
    return Trace(name, t0, fs, np.asarray(c[:], dtype=np.float64), where)


def _time_group(path: Path, g: Any, tc: Any, numeric: list, label: dict, meta: dict) -> list:
    from bshm.importer import CsvImportError

    raw = tc[:]
    if raw.dtype.names:
        t = tdms_ns(raw["seconds"], raw["second_fractions"])
    else:
        t = raw.astype("datetime64[ns]").astype(np.int64)
    cols = []
    for c in numeric:
        v = np.asarray(c[:], dtype=np.float64)
        if v.size != t.size:
            raise CsvImportError(
                f"{path}: group {g.name!r}: channel {c.name!r} has {v.size} values, the time "
                f"channel {tc.name!r} {t.size}"
            )
        cols.append(v)
    names = [label[c.name] for c in numeric]
    return split_rows(
        path,
        t,
        np.column_stack(cols),
        names,
        meta={n: meta[n] for n in names},
        origin=ORIGIN,
        position=lambda i: f"group {g.name!r} sample {i}",
    )
