"""Per-file index of raw files: open, check, summarise, cache.

A :class:`FileSummary` holds what the reader needs to route a query
without opening the file: per source the sample count, first and last
sample time, contiguous runs, gaps and counters. Summaries of finished
``.h5`` files are cached per folder in the user's cache directory
(:func:`cache_path`; keyed by file name, size and modification time), so
reopening a folder of hundreds of files does not open each of them again,
and the data folders themselves are never written by a reader. Writers add
the files they close. Without a writable cache directory there is simply
no cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bshm._version import __version__
from bshm.errors import DamagedFileError, SchemaVersionError, StoreError
from bshm.store import schema as S
from bshm.store.h5io import is_checksum_error, open_read, short

log = logging.getLogger(__name__)

_CACHE_VERSION = 2  # 2: created_ns, checksums
_CACHE_MAX_AGE_S = 90 * 86400  # cache files of folders not opened for this long go


def cache_dir() -> Path:
    """``$BSHM_CACHE_DIR``, else ``$XDG_CACHE_HOME/bshm/index``, else
    ``~/.cache/bshm/index``."""
    env = os.environ.get("BSHM_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bshm" / "index"


def cache_path(folder: Path) -> Path:
    """The summary cache file of a data folder: ``<folder name>-<hash>.json``.

    The hash of the absolute path makes it unique; the folder's own name
    (made safe with :func:`bshm.store.schema.safe_name`, so that no name,
    however crafted, reaches outside the cache folder) makes it readable.
    """
    p = Path(folder).resolve()
    digest = hashlib.sha256(str(p).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    label = S.safe_name(p.name or "root")[:40]
    return cache_dir() / f"{label}-{digest}.json"


@dataclass
class SrcSummary:
    info: S.SourceInfo
    n: int
    first_ns: int
    last_ns: int
    gaps: list[S.Gap]
    counters: dict[str, int]
    runs: list[tuple[int, int]]


@dataclass
class FileSummary:
    path: Path
    station: str
    start_ns: int
    version: int
    sources: dict[str, SrcSummary]
    stat: tuple[int, int]  # (st_mtime_ns, st_size)
    #: host time the file was created (root attribute ``created_ns``): which
    #: of two overlapping files was written first
    created_ns: int = 0
    #: True when the sample datasets carry Fletcher32 checksums
    checksums: bool = False

    @property
    def live(self) -> bool:
        return self.path.name.endswith(".part")


class OpenFile:
    """An open file with its groups, datasets and derived block tables cached."""

    def __init__(self, path: Path, f: h5py.File | None = None) -> None:
        self.path = path
        if f is not None:  # a file the caller has open (e.g. the writer's own)
            self.f, self.swmr = f, False
        else:
            self.f, self.swmr = _open_h5(path)
            if not path.name.endswith(".part"):
                _check_size(self.f, path)
        self.ds: dict[tuple[str, str], h5py.Dataset | None] = {}
        self.tables: dict[str, tuple[np.ndarray, ...]] = {}
        # per source: its group and the names of its members (groups and
        # datasets cannot be added to a file in SWMR mode, so both stay valid)
        self.groups: dict[str, tuple[h5py.Group, frozenset[str]]] = {}

    def group(self, source: str) -> tuple[h5py.Group, frozenset[str]]:
        """The source's group and its member names (``KeyError`` when missing)."""
        got = self.groups.get(source)
        if got is None:
            g = self.f[S.SOURCES_GROUP][source]
            got = self.groups[source] = (g, frozenset(g))
        return got

    def dataset(self, source: str, name: str) -> h5py.Dataset | None:
        key = (source, name)
        try:
            return self.ds[key]
        except KeyError:
            pass
        g, members = self.group(source)
        d = self.ds[key] = g[name] if name in members else None
        return d

    def require(self, source: str, name: str) -> h5py.Dataset:
        """Like :meth:`dataset`, but a missing dataset raises ``KeyError``."""
        d = self.dataset(source, name)
        if d is None:
            raise KeyError(f"no dataset sources/{source}/{name}")
        return d

    def refresh(self) -> None:
        if self.swmr:
            for d in self.ds.values():
                if d is not None:
                    d.refresh()
        self.tables.clear()

    def close(self) -> None:
        self.ds.clear()
        self.tables.clear()
        self.groups.clear()
        try:
            self.f.close()
        except Exception as exc:  # pragma: no cover - already closed / broken file
            log.debug("closing %s: %s", self.path, exc)


