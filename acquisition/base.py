"""The two protocols the acquisition parts meet at: :class:`Sink` and :class:`Driver`.

A driver reads one configured source (a serial digitizer, a Modbus
device) and pushes calibrated blocks, gaps and quality counters into a
sink. :class:`bshm.store.RawWriter` is a sink; the recorder hands drivers a
queue-backed sink so the HDF5 file has a single writer thread.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, runtime_checkable

from bshm.store import SourceSpec


@runtime_checkable
class Sink(Protocol):
    """Where a driver puts its data (same signatures as :class:`bshm.store.RawWriter`)."""

    def write(
        self,
        source: str,
        data: Any,
        *,
        t0_ns: int | None = None,
        times_ns: Any = None,
        device_t0_ns: int | None = None,
    ) -> None:
        """Append a block ``(n, n_channels)`` of calibrated samples of ``source``."""

    def add_gap(self, source: str, start_ns: int, end_ns: int, reason: str) -> None:
        """Record that ``source`` has no data in ``[start_ns, end_ns)``."""

    def count(self, source: str, name: str, n: int = 1) -> None:
        """Add ``n`` to the quality counter ``name`` of ``source``."""


@runtime_checkable
class Driver(Protocol):
    """One configured source, read in its own thread by :meth:`run`."""

    name: str

    def spec(self) -> SourceSpec:
        """The store description of the source."""

    def run(self, sink: Sink, stop: threading.Event) -> None:
        """Read until ``stop`` is set.

        Never raises for device trouble: counts it, records gaps and
        reconnects with back-off.
        """

    def status(self) -> dict:
        """Rate, frames ok/bad, gaps, last sample time, connected."""
