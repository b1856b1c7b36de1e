"""Alarm objects and the JSON-lines feed."""

from __future__ import annotations

import json

import pytest

from bshm.alarms import Alarm, AlarmFeed
from bshm.errors import StoreError

KEYS = {"time_ns", "time", "level", "index", "value", "threshold", "mode", "message"}


def _alarm(level=2, value=2.5):
    return Alarm(
        time_ns=1_767_225_600_000_000_000,
        level=level,
        index="frequency_shift",
        value=value,
        threshold=2.0,
        mode="M2",
        message="f2 fell 2.5 %",
        station="b1",
    )


def test_alarm_dict_has_contract_keys():
    d = _alarm().to_dict()
    assert KEYS <= set(d)
    assert d["time"] == "2026-01-01T00:00:00.000000Z" and d["level"] == 2
    assert Alarm.from_dict(d) == _alarm()
    with pytest.raises(ValueError, match="0..3"):
        _alarm(level=4)
    assert _alarm(value=float("nan")).to_dict()["value"] is None


def test_feed_appends_json_lines(tmp_path):
    feed = AlarmFeed(tmp_path / "sub" / "alarms.jsonl")
    assert feed.read() == []
    assert feed.append([_alarm(1), _alarm(3)]) == 2
    assert feed.append([]) == 0
    feed.append([_alarm(2)])
    lines = (tmp_path / "sub" / "alarms.jsonl").read_text().splitlines()
    assert [json.loads(x)["level"] for x in lines] == [1, 3, 2]
    assert [a["level"] for a in feed.read()] == [1, 3, 2]


def test_feed_torn_last_line_and_corruption(tmp_path):
    p = tmp_path / "alarms.jsonl"
    feed = AlarmFeed(p)
    feed.append([_alarm(1)])
    with open(p, "a") as f:
        f.write('{"time_ns": 1')  # torn by a crash
    assert len(feed.read()) == 1
    p.write_text("garbage\n" + json.dumps(_alarm().to_dict()) + "\n")
    with pytest.raises(StoreError, match=r"alarms.jsonl:1"):
        feed.read()


def test_alarm_id_is_stable_and_distinguishes_alarms():
    a, b = _alarm(), _alarm()
    assert a.id == b.id and len(a.id) == 20
    assert a.to_dict()["id"] == a.id and a.to_dict()["kind"] == "structural"
    assert _alarm(level=3).id != a.id
    assert Alarm.from_dict(a.to_dict()).id == a.id
    with pytest.raises(ValueError, match="kind"):
        Alarm(1, 1, "t2", 1.0, 1.0, None, "m", kind="bridge")
    with pytest.raises(ValueError, match="event"):
        Alarm(1, 1, "t2", 1.0, 1.0, None, "m", event="up")


def test_current_states_takes_the_latest_alarm_per_subject():
    from bshm.alarms import current_states

    raised = Alarm(10, 2, "t2", 9.0, 5.0, None, "up", subject="structural", event="raised")
    sensor = Alarm(
        15,
        2,
        "flat",
        0.0,
        0.0,
        None,
        "flat",
        channel="A1",
        kind="sensor",
        subject="sensor:A1",
        event="raised",
    )
    cleared = Alarm(20, 0, "t2", 1.0, 5.0, None, "ok", subject="structural", event="cleared")
    st = current_states([cleared.to_dict(), raised.to_dict(), sensor.to_dict(), _alarm().to_dict()])
    assert st["structural"]["level"] == 0 and st["structural"]["event"] == "cleared"
    assert st["sensor:A1"]["level"] == 2
    assert set(st) == {"structural", "sensor:A1"}


def test_ack_log_appends_beside_the_feed(tmp_path):
    from bshm.alarms import AckLog, ack_path

    p = ack_path(tmp_path / "alarms.jsonl")
    assert p.name == "alarms.acks.jsonl"
    log = AckLog(p)
    assert log.read() == {}
    log.append("abc", "J. Smith", "checked on site", time_ns=5)
    log.append("abc", "K. Lee", "still active", time_ns=6)
    with open(p, "a") as f:
        f.write('{"id": "torn')
    acks = log.read()
    assert acks["abc"]["by"] == "K. Lee" and acks["abc"]["time_ns"] == 6
    with pytest.raises(ValueError, match="name"):
        log.append("abc", " ")
