"""A writer process for the live-follow and SIGKILL tests.

Usage: ``python store_writer_proc.py DIR ROLLOVER_S MAX_BLOCKS``

Writes blocks of 10 samples (100 Hz, 3 channels) of known data
(``store_helpers.det_block``) starting at ``store_helpers.T0``, one block
every 20 ms of wall time, and one sample of a timestamped source "env"
per block (value ``[b, -b]`` at the block's time + 1234 ns). It reports on stdout, one line each:
``W <rows> <monotonic_ns>`` after each write returns, and
``F <rows> <monotonic_ns>`` whenever a flush has completed (``<rows>``:
samples written so far, all on disk once the flush line is printed).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from store_helpers import T0, acc_spec, det_block, env_spec  # noqa: E402

from bshm.store import RawWriter  # noqa: E402


def main() -> None:
    out, rollover_s, max_blocks = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    w = RawWriter(out, "live", [acc_spec(), env_spec(10.0)], rollover_s=rollover_s,
                  flush_interval_s=1.0)
    print("S", flush=True)
    rows = 0
    flushes = w.n_flushes
    for b in range(max_blocks):
        w.write("acc", det_block(rows, 10, 3), t0_ns=T0 + b * 100_000_000)
        w.write("env", np.array([[b, -b]], np.float32), times_ns=[T0 + b * 100_000_000 + 1234])
        rows += 10
        now = time.monotonic_ns()
        print("W", rows, now, flush=True)
        if w.n_flushes != flushes:
            flushes = w.n_flushes
            print("F", rows, now, flush=True)
        time.sleep(0.02)
    w.close()
    print("C", rows, flush=True)


if __name__ == "__main__":
    main()
