"""Shared pieces of the format readers: optional libraries, time bases, segments.

Two shapes of input are turned into regular segments
(:class:`bshm.importer.ParsedFile`):

- *traces* (:func:`assemble`): per-channel runs of samples with a start
  time and a rate (MiniSEED traces, TDMS waveforms, UFF 58 records, SEP005
  channels). Channels are aligned on a common sample grid; where only some
  channels have data the others are NaN (a dropout), and where none has
  data the time is a gap.
- *timestamped rows* (:func:`split_rows`): one time per row (TOA5, a TDMS
  time channel, a SEP005 time vector). Rows are cut into segments where
  the time jumps by more than 1.5 sampling periods; a row repeated with the
  same values is dropped, a time that goes back is an error.
"""

from __future__ import annotations

import importlib
import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from bshm.errors import BshmError
from bshm.timeutil import NS_PER_S, to_iso

if TYPE_CHECKING:  # pragma: no cover
    from bshm.importer import ChannelInfo, ParsedFile

log = logging.getLogger(__name__)

#: Largest offset of a trace from the common sample grid, in samples.
GRID_TOL = 0.1
#: Relative tolerance on sampling intervals (as the CSV importer's).
RATE_TOL = 0.01
_F32_MAX = float(np.finfo(np.float32).max)

#: What to install for each optional library.
EXTRAS = {
    "nptdms": ("npTDMS", "formats"),
    "obspy": ("ObsPy", "formats"),
    "pyuff": ("pyuff", "formats"),
    "paho.mqtt.client": ("paho-mqtt", "delivery"),
}


class MissingExtraError(BshmError):
    """An optional library is not installed (the message names the extra)."""


def need(module: str, what: str) -> ModuleType:
    """Import an optional library or raise a one-line :class:`MissingExtraError`.

    Third-party import-time deprecation noise (ObsPy on Python 3.11) is
    silenced here, so ``-W error`` runs stay usable.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module(module)
    except ImportError:
        pkg, extra = EXTRAS.get(module, (module, "formats"))
        raise MissingExtraError(
            f"{what} needs {pkg}, which is not installed: pip install 'bshm[{extra}]'"
        ) from None


def clean_rate(fs: float) -> float:
    """A sampling rate with floating-point noise removed (``1/0.001`` -> ``1000.0``)."""
    fs = float(fs)
    r = round(fs)
    if r > 0 and abs(fs - r) <= 1e-9 * fs:
        return float(r)
    return fs


def to_float32(path: Path, name: str, values: np.ndarray) -> np.ndarray:
    """Samples as float32; values beyond float32's range become NaN (counted, warned)."""
    v = np.asarray(values, dtype=np.float64)
    bad = np.isfinite(v) & (np.abs(v) > _F32_MAX)
    bad |= np.isinf(v)
    if bad.any():
        log.warning(
            "%s: channel %s: %d value(s) are infinite or beyond float32 range: stored as NaN",
            path,
            name,
            int(bad.sum()),
        )
        v = np.where(bad, np.nan, v)
    return v.astype(np.float32)


@dataclass
class Trace:
    """A contiguous run of one channel's samples.

    Attributes
    ----------
    name : str
        Channel name.
    t0_ns : int
        Time of ``data[0]`` (ns since the epoch).
    fs : float
        Sampling rate (Hz).
    data : numpy.ndarray
        ``(n,)`` samples.
    where : str
        Where it came from in the file, for messages (``"trace 3"``).
    """

    name: str
    t0_ns: int
    fs: float
    data: np.ndarray
    where: str = ""

    def end_ns(self) -> int:
        """Time of the sample after the last one."""
        return self.t0_ns + int(round(len(self.data) * NS_PER_S / self.fs))


def _fail(path: Path, msg: str) -> BshmError:
    from bshm.importer import CsvImportError

    return CsvImportError(f"{path}: {msg}")


