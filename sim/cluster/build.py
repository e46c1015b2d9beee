"""From a validated Scenario to running actors, and the final read of the cluster.

Theory of operation
-------------------
``build`` creates the network, one ``Broker`` per ``cluster.brokers``, the controller, and every
producer and consumer instance (``<name>-<i>``). The coordination layer is KRaft
(``controller-<i>`` voters, ``KRaftBrokerClient`` per broker) or ZooKeeper (``zookeeper-<i>``
servers sharing one ``ZkStore``, a ``ZkBrokerClient`` per broker hosting that broker's
controller logic); ``final_state`` and ``active_controller_node`` work in both. Consumers of
one ``group`` share the partitions of their topics by Kafka's RangeAssignor (members sorted by
name), statically.

A run has three phases (Maelstrom-style): the load phase (``duration``), the drain phase
(``drain``: producers close and flush, consumers keep polling), and a short close phase in which
clients finish their final commits. Then ``final_read`` records every partition's log as its
leader holds it, and the state of every replica: the history the checker judges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sim.cluster.broker.broker import Broker
from sim.cluster.clients.consumer import Consumer
from sim.cluster.clients.producer import Producer
from sim.cluster.coordination.controller_kraft import KRaftController
from sim.cluster.coordination.controller_zk import ZkStore, ZooKeeperNode
from sim.cluster.coordination.kraft_broker import KRaftBrokerClient
from sim.cluster.coordination.zk_broker import ZkBrokerClient, bootstrap_zookeeper
from sim.cluster.faults import FaultInjector, Outages
from sim.cluster.net.network import Network, Node
from sim.kafka.assignors import range_assign
from sim.kafka.election import PartitionState
from sim.kafka.partitioner import consumer_offsets_partition

if TYPE_CHECKING:
    from sim.cluster.net.engine import SimEnv
    from sim.scenario import Scenario

CLOSE_GRACE_MS = 5000.0  # time clients get to finish close() after the drain phase
OFFSETS_TOPIC_PARTITIONS = 50  # offsets.topic.num.partitions


def _controller_epoch(broker: Broker) -> int:
    client = broker.controller
    assert isinstance(client, ZkBrokerClient)
    return client.controller.epoch


def group_coordinator(group: str, brokers: int) -> int:
    """Leader of ``__consumer_offsets`` partition ``abs(hashCode(group)) % 50`` under Kafka's
    default assignment (start index 0): partition p is led by broker ``p % brokers``.
    Simplification: the offsets topic is not simulated, so its leadership never moves."""
    return consumer_offsets_partition(group, OFFSETS_TOPIC_PARTITIONS) % brokers


@dataclass
class Cluster:
    scenario: Scenario
    simenv: SimEnv
    network: Network
    outages: Outages
    controllers: list[KRaftController] = field(default_factory=list)
    brokers: list[Broker] = field(default_factory=list)
    producers: list[Producer] = field(default_factory=list)
    consumers: list[Consumer] = field(default_factory=list)
    zookeepers: list[ZooKeeperNode] = field(default_factory=list)
    zk_store: ZkStore | None = None  # ZooKeeper mode: the ensemble's znode tree
    faults: FaultInjector | None = None

    @property
    def load_end_ms(self) -> float:
        return self.scenario.duration_ms

    @property
    def drain_end_ms(self) -> float:
        return self.scenario.duration_ms + self.scenario.drain_ms

    @property
    def end_ms(self) -> float:
        return self.drain_end_ms + CLOSE_GRACE_MS

    def start(self) -> None:
        for controller in self.controllers:
            controller.start()
        if self.zk_store is not None:
            self.zk_store.start()
        self.faults = FaultInjector(self)
        self.faults.schedule()
        for broker in self.brokers:
            broker.start()
        for producer in self.producers:
            self.simenv.call_at(producer.spec.start_ms, producer.start)
        for consumer in self.consumers:
            self.simenv.process(consumer.run(self.drain_end_ms))

    def end_load(self) -> None:
        """End of the load phase: every fault healed (crashed nodes restart), producers close
        (flush everything they buffered)."""
        if self.faults is not None:
            self.faults.heal_all()
        for producer in self.producers:
            producer.close()

    def finish(self) -> None:
        """After the close phase: unfinished sends are recorded, then the final read."""
        for producer in self.producers:
            producer.finish()
        self.final_read()

    def final_state(self) -> dict[tuple[str, int], PartitionState]:
        """Every partition as the metadata says at the end: the active controller's image, or
        (no active controller) the most advanced controller's. ZooKeeper mode: the partition
        state znodes."""
        if self.zk_store is not None:
            return self.zk_store.partition_states()
        best = max(self.controllers, key=lambda c: (c.raft.is_leader and c.alive, c.image.offset))
        return dict(best.image.partitions)

    def broker_caught_up(self, broker_id: int) -> bool:
        """Is ``broker_id`` whole again after a fault: registered with the controller (in KRaft
        also unfenced), in the ISR of every partition it replicates (per the metadata) and
        holding, in each, at least every record any replica knows to be committed (its log end
        offset >= the highest high watermark)? A broker back from a power loss before its
        failure was noticed is still listed in the ISRs: it is not registered yet."""
        broker = self.brokers[broker_id]
        coordination = broker.controller  # registered (and in KRaft unfenced) again?
        if not getattr(coordination, "registered", True) or getattr(coordination, "fenced", False):
            return False
        for key, state in self.final_state().items():
            if broker_id not in state.replicas:
                continue
            if broker_id not in state.isr or key not in broker.partitions:
                return False
            committed = max(
                (b.partitions[key].log.high_watermark for b in self.brokers if key in b.partitions),
                default=0,
            )
            if broker.partitions[key].log.log_end_offset < committed:
                return False
        return True

    def group_coordinator_node(self, group: str) -> Node | None:
        """The broker acting as ``group``'s coordinator (the ``group-coordinator(G)`` selector)."""
        return self.brokers[group_coordinator(group, len(self.brokers))]

    def active_controller_node(self) -> Node | None:
        """The node acting as controller now: the KRaft Raft leader, or in ZooKeeper mode the
        live broker holding ``/controller`` (the newest controller epoch if a zombie remains)."""
        if self.zk_store is None:
            for controller in self.controllers:
                if controller.alive and controller.raft.is_leader:
                    return controller
            return None
        active = [
            b
            for b in self.brokers
            if b.alive
            and isinstance(b.controller, ZkBrokerClient)
            and b.controller.controller.active
        ]
        if not active:
            return None
        return max(active, key=_controller_epoch)

    def final_read(self) -> None:
        recorder = self.simenv.recorder
        log_rows = recorder.table("log")
        partition_rows = recorder.table("partitions")
        for (topic, p), state in sorted(self.final_state().items()):
            for broker_id in state.replicas:
                replica = self.brokers[broker_id].partitions[(topic, p)]
                log = replica.log
                partition_rows(
                    (
                        topic,
                        p,
                        broker_id,
                        "leader" if broker_id == state.leader else "follower",
                        replica.leader_epoch,
                        log.log_start_offset,
                        log.high_watermark,
                        log.log_end_offset,
                        ",".join(map(str, state.isr)),
                    )
                )
            # The final read: the leader's log, or with no leader the first ISR member's (its
            # data is what a clean election would serve).
            reader = state.leader if state.leader >= 0 else (state.isr or state.replicas)[0]
            leader_log = self.brokers[reader].partitions[(topic, p)].log
            hw = leader_log.high_watermark
            for batch in leader_log.batches():
                log_rows(
                    (
                        topic,
                        p,
                        reader,
                        batch.base_offset,
                        batch.count,
                        batch.leader_epoch,
                        batch.origin,
                        batch.origin_seq,
                        batch.first_timestamp_ms,
                        batch.max_timestamp_ms,
                        batch.next_offset <= hw,
                    )
                )


