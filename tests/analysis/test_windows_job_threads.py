"""The steps of ``bshm analyze`` after the windows run with one BLAS thread.

The health checks of every raw file (``monitor_raw``) and ``derive`` run in
the main process; with OpenBLAS's default threads their matrix-vector
products were 2-3x slower on a busy 2-core machine (docs/bench/analyze.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from bshm.analysis import job
from bshm.analysis._threads import blas_threads

sys.path.insert(0, str(Path(__file__).parent))
from test_job_support import end_ns, write_history, write_station  # noqa: E402


@pytest.mark.slow
def test_derive_and_strain_run_with_one_blas_thread(tmp_path, monkeypatch):
    if blas_threads() < 2:
        pytest.skip("the BLAS here runs one thread anyway: nothing to limit")
    write_history(tmp_path, 4, every_h=2.0)
    write_station(tmp_path)
    seen: dict[str, int] = {}
    derive, strain = job.derive, job._monitor_strain

    def spy_derive(*a, **k):
        seen["derive"] = blas_threads()
        return derive(*a, **k)

    def spy_strain(*a, **k):
        seen["strain"] = blas_threads()
        return strain(*a, **k)

    monkeypatch.setattr(job, "derive", spy_derive)
    monkeypatch.setattr(job, "_monitor_strain", spy_strain)
    before = blas_threads()
    s = job.run_analysis(tmp_path, progress=False, now_ns=end_ns(4, 2.0))
    assert s.processed + sum(s.skipped.values()) >= 4
    assert seen == {"derive": 1, "strain": 1}
    assert blas_threads() == before  # the user's setting is back afterwards
