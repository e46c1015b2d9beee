"""KIP-848 server-side assignors ("uniform", "range"): Kafka's own test cases, ported exactly.

Each test ports the Kafka 3.9 test method it names, from
``group-coordinator/src/test/java/org/apache/kafka/coordinator/group/assignor/``
``OptimizedUniformAssignmentBuilderTest.java`` (homogeneous groups),
``UniformHeterogeneousAssignmentBuilderTest.java`` and ``RangeAssignorTest.java``. Kafka's tests
give their topics fixed UUIDs; passing the same ids as ``topic_ids`` reproduces Kafka's topic
order. A member's current assignment built with ``mkOrderedAssignment`` (a LinkedHashMap) is
passed in that order, one built with ``mkAssignment`` (a HashMap) in that HashMap's order
(``kafka_map``). Kafka's tests that assert an exception for a topic missing from the metadata
are not ported: the simulator ignores such topics, as a running coordinator never hands them to
the assignor.
"""

from __future__ import annotations

import pytest

from sim.kafka.assignors import MemberSpec, TopicPartition, server_assign
from sim.kafka.assignors.common import grown_capacity, hash_order
from sim.kafka.assignors.server import uuid_hashcode

T1, T2, T3, T4 = "topic1", "topic2", "topic3", "topic4"
IDS = {
    T1: "T1-A4s3VTwiI5CTbEp6POw",
    T2: "T2-B4s3VTwiI5YHbPp6YUe",
    T3: "T3-CU8fVTLCz5YMkLoDQsa",
    T4: "T4-Tw9fVTLCz5HbPp6YQsa",
}


def ordered(*entries: tuple[str, list[int]]) -> tuple[TopicPartition, ...]:
    """``mkOrderedAssignment``: topics in the given order."""
    return tuple((t, p) for t, parts in entries for p in parts)


def kafka_map(*entries: tuple[str, list[int]]) -> tuple[TopicPartition, ...]:
    """``mkAssignment``: a ``HashMap`` keyed by topic UUID, iterated in its hash order."""
    topics = hash_order(
        [t for t, _ in entries], lambda t: uuid_hashcode(IDS[t]), grown_capacity(len(entries))
    )
    parts = dict(entries)
    return tuple((t, p) for t in topics for p in parts[t])


def expect(**members: dict[str, list[int]]) -> dict[str, list[TopicPartition]]:
    return {m: sorted((t, p) for t, parts in a.items() for p in parts) for m, a in members.items()}


def member(
    member_id: str,
    topics: list[str],
    current: tuple[TopicPartition, ...] = (),
    instance: str | None = None,
) -> MemberSpec:
    return MemberSpec(member_id, tuple(topics), current, instance)


def uniform(members: list[MemberSpec], topics: dict[str, int]) -> dict[str, list[TopicPartition]]:
    return server_assign("uniform", members, topics, IDS)


def test_uuid_hashcode_matches_java() -> None:
    # Uuid.fromString(...).hashCode(), worked out by hand from the 16 decoded bytes.
    assert uuid_hashcode("AAAAAAAAAAAAAAAAAAAAAA") == 0
    assert uuid_hashcode("AAAAAAAAAAEAAAAAAAAAAA") == 1  # low bit of the high long
    assert uuid_hashcode("AAAAAAAAAAAAAAAAAAAAAQ") == 1  # low bit of the low long
    # The HashSet order Kafka's tests rely on: topic3 (bucket 9) before topic1 (bucket 10).
    assert hash_order([T1, T3], lambda t: uuid_hashcode(IDS[t]), 16) == [T3, T1]


# --- OptimizedUniformAssignmentBuilderTest (homogeneous) -------------------------------------


def test_uniform_one_member_no_topic_subscription() -> None:
    # OptimizedUniformAssignmentBuilderTest.testOneMemberNoTopicSubscription
    assert uniform([member("A", [])], {T1: 3}) == {"A": []}


def test_uniform_first_assignment_two_members_two_topics_no_member_racks() -> None:
    # OptimizedUniformAssignmentBuilderTest.testFirstAssignmentTwoMembersTwoTopicsNoMemberRacks:
    # topic3 comes first in the HashSet of topic ids, so A (quota 3) gets it whole.
    got = uniform([member("A", [T1, T3]), member("B", [T1, T3])], {T1: 3, T3: 2})
    assert got == expect(A={T1: [0], T3: [0, 1]}, B={T1: [1, 2]})


