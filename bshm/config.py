"""Station config: TOML in, typed frozen objects out.

Loading validates everything and reports every problem at once, each with
its key path and a hint, e.g.::

    sources[1].registers[3].type: 'flaot32' is not one of int16, uint16,
    int32, uint32, float32, float64 (did you mean 'float32'?)

Unknown keys are rejected (a typo must never be silently ignored).
Relative paths (``data_dir``, serial ports, RTU ports, the alarm feed) are
resolved against the folder of the config file.

The validation machinery lives in :mod:`bshm._validate`; the section
readers are in this module.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bshm._validate import Table, Validator
from bshm.errors import ConfigError
from bshm.store.schema import DIRECTIONS, QUANTITIES  # noqa: F401 - re-exported
from bshm.timeutil import parse_time

if TYPE_CHECKING:  # pragma: no cover
    from bshm._config_delivery import DeliverySettings
    from bshm.store import ChannelMeta, SourceSpec

SOURCE_KINDS = ("serial", "modbus-tcp", "modbus-rtu")
PARITIES = ("N", "E", "O", "M", "S")
PROTOCOLS = ("binary", "line")
SAMPLE_FORMATS = ("int24", "int32", "float32")
DELIMITERS = (",", ";", "whitespace")
REGISTER_TYPES = ("int16", "uint16", "int32", "uint32", "float32", "float64")
REGISTER_FUNCTIONS = ("holding", "input")
ORDERS = ("big", "little")
METHODS = ("ssi-cov", "fdd", "efdd")
REGISTER_WIDTH = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "float64": 4,
}
_NAN3 = (math.nan, math.nan, math.nan)
#: Longest rollover period (one file per station per day at most).
MAX_ROLLOVER_S = 86400.0
#: Longest analysis window.
MAX_WINDOW_S = 86400.0

Levels = tuple[float, float, float]


@dataclass(frozen=True)
class Thresholds:
    """Alarm limits of one channel; each a tuple of 3 limits (levels 1, 2, 3).

    ``peak``, ``rms``, ``high`` and ``change`` increase with the level;
    ``low`` decreases (a value below ``low[k]`` raises level ``k + 1``).
    """

    peak: Levels | None = None
    rms: Levels | None = None
    high: Levels | None = None
    low: Levels | None = None
    change: Levels | None = None

    def any(self) -> bool:
        """Whether any limit is set."""
        return any(v is not None for v in (self.peak, self.rms, self.high, self.low, self.change))


@dataclass(frozen=True)
class Channel:
    """One measured channel: ``physical = scale * raw + offset``."""

    name: str
    quantity: str
    unit: str
    scale: float = 1.0
    offset: float = 0.0
    location: tuple[float, float, float] = _NAN3
    direction: str = ""
    column: int | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    #: Plausible values [low, high] in the channel's unit; None = the default of
    #: its quantity (``bshm.analysis.health.default_valid_range``).
    valid_range: tuple[float, float] | None = None

    @property
    def calibration(self) -> str:
        """Human-readable calibration, stored with the data."""
        return f"scale={self.scale:.9g} offset={self.offset:.9g}"

    def meta(self) -> ChannelMeta:
        """The channel's metadata for the store."""
        from bshm.store import ChannelMeta

        return ChannelMeta(
            name=self.name,
            quantity=self.quantity,
            unit=self.unit,
            location=self.location,
            direction=self.direction,
            calibration=self.calibration,
        )


@dataclass(frozen=True)
class SerialSource:
    """A serial digitizer (binary framed or line protocol)."""

    name: str
    port: str
    channels: tuple[Channel, ...]
    kind: str = "serial"
    baudrate: int = 115200
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    timeout_s: float = 0.2
    protocol: str = "binary"
    fs: float = 100.0
    sample_format: str = "int24"
    delimiter: str = ","
    time_column: int | None = None
    checksum: bool = False
    silence_timeout_s: float = 2.0
    reconnect_max_s: float = 30.0

    def spec(self) -> SourceSpec:
        """The store description of this source (regular timing)."""
        from bshm.store import SourceSpec

        return SourceSpec(
            name=self.name,
            kind=self.kind,
            fs=self.fs,
            channels=tuple(c.meta() for c in self.channels),
            timing="regular",
        )


@dataclass(frozen=True)
class Register:
    """One Modbus point: where a value lives and how to decode it."""

    address: int
    channel: Channel
    function: str = "holding"
    type: str = "float32"
    byte_order: str = "big"
    word_order: str = "big"
    unit_id: int = 1

    @property
    def count(self) -> int:
        """Number of 16-bit registers the value occupies (1, 2 or 4)."""
        return REGISTER_WIDTH[self.type]


