"""Read raw HDF5 files (one file or a folder of them) by time range.

A :class:`RawReader` keeps a small summary per file (per source: sample
count, first and last sample time, contiguous runs, gaps, counters; see
:mod:`bshm.store.fileindex`), so a time-range query opens only the files
it needs, and ``span``/``gaps``/``counters``/``records`` open none. The
summaries of a folder's finished files are cached in the user's cache
directory (``~/.cache/bshm/index``, see :func:`bshm.store.fileindex.cache_path`;
the data folder is never written). Open files are cached (least recently
used, bounded), and slices are found by binary search on the block table
(regular sources) or on the time dataset (timestamped sources), so only
the requested rows are read.

Folders: a file that cannot be read (not HDF5, truncated, wrong schema
version, another station) is skipped with a logged warning and listed in
:attr:`RawReader.skipped`; a single file given explicitly raises instead.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np

from bshm.errors import StoreError
from bshm.store import schema as S
from bshm.store.fileindex import (
    FileSummary,
    IndexCache,
    OpenFile,
    SrcSummary,
    block_table,
    n_timestamped,
    search,
    summarize_file,
)

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

#: A ``.part`` file unreadable and untouched for this long is reported as
#: skipped (a writer killed while creating it), not silently retried.
_STALE_PART_NS = 60 * 10**9
_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


def _locked(fn: F) -> F:
    """Run a reader method under the reader's lock (one caller at a time)."""

    @functools.wraps(fn)
    def wrapper(self: RawReader, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return fn(self, *args, **kwargs)

    return cast(F, wrapper)


class RawReader:
    """Time-range access to raw files; safe while a writer appends (SWMR).

    The public methods are thread-safe (one lock per reader).

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

    def __init__(self, path: Any, *, max_open_files: int = 16, allow_empty: bool = False,
                 use_cache: bool = True) -> None:
        self._lock = threading.RLock()
        self.path = Path(path)
        self.max_open_files = max(1, int(max_open_files))
        self._allow_empty = allow_empty
        self._open: OrderedDict[Path, OpenFile] = OrderedDict()
        self._summ: dict[Path, FileSummary] = {}
        self._bad: dict[Path, tuple[tuple[int, int], str]] = {}
        self._warned: set[tuple[Path, str]] = set()
        self._order: list[FileSummary] = []
        self.station = ""
        self.files: list[Path] = []
        self.sources: dict[str, S.SourceInfo] = {}
        self.skipped: list[tuple[Path, str]] = []
        self._is_dir = self.path.is_dir()
        if not self.path.exists() and self.path.name.endswith(".part"):
            final = self.path.with_name(self.path.name[: -len(".part")])
            if final.exists():  # the live file was finished meanwhile
                self.path = final
        if not self._is_dir and not self.path.exists():
            raise StoreError(f"{self.path}: no such file or folder")
        self._cache = IndexCache(self.path) if (self._is_dir and use_cache) else None
        self._scan(first=True)

    # ------------------------------------------------------------ context

    def __enter__(self) -> RawReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @_locked
    def close(self) -> None:
        """Close every open file."""
        while self._open:
            _, of = self._open.popitem()
            of.close()

    # ------------------------------------------------------------ scanning

    def _listing(self) -> list[Path]:
        if self._is_dir:
            found = sorted(p for p in self.path.iterdir() if S.is_raw_name(p) and p.is_file())
            names = {p.name for p in found}
            return [p for p in found if not _finished_twin(p, names)]
        p = self.path
        if not p.exists() and p.name.endswith(".part"):
            final = p.with_name(p.name[: -len(".part")])
            if final.exists():  # the writer finished it: follow the rename
                self.path = p = final
        return [p] if p.exists() else []

    def _handle(self, path: Path) -> OpenFile:
        of = self._open.get(path)
        if of is not None:
            self._open.move_to_end(path)
            return of
        of = OpenFile(path)
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
        for p in [p for p in set(self._summ) | set(self._open) if p not in present]:
            self._drop(p)
        for p in [p for p in self._bad if p not in present]:
            del self._bad[p]
        for p in listing:
            self._scan_one(p)
        if self._cache is not None:
            self._cache.prune({p.name for p in listing})
            self._cache.save()
        self._rebuild(first)

    def _scan_one(self, p: Path) -> None:
        live = p.name.endswith(".part")
        if not live and p in self._summ:  # a finished file does not change
            return
        try:
            st = p.stat()
        except FileNotFoundError:  # renamed or removed meanwhile
            self._drop(p)
            return
        stat = (st.st_mtime_ns, st.st_size)
        bad = self._bad.get(p)
        if bad is not None and bad[0] == stat:
            return
        cached = self._cache.get(p, stat) if (self._cache is not None and not live) else None
        if isinstance(cached, FileSummary):
            self._summ[p] = cached
            return
        if isinstance(cached, str):
            self._mark_bad(p, stat, cached)
            return
        try:
            of = self._open.get(p)
            prev = None
            if of is not None and live:
                of.refresh()
                prev = self._summ.get(p)  # same open file: its attributes are known
            self._summ[p] = summarize_file(self._handle(p), prev)
            self._bad.pop(p, None)
            if self._cache is not None and not live:
                self._cache.put(p, self._summ[p], stat)
        except StoreError as exc:
            self._drop(p)
            if not p.exists():  # renamed (finished) or removed meanwhile
                return
            if not self._is_dir:
                raise
            if live and time.time_ns() - stat[0] < _STALE_PART_NS:
                # maybe caught while the writer creates it: retry next time
                log.debug("not yet readable: %s", exc)
                return
            self._mark_bad(p, stat, str(exc))  # (a .part is retried once it changes)
            if self._cache is not None and not live:
                self._cache.put(p, str(exc), stat)

    def _mark_bad(self, p: Path, stat: tuple[int, int], why: str) -> None:
        self._bad[p] = (stat, why)
        if (p, why) not in self._warned:
            self._warned.add((p, why))
            log.warning("skipping %s", why)

    def _rebuild(self, first: bool) -> None:
        summ = sorted(self._summ.values(), key=lambda s: (s.start_ns, s.path.name))
        if summ and not self.station:
            self.station = summ[0].station
        ordered = []
        for s in summ:
            if s.station != self.station:
                why = f"{s.path}: station {s.station!r}, not {self.station!r}"
                self._mark_bad(s.path, s.stat, why)
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
        self._gap_index: dict[str, tuple[list[S.Gap], np.ndarray, int]] = {}
        self._src_index: dict[str, tuple[list[tuple[FileSummary, SrcSummary]],
                                         np.ndarray, np.ndarray]] = {}
        if first and not ordered and not self._allow_empty:
            if self.skipped:
                raise StoreError(
                    f"{self.path}: no readable raw file; first problem: {self.skipped[0][1]}"
                )
            raise StoreError(f"{self.path}: no raw HDF5 files (*.h5, *.h5.part)")

    @_locked
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

    def _summaries(self, source: str) -> list[tuple[FileSummary, SrcSummary]]:
        return self._per_source(source)[0]

    def _per_source(self, source: str) -> tuple[list[tuple[FileSummary, SrcSummary]],
                                                np.ndarray, np.ndarray]:
        """Files holding ``source`` (in order) with their first/last sample times."""
        got = self._src_index.get(source)
        if got is None:
            lst = [(s, s.sources[source]) for s in self._order if source in s.sources]
            first = np.array([ss.first_ns if ss.n else _I64_MAX for _, ss in lst], np.int64)
            last = np.array([ss.last_ns if ss.n else _I64_MIN for _, ss in lst], np.int64)
            got = self._src_index[source] = (lst, first, last)
        return got

    def _overlapping(self, source: str, s: int,
                     e: int) -> list[tuple[FileSummary, SrcSummary]]:
        """Files with samples of ``source`` in ``[s, e)``."""
        lst, first, last = self._per_source(source)
        return [lst[i] for i in np.nonzero((last >= s) & (first < e))[0]]

    @_locked
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

    @_locked
    def n_samples(self, source: str) -> int:
        """Total number of stored samples of a source."""
        self._info(source)
        return sum(ss.n for _, ss in self._summaries(source))

    @_locked
    def gaps(self, source: str, start_ns: int | None = None,
             end_ns: int | None = None) -> list[S.Gap]:
        """Gaps of a source overlapping ``[start_ns, end_ns)``, sorted, without duplicates.

        A gap ``[a, b)`` overlaps when ``a < end_ns`` and ``b > start_ns``
        (a zero-length gap when ``start_ns <= a < end_ns``).
        """
        self._info(source)
        s = _I64_MIN if start_ns is None else int(start_ns)
        e = _I64_MAX if end_ns is None else int(end_ns)
        idx = self._gap_index.get(source)
        if idx is None:  # all gaps of the source, sorted, once per scan
            allg = sorted({g for _, ss in self._summaries(source) for g in ss.gaps},
                          key=lambda g: (g.start_ns, g.end_ns, g.reason))
            starts = np.array([g.start_ns for g in allg], dtype=np.int64)
            longest = max((g.end_ns - g.start_ns for g in allg), default=0)
            idx = self._gap_index[source] = (allg, starts, longest)
        allg, starts, longest = idx
        lo = int(np.searchsorted(starts, max(s, _I64_MIN + longest) - longest, side="left"))
        hi = int(np.searchsorted(starts, e, side="left"))
        out = []
        for g in allg[lo:hi]:
            point = g.end_ns == g.start_ns and g.start_ns >= s
            if g.end_ns > s or point:
                out.append(g)
        return out

    @_locked
    def counters(self, source: str) -> dict[str, int]:
        """Quality counters of a source, summed over the files."""
        info = self._info(source)
        tot = dict.fromkeys(info.counters, 0)
        for _, ss in self._summaries(source):
            for k, v in ss.counters.items():
                tot[k] = tot.get(k, 0) + v
        return tot

    @_locked
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
            for fsum, ss in self._overlapping(source, s, e):
                d, t = self._read_file(fsum.path, ss.info, s, e, want)
                if t.shape[0]:
                    datas.append(d)
                    times.append(t)
        if datas:
            data = np.concatenate(datas) if len(datas) > 1 else datas[0]
            tt = np.concatenate(times) if len(times) > 1 else times[0]
            if len(datas) > 1 and not np.all(np.diff(tt) > 0):
                # files overlap in time (e.g. two writers ran at once): order by time
                log.warning("files of source %r overlap in time in %s; samples sorted by time",
                            source, self.path)
                order = np.argsort(tt, kind="stable")
                data, tt = data[order], tt[order]
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
            raw = of.require(name, S.DATA)[a:b]
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
    def _rows_regular(of: OpenFile, name: str, fs: float, s: int,
                      e: int) -> tuple[int, int, np.ndarray]:
        fsamp, n, t0, k0, first, last, _ = block_table(of, name, fs)
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
    def _rows_timestamped(of: OpenFile, name: str, s: int,
                          e: int) -> tuple[int, int, np.ndarray]:
        n = n_timestamped(of, name)
        if n == 0:
            return 0, 0, np.zeros(0, np.int64)
        ds = of.require(name, S.TIME)
        a = 0 if s <= int(ds[0]) else search(ds, s, n)
        b = n if e > int(ds[n - 1]) else search(ds, e, n)
        if b <= a:
            return 0, 0, np.zeros(0, np.int64)
        return a, b, ds[a:b].astype(np.int64)

    @_locked
    def records(self, source: str) -> list[tuple[int, int]]:
        """Contiguous runs of a source as ``(start_ns, end_ns)``.

        ``start_ns`` is the first sample's time; ``end_ns`` is exclusive:
        the last sample's time plus one period, so ``read(source, *run)``
        returns exactly the run. Consecutive blocks whose start is within
        half a period of the grid continuation form one run (also across
        files); for timestamped sources a step longer than 1.5 periods
        starts a new run.
        """
        info = self._info(source)
        p = 1e9 / info.fs
        runs: list[list[int]] = []
        for _, ss in self._summaries(source):
            for a, b in ss.runs:
                if runs and abs(a - (runs[-1][1] + p)) <= p / 2:
                    runs[-1][1] = b
                else:
                    runs.append([a, b])
        pend = S.period_ns(info.fs)
        return [(a, b + pend) for a, b in runs]

    @_locked
    def blocks(self, source: str, start_ns: int | None = None,
               end_ns: int | None = None) -> np.ndarray:
        """Stored blocks of a regular source overlapping ``[start_ns, end_ns)``.

        Returns
        -------
        numpy.ndarray
            Structured array, one row per stored block in time order, fields
            ``first_ns``, ``last_ns`` (first/last sample time), ``n``,
            ``t0_ns``, ``k0`` (sample ``i`` is at ``t0_ns + round((k0 + i) * 1e9 / fs)``)
            and ``device_t0_ns`` (the device clock on the same grid;
            ``bshm.store.schema.NO_DEVICE_TIME`` when unknown). Contiguous
            blocks are stored merged, so rows are not the written blocks.

        Raises
        ------
        ValueError
            Unknown source, or a timestamped one.
        """
        info = self._info(source)
        if info.timing != "regular":
            raise ValueError(f"source {source!r} is timestamped: it has no blocks")
        s = _I64_MIN if start_ns is None else int(start_ns)
        e = _I64_MAX if end_ns is None else int(end_ns)
        dt = np.dtype([("first_ns", "<i8"), ("last_ns", "<i8"), ("n", "<i8"),
                       ("t0_ns", "<i8"), ("k0", "<i8"), ("device_t0_ns", "<i8")])
        parts = []
        for fsum, ss in self._overlapping(source, s, e):
            try:
                _, n, t0, k0, first, last, dev = block_table(self._handle(fsum.path), source,
                                                             ss.info.fs)
            except (OSError, KeyError, RuntimeError, ValueError) as exc:
                raise StoreError(f"{fsum.path}: cannot read the blocks of {source!r} "
                                 f"({exc})") from None
            m = (last >= s) & (first < e)
            out = np.zeros(int(m.sum()), dt)
            for name, col in (("first_ns", first), ("last_ns", last), ("n", n), ("t0_ns", t0),
                              ("k0", k0), ("device_t0_ns", dev)):
                out[name] = col[m]
            parts.append(out)
        return np.concatenate(parts) if parts else np.zeros(0, dt)

    @_locked
    def summaries(self) -> list[FileSummary]:
        """Per-file summaries, in file order (used by ``bshm inspect``)."""
        return list(self._order)


def _finished_twin(p: Path, names: set[str]) -> bool:
    """True for ``x.h5.part`` when ``x.h5`` is the same file (a writer
    stopped between the hard link and the unlink of its rename)."""
    if not p.name.endswith(".part") or p.name[: -len(".part")] not in names:
        return False
    try:
        return p.samefile(p.with_name(p.name[: -len(".part")]))
    except OSError:
        return False


def open_raw(path_or_dir: Any, *, max_open_files: int = 16, allow_empty: bool = False,
             use_cache: bool = True) -> RawReader:
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
    use_cache : bool, optional
        Read and update the folder's summary cache (in ``$BSHM_CACHE_DIR``,
        default ``~/.cache/bshm/index``).

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
    return RawReader(path_or_dir, max_open_files=max_open_files, allow_empty=allow_empty,
                     use_cache=use_cache)