def assemble(
    path: Path,
    traces: Sequence[Trace],
    *,
    channels: Sequence[str] | None = None,
    meta: dict[str, ChannelInfo] | None = None,
    origin: str,
) -> list[ParsedFile]:
    """Align per-channel traces on a common grid and cut them into regular segments.

    Raises
    ------
    bshm.importer.CsvImportError
        No samples; channels with different rates; a trace off the grid of
        the others by more than :data:`GRID_TOL` samples; two traces of a
        channel that overlap with different values.
    """
    traces = [t for t in traces if len(t.data)]
    if not traces:
        raise _fail(path, "holds no samples")
    names = list(channels) if channels is not None else list(dict.fromkeys(t.name for t in traces))
    fs = clean_rate(traces[0].fs)
    for t in traces:
        if abs(t.fs - fs) > 1e-6 * fs:
            raise _fail(
                path,
                f"{t.where or t.name}: sampled at {t.fs:g} Hz, {traces[0].where or names[0]} at "
                f"{fs:g} Hz: import channels of different rates separately (--source NAME)",
            )
    col = {n: i for i, n in enumerate(names)}
    period = NS_PER_S / fs
    runs: list[list[Trace]] = []
    run_end = None
    for t in sorted(traces, key=lambda t: t.t0_ns):
        if run_end is None or t.t0_ns > run_end + 0.5 * period:
            runs.append([t])
            run_end = t.end_ns()
        else:
            runs[-1].append(t)
            run_end = max(run_end, t.end_ns())
    out = []
    for run in runs:
        t0 = run[0].t0_ns
        placed = []
        for t in run:
            k = (t.t0_ns - t0) / period
            k0 = int(round(k))
            if abs(k - k0) > GRID_TOL:
                raise _fail(
                    path,
                    f"{t.where or t.name} starts {abs(k - k0):.2f} samples off the sample grid "
                    f"of the other channels (at {to_iso(t.t0_ns)}): channels sampled at "
                    "different instants cannot share one record; import them separately",
                )
            placed.append((k0, t))
        n = max(k0 + len(t.data) for k0, t in placed)
        data = np.full((n, len(names)), np.nan, np.float32)
        filled = np.zeros((n, len(names)), bool)
        for k0, t in placed:
            if t.name not in col:
                continue
            c = col[t.name]
            seg = to_float32(path, t.name, t.data)
            sl = slice(k0, k0 + len(seg))
            both = filled[sl, c]
            if both.any():
                old = data[sl, c][both]
                new = seg[both]
                same = (old == new) | (np.isnan(old) & np.isnan(new))
                if not same.all():
                    i = int(np.flatnonzero(~same)[0])
                    when = to_iso(t.t0_ns + int(round((np.flatnonzero(both)[i]) * period)))
                    raise _fail(
                        path,
                        f"{t.where or t.name}: overlaps an earlier trace of {t.name} with "
                        f"different values (at {when})",
                    )
                log.info("%s: %s repeats samples already read: kept once", path, t.where or t.name)
            data[sl, c] = seg
            filled[sl, c] = True
        have = np.asarray(filled.any(axis=1), dtype=bool)
        out.extend(_cut_unfilled(path, t0, fs, data, have, names, meta, origin))
    return out


def _cut_unfilled(
    path: Path,
    t0: int,
    fs: float,
    data: np.ndarray,
    have: np.ndarray,
    names: list[str],
    meta: dict[str, ChannelInfo] | None,
    origin: str,
) -> list[ParsedFile]:
    """Split a grid at rows where no channel has data (those rows are gaps)."""
    from bshm.importer import ParsedFile
    from bshm.timeutil import sample_times

    out = []
    edges = np.flatnonzero(np.diff(np.r_[0, have.astype(np.int8), 0]))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        times = sample_times(t0, int(b - a), fs, first_index=int(a))
        out.append(
            ParsedFile(
                path=path,
                times_ns=times,
                data=np.ascontiguousarray(data[a:b]),
                channels=list(names),
                fs=fs,
                meta=dict(meta or {}),
                origin=origin,
            )
        )
    return out


def split_rows(
    path: Path,
    times_ns: np.ndarray,
    data: np.ndarray,
    channels: Sequence[str],
    *,
    meta: dict[str, ChannelInfo] | None = None,
    origin: str,
    position: Callable[[int], str] = lambda i: f"row {i + 1}",
    fs: float | None = None,
) -> list[ParsedFile]:
    """Cut timestamped rows into regular segments at the gaps.

    Parameters
    ----------
    times_ns : (n,) int64
    data : (n, n_channels) array
    position : callable
        Row index -> where it is in the file (``"line 12"``), for messages.
    fs : float, optional
        Sampling rate; default from the median interval.

    Raises
    ------
    bshm.importer.CsvImportError
        Fewer than 2 rows; a time going back; the same time with different
        values; an interval that is neither the sampling period nor a gap.
    """
    from bshm.importer import ParsedFile

    t = np.asarray(times_ns, dtype=np.int64)
    d = np.asarray(data)
    if d.ndim == 1:
        d = d[:, None]
    idx = _drop_repeats(path, t, d, position)
    if idx is not None:
        t, d = t[idx], d[idx]
        pos = position
        position = lambda i: pos(int(idx[i]))  # noqa: E731 - keep positions of the file
    dt = np.diff(t)
    if t.size < 2:
        raise _fail(path, f"needs at least 2 samples, found {t.size}")
    step = NS_PER_S / fs if fs else float(np.median(dt))
    fs = clean_rate(NS_PER_S / step)
    gap = dt > 1.5 * step
    odd = np.flatnonzero(~gap & (np.abs(dt - step) > RATE_TOL * step))
    if odd.size:
        i = int(odd[0]) + 1
        raise _fail(
            path,
            f"{position(i)}: sampling is irregular (step {dt[i - 1] / 1e6:.3f} ms, expected "
            f"{step / 1e6:.3f} ms)",
        )
    cuts = np.r_[0, np.flatnonzero(gap) + 1, t.size]
    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        out.append(
            ParsedFile(
                path=path,
                times_ns=t[a:b].copy(),
                data=np.column_stack(
                    [to_float32(path, n, d[a:b, j]) for j, n in enumerate(channels)]
                ),
                channels=list(channels),
                fs=fs,
                meta=dict(meta or {}),
                origin=origin,
            )
        )
    return out


