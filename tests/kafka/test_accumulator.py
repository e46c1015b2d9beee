"""RecordAccumulator: node readiness, node drain, drain index, muting, backoff, expiry.

Most tests port a case of Kafka's own ``RecordAccumulatorTest`` (clients module,
``org.apache.kafka.clients.producer.internals``); each says which. Kafka's fixture: topic "test",
tp1 = partition 0 and tp2 = partition 1 led by node1 (id 0), tp3 = partition 2 led by node2
(id 1); ``MockTime`` starting at 0. Kafka appends records of a serialized size near 15 bytes;
here every record has a fixed ``record_size`` (16 bytes unless said), and sizes are chosen so
each test keeps the meaning of Kafka's ("just short of a full batch", "one batch per request").
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kafka.accumulator import (
    RECORD_BATCH_OVERHEAD,
    RETRY_BACKOFF_JITTER,
    ProducerBatch,
    RecordAccumulator,
    retry_backoff_ms,
)

NODE1, NODE2 = 0, 1
TP1, TP2, TP3, TP4 = 0, 1, 2, 3
LEADERS = [NODE1, NODE1, NODE2]  # tp1, tp2 on node1; tp3 on node2
RECORD = 16
BIG = 2**31 - 1  # Integer.MAX_VALUE


def accumulator(
    *,
    batch_size: int,
    linger_ms: float,
    leaders: list[int | None] | None = None,
    epochs: list[int] | None = None,
    record_size: int = RECORD,
    delivery_timeout_ms: float = 3200,
    **kwargs: bool,
) -> RecordAccumulator:
    """``createTestRecordAccumulator``: deliveryTimeoutMs 3200 unless said."""
    leaders = LEADERS if leaders is None else leaders
    acc = RecordAccumulator(
        len(leaders),
        batch_size=batch_size,
        record_size=record_size,
        linger_ms=linger_ms,
        delivery_timeout_ms=delivery_timeout_ms,
        **kwargs,
    )
    acc.update_metadata(leaders, epochs or [0] * len(leaders))
    return acc


def append(acc: RecordAccumulator, partition: int, now: float, n: int = 1) -> None:
    acc.append(partition, np.full(n, float(now)))


def drain_nodes(
    acc: RecordAccumulator, nodes: list[int], max_size: int, now: float
) -> dict[int, list[ProducerBatch]]:
    """``RecordAccumulator.drain(metadata, nodes, maxSize, now)``: one drain per node."""
    return {node: acc.drain(node, max_size, now) for node in sorted(nodes)}


def partitions(drained: dict[int, list[ProducerBatch]]) -> list[int]:
    return [batch.partition for node in sorted(drained) for batch in drained[node]]


def backoff(attempts: int, base: float, maximum: float, high: bool) -> float:
    """A KIP-580 backoff at the top (or bottom) of its ±20 % jitter."""
    return retry_backoff_ms(attempts, base, maximum, math.nextafter(1.0, 0.0) if high else 0.0)


def test_drain_batches_rotates_the_per_node_drain_index() -> None:
    # Port of testDrainBatches: node1(tp1, tp2), node2(tp3, tp4); batch.size holds one record and
    # maxSize is one batch, so every request carries one batch, and the drain index must move
    # to the next partition (then back), skipping a muted one.
    value = 5
    batch_size = value + RECORD_BATCH_OVERHEAD
    acc = accumulator(
        batch_size=batch_size, linger_ms=10, leaders=[NODE1, NODE1, NODE2, NODE2], record_size=5
    )
    for tp in (TP1, TP2, TP3, TP4):
        append(acc, tp, 0)
    # node1 => tp1, node2 => tp3: the max request size is full after the first batch drained
    assert partitions(drain_nodes(acc, [NODE1, NODE2], batch_size, 0)) == [TP1, TP3]
    append(acc, TP1, 0)
    append(acc, TP3, 0)
    # The drain index starts from the next partition: node1 => tp2, node2 => tp4
    assert partitions(drain_nodes(acc, [NODE1, NODE2], batch_size, 0)) == [TP2, TP4]
    # And in the next run from the beginning again
    assert partitions(drain_nodes(acc, [NODE1, NODE2], batch_size, 0)) == [TP1, TP3]
    for tp in (TP2, TP3, TP4):
        append(acc, tp, 0)
    acc.muted[TP4] = True  # mutePartition(tp4)
    # node1 => tp2, node2 => tp3 (because tp4 is muted)
    assert partitions(drain_nodes(acc, [NODE1, NODE2], batch_size, 0)) == [TP2, TP3]
    for tp in (TP1, TP2, TP3):
        append(acc, tp, 0)
    acc.muted[TP4] = False
    # maxSize as a max value: all partitions of both nodes are drained
    assert partitions(drain_nodes(acc, [NODE1, NODE2], BIG, 0)) == [TP1, TP2, TP3, TP4]


def test_full_batch_makes_its_node_ready() -> None:
    # Port of testFull: 1,025 bytes of room take 64 records of 16 bytes and are not full
    # (1,024 bytes); the 65th opens a second batch, which makes the leader ready.
    acc = accumulator(batch_size=1025 + RECORD_BATCH_OVERHEAD, linger_ms=10)
    appends = 1025 // RECORD
    for i in range(appends):
        append(acc, TP1, 0)
        assert len(acc.deques[TP1]) == 1
        assert acc.ready(0).ready_nodes == [], f"no partition should be ready after {i + 1}"
    append(acc, TP1, 0)
    assert len(acc.deques[TP1]) == 2
    assert acc.ready(0).ready_nodes == [NODE1]
    (batch,) = acc.drain(NODE1, BIG, 0)
    assert batch.count == appends


def test_a_batch_that_fills_batch_size_exactly_is_ready_at_once() -> None:
    # MemoryRecordsBuilder.isFull: bytes written reach the write limit (not a Kafka test case).
    acc = accumulator(batch_size=64 * RECORD + RECORD_BATCH_OVERHEAD, linger_ms=10)
    append(acc, TP1, 0, 63)
    assert acc.ready(0).ready_nodes == []
    append(acc, TP1, 0)
    assert acc.ready(0).ready_nodes == [NODE1]
    assert acc.deques[TP1][0].full


def test_linger() -> None:
    # Port of testLinger.
    acc = accumulator(batch_size=1024 + RECORD_BATCH_OVERHEAD, linger_ms=10)
    append(acc, TP1, 0)
    assert acc.ready(0).ready_nodes == [], "No partitions should be ready"
    assert acc.ready(10).ready_nodes == [NODE1], "Our partition's leader should be ready"
    (batch,) = acc.drain(NODE1, BIG, 0)
    assert batch.count == 1
    assert (batch.partition, batch.seq_start) == (TP1, 0)


def test_partial_drain() -> None:
    # Port of testPartialDrain: two partitions of node1 with more than a batch each; a request
    # of at most 1,024 bytes carries one batch only.
    acc = accumulator(batch_size=1024 + RECORD_BATCH_OVERHEAD, linger_ms=10)
    appends = 1024 // RECORD + 1
    for tp in (TP1, TP2):
        append(acc, tp, 0, appends)
    assert acc.ready(0).ready_nodes == [NODE1], "Partition's leader should be ready"
    batches = acc.drain(NODE1, 1024, 0)
    assert len(batches) == 1, "But due to size bound only one partition should have been retrieved"


def test_next_ready_check_delay() -> None:
    # Port of testNextReadyCheckDelay (records do not fill the batch).
    linger = 10
    acc = accumulator(batch_size=1025 + RECORD_BATCH_OVERHEAD, linger_ms=linger)
    appends = 1025 // RECORD
    append(acc, TP1, 0, appends)  # partition on node1 only
    result = acc.ready(0)
    assert result.ready_nodes == [], "No nodes should be ready."
    assert result.next_ready_check_ms - 0 == linger, "Next check time should be the linger time"
    now = linger / 2
    append(acc, TP3, now, appends)  # partition on node2 only
    result = acc.ready(now)
    assert result.ready_nodes == []
    assert result.next_ready_check_ms - now == linger / 2, "defined by node1, half the linger"
    append(acc, TP2, now, appends + 1)  # node1: enough to make data sendable immediately
    result = acc.ready(now)
    assert result.ready_nodes == [NODE1], "Node1 should be ready"
    # Kafka asserts "at most linger time": here exactly node2's full linger.
    assert result.next_ready_check_ms - now == linger


@pytest.mark.parametrize("high", [False, True])
def test_retry_backoff(high: bool) -> None:
    # Port of testRetryBackoff: a re-enqueued batch of tp1 backs off while tp2 drains, then
    # drains after the backoff's upper bound.
    linger = BIG // 16
    retry_backoff = BIG // 8
    acc = accumulator(
        batch_size=1024 + RECORD_BATCH_OVERHEAD, linger_ms=linger, delivery_timeout_ms=BIG
    )
    now = 0
    append(acc, TP1, 0)
    result = acc.ready(now + linger + 1)
    assert result.ready_nodes == [NODE1]
    drained = drain_nodes(acc, result.ready_nodes, BIG, now + linger + 1)
    assert partitions(drained) == [TP1], "Partition 0 should only have one batch drained."
    batch = drained[NODE1][0]
    acc.reenqueue(batch, now, backoff(batch.attempts, retry_backoff, retry_backoff * 10, high))
    append(acc, TP2, 0)  # put message for partition 1 into accumulator
    result = acc.ready(now + linger + 1)
    assert result.ready_nodes == [NODE1], "Node1 should be ready"
    drained = drain_nodes(acc, result.ready_nodes, BIG, now + linger + 1)
    assert partitions(drained) == [TP2], "tp1 should backoff while tp2 should not"
    upper_bound = retry_backoff * (1 + RETRY_BACKOFF_JITTER)
    result = acc.ready(now + upper_bound + 1)
    assert result.ready_nodes == [NODE1], "Node1 should be ready"
    drained = drain_nodes(acc, result.ready_nodes, BIG, now + upper_bound + 1)
    assert partitions(drained) == [TP1], "Node1 should only have one batch for partition 0."


def drain_and_check_batch_amount(
    acc: RecordAccumulator, leader: int, now: float, expected: int
) -> list[ProducerBatch]:
    """``drainAndCheckBatchAmount``."""
    result = acc.ready(now)
    if expected > 0:
        assert result.ready_nodes == [leader], "Leader should be ready"
        batches = acc.drain(leader, BIG, now)
        assert len(batches) == expected
        return batches
    assert result.ready_nodes == [], "Leader should not be ready"
    return []


@pytest.mark.parametrize("high", [False, True])
def test_exponential_retry_backoff(high: bool) -> None:
    # Port of testExponentialRetryBackoff: retry i waits 100 ms * 2^i ± 20 % (capped at 1 s).
    linger = BIG // 16
    base, maximum = 100, 1000
    acc = accumulator(
        batch_size=1024 + RECORD_BATCH_OVERHEAD, linger_ms=linger, delivery_timeout_ms=BIG
    )
    initial = now = 0
    append(acc, TP1, now)
    (batch,) = drain_and_check_batch_amount(acc, NODE1, now + linger + 1, 1)
    current = 0.0
    i = 0
    while current < maximum * (1 - RETRY_BACKOFF_JITTER):
        acc.reenqueue(batch, now, backoff(batch.attempts, base, maximum, high))
        lower = int(base * 2**i * (1 - RETRY_BACKOFF_JITTER))
        upper = int(base * 2**i * (1 + RETRY_BACKOFF_JITTER))
        current = upper
        drain_and_check_batch_amount(acc, NODE1, initial + lower - 1, 0)  # should back off
        drain_and_check_batch_amount(acc, NODE1, initial + upper + 1, 1)  # should not
        i += 1
    assert i == 4


def test_ready_and_drain_when_a_batch_is_being_retried() -> None:
    # Port of testReadyAndDrainWhenABatchIsBeingRetried (KIP-951): a retry backs off unless the
    # partition's leader epoch went up since its last attempt.
    epoch = 100
    acc = accumulator(
        batch_size=10, linger_ms=10, leaders=[NODE1], epochs=[epoch], delivery_timeout_ms=BIG
    )

    def reenqueue(batch: ProducerBatch, now: float) -> None:
        acc.reenqueue(batch, now, retry_backoff_ms(batch.attempts, 100, 1000, 0.5))

    now = 0
    append(acc, TP1, now)
    # 1st attempt (not a retry): ready and drained
    now += 10 + 1
    assert NODE1 in acc.ready(now).ready_nodes
    (batch,) = acc.drain(NODE1, 999_999, now)
    assert (batch.leader_epoch, batch.attempts_when_leader_changed) == (epoch, 0)
    reenqueue(batch, now)
    # waited less than the backoff, no leader change: back off
    now += 1
    assert NODE1 not in acc.ready(now).ready_nodes
    assert acc.drain(NODE1, 999_999, now) == []
    # waited less than the backoff, leader changed: no backoff
    now += 1
    epoch += 1
    acc.update_metadata([NODE1], [epoch])
    assert NODE1 in acc.ready(now).ready_nodes
    (batch,) = acc.drain(NODE1, 999_999, now)
    assert (batch.leader_epoch, batch.attempts_when_leader_changed) == (epoch, 1)
    reenqueue(batch, now)
    # waited more than the backoff, no leader change: no backoff
    now += 2 * 1000
    acc.update_metadata([NODE1], [epoch])
    assert NODE1 in acc.ready(now).ready_nodes
    (batch,) = acc.drain(NODE1, 999_999, now)
    assert (batch.leader_epoch, batch.attempts_when_leader_changed) == (epoch, 1)
    reenqueue(batch, now)
    # waited more than the backoff, leader changed: no backoff
    now += 2 * 1000
    epoch += 1
    acc.update_metadata([NODE1], [epoch])
    assert NODE1 in acc.ready(now).ready_nodes
    (batch,) = acc.drain(NODE1, 999_999, now)
    assert (batch.leader_epoch, batch.attempts_when_leader_changed) == (epoch, 3)


def test_muted_partitions() -> None:
    # Port of testMutedPartitions.
    acc = accumulator(batch_size=1025 + RECORD_BATCH_OVERHEAD, linger_ms=10)
    for _ in range(1025 // RECORD):
        append(acc, TP1, 0)
        assert acc.ready(0).ready_nodes == []
    now = 2000
    acc.muted[TP1] = True
    acc._dirty.add(NODE1)  # mutePartition: the node's readiness is recomputed
    assert acc.ready(now).ready_nodes == [], "No node should be ready"
    acc.muted[TP1] = False
    acc._dirty.add(NODE1)
    ready = acc.ready(now).ready_nodes
    assert ready == [NODE1], "The batch should be ready"
    acc.muted[TP1] = True
    assert acc.drain(NODE1, BIG, now) == [], "No batch should have been drained"
    acc.muted[TP1] = False
    assert len(acc.drain(NODE1, BIG, now)) == 1, "The batch should have been drained."


def test_drain_with_a_node_that_does_not_host_any_partitions() -> None:
    # Port of testDrainWithANodeThatDoesntHostAnyPartitions.
    acc = accumulator(batch_size=10, linger_ms=10, leaders=[NODE1])
    assert acc.drain(NODE2, 999_999, 0) == []


@pytest.mark.parametrize("delivery_timeout", [3200, BIG])
@pytest.mark.parametrize("mute", [False, True])
def test_expired_batch_single(delivery_timeout: int, mute: bool) -> None:
    # Port of testExpiredBatchSingle / testExpiredBatchSingleMaxValue (doExpireBatchSingle):
    # a batch expires after delivery.timeout.ms whether or not its partition is muted.
    linger = 300
    acc = accumulator(
        batch_size=1025 + RECORD_BATCH_OVERHEAD,
        linger_ms=linger,
        delivery_timeout_ms=delivery_timeout,
    )
    append(acc, TP1, 0)
    assert acc.ready(0).ready_nodes == [], "No partition should be ready."
    assert acc.ready(linger).ready_nodes == [NODE1], "Our partition's leader should be ready"
    assert acc.expired_batches(linger) == [], "The batch should not expire when just linger passed"
    acc.muted[TP1] = mute
    (expired,) = acc.expired_batches(delivery_timeout)
    assert expired.partition == TP1
    assert acc.ready(delivery_timeout).ready_nodes == [], "No partitions should be ready."


def test_an_idempotent_retry_waits_for_the_lower_sequences_in_flight() -> None:
    # shouldStopDrainBatchesForPartition (not a RecordAccumulatorTest case): a retried batch is
    # drained only when no batch with a lower sequence of its partition is in flight, and the
    # walk of that node stops there (Kafka `break`s out of drainBatchesForOneNode).
    acc = accumulator(
        batch_size=RECORD + RECORD_BATCH_OVERHEAD,
        linger_ms=0,
        leaders=[NODE1, NODE1, NODE1],
        idempotent=True,
    )
    append(acc, TP1, 0, 3)  # three one-record batches, sequences 0, 1, 2
    first, second, third = (acc.drain(NODE1, BIG, 0)[0] for _ in range(3))
    assert [b.seq_start for b in (first, second, third)] == [0, 1, 2]
    # Three walks over [tp1, tp2, tp3] that each took tp1 left the drain index at tp1 again
    # (a full walk stores the partition before its start: 0 -> 2 -> 1 -> 0).
    acc.reenqueue(second, 1, 0.0)  # sequence 1 failed while 0 and 2 are in flight
    append(acc, TP2, 1)
    assert acc.ready(1).ready_nodes == [NODE1]
    assert acc.drain(NODE1, BIG, 1) == [], "tp1 stops the walk: tp2 is not reached"
    acc.complete(first)  # sequence 0 acknowledged: 1 is the lowest unresolved
    drained = acc.drain(NODE1, BIG, 1)
    assert [(b.partition, b.seq_start) for b in drained] == [(TP1, 1), (TP2, 0)]
    assert sorted(b.seq_start for b in acc.in_flight[TP1]) == [1, 2]


def test_retries_go_back_in_sequence_order_with_idempotence() -> None:
    # insertInSequenceOrder: a retry is placed after retries of lower sequence, before new data.
    acc = accumulator(batch_size=RECORD + RECORD_BATCH_OVERHEAD, linger_ms=0, idempotent=True)
    append(acc, TP1, 0, 3)
    batches = [acc.drain(NODE1, BIG, 0)[0] for _ in range(3)]
    append(acc, TP1, 1)  # a new batch, sequence 3
    acc.reenqueue(batches[2], 2, 0.0)
    acc.reenqueue(batches[0], 2, 0.0)
    acc.reenqueue(batches[1], 2, 0.0)
    assert [b.seq_start for b in acc.deques[TP1]] == [0, 1, 2, 3]


def test_max_in_flight_one_mutes_the_partition_until_the_answer() -> None:
    # Sender.sendProducerData: guaranteeMessageOrder mutes every drained partition;
    # completeBatch unmutes it.
    acc = accumulator(batch_size=1024, linger_ms=0, guarantee_message_order=True)
    append(acc, TP1, 0)
    (batch,) = acc.drain(NODE1, BIG, 0)
    append(acc, TP1, 1)
    assert acc.ready(1).ready_nodes == []
    assert acc.drain(NODE1, BIG, 1) == []
    acc.complete(batch)
    assert acc.ready(1).ready_nodes == [NODE1]


def test_a_partition_without_leader_asks_for_metadata() -> None:
    acc = accumulator(batch_size=1024, linger_ms=0, leaders=[NODE1, None])
    assert not acc.ready(0).unknown_leader
    append(acc, 1, 0)
    result = acc.ready(0)
    assert result.unknown_leader
    assert result.ready_nodes == []
    acc.update_metadata([NODE1, NODE2], [0, 0])
    assert acc.ready(0).ready_nodes == [NODE2]


def test_closing_sends_without_waiting_for_linger_but_not_past_a_backoff() -> None:
    acc = accumulator(batch_size=1024, linger_ms=1000, delivery_timeout_ms=BIG)
    append(acc, TP1, 0)
    append(acc, TP3, 0)
    (retry,) = acc.drain(NODE2, BIG, 0)
    acc.reenqueue(retry, 0, 100.0)
    acc.close()
    result = acc.ready(0)
    assert result.ready_nodes == [NODE1]
    assert result.next_ready_check_ms == 100.0


def test_retry_backoff_follows_kip_580() -> None:
    assert retry_backoff_ms(1, 100, 1000, 0.5) == 100
    assert retry_backoff_ms(3, 100, 1000, 0.5) == 400
    assert retry_backoff_ms(5, 100, 1000, 0.5) == 1000  # capped
    assert retry_backoff_ms(1, 100, 1000, 0.0) == pytest.approx(80)
    assert retry_backoff_ms(5, 100, 1000, 0.99) == 1000  # jitter never passes the cap


# -- properties --------------------------------------------------------------------------------

# One operation of a sender run: (kind, partition, count) with kind 0 = records arrive,
# 1 = a ready node is drained, 2 = an in-flight batch is answered (acked), 3 = it is retried,
# 4 = time passes.
operations = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 5), st.integers(1, 30)), max_size=120
)


def reference_ready(acc: RecordAccumulator, now: float) -> tuple[list[int], float]:
    """Kafka's ``ready`` walked over every partition (no per-node cache): the ready nodes, and
    the earliest time a head of a node not ready becomes sendable."""
    earliest: dict[int, float] = {}
    for partition, dq in enumerate(acc.deques):
        leader = acc.leaders[partition]
        if not dq or leader is None or acc.muted[partition]:
            continue
        head = dq[0]
        if head.attempts:
            sendable = head.last_attempt_ms + head.backoff_ms  # epochs never change here
        elif head.full or len(dq) > 1 or acc.closing:
            sendable = -math.inf
        else:
            sendable = head.first_create_ms + acc.linger_ms
        earliest[leader] = min(earliest.get(leader, math.inf), sendable)
    ready = sorted(node for node, t in earliest.items() if t <= now)
    later = [t for t in earliest.values() if t > now]
    return ready, min(later, default=math.inf)


@settings(max_examples=150, deadline=None)
@given(
    ops=operations,
    linger=st.sampled_from([0.0, 5.0, 50.0]),
    max_size=st.sampled_from([200, 1000, 100_000]),
    idempotent=st.booleans(),
    ordered=st.booleans(),
    batch_size=st.sampled_from([481, 500]),  # 21 records of 20 B fill 481 B exactly, not 500
)
def test_every_batch_drained_once_within_the_request_size_and_readiness_exact(
    ops: list[tuple[int, int, int]],
    linger: float,
    max_size: int,
    idempotent: bool,
    ordered: bool,
    batch_size: int,
) -> None:
    leaders: list[int | None] = [0, 1, 2, 0, 1, 2]
    acc = RecordAccumulator(
        6,
        batch_size=batch_size,
        record_size=20,
        linger_ms=linger,
        idempotent=idempotent,
        guarantee_message_order=ordered,
    )
    acc.update_metadata(leaders, [0] * 6)
    now = 0.0
    in_flight: list[ProducerBatch] = []
    acked: list[ProducerBatch] = []
    sent_records = 0
    for kind, partition, count in ops:
        if kind == 0:
            acc.append(partition, np.full(count, now))
            sent_records += count
        elif kind == 1:
            result = acc.ready(now)
            # The per-node cache gives exactly what a walk over every partition gives.
            assert (result.ready_nodes, result.next_ready_check_ms) == reference_ready(acc, now)
            for node in result.ready_nodes:
                batches = acc.drain(node, max_size, now)
                # A ready node yields a batch, unless a retry waits for its sequence's turn.
                assert batches or idempotent
                assert len({b.partition for b in batches}) == len(batches)
                assert all(leaders[b.partition] == node for b in batches)
                size = sum(acc.batch_bytes(b) for b in batches)
                assert size <= max_size or len(batches) == 1
                assert not any(b in in_flight for b in batches), "drained twice"
                in_flight.extend(batches)
            if result.next_ready_check_ms < math.inf:
                assert result.next_ready_check_ms > now
        elif kind in (2, 3) and in_flight:
            batch = in_flight.pop(count % len(in_flight))
            if kind == 2:
                acc.complete(batch)
                acked.append(batch)
            else:
                acc.reenqueue(batch, now, 10.0)
        else:
            now += count
    # Close and drain everything: every record leaves exactly once, each partition in order.
    acc.close()
    for batch in in_flight:
        acc.complete(batch)
        acked.append(batch)
    in_flight.clear()
    now += 1_000
    for _ in range(1_000):
        result = acc.ready(now)
        if not result.ready_nodes:
            break
        for node in result.ready_nodes:
            for batch in acc.drain(node, max_size, now):
                acc.complete(batch)
                acked.append(batch)
    assert not acc.has_undrained()
    assert sum(b.count for b in acked) == sent_records
    for partition in range(6):
        seqs = sorted((b.seq_start, b.count) for b in acked if b.partition == partition)
        expected = 0
        for seq, n in seqs:
            assert seq == expected, "every record of the partition exactly once"
            expected += n


@settings(max_examples=100, deadline=None)
@given(n_partitions=st.integers(1, 12), max_batches=st.integers(1, 4), rounds=st.integers(1, 30))
def test_no_partition_starves_under_a_small_request_size(
    n_partitions: int, max_batches: int, rounds: int
) -> None:
    # With every partition always holding data and room for max_batches per request, each
    # partition is drained at least once every ceil(n / max_batches) + 1 requests.
    acc = RecordAccumulator(n_partitions, batch_size=81, record_size=20, linger_ms=0)
    acc.update_metadata([0] * n_partitions, [0] * n_partitions)
    last_drained = dict.fromkeys(range(n_partitions), 0)
    bound = -(-n_partitions // max_batches) + 1
    for request in range(1, rounds * n_partitions + 1):
        for partition in range(n_partitions):
            if not acc.deques[partition]:
                acc.append(partition, np.zeros(1))
        batches = acc.drain(0, max_batches * 81, 0.0)
        assert len(batches) == min(max_batches, n_partitions)
        for batch in batches:
            last_drained[batch.partition] = request
            acc.complete(batch)
        assert all(request - last <= bound for last in last_drained.values())
