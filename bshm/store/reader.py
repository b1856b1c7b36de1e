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
the requested rows are read; large reads of finished files undo the
chunks' filters with Numba kernels (:mod:`bshm.store.chunkread`, the same
bytes as HDF5, h5py whenever anything is unexpected). ``open_raw(folder,
files=[...])`` reads only some files of a folder (e.g. a batch's hours).

Folders: a file that cannot be read (not HDF5, truncated, damaged, wrong
schema version, another station) is skipped with a logged warning and
listed in :attr:`RawReader.skipped`; a single file given explicitly raises
instead. Finished files are opened without SWMR and live ones with bounded
retries, so a damaged file never makes a reader wait
(:mod:`bshm.store.h5io`). Duplicated and overlapping files are excluded by
the rule of :mod:`bshm.store.overlap`. A data chunk that fails its
checksum is never returned: its rows become a gap with the reason, and it
is listed in :attr:`RawReader.damaged`. :meth:`RawReader.problems` lists
all of these for reports.
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

from bshm.errors import DamagedFileError, SchemaVersionError, StoreError
from bshm.store import schema as S
from bshm.store.fileindex import (
    FileSummary,
    IndexCache,
    OpenFile,
    SrcSummary,
    block_table,
    summarize_file,
)
from bshm.store.h5io import read_rows, short
from bshm.store.overlap import Exclusion, find_exclusions
from bshm.store.rows import read_span, rows_regular, rows_timestamped
from bshm.timeutil import to_iso

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
        Files of a folder that were skipped, with the reason (unreadable,
        damaged, unsupported version, another station, a duplicate).
    excluded : list of Exclusion
        Sources of files excluded because they overlap an earlier-written
        file (:mod:`bshm.store.overlap`); exact duplicates of whole files
        are in ``skipped`` instead.
    damaged : list of dict
        Damaged chunks found while reading: ``{"file", "source", "dataset",
        "rows": [first, last], "start_ns", "end_ns", "start", "end",
        "reason"}``; their rows are returned as gaps, never as data.
    """

    def __init__(self, path: Any, *, max_open_files: int = 16, allow_empty: bool = False,
                 use_cache: bool = True, files: Sequence[Any] | None = None) -> None:
        self._lock = threading.RLock()
        self.path = Path(path)
        self.max_open_files = max(1, int(max_open_files))
        self._allow_empty = allow_empty
        self._open: OrderedDict[Path, OpenFile] = OrderedDict()
        self._summ: dict[Path, FileSummary] = {}
        self._bad: dict[Path, tuple[tuple[int, int], str]] = {}
        self._kind: dict[Path, str] = {}  # why a file is bad: damaged, version, other
        self._lost: dict[Path, list[tuple[str, S.Gap]]] = {}  # spans of files lost while reading
        self._chunk_gaps: dict[str, set[S.Gap]] = {}
        self._excluded: dict[tuple[Path, str], Exclusion] = {}
        self.excluded: list[Exclusion] = []
        self.damaged: list[dict[str, Any]] = []
        self._damaged_keys: set[tuple[str, str, int]] = set()
        self._dups: set[Path] = set()
        self._transient: list[S.Gap] = []
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
        self._subset = None if files is None else self._subset_of(files)
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

    def _subset_of(self, files: Sequence[Any]) -> list[Path]:
        """The folder's files named by ``files`` (``open_raw(folder, files=...)``)."""
        if not self._is_dir:
            raise ValueError(f"files= needs a folder, not the file {self.path}")
        if isinstance(files, (str, Path)):
            raise TypeError("files= takes a sequence of file names or paths, not one")
        out = []
        for f in files:
            p = Path(f)
            if p.parent != Path() and p.parent != self.path and not _same_dir(p.parent,
                                                                               self.path):
                raise ValueError(f"{p}: not a file of the folder {self.path}")
            out.append(self.path / p.name)
        return out

    def _listing(self) -> list[Path]:
        if self._subset is not None:  # the given files, as a listing of the folder would
            found = []
            for p in self._subset:
                if not S.is_raw_name(p):
                    continue
                if p.is_file():
                    found.append(p)
                elif p.name.endswith(".part"):  # its writer may have finished it meanwhile
                    final = p.with_name(p.name[: -len(".part")])
                    if final.is_file():
                        found.append(final)
            found = sorted(set(found))
            names = {p.name for p in found}
            return [p for p in found if not _finished_twin(p, names)]
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
            self._kind.pop(p, None)
        for p in [p for p in self._lost if p not in present]:
            del self._lost[p]
        for p in listing:
            self._scan_one(p)
        if self._cache is not None:
            if self._subset is None:  # (a subset leaves the other files' entries alone)
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
            assert self._cache is not None
            self._mark_bad(p, stat, cached, self._cache.error_kind(p))
            return
        try:
            of = self._open.get(p)
            prev = None
            if of is not None and live:
                of.refresh()
                prev = self._summ.get(p)  # same open file: its attributes are known
            self._summ[p] = summarize_file(self._handle(p), prev)
            self._bad.pop(p, None)
            self._kind.pop(p, None)
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
            kind = _error_kind(exc)
            self._mark_bad(p, stat, str(exc), kind)  # (a .part is retried once it changes)
            if self._cache is not None and not live:
                self._cache.put(p, str(exc), stat, kind)

    def _mark_bad(self, p: Path, stat: tuple[int, int], why: str, kind: str = "other") -> None:
        self._bad[p] = (stat, why)
        self._kind[p] = kind
        if (p, why) not in self._warned:
            self._warned.add((p, why))
            log.warning("skipping %s", why)

    def _warn_once(self, p: Path, why: str) -> None:
        if (p, why) not in self._warned:
            self._warned.add((p, why))
            log.warning("%s", why)

    def _rebuild(self, first: bool) -> None:
        summ = sorted(self._summ.values(), key=lambda s: (s.start_ns, s.path.name))
        if summ and not self.station:
            self.station = summ[0].station
        ordered = []
        for s in summ:
            if s.station != self.station:
                why = f"{s.path}: station {s.station!r}, not {self.station!r}"
                self._mark_bad(s.path, s.stat, why, "other")
                continue
            ordered.append(s)
        excl = find_exclusions(ordered)
        by_file: dict[Path, list[Exclusion]] = {}
        for e in excl:
            by_file.setdefault(e.path, []).append(e)
        dups: list[tuple[Path, str]] = []
        whole: set[Path] = set()
        for s in ordered:
            es = by_file.get(s.path, [])
            with_samples = [n for n, ss in s.sources.items() if ss.n]
            if es and all(e.duplicate for e in es) and len(es) == len(with_samples):
                whole.add(s.path)
                dups.append((s.path, f"{s.path}: the same samples as {es[0].kept.name} "
                                     "(a copy?): not read twice"))
        for p, why in dups:
            self._warn_once(p, f"skipping {why}")
        self.excluded = [e for e in excl if e.path not in whole]
        for e in self.excluded:
            self._warn_once(e.path, f"excluding {e.reason}")
        self._excluded = {(e.path, e.source): e for e in self.excluded}
        ordered = [s for s in ordered if s.path not in whole]
        self._order = ordered
        self.files = [s.path for s in ordered]
        self.skipped = sorted([(p, why) for p, (_, why) in self._bad.items()] + dups)
        self._dups = {p for p, _ in dups}
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

    def _lose(self, fsum: FileSummary, exc: Exception) -> None:
        """A file found damaged while reading: skip it from now on, and
        record a gap over its span of every source."""
        p = fsum.path
        why = f"{p}: damaged while reading ({exc})" if str(p) not in str(exc) else str(exc)
        if not self._is_dir:
            raise DamagedFileError(why, path=str(p)) from None
        self._lost[p] = [
            (name, S.Gap(ss.first_ns, ss.last_ns + S.period_ns(ss.info.fs), why))
            for name, ss in fsum.sources.items() if ss.n
        ]
        self._drop(p)
        self._mark_bad(p, fsum.stat, why, "damaged")
        if self._cache is not None and not fsum.live:
            self._cache.put(p, why, fsum.stat, "damaged")
            self._cache.save()
        self._rebuild(False)

    def _note_damaged_chunks(self, fsum: FileSummary, source: str,
                             bad: list[tuple[int, int, str]],
                             spans: list[tuple[int, int]]) -> None:
        """Record damaged data chunks (rows ``[r0, r1)``, time ``spans``) as gaps."""
        for (r0, r1, why), (g0, g1) in zip(bad, spans, strict=True):
            reason = (f"damaged chunk in {fsum.path.name}: sources/{source}/data rows "
                      f"{r0}..{r1 - 1} failed its checksum; not read")
            self._chunk_gaps.setdefault(source, set()).add(S.Gap(g0, g1, reason))
            self._gap_index.pop(source, None)
            key = (str(fsum.path), source, r0)
            if key in self._damaged_keys:
                continue
            self._damaged_keys.add(key)
            self.damaged.append({
                "file": str(fsum.path), "source": source, "dataset": f"sources/{source}/data",
                "rows": [r0, r1 - 1], "start_ns": g0, "end_ns": g1, "start": to_iso(g0),
                "end": to_iso(g1), "reason": why})
            log.warning("%s (%s .. %s)", reason, to_iso(g0), to_iso(g1))

    @_locked
    def problems(self) -> list[dict[str, Any]]:
        """Everything the reader did not read, for reports and ``--json``.

        Returns
        -------
        list of dict
            ``{"file", "kind", "reason"}`` per skipped file (``kind``:
            ``damaged``, ``duplicate``, ``version``, ``other``), plus
            ``{"file", "kind": "overlap", "source", "start_ns", "end_ns",
            "reason"}`` per excluded source and ``{"file", "kind":
            "damaged_chunk", "source", "rows", "start_ns", "end_ns",
            "reason"}`` per damaged chunk found so far.
        """
        out: list[dict[str, Any]] = []
        for p, why in self.skipped:
            kind = "duplicate" if p in self._dups else self._kind.get(p, "other")
            out.append({"file": str(p), "kind": kind, "reason": why})
        for e in self.excluded:
            out.append({"file": str(e.path), "kind": "duplicate" if e.duplicate else "overlap",
                        "source": e.source, "start_ns": e.start_ns, "end_ns": e.end_ns,
                        "kept": str(e.kept), "reason": e.reason})
        for d in self.damaged:
            out.append({"kind": "damaged_chunk", **d})
        return out

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
            lst = [(s, s.sources[source]) for s in self._order
                   if source in s.sources and (s.path, source) not in self._excluded]
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
            found = {g for _, ss in self._summaries(source) for g in ss.gaps}
            found |= self._extra_gaps(source)
            allg = sorted(found, key=lambda g: (g.start_ns, g.end_ns, g.reason))
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

    def _extra_gaps(self, source: str) -> set[S.Gap]:
        """Gaps the reader adds: excluded overlaps, files lost while reading,
        damaged chunks."""
        out = set(self._chunk_gaps.get(source, ()))
        for e in self.excluded:
            g = e.gap()
            if e.source == source and g is not None:
                out.add(g)
        for lst in self._lost.values():
            out.update(g for name, g in lst if name == source)
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
        self._transient = []
        if s < e:
            for fsum, ss in self._overlapping(source, s, e):
                try:
                    d, t = self._read_file(fsum, ss.info, s, e, want)
                except DamagedFileError as exc:
                    self._lose(fsum, exc)  # skipped from now on; its span becomes a gap
                    continue
                if t.shape[0]:
                    datas.append(d)
                    times.append(t)
        if datas:
            data = np.concatenate(datas) if len(datas) > 1 else datas[0]
            tt = np.concatenate(times) if len(times) > 1 else times[0]
            if len(datas) > 1 and not np.all(np.diff(tt) > 0):
                # files interleave without overlapping (overlaps are excluded), e.g. an
                # import that filled a hole between earlier samples: order by time
                log.debug("files of source %r interleave in time in %s", source, self.path)
                order = np.argsort(tt, kind="stable")
                data, tt = data[order], tt[order]
        else:
            data = np.zeros((0, len(want)), np.float32)
            tt = np.zeros(0, np.int64)
        meta = {c.name: c for c in info.channels}
        gaps = self.gaps(source, start_ns, end_ns)
        if self._transient:  # a live file's chunk not readable right now
            gaps = sorted(set(gaps) | set(self._transient),
                          key=lambda g: (g.start_ns, g.end_ns, g.reason))
        return S.Record(source, info.fs, tuple(meta[c] for c in want), data, tt, tuple(gaps))

    def _read_file(self, fsum: FileSummary, finfo: S.SourceInfo, s: int, e: int,
                   want: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Rows of one file in ``[s, e)``; damaged data chunks are left out
        (and recorded as gaps). A file whose index cannot be read raises
        :class:`DamagedFileError`."""
        path = fsum.path
        name = finfo.name
        try:
            of = self._handle(path)
            if finfo.timing == "regular":
                a, b, t = rows_regular(of, name, finfo.fs, s, e)
            else:
                a, b, t = rows_timestamped(of, name, s, e)
            if b <= a:
                return np.zeros((0, len(want)), np.float32), np.zeros(0, np.int64)
            raw, bad = read_rows(of.require(name, S.DATA), a, b,
                                 fast=not (fsum.live or of.swmr))
        except (OSError, KeyError, RuntimeError, ValueError, StoreError) as exc:
            self._drop(path)  # reopened next time (a live file may just be racing its writer)
            if fsum.live and not isinstance(exc, DamagedFileError):
                raise StoreError(f"{path}: cannot read source {name!r} now ({short(exc)}); "
                                 "try again") from None
            why = str(exc) if isinstance(exc, StoreError) else short(exc)
            raise DamagedFileError(f"{path}: cannot read source {name!r} ({why})",
                                   path=str(path)) from None
        if bad and fsum.live:  # maybe caught while its writer rewrote the chunk: once more
            try:
                of.refresh()
                raw, bad = read_rows(of.require(name, S.DATA), a, b)
            except (OSError, KeyError, RuntimeError, ValueError) as exc:
                raise StoreError(f"{path}: cannot read source {name!r} now ({short(exc)}); "
                                 "try again") from None
        if bad:
            spans = [read_span(of, finfo, r0, r1, a, t) for r0, r1, _ in bad]
            if fsum.live:  # reported for this read only: the next read tries again
                self._transient += [S.Gap(g0, g1, f"{path.name}: sources/{name}/data rows "
                                          f"{r0}..{r1 - 1} not readable now ({why})")
                                    for (r0, r1, why), (g0, g1) in zip(bad, spans, strict=True)]
            else:
                self._note_damaged_chunks(fsum, name, bad, spans)
            keep = np.ones(b - a, bool)
            for r0, r1, _ in bad:
                keep[max(r0, a) - a:min(r1, b) - a] = False
            raw, t = raw[keep], t[keep]
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
        # (files of one period may interleave in time, e.g. an import filling a hole)
        for a, b in sorted(r for _, ss in self._summaries(source) for r in ss.runs):
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
            except (OSError, KeyError, RuntimeError, ValueError, StoreError) as exc:
                self._drop(fsum.path)
                err = DamagedFileError(f"{fsum.path}: cannot read the blocks of {source!r} "
                                       f"({short(exc)})", path=str(fsum.path))
                if fsum.live:
                    raise StoreError(str(err)) from None
                self._lose(fsum, err)
                continue
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


def _error_kind(exc: BaseException) -> str:
    """``damaged`` (unreadable, truncated, failed checks), ``version`` or ``other``."""
    if isinstance(exc, SchemaVersionError):
        return "version"
    if isinstance(exc, DamagedFileError):
        return "damaged"
    return "other"


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


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
             use_cache: bool = True, files: Sequence[Any] | None = None) -> RawReader:
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
    files : sequence of str or os.PathLike, optional
        Only these files of the folder (names, or paths in the folder), as
        if the folder held nothing else: e.g. the few hourly files of a
        batch of windows, without listing or summarising the rest (and
        without a temporary folder of links). Files that do not exist are
        left out like a listing would (a live ``.part`` that was finished
        meanwhile is followed to its final name); :meth:`RawReader.refresh`
        looks at these files only. With ``use_cache`` the folder's summary
        cache is read and updated for these files only. None (default):
        the whole folder.

    Returns
    -------
    RawReader

    Raises
    ------
    bshm.errors.SchemaVersionError
        A single file with a missing or unsupported schema version.
    bshm.errors.StoreError
        A single file that is not a readable raw file, or a folder without
        any readable raw file (among ``files`` when given).
    ValueError
        ``files`` given with a single file, or naming a file of another folder.
    """
    return RawReader(path_or_dir, max_open_files=max_open_files, allow_empty=allow_empty,
                     use_cache=use_cache, files=files)
