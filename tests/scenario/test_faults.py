"""Fault specs in scenarios: the SCENARIOS.md example, every action, round trip, located errors."""

from __future__ import annotations

import io
import textwrap
from typing import Any

import pytest
from ruamel.yaml import YAML

from sim.scenario import (
    FAULT_ACTIONS,
    FaultSpec,
    Scenario,
    ScenarioError,
    load_scenario_text,
    parse_group_coordinator,
    parse_leader,
)

# Six lines, so the first fault item is on line 8 of every error below.
BASE = textwrap.dedent("""\
    cluster: {brokers: 3, controllers: 3}
    topics: [{name: ORDER, partitions: 3, replication.factor: 3}]
    producers: [{name: checkout, topic: ORDER, rate: 1000/s}]
    consumers: [{name: billing, count: 2, group: billing, topics: [ORDER]}]
    duration: 60s
    drain: 30s
""")
ZOOKEEPER = BASE.replace("controllers: 3}", "coordinator: zookeeper}")

# Verbatim from /work/shared/SCENARIOS.md.
SCENARIOS_MD_FAULTS = """\
faults:                           # each has `at` and `action`; `for` heals it after that long
  - {at: 20s, action: crash, target: broker-1}          # process dies; page cache survives
  - {at: 35s, action: restart, target: broker-1}
  - {at: 25s, action: power-loss, target: leader(ORDER-0)}   # unflushed data lost, then down
  - {at: 30s, action: partition, groups: [[broker-0], [others]], for: 10s}
  - {at: 40s, action: degrade, from: broker-2, to: "*", latency: 200ms, loss: 0.3, for: 5s}
  - {at: 45s, action: pause, target: billing-0, for: 20s}    # stop-the-world stall (GC, debugger)
  - {at: 50s, action: crash, target: active-controller}
  - {action: nemesis, kinds: [crash, power-loss, partition, pause], targets: brokers,
     every: 15s, for: 5s, start: 10s, stop: 50s}   # random faults drawn from the seed, one at a time
"""  # noqa: E501


def _faults(base: str, *items: str) -> Scenario:
    return load_scenario_text(base + "faults:\n" + "".join(f"  - {i}\n" for i in items), "f.yaml")


def _dump(d: dict[str, Any]) -> str:
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(d, out)
    return out.getvalue()


def _set(f: FaultSpec) -> dict[str, Any]:
    """The attributes that differ from FaultSpec's defaults (what the fault says)."""
    defaults = {"one_way": False}
    return {
        name: getattr(f, name)
        for name in type(f).model_fields
        if getattr(f, name) is not None and getattr(f, name) != defaults.get(name)
    }


def test_scenarios_md_example() -> None:
    s = load_scenario_text(BASE + SCENARIOS_MD_FAULTS, "order.yaml")
    assert [(f.action, f.at_ms, f.for_ms, f.target) for f in s.faults] == [
        ("crash", 20_000.0, None, "broker-1"),
        ("restart", 35_000.0, None, "broker-1"),
        ("power-loss", 25_000.0, None, "leader(ORDER-0)"),
        ("partition", 30_000.0, 10_000.0, None),
        ("degrade", 40_000.0, 5_000.0, None),
        ("pause", 45_000.0, 20_000.0, "billing-0"),
        ("crash", 50_000.0, None, "active-controller"),
        ("nemesis", 10_000.0, 5_000.0, None),
    ]
    partition, degrade, nemesis = s.faults[3], s.faults[4], s.faults[7]
    assert partition.groups == [["broker-0"], ["others"]] and partition.one_way is False
    assert (degrade.link_from, degrade.link_to, degrade.loss) == ("broker-2", "*", 0.3)
    assert degrade.latency is not None and degrade.latency.value_ms == 200.0
    assert degrade.bandwidth_bytes_per_ms is None
    assert nemesis.kinds == ["crash", "power-loss", "partition", "pause"]
    assert (nemesis.targets, nemesis.every_ms, nemesis.start_ms, nemesis.stop_ms) == (
        "brokers",
        15_000.0,
        10_000.0,
        50_000.0,
    )
    assert nemesis.target_list() == ["brokers"]


