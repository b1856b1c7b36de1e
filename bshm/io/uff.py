"""Universal File (UFF/UNV) dataset 58 time series via pyuff (``bshm[formats]``).

Only time responses are read (dataset 58, function type 1, evenly spaced
abscissa in seconds); other datasets of the file (geometry, FRFs, mode
shapes) are skipped. One channel is one response node and direction; several
datasets of the same channel are its records, and the time between them
is a gap.

UFF has no standard field for the absolute start time: an ISO 8601 time
(UTC) in one of the five ID lines is used (bshm's own export writes it in
ID line 4), else ``--start``, else the start encoded in the file name;
``abscissa_min`` (s) is added to it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from bshm.io._common import Trace, assemble, channel_info, clean_rate, need

log = logging.getLogger(__name__)

ORIGIN = "UFF 58"
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?")
#: UFF specific data type -> quantity (dataset 58 records 8-11)
SPEC_QUANTITY = {
    12: "acceleration",
    11: "velocity",
    8: "displacement",
    3: "strain",
    5: "temperature",
}
#: bshm quantity -> UFF specific data type
QUANTITY_SPEC = {v: k for k, v in SPEC_QUANTITY.items()}
#: UFF direction code -> bshm direction
DIRECTION = {1: "x", 2: "y", 3: "z", -1: "-x", -2: "-y", -3: "-z"}
#: bshm direction -> UFF direction code
DIRECTION_CODE = {v: k for k, v in DIRECTION.items()}


def read_sets(path: Path) -> list[dict[str, Any]]:
    """All datasets of a UFF file as pyuff dicts.

    Raises
    ------
    bshm.importer.CsvImportError
        Not a readable UFF file.
    """
    from bshm.importer import CsvImportError

    pyuff = need("pyuff", "reading Universal Files")
    try:
        sets = pyuff.UFF(str(path)).read_sets()
    except Exception as exc:  # noqa: BLE001 - pyuff raises bare Exception
        raise CsvImportError(f"{path}: not a readable Universal File ({exc})") from None
    if isinstance(sets, dict):
        sets = [sets]
    return [s for s in sets if s]


def _label(text: Any) -> str:
    s = str(text or "").strip()
    return "" if s.upper() == "NONE" else s


def read_uff58(path: Path, *, start_ns: int | None = None) -> list:
    """Read the time series of a UFF file into importer records.

    Raises
    ------
    bshm.importer.CsvImportError
        No time series in the file, an uneven or complex one, an unknown
        start time (see the module doc), channels of different rates.
    MissingExtraError
        pyuff is not installed.
    """
    from bshm.importer import CsvImportError, start_from_name
    from bshm.timeutil import NS_PER_S, parse_time

    sets = read_sets(path)
    series = []
    for k, s in enumerate(sets, 1):
        if s.get("type") != 58 or int(s.get("func_type", -1)) != 1:
            continue
        where = f"dataset {k} (58, node {s.get('rsp_node')} dir {s.get('rsp_dir')})"
        if int(s.get("abscissa_spacing", 1)) != 1:
            raise CsvImportError(
                f"{path}: {where}: uneven abscissa: only evenly sampled time series are imported"
            )
        if np.iscomplexobj(s["data"]):
            raise CsvImportError(f"{path}: {where}: complex values are not a time series")
        series.append((k, where, s))
    if not series:
        kinds = sorted({int(s.get("type", 0)) for s in sets})
        raise CsvImportError(
            f"{path}: no time series (dataset 58 with function type 1); the file holds "
            f"dataset types {kinds or 'none'}"
        )
    keys = {(int(s["rsp_node"]), int(s["rsp_dir"])) for _, _, s in series}
    names = {}
    for key in keys:
        ids = {
            _label(s.get("id1"))
            for _, _, s in series
            if (int(s["rsp_node"]), int(s["rsp_dir"])) == key
        }
        names[key] = ids.pop() if len(ids) == 1 else ""
    if any(not n for n in names.values()) or len(set(names.values())) != len(names):
        names = {(n, d): f"N{n}{DIRECTION.get(d, str(d)).upper()}" for n, d in keys}
    traces: list[Trace] = []
    meta: dict[str, Any] = {}
    for _, where, s in series:
        key = (int(s["rsp_node"]), int(s["rsp_dir"]))
        name = names[key]
        base = None
        for i in range(1, 6):
            m = _ISO.search(str(s.get(f"id{i}", "")))
            if m:
                base = parse_time(m.group(0).replace(" ", "T"))
                break
        if base is None:
            base = start_ns if start_ns is not None else start_from_name(path)
        if base is None:
            raise CsvImportError(
                f"{path}: {where}: no absolute start time (no ISO 8601 time in its ID lines): "
                "give --start (or put the start in the file name)"
            )
        inc = float(s.get("abscissa_inc", 0.0))
        if not inc > 0:
            raise CsvImportError(f"{path}: {where}: abscissa increment {inc} is not > 0")
        t0 = base + int(round(float(s.get("abscissa_min", 0.0)) * NS_PER_S))
        unit = _label(s.get("ordinate_axis_units_lab"))
        q = SPEC_QUANTITY.get(int(s.get("ordinate_spec_data_type", 0)))
        meta.setdefault(name, channel_info(name, unit, q, DIRECTION.get(key[1], "")))
        traces.append(
            Trace(name, t0, clean_rate(1.0 / inc), np.asarray(s["data"], np.float64), where)
        )
    return assemble(path, traces, channels=sorted(meta), meta=meta, origin=ORIGIN)