def build(scenario: Scenario, simenv: SimEnv) -> Cluster:
    network = Network(simenv, scenario.network)
    outages = Outages()
    cluster = Cluster(scenario, simenv, network, outages)
    zookeeper = scenario.cluster.coordinator == "zookeeper"
    if zookeeper:
        session_timeout = float(scenario.cluster.config["zookeeper.session.timeout.ms"])
        cluster.zk_store = ZkStore(simenv, session_timeout)
        for index in range(scenario.cluster.controllers):
            cluster.zookeepers.append(ZooKeeperNode(index, simenv, network, cluster.zk_store))
    else:
        for controller_id in range(scenario.cluster.controllers):
            cluster.controllers.append(
                KRaftController(
                    controller_id, simenv, network, scenario.cluster, scenario.topics, outages
                )
            )
    zk_clients: list[ZkBrokerClient] = []
    for broker_id in range(scenario.cluster.brokers):
        broker = Broker(broker_id, simenv, network, scenario.cluster, None, outages)
        if zookeeper:
            client = ZkBrokerClient(
                broker, scenario.cluster, scenario.topics, outages, len(cluster.zookeepers)
            )
            zk_clients.append(client)
            broker.controller = client
        else:
            broker.controller = KRaftBrokerClient(broker, scenario.cluster, scenario.topics)
        for topic in scenario.topics:
            for p, replicas in enumerate(topic.assignment):
                if broker_id in replicas:
                    broker.create_partition(topic, p, list(replicas))
        cluster.brokers.append(broker)
    if cluster.zk_store is not None:
        bootstrap_zookeeper(cluster.zk_store, zk_clients, scenario.topics)
    broker_names = [b.name for b in cluster.brokers]

    def bootstrap(index: int) -> list[str]:
        # Spread clients over the bootstrap list deterministically.
        k = index % len(broker_names)
        return broker_names[k:] + broker_names[:k]

    client_index = 0
    producer_id = 0
    for spec in scenario.producers:
        topic = scenario.topic(spec.topic)
        for i in range(spec.count):
            cluster.producers.append(
                Producer(
                    f"{spec.name}-{i}",
                    spec,
                    topic,
                    simenv,
                    network,
                    bootstrap(client_index),
                    producer_id,
                    scenario.duration_ms,
                )
            )
            client_index += 1
            producer_id += 1

    partitions_per_topic = {t.name: t.partitions for t in scenario.topics}
    groups: dict[str, list[tuple[str, list[str]]]] = {}
    for consumer_spec in scenario.consumers:
        if consumer_spec.group is not None:
            for i in range(consumer_spec.count):
                groups.setdefault(consumer_spec.group, []).append(
                    (f"{consumer_spec.name}-{i}", list(consumer_spec.topics))
                )
    group_assignments: dict[str, list[tuple[str, int]]] = {}
    for group in sorted(groups):
        members = groups[group]
        result = range_assign(
            [name for name, _ in members],
            dict(members),
            partitions_per_topic,
        )
        for name, _ in members:
            group_assignments[name] = list(result.get(name, []))

    for consumer_spec in scenario.consumers:
        for i in range(consumer_spec.count):
            name = f"{consumer_spec.name}-{i}"
            coordinator: str | None = None
            if consumer_spec.group is not None:
                assignment = group_assignments[name]
                coordinator = (
                    f"broker-{group_coordinator(consumer_spec.group, scenario.cluster.brokers)}"
                )
            else:
                assignment = [
                    (t, p) for t in consumer_spec.topics for p in range(partitions_per_topic[t])
                ]
            consumer = Consumer(
                name,
                consumer_spec,
                simenv,
                network,
                bootstrap(client_index),
                assignment,
                coordinator,
            )
            cluster.consumers.append(consumer)
            client_index += 1
    return cluster
