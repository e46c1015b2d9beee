"""From a validated Scenario to running actors, and the final read of the cluster.

Theory of operation
-------------------
``build`` creates the network, one ``Broker`` per ``cluster.brokers``, the controller, and every
producer and consumer instance (``<name>-<i>``). Consumers of one ``group`` share the partitions
of their topics by Kafka's RangeAssignor (members sorted by name), statically.

A run has three phases (Maelstrom-style): the load phase (``duration``), the drain phase
(``drain``: producers close and flush, consumers keep polling), and a short close phase in which
clients finish their final commits. Then ``final_read`` records every partition's log as its
leader holds it, and the state of every replica: the history the checker judges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sim.cluster.broker import Broker
from sim.cluster.consumer import Consumer
from sim.cluster.controller_static import StaticController
from sim.cluster.network import Network
from sim.cluster.producer import Producer
from sim.kafka.assignors import range_assign

if TYPE_CHECKING:
    from sim.cluster.engine import SimEnv
    from sim.scenario import Scenario

CLOSE_GRACE_MS = 5000.0  # time clients get to finish close() after the drain phase


@dataclass
class Cluster:
    scenario: Scenario
    simenv: SimEnv
    network: Network
    controller: StaticController
    brokers: list[Broker] = field(default_factory=list)
    producers: list[Producer] = field(default_factory=list)
    consumers: list[Consumer] = field(default_factory=list)

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
        self.controller.start()
        for broker in self.brokers:
            broker.start()
        for producer in self.producers:
            self.simenv.call_at(producer.spec.start_ms, producer.start)
        for consumer in self.consumers:
            self.simenv.process(consumer.run(self.drain_end_ms))

    def end_load(self) -> None:
        """End of the load phase: producers close (flush everything they buffered)."""
        for producer in self.producers:
            producer.close()

    def finish(self) -> None:
        """After the close phase: unfinished sends are recorded, then the final read."""
        for producer in self.producers:
            producer.finish()
        self.final_read()

    def final_read(self) -> None:
        recorder = self.simenv.recorder
        log_rows = recorder.table("log")
        partition_rows = recorder.table("partitions")
        for (topic, p), reg in sorted(self.controller.partitions.items()):
            for broker_id in reg.replicas:
                replica = self.brokers[broker_id].partitions[(topic, p)]
                log = replica.log
                partition_rows(
                    (
                        topic,
                        p,
                        broker_id,
                        "leader" if replica.is_leader else "follower",
                        replica.leader_epoch,
                        log.log_start_offset,
                        log.high_watermark,
                        log.log_end_offset,
                        ",".join(map(str, replica.isr)),
                    )
                )
            if reg.leader is None:
                continue
            leader_log = self.brokers[reg.leader].partitions[(topic, p)].log
            hw = leader_log.high_watermark
            for batch in leader_log.batches():
                log_rows(
                    (
                        topic,
                        p,
                        reg.leader,
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
    controller = StaticController(simenv, scenario.topics)
    cluster = Cluster(scenario, simenv, network, controller)
    for broker_id in range(scenario.cluster.brokers):
        broker = Broker(broker_id, simenv, network, scenario.cluster, controller)
        controller.register(broker)
        cluster.brokers.append(broker)
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
                coordinator = f"broker-{controller.group_coordinator(consumer_spec.group)}"
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
