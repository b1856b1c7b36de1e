"""The SDyPy SEP005 time-series convention, both ways.

SEP005 describes a measurement as a list of channel dicts::

    {"data": 1-D array, "name": "A01", "unit_str": "m/s2",
     "fs": 100.0 (or "time": seconds), "start_timestamp": "2026-03-01T12:00:00Z",
     "quantity": "a", "group": "acc", ...}

Several readers for bridge and wind-turbine monitoring hardware produce it;
:func:`from_sep005` turns their output into the records ``bshm import``
stores (:func:`bshm.importer.import_parsed`), and :func:`to_sep005` turns a
stored :class:`bshm.store.Record` into SEP005 channels for any SEP005 tool.
Compliance is checked in the tests with the ``sdypy-sep005`` checker.

Beyond SEP005's keys, :func:`to_sep005` adds ``start_ns`` (the exact start,
int ns since the epoch, which ISO strings round to µs) and, for
quantities without a SEP005 letter, ``bshm_quantity``;
:func:`from_sep005` reads both when present.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bshm.io._common import Trace, assemble, channel_info, split_rows
from bshm.timeutil import NS_PER_S, parse_time, to_iso

ORIGIN = "SEP005"
#: SEP005 quantity letter -> bshm quantity
LETTER_QUANTITY = {"a": "acceleration", "v": "velocity", "d": "displacement", "e": "strain"}
#: bshm quantity -> SEP005 letter
QUANTITY_LETTER = {v: k for k, v in LETTER_QUANTITY.items()}


def _err(where: str, msg: str) -> Exception:
    from bshm.importer import CsvImportError

    return CsvImportError(f"{where}: {msg}")


def _quantity(sig: Mapping[str, Any]) -> str | None:
    from bshm.store.schema import QUANTITIES

    q = sig.get("bshm_quantity") or sig.get("quantity")
    if not q:
        return None
    q = str(q).strip()
    if q in QUANTITIES:
        return q
    return LETTER_QUANTITY.get(q.lower())


def from_sep005(
    signals: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    *,
    start_ns: int | None = None,
    label: str = "SEP005",
) -> list:
    """SEP005 channels -> importer records (regular segments; gaps between them).

    Parameters
    ----------
    signals : list of dict (or one dict)
        SEP005 channels. A channel may appear several times (one dict per
        contiguous run, each with its own start): those runs are its records.
    start_ns : int, optional
        Start for channels with no ``start_timestamp`` (ns since the epoch).
    label : str
        Names the input in messages and in the stored gap reasons.

    Returns
    -------
    list of bshm.importer.ParsedFile

    Raises
    ------
    bshm.importer.CsvImportError
        A channel without ``data``, ``name``, ``unit_str``, or with neither
        ``fs`` nor ``time``; no start time; an unreadable timestamp; channels
        that cannot share one record (different rates, off-grid starts,
        different time vectors).
    """
    if isinstance(signals, Mapping):
        signals = [signals]
    path = Path(label)
    traces: list[Trace] = []
    timed: list[tuple[str, np.ndarray, np.ndarray, str]] = []
    meta: dict[str, Any] = {}
    for k, sig in enumerate(signals, 1):
        where = f"{label} channel {k}"
        if not isinstance(sig, Mapping):
            raise _err(where, f"is a {type(sig).__name__}, not a dict")
        for key in ("data", "name", "unit_str"):
            if key not in sig or sig[key] is None:
                raise _err(where, f"has no {key!r} (required by SEP005)")
        name = str(sig["name"])
        where = f"{label} channel {k} ({name})"
        data = (
            np.array(
                [math.nan if v is None else v for v in np.asarray(sig["data"], object)],
                dtype=np.float64,
            )
            if _has_none(sig["data"])
            else np.asarray(sig["data"], dtype=np.float64)
        )
        if data.ndim != 1:
            raise _err(where, f"data must be 1-D, not of shape {data.shape}")
        t0 = _start(sig, start_ns, where)
        meta.setdefault(name, channel_info(name, str(sig["unit_str"]), _quantity(sig)))
        fs = sig.get("fs")
        if fs is not None:
            if not (isinstance(fs, (int, float)) and math.isfinite(fs) and fs > 0):
                raise _err(where, f"fs {fs!r} is not a positive number of Hz")
            traces.append(Trace(name, t0, float(fs), data, where))
        elif sig.get("time") is not None:
            t = np.asarray(sig["time"], dtype=np.float64)
            if t.shape != data.shape:
                raise _err(where, f"time has {t.size} values, data {data.size}")
            timed.append((name, t0 + np.round(t * NS_PER_S).astype(np.int64), data, where))
        else:
            raise _err(where, "has neither 'fs' nor 'time' (SEP005 needs one)")
    if traces and timed:
        raise _err(label, "mixes channels given by 'fs' and by 'time': convert one kind first")
    if traces:
        return assemble(path, traces, meta=meta, origin=ORIGIN)
    t_ref = timed[0][1]
    for _, t_ns, _, where in timed[1:]:
        if t_ns.shape != t_ref.shape or not np.array_equal(t_ns, t_ref):
            raise _err(
                where,
                f"its time vector differs from {timed[0][0]}'s: channels "
                "with different times cannot share one record",
            )
    names = [n for n, *_ in timed]
    if len(set(names)) != len(names):
        raise _err(label, "a channel given by 'time' appears twice")
    return split_rows(
        path,
        t_ref,
        np.column_stack([d for _, _, d, _ in timed]),
        names,
        meta=meta,
        origin=ORIGIN,
        position=lambda i: f"{label} sample {i}",
    )


def _has_none(values: Any) -> bool:
    return isinstance(values, (list, tuple)) and any(v is None for v in values)


def _start(sig: Mapping[str, Any], start_ns: int | None, where: str) -> int:
    if sig.get("start_ns") is not None:
        return int(sig["start_ns"])
    ts = sig.get("start_timestamp")
    if ts is not None:
        text = ts.isoformat() if hasattr(ts, "isoformat") else str(ts)
        try:
            return parse_time(text)
        except ValueError:
            raise _err(where, f"start_timestamp {text!r} is not ISO 8601") from None
    if start_ns is not None:
        return int(start_ns)
    raise _err(where, "no start_timestamp: give start_ns (the record start)")


def to_sep005(record: Any, *, gap_factor: float = 1.5) -> list[dict[str, Any]]:
    """A stored record -> SEP005 channels, one dict per channel and contiguous run.

    Parameters
    ----------
    record : bshm.store.Record
        E.g. ``open_raw(DIR).read("acc", start_ns, end_ns)``.
    gap_factor : float
        Times further apart than this many sampling periods split a run.

    Returns
    -------
    list of dict
        SEP005 channels with ``data`` (float64, NaN for dropouts), ``fs``,
        ``name``, ``unit_str``, ``start_timestamp``, ``end_timestamp``,
        ``group`` (the source), ``quantity`` (a SEP005 letter where one
        exists, else ``bshm_quantity``) and ``start_ns``.
    """
    t = np.asarray(record.times_ns, dtype=np.int64)
    if t.size == 0:
        return []
    period = NS_PER_S / float(record.fs)
    cuts = np.r_[0, np.flatnonzero(np.diff(t) > gap_factor * period) + 1, t.size]
    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        for j, ch in enumerate(record.channels):
            d: dict[str, Any] = {
                "data": np.asarray(record.data[a:b, j], dtype=np.float64),
                "fs": float(record.fs),
                "name": ch.name,
                "unit_str": ch.unit,
                "start_timestamp": to_iso(int(t[a])),
                "end_timestamp": to_iso(int(t[b - 1])),
                "group": record.source,
                "start_ns": int(t[a]),
            }
            letter = QUANTITY_LETTER.get(ch.quantity)
            if letter:
                d["quantity"] = letter
            else:
                d["bshm_quantity"] = ch.quantity
            out.append(d)
    return out
