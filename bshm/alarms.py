"""Graded alarms, alarm states and the JSON-lines alarm feed (an outbox).

An alarm object (DESIGN.md, plus ``id``, ``kind``, ``subject``, ``event``
and ``fields``) is::

    {"id": "3f0c9b2d1e8a7c6b5a49", "kind": "structural",
     "time_ns": 1767225600000000000, "time": "2026-01-01T00:00:00.000000Z",
     "level": 2, "level_name": "warning", "index": "t2_avg", "value": 25.6,
     "threshold": 23.6, "mode": null, "message": "...", "channel": null,
     "station": "sim-bridge", "subject": "structural", "event": "raised",
     "fields": {...}}

``level`` is 0 (normal) to 3 (most severe). The job stores one alarm per
*state change* of a subject (``raised``, ``escalated``, ``de-escalated``,
``cleared``), first in the results file, then delivers it to the feed with
:func:`deliver` (the only feed writer): the feed file holds one such object
per line, appended and fsync'd, so a city platform can tail it and
de-duplicate by ``id``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bshm.errors import StoreError
from bshm.timeutil import to_iso

LEVEL_NAMES = {0: "normal", 1: "advisory", 2: "warning", 3: "critical"}

#: What an alarm is about. ``structural``: the bridge's behaviour (modal
#: indices); ``sensor``: a channel failed its plausibility or health checks
#: (the bridge is not judged from it); ``threshold``: a measured value crossed
#: a configured limit (strain, peak acceleration, fatigue); ``monitoring``: the
#: monitoring itself is interrupted (no new data, no assessable window).
ALARM_KINDS = ("structural", "sensor", "threshold", "monitoring")


#: State changes an alarm can record (see :attr:`Alarm.event`).
ALARM_EVENTS = ("raised", "escalated", "de-escalated", "cleared")


def alarm_id(
    station: str | None,
    kind: str,
    index: str,
    mode: str | None,
    channel: str | None,
    time_ns: int,
    level: int,
    subject: str | None = None,
    event: str | None = None,
) -> str:
    """A stable identifier of an alarm (20 hex digits).

    The same alarm raised again by a rerun gets the same id, so consumers of
    the feed (and the delivery to the operations platform) de-duplicate by it.
    """
    import hashlib

    parts = [station or "", kind, index, mode or "", channel or "", int(time_ns), int(level)]
    if subject is not None or event is not None:
        parts += [subject or "", event or ""]
    key = json.dumps(parts, separators=(",", ":"))
    return hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()[:20]


@dataclass(frozen=True)
class Alarm:
    """One graded alarm.

    Parameters
    ----------
    time_ns : int
        When the condition was observed (ns since the epoch, UTC).
    level : int
        0 normal, 1 advisory, 2 warning, 3 critical.
    index : str
        Which index or check raised it (e.g. ``"frequency_shift"``,
        ``"t2"``, ``"peak"``).
    value, threshold : float
        The index value and the limit it was compared with.
    mode : str or None
        Tracked mode id, when the index belongs to a mode.
    message : str
        Plain-language explanation for the operator.
    channel, station : str or None
        The channel and station concerned, when known.
    kind : str
        One of :data:`ALARM_KINDS` (default ``"structural"``).
    subject : str or None
        What the alarm state belongs to, e.g. ``"structural"``,
        ``"sensor:A03"``, ``"threshold:S2:peak"``, ``"monitoring:data"``.
        The latest alarm of a subject is its current state: active while its
        level is above 0, cleared by a level-0 alarm of the same subject.
        None for alarms that record no state (older feeds).
    event : str or None
        The state change recorded, one of :data:`ALARM_EVENTS`, or None.
    fields : dict or None
        The values that drove a state change (indices, limits, windows
        counted), JSON-ready; not part of the id.
    """

    time_ns: int
    level: int
    index: str
    value: float
    threshold: float
    mode: str | None
    message: str
    channel: str | None = None
    station: str | None = None
    kind: str = "structural"
    subject: str | None = None
    event: str | None = None
    fields: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.level not in LEVEL_NAMES:
            raise ValueError(f"alarm level must be 0..3, not {self.level!r}")
        if self.kind not in ALARM_KINDS:
            raise ValueError(
                f"alarm kind must be one of {', '.join(ALARM_KINDS)}, not {self.kind!r}"
            )
        if self.event is not None and self.event not in ALARM_EVENTS:
            raise ValueError(
                f"alarm event must be one of {', '.join(ALARM_EVENTS)}, not {self.event!r}"
            )

    @property
    def id(self) -> str:
        """Stable identifier (see :func:`alarm_id`)."""
        return alarm_id(
            self.station,
            self.kind,
            self.index,
            self.mode,
            self.channel,
            self.time_ns,
            self.level,
            self.subject,
            self.event,
        )

    @property
    def level_name(self) -> str:
        """``normal``, ``advisory``, ``warning`` or ``critical``."""
        return LEVEL_NAMES[self.level]

    def to_dict(self) -> dict[str, Any]:
        """The alarm as a JSON-ready dict (the DESIGN.md alarm object)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "time_ns": int(self.time_ns),
            "time": to_iso(self.time_ns),
            "level": int(self.level),
            "level_name": self.level_name,
            "index": self.index,
            "value": _finite_or_none(self.value),
            "threshold": _finite_or_none(self.threshold),
            "mode": self.mode,
            "message": self.message,
            "channel": self.channel,
            "station": self.station,
            "subject": self.subject,
            "event": self.event,
            **({"fields": self.fields} if self.fields else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alarm:
        """Rebuild an alarm from :meth:`to_dict` output."""
        return cls(
            time_ns=int(d["time_ns"]),
            level=int(d["level"]),
            index=str(d["index"]),
            value=float("nan") if d.get("value") is None else float(d["value"]),
            threshold=float("nan") if d.get("threshold") is None else float(d["threshold"]),
            mode=d.get("mode"),
            message=str(d.get("message", "")),
            channel=d.get("channel"),
            station=d.get("station"),
            kind=str(d.get("kind") or "structural"),
            subject=d.get("subject"),
            event=d.get("event"),
            fields=d.get("fields") or None,
        )


def _finite_or_none(x: float) -> float | None:
    x = float(x)
    return x if x == x and abs(x) != float("inf") else None


class AlarmFeed:
    """An append-only JSON-lines file of alarms.

    Parameters
    ----------
    path : str or Path
        The feed file; its folder is created when needed.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def append(self, alarms: Iterable[Alarm]) -> int:
        """Append alarms (one JSON object per line) and fsync; return how many."""
        return self.append_objects(a.to_dict() for a in alarms)

    def append_objects(self, objects: Iterable[dict[str, Any]]) -> int:
        """Append alarm objects (dicts, e.g. read back from a results file) and fsync.

        A last line torn by a crash (no final newline) is cut off first: it
        was never delivered, and the outbox writes its alarm again.
        """
        lines = [json.dumps(o, ensure_ascii=False) + "\n" for o in objects]
        if not lines:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _cut_torn_line(self.path)
        with open(self.path, "ab") as f:
            f.write("".join(lines).encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        return len(lines)

    def ids_from(self, offset: int = 0) -> set[str]:
        """Ids of the alarm objects written at or after byte ``offset``.

        Unreadable lines are ignored here (only the ids matter: a line that
        is not a JSON object cannot hold one).
        """
        if not self.path.exists():
            return set()
        with open(self.path, "rb") as f:
            f.seek(max(0, int(offset)))
            data = f.read()
        out = set()
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(obj, dict) and obj.get("id"):
                out.add(str(obj["id"]))
        return out

    def read(self) -> list[dict[str, Any]]:
        """Every alarm object in the feed (a torn last line is ignored).

        Raises
        ------
        StoreError
            If a complete line is not a JSON object (names the line).
        """
        if not self.path.exists():
            return []
        out = []
        text = self.path.read_text(encoding="utf-8")
        lines = text.split("\n")
        for i, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                if i == len(lines):  # torn write at the very end
                    continue
                raise StoreError(f"{self.path}:{i}: not a JSON alarm object") from None
            out.append(obj)
        return out


def _cut_torn_line(path: Path) -> None:
    """Truncate a JSON-lines file after its last newline (a line torn by a crash)."""
    try:
        f = open(path, "r+b")
    except FileNotFoundError:
        return
    with f:
        end = f.seek(0, os.SEEK_END)
        pos = end
        while pos > 0:
            step = min(4096, pos)
            f.seek(pos - step)
            chunk = f.read(step)
            k = chunk.rfind(b"\n")
            if k >= 0:
                pos = pos - step + k + 1
                break
            pos -= step
        if pos < end:
            f.truncate(pos)
            f.flush()
            os.fsync(f.fileno())


def current_states(alarms: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest alarm object of each subject (alarms without a subject are ignored).

    Parameters
    ----------
    alarms : iterable of dict
        Alarm objects (feed lines), in any order.

    Returns
    -------
    dict
        ``subject -> alarm object`` of its latest alarm (by ``time_ns``, then
        by position); the subject is active when that alarm's level is > 0.
    """
    out: dict[str, dict[str, Any]] = {}
    for a in alarms:
        subj = a.get("subject")
        if not subj:
            continue
        old = out.get(subj)
        if old is None or int(a["time_ns"]) >= int(old["time_ns"]):
            out[subj] = a
    return out


def ack_path(feed_path: str | os.PathLike) -> Path:
    """The acknowledgement file beside a feed: ``alarms.jsonl`` -> ``alarms.acks.jsonl``."""
    p = Path(feed_path)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return p.with_name(stem + ".acks.jsonl")


class AckLog:
    """Append-only JSON-lines file of acknowledgements, kept beside the feed (never in it).

    Each line: ``{"id": <alarm id>, "time_ns", "time", "by", "comment"}``.
    The viewer, the report and later runs read the same file, so they agree
    on what was acknowledged.

    Parameters
    ----------
    path : str or Path
        The acknowledgement file (see :func:`ack_path`).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def append(
        self, alarm_id: str, by: str, comment: str = "", *, time_ns: int | None = None
    ) -> dict[str, Any]:
        """Record that ``by`` acknowledged the alarm ``alarm_id``; return the stored object.

        Raises
        ------
        ValueError
            If ``alarm_id`` or ``by`` is empty.
        """
        from bshm.timeutil import now_ns

        if not str(alarm_id).strip():
            raise ValueError("an acknowledgement needs the alarm id")
        if not str(by).strip():
            raise ValueError("an acknowledgement needs the name of who acknowledges")
        t = int(now_ns() if time_ns is None else time_ns)
        obj = {
            "id": str(alarm_id),
            "time_ns": t,
            "time": to_iso(t),
            "by": str(by).strip(),
            "comment": str(comment),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return obj

    def read(self) -> dict[str, dict[str, Any]]:
        """``alarm id -> latest acknowledgement`` (torn or garbled lines are skipped)."""
        if not self.path.exists():
            return {}
        out: dict[str, dict[str, Any]] = {}
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and obj.get("id"):
                out[str(obj["id"])] = obj
        return out


def deliver(
    feed_path: str | os.PathLike, pending: list[dict[str, Any]], outbox: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Deliver stored alarms to the feed: the feed is the outbox's destination.

    ``pending`` are the alarm objects stored since the last committed
    delivery (the rows of the results file's alarm table from
    ``outbox["rows"]`` on). Those whose id the feed already holds past the
    committed byte offset (written by a run killed before it could commit)
    are not written again; the others are appended and fsync'd. Every
    pending alarm counts as delivered by this call, so the caller reports
    all of them (``--json``, exit code) and then commits the returned state.

    Parameters
    ----------
    feed_path : path
        The JSON-lines feed.
    pending : list of dict
        Alarm objects with an ``id``, in insertion order.
    outbox : dict or None
        The committed state: ``rows`` (alarm rows delivered), ``offset``
        (feed size after the last delivery), ``ino`` (the feed's inode then).

    Returns
    -------
    (delivered, state)
        The pending alarms, and the state to commit (``rows`` not included:
        the caller adds ``rows + len(pending)``).
    """
    feed = AlarmFeed(feed_path)
    st = dict(outbox or {})
    offset = int(st.get("offset", 0))
    try:
        info = os.stat(feed.path)
    except FileNotFoundError:
        info = None
    if info is None or info.st_ino != st.get("ino") or info.st_size < offset:
        offset = 0  # a new, rotated or truncated feed: look at all of it
    present = feed.ids_from(offset) if pending else set()
    feed.append_objects(a for a in pending if a["id"] not in present)
    try:
        info = os.stat(feed.path)
        st.update(offset=int(info.st_size), ino=int(info.st_ino))
    except FileNotFoundError:
        st.update(offset=0, ino=None)
    return list(pending), st
