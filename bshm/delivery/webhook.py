"""POSTing alarms to a web endpoint (stdlib ``urllib``; HTTPS with the system's or a given CA).

Each alarm is one POST of the message JSON with ``Content-Type:
application/json`` and the alarm id in ``Idempotency-Key`` (and
``X-Bshm-Alarm-Id``), so the platform can de-duplicate. Any 2xx answer
acknowledges it; 408, 429, 5xx and network errors are retried with
back-off; any other answer (401, 403, 404, 400 ...) stops this run's
attempts, since repeating the same request cannot help.
"""

from __future__ import annotations

import logging
import ssl
import urllib.error
import urllib.request
from typing import Any

from bshm._config_delivery import WebhookSettings
from bshm._version import __version__
from bshm.delivery.errors import DeliveryFailure
from bshm.delivery.secrets import read_secret

log = logging.getLogger(__name__)

RETRYABLE = {408, 425, 429}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: urllib would repeat a POST as a GET without the alarm."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
        return None


class WebhookSender:
    """One endpoint; :meth:`send` returns once it answered 2xx."""

    kind = "webhook"

    def __init__(self, settings: WebhookSettings, *, timeout_s: float, station: str = "") -> None:
        self.s = settings
        self.timeout_s = timeout_s
        self.station = station
        self._headers: dict[str, str] | None = None
        self._opener: urllib.request.OpenerDirector | None = None

    @property
    def name(self) -> str:
        """The destination as written in the config (no secret in it)."""
        return self.s.url

    def open(self) -> None:
        """Read the token and the CA file.

        Raises
        ------
        DeliveryFailure
            The token or CA file cannot be read (not retried).
        """
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"bshm/{__version__}",
        }
        token = read_secret(self.s.token_env, self.s.token_file, "webhook token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        handlers: list[Any] = [_NoRedirect()]
        if self.s.url.lower().startswith("https"):
            try:
                ctx = ssl.create_default_context(
                    cafile=str(self.s.ca_file) if self.s.ca_file else None
                )
            except (OSError, ssl.SSLError) as exc:
                raise DeliveryFailure(f"webhook_ca_file: {exc}", retry=False) from None
            handlers.append(urllib.request.HTTPSHandler(context=ctx))
        self._opener = urllib.request.build_opener(*handlers)
        self._headers = headers

    def send(self, msg: dict[str, Any], payload: bytes) -> None:
        """POST one alarm.

        Raises
        ------
        DeliveryFailure
            No 2xx answer (``retry`` False for answers that repeating cannot change).
        """
        if self._headers is None or self._opener is None:
            self.open()
        headers = dict(self._headers or {})
        headers["Idempotency-Key"] = str(msg["id"])
        headers["X-Bshm-Alarm-Id"] = str(msg["id"])
        # the URL's scheme is checked (http/https only) when the config is read
        req = urllib.request.Request(  # noqa: S310
            self.s.url, data=payload, method="POST", headers=headers
        )
        if self._opener is None:
            raise DeliveryFailure("webhook not opened", retry=False)
        try:
            with self._opener.open(req, timeout=self.timeout_s) as resp:
                status = int(resp.status)
                resp.read()
        except urllib.error.HTTPError as exc:
            code = int(exc.code)
            exc.close()
            retry = code in RETRYABLE or code >= 500
            hint = (
                "; check webhook_token_env / webhook_token_file"
                if code in (401, 403)
                else ("; the endpoint moved: update webhook" if 300 <= code < 400 else "")
            )
            raise DeliveryFailure(f"HTTP {code} {exc.reason}{hint}", retry=retry) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            bad_cert = isinstance(reason, ssl.SSLCertVerificationError)
            raise DeliveryFailure(
                f"cannot reach {self.s.url} ({reason})"
                + ("; check webhook_ca_file" if bad_cert else ""),
                retry=not bad_cert,
            ) from None
        if not 200 <= status < 300:
            raise DeliveryFailure(f"HTTP {status}", retry=status >= 500)

    def close(self) -> None:
        """Nothing to close (one connection per request)."""
        self._headers = None
        self._opener = None
