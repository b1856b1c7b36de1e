"""The raw HDF5 schema: names, dtypes, record types and helpers.

This module is the single place that spells the layout of a raw file (see
``docs/hdf5-schema.md``). It imports only NumPy, so the record types can be
used without loading h5py.

Layout (schema version 1)::

    /                                attrs: bshm_schema_version, bshm_kind="raw",
                                            station, start_ns, rollover_s, ...
    /sources/<name>/                 attrs: kind, fs, timing, channel_* ...
    /sources/<name>/data             float32 (n_samples, n_channels)
    /sources/<name>/blocks           BLOCK_DTYPE (regular sources)
    /sources/<name>/time             int64 (n_samples,) (timestamped sources)
    /sources/<name>/gaps             GAP_DTYPE
    /sources/<name>/counters         int64 (n_counters,), attr "names"
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bshm.timeutil import NS_PER_S

#: Version of the raw file layout written by this code. Readers refuse a file
#: with a missing or newer version (see the version policy in the docs).
SCHEMA_VERSION = 1
#: Oldest raw schema version this reader understands.
MIN_SCHEMA_VERSION = 1

KIND = "raw"
ATTR_VERSION = "bshm_schema_version"
ATTR_KIND = "bshm_kind"
SOURCES_GROUP = "sources"

DATA = "data"
BLOCKS = "blocks"
TIME = "time"
GAPS = "gaps"
COUNTERS = "counters"

TIMINGS = ("regular", "timestamped")
QUANTITIES = (
    "acceleration",
    "strain",
    "temperature",
    "displacement",
    "velocity",
    "tilt",
    "voltage",
    "other",
)
DIRECTIONS = ("", "x", "y", "z", "-x", "-y", "-z")
DEFAULT_COUNTERS = (
    "frames_ok",
    "frames_bad",
    "bytes_skipped",
    "modbus_errors",
    "timeouts",
    "reconnects",
    "samples_lost",
)

#: ``device_t0_ns`` value meaning "no device time recorded for this block".
NO_DEVICE_TIME = np.iinfo(np.int64).min
#: Bytes kept of a gap reason (UTF-8, truncated on a character boundary).
REASON_BYTES = 128

#: One row per block of a regular source. Sample ``i`` of the block is data
#: row ``first_sample + i`` and has the time ``t0_ns + round((k0 + i) * 1e9 / fs)``
#: (``bshm.timeutil.sample_times(t0_ns, n, fs, first_index=k0)``).
BLOCK_DTYPE = np.dtype(
    [
        ("first_sample", "<i8"),
        ("n", "<i8"),
        ("t0_ns", "<i8"),
        ("k0", "<i8"),
        ("device_t0_ns", "<i8"),
    ]
)
#: One row per gap: half-open ``[start_ns, end_ns)`` and a reason.
GAP_DTYPE = np.dtype(
    [("start_ns", "<i8"), ("end_ns", "<i8"), ("reason", f"S{REASON_BYTES}")]
)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
#: Longest station, source or channel name (UTF-8 bytes): a file name built
#: from a station name plus a time stamp stays far below the usual 255-byte
#: limit of file systems.
MAX_NAME_BYTES = 100
#: Characters allowed in names that reach file names.
NAME_CHARS = "ASCII letters, digits, '-', '_' and '.', starting with a letter or digit"
#: Plausible sampling rates (Hz): a stored ``fs`` outside this range marks a
#: damaged file (it would divide by zero or make absurd sample times).
FS_MIN = 1e-6
FS_MAX = 1e7
FILE_RE = re.compile(
    r"^(?P<station>.+)_(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<seq>\d+))?\.h5(?P<part>\.part)?$"
)


@dataclass(frozen=True)
class ChannelMeta:
    """Metadata of one stored channel.

    Parameters
    ----------
    name : str
        Channel name, unique within the station (e.g. ``"A01"``).
    quantity : str
        One of :data:`QUANTITIES`.
    unit : str
        ASCII unit, e.g. ``"m/s2"``, ``"um/m"``, ``"degC"``.
    location : tuple of 3 float
        ``(x, y, z)`` position on the bridge (m); NaN when unknown.
    direction : str
        Sensing direction: ``"x"``, ``"y"``, ``"z"``, ``"-x"``, ... or ``""``.
    calibration : str
        Human-readable calibration, e.g. ``"scale=1.2e-06 offset=0"``.
    """

    name: str
    quantity: str
    unit: str
    location: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    direction: str = ""
    calibration: str = ""


@dataclass(frozen=True)
class SourceSpec:
    """What the writer needs to know about one source (one device).

    Parameters
    ----------
    name : str
        Unique in the station, e.g. ``"acc"``.
    kind : str
        ``"serial"``, ``"modbus-tcp"``, ``"modbus-rtu"``, ``"simulated"`` or ``"import"``.
    fs : float
        Nominal sampling rate (Hz), > 0.
    channels : tuple of ChannelMeta
        The columns of the data, in order.
    timing : str
        ``"regular"`` (one start time per block) or ``"timestamped"``
        (one int64 ns time per sample).
    counters : tuple of str
        Names of the quality counters kept for this source.
    """

    name: str
    kind: str
    fs: float
    channels: tuple[ChannelMeta, ...]
    timing: str = "regular"
    counters: tuple[str, ...] = DEFAULT_COUNTERS


@dataclass(frozen=True)
class Gap:
    """Data that should have been recorded and was not: ``[start_ns, end_ns)``."""

    start_ns: int
    end_ns: int
    reason: str


@dataclass(frozen=True)
class SourceInfo:
    """A stored source, as the reader sees it."""

    name: str
    kind: str
    fs: float
    channels: tuple[ChannelMeta, ...]
    timing: str
    counters: tuple[str, ...] = field(default=DEFAULT_COUNTERS)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Names of the channels, in column order."""
        return tuple(c.name for c in self.channels)


