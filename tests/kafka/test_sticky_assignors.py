"""StickyAssignor and CooperativeStickyAssignor: Kafka's own test cases, ported exactly.

Each test ports the Kafka 3.9 test method it names, from
``clients/src/test/java/org/apache/kafka/clients/consumer/internals/AbstractStickyAssignorTest
.java`` (run there for both assignors, here parametrized over "sticky" and "cooperative-sticky"),
``StickyAssignorTest.java`` or ``CooperativeStickyAssignorTest.java``. Kafka's helpers are in
``assignor_harness``: ``check`` is ``verifyValidityAndBalance`` (for the cooperative assignor it
first runs the follow-up rebalances, as Kafka's override does, and returns the settled
assignment). Kafka's assertions on ``partitionsTransferringOwnership`` become assertions on what
the cooperative assignor withholds. Rack configurations are left out (no rack awareness here).
"""

from __future__ import annotations

import pytest

from sim.kafka.assignors import Subscription, TopicPartition
from tests.kafka.assignor_harness import (
    GENERATION,
    check,
    is_fully_balanced,
    name,
    parse,
    run,
    sub,
    v2,
    verify_validity_and_balance,
)

BOTH = pytest.mark.parametrize("strategy", ["sticky", "cooperative-sticky"])
TOPIC, T1, T2, T3 = "topic", "topic1", "topic2", "topic3"
C1, C2, C3, C4 = "consumer1", "consumer2", "consumer3", "consumer4"

Subs = dict[str, Subscription]


def tps(*items: tuple[str, int]) -> list[TopicPartition]:
    return sorted(items)


# --- AbstractStickyAssignorTest --------------------------------------------------------------


@BOTH
def test_one_consumer_no_topic(strategy: str) -> None:
    # AbstractStickyAssignorTest.testOneConsumerNoTopic
    subs: Subs = {"consumer": sub("consumer", [])}
    got = run(strategy, subs, {})
    assert got == {"consumer": []}
    check(strategy, subs, got, {})


@BOTH
def test_one_consumer_nonexistent_topic(strategy: str) -> None:
    # AbstractStickyAssignorTest.testOneConsumerNonexistentTopic
    subs: Subs = {"consumer": sub("consumer", [TOPIC])}
    assert run(strategy, subs, {TOPIC: 0}) == {"consumer": []}


@BOTH
def test_one_consumer_one_topic(strategy: str) -> None:
    # AbstractStickyAssignorTest.testOneConsumerOneTopic
    subs: Subs = {"consumer": sub("consumer", [TOPIC])}
    assert run(strategy, subs, {TOPIC: 3}) == {"consumer": [(TOPIC, 0), (TOPIC, 1), (TOPIC, 2)]}


@BOTH
def test_only_assigns_partitions_from_subscribed_topics(strategy: str) -> None:
    # AbstractStickyAssignorTest.testOnlyAssignsPartitionsFromSubscribedTopics
    owned = [(TOPIC, 0), (TOPIC, 1), ("other", 0), ("other", 1)]
    subs: Subs = {"consumer": v2("consumer", [TOPIC], owned)}
    assert run(strategy, subs, {TOPIC: 2}) == {"consumer": [(TOPIC, 0), (TOPIC, 1)]}


@BOTH
def test_one_consumer_multiple_topics(strategy: str) -> None:
    # AbstractStickyAssignorTest.testOneConsumerMultipleTopics
    subs: Subs = {"consumer": sub("consumer", [T1, T2])}
    assert run(strategy, subs, {T1: 1, T2: 2}) == {"consumer": [(T1, 0), (T2, 0), (T2, 1)]}


@BOTH
def test_two_consumers_one_topic_one_partition(strategy: str) -> None:
    # AbstractStickyAssignorTest.testTwoConsumersOneTopicOnePartition
    subs: Subs = {C1: sub(C1, [TOPIC]), C2: sub(C2, [TOPIC])}
    got = run(strategy, subs, {TOPIC: 1})
    check(strategy, subs, got, {TOPIC: 1})
    assert is_fully_balanced(got)


@BOTH
def test_two_consumers_one_topic_two_partitions(strategy: str) -> None:
    # AbstractStickyAssignorTest.testTwoConsumersOneTopicTwoPartitions
    subs: Subs = {C1: sub(C1, [TOPIC]), C2: sub(C2, [TOPIC])}
    assert run(strategy, subs, {TOPIC: 2}) == {C1: [(TOPIC, 0)], C2: [(TOPIC, 1)]}


@BOTH
def test_multiple_consumers_mixed_topic_subscriptions(strategy: str) -> None:
    # AbstractStickyAssignorTest.testMultipleConsumersMixedTopicSubscriptions (general builder)
    subs: Subs = {C1: sub(C1, [T1]), C2: sub(C2, [T1, T2]), C3: sub(C3, [T1])}
    ppt = {T1: 3, T2: 2}
    got = run(strategy, subs, ppt)
    assert got == {C1: tps((T1, 0), (T1, 2)), C2: tps((T2, 0), (T2, 1)), C3: [(T1, 1)]}
    check(strategy, subs, got, ppt)


