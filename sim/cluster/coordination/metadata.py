"""Cluster metadata records and the image built from them (KRaft ``__cluster_metadata``).

Theory of operation
-------------------
The active controller decides; every decision is a *record* appended to the metadata log, and
every controller and broker builds the same ``MetadataImage`` by replaying the committed records
in order (KRaft's ``MetadataDelta``/``MetadataImage``). The records modelled:

* ``RegisterBrokerRecord`` (the broker epoch is the record's offset, KIP-631), fenced at first;
* ``FenceBrokerRecord`` / ``UnfenceBrokerRecord`` (``BrokerHeartbeatManager``);
* ``PartitionRecord``: a partition's full state after a change (Kafka writes a
  ``PartitionChangeRecord`` delta; carrying the whole state keeps replay trivial), with what kind
  of change it was and why, for the elections table.

Pure data, no simpy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sim.cluster.net.messages import PartitionMetadata
from sim.kafka.election import PartitionState

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class RegisterBrokerRecord:
    broker_id: int
    incarnation: int


@dataclass(frozen=True, slots=True)
class FenceBrokerRecord:
    broker_id: int
    cause: str


@dataclass(frozen=True, slots=True)
class UnfenceBrokerRecord:
    broker_id: int


@dataclass(frozen=True, slots=True)
class PartitionRecord:
    topic: str
    partition: int
    state: PartitionState
    kind: str | None  # PartitionChange.kind: None for creation
    cause: str
    old_leader: int = -1


Record = RegisterBrokerRecord | FenceBrokerRecord | UnfenceBrokerRecord | PartitionRecord


@dataclass(slots=True)
class BrokerRegistration:
    broker_id: int
    broker_epoch: int  # offset of its latest RegisterBrokerRecord
    incarnation: int
    fenced: bool = True
    shutting_down: bool = False


@dataclass
class MetadataImage:
    """Brokers and partitions as of some offset of the metadata log."""

    brokers: dict[int, BrokerRegistration] = field(default_factory=dict)
    partitions: dict[TopicPartition, PartitionState] = field(default_factory=dict)
    offset: int = 0  # number of records applied

    def apply(self, record: object, offset: int) -> None:
        if isinstance(record, PartitionRecord):
            self.partitions[(record.topic, record.partition)] = record.state
        elif isinstance(record, RegisterBrokerRecord):
            self.brokers[record.broker_id] = BrokerRegistration(
                record.broker_id, offset, record.incarnation
            )
        elif isinstance(record, FenceBrokerRecord | UnfenceBrokerRecord):
            registration = self.brokers.get(record.broker_id)
            if registration is not None:
                registration.fenced = isinstance(record, FenceBrokerRecord)
        self.offset = offset + 1

    def usable(self) -> frozenset[int]:
        """Brokers that may lead or stay in an ISR: registered, unfenced, not shutting down."""
        return frozenset(
            b for b, reg in self.brokers.items() if not reg.fenced and not reg.shutting_down
        )

    def live_brokers(self) -> list[int]:
        return sorted(b for b, reg in self.brokers.items() if not reg.fenced)


def partition_metadata(
    partitions: Mapping[TopicPartition, PartitionState], topics: list[str]
) -> list[PartitionMetadata]:
    """A broker's answer to a client's Metadata request, from its view of the partitions."""
    wanted = set(topics)
    return [
        PartitionMetadata(
            topic,
            p,
            state.leader if state.leader >= 0 else None,
            state.leader_epoch,
            state.replicas,
            state.isr,
        )
        for (topic, p), state in sorted(partitions.items())
        if topic in wanted
    ]