EVERY_ACTION: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "crash",
        BASE,
        "{at: 1s, action: crash, target: broker-0, for: 2s}",
        {"target": "broker-0", "for_ms": 2000.0},
    ),
    ("restart", BASE, "{at: 1s, action: restart, target: broker-2}", {"target": "broker-2"}),
    (
        "restart the leader",
        BASE,
        "{at: 1s, action: restart, target: leader(ORDER-2)}",
        {"target": "leader(ORDER-2)"},
    ),
    (
        "power-loss",
        BASE,
        "{at: 1s, action: power-loss, target: random-broker, for: 3s}",
        {"target": "random-broker", "for_ms": 3000.0},
    ),
    (
        "disk-wipe",
        BASE,
        "{at: 1s, action: disk-wipe, target: controller-2}",
        {"target": "controller-2"},
    ),
    (
        "pause",
        BASE,
        "{at: 1s, action: pause, target: checkout-0, for: 500ms}",
        {"target": "checkout-0", "for_ms": 500.0},
    ),
    (
        "shutdown",
        BASE,
        "{at: 1s, action: shutdown, target: group-coordinator(billing), for: 10s}",
        {"target": "group-coordinator(billing)", "for_ms": 10_000.0},
    ),
    (
        "zookeeper node",
        ZOOKEEPER,
        "{at: 1s, action: crash, target: zookeeper-2}",
        {"target": "zookeeper-2"},
    ),
    (
        "active controller in zookeeper mode",
        ZOOKEEPER,
        "{at: 1s, action: crash, target: active-controller}",
        {"target": "active-controller"},
    ),
    (
        "one-way partition",
        BASE,
        "{at: 1s, action: partition, groups: [[broker-0, checkout-0], [broker-1], [others]], "
        "one_way: true, for: 4s}",
        {
            "groups": [["broker-0", "checkout-0"], ["broker-1"], ["others"]],
            "one_way": True,
            "for_ms": 4000.0,
        },
    ),
    (
        "degrade, defaults from/to *",
        BASE,
        "{at: 1s, action: degrade, bandwidth: 1MB/s}",
        {"link_from": "*", "link_to": "*", "bandwidth_bytes_per_ms": 1000.0},
    ),
    (
        "degrade with a latency distribution",
        BASE,
        "{at: 1s, action: degrade, to: billing-1, "
        "latency: {distribution: lognormal, median: 5ms, p99: 50ms}}",
        {"link_from": "*", "link_to": "billing-1"},
    ),
    ("heal", BASE, "{at: 1s, action: heal}", {}),
    (
        "nemesis defaults",
        BASE,
        "{action: nemesis, kinds: [degrade], every: 10s, for: 1s}",
        {
            "kinds": ["degrade"],
            "targets": "brokers",
            "every_ms": 10_000.0,
            "for_ms": 1000.0,
            "start_ms": 0.0,
        },
    ),
    (
        "nemesis on named nodes and clients",
        BASE,
        "{action: nemesis, kinds: [pause, crash], targets: [clients, broker-1, controllers], "
        "every: 10s, for: 1s, start: 5s, stop: 1m}",
        {
            "kinds": ["pause", "crash"],
            "targets": ["clients", "broker-1", "controllers"],
            "every_ms": 10_000.0,
            "for_ms": 1000.0,
            "start_ms": 5000.0,
            "stop_ms": 60_000.0,
        },
    ),
    (
        "nemesis on zookeepers",
        ZOOKEEPER,
        "{action: nemesis, kinds: [partition], targets: zookeepers, every: 10s, for: 1s}",
        {
            "kinds": ["partition"],
            "targets": "zookeepers",
            "every_ms": 10_000.0,
            "for_ms": 1000.0,
            "start_ms": 0.0,
        },
    ),
]


