"""``StickyAssignor`` and ``CooperativeStickyAssignor`` (``AbstractStickyAssignor``, Kafka 3.9).

Goal: the most balanced assignment (partition counts differ by at most one where subscriptions
allow it) that keeps as many partitions as possible with the member that owned them.

Owned partitions and generations (``allSubscriptionsEqual``)
    Each member reports what it owns and the generation it got it in. Only partitions of topics
    being assigned count. When two members claim the same partition the higher generation wins;
    two claims in the *same* generation are both dropped (the partition is treated as owned by
    several members and handed out afresh). Members are visited in the iteration order of
    Kafka's ``HashMap<memberId, Subscription>`` (see ``common``), which matters only for the
    tie-breaks below.

Constrained builder (all members subscribe to the same topics; the usual case)
    ``minQuota = P // N``, ``maxQuota = ceil(P / N)`` and ``P % N`` members may hold
    ``maxQuota``. In HashMap order each member keeps its owned partitions (sorted by partition
    number, then topic) up to ``minQuota`` (all of them when it has fewer), or up to ``maxQuota``
    while members at ``maxQuota`` are still needed; the rest are revoked. The unassigned
    partitions, sorted by (topic, partition), are then dealt round-robin to the members below
    ``minQuota`` (sorted by member id), then one each to members at exactly ``minQuota`` until
    ``P % N`` members reach ``maxQuota``.

General builder (subscriptions differ)
    Keeps every valid owned partition, assigns the rest one at a time to the subscribed member
    with the fewest partitions (ties: member id), topics with the fewest potential consumers
    first, then moves partitions from members with 2+ more than another subscribed member until
    balanced, preferring to move a partition back to the member that owned it in an older
    generation and avoiding moving partitions of one topic back and forth between two members
    (``PartitionMovements``). If the result is not more balanced than before the moves, the
    moves are undone.

Eager vs cooperative (KIP-429)
    ``StickyAssignor`` ("sticky") runs under the EAGER protocol: every member revoked everything
    before joining, so its result is final. ``CooperativeStickyAssignor`` ("cooperative-sticky")
    supports COOPERATIVE: members keep their partitions while rebalancing, so a partition may not
    go to a new member in the same round in which another member still owns it. Kafka's
    ``CooperativeStickyAssignor.assignPartitions`` removes every such partition from its new
    owner's assignment; the old owner sees it revoked, rejoins, and the follow-up rebalance
    assigns it (now unowned). Transfers are taken from the Constrained builder's bookkeeping
    (``partitionsTransferringOwnership``) or, after the General builder, computed as the
    partitions added to one member that another member's ``owned_partitions`` contain.

Kept from Kafka on purpose (Kafka 3.9 does the same, checked against its code): a member with an
empty subscription visited first makes the subscriptions count as "all equal" (the Java check
starts from the first non-empty set), so it may get partitions; the General builder's move "back
to the previous owner" does not check that the previous owner still subscribes to the topic, so
a member that rejoins from an older generation with a narrower subscription can be handed a
partition of a topic it dropped; static and dynamic members are treated alike (the sticky
assignors order by member id only).

Simplified: no rack-aware assignment (``client.rack``); the generation of the StickyAssignor's
user data and of the v2 subscription are one field; ``maxGeneration`` is computed per call
(Kafka keeps the largest generation any call has seen in the assignor instance). Where Kafka would
throw ``NullPointerException`` (a partition's previous owner from an older generation is a member
whose assignment cannot change) the previous-owner shortcut is skipped.

Kafka sources: ``clients/.../consumer/internals/AbstractStickyAssignor.java``,
``StickyAssignor.java``, ``CooperativeStickyAssignor.java``, ``internals/Utils.java``
(``PartitionComparator``); tests ``AbstractStickyAssignorTest``, ``StickyAssignorTest``,
``CooperativeStickyAssignorTest``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sim.kafka.assignors.common import (
    DEFAULT_GENERATION,
    Assignment,
    JavaHashSet,
    Subscription,
    TopicPartition,
    java_hash_map_order,
    java_order,
    java_sorted,
    topic_partition_hashcode,
)


class AssignorStateError(RuntimeError):
    """Kafka's ``IllegalStateException`` from an assignor: its own invariants do not hold."""