@BOTH
def test_two_consumers_two_topics_six_partitions(strategy: str) -> None:
    # AbstractStickyAssignorTest.testTwoConsumersTwoTopicsSixPartitions
    subs: Subs = {C1: sub(C1, [T1, T2]), C2: sub(C2, [T1, T2])}
    assert run(strategy, subs, {T1: 3, T2: 3}) == {
        C1: tps((T1, 0), (T1, 2), (T2, 1)),
        C2: tps((T1, 1), (T2, 0), (T2, 2)),
    }


@BOTH
def test_consumer_owning_min_quota_expected_max_quota(strategy: str) -> None:
    # AbstractStickyAssignorTest.testConsumerOwningMinQuotaExpectedMaxQuota
    topics = [T1, T2]
    subs: Subs = {
        C1: v2(C1, topics, [(T1, 0), (T2, 1)]),
        C2: v2(C2, topics, [(T1, 1), (T2, 2)]),
    }
    got = run(strategy, subs, {T1: 2, T2: 3})
    assert got == {C1: tps((T1, 0), (T2, 1), (T2, 0)), C2: tps((T1, 1), (T2, 2))}


@BOTH
def test_max_quota_consumer_more_than_num_expected_max_capacity_members(strategy: str) -> None:
    # AbstractStickyAssignorTest.testMaxQuotaConsumerMoreThanNumExpectedMaxCapacityMembers:
    # consumer1 and consumer2 both own maxQuota (2) but only one may keep it; consumer1 (visited
    # second in Kafka's HashMap) gives up topic2-0 and consumer3 gets it. Kafka reports it in
    # partitionsTransferringOwnership = {topic2-0: consumer3}, so the cooperative assignor
    # withholds it for one round.
    topics = [T1, T2]
    ppt = {T1: 2, T2: 2}
    subs: Subs = {
        C1: v2(C1, topics, [(T1, 0), (T2, 0)]),
        C2: v2(C2, topics, [(T1, 1), (T2, 1)]),
        C3: v2(C3, topics, []),
    }
    got = run(strategy, subs, ppt)
    withheld = strategy == "cooperative-sticky"
    assert got == {C1: [(T1, 0)], C2: tps((T1, 1), (T2, 1)), C3: [] if withheld else [(T2, 0)]}
    got = check(strategy, subs, got, ppt)
    assert got == {C1: [(T1, 0)], C2: tps((T1, 1), (T2, 1)), C3: [(T2, 0)]}


@BOTH
def test_all_consumers_are_under_min_quota(strategy: str) -> None:
    # AbstractStickyAssignorTest.testAllConsumersAreUnderMinQuota
    topics = [T1, T2]
    ppt = {T1: 2, T2: 3}
    subs: Subs = {
        C1: v2(C1, topics, [(T1, 0)]),
        C2: v2(C2, topics, [(T1, 1)]),
        C3: v2(C3, topics, []),
    }
    got = run(strategy, subs, ppt)  # nothing moves, so nothing is withheld
    assert got == {C1: tps((T1, 0), (T2, 1)), C2: tps((T1, 1), (T2, 2)), C3: [(T2, 0)]}
    assert check(strategy, subs, got, ppt) == got


@BOTH
def test_add_remove_consumer_one_topic(strategy: str) -> None:
    # AbstractStickyAssignorTest.testAddRemoveConsumerOneTopic
    ppt = {TOPIC: 3}
    subs: Subs = {C1: sub(C1, [TOPIC])}
    got = run(strategy, subs, ppt)
    assert got == {C1: [(TOPIC, 0), (TOPIC, 1), (TOPIC, 2)]}

    subs[C1] = v2(C1, [TOPIC], got[C1])
    subs[C2] = v2(C2, [TOPIC], [])
    got = run(strategy, subs, ppt)
    # partitionsTransferringOwnership = {topic-2: consumer2}
    new_owner_waits = strategy == "cooperative-sticky"
    assert got == {C1: [(TOPIC, 0), (TOPIC, 1)], C2: [] if new_owner_waits else [(TOPIC, 2)]}
    got = check(strategy, subs, got, ppt)
    assert got == {C1: [(TOPIC, 0), (TOPIC, 1)], C2: [(TOPIC, 2)]}

    del subs[C1]
    subs[C2] = v2(C2, [TOPIC], got[C2])
    got = run(strategy, subs, ppt)  # the partitions of a member that left move at once
    assert got == {C2: [(TOPIC, 0), (TOPIC, 1), (TOPIC, 2)]}


