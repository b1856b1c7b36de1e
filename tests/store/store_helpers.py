"""Helpers shared by the store tests (imported as ``store_helpers``)."""

from __future__ import annotations

import numpy as np

from bshm.store import ChannelMeta, SourceSpec
from bshm.timeutil import parse_time

T0 = parse_time("2026-03-01T10:00:00Z")
HOUR = 3600 * 10**9


def acc_spec(fs: float = 100.0, n: int = 3, name: str = "acc") -> SourceSpec:
    """A regular source with ``n`` acceleration channels."""
    chans = tuple(
        ChannelMeta(f"A{i:02d}", "acceleration", "m/s2", (6.0 * i, 0.0, 0.0), "z",
                    f"scale={i}e-06 offset=0")
        for i in range(1, n + 1)
    )
    return SourceSpec(name, "simulated", fs, chans)


def env_spec(fs: float = 1.0) -> SourceSpec:
    """A timestamped source with two temperatures."""
    chans = (ChannelMeta("T1", "temperature", "degC"), ChannelMeta("T2", "temperature", "degC"))
    return SourceSpec("env", "modbus-tcp", fs, chans, timing="timestamped")


def det_block(first_row: int, n: int, nch: int) -> np.ndarray:
    """Deterministic float32 samples: row r, column c -> r + c / 8 (exact in float32 for r < 2**20)."""
    r = np.arange(first_row, first_row + n, dtype=np.float64)[:, None]
    c = np.arange(nch, dtype=np.float64)[None, :] / 8.0
    return (r + c).astype(np.float32)
