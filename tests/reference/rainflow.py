"""Plain-Python reference for rainflow counting (ASTM E1049-85, 5.4.4).

Slow and obviously correct: reversals first (with the conventions of
``bshm.analysis.rainflow``: first and last sample are reversals, a plateau's
reversal carries its last sample's index, fewer than 3 samples -> at most one
reversal), then the three-point stack rule on a Python list.
"""

from __future__ import annotations


def reversals(x: list[float]) -> list[tuple[int, float]]:
    """Return the reversal points ``(index, value)`` of ``x``."""
    n = len(x)
    if n < 2:
        return []
    out = [(0, x[0])]
    if n == 2:
        return out
    # collapse plateaus: keep (last index of each run of equal values, value)
    runs: list[tuple[int, float]] = []
    for i, v in enumerate(x[1:], start=1):
        if runs and runs[-1][1] == v:
            runs[-1] = (i, v)
        else:
            runs.append((i, v))
    # the initial slope is x[1] - x[0] (zero when they are equal: then the
    # first run cannot be a reversal)
    prev_slope = x[1] - x[0]
    for k in range(len(runs) - 1):
        slope = runs[k + 1][1] - runs[k][1]
        if prev_slope * slope < 0:
            out.append(runs[k])
        prev_slope = slope
    out.append((n - 1, x[-1]))
    return out


def cycles(x: list[float]) -> list[tuple[float, float, float, int, int]]:
    """Return ``(range, mean, count, i_start, i_end)`` in the order counted."""
    stack: list[tuple[int, float]] = []
    out = []
    for point in reversals(list(x)):
        stack.append(point)
        while len(stack) >= 3:
            big_x = abs(stack[-1][1] - stack[-2][1])
            big_y = abs(stack[-2][1] - stack[-3][1])
            if big_x < big_y:
                break
            if len(stack) == 3:
                (i1, a), (i2, b) = stack[0], stack[1]
                out.append((abs(a - b), 0.5 * (a + b), 0.5, i1, i2))
                del stack[0]
            else:
                (i1, a), (i2, b) = stack[-3], stack[-2]
                out.append((abs(a - b), 0.5 * (a + b), 1.0, i1, i2))
                del stack[-3:-1]
    for (i1, a), (i2, b) in zip(stack[:-1], stack[1:]):
        out.append((abs(a - b), 0.5 * (a + b), 0.5, i1, i2))
    return out