def sticky_assignment(
    subscriptions: Sequence[Subscription],
    partitions_per_topic: Mapping[str, int],
    cooperative: bool,
) -> Assignment:
    """``StickyAssignor`` / ``CooperativeStickyAssignor`` ``assignPartitions`` without racks.

    ``partitions_per_topic`` must hold only topics with metadata that some member subscribes to
    (what ``AbstractPartitionAssignor.assign`` hands over); every member gets a list.
    """
    if not subscriptions:
        return {}
    by_member = {s.member_id: s for s in subscriptions}
    member_order = java_hash_map_order([s.member_id for s in subscriptions])
    owned = _OwnedPartitions.collect(by_member, member_order, partitions_per_topic)
    if owned.all_subscriptions_equal:
        constrained = _ConstrainedBuilder(partitions_per_topic, owned)
        assignment = constrained.build()
        transferring: dict[TopicPartition, str] | None = constrained.transferring
    else:
        assignment = _GeneralBuilder(partitions_per_topic, owned, by_member, member_order).build()
        transferring = None
    if cooperative:
        if transferring is None:
            transferring = _transferring_ownership(by_member, assignment)
        for partition, new_owner in transferring.items():
            assignment[new_owner].remove(partition)
    return assignment


def _transferring_ownership(
    by_member: Mapping[str, Subscription], assignment: Assignment
) -> dict[TopicPartition, str]:
    """``computePartitionsTransferringOwnership``: added to one member, revoked from another."""
    added: dict[TopicPartition, str] = {}
    revoked: set[TopicPartition] = set()
    for member, assigned in assignment.items():
        owned = set(by_member[member].owned_partitions)
        assigned_set = set(assigned)
        for tp in assigned:
            if tp not in owned:
                added[tp] = member
        revoked.update(tp for tp in owned if tp not in assigned_set)
    return {tp: member for tp, member in added.items() if tp in revoked}


@dataclass
class _OwnedPartitions:
    """Result of ``allSubscriptionsEqual``: who validly owns what, in HashMap member order."""

    all_subscriptions_equal: bool
    by_member: dict[str, list[TopicPartition]]  # insertion order = HashMap iteration order
    multiple_previous_owners: set[TopicPartition]
    max_generation: int

    @classmethod
    def collect(
        cls,
        subscriptions: Mapping[str, Subscription],
        member_order: Sequence[str],
        partitions_per_topic: Mapping[str, int],
    ) -> _OwnedPartitions:
        all_equal = True
        subscribed: set[str] = set()
        owners: dict[TopicPartition, str] = {}  # allPreviousPartitionsToOwner
        by_member: dict[str, list[TopicPartition]] = {}
        multiple: set[TopicPartition] = set()
        max_generation = DEFAULT_GENERATION
        for member in member_order:
            sub = subscriptions[member]
            if not subscribed:
                subscribed.update(sub.topics)
            elif all_equal and not (
                len(sub.topics) == len(subscribed) and subscribed.issuperset(sub.topics)
            ):
                all_equal = False
            generation = sub.generation
            max_generation = max(max_generation, generation)
            owned: list[TopicPartition] = []
            by_member[member] = owned
            for tp in sub.owned_partitions:
                if tp[0] not in partitions_per_topic:
                    continue
                other = owners.get(tp)
                if other is None:
                    owned.append(tp)
                    owners[tp] = member
                    continue
                other_generation = subscriptions[other].generation
                if generation == other_generation:
                    # Claimed twice in one generation: invalid for both members.
                    multiple.add(tp)
                    _remove_first(by_member[other], tp)
                    owners[tp] = member
                elif generation > other_generation:
                    owned.append(tp)
                    _remove_first(by_member[other], tp)
                    owners[tp] = member
                # else: the other member's newer claim stands
        return cls(all_equal, by_member, multiple, max_generation)


def _remove_first(items: list[TopicPartition], item: TopicPartition) -> None:
    if item in items:
        items.remove(item)


def _owned_order_key(tp: TopicPartition) -> tuple[int, bytes]:
    """Owned partitions are kept by partition number first, then topic."""
    return tp[1], java_order(tp[0])


def _all_partitions(
    topics: Iterable[str], partitions_per_topic: Mapping[str, int]
) -> list[TopicPartition]:
    return [(t, p) for t in topics for p in range(partitions_per_topic[t])]


