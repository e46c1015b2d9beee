"""RangeAssignor, RoundRobinAssignor, the public API and ``partition.assignment.strategy``.

Each test named ``test_<kafka method>`` ports the Kafka test method of that name (Kafka 3.9,
``clients/src/test/java/org/apache/kafka/clients/consumer/RangeAssignorTest.java`` and
``RoundRobinAssignorTest.java``), with the same members, topics and expected assignment. Kafka's
rack configurations are left out (no rack awareness here); the cases where Kafka expects the
non-rack-aware result are ported.
"""

from __future__ import annotations

import pytest

from sim.kafka.assignors import (
    DEFAULT_ASSIGNMENT_STRATEGY,
    Subscription,
    assign,
    cooperative_revocations,
    parse_assignment_strategy,
    range_assign,
    rebalance_protocol,
    rebalance_protocols,
    round_robin_assign,
    select_group_protocol,
)
from sim.kafka.assignors.common import JavaHashSet, java_hash_map_order, topic_partition_hashcode
from tests.kafka.assignor_harness import parse, sub

T1, T2 = "topic1", "topic2"


def two_topics(n1: int, n2: int) -> dict[str, int]:
    return {T1: n1, T2: n2}


# --- RangeAssignorTest -----------------------------------------------------------------------


def test_range_one_consumer_no_topic() -> None:
    # RangeAssignorTest.testOneConsumerNoTopic
    assert assign("range", [sub("consumer1", [])], {}) == {"consumer1": []}


def test_range_one_consumer_nonexistent_topic() -> None:
    # RangeAssignorTest.testOneConsumerNonexistentTopic
    assert assign("range", [sub("consumer1", [T1])], {}) == {"consumer1": []}


def test_range_one_consumer_one_topic() -> None:
    # RangeAssignorTest.testOneConsumerOneTopic
    got = assign("range", [sub("consumer1", [T1])], {T1: 3})
    assert got == {"consumer1": [(T1, 0), (T1, 1), (T1, 2)]}


def test_range_only_assigns_partitions_from_subscribed_topics() -> None:
    # RangeAssignorTest.testOnlyAssignsPartitionsFromSubscribedTopics
    got = assign("range", [sub("consumer1", [T1])], {T1: 3, "other": 3})
    assert got == {"consumer1": [(T1, 0), (T1, 1), (T1, 2)]}


def test_range_one_consumer_multiple_topics() -> None:
    # RangeAssignorTest.testOneConsumerMultipleTopics
    got = assign("range", [sub("consumer1", [T1, T2])], two_topics(1, 2))
    assert got == {"consumer1": [(T1, 0), (T2, 0), (T2, 1)]}


def test_range_two_consumers_one_topic_one_partition() -> None:
    # RangeAssignorTest.testTwoConsumersOneTopicOnePartition
    got = assign("range", [sub("consumer1", [T1]), sub("consumer2", [T1])], {T1: 1})
    assert got == {"consumer1": [(T1, 0)], "consumer2": []}


def test_range_two_consumers_one_topic_two_partitions() -> None:
    # RangeAssignorTest.testTwoConsumersOneTopicTwoPartitions
    got = assign("range", [sub("consumer1", [T1]), sub("consumer2", [T1])], {T1: 2})
    assert got == {"consumer1": [(T1, 0)], "consumer2": [(T1, 1)]}


def test_range_multiple_consumers_mixed_topics() -> None:
    # RangeAssignorTest.testMultipleConsumersMixedTopics
    subs = [sub("consumer1", [T1]), sub("consumer2", [T1, T2]), sub("consumer3", [T1])]
    assert assign("range", subs, two_topics(3, 2)) == {
        "consumer1": [(T1, 0)],
        "consumer2": [(T1, 1), (T2, 0), (T2, 1)],
        "consumer3": [(T1, 2)],
    }


def test_range_two_consumers_two_topics_six_partitions() -> None:
    # RangeAssignorTest.testTwoConsumersTwoTopicsSixPartitions (also the Javadoc example)
    subs = [sub("consumer2", [T1, T2]), sub("consumer1", [T1, T2])]  # input order is irrelevant
    assert assign("range", subs, two_topics(3, 3)) == {
        "consumer1": [(T1, 0), (T1, 1), (T2, 0), (T2, 1)],
        "consumer2": [(T1, 2), (T2, 2)],
    }