def _drop_repeats(
    path: Path, t: np.ndarray, d: np.ndarray, position: Callable[[int], str]
) -> np.ndarray | None:
    """Rows to keep when some rows repeat earlier ones (a logger's re-collection).

    Returns None when times only increase. A row whose time is not after
    every earlier one must repeat an earlier row exactly (same time, same
    values); it is then dropped.

    Raises
    ------
    bshm.importer.CsvImportError
        A time going back to a time not seen before, or a repeated time
        with different values.
    """
    if t.size < 2 or bool(np.all(np.diff(t) > 0)):
        return None
    order = np.argsort(t, kind="stable")
    ts = t[order]
    first = np.r_[True, ts[1:] != ts[:-1]]  # first (earliest in the file) of each time
    rep = order[~first]  # file rows that repeat an earlier row's time
    # the earlier row of the same time: walk back to the first of the run
    group_first = np.maximum.accumulate(np.where(first, np.arange(ts.size), 0))
    orig = order[group_first[~first]]
    a, b = d[orig], d[rep]
    same = ((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1)
    if not same.all():
        i = int(rep[np.flatnonzero(~same)].min())
        raise _fail(path, f"{position(i)}: time {to_iso(int(t[i]))} repeated with different values")
    prev_max = np.r_[np.iinfo(np.int64).min, np.maximum.accumulate(t)[:-1]]
    back = np.flatnonzero(t <= prev_max)
    is_rep = np.zeros(t.size, bool)
    is_rep[rep] = True
    new_back = back[~is_rep[back]]
    if new_back.size:
        i = int(new_back[0])
        raise _fail(path, f"{position(i)}: time {to_iso(int(t[i]))} goes back")
    log.info("%s: %d repeated row(s) dropped", path, rep.size)
    return np.sort(order[first])


#: unit (lower case, spaces removed) -> quantity
_UNIT_QUANTITY = {
    "m/s2": "acceleration",
    "m/s^2": "acceleration",
    "m/s²": "acceleration",
    "m/sec^2": "acceleration",
    "g": "acceleration",
    "mg": "acceleration",
    "ug": "acceleration",
    "gal": "acceleration",
    "m/s": "velocity",
    "mm/s": "velocity",
    "um/s": "velocity",
    "m": "displacement",
    "mm": "displacement",
    "um": "displacement",
    "um/m": "strain",
    "µm/m": "strain",
    "ue": "strain",
    "µe": "strain",
    "microstrain": "strain",
    "µε": "strain",
    "me": "strain",
    "degc": "temperature",
    "°c": "temperature",
    "deg c": "temperature",
    "degreesc": "temperature",
    "c": "temperature",
    "k": "temperature",
    "v": "voltage",
    "mv": "voltage",
    "deg": "tilt",
    "mrad": "tilt",
    "urad": "tilt",
}


def quantity_from_unit(unit: str) -> str:
    """A quantity guessed from a unit (``"m/s^2"`` -> ``"acceleration"``), else ``"other"``."""
    key = unit.strip().lower().replace(" ", "")
    return _UNIT_QUANTITY.get(key) or _UNIT_QUANTITY.get(unit.strip().lower(), "other")


_ASCII = {"²": "2", "³": "3", "µ": "u", "μ": "u", "°C": "degC", "°": "deg", "ε": "e", "^": ""}


def ascii_unit(unit: str) -> str:
    """A unit in the store's ASCII spelling (``"m/s²"``, ``"m/s^2"`` -> ``"m/s2"``)."""
    u = unit.strip()
    for a, b in _ASCII.items():
        u = u.replace(a, b)
    return u.encode("ascii", "replace").decode("ascii")


def channel_info(
    name: str, unit: str = "", quantity: str | None = None, direction: str = ""
) -> ChannelInfo:
    """A :class:`~bshm.importer.ChannelInfo` from what a file says (unit made ASCII)."""
    from bshm.importer import ChannelInfo

    q = quantity or quantity_from_unit(unit)
    return ChannelInfo(name, q, ascii_unit(unit), (math.nan, math.nan, math.nan), direction)
