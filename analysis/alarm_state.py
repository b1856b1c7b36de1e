"""Alarm states with hysteresis: one state per subject, changed only by evidence.

Every alarm *subject* (``structural`` for the bridge; ``sensor:<channel>``;
``threshold:<channel>:<check>``; ``monitoring:conditions``,
``monitoring:assessment``, ``monitoring:data``) has one state, a level 0..3.
Windows are fed to it in time order; each brings two graded levels:

``w``
    the highest level whose *raise* limit the window exceeds;
``c``
    the highest level whose lower *clear* limit the window exceeds
    (``c >= w``), or :data:`NO_CLEAR` for a window that must never count
    towards lowering the state (e.g. outside the trained conditions).

The rule (:class:`Rule`):

* **raise / escalate** to level L > current when at least ``raise_k`` of the
  last ``raise_n`` windows have ``w >= L`` (the highest such L);
* **de-escalate / clear** from level S when at least ``clear_m`` of the last
  ``clear_n`` windows have ``c < S``; the state steps down while that holds
  (never below the level the raise rule supports).

Windows that cannot be assessed are simply not fed: they neither raise nor
lower a state. Only state changes produce alarms (:class:`Change`), never
every crossing of every index.

Under independence, for a window whose ``w >= L`` with probability ``p``
the per-window rate of raising is ``sum_{i>=k} C(n, i) p^i (1-p)^(n-i)``
(:func:`binomial_tail`); the same formula with ``q = P(c < S)`` and
``(m, n_clear)`` gives the rate of clearing. See ``docs/monitoring.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb
from typing import Any

__all__ = [
    "NO_CLEAR",
    "Change",
    "Rule",
    "SubjectState",
    "binomial_tail",
    "summarize_states",
]

#: ``c`` of a window that must never count towards lowering a state.
NO_CLEAR = 4


@dataclass(frozen=True)
class Rule:
    """Hysteresis of one subject (see the module docstring).

    Attributes
    ----------
    raise_k, raise_n : int
        Raise to level L when ``raise_k`` of the last ``raise_n`` windows reach it.
    clear_m, clear_n : int
        Lower from level S when ``clear_m`` of the last ``clear_n`` windows are
        below S's clear limit.
    """

    raise_k: int = 3
    raise_n: int = 5
    clear_m: int = 10
    clear_n: int = 12

    def __post_init__(self) -> None:
        if not 1 <= self.raise_k <= self.raise_n:
            raise ValueError(f"raise rule {self.raise_k} of {self.raise_n} is impossible")
        if not 1 <= self.clear_m <= self.clear_n:
            raise ValueError(f"clear rule {self.clear_m} of {self.clear_n} is impossible")


@dataclass(frozen=True)
class Change:
    """A state change of one subject at one window."""

    subject: str
    time_ns: int
    old: int
    new: int

    @property
    def event(self) -> str:
        """``raised``, ``escalated``, ``de-escalated`` or ``cleared``."""
        if self.old == 0:
            return "raised"
        if self.new == 0:
            return "cleared"
        return "escalated" if self.new > self.old else "de-escalated"


@dataclass
class SubjectState:
    """The state of one subject and the window history its rule needs (JSON-ready).

    Attributes
    ----------
    subject, kind : str
    level : int
        Current level (0 = normal).
    since_ns : int or None
        When the current level was reached (None: never changed).
    w, c : list of int
        Raise and clear levels of the last windows (at most ``raise_n`` /
        ``clear_n``).
    last : dict
        Extra information of the latest change (alarm id, index, message).
    """

    subject: str
    kind: str
    level: int = 0
    since_ns: int | None = None
    w: list[int] = field(default_factory=list)
    c: list[int] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)

    def feed(self, time_ns: int, w: int, c: int, rule: Rule) -> Change | None:
        """Take one assessable window; return the state change it causes, if any.

        Parameters
        ----------
        time_ns : int
            Window time (ns).
        w, c : int
            Raise and clear levels of the window (0..3; ``c`` may be
            :data:`NO_CLEAR`).
        rule : Rule
        """
        w, c = int(w), int(max(c, w))
        self.w = (self.w + [w])[-rule.raise_n :]
        self.c = (self.c + [c])[-rule.clear_n :]
        up = 0
        for lv in (3, 2, 1):
            if sum(x >= lv for x in self.w) >= rule.raise_k:
                up = lv
                break
        new = self.level
        if up > new:
            new = up
        else:
            while new > up and sum(x < new for x in self.c) >= rule.clear_m:
                new -= 1
        if new == self.level:
            return None
        ch = Change(self.subject, int(time_ns), self.level, new)
        self.level = new
        self.since_ns = int(time_ns)
        return ch

    def force(self, time_ns: int, level: int) -> Change | None:
        """Set the level directly (states decided by elapsed time, e.g. no data)."""
        if int(level) == self.level:
            return None
        ch = Change(self.subject, int(time_ns), self.level, int(level))
        self.level = int(level)
        self.since_ns = int(time_ns)
        return ch

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "subject": self.subject,
            "kind": self.kind,
            "level": self.level,
            "since_ns": self.since_ns,
            "w": list(self.w),
            "c": list(self.c),
            "last": dict(self.last),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SubjectState:
        """Inverse of :meth:`to_dict`."""
        return cls(
            d["subject"],
            d["kind"],
            int(d.get("level", 0)),
            d.get("since_ns"),
            [int(x) for x in d.get("w", [])],
            [int(x) for x in d.get("c", [])],
            dict(d.get("last", {})),
        )


def binomial_tail(p: float, k: int, n: int) -> float:
    """Probability that at least ``k`` of ``n`` independent windows have probability ``p``."""
    return float(sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)))


def summarize_states(states: dict[str, SubjectState], now_ns: int | None = None) -> dict[str, Any]:
    """The ``state`` object of ``--json`` and :meth:`ResultsReader.alarm_state`.

    Returns
    -------
    dict
        ``{"updated_ns", "subjects": {subject: {...}}, "kinds": {kind: {"level",
        "active", "subjects"}}}``.
    """
    from bshm.alarms import ALARM_KINDS, LEVEL_NAMES
    from bshm.timeutil import to_iso

    subjects: dict[str, dict[str, Any]] = {}
    kinds: dict[str, dict[str, Any]] = {
        k: {"level": 0, "active": False, "subjects": []} for k in ALARM_KINDS
    }
    for name in sorted(states):
        s = states[name]
        subjects[name] = {
            "kind": s.kind,
            "level": s.level,
            "level_name": LEVEL_NAMES[s.level],
            "active": s.level > 0,
            "since_ns": s.since_ns,
            "since": to_iso(s.since_ns) if s.since_ns is not None else None,
            **{k: s.last[k] for k in ("alarm_id", "index", "message") if k in s.last},
        }
        k = kinds.setdefault(s.kind, {"level": 0, "active": False, "subjects": []})
        if s.level > 0:
            k["subjects"].append(name)
            k["level"] = max(k["level"], s.level)
            k["active"] = True
    return {"updated_ns": now_ns, "subjects": subjects, "kinds": kinds}
