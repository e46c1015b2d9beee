"""Kafka 3.9 configuration tables: producer, consumer, broker and topic configs.

Each entry is a `ConfigDef` read from Kafka's own `define(...)` calls (ProducerConfig,
ConsumerConfig, ReplicationConfigs, ServerLogConfigs, LogConfig/TopicConfig, KRaftConfigs,
QuorumConfig, GroupCoordinatorConfig at branch 3.9; see /work/shared/kafka-semantics.md §1).
Names, types, defaults and validators are Kafka's, so a scenario uses Kafka's vocabulary and an
unknown name is an error with a close-match suggestion, never silently ignored.

Value rules: `*.ms` configs accept numbers (ms) or durations ("5s") and must be whole ms (Kafka
type long/int); `*.bytes`-like configs accept sizes ("16KiB"); `acks` accepts 0, 1, -1, "all" and
is normalised to "0" | "1" | "all"; list configs accept a YAML list or a comma-separated string.

Topic configs take their defaults from the broker config (`TopicDef.broker_name`), as Kafka's
LogConfig does: retention.ms <- log.retention.ms, else log.retention.minutes, else
log.retention.hours; segment.ms <- log.roll.ms else log.roll.hours; flush.ms <-
log.flush.interval.ms else log.flush.scheduler.interval.ms.

Simplified: only the configs the simulator models or a student is likely to look up are listed;
security, serializers, interceptors and JMX configs are absent (unknown names are errors). Not
every listed config is simulated: `sim.scenario.config_status` classifies each one (modelled,
modelled in part, accepted without effect) and warns about the ones a scenario sets in vain.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sim.scenario.errors import PathValueError, did_you_mean
from sim.scenario.units import parse_duration, parse_size

__all__ = [
    "BROKER",
    "CONSUMER",
    "PRODUCER",
    "TABLES",
    "TOPIC",
    "ConfigDef",
    "KafkaConfig",
    "Kind",
    "build_config",
    "render_tables",
    "topic_defaults_from_broker",
]

Kind = Literal["producer", "consumer", "broker", "topic"]
Type = Literal["int", "long", "double", "boolean", "string", "list", "class"]
INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class ConfigDef:
    """One Kafka config: name, Kafka type, default, validator bounds or choices, one-line doc.

    `unit` is 'ms' or 'bytes' when unit strings are accepted. `related` is the topic-level name
    of a broker config or the broker-level default source of a topic config.
    """

    name: str
    type: Type
    default: Any
    doc: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    nullable: bool = False
    unit: Literal["ms", "bytes"] | None = None
    related: str | None = None

    def valid_text(self) -> str:
        """Human text for the validator: '[0,...]', 'all, 0, 1', ''."""
        if self.choices is not None:
            return ", ".join(self.choices)
        if self.min is None and self.max is None:
            return ""
        lo = "..." if self.min is None else _fmt(self.min)
        hi = "..." if self.max in (None, INT_MAX, LONG_MAX) else _fmt(self.max)
        return f"[{lo},{hi}]"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _d(
    name: str,
    type_: Type,
    default: Any,
    doc: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] | None = None,
    nullable: bool = False,
    related: str | None = None,
) -> ConfigDef:
    unit: Literal["ms", "bytes"] | None = None
    if type_ in ("int", "long") and name.endswith(".ms"):
        unit = "ms"
    elif type_ in ("int", "long") and (
        name.endswith(".bytes") or name in {"batch.size", "buffer.memory", "max.request.size"}
    ):
        unit = "bytes"
    return ConfigDef(name, type_, default, doc, lo, hi, choices, nullable, unit, related)


def _table(*defs: ConfigDef) -> dict[str, ConfigDef]:
    return {d.name: d for d in defs}


PRODUCER: dict[str, ConfigDef] = _table(
    _d(
        "acks",
        "string",
        "all",
        "0: no response; 1: leader append; all: every ISR member (min ISR)",
        choices=("all", "-1", "0", "1"),
    ),
    _d(
        "retries",
        "int",
        INT_MAX,
        "resends after a retriable error (delivery.timeout.ms stops first)",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "delivery.timeout.ms",
        "int",
        120000,
        "send() to callback: accumulator + in flight + retries; >= linger.ms + request.timeout.ms",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "request.timeout.ms",
        "int",
        30000,
        "client waits this long for one response; also the produce request's timeoutMs",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "linger.ms",
        "long",
        0,
        "extra wait for more records before a non-full batch is sent (4.0: 5)",
        lo=0,
        hi=LONG_MAX,
    ),
    _d(
        "batch.size",
        "int",
        16384,
        "largest batch per partition; sticky partitioner switch size",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "max.in.flight.requests.per.connection",
        "int",
        5,
        "unacknowledged requests per broker connection (<= 5 with idempotence)",
        lo=1,
        hi=INT_MAX,
    ),
    _d(
        "enable.idempotence",
        "boolean",
        True,
        "PID + sequence dedup; needs acks=all, retries>0, max.in.flight<=5",
    ),
    _d(
        "retry.backoff.ms",
        "long",
        100,
        "first backoff between retries (doubles, ±20% jitter)",
        lo=0,
        hi=LONG_MAX,
    ),
    _d(
        "retry.backoff.max.ms",
        "long",
        1000,
        "cap of the exponential retry backoff (KIP-580)",
        lo=0,
        hi=LONG_MAX,
    ),
    _d(
        "max.block.ms",
        "long",
        60000,
        "how long send() may block for metadata or buffer space",
        lo=0,
        hi=LONG_MAX,
    ),
    _d("buffer.memory", "long", 33554432, "accumulator memory", lo=0, hi=LONG_MAX),
    _d("max.request.size", "int", 1048576, "largest produce request", lo=0, hi=INT_MAX),
    _d("metadata.max.age.ms", "long", 300000, "forced metadata refresh period", lo=0, hi=LONG_MAX),
    _d(
        "partitioner.class",
        "class",
        None,
        "null = built-in: hash the key, sticky partitioner for null keys",
        nullable=True,
    ),
    _d("partitioner.ignore.keys", "boolean", False, "true = never hash the key, always sticky"),
    _d(
        "partitioner.adaptive.partitioning.enable",
        "boolean",
        True,
        "sticky choice weighted towards brokers with shorter queues",
    ),
    _d(
        "partitioner.availability.timeout.ms",
        "long",
        0,
        "skip partitions whose broker has not drained for this long (0 = off)",
        lo=0,
        hi=LONG_MAX,
    ),
    _d(
        "compression.type",
        "string",
        "none",
        "batch compression codec",
        choices=("none", "gzip", "snappy", "lz4", "zstd"),
    ),
    _d(
        "transaction.timeout.ms",
        "int",
        60000,
        "coordinator aborts a transaction open this long",
        lo=0,
        hi=INT_MAX,
    ),
)

CONSUMER: dict[str, ConfigDef] = _table(
    _d(
        "group.id",
        "string",
        None,
        "consumer group; null = no group management, no commits",
        nullable=True,
    ),
    _d(
        "group.protocol",
        "string",
        "classic",
        "classic, or consumer (KIP-848)",
        choices=("classic", "consumer"),
    ),
    _d(
        "session.timeout.ms",
        "int",
        45000,
        "coordinator evicts a member silent for this long",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "heartbeat.interval.ms",
        "int",
        3000,
        "background heartbeat period; must be < session.timeout.ms",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "max.poll.interval.ms",
        "int",
        300000,
        "longest gap between poll() calls before leaving the group",
        lo=1,
        hi=INT_MAX,
    ),
    _d("max.poll.records", "int", 500, "most records one poll() returns", lo=1, hi=INT_MAX),
    _d(
        "fetch.min.bytes",
        "int",
        1,
        "broker answers a fetch once this much is below the HW",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "fetch.max.wait.ms",
        "int",
        500,
        "longest time the broker holds a fetch with too little data",
        lo=0,
        hi=INT_MAX,
    ),
    _d("fetch.max.bytes", "int", 52428800, "largest fetch response", lo=0, hi=INT_MAX),
    _d("max.partition.fetch.bytes", "int", 1048576, "per-partition fetch limit", lo=0, hi=INT_MAX),
    _d(
        "enable.auto.commit",
        "boolean",
        True,
        "commit positions from inside poll(); forced off without group.id",
    ),
    _d("auto.commit.interval.ms", "int", 5000, "auto-commit period", lo=0, hi=INT_MAX),
    _d(
        "auto.offset.reset",
        "string",
        "latest",
        "no committed offset or out of range: latest = HW, earliest = log start, none = throw",
        choices=("latest", "earliest", "none"),
    ),
    _d(
        "isolation.level",
        "string",
        "read_uncommitted",
        "read_uncommitted reads up to the HW, read_committed up to the LSO",
        choices=("read_uncommitted", "read_committed"),
    ),
    _d(
        "partition.assignment.strategy",
        "list",
        (
            "org.apache.kafka.clients.consumer.RangeAssignor",
            "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
        ),
        "assignor classes; the first common one is used (Range by default)",
    ),
    _d(
        "request.timeout.ms",
        "int",
        30000,
        "client waits this long for one response",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "default.api.timeout.ms",
        "int",
        60000,
        "timeout of blocking consumer API calls",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "retry.backoff.ms",
        "long",
        100,
        "backoff before retrying a failed request",
        lo=0,
        hi=LONG_MAX,
    ),
    _d(
        "retry.backoff.max.ms",
        "long",
        1000,
        "cap of the exponential retry backoff",
        lo=0,
        hi=LONG_MAX,
    ),
    _d("metadata.max.age.ms", "long", 300000, "forced metadata refresh period", lo=0, hi=LONG_MAX),
    _d("allow.auto.create.topics", "boolean", True, "subscribing may auto-create a topic"),
)

BROKER: dict[str, ConfigDef] = _table(
    _d("num.partitions", "int", 1, "partitions of an auto-created topic", lo=1, hi=INT_MAX),
    _d("default.replication.factor", "int", 1, "RF of an auto-created topic", lo=1, hi=INT_MAX),
    _d(
        "min.insync.replicas",
        "int",
        1,
        "smallest ISR accepting acks=all writes; HW frozen below it (3.7+)",
        lo=1,
        hi=INT_MAX,
        related="min.insync.replicas",
    ),
    _d(
        "unclean.leader.election.enable",
        "boolean",
        False,
        "allow a non-ISR replica to become leader, accepting data loss",
        related="unclean.leader.election.enable",
    ),
    _d(
        "replica.lag.time.max.ms",
        "long",
        30000,
        "follower not caught up for this long leaves the ISR",
        lo=0,
        hi=LONG_MAX,
    ),
    _d(
        "replica.fetch.wait.max.ms",
        "int",
        500,
        "leader holds an empty follower fetch this long",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "replica.fetch.min.bytes",
        "int",
        1,
        "follower fetch returns once this much is available",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "replica.fetch.max.bytes",
        "int",
        1048576,
        "follower fetch limit per partition",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "replica.fetch.response.max.bytes",
        "int",
        10485760,
        "follower fetch limit per response",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "replica.fetch.backoff.ms",
        "int",
        1000,
        "follower sleep after a fetch error",
        lo=0,
        hi=INT_MAX,
    ),
    _d("num.replica.fetchers", "int", 1, "fetcher threads per source broker", lo=1, hi=INT_MAX),
    _d(
        "replica.high.watermark.checkpoint.interval.ms",
        "long",
        5000,
        "how often the HW is checkpointed to disk",
        lo=0,
        hi=LONG_MAX,
    ),
    _d(
        "log.retention.hours",
        "int",
        168,
        "time-based retention (hours) if no .ms/.minutes",
        hi=INT_MAX,
        related="retention.ms",
    ),
    _d(
        "log.retention.minutes",
        "int",
        None,
        "time-based retention (minutes) if no .ms",
        hi=INT_MAX,
        nullable=True,
        related="retention.ms",
    ),
    _d(
        "log.retention.ms",
        "long",
        None,
        "time-based retention; -1 = no limit",
        hi=LONG_MAX,
        nullable=True,
        related="retention.ms",
    ),
    _d(
        "log.retention.bytes",
        "long",
        -1,
        "size cap per partition; -1 = none",
        related="retention.bytes",
    ),
    _d(
        "log.retention.check.interval.ms",
        "long",
        300000,
        "how often the retention task runs",
        lo=1,
        hi=LONG_MAX,
    ),
    _d(
        "log.segment.bytes",
        "int",
        1073741824,
        "roll the active segment at this size",
        lo=14,
        hi=INT_MAX,
        related="segment.bytes",
    ),
    _d(
        "log.roll.hours",
        "int",
        168,
        "roll the active segment after this age (hours)",
        lo=1,
        hi=INT_MAX,
        related="segment.ms",
    ),
    _d(
        "log.roll.ms",
        "long",
        None,
        "roll the active segment after this age (overrides hours)",
        lo=1,
        hi=LONG_MAX,
        nullable=True,
        related="segment.ms",
    ),
    _d(
        "log.segment.delete.delay.ms",
        "long",
        60000,
        "delay before a deleted segment's file goes",
        lo=0,
        hi=LONG_MAX,
        related="file.delete.delay.ms",
    ),
    _d(
        "log.flush.interval.messages",
        "long",
        LONG_MAX,
        "fsync every N messages (never)",
        lo=1,
        hi=LONG_MAX,
        related="flush.messages",
    ),
    _d(
        "log.flush.interval.ms",
        "long",
        None,
        "fsync every T ms; null = log.flush.scheduler.interval.ms",
        nullable=True,
        related="flush.ms",
    ),
    _d(
        "log.flush.scheduler.interval.ms",
        "long",
        LONG_MAX,
        "flusher check period (never)",
        hi=LONG_MAX,
    ),
    _d(
        "log.flush.offset.checkpoint.interval.ms",
        "int",
        60000,
        "how often the recovery point is persisted",
        lo=0,
        hi=INT_MAX,
    ),
    _d(
        "message.max.bytes",
        "int",
        1048588,
        "largest record batch",
        lo=0,
        hi=INT_MAX,
        related="max.message.bytes",
    ),
    _d("auto.create.topics.enable", "boolean", True, "create unknown topics on first use"),
    _d("auto.leader.rebalance.enable", "boolean", True, "periodic preferred-leader election"),
    _d(
        "leader.imbalance.check.interval.seconds",
        "long",
        300,
        "period of the preferred-leader check",
        lo=1,
        hi=LONG_MAX,
    ),
    _d(
        "leader.imbalance.per.broker.percentage",
        "int",
        10,
        "imbalance that triggers a rebalance (ignored by KRaft)",
        hi=INT_MAX,
    ),
    _d("controlled.shutdown.enable", "boolean", True, "move leadership away before stopping"),
    _d("controlled.shutdown.max.retries", "int", 3, "controlled shutdown attempts", hi=INT_MAX),
    _d(
        "controlled.shutdown.retry.backoff.ms",
        "long",
        5000,
        "backoff between attempts",
        hi=LONG_MAX,
    ),
    _d(
        "max.incremental.fetch.session.cache.slots",
        "int",
        1000,
        "fetch sessions cached",
        lo=0,
        hi=INT_MAX,
    ),
    _d("num.io.threads", "int", 8, "request handler threads", lo=1, hi=INT_MAX),
    _d("num.network.threads", "int", 3, "network (socket) threads", lo=1, hi=INT_MAX),
    _d("offsets.topic.replication.factor", "int", 3, "RF of __consumer_offsets", lo=1, hi=32767),
    _d(
        "offsets.topic.num.partitions",
        "int",
        50,
        "partitions of __consumer_offsets",
        lo=1,
        hi=INT_MAX,
    ),
    _d(
        "offsets.retention.minutes",
        "int",
        10080,
        "offsets of an empty group expire after this",
        lo=1,
        hi=INT_MAX,
    ),
    _d(
        "offsets.commit.timeout.ms",
        "int",
        5000,
        "offset commit waits this long for replication",
        lo=1,
        hi=INT_MAX,
    ),
    _d(
        "group.min.session.timeout.ms",
        "int",
        6000,
        "smallest allowed consumer session timeout",
        hi=INT_MAX,
    ),
    _d(
        "group.max.session.timeout.ms",
        "int",
        1800000,
        "largest allowed consumer session timeout",
        hi=INT_MAX,
    ),
    _d(
        "group.initial.rebalance.delay.ms",
        "int",
        3000,
        "delay before the first rebalance of an empty group",
        hi=INT_MAX,
    ),
    _d(
        "group.consumer.session.timeout.ms",
        "int",
        45000,
        "KIP-848 session timeout",
        lo=1,
        hi=INT_MAX,
    ),
    _d(
        "group.consumer.heartbeat.interval.ms",
        "int",
        5000,
        "KIP-848 heartbeat interval",
        lo=1,
        hi=INT_MAX,
    ),
    _d("group.consumer.assignors", "list", ("uniform", "range"), "KIP-848 server assignors"),
    _d("eligible.leader.replicas.enable", "boolean", False, "KIP-966 ELR (KRaft only)"),
    _d(
        "zookeeper.session.timeout.ms",
        "int",
        18000,
        "ZK session (broker liveness) expires this long after ZK last heard",
        hi=INT_MAX,
    ),
    _d(
        "zookeeper.connection.timeout.ms",
        "int",
        None,
        "null = zookeeper.session.timeout.ms",
        hi=INT_MAX,
        nullable=True,
    ),
    _d(
        "controller.quorum.election.timeout.ms",
        "int",
        1000,
        "base KRaft candidate timeout, drawn from [T, 2T)",
        hi=INT_MAX,
    ),
    _d(
        "controller.quorum.fetch.timeout.ms",
        "int",
        2000,
        "voter without a leader fetch for this long becomes a candidate",
        hi=INT_MAX,
    ),
    _d(
        "controller.quorum.election.backoff.max.ms",
        "int",
        1000,
        "cap of the backoff after a failed election",
        hi=INT_MAX,
    ),
    _d("controller.quorum.request.timeout.ms", "int", 2000, "KRaft request timeout", hi=INT_MAX),
    _d("controller.quorum.retry.backoff.ms", "int", 20, "KRaft retry backoff", hi=INT_MAX),
    _d("controller.quorum.append.linger.ms", "int", 25, "KRaft leader batching delay", hi=INT_MAX),
    _d(
        "broker.heartbeat.interval.ms",
        "int",
        2000,
        "BrokerHeartbeat period to the controller",
        hi=INT_MAX,
    ),
    _d(
        "broker.session.timeout.ms",
        "int",
        9000,
        "controller fences a broker silent for this long",
        hi=INT_MAX,
    ),
    _d(
        "initial.broker.registration.timeout.ms",
        "int",
        60000,
        "broker gives up registering after this long",
        hi=INT_MAX,
    ),
)

TOPIC: dict[str, ConfigDef] = _table(
    _d(
        "min.insync.replicas",
        "int",
        1,
        "smallest ISR accepting acks=all; effective min(it, RF)",
        lo=1,
        hi=INT_MAX,
        related="min.insync.replicas",
    ),
    _d(
        "unclean.leader.election.enable",
        "boolean",
        False,
        "allow a non-ISR leader, accepting data loss",
        related="unclean.leader.election.enable",
    ),
    _d(
        "retention.ms",
        "long",
        604800000,
        "delete segments older than this; -1 = no limit",
        lo=-1,
        hi=LONG_MAX,
        related="log.retention.ms",
    ),
    _d(
        "retention.bytes",
        "long",
        -1,
        "size cap per partition; -1 = none",
        related="log.retention.bytes",
    ),
    _d(
        "segment.bytes",
        "int",
        1073741824,
        "roll the active segment at this size",
        lo=14,
        hi=INT_MAX,
        related="log.segment.bytes",
    ),
    _d(
        "segment.ms",
        "long",
        604800000,
        "roll the active segment after this age",
        lo=1,
        hi=LONG_MAX,
        related="log.roll.ms",
    ),
    _d(
        "file.delete.delay.ms",
        "long",
        60000,
        "delay before a deleted segment's file goes",
        lo=0,
        hi=LONG_MAX,
        related="log.segment.delete.delay.ms",
    ),
    _d(
        "flush.messages",
        "long",
        LONG_MAX,
        "fsync every N messages (never)",
        lo=1,
        hi=LONG_MAX,
        related="log.flush.interval.messages",
    ),
    _d(
        "flush.ms",
        "long",
        LONG_MAX,
        "fsync every T ms (never)",
        lo=0,
        hi=LONG_MAX,
        related="log.flush.interval.ms",
    ),
    _d(
        "max.message.bytes",
        "int",
        1048588,
        "largest record batch",
        lo=0,
        hi=INT_MAX,
        related="message.max.bytes",
    ),
)

TABLES: dict[Kind, dict[str, ConfigDef]] = {
    "producer": PRODUCER,
    "consumer": CONSUMER,
    "broker": BROKER,
    "topic": TOPIC,
}


def _coerce(d: ConfigDef, value: Any) -> Any:
    """Check and convert one raw YAML value for config `d`; ValueError with a short message."""
    if value is None:
        if d.nullable:
            return None
        raise ValueError("may not be null")
    if d.name == "acks":
        text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
        if text not in ("all", "-1", "0", "1"):
            raise ValueError(f"must be one of all, -1, 0, 1, got {value!r}")
        return "all" if text == "-1" else text
    if d.type == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    if d.type in ("int", "long"):
        number: Any = value
        if isinstance(value, str) and d.unit == "ms":
            number = parse_duration(value)
        elif isinstance(value, str) and d.unit == "bytes":
            number = parse_size(value)
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ValueError(f"expected an integer, got {value!r}")
        if isinstance(number, float):
            if not math.isfinite(number) or not number.is_integer():
                unit = " of milliseconds" if d.unit == "ms" else ""
                raise ValueError(f"expected a whole number{unit}, got {value!r}")
            number = int(number)
        _check_range(d, number, value)
        return number
    if d.type == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {value!r}")
        _check_range(d, float(value), value)
        return float(value)
    if d.type == "list":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ValueError(f"expected a list of strings, got {value!r}")
        return tuple(i.strip() for i in items if i.strip())
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    if d.choices is not None and value not in d.choices:
        hint = did_you_mean(value, d.choices)
        raise ValueError(f"must be one of {', '.join(d.choices)}, got {value!r}{hint}")
    return value


def _check_range(d: ConfigDef, number: float, raw: Any) -> None:
    if d.min is not None and number < d.min:
        raise ValueError(f"must be >= {_fmt(d.min)}, got {raw!r}")
    if d.max is not None and number > d.max:
        raise ValueError(f"must be <= {_fmt(d.max)}, got {raw!r}")


class KafkaConfig(Mapping[str, Any]):
    """Immutable name -> typed value mapping holding EVERY name of one table, defaults filled.

    `explicit` is the frozenset of names the scenario set itself (Kafka's `originals()`), which
    matters for rules such as "explicit enable.idempotence=true with acks=1 is an error".
    """

    __slots__ = ("_explicit", "_kind", "_values")

    def __init__(self, kind: Kind, values: Mapping[str, Any], explicit: frozenset[str]):
        self._kind: Kind = kind
        self._values: dict[str, Any] = {n: values[n] for n in TABLES[kind]}
        self._explicit = explicit

    @property
    def kind(self) -> Kind:
        return self._kind

    @property
    def explicit(self) -> frozenset[str]:
        return self._explicit

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        shown = {n: self._values[n] for n in TABLES[self._kind] if n in self._explicit}
        return f"KafkaConfig({self._kind!r}, explicit={shown!r})"

    def as_dict(self) -> dict[str, Any]:
        """Plain dict of every name (list configs as lists), in table order."""
        return {n: list(v) if isinstance(v, tuple) else v for n, v in self._values.items()}


def topic_defaults_from_broker(broker: KafkaConfig) -> dict[str, Any]:
    """Topic config defaults derived from a broker config, as Kafka's LogConfig does."""
    out: dict[str, Any] = {}
    for d in TOPIC.values():
        if d.related is not None and d.related in BROKER:
            out[d.name] = broker[d.related]
    if broker["log.retention.ms"] is not None:
        retention = broker["log.retention.ms"]
    elif broker["log.retention.minutes"] is not None:
        retention = broker["log.retention.minutes"] * 60_000
    else:
        retention = broker["log.retention.hours"] * 3_600_000
    out["retention.ms"] = -1 if retention < 0 else retention
    if broker["log.roll.ms"] is not None:
        out["segment.ms"] = broker["log.roll.ms"]
    else:
        out["segment.ms"] = broker["log.roll.hours"] * 3_600_000
    flush = broker["log.flush.interval.ms"]
    out["flush.ms"] = broker["log.flush.scheduler.interval.ms"] if flush is None else flush
    return out


def build_config(
    kind: Kind,
    raw: Any,
    defaults: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> KafkaConfig:
    """Validate a scenario's `config:` map for `kind` and fill every other name with its default.

    `defaults` overrides table defaults (topic defaults from the broker; the consumer's group.id
    from its `group:` key). Errors are PathValueError with the config name as path. Kafka's
    cross-config rules are applied: see `_producer_rules` and `_consumer_rules`.
    """
    table = TABLES[kind]
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise PathValueError((), f"expected a mapping of {kind} config names, got {raw!r}")
    values = {n: d.default for n, d in table.items()}
    if defaults:
        values.update(defaults)
    explicit: set[str] = set()
    for name, value in raw.items():
        if not isinstance(name, str) or name not in table:
            hint = did_you_mean(str(name), table)
            raise PathValueError((name,), f"unknown {kind} config {name!r}{hint}", at_key=True)
        try:
            values[name] = _coerce(table[name], value)
        except ValueError as e:
            raise PathValueError((name,), str(e)) from None
        explicit.add(name)
    if kind == "producer":
        _producer_rules(values, explicit)
    elif kind == "consumer":
        _consumer_rules(values, explicit)
    return KafkaConfig(kind, values, frozenset(explicit))


def _producer_rules(values: dict[str, Any], explicit: set[str]) -> None:
    """KafkaProducer/ProducerConfig rules (3.9): idempotence conflicts, delivery timeout."""
    conflicts: list[tuple[str, str]] = []
    if values["max.in.flight.requests.per.connection"] > 5:
        conflicts.append(
            (
                "max.in.flight.requests.per.connection",
                "Must set max.in.flight.requests.per.connection to at most 5 when using the "
                "idempotent producer.",
            )
        )
    if values["retries"] == 0:
        conflicts.append(
            ("retries", "Must set retries to non-zero when using the idempotent producer.")
        )
    if values["acks"] != "all":
        conflicts.append(
            (
                "acks",
                "Must set acks to all in order to use the idempotent producer. Otherwise we cannot "
                "guarantee idempotence.",
            )
        )
    if values["enable.idempotence"] and conflicts:
        if "enable.idempotence" in explicit:
            name, message = conflicts[0]
            raise PathValueError((name,), f"{message} (enable.idempotence=true is set explicitly)")
        values["enable.idempotence"] = False  # quietly off, as KafkaProducer does
    floor = values["linger.ms"] + values["request.timeout.ms"]
    if values["delivery.timeout.ms"] < floor:
        if "delivery.timeout.ms" in explicit:
            raise PathValueError(
                ("delivery.timeout.ms",),
                f"delivery.timeout.ms should be equal to or larger than linger.ms + "
                f"request.timeout.ms ({values['delivery.timeout.ms']} < {floor})",
            )
        values["delivery.timeout.ms"] = min(floor, INT_MAX)  # Kafka raises the default


def _consumer_rules(values: dict[str, Any], explicit: set[str]) -> None:
    """KafkaConsumer rules: heartbeat below the session timeout; no auto-commit without group."""
    if values["heartbeat.interval.ms"] >= values["session.timeout.ms"]:
        culprit = (
            "heartbeat.interval.ms" if "heartbeat.interval.ms" in explicit else "session.timeout.ms"
        )
        raise PathValueError(
            (culprit,),
            "heartbeat.interval.ms must be set lower than session.timeout.ms",
        )
    if values["group.id"] is None:
        values["enable.auto.commit"] = False


def _default_text(d: ConfigDef) -> str:
    if d.default is None:
        return "null"
    if isinstance(d.default, bool):
        return str(d.default).lower()
    if isinstance(d.default, tuple):
        return ",".join(s.rsplit(".", 1)[-1] for s in d.default)
    return str(d.default)


def render_tables(kinds: tuple[Kind, ...] = ("broker", "topic", "producer", "consumer")) -> str:
    """Plain-text reference of the config tables (printed by `kafka-sim configs`), with each
    config's status (`sim.scenario.config_status`) and, below each table, what the configs that
    are not fully modelled do and do not do."""
    from sim.scenario.config_status import STATUS, status_text

    lines: list[str] = []
    for kind in kinds:
        table = TABLES[kind]
        rows = [
            (
                d.name,
                d.type + ("" if d.unit is None else f" ({d.unit})"),
                _default_text(d),
                d.valid_text(),
                ""
                if d.related is None or d.related == d.name
                else ("topic: " if kind == "broker" else "broker: ") + d.related,
                status_text(STATUS[(kind, d.name)]),
                d.doc,
            )
            for d in table.values()
        ]
        header = ("name", "type", "default", "valid", "maps to", "status", "meaning")
        columns = len(header) - 1
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(columns)]
        lines.append(f"{kind.upper()} configs (Kafka 3.9 defaults, {len(rows)} names)")
        for r in [header, *rows]:
            cells = [r[i].ljust(widths[i]) for i in range(columns)]
            lines.append("  ".join([*cells, r[columns]]).rstrip())
        notes = [
            (name, status)
            for name in table
            if (status := STATUS[(kind, name)]).status != "modelled"
        ]
        if notes:
            lines.append("")
            lines.append("  not fully modelled:")
            for name, status in notes:
                lines.append(f"  {name}: {status_text(status)}: {status.note}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
