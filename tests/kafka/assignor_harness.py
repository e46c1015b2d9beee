"""Test helpers for the assignor tests: the checks Kafka's own assignor tests use, in Python.

``verify_validity_and_balance`` is ``AbstractStickyAssignorTest.verifyValidityAndBalance``;
``settle_cooperative`` is ``CooperativeStickyAssignorTest.verifyValidityAndBalance``'s loop of
follow-up rebalances (each round: no partition is added to one member while revoked from
another; members then report their new assignment as owned and the group rebalances again until
nothing is revoked). ``name(prefix, i, max_num)`` is the tests' ``getTopicName`` and
``getConsumerName``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence

from sim.kafka.assignors import Subscription, TopicPartition, assign

GENERATION = 1  # AbstractStickyAssignorTest.generationId


def sub(
    member: str,
    topics: Sequence[str],
    owned: Sequence[TopicPartition] = (),
    generation: int = -1,
    instance: str | None = None,
) -> Subscription:
    return Subscription(member, tuple(topics), tuple(owned), generation, instance)


def v2(
    member: str, topics: Sequence[str], owned: Sequence[TopicPartition], generation: int = 1
) -> Subscription:
    """``buildSubscriptionV2Above``: owned partitions with the generation they belong to."""
    return sub(member, topics, owned, generation)


def name(prefix: str, i: int, max_num: int) -> str:
    """``getCanonicalName``: ``prefix`` + ``i`` zero-padded to the width of ``max_num``."""
    return prefix + str(i).zfill(len(str(max_num)))


def parse(text: str) -> list[TopicPartition]:
    """``"t1-0, t2-3"`` -> ``[("t1", 0), ("t2", 3)]`` (Kafka's rack tests' notation)."""
    if not text:
        return []
    out = []
    for item in text.split(", "):
        topic, _, partition = item.rpartition("-")
        out.append((topic, int(partition)))
    return sorted(out)


def run(
    strategy: str,
    subscriptions: Mapping[str, Subscription],
    partitions_per_topic: Mapping[str, int],
) -> dict[str, list[TopicPartition]]:
    """``assignor.assignPartitions(partitionsPerTopic, subscriptions)`` in insertion order."""
    return assign(strategy, list(subscriptions.values()), partitions_per_topic)


def is_fully_balanced(assignment: Mapping[str, Sequence[TopicPartition]]) -> bool:
    sizes = [len(v) for v in assignment.values()]
    return max(sizes) - min(sizes) <= 1


def verify_validity_and_balance(
    subscriptions: Mapping[str, Subscription],
    assignment: Mapping[str, Sequence[TopicPartition]],
) -> None:
    """``AbstractStickyAssignorTest.verifyValidityAndBalance``."""
    assert len(subscriptions) == len(assignment)
    consumers = sorted(assignment)
    for i, consumer in enumerate(consumers):
        partitions = assignment[consumer]
        for tp in partitions:
            assert tp[0] in subscriptions[consumer].topics, (consumer, tp)
        for other in consumers[i + 1 :]:
            other_partitions = assignment[other]
            assert not set(partitions) & set(other_partitions), (consumer, other)
            if abs(len(partitions) - len(other_partitions)) <= 1:
                continue
            topics = {tp[0] for tp in partitions}
            other_topics = {tp[0] for tp in other_partitions}
            # If both hold partitions of a topic, one of them could have been moved to balance.
            assert not topics & other_topics, (consumer, other, assignment)


def settle_cooperative(
    subscriptions: MutableMapping[str, Subscription],
    assignment: dict[str, list[TopicPartition]],
    partitions_per_topic: Mapping[str, int],
) -> dict[str, list[TopicPartition]]:
    """Run cooperative follow-up rebalances until nothing is revoked; return the final state."""
    rebalances = 0
    while True:
        added: set[TopicPartition] = set()
        revoked: set[TopicPartition] = set()
        for member, assigned in assignment.items():
            owned = set(subscriptions[member].owned_partitions)
            revoked |= owned - set(assigned)
            added |= set(assigned) - owned
        assert not added & revoked, f"assigned while still owned elsewhere: {added & revoked}"
        if not revoked:
            return assignment
        for member, assigned in assignment.items():
            old = subscriptions[member]
            subscriptions[member] = v2(member, old.topics, assigned, GENERATION)
        assignment = run("cooperative-sticky", subscriptions, partitions_per_topic)
        rebalances += 1
        assert rebalances <= 4


def check(
    strategy: str,
    subscriptions: MutableMapping[str, Subscription],
    assignment: dict[str, list[TopicPartition]],
    partitions_per_topic: Mapping[str, int],
) -> dict[str, list[TopicPartition]]:
    """``verifyValidityAndBalance`` of the test class for ``strategy`` (cooperative: settles
    first, and returns the settled assignment, as Kafka's override mutates it in place)."""
    if strategy == "cooperative-sticky":
        assignment = settle_cooperative(subscriptions, assignment, partitions_per_topic)
    verify_validity_and_balance(subscriptions, assignment)
    return assignment
