"""Read raw HDF5 files (one file or a folder of them) by time range.

A :class:`RawReader` keeps a small summary per file (per source: sample
count, first and last sample time, gaps, counters), built once when the
file is first seen, so a time-range query opens only the files it needs.
Open files are cached (least recently used, bounded), and slices are found
by binary search on the block table (regular sources) or on the time
dataset (timestamped sources), so only the requested rows are read.

Folders: a file that cannot be read (not HDF5, truncated, wrong schema
version, another station) is skipped with a logged warning and listed in
:attr:`RawReader.skipped`; a single file given explicitly raises instead.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bshm.errors import SchemaVersionError, StoreError
from bshm.store import schema as S

log = logging.getLogger(__name__)

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


@dataclass
class _SrcSummary:
    info: S.SourceInfo
    n: int
    first_ns: int
    last_ns: int
    gaps: list[S.Gap]
    counters: dict[str, int]


@dataclass
class _FileSummary:
    path: Path
    station: str
    start_ns: int
    version: int
    sources: dict[str, _SrcSummary]
    stat: tuple[float, int]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        return self.path.name.endswith(".part")


class _OpenFile:
    """An open file with its datasets and derived block tables cached."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.f, self.swmr = _open_h5(path)
        if not path.name.endswith(".part"):
            _check_size(self.f, path)
        self.ds: dict[tuple[str, str], h5py.Dataset] = {}
        self.tables: dict[str, tuple[np.ndarray, ...]] = {}

    def dataset(self, source: str, name: str) -> h5py.Dataset | None:
        key = (source, name)
        if key not in self.ds:
            g = self.f[S.SOURCES_GROUP][source]
            if name not in g:
                return None
            self.ds[key] = g[name]
        return self.ds[key]

    def refresh(self) -> None:
        if self.swmr:
            for d in self.ds.values():
                d.refresh()
        self.tables.clear()

    def close(self) -> None:
        self.ds.clear()
        self.tables.clear()
        try:
            self.f.close()
        except Exception:  # pragma: no cover - already closed / broken file
            pass


def _open_h5(path: Path) -> tuple[h5py.File, bool]:
    """Open read-only, as a SWMR reader when the file allows it."""
    if not path.exists():
        raise StoreError(f"{path}: no such file")
    try:
        try:
            return h5py.File(path, "r", swmr=True), True
        except (OSError, RuntimeError, ValueError):
            return h5py.File(path, "r"), False  # e.g. a file without SWMR superblock
    except (OSError, RuntimeError, ValueError) as exc:
        msg = str(exc).split("(")[0].strip() or type(exc).__name__
        raise StoreError(
            f"{path}: not a readable HDF5 file ({msg}); it may be truncated or not a bshm file"
        ) from None


def _check_size(f: h5py.File, path: Path) -> None:
    """A closed file shorter than HDF5's end of allocation was truncated.

    (A live ``.part`` file is not checked: a writer killed in the middle of
    a flush may leave space allocated but unwritten after the good data.)
    """
    try:
        need = f.id.get_filesize()
        have = path.stat().st_size
    except (OSError, RuntimeError):  # pragma: no cover - unusual drivers
        return
    if have < need:
        f.close()
        raise StoreError(
            f"{path}: truncated file ({have} of {need} bytes); restore it from a copy"
        )


def check_version(f: h5py.File, path: Path, kind: str = S.KIND) -> int:
    """Check the root attributes of a bshm file; return its schema version.

    Raises
    ------
    bshm.errors.SchemaVersionError
        Missing, invalid or unsupported version.
    bshm.errors.StoreError
        The file is a bshm file of another kind (e.g. results).
    """
    a = f.attrs
    k = a.get(S.ATTR_KIND, "")
    k = k.decode() if isinstance(k, bytes) else str(k)
    if k and k != kind:
        raise StoreError(f"{path}: a bshm {k} file, not a {kind} file")
    if S.ATTR_VERSION not in a:
        raise SchemaVersionError(
            f"{path}: no '{S.ATTR_VERSION}' attribute: not a bshm {kind} file "
            "(written by another program?); import it with 'bshm import'"
        )
    try:
        v = int(a[S.ATTR_VERSION])
    except (TypeError, ValueError):
        raise SchemaVersionError(
            f"{path}: '{S.ATTR_VERSION}' is {a[S.ATTR_VERSION]!r}, not an integer"
        ) from None
    if not k:
        raise StoreError(f"{path}: no '{S.ATTR_KIND}' attribute: not a bshm {kind} file")
    if v > S.SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path}: raw schema version {v} is newer than this bshm reads "
            f"(up to {S.SCHEMA_VERSION}); upgrade bshm"
        )
    if v < S.MIN_SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path}: raw schema version {v} is older than this bshm reads "
            f"({S.MIN_SCHEMA_VERSION}..{S.SCHEMA_VERSION}); use an older bshm to convert it"
        )
    return v