@BOTH
def test_topic_balance_after_reassignment(strategy: str) -> None:
    # AbstractStickyAssignorTest.testTopicBalanceAfterReassignment
    topics = [T1, T2]
    ppt = {T1: 12, T2: 12}

    def per_topic(assignment: dict[str, list[TopicPartition]], count: int) -> None:
        for partitions in assignment.values():
            assert sum(1 for tp in partitions if tp[0] == T1) == count
            assert sum(1 for tp in partitions if tp[0] == T2) == count

    subs: Subs = {C1: sub(C1, topics)}
    got = check(strategy, subs, run(strategy, subs, ppt), ppt)
    per_topic(got, 12)
    subs[C1] = v2(C1, topics, got[C1])
    subs[C2] = v2(C2, topics, [])
    got = check(strategy, subs, run(strategy, subs, ppt), ppt)
    per_topic(got, 6)
    for member in (C1, C2):
        subs[member] = v2(member, topics, got[member])
    subs[C3] = v2(C3, topics, [])
    subs[C4] = v2(C4, topics, [])
    got = check(strategy, subs, run(strategy, subs, ppt), ppt)
    per_topic(got, 3)
    del subs[C1], subs[C2]
    for member in (C3, C4):
        subs[member] = v2(member, topics, got[member])
    got = run(strategy, subs, ppt)
    assert got == check(strategy, subs, got, ppt)  # nothing withheld: the owners left
    per_topic(got, 6)


@BOTH
def test_add_remove_two_consumers_two_topics(strategy: str) -> None:
    # AbstractStickyAssignorTest.testAddRemoveTwoConsumersTwoTopics
    topics = [T1, T2]
    ppt = {T1: 3, T2: 4}
    subs: Subs = {C1: sub(C1, topics), C2: sub(C2, topics)}
    got = run(strategy, subs, ppt)
    assert got == {C1: tps((T1, 0), (T1, 2), (T2, 1), (T2, 3)), C2: tps((T1, 1), (T2, 0), (T2, 2))}

    subs[C1] = v2(C1, topics, got[C1])
    subs[C2] = v2(C2, topics, got[C2])
    subs[C3] = v2(C3, topics, [])
    subs[C4] = v2(C4, topics, [])
    got = run(strategy, subs, ppt)
    # partitionsTransferringOwnership = {topic1-2: consumer3, topic2-3: consumer3,
    # topic2-2: consumer4}: under the cooperative protocol the new members wait one round.
    final = {
        C1: tps((T1, 0), (T2, 1)),
        C2: tps((T2, 0), (T1, 1)),
        C3: tps((T1, 2), (T2, 3)),
        C4: [(T2, 2)],
    }
    if strategy == "cooperative-sticky":
        assert got == {C1: final[C1], C2: final[C2], C3: [], C4: []}
    else:
        assert got == final
    got = check(strategy, subs, got, ppt)
    assert got == final

    del subs[C1], subs[C2]
    subs[C3] = v2(C3, topics, got[C3])
    subs[C4] = v2(C4, topics, got[C4])
    got = run(strategy, subs, ppt)
    assert got == {
        C3: tps((T1, 2), (T2, 3), (T1, 0), (T2, 1)),
        C4: tps((T2, 2), (T1, 1), (T2, 0)),
    }


@BOTH
def test_poor_round_robin_assignment_scenario(strategy: str) -> None:
    # AbstractStickyAssignorTest.testPoorRoundRobinAssignmentScenario
    ppt = {f"topic{i}": (i % 2) + 1 for i in range(1, 6)}
    all_five = [f"topic{i}" for i in range(1, 6)]
    odd = ["topic1", "topic3", "topic5"]
    subs: Subs = {C1: sub(C1, all_five), C2: sub(C2, odd), C3: sub(C3, odd), C4: sub(C4, all_five)}
    check(strategy, subs, run(strategy, subs, ppt), ppt)


@BOTH
def test_add_remove_topic_two_consumers(strategy: str) -> None:
    # AbstractStickyAssignorTest.testAddRemoveTopicTwoConsumers
    ppt = {TOPIC: 3}
    subs: Subs = {C1: sub(C1, [TOPIC]), C2: sub(C2, [TOPIC])}
    first = run(strategy, subs, ppt)
    check(strategy, subs, first, ppt)
    assert sorted(len(v) for v in first.values()) == [1, 2]

    ppt[T2] = 3
    for member in (C1, C2):
        subs[member] = v2(member, [TOPIC, T2], first[member])
    second = run(strategy, subs, ppt)
    assert second == check(strategy, subs, second, ppt)  # no partition changes owner
    assert [len(v) for v in second.values()] == [3, 3]
    assert all(set(first[m]) <= set(second[m]) for m in (C1, C2))

    del ppt[TOPIC]
    for member in (C1, C2):
        subs[member] = v2(member, [T2], second[member])
    third = run(strategy, subs, ppt)
    assert third == check(strategy, subs, third, ppt)
    assert sorted(len(v) for v in third.values()) == [1, 2]
    assert all(set(third[m]) <= set(second[m]) for m in (C1, C2))


