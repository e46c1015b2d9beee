"""Percentiles over arithmetic progressions equal numpy's percentiles of the expanded values."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.progressions import progression_percentiles


def expand(first: np.ndarray, step: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [f + s * np.arange(n) for f, s, n in zip(first, step, counts, strict=True)] or [[]]
    )


rows = st.lists(
    st.tuples(
        st.floats(-50, 50, allow_nan=False),
        st.sampled_from([0.0, 0.5, -0.25, 1.0 / 3.0, 2.0]),
        st.integers(0, 40),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(rows, st.lists(st.floats(0, 100), min_size=1, max_size=4))
def test_equals_numpy_percentile_of_expanded_values(data: list, qs: list[float]) -> None:
    first = np.array([r[0] for r in data])
    step = np.array([r[1] for r in data])
    counts = np.array([r[2] for r in data])
    values = expand(first, step, counts)
    got = progression_percentiles(first, step, counts, qs)
    if len(values) == 0:
        assert got == [None] * len(qs)
        return
    want = np.percentile(values, qs)
    assert np.allclose(np.array(got, dtype=float), want, rtol=0, atol=1e-9)


def test_a_hand_example() -> None:
    # rows: 1,2,3 and 10,10 -> sorted 1,2,3,10,10: median 3, p25 2, p100 10, p90 = 10.
    got = progression_percentiles(
        np.array([1.0, 10.0]), np.array([1.0, 0.0]), np.array([3, 2]), [50, 25, 100, 90]
    )
    assert got == [3.0, 2.0, 10.0, 10.0]


def test_large_input_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    first = rng.uniform(0, 30, 5000)
    step = rng.uniform(-0.2, 0.2, 5000)
    counts = rng.integers(1, 200, 5000)
    values = expand(first, step, counts)
    got = progression_percentiles(first, step, counts, [50, 99, 99.9])
    assert np.allclose(got, np.percentile(values, [50, 99, 99.9]), rtol=0, atol=1e-9)
