"""The ``[campaign]`` section of a station config: roving-sensor (multi-setup) OMA.

A campaign moves a few sensors through several *setups* while *reference*
sensors stay in place; ``bshm campaign CONFIG`` identifies each setup and
glues the shapes together (:func:`bshm.analysis.identify_multi_setup`).  The
section says which recorded channel measured which *point* in each setup::

    [campaign]
    references = ["P04", "P09"]        # points measured in every setup
    source = "acc"                     # default: [analysis] source
    freq_range = [0.5, 15.0]           # default: [analysis] freq_range
    decimate_to = 50.0                 # default: [analysis] decimate_to

    [[campaign.points]]                # where the points are (optional)
    name = "P01"
    location = 6.0                     # m along the bridge, or [x, y, z]

    [[campaign.setups]]
    name = "morning"                   # optional
    data_dir = "campaign/setup1"       # default: the station's data_dir
    start = "2026-05-04T08:00:00Z"     # optional time range of the setup
    end = "2026-05-04T08:30:00Z"
    channels = { R1 = "P01", R2 = "P02", F1 = "P04", F2 = "P09" }   # channel = point

``channels`` may also be a list of channel names when each channel is named
after its point.  Loading the station validates the section (every problem
with its key path); :func:`load_campaign` returns it as a :class:`Campaign`.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bshm._validate import Table, Validator
from bshm.errors import ConfigError
from bshm.timeutil import parse_time

if TYPE_CHECKING:  # pragma: no cover
    from bshm.config import Station

__all__ = ["Campaign", "CampaignSetup", "check", "load_campaign", "read_campaign"]

_NAN3 = (math.nan, math.nan, math.nan)


@dataclass(frozen=True)
class CampaignSetup:
    """One setup: which recorded channel measured which point, and where the data are.

    Attributes
    ----------
    name : str
    channels : tuple of (str, str)
        ``(recorded channel, point)`` pairs.
    data_dir : Path
    start_ns, end_ns : int or None
        Time range of the setup in the raw files (None: unbounded).
    """

    name: str
    channels: tuple[tuple[str, str], ...]
    data_dir: Path
    start_ns: int | None = None
    end_ns: int | None = None

    @property
    def points(self) -> tuple[str, ...]:
        """The measured points, in channel order."""
        return tuple(p for _, p in self.channels)


@dataclass(frozen=True)
class Campaign:
    """A roving-sensor campaign (see the module docstring).

    Attributes
    ----------
    references : tuple of str
        Points measured in every setup.
    setups : tuple of CampaignSetup
    source : str or None
        Source holding the channels (None: the analysis source).
    locations : dict of str to (x, y, z)
        Known point locations (m).
    freq_range : (float or None, float or None)
    decimate_to_hz : float or None
    """

    references: tuple[str, ...]
    setups: tuple[CampaignSetup, ...]
    source: str | None = None
    locations: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    freq_range: tuple[float | None, float | None] = (None, None)
    decimate_to_hz: float | None = None


def _setup_channels(v: Validator, t: Table) -> tuple[tuple[str, str], ...]:
    value = t.get("channels")
    key = t.key("channels")
    if isinstance(value, list) and value and all(isinstance(x, str) for x in value):
        pairs = [(x, x) for x in value]
    elif isinstance(value, dict) and value and all(isinstance(x, str) for x in value.values()):
        pairs = [(str(k), x) for k, x in value.items()]
    else:
        v.problem(
            key,
            "must list the channels of the setup",
            'e.g. channels = ["A01", "A02"] or channels = { R1 = "P01", R2 = "P02" }',
        )
        return ()
    points = [p for _, p in pairs]
    dup = sorted({p for p in points if points.count(p) > 1})
    if dup:
        v.problem(key, f"point(s) {', '.join(dup)} measured twice in one setup")
    return tuple(pairs)


def _read_setup(
    v: Validator, t: Table, i: int, base: Path, data_dir: Path, known: dict[str, Any]
) -> CampaignSetup:
    name = v.string(t, "name", default=f"setup {i + 1}") or f"setup {i + 1}"
    folder = v.string(t, "data_dir")
    channels = _setup_channels(v, t)
    span: list[int | None] = [None, None]
    for j, k in enumerate(("start", "end")):
        s = v.string(t, k)
        if s is not None:
            try:
                span[j] = parse_time(s)
            except ValueError as exc:
                v.problem(t.key(k), str(exc), 'ISO 8601 UTC, e.g. "2026-05-04T08:00:00Z"')
    if span[0] is not None and span[1] is not None and span[0] >= span[1]:
        v.problem(t.key("end"), "the setup ends before it starts")
    v.no_unknown(t)
    for ch, _ in channels:
        if known and ch not in known:
            v.problem(t.key("channels"), f"no channel named {ch!r}", v.suggest(ch, known))
    path = (base / folder).resolve() if folder else data_dir
    return CampaignSetup(name, channels, path, span[0], span[1])


def read_campaign(
    v: Validator, root: Table, base: Path, data_dir: Path, known: dict[str, Any]
) -> Campaign | None:
    """Read ``[campaign]`` (None when absent); problems go to ``v``.

    Parameters
    ----------
    v : Validator
    root : Table
        The whole document.
    base : Path
        Folder of the config file (relative paths).
    data_dir : Path
        The station's data folder (default of each setup).
    known : dict
        Channel name -> channel of the station's sources (may be empty).
    """
    if "campaign" not in root.data:
        return None
    t = v.table(root, "campaign")
    refs = v.string_list(t, "references", default=())
    source = v.string(t, "source")
    frange = v.float_list(t, "freq_range", default=(None, None), length=2, allow_none=True)
    decim = v.number(t, "decimate_to", default=None, positive=True)
    locations: dict[str, tuple[float, float, float]] = {}
    for pt in v.table_list(t, "points"):
        name = v.string(pt, "name", required=True)
        loc = v.location(pt, "location")
        v.no_unknown(pt)
        if name is not None:
            if name in locations:
                v.problem(pt.key("name"), f"point {name!r} is described twice")
            locations[name] = loc
    setups = [
        _read_setup(v, s, i, base, data_dir, known)
        for i, s in enumerate(v.table_list(t, "setups", required=True))
    ]
    v.no_unknown(t)
    if not refs:
        v.problem(t.key("references"), "name the reference points", 'e.g. references = ["P04"]')
    for i, s in enumerate(setups):
        missing = [r for r in refs if r not in s.points]
        if missing and s.channels:
            v.problem(
                f"{t.key('setups')}[{i}].channels",
                f"reference point(s) {', '.join(missing)} not measured in this setup",
                "every setup must record every reference",
            )
    lo, hi = frange
    if lo is not None and hi is not None and lo >= hi:
        v.problem(t.key("freq_range"), f"[{lo}, {hi}] is empty", "give [low, high] in Hz")
    return Campaign(tuple(refs), tuple(setups), source, locations, (lo, hi), decim)


def check(v: Validator, root: Table, base: Path, data_dir: Path, sources: list[Any]) -> None:
    """Validate ``[campaign]`` while a station loads (the hook in :mod:`bshm.config`)."""
    known = {c.name: c for s in sources for c in s.channels}
    read_campaign(v, root, base, data_dir, known)


def load_campaign(path: str | Path) -> tuple[Station, Campaign]:
    """The station and its campaign.

    Raises
    ------
    ConfigError
        Any problem of the config, or no ``[campaign]`` section.
    """
    from bshm.config import load_station

    station = load_station(path)
    p = Path(path)
    doc = tomllib.loads(p.read_text(encoding="utf-8"))
    v = Validator()
    known = {c.name: c for _, c in station.iter_channels()}
    camp = read_campaign(v, Table(doc, ""), p.resolve().parent, station.data_dir, known)
    if v.problems:  # pragma: no cover - load_station already reported them
        raise ConfigError(v.problems, str(p))
    if camp is None:
        raise ConfigError(
            "no [campaign] section: describe the setups and references "
            "(see docs/modal-analysis.md, 'Roving-sensor campaigns')",
            str(p),
        )
    return station, camp
