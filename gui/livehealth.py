"""Is each source still recording? One word per source, with the age of its
newest sample (no Qt; the main window shows it in the tree, the status bar
and the live view).

States, from good to bad:

* ``recording``: the newest sample is at most ``stale_s`` old (plus two
  sample periods, for slow sources);
* ``stale``: older than that, but not yet ``lost_s``;
* ``reconnecting``: no new data, and the recorder logged a reconnect or a
  gap of this source within the last ``lost_s`` (it is trying);
* ``lost``: nothing for more than ``lost_s``, or the recorder has closed
  its file (acquisition stopped).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from bshm.errors import StoreError

NS = 1_000_000_000
STATES = ("recording", "stale", "reconnecting", "lost")
STATE_LEVEL = {"recording": 0, "stale": 1, "reconnecting": 1, "lost": 2}


def age_text(age_s: float) -> str:
    """``0.4 s``, ``45 s``, ``12 min``, ``3.5 h``, ``2 days``."""
    if not math.isfinite(age_s):
        return "never"
    a = max(0.0, age_s)
    if a < 10:
        return f"{a:.1f} s"
    if a < 120:
        return f"{a:.0f} s"
    if a < 7200:
        return f"{a / 60:.0f} min"
    if a < 2 * 86400:
        return f"{a / 3600:.1f} h"
    return f"{a / 86400:.0f} days"


@dataclass(frozen=True)
class LiveState:
    """The live state of one source.

    Attributes
    ----------
    source : str
    state : str
        One of :data:`STATES`.
    age_s : float
        Age of the newest sample (s); inf when there is none.
    why : str
        A short reason for anything but ``recording``.
    """

    source: str
    state: str
    age_s: float
    why: str = ""

    @property
    def level(self) -> int:
        """0 recording, 1 stale/reconnecting, 2 lost."""
        return STATE_LEVEL[self.state]

    @property
    def short(self) -> str:
        """For the tree: ``recording 0.4 s``, ``LOST 45 s``."""
        word = self.state.upper() if self.level >= 2 else self.state
        return f"{word} {age_text(self.age_s)}"

    @property
    def text(self) -> str:
        """A full sentence for tooltips and the status bar."""
        base = f"{self.source}: {self.state}, newest sample {age_text(self.age_s)} ago"
        return f"{base} ({self.why})" if self.why else base


def classify(
    source: str,
    age_s: float,
    fs: float,
    *,
    writing: bool = True,
    reconnecting: bool = False,
    stale_s: float = 3.0,
    lost_s: float = 30.0,
) -> LiveState:
    """The state of a source from the age of its newest sample (see module doc)."""
    allowed = stale_s + (2.0 / fs if fs and fs > 0 else 2.0)
    if not math.isfinite(age_s):
        return LiveState(source, "lost", math.inf, "no sample recorded")
    if age_s <= allowed:
        return LiveState(source, "recording", age_s)
    if not writing:
        return LiveState(source, "lost", age_s, "the recorder closed its file")
    if age_s > lost_s:
        return LiveState(source, "lost", age_s, f"no data for more than {lost_s:g} s")
    if reconnecting:
        return LiveState(source, "reconnecting", age_s, "the recorder is reconnecting")
    return LiveState(source, "stale", age_s, f"no new data for more than {allowed:.3g} s")


class LiveMonitor:
    """Judge every source of a :class:`~bshm.gui.session.RawSession` again and again.

    Parameters
    ----------
    session : RawSession
        The open folder; its reader is used under ``session.lock``.
    stale_s, lost_s : float
        See :func:`classify`.
    """

    def __init__(self, session, *, stale_s: float = 3.0, lost_s: float = 30.0) -> None:
        self.session = session
        self.stale_s = stale_s
        self.lost_s = lost_s
        self._reconnects: dict[str, int] = {}
        self._reconnect_seen_ns: dict[str, int] = {}
        self.states: dict[str, LiveState] = {}

    def _counter(self, source: str) -> int:
        try:
            c = self.session.reader.counters(source)
        except (StoreError, KeyError, OSError):
            return 0
        return int(c.get("reconnects", 0) or 0)

    def update(self, now_ns: int | None = None, refresh: bool = False) -> dict[str, LiveState]:
        """The state of every source now (``refresh`` re-reads the files first)."""
        s = self.session
        now = time.time_ns() if now_ns is None else int(now_ns)
        out = {}
        with s.lock:
            if refresh:
                s.refresh()
            writing = s.live
            for name, info in s.sources.items():
                try:
                    _, end = s.reader.span(name)
                    age = (now - int(end)) / NS
                except (StoreError, KeyError, ValueError, OSError):
                    age = math.inf
                n = self._counter(name)
                if n > self._reconnects.get(name, n):
                    self._reconnect_seen_ns[name] = now
                self._reconnects[name] = n
                recent = now - self._reconnect_seen_ns.get(name, -(10**30)) <= self.lost_s * NS
                out[name] = classify(
                    name,
                    age,
                    float(getattr(info, "fs", 0) or 0),
                    writing=writing,
                    reconnecting=recent,
                    stale_s=self.stale_s,
                    lost_s=self.lost_s,
                )
        self.states = out
        return out


def summary(states: dict[str, LiveState]) -> tuple[int, str]:
    """(worst level, one short line) for the status bar: ``all 3 sources recording``,
    ``LOST 45 s: acc`` or ``LOST 2 days: acc, env · stale 8.0 s: strain``."""
    if not states:
        return 0, ""
    bad = [s for s in states.values() if s.level > 0]
    if not bad:
        return 0, f"all {len(states)} sources recording"
    worst = max(s.level for s in bad)
    parts = []
    for state in ("lost", "reconnecting", "stale"):
        group = sorted((s for s in bad if s.state == state), key=lambda s: s.source)
        if group:
            word = state.upper() if state == "lost" else state
            oldest = max(s.age_s for s in group)
            parts.append(f"{word} {age_text(oldest)}: {', '.join(s.source for s in group)}")
    return worst, " · ".join(parts)
