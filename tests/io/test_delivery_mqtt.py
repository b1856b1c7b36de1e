"""Alarm delivery over MQTT to a real Mosquitto broker: order, outages, persistence, TLS, auth."""

from __future__ import annotations

import json
import subprocess
import threading

import pytest
from delivery_helpers import (
    MOSQUITTO_PASSWD,
    Broker,
    Subscriber,
    make_alarms,
    station_toml,
    wait_until,
)

from bshm.alarms import AlarmFeed
from bshm.cli import main
from bshm.config import load_station
from bshm.delivery import deliver, deliver_after_analyze, deliver_station

pytest.importorskip("paho.mqtt.client")

TOPIC = "bridges/{station}/alarms"


def _station(tmp_path, port, extra=""):
    cfg = station_toml(
        tmp_path / "st",
        f'mqtt = "mqtt://127.0.0.1:{port}/{TOPIC}"\n'
        'delivery_retries = 2\ndelivery_backoff = "0.01s"\n'
        'delivery_timeout = "3s"\n' + extra,
    )
    return cfg, load_station(cfg)


def _dedup(ids):
    seen, out = set(), []
    for i in ids:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def test_delivers_every_kind_in_order_once(tmp_path, broker, validate, capsys):
    cfg, st = _station(tmp_path, broker.port)
    alarms = make_alarms(8)
    AlarmFeed(st.alarms.feed).append(alarms)
    sub = Subscriber(broker.port, "bridges/#").connect()
    try:
        assert main(["deliver", str(cfg), "--json"]) == 0
        rep = json.loads(capsys.readouterr().out)["destinations"][0]
        assert rep["status"] == "delivered" and rep["delivered"] == 8 and rep["pending"] == 0
        wait_until(lambda: len(sub.messages) >= 8, what="8 messages")
        assert sub.ids() == [a.id for a in alarms]  # in feed order, each once
        assert set(sub.topics) == {"bridges/br7/alarms"}
        for m in sub.messages:
            validate(m)
        assert {m["kind"] for m in sub.messages} == {
            "structural",
            "sensor",
            "threshold",
            "monitoring",
        }
        assert sub.messages[0]["value"] is None  # NaN in the alarm is null on the wire
        # a second run has nothing to send
        assert main(["deliver", str(cfg)]) == 0
        assert "up to date" in capsys.readouterr().out
        AlarmFeed(st.alarms.feed).append(make_alarms(9)[8:])
        assert main(["deliver", str(cfg)]) == 0
        wait_until(lambda: len(sub.messages) >= 9, what="the 9th message")
        assert len(sub.messages) == 9
    finally:
        sub.disconnect()


def test_broker_killed_mid_run_and_restarted(tmp_path, broker, validate, monkeypatch):
    from bshm.delivery.mqtt import MqttSender

    cfg, st = _station(tmp_path, broker.port)
    alarms = make_alarms(12)
    AlarmFeed(st.alarms.feed).append(alarms)
    sub = Subscriber(broker.port, "bridges/#").connect()
    killed = threading.Event()
    sent = []
    send = MqttSender.send

    def send_then_kill(self, msg, payload):  # times the fault; broker and client stay real
        send(self, msg, payload)
        sent.append(msg["id"])
        if len(sent) == 5 and not killed.is_set():
            wait_until(lambda: len(sub.messages) >= 5, what="5 messages before the kill")
            killed.set()
            broker.kill()

    monkeypatch.setattr(MqttSender, "send", send_then_kill)
    waits = []

    def restart(delay):  # called by the delivery between attempts
        waits.append(delay)
        if broker.proc.poll() is not None:
            broker.start()
            wait_until(sub.subscribed.is_set, what="the subscriber back")

    try:
        (rep,) = deliver(st.alarms.feed, st.alarms.delivery, station=st.name, sleep=restart)
        assert killed.is_set() and waits, "the broker was not killed during the run"
        assert rep.status == "delivered" and rep.pending == 0, rep
        wait_until(lambda: set(sub.ids()) >= {a.id for a in alarms}, what="every alarm")
        assert _dedup(sub.ids()) == [a.id for a in alarms]  # in order, none lost
        assert len(sub.ids()) <= 13  # at most the one in flight twice
        for m in sub.messages:
            validate(m)
    finally:
        sub.disconnect()


