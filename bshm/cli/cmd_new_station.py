"""``bshm new-station DIR [--simulated]``: write a commented station.toml."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "new-station"
GROUP = None
HELP = "write a commented station.toml to start from"
DESCRIPTION = """\
Write DIR/station.toml, a commented station config to edit.

With --simulated it describes the simulated bridge and its virtual devices,
ready to run:

    bshm simulate devices DIR/station.toml     # serves the virtual devices
    bshm acquire DIR/station.toml              # records into DIR/data
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("dir", metavar="DIR", help="folder for station.toml (created)")
    parser.add_argument(
        "--simulated",
        action="store_true",
        help="describe the simulated bridge and its virtual devices",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing station.toml")


def run(args: argparse.Namespace) -> int:
    """Write the config; refuse to overwrite without --force."""
    from bshm.config import load_station
    from bshm.errors import BshmError

    folder = Path(args.dir)
    target = folder / "station.toml"
    if target.exists() and not args.force:
        raise BshmError(f"{target} exists; use --force to overwrite it")
    if args.simulated:
        from bshm.fixtures.stations import simulated_station_toml

        text = simulated_station_toml("data")
    else:
        from bshm.fixtures.stations import station_template_toml

        text = station_template_toml()
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    station = load_station(target)  # what we write must load
    kinds = ", ".join(f"{s.name} ({s.kind}, {len(s.channels)} ch)" for s in station.sources)
    print(f"wrote {target}: station {station.name!r}, sources: {kinds}")
    if args.simulated:
        print(f"next: bshm simulate devices {target}   (in another terminal)")
        print(f"      bshm acquire {target} --duration 60")
    else:
        print(f"next: edit {target}, then: bshm acquire {target}")
    return 0