@BOTH
def test_reassignment_after_one_consumer_leaves(strategy: str) -> None:
    # AbstractStickyAssignorTest.testReassignmentAfterOneConsumerLeaves (Kafka also checks
    # isSticky(), an internal cycle check on partition movements; not ported)
    ppt = {name("t", i, 20): i for i in range(1, 20)}
    subs: Subs = {}
    for i in range(1, 20):
        topics = [name("t", j, 20) for j in range(1, i + 1)]
        subs[name("c", i, 20)] = sub(name("c", i, 20), topics)
    got = check(strategy, subs, run(strategy, subs, ppt), ppt)
    for i in range(1, 20):
        member = name("c", i, 20)
        subs[member] = v2(member, subs[member].topics, got[member])
    del subs["c10"]
    check(strategy, subs, run(strategy, subs, ppt), ppt)


@BOTH
def test_reassignment_after_one_consumer_added(strategy: str) -> None:
    # AbstractStickyAssignorTest.testReassignmentAfterOneConsumerAdded: members report no
    # owned partitions, so nothing is withheld either.
    ppt = {"topic": 20}
    subs: Subs = {name("c", i, 10): sub(name("c", i, 10), ["topic"]) for i in range(1, 10)}
    got = run(strategy, subs, ppt)
    assert got == check(strategy, subs, got, ppt)
    subs["c10"] = sub("c10", ["topic"])
    got = run(strategy, subs, ppt)
    assert got == check(strategy, subs, got, ppt)


@BOTH
def test_same_subscriptions(strategy: str) -> None:
    # AbstractStickyAssignorTest.testSameSubscriptions
    ppt = {name("t", i, 15): i for i in range(1, 15)}
    subs: Subs = {name("c", i, 9): sub(name("c", i, 9), list(ppt)) for i in range(1, 9)}
    got = run(strategy, subs, ppt)
    assert got == check(strategy, subs, got, ppt)
    for i in range(1, 9):
        member = name("c", i, 9)
        subs[member] = v2(member, subs[member].topics, got[member])
    del subs[name("c", 5, 9)]
    got = run(strategy, subs, ppt)
    assert got == check(strategy, subs, got, ppt)  # only c5's partitions move


def test_subscription_not_equal_and_assign_same_partition_with_3_generation() -> None:
    # AbstractStickyAssignorTest.testSubscriptionNotEqualAndAssignSamePartitionWith3Generation
    ppt = {TOPIC: 6, T1: 1}
    for strategy in ("sticky", "cooperative-sticky"):
        for g1, g2, g3 in ((1, 2, 3), (1, 3, 2), (2, 1, 3), (2, 3, 1), (3, 1, 2), (3, 2, 1)):
            subs: Subs = {
                C1: v2(C1, [TOPIC], [(TOPIC, 0), (TOPIC, 2)], g1),
                C2: v2(C2, [TOPIC], [(TOPIC, 1), (TOPIC, 2), (TOPIC, 3)], g2),
                C3: v2(C3, [TOPIC], [(TOPIC, 2), (TOPIC, 4), (TOPIC, 5)], g3),
                C4: v2(C4, [T1], [(T1, 0)], 2),
            }
            got = run(strategy, subs, ppt)
            flat = [tp for v in got.values() for tp in v]
            assert len(flat) == len(set(flat))
            if strategy == "sticky":
                assert all(1 <= len(v) <= 2 for v in got.values())


@BOTH
def test_new_subscription(strategy: str) -> None:
    # AbstractStickyAssignorTest.testNewSubscription: consumer c0 subscribes to nothing, c1 to
    # t1, c2 to t2..t4; then c0 adds t1.
    ppt = {name("t", i, 5): 1 for i in range(1, 5)}
    subs: Subs = {}
    for i in range(3):
        topics = [name("t", j, 5) for j in range(i, 3 * i - 1)]
        subs[name("c", i, 3)] = sub(name("c", i, 3), topics)
    check(strategy, subs, run(strategy, subs, ppt), ppt)
    c0 = subs["c0"]
    subs["c0"] = sub("c0", [*c0.topics, "t1"])
    check(strategy, subs, run(strategy, subs, ppt), ppt)


@BOTH
def test_move_existing_assignments(strategy: str) -> None:
    # AbstractStickyAssignorTest.testMoveExistingAssignments
    ppt = {f"topic{i}": 1 for i in range(1, 7)}
    subs: Subs = {
        C1: v2(C1, [T1, T2], [(T1, 0)]),
        C2: v2(C2, [T1, T2, T3, "topic4"], [(T2, 0), (T3, 0)]),
        C3: v2(
            C3,
            [T2, T3, "topic4", "topic5", "topic6"],
            [("topic4", 0), ("topic5", 0), ("topic6", 0)],
        ),
    }
    check(strategy, subs, run(strategy, subs, ppt), ppt)