def test_uniform_first_assignment_num_members_greater_than_total_num_partitions() -> None:
    # OptimizedUniformAssignmentBuilderTest.
    #   testFirstAssignmentNumMembersGreaterThanTotalNumPartitions
    got = uniform([member(m, [T3]) for m in "ABC"], {T3: 2})
    assert got == expect(A={T3: [0]}, B={T3: [1]}, C={})


def test_uniform_validity_and_balance_for_large_sample_set() -> None:
    # OptimizedUniformAssignmentBuilderTest.testValidityAndBalanceForLargeSampleSet (random
    # topic ids in Kafka; the names' hashes stand in here)
    topics = {f"topic-{i}": 3 for i in range(1, 100)}
    members = [member(f"member{i}", list(topics)) for i in range(1, 50)]
    got = server_assign("uniform", members, topics)
    owned = [tp for tps in got.values() for tp in tps]
    assert sorted(owned) == sorted((t, p) for t in topics for p in range(3))
    sizes = [len(v) for v in got.values()]
    assert max(sizes) - min(sizes) <= 1


def test_uniform_reassignment_for_two_members_two_topics_given_unbalanced_prev_assignment() -> None:
    # OptimizedUniformAssignmentBuilderTest.
    #   testReassignmentForTwoMembersTwoTopicsGivenUnbalancedPrevAssignment
    got = uniform(
        [
            member("A", [T1, T2], ordered((T1, [0, 1]), (T2, [0, 1]))),
            member("B", [T1, T2], ordered((T1, [2]), (T2, [2]))),
        ],
        {T1: 3, T2: 3},
    )
    assert got == expect(A={T1: [0, 1], T2: [0]}, B={T1: [2], T2: [1, 2]})


def test_uniform_reassignment_when_partitions_are_added_for_two_members_two_topics() -> None:
    # OptimizedUniformAssignmentBuilderTest.
    #   testReassignmentWhenPartitionsAreAddedForTwoMembersTwoTopics
    got = uniform(
        [
            member("A", [T1, T2], ordered((T1, [0, 2]), (T2, [0]))),
            member("B", [T1, T2], ordered((T1, [1]), (T2, [1, 2]))),
        ],
        {T1: 6, T2: 5},
    )
    assert got == expect(A={T1: [0, 2, 3], T2: [0, 3, 4]}, B={T1: [1, 4, 5], T2: [1, 2]})


def test_uniform_reassignment_when_one_member_added_after_initial_assignment() -> None:
    # OptimizedUniformAssignmentBuilderTest.
    #   testReassignmentWhenOneMemberAddedAfterInitialAssignmentWithTwoMembersTwoTopics
    got = uniform(
        [
            member("A", [T1, T2], ordered((T1, [0, 2]), (T2, [0]))),
            member("B", [T1, T2], ordered((T1, [1]), (T2, [1, 2]))),
            member("C", [T1, T2]),
        ],
        {T1: 3, T2: 3},
    )
    assert got == expect(A={T1: [0, 2]}, B={T1: [1], T2: [1]}, C={T2: [0, 2]})


def test_uniform_reassignment_when_one_member_removed_after_initial_assignment() -> None:
    # OptimizedUniformAssignmentBuilderTest.
    #   testReassignmentWhenOneMemberRemovedAfterInitialAssignmentWithThreeMembersTwoTopics
    got = uniform(
        [
            member("A", [T1, T2], kafka_map((T1, [0]), (T2, [0]))),
            member("B", [T1, T2], kafka_map((T1, [1]), (T2, [1]))),
        ],
        {T1: 3, T2: 3},
    )
    assert got == expect(A={T1: [0], T2: [0, 2]}, B={T1: [1, 2], T2: [1]})


def test_uniform_reassignment_when_one_subscription_removed_after_initial_assignment() -> None:
    # OptimizedUniformAssignmentBuilderTest.
    #   testReassignmentWhenOneSubscriptionRemovedAfterInitialAssignmentWithTwoMembersTwoTopics
    got = uniform(
        [
            member("A", [T2], kafka_map((T1, [0]), (T2, [0]))),
            member("B", [T2], kafka_map((T1, [1]), (T2, [1]))),
        ],
        {T1: 2, T2: 2},
    )
    assert got == expect(A={T2: [0]}, B={T2: [1]})


