"""Produce unavailability and stalls (``max_produce_unavailability_ms`` per partition,
``max_producer_stall_ms`` per producer instance, ``records_unfinished``): exact hand-computed
tables, a property against a brute-force reference, and scenario regressions (issue 9 §3:
failed batches are unavailability; issue 14: a stalled producer beside a healthy one)."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import run
from sim.analysis.metrics import produce_unavailability, producer_stall, summarize
from sim.analysis.recorder import TABLES, ensure_tables
from sim.scenario import load_scenario_text

Batch = tuple[
    str, int, float, float, str, str
]  # producer, partition, created, done, outcome, error


def produce_frame(batches: list[Batch], *, typed: bool = True) -> pd.DataFrame:
    """A produce table (contract columns; contract dtypes when ``typed``) with one record per
    batch."""
    rows = []
    for i, (producer, partition, created, done, outcome, error) in enumerate(batches):
        offset = i if outcome == "acked" else -1
        row = (done, producer, "t", partition, i, i, 1, 100, created, created, "all", outcome)
        rows.append((*row, error, offset, 1))
    frame = pd.DataFrame(rows, columns=list(TABLES["produce"]))
    return ensure_tables({"produce": frame})["produce"] if typed else frame


def test_failed_batches_keep_the_partition_unavailable_until_the_next_acknowledgement() -> None:
    # retries: 0 through a 5.6 s window without a leader: every batch fails within 3 ms, the
    # first acknowledgement comes at 5,700. Before the fix: 5,700 - 5,690 = 10 ms.
    batches: list[Batch] = [("p-0", 0, 0.0, 2.0, "acked", "")]
    batches += [
        ("p-0", 0, t, t + 3.0, "failed", "NOT_LEADER_OR_FOLLOWER") for t in range(100, 5600, 100)
    ]
    batches.append(("p-0", 0, 5690.0, 5700.0, "acked", ""))
    frame = produce_frame(batches)
    assert produce_unavailability(frame) == 5600.0
    assert producer_stall(frame) == 5600.0


def test_records_that_never_finish_wait_until_the_end_of_the_run() -> None:
    batches: list[Batch] = [
        ("p-0", 0, 0.0, 2.0, "acked", ""),
        ("p-0", 0, 1000.0, 9000.0, "unfinished", ""),
        ("p-0", 1, 1000.0, 1004.0, "acked", ""),
    ]
    frame = produce_frame(batches)
    assert produce_unavailability(frame) == 8000.0
    # p-0 had records waiting on partition 0, but partition 1 acknowledged one at 1,004.
    assert producer_stall(frame) == 8000.0 - 4.0
    summary = summarize({"produce": frame})
    assert summary["records_unfinished"] == 1
    assert summary["records_failed"] == 0


def test_failures_without_a_later_acknowledgement_count_to_the_last_outcome() -> None:
    batches: list[Batch] = [
        ("p-0", 0, 0.0, 2.0, "acked", ""),
        ("p-0", 0, 100.0, 30100.0, "failed", "DELIVERY_TIMEOUT"),
        ("p-0", 0, 200.0, 200.5, "failed", "NOT_LEADER_OR_FOLLOWER"),
    ]
    assert produce_unavailability(produce_frame(batches)) == 30100.0 - 100.0


def test_a_producer_crash_is_not_partition_unavailability() -> None:
    # The producer dies at 1,000 with a batch in flight; it restarts and writes again at 3,000.
    batches: list[Batch] = [
        ("p-0", 0, 980.0, 990.0, "acked", ""),
        ("p-0", 0, 995.0, 1000.0, "failed", "PRODUCER_CRASHED"),
        ("p-0", 0, 3000.0, 3010.0, "acked", ""),
    ]
    frame = produce_frame(batches)
    assert produce_unavailability(frame) == 10.0
    assert producer_stall(frame) == 10.0


def test_a_stalled_producer_beside_a_healthy_one() -> None:
    # "slow" waits 40 s for one batch on partition 0 while "fast" is acknowledged there every
    # 100 ms: the partition is available, the producer is stalled.
    batches: list[Batch] = [("slow-0", 0, 1000.0, 41000.0, "acked", "")]
    batches += [("fast-0", 0, t, t + 2.0, "acked", "") for t in range(0, 45000, 100)]
    frame = produce_frame(batches)
    assert produce_unavailability(frame) == 100.0
    assert producer_stall(frame) == 40000.0


def test_empty_and_healthy() -> None:
    assert produce_unavailability(produce_frame([])) == 0.0
    assert producer_stall(produce_frame([])) == 0.0
    frame = produce_frame([("p-0", 0, t, t + 3.0, "acked", "") for t in (0.0, 10.0, 20.0)])
    assert produce_unavailability(frame) == producer_stall(frame) == 3.0


def reference_stall(batches: list[Batch]) -> float:
    """Brute force over the elementary intervals between all distinct instants, as defined in
    results/README.md: waiting records and no acknowledgement."""
    if not batches:
        return 0.0
    acks = sorted(done for _, _, _, done, outcome, _ in batches if outcome == "acked")
    last = max(done for _, _, _, done, _, _ in batches)
    spans = []
    for _, _, created, done, outcome, error in batches:
        until = done
        if outcome == "failed" and error != "PRODUCER_CRASHED":
            later = [a for a in acks if a >= done]
            until = later[0] if later else last
        spans.append((created, until))
    points = sorted({t for span in spans for t in span} | set(acks))
    longest = current = 0.0
    for a, b in itertools.pairwise(points):
        if a in acks:
            current = 0.0
        if any(c <= a and b <= u for c, u in spans):
            current += b - a
            longest = max(longest, current)
        else:
            current = 0.0
    return longest


batch_strategy = st.tuples(
    st.integers(0, 60),
    st.integers(0, 40),
    st.sampled_from(["acked", "failed", "unfinished", "crashed"]),
    st.integers(0, 1),
    st.integers(0, 1),
)


def reference_by(batches: list[Batch], column: int) -> float:
    groups = sorted({b[column] for b in batches})
    return max(
        (reference_stall([b for b in batches if b[column] == g]) for g in groups), default=0.0
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(batch_strategy, max_size=12))
def test_stall_matches_the_brute_force_reference(raw: list[tuple[int, int, str, int, int]]) -> None:
    batches: list[Batch] = []
    for created, duration, kind, producer, partition in raw:
        outcome, error = kind, ""
        if kind == "crashed":
            outcome, error = "failed", "PRODUCER_CRASHED"
        elif kind == "failed":
            error = "DELIVERY_TIMEOUT"
        done = float(created + duration)
        batches.append((f"p-{producer}", partition, float(created), done, outcome, error))
    frame = produce_frame(batches, typed=False)
    assert produce_unavailability(frame) == reference_by(batches, 1)
    assert producer_stall(frame) == reference_by(batches, 0)


# -- scenarios ----------------------------------------------------------------------------------


def run_text(text: str) -> Any:
    return run(load_scenario_text(text, "stalls.yaml"), out=None)


def test_retries_zero_through_a_failover_is_counted_as_unavailability() -> None:
    # The leader of T-0 crashes at 10 s; with retries: 0 every batch sent to the dead leader or
    # answered NOT_LEADER_OR_FOLLOWER fails at once, until the new leader (KRaft fencing,
    # ~7-9 s later) is known. No acknowledgement on T-0 in between: that is the unavailability.
    result = run_text(
        """
