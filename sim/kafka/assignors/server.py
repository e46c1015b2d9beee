"""Server-side assignors of the KIP-848 consumer protocol (``group.protocol=consumer``), Kafka 3.9.

With KIP-848 the group coordinator, not a member, computes a *target assignment* whenever the
group epoch changes; members then converge to it one heartbeat at a time (``group.consumer.
assignors``, default ``uniform,range``; a member may ask for one with ``group.remote.assignor``).
The assignor sees every member's subscription and current target assignment (``GroupSpec``).

``uniform`` (``UniformAssignor``): balanced and sticky.
    *Homogeneous* group (every member subscribes to the same topics;
    ``UniformHomogeneousAssignmentBuilder``): ``minQuota = P // N``; the first ``P % N`` members
    in iteration order get a quota of ``minQuota + 1``. Each member keeps its current partitions
    of subscribed topics up to its quota, topic by topic, in the order of its assignment map;
    the rest are revoked. Partitions that nobody holds, then the revoked ones, fill the members
    below quota, in member order.
    *Heterogeneous* group (``UniformHeterogeneousAssignmentBuilder``): every member keeps all its
    current partitions of topics it still subscribes to; the other partitions are assigned one at
    a time, topics with the most partitions per subscriber first (then fewer subscribers, then
    partition number), each to the subscribed member with the fewest partitions (ties: member
    id); then partitions move from a member to a subscribed one with 2+ fewer until balanced,
    each partition at most once, undoing earlier moves of the same topic where possible.
``range`` (``RangeAssignor``): the classic range split (see ``basic``), members ordered static
    first by instance id, then by member id. Not sticky in 3.9: it ignores current assignments.

Orders. Kafka visits members in the order of a ``HashMap`` keyed by member id and topics and
partitions in the order of ``HashSet``s keyed by topic UUID; both are reproduced (``common``).
The simulator's topics have no UUIDs: give ``topic_ids`` (name -> Kafka's base64 topic id) to
reproduce a given cluster exactly; otherwise the topic name's ``String.hashCode`` stands in for
the UUID's ``hashCode``. A member's current assignment is read topic by topic in the order of
``MemberSpec.current`` (Kafka: the iteration order of the member's assignment map, a ``HashMap``
in a running coordinator, an ordered map in some of Kafka's tests), a topic's partitions in the
order of a ``HashSet<Integer>``.

Simplified: no rack awareness; nonexistent topics in a subscription are ignored (Kafka resolves
subscribed names to topic ids first, so unknown names never reach the assignor). Where 3.9's
heterogeneous builder throws ``PartitionAssignorException("Mismatch in partition movement
record...")`` on moving a partition it already moved (an inverted sanity check; the builder was
rewritten in 4.0, KAFKA-17710), the move is completed as the client-side sticky assignor does.

Kafka sources: ``group-coordinator/.../assignor/UniformAssignor.java``,
``UniformHomogeneousAssignmentBuilder.java``, ``UniformHeterogeneousAssignmentBuilder.java``,
``RangeAssignor.java``, ``modern/TargetAssignmentBuilder.java``, ``modern/ModernGroup.java``
(``subscriptionType``), ``common/Uuid.java``; tests ``OptimizedUniformAssignmentBuilderTest``,
``UniformHeterogeneousAssignmentBuilderTest``, ``RangeAssignorTest``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence

from sim.kafka.assignors.basic import range_assignment
from sim.kafka.assignors.common import (
    Assignment,
    JavaHashSet,
    MemberSpec,
    Subscription,
    TopicPartition,
    copied_set_capacity,
    grown_capacity,
    hash_order,
    java_hash_map_order,
    java_order,
    signed32,
)
from sim.kafka.partitioner import java_string_hashcode

TopicHash = Callable[[str], int]


class PartitionAssignorError(RuntimeError):
    """Kafka's ``PartitionAssignorException``: the assignor could not compute an assignment."""


def uuid_hashcode(topic_id: str) -> int:
    """``Uuid.fromString(topic_id).hashCode()``: high and low 64 bits xor-ed, folded to 32."""
    try:
        raw = base64.urlsafe_b64decode(topic_id + "=" * (-len(topic_id) % 4))
    except ValueError:
        raw = b""
    if len(raw) != 16:
        raise ValueError(f"topic id {topic_id!r} is not a base64 UUID")
    folded = int.from_bytes(raw[:8], "big") ^ int.from_bytes(raw[8:], "big")
    return signed32((folded >> 32) ^ folded)


