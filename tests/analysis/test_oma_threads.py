"""Thread discipline: one BLAS thread inside identify and inside every analyze worker.

With OpenBLAS's default (one thread per core) a 6-channel 10-minute
``identify`` took 177-1,141 ms against 54 ms with one thread on the 2-core
machines, and ``bshm analyze`` of 240 windows 338 s against 32 s.  bshm now
sets the limit itself (threadpoolctl), with no environment variable, so these
tests run their checks with the thread variables removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from bshm.analysis import _threads
from bshm.analysis._threads import blas_limited, blas_threads

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in THREAD_VARS}


def _default_threads() -> int:
    """BLAS threads of a fresh interpreter with no thread variable set."""
    code = "import scipy.linalg; from bshm.analysis._threads import blas_threads as b; print(b())"
    out = subprocess.run(
        [sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


def test_blas_limited_sets_one_thread_nests_and_restores():
    before = blas_threads()
    with blas_limited():
        assert blas_threads() == 1
        with blas_limited():
            assert blas_threads() == 1
        assert blas_threads() == 1  # the inner block does not restore early
    assert blas_threads() == before
    assert _threads._STATE["depth"] == 0


def test_blas_limited_is_shared_across_threads():
    inside = threading.Event()
    leave = threading.Event()
    seen = []

    def worker():
        with blas_limited():
            inside.set()
            leave.wait(10)
            seen.append(blas_threads())

    t = threading.Thread(target=worker)
    before = blas_threads()
    t.start()
    assert inside.wait(10)
    with blas_limited():  # a second user enters and leaves while the first is inside
        pass
    leave.set()
    t.join(10)
    assert seen == [1]  # the second user's exit did not lift the first one's limit
    assert blas_threads() == before


def test_identify_runs_with_one_blas_thread_in_the_default_environment(tmp_path):
    if _default_threads() < 2:
        pytest.skip("this machine's BLAS uses one thread anyway: nothing to limit")
    code = """
import json, numpy as np
from bshm.analysis import identify, ssi
from bshm.analysis._threads import blas_threads
seen = []
real = ssi.hankel_subspace
def spy(*a, **k):
    seen.append(blas_threads())
    return real(*a, **k)
ssi.hankel_subspace = spy
y = np.random.default_rng(0).standard_normal((20000, 4))
identify(y, 100.0)
print(json.dumps({"inside": seen, "after": blas_threads()}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["inside"] == [1]
    assert got["after"] >= 2  # the user's setting is back after the call


def test_local_executor_batches_run_with_one_blas_thread(monkeypatch):
    from bshm.analysis import job_exec

    seen = []

    def body(cfg, windows):  # stands in for the window processing, records the pool size
        seen.append(blas_threads())
        return []

    monkeypatch.setattr(job_exec, "process_batch", body)
    out = list(job_exec.LocalExecutor().map(None, [[(0, 1)], [(1, 2)]]))
    assert out == [[], []]
    assert seen == [1, 1]


@pytest.mark.slow
def test_dask_workers_limit_blas_inside_the_task(monkeypatch):
    pytest.importorskip("distributed")
    if _default_threads() < 2:
        pytest.skip("this machine's BLAS uses one thread anyway: nothing to limit")
    import dask
    from bshm.analysis import job_exec
    from distributed import Client, LocalCluster

    for k in THREAD_VARS:  # workers started with the user's default environment
        monkeypatch.delenv(k, raising=False)
    # Dask's nanny sets OPENBLAS_NUM_THREADS=1 etc. by default; a worker started
    # without it (``dask worker --no-nanny``, another configuration) does not
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": {}}),
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        plain = client.submit(blas_threads, pure=False).result()
        limited = client.submit(job_exec.call_limited, blas_threads, pure=False).result()
    assert plain >= 2  # a worker does not limit BLAS by itself ...
    assert limited == 1  # ... the task function does


def test_dask_executor_submits_the_limited_task_function():
    import inspect

    from bshm.analysis import job_exec

    src = inspect.getsource(job_exec.DaskExecutor.map)
    assert "submit(run_batch" in src
    assert "OPENBLAS_NUM_THREADS" not in inspect.getsource(job_exec)


def test_the_controller_is_built_once_per_process():
    with blas_limited():
        pass
    ctl = _threads._STATE["controller"]
    assert ctl is not None
    for _ in range(3):
        with blas_limited():
            pass
    assert _threads._STATE["controller"] is ctl  # scanning the libraries costs milliseconds


@pytest.mark.slow
def test_local_dask_workers_run_without_the_statistical_profiler():
    # the profiler samples every task's stack every 10 ms: 4-5 % of a window's CPU
    pytest.importorskip("distributed")
    import dask
    from bshm.analysis import job_exec

    ex = job_exec.DaskExecutor(workers=1)
    try:
        got = ex.client.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
        assert list(got.values()) == [False]
        # ... and the batches still run there (no window: an empty batch)
        cfg = job_exec.WindowConfig(data_dir=".", source="acc", channels=("A",))
        assert list(ex.map(cfg, [[]])) == [[]]
    finally:
        ex.close()
    assert dask.config.get("distributed.worker.profile.enabled")  # this process unchanged


@pytest.mark.slow
def test_local_dask_workers_keep_glibc_memory_thresholds(monkeypatch):
    # Dask's default MALLOC_TRIM_THRESHOLD_ made every large temporary a fresh mmap:
    # a window cost 1.5x the CPU, 40 % of it page faults in the kernel
    pytest.importorskip("distributed")
    import os

    import dask
    from bshm.analysis import job_exec

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    ex = job_exec.DaskExecutor(workers=1)
    try:
        got = ex.client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        assert list(got.values()) == [None]
    finally:
        ex.close()
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ  # nor set here by the nanny
    assert dask.config.get("distributed.nanny.pre-spawn-environ")["MALLOC_TRIM_THRESHOLD_"]
