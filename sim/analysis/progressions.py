"""Exact percentiles of per-record values that form an arithmetic progression per table row.

Kafka batches carry only their first and max CreateTime, so the simulator interpolates record
create times linearly inside a batch (and processing completions linearly inside a delivery
slice). A row's per-record latencies are therefore ``first + step * i`` for i in 0..n-1. The
percentiles of all records are computed here *without* expanding the rows into one value per
record: memory stays proportional to the number of batches, not records (a minute of a busy
cluster is millions of records but a few hundred thousand batches).

Method: bisection on the value, counting the elements <= v over all rows in closed form, while
dropping rows that lie entirely below or above the search interval; once the interval is narrow,
the few elements still inside it are listed and sorted. Results equal numpy's default
('linear') percentile of the expanded values, up to floating-point rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["progression_percentiles"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

_BISECTIONS = 40  # after this the interval holds about one element per overlapping row


def progression_percentiles(
    first: FloatArray, step: FloatArray, counts: np.ndarray[Any, Any], qs: Sequence[float]
) -> list[float | None]:
    """numpy-'linear' percentiles ``qs`` (0..100) of the multiset of values
    ``first[r] + step[r] * i`` for every row r and i in ``range(counts[r])``. NaN rows and rows
    with no records are ignored; None when there are no values."""
    first = np.asarray(first, dtype=np.float64)
    step = np.asarray(step, dtype=np.float64)
    n = np.asarray(counts, dtype=np.int64)
    keep = (n > 0) & ~np.isnan(first) & ~np.isnan(step)
    first, step, n = first[keep], step[keep], n[keep]
    total = int(n.sum())
    if total == 0:
        return [None] * len(qs)
    # Ascending progressions: low + s * j, s >= 0.
    last = first + step * (n - 1)
    low = np.minimum(first, last)
    s = np.abs(step)
    s[n == 1] = 0.0
    out: list[float | None] = []
    cache: dict[int, float] = {}
    for q in qs:
        h = (total - 1) * q / 100.0
        k = math.floor(h)
        below = cache.setdefault(k, _kth(low, s, n, k))
        if h > k and k + 1 < total:
            above = cache.setdefault(k + 1, _kth(low, s, n, k + 1))
            out.append(below + (h - k) * (above - below))
        else:
            out.append(below)
    return out


def _count_le(v: float, low: FloatArray, s: FloatArray, n: np.ndarray[Any, Any]) -> int:
    """Number of elements <= v (element j of a row is low + s*j, computed the same way)."""
    flat = s <= 0  # all elements equal low
    with np.errstate(divide="ignore", invalid="ignore"):
        j = np.floor((v - low) / np.where(flat, 1.0, s))
    j = np.clip(j, -1, n - 1)
    # Fix floating-point rounding of the division against the exact element values.
    j = np.where((j + 1 < n) & (low + s * (j + 1) <= v), j + 1, j)
    j = np.where((j >= 0) & (low + s * np.maximum(j, 0) > v), j - 1, j)
    j = np.where(flat, np.where(low <= v, n - 1, -1), j)
    return int((j + 1).sum())


def _kth(low: FloatArray, s: FloatArray, n: np.ndarray[Any, Any], k: int) -> float:
    """The k-th smallest element (0-based) of all progressions."""
    high = low + s * (n - 1)
    lo = float(low.min()) - 1.0  # count_le(lo) = 0 <= k
    hi = float(high.max())  # count_le(hi) = total > k
    base = 0  # elements of rows dropped because they lie entirely at or below lo
    for _ in range(_BISECTIONS):
        mid = lo + (hi - lo) / 2.0
        if not lo < mid < hi:
            break
        if base + _count_le(mid, low, s, n) >= k + 1:
            hi = mid
        else:
            lo = mid
        # Rows entirely <= lo are counted once and dropped; rows entirely > hi never matter.
        done = high <= lo
        if done.any():
            base += int(n[done].sum())
        active = ~done & (low <= hi)
        if not active.all():
            low, s, n, high = low[active], s[active], n[active], high[active]
    # The answer lies in (lo, hi]: list the elements of the remaining rows there.
    skipped = base + _count_le(lo, low, s, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        j0 = np.where(s > 0, np.floor((lo - low) / np.where(s > 0, s, 1.0)), 0.0)
        j1 = np.where(s > 0, np.floor((hi - low) / np.where(s > 0, s, 1.0)), 0.0)
    j0 = np.clip(j0 - 1, 0, n - 1).astype(np.int64)
    j1 = np.clip(j1 + 1, 0, n - 1).astype(np.int64)
    widths = j1 - j0 + 1
    rows = np.repeat(np.arange(len(low)), widths)
    offsets = np.arange(int(widths.sum())) - np.repeat(np.cumsum(widths) - widths, widths)
    values = low[rows] + s[rows] * (j0[rows] + offsets)
    inside = np.sort(values[(values > lo) & (values <= hi)])
    index = min(max(k - skipped, 0), len(inside) - 1)
    return float(inside[index]) if len(inside) else hi
