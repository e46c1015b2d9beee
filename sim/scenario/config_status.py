"""Which Kafka configs change a run: modelled, modelled in part, or accepted without effect.

A scenario may set every config of the Kafka tables (`sim.scenario.kafka_configs`): Kafka accepts
them all, and so does the simulator, so that a scenario reads like a real configuration. Not all
of them are simulated, and a student who sets `isolation.level: read_committed` must not believe
that exactly-once is on. `STATUS` classifies every (kind, name) of the tables:

* ``modelled``: the simulator reads it and behaves as Kafka does for every valid value (a config
  Kafka itself ignores in one coordination mode is modelled when the simulator ignores it there
  too; `ConfigStatus.mode` names the mode it applies to).
* ``partial``: read, with a simplification the note names (e.g. ``max.request.size`` packs
  requests but a record larger than it is not rejected).
* ``no-effect``: accepted, read by nothing (the note says why, and what to use instead when
  something else in the scenario does the job).

`config_warnings(scenario)` lists one warning per distinct (kind, name, value) that a scenario
sets *explicitly* (`KafkaConfig.explicit`) and that cannot change the run as a user expects:

* a ``no-effect`` config set to a value other than its Kafka default (a default value changes
  nothing either way);
* a ``partial`` config whose simplification matters for the value set (`ConfigStatus.warn_when`);
* a config of the other coordination mode set to a non-default value (Kafka ignores it too, but
  the user probably meant the other mode).

The CLI prints them to stderr at ``kafka-sim run`` and ``validate`` (one line each, not an
error) and the run lists them in meta.json under ``warnings``; ``kafka-sim configs`` shows the
status of every config. The classification was made by reading where each config is used in
``sim/``: a config nothing reads has no effect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sim.scenario.kafka_configs import TABLES, KafkaConfig, Kind

if TYPE_CHECKING:
    from sim.scenario.scenario_model import Scenario

__all__ = ["STATUS", "ConfigStatus", "Status", "config_warnings", "status_of", "status_text"]

Status = Literal["modelled", "partial", "no-effect"]
Mode = Literal["kraft", "zookeeper"]
MODE_NAMES = {"kraft": "KRaft", "zookeeper": "ZooKeeper"}


@dataclass(frozen=True, slots=True)
class ConfigStatus:
    """How far one config is simulated. ``warn_when(value, coordinator)`` decides whether an
    explicitly set, non-default value of a ``partial`` config gets a warning (``no-effect``
    configs always do; ``modelled`` ones never, except when set for the other ``mode``)."""

    status: Status
    note: str = ""
    mode: Mode | None = None
    warn_when: Callable[[Any, str], bool] | None = None


def _modelled(note: str = "", mode: Mode | None = None) -> ConfigStatus:
    return ConfigStatus("modelled", note, mode)


def _partial(
    note: str, *, warn_when: Callable[[Any, str], bool] | None = None, mode: Mode | None = None
) -> ConfigStatus:
    return ConfigStatus("partial", note, mode, warn_when)


def _no_effect(note: str, mode: Mode | None = None) -> ConfigStatus:
    return ConfigStatus("no-effect", note, mode)


def _always(value: Any, coordinator: str) -> bool:
    return True


NO_TRANSACTIONS = (
    "no producer in this scenario is transactional: transactions (transactional.id) are not "
    "modelled yet"
)
NO_GROUP_PROTOCOL = (
    "group membership is not modelled yet (no JoinGroup/SyncGroup, heartbeats or rebalances): "
    "the members of a group get a static RangeAssignor split of the partitions at start"
)
NO_FSYNC_POLICY = (
    "Kafka's flush policy is not read: when data reaches the disk is set by cluster.disk "
    "(flush: os, the page cache written every os_flush_interval; or flush: every-append)"
)
NO_METADATA_AGE = (
    "clients refresh metadata only after errors and disconnects, never periodically "
    "(no topic or partition is ever added during a run)"
)
NO_AUTO_CREATE = (
    "every topic is declared in the scenario and clients may only name declared topics, so "
    "nothing is ever auto-created"
)
NO_SIZE_LIMIT = (
    "record batch sizes are not checked against it (MESSAGE_TOO_LARGE is not modelled yet)"
)
NO_OFFSETS_TOPIC = (
    "__consumer_offsets is not simulated: a group's coordinator is the broker that would lead "
    "its partition of a 50-partition offsets topic, and committed offsets never expire"
)

PRODUCER_STATUS: dict[str, ConfigStatus] = {
    "acks": _modelled(),
    "retries": _modelled(),
    "delivery.timeout.ms": _modelled(),
    "request.timeout.ms": _modelled("client-side timeout and the ProduceRequest's timeoutMs"),
    "linger.ms": _modelled(),
    "batch.size": _modelled("batch capacity and the sticky partitioner's switch size"),
    "max.in.flight.requests.per.connection": _modelled(),
    "enable.idempotence": _partial(
        "the leader deduplicates by producer id and sequence and the producer bumps its epoch "
        "when the leader lost its sequences (KIP-360); the producer id is given without an "
        "InitProducerId round trip, and a failed batch does not bump the epoch"
    ),
    "retry.backoff.ms": _modelled(),
    "retry.backoff.max.ms": _modelled(),
    "max.block.ms": _no_effect(
        "send() never blocks: the accumulator is unbounded (buffer.memory is not modelled)"
    ),
    "buffer.memory": _no_effect("the accumulator is unbounded: send() never blocks for space"),
    "max.request.size": _partial(
        "it bounds how many batches go into one ProduceRequest; a record larger than it is not "
        "rejected (RecordTooLargeException is not modelled yet)",
        warn_when=_always,
    ),
    "metadata.max.age.ms": _no_effect(NO_METADATA_AGE),
    "partitioner.class": _no_effect(
        "custom partitioners are not modelled: the built-in partitioner is always used"
    ),
    "partitioner.ignore.keys": _no_effect("keys are always hashed with murmur2"),
    "partitioner.adaptive.partitioning.enable": _no_effect(
        "the sticky partition for null keys is always drawn uniformly among partitions with a "
        "leader (Kafka's behaviour with false); true's weighting by broker queue size is not "
        "modelled"
    ),
    "partitioner.availability.timeout.ms": _no_effect(
        "the sticky partitioner never skips a partition whose broker is slow to drain"
    ),
    "compression.type": _no_effect(
        "batches are not compressed: their size on the wire and on disk is the uncompressed size"
    ),
    "transaction.timeout.ms": _no_effect(NO_TRANSACTIONS),
}

CONSUMER_STATUS: dict[str, ConfigStatus] = {
    "group.id": _modelled("the consumer's group (same as its group: key)"),
    "group.protocol": _no_effect(NO_GROUP_PROTOCOL),
    "session.timeout.ms": _no_effect(NO_GROUP_PROTOCOL),
    "heartbeat.interval.ms": _no_effect(NO_GROUP_PROTOCOL),
    "max.poll.interval.ms": _no_effect(NO_GROUP_PROTOCOL),
    "max.poll.records": _modelled(),
    "fetch.min.bytes": _modelled(),
    "fetch.max.wait.ms": _modelled(),
    "fetch.max.bytes": _modelled(),
    "max.partition.fetch.bytes": _modelled(),
    "enable.auto.commit": _modelled("true means commit: auto"),
    "auto.commit.interval.ms": _modelled(),
    "auto.offset.reset": _modelled(),
    "isolation.level": _no_effect(
        f"{NO_TRANSACTIONS}; consumers read up to the high watermark, which is also the last "
        "stable offset when nothing is transactional"
    ),
    "partition.assignment.strategy": _no_effect(NO_GROUP_PROTOCOL),
    "request.timeout.ms": _modelled(),
    "default.api.timeout.ms": _no_effect(
        "blocking consumer calls (commitSync, OffsetFetch, ListOffsets) retry until answered"
    ),
    "retry.backoff.ms": _modelled(),
    "retry.backoff.max.ms": _no_effect(
        "the consumer waits a constant retry.backoff.ms between retries"
    ),
    "metadata.max.age.ms": _no_effect(NO_METADATA_AGE),
    "allow.auto.create.topics": _no_effect(NO_AUTO_CREATE),
}

BROKER_STATUS: dict[str, ConfigStatus] = {
    "num.partitions": _modelled("partitions of a topic declared without partitions"),
    "default.replication.factor": _modelled("RF of a topic declared without replication.factor"),
    "min.insync.replicas": _modelled("default of the topic config"),
    "unclean.leader.election.enable": _modelled("default of the topic config"),
    "replica.lag.time.max.ms": _modelled(),
    "replica.fetch.wait.max.ms": _modelled(),
    "replica.fetch.min.bytes": _modelled(),
    "replica.fetch.max.bytes": _modelled(),
    "replica.fetch.response.max.bytes": _modelled(),
    "replica.fetch.backoff.ms": _modelled(),
    "num.replica.fetchers": _no_effect(
        "each broker has one fetcher per source broker, whatever this says"
    ),
    "replica.high.watermark.checkpoint.interval.ms": _modelled(),
    "log.retention.hours": _modelled("default of the topic's retention.ms"),
    "log.retention.minutes": _modelled("default of the topic's retention.ms"),
    "log.retention.ms": _modelled("default of the topic's retention.ms"),
    "log.retention.bytes": _modelled("default of the topic's retention.bytes"),
    "log.retention.check.interval.ms": _modelled(),
    "log.segment.bytes": _modelled("default of the topic's segment.bytes"),
    "log.roll.hours": _modelled("default of the topic's segment.ms"),
    "log.roll.ms": _modelled("default of the topic's segment.ms"),
    "log.segment.delete.delay.ms": _no_effect(
        "a segment leaves the log at once when retention deletes it; the delayed file deletion "
        "is not modelled (clients see no difference)"
    ),
    "log.flush.interval.messages": _no_effect(NO_FSYNC_POLICY),
    "log.flush.interval.ms": _no_effect(NO_FSYNC_POLICY),
    "log.flush.scheduler.interval.ms": _no_effect(NO_FSYNC_POLICY),
    "log.flush.offset.checkpoint.interval.ms": _no_effect(
        "the recovery point is not checkpointed separately: a power loss keeps exactly the "
        "flushed prefix of each log (cluster.disk)"
    ),
    "message.max.bytes": _no_effect(NO_SIZE_LIMIT),
    "auto.create.topics.enable": _no_effect(NO_AUTO_CREATE),
    "auto.leader.rebalance.enable": _modelled(),
    "leader.imbalance.check.interval.seconds": _modelled(),
    "leader.imbalance.per.broker.percentage": _modelled(
        "ZooKeeper-mode controller only; KRaft ignores it, as Kafka does", mode="zookeeper"
    ),
    "controlled.shutdown.enable": _partial(
        "honoured in ZooKeeper mode; KRaft brokers always shut down in a controlled way "
        "(false is not modelled in KRaft mode)",
        warn_when=lambda value, coordinator: coordinator == "kraft",
    ),
    "controlled.shutdown.max.retries": _modelled("ZooKeeper mode only, as in Kafka", "zookeeper"),
    "controlled.shutdown.retry.backoff.ms": _modelled(
        "ZooKeeper mode only, as in Kafka", "zookeeper"
    ),
    "max.incremental.fetch.session.cache.slots": _no_effect(
        "fetch sessions (KIP-227) are not modelled: every fetch lists its partitions"
    ),
    "num.io.threads": _modelled("the request handler pool (cluster.request_handling.io_threads)"),
    "num.network.threads": _no_effect(
        "network threads are not modelled; requests queue for the num.io.threads handlers"
    ),
    "offsets.topic.replication.factor": _no_effect(NO_OFFSETS_TOPIC),
    "offsets.topic.num.partitions": _no_effect(NO_OFFSETS_TOPIC),
    "offsets.retention.minutes": _no_effect(NO_OFFSETS_TOPIC),
    "offsets.commit.timeout.ms": _no_effect(
        "an offset commit is answered at once: __consumer_offsets replication is not simulated"
    ),
    "group.min.session.timeout.ms": _no_effect(NO_GROUP_PROTOCOL),
    "group.max.session.timeout.ms": _no_effect(NO_GROUP_PROTOCOL),
    "group.initial.rebalance.delay.ms": _no_effect(NO_GROUP_PROTOCOL),
    "group.consumer.session.timeout.ms": _no_effect(NO_GROUP_PROTOCOL),
    "group.consumer.heartbeat.interval.ms": _no_effect(NO_GROUP_PROTOCOL),
    "group.consumer.assignors": _no_effect(NO_GROUP_PROTOCOL),
    "eligible.leader.replicas.enable": _modelled(
        "KIP-966 ELR; the same switch as cluster.protocol.eligible_leader_replicas",
        mode="kraft",
    ),
    "zookeeper.session.timeout.ms": _modelled(mode="zookeeper"),
    "zookeeper.connection.timeout.ms": _no_effect(
        "connecting to ZooKeeper never times out in the simulator", mode="zookeeper"
    ),
    "controller.quorum.election.timeout.ms": _modelled(mode="kraft"),
    "controller.quorum.fetch.timeout.ms": _modelled(mode="kraft"),
    "controller.quorum.election.backoff.max.ms": _modelled(mode="kraft"),
    "controller.quorum.request.timeout.ms": _modelled(mode="kraft"),
    "controller.quorum.retry.backoff.ms": _modelled(
        "also the ZooKeeper-mode broker's retry backoff towards ZooKeeper"
    ),
    "controller.quorum.append.linger.ms": _no_effect(
        "the active controller appends each metadata record at once", mode="kraft"
    ),
    "broker.heartbeat.interval.ms": _modelled(mode="kraft"),
    "broker.session.timeout.ms": _modelled(mode="kraft"),
    "initial.broker.registration.timeout.ms": _no_effect(
        "a broker keeps retrying its registration", mode="kraft"
    ),
}

TOPIC_STATUS: dict[str, ConfigStatus] = {
    "min.insync.replicas": _modelled(),
    "unclean.leader.election.enable": _modelled(),
    "retention.ms": _modelled(),
    "retention.bytes": _modelled(),
    "segment.bytes": _modelled(),
    "segment.ms": _modelled(),
    "file.delete.delay.ms": _no_effect(
        "a segment leaves the log at once when retention deletes it; the delayed file deletion "
        "is not modelled (clients see no difference)"
    ),
    "flush.messages": _no_effect(NO_FSYNC_POLICY),
    "flush.ms": _no_effect(NO_FSYNC_POLICY),
    "max.message.bytes": _no_effect(NO_SIZE_LIMIT),
}

STATUS_BY_KIND: dict[Kind, dict[str, ConfigStatus]] = {
    "producer": PRODUCER_STATUS,
    "consumer": CONSUMER_STATUS,
    "broker": BROKER_STATUS,
    "topic": TOPIC_STATUS,
}
STATUS: dict[tuple[Kind, str], ConfigStatus] = {
    (kind, name): status for kind, table in STATUS_BY_KIND.items() for name, status in table.items()
}


def status_of(kind: Kind, name: str) -> ConfigStatus:
    """The classification of config ``name`` of table ``kind`` (KeyError if unclassified)."""
    return STATUS[(kind, name)]


def status_text(status: ConfigStatus) -> str:
    """The status as ``kafka-sim configs`` shows it: ``modelled``, ``partial``, ``no effect``,
    with the coordination mode it applies to, e.g. ``modelled (KRaft)``."""
    text = status.status.replace("-", " ")
    return text if status.mode is None else f"{text} ({MODE_NAMES[status.mode]})"


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


def _reason(kind: Kind, name: str, value: Any, coordinator: str) -> str | None:
    """Why setting ``name`` to the non-default ``value`` cannot change the run as expected."""
    status = STATUS[(kind, name)]
    if status.mode is not None and status.mode != coordinator:
        return (
            f"applies to {MODE_NAMES[status.mode]} mode only (Kafka ignores it too); "
            f"this cluster runs {MODE_NAMES.get(coordinator, coordinator)}"
        )
    if status.status == "no-effect":
        return f"no effect: {status.note}"
    if status.warn_when is not None and status.warn_when(value, coordinator):
        return f"modelled only in part: {status.note}"
    return None


def _configs(scenario: Scenario) -> list[tuple[str, KafkaConfig]]:
    """Every Kafka config of the scenario with the key path of its owner."""
    configs: list[tuple[str, KafkaConfig]] = [("cluster", scenario.cluster.config)]
    configs += [(f"topics.{i}", t.config) for i, t in enumerate(scenario.topics)]
    configs += [(f"producers.{i}", p.config) for i, p in enumerate(scenario.producers)]
    configs += [(f"consumers.{i}", c.config) for i, c in enumerate(scenario.consumers)]
    return configs


def config_warnings(scenario: Scenario) -> list[str]:
    """One line per distinct (kind, name, value) the scenario sets explicitly that cannot change
    the run as a reader of Kafka's documentation would expect, e.g.
    ``consumer config isolation.level=read_committed (consumers.0): no effect: no producer in
    this scenario is transactional: ...``. In scenario order."""
    coordinator = scenario.cluster.coordinator
    found: dict[tuple[Kind, str, str], tuple[list[str], str]] = {}
    for owner, config in _configs(scenario):
        kind = config.kind
        table = TABLES[kind]
        for name in table:  # table order, never set order
            if name not in config.explicit or config[name] == table[name].default:
                continue
            reason = _reason(kind, name, config[name], coordinator)
            if reason is None:
                continue
            key = (kind, name, _value_text(config[name]))
            found.setdefault(key, ([], reason))[0].append(owner)
    return [
        f"{kind} config {name}={value} ({', '.join(owners)}): {reason}"
        for (kind, name, value), (owners, reason) in found.items()
    ]