def test_range_two_static_consumers_two_topics_six_partitions() -> None:
    # RangeAssignorTest.testTwoStaticConsumersTwoTopicsSixPartitions: ordered by instance id,
    # so consumer-b (instance1) comes before consumer-a (instance2).
    subs = [
        sub("consumer-b", [T1, T2], instance="instance1"),
        sub("consumer-a", [T1, T2], instance="instance2"),
    ]
    got = assign("range", subs, two_topics(3, 3))
    assert got["consumer-b"] == [(T1, 0), (T1, 1), (T2, 0), (T2, 1)]
    assert got["consumer-a"] == [(T1, 2), (T2, 2)]


def test_range_one_static_consumer_and_one_dynamic_consumer_two_topics_six_partitions() -> None:
    # RangeAssignorTest.testOneStaticConsumerAndOneDynamicConsumerTwoTopicsSixPartitions:
    # a static member sorts before every dynamic one.
    subs = [sub("consumer-b", [T1, T2], instance="instance1"), sub("consumer-a", [T1, T2])]
    got = assign("range", subs, two_topics(3, 3))
    assert got["consumer-b"] == [(T1, 0), (T1, 1), (T2, 0), (T2, 1)]
    assert got["consumer-a"] == [(T1, 2), (T2, 2)]


def _static_members(topics: list[str]) -> dict[str, Subscription]:
    return {f"consumer{i}": sub(f"consumer{i}", topics, instance=f"instance{i}") for i in (1, 2, 3)}


def test_range_static_member_range_assignment_persistent() -> None:
    # RangeAssignorTest.testStaticMemberRangeAssignmentPersistent
    subs = _static_members([T1, T2])
    subs["consumer4"] = sub("consumer4", [T1, T2])
    expected = {
        "consumer1": [(T1, 0), (T1, 1), (T2, 0)],
        "consumer2": [(T1, 2), (T2, 1)],
        "consumer3": [(T1, 3), (T2, 2)],
        "consumer4": [(T1, 4), (T2, 3)],
    }
    assert assign("range", list(subs.values()), two_topics(5, 4)) == expected
    # Replace dynamic member 4 with a new dynamic member 5: the static members keep theirs.
    del subs["consumer4"]
    subs["consumer5"] = sub("consumer5", [T1, T2])
    expected["consumer5"] = expected.pop("consumer4")
    assert assign("range", list(subs.values()), two_topics(5, 4)) == expected


def _by_instance(strategy: str, subs: dict[str, Subscription], ppt: dict[str, int]) -> dict:
    got = assign(strategy, list(subs.values()), ppt)
    return {s.group_instance_id: got[s.member_id] for s in subs.values()}


def test_range_static_member_range_assignment_persistent_after_member_id_changes() -> None:
    # RangeAssignorTest.testStaticMemberRangeAssignmentPersistentAfterMemberIdChanges
    subs = _static_members([T1, T2])
    expected = {
        "instance1": [(T1, 0), (T1, 1), (T2, 0), (T2, 1)],
        "instance2": [(T1, 2), (T1, 3), (T2, 2), (T2, 3)],
        "instance3": [(T1, 4), (T2, 4)],
    }
    assert _by_instance("range", subs, two_topics(5, 5)) == expected
    # Restarted static members come back with new member ids: same partitions per instance.
    subs["consumer4"] = Subscription("consumer4", (T1, T2), group_instance_id="instance3")
    subs["consumer5"] = Subscription("consumer5", (T1, T2), group_instance_id="instance2")
    del subs["consumer3"], subs["consumer2"]
    assert _by_instance("range", subs, two_topics(5, 5)) == expected


