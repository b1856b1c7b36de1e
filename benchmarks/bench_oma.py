"""Side-by-side benchmark of bshm's identify() against pyOMA2 and a plain NumPy SSI-COV.

Same data (the simulated bridge, road traffic on), same time lag (40 block
rows) and model orders (up to 80), timed interleaved in one run, with a
pause before each timed call (``--cooldown``, 0.5 s: OpenBLAS's threads keep
spinning for a while after a multi-threaded call, and a single-threaded
tool timed right after ran 1.5-2x slower; measured).  Prints
wall-time medians, ratios, peak memory (tracemalloc, separate untimed runs)
and accuracy against the bridge's modal truth (modes below 20 Hz).

Two thread modes (one per run: the BLAS reads its variables when it loads):

* default: one BLAS thread for every tool (``OMP/OPENBLAS/MKL_NUM_THREADS=1``
  and ``threadpoolctl.threadpool_limits(1)``), the tools' best case;
* ``--default-threads``: the user's default environment (no variable set,
  no limit around the calls; the thread variables are removed if the shell
  had them): ``identify`` limits BLAS itself, pyOMA2 and the plain NumPy
  version run with OpenBLAS's default threads, as users run them.

Usage::

    .venv/bin/python benchmarks/bench_oma.py [--reps 5] [--step 2] [--quick]
    .venv/bin/python benchmarks/bench_oma.py --default-threads [--reps 5]
"""

from __future__ import annotations

import os
import sys

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
DEFAULT_THREADS = "--default-threads" in sys.argv
for _v in _THREAD_VARS:
    if DEFAULT_THREADS:
        os.environ.pop(_v, None)
    else:
        os.environ[_v] = "1"