def topic_hash_function(topic_ids: Mapping[str, str] | None) -> TopicHash:
    """The ``hashCode`` of a topic's UUID, or its name's ``String.hashCode`` without ids."""
    ids = dict(topic_ids or {})
    hashes = {topic: uuid_hashcode(topic_id) for topic, topic_id in ids.items()}

    def topic_hash(topic: str) -> int:
        known = hashes.get(topic)
        return known if known is not None else java_string_hashcode(topic)

    return topic_hash


def _int_set_order(partitions: Sequence[int]) -> list[int]:
    """Iteration order of ``new HashSet<>(partitions)`` (``Integer.hashCode`` is the value)."""
    distinct = list(dict.fromkeys(partitions))  # inserted in the given order
    return hash_order(distinct, lambda p: p, copied_set_capacity(len(distinct)))


def group_current(member: MemberSpec) -> list[tuple[str, list[int]]]:
    """A member's current assignment as (topic, partitions): topics in the given order,
    partitions in ``HashSet<Integer>`` order."""
    by_topic: dict[str, list[int]] = {}
    for topic, partition in member.current:
        by_topic.setdefault(topic, []).append(partition)
    return [(topic, _int_set_order(parts)) for topic, parts in by_topic.items()]


def is_homogeneous(members: Sequence[MemberSpec]) -> bool:
    """``ModernGroup.subscriptionType``: HOMOGENEOUS when every member has the same topics."""
    return len({frozenset(m.topics) for m in members}) <= 1


def uniform_assignment(
    members: Sequence[MemberSpec],
    partitions_per_topic: Mapping[str, int],
    topic_hash: TopicHash,
) -> Assignment:
    """``UniformAssignor.assign``; every member gets a list."""
    if not members:
        return {}
    by_id = {m.member_id: m for m in members}
    ordered = [by_id[m] for m in java_hash_map_order([m.member_id for m in members])]
    if is_homogeneous(members):
        return _homogeneous(ordered, partitions_per_topic, topic_hash)
    return _Heterogeneous(ordered, partitions_per_topic, topic_hash).build()


def server_range_assignment(
    members: Sequence[MemberSpec], partitions_per_topic: Mapping[str, int]
) -> Assignment:
    """The group coordinator's ``RangeAssignor``: the range split, not sticky in 3.9."""
    subscriptions = [
        Subscription(m.member_id, m.topics, group_instance_id=m.instance_id) for m in members
    ]
    return range_assignment(subscriptions, partitions_per_topic)


def _homogeneous(
    members: Sequence[MemberSpec],
    partitions_per_topic: Mapping[str, int],
    topic_hash: TopicHash,
) -> Assignment:
    """``UniformHomogeneousAssignmentBuilder.build``."""
    target: Assignment = {m.member_id: [] for m in members}
    first_topics = list(dict.fromkeys(t for t in members[0].topics if t in partitions_per_topic))
    # new HashSet<>(first member's subscribedTopicIds())
    topics = hash_order(first_topics, topic_hash, copied_set_capacity(len(first_topics)))
    if not topics:
        return target
    held = {tp for m in members for tp in m.current}  # GroupSpec.isPartitionAssigned
    unassigned = [
        (t, p) for t in topics for p in range(partitions_per_topic[t]) if (t, p) not in held
    ]
    total = sum(partitions_per_topic[t] for t in topics)
    min_quota, members_with_extra = divmod(total, len(members))

    unfilled: list[tuple[str, int]] = []
    subscribed = set(topics)
    for member in members:
        quota = min_quota
        if members_with_extra > 0:
            quota += 1
            members_with_extra -= 1
        kept = target[member.member_id]
        for topic, partitions in group_current(member):
            if topic not in subscribed:
                continue  # no longer subscribed: dropped
            if len(partitions) <= quota:
                quota -= len(partitions)
                kept.extend((topic, p) for p in partitions)
                continue
            for partition in partitions:
                if quota > 0:
                    quota -= 1
                    kept.append((topic, partition))
                else:
                    unassigned.append((topic, partition))
        if quota > 0:
            unfilled.append((member.member_id, quota))

    next_index = 0
    for member_id, quota in unfilled:
        take = unassigned[next_index : next_index + quota]
        target[member_id].extend(take)
        next_index += len(take)
    if next_index < len(unassigned):
        raise PartitionAssignorError("Partitions were left unassigned")
    return target


