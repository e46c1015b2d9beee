"""KRaft quorum (raft.py): exact message traces for the rules, then random schedules.

Unit tests drive :class:`RaftNode` objects by hand: :func:`deliver` hands every message to its
destination at the same instant, first in first out, and records it, so a test asserts the whole
list of messages. The property tests use the pure event harness in ``raft_harness.py`` (random
delays, drops, partitions, crashes and restarts; invariants checked after every event), then heal
everything and require a leader and a new committed entry within a bounded time. Rule references
are to /work/shared/kafka-semantics.md §1.4, §3.2 and Kafka's ``raft/`` sources.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kafka.raft import (
    FENCED_LEADER_EPOCH,
    NOT_LEADER_OR_FOLLOWER,
    BeginQuorumEpoch,
    BeginQuorumEpochResponse,
    EndQuorumEpoch,
    Entry,
    FetchRequest,
    FetchResponse,
    LeaderChange,
    Message,
    RaftNode,
    VoteRequest,
    VoteResponse,
)
from tests.kafka.raft_harness import Cluster

V3 = (1, 2, 3)


def node(nid: int, voters: tuple[int, ...] = V3, seed: int = 0, **kw: float) -> RaftNode:
    return RaftNode(nid, voters, rng=np.random.default_rng([seed, nid]), **kw)  # type: ignore[arg-type]


def quorum(voters: tuple[int, ...] = V3, seed: int = 0) -> dict[int, RaftNode]:
    return {i: node(i, voters, seed) for i in voters}


def deliver(nodes: dict[int, RaftNode], messages: list[Message], now: float) -> list[Message]:
    """Deliver instantly, FIFO, until quiet; return every delivered message in order."""
    trace: list[Message] = []
    queue = deque(messages)
    while queue:
        m = queue.popleft()
        trace.append(m)
        if m.destination in nodes:
            queue.extend(nodes[m.destination].handle(m, now))
    return trace


def seed_log(n: RaftNode, epochs: list[int]) -> None:
    """Give a fresh node a log written in ``epochs`` (test setup only)."""
    for epoch in epochs:
        n._append_entry(Entry(epoch, n.end_offset, f"r{n.end_offset}"))


def make_leader(n: RaftNode, epoch: int, now: float, via: int) -> None:
    """Make ``n`` leader of ``epoch`` through the protocol: follow ``via`` in epoch-1, time out
    (its fetch timeout), stand, and get ``via``'s vote."""
    n.handle(
        BeginQuorumEpoch(source=via, destination=n.node_id, epoch=epoch - 1, leader_id=via), now
    )
    t = now + n.fetch_timeout_ms
    votes = n.poll(t)
    assert n.role == "candidate" and n.epoch == epoch
    assert votes  # VoteRequests
    n.handle(VoteResponse(source=via, destination=n.node_id, epoch=epoch, granted=True), t)
    assert n.is_leader


def vote(src: int, dst: int, epoch: int, last_epoch: int, end: int) -> VoteRequest:
    return VoteRequest(
        source=src, destination=dst, epoch=epoch, last_epoch=last_epoch, end_offset=end
    )


# ------------------------------------------------------------------------------------------------
# Election


def test_first_timed_out_voter_is_elected_exact_trace() -> None:
    nodes = quorum()
    # Election timeouts are uniform in [1000, 2000) (QuorumState.randomElectionTimeoutMs).
    deadlines = {i: n.next_deadline() for i, n in nodes.items()}
    assert all(1000 <= d < 2000 for d in deadlines.values())
    assert min(deadlines, key=lambda i: deadlines[i]) == 2
    t = deadlines[2]
    assert nodes[2].poll(t - 0.001) == []
    out = nodes[2].poll(t)
    assert nodes[2].role == "candidate" and nodes[2].epoch == 1 and nodes[2].voted_for == 2
    trace = deliver(nodes, out, t)
    assert trace == [
        vote(2, 1, 1, 0, 0),
        vote(2, 3, 1, 0, 0),
        VoteResponse(source=1, destination=2, epoch=1, granted=True),
        VoteResponse(source=3, destination=2, epoch=1, granted=True),
        BeginQuorumEpoch(source=2, destination=1, epoch=1, leader_id=2),
        BeginQuorumEpoch(source=2, destination=3, epoch=1, leader_id=2),
        BeginQuorumEpochResponse(source=1, destination=2, epoch=1, leader_id=2),
        BeginQuorumEpochResponse(source=3, destination=2, epoch=1, leader_id=2),
    ]
    leader = nodes[2]
    assert [n.role for n in nodes.values()] == ["follower", "leader", "follower"]
    assert [n.voted_for for n in nodes.values()] == [2, 2, 2]
    # The LeaderChange marker (granting voters: the candidate and the first grant) at offset 0.
    assert leader.log == [Entry(1, 0, LeaderChange(2, V3, (1, 2)))]
    assert leader.leader_epoch_start_offset == 0 and leader.high_watermark == 0
    assert nodes[1].leader_epoch_start_offset is None