@pytest.mark.parametrize(
    ("topics", "consumer_topics", "expected"),
    [
        # RangeAssignorTest.testRackAwareAssignmentWithUniformSubscription
        (
            {"t1": 6, "t2": 7, "t3": 2},
            [["t1", "t2", "t3"]] * 3,
            [
                "t1-0, t1-1, t2-0, t2-1, t2-2, t3-0",
                "t1-2, t1-3, t2-3, t2-4, t3-1",
                "t1-4, t1-5, t2-5, t2-6",
            ],
        ),
        # RangeAssignorTest.testRackAwareAssignmentWithNonEqualSubscription
        (
            {"t1": 6, "t2": 7, "t3": 2},
            [["t1", "t2", "t3"], ["t1", "t2", "t3"], ["t1", "t3"]],
            [
                "t1-0, t1-1, t2-0, t2-1, t2-2, t2-3, t3-0",
                "t1-2, t1-3, t2-4, t2-5, t2-6, t3-1",
                "t1-4, t1-5",
            ],
        ),
        # RangeAssignorTest.testRackAwareAssignmentWithUniformPartitions
        (
            {"t1": 5, "t2": 5, "t3": 5},
            [["t1", "t2", "t3"]] * 3,
            [
                "t1-0, t1-1, t2-0, t2-1, t3-0, t3-1",
                "t1-2, t1-3, t2-2, t2-3, t3-2, t3-3",
                "t1-4, t2-4, t3-4",
            ],
        ),
        # RangeAssignorTest.testRackAwareAssignmentWithUniformPartitionsNonEqualSubscription
        (
            {"t1": 5, "t2": 5, "t3": 5},
            [["t1", "t2", "t3"], ["t1", "t2", "t3"], ["t1", "t3"]],
            [
                "t1-0, t1-1, t2-0, t2-1, t2-2, t3-0, t3-1",
                "t1-2, t1-3, t2-3, t2-4, t3-2, t3-3",
                "t1-4, t3-4",
            ],
        ),
        # RangeAssignorTest.testRackAwareAssignmentWithCoPartitioning (first, non-rack case)
        (
            {"t1": 6, "t2": 6, "t3": 2, "t4": 2},
            [["t1", "t2"], ["t1", "t2"], ["t3", "t4"], ["t3", "t4"]],
            [
                "t1-0, t1-1, t1-2, t2-0, t2-1, t2-2",
                "t1-3, t1-4, t1-5, t2-3, t2-4, t2-5",
                "t3-0, t4-0",
                "t3-1, t4-1",
            ],
        ),
        # RangeAssignorTest.testCoPartitionedAssignmentWithSameSubscription (non-rack case;
        # t7..t9 are subscribed but have no metadata)
        (
            {"t1": 6, "t2": 6, "t3": 2, "t4": 2, "t5": 4, "t6": 4},
            [["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"]] * 3,
            [
                "t1-0, t1-1, t2-0, t2-1, t3-0, t4-0, t5-0, t5-1, t6-0, t6-1",
                "t1-2, t1-3, t2-2, t2-3, t3-1, t4-1, t5-2, t6-2",
                "t1-4, t1-5, t2-4, t2-5, t5-3, t6-3",
            ],
        ),
    ],
)
def test_range_non_rack_aware_assignments(
    topics: dict[str, int], consumer_topics: list[list[str]], expected: list[str]
) -> None:
    # verifyNonRackAwareAssignment / verifyRackAssignment: members consumer0, consumer1, ...
    subs = [sub(f"consumer{i}", t) for i, t in enumerate(consumer_topics)]
    got = assign("range", subs, topics)
    assert got == {f"consumer{i}": parse(e) for i, e in enumerate(expected)}


def test_range_assign_wrapper_keeps_the_old_signature() -> None:
    # build.py's static split: plain member names, a topic without metadata is skipped.
    subs = {"a": ["x"], "b": ["x", "y"], "c": ["y", "gone"]}
    assert range_assign(["c", "a", "b"], subs, {"x": 5, "y": 1}) == {
        "a": [("x", 0), ("x", 1), ("x", 2)],
        "b": [("x", 3), ("x", 4), ("y", 0)],
        "c": [],
    }
    assert range_assign([], {}, {"t": 3}) == {}


# --- RoundRobinAssignorTest ------------------------------------------------------------------


def test_round_robin_one_consumer_no_topic() -> None:
    # RoundRobinAssignorTest.testOneConsumerNoTopic
    assert assign("roundrobin", [sub("consumer", [])], {}) == {"consumer": []}


