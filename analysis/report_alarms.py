"""Alarm states and acknowledgements as the report and the viewer show them (no Qt).

One implementation for both, so they agree: an alarm's ``kind`` (from the
alarm, else guessed from its index for older files), its subject, whether
it is still **active**, **superseded** (the same subject moved to another
level since) or **cleared** -- from the job's stored alarm state when the
results hold one --, and who **acknowledged** it
(``alarms.acks.jsonl`` beside the feed, see :class:`bshm.alarms.AckLog`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bshm.errors import StoreError

log = logging.getLogger(__name__)


#: Index names of each alarm kind, for alarms that do not say their kind.
_KIND_OF_INDEX = {
    "structural": ("t2", "t2_avg", "frequency_shift", "freq_shift", "mac", "comac", "novelty"),
    "threshold": ("peak", "rms", "high", "low", "change", "fatigue", "miner", "strain"),
    "sensor": ("sensor", "health", "channel_health", "flat", "dead", "spikes", "drift"),
    "monitoring": ("no_data", "monitoring", "stale", "no_window", "data"),
}


def guess_kind(alarm: dict[str, Any]) -> str:
    """The alarm's ``kind``, or a guess from its index for files that predate it."""
    kind = alarm.get("kind")
    if kind:
        return str(kind)
    index = str(alarm.get("index", "")).lower()
    for k, names in _KIND_OF_INDEX.items():
        if index in names or any(index.startswith(n + "_") for n in names):
            return k
    return "threshold" if alarm.get("channel") else "structural"


def subject_of(alarm: dict[str, Any]) -> str:
    """What an alarm's state belongs to: its ``subject``, else index/mode/channel."""
    subj = alarm.get("subject")
    if subj:
        return str(subj)
    return f"{alarm.get('index', '')}|{alarm.get('mode') or ''}|{alarm.get('channel') or ''}"


def _key(a: dict[str, Any]) -> tuple:
    return (
        int(a["time_ns"]),
        str(a.get("index", "")),
        str(a.get("mode") or ""),
        str(a.get("channel") or ""),
        int(a.get("level", 0)),
    )


def _old_rule(alarms: list[dict[str, Any]], idx: list[int]) -> dict[int, str]:
    """Active until a later level-0 alarm of the same subject (files without a stored state)."""
    order = sorted(idx, key=lambda i: (int(alarms[i]["time_ns"]), i))
    cleared_after: dict[str, int] = {}
    state = {i: "cleared" for i in idx}
    for i in reversed(order):  # latest first: remember whether a clear follows
        a = alarms[i]
        subj = subject_of(a)
        if int(a.get("level", 0)) == 0:
            cleared_after[subj] = 1
            continue
        state[i] = "cleared" if cleared_after.get(subj) else "active"
    return state


def alarm_states(alarms: list[dict[str, Any]], state: dict[str, Any] | None = None) -> list[str]:
    """``"active"``, ``"superseded"`` or ``"cleared"`` for each alarm (same order).

    With the job's stored alarm state (``state``, as
    :meth:`bshm.store.results_read.ResultsReader.alarm_state` returns it), a
    subject's current alarm is the one whose id is the subject's
    ``alarm_id``: it is ``active`` while the subject's level is above 0
    (``cleared`` when that alarm is the clearing event itself). Earlier
    alarms of the subject are ``cleared`` when a clearing event (level 0)
    followed them, else ``superseded`` (the situation went on at another
    level: escalated or de-escalated).

    Without a stored state (older files), or for subjects the state does not
    know: an alarm above level 0 is active until a later level-0 alarm of the
    same subject clears it.
    """
    subjects = (state or {}).get("subjects") or {}
    out = ["cleared"] * len(alarms)
    by_subject: dict[str, list[int]] = {}
    for i, a in enumerate(alarms):
        by_subject.setdefault(subject_of(a), []).append(i)
    fallback: list[int] = []
    for subj, idx in by_subject.items():
        cur = subjects.get(subj)
        if not cur:
            fallback += idx
            continue
        cur_id = cur.get("alarm_id")
        order = sorted(idx, key=lambda i: (int(alarms[i]["time_ns"]), i))
        cleared_later = False
        for i in reversed(order):
            a = alarms[i]
            lv = int(a.get("level", 0))
            if cur_id and a.get("id") == cur_id:
                out[i] = "active" if cur.get("active") and lv > 0 else "cleared"
            elif lv == 0:
                out[i] = "cleared"
            else:
                out[i] = "cleared" if cleared_later else "superseded"
            if lv == 0:
                cleared_later = True
        if not cur.get("active"):  # nothing of a subject at level 0 is still active
            for i in idx:
                if out[i] == "superseded" and not cleared_later:
                    out[i] = "cleared"
    for i, st in _old_rule(alarms, fallback).items():
        out[i] = st
    return out