def test_broker_down_for_the_run_then_the_next_run_delivers(tmp_path, validate):
    b = Broker(tmp_path / "b")  # not started: nothing listens on its port
    cfg, st = _station(tmp_path, b.port)
    first = make_alarms(6)
    AlarmFeed(st.alarms.feed).append(first[:4])
    waits = []
    (rep,) = deliver(st.alarms.feed, st.alarms.delivery, station=st.name, sleep=waits.append)
    assert rep.status == "failed" and rep.delivered == 0 and rep.pending == 4
    assert "cannot connect" in rep.error
    assert waits == [0.01, 0.02]  # delivery_retries = 2, back-off doubles
    assert not rep.ok
    # alarms keep coming while the broker is down
    AlarmFeed(st.alarms.feed).append(first[4:])
    b.start()
    sub = Subscriber(b.port, "bridges/#").connect()
    try:
        assert main(["deliver", str(cfg)]) == 0
        wait_until(lambda: len(sub.messages) >= 6, what="6 messages")
        assert sub.ids() == [a.id for a in first]
        for m in sub.messages:
            validate(m)
    finally:
        sub.disconnect()
        b.kill()


def test_late_subscriber_gets_what_was_published_while_away(tmp_path, broker):
    cfg, st = _station(tmp_path, broker.port)
    sub = Subscriber(broker.port, "bridges/#", client_id="city-late").connect()
    sub.disconnect()  # the platform goes away; its persistent session stays on the broker
    alarms = make_alarms(6)
    AlarmFeed(st.alarms.feed).append(alarms)
    (rep,) = deliver_station(st)
    assert rep.status == "delivered"
    late = Subscriber(broker.port, "bridges/#", client_id="city-late").connect()
    try:
        wait_until(lambda: len(late.messages) >= 6, what="queued messages")
        assert late.ids() == [a.id for a in alarms]
    finally:
        late.disconnect()


def test_torn_last_line_waits_and_garbled_line_is_reported(tmp_path, broker):
    cfg, st = _station(tmp_path, broker.port)
    a = make_alarms(3)
    feed = st.alarms.feed
    lines = [json.dumps(x.to_dict()) for x in a]
    feed.parent.mkdir(parents=True, exist_ok=True)
    feed.write_text(lines[0] + "\n" + "{not json\n" + lines[1] + "\n" + lines[2][:40])
    sub = Subscriber(broker.port, "bridges/#").connect()
    try:
        (rep,) = deliver_station(st)
        assert rep.status == "delivered" and rep.delivered == 2
        assert len(rep.problems) == 1 and ":2: not an alarm object" in rep.problems[0]
        with open(feed, "a") as f:  # the writer finishes its line
            f.write(lines[2][40:] + "\n")
        (rep,) = deliver_station(st)
        assert rep.delivered == 1
        wait_until(lambda: len(sub.messages) >= 3, what="3 messages")
        assert sub.ids() == [x.id for x in a]
    finally:
        sub.disconnect()