def test_round_robin_one_consumer_nonexistent_topic() -> None:
    # RoundRobinAssignorTest.testOneConsumerNonexistentTopic
    assert assign("roundrobin", [sub("consumer", ["topic"])], {}) == {"consumer": []}


def test_round_robin_one_consumer_one_topic() -> None:
    # RoundRobinAssignorTest.testOneConsumerOneTopic
    got = assign("roundrobin", [sub("consumer", ["topic"])], {"topic": 3})
    assert got == {"consumer": [("topic", 0), ("topic", 1), ("topic", 2)]}


def test_round_robin_only_assigns_partitions_from_subscribed_topics() -> None:
    # RoundRobinAssignorTest.testOnlyAssignsPartitionsFromSubscribedTopics
    got = assign("roundrobin", [sub("consumer", ["topic"])], {"topic": 3, "other": 3})
    assert got == {"consumer": [("topic", 0), ("topic", 1), ("topic", 2)]}


def test_round_robin_one_consumer_multiple_topics() -> None:
    # RoundRobinAssignorTest.testOneConsumerMultipleTopics
    got = assign("roundrobin", [sub("consumer", [T1, T2])], two_topics(1, 2))
    assert got == {"consumer": [(T1, 0), (T2, 0), (T2, 1)]}


def test_round_robin_two_consumers_one_topic_one_partition() -> None:
    # RoundRobinAssignorTest.testTwoConsumersOneTopicOnePartition
    subs = [sub("consumer1", ["topic"]), sub("consumer2", ["topic"])]
    assert assign("roundrobin", subs, {"topic": 1}) == {
        "consumer1": [("topic", 0)],
        "consumer2": [],
    }


def test_round_robin_two_consumers_one_topic_two_partitions() -> None:
    # RoundRobinAssignorTest.testTwoConsumersOneTopicTwoPartitions
    subs = [sub("consumer1", ["topic"]), sub("consumer2", ["topic"])]
    assert assign("roundrobin", subs, {"topic": 2}) == {
        "consumer1": [("topic", 0)],
        "consumer2": [("topic", 1)],
    }


def test_round_robin_multiple_consumers_mixed_topics() -> None:
    # RoundRobinAssignorTest.testMultipleConsumersMixedTopics
    subs = [sub("consumer1", [T1]), sub("consumer2", [T1, T2]), sub("consumer3", [T1])]
    assert assign("roundrobin", subs, two_topics(3, 2)) == {
        "consumer1": [(T1, 0)],
        "consumer2": [(T1, 1), (T2, 0), (T2, 1)],
        "consumer3": [(T1, 2)],
    }


def test_round_robin_two_dynamic_consumers_two_topics_six_partitions() -> None:
    # RoundRobinAssignorTest.testTwoDynamicConsumersTwoTopicsSixPartitions
    subs = [sub("consumer1", [T1, T2]), sub("consumer2", [T1, T2])]
    assert assign("roundrobin", subs, two_topics(3, 3)) == {
        "consumer1": [(T1, 0), (T1, 2), (T2, 1)],
        "consumer2": [(T1, 1), (T2, 0), (T2, 2)],
    }


def test_round_robin_two_static_consumers_two_topics_six_partitions() -> None:
    # RoundRobinAssignorTest.testTwoStaticConsumersTwoTopicsSixPartitions
    subs = [
        sub("consumer-b", [T1, T2], instance="instance1"),
        sub("consumer-a", [T1, T2], instance="instance2"),
    ]
    got = assign("roundrobin", subs, two_topics(3, 3))
    assert got["consumer-b"] == [(T1, 0), (T1, 2), (T2, 1)]
    assert got["consumer-a"] == [(T1, 1), (T2, 0), (T2, 2)]


def test_round_robin_one_static_consumer_and_one_dynamic_consumer() -> None:
    # RoundRobinAssignorTest.testOneStaticConsumerAndOneDynamicConsumerTwoTopicsSixPartitions
    subs = [sub("consumer-b", [T1, T2], instance="instance1"), sub("consumer-a", [T1, T2])]
    got = assign("roundrobin", subs, two_topics(3, 3))
    assert got["consumer-b"] == [(T1, 0), (T1, 2), (T2, 1)]
    assert got["consumer-a"] == [(T1, 1), (T2, 0), (T2, 2)]


