"""``partition.assignment.strategy``: which assignors a consumer offers, and which protocol wins.

A classic-protocol consumer lists assignor classes in ``partition.assignment.strategy``
(default ``[RangeAssignor, CooperativeStickyAssignor]``). It sends their names ("range",
"cooperative-sticky") as its JoinGroup protocols in that order of preference. The group
coordinator picks one every member supports (``GroupMetadata.selectProtocol``): each member votes
for the first of its own protocols that all members support, the most votes win. The consumer's
*rebalance protocol* (``ConsumerCoordinator``) is the newest one supported by **all** its
assignors: ``RangeAssignor``/``RoundRobinAssignor``/``StickyAssignor`` support only EAGER,
``CooperativeStickyAssignor`` supports COOPERATIVE and EAGER, so the 3.9 default list rebalances
EAGER with range; dropping ``RangeAssignor`` from the list (the second bounce of the KIP-429
upgrade) makes it COOPERATIVE.

Kafka itself loads the listed names as classes, so it accepts only fully qualified names
(``org.apache.kafka.clients.consumer.CooperativeStickyAssignor``); the simulator also accepts the
short class name. Unknown names, duplicates and an empty list are refused, like Kafka's
``KafkaException``/``IllegalStateException``.

Kafka sources: ``ConsumerConfig`` (``partition.assignment.strategy``),
``ConsumerPartitionAssignor.getAssignorInstances``, ``ConsumerCoordinator`` (constructor:
protocol selection), ``ClassicKafkaConsumer``, ``core/.../group/GroupMetadata.scala``
(``selectProtocol``, ``candidateProtocols``), ``MemberMetadata.vote``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

CLIENT_PACKAGE = "org.apache.kafka.clients.consumer"

# protocol name -> assignor class (short name), Kafka 3.9 built-ins
ASSIGNOR_CLASSES: dict[str, str] = {
    "range": "RangeAssignor",
    "roundrobin": "RoundRobinAssignor",
    "sticky": "StickyAssignor",
    "cooperative-sticky": "CooperativeStickyAssignor",
}

# ConsumerPartitionAssignor.supportedProtocols(), in Kafka's list order
_SUPPORTED_PROTOCOLS: dict[str, tuple[str, ...]] = {
    "range": ("EAGER",),
    "roundrobin": ("EAGER",),
    "sticky": ("EAGER",),
    "cooperative-sticky": ("COOPERATIVE", "EAGER"),
}
_PROTOCOL_RANK = {"EAGER": 0, "COOPERATIVE": 1}  # RebalanceProtocol enum order

DEFAULT_ASSIGNMENT_STRATEGY = ["range", "cooperative-sticky"]  # Kafka 3.9 default

_BY_CLASS_NAME: dict[str, str] = {}
for _protocol, _short in ASSIGNOR_CLASSES.items():
    _BY_CLASS_NAME[_short] = _protocol
    _BY_CLASS_NAME[f"{CLIENT_PACKAGE}.{_short}"] = _protocol


def rebalance_protocols(strategy: str) -> tuple[str, ...]:
    """``supportedProtocols()`` of the assignor with this protocol name."""
    try:
        return _SUPPORTED_PROTOCOLS[strategy]
    except KeyError:
        raise ValueError(_unknown(strategy, list(_SUPPORTED_PROTOCOLS), "assignor")) from None


def rebalance_protocol(strategies: Sequence[str]) -> str:
    """The consumer's rebalance protocol: the newest one all its assignors support."""
    if not strategies:
        raise ValueError("no assignors configured")
    common = [p for p in rebalance_protocols(strategies[0])]
    for strategy in strategies[1:]:
        supported = rebalance_protocols(strategy)
        common = [p for p in common if p in supported]
    if not common:
        raise ValueError(
            f"Specified assignors {list(strategies)} do not have commonly supported rebalance "
            "protocol"
        )
    return max(common, key=_PROTOCOL_RANK.__getitem__)


def parse_assignment_strategy(value: str | Sequence[str]) -> list[str]:
    """A ``partition.assignment.strategy`` value -> assignor protocol names, in order.

    Accepts a comma-separated string or a list of class names, short (``RangeAssignor``) or fully
    qualified (``org.apache.kafka.clients.consumer.RangeAssignor``).
    """
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else list(value)
    if not items or items == [""]:
        raise ValueError(
            "Must configure at least one partition assigner class name to "
            "partition.assignment.strategy configuration property"
        )
    protocols: list[str] = []
    for item in items:
        name = item.strip() if isinstance(item, str) else item
        protocol = _BY_CLASS_NAME.get(name) if isinstance(name, str) else None
        if protocol is None:
            raise ValueError(_unknown_class(name))
        if protocol in protocols:
            raise ValueError(
                f"The assignor name: '{protocol}' is used in more than one assignor: {items}"
            )
        protocols.append(protocol)
    return protocols


def select_group_protocol(member_strategies: Sequence[Sequence[str]]) -> str:
    """``GroupMetadata.selectProtocol``: the protocol the group coordinator picks.

    ``member_strategies`` holds each member's protocol names in its order of preference. Ties in
    the vote are broken by Kafka in hash-map order; here by the first member's preference.
    """
    if not member_strategies:
        raise ValueError("Cannot select protocol for empty group")
    candidates = set(member_strategies[0])
    for strategies in member_strategies[1:]:
        candidates &= set(strategies)
    if not candidates:
        raise ValueError("members support no common protocol (INCONSISTENT_GROUP_PROTOCOL)")
    votes: dict[str, int] = {}
    for strategies in member_strategies:
        vote = next(p for p in strategies if p in candidates)
        votes[vote] = votes.get(vote, 0) + 1
    best = max(votes.values())
    return next(p for p in member_strategies[0] if votes.get(p) == best)


def _unknown(name: str, known: Sequence[str], what: str) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"unknown {what} '{name}'.{hint} Known: {', '.join(known)}"


def _unknown_class(name: object) -> str:
    shorts = list(ASSIGNOR_CLASSES.values())
    text = str(name)
    # Match on the last dotted part and case-insensitively, so "range", "rangeassignor" and
    # "org.apache.kafka.clients.consumer.RangeAsignor" all point at RangeAssignor.
    tail = text.rsplit(".", 1)[-1].lower()
    by_lower = {s.lower(): s for s in shorts}
    by_lower.update({p: s for p, s in ASSIGNOR_CLASSES.items()})
    close = difflib.get_close_matches(tail, list(by_lower), n=1, cutoff=0.5)
    hint = f" Did you mean '{by_lower[close[0]]}'?" if close else ""
    return (
        f"unknown partition.assignment.strategy class '{text}'.{hint} Known: "
        f"{', '.join(shorts)} (short names or {CLIENT_PACKAGE}.<name>)"
    )
