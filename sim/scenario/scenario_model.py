"""The root `Scenario` model, its cross-reference checks, expectations and the effective config.

Checks that need more than one part of the file, mirroring what Kafka's admin API or clients
would refuse:
- replication.factor <= brokers (InvalidReplicationFactorException "larger than available
  brokers"); an explicit assignment has one replica list per partition, each of length RF, with
  existing and distinct broker ids (InvalidReplicaAssignmentException);
- producers and consumers name existing topics; topic names are unique;
- node names (broker-i, controller-i or zookeeper-i, <producer>-i, <consumer>-i) are distinct;
  network links name existing nodes or "*";
- faults (`faults.py`): targets, partition groups and degraded links name existing nodes,
  selectors existing topics, partitions and groups; a fault starts before duration + drain.
min.insync.replicas > RF is allowed, as in Kafka (the effective value is min(minISR, RF)).

`name` names the results folder, so it must be one safe path component (letters, digits, `_`,
`-`, `.`; no `/`, no leading `.`, at most 100 characters); `seed` is 0 <= seed < 2**63 (numpy's
SeedSequence takes any non-negative integer, the tables store it as int64).

`expect:` maps summary keys (SUMMARY_KEYS, or `produce_errors.<ERROR>`) to a number or to an
"<op> number" string (finite numbers only: NaN or infinity would make every run fail);
`effective_dict()` writes the whole scenario back with every default
filled (durations as ms numbers), in a form `load_scenario` reads again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.scenario.errors import PathValueError, did_you_mean, short_repr
from sim.scenario.faults import FaultSpec, check_faults
from sim.scenario.kafka_configs import KafkaConfig, build_config, topic_defaults_from_broker
from sim.scenario.models import (
    ClusterSpec,
    ConsumerSpec,
    Distribution,
    DurationMs,
    Int,
    Model,
    NetworkSpec,
    ProducerSpec,
    TopicSpec,
    default_assignment,
)

__all__ = ["SEED_LIMIT", "SUMMARY_KEYS", "Expectation", "Scenario", "name_problem"]

SUMMARY_KEYS: tuple[str, ...] = (
    "records_sent",
    "records_acked",
    "records_failed",
    "records_unfinished",
    "lost_acked_records",
    "duplicated_records",
    "reordered_records",
    "records_consumed",
    "duplicate_deliveries",
    "unconsumed_records",
    "skipped_records",
    "elections",
    "unclean_elections",
    "max_election_ms",
    "offline_partition_ms",
    "controller_failovers",
    "max_controller_failover_ms",
    "max_consumer_lag",
    "max_produce_unavailability_ms",
    "max_producer_stall_ms",
    "produce_latency_p50_ms",
    "produce_latency_p99_ms",
    "e2e_latency_p50_ms",
    "e2e_latency_p99_ms",
    "produce_batches_per_request",
    "produce_records_per_request",
)

# These keys also exist per topic, as '<key>.<TOPIC>' (e.g. produce_latency_p50_ms.ORDER,
# lost_acked_records.ACKS1), so a scenario can compare a setting and its fix side by side.
PER_TOPIC_KEYS: tuple[str, ...] = (
    "lost_acked_records",
    "duplicated_records",
    "reordered_records",
    "produce_latency_p50_ms",
    "produce_latency_p99_ms",
    "e2e_latency_p50_ms",
    "e2e_latency_p99_ms",
)

# numpy's SeedSequence takes any non-negative integer; the tables store the seed as int64.
SEED_LIMIT = 2**63
_NAME_RE = re.compile(r"\w[\w.-]*")
MAX_NAME_CHARS = 100


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a scenario name, or None: it names the results folder
    (results/<name>/), so it must be one safe path component."""
    if _NAME_RE.fullmatch(name) and len(name) <= MAX_NAME_CHARS and len(name.encode()) <= 200:
        return None
    return (
        f"a scenario name must be a folder name: letters, digits, '_', '-' and '.', "
        f"starting with a letter, digit or '_', at most {MAX_NAME_CHARS} characters; "
        f"got {short_repr(name)}"
    )


Op = Literal["==", "!=", "<", "<=", ">", ">="]
_EXPECT_RE = re.compile(r"^\s*(==|!=|<=|>=|<|>|=)?\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*$")


class Expectation(Model):
    """One line of the answer key: summary[key] <op> value."""

    key: str
    op: Op = "=="
    value: float

    def to_yaml(self) -> Any:
        v: float | int = int(self.value) if self.value.is_integer() else self.value
        return v if self.op == "==" else f"{self.op} {v}"


def _known_key(key: str) -> bool:
    if key in SUMMARY_KEYS or key.startswith("produce_errors."):
        return True
    base, _, topic = key.partition(".")
    return base in PER_TOPIC_KEYS and bool(topic)