def test_round_robin_static_member_round_robin_assignment_persistent() -> None:
    # RoundRobinAssignorTest.testStaticMemberRoundRobinAssignmentPersistent
    subs = _static_members([T1, T2])
    subs["consumer4"] = sub("consumer4", [T1, T2])
    expected = {
        "consumer1": [(T1, 0), (T2, 1)],
        "consumer2": [(T1, 1), (T2, 2)],
        "consumer3": [(T1, 2)],
        "consumer4": [(T2, 0)],
    }
    assert assign("roundrobin", list(subs.values()), two_topics(3, 3)) == expected
    del subs["consumer4"]
    subs["consumer5"] = sub("consumer5", [T1, T2])
    expected["consumer5"] = expected.pop("consumer4")
    assert assign("roundrobin", list(subs.values()), two_topics(3, 3)) == expected


def test_round_robin_static_member_assignment_persistent_after_member_id_changes() -> None:
    # RoundRobinAssignorTest.testStaticMemberRoundRobinAssignmentPersistentAfterMemberIdChanges
    subs = _static_members([T1, T2])
    expected = {
        "instance1": [(T1, 0), (T1, 3), (T2, 1), (T2, 4)],
        "instance2": [(T1, 1), (T1, 4), (T2, 2)],
        "instance3": [(T1, 2), (T2, 0), (T2, 3)],
    }
    assert _by_instance("roundrobin", subs, two_topics(5, 5)) == expected
    subs["consumer4"] = Subscription("consumer4", (T1, T2), group_instance_id="instance3")
    subs["consumer5"] = Subscription("consumer5", (T1, T2), group_instance_id="instance2")
    del subs["consumer3"], subs["consumer2"]
    assert _by_instance("roundrobin", subs, two_topics(5, 5)) == expected


