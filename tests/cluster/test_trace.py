"""Exact traces of tiny runs: what happened at which simulated time (SimPy-style trace tests).

Every hop costs exactly 1 ms (constant latency, free request handling), so each line of the
expected trace can be checked by hand against kafka-semantics §2.2-2.3 and §4.1.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sim import run
from sim.scenario import load_scenario_text

ONE_RECORD = """
name: trace
duration: 1s
drain: 1s
cluster:
  brokers: 2
  request_handling: {per_request_ms: 0, per_byte_ms: 0}
network: {latency: 1ms}
topics:
  - {name: T, partitions: 1, replication.factor: 2, config: {min.insync.replicas: 2}}
producers:
  - name: p
    topic: T
    rate: 1/s
    arrival: constant
    start: 10ms
    record_size: 100B
    config: {acks: all, linger.ms: 0}
consumers:
  - name: c
    group: g
    topics: [T]
    commit: after-processing
    config: {auto.offset.reset: earliest}
"""


def trace(frames: dict[str, pd.DataFrame]) -> list[tuple[float, str, str]]:
    """(time, actor, event) for appends, acks, deliveries, HW moves and commits."""
    rows: list[tuple[float, str, str]] = []
    for r in frames["appends"].itertuples():
        rows.append(
            (
                r.time_ms,
                f"broker-{r.broker}",
                f"{r.role} append {r.topic}-{r.partition}@{r.base_offset}+{r.count}",
            )
        )
    for r in frames["produce"].itertuples():
        rows.append((r.time_ms, r.producer, f"{r.outcome} {r.topic}-{r.partition}@{r.base_offset}"))
    for r in frames["deliveries"].itertuples():
        rows.append(
            (r.end_ms, r.consumer, f"processed {r.topic}-{r.partition}@{r.base_offset}+{r.count}")
        )
    for r in frames["commits"].itertuples():
        rows.append(
            (r.time_ms, r.consumer, f"committed {r.topic}-{r.partition} next={r.offset} ok={r.ok}")
        )
    gauges = frames["gauges"]
    for r in gauges.loc[
        (gauges["metric"] == "high_watermark") & (gauges["value"] > 0)
    ].itertuples():
        rows.append((r.time_ms, r.entity, f"high watermark {int(r.value)}"))
    return sorted(rows)


@pytest.fixture(scope="module")
def one_record() -> dict[str, pd.DataFrame]:
    return run(load_scenario_text(ONE_RECORD, "trace.yaml"), out=None).frames


def test_produce_replicate_ack_fetch_commit(one_record: dict[str, pd.DataFrame]) -> None:
    # t=10 the record arrives; like KafkaProducer.send(), the first send waits for metadata
    #      (Metadata request to the bootstrap broker and back: t=10..12); linger.ms=0 then
    #      sends it at once.
    # t=13 the leader (broker-0) appends at offset 0; the follower's parked fetch returns.
    # t=14 the follower appends and sends its next fetch (fetch offset 1).
    # t=15 that fetch tells the leader the follower has offset 0: HW 0 -> 1; the parked
    #      acks=all produce and the consumer's parked fetch complete.
    # t=16 the producer gets its ack; the consumer gets the record (below the HW) and
    #      processes it (processing time 0).
    # t=18 commitSync of next offset 1 returns from the group coordinator (1 ms each way).
    assert trace(one_record) == [
        (13.0, "broker-0", "leader append T-0@0+1"),
        (14.0, "broker-1", "follower append T-0@0+1"),
        (15.0, "T-0", "high watermark 1"),
        (16.0, "c-0", "processed T-0@0+1"),
        (16.0, "p-0", "acked T-0@0"),
        (18.0, "c-0", "committed T-0 next=1 ok=True"),
    ]


def test_consumer_position_starts_at_earliest(one_record: dict[str, pd.DataFrame]) -> None:
    positions = one_record["positions"]
    # metadata (t=0..2), OffsetFetch from the coordinator (t=2..4): nothing committed, so
    # ListOffsets(earliest) at the leader (t=4..6) gives 0.
    assert positions[
        ["time_ms", "kind", "old_position", "new_position", "reason"]
    ].values.tolist() == [[6.0, "init", -1, 0, "earliest"]]


def test_committed_offset_gauge_at_coordinator(one_record: dict[str, pd.DataFrame]) -> None:
    gauges = one_record["gauges"]
    committed = gauges.loc[gauges["metric"] == "committed_offset"]
    assert committed[["time_ms", "entity", "value"]].values.tolist() == [[17.0, "g/T-0", 1.0]]


def test_acks_1_answers_after_the_leader_append() -> None:
    text = ONE_RECORD.replace("acks: all", "acks: 1")
    frames = run(load_scenario_text(text, "trace.yaml"), out=None).frames
    produce = frames["produce"]
    # Sent at 12, appended at 13, answered at once: acked at 14, two hops instead of four.
    assert produce[["time_ms", "outcome", "base_offset"]].values.tolist() == [[14.0, "acked", 0]]


def test_acks_0_completes_when_sent() -> None:
    text = ONE_RECORD.replace("acks: all", "acks: 0")
    frames = run(load_scenario_text(text, "trace.yaml"), out=None).frames
    produce = frames["produce"]
    # Complete as soon as it is written to the socket (t=12, after metadata), offset -1.
    assert produce[["time_ms", "outcome", "base_offset"]].values.tolist() == [[12.0, "acked", -1]]
    # The broker still appends and replicates it; it never answers.
    assert frames["appends"]["time_ms"].tolist() == [13.0, 14.0]
    assert frames["produce_requests"]["response_ms"].isna().tolist() == [True]
