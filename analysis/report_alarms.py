"""Alarm states and acknowledgements as the report and the viewer show them (no Qt).

One implementation for both, so they agree: an alarm's ``kind`` (from the
alarm, else guessed from its index for older files), its subject, whether
it is still **active** or **cleared**, and who **acknowledged** it
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


def alarm_states(alarms: list[dict[str, Any]]) -> list[str]:
    """``"active"`` or ``"cleared"`` for each alarm (same order).

    An alarm above level 0 is active until a later level-0 alarm of the
    same subject clears it (the subject is the alarm's ``subject``, or its
    index/mode/channel for alarms that carry none); level-0 alarms are the
    clearing events themselves.
    """
    order = sorted(range(len(alarms)), key=lambda i: (int(alarms[i]["time_ns"]), i))
    cleared_after: dict[str, int] = {}
    state = ["cleared"] * len(alarms)
    for i in reversed(order):  # latest first: remember whether a clear follows
        a = alarms[i]
        subj = subject_of(a)
        if int(a.get("level", 0)) == 0:
            cleared_after[subj] = 1
            continue
        state[i] = "cleared" if cleared_after.get(subj) else "active"
    return state


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
    stored: list[dict[str, Any]], feed: Path | None, station: str
) -> list[dict[str, Any]]:
    """Results alarms with the feed's ``id``/``kind``/``subject``/``event``, plus
    alarms only the feed holds (same station); each gets ``id``, ``kind`` and
    ``state`` (``active``/``cleared``), time order."""
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
    for a, st in zip(out, alarm_states(out)):
        a["state"] = st
    return out


def attach_acks(alarms: list[dict[str, Any]], ack_file: Path | None) -> dict[str, dict[str, Any]]:
    """Read the acknowledgements and set each alarm's ``ack`` (None when not acknowledged)."""
    from bshm.alarms import AckLog

    acks = AckLog(ack_file).read() if ack_file is not None else {}
    for a in alarms:
        a["ack"] = acks.get(a["id"])
    return acks