name: stalls
seed: 1
duration: 30s
drain: 5s
cluster: {brokers: 3}
network: {latency: 1ms}
topics:
  - {name: T, partitions: 1, replication.factor: 3, assignment: [[0, 1, 2]]}
producers:
  - {name: p, topic: T, rate: 200/s, config: {acks: all, linger.ms: 5, retries: 0}}
faults:
  - {at: 10s, action: crash, target: broker-0}
"""
    )
    election = result.frames["elections"].iloc[0]
    window = election.end_ms - election.start_ms
    summary = result.summary
    assert summary["records_failed"] > 0
    assert summary["max_produce_unavailability_ms"] >= window
    assert summary["max_produce_unavailability_ms"] <= window + 2000.0
    assert summary["max_producer_stall_ms"] == summary["max_produce_unavailability_ms"]
    assert summary["records_unfinished"] == 0


def test_a_40s_producer_stall_beside_a_healthy_producer() -> None:
    # broker-2 (a follower) is cut off from the leader broker-0 at 5 s. "careful" (acks=all)
    # waits for broker-2 until the leader drops it from the ISR (replica.lag.time.max.ms 30 s,
    # checked every 15 s); "quick" (acks=1) on the same partition is acknowledged throughout.
    result = run_text(
        """
name: stalls
seed: 1
duration: 60s
drain: 5s
cluster: {brokers: 3}
network: {latency: 1ms}
topics:
  - {name: T, partitions: 1, replication.factor: 3, assignment: [[0, 1, 2]]}
producers:
  - {name: careful, topic: T, rate: 50/s, config: {acks: all, linger.ms: 5}}
  - {name: quick, topic: T, rate: 50/s, config: {acks: 1, linger.ms: 5}}
faults:
  - {at: 5s, action: partition, groups: [[broker-0], [broker-2]]}
"""
    )
    summary = result.summary
    assert summary["max_producer_stall_ms"] >= 30000.0
    assert summary["max_producer_stall_ms"] <= 46000.0
    assert summary["max_produce_unavailability_ms"] < 1000.0
    produce: pd.DataFrame = result.frames["produce"]
    assert set(produce.outcome) == {"acked"}
    assert summary["records_unfinished"] == 0
