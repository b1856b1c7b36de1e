"""Alarm delivery by webhook to a real HTTP(S) server on 127.0.0.1: order, outages, retries."""

from __future__ import annotations

import json

import pytest
from delivery_helpers import Endpoint, make_alarms, station_toml

from bshm.alarms import AlarmFeed
from bshm.cli import main
from bshm.config import load_station
from bshm.delivery import deliver_station
from bshm.errors import ConfigError


def _station(tmp_path, url, extra=""):
    cfg = station_toml(
        tmp_path / "st",
        f'webhook = "{url}"\ndelivery_retries = 3\n'
        'delivery_backoff = "0.05s"\ndelivery_timeout = "5s"\n' + extra,
    )
    return cfg, load_station(cfg)


def test_posts_every_alarm_in_order_with_id_and_token(
    tmp_path, endpoint, validate, monkeypatch, capsys
):
    monkeypatch.setenv("CITY_TOKEN", "tok-123")
    cfg, st = _station(tmp_path, endpoint.url, 'webhook_token_env = "CITY_TOKEN"\n')
    alarms = make_alarms(7)
    AlarmFeed(st.alarms.feed).append(alarms)
    assert main(["deliver", str(cfg)]) == 0
    assert "delivered, 7 delivered, 0 pending" in capsys.readouterr().out
    got = [m for m, _ in endpoint.received]
    assert [m["id"] for m in got] == [a.id for a in alarms]
    for m, h in endpoint.received:
        validate(m)
        assert h["Idempotency-Key"] == m["id"] == h["X-Bshm-Alarm-Id"]
        assert h["Authorization"] == "Bearer tok-123"
        assert h["Content-Type"].startswith("application/json")
    assert main(["deliver", str(cfg)]) == 0
    assert len(endpoint.received) == 7  # nothing sent twice


def test_503_is_retried_with_back_off(tmp_path, endpoint):
    cfg, st = _station(tmp_path, endpoint.url)
    alarms = make_alarms(3)
    AlarmFeed(st.alarms.feed).append(alarms)
    endpoint.status = [200, 503, 503]  # the 2nd alarm is refused twice, then accepted
    waits = []
    (rep,) = deliver_station(st, sleep=waits.append)
    assert rep.status == "delivered" and rep.delivered == 3
    assert waits == [0.05, 0.1]
    assert [m["id"] for m, _ in endpoint.received] == [a.id for a in alarms]


def test_endpoint_down_then_back_same_run_and_next_run(tmp_path, validate):
    ep = Endpoint()  # not started: connection refused
    cfg, st = _station(tmp_path, ep.url)
    alarms = make_alarms(8)
    AlarmFeed(st.alarms.feed).append(alarms[:3])
    waits = []
    (rep,) = deliver_station(st, sleep=waits.append)
    assert rep.status == "failed" and rep.pending == 3 and "cannot reach" in rep.error
    assert waits == [0.05, 0.1, 0.2]
    AlarmFeed(st.alarms.feed).append(alarms[3:6])

    def back_up(delay):  # the endpoint returns while this run waits to retry
        waits.append(delay)
        if ep.server is None:
            ep.start()

    try:
        (rep,) = deliver_station(st, sleep=back_up)
        assert rep.status == "delivered" and rep.delivered == 6
        ep.stop()  # down again
        AlarmFeed(st.alarms.feed).append(alarms[6:])
        (rep,) = deliver_station(st, sleep=lambda d: None)
        assert rep.status == "failed" and rep.pending == 2
        ep.start()
        (rep,) = deliver_station(st)
        assert rep.status == "delivered" and rep.delivered == 2
        ids = [m["id"] for m, _ in ep.received]
        assert ids == [a.id for a in alarms]  # in order, each once
        for m, _ in ep.received:
            validate(m)
    finally:
        ep.stop()


@pytest.mark.parametrize(
    ("code", "hint"), [(401, "webhook_token_env"), (404, "HTTP 404"), (301, "endpoint moved")]
)
def test_refusals_are_not_retried(tmp_path, endpoint, code, hint):
    cfg, st = _station(tmp_path, endpoint.url)
    AlarmFeed(st.alarms.feed).append(make_alarms(2))
    endpoint.status = [code]
    waits = []
    (rep,) = deliver_station(st, sleep=waits.append)
    assert rep.status == "failed" and rep.pending == 2 and hint in rep.error and waits == []
    (rep,) = deliver_station(st)  # fixed on the platform's side: the next run sends both
    assert rep.delivered == 2 and len(endpoint.received) == 2


def test_https_needs_the_right_ca(tmp_path, tls_cert, validate):
    ep = Endpoint(cert=tls_cert).start()
    try:
        cfg, st = _station(tmp_path / "a", ep.url)
        AlarmFeed(st.alarms.feed).append(make_alarms(2))
        waits = []
        (rep,) = deliver_station(st, sleep=waits.append)
        assert rep.status == "failed" and "webhook_ca_file" in rep.error and waits == []
        cfg.write_text(
            cfg.read_text().replace(
                "delivery_retries", f'webhook_ca_file = "{tls_cert}"\ndelivery_retries'
            )
        )
        (rep,) = deliver_station(load_station(cfg))
        assert rep.status == "delivered" and rep.delivered == 2
        for m, _ in ep.received:
            validate(m)
    finally:
        ep.stop()


