"""Helpers (no tests) for the monitoring-job tests: small, fast simulated histories.

The records are simulated with the real bridge model (ambient excitation
only, short records at 50 Hz) and written with the real raw-store writer,
so the whole job runs on real HDF5 files in a few seconds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

START_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
HOUR_NS = 3_600_000_000_000
STATION = "sim-bridge"


def end_ns(n: int, every_h: float) -> int:
    """A wall-clock "now" just after record ``n - 1`` of a small history (for ``now_ns``)."""
    return START_NS + int(n * every_h * HOUR_NS)

_MODEL = None


def _model():
    global _MODEL
    if _MODEL is None:
        from bshm.fixtures.bridge import BridgeModel

        _MODEL = BridgeModel(seed=3)
    return _MODEL


def temperature(k: int, every_h: float) -> float:
    """Deck temperature of record k: daily cycle, slow cooling, frost at night."""
    h = k * every_h
    return 3.0 + 5.0 * np.sin(2 * np.pi * (h - 9.0) / 24.0) - 0.05 * h


def write_history(
    out: Path,
    n: int,
    *,
    every_h: float = 1.5,
    record_s: float = 120.0,
    fs: float = 50.0,
    damage=None,
    first: int = 0,
    seed: int = 7,
    station: str = STATION,
    temp_fn=None,
    strain: bool = False,
    fault=None,
    traffic: bool = False,
) -> Path:
    """Write records ``first .. n-1`` of a small history into ``out`` (raw HDF5).

    ``damage`` is a ``bshm.fixtures.bridge.Damage``: present from its time on.
    ``temp_fn(k)`` gives the deck temperature of record ``k`` (default
    :func:`temperature`). ``strain``: also a ``strain`` source (S1..S4, at
    ``fs``). ``fault(k, data)`` may change the record's arrays in place before
    they are written (``data`` maps ``acc``, ``env``, ``strain`` to arrays).
    """
    from bshm.fixtures.rawfiles import write_record_file

    from bshm.store import ChannelMeta, SourceSpec

    model = _model()
    acc = tuple(
        ChannelMeta(nm, "acceleration", "m/s2", (float(x), 0.0, 0.0), "z")
        for nm, x in zip(model.sensor_names, model.sensor_x)
    )
    env = (ChannelMeta("T1", "temperature", "degC"), ChannelMeta("T2", "temperature", "degC"))
    specs = [SourceSpec("acc", "simulated", fs, acc), SourceSpec("env", "simulated", 1.0, env)]
    if strain:
        gauges = tuple(ChannelMeta(f"S{i + 1}", "strain", "um/m") for i in range(4))
        specs.append(SourceSpec("strain", "simulated", fs, gauges))
    out.mkdir(parents=True, exist_ok=True)
    # one raw file per record: a later call adds files without touching earlier ones
    for k in range(first, n):
        t0 = START_NS + int(k * every_h * HOUR_NS)
        temp = temp_fn(k) if temp_fn is not None else temperature(k, every_h)
        d = damage if damage is not None and t0 >= damage.time_ns else None
        rec = model.simulate(
            record_s,
            fs,
            temperature_c=temp,
            damage=d,
            traffic=traffic,
            rng=np.random.default_rng([seed, k]),
        )
        n_env = int(record_s)
        data = {
            "acc": np.array(rec.acc, np.float64),
            "env": np.column_stack([np.full(n_env, temp), np.full(n_env, temp - 1.0)]),
            "strain": np.array(rec.strain, np.float64) + 50.0,
        }
        if fault is not None:
            fault(k, data)
        write_record_file(out, station, specs, t0, data, rollover_s=3600.0 * every_h)
    return out


STATION_TOML = """\
[station]
name = "sim-bridge"
data_dir = "."

[[sources]]
name = "acc"
kind = "serial"
port = "dev/acc"
fs = 50.0
{acc}

[[sources]]
name = "env"
kind = "serial"
port = "dev/env"
protocol = "line"
fs = 1.0
[[sources.channels]]
name = "T1"
quantity = "temperature"
unit = "degC"
column = 0
[[sources.channels]]
name = "T2"
quantity = "temperature"
unit = "degC"
column = 1

{strain}
[analysis]
source = "acc"
channels = ["A02", "A03", "A05", "A07"]
window = "{window}"
freq_range = [1.0, 15.0]
max_order = 30
time_lag = 20
temperature = "T1"
baseline_days = {baseline_days}

[alarms]
feed = "alarms.jsonl"
persistence_k = 3
persistence_n = 5
"""


STRAIN_TOML = """
[[sources]]
name = "strain"
kind = "serial"
port = "dev/strain"
fs = 50.0
""" + "".join(
    f'[[sources.channels]]\nname = "S{i + 1}"\nquantity = "strain"\nunit = "um/m"\ncolumn = {i}\n'
    for i in range(4)
)


def write_station(
    folder: Path,
    *,
    window: str = "2min",
    baseline_days: float = 1.0,
    strain: bool = False,
    extra: str = "",
) -> Path:
    """A station.toml for the small history in ``folder`` (``extra`` is appended)."""
    model = _model()
    acc = "\n".join(
        f'[[sources.channels]]\nname = "{nm}"\nquantity = "acceleration"\nunit = "m/s2"\n'
        f"location = {float(x)}\ncolumn = {i}"
        for i, (nm, x) in enumerate(zip(model.sensor_names, model.sensor_x))
    )
    p = folder / "station.toml"
    text = STATION_TOML.format(
        acc=acc,
        window=window,
        baseline_days=baseline_days,
        strain=STRAIN_TOML if strain else "",
    )
    p.write_text(text + extra)
    return p


def copy_raw(src: Path, dst: Path, n_files: int | None = None) -> Path:
    """Copy the raw files (the first ``n_files``) and the station.toml of a history."""
    dst.mkdir(parents=True, exist_ok=True)
    files = sorted(src.glob("*.h5"))
    for f in files[:n_files] if n_files is not None else files:
        shutil.copy2(f, dst / f.name)
    if (src / "station.toml").exists():
        shutil.copy2(src / "station.toml", dst / "station.toml")
    return dst


def assert_same(a, b, path="") -> None:
    """Assert two results read back (nested dicts, lists, arrays, scalars) are equal; NaN == NaN."""
    if isinstance(a, dict):
        assert set(a) == set(b), (path, sorted(set(a) ^ set(b)))
        for k in a:
            assert_same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, np.asarray(b), err_msg=path)
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b or (a != a and b != b), (path, a, b)
