"""Partition (replica.py): acks and min ISR, HW rule, follower fetch state, ISR changes, leadership.

Each test builds a leader of ``t-0`` on broker 0 with RF 3 (brokers 0, 1, 2) over a fresh
:class:`PartitionLog`, appends, feeds follower fetch offsets and asserts exact values. Rule
references are to /work/shared/kafka-semantics.md (§2.x) and Kafka 3.9 ``Partition.scala`` /
``Replica.scala``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kafka.log import RecordBatch
from sim.kafka.replica import (
    NEVER,
    NOT_ENOUGH_REPLICAS,
    NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    NOT_LEADER_OR_FOLLOWER,
    UNKNOWN_OFFSET,
    IsrProposal,
    LeaderAppend,
    Partition,
)
from tests.kafka.test_log import mk, new_log
from tests.strategies import ReplicationOp, replication_ops

RF3 = [0, 1, 2]
LAG = 30_000.0  # replica.lag.time.max.ms default


def partition(
    broker: int = 0, *, min_isr: int = 2, lag: float = LAG, strict: bool = True
) -> Partition:
    return Partition(
        "t",
        0,
        broker,
        RF3,
        new_log(),
        min_insync_replicas=min_isr,
        replica_lag_time_max_ms=lag,
        strict_min_isr=strict,
    )


def leader(
    isr: tuple[int, ...] = (0, 1, 2),
    *,
    min_isr: int = 2,
    lag: float = LAG,
    strict: bool = True,
    now: float = 0.0,
) -> Partition:
    """Broker 0 elected leader of a fresh partition in epoch 0 at ``now``."""
    p = partition(min_isr=min_isr, lag=lag, strict=strict)
    p.make_leader(0, isr, 0, now)
    return p


def follower_with(batches: list[RecordBatch], leader_hw: int, *, min_isr: int = 2) -> Partition:
    """Broker 0 as a follower of broker 1 (epoch 0) holding ``batches``."""
    p = partition(min_isr=min_isr)
    p.make_follower(1, 0, (0, 1, 2), 0)
    p.append_records_as_follower(batches, leader_hw, 0.0)
    return p


def produce(p: Partition, count: int = 1, acks: str = "all", now: float = 0.0) -> LeaderAppend:
    return p.append_records_to_leader(mk(count), acks, now)


def fetch(
    p: Partition, replica: int, offset: int, now: float = 0.0
) -> tuple[bool, IsrProposal | None]:
    return p.update_follower_fetch_state(replica, offset, now)


def hw(p: Partition) -> int:
    return p.log.high_watermark


# -- produce: acks and min ISR (§2.3 step 1, A5) --------------------------------------------------
def test_acks_all_refused_below_min_isr_and_nothing_appended() -> None:
    p = leader(isr=(0, 1), min_isr=3)
    assert produce(p, 5) == LeaderAppend(NOT_ENOUGH_REPLICAS)
    assert (p.log.log_end_offset, list(p.log.batches())) == (0, [])


def test_effective_min_isr_is_capped_by_replication_factor() -> None:
    p = leader(min_isr=5)  # min(5, RF 3) = 3 = |ISR|
    assert p.effective_min_isr == 3
    assert produce(p, 5).error is None
    assert produce(leader(isr=(0, 1), min_isr=5), 5).error == NOT_ENOUGH_REPLICAS


@pytest.mark.parametrize("acks", ["1", "0"])
def test_acks_1_and_0_never_refused_for_min_isr(acks: str) -> None:
    p = leader(isr=(0,), min_isr=3)
    res = produce(p, 5, acks)
    assert (res.error, res.base_offset, res.required_offset) == (None, 0, 5)
    assert p.log.log_end_offset == 5


def test_acks_all_with_min_isr_1_succeeds_on_leader_alone() -> None:
    # docs/design.html#design_ha: with minISR=1 acks=all writes succeed with ISR = {leader}
    p = leader(isr=(0,), min_isr=1)
    res = produce(p, 5)
    assert (res.error, res.high_watermark_changed, hw(p)) == (None, True, 5)
    assert p.check_enough_replicas_reach_offset(res.required_offset) == (True, None)


def test_produce_to_a_follower_is_refused() -> None:
    p = follower_with([], 0)
    assert produce(p, 1) == LeaderAppend(NOT_LEADER_OR_FOLLOWER)


def test_leader_append_assigns_offsets_and_stamps_the_epoch() -> None:
    p = leader()
    first, second = produce(p, 3), produce(p, 2, "1")
    assert (first.base_offset, first.required_offset) == (0, 3)
    assert (second.base_offset, second.required_offset) == (3, 5)
    assert second.batch is not None and second.batch.leader_epoch == 0


# -- HW (§2.4) -------------------------------------------------------------------------------------
def test_hw_is_min_leo_over_the_isr() -> None:
    p = leader()
    produce(p, 10)
    assert fetch(p, 1, 4) == (False, None)  # replica 2's LEO is still unknown
    assert fetch(p, 2, 7) == (True, None)
    assert hw(p) == 4
    assert fetch(p, 1, 10) == (True, None)
    assert hw(p) == 7  # every ISR member counts, not just min.insync.replicas of them
    fetch(p, 2, 10)
    assert hw(p) == 10


def test_hw_never_moves_backwards_on_the_leader() -> None:
    p = leader(isr=(0, 1), min_isr=1)
    produce(p, 10)
    fetch(p, 1, 10)
    assert hw(p) == 10
    # an ISR now containing a replica far behind does not pull the HW down
    assert p.on_isr_committed((0, 1, 2), 1, 0.0) is False
    assert fetch(p, 2, 3) == (False, None)
    assert hw(p) == 10


def test_non_isr_follower_that_never_caught_up_does_not_hold_the_hw() -> None:
    # Replica.resetReplicaState: a follower outside the ISR gets lastCaughtUpTimeMs = "never",
    # "to ensure that the high watermark is not held back unnecessarily".
    p = leader(isr=(0, 1), now=1_000.0)
    produce(p, 10, now=1_000.0)
    fetch(p, 1, 5, 1_000.0)
    assert fetch(p, 2, 2, 1_000.0) == (False, None)  # LEO 2 < HW 5: not proposed for the ISR
    assert fetch(p, 1, 10, 1_000.0) == (True, None)
    assert p.remote[2].last_caught_up_time_ms == NEVER
    assert hw(p) == 10  # not held at 5 by replica 2 (it was, with "never" = time 0)


def test_caught_up_joiner_holds_the_hw_until_lag_or_ineligible() -> None:
    # maybeIncrementLeaderHW: a non-ISR follower that is caught up and ISR-eligible counts too
    p = leader(isr=(0, 1), min_isr=1)
    produce(p, 5)
    fetch(p, 1, 5)
    _, proposal = fetch(p, 2, 5, 10.0)  # caught up at t=10: proposed for the ISR...
    assert proposal is not None and proposal.kind == "expand"
    p.on_isr_rejected()  # ...but the controller refuses
    assert p.maximal_isr == (0, 1)
    produce(p, 5, now=20.0)
    assert fetch(p, 1, 10, 20.0) == (False, None)
    assert hw(p) == 5  # replica 2 (LEO 5) is caught up by time, so the HW waits for it
    assert p.maybe_increment_high_watermark(10.0 + LAG) is False
    assert p.maybe_increment_high_watermark(10.0 + LAG + 1) is True
    assert hw(p) == 10


def test_ineligible_follower_does_not_hold_the_hw() -> None:
    p = leader(isr=(0, 1), min_isr=1)
    produce(p, 5)
    fetch(p, 1, 5)
    p.ineligible = frozenset({2})  # fenced / shutting down (isReplicaIsrEligible)
    assert fetch(p, 2, 2, 10.0) == (False, None)  # no expansion proposal either
    produce(p, 5)
    fetch(p, 1, 10, 10.0)
    assert hw(p) == 10


def test_follower_hw_is_min_of_leader_hw_and_own_leo() -> None:
    # §2.2 step 5 / UnifiedLog.maybeUpdateHighWatermark (not monotonic on a follower)
    f = follower_with(
        [mk(3, base_offset=0, leader_epoch=0), mk(2, base_offset=3, leader_epoch=0)], 4
    )
    assert (f.log.log_end_offset, hw(f)) == (5, 4)
    f.append_records_as_follower([], 9, 0.0)
    assert hw(f) == 5
    f.append_records_as_follower([mk(5, base_offset=5, leader_epoch=0)], 9, 0.0)
    assert (f.log.log_end_offset, hw(f)) == (10, 9)
    f.append_records_as_follower([], 6, 0.0)  # e.g. a new leader whose HW lags
    assert hw(f) == 6


def test_acks_all_completes_on_the_followers_next_fetch() -> None:
    """§2.2: the HW reaches a record one fetch round after the followers received it."""
    p = leader()
    f1, f2 = follower_with([], 0), follower_with([], 0)
    res = produce(p, 5)
    trace = []
    for _round in range(3):
        for rid, f in ((1, f1), (2, f2)):
            offset = f.log.log_end_offset
            fetch(p, rid, offset)
            batches = p.log.read(offset, 1 << 20, p.log.log_end_offset)
            f.append_records_as_follower(batches, hw(p), 0.0)
        done = p.check_enough_replicas_reach_offset(res.required_offset)
        trace.append((hw(p), f1.log.log_end_offset, hw(f1), hw(f2), done))
    assert trace == [
        (0, 5, 0, 0, (False, None)),  # round 1: followers get the records
        (5, 5, 0, 5, (True, None)),  # round 2: their fetch offset 5 commits; f2 sees HW 5
        (5, 5, 5, 5, (True, None)),  # round 3: f1 learns HW 5 too
    ]


# -- follower fetch state and lastCaughtUpTime (§2.5) ---------------------------------------------
def test_fetch_at_leader_leo_marks_caught_up() -> None:
    p = leader()
    produce(p, 10)
    fetch(p, 1, 10, 500.0)
    r = p.remote[1]
    assert (r.log_end_offset, r.last_caught_up_time_ms) == (10, 500.0)
    # LEO == leader LEO is caught up whatever the time (isCaughtUp's first clause)
    assert r.is_caught_up(10, 500.0 + 10 * LAG, LAG)
    assert p.out_of_sync_replicas(LAG + 1) == [2]


def test_previous_fetch_rule_for_last_caught_up_time() -> None:
    p = leader(now=50.0)
    r = p.remote[1]
    assert r.last_caught_up_time_ms == 50.0  # ISR member: caught up at the election
    produce(p, 10, now=50.0)
    fetch(p, 1, 4, 100.0)  # behind the LEO (10): no change
    assert r.last_caught_up_time_ms == 50.0
    produce(p, 5, now=150.0)  # LEO 15
    fetch(p, 1, 10, 200.0)  # reached the LEO the leader had at the previous fetch (t=100)
    assert r.last_caught_up_time_ms == 100.0
    fetch(p, 1, 12, 300.0)  # below 15, the LEO at the previous fetch
    assert r.last_caught_up_time_ms == 100.0
    fetch(p, 1, 15, 400.0)
    assert r.last_caught_up_time_ms == 400.0


def test_follower_always_one_produce_behind_stays_in_the_isr() -> None:
    # Replica.updateFetchStateOrThrow: the previous-fetch rule keeps a follower in the ISR "even
    # if the offset of its fetch request is always smaller than the leader's LEO"
    p = leader(lag=1_000.0)
    for i in range(1, 101):
        now = i * 100.0
        produce(p, 1, now=now)
        fetch(p, 1, p.log.log_end_offset - 1, now)  # = the LEO at its previous fetch
        fetch(p, 2, max(p.log.log_end_offset - 2, 0), now)  # never reaches an earlier LEO
    assert p.remote[1].last_caught_up_time_ms == 9_900.0
    assert p.out_of_sync_replicas(10_000.0) == [2]


# -- acks=all completion (checkEnoughReplicasReachOffset) ------------------------------------------
def test_acks_all_succeeds_once_hw_passes() -> None:
    p = leader()
    res = produce(p, 5)
    assert p.check_enough_replicas_reach_offset(res.required_offset) == (False, None)
    fetch(p, 1, 5)
    assert p.check_enough_replicas_reach_offset(5) == (False, None)
    fetch(p, 2, 5)
    assert p.check_enough_replicas_reach_offset(5) == (True, None)


def test_after_append_when_the_isr_shrank_below_min_isr_after_the_hw_passed() -> None:
    # the narrow 3.7+ race: the HW passed, then a shrink committed before the check
    p = leader(min_isr=2)
    produce(p, 5)
    fetch(p, 1, 5)
    fetch(p, 2, 5)
    p.on_isr_committed((0,), 1, 0.0)
    assert p.check_enough_replicas_reach_offset(5) == (True, NOT_ENOUGH_REPLICAS_AFTER_APPEND)


def test_after_append_without_strict_min_isr() -> None:
    p = leader(min_isr=2, strict=False)
    produce(p, 5)
    assert p.on_isr_committed((0,), 1, 0.0) is True  # pre-3.7: HW = LEO with ISR = {leader}
    assert hw(p) == 5
    assert p.check_enough_replicas_reach_offset(5) == (True, NOT_ENOUGH_REPLICAS_AFTER_APPEND)


def test_strict_min_isr_parks_instead_of_after_append() -> None:
    p = leader(min_isr=2)
    produce(p, 5)
    assert p.on_isr_committed((0,), 1, 0.0) is False
    assert p.check_enough_replicas_reach_offset(5) == (False, None)  # -> REQUEST_TIMED_OUT


def test_not_leader_or_follower_after_make_follower() -> None:
    p = leader()
    produce(p, 5)
    p.make_follower(1, 1, (1, 2), 1)
    assert p.check_enough_replicas_reach_offset(5) == (True, NOT_LEADER_OR_FOLLOWER)


# -- strict min ISR (3.7+, KIP-966 part 1) ---------------------------------------------------------
def test_strict_min_isr_freezes_hw_also_for_acks_1() -> None:
    p = leader(isr=(0,), min_isr=2)
    res = produce(p, 5, "1")
    assert (res.error, res.high_watermark_changed, hw(p)) == (None, False, 0)
    changed, proposal = fetch(p, 1, 5, 10.0)  # caught up: maximal ISR {0, 1}, committed {0}
    assert proposal is not None and (proposal.kind, proposal.new_isr) == ("expand", (0, 1))
    assert (changed, hw(p)) == (False, 0)
    assert p.on_isr_committed((0, 1), 1, 20.0) is True
    assert hw(p) == 5


def test_without_strict_min_isr_hw_follows_leo_with_leader_alone() -> None:
    p = leader(isr=(0,), min_isr=2, strict=False)
    res = produce(p, 5, "1")
    assert (res.high_watermark_changed, hw(p)) == (True, 5)
    assert produce(p, 1).error == NOT_ENOUGH_REPLICAS  # the produce check does not depend on it


# -- ISR shrink (maybeShrinkIsr) -------------------------------------------------------------------
def test_shrink_after_lag_without_catching_up() -> None:
    p = leader(lag=100.0)
    produce(p, 5)
    fetch(p, 1, 5, 60.0)
    assert p.maybe_shrink_isr(100.0) is None  # replica 2: caught up at the election, t=0
    proposal = p.maybe_shrink_isr(101.0)
    assert proposal == IsrProposal("t", 0, 0, 0, 0, (0, 1), "shrink")
    assert (p.pending_isr, p.isr) == (proposal, (0, 1, 2))


def test_follower_at_the_leader_leo_is_never_out_of_sync() -> None:
    p = leader(lag=100.0)
    produce(p, 5)
    fetch(p, 1, 5)
    fetch(p, 2, 5)
    assert p.maybe_shrink_isr(1e9) is None


def test_shrink_never_removes_the_leader() -> None:
    p = leader(lag=100.0)  # no follower ever fetches
    proposal = p.maybe_shrink_isr(101.0)
    assert proposal is not None and proposal.new_isr == (0,)
    p.on_isr_committed(proposal.new_isr, 1, 101.0)
    assert (p.isr, p.pending_isr, p.partition_epoch) == ((0,), None, 1)
    assert p.maybe_shrink_isr(1e9) is None


def test_shrink_only_by_the_leader() -> None:
    f = follower_with([], 0)
    assert f.maybe_shrink_isr(1e9) is None


def test_one_isr_change_in_flight() -> None:
    p = leader(isr=(0, 1), min_isr=1, lag=100.0)
    shrink = p.maybe_shrink_isr(101.0)  # replica 1 never fetched
    assert shrink is not None and shrink.new_isr == (0,)
    assert p.maybe_shrink_isr(500.0) is None
    assert fetch(p, 2, 0, 500.0) == (False, None)  # would join, but a change is pending
    p.on_isr_rejected()
    assert (p.isr, p.pending_isr, p.maximal_isr) == ((0, 1), None, (0, 1))
    _, expand = fetch(p, 2, 0, 600.0)
    assert expand is not None and (expand.kind, expand.new_isr) == ("expand", (0, 1, 2))


# -- maximal ISR (KIP-497) -------------------------------------------------------------------------
def test_pending_expand_counts_the_joiner_in_the_maximal_isr() -> None:
    p = leader(isr=(0, 1), min_isr=1)
    produce(p, 10)
    fetch(p, 1, 10)
    produce(p, 5)  # LEO 15
    _, proposal = fetch(p, 2, 10)  # LEO 10 >= HW 10
    assert proposal is not None and proposal.new_isr == (0, 1, 2)
    assert (p.isr, p.maximal_isr) == ((0, 1), (0, 1, 2))
    p.ineligible = frozenset({2})  # not even the caught-up rule: only maximal ISR membership
    assert fetch(p, 1, 15) == (False, None)
    assert hw(p) == 10
    assert fetch(p, 2, 15) == (True, None)
    assert hw(p) == 15


def test_pending_shrink_keeps_the_old_members_until_committed() -> None:
    p = leader(min_isr=1, lag=100.0)
    produce(p, 5)
    fetch(p, 1, 5, 50.0)
    fetch(p, 2, 2, 50.0)
    proposal = p.maybe_shrink_isr(101.0)
    assert proposal is not None and proposal.new_isr == (0, 1)
    assert p.maximal_isr == (0, 1, 2)  # the removal may still fail
    assert (hw(p), p.maybe_increment_high_watermark(101.0)) == (2, False)
    assert p.on_isr_committed((0, 1), 1, 101.0) is True
    assert hw(p) == 5


def test_expansion_requires_leo_at_least_hw() -> None:
    p = leader(isr=(0, 1), min_isr=1)
    produce(p, 10)
    fetch(p, 1, 10)
    assert fetch(p, 2, 9) == (False, None)
    _, proposal = fetch(p, 2, 10)
    assert proposal is not None and proposal.new_isr == (0, 1, 2)


def test_expansion_requires_the_current_epoch_start_offset() -> None:
    # a new leader with LEO 10 and a lagging HW 4: epoch 1 starts at 10
    p = follower_with([mk(10, base_offset=0, leader_epoch=0)], 4, min_isr=1)
    p.make_leader(1, (0, 1), 1, 0.0)
    assert (hw(p), p.log.epoch_entries[-1]) == (4, (1, 10))
    assert fetch(p, 2, 6) == (False, None)  # >= HW but lacks the new leader's suffix
    _, proposal = fetch(p, 2, 10)
    assert proposal is not None
    assert (proposal.leader_epoch, proposal.partition_epoch, proposal.new_isr) == (1, 1, (0, 1, 2))


def test_on_isr_committed_and_rejected() -> None:
    p = leader(isr=(0, 1), min_isr=1)
    _, proposal = fetch(p, 2, 0)
    assert proposal is not None and p.pending_isr is proposal
    assert p.on_isr_committed(proposal.new_isr, 7, 5.0) is False
    assert (p.isr, p.partition_epoch, p.pending_isr) == ((0, 1, 2), 7, None)
    p2 = leader(isr=(0, 1), min_isr=1)
    fetch(p2, 2, 0)
    p2.on_isr_rejected()
    assert (p2.isr, p2.partition_epoch, p2.pending_isr) == ((0, 1), 0, None)


# -- leadership (makeLeader) -----------------------------------------------------------------------
def test_make_leader_starts_the_epoch_at_the_leo() -> None:
    p = follower_with(
        [mk(3, base_offset=0, leader_epoch=0), mk(4, base_offset=3, leader_epoch=2)], 0
    )
    p.make_leader(5, (0, 1, 2), 3, 0.0)
    assert p.log.epoch_entries == [(0, 0), (2, 3), (5, 7)]
    assert (p.leader_epoch, p.partition_epoch, p.isr, p.pending_isr) == (5, 3, (0, 1, 2), None)
    res = produce(p, 2)
    assert res.batch is not None and (res.base_offset, res.batch.leader_epoch) == (7, 5)


def test_make_leader_resets_followers_so_the_hw_waits_for_their_fetches() -> None:
    p = leader(min_isr=1)
    produce(p, 10)
    fetch(p, 1, 10)
    fetch(p, 2, 10)
    p.make_follower(1, 1, (0, 1, 2), 1)
    assert p.make_leader(2, (0, 1), 2, 1_000.0) is False
    r1, r2 = p.remote[1], p.remote[2]
    assert (r1.log_end_offset, r1.last_caught_up_time_ms) == (UNKNOWN_OFFSET, 1_000.0)
    assert (r2.log_end_offset, r2.last_caught_up_time_ms) == (UNKNOWN_OFFSET, NEVER)
    produce(p, 5, now=1_000.0)
    assert hw(p) == 10  # replica 1 has not fetched in the new epoch yet
    assert fetch(p, 1, 15, 1_000.0) == (True, None)
    assert hw(p) == 15


def test_make_leader_with_the_leader_alone_in_the_isr_advances_the_hw() -> None:
    # Partition.makeLeader ends with maybeIncrementLeaderHW ("ISR could be down to 1")
    p = follower_with([mk(10, base_offset=0, leader_epoch=0)], 4, min_isr=1)
    assert p.make_leader(1, (0,), 1, 0.0) is True
    assert hw(p) == 10


def test_make_leader_under_strict_min_isr_keeps_the_hw() -> None:
    p = follower_with([mk(10, base_offset=0, leader_epoch=0)], 4, min_isr=2)
    assert p.make_leader(1, (0,), 1, 0.0) is False
    assert hw(p) == 4


def test_reelected_leader_keeps_follower_leos() -> None:
    # Replica.resetReplicaState(isNewLeader = false): a new epoch with the same leader (e.g. a
    # ZK controller removing a replica from the ISR) keeps the followers' LEOs
    p = leader(min_isr=1)
    produce(p, 10)
    fetch(p, 1, 10)
    fetch(p, 2, 7)
    assert hw(p) == 7
    assert p.make_leader(1, (0, 1), 1, 500.0) is True
    assert (p.remote[1].log_end_offset, p.remote[2].log_end_offset) == (10, 7)
    assert (p.remote[1].last_caught_up_time_ms, p.remote[2].last_caught_up_time_ms) == (
        500.0,
        NEVER,
    )
    assert hw(p) == 10
    assert p.log.epoch_entries == [(0, 0), (1, 10)]


# -- idempotence (KIP-98) --------------------------------------------------------------------------
def test_idempotent_duplicate_returns_the_original_offset() -> None:
    p = leader()
    first = p.append_records_to_leader(mk(3, pid=7, pepoch=0, seq=0), "all", 0.0)
    produce(p, 2)
    dup = p.append_records_to_leader(mk(3, pid=7, pepoch=0, seq=0), "all", 0.0)
    assert first.base_offset == 0
    assert dup == LeaderAppend(None, base_offset=0, required_offset=3, duplicate=True)
    assert p.log.log_end_offset == 5


def test_min_isr_check_precedes_duplicate_detection() -> None:
    # appendRecordsToLeader throws NotEnoughReplicas before UnifiedLog.appendAsLeader runs
    p = leader()
    p.append_records_to_leader(mk(3, pid=7, pepoch=0, seq=0), "all", 0.0)
    p.on_isr_committed((0,), 1, 0.0)
    retry = p.append_records_to_leader(mk(3, pid=7, pepoch=0, seq=0), "all", 0.0)
    assert retry == LeaderAppend(NOT_ENOUGH_REPLICAS)


# -- properties ------------------------------------------------------------------------------------
def _apply(p: Partition, op: ReplicationOp, now: float) -> tuple[float, LeaderAppend | None]:
    """Apply one generated operation to leader ``p``; returns (new time, append outcome)."""
    kind = op[0]
    if kind == "append":
        _, count, acks = op
        leo, isr_size = p.log.log_end_offset, len(p.isr)
        res = produce(p, count, acks, now)
        if acks == "all" and isr_size < p.effective_min_isr:
            assert res == LeaderAppend(NOT_ENOUGH_REPLICAS)
            assert p.log.log_end_offset == leo
        else:
            assert (res.error, res.base_offset) == (None, leo)
            assert p.log.log_end_offset == leo + count
        return now, res
    if kind == "fetch":
        _, rid, frac = op
        prev = max(p.remote[rid].log_end_offset, 0)
        offset = prev + int(frac * (p.log.log_end_offset - prev))
        old_isr = set(p.isr)
        _, proposal = fetch(p, rid, offset, now)
        if proposal is not None:
            assert p.pending_isr is proposal and proposal.kind == "expand"
            assert set(proposal.new_isr) == old_isr | {rid} and rid not in old_isr
        return now, None
    if kind == "tick":
        now += op[1]
        old_isr = set(p.isr)
        proposal = p.maybe_shrink_isr(now)
        if proposal is not None:
            assert proposal.kind == "shrink" and 0 in proposal.new_isr
            assert set(proposal.new_isr) < old_isr
        return now, None
    pending = p.pending_isr
    if pending is not None:
        if op[1]:
            p.on_isr_committed(pending.new_isr, p.partition_epoch + 1, now)
        else:
            p.on_isr_rejected()
    return now, None


def _follower_leo(p: Partition, broker: int) -> int:
    return p.log.log_end_offset if broker == p.broker_id else p.remote[broker].log_end_offset


@settings(max_examples=300, deadline=None)
@given(ops=replication_ops(), min_isr=st.integers(1, 3), strict=st.booleans())
def test_leader_hw_and_acks_all_invariants(
    ops: list[ReplicationOp], min_isr: int, strict: bool
) -> None:
    p = leader(min_isr=min_isr, strict=strict, lag=100.0)
    now, prev_hw = 0.0, 0
    parked: list[int] = []  # required offsets of accepted acks=all appends
    for op in ops:
        under_min_isr = len(p.isr) < p.effective_min_isr
        now, res = _apply(p, op, now)
        if res is not None and res.error is None and op[2] == "all":
            parked.append(res.required_offset)
        high, leo = hw(p), p.log.log_end_offset
        assert prev_hw <= high <= leo  # monotonic, never past the leader LEO
        if strict and under_min_isr and len(p.isr) < p.effective_min_isr:
            assert high == prev_hw  # frozen below min ISR
        # an unknown LEO (-1, no fetch yet in this epoch) counts as the HW at the election, 0
        assert high <= min(max(_follower_leo(p, b), 0) for b in p.maximal_isr)
        prev_hw = high
        waiting = []
        for required in parked:
            done, error = p.check_enough_replicas_reach_offset(required)
            assert done == (high >= required)
            if not done:
                waiting.append(required)
            elif error is None:
                assert len(p.maximal_isr) >= p.effective_min_isr
                assert all(_follower_leo(p, b) >= required for b in p.maximal_isr)
            else:
                assert error == NOT_ENOUGH_REPLICAS_AFTER_APPEND
                assert len(p.maximal_isr) < p.effective_min_isr
        parked = waiting


@settings(max_examples=150, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["append", "f1", "f2"]),
            st.integers(1, 4),
            st.sampled_from([100, 250, 1 << 20]),
        ),
        max_size=50,
    )
)
def test_real_followers_replicate_a_prefix_and_trail_the_leader_hw(
    ops: list[tuple[str, int, int]],
) -> None:
    """Followers as Partitions reading the leader's log: logs stay prefixes, HWs trail."""
    p = leader(min_isr=2)
    followers = {1: follower_with([], 0), 2: follower_with([], 0)}
    for kind, count, max_bytes in ops:
        if kind == "append":
            produce(p, count, "1")
            continue
        rid = int(kind[1])
        f = followers[rid]
        offset = f.log.log_end_offset
        fetch(p, rid, offset)
        batches = p.log.read(offset, max_bytes, p.log.log_end_offset)
        leader_hw = hw(p)
        f.append_records_as_follower(batches, leader_hw, 0.0)
        assert hw(f) == min(leader_hw, f.log.log_end_offset)
        assert list(f.log.batches()) == list(p.log.batches())[: len(list(f.log.batches()))]
        assert hw(p) <= min(g.log.log_end_offset for g in followers.values())
    # drain: two full fetch rounds past the end commit everything and tell every follower
    for _ in range(3):
        for rid, f in followers.items():
            offset = f.log.log_end_offset
            fetch(p, rid, offset)
            f.append_records_as_follower(
                p.log.read(offset, 1 << 30, p.log.log_end_offset), hw(p), 0.0
            )
    assert hw(p) == p.log.log_end_offset
    assert all(hw(f) == hw(p) for f in followers.values())