def test_token_file_and_missing_token(tmp_path, endpoint, monkeypatch):
    cfg, st = _station(tmp_path, endpoint.url, 'webhook_token_env = "NOT_SET_ANYWHERE"\n')
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    AlarmFeed(st.alarms.feed).append(make_alarms(1))
    (rep,) = deliver_station(st)
    assert rep.status == "failed" and "NOT_SET_ANYWHERE is not set" in rep.error
    (tmp_path / "st" / "token").write_text("from-file\n")
    cfg.write_text(
        cfg.read_text().replace(
            'webhook_token_env = "NOT_SET_ANYWHERE"', 'webhook_token_file = "token"'
        )
    )
    (rep,) = deliver_station(load_station(cfg))
    assert rep.status == "delivered"
    assert endpoint.received[0][1]["Authorization"] == "Bearer from-file"


def test_both_destinations_and_json(tmp_path, endpoint, capsys):
    cfg, st = _station(tmp_path, endpoint.url, 'mqtt = "mqtt://127.0.0.1:1/x"\n')  # refused
    cfg.write_text(cfg.read_text().replace("delivery_retries = 3", "delivery_retries = 0"))
    AlarmFeed(load_station(cfg).alarms.feed).append(make_alarms(2))
    assert main(["deliver", str(cfg), "--json"]) == 1  # MQTT is down, the webhook is not
    doc = json.loads(capsys.readouterr().out)
    by = {d["kind"]: d for d in doc["destinations"]}
    assert by["webhook"]["status"] == "delivered" and by["mqtt"]["status"] == "failed"
    assert by["mqtt"]["pending"] == 2
    assert main(["deliver", str(cfg), "--only", "webhook"]) == 0


@pytest.mark.parametrize(
    ("alarms", "expect"),
    [
        ('mqtt = "mqtt://user:pw@h:1883/t"', "alarms.mqtt: must not hold a user or password"),
        ('mqtt = "mqtt://h:1883/a/#"', "alarms.mqtt:"),
        ('mqtt = "mqtt://h:1883/{nope}"', "placeholder {nope}"),
        ('mqtt = "mqtt://h:1883/t"\nmqtt_password_env = "P"', "a password needs a user name"),
        (
            'mqtt = "mqtt://h/t"\nmqtt_username = "u"\nmqtt_password_env = "hunter 2"',
            "the NAME of an environment variable",
        ),
        ('webhook = "ftp://h/x"', "alarms.webhook:"),
        ('webhook = "https://u:p@h/x"', "webhook_token_env"),
        ('webhook_token_env = "T"', "has no effect without webhook"),
        ('webhook = "https://h/x"\ndelivery_retries = -1', "alarms.delivery_retries"),
        ('mqtt = "mqtt://h/t"\nmqtt_passwd = "x"', "alarms.mqtt_passwd: unknown key"),
    ],
)
def test_config_problems_name_the_key(tmp_path, alarms, expect):
    cfg = station_toml(tmp_path, alarms)
    with pytest.raises(ConfigError, match=expect.replace("{", r"\{").replace("}", r"\}")):
        load_station(cfg)


def test_deliver_without_destination_is_a_usage_error(tmp_path, capsys):
    cfg = station_toml(tmp_path, "")
    assert main(["deliver", str(cfg)]) == 2
    assert "no mqtt or webhook destination" in capsys.readouterr().err


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MiB tmpfs (root only); skipped where mounting is not permitted."""
    import subprocess

    d = tmp_path / "disk"
    d.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(d)], capture_output=True, text=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


def test_full_disk_keeps_alarms_pending_and_resends(small_disk, endpoint):
    cfg = station_toml(small_disk, f'webhook = "{endpoint.url}"\ndelivery_retries = 0\n')
    st = load_station(cfg)
    alarms = make_alarms(4)
    AlarmFeed(st.alarms.feed).append(alarms)
    (rep,) = deliver_station(st, status_only=True)  # creates the cursor folder and lock
    filler = small_disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    (rep,) = deliver_station(st)
    assert rep.status == "failed" and "cannot write the delivery cursor" in rep.error
    assert rep.pending == 4  # acknowledged by the endpoint, but not recorded: still pending
    assert len(endpoint.received) == 1
    filler.unlink()
    (rep,) = deliver_station(st)
    assert rep.status == "delivered" and rep.delivered == 4
    ids = [m["id"] for m, _ in endpoint.received]
    assert ids[0] == ids[1] == alarms[0].id  # sent twice (at least once), de-duplicated by id
    assert list(dict.fromkeys(ids)) == [a.id for a in alarms]
