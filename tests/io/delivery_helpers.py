"""Real parts for the delivery tests (imported as ``delivery_helpers``): a Mosquitto broker, an HTTP(S) endpoint, a subscriber,
a station config, alarm feeds and the JSON Schema of the message."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "docs" / "alarm-message.schema.json"
MOSQUITTO = shutil.which("mosquitto") or next(
    (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None
)
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or (
    "/usr/bin/mosquitto_passwd" if Path("/usr/bin/mosquitto_passwd").exists() else None
)

SOURCE = """
[[sources]]
name = "acc"
kind = "serial"
port = "dev/acc"
fs = 50.0
[[sources.channels]]
name = "A1"
quantity = "acceleration"
unit = "m/s2"
"""


#: every Subscriber and Endpoint of the running test (their messages are schema-checked)
_RECEIVERS: list = []


def _schema_errors(msg: dict) -> list[str]:
    import jsonschema

    v = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    return [e.message for e in v.iter_errors(msg)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout=30.0, what="condition"):
    """Poll ``cond`` with a deadline (no bare sleep as synchronisation)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Broker:
    """A real Mosquitto on 127.0.0.1 (persistence on, so a restart keeps sessions)."""

    def __init__(self, folder: Path, port: int | None = None, extra: str = "") -> None:
        if MOSQUITTO is None:
            pytest.skip("mosquitto is not installed (scripts/setup installs it)")
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            # as root, mosquitto would switch to its own user and could not read
            # the pytest folders; "user root" keeps it (no effect when not root)
            "user root\n"
            f"listener {self.port} 127.0.0.1\n"
            f"persistence true\npersistence_location {folder}/\n"
            f"log_dest file {folder}/mosquitto.log\n" + (extra or "allow_anonymous true\n")
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> Broker:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"mosquitto exited: {self.proc.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_until(up, what="mosquitto to listen")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()


class Subscriber:
    """The city platform: QoS 1, persistent session, re-subscribes on every connect."""

    def __init__(
        self,
        port: int,
        topic: str,
        client_id: str = "city-platform",
        *,
        tls_ca: str | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[dict] = []
        self.topics: list[str] = []
        self.subscribed = threading.Event()
        self.lock = threading.Lock()
        self.on_message_hook = None
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        c.reconnect_delay_set(min_delay=1, max_delay=2)
        if tls_ca:
            c.tls_set(ca_certs=tls_ca)
        if auth:
            c.username_pw_set(*auth)
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(topic, qos=1)
        c.on_subscribe = lambda *a: self.subscribed.set()
        c.on_disconnect = lambda *a: self.subscribed.clear()
        c.on_message = self._on_message
        self.client, self.port = c, port
        _RECEIVERS.append(self)

    def all_messages(self) -> list[dict]:
        with self.lock:
            return list(self.messages)

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.messages.append(json.loads(msg.payload.decode("utf-8")))
            self.topics.append(msg.topic)
            n = len(self.messages)
        if self.on_message_hook:
            self.on_message_hook(n)

    def connect(self) -> Subscriber:
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        assert self.subscribed.wait(30), "no SUBACK"
        return self

    def disconnect(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def ids(self) -> list[str]:
        with self.lock:
            return [m["id"] for m in self.messages]


class Endpoint:
    """The city platform's web endpoint (HTTP or HTTPS) on 127.0.0.1."""

    def __init__(self, port: int | None = None, *, cert: Path | None = None) -> None:
        self.received: list[tuple[dict, dict]] = []
        self.status: list[int] = []  # answers to give first (then 200)
        self.port = port or free_port()
        self.cert = cert
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        _RECEIVERS.append(self)

    def all_messages(self) -> list[dict]:
        return [m for m, _ in self.received]

    def start(self) -> Endpoint:
        ep = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code = ep.status.pop(0) if ep.status else 200
                if code == 200:
                    ep.received.append((json.loads(body), dict(self.headers)))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.cert is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert, self.cert.with_name("key.pem"))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(10)
            self.server = None

    @property
    def url(self) -> str:
        return f"{'https' if self.cert else 'http'}://127.0.0.1:{self.port}/bridge-alarms"


def station_toml(folder: Path, alarms: str) -> Path:
    """A station config whose [alarms] section holds ``alarms``; feed = alarms.jsonl."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "station.toml"
    p.write_text(
        f'[station]\nname = "br7"\ndata_dir = "."\n\n[alarms]\nfeed = "alarms.jsonl"\n'
        f"{alarms}\n{SOURCE}"
    )
    return p


def make_alarms(n: int, t0: int = 1_772_366_400_000_000_000):
    """n alarms of every kind (structural, sensor, threshold, monitoring), in time order."""
    from bshm.alarms import Alarm

    kinds = ["structural", "sensor", "threshold", "monitoring"]
    out = []
    for i in range(n):
        k = kinds[i % 4]
        out.append(
            Alarm(
                time_ns=t0 + i * 600 * 10**9,
                level=1 + i % 3,
                index=f"idx{i}",
                value=float(i) if i % 5 else float("nan"),
                threshold=2.0,
                mode="M1" if k == "structural" else None,
                message=f"alarm {i} ({k})",
                channel="A1" if k == "sensor" else None,
                station="br7",
                kind=k,
                subject={
                    "structural": "structural",
                    "sensor": "sensor:A1",
                    "threshold": "threshold:A1:peak",
                    "monitoring": "monitoring:data",
                }[k],
                event="raised",
            )
        )
    return out