def _parse_expectation(key: Any, raw: Any) -> Expectation:
    if not isinstance(key, str) or not _known_key(key):
        hint = did_you_mean(str(key), SUMMARY_KEYS)
        raise PathValueError((key,), f"unknown summary key {short_repr(key)}{hint}", at_key=True)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if not math.isfinite(raw):
            raise PathValueError((key,), f"expected a finite number, got {raw}")
        return Expectation(key=key, op="==", value=float(raw))
    m = _EXPECT_RE.match(raw) if isinstance(raw, str) else None
    if m is None:
        raise PathValueError(
            (key,), f"expected a number or '<op> number' (e.g. '< 10000'), got {short_repr(raw)}"
        )
    op = m.group(1) or "=="
    return Expectation(key=key, op="==" if op == "=" else op, value=float(m.group(2)))  # type: ignore[arg-type]


class Scenario(Model):
    """One simulated experiment: cluster, network, topics, workload and the answer key."""

    name: str = Field("scenario", min_length=1)
    description: str = ""
    seed: Int = Field(1, ge=0, lt=SEED_LIMIT)
    duration_ms: DurationMs = Field(60000.0, alias="duration", gt=0)
    drain_ms: DurationMs = Field(30000.0, alias="drain", ge=0)
    source: str = "<text>"
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    topics: list[TopicSpec] = Field(default_factory=list)
    producers: list[ProducerSpec] = Field(default_factory=list)
    consumers: list[ConsumerSpec] = Field(default_factory=list)
    faults: list[FaultSpec] = Field(default_factory=list)
    expect: list[Expectation] = Field(default_factory=list)
    # How the scenario was made (YAML text, file name, overrides), kept by `sim.scenario.api`
    # so that `with_overrides` re-derives every default; never part of equality.
    _origin: Any = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        problem = name_problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v

    @field_validator("description")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @field_validator("topics", mode="before")
    @classmethod
    def _topic_defaults(cls, v: Any, info: ValidationInfo) -> Any:
        """Fill partitions, RF, assignment and topic configs from the broker config."""
        if not isinstance(v, list):
            return v
        cluster = info.data.get("cluster")
        if not isinstance(cluster, ClusterSpec):
            return v
        broker = cluster.config
        out: list[Any] = []
        for i, raw in enumerate(v):
            if not isinstance(raw, Mapping):
                out.append(raw)
                continue
            t = dict(raw)
            given: Any = t.get("assignment")
            explicit = isinstance(given, list) and bool(given) and isinstance(given[0], list)
            if "partitions" not in t:
                t["partitions"] = len(given) if explicit else broker["num.partitions"]
            if "replication.factor" not in t:
                t["replication.factor"] = (
                    len(given[0]) if explicit else broker["default.replication.factor"]
                )
            p, rf = t["partitions"], t["replication.factor"]
            if (
                given is None
                and type(p) is int
                and type(rf) is int
                and p >= 1
                and 1 <= rf <= cluster.brokers
            ):
                t["assignment"] = default_assignment(p, rf, cluster.brokers)
            if not isinstance(t.get("config"), KafkaConfig):
                try:
                    t["config"] = build_config(
                        "topic", t.get("config"), defaults=topic_defaults_from_broker(broker)
                    )
                except PathValueError as e:
                    raise PathValueError(
                        (i, "config", *e.subpath), e.message, at_key=e.at_key
                    ) from None
            out.append(t)
        return out

    @field_validator("faults", mode="before")
    @classmethod
    def _no_faults(cls, v: Any) -> Any:
        return [] if v is None else v

    @field_validator("expect", mode="before")
    @classmethod
    def _expectations(cls, v: Any) -> Any:
        if v is None:
            return []
        if not isinstance(v, Mapping):
            raise ValueError(f"expected a mapping of summary keys to values, got {short_repr(v)}")
        return [_parse_expectation(k, raw) for k, raw in v.items()]

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        n = self.cluster.brokers
        names = [t.name for t in self.topics]
        first_index: dict[str, int] = {}
        for i, t in enumerate(self.topics):
            if t.name in first_index:
                raise PathValueError(
                    ("topics", i, "name"),
                    f"duplicate topic name {short_repr(t.name)} (topics.{first_index[t.name]})",
                )
            first_index[t.name] = i
            if t.replication_factor > n:
                raise PathValueError(
                    ("topics", i, "replication.factor"),
                    f"replication factor {t.replication_factor} larger than available brokers {n}",
                )
            self._check_assignment(i, t)
        known = set(names)
        for i, p in enumerate(self.producers):
            if p.topic not in known:
                raise PathValueError(
                    ("producers", i, "topic"),
                    f"unknown topic {p.topic!r}{did_you_mean(p.topic, names)}",
                )
        for i, c in enumerate(self.consumers):
            for j, topic in enumerate(c.topics):
                if topic not in known:
                    raise PathValueError(
                        ("consumers", i, "topics", j),
                        f"unknown topic {short_repr(topic)}{did_you_mean(topic, names)}",
                    )
        self._check_node_names()
        check_faults(self)
        for e in self.expect:
            base, _, topic = e.key.partition(".")
            if base in PER_TOPIC_KEYS and topic and topic not in known:
                raise PathValueError(
                    ("expect", e.key),
                    f"unknown topic {short_repr(topic)} in {e.key!r}{did_you_mean(topic, names)}",
                    at_key=True,
                )
        return self

    def _check_assignment(self, i: int, t: TopicSpec) -> None:
        n = self.cluster.brokers
        where = ("topics", i, "assignment")
        if len(t.assignment) != t.partitions:
            raise PathValueError(
                where,
                f"assignment has {len(t.assignment)} replica lists but "
                f"the topic has {t.partitions} partitions",
            )
        for p, replicas in enumerate(t.assignment):
            if len(replicas) != t.replication_factor:
                raise PathValueError(
                    (*where, p),
                    f"partition {p} has {len(replicas)} replicas, "
                    f"replication.factor is {t.replication_factor}",
                )
            for j, b in enumerate(replicas):
                if not 0 <= b < n:
                    raise PathValueError(
                        (*where, p, j), f"unknown broker id {b} (brokers are 0..{n - 1})"
                    )
                if b in replicas[:j]:
                    raise PathValueError(
                        (*where, p, j), f"broker {b} listed twice for partition {p}"
                    )

    def _check_node_names(self) -> None:
        seen: dict[str, str] = {f"broker-{i}": "a broker" for i in range(self.cluster.brokers)}
        seen.update({c: "a controller" for c in self.cluster.controller_names()})
        clients: list[tuple[str, int, ProducerSpec | ConsumerSpec]] = [
            *(("producers", i, p) for i, p in enumerate(self.producers)),
            *(("consumers", i, c) for i, c in enumerate(self.consumers)),
        ]
        for section, i, spec in clients:
            for k in range(spec.count):
                node = f"{spec.name}-{k}"
                if node in seen:
                    raise PathValueError(
                        (section, i, "name"), f"node name {node!r} is already {seen[node]}"
                    )
                seen[node] = f"an instance of {section[:-1]} {spec.name!r}"
        for i, link in enumerate(self.network.links):
            for key, node in (("from", link.source), ("to", link.target)):
                if node != "*" and node not in seen:
                    raise PathValueError(
                        ("network", "links", i, key),
                        f'unknown node {node!r}{did_you_mean(node, seen)} (or "*")',
                    )

    def topic(self, name: str) -> TopicSpec:
        """The topic called `name` (KeyError if there is none)."""
        for t in self.topics:
            if t.name == name:
                return t
        raise KeyError(name)

    def node_names(self) -> list[str]:
        """Every node: brokers, controllers (or zookeepers), producer and consumer instances."""
        out = [f"broker-{i}" for i in range(self.cluster.brokers)]
        out += self.cluster.controller_names()
        specs: list[ProducerSpec | ConsumerSpec] = [*self.producers, *self.consumers]
        for spec in specs:
            out += [f"{spec.name}-{k}" for k in range(spec.count)]
        return out

    def with_overrides(self, overrides: Mapping[str, Any] | Sequence[str]) -> Scenario:
        """A new scenario with dotted keys changed, e.g. ``{"producers.0.config.acks": "1",
        "seed": 3}``, validated exactly like the file (errors name the key path); defaults that
        derive from a changed key are derived again (see `sim.scenario.api`)."""
        from sim.scenario.api import with_overrides

        return with_overrides(self, overrides)

    def effective_dict(self) -> dict[str, Any]:
        """The whole scenario as plain YAML-able data, every default filled, times in ms."""
        out = _plain(self)
        out.pop("source", None)
        return out


def _plain(obj: Any) -> Any:
    """Models -> dicts keyed by YAML names; KafkaConfig -> all names; tuples -> lists."""
    if isinstance(obj, Distribution | Expectation | FaultSpec):
        return obj.to_yaml()
    if isinstance(obj, Scenario):
        d = {_key(obj, f): _plain(getattr(obj, f)) for f in type(obj).model_fields}
        d["expect"] = {e.key: e.to_yaml() for e in obj.expect}
        return d
    if isinstance(obj, BaseModel):
        return {_key(obj, f): _plain(getattr(obj, f)) for f in type(obj).model_fields}
    if isinstance(obj, KafkaConfig):
        return obj.as_dict()
    if isinstance(obj, list | tuple):
        return [_plain(x) for x in obj]
    return obj


def _key(model: BaseModel, field: str) -> str:
    alias = type(model).model_fields[field].alias
    return alias if alias is not None else field
