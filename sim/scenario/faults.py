"""Faults in a scenario: what breaks, when, and for how long (the `faults:` list of SCENARIOS.md).

Kafka concept: replication, leader election and the controller quorum exist to survive the
failures a cluster meets in production. A scenario schedules them, Jepsen-style: each entry has
`at` (time since the start of the run) and `action`; `for` heals the fault after that long.

Actions and their keys (anything else is an error, with file:line:col):
- `crash` (the process dies; the OS page cache survives, so unflushed log data is kept),
  `power-loss` (the machine stops; the unflushed suffix of every log is lost per `cluster.disk`),
  `disk-wipe` (the node's log directory is emptied; it rejoins as an empty replica),
  `pause` (stop-the-world stall: GC, debugger, SIGSTOP; nothing is lost, timers stop),
  `shutdown` (controlled shutdown, as `kafka-server-stop.sh` does: leadership moves first):
  `target` (required) and `for` (optional: the node restarts / resumes after this long);
- `restart`: `target`, a node name (or `leader(TOPIC-P)`, resolved when the fault fires);
- `partition`: `groups`, at least two lists of node names or selectors (`leader(ORDER-0)`,
  `active-controller`, ..., resolved when the partition starts); messages between nodes of
  different groups are dropped (`one_way: true`: only those from groups[0] to the other groups).
  `others` stands for every node not named in any group; a node in no group is cut off from no
  one; a node a selector puts in two groups stays in the first;
- `degrade`: links `from` -> `to` (node names or "*", default "*") get `latency`, `loss` and/or
  `bandwidth` (at least one), as `network.links` entries would;
- `heal`: ends every active fault at `at`, as the drain phase does (no other key);
- `nemesis`: random faults of `kinds` (crash, power-loss, pause, partition, degrade) on `targets`
  (`brokers` (default) | `controllers` | `zookeepers` | `clients` | node names), one at a time:
  from `start` (default 0) every `every` a fault drawn from the seed, healed after `for`, until
  `stop` (default: the end of the load phase). It has no `at`; `at_ms` is its start.
  `recover: true` makes "one at a time" strict: the next fault waits (beyond `every` if need be)
  until the previous one's node has recovered: running, reachable and, for a broker, back in the
  ISR of every partition it replicates (caught up). Without it a broker may still be catching up,
  or not even noticed as failed, when the next fault strikes; two brokers that lose power within
  the OS flush interval can then lose acknowledged records, in Kafka too (docs/nemesis.md).

Targets are node names (broker-i, controller-i in kraft mode, zookeeper-i in zookeeper mode,
<producer>-i, <consumer>-i) or selectors resolved at the fault's time: `leader(TOPIC-P)`,
`active-controller`, `group-coordinator(GROUP)`, `random-broker` (fine in both coordinator modes).

Checked here: the keys each action takes or needs, times >= 0, nemesis `for` < `every` and
`stop` > `start`, at least two distinct partition groups. Checked against the whole scenario by
`check_faults` (called from `Scenario`): node names exist, `leader(T-P)` names an existing topic
and partition, `group-coordinator(G)` an existing consumer group, `restart` targets a node,
`disk-wipe` targets a server (clients have no disk), and `at` falls before the end of the run
(duration + drain; faults during the drain are allowed, the drain heals them anyway).

Simplifications: times are absolute (no `after: <fault>`); what a fault does to the cluster is
the fault injector's business (sim/cluster), this module only describes and validates it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from sim.scenario.errors import PathValueError, did_you_mean, short_repr
from sim.scenario.models import (
    BandwidthBpms,
    ConsumerSpec,
    Distribution,
    DurationMs,
    Model,
    ProducerSpec,
)
from sim.scenario.units import format_duration, parse_duration

if TYPE_CHECKING:
    from sim.scenario.scenario_model import Scenario

__all__ = [
    "FAULT_ACTIONS",
    "NEMESIS_KINDS",
    "NEMESIS_TARGET_CLASSES",
    "SELECTORS",
    "FaultAction",
    "FaultSpec",
    "NemesisKind",
    "check_faults",
    "parse_group_coordinator",
    "parse_leader",
]

FaultAction = Literal[
    "crash",
    "restart",
    "power-loss",
    "disk-wipe",
    "pause",
    "shutdown",
    "partition",
    "degrade",
    "heal",
    "nemesis",
]
NemesisKind = Literal["crash", "power-loss", "pause", "partition", "degrade"]

FAULT_ACTIONS: tuple[str, ...] = FaultAction.__args__  # type: ignore[attr-defined]
NEMESIS_KINDS: tuple[str, ...] = NemesisKind.__args__  # type: ignore[attr-defined]
NEMESIS_TARGET_CLASSES: tuple[str, ...] = ("brokers", "controllers", "zookeepers", "clients")
# Selectors without an argument; leader(TOPIC-P) and group-coordinator(GROUP) take one.
SELECTORS: tuple[str, ...] = ("active-controller", "random-broker")
OTHERS = "others"

# YAML keys each action takes besides `at` and `action`, in the order they are written back.
_TAKES: dict[str, tuple[str, ...]] = {
    "crash": ("target", "for"),
    "restart": ("target",),
    "power-loss": ("target", "for"),
    "disk-wipe": ("target", "for"),
    "pause": ("target", "for"),
    "shutdown": ("target", "for"),
    "partition": ("groups", "one_way", "for"),
    "degrade": ("from", "to", "latency", "loss", "bandwidth", "for"),
    "heal": (),
    "nemesis": ("kinds", "targets", "every", "for", "start", "stop", "recover"),
}
_TARGET_FORMS = (
    "a node name, or leader(TOPIC-P), active-controller, group-coordinator(GROUP), random-broker"
)
_NEEDS: dict[str, dict[str, str]] = {
    "crash": {"target": _TARGET_FORMS},
    "restart": {"target": "a node name or leader(TOPIC-P)"},
    "power-loss": {"target": _TARGET_FORMS},
    "disk-wipe": {"target": _TARGET_FORMS},
    "pause": {"target": _TARGET_FORMS},
    "shutdown": {"target": _TARGET_FORMS},
    "partition": {"groups": "at least two lists of node names, e.g. [[broker-0], [others]]"},
    "nemesis": {
        "kinds": f"some of {', '.join(NEMESIS_KINDS)}",
        "every": "the time between two faults",
        "for": "how long each fault lasts",
    },
}

_LEADER_RE = re.compile(r"^leader\((?P<topic>.+)-(?P<partition>\d+)\)$")
_COORDINATOR_RE = re.compile(r"^group-coordinator\((?P<group>.+)\)$")


def parse_leader(target: str) -> tuple[str, int] | None:
    """'leader(ORDER-0)' -> ('ORDER', 0); None if `target` is not a leader selector."""
    m = _LEADER_RE.match(target)
    return (m.group("topic"), int(m.group("partition"))) if m else None


def parse_group_coordinator(target: str) -> str | None:
    """'group-coordinator(billing)' -> 'billing'; None if `target` is not that selector."""
    m = _COORDINATOR_RE.match(target)
    return m.group("group") if m else None


class FaultSpec(Model):
    """One entry of `faults:`: an action at a time, on a target, optionally healed after `for`."""

    action: FaultAction
    at_ms: DurationMs = Field(alias="at", ge=0)
    for_ms: DurationMs | None = Field(None, alias="for", gt=0)
    target: str | None = Field(None, min_length=1)
    groups: list[list[str]] | None = None
    one_way: bool = False
    link_from: str | None = Field(None, alias="from", min_length=1)
    link_to: str | None = Field(None, alias="to", min_length=1)
    latency: Distribution | None = None
    loss: float | None = Field(None, ge=0, le=1)
    bandwidth_bytes_per_ms: BandwidthBpms | None = Field(None, alias="bandwidth")
    kinds: list[NemesisKind] | None = Field(None, min_length=1)
    targets: str | list[str] | None = Field(None, min_length=1)
    every_ms: DurationMs | None = Field(None, alias="every", gt=0)
    start_ms: DurationMs | None = Field(None, alias="start", ge=0)
    stop_ms: DurationMs | None = Field(None, alias="stop", ge=0)
    recover: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill(cls, data: Any) -> Any:
        """Defaults that depend on the action: nemesis start/targets/at, degrade from/to."""
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        action = data.get("action")
        if action == "nemesis":
            if "at" in data:
                raise PathValueError(
                    ("at",),
                    "'at' does not apply to nemesis (it runs from start to stop)",
                    at_key=True,
                )
            if data.get("start") is None:
                data["start"] = 0.0
            if data.get("targets") is None:
                data["targets"] = "brokers"
            try:
                start = parse_duration(data["start"])
            except ValueError:  # reported on `start` itself
                start = 0.0
            data["at"] = max(start, 0.0)
        elif action == "degrade":
            for key in ("from", "to"):
                if data.get(key) is None:
                    data[key] = "*"
        return data

    @model_validator(mode="after")
    def _check(self) -> FaultSpec:
        takes = _TAKES[self.action]
        for name, f in type(self).model_fields.items():
            key = f.alias or name
            if key not in ("at", "action", *takes) and name in self.model_fields_set:
                also = ", ".join(("at", *takes)) if self.action != "nemesis" else ", ".join(takes)
                raise PathValueError(
                    (key,),
                    f"{short_repr(key)} does not apply to {self.action} (it takes {also})",
                    at_key=True,
                )
        for key, what in _NEEDS.get(self.action, {}).items():
            if self._yaml_value(key) is None:
                raise PathValueError(
                    (key,),
                    f"required key missing: {self.action} needs {key} ({what})",
                    at_key=True,
                )
        if self.action == "degrade" and (
            self.latency is None and self.loss is None and self.bandwidth_bytes_per_ms is None
        ):
            raise PathValueError((), "degrade needs latency, loss or bandwidth")
        if self.action == "partition":
            self._check_groups()
        if self.action == "nemesis":
            self._check_nemesis()
        return self

    def _check_groups(self) -> None:
        groups = self.groups or []
        if len(groups) < 2:
            raise PathValueError(
                ("groups",),
                f"a partition needs at least 2 groups, got {len(groups)} "
                "(use [others] for every node not named)",
            )
        first_group: dict[str, int] = {}
        for j, group in enumerate(groups):
            if not group:
                raise PathValueError(("groups", j), "a group must name at least one node")
            for k, name in enumerate(group):
                if name in first_group:
                    raise PathValueError(
                        ("groups", j, k),
                        f"{short_repr(name)} is already in group {first_group[name]}",
                    )
                first_group[name] = j

    def _check_nemesis(self) -> None:
        kinds = self.kinds or []
        for j, kind in enumerate(kinds):
            if kind in kinds[:j]:
                raise PathValueError(("kinds", j), f"{kind!r} listed twice")
        if isinstance(self.targets, list):
            for j, t in enumerate(self.targets):
                if t in self.targets[:j]:
                    raise PathValueError(("targets", j), f"{t!r} listed twice")
        assert self.for_ms is not None and self.every_ms is not None and self.start_ms is not None
        if self.for_ms >= self.every_ms:
            raise PathValueError(
                ("for",),
                f"for ({format_duration(self.for_ms)}) must be shorter than every "
                f"({format_duration(self.every_ms)}): the nemesis injects one fault at a time",
            )
        if self.stop_ms is not None and self.stop_ms <= self.start_ms:
            raise PathValueError(("stop",), "stop must be after start")

    def _yaml_value(self, key: str) -> Any:
        for name, f in type(self).model_fields.items():
            if (f.alias or name) == key:
                return getattr(self, name)
        raise KeyError(key)  # pragma: no cover - keys come from _TAKES

    def target_list(self) -> list[str]:
        """Nemesis `targets` as a list (a single word or node name becomes a one-item list)."""
        if self.targets is None:
            return []
        return [self.targets] if isinstance(self.targets, str) else list(self.targets)

    def to_yaml(self) -> dict[str, Any]:
        """Plain YAML form with only the keys this action takes (durations as ms numbers)."""
        out: dict[str, Any] = {} if self.action == "nemesis" else {"at": self.at_ms}
        out["action"] = self.action
        for key in _TAKES[self.action]:
            v = self._yaml_value(key)
            if v is None:
                continue
            if isinstance(v, Distribution):
                v = v.to_yaml()
            elif isinstance(v, list):
                v = [list(x) if isinstance(x, list) else x for x in v]
            out[key] = v
        return out


# ---------------------------------------------------------------- checks against the scenario


def check_faults(s: Scenario) -> None:
    """Cross-check every fault against the scenario's nodes, topics, groups and run length."""
    nodes = s.node_names()
    end_ms = s.duration_ms + s.drain_ms
    for i, f in enumerate(s.faults):
        where: tuple[str | int, ...] = ("faults", i)
        if f.at_ms >= end_ms:
            key = "start" if f.action == "nemesis" else "at"
            raise PathValueError(
                (*where, key),
                f"{key} {format_duration(f.at_ms)} is not before the end of the run "
                f"(duration + drain = {format_duration(end_ms)})",
            )
        if f.target is not None:
            _check_target(s, nodes, f.action, f.target, (*where, "target"))
        for j, group in enumerate(f.groups or []):
            for k, name in enumerate(group):
                if name != OTHERS and name not in nodes:
                    # A selector is resolved when the partition starts, as a target is.
                    _check_target(s, nodes, "partition", name, (*where, "groups", j, k))
        for key, end in (("from", f.link_from), ("to", f.link_to)):
            if end is not None and end != "*" and end not in nodes:
                raise PathValueError((*where, key), _unknown_node(s, end, nodes) + ' (or "*")')
        if f.action == "nemesis":
            _check_nemesis_targets(s, nodes, f, where)