@pytest.mark.parametrize(
    ("base", "item", "expected"), [e[1:] for e in EVERY_ACTION], ids=[e[0] for e in EVERY_ACTION]
)
def test_every_action_parses(base: str, item: str, expected: dict[str, Any]) -> None:
    (f,) = _faults(base, item).faults
    given = _set(f)
    latency = given.pop("latency", None)
    assert given == {"action": f.action, "at_ms": expected.get("start_ms", 1000.0), **expected}
    assert (latency is not None) == ("latency:" in item)


def test_every_action_is_covered() -> None:
    covered = {_faults(base, item).faults[0].action for _, base, item, _ in EVERY_ACTION}
    assert sorted(covered) == sorted(FAULT_ACTIONS)


def test_no_faults() -> None:
    assert load_scenario_text(BASE).faults == []
    assert load_scenario_text(BASE + "faults: null\n").faults == []
    assert load_scenario_text(BASE).effective_dict()["faults"] == []


def test_effective_dict_round_trip() -> None:
    items = [item for _, base, item, _ in EVERY_ACTION if base is BASE]
    text = BASE + SCENARIOS_MD_FAULTS + "".join(f"  - {i}\n" for i in items)
    s = load_scenario_text(text, "f.yaml")
    assert len(s.faults) == 8 + len(items)
    d = s.effective_dict()
    assert d["faults"][0] == {"at": 20_000.0, "action": "crash", "target": "broker-1"}
    assert d["faults"][4] == {
        "at": 40_000.0,
        "action": "degrade",
        "from": "broker-2",
        "to": "*",
        "latency": {"distribution": "constant", "value": 200.0},
        "loss": 0.3,
        "for": 5_000.0,
    }
    assert d["faults"][7] == {
        "action": "nemesis",
        "kinds": ["crash", "power-loss", "partition", "pause"],
        "targets": "brokers",
        "every": 15_000.0,
        "for": 5_000.0,
        "start": 10_000.0,
        "stop": 50_000.0,
    }
    again = load_scenario_text(_dump(d), "f.yaml")
    assert again.faults == s.faults
    assert again == s
    assert again.effective_dict() == d


def test_zookeeper_round_trip() -> None:
    items = [item for _, base, item, _ in EVERY_ACTION if base is ZOOKEEPER]
    s = _faults(ZOOKEEPER, *items)
    assert load_scenario_text(_dump(s.effective_dict()), "f.yaml") == s


def test_set_override_of_a_fault() -> None:
    text = BASE + "faults:\n  - {at: 20s, action: crash, target: broker-1}\n"
    s = load_scenario_text(text, "f.yaml", ["faults.0.for=5s", "faults.0.target=leader(ORDER-1)"])
    assert (s.faults[0].for_ms, s.faults[0].target) == (5000.0, "leader(ORDER-1)")
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "f.yaml", ["faults.0.target=broker-5"])
    assert str(info.value) == (
        "--set:1:17: faults.0.target: unknown node 'broker-5': the cluster has 3 brokers "
        "(broker-0..broker-2)"
    )


def test_selector_parsers() -> None:
    assert parse_leader("leader(ORDER-0)") == ("ORDER", 0)
    assert parse_leader("leader(my-topic.v2-11)") == ("my-topic.v2", 11)
    assert parse_leader("leader(ORDER)") is None and parse_leader("broker-1") is None
    assert parse_group_coordinator("group-coordinator(billing)") == "billing"
    assert parse_group_coordinator("active-controller") is None


def test_fault_specs_are_frozen() -> None:
    (f,) = _faults(BASE, "{at: 1s, action: crash, target: broker-0}").faults
    with pytest.raises(ValueError, match="frozen"):
        f.at_ms = 5.0  # type: ignore[misc]


# ------------------------------------------------------------------ errors, exact text

