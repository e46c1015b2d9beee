"""Properties of the assignors over generated groups (hypothesis).

Groups are generated as structures (topics with partition counts, members with subscriptions and
what they owned before) so that shrinking yields a minimal group. The properties are the
guarantees Kafka's assignors make and the simulator relies on:

- every partition of a subscribed topic goes to exactly one member subscribed to its topic
  (range, roundrobin, sticky; cooperative-sticky once its follow-up rebalances are done;
  uniform and range on the server);
- cooperative: never is a partition given to a new member in the round in which another member
  still owns it (KIP-429), and the group settles after a few follow-up rebalances (at most four,
  the bound of Kafka's ``CooperativeStickyAssignorTest``);
- sticky and uniform with identical subscriptions: counts differ by at most one, and a member
  keeps as many of the partitions it owned as its new share allows;
- range balances each topic on its own; roundrobin balances the whole group when every member
  subscribes to the same topics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kafka.assignors import MemberSpec, Subscription, TopicPartition, assign, server_assign
from tests.kafka.assignor_harness import settle_cooperative, verify_validity_and_balance

TOPIC_NAMES = ["orders", "payments", "clicks", "logs"]
MEMBER_IDS = [
    "consumer-app-1-3f2a",
    "consumer-app-2-91c0",
    "consumer-app-3-07be",
    "consumer-app-4-d5e4",
    "consumer-app-5-6a11",
    "consumer-app-6-c2f9",
    "consumer-app-7-88d3",
    "c1",
    "c2",
    "B",
]

topics_st = st.dictionaries(st.sampled_from(TOPIC_NAMES), st.integers(1, 8), min_size=1)
members_st = st.lists(st.sampled_from(MEMBER_IDS), min_size=1, max_size=7, unique=True)


@st.composite
def groups(
    draw: st.DrawFn, same_topics: bool, owned: str
) -> tuple[dict[str, int], list[Subscription]]:
    """A group: topics and one subscription per member.

    ``owned``: "none"; "valid" (a previous assignment: each partition owned by at most one
    member, all in generation 3); "claims" (arbitrary, possibly conflicting claims in
    generations -1..3).
    """
    topics = draw(topics_st)
    members = draw(members_st)
    names = sorted(topics)
    shared = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    subscribed = {
        m: shared
        if same_topics
        else draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
        for m in members
    }
    partitions = [(t, p) for t in names for p in range(topics[t])]
    previous: dict[str, list[TopicPartition]] = {m: [] for m in members}
    generations = dict.fromkeys(members, -1)
    if owned == "valid":
        for tp in partitions:
            holder = draw(st.sampled_from([None, *members]))
            if holder is not None:
                previous[holder].append(tp)
        generations = dict.fromkeys(members, 3)
    elif owned == "claims":
        for m in members:
            previous[m] = draw(st.lists(st.sampled_from(partitions), max_size=6, unique=True))
            generations[m] = draw(st.integers(-1, 3))
    subs = [
        Subscription(m, tuple(subscribed[m]), tuple(previous[m]), generations[m]) for m in members
    ]
    return topics, subs


def owners(assignment: Mapping[str, Sequence[TopicPartition]]) -> dict[TopicPartition, list[str]]:
    out: dict[TopicPartition, list[str]] = {}
    for member, tps in assignment.items():
        for tp in tps:
            out.setdefault(tp, []).append(member)
    return out


def assert_exactly_one_subscribed_owner(
    subs: Sequence[Subscription],
    topics: Mapping[str, int],
    assignment: Mapping[str, Sequence[TopicPartition]],
) -> None:
    by_member = {s.member_id: s for s in subs}
    wanted = {(t, p) for s in subs for t in s.topics for p in range(topics.get(t, 0))}
    held = owners(assignment)
    assert set(held) == wanted
    for tp, who in held.items():
        assert len(who) == 1, (tp, who)
        assert tp[0] in by_member[who[0]].topics


@settings(max_examples=80, deadline=None)
@given(group=groups(same_topics=False, owned="valid"))
def test_eager_assignors_give_every_partition_to_one_subscriber(
    group: tuple[dict[str, int], list[Subscription]],
) -> None:
    topics, subs = group
    for strategy in ("range", "roundrobin", "sticky"):
        assert_exactly_one_subscribed_owner(subs, topics, assign(strategy, subs, topics))


@settings(max_examples=80, deadline=None)
@given(
    group=st.one_of(
        groups(same_topics=False, owned="valid"),
        groups(same_topics=True, owned="valid"),
        groups(same_topics=False, owned="claims"),
    )
)
def test_cooperative_never_gives_a_partition_that_another_member_still_owns(
    group: tuple[dict[str, int], list[Subscription]],
) -> None:
    topics, subs = group
    got = assign("cooperative-sticky", subs, topics)
    for tp, who in owners(got).items():
        assert len(who) == 1
        new_owner = who[0]
        still_owned_by = [
            s.member_id for s in subs if s.member_id != new_owner and tp in s.owned_partitions
        ]
        mine = next(s for s in subs if s.member_id == new_owner).owned_partitions
        assert tp in mine or not still_owned_by, (tp, new_owner, still_owned_by)


@settings(max_examples=80, deadline=None)
@given(group=st.one_of(groups(False, "valid"), groups(True, "valid"), groups(True, "none")))
def test_cooperative_settles_to_exactly_one_owner(
    group: tuple[dict[str, int], list[Subscription]],
) -> None:
    topics, subs = group
    table = {s.member_id: s for s in subs}
    first = assign("cooperative-sticky", subs, topics)
    final = settle_cooperative(table, first, topics)  # asserts no double ownership per round
    assert_exactly_one_subscribed_owner(list(table.values()), topics, final)
    verify_validity_and_balance(table, final)


def _kept(owned: Sequence[TopicPartition], new: Sequence[TopicPartition]) -> int:
    return len(set(owned) & set(new))


def _assert_sticky(
    subs: Sequence[Subscription],
    topics: Mapping[str, int],
    assignment: Mapping[str, Sequence[TopicPartition]],
) -> None:
    """Each member keeps as many of its valid owned partitions as its new share holds: it is
    never given a new partition while losing one it could have kept."""
    for s in subs:
        valid = [tp for tp in s.owned_partitions if tp[0] in s.topics and tp[0] in topics]
        new = assignment[s.member_id]
        assert _kept(valid, new) == min(len(valid), len(new)), (s, new)


def _assert_balanced(assignment: Mapping[str, Sequence[TopicPartition]]) -> None:
    sizes = [len(v) for v in assignment.values()]
    assert max(sizes) - min(sizes) <= 1


@settings(max_examples=80, deadline=None)
@given(group=st.one_of(groups(True, "valid"), groups(True, "none")))
def test_sticky_is_balanced_and_sticky_for_identical_subscriptions(
    group: tuple[dict[str, int], list[Subscription]],
) -> None:
    topics, subs = group
    eager = assign("sticky", subs, topics)
    _assert_balanced(eager)
    _assert_sticky(subs, topics, eager)
    table = {s.member_id: s for s in subs}
    final = settle_cooperative(table, assign("cooperative-sticky", subs, topics), topics)
    _assert_balanced(final)
    _assert_sticky(subs, topics, final)


@settings(max_examples=80, deadline=None)
@given(group=st.one_of(groups(False, "valid"), groups(True, "valid"), groups(False, "none")))
def test_server_assignors_give_every_partition_to_one_subscriber(
    group: tuple[dict[str, int], list[Subscription]],
) -> None:
    topics, subs = group
    members = [MemberSpec(s.member_id, s.topics, s.owned_partitions) for s in subs]
    for assignor in ("uniform", "range"):
        assert_exactly_one_subscribed_owner(subs, topics, server_assign(assignor, members, topics))


@settings(max_examples=80, deadline=None)
@given(group=st.one_of(groups(True, "valid"), groups(True, "none")))
def test_uniform_is_balanced_and_sticky_for_identical_subscriptions(
    group: tuple[dict[str, int], list[Subscription]],
) -> None:
    topics, subs = group
    members = [MemberSpec(s.member_id, s.topics, s.owned_partitions) for s in subs]
    got = server_assign("uniform", members, topics)
    _assert_balanced(got)
    _assert_sticky(subs, topics, got)


@settings(max_examples=80, deadline=None)
@given(group=groups(same_topics=False, owned="none"))
def test_range_balances_each_topic_on_its_own(
    group: tuple[dict[str, int], list[Subscription]],
) -> None:
    topics, subs = group
    got = assign("range", subs, topics)
    for topic in topics:
        counts = [
            sum(1 for tp in got[s.member_id] if tp[0] == topic) for s in subs if topic in s.topics
        ]
        assert not counts or max(counts) - min(counts) <= 1


@settings(max_examples=80, deadline=None)
@given(group=groups(same_topics=True, owned="none"))
def test_round_robin_is_balanced_for_identical_subscriptions(
    group: tuple[dict[str, int], list[Subscription]],
) -> None:
    topics, subs = group
    _assert_balanced(assign("roundrobin", subs, topics))
