"""An opened raw store as the viewer sees it (no Qt).

:class:`RawSession` answers "what does source S look like between t0 and
t1" with either every sample (narrow ranges) or a per-run min/max overview
(wide ranges), so that a month of data opens in seconds and only the
visible slice is ever read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from bshm.gui import data as D

from bshm.errors import StoreError

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where overviews are kept between sessions (``$BSHM_CACHE_DIR``, else XDG cache)."""
    import os

    env = os.environ.get("BSHM_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bshm" / "overview"


def safe_name(text: str, limit: int = 40) -> str:
    """A file-name part from untrusted text: ``[A-Za-z0-9_.-]`` only, no leading dot."""
    import re

    out = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text))[:limit].lstrip(".")
    return out or "_"


def open_reader(path: Path):
    """``bshm.store.open_raw`` with errors turned into one clear line."""
    try:
        from bshm.store import open_raw
    except ImportError as exc:  # pragma: no cover - the store ships with bshm
        raise StoreError(f"the raw store is not available: {exc}") from exc
    try:
        return open_raw(path)
    except StoreError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise StoreError(f"{path}: cannot read as a bshm raw file ({exc})") from exc


class RawSession:
    """A raw folder or file opened for viewing.

    Parameters
    ----------
    path : path-like
        A raw ``.h5``/``.h5.part`` file or a folder of them.

    Raises
    ------
    bshm.errors.StoreError
        When nothing readable is there.
    """

    def __init__(self, path) -> None:
        self.path = Path(path)
        self.reader = open_reader(self.path)
        if not self.reader.sources:
            raise StoreError(f"{self.path}: the file holds no sources")
        self.overviews = D.OverviewCache()
        # HDF5 cannot have one SWMR file open twice in a process (a second
        # reader's refresh corrupts the first's reads), so every thread shares
        # this reader and takes this lock around each call.
        self.lock = threading.RLock()
        self.cancelled = threading.Event()  # set on close: background work stops
        self._cache_loaded: set[str] = set()
        self._runs: dict[str, list[tuple[int, int]]] = {}

    # -- facts -------------------------------------------------------------
    @property
    def station(self) -> str:
        """Station name."""
        return str(self.reader.station)

    @property
    def sources(self) -> dict:
        """Source name -> SourceInfo."""
        return self.reader.sources

    @property
    def live(self) -> bool:
        """True while a writer still has a ``.h5.part`` file open."""
        return any(str(f).endswith(".part") for f in self.reader.files)

    def channel_names(self, source: str) -> list[str]:
        """Channel names of a source."""
        return [c.name for c in self.sources[source].channels]

    def channel_meta(self, source: str, name: str):
        """ChannelMeta of one channel."""
        for c in self.sources[source].channels:
            if c.name == name:
                return c
        raise KeyError(f"source {source!r} has no channel {name!r}")

    def span(self, source: str | None = None) -> tuple[int, int]:
        """First/last sample time of a source (or of all sources), ns."""
        names = [source] if source else list(self.sources)
        spans = []
        for s in names:
            try:
                with self.lock:
                    spans.append(self.reader.span(s))
            except (StoreError, ValueError, KeyError):
                continue
        if not spans:
            raise StoreError(f"{self.path}: no samples recorded yet")
        return min(a for a, _ in spans), max(b for _, b in spans)

    def runs(self, source: str) -> list[tuple[int, int]]:
        """Contiguous record runs of a source (cached until :meth:`refresh`)."""
        with self.lock:
            if source not in self._runs:
                self._runs[source] = [(int(a), int(b)) for a, b in self.reader.records(source)]
            return self._runs[source]

    def refresh(self) -> None:
        """Pick up appended data and new files."""
        with self.lock:
            self.reader.refresh()
            self._runs.clear()

    def close(self) -> None:
        """Stop background work and close the reader."""
        self.cancelled.set()
        with self.lock:
            self.reader.close()

    def read_record(
        self,
        source: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
        channels: Sequence[str] | None = None,
    ):
        """``RawReader.read`` under the session lock (any thread)."""
        with self.lock:
            return self.reader.read(
                source, start_ns, end_ns, channels=list(channels) if channels else None
            )

    def gaps(self, source: str, start_ns: int | None = None, end_ns: int | None = None) -> list:
        """Gaps of a source overlapping a range."""
        with self.lock:
            return self.reader.gaps(source, start_ns, end_ns)

    # -- reading -----------------------------------------------------------
    def read_raw(
        self, source: str, start_ns: int, end_ns: int, channels: Sequence[str] | None = None
    ) -> D.Trace:
        """Every sample of a range as a plottable trace (NaN at breaks)."""
        info = self.sources[source]
        chans = tuple(channels) if channels else tuple(self.channel_names(source))
        rec = self.read_record(source, start_ns, end_ns, chans)
        fs = D.effective_fs(rec.times_ns, info.fs)
        t, y = D.insert_breaks(rec.times_ns, rec.data, fs)
        return D.Trace(source, chans, t, y, "raw", start_ns, end_ns, fs)

    def _cache_file(self, source: str) -> Path:
        """The overview cache file of a source: always inside :func:`cache_dir`.

        Station and source names come from the data file, so they are reduced
        to a safe file-name part (a crafted ``../../x`` or ``/etc/x`` cannot
        place the file elsewhere); the hash keeps names unique.
        """
        import hashlib

        key = hashlib.sha256(
            f"{self.path.resolve()}|{self.station}|{source}".encode("utf-8", "replace")
        ).hexdigest()[:20]
        return cache_dir() / f"{safe_name(self.station)}_{safe_name(source)}_{key}.npz"

    def load_overview_cache(self, source: str) -> int:
        """Read envelopes saved by an earlier session; returns runs loaded.

        Only runs that still exist with the same bounds are used, so a
        changed or grown record is recomputed. A damaged cache is ignored.
        """
        path = self._cache_file(source)
        if not path.exists():
            return 0
        try:
            with np.load(path) as z:
                bounds, offs = z["bounds"], z["offsets"]
                t, lo, hi = z["t"], z["lo"], z["hi"]
        except (OSError, KeyError, ValueError) as exc:
            log.warning("ignoring the overview cache %s: %s", path, exc)
            return 0
        runs = set(self.runs(source))
        n = 0
        for k, (a, b) in enumerate(bounds.tolist()):
            if (a, b) in runs:
                sl = slice(offs[k], offs[k + 1])
                self.overviews.put((source, a, b), (t[sl], lo[sl], hi[sl]))
                n += 1
        return n

    def save_overview_cache(self, source: str) -> Path | None:
        """Write this source's envelopes for the next session (atomic)."""
        with self.overviews.lock:
            items = sorted((k[1:], v) for k, v in self.overviews.runs.items() if k[0] == source)
        if not items:
            return None
        path = self._cache_file(source)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            offs = np.cumsum([0] + [len(v[0]) for _, v in items])
            tmp = path.with_name(path.name + ".tmp.npz")
            np.savez(
                tmp,
                bounds=np.array([k for k, _ in items], dtype=np.int64),
                offsets=offs,
                t=np.concatenate([v[0] for _, v in items]),
                lo=np.vstack([v[1] for _, v in items]),
                hi=np.vstack([v[2] for _, v in items]),
            )
            tmp.replace(path)
        except OSError as exc:
            log.warning("cannot save the overview cache %s: %s", path, exc)
            return None
        return path

    def _ensure_cache(self, source: str) -> None:
        if source not in self._cache_loaded:
            self._cache_loaded.add(source)
            self.load_overview_cache(source)

    def missing_overview(self, source: str, start_ns: int, end_ns: int) -> list[tuple[int, int]]:
        """Runs in a range whose overview is not computed yet (after the disk cache)."""
        self._ensure_cache(source)
        return [
            r
            for r in D.overlapping(self.runs(source), start_ns, end_ns)
            if (source, *r) not in self.overviews
        ]

    def read_overview(
        self, source: str, start_ns: int, end_ns: int, channels: Sequence[str] | None = None
    ) -> D.Trace:
        """The min/max envelope of the runs in a range (those computed so far)."""
        self._ensure_cache(source)
        names = self.channel_names(source)
        chans = tuple(channels) if channels else tuple(names)
        cols = [names.index(c) for c in chans]
        pieces, complete = [], True
        for run in D.overlapping(self.runs(source), start_ns, end_ns):
            env = self.overviews.get((source, *run))
            if env is None:
                complete = False
                continue
            t, lo, hi = env
            pieces.append((t, lo[:, cols], hi[:, cols]))
        t, y = D.envelope_trace(pieces)
        if y.size == 0:
            y = np.empty((0, len(chans)), dtype=np.float32)
        fs = float(self.sources[source].fs or 1.0)
        return D.Trace(source, chans, t, y, "overview", start_ns, end_ns, fs, complete)

    def load(
        self, source: str, start_ns: int, end_ns: int, channels: Sequence[str] | None = None
    ) -> D.Trace:
        """Raw samples when the range is narrow enough, else the overview."""
        fs = float(self.sources[source].fs or 1.0)
        if D.samples_in(self.runs(source), start_ns, end_ns, fs) <= D.RAW_POINT_LIMIT:
            return self.read_raw(source, start_ns, end_ns, channels)
        return self.read_overview(source, start_ns, end_ns, channels)

    def compute_overview(
        self,
        source: str,
        runs: list[tuple[int, int]],
        progress: Callable[[object], None] | None = None,
    ) -> int:
        """Compute (and cache) the envelopes of runs; runs in a pool thread.

        Shares the session's reader, taking the lock for each chunk read, so
        the GUI thread waits at most one chunk.
        Returns the number of runs computed.
        """
        import time

        fs = float(self.sources[source].fs or 1.0)
        self._ensure_cache(source)
        done = 0
        last = time.monotonic()
        for run in runs:
            if self.cancelled.is_set():
                break
            key = (source, *run)
            if key in self.overviews:
                continue
            self.overviews.put(key, D.run_envelope(self, source, run[0], run[1], fs))
            done += 1
            if progress is not None and time.monotonic() - last > 0.5:
                last = time.monotonic()
                progress(done)
        if done and not self.cancelled.is_set():
            self.save_overview_cache(source)
        return done

    def health(self, source: str, now_ns: int | None = None):
        """(source Health, {channel: Health}) from the last seconds of data.

        Pass ``now_ns`` for live data to flag a source that went silent.
        """
        with self.lock:
            return D.source_health(self.reader, source, now_ns=now_ns)
