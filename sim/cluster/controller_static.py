"""A fixed-leadership controller: the cluster before coordinators and failures are modelled.

Theory of operation
-------------------
Holds the partition state a real controller keeps (leader, leader epoch, ISR, partition epoch)
and applies Kafka's rules that do not need failure detection:

* the initial leader of each partition is the first replica of its assignment (the *preferred*
  leader), leader epoch 0, ISR = the whole assignment;
* ISR changes proposed by leaders (AlterPartition, KIP-497) are validated like
  ``ReplicationControlManager.alterPartition``: the proposal must come from the current leader
  with the current leader epoch and partition epoch (else FENCED_LEADER_EPOCH /
  INVALID_UPDATE_VERSION), must keep the leader, and then commits with partition epoch + 1;
* Metadata answers come from this state (brokers serve them to clients).

What it does not do: detect broker failures, elect new leaders, or travel over the network (its
answers take effect immediately). The KRaft and ZooKeeper controllers replace it for scenarios
with faults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.cluster.messages import PartitionMetadata
from sim.kafka.partitioner import consumer_offsets_partition
from sim.kafka.replica import IsrProposal

if TYPE_CHECKING:
    from sim.cluster.broker import Broker
    from sim.cluster.engine import SimEnv
    from sim.scenario import TopicSpec

OFFSETS_TOPIC_PARTITIONS = 50  # offsets.topic.num.partitions


@dataclass(slots=True)
class PartitionRegistration:
    """The controller's record of one partition (KRaft ``PartitionRegistration``)."""

    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int | None
    leader_epoch: int
    partition_epoch: int


class StaticController:
    def __init__(self, simenv: SimEnv, topics: list[TopicSpec]) -> None:
        self.simenv = simenv
        self.topics = topics
        self.brokers: dict[int, Broker] = {}
        self.partitions: dict[tuple[str, int], PartitionRegistration] = {}
        for topic in topics:
            for p, replicas in enumerate(topic.assignment):
                self.partitions[(topic.name, p)] = PartitionRegistration(
                    tuple(replicas), tuple(replicas), replicas[0], 0, 0
                )

    def register(self, broker: Broker) -> None:
        self.brokers[broker.broker_id] = broker

    def live_brokers(self) -> list[int]:
        return sorted(b for b, broker in self.brokers.items() if broker.alive)

    def start(self) -> None:
        """Tell each broker its role (LeaderAndIsr); replicas exist already."""
        for (topic, p), reg in self.partitions.items():
            for broker_id in reg.replicas:
                broker = self.brokers[broker_id]
                if broker_id == reg.leader:
                    broker.become_leader((topic, p), reg.leader_epoch, reg.isr, reg.partition_epoch)
        for (topic, p), reg in self.partitions.items():
            for broker_id in reg.replicas:
                if broker_id != reg.leader:
                    self.brokers[broker_id].become_follower(
                        (topic, p), reg.leader, reg.leader_epoch, reg.isr, reg.partition_epoch
                    )

    def restart_broker(self, broker: Broker) -> None:
        """A restarted broker takes its fixed roles again (no failover without a coordinator)."""
        for (topic, p), reg in sorted(self.partitions.items()):
            if broker.broker_id == reg.leader:
                broker.become_leader((topic, p), reg.leader_epoch, reg.isr, reg.partition_epoch)
            elif broker.broker_id in reg.replicas:
                broker.become_follower(
                    (topic, p), reg.leader, reg.leader_epoch, reg.isr, reg.partition_epoch
                )

    def alter_partition(self, broker: Broker, proposal: IsrProposal) -> None:
        reg = self.partitions[(proposal.topic, proposal.partition)]
        error: str | None = None
        if proposal.leader_id != reg.leader or proposal.leader_epoch != reg.leader_epoch:
            error = "FENCED_LEADER_EPOCH"
        elif proposal.partition_epoch != reg.partition_epoch:
            error = "INVALID_UPDATE_VERSION"
        elif reg.leader not in proposal.new_isr or not set(proposal.new_isr) <= set(reg.replicas):
            error = "INVALID_REQUEST"
        if error is None:
            reg.isr = tuple(proposal.new_isr)
            reg.partition_epoch += 1
        self.simenv.call_later(
            0.0, broker.on_alter_partition_response, proposal, error, reg.isr, reg.partition_epoch
        )

    def metadata_for(self, topics: list[str]) -> list[PartitionMetadata]:
        wanted = set(topics)
        return [
            PartitionMetadata(topic, p, reg.leader, reg.leader_epoch, reg.replicas, reg.isr)
            for (topic, p), reg in self.partitions.items()
            if topic in wanted
        ]

    def group_coordinator(self, group: str) -> int:
        """Leader of ``__consumer_offsets`` partition ``abs(hashCode(group)) % 50``.

        The offsets topic uses Kafka's default assignment (start index 0), so partition p is led
        by broker ``p % brokers``.
        """
        partition = consumer_offsets_partition(group, OFFSETS_TOPIC_PARTITIONS)
        brokers = sorted(self.brokers)
        return brokers[partition % len(brokers)]
