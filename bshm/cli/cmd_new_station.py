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
    _write(folder, target, text)
    station = load_station(target)  # what we write must load
    kinds = ", ".join(f"{s.name} ({s.kind}, {len(s.channels)} ch)" for s in station.sources)
    print(f"wrote {target}: station {station.name!r}, sources: {kinds}")
    if args.simulated:
        print(f"next: bshm simulate devices {target}   (in another terminal)")
        print(f"      bshm acquire {target} --duration 60")
    else:
        print(f"next: edit {target}, then: bshm acquire {target}")
    return 0


def _write(folder: Path, target: Path, text: str) -> None:
    """Write ``target`` through a temporary file and a rename: a full or
    read-only disk gives one clear error and leaves no partial file."""
    import errno
    import os
    import tempfile

    from bshm.errors import DiskFullError

    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".station.toml.", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # (mkstemp makes it private)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        reason = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
                  errno.EDQUOT: "the disk quota is exceeded"}.get(exc.errno or 0)
        if reason:
            raise DiskFullError(f"cannot write {target}: {reason}", path=str(target),
                                errno=exc.errno) from None
        raise
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
