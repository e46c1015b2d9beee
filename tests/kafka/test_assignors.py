"""RangeAssignor and RoundRobinAssignor (classic consumer groups)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sim.kafka.assignors import range_assign, round_robin_assign


def test_range_example_from_kafka_docs() -> None:
    members = ["C1", "C0"]  # input order does not matter: members are sorted
    subs = {"C0": ["t0", "t1"], "C1": ["t0", "t1"]}
    got = range_assign(members, subs, {"t0": 3, "t1": 3})
    assert got == {
        "C0": [("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)],
        "C1": [("t0", 2), ("t1", 2)],
    }


def test_range_per_topic_subscribers_and_missing_topics() -> None:
    subs = {"a": ["x"], "b": ["x", "y"], "c": ["y", "gone"]}
    got = range_assign(["a", "b", "c"], subs, {"x": 5, "y": 1})
    assert got == {
        "a": [("x", 0), ("x", 1), ("x", 2)],
        "b": [("x", 3), ("x", 4), ("y", 0)],
        "c": [],
    }


def test_round_robin_examples_from_kafka_javadoc() -> None:
    subs = {"C0": ["t0", "t1"], "C1": ["t0", "t1"]}
    assert round_robin_assign(["C0", "C1"], subs, {"t0": 3, "t1": 3}) == {
        "C0": [("t0", 0), ("t0", 2), ("t1", 1)],
        "C1": [("t0", 1), ("t1", 0), ("t1", 2)],
    }
    subs = {"C0": ["t0"], "C1": ["t0", "t1"], "C2": ["t0", "t1", "t2"]}
    assert round_robin_assign(["C2", "C1", "C0"], subs, {"t0": 1, "t1": 2, "t2": 3}) == {
        "C0": [("t0", 0)],
        "C1": [("t1", 0)],
        "C2": [("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)],
    }


def test_no_members() -> None:
    assert range_assign([], {}, {"t": 3}) == {}
    assert round_robin_assign([], {}, {"t": 3}) == {}


topics_st = st.dictionaries(
    st.sampled_from(["t0", "t1", "t2", "t3"]), st.integers(1, 12), min_size=1
)


@given(
    topics=topics_st,
    members=st.lists(
        st.text("abcdef", min_size=1, max_size=4), min_size=1, max_size=6, unique=True
    ),
    data=st.data(),
)
def test_every_partition_assigned_once_to_a_subscriber(
    topics: dict[str, int], members: list[str], data: st.DataObject
) -> None:
    subs = {
        m: data.draw(st.lists(st.sampled_from(sorted(topics)), unique=True, min_size=1))
        for m in members
    }
    for assign in (range_assign, round_robin_assign):
        got = assign(members, subs, topics)
        assert sorted(got) == sorted(members)
        owned = [(tp, m) for m, tps in got.items() for tp in tps]
        wanted = {(t, p) for m in members for t in subs[m] for p in range(topics[t])}
        assert sorted(tp for tp, _ in owned) == sorted(wanted)
        assert all(tp[0] in subs[m] for tp, m in owned)
        if assign is range_assign:
            for t in topics:
                counts = [sum(1 for tp in got[m] if tp[0] == t) for m in members if t in subs[m]]
                assert not counts or max(counts) - min(counts) <= 1


@given(topics=topics_st, n=st.integers(1, 7))
def test_round_robin_balanced_for_identical_subscriptions(topics: dict[str, int], n: int) -> None:
    members = [f"consumer-g-{i}" for i in range(n)]
    got = round_robin_assign(members, {m: sorted(topics) for m in members}, topics)
    sizes = [len(v) for v in got.values()]
    assert max(sizes) - min(sizes) <= 1
