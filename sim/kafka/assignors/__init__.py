"""Kafka's partition assignors as pure functions: who in a consumer group reads which partition.

Theory of operation
-------------------
A consumer group splits the partitions of the topics its members subscribe to so that each
partition is read by exactly one member. Kafka 3.9 has two group protocols, and the assignor runs
in a different place in each.

Classic protocol (``group.protocol=classic``, the 3.9 default). On every rebalance all members
send JoinGroup with their subscription (``Subscription``: topics, owned partitions, generation,
``group.instance.id``); the coordinator picks one member as leader and one protocol (assignor)
every member supports (``strategy.select_group_protocol``); the leader runs that assignor over all
subscriptions (``assign``) and SyncGroup hands each member its share. The assignors:

- "range" (``RangeAssignor``): per topic, contiguous ranges in member order (``basic``).
- "roundrobin" (``RoundRobinAssignor``): all partitions dealt in turn (``basic``).
- "sticky" (``StickyAssignor``): balanced, and keeps partitions with their previous owner
  (``sticky``).
- "cooperative-sticky" (``CooperativeStickyAssignor``): the same algorithm, for the cooperative
  protocol (``sticky``).

Eager vs cooperative rebalancing (KIP-429, Kafka 2.4). Under EAGER (range, roundrobin, sticky)
every member revokes *all* its partitions before it rejoins: during the rebalance nobody reads
anything, and the new assignment is final. Under COOPERATIVE (cooperative-sticky, once no EAGER-
only assignor is left in ``partition.assignment.strategy``) members keep reading what they own
while rebalancing; the assignor never gives a partition to a new member in the round in which
another member still owns it. It withholds such a partition (``assign`` returns the assignment
*after* Kafka's ``CooperativeStickyAssignor`` adjustment), the old owner sees it revoked and
rejoins, and the follow-up rebalance assigns it. So a cooperative rebalance that moves partitions
takes two rounds, but only the moving partitions pause. ``cooperative_revocations`` lists what
each member must give up; a follow-up rebalance is due when that is not empty.

KIP-848 protocol (``group.protocol=consumer``; early access in 3.7-3.9, GA in 4.0). The group
coordinator computes a target assignment itself (``server_assign``) with a server-side assignor
from ``group.consumer.assignors`` (default "uniform", then "range"): "uniform" is balanced and
sticky, "range" is the range split (``server``). Members reconcile towards the target through
heartbeats, revoking before anything is reassigned, so no partition has two owners; there is no
group-wide barrier.

Orders. Range and roundrobin order members by ``group.instance.id`` when set (static members
first), else by member id, in Java ``String`` order. Where two answers are equally good the
sticky and uniform assignors pick by the iteration order of Java hash maps and sets (members
keyed by member id, topics by topic UUID, partitions by ``TopicPartition``); these orders are
functions of Java's ``hashCode`` and are reproduced exactly (``common``). The order of
``subscriptions``/``members`` given here stands for the order in which Kafka filled its map
(JoinGroup order) and matters only between ids whose hashes collide. The simulator's topics have
no UUIDs: ``server_assign`` takes them as ``topic_ids`` and otherwise hashes topic names instead.
Results are deterministic: nothing depends on Python's string hashing or on set iteration.

Checked against Kafka: besides the ported Kafka test cases, every assignor here was run side by
side with Kafka 3.9's own Java classes (compiled from its source, rack code unused) on about
22,000 random groups, including conflicting ownership claims, stale generations and scale-out /
scale-in histories: identical assignments in every case where Kafka does not throw. Kafka throws
in two situations the simulator completes instead (see ``sticky`` and ``server``). That harness
needs a JDK and Kafka's source, so it is not part of the test suite; the ported tests and the
hypothesis properties are.

Simplified: no rack-aware assignment (``client.rack``) anywhere; topics without metadata (absent
from ``partitions_per_topic`` or with no partitions) are skipped, as Kafka does. See each module
for what it keeps from Kafka on purpose and what it simplifies.

Kafka sources: ``clients/src/main/java/org/apache/kafka/clients/consumer/{RangeAssignor,
RoundRobinAssignor,StickyAssignor,CooperativeStickyAssignor}.java``,
``consumer/internals/{AbstractPartitionAssignor,AbstractStickyAssignor,ConsumerCoordinator}.java``,
``group-coordinator/src/main/java/org/apache/kafka/coordinator/group/assignor/{UniformAssignor,
UniformHomogeneousAssignmentBuilder,UniformHeterogeneousAssignmentBuilder,RangeAssignor}.java``
(the "Optimized"/"General" uniform builders of 3.7 were renamed homogeneous/heterogeneous in
3.8; the test ``OptimizedUniformAssignmentBuilderTest`` kept the old name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sim.kafka.assignors.basic import range_assignment, round_robin_assignment
from sim.kafka.assignors.common import (
    DEFAULT_GENERATION,
    Assignment,
    MemberSpec,
    Subscription,
    TopicPartition,
    java_order,
    java_sorted,
    sorted_partitions,
)
from sim.kafka.assignors.server import (
    PartitionAssignorError,
    server_range_assignment,
    topic_hash_function,
    uniform_assignment,
)
from sim.kafka.assignors.sticky import AssignorStateError, sticky_assignment
from sim.kafka.assignors.strategy import (
    ASSIGNOR_CLASSES,
    DEFAULT_ASSIGNMENT_STRATEGY,
    parse_assignment_strategy,
    rebalance_protocol,
    rebalance_protocols,
    select_group_protocol,
)

__all__ = [
    "ASSIGNOR_CLASSES",
    "CLIENT_ASSIGNORS",
    "DEFAULT_ASSIGNMENT_STRATEGY",
    "DEFAULT_GENERATION",
    "DEFAULT_SERVER_ASSIGNORS",
    "SERVER_ASSIGNORS",
    "Assignment",
    "AssignorStateError",
    "MemberSpec",
    "PartitionAssignorError",
    "Subscription",
    "TopicPartition",
    "assign",
    "cooperative_revocations",
    "parse_assignment_strategy",
    "range_assign",
    "rebalance_protocol",
    "rebalance_protocols",
    "round_robin_assign",
    "select_group_protocol",
    "server_assign",
]

CLIENT_ASSIGNORS = ("range", "roundrobin", "sticky", "cooperative-sticky")
SERVER_ASSIGNORS = ("uniform", "range")
DEFAULT_SERVER_ASSIGNORS = ["uniform", "range"]  # group.consumer.assignors


def assign(
    strategy: str,
    subscriptions: Sequence[Subscription],
    partitions_per_topic: Mapping[str, int],
) -> dict[str, list[TopicPartition]]:
    """Run the classic-protocol assignor ``strategy`` as the group leader does.

    Returns every member id (Java order) mapped to its partitions sorted by (topic, partition).
    For "cooperative-sticky" the partitions that move from one member's ``owned_partitions`` to
    another member are withheld from their new owner this round (Kafka's cooperative
    adjustment).
    """
    members = _check_subscriptions(subscriptions, partitions_per_topic)
    # AbstractPartitionAssignor.assign: only subscribed topics that have metadata.
    subscribed = {t for s in members for t in s.topics}
    metadata = {t: n for t, n in partitions_per_topic.items() if t in subscribed and n > 0}
    if strategy == "range":
        result = range_assignment(members, metadata)
    elif strategy == "roundrobin":
        result = round_robin_assignment(members, metadata)
    elif strategy in ("sticky", "cooperative-sticky"):
        result = sticky_assignment(members, metadata, cooperative=strategy == "cooperative-sticky")
    else:
        raise ValueError(
            f"unknown classic assignor '{strategy}'; known: {', '.join(CLIENT_ASSIGNORS)}"
        )
    return {m: sorted_partitions(result[m]) for m in java_sorted(result)}


def server_assign(
    assignor: str,
    members: Sequence[MemberSpec],
    partitions_per_topic: Mapping[str, int],
    topic_ids: Mapping[str, str] | None = None,
) -> dict[str, list[TopicPartition]]:
    """Compute a KIP-848 target assignment with the server-side ``assignor``.

    ``topic_ids`` maps topic names to Kafka topic ids (base64 UUIDs, as ``kafka-topics
    --describe`` prints them); Kafka orders topics by their ids' hashes, and without ids the
    names' hashes stand in. Returns every member id (Java order) mapped to its partitions sorted
    by (topic, partition).
    """
    specs = list(members)
    _check_unique([m.member_id for m in specs], [m.instance_id for m in specs])
    held: dict[TopicPartition, str] = {}
    for member in specs:
        for tp in member.current:
            _check_partition(tp, partitions_per_topic, member.member_id)
            other = held.setdefault(tp, member.member_id)
            if other != member.member_id:
                raise ValueError(
                    f"{tp} is in the target assignment of {other} and {member.member_id}"
                )
    metadata = {t: n for t, n in partitions_per_topic.items() if n > 0}
    if assignor == "uniform":
        result = uniform_assignment(specs, metadata, topic_hash_function(topic_ids))
    elif assignor == "range":
        result = server_range_assignment(specs, metadata)
    else:
        raise ValueError(
            f"unknown server assignor '{assignor}'; known: {', '.join(SERVER_ASSIGNORS)}"
        )
    return {m: sorted_partitions(result[m]) for m in java_sorted(result)}


def cooperative_revocations(
    subscriptions: Sequence[Subscription], assignment: Mapping[str, Sequence[TopicPartition]]
) -> dict[str, list[TopicPartition]]:
    """Per member, the owned partitions a new assignment takes away (sorted; empty lists kept).

    Under COOPERATIVE a member revokes exactly these (``ConsumerCoordinator.onJoinComplete``)
    and, when any member revoked something, the group rebalances again to hand them out.
    """
    return {
        s.member_id: sorted_partitions(
            set(s.owned_partitions) - set(assignment.get(s.member_id, ()))
        )
        for s in sorted(subscriptions, key=lambda s: java_order(s.member_id))
    }


def range_assign(
    members: Sequence[str],
    subscriptions: Mapping[str, Sequence[str]],
    partitions_per_topic: Mapping[str, int],
) -> Assignment:
    """``RangeAssignor`` over plain member ids (no static members): member -> partitions."""
    subs = [Subscription(m, tuple(subscriptions.get(m, ()))) for m in dict.fromkeys(members)]
    return assign("range", subs, partitions_per_topic)


def round_robin_assign(
    members: Sequence[str],
    subscriptions: Mapping[str, Sequence[str]],
    partitions_per_topic: Mapping[str, int],
) -> Assignment:
    """``RoundRobinAssignor`` over plain member ids (no static members): member -> partitions."""
    subs = [Subscription(m, tuple(subscriptions.get(m, ()))) for m in dict.fromkeys(members)]
    return assign("roundrobin", subs, partitions_per_topic)


def _check_unique(member_ids: Sequence[str], instance_ids: Sequence[str | None]) -> None:
    """One member per member id, and per ``group.instance.id`` (the coordinator fences the
    older member of a static pair; two of them never reach an assignor)."""
    if len(set(member_ids)) != len(member_ids):
        raise ValueError("duplicate member ids")
    static = [i for i in instance_ids if i is not None]
    if len(set(static)) != len(static):
        raise ValueError("duplicate group.instance.id")


def _check_partition(
    tp: TopicPartition, partitions_per_topic: Mapping[str, int], member_id: str
) -> None:
    count = partitions_per_topic.get(tp[0])
    if count is not None and not 0 <= tp[1] < count:
        raise ValueError(f"{member_id} owns {tp} but topic {tp[0]} has {count} partitions")


def _check_subscriptions(
    subscriptions: Sequence[Subscription], partitions_per_topic: Mapping[str, int]
) -> list[Subscription]:
    members = list(subscriptions)
    _check_unique([s.member_id for s in members], [s.group_instance_id for s in members])
    for s in members:
        for tp in s.owned_partitions:
            _check_partition(tp, partitions_per_topic, s.member_id)
    return members