@BOTH
def test_stickiness(strategy: str) -> None:
    # AbstractStickyAssignorTest.testStickiness: removing the potential group leader moves
    # only its partition.
    ppt = {T1: 3}
    subs: Subs = {m: sub(m, [T1]) for m in (C1, C2, C3, C4)}
    got = check(strategy, subs, run(strategy, subs, ppt), ppt)
    assert all(len(v) <= 1 for v in got.values())
    before = {m: v[0] for m, v in got.items() if v}
    del subs[C1]
    for member in (C2, C3, C4):
        subs[member] = v2(member, [T1], got[member])
    got = run(strategy, subs, ppt)
    assert got == check(strategy, subs, got, ppt)
    for member, partitions in got.items():
        assert len(partitions) == 1
        assert member not in before or before[member] in partitions


@BOTH
def test_assignment_updated_for_deleted_topic(strategy: str) -> None:
    # AbstractStickyAssignorTest.testAssignmentUpdatedForDeletedTopic
    subs: Subs = {"consumer": sub("consumer", [T1, T2, T3])}
    got = run(strategy, subs, {T1: 1, T3: 100})
    assert list(got) == ["consumer"] and len(got["consumer"]) == 1 + 100


@BOTH
def test_no_exception_thrown_when_only_subscribed_topic_deleted(strategy: str) -> None:
    # AbstractStickyAssignorTest.testNoExceptionThrownWhenOnlySubscribedTopicDeleted
    subs: Subs = {"consumer": sub("consumer", [TOPIC])}
    got = run(strategy, subs, {TOPIC: 3})
    subs["consumer"] = v2("consumer", [TOPIC], got["consumer"])
    assert run(strategy, subs, {}) == {"consumer": []}


@BOTH
def test_all_consumers_reach_expected_quota_and_are_considered_filled(strategy: str) -> None:
    # AbstractStickyAssignorTest.testAllConsumersReachExpectedQuotaAndAreConsideredFilled
    subs: Subs = {
        C1: v2(C1, [TOPIC], [(TOPIC, 0), (TOPIC, 1)]),
        C2: v2(C2, [TOPIC], [(TOPIC, 2)]),
        C3: v2(C3, [TOPIC], []),
    }
    got = run(strategy, subs, {TOPIC: 4})
    assert got == {C1: [(TOPIC, 0), (TOPIC, 1)], C2: [(TOPIC, 2)], C3: [(TOPIC, 3)]}


@BOTH
@pytest.mark.parametrize("stale_generation", [9, -1])
def test_owned_partitions_are_invalidated_for_consumer_with_stale_or_no_generation(
    strategy: str, stale_generation: int
) -> None:
    # AbstractStickyAssignorTest.testOwnedPartitionsAreInvalidatedForConsumerWithStaleGeneration
    # and ...WithNoGeneration: the claim of generation 10 wins.
    topics = [TOPIC, T2]
    owned = [(TOPIC, 0), (TOPIC, 2), (T2, 1)]
    subs: Subs = {C1: v2(C1, topics, owned, 10), C2: v2(C2, topics, owned, stale_generation)}
    got = run(strategy, subs, {TOPIC: 3, T2: 3})
    assert got == {C1: tps(*owned), C2: tps((TOPIC, 1), (T2, 0), (T2, 2))}


@BOTH
def test_partitions_transferring_ownership_include_the_partition_claimed_by_multiple_consumers(
    strategy: str,
) -> None:
    # AbstractStickyAssignorTest.testPartitionsTransferringOwnershipIncludeThePartitionClaimed
    # ByMultipleConsumersInSameGeneration, with StickyAssignorTest/CooperativeStickyAssignorTest
    # .testAllConsumersHaveOwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGeneration
    # WithEqualPartitionsPerConsumer: topic-0 claimed twice in one generation goes to consumer3,
    # and the cooperative assignor makes consumer3 wait until both claimants have revoked it.
    ppt = {TOPIC: 3}
    subs: Subs = {
        C1: v2(C1, [TOPIC], [(TOPIC, 0), (TOPIC, 1)]),
        C2: v2(C2, [TOPIC], [(TOPIC, 0), (TOPIC, 2)]),
        C3: v2(C3, [TOPIC], []),
    }
    got = run(strategy, subs, ppt)
    c3 = [] if strategy == "cooperative-sticky" else [(TOPIC, 0)]
    assert got == {C1: [(TOPIC, 1)], C2: [(TOPIC, 2)], C3: c3}
    got = check(strategy, subs, got, ppt)
    assert got == {C1: [(TOPIC, 1)], C2: [(TOPIC, 2)], C3: [(TOPIC, 0)]}