def elected(seed: int = 0) -> tuple[dict[int, RaftNode], float]:
    """Node 2 leader of epoch 1 at t (see the trace test)."""
    nodes = quorum(seed=seed)
    t = nodes[2].next_deadline()
    deliver(nodes, nodes[2].poll(t), t)
    return nodes, t


def test_marker_commits_after_one_follower_fetch_round() -> None:
    nodes, t = elected()
    marker = nodes[2].log[0]
    f1 = nodes[1].poll(t)
    assert f1 == [
        FetchRequest(
            source=1, destination=2, epoch=1, fetch_offset=0, last_fetched_epoch=0, correlation_id=1
        )
    ]
    assert deliver(nodes, f1, t)[1] == FetchResponse(
        source=2, destination=1, epoch=1, leader_id=2, correlation_id=1, entries=(marker,)
    )
    assert nodes[1].log == [marker] and nodes[2].high_watermark == 0
    # The next fetch (at once: the previous answer carried entries) confirms offset 1: {1, 2}
    # is a majority and the marker is from the leader's epoch, so the HW moves to 1.
    f2 = nodes[1].poll(t)
    assert f2[0].fetch_offset == 1 and f2[0].last_fetched_epoch == 1  # type: ignore[union-attr]
    resp = deliver(nodes, f2, t)[1]
    assert isinstance(resp, FetchResponse) and resp.high_watermark == 1 and resp.entries == ()
    assert nodes[2].high_watermark == 1 and nodes[1].high_watermark == 1
    assert nodes[2].committed() == [marker]
    # Node 3 learns marker and HW together: min(leader HW 1, own end 1).
    deliver(nodes, nodes[3].poll(t), t)
    assert nodes[3].high_watermark == 1
    # Appends commit the same way.
    assert nodes[2].append("x", t) == 1 and nodes[1].append("y", t) is None
    deliver(nodes, nodes[1].poll(t), t)  # gets x
    deliver(nodes, nodes[1].poll(t), t)  # confirms offset 2
    assert nodes[2].high_watermark == 2 and nodes[1].high_watermark == 2
    assert [e.payload for e in nodes[2].committed()][1:] == ["x"]


def test_old_epoch_entry_commits_only_with_the_leaders_marker() -> None:
    """Raft's current-term rule (LeaderState.maybeUpdateHighWatermark: HW > epochStartOffset).

    The epoch-3 leader holds an epoch-1 entry at offset 0 and its marker at 1. A follower that
    confirms offset 1 (it has the old entry) makes offset 0 majority-replicated, but the HW stays
    0 until the marker itself is on a majority; then both commit at once (Raft figure 8).
    """
    leader = node(1, fetch_max_entries=1)
    follower = node(2)
    seed_log(leader, [1])
    make_leader(leader, 3, 0.0, via=3)
    assert leader.leader_epoch_start_offset == 1
    nodes = {1: leader, 2: follower}
    follower.handle(BeginQuorumEpoch(source=1, destination=2, epoch=3, leader_id=1), 0.0)
    deliver(nodes, follower.poll(0.0), 0.0)  # gets the epoch-1 entry only (1 entry per fetch)
    deliver(nodes, follower.poll(0.0), 0.0)  # confirms offset 1, gets the marker
    assert leader.snapshot()["voter_end_offsets"][2] == 1
    assert leader.high_watermark == 0 and follower.end_offset == 2
    deliver(nodes, follower.poll(0.0), 0.0)  # confirms offset 2: the marker is on a majority
    assert leader.high_watermark == 2 and follower.high_watermark == 2