# --- UniformHeterogeneousAssignmentBuilderTest -----------------------------------------------


def test_uniform_two_members_no_topic_subscription() -> None:
    # UniformHeterogeneousAssignmentBuilderTest.testTwoMembersNoTopicSubscription
    assert uniform([member("A", []), member("B", [])], {T1: 3}) == {"A": [], "B": []}


def test_uniform_heterogeneous_first_assignment_two_members_two_topics() -> None:
    # UniformHeterogeneousAssignmentBuilderTest.testFirstAssignmentTwoMembersTwoTopics
    got = uniform([member("A", [T1, T3]), member("B", [T3])], {T1: 3, T3: 6})
    assert got == expect(A={T1: [0, 1, 2], T3: [3, 5]}, B={T3: [0, 1, 2, 4]})


def test_uniform_heterogeneous_first_assignment_num_members_greater_than_partitions() -> None:
    # UniformHeterogeneousAssignmentBuilderTest.
    #   testFirstAssignmentNumMembersGreaterThanTotalNumPartitions
    got = uniform([member("A", [T3]), member("B", [T3]), member("C", [T1])], {T3: 1, T1: 2})
    assert got == expect(A={T3: [0]}, B={}, C={T1: [0, 1]})


def test_uniform_heterogeneous_reassignment_given_unbalanced_prev_assignment() -> None:
    # UniformHeterogeneousAssignmentBuilderTest.
    #   testReassignmentForTwoMembersThreeTopicsGivenUnbalancedPrevAssignment
    got = uniform(
        [
            member("A", [T1], kafka_map((T1, [0, 1, 2]))),
            member("B", [T1, T2], kafka_map((T1, [3]), (T2, [0]))),
            member("C", [T1, T2, T3], kafka_map((T1, [4, 5]), (T2, [1, 2, 3]), (T3, [0, 1, 2, 3]))),
        ],
        {T1: 6, T2: 4, T3: 4},
    )
    assert got == expect(
        A={T1: [0, 1, 2, 3, 4]}, B={T2: [0, 1, 2, 3]}, C={T1: [5], T3: [0, 1, 2, 3]}
    )


def test_uniform_heterogeneous_reassignment_when_partitions_are_added() -> None:
    # UniformHeterogeneousAssignmentBuilderTest.testReassignmentWhenPartitionsAreAddedForTwoMembers
    got = uniform(
        [
            member("A", [T1, T3], kafka_map((T1, [0, 1, 2, 3]), (T3, [0, 1]))),
            member("B", [T1, T2, T3, T4], kafka_map((T2, [0, 1, 2]), (T4, [0, 1, 2]))),
        ],
        {T1: 6, T2: 5, T3: 3, T4: 3},
    )
    assert got == expect(
        A={T1: [0, 1, 2, 3, 4, 5], T3: [0, 1, 2]}, B={T2: [0, 1, 2, 3, 4], T4: [0, 1, 2]}
    )


def test_uniform_heterogeneous_one_member_added_and_partitions_added() -> None:
    # UniformHeterogeneousAssignmentBuilderTest.
    #   testReassignmentWhenOneMemberAddedAndPartitionsAddedTwoMembersTwoTopics
    got = uniform(
        [
            member("A", [T1], kafka_map((T1, [0, 2]), (T2, [0]))),
            member("B", [T1, T2], kafka_map((T1, [1]), (T2, [1, 2]))),
            member("C", [T1, T2]),
        ],
        {T1: 6, T2: 7},
    )
    assert got == expect(A={T1: [0, 2, 3, 4, 5]}, B={T1: [1], T2: [1, 2, 5]}, C={T2: [0, 3, 4, 6]})


def test_uniform_heterogeneous_one_member_removed() -> None:
    # UniformHeterogeneousAssignmentBuilderTest.
    #   testReassignmentWhenOneMemberRemovedAfterInitialAssignmentWithThreeMembersThreeTopics
    got = uniform(
        [
            member("A", [T1, T3], kafka_map((T1, [0, 1, 2]), (T3, [0, 1]))),
            member("B", [T2], kafka_map((T2, [3, 4, 5, 6]))),
        ],
        {T1: 3, T2: 8, T3: 3},
    )
    assert got == expect(A={T1: [0, 1, 2], T3: [0, 1, 2]}, B={T2: list(range(8))})