@dataclass(frozen=True)
class Record:
    """Samples of one source over a time range.

    Attributes
    ----------
    source : str
        Source name.
    fs : float
        Nominal sampling rate (Hz).
    channels : tuple of ChannelMeta
        Metadata of the returned columns, in order.
    data : numpy.ndarray
        ``(n, n_channels)`` float32 samples.
    times_ns : numpy.ndarray
        ``(n,)`` int64 time of each sample (ns since the epoch, UTC).
    gaps : tuple of Gap
        Gaps overlapping the requested range.
    """

    source: str
    fs: float
    channels: tuple[ChannelMeta, ...]
    data: np.ndarray
    times_ns: np.ndarray
    gaps: tuple[Gap, ...] = ()

    @property
    def n_samples(self) -> int:
        """Number of samples (rows)."""
        return int(self.times_ns.shape[0])

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Names of the returned channels, in column order."""
        return tuple(c.name for c in self.channels)


# ---------------------------------------------------------------- validation


def validate_spec(spec: SourceSpec) -> None:
    """Check a source spec; raise ``ValueError`` naming the problem."""
    if not isinstance(spec, SourceSpec):
        raise TypeError(f"sources must be SourceSpec, got {type(spec).__name__}")
    problem = name_problem(spec.name)
    if problem:
        raise ValueError(f"source name {spec.name!r} {problem}")
    if spec.timing not in TIMINGS:
        raise ValueError(
            f"source {spec.name!r}: timing {spec.timing!r} is not one of {', '.join(TIMINGS)}"
        )
    if not (isinstance(spec.fs, (int, float)) and math.isfinite(spec.fs) and spec.fs > 0):
        raise ValueError(
            f"source {spec.name!r}: fs must be a positive number of Hz, got {spec.fs!r}"
        )
    if not FS_MIN <= spec.fs <= FS_MAX:
        raise ValueError(
            f"source {spec.name!r}: fs = {spec.fs!r} Hz is outside {FS_MIN:g}..{FS_MAX:g} Hz"
        )
    if not spec.channels:
        raise ValueError(f"source {spec.name!r} has no channels")
    names = [c.name for c in spec.channels]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"source {spec.name!r}: duplicate channel names {dup}")
    for c in spec.channels:
        if not isinstance(c, ChannelMeta) or not c.name:
            raise ValueError(f"source {spec.name!r}: every channel needs a ChannelMeta with a name")
        if len(c.name.encode("utf-8")) > MAX_NAME_BYTES:
            raise ValueError(
                f"source {spec.name!r}: channel name {c.name[:20]!r}... is longer than "
                f"{MAX_NAME_BYTES} bytes"
            )
        if len(tuple(c.location)) != 3:
            raise ValueError(f"channel {c.name!r}: location must be (x, y, z)")
    cdup = sorted({n for n in spec.counters if list(spec.counters).count(n) > 1})
    if cdup:
        raise ValueError(f"source {spec.name!r}: duplicate counter names {cdup}")


def name_problem(name: object) -> str:
    """What makes ``name`` unusable as a station/source name, or ``""``.

    A usable name is 1 to :data:`MAX_NAME_BYTES` bytes of ASCII letters,
    digits, ``-``, ``_`` and ``.``, starting with a letter or digit: it can
    be put into a file name on any system without escaping.
    """
    if not isinstance(name, str) or not name:
        return "is empty"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"is {len(name.encode('utf-8'))} bytes long (at most {MAX_NAME_BYTES})"
    if not _NAME_RE.match(name):
        return f"is not usable in a file name (use {NAME_CHARS})"
    return ""


def check_name(name: object, what: str = "name") -> str:
    """Return ``name`` if it is usable in a file name, else raise ``ValueError``.

    Raises
    ------
    ValueError
        Naming ``what`` and the problem (see :func:`name_problem`).
    """
    problem = name_problem(name)
    if problem:
        shown = repr(name) if len(str(name)) <= 40 else repr(str(name)[:40]) + "..."
        raise ValueError(f"{what} {shown} {problem}")
    return str(name)


def safe_name(name: object) -> str:
    """A form of ``name`` safe as one file-name component on any system.

    Names that are already safe (:func:`name_problem` is empty) come back
    unchanged. Others (a station name read from a data file, which anybody
    can write) have every character other than ASCII letters, digits, ``-``,
    ``_`` and ``.`` replaced by ``_``, a first character other than a letter
    or digit replaced by ``x``, are
    cut to fit :data:`MAX_NAME_BYTES`, and get a short hash of the original
    so that two different names never map to the same result. The result
    never contains a path separator, is never ``.`` or ``..`` and never
    empty.
    """
    text = name if isinstance(name, str) else str(name)
    if not name_problem(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    clean = re.sub(r"[^A-Za-z0-9_.\-]", "_", text)
    clean = re.sub(r"^[^A-Za-z0-9]", "x", clean)
    clean = clean[: MAX_NAME_BYTES - len(digest) - 1]
    return f"{clean}-{digest}" if clean else f"x-{digest}"


# ---------------------------------------------------------------- time grid


def grid_times(t0_ns, k, fs: float) -> np.ndarray:
    """Times of grid indices ``k`` of blocks starting at ``t0_ns`` (vectorised).

    Identical to :func:`bshm.timeutil.sample_times`:
    ``t0_ns + round(k * 1e9 / fs)`` in integer arithmetic for integer ``fs``.

    Parameters
    ----------
    t0_ns : int or ndarray of int64
        Block start time(s) (ns), broadcast against ``k``.
    k : int or ndarray of int64
        Grid indices.
    fs : float
        Sampling rate (Hz).

    Returns
    -------
    ndarray of int64
    """
    k = np.asarray(k, dtype=np.int64)
    t0 = np.asarray(t0_ns, dtype=np.int64)
    if float(fs).is_integer():
        f = int(fs)
        return t0 + (k * NS_PER_S * 2 + f) // (2 * f)
    return t0 + np.round(k * (NS_PER_S / fs)).astype(np.int64)


def grid_index(t0_ns: int, k0: int, fs: float, t_ns: int) -> int:
    """Smallest ``i >= 0`` with ``grid_times(t0_ns, k0 + i, fs) >= t_ns``."""
    period = NS_PER_S / fs
    i = max(0, math.ceil((t_ns - t0_ns) / period) - k0 - 1)
    while i > 0 and int(grid_times(t0_ns, k0 + i - 1, fs)) >= t_ns:
        i -= 1
    while int(grid_times(t0_ns, k0 + i, fs)) < t_ns:
        i += 1
    return i


def period_ns(fs: float) -> int:
    """One sampling period in ns, rounded."""
    return int(round(NS_PER_S / fs))


# ---------------------------------------------------------------- files


def stamp(t_ns: int) -> str:
    """File-name stamp ``YYYYmmddTHHMMSSZ`` of a time (floored to the second)."""
    sec = int(t_ns) // NS_PER_S
    return datetime.fromtimestamp(sec, tz=UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_stamp(text: str) -> int:
    """Inverse of :func:`stamp` (ns)."""
    d = datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return int(d.timestamp()) * NS_PER_S


def file_name(station: str, t_ns: int, seq: int = 0, part: bool = False) -> str:
    """Name of the raw file of ``station`` starting at ``t_ns``."""
    s = f"{station}_{stamp(t_ns)}" + (f"-{seq}" if seq else "") + ".h5"
    return s + ".part" if part else s


def is_raw_name(path: Path) -> bool:
    """True for ``*.h5`` and ``*.h5.part`` names."""
    n = path.name
    return n.endswith(".h5") or n.endswith(".h5.part")


def encode_reason(reason: str) -> bytes:
    """Encode a gap reason to at most :data:`REASON_BYTES` of UTF-8."""
    b = str(reason).encode("utf-8")
    if len(b) <= REASON_BYTES:
        return b
    return b[:REASON_BYTES].decode("utf-8", errors="ignore").encode("utf-8")


def decode_reason(raw: bytes) -> str:
    """Decode a stored gap reason."""
    if isinstance(raw, bytes):
        return raw.rstrip(b"\0").decode("utf-8", errors="replace")
    return str(raw)
