"""Alarm delivery to the operations platform: MQTT and webhooks, at least once, in order.

The alarm feed is the outbox (:mod:`bshm.delivery.outbox`). For each
configured destination a run:

1. takes that destination's lock (a second run at the same time skips it:
   ``busy``);
2. reads the complete lines of the feed and the destination's cursor; the
   pending alarms are those the cursor does not hold, in feed order;
3. sends them one at a time and records each in the cursor only after the
   destination acknowledged it (MQTT PUBACK at QoS 1, HTTP 2xx);
4. on a failure, retries the same alarm with exponential back-off
   (``delivery_retries``, ``delivery_backoff``; or until ``wait_s``), then
   stops: later alarms are never sent before an earlier one, and what is
   left is sent by the next run (``bshm deliver`` from cron or systemd, or
   the next ``bshm analyze``).

Nothing here raises to the caller for a delivery problem: each destination
gets a :class:`DeliveryReport` (status, counts, the error line).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bshm.delivery.errors import DeliveryFailure

log = logging.getLogger(__name__)

__all__ = [
    "DeliveryFailure",
    "DeliveryReport",
    "deliver",
    "deliver_after_analyze",
    "deliver_station",
]


@dataclass
class DeliveryReport:
    """What one run did for one destination.

    ``status``: ``delivered`` (nothing left), ``up to date`` (nothing was
    pending), ``failed`` (alarms left; ``error`` says why), ``busy`` (another
    run holds the destination), ``pending`` (``status_only`` runs), or
    ``marked`` (``mark_delivered`` runs).
    """

    destination: str
    kind: str
    status: str
    delivered: int = 0
    pending: int = 0
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    cursor: str = ""

    @property
    def ok(self) -> bool:
        """True when nothing is left to deliver (or another run is on it)."""
        return self.status in ("delivered", "up to date", "busy", "marked") or (
            self.status == "pending" and self.pending == 0
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (``bshm deliver --json``, ``bshm analyze --json``)."""
        return {
            "destination": self.destination,
            "kind": self.kind,
            "status": self.status,
            "delivered": self.delivered,
            "pending": self.pending,
            "error": self.error,
            "problems": list(self.problems),
            "cursor": self.cursor,
        }


def _senders(settings: Any, only: str | None, station: str) -> list[Any]:
    out: list[Any] = []
    if settings.mqtt is not None and only in (None, "mqtt"):
        from bshm.delivery.mqtt import MqttSender

        out.append(MqttSender(settings.mqtt, timeout_s=settings.timeout_s, station=station))
    if settings.webhook is not None and only in (None, "webhook"):
        from bshm.delivery.webhook import WebhookSender

        out.append(WebhookSender(settings.webhook, timeout_s=settings.timeout_s, station=station))
    return out


def cursor_name(kind: str, url: str) -> str:
    """File stem of a destination's cursor: a new URL is a new destination."""
    digest = hashlib.sha1(f"{kind} {url}".encode(), usedforsecurity=False).hexdigest()
    return f"{kind}-{digest[:10]}"


