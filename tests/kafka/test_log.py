"""PartitionLog: offsets, reads, segments, truncation, epochs, retention, flushing."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kafka.log import OffsetOutOfRange, PartitionLog, RecordBatch

BIG = 1 << 40


def mk(
    count: int = 1,
    size: int = 100,
    ts: float = 0.0,
    *,
    pid: int = -1,
    pepoch: int = -1,
    seq: int = -1,
    origin: str = "p-0",
    origin_seq: int = 0,
    base_offset: int = -1,
    leader_epoch: int = -1,
) -> RecordBatch:
    return RecordBatch(
        base_offset, count, size, leader_epoch, pid, pepoch, seq, ts, ts, origin, origin_seq
    )


def new_log(
    segment_bytes: int = BIG,
    segment_ms: float = float(BIG),
    retention_ms: float = -1,
    retention_bytes: int = -1,
) -> PartitionLog:
    return PartitionLog(
        "t",
        0,
        segment_bytes=segment_bytes,
        segment_ms=segment_ms,
        retention_ms=retention_ms,
        retention_bytes=retention_bytes,
    )


def fill(log: PartitionLog, counts: list[int], epoch: int = 0, size: int = 100) -> None:
    for c in counts:
        assert log.append_as_leader(mk(c, size), epoch, 0.0).kind == "appended"


def check_invariants(log: PartitionLog) -> None:
    batches = list(log.batches())
    expected = log.log_start_offset
    for b in batches:
        assert b.base_offset == expected
        expected = b.next_offset
    assert expected == log.log_end_offset
    assert log.size_bytes == sum(b.size_bytes for b in batches)
    segs = log.segments
    assert segs[0].base_offset == log.log_start_offset
    for a, b in itertools.pairwise(segs):
        assert a.next_offset == b.base_offset
        assert a.batches, "only the active segment may be empty"
    for s in segs:
        assert s.offsets == [b.base_offset for b in s.batches]
        assert s.size_bytes == sum(b.size_bytes for b in s.batches)
    assert log.log_start_offset <= log.high_watermark <= log.log_end_offset
    assert log.log_start_offset <= log.recovery_point <= log.log_end_offset
    entries = log.epoch_entries
    for (e1, s1), (e2, s2) in itertools.pairwise(entries):
        assert e1 < e2 and s1 < s2
    # every batch's epoch is the cache epoch covering its base offset
    for b in batches:
        covering = [e for e, s in entries if s <= b.base_offset]
        assert covering and covering[-1] == b.leader_epoch


# -- appends and reads ------------------------------------------------------------------------


def test_leader_append_assigns_offsets_and_stamps_epoch() -> None:
    log = new_log()
    r1 = log.append_as_leader(mk(3), 5, 1.0)
    r2 = log.append_as_leader(mk(2), 5, 2.0)
    assert (r1.kind, r1.base_offset, r2.base_offset) == ("appended", 0, 3)
    assert r2.batch is not None and (r2.batch.base_offset, r2.batch.leader_epoch) == (3, 5)
    assert r2.batch.next_offset == 5 and r2.batch.last_offset == 4
    assert log.log_end_offset == 5 and log.high_watermark == 0
    assert log.epoch_entries == [(5, 0)] and log.latest_epoch == 5
    log.append_as_leader(mk(1), 7, 3.0)
    assert log.epoch_entries == [(5, 0), (7, 5)]


def test_read_whole_batches_bounded_by_max_offset_and_bytes() -> None:
    log = new_log()
    fill(log, [3, 3, 3, 3])  # [0,3) [3,6) [6,9) [9,12)
    offs = lambda bs: [b.base_offset for b in bs]  # noqa: E731
    assert offs(log.read(4, 10_000, 12)) == [3, 6, 9]  # first batch contains the fetch offset
    assert offs(log.read(0, 10_000, 8)) == [0, 3]  # [6,9) crosses max_offset 8
    assert log.read(7, 10_000, 8) == []
    assert offs(log.read(0, 250, 12)) == [0, 3]
    assert offs(log.read(0, 50, 12)) == [0]  # KIP-74: one batch even when too big
    assert log.read(12, 100, 12) == []  # at the LEO
    with pytest.raises(OffsetOutOfRange):
        log.read(13, 100, 13)


def test_read_stays_in_one_segment() -> None:
    log = new_log(segment_bytes=250)
    fill(log, [1] * 5)  # 100-byte batches: segments of 2 batches
    assert [s.base_offset for s in log.segments] == [0, 2, 4]
    assert [b.base_offset for b in log.read(0, 10_000, 5)] == [0, 1]
    assert [b.base_offset for b in log.read(2, 10_000, 5)] == [2, 3]


def test_follower_append_keeps_leader_offsets_and_epochs() -> None:
    leader, follower = new_log(), new_log()
    fill(leader, [2, 2], epoch=1)
    leader.append_as_leader(mk(3), 4, 0.0)
    follower.append_as_follower(leader.read(0, 10_000, leader.log_end_offset), 0.0)
    assert list(follower.batches()) == list(leader.batches())
    assert follower.epoch_entries == [(1, 0), (4, 4)] == leader.epoch_entries
    with pytest.raises(ValueError):
        follower.append_as_follower([mk(1, base_offset=99, leader_epoch=4)], 0.0)


def test_high_watermark_is_clamped() -> None:
    log = new_log()
    fill(log, [5])
    assert log.update_high_watermark(9) == 5
    assert log.update_high_watermark(-3) == 0
    assert log.update_high_watermark(3) == 3


# -- segments ---------------------------------------------------------------------------------


def test_roll_by_segment_bytes_flushes_rolled_segment() -> None:
    log = new_log(segment_bytes=250)
    fill(log, [2, 2])
    assert len(log.segments) == 1 and log.recovery_point == 0
    fill(log, [2])  # 200 > 250 - 100: roll
    assert [s.base_offset for s in log.segments] == [0, 4]
    assert log.recovery_point == 4  # Kafka flushes the rolled segment asynchronously


def test_roll_by_segment_ms_uses_first_batch_timestamp() -> None:
    log = new_log(segment_ms=1000)
    log.append_as_leader(mk(1, ts=0.0), 0, 0.0)
    log.append_as_leader(mk(1, ts=1000.0), 0, 1000.0)  # 1000 - 0 is not > 1000
    assert len(log.segments) == 1
    log.append_as_leader(mk(1, ts=1000.5), 0, 1000.5)
    assert [s.base_offset for s in log.segments] == [0, 2]
    assert log.segments[1].first_append_ms == 1000.5


# -- truncation -------------------------------------------------------------------------------


def test_truncate_to_removes_whole_batches_and_epochs() -> None:
    log = new_log(segment_bytes=250)
    fill(log, [2, 2], epoch=1)
    fill(log, [2, 2], epoch=3)  # segments [0,4) [4,8)
    log.update_high_watermark(8)
    assert log.truncate_to(5) == 4  # inside [4,6): that batch goes too
    assert log.log_end_offset == 4 and log.high_watermark == 4
    assert log.epoch_entries == [(1, 0)] and log.latest_epoch == 1
    assert [s.base_offset for s in log.segments] == [0, 4]  # emptied segment kept (base == 4)
    assert log.truncate_to(10) == 0
    check_invariants(log)
    fill(log, [1], epoch=5)
    assert log.epoch_entries == [(1, 0), (5, 4)]
    check_invariants(log)


def test_truncate_below_log_start_starts_over() -> None:
    log = new_log(segment_bytes=150, retention_bytes=100)
    fill(log, [1, 1, 1])
    log.update_high_watermark(3)
    log.delete_old_segments(0.0)
    assert log.log_start_offset == 2
    assert log.truncate_to(1) == 1
    assert (log.log_start_offset, log.log_end_offset, log.high_watermark) == (1, 1, 1)
    assert log.epoch_entries == [] and log.size_bytes == 0


# -- leader epochs (KIP-101 / KIP-279) --------------------------------------------------------


def test_end_offset_for_epoch_examples() -> None:
    log = new_log()
    fill(log, [10], epoch=0)
    fill(log, [10], epoch=2)
    fill(log, [10], epoch=5)
    assert log.epoch_entries == [(0, 0), (2, 10), (5, 20)]
    assert log.end_offset_for_epoch(5) == (5, 30)  # latest epoch: the LEO
    assert log.end_offset_for_epoch(4) == (2, 20)
    assert log.end_offset_for_epoch(2) == (2, 20)
    assert log.end_offset_for_epoch(1) == (0, 10)
    assert log.end_offset_for_epoch(0) == (0, 10)
    assert log.end_offset_for_epoch(6) == (-1, -1)
    assert log.end_offset_for_epoch(-1) == (-1, -1)
    assert new_log().end_offset_for_epoch(0) == (-1, -1)


def test_epoch_below_every_known_epoch_answers_first_start() -> None:
    log = new_log(segment_bytes=150, retention_bytes=0)
    fill(log, [1], epoch=1)
    fill(log, [1], epoch=3)
    log.update_high_watermark(2)
    log.delete_old_segments(0.0)  # everything below the HW goes
    assert log.log_start_offset == 2 and log.epoch_entries == [(3, 2)]
    assert log.end_offset_for_epoch(1) == (1, 2)


def test_assign_epoch_start_offset_before_any_data_and_non_monotonic() -> None:
    log = new_log()
    fill(log, [4], epoch=1)
    log.assign_epoch_start_offset(2, 4)  # makeLeader: new epoch at the LEO, no data yet
    assert log.end_offset_for_epoch(1) == (1, 4)
    log.assign_epoch_start_offset(2, 6)  # same epoch, later start: ignored
    assert log.epoch_entries == [(1, 0), (2, 4)]
    log.assign_epoch_start_offset(3, 2)  # non-monotonic: drops entries with start >= 2
    assert log.epoch_entries == [(1, 0), (3, 2)]


# -- retention --------------------------------------------------------------------------------


def test_retention_bytes_deletes_oldest_segments_below_hw() -> None:
    log = new_log(segment_bytes=250, retention_bytes=250)
    fill(log, [1] * 7)  # segments [0,2) [2,4) [4,6) [6,7): 700 bytes
    assert log.delete_old_segments(0.0) == 0  # HW 0: nothing may go
    log.update_high_watermark(3)
    assert log.delete_old_segments(0.0) == 2  # [2,4) reaches past the HW
    assert log.log_start_offset == 2
    log.update_high_watermark(7)
    assert log.delete_old_segments(0.0) == 2  # 500 - 200 >= 250, then 300 - 200 < 250
    assert (log.log_start_offset, log.size_bytes) == (4, 300)
    check_invariants(log)


def test_retention_ms_uses_largest_timestamp_and_rolls_active_segment() -> None:
    log = new_log(segment_bytes=250, retention_ms=1000)
    for t in (0.0, 100.0, 200.0):
        log.append_as_leader(mk(1, ts=t), 0, t)
    log.update_high_watermark(2)
    assert log.delete_old_segments(1100.0) == 0  # segment [0,2) newest record at 100
    assert log.delete_old_segments(1100.5) == 2
    assert log.log_start_offset == 2 and log.log_end_offset == 3
    assert log.delete_old_segments(5000.0) == 0  # active segment reaches past the HW
    log.update_high_watermark(3)
    assert log.delete_old_segments(5000.0) == 1  # HW == LEO: roll an empty segment, delete
    assert (log.log_start_offset, log.log_end_offset, log.size_bytes) == (3, 3, 0)
    assert [s.base_offset for s in log.segments] == [3]
    assert log.delete_old_segments(9000.0) == 0  # an empty active segment is never deleted
    assert log.epoch_entries == [(0, 3)]
    log.append_as_leader(mk(1, ts=9000.0), 0, 9000.0)
    assert log.end_offset_for_epoch(0) == (0, 4)
    check_invariants(log)


# -- durability -------------------------------------------------------------------------------


def test_flush_and_power_loss() -> None:
    log = new_log()
    fill(log, [2, 2])
    log.flush()
    fill(log, [3])
    log.update_high_watermark(7)
    assert log.recovery_point == 4
    assert log.lose_unflushed() == 3
    assert (log.log_end_offset, log.high_watermark) == (4, 4)
    assert log.lose_unflushed() == 0


# -- properties -------------------------------------------------------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 5), st.integers(1, 300), st.integers(0, 2)),
        st.tuples(st.just("truncate"), st.floats(0, 1)),
        st.tuples(st.just("hw"), st.floats(0, 1)),
        st.tuples(st.just("retention"), st.floats(0, 2000)),
        st.tuples(st.just("flush")),
        st.tuples(st.just("lose")),
    ),
    max_size=40,
)


def brute_end_offset(log: PartitionLog, epoch: int) -> tuple[int, int]:
    """KIP-279 from the batches alone: the cache holds the first offset of every batch epoch."""
    batches = list(log.batches())
    if epoch < 0 or not batches:
        return (-1, -1)
    if epoch == batches[-1].leader_epoch:
        return (epoch, log.log_end_offset)
    higher = [b for b in batches if b.leader_epoch > epoch]
    if not higher:
        return (-1, -1)
    lower = [b.leader_epoch for b in batches if b.leader_epoch <= epoch]
    return (max(lower) if lower else epoch, higher[0].base_offset)


@settings(max_examples=150, deadline=None)
@given(
    ops=ops,
    segment_bytes=st.integers(100, 800),
    retention_bytes=st.sampled_from([-1, 0, 300, 1000]),
    retention_ms=st.sampled_from([-1, 0, 500]),
)
def test_log_invariants_under_random_operations(
    ops: list[tuple], segment_bytes: int, retention_bytes: int, retention_ms: float
) -> None:
    log = new_log(segment_bytes, 300.0, retention_ms, retention_bytes)
    epoch = 0
    now = 0.0
    for op in ops:
        now += 10.0
        start_before, hw_before, leo_before = (
            log.log_start_offset,
            log.high_watermark,
            log.log_end_offset,
        )
        if op[0] == "append":
            _, count, size, bump = op
            epoch += bump
            r = log.append_as_leader(mk(count, size, now), epoch, now)
            assert r.kind == "appended" and r.base_offset == leo_before
            assert log.log_end_offset == leo_before + count
        elif op[0] == "truncate":
            target = start_before + int(op[1] * (leo_before - start_before))
            removed = log.truncate_to(target)
            assert log.log_end_offset <= max(target, start_before)
            assert removed == leo_before - log.log_end_offset
        elif op[0] == "hw":
            log.update_high_watermark(start_before + int(op[1] * (leo_before - start_before)))
        elif op[0] == "retention":
            deleted = log.delete_old_segments(now + op[1])
            assert log.log_start_offset <= hw_before  # never deletes at or above the HW
            assert deleted == log.log_start_offset - start_before
            assert log.log_end_offset == leo_before
        elif op[0] == "flush":
            log.flush()
            assert log.recovery_point == log.log_end_offset
        else:
            rp = log.recovery_point
            lost = log.lose_unflushed()
            assert log.log_end_offset == rp and lost == leo_before - rp
        assert log.log_start_offset >= start_before  # only grows (no truncation below it here)
        check_invariants(log)
        has_batches = log.log_end_offset > log.log_start_offset
        for e in range(-1, epoch + 2):
            got = log.end_offset_for_epoch(e)
            assert got == brute_entries_end_offset(log.epoch_entries, log.log_end_offset, e)
            if has_batches:  # an emptied log keeps its last epoch entry (at the log start)
                assert got == brute_end_offset(log, e)


@settings(max_examples=100, deadline=None)
@given(counts=st.lists(st.integers(1, 20), min_size=1, max_size=30), data=st.data())
def test_appends_contiguous_and_truncate_then_reappend(
    counts: list[int], data: st.DataObject
) -> None:
    log = new_log(segment_bytes=450)
    fill(log, counts)
    assert log.log_end_offset == sum(counts)
    check_invariants(log)
    target = data.draw(st.integers(0, sum(counts)))
    log.truncate_to(target)
    assert log.log_end_offset <= target
    more = data.draw(st.lists(st.integers(1, 20), max_size=10))
    leo = log.log_end_offset
    fill(log, more, epoch=1)
    assert log.log_end_offset == leo + sum(more)
    check_invariants(log)


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 400)), min_size=1, max_size=25),
    data=st.data(),
)
def test_read_contract(sizes: list[tuple[int, int]], data: st.DataObject) -> None:
    log = new_log(segment_bytes=data.draw(st.integers(200, 3000)))
    for count, size in sizes:
        log.append_as_leader(mk(count, size), 0, 0.0)
    leo = log.log_end_offset
    fetch = data.draw(st.integers(0, leo))
    max_offset = data.draw(st.integers(fetch, leo))
    max_bytes = data.draw(st.integers(1, 2000))
    got = log.read(fetch, max_bytes, max_offset)
    batches = list(log.batches())
    first = next((b for b in batches if b.next_offset > fetch), None)
    if first is None or first.next_offset > max_offset:
        assert got == []
        return
    assert got and got[0] is first
    assert all(b.next_offset <= max_offset for b in got)
    for a, b in itertools.pairwise(got):
        assert a.next_offset == b.base_offset
    assert len(got) == 1 or sum(b.size_bytes for b in got) <= max_bytes
    seg = next(s for s in log.segments if got[0] in s.batches)
    assert all(b in seg.batches for b in got)
    # maximal: the following batch of the segment would break a limit
    idx = seg.batches.index(got[-1]) + 1
    if idx < len(seg.batches):
        nxt = seg.batches[idx]
        assert (
            nxt.next_offset > max_offset
            or sum(b.size_bytes for b in got) + nxt.size_bytes > max_bytes
        )
    with pytest.raises(OffsetOutOfRange):
        log.read(leo + 1, max_bytes, leo + 1)


def brute_entries_end_offset(
    entries: list[tuple[int, int]], leo: int, epoch: int
) -> tuple[int, int]:
    """LeaderEpochFileCache.endOffsetFor by linear scans."""
    if epoch == -1 or not entries:
        return (-1, -1)
    if entries[-1][0] == epoch:
        return (epoch, leo)
    higher = [(e, s) for e, s in entries if e > epoch]
    if not higher:
        return (-1, -1)
    lower = [(e, s) for e, s in entries if e <= epoch]
    return ((lower[-1][0] if lower else epoch), higher[0][1])


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.booleans(), st.integers(0, 6), st.integers(0, 3)), min_size=1, max_size=20
    ),
    query=st.integers(-1, 30),
)
def test_end_offset_for_epoch_matches_brute_force(
    steps: list[tuple[bool, int, int]], query: int
) -> None:
    """Mix data appends with makeLeader-style assigns, then compare with a linear scan."""
    log = new_log()
    epoch = 0
    for assign_only, bump, count in steps:
        epoch += bump
        if assign_only:
            log.assign_epoch_start_offset(epoch, log.log_end_offset)
        elif count:
            log.append_as_leader(mk(count), epoch, 0.0)
    entries = log.epoch_entries
    assert log.end_offset_for_epoch(query) == brute_entries_end_offset(
        entries, log.log_end_offset, query
    )
