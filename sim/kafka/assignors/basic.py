"""``RangeAssignor`` and ``RoundRobinAssignor``: the stateless classic assignors.

Both order members like ``AbstractPartitionAssignor.MemberInfo.compareTo``: members with a
``group.instance.id`` (static members) first, by instance id, then the others by member id,
both in Java ``String`` order. Neither looks at what a member owned before.

- ``RangeAssignor`` ("range"): each topic on its own. Its partitions in numeric order are split
  among the ordered members subscribed to it: ``per = P // C``; the first ``P % C`` members get
  one extra; member i gets the contiguous range starting at ``i * per + min(i, P % C)``. The
  imbalance adds up across topics (C0 gets t0p0, t0p1, t1p0, t1p1; C1 gets t0p2, t1p2), which is
  also what keeps topics co-partitioned.
- ``RoundRobinAssignor`` ("roundrobin"): all partitions of all subscribed topics, sorted by
  (topic, partition), dealt in turn to the ordered members (a circular iterator), skipping a
  member not subscribed to the partition's topic.

Simplified: no rack-aware assignment (``client.rack``). Kafka sources:
``clients/.../consumer/RangeAssignor.java``, ``RoundRobinAssignor.java``,
``internals/AbstractPartitionAssignor.java``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sim.kafka.assignors.common import Assignment, Subscription, java_order, java_sorted


def member_info_key(member_id: str, instance_id: str | None) -> tuple[int, bytes]:
    """``MemberInfo.compareTo``: static members first (by instance id), then by member id."""
    if instance_id is not None:
        return 0, java_order(instance_id)
    return 1, java_order(member_id)


def _ordered(subscriptions: Sequence[Subscription]) -> list[Subscription]:
    return sorted(subscriptions, key=lambda s: member_info_key(s.member_id, s.group_instance_id))


def range_assignment(
    subscriptions: Sequence[Subscription], partitions_per_topic: Mapping[str, int]
) -> Assignment:
    """``RangeAssignor.assignPartitions`` without racks; every member gets a list."""
    assignment: Assignment = {s.member_id: [] for s in subscriptions}
    ordered = _ordered(subscriptions)
    for topic in java_sorted(partitions_per_topic):
        num_partitions = partitions_per_topic[topic]
        consumers = [s.member_id for s in ordered if topic in s.topics]
        if num_partitions <= 0 or not consumers:
            continue
        per, extra = divmod(num_partitions, len(consumers))
        for i, member in enumerate(consumers):
            start = i * per + min(i, extra)
            length = per + (1 if i < extra else 0)
            assignment[member].extend((topic, p) for p in range(start, start + length))
    return assignment


def round_robin_assignment(
    subscriptions: Sequence[Subscription], partitions_per_topic: Mapping[str, int]
) -> Assignment:
    """``RoundRobinAssignor.assign``; every member gets a list."""
    assignment: Assignment = {s.member_id: [] for s in subscriptions}
    ordered = _ordered(subscriptions)
    if not ordered:
        return assignment
    topics = java_sorted({t for s in ordered for t in s.topics})  # TreeSet<String>
    cursor = 0  # CircularIterator over the ordered members
    for topic in topics:
        num_partitions = partitions_per_topic.get(topic)
        if num_partitions is None:
            continue
        for partition in range(num_partitions):
            while topic not in ordered[cursor].topics:
                cursor = (cursor + 1) % len(ordered)
            assignment[ordered[cursor].member_id].append((topic, partition))
            cursor = (cursor + 1) % len(ordered)
    return assignment
