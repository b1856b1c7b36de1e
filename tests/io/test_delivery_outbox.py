"""The feed as outbox, the cursor and the message, on real files."""

from __future__ import annotations

import json

from delivery_helpers import make_alarms

from bshm.alarms import Alarm, AlarmFeed
from bshm.delivery.message import MESSAGE_FORMAT, build_message, encode, topic_for
from bshm.delivery.outbox import Cursor, Entry, cursor_dir, read_feed


def test_old_feed_lines_get_the_alarm_id_and_repeats_are_kept_once(tmp_path, validate):
    a = make_alarms(3)
    old = a[0].to_dict()
    del old["id"], old["kind"], old["subject"], old["event"]  # a feed from before ids
    feed = tmp_path / "alarms.jsonl"
    AlarmFeed(feed).append(a[1:])
    text = json.dumps(old) + "\n" + feed.read_text() + json.dumps(a[1].to_dict()) + "\n"
    feed.write_text(text)
    entries, problems = read_feed(feed)
    assert problems == []
    assert [e.line for e in entries] == [1, 2, 3]  # line 4 repeats line 2's id
    expect = Alarm.from_dict(old).id
    assert entries[0].id == expect
    msg = build_message(entries[0].obj, entries[0].id)
    validate(msg)
    assert msg["format"] == MESSAGE_FORMAT and msg["kind"] == "structural"
    assert json.loads(encode(msg)) == msg


def test_missing_feed_and_incomplete_only_line(tmp_path):
    assert read_feed(tmp_path / "none.jsonl") == ([], [])
    f = tmp_path / "a.jsonl"
    f.write_text('{"id": "x", "time_ns": 1')
    assert read_feed(f) == ([], [])


def test_line_with_bad_fields_is_a_problem(tmp_path):
    f = tmp_path / "a.jsonl"
    good = make_alarms(1)[0].to_dict()
    f.write_text(
        json.dumps({"id": "abc", "level": 9, "time_ns": 1, "index": "x"})
        + "\n"
        + "[1, 2]\n"
        + json.dumps(good)
        + "\n"
    )
    entries, problems = read_feed(f)
    assert [e.id for e in entries] == [good["id"]]
    assert [p.split(": ")[0].rsplit(":", 1)[1] for p in problems] == ["1", "2"]


def test_cursor_ignores_a_torn_line(tmp_path):
    c = Cursor(cursor_dir(tmp_path / "alarms.jsonl") / "mqtt-x.jsonl")
    assert c.path.parent.name == "alarms.delivery"
    c.ack([Entry(1, "aaa", {}), Entry(2, "bbb", {})])
    with open(c.path, "a") as f:
        f.write('{"id": "ccc", "li')  # killed while writing: ccc is sent again
    assert c.acked() == {"aaa", "bbb"}


def test_topic_placeholders_are_filled_and_made_safe():
    msg = {"station": None, "kind": "sensor", "level_name": "warning"}
    assert (
        topic_for("b/{station}/{kind}/{level_name}", msg, station="br/7") == "b/br_7/sensor/warning"
    )
    assert topic_for("b/{station}", {"station": "x+#"}) == "b/x__"
    assert topic_for("plain/topic", msg) == "plain/topic"


def test_non_finite_values_become_null():
    a = make_alarms(1)[0].to_dict()
    a["value"] = float("inf")
    a["extra"] = float("nan")
    msg = build_message(a, a["id"])
    assert msg["value"] is None and msg["extra"] is None
    encode(msg)  # valid JSON (raises on NaN otherwise)
