"""Benchmark: bshm.analysis.rainflow vs the ``rainflow`` package (3.2).

Run: ``.venv/bin/python benchmarks/bench_rainflow.py [--n 1000000] [--repeat 5] [--rounds 3]``

Prints the median time of each (after one warm-up call, so Numba compile or
cache load is excluded), the speed-up ratio from the same run, and checks
that both give identical cycles.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import rainflow as rf_pkg
from bshm.analysis.rainflow import RainflowCounter, rainflow


def _signal(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 20.0
    x = 30 * np.sin(2 * np.pi * t / 3600) + rng.normal(0, 2.0, n)
    for s in rng.integers(0, n - 200, size=n // 400):
        x[s : s + 120] += np.hanning(120) * rng.uniform(5, 60)
    return x


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5, help="bshm runs per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    x = _signal(args.n)
    ours = rainflow(x)  # warm-up (compile or load the cache)
    theirs = list(rf_pkg.extract_cycles(x))
    same = len(ours) == len(theirs) and all(a == tuple(b) for a, b in zip(ours, theirs))

    def pieces() -> None:
        rc = RainflowCounter()
        for p in np.array_split(x, 10):
            rc.feed(p)
        rc.finish()

    # Rounds of (bshm x repeat, pieces x repeat, package x 2): load changes on
    # a shared machine hit every contender alike, while each contender runs
    # back to back (the package churns the Python heap, which slows whatever
    # runs right after it).
    times: dict[str, list[float]] = {"pkg": [], "ours": [], "pieces": []}
    for _ in range(args.rounds):
        times["ours"] += [_median(lambda: rainflow(x), 1) for _ in range(args.repeat)]
        times["pieces"] += [_median(pieces, 1) for _ in range(args.repeat)]
        times["pkg"] += [_median(lambda: list(rf_pkg.extract_cycles(x)), 1) for _ in range(2)]
    n_pkg = len(times["pkg"])
    n_ours = len(times["ours"])
    t_ours = statistics.median(times["ours"])
    t_pieces = statistics.median(times["pieces"])
    t_pkg = statistics.median(times["pkg"])
    print(f"signal: {args.n} points, {len(ours)} cycles, identical: {same}")
    print(f"rainflow package 3.2 extract_cycles : {t_pkg * 1e3:9.2f} ms (median of {n_pkg})")
    print(f"bshm rainflow (whole record)        : {t_ours * 1e3:9.2f} ms (median of {n_ours})")
    print(f"bshm RainflowCounter (10 pieces)    : {t_pieces * 1e3:9.2f} ms (median of {n_ours})")
    print(f"speed-up whole : {t_pkg / t_ours:7.1f}x")
    print(f"speed-up pieces: {t_pkg / t_pieces:7.1f}x")


if __name__ == "__main__":
    main()
