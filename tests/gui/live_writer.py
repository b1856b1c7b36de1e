"""A stand-in for ``bshm acquire``: writes 16 ch x 1 kHz in real time.

Run as a script: ``python live_writer.py DIR SECONDS [FS] [N_CHANNELS] [--hold]``.
With ``--hold`` the file stays open after writing (a recorder whose device
went silent): the script prints ``written`` and then obeys stdin lines:
``reconnect`` (count a reconnect, flush, print ``ok``) and ``quit``.
Values are a deterministic function of the sample time, so a reader can
check what it got: channel k at time t is ``k + sin(2 pi 3 t)``.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def value(times_ns: np.ndarray, n_channels: int) -> np.ndarray:
    """The samples of every channel at the given times (n, n_channels) float32."""
    t = (np.asarray(times_ns, dtype=np.int64) % (10**9 * 1000)) / 1e9
    base = np.sin(2 * np.pi * 3.0 * t)
    return (base[:, None] + np.arange(n_channels)[None, :]).astype(np.float32)


def main() -> int:
    """Write blocks of 0.1 s, paced by the wall clock, then close."""
    from bshm.store import ChannelMeta, RawWriter, SourceSpec
    from bshm.timeutil import sample_times

    out, seconds = sys.argv[1], float(sys.argv[2])
    hold = "--hold" in sys.argv
    args = [a for a in sys.argv if a != "--hold"]
    fs = float(args[3]) if len(args) > 3 else 1000.0
    n_ch = int(args[4]) if len(args) > 4 else 16
    chans = tuple(
        ChannelMeta(f"A{k + 1:02d}", "acceleration", "m/s2", (4.0 * k, 0.0, 0.0), "z")
        for k in range(n_ch)
    )
    spec = SourceSpec("acc", "simulated", fs, chans)
    block = int(fs // 10)
    t0 = time.time_ns() // 10**8 * 10**8
    with RawWriter(out, "live-test", [spec], flush_interval_s=0.2) as w:
        k = 0
        while k * block < seconds * fs:
            start = t0 + k * 10**8
            delay = (start + 10**8 - time.time_ns()) / 1e9
            if delay > 0:
                time.sleep(delay)  # pacing like a real device, not synchronisation
            w.write("acc", value(sample_times(start, block, fs), n_ch), t0_ns=start)
            if k == 0:
                w.flush()
                print("started", flush=True)
            k += 1
        if hold:
            w.flush()
            print("written", flush=True)
            for line in sys.stdin:
                if line.strip() == "reconnect":
                    w.count("acc", "reconnects", 1)
                    w.flush()
                    print("ok", flush=True)
                elif line.strip() == "quit":
                    break
    return 0


if __name__ == "__main__":
    sys.exit(main())
