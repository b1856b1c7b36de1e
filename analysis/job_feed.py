"""The alarm feed as an outbox, and the stored summary of the alarm states.

The alarm table of the results file is the outbox: every alarm (a state
change) is stored there first, in the same transaction as the results that
caused it. :func:`deliver_stored` then appends to the JSON-lines feed every
stored alarm not delivered yet (one writer, one de-duplication key: the
alarm id) and commits how far it got. A run killed after the results were
saved and before the feed was written therefore loses nothing: the next run
delivers those alarms, lists them in its ``--json`` and counts them in its
exit code; a run killed after writing the feed but before committing does
not write them twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_alarm_state(w: Any, now_ns: int | None) -> None:
    """Store the summary of every alarm state (``/state/alarm_state``).

    Merges the states kept by the judging step (``/state/job``), the strain
    part (``/state/strain``) and the run-level monitoring (``/state/monitor``).
    """
    from bshm.analysis.alarm_state import SubjectState, summarize_states

    states: dict[str, SubjectState] = {}
    for doc in ("job", "strain", "monitor"):
        d = w.read_json(doc, {}) or {}
        for k, v in (d.get("states") or {}).items():
            states[k] = SubjectState.from_dict(v)
    w.write_json("alarm_state", summarize_states(states, now_ns))


def deliver_stored(
    rpath: Path, station: str, feed: Any, now_ns: int | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Deliver the stored, undelivered alarms to ``feed`` and commit (see the module docstring).

    Returns
    -------
    (delivered, state)
        The alarm objects delivered by this call (oldest first) and the
        current alarm state, each subject with ``acknowledged`` (from the
        acknowledgement file beside the feed).
    """
    from bshm.alarms import AckLog, ack_path, deliver
    from bshm.store.results import ResultsWriter, _test_hook

    with ResultsWriter(rpath, station) as w:
        ob = w.read_json("outbox", {}) or {}
        n0 = int(ob.get("rows", 0))
        pending = w.alarm_rows(n0)
        delivered, new = deliver(feed, pending, ob)
        _test_hook("after-feed")
        new["rows"] = n0 + len(pending)
        w.write_json("outbox", new)
        write_alarm_state(w, now_ns)
        state = w.read_json("alarm_state", {}) or {}
    acks = AckLog(ack_path(feed)).read()
    for sub in state.get("subjects", {}).values():
        aid = sub.get("alarm_id")
        sub["acknowledged"] = bool(aid and aid in acks)
    return delivered, state