@dataclass(frozen=True)
class ModbusSource:
    """A Modbus TCP or RTU conditioner (or several units on one RTU bus)."""

    name: str
    kind: str
    port: int | str
    registers: tuple[Register, ...]
    host: str = "127.0.0.1"
    baudrate: int = 115200
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    poll_rate: float = 10.0
    timeout_s: float = 0.2
    retries: int = 1
    reconnect_max_s: float = 30.0
    max_gap: int = 8

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The channels, in register order."""
        return tuple(r.channel for r in self.registers)

    @property
    def fs(self) -> float:
        """Nominal sampling rate (the poll rate), Hz."""
        return self.poll_rate

    def spec(self) -> SourceSpec:
        """The store description of this source (one timestamp per poll)."""
        from bshm.store import SourceSpec

        return SourceSpec(
            name=self.name,
            kind=self.kind,
            fs=self.poll_rate,
            channels=tuple(c.meta() for c in self.channels),
            timing="timestamped",
        )


Source = SerialSource | ModbusSource


@dataclass(frozen=True)
class AnalysisSettings:
    """How windows are cut and modes identified."""

    source: str | None = None
    channels: tuple[str, ...] = ()
    window_s: float = 600.0
    overlap: float = 0.0
    decimate_to_hz: float | None = None
    freq_min_hz: float = 0.3
    freq_max_hz: float | None = None
    method: str = "ssi-cov"
    max_order: int = 80
    time_lag: int = 40
    temperature: str | None = None
    baseline_start_ns: int | None = None
    baseline_end_ns: int | None = None
    baseline_days: float = 14.0


@dataclass(frozen=True)
class AlarmSettings:
    """Alarm grading and the alarm feed."""

    feed: Path
    persistence_k: int = 3
    persistence_n: int = 5
    frequency_shift_pct: Levels = (1.0, 2.0, 4.0)
    novelty_alpha: Levels = (1e-2, 1e-3, 1e-4)
    mac_drop: Levels = (0.05, 0.10, 0.20)
    clear_m: int = 10
    clear_n: int = 12
    interrupted_after_s: float = 86400.0
    delivery: DeliverySettings | None = None  # MQTT / webhook (bshm._config_delivery)


@dataclass(frozen=True)
class FatigueSettings:
    """Fatigue assessment of the strain gauges."""

    gauges: tuple[str, ...] = ()
    modulus_gpa: float = 210.0
    detail_category: float = 71.0
    design_life_years: float = 100.0


@dataclass(frozen=True)
class Station:
    """A validated station description (see :func:`load_station`)."""

    name: str
    data_dir: Path
    sources: tuple[Source, ...]
    analysis: AnalysisSettings
    alarms: AlarmSettings
    fatigue: FatigueSettings
    description: str = ""
    rollover_s: float = 3600.0
    bridge_spans_m: tuple[float, ...] = ()
    path: Path | None = None

    def source(self, name: str) -> Source:
        """Return the source called ``name``.

        Raises
        ------
        KeyError
            Naming the known sources.
        """
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources) or "none"
        raise KeyError(f"no source {name!r} in station {self.name!r} (sources: {known})")

    def channel(self, name: str) -> tuple[Source, Channel]:
        """Return ``(source, channel)`` for the channel called ``name``."""
        for s in self.sources:
            for c in s.channels:
                if c.name == name:
                    return s, c
        raise KeyError(f"no channel {name!r} in station {self.name!r}")

    def iter_channels(self) -> Iterator[tuple[Source, Channel]]:
        """Every ``(source, channel)`` pair, in config order."""
        for s in self.sources:
            for c in s.channels:
                yield s, c

    def specs(self) -> tuple[SourceSpec, ...]:
        """Store descriptions of every source."""
        return tuple(s.spec() for s in self.sources)


# --------------------------------------------------------------------------
# loading


def load_station(path: str | Path) -> Station:
    """Read and validate a station config file.

    Parameters
    ----------
    path : str or Path
        The ``station.toml`` file.

    Returns
    -------
    Station

    Raises
    ------
    ConfigError
        If the file is missing, is not TOML, or any value is invalid; the
        message lists every problem with its key path.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "file not found (create one with 'bshm new-station DIR')", str(p)
        ) from None
    except IsADirectoryError:
        raise ConfigError("is a folder: give the station.toml file inside it", str(p)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", str(p)) from None
    return parse_station(text, base_dir=p.resolve().parent, path=p)


def parse_station(text: str, *, base_dir: Path | None = None, path: Path | None = None) -> Station:
    """Validate station config text (see :func:`load_station`)."""
    name = str(path) if path is not None else None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", name) from None
    except RecursionError:
        raise ConfigError(
            "not a station config: its tables or arrays are nested too deeply to read", name
        ) from None
    v = Validator()
    base = base_dir if base_dir is not None else Path.cwd()
    station = _read_station(v, Table(doc, ""), base, path)
    if v.problems or station is None:
        raise ConfigError(v.problems or ["invalid config"], name)
    return station


def _read_station(v: Validator, root: Table, base: Path, path: Path | None) -> Station | None:
    st = v.table(root, "station", required=True)
    name = read_name(v, st, "name", "it names the data files")
    description = v.string(st, "description", default="")
    data_dir = v.string(st, "data_dir", default="data")
    rollover = v.duration(st, "rollover", default=3600.0, minimum=60.0, maximum=MAX_ROLLOVER_S)
    v.no_unknown(st)

    br = v.table(root, "bridge")
    spans = v.float_list(br, "spans", default=(), positive=True)
    v.string(br, "description", default="")
    v.no_unknown(br)

    sources = _read_sources(v, root, base)
    analysis = _read_analysis(v, v.table(root, "analysis"), sources)
    data_path = (base / data_dir).resolve() if data_dir is not None else base
    alarms = _read_alarms(v, v.table(root, "alarms"), base, data_path)
    fatigue = _read_fatigue(v, v.table(root, "fatigue"), sources)
    from bshm import _config_campaign  # [campaign]: roving setups, used by 'bshm campaign'

    _config_campaign.check(v, root, base, data_path, sources)
    v.no_unknown(root)
    if v.problems:
        return None
    return Station(
        name=name or "",
        description=description or "",
        data_dir=data_path,
        rollover_s=rollover,
        sources=tuple(sources),
        analysis=analysis,
        alarms=alarms,
        fatigue=fatigue,
        bridge_spans_m=tuple(spans),
        path=path.resolve() if path is not None else None,
    )


def read_name(v: Validator, t: Table, key: str, why: str) -> str | None:
    """A station, source or channel name: 1..100 bytes, safe in file names."""
    from bshm.store.schema import NAME_CHARS, name_problem

    value = v.string(t, key, required=True)
    if value is None:
        return None
    problem = name_problem(value)
    if problem:
        shown = value if len(value) <= 40 else value[:40] + "..."
        v.problem(t.key(key), f"{shown!r} {problem}", f"use {NAME_CHARS}; {why}")
        return None
    return value


def _read_sources(v: Validator, root: Table, base: Path) -> list[Source]:
    from bshm import _config_sources

    return _config_sources.read_sources(v, root, base)


def _read_analysis(v: Validator, t: Table, sources: list[Source]) -> AnalysisSettings:
    src = v.string(t, "source")
    channels = v.string_list(t, "channels", default=())
    window = v.duration(t, "window", default=600.0, minimum=1.0, maximum=MAX_WINDOW_S)
    overlap = v.number(t, "overlap", default=0.0, minimum=0.0, below=1.0)
    decim = v.number(t, "decimate_to", default=None, positive=True)
    frange = v.float_list(t, "freq_range", default=(0.3, None), length=2, allow_none=True)
    method = v.choice(t, "method", METHODS, default="ssi-cov")
    max_order = v.integer(t, "max_order", default=80, minimum=2, maximum=400)
    lag = v.integer(t, "time_lag", default=40, minimum=2, maximum=1000)
    temp = v.string(t, "temperature")
    baseline = v.string_list(t, "baseline", default=(), length=2)
    bdays = v.number(t, "baseline_days", default=14.0, positive=True, maximum=3660.0)
    v.no_unknown(t)

    by_name = {s.name: s for s in sources}
    all_channels = {c.name: c for s in sources for c in s.channels}
    if src is not None and sources and src not in by_name:
        v.problem(t.key("source"), f"no source named {src!r}", f"sources are: {', '.join(by_name)}")
    for i, ch in enumerate(channels):
        if all_channels and ch not in all_channels:
            v.problem(
                f"{t.key('channels')}[{i}]", f"no channel named {ch!r}", v.suggest(ch, all_channels)
            )
    if temp is not None and all_channels:
        if temp not in all_channels:
            v.problem(
                t.key("temperature"), f"no channel named {temp!r}", v.suggest(temp, all_channels)
            )
        elif all_channels[temp].quantity != "temperature":
            v.problem(
                t.key("temperature"),
                f"channel {temp!r} measures {all_channels[temp].quantity}",
                "name a temperature channel",
            )
    fmin, fmax = frange  # float_list falls back to the 2-entry default on any problem
    if fmin is not None and fmax is not None and fmin >= fmax:
        v.problem(
            t.key("freq_range"),
            f"[{fmin}, {fmax}] is empty",
            "give [low, high] with low < high, in Hz",
        )
    start_ns = end_ns = None
    if baseline:
        try:
            start_ns, end_ns = parse_time(baseline[0]), parse_time(baseline[1])
            if start_ns >= end_ns:
                v.problem(
                    t.key("baseline"),
                    "the baseline ends before it starts",
                    "give [FROM, TO] with FROM < TO",
                )
        except ValueError as exc:
            v.problem(t.key("baseline"), str(exc))
    return AnalysisSettings(
        source=src,
        channels=tuple(channels),
        window_s=window,
        overlap=overlap if overlap is not None else 0.0,
        decimate_to_hz=decim,
        freq_min_hz=fmin if fmin is not None else 0.3,
        freq_max_hz=fmax,
        method=method or "ssi-cov",
        max_order=max_order if max_order is not None else 80,
        time_lag=lag if lag is not None else 40,
        temperature=temp,
        baseline_start_ns=start_ns,
        baseline_end_ns=end_ns,
        baseline_days=bdays if bdays is not None else 14.0,
    )


def _read_alarms(v: Validator, t: Table, base: Path, data_dir: Path) -> AlarmSettings:
    feed = v.string(t, "feed")
    k = v.integer(t, "persistence_k", default=3, minimum=1, maximum=1000)
    n = v.integer(t, "persistence_n", default=5, minimum=1, maximum=1000)
    fs_pct = v.levels(t, "frequency_shift_pct", default=(1.0, 2.0, 4.0))
    alpha = v.levels(t, "novelty_alpha", default=(1e-2, 1e-3, 1e-4), decreasing=True)
    mac = v.levels(t, "mac_drop", default=(0.05, 0.10, 0.20))
    cm = v.integer(t, "clear_m", default=10, minimum=1)
    cn = v.integer(t, "clear_n", default=12, minimum=1)
    interrupted = v.duration(t, "interrupted_after", default=86400.0, minimum=0.0)
    from bshm._config_delivery import read_delivery

    delivery = read_delivery(v, t, base)
    v.no_unknown(t)
    if cm is not None and cn is not None and cm > cn:
        v.problem(
            t.key("clear_m"),
            f"{cm} windows out of {cn} can never happen",
            "clear_m must be <= clear_n",
        )
    if k is not None and n is not None and k > n:
        v.problem(
            t.key("persistence_k"),
            f"{k} windows out of {n} can never happen",
            "persistence_k must be <= persistence_n",
        )
    if alpha is not None and not all(0 < a < 1 for a in alpha):
        v.problem(
            t.key("novelty_alpha"),
            "false-alarm rates must lie in (0, 1)",
            "e.g. [0.01, 0.001, 0.0001]",
        )
    feed_path = (base / feed).resolve() if feed else data_dir / "alarms.jsonl"
    return AlarmSettings(
        feed=feed_path,
        persistence_k=k or 3,
        persistence_n=n or 5,
        frequency_shift_pct=fs_pct or (1.0, 2.0, 4.0),
        novelty_alpha=alpha or (1e-2, 1e-3, 1e-4),
        mac_drop=mac or (0.05, 0.10, 0.20),
        clear_m=cm or 10,
        clear_n=cn or 12,
        interrupted_after_s=interrupted,
        delivery=delivery,
    )


def _read_fatigue(v: Validator, t: Table, sources: list[Source]) -> FatigueSettings:
    gauges = v.string_list(t, "gauges", default=())
    modulus = v.number(t, "modulus_gpa", default=210.0, positive=True)
    detail = v.number(t, "detail_category", default=71.0, positive=True)
    life = v.number(t, "design_life_years", default=100.0, positive=True)
    v.no_unknown(t)
    strain = {c.name: c for s in sources for c in s.channels}
    for i, g in enumerate(gauges):
        if strain and g not in strain:
            v.problem(f"{t.key('gauges')}[{i}]", f"no channel named {g!r}", v.suggest(g, strain))
        elif strain and strain[g].quantity != "strain":
            v.problem(
                f"{t.key('gauges')}[{i}]",
                f"channel {g!r} measures {strain[g].quantity}",
                "fatigue gauges must be strain channels",
            )
    return FatigueSettings(
        gauges=tuple(gauges),
        modulus_gpa=modulus or 210.0,
        detail_category=detail or 71.0,
        design_life_years=life or 100.0,
    )
