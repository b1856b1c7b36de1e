"""Benchmark: bshm.analysis.rainflow vs the ``rainflow`` package (3.2).

Run: ``.venv/bin/python benchmarks/bench_rainflow.py [--n 1000000] [--repeat 9]``

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
    ap.add_argument("--repeat", type=int, default=9)
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

    # interleave the runs so that a burst of load on a shared machine hits
    # every contender alike
    times: dict[str, list[float]] = {"pkg": [], "ours": [], "pieces": []}
    n_pkg = max(1, args.repeat // 2 + 1)
    for k in range(args.repeat):
        for name, fn in (("ours", lambda: rainflow(x)), ("pieces", pieces)):
            times[name].append(_median(fn, 1))
        if k < n_pkg:
            times["pkg"].append(_median(lambda: list(rf_pkg.extract_cycles(x)), 1))
    t_ours = statistics.median(times["ours"])
    t_pieces = statistics.median(times["pieces"])
    t_pkg = statistics.median(times["pkg"])
    print(f"signal: {args.n} points, {len(ours)} cycles, identical: {same}")
    print(f"rainflow package 3.2 extract_cycles : {t_pkg * 1e3:9.2f} ms (median of {n_pkg})")
    print(f"bshm rainflow (whole record)        : {t_ours * 1e3:9.2f} ms (median of {args.repeat})")
    print(
        f"bshm RainflowCounter (10 pieces)    : {t_pieces * 1e3:9.2f} ms (median of {args.repeat})"
    )
    print(f"speed-up whole : {t_pkg / t_ours:7.1f}x")
    print(f"speed-up pieces: {t_pkg / t_pieces:7.1f}x")


if __name__ == "__main__":
    main()
