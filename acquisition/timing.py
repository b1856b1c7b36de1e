"""Alignment of a device's clock to the host clock.

A frame carries the device time of its first sample; the host knows when
it received the frame. For every frame, ``d = host_receive - device_end``
(``device_end``: device time of the frame's last sample) is the clock
offset plus a transport latency that is never negative. The smallest ``d``
seen is therefore the best estimate of the offset (the latency floor is
folded into it: it is the propagation delay a host timestamp would carry
anyway, typically well under a millisecond on a serial line).

The minima are kept per bucket of device time (10 s by default, the last
30 buckets = 5 minutes). Once at least three buckets spanning a minute
exist, a drift is estimated by least squares through the bucket minima, and
the offset is the lower envelope of the minima along that slope::

    host(t_dev) = t_dev + c + r * (t_dev - t_ref)

with ``r`` the drift (dimensionless; ppm = 1e6 r) and ``c`` the intercept
chosen so that no bucket minimum lies below the line. A jump of the device
clock of more than ``step_s`` (device reset, clock set) resets the estimate.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import numpy as np

from bshm.timeutil import NS_PER_S

log = logging.getLogger(__name__)


class ClockAligner:
    """Running estimate of host time as a function of device time.

    Parameters
    ----------
    bucket_s : float
        Length of a bucket of device time (s).
    n_buckets : int
        Buckets kept (the estimate follows changes within n_buckets * bucket_s).
    step_s : float
        A deviation larger than this from the current estimate resets it.
    """

    def __init__(self, *, bucket_s: float = 10.0, n_buckets: int = 30, step_s: float = 2.0):
        self.bucket_ns = int(bucket_s * NS_PER_S)
        self.n_buckets = int(n_buckets)
        self.step_ns = int(step_s * NS_PER_S)
        self._buckets: OrderedDict[int, tuple[int, int]] = OrderedDict()  # b -> (d_min, t_dev)
        self._t_ref = 0
        self._c = 0.0
        self._r = 0.0
        self.resets = 0

    @property
    def ready(self) -> bool:
        """True after the first update."""
        return bool(self._buckets)

    @property
    def offset_ns(self) -> float:
        """Current offset host - device at the reference time (ns)."""
        return self._c

    @property
    def drift_ppm(self) -> float:
        """Estimated rate error of the device clock (ppm; > 0: host runs faster)."""
        return self._r * 1e6

    def update(self, device_end_ns: int, host_receive_ns: int) -> None:
        """Add one observation: the device time of the newest sample and its arrival."""
        d = int(host_receive_ns) - int(device_end_ns)
        if self._buckets and abs(d - self._predict_offset(device_end_ns)) > self.step_ns:
            log.warning(
                "device clock jumped by %.3f s relative to the host: clock estimate reset",
                (d - self._predict_offset(device_end_ns)) / 1e9,
            )
            self._buckets.clear()
            self.resets += 1
        b = int(device_end_ns) // self.bucket_ns
        old = self._buckets.get(b)
        if old is None or d < old[0]:
            self._buckets[b] = (d, int(device_end_ns))
            while len(self._buckets) > self.n_buckets:
                self._buckets.popitem(last=False)
            self._fit()

    def _fit(self) -> None:
        vals = np.array(list(self._buckets.values()), dtype=np.float64)
        d, t = vals[:, 0], vals[:, 1]
        self._t_ref = int(t[-1])
        span = t.max() - t.min()
        if len(d) >= 3 and span >= 6 * self.bucket_ns:
            tt = t - self._t_ref
            r = np.polyfit(tt, d, 1)[0]
            self._r = float(r)
            self._c = float(np.min(d - r * tt))
        else:
            self._r = 0.0
            self._c = float(d.min())

    def _predict_offset(self, device_ns: int) -> float:
        return self._c + self._r * (int(device_ns) - self._t_ref)

    def to_host(self, device_ns: int) -> int:
        """Host time (ns) of a device time (ns); identity before the first update."""
        if not self._buckets:
            return int(device_ns)
        return int(device_ns) + int(round(self._predict_offset(device_ns)))
