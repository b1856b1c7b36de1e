"""Rainflow counting: exact agreement with the ``rainflow`` package 3.2, the
Numba kernel against the plain reference, and residue carry-over."""

from __future__ import annotations

import bshm.analysis.rainflow as rfmod
import numpy as np
import pytest
import rainflow as rf_pkg
from bshm.analysis.rainflow import Cycles, RainflowCounter, rainflow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import rainflow as ref


def _pkg(x: np.ndarray) -> list[tuple]:
    return [tuple(c) for c in rf_pkg.extract_cycles(np.asarray(x, dtype=np.float64))]


def _assert_same(ours: Cycles, theirs: list[tuple]) -> None:
    got = list(ours)
    assert len(got) == len(theirs)
    for a, b in zip(got, theirs):
        # exact equality: ranges, means, counts and indices
        assert a == tuple(b), (a, b)


def _real_shaped(rng: np.random.Generator, n: int) -> np.ndarray:
    """Strain-like: thermal drift + traffic events + noise, quantised."""
    t = np.arange(n) / 20.0
    x = 30.0 * np.sin(2 * np.pi * t / 3600.0) + rng.normal(0, 0.5, n)
    for start in rng.integers(0, n - 200, size=max(1, n // 400)):
        w = np.hanning(120) * rng.uniform(5, 60)
        x[start : start + 120] += w
    return np.round(x * 8) / 8  # quantisation gives plateaus


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 10, 101, 5000])
def test_matches_package_random(rng: np.random.Generator, n: int) -> None:
    x = rng.normal(size=n)
    _assert_same(rainflow(x), _pkg(x))


def test_matches_package_real_shaped_and_integer(rng: np.random.Generator) -> None:
    x = _real_shaped(rng, 20000)
    _assert_same(rainflow(x), _pkg(x))
    xi = rng.integers(-3, 4, size=3000)  # many plateaus and repeated values
    _assert_same(rainflow(xi), _pkg(xi))


@pytest.mark.parametrize(
    "x",
    [
        [0.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [1.0, 1.0, 1.0, 2.0, 2.0, 0.0, 0.0],
        [0.0, 5.0],
        [3.0],
        [0.0, 1.0, 1.0],
        [-2.0, 1.0, -3.0, 5.0, -1.0, 3.0, -4.0, 4.0, -2.0],  # ASTM Fig. 6 example
        [0.0, 2.0, 2.0, 2.0, 1.0, 1.0, 3.0, 3.0],
    ],
)
def test_edge_cases_match_package_and_reference(x: list[float]) -> None:
    _assert_same(rainflow(x), _pkg(np.array(x)))
    _assert_same(rainflow(x), ref.cycles(x))


def test_astm_example_hand_counted() -> None:
    # ASTM E1049-85 Fig. 6 load history: ranges and counts from the standard
    x = [-2.0, 1.0, -3.0, 5.0, -1.0, 3.0, -4.0, 4.0, -2.0]
    c = rainflow(x)
    hist: dict[float, float] = {}
    for r, _m, n, _a, _b in c:
        hist[r] = hist.get(r, 0.0) + n
    assert hist == {3.0: 0.5, 4.0: 1.5, 6.0: 0.5, 8.0: 1.0, 9.0: 0.5}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.integers(-5, 5).map(float),
            st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
        ),
        max_size=60,
    )
)
def test_hypothesis_package_reference_kernel(x: list[float]) -> None:
    ours = rainflow(x)
    _assert_same(ours, _pkg(np.array(x, dtype=np.float64)))
    _assert_same(ours, ref.cycles(x))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-4, 4).map(float), max_size=80),
    st.lists(st.integers(0, 80), max_size=6),
)
def test_hypothesis_pieces_equal_whole(x: list[float], cuts: list[int]) -> None:
    bounds = sorted({min(c, len(x)) for c in cuts})
    pieces = np.split(np.array(x, dtype=np.float64), bounds)
    rc = RainflowCounter()
    parts = [rc.feed(p) for p in pieces]
    parts.append(rc.finish())
    _assert_same(Cycles.concatenate(parts), ref.cycles(x))


