"""Idempotent producer state (KIP-98): duplicates, gaps, epochs, rebuild after truncation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kafka.log import AppendResult, PartitionLog
from sim.kafka.producer_state import (
    INT32_MAX,
    INVALID_PRODUCER_EPOCH,
    NUM_BATCHES_TO_RETAIN,
    OUT_OF_ORDER_SEQUENCE_NUMBER,
    SEQUENCE_OK,
    ProducerStateManager,
    increment_sequence,
    last_sequence,
)
from tests.kafka.test_log import mk, new_log

PID = 1000


def send(
    log: PartitionLog, seq: int, count: int = 2, pepoch: int = 0, epoch: int = 0
) -> AppendResult:
    return log.append_as_leader(mk(count, pid=PID, pepoch=pepoch, seq=seq), epoch, 0.0)


def test_sequence_arithmetic_wraps_at_int32() -> None:
    assert increment_sequence(5, 3) == 8
    assert increment_sequence(INT32_MAX, 1) == 0
    assert increment_sequence(INT32_MAX - 1, 3) == 1
    assert last_sequence(INT32_MAX - 1, 3) == 0
    assert last_sequence(-1, 3) == -1


def test_duplicate_returns_original_offset() -> None:
    log = new_log()
    assert send(log, 0).base_offset == 0
    assert send(log, 2).base_offset == 2
    dup = send(log, 0)
    assert (dup.kind, dup.base_offset, dup.batch) == ("duplicate", 0, None)
    assert log.log_end_offset == 4


def test_gap_is_out_of_order() -> None:
    log = new_log()
    send(log, 0)
    r = send(log, 5)
    assert (r.kind, r.error, r.base_offset) == ("error", OUT_OF_ORDER_SEQUENCE_NUMBER, -1)
    assert log.log_end_offset == 2


def test_only_the_last_five_batches_are_recognised() -> None:
    log = new_log()
    for i in range(6):
        send(log, 2 * i)  # batches seq [0,1] .. [10,11] at offsets 0..10
    fifth_last = send(log, 2)
    assert (fifth_last.kind, fifth_last.base_offset) == ("duplicate", 2)
    # Older than the retained five: DUPLICATE_SEQUENCE_NUMBER (success without an offset),
    # not out-of-order: the records are in the log already (kafka-semantics §5.4.3).
    sixth_last = send(log, 0)
    assert (sixth_last.kind, sixth_last.base_offset, sixth_last.error) == ("duplicate", -1, None)
    assert log.log_end_offset == 12  # nothing appended again
    assert NUM_BATCHES_TO_RETAIN == 5


def test_unknown_producer_accepts_any_sequence() -> None:
    log = new_log()
    assert send(log, 42).kind == "appended"
    assert send(log, 44).kind == "appended"


def test_epochs() -> None:
    psm = ProducerStateManager()
    psm.update(PID, 3, 0, 9, 0)
    assert psm.check(PID, 4, 10, 11).error == OUT_OF_ORDER_SEQUENCE_NUMBER  # new epoch, seq != 0
    assert psm.check(PID, 4, 0, 1) is SEQUENCE_OK
    assert psm.check(PID, 2, 10, 11).error == INVALID_PRODUCER_EPOCH
    psm.update(PID, 4, 0, 1, 10)
    entry = psm.entry(PID)
    assert entry is not None and entry.producer_epoch == 4 and len(entry.batches) == 1
    assert psm.check(PID, 3, 0, 9).kind == "error"  # old epoch's batches are forgotten
    # an entry without an epoch accepts any sequence
    psm.update(7, -1, 5, 5, 20)
    assert psm.check(7, -1, 99, 99) is SEQUENCE_OK
    assert psm.check(7, 0, 99, 99) is SEQUENCE_OK


def test_sequence_wraps_after_int32_max() -> None:
    log = new_log()
    assert send(log, INT32_MAX - 1).kind == "appended"  # seqs MAX-1, MAX
    assert send(log, 0).kind == "appended"
    assert send(log, 3).kind == "error"


def test_follower_updates_without_validation_and_new_leader_deduplicates() -> None:
    leader, follower = new_log(), new_log()
    send(leader, 0)
    send(leader, 2)
    follower.append_as_follower(list(leader.batches()), 0.0)
    follower.append_as_follower([mk(1, pid=PID, pepoch=0, seq=50, base_offset=4)], 0.0)  # gap ok
    # the follower becomes leader: a retry of the last batch is a duplicate
    r = follower.append_as_leader(mk(1, pid=PID, pepoch=0, seq=50), 1, 0.0)
    assert (r.kind, r.base_offset) == ("duplicate", 4)
    assert follower.append_as_leader(mk(1, pid=PID, pepoch=0, seq=51), 1, 0.0).kind == "appended"


def test_state_rebuilt_after_truncation() -> None:
    log = new_log(segment_bytes=250)  # 100-byte batches, 2 per segment
    for i in range(5):
        send(log, 2 * i)  # offsets 0,2,4,6,8 over segments [0,4) [4,8) [8,10)
    log.truncate_to(6)  # removes seq [6,7] and [8,9]
    assert log.log_end_offset == 6
    r = send(log, 6)  # the retry is new again, not a duplicate and not out of order
    assert (r.kind, r.base_offset) == ("appended", 6)
    assert send(log, 2).base_offset == 2  # older batches still remembered after the rebuild
    log.update_high_watermark(log.log_end_offset)


def test_state_survives_retention_then_truncation() -> None:
    log = new_log(segment_bytes=250, retention_bytes=0)
    for i in range(5):
        send(log, 2 * i)
    log.update_high_watermark(8)
    log.delete_old_segments(0.0)
    assert log.log_start_offset == 8
    log.truncate_to(8)  # drop the last batch; replay from the snapshot of segment [8, ...)
    assert send(log, 8).kind == "appended"
    assert send(log, 20).error == OUT_OF_ORDER_SEQUENCE_NUMBER  # the producer is still known


@settings(max_examples=150, deadline=None)
@given(
    actions=st.lists(st.tuples(st.booleans(), st.integers(0, 8), st.integers(1, 4)), max_size=40)
)
def test_retries_of_recent_batches_are_duplicates(actions: list[tuple[bool, int, int]]) -> None:
    """New batches or retries of earlier ones: the log never holds a sequence twice."""
    log = new_log()
    sent: list[tuple[int, int, int]] = []  # (first_seq, count, base_offset)
    next_seq = 0
    for retry, back, count in actions:
        if retry and sent:
            k = min(back, len(sent) - 1)
            first, cnt, offset = sent[-1 - k]
            r = send(log, first, cnt)
            if k < NUM_BATCHES_TO_RETAIN:
                assert (r.kind, r.base_offset) == ("duplicate", offset)
            else:  # DUPLICATE_SEQUENCE_NUMBER: recognised as written, offset unknown
                assert (r.kind, r.base_offset) == ("duplicate", -1)
        else:
            r = send(log, next_seq, count)
            assert r.kind == "appended"
            sent.append((next_seq, count, r.base_offset))
            next_seq += count
    seqs = [b.base_sequence for b in log.batches()]
    assert seqs == sorted(set(seqs))
    assert log.log_end_offset == next_seq
