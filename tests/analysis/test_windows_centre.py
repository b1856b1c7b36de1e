"""The window's centred data and channel RMS are computed once, with np.std's bits.

``process_window`` used to compute the stored ``rms`` with ``np.std`` after
``check_quality`` had centred the same data for its own RMS; both now use
one ``_centre`` pass, which must give exactly (bit for bit) the numbers of
``np.std`` so that the stored results do not move.
"""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis.windows import QualitySettings, _centre, check_quality


@pytest.mark.parametrize("offset", [0.0, 9.81, -3e4, 1e8])
@pytest.mark.parametrize("n_ch", [1, 5, 12])
def test_centre_gives_the_bits_of_np_std(rng, offset, n_ch):
    x = offset + rng.standard_normal((60_000, n_ch)) * np.logspace(-3, 2, n_ch)
    x[::97] += 1e-7 * offset  # not a constant offset everywhere
    xc, rms = _centre(x)
    np.testing.assert_array_equal(rms, np.std(x, axis=0))
    np.testing.assert_array_equal(xc, x - x.mean(axis=0))


def test_check_quality_gives_the_same_verdict_with_the_window_centred_data(rng):
    q = QualitySettings(min_rms=0.5)
    fs = 50.0
    t = np.arange(30_000) / fs
    loud = np.sin(2 * np.pi * 2.0 * t)[:, None] + 0.1 * rng.standard_normal((t.size, 4))
    quiet = 0.01 * loud
    for x in (loud, quiet, rng.standard_normal((t.size, 4))):
        alone = check_quality(x, fs, q, band=(0.5, 15.0))
        shared = check_quality(x, fs, q, band=(0.5, 15.0), _centred=_centre(x))
        assert shared == alone
    assert check_quality(quiet, fs, q, band=(0.5, 15.0))[0] == "low_excitation"
    assert check_quality(loud, fs, q, band=(0.5, 15.0)) == ("", "")