def test_round_robin_javadoc_example_with_different_subscriptions() -> None:
    # RoundRobinAssignor Javadoc: C0 [t0], C1 [t0, t1], C2 [t0, t1, t2]; t0:1, t1:2, t2:3.
    subs = {"C0": ["t0"], "C1": ["t0", "t1"], "C2": ["t0", "t1", "t2"]}
    assert round_robin_assign(["C2", "C1", "C0"], subs, {"t0": 1, "t1": 2, "t2": 3}) == {
        "C0": [("t0", 0)],
        "C1": [("t1", 0)],
        "C2": [("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)],
    }


# --- the API ---------------------------------------------------------------------------------


def test_every_member_is_a_key_and_lists_are_sorted() -> None:
    subs = [sub("b", ["y", "x"]), sub("a", ["x"]), sub("idle", ["nothing"])]
    for strategy in ("range", "roundrobin", "sticky", "cooperative-sticky"):
        got = assign(strategy, subs, {"x": 3, "y": 2})
        assert list(got) == ["a", "b", "idle"]
        assert got["idle"] == []
        assert all(v == sorted(v) for v in got.values())


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown classic assignor 'uniform'"):
        assign("uniform", [sub("a", ["t"])], {"t": 1})
    with pytest.raises(ValueError, match="duplicate member ids"):
        assign("range", [sub("a", ["t"]), sub("a", ["t"])], {"t": 1})
    with pytest.raises(ValueError, match=r"duplicate group\.instance\.id"):
        assign("range", [sub("a", ["t"], instance="i"), sub("b", ["t"], instance="i")], {"t": 1})
    with pytest.raises(ValueError, match="topic t has 2 partitions"):
        assign("sticky", [sub("a", ["t"], owned=[("t", 5)], generation=1)], {"t": 2})


def test_cooperative_revocations() -> None:
    subs = [sub("a", ["t"], owned=[("t", 0), ("t", 1)], generation=1), sub("b", ["t"])]
    got = assign("cooperative-sticky", subs, {"t": 2})
    assert got == {"a": [("t", 0)], "b": []}  # t-1 is withheld from b this round
    assert cooperative_revocations(subs, got) == {"a": [("t", 1)], "b": []}


# --- partition.assignment.strategy -----------------------------------------------------------


def test_default_strategy_rebalances_eager_with_range() -> None:
    assert DEFAULT_ASSIGNMENT_STRATEGY == ["range", "cooperative-sticky"]
    assert rebalance_protocol(DEFAULT_ASSIGNMENT_STRATEGY) == "EAGER"
    assert rebalance_protocol(["cooperative-sticky"]) == "COOPERATIVE"
    assert rebalance_protocols("sticky") == ("EAGER",)
    assert rebalance_protocols("cooperative-sticky") == ("COOPERATIVE", "EAGER")
    # every member lists range first, so the coordinator picks range
    assert select_group_protocol([DEFAULT_ASSIGNMENT_STRATEGY] * 3) == "range"
    # second bounce of the KIP-429 upgrade: members without range vote cooperative-sticky
    assert (
        select_group_protocol([["cooperative-sticky"], ["cooperative-sticky", "range"]])
        == "cooperative-sticky"
    )
    with pytest.raises(ValueError, match="no common protocol"):
        select_group_protocol([["range"], ["roundrobin"]])


def test_parse_assignment_strategy_accepts_kafka_class_names() -> None:
    fq = "org.apache.kafka.clients.consumer."
    assert parse_assignment_strategy("RangeAssignor, CooperativeStickyAssignor") == [
        "range",
        "cooperative-sticky",
    ]
    assert parse_assignment_strategy([fq + "StickyAssignor", "RoundRobinAssignor"]) == [
        "sticky",
        "roundrobin",
    ]
    assert parse_assignment_strategy(fq + "CooperativeStickyAssignor") == ["cooperative-sticky"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("range", "Did you mean 'RangeAssignor'"),
        ("CooperativeStickyAsignor", "Did you mean 'CooperativeStickyAssignor'"),
        (
            "org.apache.kafka.clients.consumer.roundrobinassignor",
            "Did you mean 'RoundRobinAssignor'",
        ),
        ("com.example.MyAssignor", "Known: RangeAssignor, RoundRobinAssignor"),
        ("", "at least one partition assigner"),
        ([], "at least one partition assigner"),
        ("RangeAssignor,RangeAssignor", "used in more than one assignor"),
    ],
)
def test_parse_assignment_strategy_refuses_unknown_names(
    value: str | list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse_assignment_strategy(value)


# --- the Java orders the assignors decide by -------------------------------------------------


def test_java_hash_map_order() -> None:
    # Computed by hand from String.hashCode: "consumer1".."consumer4" land in buckets 12, 11,
    # 10, 9 of a 16-bucket table, so a HashMap visits them backwards; "A", "B", "C" are 65..67.
    assert java_hash_map_order(["consumer1", "consumer2", "consumer3", "consumer4"]) == [
        "consumer4",
        "consumer3",
        "consumer2",
        "consumer1",
    ]
    assert java_hash_map_order(["C", "A", "B"]) == ["A", "B", "C"]
    # 13 keys grow the table to 32 buckets: "a".."m" (97..109) stay in hash order.
    keys = [chr(c) for c in range(ord("m"), ord("a") - 1, -1)]
    assert java_hash_map_order(keys) == sorted(keys)
    # Same bucket (16 apart in a 16-bucket table): insertion order decides.
    assert java_hash_map_order(["q", "a"]) == ["q", "a"]
    assert java_hash_map_order(["a", "q"]) == ["a", "q"]


def test_java_hash_set_first() -> None:
    # TopicPartition("t", p).hashCode() = 31 * (31 + p) + 116: buckets follow p.
    assert topic_partition_hashcode(("t", 0)) == 31 * 31 + 116
    s: JavaHashSet[tuple[str, int]] = JavaHashSet(topic_partition_hashcode)
    for p in (5, 3, 9):
        s.add(("t", p))
    first = min((5, 3, 9), key=lambda p: (31 * (31 + p) + 116) & 15)
    assert s.first() == ("t", first)
    s.discard(("t", first))
    assert len(s) == 2 and ("t", first) not in s
