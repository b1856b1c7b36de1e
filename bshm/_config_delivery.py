"""The alarm-delivery keys of a station's ``[alarms]`` section.

::

    [alarms]
    mqtt = "mqtts://broker.city.example:8883/bridges/{station}/alarms"
    mqtt_username = "bridge7"
    mqtt_password_env = "BSHM_MQTT_PASSWORD"      # or mqtt_password_file = "secrets/mqtt"
    mqtt_ca_file = "certs/city-ca.pem"             # optional (default: the system's CAs)
    webhook = "https://ops.city.example/api/bridge-alarms"
    webhook_token_env = "BSHM_WEBHOOK_TOKEN"       # sent as "Authorization: Bearer ..."
    delivery_retries = 3                           # extra attempts per alarm and run
    delivery_backoff = "2s"                        # first wait; doubles, at most 1 min
    delivery_timeout = "10s"                       # connect / acknowledgement timeout

Passwords and tokens never live in the config: a URL with a password is
refused. Only the syntax is checked here; secrets and CA files are read
when delivering, so a missing secret makes the delivery fail (and be
retried) but never the analysis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bshm._validate import Table, Validator

#: Placeholders a topic may use (filled from the alarm message).
TOPIC_FIELDS = ("station", "kind", "level_name")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class MqttSettings:
    """Where and how to publish alarms over MQTT (QoS 1)."""

    url: str
    host: str
    port: int
    topic: str
    tls: bool = False
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class WebhookSettings:
    """Where to POST alarms (HTTP or HTTPS)."""

    url: str
    token_env: str | None = None
    token_file: Path | None = None
    ca_file: Path | None = None


@dataclass(frozen=True)
class DeliverySettings:
    """Destinations of the alarm feed and how hard to try."""

    mqtt: MqttSettings | None = None
    webhook: WebhookSettings | None = None
    retries: int = 3
    backoff_s: float = 2.0
    backoff_max_s: float = 60.0
    timeout_s: float = 10.0

    def destinations(self) -> list[MqttSettings | WebhookSettings]:
        """The configured destinations (MQTT first)."""
        return [d for d in (self.mqtt, self.webhook) if d is not None]


def _path(v: Validator, t: Table, name: str, base: Path) -> Path | None:
    s = v.string(t, name)
    return (base / s).resolve() if s else None


def _env_name(v: Validator, t: Table, name: str) -> str | None:
    return v.string(
        t,
        name,
        pattern=r"[A-Za-z_][A-Za-z0-9_]*",
        hint="the NAME of an environment variable, not its value",
    )


def _read_mqtt(v: Validator, t: Table, base: Path) -> MqttSettings | None:
    url = v.string(t, "mqtt")
    username = v.string(t, "mqtt_username")
    pw_env = _env_name(v, t, "mqtt_password_env")
    pw_file = _path(v, t, "mqtt_password_file", base)
    ca = _path(v, t, "mqtt_ca_file", base)
    cert = _path(v, t, "mqtt_cert_file", base)
    key = _path(v, t, "mqtt_key_file", base)
    tls_key = v.boolean(t, "mqtt_tls", default=False)
    client_id = v.string(
        t,
        "mqtt_client_id",
        pattern=r"[A-Za-z0-9_.\-]{1,23}",
        hint="1-23 letters, digits, '_', '.', '-'",
    )
    if url is None:
        for k, val in (
            ("mqtt_username", username),
            ("mqtt_password_env", pw_env),
            ("mqtt_password_file", pw_file),
            ("mqtt_ca_file", ca),
        ):
            if val is not None:
                v.problem(
                    t.key(k), "has no effect without mqtt", 'add mqtt = "mqtt://host:port/topic"'
                )
        return None
    key_path = t.key("mqtt")
    u = urlsplit(url)
    if u.scheme not in ("mqtt", "mqtts"):
        v.problem(
            key_path,
            f"{url!r}: the scheme must be mqtt:// or mqtts:// (TLS)",
            "e.g. mqtt://broker:1883/bridges/alarms",
        )
        return None
    if u.password is not None or u.username is not None:
        v.problem(
            key_path,
            "must not hold a user or password",
            "use mqtt_username and mqtt_password_env or mqtt_password_file",
        )
        return None
    try:
        port = u.port
    except ValueError:
        v.problem(key_path, f"{url!r}: the port is not a number 1-65535")
        return None
    topic = u.path.lstrip("/")
    if "#" in url or "?" in url:
        v.problem(
            key_path,
            f"{url!r}: '#' and '?' do not belong in a publishing topic",
            "wildcards are for subscribers",
        )
        return None
    if not u.hostname or not topic:
        v.problem(
            key_path, f"{url!r}: needs a host and a topic", "e.g. mqtt://broker:1883/bridges/alarms"
        )
        return None
    if "+" in topic or "#" in topic:
        v.problem(
            key_path, f"topic {topic!r}: wildcards (+, #) are for subscribers, not publishers"
        )
        return None
    bad = [f for f in _PLACEHOLDER.findall(topic) if f not in TOPIC_FIELDS]
    if bad:
        v.problem(
            key_path,
            f"topic placeholder {{{bad[0]}}} is unknown",
            "use " + ", ".join("{" + f + "}" for f in TOPIC_FIELDS),
        )
        return None
    if pw_env and pw_file:
        v.problem(
            t.key("mqtt_password_file"), "give either mqtt_password_env or mqtt_password_file"
        )
    if (pw_env or pw_file) and not username:
        v.problem(t.key("mqtt_username"), "missing", "a password needs a user name")
    if (cert is None) != (key is None):
        v.problem(t.key("mqtt_cert_file"), "mqtt_cert_file and mqtt_key_file go together")
    tls = u.scheme == "mqtts" or bool(tls_key)
    return MqttSettings(
        url=url,
        host=u.hostname,
        port=port or (8883 if tls else 1883),
        topic=topic,
        tls=tls,
        username=username,
        password_env=pw_env,
        password_file=pw_file,
        ca_file=ca,
        cert_file=cert,
        key_file=key,
        client_id=client_id,
    )


def _read_webhook(v: Validator, t: Table, base: Path) -> WebhookSettings | None:
    url = v.string(t, "webhook")
    tok_env = _env_name(v, t, "webhook_token_env")
    tok_file = _path(v, t, "webhook_token_file", base)
    ca = _path(v, t, "webhook_ca_file", base)
    if url is None:
        if tok_env or tok_file or ca:
            v.problem(
                t.key("webhook_token_env"),
                "has no effect without webhook",
                'add webhook = "https://..."',
            )
        return None
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        v.problem(t.key("webhook"), f"{url!r}: must be an http:// or https:// URL")
        return None
    if u.password is not None or u.username is not None:
        v.problem(
            t.key("webhook"),
            "must not hold a user or password",
            "use webhook_token_env or webhook_token_file",
        )
        return None
    if tok_env and tok_file:
        v.problem(
            t.key("webhook_token_file"), "give either webhook_token_env or webhook_token_file"
        )
    return WebhookSettings(url=url, token_env=tok_env, token_file=tok_file, ca_file=ca)


def read_delivery(v: Validator, t: Table, base: Path) -> DeliverySettings | None:
    """Read the delivery keys of ``[alarms]`` (None when no destination is set)."""
    mqtt = _read_mqtt(v, t, base)
    hook = _read_webhook(v, t, base)
    retries = v.integer(t, "delivery_retries", default=3, minimum=0, maximum=100)
    backoff = v.duration(t, "delivery_backoff", default=2.0, minimum=0.0)
    timeout = v.duration(t, "delivery_timeout", default=10.0, minimum=0.1)
    if mqtt is None and hook is None:
        return None
    return DeliverySettings(
        mqtt=mqtt,
        webhook=hook,
        retries=retries if retries is not None else 3,
        backoff_s=backoff,
        timeout_s=timeout,
    )
