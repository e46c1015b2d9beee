"""Checker: exact anomaly counts on hand-made histories, and properties against a per-record
reference implementation."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.checker import EXAMPLE_LIMIT, check
from sim.analysis.recorder import Recorder

Frames = dict[str, pd.DataFrame]


class History:
    """Tiny builder of recorder rows for one topic-partition unless told otherwise."""

    def __init__(self) -> None:
        self.rec = Recorder("test", 1, "checker")
        self.offsets: dict[tuple[str, int], int] = {}
        self.batch = 0

    def produce(
        self,
        producer: str,
        seq: int,
        count: int,
        *,
        acks: str = "all",
        outcome: str = "acked",
        topic: str = "t",
        partition: int = 0,
        time_ms: float = 10.0,
        first: float = 0.0,
        last: float = 0.0,
    ) -> None:
        self.batch += 1
        self.rec.table("produce")(
            (
                time_ms,
                producer,
                topic,
                partition,
                self.batch,
                seq,
                count,
                100 * count,
                first,
                last,
                acks,
                outcome,
                "",
                -1,
                1,
            )
        )

    def log(
        self,
        producer: str,
        seq: int,
        count: int,
        *,
        topic: str = "t",
        partition: int = 0,
        committed: bool = True,
    ) -> int:
        base = self.offsets.get((topic, partition), 0)
        self.offsets[(topic, partition)] = base + count
        self.rec.table("log")(
            (topic, partition, 0, base, count, 0, producer, seq, 0.0, 0.0, committed)
        )
        return base

    def deliver(
        self,
        group: str,
        consumer: str,
        producer: str,
        seq: int,
        count: int,
        *,
        base_offset: int = 0,
        topic: str = "t",
        partition: int = 0,
    ) -> None:
        self.rec.table("deliveries")(
            (
                5.0,
                group,
                consumer,
                topic,
                partition,
                base_offset,
                count,
                producer,
                seq,
                0.0,
                0.0,
                4.0,
                5.0,
            )
        )

    def position(
        self,
        group: str,
        consumer: str,
        kind: str,
        old: int,
        new: int,
        *,
        topic: str = "t",
        partition: int = 0,
        time_ms: float = 0.0,
    ) -> None:
        self.rec.table("positions")(
            (time_ms, group, consumer, topic, partition, kind, old, new, "test")
        )

    def frames(self) -> Frames:
        return self.rec.frames()


def test_empty_history_has_no_anomalies() -> None:
    v = check(History().frames())
    assert v.ok
    assert v.counts() == dict.fromkeys(v.counts(), 0)
    assert check({}).ok


def test_lost_acked_batch_but_not_acks0() -> None:
    h = History()
    h.produce("p", 0, 10)
    h.produce("p", 10, 10, acks="1")  # lost
    h.produce("p", 20, 10, acks="0")  # absent, but acks=0 promised nothing
    h.produce("p", 30, 10, outcome="failed")  # absent, never acknowledged
    h.produce("p", 40, 10)
    h.log("p", 0, 10)
    h.log("p", 40, 10)
    v = check(h.frames())
    assert v.lost_acked_records == 10
    assert v.duplicated_records == 0
    assert v.reordered_records == 0
    assert v.examples["lost_acked_records"] == [
        {"producer": "p", "topic": "t", "partition": 0, "seq_start": 10, "seq_end": 20, "count": 10}
    ]


def test_partially_lost_batch_and_other_partition() -> None:
    h = History()
    h.produce("p", 0, 10)
    h.produce("p", 0, 10, partition=1)
    h.log("p", 0, 4)  # records 4..9 of partition 0 are gone
    h.log("p", 0, 10, partition=1)
    v = check(h.frames())
    assert v.lost_acked_records == 6
    assert v.examples["lost_acked_records"][0]["seq_start"] == 4


def test_duplicates_are_extra_copies_not_reorders() -> None:
    h = History()
    for seq in (0, 10, 20):
        h.produce("p", seq, 10)
    h.log("p", 0, 10)
    h.log("p", 10, 10)
    h.log("p", 0, 10)  # retried batch appended again (A4)
    h.log("p", 20, 10)
    h.log("p", 0, 10)  # and a third copy
    v = check(h.frames())
    assert v.duplicated_records == 20
    assert v.reordered_records == 0
    assert v.lost_acked_records == 0
    ex = v.examples["duplicated_records"]
    assert ex == [
        {"producer": "p", "topic": "t", "partition": 0, "seq_start": 0, "seq_end": 10, "count": 20}
    ]


def test_reorder_counts_the_overtaken_batch() -> None:
    h = History()
    h.produce("p", 0, 10)
    h.produce("p", 10, 10)
    h.log("p", 10, 10)  # batch 2 overtook batch 1 (A5)
    base = h.log("p", 0, 10)
    v = check(h.frames())
    assert v.reordered_records == 10
    assert v.duplicated_records == 0
    assert v.lost_acked_records == 0
    assert v.examples["reordered_records"] == [
        {
            "producer": "p",
            "topic": "t",
            "partition": 0,
            "seq_start": 0,
            "seq_end": 10,
            "count": 10,
            "base_offset": base,
            "highest_seq_before": 19,
        }
    ]


def test_reorder_mixed_with_duplicate_in_one_batch() -> None:
    h = History()
    h.log("p", 5, 10)  # seqs 5..14
    h.log("p", 0, 10)  # 0..4 reordered, 5..9 duplicates
    v = check(h.frames())
    assert v.reordered_records == 5
    assert v.duplicated_records == 5
    assert [(e["seq_start"], e["seq_end"]) for e in v.examples["reordered_records"]] == [(0, 5)]


def test_producers_and_partitions_are_judged_separately() -> None:
    h = History()
    h.log("a", 10, 10)
    h.log("b", 0, 10)  # another producer: not a reorder
    h.log("a", 0, 10, partition=1)
    v = check(h.frames())
    assert v.reordered_records == 0
    assert v.duplicated_records == 0


def test_duplicate_deliveries_per_group_and_standalone_consumer() -> None:
    h = History()
    h.log("p", 0, 100)
    h.position("g", "c-0", "init", -1, 0)
    h.deliver("g", "c-0", "p", 0, 60)
    h.deliver("g", "c-1", "p", 40, 60)  # 40..59 processed twice in group g (A6)
    h.deliver("other", "x-0", "p", 0, 100)  # another group reading everything: not a duplicate
    h.deliver("", "solo-0", "p", 0, 100)
    h.deliver("", "solo-1", "p", 0, 100)  # standalone consumers are readers on their own
    h.deliver("", "solo-1", "p", 90, 10)  # ...but solo-1 got 90..99 twice
    v = check(h.frames())
    assert v.records_consumed == 100
    assert v.duplicate_deliveries == 30
    assert v.unconsumed_records == 0
    groups = [(e["group"], e["consumer"], e["count"]) for e in v.examples["duplicate_deliveries"]]
    assert groups == [("", "solo-1", 10), ("g", "", 20)]


def test_unconsumed_records_from_first_init_position() -> None:
    h = History()
    h.log("p", 0, 100)  # offsets 0..99
    h.log("p", 100, 50, committed=False)  # above the final HW: never required
    h.position("g", "c-0", "init", -1, 20, time_ms=1.0)
    h.position("g", "c-1", "init", -1, 70, time_ms=9.0)  # later init, same group
    h.deliver("g", "c-0", "p", 20, 30, base_offset=20)  # 20..49
    h.deliver("g", "c-1", "p", 60, 40, base_offset=60)  # 60..99 ; 50..59 never processed (A7)
    v = check(h.frames())
    assert v.unconsumed_records == 10
    assert v.examples["unconsumed_records"] == [
        {
            "group": "g",
            "consumer": "",
            "producer": "p",
            "topic": "t",
            "partition": 0,
            "seq_start": 50,
            "seq_end": 60,
            "count": 10,
        }
    ]


def test_reader_without_init_starts_at_lowest_delivered_offset() -> None:
    h = History()
    h.log("p", 0, 50)
    h.log("q", 0, 50)  # offsets 50..99
    h.deliver("", "solo", "q", 10, 40, base_offset=60)
    h.deliver("", "solo", "p", 30, 10, base_offset=30)  # lowest delivered offset: 30
    h.log("p", 50, 10, partition=1)  # a partition nobody reads
    v = check(h.frames())
    assert v.unconsumed_records == 20  # p 40..49 and q 0..9 (offsets 40..59)
    assert v.records_consumed == 50


def test_skipped_records_from_offset_resets() -> None:
    h = History()
    h.position("g", "c-0", "init", -1, 0)
    h.position("g", "c-0", "reset", 120, 100, time_ms=5.0)  # back (truncation): 0 skipped
    h.position("g", "c-0", "reset", 100, 130, time_ms=6.0)  # latest: 30 skipped
    h.position("", "solo", "reset", 7, 12, time_ms=7.0)  # 5 skipped
    v = check(h.frames())
    assert v.skipped_records == 35
    assert [e["count"] for e in v.examples["skipped_records"]] == [30, 5]


def test_examples_are_capped_and_json_able() -> None:
    h = History()
    for i in range(30):
        h.produce("p", 20 * i, 10)  # every other range of 10 is lost
        h.log("p", 20 * i + 10, 10)
    v = check(h.frames())
    assert v.lost_acked_records == 300
    assert len(v.examples["lost_acked_records"]) == EXAMPLE_LIMIT
    d = json.loads(json.dumps(v.to_dict()))
    assert d["lost_acked_records"] == 300
    assert d["ok"] is False


# ---- properties against a per-record reference ------------------------------------------

Batch = tuple[str, int, int, int]  # producer, partition, seq_start, count


def reference(acked: list[Batch], log: list[Batch]) -> dict[str, int]:
    """Per-record definitions of contract C (log in offset order, one list for all partitions)."""
    acked_ids = {(p, t, s) for p, t, s0, n in acked for s in range(s0, s0 + n)}
    log_ids = Counter((p, t, s) for p, t, s0, n in log for s in range(s0, s0 + n))
    seen: set[tuple[str, int, int]] = set()
    highest: dict[tuple[str, int], int] = {}
    reordered = 0
    for p, t, s0, n in log:
        for s in range(s0, s0 + n):
            key = (p, t)
            if (p, t, s) not in seen and s < highest.get(key, -1):
                reordered += 1
            seen.add((p, t, s))
            highest[key] = max(highest.get(key, -1), s)
    return {
        "lost_acked_records": len(acked_ids - set(log_ids)),
        "duplicated_records": sum(c - 1 for c in log_ids.values()),
        "reordered_records": reordered,
    }


def build(acked: list[Batch], log: list[Batch]) -> Frames:
    h = History()
    for p, t, s, n in acked:
        h.produce(p, s, n, partition=t)
    for p, t, s, n in log:
        h.log(p, s, n, partition=t)
    return h.frames()


def judged(frames: Frames) -> dict[str, Any]:
    v = check(frames)
    return {
        k: v.counts()[k] for k in ("lost_acked_records", "duplicated_records", "reordered_records")
    }


batches = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]), st.integers(0, 1), st.integers(0, 40), st.integers(1, 8)
    ),
    max_size=12,
)


def sequential(sizes: list[int]) -> list[Batch]:
    out: list[Batch] = []
    seq = 0
    for n in sizes:
        out.append(("a", 0, seq, n))
        seq += n
    return out


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 20), max_size=15))
def test_log_equal_to_acked_batches_in_order_is_clean(sizes: list[int]) -> None:
    acked = sequential(sizes)
    v = check(build(acked, acked))
    assert v.ok
    assert v.counts()["lost_acked_records"] == 0


@settings(max_examples=40, deadline=None)
@given(batches, batches, st.randoms(use_true_random=False))
def test_shuffling_log_batches_keeps_lost_and_duplicated(
    acked: list[Batch], log: list[Batch], rnd: Any
) -> None:
    before = judged(build(acked, log))
    shuffled = list(log)
    rnd.shuffle(shuffled)
    after = judged(build(acked, shuffled))
    assert after["lost_acked_records"] == before["lost_acked_records"]
    assert after["duplicated_records"] == before["duplicated_records"]


@settings(max_examples=100, deadline=None)
@given(batches, batches)
def test_checker_matches_per_record_reference(acked: list[Batch], log: list[Batch]) -> None:
    assert judged(build(acked, log)) == reference(acked, log)


# ---- delivery anomalies against a per-record reference ---------------------------------

Reader = tuple[str, str]  # (group, consumer)
READERS: list[Reader] = [("g", "c-0"), ("g", "c-1"), ("", "solo")]


@st.composite
def consumption(
    draw: st.DrawFn,
) -> tuple[list[tuple[Batch, bool]], list[tuple[int, int]], list[tuple[int, int, int, int]]]:
    log = draw(
        st.lists(
            st.tuples(
                st.tuples(
                    st.sampled_from(["a", "b"]), st.just(0), st.integers(0, 30), st.integers(1, 6)
                ),
                st.booleans(),
            ),
            min_size=1,
            max_size=8,
        )
    )
    inits = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 40)), max_size=3))
    slices = draw(
        st.lists(
            st.tuples(
                st.integers(0, 2),
                st.integers(0, len(log) - 1),
                st.integers(0, 5),
                st.integers(1, 6),
            ),
            max_size=10,
        )
    )
    return log, inits, slices


def reader_of(i: int) -> Reader:
    g, c = READERS[i]
    return (g, "") if g else (g, c)


@settings(max_examples=50, deadline=None)
@given(consumption())
def test_delivery_anomalies_match_per_record_reference(case: Any) -> None:
    log, inits, slices = case
    h = History()
    bases = [h.log(p, s, n, committed=c) for (p, _, s, n), c in log]
    for t, (i, pos) in enumerate(inits):
        h.position(READERS[i][0], READERS[i][1], "init", -1, pos, time_ms=float(t))
    delivered: dict[Reader, Counter[tuple[str, int]]] = {}
    lowest: dict[Reader, int] = {}
    for i, j, skip, n in slices:
        (p, _, s, count), _c = log[j]
        skip = min(skip, count - 1)
        n = min(n, count - skip)
        base = bases[j] + skip
        h.deliver(READERS[i][0], READERS[i][1], p, s + skip, n, base_offset=base)
        r = reader_of(i)
        delivered.setdefault(r, Counter()).update((p, q) for q in range(s + skip, s + skip + n))
        lowest[r] = min(lowest.get(r, base), base)
    first_init: dict[Reader, int] = {}
    for i, pos in inits:
        first_init.setdefault(reader_of(i), pos)
    unconsumed = 0
    for r in sorted(set(first_init) | set(delivered)):
        start = first_init.get(r, lowest.get(r, 0))
        required = {
            (p, s + k)
            for ((p, _, s, n), c), b in zip(log, bases, strict=True)
            if c
            for k in range(n)
            if b + k >= start
        }
        unconsumed += len(required - set(delivered.get(r, Counter())))
    v = check(h.frames())
    assert v.duplicate_deliveries == sum(c - 1 for d in delivered.values() for c in d.values())
    assert v.records_consumed == len(set().union(*delivered.values()))
    assert v.unconsumed_records == unconsumed


def test_verdict_with_every_anomaly_is_json_able() -> None:
    h = History()
    h.produce("p", 0, 30)
    h.produce("p", 30, 5, acks="1")  # lost
    h.log("p", 10, 10)
    h.log("p", 0, 10)  # reordered
    h.log("p", 0, 10)  # duplicated
    h.log("p", 20, 10)
    h.position("g", "c-0", "init", -1, 0)
    h.position("g", "c-0", "reset", 3, 8, time_ms=2.0)
    h.deliver("g", "c-0", "p", 10, 10, base_offset=0)
    h.deliver("g", "c-1", "p", 10, 10, base_offset=0)
    v = check(h.frames())
    d = json.loads(json.dumps(v.to_dict()))
    assert {k: d[k] for k in v.counts()} == {
        "lost_acked_records": 5,
        "duplicated_records": 10,
        "reordered_records": 10,
        "records_consumed": 10,
        "duplicate_deliveries": 10,
        "unconsumed_records": 20,
        "skipped_records": 5,
    }
    assert all(d["examples"][k] for k in d["examples"])