os.environ.setdefault("TQDM_DISABLE", "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import numpy as np  # noqa: E402
from bshm.analysis import identify, mac_matrix  # noqa: E402
from bshm.fixtures.bridge import BridgeModel, BridgeParams  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

FS = 100.0
LAG = 40
MAX_ORDER = 80
BAND = (0.3, 20.0)
X12 = (3.0, 9.0, 15.0, 23.0, 28.0, 33.0, 37.0, 42.0, 47.0, 53.0, 60.0, 66.0)


def make_cases(quick: bool) -> list[tuple[str, np.ndarray, object]]:
    """(label, data (n, l), truth restricted to the channels)."""
    from dataclasses import replace

    rng = np.random.default_rng(2026)
    m8 = BridgeModel(seed=1)
    rec = m8.simulate(600.0, FS, temperature_c=12.0, rng=rng)
    keep = [0, 1, 3, 4, 6, 7]  # A01 A02 A04 A05 A07 A08
    cases = [
        (
            "6 ch x 10 min",
            np.ascontiguousarray(rec.acc[:, keep]),
            replace(rec.truth, shapes=rec.truth.shapes[keep]),
        )
    ]
    if not quick:
        m12 = BridgeModel(BridgeParams(acc_x=X12), seed=2)
        rec = m12.simulate(3600.0, FS, temperature_c=12.0, rng=rng)
        cases.append(("12 ch x 60 min", np.ascontiguousarray(rec.acc), rec.truth))
    return cases


# ---------------------------------------------------------------- the tools


def run_bshm(y: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = identify(
        y,
        FS,
        time_lag=LAG,
        max_order=MAX_ORDER,
        order_step=step,
        min_order=step,
        freq_min_hz=BAND[0],
        freq_max_hz=BAND[1],
    )
    return r.frequencies, r.damping, r.shapes


def run_pyoma2(y: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from pyoma2.algorithms import SSI
    from pyoma2.algorithms.data.run_params import Clustering
    from pyoma2.setup import SingleSetup

    setup = SingleSetup(y, fs=FS)
    alg = SSI(name="ssi", method="cov", br=LAG, ordmax=MAX_ORDER, step=step)
    setup.add_algorithms(alg)
    setup.run_by_name("ssi")
    alg.add_clustering(Clustering(name="kv", quick="Kvaale", freqlim=BAND))
    alg.run_clustering("kv")
    res = alg.result.clustering_results["kv"]
    return np.asarray(res.Fn), np.asarray(res.Xi), np.asarray(res.Phi)


def run_plain_numpy(y: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Textbook SSI-COV: direct correlations, SVD, one pinv + eig per order (no picking)."""
    n, nl = y.shape
    y = y - y.mean(axis=0)
    corr = [y[k:].T @ y[: n - k] / (n - k) for k in range(2 * LAG)]
    h = np.block([[corr[i + j + 1] for j in range(LAG)] for i in range(LAG)])
    u, s, _ = np.linalg.svd(h)
    obs = u[:, :MAX_ORDER] * np.sqrt(s[:MAX_ORDER])
    fr, zt = [], []
    for order in range(step, MAX_ORDER + 1, step):
        a = np.linalg.pinv(obs[:-nl, :order]) @ obs[nl:, :order]
        lam = np.log(np.linalg.eigvals(a)) * FS
        fr.append(np.abs(lam) / 2 / np.pi)
        zt.append(-lam.real / np.abs(lam))
    return np.concatenate(fr), np.concatenate(zt), np.empty((nl, 0))


TOOLS = {
    "bshm identify": run_bshm,
    "pyOMA2 SSIcov+Kvaale": run_pyoma2,
    "plain NumPy SSI-COV (no picking)": run_plain_numpy,
}


# ------------------------------------------------------------------ scoring


def score(out: tuple[np.ndarray, np.ndarray, np.ndarray], truth) -> dict:
    f, z, phi = out
    if phi.shape[1] != f.size:  # poles without picking: nothing to score
        return {"modes": "-"}
    in_band = (f >= BAND[0]) & (f <= BAND[1])
    f, z, phi = f[in_band], z[in_band], phi[:, in_band]
    if phi.shape[1] == 0:
        return {"modes": int(f.size)}
    m = mac_matrix(phi, truth.shapes)
    j = m.argmax(axis=1)
    best = m[np.arange(j.size), j]
    matched = best > 0.9
    # one estimate per true mode: a second match of the same mode is spurious
    used: set[int] = set()
    good = []
    for i in np.argsort(-best):
        if matched[i] and j[i] not in used:
            used.add(int(j[i]))
            good.append(i)
    good = np.array(sorted(good), dtype=int)
    ef = np.abs(f[good] / truth.frequencies[j[good]] - 1) * 100
    ez = np.abs(z[good] - truth.damping[j[good]]) * 100
    return {
        "modes": int(f.size),
        "found": len(used),
        "truth": int(truth.frequencies.size),
        "spurious": int(f.size - good.size),
        "f_err_max_pct": float(ef.max()),
        "z_err_max_pp": float(ez.max()),
        "mac_min": float(best[good].min()),
    }


def peak_memory(fn, y, step) -> int:
    tracemalloc.start()
    fn(y, step)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--step", type=int, default=2, help="model order step (both tools)")
    ap.add_argument("--quick", action="store_true", help="only the 10-minute case")
    ap.add_argument(
        "--cooldown",
        type=float,
        default=0.5,
        help="seconds of pause before each timed call (default 0.5): OpenBLAS threads keep "
        "spinning after a multi-threaded call and slowed the next tool's single thread 1.5-2x",
    )
    ap.add_argument(
        "--default-threads",
        action="store_true",
        help="run in the default environment (no BLAS thread limit set by the benchmark)",
    )
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in open("/proc/cpuinfo")
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"# bench_oma  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  nproc={os.cpu_count()}"
        f"  cpu={cpu}  python={platform.python_version()}  numpy={np.__version__}"
        f"  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    from bshm.analysis._threads import blas_limited, blas_threads

    mode = (
        f"default environment (BLAS threads {blas_threads()}; identify limits itself)"
        if args.default_threads
        else "1 BLAS thread for every tool"
    )
    print(
        f"# time_lag={LAG} orders {args.step}..{MAX_ORDER} step {args.step}, band {BAND} Hz,"
        f" {mode}, {args.reps} interleaved reps, {args.cooldown:g} s pause before each,"
        " median wall time"
    )
    ts = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(2000):
            with blas_limited():
                pass
        ts.append((time.perf_counter() - t0) / 2000)
    print(f"# entering + leaving blas_limited(): {1e6 * statistics.median(ts):.1f} us (median of 5 x 2000)")
    limit = contextlib.nullcontext() if args.default_threads else threadpool_limits(1)
    with limit:
        for label, y, truth in make_cases(args.quick):
            for fn in TOOLS.values():  # warm-up (imports, numba cache, fft plans)
                fn(y, args.step)
            times: dict[str, list[float]] = {k: [] for k in TOOLS}
            for _ in range(args.reps):
                for name, fn in TOOLS.items():
                    time.sleep(args.cooldown)
                    t0 = time.perf_counter()
                    fn(y, args.step)
                    times[name].append(time.perf_counter() - t0)
            med = {k: statistics.median(v) for k, v in times.items()}
            print(f"\n## {label}: input {y.nbytes / 1e6:.1f} MB float64")
            print(
                "| tool | median s | vs bshm | peak MB (x input) | modes | found/truth |"
                " spurious | max f err % | max zeta err pp | min MAC |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|")
            for name, fn in TOOLS.items():
                mem = peak_memory(fn, y, args.step)
                sc = score(fn(y, args.step), truth)
                acc = (
                    f"{sc.get('modes')} | {sc.get('found', '-')}/{sc.get('truth', '-')} | "
                    f"{sc.get('spurious', '-')} | {sc.get('f_err_max_pct', float('nan')):.3f} | "
                    f"{sc.get('z_err_max_pp', float('nan')):.3f} | "
                    f"{sc.get('mac_min', float('nan')):.4f}"
                )
                print(
                    f"| {name} | {med[name]:.3f} | {med[name] / med['bshm identify']:.1f}x | "
                    f"{mem / 1e6:.1f} ({mem / y.nbytes:.1f}x) | {acc} |"
                )
    print(f"\n# load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