def test_follower_fetch_pacing_resend_and_fetch_timeout() -> None:
    nodes = {i: node(i, fetch_backoff_ms=50, request_timeout_ms=500) for i in V3}
    t = nodes[2].next_deadline()
    deliver(nodes, nodes[2].poll(t), t)
    deliver(nodes, nodes[1].poll(t), t)  # the marker: next fetch at once
    assert nodes[1].next_deadline() == t
    deliver(nodes, nodes[1].poll(t), t)  # an empty answer: next fetch after fetch_backoff_ms
    assert nodes[1].poll(t + 49.9) == [] and nodes[1].next_deadline() == t + 50
    lost = nodes[1].poll(t + 50)  # sent, never delivered
    assert [m.correlation_id for m in lost] == [3]  # type: ignore[union-attr]
    assert nodes[1].next_deadline() == t + 550  # resent after the request timeout
    again = nodes[1].poll(t + 550)
    assert [m.correlation_id for m in again] == [4]  # type: ignore[union-attr]
    # The answer to the lost request, arriving late, is ignored (correlation id).
    late = FetchResponse(source=2, destination=1, epoch=1, leader_id=2, correlation_id=3)
    assert nodes[1].handle(late, t + 600) == [] and nodes[1].next_deadline() == t + 1050
    nodes[1].poll(t + 1050)
    nodes[1].poll(t + 1550)
    # No successful fetch for fetch_timeout_ms (2000) since t: candidacy.
    assert nodes[1].next_deadline() == t + 2000
    out = nodes[1].poll(t + 2000)
    assert nodes[1].role == "candidate" and nodes[1].epoch == 2
    assert [type(m) for m in out] == [VoteRequest, VoteRequest]


def test_vote_refused_to_stale_log_and_once_per_epoch() -> None:
    n = node(1)
    seed_log(n, [1, 1, 2])  # last_epoch 2, end_offset 3
    # Higher epoch: n moves to epoch 3 (unattached) and refuses: (1, 5) < (2, 3).
    assert n.handle(vote(2, 1, 3, 1, 5), 10.0) == [
        VoteResponse(source=1, destination=2, epoch=3, granted=False)
    ]
    assert (n.epoch, n.role, n.voted_for) == (3, "unattached", None)
    assert n.handle(vote(2, 1, 3, 2, 2), 10.0)[0].granted is False  # type: ignore[union-attr]
    assert n.handle(vote(3, 1, 3, 2, 3), 10.0)[0].granted is True  # type: ignore[union-attr]
    assert n.voted_for == 3
    assert n.handle(vote(2, 1, 3, 3, 0), 10.0)[0].granted is False  # type: ignore[union-attr]
    assert n.handle(vote(3, 1, 3, 2, 3), 11.0)[0].granted is True  # type: ignore[union-attr]
    # A stale candidate is fenced and told the current epoch.
    assert n.handle(vote(2, 1, 2, 9, 9), 12.0) == [
        VoteResponse(source=1, destination=2, epoch=3, granted=False, error=FENCED_LEADER_EPOCH)
    ]
    # Granting restarts the election timer: [T, 2T) after the last grant (t=11).
    assert 1011 <= n.next_deadline() < 2011


def test_candidate_backs_off_after_majority_rejection_then_stands_again() -> None:
    n = node(1)
    seed_log(n, [1])
    t = n.next_deadline()
    n.poll(t)
    for src in (2, 3):
        n.handle(VoteResponse(source=src, destination=1, epoch=1, granted=False), t)
    # binaryExponentialElectionBackoffMs(1) = 100 * U{0, 1}
    assert n.next_deadline() in (t, t + 100)
    out = n.poll(n.next_deadline())
    assert n.epoch == 2 and n.role == "candidate" and len(out) == 2
    assert n.snapshot()["granted"] == [1]