def test_uniform_heterogeneous_one_subscription_removed() -> None:
    # UniformHeterogeneousAssignmentBuilderTest.
    #   testReassignmentWhenOneSubscriptionRemovedAfterInitialAssignmentWithTwoMembersTwoTopics
    got = uniform(
        [
            member("A", [T1], kafka_map((T1, [0, 2]), (T2, [1, 3]))),
            member("B", [T1, T2], kafka_map((T1, [1]), (T2, [0, 2, 4]))),
        ],
        {T1: 3, T2: 5},
    )
    assert got == expect(A={T1: [0, 1, 2]}, B={T2: [0, 1, 2, 3, 4]})


def test_uniform_heterogeneous_two_members_including_one_without_subscriptions() -> None:
    # UniformHeterogeneousAssignmentBuilderTest.
    #   testFirstAssignmentWithTwoMembersIncludingOneWithoutSubscriptions
    got = uniform([member("A", [T1]), member("B", [])], {T1: 3})
    assert got == expect(A={T1: [0, 1, 2]}, B={})


# --- RangeAssignorTest (group coordinator) ---------------------------------------------------


def srange(members: list[MemberSpec], topics: dict[str, int]) -> dict[str, list[TopicPartition]]:
    return server_assign("range", members, topics)


def test_range_one_member_no_topic() -> None:
    # RangeAssignorTest.testOneMemberNoTopic
    assert srange([member("A", [])], {T1: 3}) == {"A": []}


def test_range_first_assignment_two_members_two_topics_same_subscriptions() -> None:
    # RangeAssignorTest.testFirstAssignmentTwoMembersTwoTopicsSameSubscriptions
    got = srange([member("A", [T1, T3]), member("B", [T1, T3])], {T1: 3, T3: 2})
    assert got == expect(A={T1: [0, 1], T3: [0]}, B={T1: [2], T3: [1]})


def test_range_first_assignment_three_members_three_topics_different_subscriptions() -> None:
    # RangeAssignorTest.testFirstAssignmentThreeMembersThreeTopicsDifferentSubscriptions
    got = srange(
        [member("A", [T1, T2]), member("B", [T3]), member("C", [T2, T3])], {T1: 3, T2: 3, T3: 2}
    )
    assert got == expect(A={T1: [0, 1, 2], T2: [0, 1]}, B={T3: [0]}, C={T2: [2], T3: [1]})


def test_range_first_assignment_num_members_greater_than_num_partitions() -> None:
    # RangeAssignorTest.testFirstAssignmentNumMembersGreaterThanNumPartitions
    got = srange([member(m, [T1, T3]) for m in "ABC"], {T1: 3, T3: 2})
    assert got == expect(A={T1: [0], T3: [0]}, B={T1: [1], T3: [1]}, C={T1: [2]})


@pytest.mark.parametrize(
    ("partitions", "dynamic"),
    [(3, []), (5, ["B"])],  # testStaticMembership, testMixedStaticMembership
)
def test_range_static_membership(partitions: int, dynamic: list[str]) -> None:
    # RangeAssignorTest.testStaticMembership / testMixedStaticMembership: a static member that
    # comes back with a new member id gets the same partitions.
    static = ["A", "B"] if not dynamic else ["A", "C"]
    members = [member(m, [T1], instance=f"instance{m}") for m in static]
    members += [member(m, [T1]) for m in dynamic]
    before = srange(members, {T1: partitions})
    members = [m for m in members if m.member_id != "A"]
    members.append(member("memberA1", [T1], instance="instanceA"))
    after = srange(members, {T1: partitions})
    assert after["memberA1"] == before["A"]
    assert all(after[m] == before[m] for m in before if m != "A")


