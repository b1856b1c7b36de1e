"""The picking's small-array median gives ``np.median``'s bits (it replaced it)."""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis.picking import _median


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 17, 40, 41])
def test_median_equals_numpy_bit_for_bit(rng, n):
    for _ in range(200):
        x = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4)
        if rng.random() < 0.3:  # ties, as poles of equal frequency
            x[rng.integers(0, n, n // 2)] = x[0]
        got, want = _median(x), np.median(x)
        assert type(got) is type(want)
        assert got.tobytes() == want.tobytes(), (x, got, want)


def test_median_nan_and_empty():
    assert np.isnan(_median(np.array([1.0, np.nan, 3.0])))
    assert np.isnan(np.median(np.array([1.0, np.nan, 3.0])))
    assert np.isnan(_median(np.empty(0)))
    x = np.array([3.0, 1.0, 2.0, 10.0])
    assert _median(x) == 2.5 and np.array_equal(x, [3.0, 1.0, 2.0, 10.0])  # input untouched
