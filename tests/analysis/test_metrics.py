"""Summary metrics: key list of contract C, exact hand-computed latencies and lag."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.metrics import (
    METRIC_KEYS,
    consumer_lag,
    delivery_e2e_latencies,
    evaluate_expectations,
    produce_latencies,
    summarize,
)
from sim.analysis.recorder import Recorder


def test_metric_keys_equal_scenario_summary_keys() -> None:
    from sim.scenario import SUMMARY_KEYS

    assert tuple(SUMMARY_KEYS) == METRIC_KEYS


def test_empty_run_gives_zero_counts_and_undefined_latencies() -> None:
    s = summarize(Recorder("r", 1, "s").frames())
    assert list(s) == list(METRIC_KEYS)
    assert s["records_sent"] == 0
    assert s["lost_acked_records"] == 0
    assert s["max_election_ms"] == 0.0
    assert s["max_consumer_lag"] is None
    for key in (
        "produce_latency_p50_ms",
        "produce_latency_p99_ms",
        "e2e_latency_p50_ms",
        "e2e_latency_p99_ms",
    ):
        assert s[key] is None
    assert summarize({}) == s


def latency_run() -> Recorder:
    rec = Recorder("r", 1, "s")
    p = rec.table("produce")
    # 3 records created at 0, 5, 10 and acknowledged at 20: latencies 20, 15, 10
    p((20.0, "p-0", "t", 0, 1, 0, 3, 300, 0.0, 10.0, "all", "acked", "", 0, 1))
    # 1 record created at 4, acknowledged at 9: latency 5
    p((9.0, "p-0", "t", 0, 2, 3, 1, 100, 4.0, 4.0, "1", "acked", "", 3, 1))
    # failed and unfinished batches: sent, no latency
    p((50.0, "p-0", "t", 0, 3, 4, 5, 500, 4.0, 4.0, "all", "failed", "DELIVERY_TIMEOUT", -1, 3))
    p((60.0, "p-0", "t", 0, 4, 9, 2, 200, 4.0, 4.0, "all", "unfinished", "", -1, 1))
    d = rec.table("deliveries")
    # 2 records created at 0 and 4, processed 100..120: done at 110 and 120 -> e2e 110, 116
    d((120.0, "g", "c-0", "t", 0, 0, 2, "p-0", 0, 0.0, 4.0, 100.0, 120.0))
    # 1 record created at 50 processed 60..62 -> e2e 12
    d((62.0, "g", "c-0", "t", 0, 2, 1, "p-0", 2, 50.0, 50.0, 60.0, 62.0))
    return rec


def test_record_counts() -> None:
    s = summarize(latency_run().frames())
    assert s["records_sent"] == 11
    assert s["records_acked"] == 4
    assert s["records_failed"] == 5
    assert s["records_unfinished"] == 2


def test_exact_latency_percentiles() -> None:
    s = summarize(latency_run().frames())
    # produce latencies sorted: 5, 10, 15, 20 (numpy linear interpolation)
    assert s["produce_latency_p50_ms"] == pytest.approx(12.5)
    assert s["produce_latency_p99_ms"] == pytest.approx(15 + 0.97 * 5)
    # e2e latencies sorted: 12, 110, 116
    assert s["e2e_latency_p50_ms"] == pytest.approx(110.0)
    assert s["e2e_latency_p99_ms"] == pytest.approx(110 + 0.98 * 6)
    lat, rows = produce_latencies(latency_run().frames()["produce"])
    assert lat.tolist() == [20.0, 15.0, 10.0, 5.0]
    assert rows.tolist() == [0, 0, 0, 1]
    e2e, _ = delivery_e2e_latencies(latency_run().frames()["deliveries"])
    assert e2e.tolist() == [110.0, 116.0, 12.0]


def test_elections_and_controller_failovers() -> None:
    rec = Recorder("r", 1, "s")
    e = rec.table("elections")
    e((1100.0, "t", 0, 1000.0, 1100.0, 1, 2, 1, "clean", "broker-1 fenced"))
    e((9000.0, "t", 1, 6500.0, 9000.0, 2, 0, 4, "unclean", "no ISR member alive"))
    rec.table("controller_elections")((800.0, 500.0, 800.0, 0, 1, 2, "kraft"))
    s = summarize(rec.frames())
    assert s["elections"] == 2
    assert s["unclean_elections"] == 1
    assert s["max_election_ms"] == 2500.0
    assert s["offline_partition_ms"] == 2600.0
    assert s["controller_failovers"] == 1
    assert s["max_controller_failover_ms"] == 300.0


def test_produce_error_counts() -> None:
    rec = Recorder("r", 1, "s")
    r = rec.table("produce_requests")
    for err in ("", "NOT_LEADER_OR_FOLLOWER", "REQUEST_TIMEOUT", "NOT_LEADER_OR_FOLLOWER", ""):
        r((1.0, 2.0, "p-0", 1, "t", 0, 1, 1, err))
    s = summarize(rec.frames())
    extra = {k: v for k, v in s.items() if k.startswith("produce_errors.")}
    assert extra == {
        "produce_errors.NOT_LEADER_OR_FOLLOWER": 2,
        "produce_errors.REQUEST_TIMEOUT": 1,
    }
    assert list(s)[: len(METRIC_KEYS)] == list(METRIC_KEYS)


def lag_run(with_commits: bool = True) -> Recorder:
    rec = Recorder("r", 1, "s")
    g = rec.table("gauges")
    g((0.0, "t-0", "high_watermark", 0))
    g((10.0, "t-0", "high_watermark", 100))
    g((20.0, "t-0", "high_watermark", 120))
    g((20.0, "t-0", "high_watermark", 150))  # same instant: the last value counts
    g((40.0, "t-0", "high_watermark", 200))
    g((40.0, "t-0", "log_end_offset", 900))  # LEO is not what lag is measured against
    g((5.0, "t-1", "high_watermark", 10_000))  # nobody reads t-1
    g((5.0, "c-0/t-0", "position", 0))
    g((12.0, "c-0/t-0", "position", 100))
    if with_commits:
        g((15.0, "g/t-0", "committed_offset", 50))
        g((30.0, "g/t-0", "committed_offset", 140))
        g((50.0, "h/t-0", "committed_offset", 200))
    return rec


def test_max_consumer_lag_from_hw_and_committed_steps() -> None:
    # g from its first commit at 15: 100-50=50 @15, 150-50=100 @20, 150-140=10 @30, 200-140=60 @40
    frames = lag_run().frames()
    lag = consumer_lag(frames)
    g = lag.loc[lag["owner"] == "g"]
    assert g["time_ms"].tolist() == [15.0, 20.0, 30.0, 40.0]
    assert g["lag"].tolist() == [50.0, 100.0, 10.0, 60.0]
    h = lag.loc[lag["owner"] == "h"]
    assert h["lag"].tolist() == [0.0]
    assert set(lag["source"]) == {"committed"}
    assert summarize(frames)["max_consumer_lag"] == 100.0


def test_max_consumer_lag_falls_back_to_positions() -> None:
    frames = lag_run(with_commits=False).frames()
    lag = consumer_lag(frames)
    # c-0 from 5: 0-0 @5, 100-0 @10, 100-100 @12, 150-100 @20, 200-100 @40
    assert lag["lag"].tolist() == [0.0, 100.0, 0.0, 50.0, 100.0]
    assert set(lag["source"]) == {"position"}
    assert summarize(frames)["max_consumer_lag"] == 100.0


@dataclass(frozen=True)
class Expect:
    key: str
    op: str
    value: float


def test_evaluate_expectations() -> None:
    summary = {
        "lost_acked_records": 0,
        "max_election_ms": 12_000.0,
        "e2e_latency_p99_ms": None,
        "produce_errors.REQUEST_TIMEOUT": 3,
    }
    got = evaluate_expectations(
        summary,
        [
            ("lost_acked_records", "==", 0),
            ("max_election_ms", "<", 10_000),
            Expect("e2e_latency_p99_ms", "<", 100),
            ("produce_errors.NOT_LEADER_OR_FOLLOWER", "==", 0),
            ("produce_errors.REQUEST_TIMEOUT", ">=", 1),
            ("max_election_ms", "!=", 0),
        ],
    )
    assert [r["ok"] for r in got] == [True, False, False, True, True, True]
    assert got[1] == {
        "key": "max_election_ms",
        "op": "<",
        "expected": 10_000,
        "actual": 12_000.0,
        "ok": False,
    }
    assert got[3]["actual"] == 0
    with pytest.raises(ValueError, match="unknown operator"):
        evaluate_expectations(summary, [("lost_acked_records", "=>", 0)])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 6), st.floats(0, 100), st.floats(0, 50), st.floats(0, 50)),
        min_size=1,
        max_size=8,
    )
)
def test_vectorised_latencies_match_a_loop(batches: list[tuple[int, float, float, float]]) -> None:
    rec = Recorder("r", 1, "s")
    expected = []
    for i, (n, first, spread, wait) in enumerate(batches):
        last = first + spread
        done = last + wait
        rec.table("produce")((done, "p", "t", 0, i, 0, n, 0, first, last, "all", "acked", "", 0, 1))
        for j in range(n):
            create = first if n == 1 else first + (last - first) * j / (n - 1)
            expected.append(done - create)
    lat, _ = produce_latencies(rec.frames()["produce"])
    np.testing.assert_allclose(lat, expected, rtol=1e-12, atol=1e-9)