class _Heterogeneous:
    """``UniformHeterogeneousAssignmentBuilder`` (Kafka 3.9)."""

    def __init__(
        self,
        members: Sequence[MemberSpec],
        partitions_per_topic: Mapping[str, int],
        topic_hash: TopicHash,
    ) -> None:
        self.members = members
        self.partitions_per_topic = partitions_per_topic
        self.topic_hash = topic_hash
        self.subscribed: dict[str, list[str]] = {}
        self.members_per_topic: dict[str, list[str]] = {}
        topic_insertions: list[str] = []
        for member in members:
            topics = list(dict.fromkeys(t for t in member.topics if t in partitions_per_topic))
            self.subscribed[member.member_id] = topics
            for topic in topics:
                topic_insertions.append(topic)
                self.members_per_topic.setdefault(topic, []).append(member.member_id)
        distinct = list(dict.fromkeys(topic_insertions))
        topics_in_order = hash_order(distinct, topic_hash, grown_capacity(len(distinct)))
        # topicIdPartitions(): a new HashSet filled topic by topic; its iteration order is the
        # order in which a stable sort sees ties.
        filled = [(t, p) for t in topics_in_order for p in range(partitions_per_topic[t])]
        iteration = hash_order(filled, self._tip_hashcode, grown_capacity(len(filled)))
        self.set_rank = {tp: i for i, tp in enumerate(iteration)}
        self.all_partitions = filled
        self.target: dict[str, dict[str, set[int]]] = {m.member_id: {} for m in members}
        self.size = {m.member_id: 0 for m in members}
        self.max_size = {
            m: sum(partitions_per_topic[t] for t in topics) for m, topics in self.subscribed.items()
        }
        self.unassigned: set[TopicPartition] = set(filled)
        self.by_size: set[str] = {m for m in self.size if self.size[m] < self.max_size[m]}
        self.owner: dict[TopicPartition, str] = {}
        self.moves_by_topic: dict[str, dict[tuple[str, str], JavaHashSet[TopicPartition]]] = {}
        self.moves_by_partition: dict[TopicPartition, tuple[str, str]] = {}

    def _tip_hashcode(self, tp: TopicPartition) -> int:
        """``TopicIdPartition.hashCode``: ``Objects.hash(topicId, partitionId)``."""
        return signed32(31 * (31 + self.topic_hash(tp[0])) + tp[1])

    def build(self) -> Assignment:
        if not self.members_per_topic:
            return {m.member_id: [] for m in self.members}
        self._assign_sticky_partitions()
        self._assign_unassigned_partitions()
        self._balance()
        return {
            member: [(t, p) for t, parts in topics.items() for p in sorted(parts)]
            for member, topics in self.target.items()
        }

    # --- ordering helpers ---
    def _sorted_partitions(self, tps: set[TopicPartition]) -> list[TopicPartition]:
        """``sortTopicIdPartitions``: most partitions per subscriber first, then fewest
        subscribers, then partition number; a stable sort of the set's iteration order."""

        def key(tp: TopicPartition) -> tuple[float, int, int, int]:
            subscribers = len(self.members_per_topic[tp[0]])
            ratio = self.partitions_per_topic[tp[0]] / subscribers
            return -ratio, subscribers, tp[1], self.set_rank[tp]

        return sorted(tps, key=key)

    def _member_key(self, member: str) -> tuple[int, bytes]:
        return self.size[member], java_order(member)

    def _members_by_size(self, members: Sequence[str] | set[str]) -> list[str]:
        """``sortMembersByAssignmentSize``: members below their maximum, fewest first."""
        return sorted((m for m in members if self.size[m] < self.max_size[m]), key=self._member_key)

    # --- assignment bookkeeping (AssignmentManager) ---
    def _add(self, tp: TopicPartition, member: str) -> None:
        self.target[member].setdefault(tp[0], set()).add(tp[1])
        self.owner[tp] = member
        self.by_size.discard(member)
        self.size[member] += 1
        if self.size[member] < self.max_size[member]:
            self.by_size.add(member)
        self.unassigned.discard(tp)

    def _remove(self, tp: TopicPartition, member: str) -> None:
        partitions = self.target[member].get(tp[0])
        if partitions is not None:
            partitions.discard(tp[1])
            if not partitions:
                del self.target[member][tp[0]]
        if self.owner.get(tp) == member:
            del self.owner[tp]
        self.by_size.discard(member)
        if self.size[member] > 0:
            self.size[member] -= 1
        if self.size[member] < self.max_size[member]:
            self.by_size.add(member)

    def _assign_sticky_partitions(self) -> None:
        for member in self.members:
            subscribed = set(self.subscribed[member.member_id])
            for topic, partitions in group_current(member):
                if topic in subscribed:
                    for partition in partitions:
                        self._add((topic, partition), member.member_id)

    def _assign_unassigned_partitions(self) -> None:
        for tp in self._sorted_partitions(self.unassigned):
            for member in self._members_by_size(self.members_per_topic[tp[0]]):
                if self.size[member] < self.max_size[member]:
                    self._add(tp, member)
                    break

    def _topic_can_move(self, topic: str) -> bool:
        return len(self.members_per_topic[topic]) >= 2

    def _member_can_move(self, member: str) -> bool:
        if self.size[member] < self.max_size[member]:
            return True
        return any(self._topic_can_move(t) for t in self.target[member])

    def _balance(self) -> None:
        if self.unassigned:
            raise PartitionAssignorError("Some partitions were left unassigned")
        self.unassigned = {tp for tp in self.all_partitions if self._topic_can_move(tp[0])}
        for member in self.members:
            if not self._member_can_move(member.member_id):
                self.by_size.discard(member.member_id)
        if self.unassigned:
            self._perform_reassignments()

    def _is_balanced(self) -> bool:
        ordered = sorted(self.by_size, key=self._member_key)
        if not ordered:
            return True
        if self.size[ordered[0]] >= self.size[ordered[-1]] - 1:
            return True
        for member in ordered:
            count = self.size[member]
            if count == self.max_size[member]:
                continue
            for topic in self.subscribed[member]:
                mine = self.target[member].get(topic, set())
                for partition in range(self.partitions_per_topic[topic]):
                    if partition in mine:
                        continue
                    other = self.owner[(topic, partition)]
                    if count + 1 < self.size[other]:
                        return False
        return True

    def _perform_reassignments(self) -> None:
        while True:
            modified = False
            moved_last = False
            for tp in self._sorted_partitions(self.unassigned):
                if moved_last and self._is_balanced():
                    return
                moved_last = False
                owner = self.owner.get(tp)
                if owner is None:
                    raise PartitionAssignorError(f"Expected {tp} to be assigned to a member")
                for other in self.members_per_topic[tp[0]]:
                    if self.size[owner] > self.size[other] + 1:
                        self._reassign(tp)
                        modified = moved_last = True
                        break
            if not modified:
                return

    def _reassign(self, tp: TopicPartition) -> None:
        new_owner = next(
            (m for m in sorted(self.by_size, key=self._member_key) if tp[0] in self.subscribed[m]),
            None,
        )
        if new_owner is None:
            raise PartitionAssignorError(f"No suitable new owner was found for the partition {tp}")
        to_move = self._partition_to_move(tp, self.owner[tp], new_owner)
        old_owner = self.owner[to_move]
        self._record_move(to_move, old_owner, new_owner)
        self._remove(to_move, old_owner)
        self._add(to_move, new_owner)

    # --- PartitionMovements ---
    def _partition_to_move(self, tp: TopicPartition, old: str, new: str) -> TopicPartition:
        """``computeActualPartitionToBeMoved``: undo an opposite move of the topic instead."""
        for_topic = self.moves_by_topic.get(tp[0])
        if for_topic is None:
            return tp
        if tp in self.moves_by_partition:
            old = self.moves_by_partition[tp][0]
        reverse = for_topic.get((new, old))
        if reverse is None:
            return tp
        return reverse.first()

    def _record_move(self, tp: TopicPartition, old: str, new: str) -> None:
        existing = self.moves_by_partition.pop(tp, None)
        if existing is not None:
            for_topic = self.moves_by_topic[tp[0]]
            for_topic[existing].discard(tp)
            if not for_topic[existing]:
                del for_topic[existing]
            if not for_topic:
                del self.moves_by_topic[tp[0]]
            if existing[0] == new:
                return  # moved back to where it came from
            pair = (existing[0], new)
        else:
            pair = (old, new)
        self.moves_by_partition[tp] = pair
        self.moves_by_topic.setdefault(tp[0], {}).setdefault(
            pair, JavaHashSet(self._tip_hashcode)
        ).add(tp)