def test_stale_candidate_cannot_reset_election_timers() -> None:
    """QuorumState.transitionToUnattached keeps an unattached voter's running election timer.

    Otherwise a candidate with a stale log, refused by everyone, would bump the epoch every
    backoff and restart the others' timers forever (no pre-vote before KIP-996).
    """
    m = node(2)
    seed_log(m, [1, 1])
    keep = m.next_deadline()
    assert m.handle(vote(3, 2, 7, 0, 0), 10.0)[0].granted is False  # type: ignore[union-attr]
    assert m.epoch == 7 and m.next_deadline() == keep
    assert m.handle(vote(3, 2, 8, 0, 0), 20.0)[0].granted is False  # type: ignore[union-attr]
    assert m.epoch == 8 and m.next_deadline() == keep
    assert m.handle(vote(1, 2, 8, 1, 2), 30.0)[0].granted is True  # type: ignore[union-attr]
    assert m.next_deadline() != keep  # a granted vote restarts it


def test_single_voter_quorum_elects_itself_and_commits_at_once() -> None:
    n = node(1, voters=(1,))
    out = n.poll(n.next_deadline())
    assert out == [] and n.is_leader and n.high_watermark == 1
    assert n.append("a", 0.0) == 1 and n.high_watermark == 2
    assert n.next_deadline() == float("inf")


# ------------------------------------------------------------------------------------------------
# Epochs and errors


def test_stale_fetch_is_fenced_and_higher_epoch_moves_the_receiver() -> None:
    nodes, t = elected()
    stale = FetchRequest(source=3, destination=2, epoch=0, fetch_offset=0, last_fetched_epoch=0)
    assert nodes[2].handle(stale, t) == [
        FetchResponse(
            source=2,
            destination=3,
            epoch=1,
            leader_id=2,
            high_watermark=-1,
            error=FENCED_LEADER_EPOCH,
        )
    ]
    # A fetch to a follower: NOT_LEADER_OR_FOLLOWER naming the leader it knows.
    req = FetchRequest(source=1000, destination=1, epoch=1, fetch_offset=0, last_fetched_epoch=0)
    resp = nodes[1].handle(req, t)[0]
    assert isinstance(resp, FetchResponse)
    assert (resp.error, resp.leader_id, resp.epoch) == (NOT_LEADER_OR_FOLLOWER, 2, 1)
    # A leader seeing a higher epoch steps down to unattached in that epoch.
    nodes[2].handle(vote(3, 2, 4, 0, 0), t)
    assert (nodes[2].role, nodes[2].epoch, nodes[2].leader_id) == ("unattached", 4, None)
    # A response naming a leader of a higher epoch makes the receiver its follower.
    nodes[1].handle(
        FetchResponse(source=3, destination=1, epoch=5, leader_id=3, error=FENCED_LEADER_EPOCH), t
    )
    assert (nodes[1].role, nodes[1].epoch, nodes[1].leader_id) == ("follower", 5, 3)


def test_two_leaders_in_one_epoch_raise() -> None:
    nodes, t = elected()
    with pytest.raises(RuntimeError, match="two leaders"):
        nodes[1].handle(BeginQuorumEpoch(source=3, destination=1, epoch=1, leader_id=3), t)


# ------------------------------------------------------------------------------------------------
# Check quorum and resignation


