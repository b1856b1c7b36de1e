"""Alarm objects and the JSON-lines feed."""

from __future__ import annotations

import json

import pytest

from bshm.alarms import Alarm, AlarmFeed
from bshm.errors import StoreError

KEYS = {"time_ns", "time", "level", "index", "value", "threshold", "mode", "message"}


def _alarm(level=2, value=2.5):
    return Alarm(time_ns=1_767_225_600_000_000_000, level=level, index="frequency_shift",
                 value=value, threshold=2.0, mode="M2", message="f2 fell 2.5 %",
                 station="b1")


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
