"""The alarm message sent to the operations platform (MQTT payload and HTTP body).

It is the alarm object of the feed (DESIGN.md) with its stable ``id`` and a
``format`` tag, as UTF-8 JSON. The JSON Schema is
``docs/alarm-message.schema.json``; keys may be added in later versions,
never renamed. Consumers de-duplicate by ``id``: delivery is at least once.
"""

from __future__ import annotations

import json
from typing import Any

#: Value of the ``format`` key of every message (bumped on an incompatible change).
MESSAGE_FORMAT = "bshm-alarm/1"

#: Keys every message has (the rest of the feed object is passed through).
REQUIRED = ("format", "id", "kind", "time_ns", "time", "level", "index", "message")


def build_message(obj: dict[str, Any], alarm_id: str) -> dict[str, Any]:
    """The message of a feed alarm object (missing optional keys filled from the alarm)."""
    from bshm.alarms import Alarm

    full = Alarm.from_dict(obj).to_dict()
    msg = {"format": MESSAGE_FORMAT}
    msg.update(full)
    msg.update(obj)  # keep what the feed says, including keys added by newer writers
    msg["id"] = alarm_id
    msg["format"] = MESSAGE_FORMAT
    return {k: _finite(v) for k, v in msg.items()}


def _finite(v: Any) -> Any:
    """NaN and infinities (not JSON) become None."""
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return None
    return v


def encode(msg: dict[str, Any]) -> bytes:
    """UTF-8 JSON bytes of a message (NaN/inf never appear: they are null in the feed)."""
    return json.dumps(msg, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def topic_for(template: str, msg: dict[str, Any], station: str = "") -> str:
    """An MQTT topic with ``{station}``, ``{kind}``, ``{level_name}`` filled in.

    ``{station}`` is the alarm's station, else ``station`` (the config's name).
    """
    msg = {**msg, "station": msg.get("station") or station}
    safe = {
        k: str(msg.get(k) or "unknown").replace("/", "_").replace("+", "_").replace("#", "_")
        for k in ("station", "kind", "level_name")
    }
    return template.format_map(safe)
