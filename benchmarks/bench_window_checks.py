"""Benchmark: the per-window steps before ``identify``, old formulas against the new ones.

One 10-minute window of 12 accelerations at 100 Hz (60,000 x 12, the year
benchmark's data) through

* the quality checks: ``channel_faults`` + ``check_quality`` (the NumPy
  reference in ``tests/reference/quality.py``, i.e. the code before the Numba
  kernels, against ``bshm.analysis.windows``);
* detrend and FIR decimation 100 -> 50 Hz: ``scipy.signal.detrend`` +
  ``decimate`` against the compiled pass of ``_preprocess``;
* the MAD of the health drift check: ``np.median`` twice against the
  bracketing exact median (x 12 channels).

Old and new alternate in the same process, so the ratios hold on a busy
machine; medians of ``--repeat`` rounds. Run in the default environment.

Usage::

    .venv/bin/python benchmarks/bench_window_checks.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _window(seed: int = 3) -> np.ndarray:
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n, fs = 60_000, 100.0
    y = np.zeros((n, 12))
    for f, z in ((1.9, 0.012), (5.1, 0.015), (8.7, 0.02), (12.4, 0.02)):
        om = 2 * np.pi * f
        mu = np.exp((-z * om + 1j * om * np.sqrt(1 - z * z)) / fs)
        q = lfilter([1.0], [1.0, -2 * mu.real, abs(mu) ** 2], rng.standard_normal(n + 2000))
        y += q[2000:, None] * rng.standard_normal(12)[None, :]
    y += 0.02 * y.std() * rng.standard_normal(y.shape)
    return y.astype(np.float32).astype(np.float64)  # as read from the float32 store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()

    from bshm.analysis.quality_kernels import median
    from bshm.analysis.windows import (
        QualitySettings,
        _preprocess,
        channel_faults,
        check_quality,
    )
    from reference import quality as ref
    from scipy.signal import decimate, detrend

    x = _window()
    q, fs, band = QualitySettings(), 100.0, (0.5, 15.0)

    def checks_old():
        ref.channel_faults_ref(x, fs, q)
        return ref.check_quality_ref(x, fs, q, band=band)

    def checks_new():
        channel_faults(x, fs, q)
        return check_quality(x, fs, q, band=band)

    def mad_old():
        for c in range(12):
            r = x[:, c]
            np.median(np.abs(r - np.median(r)))

    def mad_new():
        for c in range(12):
            r = np.ascontiguousarray(x[:, c])
            median(np.abs(r - median(r)))

    pairs = {
        "quality checks": (checks_old, checks_new),
        "detrend + decimation 100 -> 50 Hz": (
            lambda: decimate(detrend(x, axis=0), 2, ftype="fir", axis=0, zero_phase=True),
            lambda: _preprocess(x, fs, 50.0),
        ),
        "health MAD, 12 channels": (mad_old, mad_new),
    }
    assert checks_old() == checks_new()
    for f_old, f_new in pairs.values():  # warm-up (Numba cache, FFT plans)
        f_old(), f_new()
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in pairs}
    for _ in range(args.repeat):
        for k, (f_old, f_new) in pairs.items():
            for f, acc in ((f_old, times[k][0]), (f_new, times[k][1])):
                t = time.perf_counter()
                f()
                acc.append(time.perf_counter() - t)
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, nproc={os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}; medians of {args.repeat}"
    )
    for k, (a, b) in times.items():
        ma, mb = statistics.median(a) * 1e3, statistics.median(b) * 1e3
        print(f"{k}: {ma:.1f} ms -> {mb:.1f} ms ({ma / mb:.1f}x)")


if __name__ == "__main__":
    main()
