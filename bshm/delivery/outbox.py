"""The alarm feed read as an outbox, and the per-destination delivery cursor.

The feed (``alarms.jsonl``, written by :class:`bshm.alarms.AlarmFeed`) is
the outbox: nothing is copied out of it. Only complete lines (ending in a
newline) are read, so a line being written is delivered by a later run.

Each destination keeps a cursor beside the feed,
``<feed stem>.delivery/<kind>-<key>.jsonl``: one JSON line per alarm the
destination acknowledged (``{"id", "line", "acked_ns", "acked"}``), appended
and fsync'd after the acknowledgement. An alarm is pending for a
destination while its id is not in that destination's cursor; a crash
between the acknowledgement and the cursor write sends it again (at least
once), never loses it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bshm.timeutil import now_ns, to_iso

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One alarm of the feed: its line number (1-based), id and object."""

    line: int
    id: str
    obj: dict[str, Any]


def read_feed(path: Path) -> tuple[list[Entry], list[str]]:
    """Alarms of the complete lines of a feed, in order, and the problems met.

    A line that is not a JSON alarm object is named in the problems and
    skipped (it can never be delivered); an alarm without ``id`` (an older
    feed) gets the id :class:`bshm.alarms.Alarm` computes. Ids repeated in
    the feed are kept once (the first).

    Returns
    -------
    (entries, problems)
    """
    from bshm.alarms import Alarm

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], []
    complete, _, torn = raw.rpartition(b"\n")
    if torn.strip():
        log.info("%s: the last line is not complete yet: delivered by a later run", path)
    out: list[Entry] = []
    problems: list[str] = []
    seen: set[str] = set()
    if not complete and not raw.endswith(b"\n"):
        return out, problems
    for i, line in enumerate(complete.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            computed = Alarm.from_dict(obj).id  # also checks the alarm's fields
            aid = str(obj.get("id") or computed)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            problems.append(f"{path}:{i}: not an alarm object ({exc}): never delivered")
            continue
        if aid in seen:
            continue
        seen.add(aid)
        out.append(Entry(i, aid, obj))
    return out, problems


class Cursor:
    """The alarms one destination acknowledged (an append-only JSON-lines file)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def acked(self) -> set[str]:
        """Ids acknowledged so far (torn or garbled lines are ignored: sent again)."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return set()
        out = set()
        for line in text.splitlines():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and obj.get("id"):
                out.add(str(obj["id"]))
        return out

    def ack(self, entries: list[Entry]) -> None:
        """Record acknowledged alarms (appended and fsync'd).

        Raises
        ------
        OSError
            The cursor cannot be written (the alarms stay pending).
        """
        if not entries:
            return
        t = now_ns()
        text = "".join(
            json.dumps({"id": e.id, "line": e.line, "acked_ns": t, "acked": to_iso(t)}) + "\n"
            for e in entries
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def cursor_dir(feed: Path) -> Path:
    """Folder of the cursors of a feed: ``alarms.jsonl`` -> ``alarms.delivery/``."""
    stem = feed.name[: -len(".jsonl")] if feed.name.endswith(".jsonl") else feed.name
    return feed.with_name(stem + ".delivery")


@contextmanager
def exclusive(path: Path) -> Iterator[bool]:
    """A non-blocking exclusive lock on ``path``; yields False when another run holds it.

    ``fcntl`` is imported here (Unix); elsewhere no lock is taken.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield True
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