BAD: list[tuple[str, str, str, str]] = [
    (
        "unknown action",
        BASE,
        "{at: 20s, action: crahs, target: broker-1}",
        "f.yaml:8:23: faults.0.action: expected 'crash', 'restart', 'power-loss', 'disk-wipe', "
        "'pause', 'shutdown', 'partition', 'degrade', 'heal' or 'nemesis', got 'crahs'; "
        "did you mean 'crash'?",
    ),
    (
        "missing target",
        BASE,
        "{at: 20s, action: crash}",
        "f.yaml:8:5: faults.0.target: required key missing: crash needs target (a node name, "
        "or leader(TOPIC-P), active-controller, group-coordinator(GROUP), random-broker)",
    ),
    (
        "missing at",
        BASE,
        "{action: crash, target: broker-1}",
        "f.yaml:8:5: faults.0.at: required key missing",
    ),
    (
        "negative at",
        BASE,
        "{at: -1s, action: crash, target: broker-1}",
        "f.yaml:8:10: faults.0.at: must be >= 0, got -1000.0",
    ),
    (
        "at after the end of the run",
        BASE,
        "{at: 90s, action: heal}",
        "f.yaml:8:10: faults.0.at: at 90s is not before the end of the run "
        "(duration + drain = 90s)",
    ),
    (
        "unknown key",
        BASE,
        "{at: 20s, action: crash, tagret: broker-1}",
        "f.yaml:8:30: faults.0.tagret: unknown key 'tagret'; did you mean 'target'?",
    ),
    (
        "not a mapping",
        BASE,
        "crash",
        "f.yaml:8:5: faults.0: expected a mapping, got 'crash'",
    ),
    (
        "unknown node name",
        BASE,
        "{at: 20s, action: pause, target: biling-0}",
        "f.yaml:8:38: faults.0.target: unknown node 'biling-0'; did you mean 'billing-0'?",
    ),
    (
        "client instance out of range",
        BASE,
        "{at: 20s, action: pause, target: billing-2}",
        "f.yaml:8:38: faults.0.target: unknown node 'billing-2': consumer 'billing' has "
        "2 instances (billing-0..billing-1)",
    ),
    (
        "broker out of range",
        BASE,
        "{at: 20s, action: crash, target: broker-3}",
        "f.yaml:8:38: faults.0.target: unknown node 'broker-3': the cluster has 3 brokers "
        "(broker-0..broker-2)",
    ),
    (
        "misspelt selector",
        BASE,
        "{at: 20s, action: crash, target: active-controler}",
        "f.yaml:8:38: faults.0.target: unknown node 'active-controler'; "
        "did you mean 'active-controller'?",
    ),
    (
        "others as a target",
        BASE,
        "{at: 20s, action: crash, target: others}",
        "f.yaml:8:38: faults.0.target: 'others' names nodes only in partition groups",
    ),
    (
        "leader of an unknown topic",
        BASE,
        "{at: 20s, action: crash, target: leader(ORDERS-0)}",
        "f.yaml:8:38: faults.0.target: unknown topic 'ORDERS' in 'leader(ORDERS-0)'; "
        "did you mean 'ORDER'?",
    ),
    (
        "leader of a partition out of range",
        BASE,
        "{at: 20s, action: crash, target: leader(ORDER-3)}",
        "f.yaml:8:38: faults.0.target: no partition 3 in 'leader(ORDER-3)': topic 'ORDER' has "
        "3 partitions (0..2)",
    ),
    (
        "leader without a partition",
        BASE,
        "{at: 20s, action: crash, target: leader(ORDER)}",
        "f.yaml:8:38: faults.0.target: expected leader(TOPIC-PARTITION) such as leader(ORDER-0), "
        "got 'leader(ORDER)'",
    ),
    (
        "coordinator of an unknown group",
        BASE,
        "{at: 20s, action: crash, target: group-coordinator(biling)}",
        "f.yaml:8:38: faults.0.target: unknown consumer group 'biling' in "
        "'group-coordinator(biling)'; did you mean 'billing'?",
    ),
    (
        "zookeeper-0 in a kraft cluster",
        BASE,
        "{at: 20s, action: crash, target: zookeeper-0}",
        "f.yaml:8:38: faults.0.target: unknown node 'zookeeper-0': zookeeper-i nodes exist only "
        "with coordinator: zookeeper (this kraft cluster has controller-0..controller-2)",
    ),
    (
        "controller-0 in a zookeeper cluster",
        ZOOKEEPER,
        "{at: 20s, action: crash, target: controller-0}",
        "f.yaml:8:38: faults.0.target: unknown node 'controller-0': controller-i nodes exist only "
        "with coordinator: kraft (this zookeeper cluster has zookeeper-0..zookeeper-2)",
    ),
    (
        "controller-5 with 3 controllers",
        BASE,
        "{at: 20s, action: crash, target: controller-5}",
        "f.yaml:8:38: faults.0.target: unknown node 'controller-5': the cluster has "
        "3 controllers (controller-0..controller-2)",
    ),
    (
        "restart of a selector",
        BASE,
        "{at: 20s, action: restart, target: random-broker}",
        "f.yaml:8:40: faults.0.target: restart needs a node name or leader(TOPIC-P): "
        "'random-broker' picks a running node, name the stopped one",
    ),
    (
        "restart with for",
        BASE,
        "{at: 20s, action: restart, target: broker-1, for: 5s}",
        "f.yaml:8:50: faults.0.for: 'for' does not apply to restart (it takes at, target)",
    ),
    (
        "zero for",
        BASE,
        "{at: 20s, action: crash, target: broker-1, for: 0s}",
        "f.yaml:8:53: faults.0.for: must be > 0, got '0s'",
    ),
    (
        "disk-wipe of a client",
        BASE,
        "{at: 20s, action: disk-wipe, target: checkout-0}",
        "f.yaml:8:42: faults.0.target: 'checkout-0' is a client: it has no disk to wipe",
    ),
    (
        "groups on a crash",
        BASE,
        "{at: 20s, action: crash, target: broker-1, groups: [[broker-0], [others]]}",
        "f.yaml:8:48: faults.0.groups: 'groups' does not apply to crash (it takes at, target, for)",
    ),
    (
        "one_way on a crash",
        BASE,
        "{at: 20s, action: crash, target: broker-1, one_way: true}",
        "f.yaml:8:48: faults.0.one_way: 'one_way' does not apply to crash "
        "(it takes at, target, for)",
    ),
    (
        "target on heal",
        BASE,
        "{at: 20s, action: heal, target: broker-1}",
        "f.yaml:8:29: faults.0.target: 'target' does not apply to heal (it takes at)",
    ),
    (
        "partition without groups",
        BASE,
        "{at: 20s, action: partition, for: 1s}",
        "f.yaml:8:5: faults.0.groups: required key missing: partition needs groups "
        "(at least two lists of node names, e.g. [[broker-0], [others]])",
    ),
    (
        "partition with one group",
        BASE,
        "{at: 20s, action: partition, groups: [[broker-0]]}",
        "f.yaml:8:42: faults.0.groups: a partition needs at least 2 groups, got 1 "
        "(use [others] for every node not named)",
    ),
    (
        "partition with a node in two groups",
        BASE,
        "{at: 20s, action: partition, groups: [[broker-0], [broker-0, others]]}",
        "f.yaml:8:56: faults.0.groups.1.0: 'broker-0' is already in group 0",
    ),
    (
        "partition of an unknown node",
        BASE,
        "{at: 20s, action: partition, groups: [[broker-7], [others]]}",
        "f.yaml:8:44: faults.0.groups.0.0: unknown node 'broker-7': the cluster has 3 brokers "
        "(broker-0..broker-2)",
    ),
    (
        "degrade without a value",
        BASE,
        "{at: 20s, action: degrade, from: broker-0}",
        "f.yaml:8:5: faults.0: degrade needs latency, loss or bandwidth",
    ),
    (
        "degrade of an unknown node",
        BASE,
        "{at: 20s, action: degrade, from: brokr-1, loss: 0.5}",
        "f.yaml:8:38: faults.0.from: unknown node 'brokr-1'; did you mean 'broker-1'? (or \"*\")",
    ),
    (
        "nemesis without every",
        BASE,
        "{action: nemesis, kinds: [crash], for: 5s}",
        "f.yaml:8:5: faults.0.every: required key missing: nemesis needs every "
        "(the time between two faults)",
    ),
    (
        "nemesis with for >= every",
        BASE,
        "{action: nemesis, kinds: [crash], every: 5s, for: 5s}",
        "f.yaml:8:55: faults.0.for: for (5s) must be shorter than every (5s): "
        "the nemesis injects one fault at a time",
    ),
    (
        "nemesis with at",
        BASE,
        "{at: 1s, action: nemesis, kinds: [crash], every: 15s, for: 5s}",
        "f.yaml:8:6: faults.0.at: 'at' does not apply to nemesis (it runs from start to stop)",
    ),
    (
        "nemesis kind that is not random",
        BASE,
        "{action: nemesis, kinds: [crash, restart], every: 15s, for: 5s}",
        "f.yaml:8:38: faults.0.kinds.1: expected 'crash', 'power-loss', 'pause', 'partition' or "
        "'degrade', got 'restart'",
    ),
    (
        "nemesis stop before start",
        BASE,
        "{action: nemesis, kinds: [crash], every: 15s, for: 5s, start: 10s, stop: 5s}",
        "f.yaml:8:78: faults.0.stop: stop must be after start",
    ),
    (
        "nemesis start after the end of the run",
        BASE,
        "{action: nemesis, kinds: [crash], every: 15s, for: 5s, start: 2m}",
        "f.yaml:8:67: faults.0.start: start 2m is not before the end of the run "
        "(duration + drain = 90s)",
    ),
    (
        "nemesis on zookeepers in a kraft cluster",
        BASE,
        "{action: nemesis, kinds: [crash], targets: zookeepers, every: 15s, for: 5s}",
        "f.yaml:8:48: faults.0.targets: 'zookeepers' needs coordinator: zookeeper "
        "(this kraft cluster has 'controllers')",
    ),
    (
        "nemesis on an unknown node",
        BASE,
        "{action: nemesis, kinds: [crash], targets: [broker-0, broker-5], every: 15s, for: 5s}",
        "f.yaml:8:59: faults.0.targets.1: unknown node 'broker-5': the cluster has 3 brokers "
        "(broker-0..broker-2)",
    ),
    (
        "nemesis on clients without clients",
        "\n" * 6,  # no producers or consumers
        "{action: nemesis, kinds: [pause], targets: clients, every: 15s, for: 5s}",
        "f.yaml:8:48: faults.0.targets: 'clients' names no node: there are no producers or "
        "consumers",
    ),
]