class _ConstrainedBuilder:
    """``ConstrainedAssignmentBuilder`` without the rack-aware steps."""

    def __init__(self, partitions_per_topic: Mapping[str, int], owned: _OwnedPartitions) -> None:
        self.partitions_per_topic = partitions_per_topic
        self.owned = owned
        total = sum(partitions_per_topic.values())
        members = len(owned.by_member)
        self.min_quota = total // members
        self.max_quota = -(-total // members)
        self.expected_over_min = total % members
        self.current_over_min = 0
        self.assignment: Assignment = {m: [] for m in owned.by_member}
        self.maybe_revoked: dict[TopicPartition, str] = {}
        self.under_min: list[str] = []  # unfilledMembersWithUnderMinQuotaPartitions
        self.exactly_min: list[str] = []  # unfilledMembersWithExactlyMinQuotaPartitions
        self.transferring: dict[TopicPartition, str] = {}

    def build(self) -> Assignment:
        assigned = self._assign_owned_partitions()
        all_partitions = _all_partitions(
            java_sorted(self.partitions_per_topic), self.partitions_per_topic
        )
        unassigned = [tp for tp in all_partitions if tp not in assigned]
        self.under_min.sort(key=java_order)
        self.exactly_min.sort(key=java_order)
        self._assign_round_robin(unassigned)
        self._verify_unfilled_members()
        return self.assignment

    def _assign_owned_partitions(self) -> set[TopicPartition]:
        assigned: set[TopicPartition] = set()
        for member, owned in self.owned.by_member.items():
            keep = sorted(owned, key=_owned_order_key)
            keep = [tp for tp in keep if tp not in self.owned.multiple_previous_owners]
            if len(keep) < self.min_quota:
                kept = keep
                self.under_min.append(member)
            elif len(keep) >= self.max_quota and self.current_over_min < self.expected_over_min:
                self.current_over_min += 1
                if self.current_over_min == self.expected_over_min:
                    self.exactly_min.clear()
                kept = keep[: self.max_quota]
            else:
                kept = keep[: self.min_quota]
                if self.current_over_min < self.expected_over_min:
                    self.exactly_min.append(member)
            for tp in keep[len(kept) :]:
                self.maybe_revoked[tp] = member
            self.assignment[member].extend(kept)
            assigned.update(kept)
        return assigned

    def _assign_round_robin(self, unassigned: list[TopicPartition]) -> None:
        # A live iterator over under_min that supports remove(), like the Java LinkedList one.
        position = 0
        for tp in unassigned:
            from_iterator = True
            if position < len(self.under_min):
                member = self.under_min[position]
                position += 1
            elif not self.under_min and not self.exactly_min:
                raise AssignorStateError("No more unfilled consumers to be assigned.")
            elif not self.under_min:
                member = self.exactly_min.pop(0)
                from_iterator = False
            else:
                member = self.under_min[0]
                position = 1
            count = self._assign_new_partition(tp, member)
            if count == self.min_quota:
                if not from_iterator:  # Java's iterator.remove() would fail here
                    raise AssignorStateError("unfilled member bookkeeping out of step")
                position -= 1
                del self.under_min[position]
                self.exactly_min.append(member)
            elif count == self.max_quota:
                self.current_over_min += 1

    def _assign_new_partition(self, tp: TopicPartition, member: str) -> int:
        members_assignment = self.assignment[member]
        members_assignment.append(tp)
        previous = self.maybe_revoked.get(tp)
        if (previous is not None and previous != member) or (
            tp in self.owned.multiple_previous_owners
        ):
            self.transferring[tp] = member
        return len(members_assignment)

    def _verify_unfilled_members(self) -> None:
        if not self.under_min:
            return
        if self.current_over_min != self.expected_over_min:
            raise AssignorStateError(
                "We haven't reached the expected number of members with more than the minQuota "
                "partitions, but no more partitions to be assigned"
            )
        for member in self.under_min:
            if len(self.assignment[member]) != self.min_quota:
                raise AssignorStateError(
                    f"Consumer: [{member}] doesn't reach minQuota partitions, and no more "
                    "partitions to be assigned"
                )


@dataclass(frozen=True)
class _PreviousOwner:
    member: str
    generation: int


def _pair_set() -> JavaHashSet[TopicPartition]:
    return JavaHashSet(topic_partition_hashcode)


class _PartitionMovements:
    """``PartitionMovements``: which partitions of a topic moved between which two members."""

    def __init__(self) -> None:
        self.by_topic: dict[str, dict[tuple[str, str], JavaHashSet[TopicPartition]]] = {}
        self.by_partition: dict[TopicPartition, tuple[str, str]] = {}

    def _remove_record(self, tp: TopicPartition) -> tuple[str, str]:
        pair = self.by_partition.pop(tp)
        for_topic = self.by_topic[tp[0]]
        for_topic[pair].discard(tp)
        if not for_topic[pair]:
            del for_topic[pair]
        if not for_topic:
            del self.by_topic[tp[0]]
        return pair

    def _add_record(self, tp: TopicPartition, pair: tuple[str, str]) -> None:
        self.by_partition[tp] = pair
        self.by_topic.setdefault(tp[0], {}).setdefault(pair, _pair_set()).add(tp)

    def move(self, tp: TopicPartition, old: str, new: str) -> None:
        if tp in self.by_partition:
            src, _ = self._remove_record(tp)
            if src != new:  # not moving back to where it came from
                self._add_record(tp, (src, new))
        else:
            self._add_record(tp, (old, new))

    def partition_to_move(self, tp: TopicPartition, old: str, new: str) -> TopicPartition:
        """``getTheActualPartitionToBeMoved``: undo an opposite move of the topic instead."""
        for_topic = self.by_topic.get(tp[0])
        if for_topic is None:
            return tp
        if tp in self.by_partition:
            old = self.by_partition[tp][0]
        reverse = for_topic.get((new, old))
        if reverse is None:
            return tp
        return reverse.first()


class _GeneralBuilder:
    """``GeneralAssignmentBuilder`` without the rack-aware steps."""

    def __init__(
        self,
        partitions_per_topic: Mapping[str, int],
        owned: _OwnedPartitions,
        subscriptions: Mapping[str, Subscription],
        member_order: Sequence[str],
    ) -> None:
        self.partitions_per_topic = partitions_per_topic
        self.owned = owned
        self.subscriptions = subscriptions
        self.member_order = member_order
        self.topic_consumers: dict[str, list[str]] = {t: [] for t in partitions_per_topic}
        self.consumer_topics: dict[str, list[str]] = {}
        for member in member_order:
            topics = [t for t in subscriptions[member].topics if t in partitions_per_topic]
            self.consumer_topics[member] = topics
            for topic in topics:
                self.topic_consumers[topic].append(member)
        self.current: Assignment = owned.by_member  # every member is present
        self.partition_owner: dict[TopicPartition, str] = {
            tp: member for member, tps in self.current.items() for tp in tps
        }
        sorted_topics = sorted(
            self.topic_consumers, key=lambda t: (len(self.topic_consumers[t]), java_order(t))
        )
        self.sorted_all_partitions = _all_partitions(sorted_topics, partitions_per_topic)
        self.by_size: set[str] = set()  # sortedCurrentSubscriptions (a TreeSet by size, id)
        self.revocation_required = False
        self.movements = _PartitionMovements()

    # --- the TreeSet sortedCurrentSubscriptions, ordered by (assignment size, member id) ---
    def _size_key(self, member: str) -> tuple[int, bytes]:
        return len(self.current[member]), java_order(member)

    def _by_size_sorted(self) -> list[str]:
        return sorted(self.by_size, key=self._size_key)

    def build(self) -> Assignment:
        previous = self._prepopulate_previous_owners()
        assigned = self._assign_owned_partitions()
        unassigned = [tp for tp in self.sorted_all_partitions if tp not in assigned]
        self.by_size.update(self.current)
        self._balance(previous, unassigned)
        return self.current

    def _prepopulate_previous_owners(self) -> dict[TopicPartition, _PreviousOwner]:
        """Owners from older generations, newest first (``prepopulateCurrentAssignments``)."""
        previous: dict[TopicPartition, _PreviousOwner] = {}
        max_generation = self.owned.max_generation
        for member in self.member_order:
            sub = self.subscriptions[member]
            has_generation = sub.generation >= 0
            if has_generation and sub.generation < max_generation:
                generation = sub.generation
            elif not has_generation and max_generation > DEFAULT_GENERATION:
                generation = DEFAULT_GENERATION
            else:
                continue
            for tp in sub.owned_partitions:
                earlier = previous.get(tp)
                if earlier is None or generation > earlier.generation:
                    previous[tp] = _PreviousOwner(member, generation)
        return previous

    def _assign_owned_partitions(self) -> set[TopicPartition]:
        assigned: set[TopicPartition] = set()
        for member, tps in self.current.items():
            subscribed = self.subscriptions[member].topics
            for tp in list(tps):
                if tp[0] not in self.topic_consumers:
                    tps.remove(tp)
                    self.partition_owner.pop(tp, None)
                elif tp[0] not in subscribed:
                    # Kafka leaves partition_owner pointing at this member until reassigned.
                    tps.remove(tp)
                    self.revocation_required = True
                else:
                    assigned.add(tp)
        return assigned

    def _max_assignment_size(self, member: str) -> int:
        return sum(self.partitions_per_topic[t] for t in self.consumer_topics[member])

    def _topic_can_move(self, topic: str) -> bool:
        return len(self.topic_consumers[topic]) >= 2

    def _member_can_move(self, member: str) -> bool:
        tps = self.current[member]
        if len(tps) < self._max_assignment_size(member):
            return True
        return any(self._topic_can_move(tp[0]) for tp in tps)

    def _assign_to_least_loaded(self, tp: TopicPartition) -> None:
        """``maybeAssignPartition``: the subscribed member with the fewest partitions."""
        for member in self._by_size_sorted():
            if tp[0] in self.consumer_topics[member]:
                self.current[member].append(tp)
                self.partition_owner[tp] = member
                return

    def _balance(
        self, previous: Mapping[TopicPartition, _PreviousOwner], unassigned: list[TopicPartition]
    ) -> None:
        initializing = (
            bool(self.by_size) and not self.current[max(self.by_size, key=self._size_key)]
        )
        for tp in unassigned:
            if self.topic_consumers[tp[0]]:
                self._assign_to_least_loaded(tp)

        fixed_topics = {t for t in self.topic_consumers if not self._topic_can_move(t)}
        reassignable_all = [tp for tp in self.sorted_all_partitions if tp[0] not in fixed_topics]
        reassignable_new = [tp for tp in unassigned if tp[0] not in fixed_topics]

        fixed_assignments: dict[str, list[TopicPartition]] = {}
        for member in self.member_order:
            if not self._member_can_move(member):
                self.by_size.discard(member)
                fixed_assignments[member] = self.current.pop(member)

        before = {m: list(tps) for m, tps in self.current.items()}
        owners_before = dict(self.partition_owner)
        if not self.revocation_required:
            # First try to balance by moving only the partitions that had no owner.
            self._perform_reassignments(reassignable_new, previous)
        moved = self._perform_reassignments(reassignable_all, previous)
        if not initializing and moved and _balance_score(self.current) >= _balance_score(before):
            self.current.clear()
            self.current.update(before)
            self.partition_owner = owners_before

        for member, tps in fixed_assignments.items():
            self.current[member] = tps
            self.by_size.add(member)

    def _is_balanced(self) -> bool:
        ordered = self._by_size_sorted()
        if not ordered:
            return True
        smallest = len(self.current[ordered[0]])
        largest = len(self.current[ordered[-1]])
        if smallest >= largest - 1:
            return True
        owner_of = {tp: m for m, tps in self.current.items() for tp in tps}
        for member in ordered:
            count = len(self.current[member])
            if count == self._max_assignment_size(member):
                continue
            mine = set(self.current[member])
            for topic in self.consumer_topics[member]:
                for p in range(self.partitions_per_topic[topic]):
                    tp = (topic, p)
                    if tp in mine:
                        continue
                    other = owner_of.get(tp)
                    if other is not None and count + 1 < len(self.current[other]):
                        return False
        return True

    def _perform_reassignments(
        self,
        reassignable: Sequence[TopicPartition],
        previous: Mapping[TopicPartition, _PreviousOwner],
    ) -> bool:
        performed = False
        while True:
            modified = False
            for tp in reassignable:
                if self._is_balanced():
                    break
                owner = self.partition_owner[tp]
                earlier = previous.get(tp)
                if (
                    earlier is not None
                    and earlier.member in self.current
                    and len(self.current[owner]) > len(self.current[earlier.member]) + 1
                ):
                    self._reassign(tp, earlier.member)
                    performed = modified = True
                    continue
                for other in self.topic_consumers[tp[0]]:
                    if len(self.current[owner]) > len(self.current[other]) + 1:
                        self._reassign_to_least_loaded(tp)
                        performed = modified = True
                        break
            if not modified:
                return performed

    def _reassign_to_least_loaded(self, tp: TopicPartition) -> None:
        for member in self._by_size_sorted():
            if tp[0] in self.consumer_topics[member]:
                self._reassign(tp, member)
                return
        raise AssignorStateError(f"no member can take {tp}")

    def _reassign(self, tp: TopicPartition, new_owner: str) -> None:
        to_move = self.movements.partition_to_move(tp, self.partition_owner[tp], new_owner)
        old_owner = self.partition_owner[to_move]
        self.movements.move(to_move, old_owner, new_owner)
        self.current[old_owner].remove(to_move)
        self.current[new_owner].append(to_move)
        self.partition_owner[to_move] = new_owner


def _balance_score(assignment: Mapping[str, Sequence[TopicPartition]]) -> int:
    """Sum over member pairs of the difference of their partition counts (0 = balanced)."""
    sizes = [len(tps) for tps in assignment.values()]
    return sum(abs(a - b) for i, a in enumerate(sizes) for b in sizes[i + 1 :])