def _str_list(v: Any) -> list[str]:
    return [x.decode() if isinstance(x, bytes) else str(x) for x in np.atleast_1d(v)]


def _attr_str(a: Any, key: str, default: str = "") -> str:
    v = a.get(key, default)
    return v.decode() if isinstance(v, bytes) else str(v)


def _source_info(name: str, g: h5py.Group) -> S.SourceInfo:
    a = g.attrs
    names = _str_list(a["channel_names"])
    n = len(names)
    q = _str_list(a.get("channel_quantities", ["other"] * n))
    u = _str_list(a.get("channel_units", [""] * n))
    loc = np.asarray(a.get("channel_locations", np.full((n, 3), np.nan))).reshape(n, 3)
    d = _str_list(a.get("channel_directions", [""] * n))
    c = _str_list(a.get("channel_calibrations", [""] * n))
    chans = tuple(
        S.ChannelMeta(names[i], q[i], u[i], tuple(float(x) for x in loc[i]), d[i], c[i])
        for i in range(n)
    )
    cnames = tuple(_str_list(g[S.COUNTERS].attrs["names"])) if S.COUNTERS in g else ()
    return S.SourceInfo(name, _attr_str(a, "kind"), float(a["fs"]), chans,
                        _attr_str(a, "timing", "regular"), cnames)


def _block_table(of: _OpenFile, source: str, fs: float) -> tuple[np.ndarray, ...]:
    """Blocks of a regular source, trimmed to the rows the data holds.

    Returns ``(first_sample, n, t0, k0, first_ns, last_ns)`` int64 arrays.
    """
    if source in of.tables:
        return of.tables[source]
    b = of.dataset(source, S.BLOCKS)
    d = of.dataset(source, S.DATA)
    arr = b[...] if b is not None and b.shape[0] else np.zeros(0, S.BLOCK_DTYPE)
    rows = d.shape[0] if d is not None else 0
    fsamp = arr["first_sample"].astype(np.int64)
    n = np.minimum(arr["n"].astype(np.int64), np.maximum(rows - fsamp, 0))
    keep = n > 0
    fsamp, n = fsamp[keep], n[keep]
    t0, k0 = arr["t0_ns"][keep].astype(np.int64), arr["k0"][keep].astype(np.int64)
    first = S.grid_times(t0, k0, fs)
    last = S.grid_times(t0, k0 + n - 1, fs)
    tab = (fsamp, n, t0, k0, first, last)
    of.tables[source] = tab
    return tab


def _n_timestamped(of: _OpenFile, source: str) -> int:
    t = of.dataset(source, S.TIME)
    d = of.dataset(source, S.DATA)
    return min(t.shape[0] if t is not None else 0, d.shape[0] if d is not None else 0)


def _search(ds: h5py.Dataset, value: int, n: int) -> int:
    """Smallest ``i`` in ``[0, n]`` with ``ds[i] >= value`` (sorted 1-D dataset)."""
    chunk = ds.chunks[0] if ds.chunks else 65536
    lo, hi = 0, (n + chunk - 1) // chunk
    while lo < hi:  # first chunk whose first element >= value
        mid = (lo + hi) // 2
        if int(ds[mid * chunk]) >= value:
            hi = mid
        else:
            lo = mid + 1
    a = max(lo - 1, 0) * chunk
    b = min(n, a + chunk)
    return a + int(np.searchsorted(ds[a:b], value, side="left"))