def test_status_and_mark_delivered(tmp_path, broker, capsys):
    cfg, st = _station(tmp_path, broker.port)
    AlarmFeed(st.alarms.feed).append(make_alarms(5))
    assert main(["deliver", str(cfg), "--status"]) == 1
    assert "pending 5" in capsys.readouterr().out
    assert main(["deliver", str(cfg), "--mark-delivered", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["destinations"][0]["status"] == "marked"
    assert main(["deliver", str(cfg), "--status"]) == 0
    assert "pending 0" in capsys.readouterr().out


def test_a_second_delivery_at_the_same_time_is_busy(tmp_path, broker):
    from bshm.delivery import cursor_name
    from bshm.delivery.outbox import cursor_dir, exclusive

    cfg, st = _station(tmp_path, broker.port)
    AlarmFeed(st.alarms.feed).append(make_alarms(2))
    lock = cursor_dir(st.alarms.feed) / (cursor_name("mqtt", st.alarms.delivery.mqtt.url) + ".lock")
    with exclusive(lock) as mine:
        assert mine
        res = subprocess.run(
            [".venv/bin/bshm", "deliver", str(cfg)],
            capture_output=True,
            text=True,
            cwd=str(_root()),
        )
        assert res.returncode == 75 and "busy" in res.stdout
    (rep,) = deliver_station(st)
    assert rep.status == "delivered" and rep.delivered == 2


def _root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


def test_tls_with_user_and_password(tmp_path, tls_cert, monkeypatch, validate):
    if MOSQUITTO_PASSWD is None:
        pytest.skip("mosquitto_passwd is not installed")
    pw = tmp_path / "passwd"
    subprocess.run(
        [MOSQUITTO_PASSWD, "-b", "-c", str(pw), "bridge7", "s3cret"],
        check=True,
        capture_output=True,
    )
    pw.chmod(0o600)
    b = Broker(
        tmp_path / "tlsb",
        extra=(
            f"allow_anonymous false\npassword_file {pw}\ncafile {tls_cert}\n"
            f"certfile {tls_cert}\nkeyfile {tls_cert.with_name('key.pem')}\n"
        ),
    ).start()
    try:
        cfg, st = _station(tmp_path, b.port)
        cfg.write_text(
            cfg.read_text()
            .replace("mqtt://", "mqtts://")
            .replace(
                "delivery_retries = 2",
                'delivery_retries = 2\nmqtt_username = "bridge7"\n'
                f'mqtt_password_env = "BSHM_TEST_MQTT_PW"\nmqtt_ca_file = "{tls_cert}"',
            )
        )
        st = load_station(cfg)
        assert st.alarms.delivery.mqtt.tls
        alarms = make_alarms(3)
        AlarmFeed(st.alarms.feed).append(alarms)
        # the password is missing from the environment: a config problem, not retried
        monkeypatch.delenv("BSHM_TEST_MQTT_PW", raising=False)
        waits = []
        (rep,) = deliver_station(st, sleep=waits.append)
        assert rep.status == "failed" and "BSHM_TEST_MQTT_PW" in rep.error and waits == []
        monkeypatch.setenv("BSHM_TEST_MQTT_PW", "wrong")
        (rep,) = deliver_station(st, sleep=waits.append)
        assert rep.status == "failed" and "mqtt_username" in rep.error and waits == []
        monkeypatch.setenv("BSHM_TEST_MQTT_PW", "s3cret")
        sub = Subscriber(
            b.port, "bridges/#", tls_ca=str(tls_cert), auth=("bridge7", "s3cret")
        ).connect()
        try:
            (rep,) = deliver_station(st)
            assert rep.status == "delivered" and rep.delivered == 3
            wait_until(lambda: len(sub.messages) >= 3, what="3 messages over TLS")
            assert sub.ids() == [a.id for a in alarms]
            for m in sub.messages:
                validate(m)
        finally:
            sub.disconnect()
    finally:
        b.kill()


def test_analyze_hook_reports_and_never_raises(tmp_path):
    b = Broker(tmp_path / "b")  # down
    cfg, st = _station(tmp_path, b.port, extra="")
    cfg.write_text(cfg.read_text().replace("delivery_retries = 2", "delivery_retries = 0"))
    AlarmFeed(st.alarms.feed).append(make_alarms(2))
    reps = deliver_after_analyze(cfg.parent, None)
    assert reps[0]["status"] == "failed" and reps[0]["pending"] == 2
    # an unreadable config is reported too, not raised
    bad = tmp_path / "bad.toml"
    bad.write_text("[station\n")
    reps = deliver_after_analyze(tmp_path, bad)
    assert reps[0]["status"] == "failed" and "bad.toml" in reps[0]["error"]
    assert deliver_after_analyze(tmp_path / "nowhere", None) is None