def _clients(s: Scenario) -> list[ProducerSpec | ConsumerSpec]:
    return [*s.producers, *s.consumers]


def _check_target(
    s: Scenario, nodes: Sequence[str], action: str, target: str, where: tuple[str | int, ...]
) -> None:
    if target in nodes:
        client_names = [f"{c.name}-{k}" for c in _clients(s) for k in range(c.count)]
        if action == "disk-wipe" and target in client_names:
            raise PathValueError(where, f"{short_repr(target)} is a client: it has no disk to wipe")
        return
    if target in SELECTORS:
        if action == "restart":
            raise PathValueError(
                where,
                f"restart needs a node name or leader(TOPIC-P): {short_repr(target)} "
                "picks a running "
                "node, name the stopped one",
            )
        return
    if target.startswith("leader("):
        parsed = parse_leader(target)
        if parsed is None:
            raise PathValueError(
                where,
                f"expected leader(TOPIC-PARTITION) such as leader(ORDER-0), "
                f"got {short_repr(target)}",
            )
        topic, p = parsed
        names = [t.name for t in s.topics]
        if topic not in names:
            raise PathValueError(
                where,
                f"unknown topic {short_repr(topic)} in {short_repr(target)}"
                f"{did_you_mean(topic, names)}",
            )
        n = s.topic(topic).partitions
        if p >= n:
            raise PathValueError(
                where,
                f"no partition {p} in {short_repr(target)}: topic {short_repr(topic)} has {n} "
                f"partition{'s' if n > 1 else ''} ({_span('', n)})",
            )
        return
    if target.startswith("group-coordinator("):
        group = parse_group_coordinator(target)
        if group is None:
            raise PathValueError(
                where,
                f"expected group-coordinator(GROUP) such as group-coordinator(billing), "
                f"got {short_repr(target)}",
            )
        groups = [c.group for c in s.consumers if c.group is not None]
        if group not in groups:
            raise PathValueError(
                where,
                f"unknown consumer group {short_repr(group)} in {short_repr(target)}"
                f"{did_you_mean(group, groups)}",
            )
        if action == "restart":
            raise PathValueError(
                where,
                f"restart needs a node name or leader(TOPIC-P): {short_repr(target)} "
                "picks a running "
                "node, name the stopped one",
            )
        return
    if target == OTHERS:
        raise PathValueError(where, "'others' names nodes only in partition groups")
    raise PathValueError(where, _unknown_node(s, target, [*nodes, *SELECTORS]))