@BOTH
def test_all_consumers_have_owned_partition_invalidated_with_unequal_partitions_per_consumer(
    strategy: str,
) -> None:
    # StickyAssignorTest / CooperativeStickyAssignorTest.testAllConsumersHaveOwnedPartition
    # InvalidatedWhenClaimedByMultipleConsumersInSameGenerationWithUnequalPartitionsPerConsumer
    ppt = {TOPIC: 4}
    subs: Subs = {
        C1: v2(C1, [TOPIC], [(TOPIC, 0), (TOPIC, 1)]),
        C2: v2(C2, [TOPIC], [(TOPIC, 0), (TOPIC, 2)]),
        C3: v2(C3, [TOPIC], []),
    }
    got = run(strategy, subs, ppt)
    c3 = [] if strategy == "cooperative-sticky" else [(TOPIC, 0)]
    assert got == {C1: [(TOPIC, 1), (TOPIC, 3)], C2: [(TOPIC, 2)], C3: c3}
    check(strategy, subs, got, ppt)


@BOTH
def test_ensure_partitions_assigned_to_highest_generation(strategy: str) -> None:
    # AbstractStickyAssignorTest.testEnsurePartitionsAssignedToHighestGeneration
    topics = [TOPIC, T2, T3]
    subs: Subs = {
        C1: v2(C1, topics, [(TOPIC, 0), (T2, 0), (T3, 0)], 10),
        C2: v2(C2, topics, [(TOPIC, 1), (T2, 1), (T3, 1)], 9),
        C3: v2(C3, topics, [(T2, 1), (T3, 0), (T3, 2)], 8),
    }
    got = run(strategy, subs, {TOPIC: 3, T2: 3, T3: 3})
    assert got == {
        C1: tps((TOPIC, 0), (T2, 0), (T3, 0)),
        C2: tps((TOPIC, 1), (T2, 1), (T3, 1)),
        C3: tps((TOPIC, 2), (T2, 2), (T3, 2)),
    }


@BOTH
def test_no_reassignment_on_current_members(strategy: str) -> None:
    # AbstractStickyAssignorTest.testNoReassignmentOnCurrentMembers
    topics = [TOPIC, T2, T3, T1]
    ppt = {TOPIC: 3, T1: 3, T2: 3, T3: 3}
    subs: Subs = {
        C1: v2(C1, topics, [], -1),
        C2: v2(C2, topics, [(TOPIC, 0), (T2, 0), (T1, 0)], 9),
        C3: v2(C3, topics, [(T3, 2), (T2, 2), (T1, 1)], 8),
        C4: v2(C4, topics, [(T3, 1), (TOPIC, 1), (TOPIC, 2)], 7),
    }
    got = run(strategy, subs, ppt)
    assert got[C1] == tps((T1, 2), (T2, 1), (T3, 0))
    assert got == check(strategy, subs, got, ppt)


@BOTH
def test_owned_partitions_are_invalidated_for_consumer_with_multiple_generation(
    strategy: str,
) -> None:
    # AbstractStickyAssignorTest.testOwnedPartitionsAreInvalidatedForConsumerWithMultipleGeneration
    topics = [TOPIC, T2]
    subs: Subs = {
        C1: v2(C1, topics, [(TOPIC, 0), (T2, 1), (TOPIC, 1)], 10),
        C2: v2(C2, topics, [(TOPIC, 0), (T2, 1), (T2, 2)], 8),
    }
    got = run(strategy, subs, {TOPIC: 3, T2: 3})
    assert got == {C1: tps((TOPIC, 0), (T2, 1), (TOPIC, 1)), C2: tps((TOPIC, 2), (T2, 2), (T2, 0))}


RACK_TOPICS = {"t1": 6, "t2": 7, "t3": 2}
ALL3 = ["t1", "t2", "t3"]


def _members(consumer_topics: list[list[str]], owned: list[str] | None = None) -> Subs:
    """``verifyRackAssignment``'s subscriptions: consumer0.. with DEFAULT_GENERATION."""
    return {
        f"consumer{i}": sub(f"consumer{i}", topics, parse(owned[i]) if owned else [])
        for i, topics in enumerate(consumer_topics)
    }


def _expect(lines: list[str]) -> dict[str, list[TopicPartition]]:
    return {f"consumer{i}": parse(line) for i, line in enumerate(lines)}


@BOTH
def test_rack_aware_assignment_with_uniform_subscription_non_rack_cases(strategy: str) -> None:
    # AbstractStickyAssignorTest.testRackAwareAssignmentWithUniformSubscription, the cases where
    # rack-aware assignment is not used (verifyUniformSubscription with null racks): the result,
    # then the same with that result as the owned partitions.
    expected = [
        "t1-0, t1-3, t2-0, t2-3, t2-6",
        "t1-1, t1-4, t2-1, t2-4, t3-0",
        "t1-2, t1-5, t2-2, t2-5, t3-1",
    ]
    assert run(strategy, _members([ALL3] * 3), RACK_TOPICS) == _expect(expected)
    # (StickyAssignor reads owned partitions from its user data, which these tests leave empty,
    # so there the second call is the first one again.)
    owned = expected if strategy == "cooperative-sticky" else None
    assert run(strategy, _members([ALL3] * 3, owned), RACK_TOPICS) == _expect(expected)


