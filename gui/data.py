"""Data access for the viewer: what is plotted, read from the stores.

No Qt here: these functions run on the GUI thread for small visible slices
and on pool threads for overviews, and are tested without a display.

A plotted trace has float64 x in epoch seconds (``DateAxisItem`` time) and
NaN rows where the data break (gaps, pauses between records), so that
``connect="finite"`` draws a gap as a gap.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bshm.errors import StoreError

log = logging.getLogger(__name__)

NS = 1_000_000_000
RAW_POINT_LIMIT = 600_000
"""Most samples per channel read raw for a view; wider views use the overview."""
OVERVIEW_BLOCKS_PER_RUN = 120
"""Min/max blocks computed per contiguous record run (at least 1 s each)."""
READ_CHUNK_SAMPLES = 1_000_000
"""Rows x channels read at once while computing an overview."""


@dataclass
class Trace:
    """What one source looks like over a time range.

    Attributes
    ----------
    source : str
        Source name.
    channels : tuple of str
        Channel names, one per column of ``y``.
    t : ndarray, shape (n,)
        Epoch seconds (float64); NaN at a break.
    y : ndarray, shape (n, n_channels)
        Values (raw samples, or min/max pairs in ``"overview"`` mode); NaN at a break.
    kind : str
        ``"raw"`` (every sample) or ``"overview"`` (per-block min/max envelope).
    start_ns, end_ns : int
        The requested half-open range.
    fs : float
        Nominal sampling rate of the source (Hz).
    complete : bool
        False when part of an overview is still being computed.
    """

    source: str
    channels: tuple[str, ...]
    t: np.ndarray
    y: np.ndarray
    kind: str
    start_ns: int
    end_ns: int
    fs: float
    complete: bool = True
    prep: tuple | None = field(default=None, repr=False, compare=False)

    def prepared(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`prepare_times` of ``t``, computed once per trace."""
        if self.prep is None:
            self.prep = prepare_times(self.t)
        return self.prep

    def finite(self, column: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Times and values of one column without the NaN break rows."""
        ok = np.isfinite(self.t)
        return self.t[ok], self.y[ok, column]


def insert_breaks(
    times_ns: np.ndarray, data: np.ndarray, fs: float, *, factor: float = 1.5
) -> tuple[np.ndarray, np.ndarray]:
    """Turn samples into a plottable trace with NaN rows at every break.

    Parameters
    ----------
    times_ns : ndarray, shape (n,)
        Sample times, int64 ns.
    data : ndarray, shape (n, c)
        Samples.
    fs : float
        Nominal rate (Hz); a step longer than ``factor / fs`` is a break.
        For irregular (timestamped) sources pass the median rate.

    Returns
    -------
    t : ndarray, shape (n + b,)
        Epoch seconds with NaN at the ``b`` breaks.
    y : ndarray, shape (n + b, c)
        float32 samples with a NaN row at each break.
    """
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    t = np.asarray(times_ns, dtype=np.int64)
    if len(t) < 2:
        return t.astype(np.float64) / NS, data
    limit = factor * NS / fs if fs > 0 else np.inf
    jumps = np.flatnonzero(np.diff(t) > limit) + 1
    ts = t.astype(np.float64) / NS
    if len(jumps) == 0:
        return ts, data
    return (
        np.insert(ts, jumps, np.nan),
        np.insert(data, jumps, np.full(data.shape[1], np.nan, dtype=np.float32), axis=0),
    )


def prepare_times(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The part of :func:`view_arrays` that depends on the times only (reuse it
    for every channel of a trace): (finite rows, their times, their record number)."""
    t = np.asarray(t, dtype=np.float64)
    ok = np.isfinite(t)
    seg_all = np.cumsum(~ok)  # record number of every row (breaks bump it)
    rows = np.flatnonzero(ok)
    return rows, t[rows], seg_all[rows]


def view_arrays(
    t: np.ndarray,
    y: np.ndarray,
    x0: float,
    x1: float,
    n_px: int,
    prep: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """What one curve draws of a trace between ``x0`` and ``x1``: every record.

    pyqtgraph's own clip-to-view assumes strictly increasing x without NaN,
    so with NaN breaks between records it keeps only the first record (or
    nothing). This does the clipping and the reduction itself, record by
    record: inside ``[x0, x1]`` (plus the sample just outside each end), a
    record with no more than two samples per pixel column is passed through
    unchanged; denser stretches become one (min, max) pair per pixel
    column, never merging two records, so every peak and every record stays
    visible. Records are separated by a NaN row (``connect="finite"``).

    Parameters
    ----------
    t : ndarray, shape (n,)
        Times (epoch s), NaN at breaks, otherwise increasing.
    y : ndarray, shape (n,)
        Values (NaN where a sample is missing).
    x0, x1 : float
        The visible range (epoch s).
    n_px : int
        Pixel columns of the plot (the envelope resolution).
    prep : tuple, optional
        :func:`prepare_times` of ``t``, when it is shared by several channels.

    Returns
    -------
    x, yy : ndarray
        float64 times and values to hand to ``setData(..., connect="finite")``.
    """
    y = np.asarray(y)
    rows, tf, seg = prepare_times(t) if prep is None else prep
    if tf.size == 0 or not x1 > x0:
        return np.empty(0), np.empty(0, dtype=y.dtype)
    i0 = max(0, int(np.searchsorted(tf, x0, side="left")) - 1)
    i1 = min(tf.size, int(np.searchsorted(tf, x1, side="right")) + 1)
    tf, yf, seg = tf[i0:i1], y[rows[i0:i1]], seg[i0:i1]
    if tf.size == 0:
        return np.empty(0), np.empty(0, dtype=y.dtype)
    n_px = max(1, int(n_px))
    col = np.floor((tf - x0) / (x1 - x0) * n_px).astype(np.int64)
    col = np.clip(col, -1, n_px)  # the samples just outside keep their own columns
    key_change = (np.diff(seg) != 0) | (np.diff(col) != 0)
    starts = np.concatenate(([0], np.flatnonzero(key_change) + 1))
    counts = np.diff(np.concatenate((starts, [tf.size])))
    if counts.max() <= 2:  # sparse: every sample, NaN between records
        breaks = np.flatnonzero(np.diff(seg) != 0) + 1
        if breaks.size == 0:
            return tf, yf
        return np.insert(tf, breaks, np.nan), np.insert(yf.astype(np.float64), breaks, np.nan)
    with np.errstate(invalid="ignore"), _nan_warnings_off():
        lo = np.fmin.reduceat(yf, starts)
        hi = np.fmax.reduceat(yf, starts)
    # one x per column: the time of the column's first sample (a vertical stroke)
    tx = tf[starts]
    first, last = starts, starts + counts - 1
    single = counts == 1
    xo = np.repeat(tx, 2)
    xo[1::2] = np.where(single, tx, tf[last])
    yo = np.empty(2 * starts.size, dtype=np.float64)
    # order each pair so the line runs min->max or max->min as the samples do
    rising = yf[first] <= yf[last]
    yo[0::2] = np.where(rising, lo, hi)
    yo[1::2] = np.where(rising, hi, lo)
    yo[0::2][single] = yf[first][single]
    yo[1::2][single] = yf[first][single]
    gseg = seg[starts]
    breaks = np.flatnonzero(np.diff(gseg) != 0) + 1
    if breaks.size:
        xo = np.insert(xo, 2 * breaks, np.nan)
        yo = np.insert(yo, 2 * breaks, np.nan)
    return xo, yo


class _nan_warnings_off:
    """Silence RuntimeWarnings of all-NaN reductions (the result is NaN, as wanted)."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def effective_fs(times_ns: np.ndarray, nominal: float) -> float:
    """The nominal rate, or the median rate of irregular timestamps."""
    if nominal and nominal > 0:
        return float(nominal)
    if len(times_ns) < 2:
        return 1.0
    step = float(np.median(np.diff(times_ns)))
    return NS / step if step > 0 else 1.0


@dataclass
class OverviewCache:
    """Per-run min/max envelopes, computed lazily and kept for the session.

    Keys are ``(source, run_start_ns, run_end_ns)``; values
    ``(t_s (m,), lo (m, c), hi (m, c))`` with block centres in epoch seconds.
    Thread safe: the worker fills it while the GUI thread reads.
    """

    runs: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[str, int, int]):
        """The envelope of one run or None."""
        with self.lock:
            return self.runs.get(key)

    def put(self, key: tuple[str, int, int], value) -> None:
        """Store the envelope of one run."""
        with self.lock:
            self.runs[key] = value

    def __contains__(self, key: object) -> bool:
        with self.lock:
            return key in self.runs


def run_envelope(reader, source: str, start_ns: int, end_ns: int, fs: float):
    """Min/max envelope of one contiguous run, read in bounded chunks.

    Parameters
    ----------
    reader : RawSession or RawReader
        Anything with ``sources`` and ``read_record`` (a session, thread
        safe) or ``read`` (a reader).
    source : str
        Source name.
    start_ns, end_ns : int
        The run (half-open).
    fs : float
        Nominal rate (Hz).

    Returns
    -------
    t : ndarray, shape (m,)
        Block centres, epoch seconds.
    lo, hi : ndarray, shape (m, c)
        Per-block minimum and maximum (NaN-aware; NaN for an all-NaN block).
    """
    n_ch = len(reader.sources[source].channels)
    read = getattr(reader, "read_record", None) or reader.read
    dur = end_ns - start_ns
    block_ns = max(NS, dur // OVERVIEW_BLOCKS_PER_RUN + 1)
    n_blocks = max(1, int(-(-dur // block_ns)))
    lo = np.full((n_blocks, n_ch), np.nan, dtype=np.float32)
    hi = np.full((n_blocks, n_ch), np.nan, dtype=np.float32)
    chunk_ns = int(max(block_ns, (READ_CHUNK_SAMPLES // max(1, n_ch)) / max(fs, 1e-9) * NS))
    chunk_ns = max(block_ns, chunk_ns // block_ns * block_ns)
    pos = start_ns
    while pos < end_ns:
        stop = min(end_ns, pos + chunk_ns)
        rec = read(source, pos, stop)
        if len(rec.times_ns):
            idx = ((rec.times_ns - start_ns) // block_ns).astype(np.int64)
            _blockwise_minmax(idx, np.asarray(rec.data, dtype=np.float32), lo, hi)
        pos = stop
    t = (start_ns + (np.arange(n_blocks) + 0.5) * block_ns) / NS
    return t, lo, hi


def _blockwise_minmax(idx: np.ndarray, data: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Fold ``data`` rows into ``lo``/``hi`` at block ``idx`` (sorted)."""
    bounds = np.flatnonzero(np.diff(idx)) + 1
    starts = np.concatenate(([0], bounds))
    blocks = idx[starts]
    with np.errstate(invalid="ignore"):
        mn = np.fmin.reduceat(data, starts, axis=0)
        mx = np.fmax.reduceat(data, starts, axis=0)
    lo[blocks] = np.fmin(lo[blocks], mn)
    hi[blocks] = np.fmax(hi[blocks], mx)


def envelope_trace(
    pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Join run envelopes into one plottable min/max zig-zag with NaN between runs."""
    ts, ys = [], []
    for t, lo, hi in pieces:
        m, c = lo.shape
        tt = np.repeat(t, 2)
        yy = np.empty((2 * m, c), dtype=np.float32)
        yy[0::2] = lo
        yy[1::2] = hi
        ts.append(np.append(tt, np.nan))
        ys.append(np.vstack([yy, np.full((1, c), np.nan, dtype=np.float32)]))
    if not ts:
        return np.empty(0), np.empty((0, 0), dtype=np.float32)
    return np.concatenate(ts), np.vstack(ys)


def overlapping(runs: list[tuple[int, int]], start_ns: int, end_ns: int) -> list[tuple[int, int]]:
    """Runs ``(start, end)`` that overlap the half-open range."""
    return [(a, b) for a, b in runs if b > start_ns and a < end_ns]


def samples_in(runs: list[tuple[int, int]], start_ns: int, end_ns: int, fs: float) -> float:
    """Expected samples per channel of the runs within a range."""
    total = 0
    for a, b in overlapping(runs, start_ns, end_ns):
        total += min(b, end_ns) - max(a, start_ns)
    return total / NS * fs


def classify_path(path: Path) -> str:
    """``"results"`` for a results file, ``"raw"`` for raw files or folders.

    Raises
    ------
    bshm.errors.StoreError
        When the path does not exist or holds nothing the viewer can read.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: no such file or folder")
    if path.is_dir():
        if any(path.glob("*.h5")) or any(path.glob("*.h5.part")):
            return "raw"
        if any(path.glob("results/*_results.h5")) or any(path.glob("*_results.h5")):
            return "results"
        raise StoreError(
            f"{path}: no raw HDF5 files (*.h5 or *.h5.part) or results file in this folder"
        )
    if path.name.endswith("_results.h5"):
        return "results"
    if path.name.endswith((".h5", ".h5.part", ".hdf5")):
        try:
            import h5py

            with h5py.File(path, "r", swmr=True) as f:
                kind = f.attrs.get("kind", f.attrs.get("bshm_kind", ""))
                if isinstance(kind, bytes):
                    kind = kind.decode()
                if "result" in str(kind).lower():
                    return "results"
        except OSError as exc:
            raise StoreError(f"{path}: not a readable HDF5 file ({exc})") from exc
        return "raw"
    raise StoreError(f"{path}: not an HDF5 file (expected .h5, .h5.part or a folder)")


def raw_for_results(results: Path) -> Path | None:
    """The raw data folder a results file belongs to (``<data_dir>/results/x.h5``)."""
    results = Path(results)
    for folder in (results.parent.parent, results.parent):
        from bshm.store.schema import is_raw_name

        if folder.name and any(
            is_raw_name(p) and not p.name.endswith("_results.h5")
            for p in folder.iterdir()
            if p.is_file()
        ):
            return folder
    return None


def find_results(path: Path) -> Path | None:
    """The results file that belongs to a raw folder, if any."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    for pattern in ("results/*_results.h5", "*_results.h5"):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    return None


@dataclass(frozen=True)
class Health:
    """Health of a channel or source: a level and a text that starts with the
    level's word, as in the report and the user guide: ``ok`` (0),
    ``suspect: ...`` (1, check it at the next visit), ``failed: ...`` (2, its
    data cannot be used)."""

    level: int
    text: str
    detail: str = ""


def channel_health(values: np.ndarray, *, can_be_flat: bool = False) -> Health:
    """Judge one channel from its latest samples (shape (n,)).

    ``failed``: no samples, all NaN or a flat line over at least 100 samples
    (a dead sensor or a stuck converter; not judged when ``can_be_flat``,
    e.g. a temperature, which may well not change for minutes);
    ``suspect``: some NaN (dropouts).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return Health(2, "failed: no data")
    bad = ~np.isfinite(v)
    if bad.all():
        return Health(2, "failed: all NaN")
    good = v[~bad]
    if not can_be_flat and good.size >= 100 and float(np.ptp(good)) == 0.0:
        return Health(2, f"failed: flat at {good[0]:.4g}")
    if bad.any():
        return Health(1, f"suspect: {100 * bad.mean():.0f}% NaN")
    return Health(0, "ok")


def source_health(
    reader, source: str, *, tail_s: float = 10.0, now_ns: int | None = None
) -> tuple[Health, dict[str, Health]]:
    """Health of a source (gaps, error counters) and of each of its channels.

    Reads only the last ``tail_s`` seconds of the source. With ``now_ns``
    (live data) a source whose newest sample is older than 5 s plus two
    sample periods is reported silent.
    """
    info = reader.sources[source]
    names = [c.name for c in info.channels]
    try:
        start, end = reader.span(source)
    except (StoreError, ValueError, KeyError):
        return Health(2, "failed: no data"), {n: Health(2, "failed: no data") for n in names}
    rec = reader.read(source, max(start, end - int(tail_s * NS)), end + 1)
    slow = {"temperature"}
    per = {
        c.name: channel_health(rec.data[:, i], can_be_flat=c.quantity in slow)
        for i, c in enumerate(info.channels)
    }
    notes = []
    level = 0
    try:
        n_gaps = len(reader.gaps(source))
    except (StoreError, KeyError):
        n_gaps = 0
    if n_gaps:
        notes.append(f"{n_gaps} gap{'s' if n_gaps != 1 else ''}")
        level = 1
    try:
        counters = reader.counters(source)
    except (StoreError, KeyError):
        counters = {}
    for key in ("frames_bad", "samples_lost", "timeouts", "modbus_errors", "reconnects"):
        if counters.get(key):
            notes.append(f"{counters[key]} {key.replace('_', ' ')}")
            level = 1
    if now_ns is not None:
        info_fs = float(getattr(info, "fs", 0) or 1.0)
        age_s = (now_ns - end) / NS
        if age_s > 5.0 + 2.0 / info_fs:
            notes.append(f"silent for {age_s:.0f} s")
            level = 2
            # the last samples say nothing about now: no channel is "ok"
            per = {n: Health(2, f"failed: no new data for {age_s:.0f} s") for n in per}
    worst = max((h.level for h in per.values()), default=0)
    if worst >= 2:
        n_bad = sum(h.level >= 2 for h in per.values())
        notes.insert(0, f"{n_bad} channel{'s' if n_bad != 1 else ''}")
    level = max(level, worst)
    if not notes:
        return Health(0, "ok"), per
    word = "failed" if level >= 2 else "suspect"
    notes.sort(key=lambda n: 0 if "silent" in n else 1)  # the worst first
    full = f"{word}: " + ", ".join(notes)
    short = f"{word}: {notes[0]}" + ("…" if len(notes) > 1 else "")
    return Health(level, short, full), per
