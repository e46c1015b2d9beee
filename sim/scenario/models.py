"""Pydantic models of one scenario's parts: cluster, network, topics, producers, consumers.

Every model is frozen and refuses unknown keys (`extra="forbid"`); field aliases are the YAML keys
(`replication.factor`, `record_size`, `from`), attribute names carry the unit (`duration_ms`,
`record_size_bytes`). Values with units go through `units.py`; Kafka settings live in `config:`
maps validated against `kafka_configs.py` (Kafka 3.9 names and defaults).

Kafka rules modelled here:
- topic defaults: partitions <- broker `num.partitions`, replication.factor <- broker
  `default.replication.factor`, topic configs <- their broker-level defaults (LogConfig);
- replica assignment when none is given: AdminUtils.assignReplicasToBrokers without racks,
  startIndex=0 and nextReplicaShift=0 (`default_assignment`);
- a consumer commits only inside a group (no group.id -> no commits, enable.auto.commit forced
  off); `commit: auto` <-> `enable.auto.commit=true`.

Validators raise `PathValueError` with a key path relative to the value being validated; the
loader maps it to file:line:col. Cross-references between parts (topic names, broker ids, node
names) are checked on the root model in `scenario_model.py`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.scenario.errors import PathValueError
from sim.scenario.kafka_configs import KafkaConfig, build_config
from sim.scenario.units import parse_bandwidth, parse_duration, parse_rate, parse_size

__all__ = [
    "ClusterSpec",
    "ConsumerSpec",
    "DiskSpec",
    "Distribution",
    "KeysSpec",
    "LinkSpec",
    "NetworkSpec",
    "ProducerSpec",
    "ProtocolSpec",
    "RequestHandlingSpec",
    "TopicSpec",
    "default_assignment",
]


def _integral(value: Any) -> Any:
    """Accept 1e3 (a YAML float with a whole value) where an integer is expected."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


Int = Annotated[int, BeforeValidator(_integral)]
DurationMs = Annotated[float, BeforeValidator(parse_duration)]
SizeBytes = Annotated[int, BeforeValidator(parse_size)]
RatePerS = Annotated[float, BeforeValidator(parse_rate)]
BandwidthBpms = Annotated[float, BeforeValidator(parse_bandwidth)]