def test_leader_resigns_without_fetches_from_a_majority() -> None:
    nodes, t = elected()
    leader = nodes[2]
    # Fetches from node 1 alone (with the leader: a majority of 3) restart the 3 s timer.
    assert leader.next_deadline() == t + 3000
    deliver(nodes, nodes[1].poll(t + 1000), t + 1000)
    deliver(nodes, nodes[1].poll(t + 1000), t + 1000)  # end offset 1
    assert leader.next_deadline() == t + 4000
    assert leader.poll(t + 3999) == [] and leader.is_leader
    out = leader.poll(t + 4000)
    assert leader.role == "resigned" and leader.epoch == 1
    assert out == [
        EndQuorumEpoch(source=2, destination=1, epoch=1, leader_id=2, preferred_successors=(1, 3)),
        EndQuorumEpoch(source=2, destination=3, epoch=1, leader_id=2, preferred_successors=(1, 3)),
    ]
    # A resigned leader answers fetches with NOT_LEADER_OR_FOLLOWER and refuses votes.
    f = FetchRequest(source=1, destination=2, epoch=1, fetch_offset=1, last_fetched_epoch=1)
    assert nodes[2].handle(f, t + 4000)[0].error == NOT_LEADER_OR_FOLLOWER  # type: ignore[union-attr]
    assert nodes[2].handle(vote(3, 2, 1, 1, 1), t + 4000)[0].granted is False  # type: ignore[union-attr]
    # endEpochElectionBackoff overrides the followers' fetch timers: the first successor stands
    # at once, the second (of 2) after 1000 >> (2 - 1) = 500 ms.
    deliver(nodes, out, t + 4000)
    assert nodes[1].snapshot()["fetch_deadline"] == t + 4000
    assert nodes[3].snapshot()["fetch_deadline"] == t + 4500
    votes = nodes[1].poll(t + 4000)
    assert nodes[1].role == "candidate" and nodes[1].epoch == 2
    deliver(nodes, votes, t + 4000)
    assert nodes[1].is_leader and nodes[2].role == "follower" and nodes[3].role == "follower"


# ------------------------------------------------------------------------------------------------
# Divergence


def test_follower_truncates_divergent_uncommitted_suffix() -> None:
    leader, follower = node(1), node(2)
    seed_log(leader, [1, 1])
    seed_log(follower, [1, 1, 2, 2])  # epoch-2 suffix that never committed
    make_leader(leader, 3, 0.0, via=3)
    marker = leader.log[2]
    assert marker.epoch == 3 and marker.is_control and leader.leader_epoch_start_offset == 2
    nodes = {1: leader, 2: follower}
    follower.handle(BeginQuorumEpoch(source=1, destination=2, epoch=3, leader_id=1), 0.0)
    f = follower.poll(0.0)
    assert f == [
        FetchRequest(
            source=2, destination=1, epoch=3, fetch_offset=4, last_fetched_epoch=2, correlation_id=1
        )
    ]
    # The leader's largest epoch <= 2 is 1, which ends at offset 2 (endOffsetForEpoch).
    assert deliver(nodes, f, 0.0)[1] == FetchResponse(
        source=1, destination=2, epoch=3, leader_id=1, correlation_id=1, diverging=(1, 2)
    )
    assert [e.epoch for e in follower.log] == [1, 1]
    f2 = follower.poll(0.0)
    assert f2[0].fetch_offset == 2 and f2[0].last_fetched_epoch == 1  # type: ignore[union-attr]
    deliver(nodes, f2, 0.0)
    assert follower.log == leader.log
    deliver(nodes, follower.poll(0.0), 0.0)
    assert leader.high_watermark == 3 and follower.high_watermark == 3


def test_diverging_truncation_uses_own_end_for_the_epoch() -> None:
    # Follower [1, 2, 2, 2] vs leader [1, 2, 4(marker)] in epoch 4: the leader's epoch 2 ends at 2,
    # the follower's at 4, so the follower keeps min(2, 4) = 2 entries.
    leader, follower = node(1), node(2)
    seed_log(leader, [1, 2])
    seed_log(follower, [1, 2, 2, 2])
    make_leader(leader, 4, 0.0, via=3)
    follower.handle(BeginQuorumEpoch(source=1, destination=2, epoch=4, leader_id=1), 0.0)
    resp = deliver({1: leader, 2: follower}, follower.poll(0.0), 0.0)[1]
    assert isinstance(resp, FetchResponse) and resp.diverging == (2, 2)
    assert follower.end_offset == 2 and follower.end_offset_for_epoch(2) == (2, 2)