#: Order of the subject groups in the "current state" summaries.
_GROUP_ORDER = ("structural", "sensor", "threshold", "monitoring")

_MONITORING_WORDS = {
    "conditions": "trained conditions",
    "assessment": "assessment",
    "data": "data arriving",
}


def subject_label(subject: str) -> str:
    """A subject in words: ``bridge (structural)``, ``sensor A03``, ``limit peak on A05``."""
    parts = str(subject).split(":")
    if parts[0] == "structural":
        return "bridge (structural)" if len(parts) == 1 else f"bridge: {':'.join(parts[1:])}"
    if parts[0] == "sensor" and len(parts) > 1:
        return f"sensor {':'.join(parts[1:])}"
    if parts[0] == "threshold" and len(parts) > 2:
        return f"limit {':'.join(parts[2:])} on {parts[1]}"
    if parts[0] == "threshold" and len(parts) == 2:
        return f"limit on {parts[1]}"
    if parts[0] == "monitoring" and len(parts) > 1:
        return f"monitoring: {_MONITORING_WORDS.get(parts[1], ':'.join(parts[1:]))}"
    return str(subject)


def current_state_rows(state: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per subject of the stored alarm state, for the summaries.

    Bridge first, then sensors, limits and monitoring; within a group by
    name. Each row: ``subject``, ``label``, ``kind``, ``level``,
    ``level_name``, ``active``, ``since_ns``, ``since``, ``alarm_id``,
    ``index``, ``message`` (the values the job stored, unchanged).
    """
    from bshm.alarms import LEVEL_NAMES

    subjects = (state or {}).get("subjects") or {}
    rows = []
    for subj, s in subjects.items():
        kind = str(s.get("kind") or subj.split(":")[0])
        lv = int(s.get("level", 0))
        rows.append(
            {
                "subject": subj,
                "label": subject_label(subj),
                "kind": kind,
                "level": lv,
                "level_name": str(s.get("level_name") or LEVEL_NAMES.get(lv, "")),
                "active": bool(s.get("active", lv > 0)),
                "since_ns": s.get("since_ns"),
                "since": s.get("since"),
                "alarm_id": s.get("alarm_id"),
                "index": s.get("index"),
                "message": s.get("message", ""),
            }
        )
    rank = {k: i for i, k in enumerate(_GROUP_ORDER)}
    rows.sort(key=lambda r: (rank.get(r["kind"], len(rank)), r["subject"]))
    return rows


def read_feed(feed: Path | None) -> list[dict[str, Any]]:
    """The alarm feed's objects ([] when there is none; a damaged feed is logged)."""
    if feed is None or not Path(feed).exists():
        return []
    from bshm.alarms import AlarmFeed

    try:
        return AlarmFeed(feed).read()
    except (StoreError, OSError, UnicodeDecodeError) as exc:
        log.warning("alarm feed not read: %s", exc)
        return []


def merge_alarms(
    stored: list[dict[str, Any]],
    feed: Path | None,
    station: str,
    state: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Results alarms with the feed's ``id``/``kind``/``subject``/``event``, plus
    alarms only the feed holds (same station); each gets ``id``, ``kind`` and
    ``state`` (``active``/``superseded``/``cleared``, see :func:`alarm_states`;
    ``state`` is the job's stored alarm state), time order."""
    from bshm.alarms import alarm_id

    fed = [d for d in read_feed(feed) if d.get("station") in (None, "", station)]
    by_key = {_key(d): d for d in fed if "time_ns" in d}
    out = []
    seen = set()
    for a in stored:
        a = dict(a)
        k = _key(a)
        seen.add(k)
        f = by_key.get(k, {})
        for name in ("id", "kind", "subject", "event"):
            if not a.get(name) and f.get(name):
                a[name] = f[name]
        out.append(a)
    for d in fed:
        if "time_ns" in d and _key(d) not in seen:
            out.append(dict(d))
    for a in out:
        a["kind"] = guess_kind(a)
        a.setdefault("channel", None)
        a.setdefault("mode", None)
        if not a.get("id"):
            a["id"] = alarm_id(
                station or None,
                a["kind"],
                str(a["index"]),
                a.get("mode"),
                a.get("channel"),
                int(a["time_ns"]),
                int(a["level"]),
                a.get("subject"),
                a.get("event"),
            )
    out.sort(key=lambda a: int(a["time_ns"]))
    for a, st in zip(out, alarm_states(out, state)):
        a["state"] = st
    return out


def attach_acks(alarms: list[dict[str, Any]], ack_file: Path | None) -> dict[str, dict[str, Any]]:
    """Read the acknowledgements and set each alarm's ``ack`` (None when not acknowledged)."""
    from bshm.alarms import AckLog

    acks = AckLog(ack_file).read() if ack_file is not None else {}
    for a in alarms:
        a["ack"] = acks.get(a["id"])
    return acks
