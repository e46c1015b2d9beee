"""Scenario loading: defaults, Kafka's replica assignment, --set, and one-line located errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from sim.scenario import (
    SUMMARY_KEYS,
    KafkaConfig,
    Scenario,
    ScenarioError,
    default_assignment,
    load_scenario,
    load_scenario_text,
)

FULL = textwrap.dedent("""\
    name: order-flow
    description: >
      One producer sends orders to topic ORDER, one consumer group reads them.
    seed: 7
    duration: 60s
    drain: 30s

    cluster:
      brokers: 3
      coordinator: kraft
      controllers: 3
      config:
        replica.lag.time.max.ms: 30000
        unclean.leader.election.enable: false
      disk:
        flush: os
        os_flush_interval: 30s
      protocol:
        truncation: epoch
        strict_min_isr: true
        eligible_leader_replicas: false

    network:
      latency: 1ms
      loss: 0.0
      bandwidth: null
      links:
        - {from: broker-0, to: "*", latency: 20ms}

    topics:
      - name: ORDER
        partitions: 3
        replication.factor: 3
        assignment: [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
        config: {min.insync.replicas: 2, retention.ms: 604800000, segment.bytes: 1073741824}

    producers:
      - name: checkout
        count: 1
        topic: ORDER
        rate: 1000/s
        arrival: poisson
        keys: {count: 100}
        record_size: 200B
        start: 0s
        stop: null
        config: {acks: all, linger.ms: 5, enable.idempotence: true}

    consumers:
      - name: billing
        count: 2
        group: billing
        topics: [ORDER]
        processing: 0.2ms
        commit: auto
        config: {auto.offset.reset: earliest, max.poll.records: 500}

    expect:
      lost_acked_records: 0
      duplicated_records: 0
      max_election_ms: "< 10000"
""")

MINIMAL = textwrap.dedent("""\
    topics:
      - name: T
    producers:
      - name: p
        topic: T
        rate: 1k/s
""")


def test_full_example_from_scenarios_md() -> None:
    s = load_scenario_text(FULL, "order.yaml")
    assert (s.name, s.seed, s.duration_ms, s.drain_ms, s.source) == (
        "order-flow",
        7,
        60_000.0,
        30_000.0,
        "order.yaml",
    )
    assert s.cluster.coordinator == "kraft" and s.cluster.controllers == 3
    assert s.cluster.disk.os_flush_interval_ms == 30_000.0
    assert s.network.links[0].source == "broker-0" and s.network.links[0].target == "*"
    assert s.network.links[0].latency is not None
    assert s.network.links[0].latency.value_ms == 20.0
    t = s.topic("ORDER")
    assert t.config["min.insync.replicas"] == 2 and t.config.explicit >= {"min.insync.replicas"}
    p = s.producers[0]
    assert (p.rate_per_s, p.record_size_bytes, p.arrival, p.stop_ms) == (
        1000.0,
        200,
        "poisson",
        None,
    )
    assert p.keys is not None and (p.keys.count, p.keys.distribution, p.keys.s) == (
        100,
        "uniform",
        1.1,
    )
    assert p.config["linger.ms"] == 5 and p.config["enable.idempotence"] is True
    c = s.consumers[0]
    assert (c.group, c.commit, c.processing.kind, c.processing.value_ms) == (
        "billing",
        "auto",
        "constant",
        0.2,
    )
    assert c.config["group.id"] == "billing" and c.config["enable.auto.commit"] is True
    assert [(e.key, e.op, e.value) for e in s.expect] == [
        ("lost_acked_records", "==", 0.0),
        ("duplicated_records", "==", 0.0),
        ("max_election_ms", "<", 10000.0),
    ]
    assert s.node_names() == [
        "broker-0",
        "broker-1",
        "broker-2",
        "controller-0",
        "controller-1",
        "controller-2",
        "checkout-0",
        "billing-0",
        "billing-1",
    ]


def test_defaults() -> None:
    s = load_scenario_text("", "/some/dir/empty-one.yaml")
    assert (s.name, s.seed, s.duration_ms, s.drain_ms) == ("empty-one", 1, 60_000.0, 30_000.0)
    assert (s.cluster.brokers, s.cluster.coordinator, s.cluster.controllers) == (3, "kraft", 3)
    assert s.network.latency.kind == "constant" and s.network.latency.value_ms == 1.0
    assert (s.network.loss, s.network.bandwidth_bytes_per_ms, s.network.links) == (0.0, None, [])
    assert (s.cluster.disk.flush, s.cluster.disk.os_flush_interval_ms) == ("os", 30_000.0)
    assert s.cluster.protocol.truncation == "epoch"
    assert s.cluster.protocol.strict_min_isr is True
    assert s.cluster.protocol.eligible_leader_replicas is False
    rh = s.cluster.request_handling
    assert (rh.io_threads, rh.per_request_ms, rh.per_byte_ms) == (8, 0.02, 0.000001)
    assert isinstance(s.cluster.config, KafkaConfig)
    assert s.cluster.config["num.network.threads"] == 3
    assert (s.topics, s.producers, s.consumers, s.expect) == ([], [], [], [])
    assert load_scenario_text("seed: 2").name == "scenario"


def test_topic_defaults_from_broker_config() -> None:
    s = load_scenario_text(
        textwrap.dedent("""\
        cluster:
          config:
            num.partitions: 4
            default.replication.factor: 2
            min.insync.replicas: 2
            log.retention.hours: 1
            log.segment.bytes: 1MiB
            log.roll.hours: 2
        topics:
          - name: A
          - name: B
            config: {retention.ms: 5s}
    """)
    )
    a, b = s.topics
    assert (a.partitions, a.replication_factor) == (4, 2)
    assert a.assignment == [[0, 1], [1, 2], [2, 0], [0, 2]]
    assert a.config["min.insync.replicas"] == 2
    assert a.config["retention.ms"] == 3_600_000
    assert a.config["segment.bytes"] == 2**20
    assert a.config["segment.ms"] == 7_200_000
    assert a.config.explicit == frozenset()
    assert b.config["retention.ms"] == 5000 and b.config.explicit == frozenset({"retention.ms"})


def test_default_assignment_like_kafka_admin_utils() -> None:
    assert default_assignment(3, 3, 3) == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    assert default_assignment(6, 2, 3) == [[0, 1], [1, 2], [2, 0], [0, 2], [1, 0], [2, 1]]
    assert default_assignment(2, 1, 1) == [[0], [0]]
    assert default_assignment(5, 3, 5)[:2] == [[0, 1, 2], [1, 2, 3]]
    s = load_scenario_text("topics: [{name: T, partitions: 3, replication.factor: 3}]")
    assert s.topic("T").assignment == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]


@given(st.integers(1, 30), st.integers(1, 8), st.data())
def test_default_assignment_properties(partitions: int, brokers: int, data: st.DataObject) -> None:
    rf = data.draw(st.integers(1, brokers))
    a = default_assignment(partitions, rf, brokers)
    assert len(a) == partitions
    for p, replicas in enumerate(a):
        assert len(replicas) == rf == len(set(replicas))
        assert replicas[0] == p % brokers
        assert all(0 <= b < brokers for b in replicas)


def test_partitions_and_rf_from_explicit_assignment() -> None:
    s = load_scenario_text("topics: [{name: T, assignment: [[2, 0], [0, 1]]}]")
    t = s.topic("T")
    assert (t.partitions, t.replication_factor, t.assignment) == (2, 2, [[2, 0], [0, 1]])


def test_idempotence_and_delivery_timeout_quiet_rules() -> None:
    s = load_scenario_text(
        MINIMAL,
        overrides=["producers.0.config.acks=1", "producers.0.config.request.timeout.ms=200s"],
    )
    cfg = s.producers[0].config
    assert cfg["acks"] == "1" and cfg["enable.idempotence"] is False
    assert cfg["delivery.timeout.ms"] == 200_000
    assert cfg.explicit == frozenset({"acks", "request.timeout.ms"})


def test_consumer_commit_defaults() -> None:
    base = MINIMAL + "consumers:\n  - {name: c, topics: [T]}\n  - {name: g, group: G, topics: T}\n"
    a, b = load_scenario_text(base).consumers
    assert (a.group, a.commit, a.config["enable.auto.commit"], a.config["group.id"]) == (
        None,
        "none",
        False,
        None,
    )
    assert (b.group, b.commit, b.topics, b.config["enable.auto.commit"]) == (
        "G",
        "auto",
        ["T"],
        True,
    )
    c = load_scenario_text(
        MINIMAL + "consumers:\n  - {name: c, topics: [T], group: G, commit: after-processing}\n"
    ).consumers[0]
    assert (c.commit, c.config["enable.auto.commit"]) == ("after-processing", False)
    d = load_scenario_text(
        MINIMAL + "consumers:\n  - {name: c, topics: [T], config: {group.id: G, "
        "enable.auto.commit: false}}\n"
    ).consumers[0]
    assert (d.group, d.commit) == ("G", "none")


def test_distributions() -> None:
    s = load_scenario_text(
        textwrap.dedent("""\
        network:
          latency: {distribution: lognormal, median: 1ms, p99: 8ms}
          bandwidth: 125MB/s
          links:
            - {from: broker-1, to: broker-2, latency: {distribution: uniform, low: 1ms, high: 3ms}}
            - {from: "*", to: broker-0, latency: {distribution: exponential, mean: 500us}}
    """)
    )
    lat = s.network.latency
    assert (lat.kind, lat.median_ms, lat.p99_ms) == ("lognormal", 1.0, 8.0)
    assert s.network.bandwidth_bytes_per_ms == 125_000.0
    u, e = (link.latency for link in s.network.links)
    assert u is not None and (u.kind, u.low_ms, u.high_ms) == ("uniform", 1.0, 3.0)
    assert e is not None and (e.kind, e.mean_ms) == ("exponential", 0.5)


def test_one_e_three_is_a_number() -> None:
    s = load_scenario_text("duration: 1e3\ncluster: {brokers: 1e0}\nseed: 1.0e+1\n")
    assert (s.duration_ms, s.cluster.brokers, s.seed) == (1000.0, 1, 10)


def test_overrides() -> None:
    s = load_scenario_text(
        FULL,
        "order.yaml",
        overrides=[
            "producers.0.config.acks=1",
            "producers.0.config.enable.idempotence=false",
            "duration=10s",
            "cluster.brokers=5",
            "topics.0.replication.factor=2",
            "topics.0.assignment=[[0, 1], [1, 2], [2, 3]]",
            "cluster.disk.flush=every-append",
            "expect.records_sent=>= 10",
            "network.latency=2ms",
            "consumers.0.count=1",
        ],
    )
    assert s.producers[0].config["acks"] == "1"
    assert s.duration_ms == 10_000.0 and s.cluster.brokers == 5
    assert s.topic("ORDER").replication_factor == 2
    assert s.cluster.disk.flush == "every-append"
    assert s.expect[-1].key == "records_sent" and s.expect[-1].op == ">="
    assert s.network.latency.value_ms == 2.0
    empty = load_scenario_text("", overrides=["cluster.config.num.io.threads=2"])
    assert empty.cluster.request_handling.io_threads == 2


def test_load_scenario_from_file(tmp_path: Path) -> None:
    path = tmp_path / "my-run.yaml"
    path.write_text(MINIMAL)
    s = load_scenario(path, ["seed=3"])
    assert (s.name, s.seed, s.source) == ("my-run", 3, str(path))
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "missing.yaml")
    assert str(info.value).startswith(f"{tmp_path / 'missing.yaml'}:1:1: cannot read file")


def test_effective_dict_is_plain_and_reloadable() -> None:
    s = load_scenario_text(FULL, "order.yaml")
    d = s.effective_dict()

    def plain(x: object) -> bool:
        if isinstance(x, dict):
            return all(isinstance(k, str) and plain(v) for k, v in x.items())
        if isinstance(x, list):
            return all(plain(v) for v in x)
        return x is None or type(x) in (int, float, str, bool)

    assert plain(d)
    assert d["duration"] == 60_000.0 and d["drain"] == 30_000.0
    assert d["producers"][0]["config"]["linger.ms"] == 5
    assert len(d["cluster"]["config"]) == len(s.cluster.config)
    assert d["expect"]["max_election_ms"] == "< 10000"
    assert "source" not in d
    text = _dump(d)
    again = load_scenario_text(text, "order.yaml")
    assert again.effective_dict() == d


def _dump(d: dict[str, object]) -> str:
    import io

    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(d, out)
    return out.getvalue()


def test_summary_keys() -> None:
    assert len(SUMMARY_KEYS) == len(set(SUMMARY_KEYS)) == 24
    assert "lost_acked_records" in SUMMARY_KEYS and "e2e_latency_p99_ms" in SUMMARY_KEYS
    assert "max_produce_unavailability_ms" in SUMMARY_KEYS
    assert "max_producer_stall_ms" in SUMMARY_KEYS and "records_unfinished" in SUMMARY_KEYS
    s = load_scenario_text("expect: {produce_errors.NOT_ENOUGH_REPLICAS: '<= 3', elections: '!=0'}")
    assert [(e.key, e.op, e.value) for e in s.expect] == [
        ("produce_errors.NOT_ENOUGH_REPLICAS", "<=", 3.0),
        ("elections", "!=", 0.0),
    ]


def test_models_are_frozen() -> None:
    s = load_scenario_text(MINIMAL)
    with pytest.raises(ValueError, match="frozen"):
        s.seed = 5  # type: ignore[misc]
    assert isinstance(s, Scenario)


# ------------------------------------------------------------------ errors, exact text

PRODUCER_T = "topics: [{name: T}]\nproducers:\n  - name: p\n    topic: T\n    rate: 1k/s\n"

BAD = [
    (
        "unknown top-level key",
        "nmae: x\n",
        [],
        "f.yaml:1:1: nmae: unknown key 'nmae'; did you mean 'name'?",
    ),
    (
        "unknown nested key",
        "cluster:\n  borkers: 2\n",
        [],
        "f.yaml:2:3: cluster.borkers: unknown key 'borkers'; did you mean 'brokers'?",
    ),
    (
        "unknown key in a list item",
        "topics:\n  - name: T\n    partitons: 2\n",
        [],
        "f.yaml:3:5: topics.0.partitons: unknown key 'partitons'; did you mean 'partitions'?",
    ),
    (
        "unknown Kafka config name",
        PRODUCER_T + "    config:\n      linger.mss: 5\n",
        [],
        "f.yaml:7:7: producers.0.config.linger.mss: unknown producer config 'linger.mss'; "
        "did you mean 'linger.ms'?",
    ),
    (
        "unknown broker config name",
        "cluster:\n  config: {replica.lag.time.max: 5}\n",
        [],
        "f.yaml:2:12: cluster.config.replica.lag.time.max: unknown broker config "
        "'replica.lag.time.max'; did you mean 'replica.lag.time.max.ms'?",
    ),
    (
        "wrong type",
        "cluster:\n  brokers: abc\n",
        [],
        "f.yaml:2:12: cluster.brokers: expected an integer, got 'abc'",
    ),
    (
        "wrong type in a Kafka config",
        "cluster:\n  config:\n    unclean.leader.election.enable: yes\n",
        [],
        "f.yaml:3:37: cluster.config.unclean.leader.election.enable: expected true or false, "
        "got 'yes'",
    ),
    (
        "out of range",
        "cluster:\n  brokers: 0\n",
        [],
        "f.yaml:2:12: cluster.brokers: must be >= 1, got 0",
    ),
    (
        "Kafka config out of range",
        "topics:\n  - name: T\n    config: {min.insync.replicas: 0}\n",
        [],
        "f.yaml:3:35: topics.0.config.min.insync.replicas: must be >= 1, got 0",
    ),
    (
        "loss out of range",
        "network: {loss: 1.5}\n",
        [],
        "f.yaml:1:17: network.loss: must be <= 1, got 1.5",
    ),
    (
        "bad choice",
        "cluster: {coordinator: kraf}\n",
        [],
        "f.yaml:1:24: cluster.coordinator: expected 'kraft' or 'zookeeper', got 'kraf'; "
        "did you mean 'kraft'?",
    ),
    (
        "bad duration",
        "duration: 5 parsecs\n",
        [],
        "f.yaml:1:11: duration: unknown duration unit 'parsecs' in '5 parsecs' "
        "(use one of: ns, us, µs, ms, s, m, min, h, d)",
    ),
    (
        "duplicate key",
        "seed: 1\nseed: 2\n",
        [],
        "f.yaml:2:1: seed: duplicate key 'seed' (first at line 1)",
    ),
    (
        "duplicate nested key",
        "topics:\n  - name: T\n    config:\n      retention.ms: 1\n      retention.ms: 2\n",
        [],
        "f.yaml:5:7: topics.0.config.retention.ms: duplicate key 'retention.ms' (first at line 4)",
    ),
    (
        "RF > brokers",
        "cluster: {brokers: 2}\ntopics:\n  - name: T\n    replication.factor: 3\n",
        [],
        "f.yaml:4:25: topics.0.replication.factor: replication factor 3 larger than available "
        "brokers 2",
    ),
    (
        "bad assignment id",
        "cluster: {brokers: 2}\ntopics:\n  - name: T\n    assignment: [[0, 5]]\n",
        [],
        "f.yaml:4:22: topics.0.assignment.0.1: unknown broker id 5 (brokers are 0..1)",
    ),
    (
        "repeated broker in assignment",
        "topics:\n  - name: T\n    assignment: [[1, 1]]\n",
        [],
        "f.yaml:3:22: topics.0.assignment.0.1: broker 1 listed twice for partition 0",
    ),
    (
        "assignment length",
        "topics:\n  - name: T\n    partitions: 2\n    assignment: [[0]]\n",
        [],
        "f.yaml:4:17: topics.0.assignment: assignment has 1 replica lists but the topic has "
        "2 partitions",
    ),
    (
        "producer to unknown topic",
        "topics: [{name: ORDER}]\nproducers:\n  - name: p\n    topic: ORDERS\n    rate: 1k/s\n",
        [],
        "f.yaml:4:12: producers.0.topic: unknown topic 'ORDERS'; did you mean 'ORDER'?",
    ),
    (
        "consumer of unknown topic",
        "topics: [{name: ORDER}]\nconsumers:\n  - name: c\n    topics: [ORDER, PAY]\n",
        [],
        "f.yaml:4:21: consumers.0.topics.1: unknown topic 'PAY'",
    ),
    (
        "acks=1 with explicit idempotence",
        PRODUCER_T + "    config: {acks: 1, enable.idempotence: true}\n",
        [],
        "f.yaml:6:20: producers.0.config.acks: Must set acks to all in order to use the "
        "idempotent producer. Otherwise we cannot guarantee idempotence. "
        "(enable.idempotence=true is set explicitly)",
    ),
    (
        "delivery.timeout.ms < linger.ms + request.timeout.ms",
        PRODUCER_T + "    config:\n      linger.ms: 5\n      delivery.timeout.ms: 30000\n",
        [],
        "f.yaml:8:28: producers.0.config.delivery.timeout.ms: delivery.timeout.ms should be equal "
        "to or larger than linger.ms + request.timeout.ms (30000 < 30005)",
    ),
    (
        "commit auto without group",
        "topics: [{name: T}]\nconsumers:\n  - name: c\n    topics: [T]\n    commit: auto\n",
        [],
        "f.yaml:5:13: consumers.0.commit: 'auto' needs a consumer group (Kafka has no commits "
        "without group.id); set group: or commit: none",
    ),
    (
        "missing key",
        "topics:\n  - partitions: 2\n",
        [],
        "f.yaml:2:5: topics.0.name: required key missing",
    ),
    (
        "unknown summary key",
        "expect:\n  lost_acked: 0\n",
        [],
        "f.yaml:2:3: expect.lost_acked: unknown summary key 'lost_acked'; "
        "did you mean 'lost_acked_records'?",
    ),
    (
        "node name collision",
        "topics: [{name: T}]\nproducers:\n  - {name: broker, topic: T, rate: 1}\n",
        [],
        "f.yaml:3:12: producers.0.name: node name 'broker-0' is already a broker",
    ),
    (
        "distribution missing a parameter",
        "network:\n  latency: {distribution: lognormal, median: 1ms}\n",
        [],
        "f.yaml:2:12: network.latency: lognormal distribution needs median and p99",
    ),
    (
        "link to an unknown node",
        "network:\n  links:\n    - {from: broker-9, to: '*'}\n",
        [],
        "f.yaml:3:14: network.links.0.from: unknown node 'broker-9'; did you mean 'broker-2'? "
        '(or "*")',
    ),
    (
        "fault on an unknown node (more in test_faults.py)",
        "faults:\n  - {at: 20s, action: crash, target: broker-3}\n",
        [],
        "f.yaml:2:38: faults.0.target: unknown node 'broker-3': the cluster has 3 brokers "
        "(broker-0..broker-2)",
    ),
    (
        "YAML syntax error",
        "cluster:\n  brokers: [1\n  x: 2\n",
        [],
        "f.yaml:3:4: YAML syntax error: expected ',' or ']', but got ':'",
    ),
    ("top level not a mapping", "- 1\n", [], "f.yaml:1:1: a scenario must be a mapping of keys"),
    (
        "bad --set path",
        PRODUCER_T,
        ["seed=2", "cluster.borkers=5"],
        "--set:2:9: cluster.borkers: unknown key 'borkers'; did you mean 'brokers'?",
    ),
    (
        "bad --set list index",
        PRODUCER_T,
        ["producers.3.rate=1"],
        "--set:1:11: producers.3: no item '3' in a list of 1",
    ),
    ("--set without '='", PRODUCER_T, ["seed"], "--set:1:1: expected key.path=value, got 'seed'"),
    (
        "--set value error points at the value",
        PRODUCER_T,
        ["duration=abc"],
        "--set:1:10: duration: expected a duration such as '250ms', got 'abc'",
    ),
    (
        "--set of a Kafka config checked like the file",
        PRODUCER_T,
        ["producers.0.config.acks=1", "producers.0.config.enable.idempotence=true"],
        "--set:1:25: producers.0.config.acks: Must set acks to all in order to use the idempotent "
        "producer. Otherwise we cannot guarantee idempotence. "
        "(enable.idempotence=true is set explicitly)",
    ),
    (
        "--set into a scalar",
        PRODUCER_T,
        ["seed.x=1"],
        "--set:1:6: seed: not a mapping or list, cannot set 'x' in it",
    ),
]


@pytest.mark.parametrize(
    ("text", "overrides", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_error_messages(text: str, overrides: list[str], message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "f.yaml", overrides)
    assert str(info.value) == message
    assert "\n" not in str(info.value)
    assert info.value.__cause__ is None