def test_observer_never_counts_for_the_majority() -> None:
    nodes, t = elected()
    obs = node(1000)
    nodes[1000] = obs
    assert not obs.is_voter
    # With no known leader it asks a voter; the answer names the leader.
    first = obs.poll(obs.next_deadline())
    deliver(nodes, first, t)
    assert obs.role == "follower" and obs.leader_id == 2
    for _ in range(3):
        deliver(nodes, obs.poll(obs.next_deadline()), t)
    assert obs.end_offset == 1 and nodes[2].high_watermark == 0
    deliver(nodes, nodes[3].poll(t), t)
    deliver(nodes, nodes[3].poll(t), t)
    assert nodes[2].high_watermark == 1
    deliver(nodes, obs.poll(obs.next_deadline()), t)
    assert obs.high_watermark == 1
    # An observer never stands for election.
    obs.poll(t + 10_000)
    assert obs.role in ("unattached", "follower") and obs.epoch == 1


# ------------------------------------------------------------------------------------------------
# Crash and restart


def test_restart_keeps_log_epoch_and_vote_but_not_volatile_state() -> None:
    nodes, t = elected()
    deliver(nodes, nodes[1].poll(t), t)
    deliver(nodes, nodes[1].poll(t), t)
    follower, leader = nodes[1], nodes[2]
    assert follower.high_watermark == 1
    follower.restart(t + 5)
    assert (follower.epoch, follower.voted_for, follower.leader_id) == (1, 2, 2)
    assert follower.role == "follower" and follower.end_offset == 1
    assert follower.high_watermark == 0  # learned again
    deliver(nodes, follower.poll(t + 5), t + 5)
    assert follower.high_watermark == 1
    leader.restart(t + 6)  # a leader comes back resigned in its epoch (QuorumState.initialize)
    assert leader.role == "resigned" and leader.epoch == 1 and leader.log[0].is_control
    ends = leader.poll(t + 6)
    assert [type(m) for m in ends] == [EndQuorumEpoch, EndQuorumEpoch]
    assert all(m.preferred_successors == () for m in ends)  # type: ignore[union-attr]
    deliver(nodes, ends, t + 6)
    assert nodes[1].snapshot()["fetch_deadline"] == t + 6 + 1000  # unknown position: max backoff
    unattached = node(3)
    unattached.handle(vote(1, 3, 4, 0, 0), 0.0)
    unattached.restart(1.0)
    assert (unattached.role, unattached.epoch, unattached.voted_for) == ("unattached", 4, 1)
    assert unattached.handle(vote(2, 3, 4, 0, 0), 1.0)[0].granted is False  # type: ignore[union-attr]


def test_bootstrap_log_is_committed_at_epoch_zero_and_replicated() -> None:
    nodes = quorum()
    for n in nodes.values():
        n.bootstrap(["a", "b"])
    assert nodes[1].committed() == [Entry(0, 0, "a"), Entry(0, 1, "b")]
    t = nodes[2].next_deadline()
    deliver(nodes, nodes[2].poll(t), t)
    assert nodes[2].leader_epoch_start_offset == 2 and nodes[2].high_watermark == 2
    deliver(nodes, nodes[1].poll(t), t)  # fetch_offset 2, last_fetched_epoch 0: valid
    deliver(nodes, nodes[1].poll(t), t)
    assert nodes[2].high_watermark == 3 and nodes[1].log == nodes[2].log
    with pytest.raises(ValueError):
        nodes[3].bootstrap(["c"])


def test_snapshot_is_plain_data() -> None:
    nodes, _ = elected()
    snap = nodes[2].snapshot()
    assert snap["role"] == "leader" and snap["epoch_start_offset"] == 0
    assert snap["voter_end_offsets"] == {1: 0, 3: 0} and snap["epoch_cache"] == [(1, 0)]


# ------------------------------------------------------------------------------------------------
# Random schedules (pure harness) with invariants after every event, then liveness after healing

DELAYS = [(1.0, 5.0), (1.0, 50.0), (20.0, 300.0)]
FETCH_MAX = st.sampled_from([1, 3, None])  # entries per fetch response


Step = tuple[tuple[object, ...], int, int]  # (nemesis action, appends, ms to run)