def _histogram(c: Cycles, edges: np.ndarray) -> np.ndarray:
    h, _ = np.histogram(c.range, bins=edges, weights=c.count)
    return h


def test_ten_pieces_with_saved_state_equal_whole(rng: np.random.Generator) -> None:
    x = _real_shaped(rng, 40000)
    whole = rainflow(x)
    rc = RainflowCounter()
    parts = []
    for piece in np.array_split(x, 10):
        parts.append(rc.feed(piece))
        # save and restore the residue state between windows (as a job does)
        state = rc.state()
        rc = RainflowCounter.from_state(
            {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in state.items()}
        )
    parts.append(rc.finish())
    pieces = Cycles.concatenate(parts)
    # exactly the same cycles, same order and same global indices ...
    _assert_same(pieces, list(whole))
    # ... hence the same histogram; and the package agrees on the whole
    edges = np.linspace(0, whole.range.max() + 1, 41)
    np.testing.assert_array_equal(_histogram(pieces, edges), _histogram(whole, edges))
    _assert_same(whole, _pkg(x))
    # counting the pieces independently is NOT the same (residues lost)
    naive = Cycles.concatenate([rainflow(p) for p in np.array_split(x, 10)])
    assert not np.array_equal(_histogram(naive, edges), _histogram(whole, edges))


def test_residue_cycles_do_not_consume_state(rng: np.random.Generator) -> None:
    x = rng.normal(size=500)
    rc = RainflowCounter()
    closed = rc.feed(x)
    provisional = rc.residue_cycles()
    assert len(rc.residue()[0]) >= 1
    final = rc.finish()
    _assert_same(provisional, list(final))
    _assert_same(Cycles.concatenate([closed, final]), _pkg(x))
    with pytest.raises(ValueError, match="finish"):
        rc.feed(x)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="index 2"):
        rainflow([0.0, 1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="1-D"):
        rainflow(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="missing key"):
        RainflowCounter.from_state({"n_samples": 3})


def test_module_is_callable_and_float32_is_promoted(rng: np.random.Generator) -> None:
    x = rng.normal(size=300).astype(np.float32)
    _assert_same(rfmod(x), _pkg(x.astype(np.float64)))  # type: ignore[operator]
    assert rainflow(x).range.dtype == np.float64


def test_kernel_matches_reference_on_long_signal(rng: np.random.Generator) -> None:
    x = np.cumsum(rng.normal(size=20000))
    _assert_same(rainflow(x), ref.cycles(x.tolist()))


def test_public_name_is_callable(rng: np.random.Generator) -> None:
    import bshm.analysis

    x = rng.normal(size=100)
    # whether the package attribute resolves to the function (lazy export) or
    # to the submodule (after "import bshm.analysis.rainflow"), it counts
    _assert_same(bshm.analysis.rainflow(x), _pkg(x))


def test_results_kept_by_the_caller_are_never_overwritten(rng: np.random.Generator) -> None:
    # rainflow reuses its buffers between calls, but only when no earlier
    # result still refers to them
    a, b = rng.normal(size=5000), rng.normal(size=3000)
    ca = rainflow(a)
    saved = [arr.copy() for arr in (ca.range, ca.mean, ca.count, ca.i_start, ca.i_end)]
    rc = RainflowCounter()
    fed = rc.feed(b)
    fed_saved = fed.range.copy()
    cb = rainflow(b)
    for arr, old in zip((ca.range, ca.mean, ca.count, ca.i_start, ca.i_end), saved):
        np.testing.assert_array_equal(arr, old)
    np.testing.assert_array_equal(fed.range, fed_saved)
    _assert_same(ca, _pkg(a))
    _assert_same(cb, _pkg(b))
    del ca, fed
    for _ in range(3):  # with nothing kept, repeated calls still give the right answer
        _assert_same(rainflow(a), _pkg(a))