@BOTH
def test_rack_aware_assignment_with_non_equal_subscription_non_rack_cases(strategy: str) -> None:
    # AbstractStickyAssignorTest.testRackAwareAssignmentWithNonEqualSubscription (general
    # builder), the cases without rack-aware assignment.
    consumer_topics = [ALL3, ALL3, ["t1", "t3"]]
    expected = [
        "t1-5, t2-0, t2-2, t2-4, t2-6",
        "t1-3, t2-1, t2-3, t2-5, t3-0",
        "t1-0, t1-1, t1-2, t1-4, t3-1",
    ]
    assert run(strategy, _members(consumer_topics), RACK_TOPICS) == _expect(expected)
    if strategy == "sticky":
        return
    assert run(strategy, _members(consumer_topics, expected), RACK_TOPICS) == _expect(expected)
    # "Verify that result is same as non-rack-aware assignment if all racks match" (cooperative):
    # consumer2 owns t2 partitions it no longer subscribes to; the first round withholds what
    # moves, the second hands it out.
    owned = [
        "t1-0, t1-1, t1-2, t1-3, t1-4",
        "t1-5, t2-0, t2-1, t2-2, t2-3",
        "t2-4, t2-5, t2-6, t3-0, t3-1",
    ]
    intermediate = ["t1-2, t1-3, t1-4", "t2-0, t2-1, t2-2, t2-3", "t3-0, t3-1"]
    final = [
        "t1-2, t1-3, t1-4, t2-4, t2-5",
        "t2-0, t2-1, t2-2, t2-3, t2-6",
        "t1-0, t1-1, t1-5, t3-0, t3-1",
    ]
    assert run(strategy, _members(consumer_topics, owned), RACK_TOPICS) == _expect(intermediate)
    assert run(strategy, _members(consumer_topics, intermediate), RACK_TOPICS) == _expect(final)


# --- StickyAssignorTest ----------------------------------------------------------------------


@pytest.mark.parametrize("all_subscriptions_equal", [True, False])
def test_assignment_with_multiple_generations1(all_subscriptions_equal: bool) -> None:
    # StickyAssignorTest.testAssignmentWithMultipleGenerations1
    all_topics = [TOPIC, T2]
    c2_topics = all_topics if all_subscriptions_equal else [TOPIC]
    ppt = {TOPIC: 6, T2: 6}
    subs: Subs = {C1: sub(C1, all_topics), C2: sub(C2, c2_topics), C3: sub(C3, all_topics)}
    r1 = run("sticky", subs, ppt)
    assert [len(v) for v in r1.values()] == [4, 4, 4]
    verify_validity_and_balance(subs, r1)

    subs[C1] = v2(C1, all_topics, r1[C1], GENERATION)
    subs[C2] = v2(C2, c2_topics, r1[C2], GENERATION)
    del subs[C3]
    r2 = run("sticky", subs, ppt)
    assert [len(v) for v in r2.values()] == [6, 6]
    if all_subscriptions_equal:
        assert set(r1[C1]) <= set(r2[C1])
    assert set(r1[C2]) <= set(r2[C2])
    verify_validity_and_balance(subs, r2)
    assert set(r2[C2]) & set(r1[C3])

    del subs[C1]
    subs[C2] = v2(C2, c2_topics, r2[C2], 2)
    subs[C3] = v2(C3, all_topics, r1[C3], 1)
    r3 = run("sticky", subs, ppt)
    assert [len(v) for v in r3.values()] == [6, 6]
    assert not set(r3[C2]) & set(r3[C3])
    verify_validity_and_balance(subs, r3)


@pytest.mark.parametrize("all_subscriptions_equal", [True, False])
def test_assignment_with_multiple_generations2(all_subscriptions_equal: bool) -> None:
    # StickyAssignorTest.testAssignmentWithMultipleGenerations2
    all_topics = [TOPIC, T2, T3]
    c1_topics = all_topics if all_subscriptions_equal else [TOPIC]
    c3_topics = all_topics if all_subscriptions_equal else [TOPIC, T2]
    ppt = {TOPIC: 4, T2: 4, T3: 4}
    subs: Subs = {C1: sub(C1, c1_topics), C2: sub(C2, all_topics), C3: sub(C3, c3_topics)}
    r1 = run("sticky", subs, ppt)
    assert [len(v) for v in r1.values()] == [4, 4, 4]
    verify_validity_and_balance(subs, r1)

    del subs[C1], subs[C3]
    subs[C2] = v2(C2, all_topics, r1[C2], 1)
    r2 = run("sticky", subs, ppt)
    assert len(r2[C2]) == 12 and set(r1[C2]) <= set(r2[C2])

    subs[C1] = v2(C1, c1_topics, r1[C1], 1)
    subs[C2] = v2(C2, all_topics, r2[C2], 2)
    subs[C3] = v2(C3, c3_topics, r1[C3], 1)
    r3 = run("sticky", subs, ppt)
    assert [len(v) for v in r3.values()] == [4, 4, 4]
    verify_validity_and_balance(subs, r3)


