"""``bshm deliver CONFIG``: send pending alarms to the operations platform (MQTT, webhook)."""

from __future__ import annotations

import argparse

NAME = "deliver"
GROUP = None
HELP = "deliver pending alarms of the feed to the MQTT broker / webhook of the station"
DESCRIPTION = """\
Send every alarm of the station's alarm feed that a destination has not
acknowledged yet, in feed order, one at a time: MQTT at QoS 1 (the broker's
PUBACK acknowledges), webhook by HTTP POST (a 2xx answer acknowledges).
What each destination acknowledged is recorded beside the feed
(<feed>.delivery/); an alarm not acknowledged (broker or endpoint down) is
retried with back-off and, if still failing, left for the next run.
Delivery is at least once: the platform de-duplicates by the alarm "id".

The destinations are the [alarms] keys mqtt = "mqtt://host:port/topic" and
webhook = "https://..." of CONFIG (see docs/interop.md). 'bshm analyze'
delivers at the end of each run too; run this from cron or a systemd timer
to retry what is pending between analyses.

Exit codes: 0 nothing left to deliver, 1 alarms left (a destination
failed, or --status found pending alarms), 2 usage or config error, 75
another delivery holds every destination.

examples:
  bshm deliver /data/bridge1/station.toml
  bshm deliver station.toml --status --json
  bshm deliver station.toml --wait 600          # keep trying for 10 min
  bshm deliver station.toml --only webhook --mark-delivered
"""

EXIT_BUSY = 75


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``bshm deliver``."""
    parser.add_argument("config", metavar="CONFIG", help="station.toml with [alarms] mqtt/webhook")
    parser.add_argument(
        "--feed",
        metavar="FILE",
        help="deliver this alarm feed (default: the station's [alarms] feed)",
    )
    parser.add_argument("--only", choices=("mqtt", "webhook"), help="one destination only")
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep retrying a failing destination this long (default: only "
        "the configured delivery_retries)",
    )
    act = parser.add_mutually_exclusive_group()
    act.add_argument(
        "--status", action="store_true", help="only count the pending alarms of each destination"
    )
    act.add_argument(
        "--mark-delivered",
        action="store_true",
        help="record every alarm now in the feed as delivered without sending "
        "(a new destination that should only get new alarms)",
    )
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")


def run(args: argparse.Namespace) -> int:
    """Deliver and report per destination."""
    import json

    from bshm.config import load_station
    from bshm.delivery import deliver
    from bshm.errors import ConfigError

    if args.wait < 0:
        raise ConfigError("--wait must be >= 0 seconds")
    st = load_station(args.config)
    settings = st.alarms.delivery
    if settings is None:
        raise ConfigError(
            f"{args.config}: [alarms] has no mqtt or webhook destination (see docs/interop.md)"
        )
    if (
        args.only == "mqtt"
        and settings.mqtt is None
        or (args.only == "webhook" and settings.webhook is None)
    ):
        raise ConfigError(f"--only {args.only}: no {args.only} destination in {args.config}")
    feed = args.feed or st.alarms.feed
    reports = deliver(
        feed,
        settings,
        station=st.name,
        only=args.only,
        wait_s=args.wait,
        status_only=args.status,
        mark_delivered=args.mark_delivered,
    )
    if args.json:
        print(
            json.dumps(
                {"feed": str(feed), "destinations": [r.to_json() for r in reports]}, indent=1
            )
        )
    else:
        for r in reports:
            line = f"{r.kind} {r.destination}: {r.status}"
            if r.status in ("delivered", "failed"):
                line += f", {r.delivered} delivered, {r.pending} pending"
            elif r.status == "pending":
                line += f" {r.pending}"
            if r.error:
                line += f" ({r.error})"
            print(line)
            for p in r.problems:
                print(f"  skipped: {p}")
    if reports and all(r.status == "busy" for r in reports):
        return EXIT_BUSY
    return 0 if all(r.ok for r in reports) else 1