class RawReader:
    """Time-range access to raw files; safe while a writer appends (SWMR).

    Use :func:`open_raw` to create one.

    Attributes
    ----------
    path : pathlib.Path
        The file or folder opened.
    station : str
        Station name (from the first readable file).
    files : list of pathlib.Path
        Readable files, sorted by start time.
    sources : dict of str to SourceInfo
        Every source found in the files.
    skipped : list of (pathlib.Path, str)
        Files of a folder that were skipped, with the reason.
    """

    def __init__(self, path: Any, *, max_open_files: int = 16, allow_empty: bool = False) -> None:
        self.path = Path(path)
        self.max_open_files = max(1, int(max_open_files))
        self._allow_empty = allow_empty
        self._open: OrderedDict[Path, _OpenFile] = OrderedDict()
        self._summ: dict[Path, _FileSummary] = {}
        self._bad: dict[Path, tuple[tuple[float, int], str]] = {}
        self.station = ""
        self.files: list[Path] = []
        self.sources: dict[str, S.SourceInfo] = {}
        self.skipped: list[tuple[Path, str]] = []
        self._is_dir = self.path.is_dir()
        if not self._is_dir and not self.path.exists():
            raise StoreError(f"{self.path}: no such file or folder")
        self._scan(first=True)

    # ------------------------------------------------------------ context

    def __enter__(self) -> RawReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every open file."""
        while self._open:
            _, of = self._open.popitem()
            of.close()

    # ------------------------------------------------------------ scanning

    def _listing(self) -> list[Path]:
        if self._is_dir:
            return sorted(p for p in self.path.iterdir() if p.is_file() and S.is_raw_name(p))
        p = self.path
        if not p.exists() and p.name.endswith(".part"):
            final = p.with_name(p.name[: -len(".part")])
            if final.exists():  # the writer finished it: follow the rename
                self.path = p = final
        return [p] if p.exists() else []

    def _handle(self, path: Path) -> _OpenFile:
        of = self._open.get(path)
        if of is not None:
            self._open.move_to_end(path)
            return of
        of = _OpenFile(path)
        self._open[path] = of
        while len(self._open) > self.max_open_files:
            _, old = self._open.popitem(last=False)
            old.close()
        return of

    def _drop(self, path: Path) -> None:
        of = self._open.pop(path, None)
        if of is not None:
            of.close()
        self._summ.pop(path, None)

    def _scan(self, first: bool = False) -> None:
        listing = self._listing()
        present = set(listing)
        for p in list(self._summ):
            if p not in present:
                self._drop(p)
        for p in list(self._open):
            if p not in present:
                self._drop(p)
        for p in list(self._bad):
            if p not in present:
                del self._bad[p]
        for p in listing:
            st = p.stat()
            stat = (st.st_mtime, st.st_size)
            old = self._summ.get(p)
            if old is not None:
                if old.live:
                    of = self._open.get(p)
                    if of is not None:
                        of.refresh()
                    self._summ[p] = self._summarize(p)
                continue
            bad = self._bad.get(p)
            if bad is not None and bad[0] == stat and not p.name.endswith(".part"):
                continue
            try:
                self._summ[p] = self._summarize(p)
                self._bad.pop(p, None)
            except StoreError as exc:
                self._drop(p)
                if not self._is_dir:
                    raise
                if bad is None or bad[1] != str(exc):
                    log.warning("skipping %s", exc)
                self._bad[p] = (stat, str(exc))
        self._rebuild(first)

    def _rebuild(self, first: bool) -> None:
        summ = sorted(self._summ.values(), key=lambda s: (s.start_ns, s.path.name))
        if summ and not self.station:
            self.station = summ[0].station
        ordered = []
        for s in summ:
            if s.station != self.station:
                msg = f"{s.path}: station {s.station!r}, not {self.station!r}"
                if (s.path not in self._bad) or self._bad[s.path][1] != msg:
                    log.warning("skipping %s", msg)
                self._bad[s.path] = (s.stat, msg)
                continue
            ordered.append(s)
        self._order = ordered
        self.files = [s.path for s in ordered]
        self.skipped = [(p, why) for p, (_, why) in sorted(self._bad.items())]
        sources: dict[str, S.SourceInfo] = {}
        for s in ordered:
            for name, ss in s.sources.items():
                sources.setdefault(name, ss.info)
        self.sources = sources
        if first and not ordered and not self._allow_empty:
            if self.skipped:
                raise StoreError(
                    f"{self.path}: no readable raw file; first problem: {self.skipped[0][1]}"
                )
            raise StoreError(f"{self.path}: no raw HDF5 files (*.h5, *.h5.part)")

    def _summarize(self, path: Path) -> _FileSummary:
        st = path.stat()
        of = self._handle(path)
        try:
            f = of.f
            v = check_version(f, path)
            a = f.attrs
            sources: dict[str, _SrcSummary] = {}
            grp = f.get(S.SOURCES_GROUP)
            for name in (grp.keys() if grp is not None else ()):
                sources[name] = self._summarize_source(of, name, grp[name])
            return _FileSummary(
                path, _attr_str(a, "station"), int(a.get("start_ns", 0)), v, sources,
                (st.st_mtime, st.st_size),
                {k: a[k] for k in a.keys()},
            )
        except StoreError:
            self._drop(path)
            raise
        except (KeyError, OSError, RuntimeError, ValueError, TypeError) as exc:
            self._drop(path)
            raise StoreError(f"{path}: damaged raw file ({exc})") from None

    def _summarize_source(self, of: _OpenFile, name: str, g: h5py.Group) -> _SrcSummary:
        info = _source_info(name, g)
        if info.timing == "regular":
            fsamp, n, t0, k0, first, last = _block_table(of, name, info.fs)
            total = int(n.sum())
            f0 = int(first[0]) if total else 0
            l0 = int(last[-1]) if total else 0
        else:
            total = _n_timestamped(of, name)
            t = of.dataset(name, S.TIME)
            f0 = int(t[0]) if total else 0
            l0 = int(t[total - 1]) if total else 0
        gaps: list[S.Gap] = []
        gds = of.dataset(name, S.GAPS)
        if gds is not None and gds.shape[0]:
            for row in gds[...]:
                gaps.append(S.Gap(int(row["start_ns"]), int(row["end_ns"]),
                                  S.decode_reason(row["reason"])))
        counters: dict[str, int] = {}
        cds = of.dataset(name, S.COUNTERS)
        if cds is not None:
            vals = cds[...]
            counters = {k: int(x) for k, x in zip(info.counters, vals, strict=False)}
        return _SrcSummary(info, total, f0, l0, gaps, counters)

    def refresh(self) -> None:
        """Pick up new files and data appended to live files since the last call."""
        self._scan()

    # ------------------------------------------------------------ queries

    def _info(self, source: str) -> S.SourceInfo:
        try:
            return self.sources[source]
        except KeyError:
            raise ValueError(
                f"unknown source {source!r} in {self.path}; sources: "
                f"{', '.join(self.sources) or '(none)'}"
            ) from None

    def _summaries(self, source: str) -> list[tuple[_FileSummary, _SrcSummary]]:
        return [(s, s.sources[source]) for s in self._order if source in s.sources]

    def span(self, source: str) -> tuple[int, int]:
        """First and last sample time (ns, both inclusive) of a source.

        Raises
        ------
        ValueError
            Unknown source.
        bshm.errors.StoreError
            The source has no samples.
        """
        self._info(source)
        parts = [(ss.first_ns, ss.last_ns) for _, ss in self._summaries(source) if ss.n]
        if not parts:
            raise StoreError(f"source {source!r} has no samples in {self.path}")
        return min(p[0] for p in parts), max(p[1] for p in parts)

    def n_samples(self, source: str) -> int:
        """Total number of stored samples of a source."""
        self._info(source)
        return sum(ss.n for _, ss in self._summaries(source))

    def gaps(self, source: str, start_ns: int | None = None,
             end_ns: int | None = None) -> list[S.Gap]:
        """Gaps of a source overlapping ``[start_ns, end_ns)``, sorted, without duplicates."""
        self._info(source)
        s = _I64_MIN if start_ns is None else int(start_ns)
        e = _I64_MAX if end_ns is None else int(end_ns)
        out = set()
        for _, ss in self._summaries(source):
            for g in ss.gaps:
                if g.start_ns < e and (g.end_ns > s or (g.end_ns == g.start_ns and g.start_ns >= s)):
                    out.add(g)
        return sorted(out, key=lambda g: (g.start_ns, g.end_ns, g.reason))

    def counters(self, source: str) -> dict[str, int]:
        """Quality counters of a source, summed over the files."""
        info = self._info(source)
        tot = dict.fromkeys(info.counters, 0)
        for _, ss in self._summaries(source):
            for k, v in ss.counters.items():
                tot[k] = tot.get(k, 0) + v
        return tot

    def read(self, source: str, start_ns: int | None = None, end_ns: int | None = None,
             channels: Sequence[str] | None = None) -> S.Record:
        """Samples of a source in the half-open range ``[start_ns, end_ns)``.

        Parameters
        ----------
        source : str
            Source name.
        start_ns, end_ns : int, optional
            Range (ns since the epoch); None means unbounded.
        channels : sequence of str, optional
            Channel names to return, in this order (default: all).

        Returns
        -------
        Record
            ``data`` ``(n, n_channels)`` float32, ``times_ns`` ``(n,)`` int64,
            and the gaps overlapping the range.

        Raises
        ------
        ValueError
            Unknown source or channel (the message lists the available ones).
        bshm.errors.StoreError
            A file cannot be read.
        """
        info = self._info(source)
        names = list(info.channel_names)
        if channels is None:
            want = names
        else:
            if isinstance(channels, str):
                channels = [channels]
            want = list(channels)
            unknown = [c for c in want if c not in names]
            if unknown:
                raise ValueError(
                    f"source {source!r} has no channel {', '.join(map(repr, unknown))}; "
                    f"channels: {', '.join(names)}"
                )
        s = _I64_MIN if start_ns is None else int(start_ns)
        e = _I64_MAX if end_ns is None else int(end_ns)
        datas, times = [], []
        if s < e:
            for fsum, ss in self._summaries(source):
                if not ss.n or ss.last_ns < s or ss.first_ns >= e:
                    continue
                d, t = self._read_file(fsum.path, ss.info, s, e, want)
                if t.shape[0]:
                    datas.append(d)
                    times.append(t)
        if datas:
            data = np.concatenate(datas) if len(datas) > 1 else datas[0]
            tt = np.concatenate(times) if len(times) > 1 else times[0]
        else:
            data = np.zeros((0, len(want)), np.float32)
            tt = np.zeros(0, np.int64)
        meta = {c.name: c for c in info.channels}
        return S.Record(source, info.fs, tuple(meta[c] for c in want), data, tt,
                        tuple(self.gaps(source, start_ns, end_ns)))

    def _read_file(self, path: Path, finfo: S.SourceInfo, s: int, e: int,
                   want: list[str]) -> tuple[np.ndarray, np.ndarray]:
        of = self._handle(path)
        name = finfo.name
        try:
            if finfo.timing == "regular":
                a, b, t = self._rows_regular(of, name, finfo.fs, s, e)
            else:
                a, b, t = self._rows_timestamped(of, name, s, e)
            if b <= a:
                return np.zeros((0, len(want)), np.float32), np.zeros(0, np.int64)
            raw = of.dataset(name, S.DATA)[a:b]
        except (OSError, KeyError, RuntimeError, ValueError) as exc:
            raise StoreError(f"{path}: cannot read source {name!r} ({exc})") from None
        fnames = list(finfo.channel_names)
        cols = [fnames.index(c) if c in fnames else -1 for c in want]
        if cols == list(range(len(fnames))):
            return raw, t
        if all(c >= 0 for c in cols):
            return np.ascontiguousarray(raw[:, cols]), t
        out = np.full((raw.shape[0], len(want)), np.nan, np.float32)
        for j, c in enumerate(cols):
            if c >= 0:
                out[:, j] = raw[:, c]
        return out, t

    @staticmethod
    def _rows_regular(of: _OpenFile, name: str, fs: float, s: int,
                      e: int) -> tuple[int, int, np.ndarray]:
        fsamp, n, t0, k0, first, last = _block_table(of, name, fs)
        b_lo = int(np.searchsorted(last, s, side="left"))
        b_hi = int(np.searchsorted(first, e, side="left"))
        if b_lo >= b_hi:
            return 0, 0, np.zeros(0, np.int64)
        i_lo = S.grid_index(int(t0[b_lo]), int(k0[b_lo]), fs, s) if s > first[b_lo] else 0
        bl = b_hi - 1
        i_hi = S.grid_index(int(t0[bl]), int(k0[bl]), fs, e) if e <= last[bl] else int(n[bl])
        a = int(fsamp[b_lo]) + i_lo
        b = int(fsamp[bl]) + i_hi
        rows = np.arange(a, b, dtype=np.int64)
        bi = np.searchsorted(fsamp[b_lo:b_hi], rows, side="right") - 1 + b_lo
        t = S.grid_times(t0[bi], k0[bi] + rows - fsamp[bi], fs)
        return a, b, t

    @staticmethod
    def _rows_timestamped(of: _OpenFile, name: str, s: int,
                          e: int) -> tuple[int, int, np.ndarray]:
        n = _n_timestamped(of, name)
        ds = of.dataset(name, S.TIME)
        if n == 0:
            return 0, 0, np.zeros(0, np.int64)
        a = 0 if s <= int(ds[0]) else _search(ds, s, n)
        b = n if e > int(ds[n - 1]) else _search(ds, e, n)
        if b <= a:
            return 0, 0, np.zeros(0, np.int64)
        return a, b, ds[a:b].astype(np.int64)

    def records(self, source: str) -> list[tuple[int, int]]:
        """Contiguous runs of a source as ``(start_ns, end_ns)``.

        ``start_ns`` is the first sample's time; ``end_ns`` is exclusive:
        the last sample's time plus one period, so ``read(source, *run)``
        returns exactly the run. Consecutive blocks whose start is within
        half a period of the grid continuation form one run; for
        timestamped sources a step longer than 1.5 periods starts a new run.
        """
        info = self._info(source)
        runs: list[list[int]] = []
        for fsum, ss in self._summaries(source):
            if not ss.n:
                continue
            fs = ss.info.fs
            p = 1e9 / fs
            of = self._handle(fsum.path)
            if ss.info.timing == "regular":
                _, n, _, _, first, last = _block_table(of, source, fs)
                starts, ends = first, last
            else:
                cnt = _n_timestamped(of, source)
                t = of.dataset(source, S.TIME)[:cnt].astype(np.int64)
                brk = np.nonzero(np.diff(t) > 1.5 * p)[0]
                starts = np.concatenate([t[:1], t[brk + 1]])
                ends = np.concatenate([t[brk], t[-1:]])
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                if runs and abs(a - (runs[-1][1] + p)) <= p / 2:
                    runs[-1][1] = b
                else:
                    runs.append([a, b])
        pend = S.period_ns(info.fs)
        return [(a, b + pend) for a, b in runs]

    def summaries(self) -> list[_FileSummary]:
        """Per-file summaries (internal use: ``bshm inspect``)."""
        return list(self._order)


def open_raw(path_or_dir: Any, *, max_open_files: int = 16,
             allow_empty: bool = False) -> RawReader:
    """Open a raw file (``.h5`` or live ``.h5.part``) or a folder of them.

    Parameters
    ----------
    path_or_dir : str or os.PathLike
        A raw file or a folder holding raw files.
    max_open_files : int, optional
        How many files stay open at once (least recently used are closed).
    allow_empty : bool, optional
        Accept a folder with no raw file yet (to follow a writer that has
        not started); :meth:`RawReader.refresh` picks the files up later.

    Returns
    -------
    RawReader

    Raises
    ------
    bshm.errors.SchemaVersionError
        A single file with a missing or unsupported schema version.
    bshm.errors.StoreError
        A single file that is not a readable raw file, or a folder without
        any readable raw file.
    """
    return RawReader(path_or_dir, max_open_files=max_open_files, allow_empty=allow_empty)