def schedules(n_voters: int) -> st.SearchStrategy[list[Step]]:
    """Steps of: one nemesis action, 0-3 appends on every current leader, then 100-3000 ms."""
    voter = st.integers(1, n_voters)
    side = st.frozensets(voter, min_size=1, max_size=n_voters - 1).map(lambda s: tuple(sorted(s)))
    action = st.one_of(
        st.tuples(st.just("none")),
        st.tuples(st.just("crash"), voter),
        st.tuples(st.just("restart"), voter),
        st.tuples(st.just("partition"), side),
        st.tuples(st.just("heal")),
        st.tuples(st.just("net"), st.sampled_from(DELAYS), st.sampled_from([0.0, 0.05, 0.3])),
    )
    step = st.tuples(action, st.integers(0, 3), st.integers(100, 3000))
    return st.lists(step, min_size=3, max_size=20)


def run_schedule(
    n_voters: int, seed: int, steps: list[Step], fetch_max_entries: int | None = 3
) -> Cluster:
    c = Cluster(n_voters, seed, observers=1, fetch_max_entries=fetch_max_entries)
    counter = 0
    for act, appends, ms in steps:
        kind = act[0]
        if kind == "crash":
            c.crash(int(act[1]))  # type: ignore[call-overload]
        elif kind == "restart":
            c.restart(int(act[1]))  # type: ignore[call-overload]
        elif kind == "partition":
            c.partition(act[1])  # type: ignore[arg-type]
        elif kind == "heal":
            c.heal()
        elif kind == "net":
            c.delay_ms, c.drop = act[1], float(act[2])  # type: ignore[assignment, arg-type]
        for _ in range(appends):
            counter += 1
            c.append_on_leaders(f"p{counter}")
        c.run(float(ms))
    return c


def heal_and_check_liveness(c: Cluster) -> None:
    c.heal()
    c.drop, c.delay_ms = 0.0, (1.0, 20.0)
    for v in c.voters:
        c.restart(v)
    healed = c.now

    def current_leader() -> RaftNode | None:
        top = max(n.epoch for n in c.nodes.values())
        leaders = [n for n in c.leaders() if n.epoch == top]
        return leaders[0] if leaders else None

    while current_leader() is None and c.now < healed + 20_000:
        c.run(100)
    assert current_leader() is not None, "no leader 20 s after healing"
    payload = "final"
    while c.now < healed + 40_000:
        leader = current_leader()
        if leader is not None and all(e.payload != payload for e in leader.log):
            leader.append(payload, c.now)
        c.run(100)
        if all(any(e.payload == payload for e in n.committed()) for n in c.nodes.values()):
            break
    missing = [n for n in c.nodes.values() if all(e.payload != payload for e in n.committed())]
    assert not missing, f"not committed everywhere 40 s after healing: {missing}"
    assert c.checker.committed[-1].payload == payload or any(
        e.payload == payload for e in c.checker.committed
    )


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**16), ops=schedules(3), max_entries=FETCH_MAX)
def test_random_schedules_three_voters(seed: int, ops: list[Step], max_entries: int | None) -> None:
    c = run_schedule(3, seed, ops, max_entries)
    heal_and_check_liveness(c)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**16), ops=schedules(5), max_entries=FETCH_MAX)
def test_random_schedules_five_voters(seed: int, ops: list[Step], max_entries: int | None) -> None:
    c = run_schedule(5, seed, ops, max_entries)
    heal_and_check_liveness(c)


def test_harness_is_deterministic_and_exercises_failover() -> None:
    ops: list[Step] = [
        (("none",), 0, 3000),
        (("partition", (1,)), 2, 100),
        (("net", (1.0, 50.0), 0.05), 1, 3000),
        (("crash", 2), 1, 5000),
        (("restart", 2), 1, 2000),
    ]
    runs = []
    for _ in range(2):
        c = run_schedule(3, 42, ops)
        heal_and_check_liveness(c)
        runs.append((c.events, dict(c.checker.leaders_by_epoch), c.checker.committed))
    assert runs[0] == runs[1]
    assert len(runs[0][1]) >= 2  # at least one failover happened
    committed = [e.payload for e in runs[0][2] if not e.is_control]
    assert committed[-1] == "final" and "p1" in committed
