"""Accuracy of identify() on one-hour records of the simulated bridge (docs/modal-analysis.md).

Ten records per row (seeds 30-39, structural temperature drawn in -5..25
degC), 8 channels at 100 Hz, modes below 20 Hz, default options plus
``freq_max_hz=20``; ambient only and with road traffic (400 vehicles/h),
with the default causal weighting and without weighting.  A mode is found
when its MAC with a true shape is > 0.9 (one estimate per true mode; others
are spurious).

Usage::

    .venv/bin/python benchmarks/bench_oma_accuracy.py [--seeds 30-39]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bshm.analysis import identify, mac_matrix
from bshm.fixtures.bridge import BridgeModel


def score(res, truth) -> dict:
    m = mac_matrix(res.shapes, truth.shapes)
    j, best = m.argmax(axis=1), m.max(axis=1)
    used: dict[int, int] = {}
    for i in np.argsort(-best):
        if best[i] > 0.9 and int(j[i]) not in used:
            used[int(j[i])] = int(i)
    good = np.array(sorted(used.values()), dtype=int)
    ef = np.abs(res.frequencies[good] / truth.frequencies[j[good]] - 1) * 100
    ez = np.abs(res.damping[good] - truth.damping[j[good]]) * 100
    return {
        "found": len(used),
        "spurious": res.n_modes - good.size,
        "ef": float(ef.max()) if good.size else np.nan,
        "ez": float(ez.max()) if good.size else np.nan,
        "mac": float(best[good].min()) if good.size else np.nan,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="30-39", help="first-last seed")
    args = ap.parse_args()
    a, b = (int(x) for x in args.seeds.split("-"))
    model = BridgeModel(seed=0)
    rows: dict[tuple[str, str], list[dict]] = {}
    t0 = time.perf_counter()
    for seed in range(a, b + 1):
        for traffic in (False, True):
            rng = np.random.default_rng(seed)
            temp = float(rng.uniform(-5.0, 25.0))
            rec = model.simulate(3600.0, 100.0, temperature_c=temp, traffic=traffic, rng=rng)
            for wname, w in (("energy (default)", "energy"), ("none", None)):
                res = identify(rec.acc, 100.0, freq_max_hz=20.0, weighting=w)
                key = ("wind + 400 vehicles/h" if traffic else "ambient (wind)", wname)
                rows.setdefault(key, []).append(score(res, rec.truth))
    print(f"# seeds {a}-{b}, {time.perf_counter() - t0:.0f} s")
    print(
        "| excitation | correlation weighting | modes found | spurious | max freq error |"
        " max damping error | min MAC | records over 0.5 % or 0.5 pp |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (exc, w), rs in rows.items():
        n = len(rs)
        found = [r["found"] for r in rs]
        over = sum(1 for r in rs if r["ef"] > 0.5 or r["ez"] > 0.5)
        print(
            f"| {exc} | {w} | {min(found)}-{max(found)} of 7 | {sum(r['spurious'] for r in rs)} |"
            f" {max(r['ef'] for r in rs):.2f} % | {max(r['ez'] for r in rs):.2f} pp |"
            f" {min(r['mac'] for r in rs):.4f} | {over}/{n} |"
        )


if __name__ == "__main__":
    main()
