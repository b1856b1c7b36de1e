"""Helpers (no tests here) for the report tests: build a small real station,
raw HDF5 files written with RawWriter and a results file filled through the
public results-store functions and the strain/fatigue/threshold/health job
entry points."""

from __future__ import annotations

from pathlib import Path

import numpy as np

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00Z
REC_S = 300
EVERY_NS = 6 * 3600 * 10**9
N_REC = 12  # 3 days


def build_station(root: Path, seed: int = 5) -> Path:
    """Write raw files and a results file under ``root``; return the results path."""
    from bshm.analysis.fatigue import process_strain_window, save_fatigue
    from bshm.analysis.health import check_record
    from bshm.analysis.thresholds import evaluate_window

    from bshm.config import Thresholds
    from bshm.store import ChannelMeta, RawWriter, SourceSpec, open_raw
    from bshm.store.results import (
        ResultsWriter,
        append_alarms,
        append_channel_health,
        results_path,
    )

    rng = np.random.default_rng(seed)
    acc = SourceSpec(
        "acc",
        "simulated",
        50.0,
        tuple(
            ChannelMeta(f"A0{i}", "acceleration", "m/s2", (10.0 * i, 0.0, 0.0), "z") for i in (1, 2)
        ),
    )
    strain = SourceSpec(
        "strain",
        "simulated",
        20.0,
        tuple(ChannelMeta(f"S{i}", "strain", "um/m", (15.0 * i, 0.0, -0.8)) for i in (1, 2)),
    )
    env = SourceSpec("env", "simulated", 1.0, (ChannelMeta("T1", "temperature", "degC"),))
    raw = root / "data"
    temps = []
    with RawWriter(raw, "testbridge", [acc, strain, env], rollover_s=6 * 3600) as w:
        for k in range(N_REC):
            t0 = T0 + k * EVERY_NS
            temp = 5.0 + 8.0 * np.sin(2 * np.pi * k / 4)
            temps.append(temp)
            n = int(REC_S * 50)
            t = np.arange(n) / 50.0
            a = np.column_stack(
                [0.02 * np.sin(2 * np.pi * 2.1 * t) + rng.normal(0, 0.005, n) for _ in range(2)]
            )
            if k == N_REC - 1:
                a[:, 1] = 0.0  # the last record: A02 is dead
            w.write("acc", a, t0_ns=t0)
            m = REC_S * 20
            e = np.cumsum(rng.normal(0, 4.0, (m, 2)), axis=0) * 0.3 + 11.0 * (temp - 5.0)
            e[m // 2, 0] += 400.0  # one sample over the strain limit
            w.write("strain", e, t0_ns=t0)
            w.write("env", np.full((REC_S, 1), temp), t0_ns=t0)
        w.add_gap(
            "acc",
            T0 + 5 * EVERY_NS + 10**9 * REC_S,
            T0 + 5 * EVERY_NS + 10**9 * 900,
            "device silent",
        )
    res = results_path(raw, "testbridge")
    state: dict = {}
    th = {"S1": Thresholds(high=(300.0, 500.0, 700.0))}
    health_rows = []
    alarms = []
    with open_raw(raw) as r:
        for s, e in r.records("strain"):
            rec = r.read("strain", s, e)
            out, state = process_strain_window(
                rec.data, rec.channels, start_ns=s, end_ns=e, state=state
            )
            save_fatigue(res, out, state, station="testbridge")
            alarms += evaluate_window(
                rec.data, rec.times_ns, rec.channels, th, station="testbridge"
            ).alarms
        for s, e in r.records("acc"):
            rec = r.read("acc", s, e)
            for h in check_record(rec.data, rec.fs, rec.channels):
                health_rows += h.rows(s)
    append_alarms(res, alarms, station="testbridge")
    append_channel_health(res, health_rows, station="testbridge")
    # modal tracks and damage indices as the long-term job stores them
    tw = np.array([T0 + k * EVERY_NS for k in range(N_REC)], np.int64)
    temps_a = np.array(temps)
    f = np.column_stack([2.1 * (1 - 0.0012 * (temps_a - 10)), 6.3 * (1 - 0.0012 * (temps_a - 10))])
    f[3, 1] = np.nan
    with ResultsWriter(res, "testbridge") as w:
        w.write_group(
            "tracks", {"time_ns": tw, "frequency": f, "mode_ids": np.array(["M1", "M2"], object)}
        )
        shift = rng.normal(0, 0.3, (N_REC, 2))
        t2 = rng.chisquare(2, N_REC)
        t2[-1] = 40.0
        w.write_group(
            "indices",
            {
                "time_ns": tw,
                "freq_shift_pct": shift,
                "t2": t2,
                "t2_limits": np.tile([9.2, 13.8, 18.4], (N_REC, 1)),
                "level": np.r_[np.zeros(N_REC - 1, np.int8), np.int8(3)],
            },
        )
        w.write_model("limits", {"frequency_shift_pct": [1.0, 2.0, 4.0]})
    return res