def deliver(
    feed: str | Path,
    settings: Any,
    *,
    station: str = "",
    only: str | None = None,
    wait_s: float = 0.0,
    status_only: bool = False,
    mark_delivered: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeliveryReport]:
    """Deliver the pending alarms of ``feed`` to every destination of ``settings``.

    Parameters
    ----------
    feed : path
        The alarm feed (JSON lines).
    settings : bshm._config_delivery.DeliverySettings
    only : {"mqtt", "webhook"}, optional
        One destination only.
    wait_s : float
        Keep retrying a failing destination for up to this long (s) beyond
        the configured retries (``bshm deliver --wait``).
    status_only : bool
        Count the pending alarms, send nothing.
    mark_delivered : bool
        Record every alarm now in the feed as delivered, send nothing (a
        new destination that should only get alarms from now on).
    sleep : callable
        Waits between attempts (tests pass a recorder).

    Returns
    -------
    list of DeliveryReport
    """
    from bshm.delivery.outbox import Cursor, cursor_dir, exclusive, read_feed

    feed = Path(feed)
    reports = []
    for sender in _senders(settings, only, station):
        stem = cursor_name(sender.kind, sender.name)
        cdir = cursor_dir(feed)
        cursor = Cursor(cdir / f"{stem}.jsonl")
        rep = DeliveryReport(sender.name, sender.kind, "up to date", cursor=str(cursor.path))
        with exclusive(cdir / f"{stem}.lock") as mine:
            if not mine:
                rep.status = "busy"
                reports.append(rep)
                continue
            entries, rep.problems = read_feed(feed)
            for p in rep.problems:
                log.error("%s", p)
            acked = cursor.acked()
            pending = [e for e in entries if e.id not in acked]
            rep.pending = len(pending)
            if status_only:
                rep.status = "pending"
            elif mark_delivered:
                cursor.ack(pending)
                rep.status, rep.delivered, rep.pending = "marked", 0, 0
            elif pending:
                _send_all(sender, pending, cursor, settings, rep, wait_s, sleep)
        reports.append(rep)
    return reports


def _send_all(
    sender: Any,
    pending: list,
    cursor: Any,
    settings: Any,
    rep: DeliveryReport,
    wait_s: float,
    sleep: Callable[[float], None],
) -> None:
    from bshm.delivery.message import build_message, encode

    deadline = time.monotonic() + max(0.0, wait_s)
    try:
        for e in pending:
            msg = build_message(e.obj, e.id)
            payload = encode(msg)
            attempt = 0
            while True:
                try:
                    sender.send(msg, payload)
                    break
                except DeliveryFailure as f:
                    sender.close()
                    attempt += 1
                    left = deadline - time.monotonic()
                    if not f.retry or (attempt > settings.retries and left <= 0):
                        raise
                    delay = min(settings.backoff_s * 2 ** (attempt - 1), settings.backoff_max_s)
                    if attempt > settings.retries:
                        delay = min(delay, max(left, 0.0))
                    log.warning(
                        "%s: %s (attempt %d; again in %.3g s)", sender.name, f, attempt, delay
                    )
                    sleep(delay)
            cursor.ack([e])
            rep.delivered += 1
            rep.pending -= 1
        rep.status = "delivered"
    except DeliveryFailure as f:
        rep.status, rep.error = "failed", str(f)
        log.error(
            "alarm delivery to %s failed: %s; %d alarm(s) left for the next run",
            sender.name,
            f,
            rep.pending,
        )
    except OSError as exc:
        rep.status = "failed"
        rep.error = f"cannot write the delivery cursor {cursor.path} ({exc.strerror or exc})"
        log.error("%s", rep.error)
    finally:
        sender.close()
    if rep.delivered:
        log.info("%s: %d alarm(s) delivered", sender.name, rep.delivered)


def deliver_station(station: Any, **kwargs: Any) -> list[DeliveryReport]:
    """Deliver the feed of a loaded station (:func:`bshm.load_station`) to its destinations."""
    settings = station.alarms.delivery
    if settings is None:
        return []
    return deliver(station.alarms.feed, settings, station=station.name, **kwargs)


def deliver_after_analyze(data_dir: str | Path, config: str | Path | None) -> list[dict] | None:
    """The hook at the end of ``bshm analyze``: deliver, never raise.

    Returns
    -------
    list of dict or None
        One report per destination (:meth:`DeliveryReport.to_json`); None
        when the station has no config or no destination.
    """
    try:
        from bshm.config import load_station

        cfg = Path(config) if config else Path(data_dir) / "station.toml"
        if not cfg.exists():
            return None
        st = load_station(cfg)
        if st.alarms.delivery is None:
            return None
        return [r.to_json() for r in deliver_station(st)]
    except Exception as exc:  # noqa: BLE001 - delivery must never fail the analysis
        log.error("alarm delivery: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
        return [
            {
                "destination": None,
                "kind": None,
                "status": "failed",
                "delivered": 0,
                "pending": None,
                "error": str(exc),
                "problems": [],
                "cursor": None,
            }
        ]
