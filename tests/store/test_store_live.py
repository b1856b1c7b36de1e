"""A reader in another process follows a live writer; a killed writer loses at most ~1 s."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from store_helpers import T0, acc_spec, det_block, env_spec

from bshm.store import RawWriter, open_raw
from bshm.timeutil import sample_times

HERE = Path(__file__).parent


class _Proc:
    """The writer process with its stdout lines in a queue."""

    def __init__(self, out: Path, rollover_s: float, max_blocks: int) -> None:
        self.p = subprocess.Popen(
            [sys.executable, str(HERE / "store_writer_proc.py"), str(out), str(rollover_s),
             str(max_blocks)],
            stdout=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.t = threading.Thread(target=self._pump, daemon=True)
        self.t.start()

    def _pump(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.put(line.strip())

    def wait_for(self, pred, timeout: float = 20.0) -> list[str]:
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.05)
            except queue.Empty:
                continue
            got.append(line)
            if pred(line):
                return got
        raise AssertionError(f"writer process did not report in {timeout} s: {got[-3:]}")

    def drain(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.lines.get_nowait())
            except queue.Empty:
                return out

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)
        if self.p.stdout:
            self.p.stdout.close()


def _expected(rows: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.concatenate([sample_times(T0 + b * 100_000_000, 10, 100.0) for b in range(rows // 10)])
    return det_block(0, rows, 3), t


def _check_prefix(rec, rows_min: int) -> None:
    n = rec.n_samples
    assert n >= rows_min, f"only {n} of {rows_min} flushed samples are readable"
    x, t = _expected(n)
    np.testing.assert_array_equal(rec.data, x)
    np.testing.assert_array_equal(rec.times_ns, t)


@pytest.mark.slow
def test_reader_follows_live_writer(tmp_path):
    proc = _Proc(tmp_path, rollover_s=2.0, max_blocks=250)  # ~5 s; a new file every ~1 s
    try:
        proc.wait_for(lambda s: s.startswith("F"))
        with open_raw(tmp_path, allow_empty=True) as r:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and "acc" not in r.sources:
                time.sleep(0.05)
                r.refresh()
            n0 = r.read("acc").n_samples
            t_seen = time.monotonic()
            grew_after = None
            files_seen = {p.name for p in r.files}
            while time.monotonic() - t_seen < 5:
                time.sleep(0.05)
                r.refresh()
                files_seen.update(p.name for p in r.files)
                rec = r.read("acc")
                if rec.n_samples > n0 and grew_after is None:
                    grew_after = time.monotonic() - t_seen
                    _check_prefix(rec, n0)
            assert grew_after is not None
            assert grew_after < 2.5
            assert any(n.endswith(".part") for n in files_seen)  # it read live files
            lines = proc.wait_for(lambda s: s.startswith("C"), timeout=30)
            total = int(lines[-1].split()[1])
            r.refresh()
            assert all(p.suffix == ".h5" for p in r.files)  # the .part files were renamed
            assert len(r.files) >= 3
            _check_prefix(r.read("acc"), total)
            assert r.read("acc").n_samples == total
            env = r.read("env")
            b = np.arange(total // 10)
            np.testing.assert_array_equal(env.times_ns, T0 + b * 100_000_000 + 1234)
            np.testing.assert_array_equal(env.data[:, 0], b.astype(np.float32))
    finally:
        proc.stop()


@pytest.mark.slow
def test_sigkill_loses_at_most_about_one_second(tmp_path):
    proc = _Proc(tmp_path, rollover_s=3600.0, max_blocks=100000)
    try:
        seen = proc.wait_for(lambda s: s.startswith("F") and int(s.split()[1]) >= 100)
        seen += proc.wait_for(lambda s: s.startswith("F"))
        time.sleep(0.4)  # kill somewhere inside a flush interval
        os.kill(proc.p.pid, signal.SIGKILL)
        t_kill = time.monotonic_ns()
        proc.p.wait(10)
        proc.t.join(5)
        seen += proc.drain()
    finally:
        proc.stop()
    flushed = max(int(s.split()[1]) for s in seen if s.startswith("F"))
    writes = [(int(s.split()[1]), int(s.split()[2])) for s in seen if s.startswith("W")]
    written = writes[-1][0]
    old = [rows for rows, t in writes if t < t_kill - 2_500_000_000]  # 1 s + scheduling slack
    parts = list(tmp_path.glob("*.h5.part"))
    assert len(parts) == 1
    with open_raw(parts[0]) as r:  # the stale live file opens on its own
        rec = r.read("acc")
        _check_prefix(rec, max([flushed] + old))
        assert rec.n_samples <= written
    with open_raw(tmp_path) as r:
        assert r.read("acc").n_samples == rec.n_samples
    # a new writer in the same folder never overwrites the stale file
    size = parts[0].stat().st_size
    with RawWriter(tmp_path, "live", [acc_spec(), env_spec()]) as w:
        w.write("acc", np.zeros((10, 3)), t0_ns=T0)
    assert parts[0].exists()
    assert parts[0].stat().st_size == size
    assert len(list(tmp_path.glob("live_*.h5"))) == 1


def test_rename_interrupted_after_the_link(tmp_path):
    """A writer stopped between link and unlink leaves x.h5 and x.h5.part: read once."""
    with RawWriter(tmp_path, "st", [acc_spec()]) as w:
        w.write("acc", np.ones((10, 3)), t0_ns=T0)
    final = next(tmp_path.glob("*.h5"))
    os.link(final, final.with_name(final.name + ".part"))
    with open_raw(tmp_path) as r:
        assert r.files == [final]
        assert r.read("acc").n_samples == 10


def test_in_process_reader_follows_writer(tmp_path):
    """The viewer may run the recorder in its own process: SWMR works in-process too."""
    w = RawWriter(tmp_path, "st", [acc_spec()], rollover_s=1.0)
    try:
        w.write("acc", det_block(0, 50, 3), t0_ns=T0)
        w.flush()
        with open_raw(tmp_path) as r:
            assert r.read("acc").n_samples == 50
            for b in range(1, 5):  # crosses two rollovers
                w.write("acc", det_block(50 * b, 50, 3), t0_ns=T0 + b * 500_000_000)
                w.flush()
                r.refresh()
                _check_prefix_any(r.read("acc"), 50 * (b + 1))
    finally:
        w.close()


def _check_prefix_any(rec, n: int) -> None:
    assert rec.n_samples == n
    np.testing.assert_array_equal(rec.data, det_block(0, n, 3))
    t = np.concatenate([sample_times(T0 + b * 500_000_000, 50, 100.0) for b in range(n // 50)])
    np.testing.assert_array_equal(rec.times_ns, t)
