"""``bshm campaign CONFIG``: global mode shapes of a roving-sensor campaign."""

from __future__ import annotations

import argparse
from typing import Any

NAME = "campaign"
GROUP = None
HELP = "global mode shapes of a roving-sensor (multi-setup) campaign described in CONFIG"
DESCRIPTION = """Identify every setup of the [campaign] of a station config and glue the
setups' mode shapes into global shapes through the reference points (PoSER).

CONFIG is the station.toml holding a [campaign] section: the reference points
(measured in every setup) and one [[campaign.setups]] table per setup naming
which recorded channel measured which point, the data folder and the time
range of the setup (see docs/modal-analysis.md, "Roving-sensor campaigns").
From each setup the longest gap-free stretch of the source in its time range
is used.

Prints the modes (frequency, its spread over the setups, damping, MPC) and
the global shapes (one row per point, sorted by location, real part of the
shape with its largest component 1; "-" where no setup saw the point in that
mode), and writes the full result as JSON to --out (default:
DATA_DIR/campaign.json of the station): {"frequencies_hz", "damping",
"freq_std_hz", "mpc", "channels": [points], "locations": [[x, y, z]],
"shapes": [[[re, im] or null per mode] per point], "references", "setups":
[{"name", "data_dir", "channels", "frequencies_hz"}], "notes"}. --json
prints that JSON instead of the tables. Exit codes: 0 ok, 1 a setup cannot
be read or identified, 2 config error."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``bshm campaign``."""
    parser.add_argument("config", metavar="CONFIG", help="station.toml with a [campaign] section")
    parser.add_argument("--out", metavar="FILE.json", help="where to write the JSON result")
    parser.add_argument("--json", action="store_true", help="print the JSON result on stdout")
    parser.add_argument(
        "--min-setups",
        type=int,
        metavar="N",
        help="keep modes found in at least N setups (default: all; fewer gives partial "
        "shapes with missing points)",
    )


def _read_setup(setup: Any, source: str, channels: list[str]) -> tuple[Any, float, str]:
    """The longest gap-free stretch of ``channels`` in the setup's range."""
    from bshm.errors import AnalysisError
    from bshm.store import open_raw

    lo = setup.start_ns if setup.start_ns is not None else -(2**62)
    hi = setup.end_ns if setup.end_ns is not None else 2**62
    with open_raw(setup.data_dir) as reader:
        if source not in reader.sources:
            raise AnalysisError(
                f"{setup.name}: no source {source!r} in {setup.data_dir} "
                f"(sources: {', '.join(reader.sources) or 'none'})"
            )
        runs = [(max(a, lo), min(b, hi)) for a, b in reader.records(source)]
        runs = [(a, b) for a, b in runs if b > a]
        if not runs:
            raise AnalysisError(
                f"{setup.name}: no samples of {source!r} in {setup.data_dir} "
                "in the setup's time range"
            )
        a, b = max(runs, key=lambda r: r[1] - r[0])
        rec = reader.read(source, a, b, channels=channels)
    note = f"{setup.name}: {rec.data.shape[0] / rec.fs:.0f} s used"
    if len(runs) > 1:
        note += f" (the longest of {len(runs)} gap-free stretches)"
    return rec.data, rec.fs, note


def run(args: argparse.Namespace) -> int:
    """Identify the setups, merge them, print and write the result."""
    import json
    from pathlib import Path

    from bshm._config_campaign import load_campaign
    from bshm.analysis import identify_multi_setup
    from bshm.errors import AnalysisError, ConfigError

    station, camp = load_campaign(args.config)
    source = camp.source or station.analysis.source
    if source is None:
        raise ConfigError("[campaign] source: name the source of the setups' channels")
    lo, hi = camp.freq_range
    a = station.analysis
    options = {
        "freq_min_hz": lo if lo is not None else a.freq_min_hz,
        "freq_max_hz": hi if hi is not None else a.freq_max_hz,
        "decimate_to_hz": camp.decimate_to_hz or a.decimate_to_hz,
    }
    setups, rates, notes = [], [], []
    quantities: dict[str, str] = {}
    locations: dict[str, tuple[float, float, float]] = dict(camp.locations)
    for s in camp.setups:
        data, fs, note = _read_setup(s, source, [c for c, _ in s.channels])
        setups.append((data, list(s.points)))
        rates.append(fs)
        notes.append(note)
        for ch, pt in s.channels:
            try:
                _, c = station.channel(ch)
            except KeyError:
                continue
            quantities.setdefault(pt, c.quantity)
            if pt == ch:
                locations.setdefault(pt, c.location)
    try:
        res = identify_multi_setup(
            setups,
            rates,
            list(camp.references),
            quantities=quantities,
            locations=locations,
            min_setups=args.min_setups,
            **options,
        )
    except ValueError as exc:
        raise AnalysisError(f"campaign: {exc}") from None
    out = res.to_dict()
    out["notes"] = notes + out["notes"]
    out["references"] = list(camp.references)
    out["setups"] = [
        {"name": s.name, "data_dir": str(s.data_dir), **info}
        for s, info in zip(camp.setups, res.options["setups"])
    ]
    path = Path(args.out) if args.out else station.data_dir / "campaign.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1), encoding="utf-8")
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(_format(res, camp, path))
    return 0


def _format(res: Any, camp: Any, path: Any) -> str:
    import numpy as np

    lines = [
        f"{len(camp.setups)} setups, references {', '.join(camp.references)}: "
        f"{res.n_modes} global modes"
    ]
    lines.append(f"{'mode':>4} {'f (Hz)':>9} {'+-':>7} {'damping %':>9} {'MPC':>6}")
    for k in range(res.n_modes):
        lines.append(
            f"{k + 1:>4} {res.frequencies[k]:9.4f} {res.freq_std[k]:7.4f} "
            f"{100 * res.damping[k]:9.2f} {res.mpc[k]:6.3f}"
        )
    if res.n_modes:
        lines.append("")
        lines.append(
            f"{'point':<10} {'x (m)':>7} "
            + " ".join(f"{'m' + str(k + 1):>7}" for k in range(res.n_modes))
        )
        loc = (
            res.locations if res.locations is not None else np.full((len(res.channels), 3), np.nan)
        )
        order = np.argsort(np.where(np.isnan(loc[:, 0]), np.inf, loc[:, 0]), kind="stable")
        for i in order:
            vals = " ".join(
                f"{v.real:7.3f}" if np.isfinite(v) else f"{'-':>7}" for v in res.shapes[i]
            )
            x = f"{loc[i, 0]:7.2f}" if np.isfinite(loc[i, 0]) else f"{'?':>7}"
            lines.append(f"{res.channels[i]:<10} {x} {vals}")
    lines += [f"note: {n}" for n in res.notes if not n.startswith("setup ")]
    lines.append(f"written: {path}")
    return "\n".join(lines)
