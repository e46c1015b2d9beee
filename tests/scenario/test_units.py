"""Units in scenario files: exact conversions, round trips, and error messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.scenario.units import (
    format_bandwidth,
    format_duration,
    format_rate,
    format_size,
    parse_bandwidth,
    parse_duration,
    parse_rate,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("250ms", 250.0),
        ("1.5s", 1500.0),
        ("2m", 120_000.0),
        ("1h", 3_600_000.0),
        ("1d", 86_400_000.0),
        ("500us", 0.5),
        ("500µs", 0.5),
        ("100ns", 0.0001),
        ("0", 0.0),
        ("5", 5.0),
        (" 30 s ", 30_000.0),
        ("1e3ms", 1000.0),
        ("-1", -1.0),
        (7, 7.0),
        (2.5, 2.5),
    ],
)
def test_parse_duration(text: object, ms: float) -> None:
    assert parse_duration(text) == pytest.approx(ms, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("200B", 200),
        ("16KiB", 16384),
        ("1MiB", 1_048_576),
        ("1MB", 1_000_000),
        ("1KB", 1000),
        ("1kb", 1000),
        ("1GiB", 2**30),
        ("1.5KiB", 1536),
        ("100", 100),
        (100, 100),
        (1e3, 1000),
    ],
)
def test_parse_size(text: object, n: int) -> None:
    assert parse_size(text) == n
    assert isinstance(parse_size(text), int)


@pytest.mark.parametrize(
    ("text", "per_s"),
    [
        ("1000/s", 1000.0),
        ("1k/s", 1000.0),
        ("2.5k/s", 2500.0),
        ("100/ms", 100_000.0),
        ("1M/s", 1_000_000.0),
        ("60/m", 1.0),
        ("3600/h", 1.0),
        ("50", 50.0),
        (50, 50.0),
        ("0/s", 0.0),
    ],
)
def test_parse_rate(text: object, per_s: float) -> None:
    assert parse_rate(text) == pytest.approx(per_s, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "bytes_per_ms"),
    [
        ("125MB/s", 125_000.0),
        ("1GiB/s", 2**30 / 1000),
        ("10Mbit/s", 1250.0),
        ("1Gbps", 125_000.0),
        ("8kbit/ms", 1000.0),
        ("1000", 1000.0),
    ],
)
def test_parse_bandwidth(text: object, bytes_per_ms: float) -> None:
    assert parse_bandwidth(text) == pytest.approx(bytes_per_ms, rel=1e-12)


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        (parse_duration, "5 parsecs", "unknown duration unit 'parsecs' in '5 parsecs'"),
        (parse_duration, "abc", "expected a duration such as '250ms', got 'abc'"),
        (parse_duration, True, "expected a duration such as '250ms', got True"),
        (parse_duration, None, "expected a duration such as '250ms', got None"),
        (parse_duration, "nans", "expected a duration such as '250ms', got 'nans'"),
        (parse_size, "1.5B", "size '1.5B' is not a whole number of bytes"),
        (parse_size, "3 bananas", "unknown size unit 'bananas' in '3 bananas'"),
        (parse_size, [1], "expected a size such as '16KiB', got [1]"),
        (parse_rate, "5/fortnight", "bad rate '5/fortnight'"),
        (parse_rate, "-1/s", "rate must be >= 0, got '-1/s'"),
        (parse_bandwidth, "10Mb/parsec", "bad bandwidth '10Mb/parsec'"),
        (parse_bandwidth, "1furlong/s", "unknown size unit 'furlong' in bandwidth"),
        (parse_bandwidth, 0, "bandwidth must be > 0, got 0"),
    ],
)
def test_bad_units(parse: object, value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse(value)  # type: ignore[operator]
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("ms", "text"), [(1500.0, "1500ms"), (2000.0, "2s"), (120_000.0, "2m"), (0.5, "0.5ms")]
)
def test_format_duration(ms: float, text: str) -> None:
    assert format_duration(ms) == text


def test_format_size() -> None:
    assert [format_size(n) for n in (16384, 10**6, 200, 0)] == ["16KiB", "1MB", "200B", "0B"]


durations = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)


@given(durations)
def test_duration_round_trip(ms: float) -> None:
    assert parse_duration(format_duration(ms)) == pytest.approx(ms, rel=1e-12)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["ns", "us", "ms", "s", "h"]))
def test_duration_units_scale(n: int, unit: str) -> None:
    factor = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3, "h": 3.6e6}[unit]
    assert parse_duration(f"{n}{unit}") == pytest.approx(n * factor, rel=1e-12)


@given(st.integers(min_value=0, max_value=2**50))
def test_size_round_trip(n: int) -> None:
    assert parse_size(format_size(n)) == n


@given(st.integers(min_value=0, max_value=2**20), st.sampled_from(["KiB", "MiB", "KB", "MB"]))
def test_size_units_exact(n: int, unit: str) -> None:
    factor = {"KiB": 1024, "MiB": 1024**2, "KB": 1000, "MB": 1000**2}[unit]
    assert parse_size(f"{n}{unit}") == n * factor


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_rate_round_trip(per_s: float) -> None:
    assert parse_rate(format_rate(per_s)) == pytest.approx(per_s, rel=1e-12)


@given(st.floats(min_value=1e-6, max_value=1e9, allow_nan=False))
def test_bandwidth_round_trip(bytes_per_ms: float) -> None:
    assert parse_bandwidth(format_bandwidth(bytes_per_ms)) == pytest.approx(bytes_per_ms, rel=1e-12)