@pytest.mark.parametrize("all_subscriptions_equal", [True, False])
def test_assignment_with_conflicting_previous_generations(all_subscriptions_equal: bool) -> None:
    # StickyAssignorTest.testAssignmentWithConflictingPreviousGenerations
    all_topics = [TOPIC, T2, T3]
    c1_topics = all_topics if all_subscriptions_equal else [TOPIC]
    c2_topics = all_topics if all_subscriptions_equal else [TOPIC, T2]
    ppt = {TOPIC: 4, T2: 4, T3: 4}
    c1_owned = (
        [(TOPIC, 0), (TOPIC, 1), (TOPIC, 2), (T2, 2), (T2, 3), (T3, 0)]
        if all_subscriptions_equal
        else [(TOPIC, 0), (TOPIC, 1), (TOPIC, 2), (TOPIC, 3)]
    )
    c2_owned = [(TOPIC, 0), (TOPIC, 1), (T2, 0), (T2, 1), (T2, 2), (T2, 3)]
    c3_owned = [(TOPIC, 2), (TOPIC, 3), (T3, 0), (T3, 1), (T3, 2), (T3, 3)]
    subs: Subs = {
        C1: v2(C1, c1_topics, c1_owned, 1),
        C2: v2(C2, c2_topics, c2_owned, 2),
        C3: v2(C3, all_topics, c3_owned, 2),
    }
    got = run("sticky", subs, ppt)
    assert [len(v) for v in got.values()] == [4, 4, 4]
    assert set(got[C2]) <= set(c2_owned) and set(got[C3]) <= set(c3_owned)
    verify_validity_and_balance(subs, got)


# --- CooperativeStickyAssignorTest -----------------------------------------------------------


def test_assignor_with_old_version_subscriptions() -> None:
    # CooperativeStickyAssignorTest.testAssignorWithOldVersionSubscriptions (generation from
    # the user data of a v1 subscription)
    subs: Subs = {
        C1: v2(C1, [T1], [(T1, 0)]),
        C2: v2(C2, [T1], [(T1, 1)]),
        C3: v2(C3, [T1], []),
    }
    got = run("cooperative-sticky", subs, {T1: 3})
    assert got == {C1: [(T1, 0)], C2: [(T1, 1)], C3: [(T1, 2)]}


def test_uniform_subscription_transfer_ownership_list_is_right() -> None:
    # CooperativeStickyAssignorTest.testUniformSubscriptionTransferOwnershipListIsRight, without
    # racks: c0 and c1 keep their two partitions each, so nothing is withheld.
    subs: Subs = {
        "c0": v2("c0", [T1], [(T1, 0), (T1, 1)]),
        "c1": v2("c1", [T1], [(T1, 2), (T1, 3)]),
    }
    assert run("cooperative-sticky", subs, {T1: 4}) == {
        "c0": [(T1, 0), (T1, 1)],
        "c1": [(T1, 2), (T1, 3)],
    }


def test_scale_out_moves_only_the_partitions_the_new_member_gets() -> None:
    # The lesson of KIP-429 in one group: two members own 3 partitions each, a third joins.
    # Eager sticky: the result is final at once. Cooperative: the two moving partitions are
    # revoked this round and assigned in the follow-up; nothing else moves.
    ppt = {TOPIC: 6}
    owned = {C1: [(TOPIC, 0), (TOPIC, 1), (TOPIC, 2)], C2: [(TOPIC, 3), (TOPIC, 4), (TOPIC, 5)]}
    subs: Subs = {m: v2(m, [TOPIC], tps_) for m, tps_ in owned.items()}
    subs[C3] = v2(C3, [TOPIC], [])
    eager = run("sticky", subs, ppt)
    first = run("cooperative-sticky", subs, ppt)
    assert eager == {
        C1: [(TOPIC, 0), (TOPIC, 1)],
        C2: [(TOPIC, 3), (TOPIC, 4)],
        C3: [(TOPIC, 2), (TOPIC, 5)],
    }
    assert first == {C1: [(TOPIC, 0), (TOPIC, 1)], C2: [(TOPIC, 3), (TOPIC, 4)], C3: []}
    final = check("cooperative-sticky", subs, first, ppt)
    assert final == eager
