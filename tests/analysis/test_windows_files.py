"""The raw files of a batch, planned once by the job from one listing.

``batch_files`` (with its early stop) must keep exactly the files of the
full backwards scan it replaced, on listings with duplicated start times,
clock jumps and any rollover period; ``plan_batch_files`` must give each
batch what ``_files_for`` gives it, and the job's windows the same results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bshm.analysis.windows import batch_files

H = 3_600_000_000_000


def _scan_all(files, period, start_ns, end_ns):
    """The full backwards scan over every file (the formula before the early stop)."""
    starts = [int(s) for _, s in files]
    keep = []
    nxt = None
    for i in range(len(files) - 1, -1, -1):
        s = starts[i]
        if s < end_ns and (nxt is None or nxt > start_ns):
            keep.append(Path(files[i][0]))
        elif period and s < end_ns and (s // period + 1) * period > start_ns:
            keep.append(Path(files[i][0]))
        if i == 0 or starts[i - 1] < s:
            nxt = s
    return keep[::-1]


@pytest.mark.parametrize("period", [None, H, 24 * H, 600_000_000_000])
def test_batch_files_equal_the_full_scan(rng, period) -> None:
    for _ in range(40):
        n = int(rng.integers(1, 60))
        starts = np.sort(rng.integers(0, 50, n)) * (H // 2)  # duplicates and gaps
        files = [(f"/d/s_{i:03d}.h5", int(s)) for i, s in enumerate(starts)]
        for _ in range(30):
            a = int(rng.integers(-2 * H, 27 * H))
            b = a + int(rng.integers(1, 5 * H))
            assert batch_files(files, period, a, b) == _scan_all(files, period, a, b)


def test_plan_matches_files_for_on_real_files(tmp_path) -> None:
    """Files written by the raw store, one of them again (a clock set back)."""
    from bshm.analysis.job_files import listing
    from bshm.analysis.windows import _files_for, plan_batch_files
    from test_job_support import write_history

    write_history(tmp_path, 6, every_h=1.0, record_s=30.0, fs=20.0)
    write_history(tmp_path / "again", 3, every_h=1.0, record_s=30.0, fs=20.0, first=2, seed=9)
    for f in (tmp_path / "again").glob("*.h5"):  # the same hours again, other names
        f.rename(tmp_path / f.name.replace(".h5", "-1.h5"))
    starts = [s for _, s in listing(tmp_path)]
    assert len(starts) == 7
    batches = [[(s, s + 30_000_000_000)] for s in starts]
    batches += [[(starts[1], starts[4])], [(starts[0] - H, starts[0] - 1)], []]
    plans = plan_batch_files(tmp_path, batches)
    for b, p in zip(batches, plans, strict=True):
        assert p == (_files_for(tmp_path, b[0][0], b[-1][1]) if b else [])
    assert any(len(p) >= 2 for p in plans)