def _open_h5(path: Path) -> tuple[h5py.File, bool]:
    """Open read-only: a finished file plainly, a live one as a SWMR reader;
    never waits long on a damaged file (:func:`bshm.store.h5io.open_read`)."""
    if not path.exists():
        raise StoreError(f"{path}: no such file")
    try:
        return open_read(path)
    except (OSError, RuntimeError, ValueError) as exc:
        if is_checksum_error(exc):
            raise DamagedFileError(
                f"{path}: damaged file ({short(exc)}); restore it from a copy",
                path=str(path)) from None
        raise DamagedFileError(
            f"{path}: not a readable HDF5 file ({short(exc)}); it may be truncated or not a "
            "bshm file", path=str(path)
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
        raise DamagedFileError(
            f"{path}: truncated file ({have} of {need} bytes); restore it from a copy",
            path=str(path))


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


def _source_info(name: str, g: h5py.Group, of: OpenFile | None = None) -> S.SourceInfo:
    """The source's metadata from its group's attributes (with ``of``, the
    group's datasets are taken from the open file's cache)."""
    a = g.attrs
    names = _str_list(a["channel_names"])
    n = len(names)
    q = _str_list(a.get("channel_quantities", ["other"] * n))
    u = _str_list(a.get("channel_units", [""] * n))
    loc = np.asarray(a.get("channel_locations", np.full((n, 3), np.nan))).reshape(n, 3)
    d = _str_list(a.get("channel_directions", [""] * n))
    c = _str_list(a.get("channel_calibrations", [""] * n))
    chans = tuple(
        S.ChannelMeta(names[i], q[i], u[i], _loc3(loc[i].tolist()), d[i], c[i])
        for i in range(n)
    )
    if of is None:
        cds = g[S.COUNTERS] if S.COUNTERS in g else None
    else:
        cds = of.dataset(name, S.COUNTERS)
    cnames = tuple(_str_list(cds.attrs["names"])) if cds is not None else ()
    fs = _fs_attr(a, name)
    timing = _attr_str(a, "timing", "regular")
    if timing not in S.TIMINGS:
        raise ValueError(f"sources/{name}: timing {timing!r} is not one of {', '.join(S.TIMINGS)}")
    data = g.get(S.DATA) if of is None else of.dataset(name, S.DATA)
    if data is not None and (len(data.shape) != 2 or data.shape[1] != n):
        raise ValueError(f"sources/{name}/data has shape {data.shape}, not (n, {n}) for the "
                         f"{n} channel names")
    return S.SourceInfo(name, _attr_str(a, "kind"), fs, chans, timing, cnames)


def _fs_attr(a: Any, name: str) -> float:
    """The ``fs`` attribute, checked: 0, NaN, negative or absurd marks a damaged file."""
    raw = a.get("fs")
    try:
        fs = float(np.asarray(raw).reshape(()))
    except (TypeError, ValueError):
        raise ValueError(f"sources/{name}: fs attribute {raw!r} is not a number") from None
    if not (math.isfinite(fs) and S.FS_MIN <= fs <= S.FS_MAX):
        raise ValueError(f"sources/{name}: fs = {fs!r} Hz is not a sampling rate "
                         f"({S.FS_MIN:g}..{S.FS_MAX:g} Hz)")
    return fs


def block_table(of: OpenFile, source: str, fs: float) -> tuple[np.ndarray, ...]:
    """Blocks of a regular source, trimmed to the rows the data holds.

    Returns ``(first_sample, n, t0, k0, first_ns, last_ns, device_t0)`` int64
    arrays.
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
    tab = (fsamp, n, t0, k0, first, last, arr["device_t0_ns"][keep].astype(np.int64))
    of.tables[source] = tab
    return tab


def row_span(of: OpenFile, info: S.SourceInfo, r0: int, r1: int) -> tuple[int, int] | None:
    """Time span ``[first, last + period)`` of data rows ``[r0, r1)`` of a
    source, from its block table or time dataset; None when unknown."""
    p = S.period_ns(info.fs)
    try:
        if info.timing == "regular":
            fsamp, _, t0, k0, _, _, _ = block_table(of, info.name, info.fs)
            rows = np.array([r0, r1 - 1], np.int64)
            bi = np.searchsorted(fsamp, rows, side="right") - 1
            if np.all(bi >= 0):
                tt = S.grid_times(t0[bi], k0[bi] + rows - fsamp[bi], info.fs)
                return int(tt[0]), int(tt[1]) + p
        else:
            ds = of.require(info.name, S.TIME)
            if r1 <= ds.shape[0]:
                return int(ds[r0]), int(ds[r1 - 1]) + p
    except (OSError, KeyError, RuntimeError, ValueError):
        pass
    return None


def n_timestamped(of: OpenFile, source: str) -> int:
    t = of.dataset(source, S.TIME)
    d = of.dataset(source, S.DATA)
    return min(t.shape[0] if t is not None else 0, d.shape[0] if d is not None else 0)


def search(ds: h5py.Dataset, value: int, n: int) -> int:
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


def summarize_file(of: OpenFile, previous: FileSummary | None = None) -> FileSummary:
    """Summarise an open raw file (version checked first).

    With ``previous`` (an earlier summary of the same live file) only what
    can change under SWMR is read again: attributes and groups cannot be
    added or changed once a file is in SWMR mode.

    Raises
    ------
    bshm.errors.SchemaVersionError, bshm.errors.StoreError
        Unsupported version, wrong kind or a damaged file.
    """
    path = of.path
    try:
        st = path.stat()
        if previous is not None:
            sources = {name: _summarize_source(of, name, None, ss.info)
                       for name, ss in previous.sources.items()}
            return FileSummary(path, previous.station, previous.start_ns, previous.version,
                               sources, (st.st_mtime_ns, st.st_size), previous.created_ns,
                               previous.checksums)
        f = of.f
        v = check_version(f, path)
        a = f.attrs
        sources = {}
        grp = f.get(S.SOURCES_GROUP)
        for name in (grp.keys() if grp is not None else ()):
            g = grp[name]
            if isinstance(g, h5py.Group) and name not in of.groups:
                of.groups[name] = (g, frozenset(g))
            sources[name] = _summarize_source(of, name, g)
        start = int(a.get("start_ns", 0))
        created = int(a.get("created_ns", start))
        checks = bool(sources) and all(_has_checksum(of, n) for n in sources)
        return FileSummary(path, _attr_str(a, "station"), start, v, sources,
                           (st.st_mtime_ns, st.st_size), created, checks)
    except StoreError:
        raise
    except (KeyError, OSError, RuntimeError, ValueError, TypeError) as exc:
        raise DamagedFileError(f"{path}: damaged raw file ({short(exc)})",
                               path=str(path)) from None


def _has_checksum(of: OpenFile, source: str) -> bool:
    d = of.dataset(source, S.DATA)
    return bool(d is not None and d.fletcher32)


def _summarize_source(of: OpenFile, name: str, g: h5py.Group | None,
                      info: S.SourceInfo | None = None) -> SrcSummary:
    if info is None:
        assert g is not None
        info = _source_info(name, g, of if isinstance(g, h5py.Group) else None)
    p = 1e9 / info.fs
    if info.timing == "regular":
        _, n, _, _, first, last, _ = block_table(of, name, info.fs)
        total = int(n.sum())
        runs = _runs(first, last, p)
    else:
        total = n_timestamped(of, name)
        t = of.require(name, S.TIME)[:total].astype(np.int64) if total else np.zeros(0, np.int64)
        brk = np.nonzero(np.diff(t) > 1.5 * p)[0]
        runs = _runs(np.concatenate([t[:1], t[brk + 1]]), np.concatenate([t[brk], t[-1:]]), p)
    f0 = runs[0][0] if runs else 0
    l0 = runs[-1][1] if runs else 0
    gaps: list[S.Gap] = []
    gds = of.dataset(name, S.GAPS)
    if gds is not None and gds.shape[0]:
        for row in gds[...]:
            gaps.append(S.Gap(int(row["start_ns"]), int(row["end_ns"]),
                              S.decode_reason(row["reason"])))
    counters: dict[str, int] = {}
    cds = of.dataset(name, S.COUNTERS)
    if cds is not None:
        counters = {k: int(x) for k, x in zip(info.counters, cds[...], strict=False)}
    return SrcSummary(info, total, f0, l0, gaps, counters, runs)


def _runs(first: np.ndarray, last: np.ndarray, p: float) -> list[tuple[int, int]]:
    """Merge consecutive spans whose start continues the grid within half a period."""
    runs: list[list[int]] = []
    for a, b in zip(first.tolist(), last.tolist(), strict=True):
        if runs and abs(a - (runs[-1][1] + p)) <= p / 2:
            runs[-1][1] = b
        else:
            runs.append([a, b])
    return [(a, b) for a, b in runs]


# ---------------------------------------------------------------- cache


def _summary_to_json(s: FileSummary) -> dict[str, Any]:
    srcs = {}
    for name, ss in s.sources.items():
        i = ss.info
        srcs[name] = {
            "kind": i.kind, "fs": i.fs, "timing": i.timing, "counter_names": list(i.counters),
            "channels": [[c.name, c.quantity, c.unit, [None if v != v else v for v in c.location],
                          c.direction, c.calibration] for c in i.channels],
            "n": ss.n, "first_ns": ss.first_ns, "last_ns": ss.last_ns,
            "gaps": [[g.start_ns, g.end_ns, g.reason] for g in ss.gaps],
            "counters": ss.counters, "runs": [list(r) for r in ss.runs],
        }
    return {"station": s.station, "start_ns": s.start_ns, "version": s.version,
            "stat": list(s.stat), "sources": srcs, "created_ns": s.created_ns,
            "checksums": s.checksums}


def _loc3(v: list[Any]) -> tuple[float, float, float]:
    x, y, z = (float("nan") if a is None else float(a) for a in v)
    return (x, y, z)


def _summary_from_json(path: Path, d: dict[str, Any]) -> FileSummary:
    sources = {}
    for name, x in d["sources"].items():
        chans = tuple(
            S.ChannelMeta(c[0], c[1], c[2], _loc3(c[3]), c[4], c[5]) for c in x["channels"]
        )
        info = S.SourceInfo(name, x["kind"], float(x["fs"]), chans, x["timing"],
                            tuple(x["counter_names"]))
        sources[name] = SrcSummary(
            info, int(x["n"]), int(x["first_ns"]), int(x["last_ns"]),
            [S.Gap(int(a), int(b), str(r)) for a, b, r in x["gaps"]],
            {k: int(v) for k, v in x["counters"].items()},
            [(int(a), int(b)) for a, b in x["runs"]],
        )
    return FileSummary(path, d["station"], int(d["start_ns"]), int(d["version"]), sources,
                       (int(d["stat"][0]), int(d["stat"][1])),
                       int(d.get("created_ns", d["start_ns"])), bool(d.get("checksums", False)))


class IndexCache:
    """The summaries of a folder's finished files (see :func:`cache_path`).

    Entries are valid while a file's size and modification time are
    unchanged; files that failed to open are remembered with their reason.
    Any problem with the cache file itself (missing, corrupt, not writable)
    just means no cache.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = str(Path(folder).resolve())
        self.path = cache_path(folder)
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        try:
            d = json.loads(self.path.read_text())
            if (d.get("cache_version") == _CACHE_VERSION
                    and d.get("schema_version") == S.SCHEMA_VERSION
                    and d.get("bshm") == __version__
                    and d.get("folder") == self.folder):
                self.entries = dict(d.get("files", {}))
        except (OSError, ValueError, AttributeError):
            pass

    def get(self, path: Path, stat: tuple[int, int]) -> FileSummary | str | None:
        """The cached summary, the cached error text, or None."""
        e = self.entries.get(path.name)
        if e is None or tuple(e.get("stat", ())) != stat:
            return None
        if "error" in e:
            return str(e["error"])
        try:
            return _summary_from_json(path, e)
        except (KeyError, TypeError, ValueError, IndexError):
            return None

    def error_kind(self, path: Path) -> str:
        """Kind of a cached error (``damaged``, ``version``, ``other``)."""
        return str(self.entries.get(path.name, {}).get("kind", "other"))

    def put(self, path: Path, value: FileSummary | str, stat: tuple[int, int],
            kind: str = "other") -> None:
        if isinstance(value, str):
            self.entries[path.name] = {"stat": list(stat), "error": value, "kind": kind}
        else:
            self.entries[path.name] = _summary_to_json(value)
        self.dirty = True

    def prune(self, names: set[str]) -> None:
        for k in [k for k in self.entries if k not in names]:
            del self.entries[k]
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        doc = {"cache_version": _CACHE_VERSION, "schema_version": S.SCHEMA_VERSION,
               "bshm": __version__, "folder": self.folder, "files": self.entries}
        try:
            fresh = not self.path.parent.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not fresh and not self.path.exists():
                _prune_cache_dir(self.path.parent)
            fd, tmp = tempfile.mkstemp(prefix=".tmp.", dir=self.path.parent)
            with os.fdopen(fd, "w") as fh:
                json.dump(doc, fh, separators=(",", ":"))
            os.replace(tmp, self.path)
            self.dirty = False
        except OSError as exc:
            log.debug("cannot write %s: %s", self.path, exc)
            try:
                os.unlink(tmp)
            except (OSError, UnboundLocalError):
                pass



def _prune_cache_dir(d: Path) -> None:
    """Remove cache files not written for :data:`_CACHE_MAX_AGE_S`."""
    limit = time.time() - _CACHE_MAX_AGE_S
    for p in d.glob("*.json"):
        try:
            if p.stat().st_mtime < limit:
                p.unlink()
        except OSError:
            pass

def index_closed_files(folder: Path, closed: list[tuple[Path, FileSummary | None]]) -> None:
    """Add the summaries of files a writer closed to the folder's cache.

    ``closed`` holds ``(final path, summary made before closing or None)``.
    Readers opening the folder then find them without opening the files.
    Best effort: any problem only means readers summarise those files
    themselves.
    """
    try:
        cache = IndexCache(folder)
        for p, summ in closed:
            if summ is None:
                of = OpenFile(p)
                try:
                    summ = summarize_file(of)
                finally:
                    of.close()
            st = p.stat()
            stat = (st.st_mtime_ns, st.st_size)
            cache.put(p, dataclasses.replace(summ, path=p, stat=stat), stat)
        cache.save()
    except (StoreError, OSError, ValueError) as exc:
        log.debug("not indexed (%s): %s", folder, exc)