class Model(BaseModel):
    """Base of every scenario model: frozen, strict types, unknown keys refused."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, arbitrary_types_allowed=True
    )


def default_assignment(partitions: int, rf: int, brokers: int) -> list[list[int]]:
    """Kafka's AdminUtils.assignReplicasToBrokers (no racks, startIndex=0, nextReplicaShift=0).

    Partition p starts at broker p % n; the gap between the first and the other replicas grows
    by one every n partitions so that replicas spread evenly.
    """
    if not 1 <= rf <= brokers:
        raise ValueError(f"replication factor {rf} not in [1, {brokers}]")
    out: list[list[int]] = []
    shift = 0
    for p in range(partitions):
        if p > 0 and p % brokers == 0:
            shift += 1
        first = p % brokers
        replicas = [first]
        for j in range(rf - 1):
            replicas.append((first + 1 + (shift + j) % (brokers - 1)) % brokers)
        out.append(replicas)
    return out


_DIST_NEEDS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "uniform": ("low", "high"),
    "exponential": ("mean",),
    "lognormal": ("median", "p99"),
}


class Distribution(Model):
    """A delay: `1ms` (constant) or `{distribution: uniform|exponential|lognormal, ...}`.

    lognormal is given by its median and 99th percentile, the two numbers people measure.
    """

    kind: Literal["constant", "uniform", "exponential", "lognormal"] = Field(
        "constant", alias="distribution"
    )
    value_ms: DurationMs | None = Field(None, alias="value")
    low_ms: DurationMs | None = Field(None, alias="low")
    high_ms: DurationMs | None = Field(None, alias="high")
    mean_ms: DurationMs | None = Field(None, alias="mean")
    median_ms: DurationMs | None = Field(None, alias="median")
    p99_ms: DurationMs | None = Field(None, alias="p99")

    @model_validator(mode="before")
    @classmethod
    def _scalar(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return data
        return {"distribution": "constant", "value": parse_duration(data)}

    @model_validator(mode="after")
    def _check(self) -> Distribution:
        given = {
            "value": self.value_ms,
            "low": self.low_ms,
            "high": self.high_ms,
            "mean": self.mean_ms,
            "median": self.median_ms,
            "p99": self.p99_ms,
        }
        needs = _DIST_NEEDS[self.kind]
        for key, v in given.items():
            if key in needs and v is None:
                raise PathValueError((), f"{self.kind} distribution needs {' and '.join(needs)}")
            if key not in needs and v is not None:
                raise PathValueError(
                    (key,),
                    f"{key!r} does not apply to a {self.kind} distribution "
                    f"(it takes {', '.join(needs)})",
                    at_key=True,
                )
            if v is not None and v < 0:
                raise PathValueError((key,), f"must be >= 0, got {v}")
        if self.kind == "uniform" and self.low_ms > self.high_ms:  # type: ignore[operator]
            raise PathValueError(("high",), "high must be >= low")
        if self.kind == "lognormal" and (
            self.median_ms <= 0 or self.p99_ms < self.median_ms  # type: ignore[operator]
        ):
            raise PathValueError(("p99",), "lognormal needs 0 < median <= p99")
        return self

    def to_yaml(self) -> Any:
        """Plain YAML form (durations as ms numbers)."""
        out: dict[str, Any] = {"distribution": self.kind}
        values = {
            "value": self.value_ms,
            "low": self.low_ms,
            "high": self.high_ms,
            "mean": self.mean_ms,
            "median": self.median_ms,
            "p99": self.p99_ms,
        }
        for key in _DIST_NEEDS[self.kind]:
            out[key] = values[key]
        return out


def constant(ms: float) -> Distribution:
    """A constant delay of `ms` milliseconds."""
    return Distribution.model_validate(ms)


class DiskSpec(Model):
    """Page cache vs fsync: `os` flushes every os_flush_interval (power loss loses the rest)."""

    flush: Literal["os", "every-append"] = "os"
    os_flush_interval_ms: DurationMs = Field(30000.0, alias="os_flush_interval", gt=0)


class ProtocolSpec(Model):
    """Switches between Kafka generations (KIP-101 truncation, 3.7 strict min ISR, KIP-966)."""

    truncation: Literal["epoch", "high-watermark"] = "epoch"
    strict_min_isr: bool = True
    eligible_leader_replicas: bool = False


class RequestHandlingSpec(Model):
    """Broker request handler pool: io_threads (num.io.threads) and per-request CPU cost."""

    io_threads: Int = Field(8, ge=1)
    per_request_ms: DurationMs = Field(0.02, ge=0)
    per_byte_ms: DurationMs = Field(0.000001, ge=0)


class ClusterSpec(Model):
    """Brokers broker-0..N-1, the coordination layer and broker-level Kafka configs."""

    brokers: Int = Field(3, ge=1)
    coordinator: Literal["kraft", "zookeeper"] = "kraft"
    controllers: Int = Field(3, ge=1)
    config: KafkaConfig = Field(None, validate_default=True)
    disk: DiskSpec = Field(default_factory=DiskSpec)
    protocol: ProtocolSpec = Field(default_factory=ProtocolSpec)
    request_handling: RequestHandlingSpec = Field(None, validate_default=True)

    @field_validator("config", mode="before")
    @classmethod
    def _config(cls, v: Any) -> Any:
        return v if isinstance(v, KafkaConfig) else build_config("broker", v)

    @field_validator("request_handling", mode="before")
    @classmethod
    def _io_threads(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None:
            v = {}
        config = info.data.get("config")
        if isinstance(v, Mapping) and "io_threads" not in v and config is not None:
            v = {**v, "io_threads": config["num.io.threads"]}
        return v

    def controller_names(self) -> list[str]:
        """controller-i (KRaft voters) or zookeeper-i."""
        prefix = "controller" if self.coordinator == "kraft" else "zookeeper"
        return [f"{prefix}-{i}" for i in range(self.controllers)]


class LinkSpec(Model):
    """Per-link network override from one node (or "*") to another."""

    source: str = Field(alias="from")
    target: str = Field(alias="to")
    latency: Distribution | None = None
    loss: float | None = Field(None, ge=0, le=1)
    bandwidth_bytes_per_ms: BandwidthBpms | None = Field(None, alias="bandwidth")


LossMode = Literal["tcp", "drop"]


def _loss_mode(value: Any) -> Any:
    if value == "retransmit":
        raise PathValueError(
            (),
            "loss_mode 'retransmit' was replaced by 'tcp' (per-segment loss, fast retransmit, "
            "retransmission timeouts; the default): remove the key or write loss_mode: tcp",
        )
    return value


class NetworkSpec(Model):
    """Default one-way latency, loss probability and bandwidth of every link, plus overrides."""

    latency: Distribution = Field(default_factory=lambda: constant(1.0))
    # Probability that one transmission of a segment (loss_mode tcp) or one message (drop) is
    # lost.
    loss: float = Field(0.0, ge=0, le=1)
    # What a loss means: "tcp" (the default: Kafka runs on TCP, which retransmits lost
    # segments; they arrive late and hold back what follows on their connection, see
    # sim/cluster/net/tcp.py and docs/network.md) or "drop" (explicit opt-in, UDP-like: the
    # message is gone and the requester learns it by its timeout).
    loss_mode: Annotated[LossMode, BeforeValidator(_loss_mode)] = "tcp"
    # TCP maximum segment size: a message of S bytes is ceil(S / mss) segments.
    mss: SizeBytes = Field(1460, ge=1)
    bandwidth_bytes_per_ms: BandwidthBpms | None = Field(None, alias="bandwidth")
    links: list[LinkSpec] = Field(default_factory=list)


class TopicSpec(Model):
    """A topic: partitions, replication factor, replica assignment and topic-level configs."""

    name: str = Field(min_length=1)
    partitions: Int = Field(1, ge=1)
    replication_factor: Int = Field(1, ge=1, alias="replication.factor")
    assignment: list[list[Int]] = Field(default_factory=list)
    config: KafkaConfig = Field(None, validate_default=True)

    @field_validator("config", mode="before")
    @classmethod
    def _config(cls, v: Any) -> Any:
        return v if isinstance(v, KafkaConfig) else build_config("topic", v)


class KeysSpec(Model):
    """Record keys: `count` distinct keys drawn uniformly or by a Zipf law with exponent s."""

    count: Int = Field(ge=1)
    distribution: Literal["uniform", "zipf"] = "uniform"
    s: float = Field(1.1, gt=0)


class ProducerSpec(Model):
    """`count` producer instances <name>-i, each sending `rate` records/s to one topic."""

    name: str = Field(min_length=1)
    count: Int = Field(1, ge=1)
    topic: str
    rate_per_s: RatePerS = Field(alias="rate")
    arrival: Literal["poisson", "constant"] = "poisson"
    keys: KeysSpec | None = None
    record_size_bytes: SizeBytes = Field(100, alias="record_size", ge=0)
    start_ms: DurationMs = Field(0.0, alias="start", ge=0)
    stop_ms: DurationMs | None = Field(None, alias="stop", ge=0)
    config: KafkaConfig = Field(None, validate_default=True)

    @field_validator("config", mode="before")
    @classmethod
    def _config(cls, v: Any) -> Any:
        return v if isinstance(v, KafkaConfig) else build_config("producer", v)

    @model_validator(mode="after")
    def _stop_after_start(self) -> ProducerSpec:
        if self.stop_ms is not None and self.stop_ms < self.start_ms:
            raise PathValueError(("stop",), "stop must not be before start")
        return self


CommitMode = Literal["auto", "after-processing", "before-processing", "none"]


class ConsumerSpec(Model):
    """`count` consumer instances <name>-i; in a group they split the partitions (Range)."""

    name: str = Field(min_length=1)
    count: Int = Field(1, ge=1)
    group: str | None = Field(None, min_length=1)
    topics: list[str] = Field(min_length=1)
    processing: Distribution = Field(default_factory=lambda: constant(0.0))
    commit: CommitMode = "none"
    start_ms: DurationMs = Field(0.0, alias="start", ge=0)
    config: KafkaConfig = Field(None, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, data: Any) -> Any:
        """group <- config group.id; commit default: auto in a group unless auto-commit is off."""
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        config = data.get("config")
        config = config if isinstance(config, Mapping) else {}
        if data.get("group") is None and isinstance(config.get("group.id"), str):
            data["group"] = config["group.id"]
        if isinstance(data.get("topics"), str):
            data["topics"] = [data["topics"]]
        if "commit" not in data:
            auto_off = config.get("enable.auto.commit") is False
            data["commit"] = "none" if data.get("group") is None or auto_off else "auto"
        return data

    @field_validator("commit")
    @classmethod
    def _commit_needs_group(cls, v: str, info: ValidationInfo) -> str:
        if v != "none" and info.data.get("group") is None and "group" in info.data:
            raise ValueError(
                f"{v!r} needs a consumer group (Kafka has no commits without group.id); "
                "set group: or commit: none"
            )
        return v

    @field_validator("config", mode="before")
    @classmethod
    def _config(cls, v: Any, info: ValidationInfo) -> Any:
        if isinstance(v, KafkaConfig):
            return v
        group = info.data.get("group")
        commit = info.data.get("commit")
        raw = v if isinstance(v, Mapping) else {}
        if "group.id" in raw and raw["group.id"] != group:
            raise PathValueError(
                ("group.id",), f"group.id {raw['group.id']!r} differs from group {group!r}"
            )
        auto = commit == "auto"
        if "enable.auto.commit" in raw and raw["enable.auto.commit"] is not auto:
            raise PathValueError(
                ("enable.auto.commit",),
                f"enable.auto.commit={str(raw['enable.auto.commit']).lower()} contradicts "
                f"commit: {commit}",
            )
        return build_config("consumer", v, defaults={"group.id": group, "enable.auto.commit": auto})
