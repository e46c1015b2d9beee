"""Leader election and controller-side ISR changes (election.py).

Exact unit tests of each rule, then hypothesis properties over random event sequences (fence,
unfence, unclean restart, controlled shutdown, AlterPartition, preferred and periodic elections)
for the ZooKeeper-like and KRaft-like policies, with ELR and unclean election on and off. Rule
references are to /work/shared/kafka-semantics.md (§2.5, §2.8, §3.1, §3.2, §7 A2) and Kafka's
``PartitionChangeBuilder`` / ``ReplicationControlManager`` / ``Election.scala``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kafka.election import (
    ELECTION_KINDS,
    FENCED_LEADER_EPOCH,
    INELIGIBLE_REPLICA,
    INVALID_REQUEST,
    INVALID_UPDATE_VERSION,
    NO_LEADER,
    NOT_CONTROLLER,
    ElectionPolicy,
    PartitionChange,
    PartitionState,
    alter_partition,
    broker_fenced,
    broker_unclean_restart,
    broker_unfenced,
    controlled_shutdown,
    elect_leader,
    initial_state,
    invariant_violations,
    preferred_leader_election,
    recovery_complete,
)

KRAFT = ElectionPolicy(unclean=False)
KRAFT_UNCLEAN = ElectionPolicy(unclean=True)
ZK = ElectionPolicy(unclean=False, bump_epoch_on_isr_shrink=True)
ELR2 = ElectionPolicy(unclean=False, elr=True, min_isr=2)
ELR2_UNCLEAN = ElectionPolicy(unclean=True, elr=True, min_isr=2)


def part(
    isr: tuple[int, ...] = (0, 1, 2),
    leader: int = 0,
    *,
    replicas: tuple[int, ...] = (0, 1, 2),
    elr: tuple[int, ...] = (),
    lke: tuple[int, ...] = (),
    recovering: bool = False,
) -> PartitionState:
    """A partition in leader epoch 5, partition epoch 10."""
    return PartitionState(replicas, isr, leader, 5, 10, elr, lke, recovering)


def U(*brokers: int) -> frozenset[int]:
    return frozenset(brokers)


def summary(c: PartitionChange) -> tuple[Any, ...]:
    a = c.after
    return (c.kind, a.leader, a.isr, a.elr, a.leader_epoch, a.partition_epoch)


# -- elect_leader (electAnyLeader / offlinePartitionLeaderElection) ------------------------------


def test_usable_current_leader_is_kept() -> None:
    c = elect_leader(part(), U(0, 1), KRAFT, reason="periodic")
    assert (c.kind, c.changed, c.leader_changed, c.after) == (None, False, False, part())


def test_clean_election_picks_first_usable_isr_replica_in_assignment_order() -> None:
    s = part((3, 1, 2), 3, replicas=(3, 1, 2))
    c = elect_leader(s, U(2, 1), KRAFT, reason="x")
    assert summary(c) == ("clean", 1, (1, 2), (), 6, 11)
    assert c.leader_changed and c.changed and c.reason == "x"


def test_election_shrinks_isr_to_usable_members() -> None:
    c = elect_leader(part(), U(2), KRAFT, reason="x")
    assert summary(c) == ("clean", 2, (2,), (), 6, 11)


def test_no_usable_isr_member_goes_offline_and_keeps_the_isr() -> None:
    c = elect_leader(part((0, 1)), U(2), KRAFT, reason="x")
    assert summary(c) == ("offline", NO_LEADER, (0, 1), (), 6, 11)


def test_unclean_election_picks_first_usable_replica_with_isr_of_it_and_recovering() -> None:
    c = elect_leader(part((0,)), U(2, 1), KRAFT_UNCLEAN, reason="x")
    assert summary(c) == ("unclean", 1, (1,), (), 6, 11)
    assert c.after.recovering


def test_unclean_with_nobody_usable_stays_offline() -> None:
    s = part((0,), NO_LEADER)
    assert elect_leader(s, U(), KRAFT_UNCLEAN, reason="x").kind is None


def test_leader_epoch_bumps_going_offline_and_coming_back() -> None:
    down = broker_fenced(part((0,)), 0, U(1, 2), KRAFT)
    up = broker_unfenced(down.after, 0, U(0, 1, 2), KRAFT)
    assert summary(down) == ("offline", NO_LEADER, (0,), (), 6, 11)
    assert summary(up) == ("clean", 0, (0,), (), 7, 12)


# -- broker_fenced (handleBrokerFenced / onBrokerFailure) ----------------------------------------


def test_fenced_follower_leaves_isr_kraft_keeps_epoch_zk_bumps_it() -> None:
    assert summary(broker_fenced(part(), 2, U(0, 1), KRAFT)) == ("isr", 0, (0, 1), (), 5, 11)
    assert summary(broker_fenced(part(), 2, U(0, 1), ZK)) == ("isr", 0, (0, 1), (), 6, 11)


def test_fenced_leader_hands_over_to_next_isr_replica_with_one_epoch_bump() -> None:
    for policy in (KRAFT, ZK):
        c = broker_fenced(part(), 0, U(1, 2), policy)
        assert summary(c) == ("clean", 1, (1, 2), (), 6, 11)


def test_last_isr_member_is_never_removed_without_elr() -> None:
    for policy in (KRAFT, ZK):
        c = broker_fenced(part((0,)), 0, U(1, 2), policy)
        assert summary(c) == ("offline", NO_LEADER, (0,), (), 6, 11)


def test_fencing_a_broker_outside_the_isr_changes_nothing() -> None:
    assert broker_fenced(part((0, 1)), 2, U(0, 1), ZK).kind is None


def test_fenced_broker_is_never_elected_even_if_passed_as_usable() -> None:
    c = broker_fenced(part((0, 1)), 0, U(0, 1), KRAFT)
    assert c.after.leader == 1


# -- ELR (KIP-966) -------------------------------------------------------------------------------


def test_elr_collects_isr_members_leaving_below_min_isr_and_isr_may_empty() -> None:
    s = part()
    steps = []
    for b, usable in ((2, U(0, 1)), (1, U(0)), (0, U())):
        c = broker_fenced(s, b, usable, ELR2)
        steps.append((c.kind, c.after.isr, c.after.elr, c.after.leader, c.after.last_known_elr))
        s = c.after
    assert steps == [
        ("isr", (0, 1), (), 0, ()),  # |ISR| 2 >= min ISR 2: no ELR
        ("isr", (0,), (1,), 0, ()),
        ("offline", (), (0, 1), NO_LEADER, (0,)),  # ISR empty, last known leader 0
    ]


def test_elr_member_is_elected_when_it_comes_back() -> None:
    s = part((), NO_LEADER, elr=(0, 1), lke=(0,))
    c = broker_unfenced(s, 1, U(1), ELR2)
    assert summary(c) == ("elr", 1, (1,), (0,), 6, 11)
    assert c.after.last_known_elr == () and not c.after.recovering


def test_elr_is_cleared_once_isr_reaches_min_isr() -> None:
    s = part((1,), 1, elr=(0,))
    err, c = alter_partition(s, 1, 5, 10, (2, 1), U(0, 1, 2), ELR2)
    assert err is None
    assert summary(c) == ("isr", 1, (1, 2), (), 5, 11)


def test_elr_cleared_right_after_elr_election_when_min_isr_is_one() -> None:
    policy = ElectionPolicy(unclean=False, elr=True, min_isr=1)
    c = broker_unfenced(part((), NO_LEADER, elr=(1, 2)), 1, U(1), policy)
    assert (c.kind, c.after.isr, c.after.elr) == ("elr", (1,), ())


def test_alter_partition_shrink_below_min_isr_moves_members_to_elr() -> None:
    err, c = alter_partition(part(), 0, 5, 10, (0,), U(0, 1, 2), ELR2)
    assert err is None
    assert summary(c) == ("isr", 0, (0,), (1, 2), 5, 11)


def test_isr_member_is_preferred_to_earlier_elr_member() -> None:
    s = part((2,), NO_LEADER, elr=(0, 1))
    c = elect_leader(s, U(0, 1, 2), ELR2, reason="x")
    assert (c.kind, c.after.leader, c.after.isr, c.after.elr) == ("clean", 2, (2,), (0, 1))


def test_elr_member_is_preferred_to_unclean_election() -> None:
    s = part((), NO_LEADER, elr=(2,), lke=(0,))
    c = elect_leader(s, U(1, 2), ELR2_UNCLEAN, reason="x")
    assert (c.kind, c.after.leader, c.after.isr, c.after.recovering) == ("elr", 2, (2,), False)


@pytest.mark.parametrize("policy", [ELR2, ELR2_UNCLEAN])
def test_last_known_leader_is_elected_when_isr_and_elr_are_empty(policy: ElectionPolicy) -> None:
    s = part((), NO_LEADER, lke=(2,))
    c = elect_leader(s, U(1, 2), policy, reason="x")
    assert summary(c) == ("last_known_leader", 2, (2,), (), 6, 11)
    assert c.after.recovering and c.after.last_known_elr == ()


def test_unusable_last_known_leader_falls_through_to_unclean() -> None:
    s = part((), NO_LEADER, lke=(0,))
    assert summary(elect_leader(s, U(2, 1), ELR2_UNCLEAN, reason="x")) == (
        "unclean",
        1,
        (1,),
        (),
        6,
        11,
    )
    assert elect_leader(s, U(2, 1), ELR2, reason="x").kind is None


def test_unclean_restart_removes_broker_from_elr_and_isr() -> None:
    s = part((), NO_LEADER, elr=(0, 1, 2), lke=(2,))
    c = broker_unclean_restart(s, 2, U(), ELR2)
    assert summary(c) == ("isr", NO_LEADER, (), (0, 1), 5, 11)
    assert c.after.last_known_elr == (2,)  # still the last resort
    s2 = part((1, 2), 1, elr=(0,))
    policy3 = ElectionPolicy(unclean=False, elr=True, min_isr=3)
    c2 = broker_unclean_restart(s2, 2, U(1), policy3)
    assert (c2.after.isr, c2.after.elr) == ((1,), (0,))


def test_unclean_restart_is_a_no_op_without_elr() -> None:
    assert broker_unclean_restart(part((0,), NO_LEADER), 0, U(), KRAFT).kind is None


@pytest.mark.parametrize("elr", [False, True])
def test_kip966_last_replica_standing(elr: bool) -> None:
    """§2.8: ISR {2,0,1}, min ISR 2; 0 and 1 crash; 2 crashes uncleanly and comes back first."""
    policy = ElectionPolicy(unclean=False, elr=elr, min_isr=2)
    s = initial_state((2, 0, 1))
    s = broker_fenced(s, 0, U(2, 1), policy).after
    s = broker_fenced(s, 1, U(2), policy).after
    s = broker_fenced(s, 2, U(), policy).after
    assert s.leader == NO_LEADER
    s = broker_unclean_restart(s, 2, U(), policy).after
    back = broker_unfenced(s, 2, U(2), policy)
    if not elr:
        # Without ELR the sole ISR member is re-elected with its truncated log: data loss.
        assert (back.kind, back.after.leader) == ("clean", 2)
    else:
        # 0 left while |ISR| was still >= min ISR, so only 1 (and 2) went to the ELR.
        assert (s.isr, s.elr, back.kind) == ((), (1,), None)  # 2 is no longer eligible
        assert broker_unfenced(back.after, 0, U(0, 2), policy).kind is None
        c = broker_unfenced(back.after, 1, U(0, 1, 2), policy)
        assert (c.kind, c.after.leader, c.after.isr, c.after.elr) == ("elr", 1, (1,), ())


@pytest.mark.parametrize("unclean", [False, True])
def test_a2_unclean_election_of_the_out_of_sync_follower(unclean: bool) -> None:
    """§7 A2: F2 (2) stalls and leaves the ISR; F1 (1) dies, then L (0) dies."""
    policy = ElectionPolicy(unclean=unclean)
    err, c = alter_partition(initial_state((0, 1, 2)), 0, 0, 0, (0, 1), U(0, 1, 2), policy)
    s = broker_fenced(c.after, 1, U(0, 2), policy).after
    assert (err, s.isr, s.leader) == (None, (0,), 0)
    down = broker_fenced(s, 0, U(2), policy)  # F2 is alive, only stalled: elected at once
    if unclean:
        assert summary(down) == ("unclean", 2, (2,), (), 1, 3)
        assert down.after.recovering
    else:
        assert summary(down) == ("offline", NO_LEADER, (0,), (), 1, 3)
        # F2 down as well, then back: still not eligible; with unclean it would lead.
        gone = broker_fenced(down.after, 2, U(), policy)
        assert broker_unfenced(gone.after, 2, U(2), policy).kind is None
        back = broker_unfenced(gone.after, 2, U(2), KRAFT_UNCLEAN)
        assert (back.kind, back.after.leader, back.after.isr) == ("unclean", 2, (2,))


# -- broker_unfenced -----------------------------------------------------------------------------


def test_unfenced_broker_does_not_touch_a_partition_with_a_leader() -> None:
    assert broker_unfenced(part((0, 1)), 2, U(0, 1, 2), KRAFT_UNCLEAN).kind is None


def test_unfenced_non_isr_broker_leads_only_with_unclean() -> None:
    s = part((0,), NO_LEADER)
    assert broker_unfenced(s, 1, U(1), KRAFT).kind is None
    assert broker_unfenced(s, 1, U(1), KRAFT_UNCLEAN).kind == "unclean"


# -- alter_partition (KIP-497) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("leader", "le", "pe", "isr", "usable", "error"),
    [
        (0, 4, 10, (0, 1, 2), U(0, 1, 2), FENCED_LEADER_EPOCH),
        (0, 6, 10, (0, 1, 2), U(0, 1, 2), NOT_CONTROLLER),
        (0, 5, 11, (0, 1, 2), U(0, 1, 2), NOT_CONTROLLER),
        (1, 5, 10, (0, 1, 2), U(0, 1, 2), INVALID_REQUEST),
        (0, 5, 9, (0, 1, 2), U(0, 1, 2), INVALID_UPDATE_VERSION),
        (0, 5, 10, (0, 7), U(0, 1, 2), INVALID_REQUEST),
        (0, 5, 10, (0, 0, 1), U(0, 1, 2), INVALID_REQUEST),
        (0, 5, 10, (1, 2), U(0, 1, 2), INVALID_REQUEST),
        (0, 5, 10, (0, 1, 2), U(0, 1), INELIGIBLE_REPLICA),
    ],
)
def test_alter_partition_rejections(
    leader: int, le: int, pe: int, isr: tuple[int, ...], usable: frozenset[int], error: str
) -> None:
    s = part((0, 1))
    err, c = alter_partition(s, leader, le, pe, isr, usable, KRAFT)
    assert (err, c.kind, c.after) == (error, None, s)


@pytest.mark.parametrize("policy", [KRAFT, ZK])
def test_alter_partition_success_orders_isr_and_never_bumps_leader_epoch(
    policy: ElectionPolicy,
) -> None:
    err, c = alter_partition(part((0, 1)), 0, 5, 10, (2, 0, 1), U(0, 1, 2), policy)
    assert (err, *summary(c)) == (None, "isr", 0, (0, 1, 2), (), 5, 11)
    err, c = alter_partition(part(), 0, 5, 10, (1, 0), U(0, 1, 2), policy)
    assert (err, *summary(c)) == (None, "isr", 0, (0, 1), (), 5, 11)


def test_alter_partition_without_change_is_accepted_as_a_no_op() -> None:
    err, c = alter_partition(part((0, 1)), 0, 5, 10, (1, 0), U(0, 1, 2), KRAFT)
    assert (err, c.kind) == (None, None)


def test_accepted_alter_partition_ends_leader_recovery() -> None:
    s = part((0,), recovering=True)
    err, c = alter_partition(s, 0, 5, 10, (0, 1), U(0, 1, 2), KRAFT)
    assert (err, c.after.isr, c.after.recovering) == (None, (0, 1), False)


# -- controlled_shutdown -------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [KRAFT, ZK])
def test_controlled_shutdown_moves_leadership_to_next_isr_replica(policy: ElectionPolicy) -> None:
    c = controlled_shutdown(part(), 0, U(1, 2), policy)
    assert summary(c) == ("controlled", 1, (1, 2), (), 6, 11)


def test_controlled_shutdown_of_follower_shrinks_isr() -> None:
    assert summary(controlled_shutdown(part(), 2, U(0, 1), KRAFT)) == ("isr", 0, (0, 1), (), 5, 11)
    assert summary(controlled_shutdown(part(), 2, U(0, 1), ZK)) == ("isr", 0, (0, 1), (), 6, 11)


def test_controlled_shutdown_of_sole_isr_leader_zk_keeps_it() -> None:
    assert controlled_shutdown(part((0,)), 0, U(1, 2), ZK).kind is None


def test_controlled_shutdown_of_sole_isr_leader_kraft_goes_offline() -> None:
    c = controlled_shutdown(part((0,)), 0, U(1, 2), KRAFT)
    assert summary(c) == ("offline", NO_LEADER, (0,), (), 6, 11)
    c = controlled_shutdown(part((0,)), 0, U(1, 2), ELR2)
    assert summary(c) == ("offline", NO_LEADER, (), (0,), 6, 11)
    assert c.after.last_known_elr == (0,)
    assert controlled_shutdown(part((0,)), 0, U(1, 2), KRAFT_UNCLEAN).kind == "unclean"


# -- preferred_leader_election and recovery ------------------------------------------------------


def test_preferred_replica_takes_leadership_back() -> None:
    c = preferred_leader_election(part(leader=1), U(0, 1, 2), KRAFT)
    assert summary(c) == ("preferred", 0, (0, 1, 2), (), 6, 11)


@pytest.mark.parametrize(
    ("state", "usable"),
    [(part(), U(0, 1, 2)), (part((1, 2), 1), U(0, 1, 2)), (part(leader=1), U(1, 2))],
)
def test_preferred_election_needs_preferred_usable_in_isr_and_not_leader(
    state: PartitionState, usable: frozenset[int]
) -> None:
    assert preferred_leader_election(state, usable, KRAFT).kind is None


def test_recovery_complete_clears_recovering_only() -> None:
    c = recovery_complete(part((0,), recovering=True))
    assert summary(c) == ("isr", 0, (0,), (), 5, 11)
    assert not c.after.recovering
    assert recovery_complete(part()).kind is None


def test_invariant_violations_reports_a_leader_outside_the_isr() -> None:
    assert invariant_violations(part(), KRAFT) == ()
    assert invariant_violations(part((1, 2), 0), KRAFT) == ("leader 0 not in isr (1, 2)",)


# -- properties over random event sequences ------------------------------------------------------

BROKERS = (0, 1, 2, 3, 4)  # replicas are drawn from 0-3, so broker 4 never hosts the partition
broker = st.sampled_from(BROKERS)
delta = st.sampled_from([0, 0, 0, -1, 1])
events = st.one_of(
    st.tuples(st.sampled_from(["fence", "unfence", "unclean_restart", "shutdown"]), broker),
    st.tuples(
        st.just("alter"),
        st.sampled_from(["valid", "full", "random"]),
        broker,
        delta,
        delta,
        st.lists(st.integers(0, 5), max_size=5),
    ),
    st.tuples(st.sampled_from(["preferred", "elect", "recovered"])),
)

POLICIES = {
    "kraft": (False, False, False),
    "kraft-unclean": (False, True, False),
    "kraft-elr": (False, False, True),
    "kraft-elr-unclean": (False, True, True),
    "zk": (True, False, False),
    "zk-unclean": (True, True, False),
}


@st.composite
def runs(draw: st.DrawFn, zk: bool, unclean: bool, elr: bool) -> tuple[Any, ...]:
    rf = draw(st.integers(1, 4))
    replicas = tuple(draw(st.permutations(BROKERS[:4]))[:rf])
    policy = ElectionPolicy(
        unclean=unclean, elr=elr, min_isr=draw(st.integers(1, rf)), bump_epoch_on_isr_shrink=zk
    )
    return replicas, policy, draw(st.lists(events, min_size=15, max_size=60))


class Cluster:
    """The controller's view: alive (unfenced) brokers and brokers in controlled shutdown."""

    def __init__(self, replicas: tuple[int, ...], policy: ElectionPolicy) -> None:
        self.state = initial_state(replicas)
        self.policy = policy
        self.alive = set(BROKERS)
        self.shutting: set[int] = set()

    @property
    def usable(self) -> frozenset[int]:
        return frozenset(self.alive - self.shutting)

    def apply(self, event: tuple[Any, ...]) -> None:
        name, *args = event
        s, p = self.state, self.policy
        if name == "fence" and args[0] in self.alive:
            self.alive.discard(args[0])
            self.shutting.discard(args[0])
            self.check(broker_fenced(s, args[0], self.usable, p))
        elif name in ("unfence", "unclean_restart") and args[0] not in self.alive:
            if name == "unclean_restart":
                self.check(broker_unclean_restart(s, args[0], self.usable, p))
                if p.elr:  # it may have lost committed data: neither in ISR nor ELR
                    assert args[0] not in self.state.isr + self.state.elr
            self.alive.add(args[0])
            self.check(broker_unfenced(self.state, args[0], self.usable, p))
        elif name == "shutdown" and args[0] in self.usable:
            self.shutting.add(args[0])
            self.check(controlled_shutdown(s, args[0], self.usable, p))
        elif name == "alter":
            self.alter(*args)
        elif name == "preferred":
            self.check(preferred_leader_election(s, self.usable, p))
        elif name == "elect":
            self.check(elect_leader(s, self.usable, p, reason="periodic"))
        elif name == "recovered":
            self.check(recovery_complete(s), controller_driven=False)

    def alter(self, mode: str, requester: int, d_le: int, d_pe: int, members: list[int]) -> None:
        s = self.state
        if mode in ("valid", "full"):
            requester, le, pe = s.leader, s.leader_epoch, s.partition_epoch
            members = list(s.replicas) if mode == "full" else members
            proposal = tuple(dict.fromkeys([s.leader, *members]))
            proposal = tuple(r for r in proposal if r in s.replicas and r in self.usable)
            proposal = proposal if s.leader in proposal else (s.leader, *proposal)
        else:
            le, pe, proposal = s.leader_epoch + d_le, s.partition_epoch + d_pe, tuple(members)
        err, change = alter_partition(s, requester, le, pe, proposal, self.usable, self.policy)
        self.check(change, controller_driven=False)
        if err is not None:
            assert change.after == s and change.kind is None
            valid_leader = s.leader != NO_LEADER and s.leader in self.usable
            assert not (mode != "random" and valid_leader), err
            return
        assert (requester, le, pe) == (s.leader, s.leader_epoch, s.partition_epoch)
        assert len(set(proposal)) == len(proposal) and s.leader in proposal
        assert all(r in s.replicas and r in self.usable for r in proposal)
        after = change.after
        assert after.isr == tuple(r for r in s.replicas if r in proposal)
        assert (after.leader, after.leader_epoch, after.recovering) == (
            s.leader,
            s.leader_epoch,
            False,
        )

    def check(self, c: PartitionChange, *, controller_driven: bool = True) -> None:
        before, after, p = self.state, c.after, self.policy
        assert c.before == before
        assert invariant_violations(after, p) == ()
        # leader is -1 or usable (ZK keeps a shutting-down sole-ISR leader in place).
        if after.leader != NO_LEADER and after.leader not in self.usable:
            assert p.zk_controller and after.leader in self.shutting
            assert after.leader == before.leader
        # kind None iff nothing changed; partition epoch +1 on every change.
        assert (c.kind is None) == (not c.changed) == (after == before)
        assert c.kind is None or c.kind in ELECTION_KINDS
        assert after.partition_epoch == before.partition_epoch + int(c.changed)
        # leader epoch +1 on every leader change, else only on a ZK controller-driven shrink.
        shrank = not set(before.isr) <= set(after.isr)
        bump = c.leader_changed or (p.zk_controller and controller_driven and shrank)
        assert after.leader_epoch == before.leader_epoch + int(bump)
        assert (c.kind not in (None, "isr")) == c.leader_changed
        if c.kind in ("clean", "controlled", "preferred"):
            assert after.leader in before.isr
        if c.kind == "elr":
            assert after.leader in before.elr + before.isr and after.isr == (after.leader,)
        if c.kind in ("unclean", "last_known_leader"):
            assert after.isr == (after.leader,) and after.recovering and after.elr == ()
        if c.kind == "last_known_leader":
            assert p.elr and after.leader in before.last_known_elr
        if not p.unclean:
            assert c.kind != "unclean"
            if c.leader_changed and after.leader != NO_LEADER:
                eligible = before.isr + before.elr + before.last_known_elr
                assert after.leader in eligible
        self.state = after


@pytest.mark.parametrize("name", list(POLICIES))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_invariants_hold_after_every_event(name: str, data: st.DataObject) -> None:
    replicas, policy, schedule = data.draw(runs(*POLICIES[name]))
    cluster = Cluster(replicas, policy)
    for event in schedule:
        cluster.apply(event)