def _check_nemesis_targets(
    s: Scenario, nodes: Sequence[str], f: FaultSpec, where: tuple[str | int, ...]
) -> None:
    mode = s.cluster.coordinator
    for j, t in enumerate(f.target_list()):
        at = (*where, "targets") if isinstance(f.targets, str) else (*where, "targets", j)
        if t in ("controllers", "zookeepers"):
            wanted = "controllers" if mode == "kraft" else "zookeepers"
            if t != wanted:
                raise PathValueError(
                    at,
                    f"{t!r} needs coordinator: {'kraft' if t == 'controllers' else 'zookeeper'} "
                    f"(this {mode} cluster has {wanted!r})",
                )
        elif t == "clients":
            if not _clients(s):
                raise PathValueError(
                    at, "'clients' names no node: there are no producers or consumers"
                )
        elif t not in nodes and t != "brokers":
            raise PathValueError(at, _unknown_node(s, t, [*nodes, *NEMESIS_TARGET_CLASSES]))


def _span(prefix: str, n: int) -> str:
    """'broker-', 3 -> 'broker-0..broker-2'; '', 1 -> '0'."""
    return f"{prefix}0" if n == 1 else f"{prefix}0..{prefix}{n - 1}"


def _unknown_node(s: Scenario, name: str, choices: Sequence[str]) -> str:
    """Why `name` is not a node, with the valid range when only the index is wrong."""
    m = re.match(r"^(?P<prefix>.+)-(?P<index>\d+)$", name)
    prefix = m.group("prefix") if m else ""
    kraft = s.cluster.coordinator == "kraft"
    servers = "controller" if kraft else "zookeeper"
    c = s.cluster.controllers
    if prefix == "broker":
        b = s.cluster.brokers
        return (
            f"unknown node {short_repr(name)}: the cluster has {b} broker{'s' if b > 1 else ''} "
            f"({_span('broker-', b)})"
        )
    if prefix in ("controller", "zookeeper") and prefix != servers:
        return (
            f"unknown node {short_repr(name)}: {prefix}-i nodes exist only with coordinator: "
            f"{'kraft' if prefix == 'controller' else 'zookeeper'} "
            f"(this {s.cluster.coordinator} cluster has {_span(servers + '-', c)})"
        )
    if prefix == servers:
        what = ("controller" if kraft else "zookeeper node") + ("s" if c > 1 else "")
        return (
            f"unknown node {short_repr(name)}: the cluster has {c} {what} "
            f"({_span(servers + '-', c)})"
        )
    for spec in _clients(s):
        if spec.name == prefix:
            kind = "producer" if isinstance(spec, ProducerSpec) else "consumer"
            return (
                f"unknown node {short_repr(name)}: {kind} {spec.name!r} has {spec.count} "
                f"instance{'s' if spec.count > 1 else ''} ({_span(prefix + '-', spec.count)})"
            )
    return f"unknown node {short_repr(name)}{did_you_mean(name, choices)}"
