"""MiniSEED files (seismic and strong-motion digitizers) via ObsPy (``bshm[formats]``).

Every trace of the file becomes a run of its channel (SEED id
``NET.STA.LOC.CHA``; the channel code alone when network, station and
location are the same for all). Traces of one channel separated in time
are the file's gaps; channels are aligned on their common sample grid.
Samples are digitizer counts unless the file says otherwise: the unit is
``counts`` (give ``--unit`` after applying the sensitivity elsewhere). The
SEED channel code gives the quantity (instrument code ``N``:
acceleration, ``H``/``L``: velocity) and the direction (``Z``: z,
``N``/``1``: y, ``E``/``2``: x).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from bshm.io._common import Trace, assemble, channel_info, need

log = logging.getLogger(__name__)

ORIGIN = "MiniSEED"
_INSTRUMENT = {"N": "acceleration", "H": "velocity", "L": "velocity"}
_DIRECTION = {"Z": "z", "N": "y", "1": "y", "E": "x", "2": "x"}


def read_mseed(path: Path) -> list:
    """Read one MiniSEED file into importer records.

    Raises
    ------
    bshm.importer.CsvImportError
        Not a MiniSEED file, no samples, channels of different rates or off
        each other's sample grid, a channel overlapping itself with
        different values.
    MissingExtraError
        ObsPy is not installed.
    """
    from bshm.importer import CsvImportError

    need("obspy", "reading MiniSEED files")
    from obspy import read  # noqa: PLC0415 - optional, loaded by need()

    try:
        stream = read(str(path), format="MSEED")
    except Exception as exc:  # noqa: BLE001 - ObsPy raises many types for a bad file
        raise CsvImportError(f"{path}: not a readable MiniSEED file ({exc})") from None
    ids = [tr.id for tr in stream]
    if not ids:
        raise CsvImportError(f"{path}: holds no MiniSEED trace")
    prefix = {i.rsplit(".", 1)[0] for i in ids}
    short = len(prefix) == 1
    traces: list[Trace] = []
    meta: dict[str, Any] = {}
    for k, tr in enumerate(stream):
        st = tr.stats
        name = st.channel if short and st.channel else tr.id
        code = str(st.channel or "")
        quantity = _INSTRUMENT.get(code[1:2].upper(), "other") if len(code) == 3 else "other"
        direction = _DIRECTION.get(code[2:3].upper(), "") if len(code) == 3 else ""
        meta.setdefault(name, channel_info(name, "counts", quantity, direction))
        traces.append(
            Trace(
                name,
                int(st.starttime.ns),
                float(st.sampling_rate),
                np.asarray(tr.data, dtype=np.float64),
                f"trace {k + 1} ({tr.id}, {st.starttime})",
            )
        )
    channels = sorted(meta)
    return assemble(path, traces, channels=channels, meta=meta, origin=ORIGIN)
