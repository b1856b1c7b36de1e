"""The Gram step of SSI-COV: all eigenpairs (syevd) or the n_max largest (syevr/syevx).

Part 1: the Gram matrices ``H H^T`` of the simulated bridge's Hankel matrices
(6, 12, 24 channels, 10 min at 50 Hz, time lag 40: 240, 480, 960 rows),
each driver timed call by call, interleaved, on a fresh copy; medians.
Part 2: ``identify`` as ``bshm analyze`` calls it on the same records, with
every eigenpair (``ssi.GRAM_SUBSET_MIN_ROWS`` above the size) and with the
top 80 only (``GRAM_SUBSET_MIN_ROWS = 0``), interleaved; medians.
One BLAS thread, as in the analysis workers.  Results: docs/bench/oma.md.

Usage::

    .venv/bin/python benchmarks/bench_ssi_gram.py [--reps 15]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import functools  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
from bshm.analysis import identify, ssi  # noqa: E402
from bshm.analysis.ssi_corr import output_correlations  # noqa: E402
from bshm.fixtures.bridge import BridgeModel, BridgeParams  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

FS = 50.0
N_MAX = 80


def record(n_ch: int) -> np.ndarray:
    xs = tuple(float(x) for x in np.linspace(3.0, 66.0, n_ch))
    rec = BridgeModel(BridgeParams(acc_x=xs), seed=2).simulate(
        600.0, FS, temperature_c=12.0, rng=np.random.default_rng(5)
    )
    return np.ascontiguousarray(rec.acc)


def gram(y: np.ndarray) -> np.ndarray:
    z = (y - y.mean(axis=0)) / y.std(axis=0)
    h = ssi.block_hankel(output_correlations(z, 2 * 40 - 1), 40)
    return h @ h.T


def all_pairs(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w, v = scipy.linalg.eigh(g, driver="evd", check_finite=False, overwrite_a=True)
    return w[::-1][:N_MAX], v[:, ::-1][:, :N_MAX]


def top(driver: str):
    def f(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = g.shape[0]
        w, v = scipy.linalg.eigh(
            g,
            subset_by_index=[m - N_MAX, m - 1],
            driver=driver,
            check_finite=False,
            overwrite_a=True,
        )
        return w[::-1], v[:, ::-1]

    return f


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, one BLAS thread, medians of {a.reps}")
    meths = {"syevd all": all_pairs, "syevr top": top("evr"), "syevx top": top("evx")}
    cases = [(n, record(n)) for n in (6, 12, 24)]
    with threadpool_limits(1):
        for n, y in cases:
            g0 = gram(y)
            t: dict[str, list[float]] = {k: [] for k in meths}
            w0, v0 = all_pairs(g0.copy())
            for k, f in meths.items():
                w, v = f(g0.copy())
                dw = np.max(np.abs(w - w0) / w0)
                print(
                    f"  {g0.shape[0]} rows {k}: eigenvalues {dw:.1e} relative, "
                    f"min |cos| {np.abs(np.sum(v * v0, axis=0)).min():.15f}"
                )
            for _ in range(a.reps):
                for k, f in meths.items():
                    g = g0.copy()
                    t0 = time.perf_counter()
                    f(g)
                    t[k].append(time.perf_counter() - t0)
            med = {k: statistics.median(v) * 1e3 for k, v in t.items()}
            print(
                f"Gram {g0.shape[0]} rows ({n} ch): "
                + ", ".join(f"{k} {v:.2f} ms" for k, v in med.items()),
                flush=True,
            )
        for n, y in cases:
            tt: dict[int, list[float]] = {10**9: [], 0: []}
            res = {}
            run = functools.partial(
                identify,
                y,
                FS,
                time_lag=40,
                max_order=N_MAX,
                freq_min_hz=0.5,
                freq_max_hz=15.0,
                quantities=["acceleration"] * n,
            )
            for lim in tt:
                ssi.GRAM_SUBSET_MIN_ROWS = lim
                res[lim] = run()
            for _ in range(a.reps):
                for lim in tt:
                    ssi.GRAM_SUBSET_MIN_ROWS = lim
                    t0 = time.perf_counter()
                    run()
                    tt[lim].append(time.perf_counter() - t0)
            old, new = (statistics.median(tt[k]) * 1e3 for k in (10**9, 0))
            df = np.max(np.abs(res[0].frequencies / res[10**9].frequencies - 1))
            print(
                f"identify {n} ch: all eigenpairs {old:.1f} ms, top 80 {new:.1f} ms "
                f"({old / new:.2f}x); {res[0].n_modes} modes, frequencies {df:.1e} relative"
            )


if __name__ == "__main__":
    main()
