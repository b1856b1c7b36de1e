"""Publishing alarms to an MQTT broker (paho-mqtt, ``bshm[delivery]``).

One message at a time at QoS 1: the next alarm is published only after
the broker's PUBACK for the previous one, so alarms arrive in feed order
even across outages. A platform that subscribes at QoS 1 with a persistent
session (``clean_session=False`` and a fixed client id) gets the alarms
published while it was away when it reconnects.
"""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Any

from bshm._config_delivery import MqttSettings
from bshm.delivery.errors import DeliveryFailure
from bshm.delivery.message import topic_for
from bshm.delivery.secrets import read_secret

log = logging.getLogger(__name__)


class MqttSender:
    """Connection to one broker; :meth:`send` returns once the broker acknowledged."""

    kind = "mqtt"

    def __init__(self, settings: MqttSettings, *, timeout_s: float, station: str = "") -> None:
        self.s = settings
        self.timeout_s = timeout_s
        self.station = station
        self._client: Any = None

    @property
    def name(self) -> str:
        """The destination as written in the config (no secret in it)."""
        return self.s.url

    def open(self) -> None:
        """Connect (TLS and user/password as configured).

        Raises
        ------
        DeliveryFailure
            Broker unreachable, TLS failure, refused credentials, no CONNACK in time.
        """
        from bshm.io._common import need

        mqtt = need("paho.mqtt.client", "MQTT alarm delivery")
        s = self.s
        cid = s.client_id or ""
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=cid,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.enable_logger(logging.getLogger("bshm.delivery.paho"))
        if s.username:
            pw = read_secret(s.password_env, s.password_file, "MQTT password")
            client.username_pw_set(s.username, pw)
        if s.tls:
            try:
                client.tls_set(
                    ca_certs=str(s.ca_file) if s.ca_file else None,
                    certfile=str(s.cert_file) if s.cert_file else None,
                    keyfile=str(s.key_file) if s.key_file else None,
                    cert_reqs=ssl.CERT_REQUIRED,
                )
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise DeliveryFailure(f"TLS set-up failed ({exc})", retry=False) from None
        done = threading.Event()
        result: dict[str, Any] = {}

        def on_connect(_c, _u, _flags, reason_code, _props) -> None:  # noqa: ANN001
            result["rc"] = reason_code
            done.set()

        def on_disconnect(_c, _u, _flags, reason_code, _props) -> None:  # noqa: ANN001
            result.setdefault("rc", reason_code)
            done.set()

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        try:
            client.connect(s.host, s.port, keepalive=max(5, int(self.timeout_s * 3)))
        except (OSError, ssl.SSLError) as exc:
            bad_cert = isinstance(exc, ssl.SSLCertVerificationError)
            raise DeliveryFailure(
                f"cannot connect to {s.host}:{s.port} ({exc})"
                + ("; check mqtt_ca_file" if bad_cert else ""),
                retry=not bad_cert,
            ) from None
        client.loop_start()
        self._client = client
        if not done.wait(self.timeout_s):
            self.close()
            raise DeliveryFailure(f"no answer from {s.host}:{s.port} in {self.timeout_s:g} s")
        rc = result.get("rc")
        if rc is None or getattr(rc, "is_failure", True):
            self.close()
            auth = "not authori" in str(rc).lower() or "bad user" in str(rc).lower()
            raise DeliveryFailure(
                f"the broker refused the connection ({rc})"
                + ("; check mqtt_username and the password" if auth else ""),
                retry=not auth,
            )

    def send(self, msg: dict[str, Any], payload: bytes) -> None:
        """Publish one alarm at QoS 1 and wait for the PUBACK.

        Raises
        ------
        DeliveryFailure
            Not connected, or no PUBACK within the timeout.
        """
        if self._client is None:
            self.open()
        topic = topic_for(self.s.topic, msg, station=self.station)
        try:
            info = self._client.publish(topic, payload, qos=1, retain=False)
            info.wait_for_publish(self.timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise DeliveryFailure(f"publish failed ({exc})") from None
        if not info.is_published():
            raise DeliveryFailure(f"no PUBACK from the broker in {self.timeout_s:g} s")

    def close(self) -> None:
        """Disconnect and stop the network thread (nothing is sent after this)."""
        c, self._client = self._client, None
        if c is None:
            return
        try:
            if c.is_connected():
                c.disconnect()
        except Exception:  # noqa: BLE001 - closing a broken connection
            log.debug("disconnect failed", exc_info=True)
        c.loop_stop()