@pytest.mark.parametrize(("base", "item", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_error_messages(base: str, item: str, message: str) -> None:
    assert base.count("\n") == 6
    with pytest.raises(ScenarioError) as info:
        _faults(base, item)
    assert str(info.value) == message
    assert "\n" not in str(info.value)
    assert info.value.__cause__ is None


def test_selectors_in_partition_groups_are_accepted() -> None:
    """issue 7: selectors work as targets, so they work in partition groups too."""
    text = BASE + (
        "faults:\n"
        "  - {at: 20s, action: partition, groups: [[leader(ORDER-0), checkout-0], [others]]}\n"
        "  - {at: 30s, action: partition, groups: [[active-controller], [random-broker]]}\n"
        "  - {at: 40s, action: partition, groups: [[group-coordinator(billing)], [others]]}\n"
    )
    s = load_scenario_text(text, "f.yaml")
    assert s.faults[0].groups == [["leader(ORDER-0)", "checkout-0"], ["others"]]
    for bad, message in [
        (
            "leader(ORDER-9)",
            "f.yaml:8:44: faults.0.groups.0.0: no partition 9 in 'leader(ORDER-9)'",
        ),
        ("leader(PAY-0)", "f.yaml:8:44: faults.0.groups.0.0: unknown topic 'PAY'"),
        ("group-coordinator(x)", "f.yaml:8:44: faults.0.groups.0.0: unknown consumer group 'x'"),
    ]:
        with pytest.raises(ScenarioError) as info:
            load_scenario_text(
                BASE
                + f"faults:\n  - {{at: 20s, action: partition, groups: [[{bad}], [others]]}}\n",
                "f.yaml",
            )
        assert str(info.value).startswith(message), str(info.value)