def test_range_reassignment_num_members_greater_than_num_partitions_when_one_member_added() -> None:
    # RangeAssignorTest.testReassignmentNumMembersGreaterThanNumPartitionsWhenOneMemberAdded
    got = srange(
        [
            member("A", [T1, T2], kafka_map((T1, [0]), (T2, [0]))),
            member("B", [T1, T2], kafka_map((T1, [1]), (T2, [1]))),
            member("C", [T1, T2]),
        ],
        {T1: 2, T2: 2},
    )
    assert got == expect(A={T1: [0], T2: [0]}, B={T1: [1], T2: [1]}, C={})


def test_range_reassignment_when_one_partition_added_for_two_members_two_topics() -> None:
    # RangeAssignorTest.testReassignmentWhenOnePartitionAddedForTwoMembersTwoTopics
    got = srange([member("A", [T1, T2]), member("B", [T1, T2])], {T1: 4, T2: 4})
    assert got == expect(A={T1: [0, 1], T2: [0, 1]}, B={T1: [2, 3], T2: [2, 3]})


def test_range_reassignment_when_one_member_added_after_initial_assignment() -> None:
    # RangeAssignorTest.
    #   testReassignmentWhenOneMemberAddedAfterInitialAssignmentWithTwoMembersTwoTopics
    got = srange([member(m, [T1, T2]) for m in "ABC"], {T1: 3, T2: 3})
    assert got == expect(A={T1: [0], T2: [0]}, B={T1: [1], T2: [1]}, C={T1: [2], T2: [2]})


def test_range_reassignment_when_one_member_and_one_partition_added() -> None:
    # RangeAssignorTest.
    # testReassignmentWhenOneMemberAddedAndOnePartitionAfterInitialAssignmentWithTwoMembersTwoTopics
    got = srange([member("A", [T1, T2]), member("B", [T1, T2]), member("C", [T1])], {T1: 4, T2: 3})
    assert got == expect(A={T1: [0, 1], T2: [0, 1]}, B={T1: [2], T2: [2]}, C={T1: [3]})


def test_range_reassignment_when_one_member_removed() -> None:
    # RangeAssignorTest.
    #   testReassignmentWhenOneMemberRemovedAfterInitialAssignmentWithTwoMembersTwoTopics
    got = srange([member("B", [T1, T2], kafka_map((T1, [2]), (T2, [2])))], {T1: 3, T2: 3})
    assert got == expect(B={T1: [0, 1, 2], T2: [0, 1, 2]})


def test_range_reassignment_when_multiple_subscriptions_removed() -> None:
    # RangeAssignorTest.
    # testReassignmentWhenMultipleSubscriptionsRemovedAfterInitialAssignment
    #   WithThreeMembersTwoTopics
    got = srange(
        [
            member("A", [T1], kafka_map((T1, [0, 1, 2]), (T2, [0]))),
            member("B", [T1, T2, T3], kafka_map((T2, [1]))),
            member("C", [T2], kafka_map((T2, [2]), (T3, [0, 1]))),
        ],
        {T1: 3, T2: 3, T3: 2},
    )
    assert got == expect(A={T1: [0, 1]}, B={T1: [2], T2: [0, 1], T3: [0, 1]}, C={T2: [2]})


# --- the API ---------------------------------------------------------------------------------


def test_server_assign_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown server assignor 'sticky'"):
        server_assign("sticky", [member("A", [T1])], {T1: 1})
    with pytest.raises(ValueError, match="in the target assignment of A and B"):
        server_assign(
            "uniform", [member("A", [T1], ((T1, 0),)), member("B", [T1], ((T1, 0),))], {T1: 1}
        )
    with pytest.raises(ValueError, match="not a base64 UUID"):
        server_assign("uniform", [member("A", [T1])], {T1: 1}, {T1: "short"})


def test_uniform_scale_out_keeps_what_stays_balanced() -> None:
    # Three members own two partitions each; a fourth joins: one partition each moves from two
    # of them (the first two in HashMap order keep two), and nothing else changes.
    topics = {"orders": 6}
    current = {"A": [0, 1], "B": [2, 3], "C": [4, 5]}
    members = [member(m, ["orders"], tuple(("orders", p) for p in ps)) for m, ps in current.items()]
    got = server_assign("uniform", [*members, member("D", ["orders"])], topics)
    assert got == {
        "A": [("orders", 0), ("orders", 1)],
        "B": [("orders", 2), ("orders", 3)],
        "C": [("orders", 4)],
        "D": [("orders", 5)],
    }
