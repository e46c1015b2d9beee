"""Classic consumer-group partition assignors (client side, run by the group leader).

Kafka concept (``partition.assignment.strategy``, default
``[RangeAssignor, CooperativeStickyAssignor]``: Range is used unless every member supports the next)
    The group leader receives every member's subscription and computes the whole assignment.
    Members are sorted by ``group.instance.id`` when set, otherwise by ``member.id``
    (``client.id`` + "-" + UUID); here the caller passes the sort key as the member string.

    - ``RangeAssignor``: each topic on its own. Its partitions in numeric order are split among
      the sorted members subscribed to it: ``per = P // C``, the first ``P % C`` members get one
      extra, member i gets the contiguous range starting at ``i * per + min(i, P % C)``. The
      imbalance adds up across topics (C0 gets t0p0, t0p1, t1p0, t1p1; C1 gets t0p2, t1p2).
    - ``RoundRobinAssignor``: all partitions of all subscribed topics, sorted by (topic, partition),
      dealt in turn to the sorted members, skipping members not subscribed to the topic.

Simplifications
    No rack-aware assignment (``client.rack``), no Sticky/CooperativeSticky assignors. Topics
    without metadata (absent from ``partitions_per_topic``) are skipped, as in Kafka. Strings are
    compared like Java ``String.compareTo`` (UTF-16 code units); the order never depends on
    hashing.

Kafka sources: ``clients/src/main/java/org/apache/kafka/clients/consumer/RangeAssignor.java``,
``RoundRobinAssignor.java``, ``internals/AbstractPartitionAssignor.java``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

TopicPartition = tuple[str, int]
Assignment = dict[str, list[TopicPartition]]


def _java_order(s: str) -> bytes:
    """Sort key equal to Java ``String.compareTo`` order (UTF-16 code units)."""
    return s.encode("utf-16-be")


def _sorted(strings: Iterable[str]) -> list[str]:
    return sorted(strings, key=_java_order)


def range_assign(
    members: Sequence[str],
    subscriptions: Mapping[str, Sequence[str]],
    partitions_per_topic: Mapping[str, int],
) -> Assignment:
    """``RangeAssignor.assign``: member -> list of (topic, partition); every member has a list."""
    ordered = _sorted(dict.fromkeys(members))
    assignment: Assignment = {m: [] for m in ordered}
    topics = _sorted({t for m in ordered for t in subscriptions.get(m, ())})
    for topic in topics:
        num_partitions = partitions_per_topic.get(topic)
        if num_partitions is None:
            continue
        consumers = [m for m in ordered if topic in subscriptions.get(m, ())]
        per, extra = divmod(num_partitions, len(consumers))
        for i, member in enumerate(consumers):
            start = i * per + min(i, extra)
            length = per + (1 if i < extra else 0)
            assignment[member].extend((topic, p) for p in range(start, start + length))
    return assignment


def round_robin_assign(
    members: Sequence[str],
    subscriptions: Mapping[str, Sequence[str]],
    partitions_per_topic: Mapping[str, int],
) -> Assignment:
    """``RoundRobinAssignor.assign``: member -> list of (topic, partition), for every member."""
    ordered = _sorted(dict.fromkeys(members))
    assignment: Assignment = {m: [] for m in ordered}
    if not ordered:
        return assignment
    subscribed = {m: frozenset(subscriptions.get(m, ())) for m in ordered}
    topics = _sorted({t for m in ordered for t in subscribed[m]})
    cursor = 0
    n = len(ordered)
    for topic in topics:
        num_partitions = partitions_per_topic.get(topic)
        if num_partitions is None:
            continue
        for partition in range(num_partitions):
            while topic not in subscribed[ordered[cursor]]:
                cursor = (cursor + 1) % n
            assignment[ordered[cursor]].append((topic, partition))
            cursor = (cursor + 1) % n
    return assignment
