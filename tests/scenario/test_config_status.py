"""Config classification (`sim.scenario.config_status`): every config of the tables is
classified; warnings name each config that cannot change the run (issue 14 item 5); the CLI
prints them on stderr without changing the exit code and meta.json lists them; and the
classification is honest: a `no effect` config is never read while a cluster runs, every other
one is read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sim.analysis.recorder import Recorder
from sim.cli import main
from sim.cluster.build import build
from sim.cluster.net.engine import SimEnv
from sim.scenario import load_scenario_text
from sim.scenario.config_status import STATUS, config_warnings, status_of, status_text
from sim.scenario.kafka_configs import TABLES, KafkaConfig, render_tables


def test_every_config_of_every_table_is_classified() -> None:
    names = {(kind, name) for kind, table in TABLES.items() for name in table}
    assert set(STATUS) == names
    for (kind, name), status in STATUS.items():
        assert status.status in ("modelled", "partial", "no-effect"), (kind, name)
        if status.status != "modelled":
            assert len(status.note) > 20, (kind, name)  # says what part, or why not
        assert status.mode in (None, "kraft", "zookeeper"), (kind, name)
        if status.warn_when is not None:
            assert status.status == "partial", (kind, name)


def test_the_configs_of_the_issue_have_no_effect() -> None:
    assert status_of("consumer", "isolation.level").status == "no-effect"
    assert status_of("producer", "transaction.timeout.ms").status == "no-effect"
    assert status_of("producer", "acks").status == "modelled"
    assert status_text(status_of("broker", "broker.session.timeout.ms")) == "modelled (KRaft)"
    assert status_text(status_of("producer", "max.request.size")) == "partial"


def scenario(
    *,
    coordinator: str = "kraft",
    cluster: str = "{}",
    topic: str = "{}",
    producer: str = "{}",
    producer2: str = "{}",
    consumer: str = "{auto.offset.reset: earliest}",
) -> str:
    return f"""
name: configs
duration: 2s
drain: 1s
cluster: {{brokers: 3, coordinator: {coordinator}, config: {cluster}}}
network: {{latency: 1ms}}
topics:
  - {{name: T, partitions: 2, replication.factor: 3, config: {topic}}}
producers:
  - {{name: p, topic: T, rate: 50/s, config: {producer}}}
  - {{name: q, topic: T, rate: 50/s, config: {producer2}}}
consumers:
  - {{name: c, group: g, topics: [T], config: {consumer}}}
"""


def warnings_of(text: str) -> list[str]:
    return config_warnings(load_scenario_text(text, "configs.yaml"))


def test_read_committed_and_a_transaction_timeout_are_named_and_explained() -> None:
    text = scenario(
        producer="{transaction.timeout.ms: 30s}",
        consumer="{isolation.level: read_committed}",
    )
    assert warnings_of(text) == [
        "producer config transaction.timeout.ms=30000 (producers.0): no effect: no producer in "
        "this scenario is transactional: transactions (transactional.id) are not modelled yet",
        "consumer config isolation.level=read_committed (consumers.0): no effect: no producer "
        "in this scenario is transactional: transactions (transactional.id) are not modelled "
        "yet; consumers read up to the high watermark, which is also the last stable offset "
        "when nothing is transactional",
    ]


def test_defaults_and_modelled_configs_give_no_warning() -> None:
    text = scenario(
        cluster="{replica.lag.time.max.ms: 10000, zookeeper.session.timeout.ms: 18000}",
        topic="{flush.messages: 9223372036854775807, retention.ms: 1h}",
        producer="{transaction.timeout.ms: 60000, linger.ms: 20, enable.idempotence: false}",
        consumer="{isolation.level: read_uncommitted, fetch.max.wait.ms: 100}",
    )
    assert warnings_of(text) == []


def test_one_warning_per_config_and_value_naming_every_owner() -> None:
    text = scenario(
        topic="{flush.messages: 1}",
        producer="{compression.type: lz4}",
        producer2="{compression.type: lz4, max.request.size: 2MiB}",
    )
    assert warnings_of(text) == [
        "topic config flush.messages=1 (topics.0): no effect: Kafka's flush policy is not read: "
        "when data reaches the disk is set by cluster.disk (flush: os, the page cache written "
        "every os_flush_interval; or flush: every-append)",
        "producer config compression.type=lz4 (producers.0, producers.1): no effect: batches "
        "are not compressed: their size on the wire and on disk is the uncompressed size",
        "producer config max.request.size=2097152 (producers.1): modelled only in part: it "
        "bounds how many batches go into one ProduceRequest; a record larger than it is not "
        "rejected (RecordTooLargeException is not modelled yet)",
    ]


@pytest.mark.parametrize(
    ("coordinator", "cluster", "expected"),
    [
        ("kraft", "{zookeeper.session.timeout.ms: 6000}", ["zookeeper.session.timeout.ms=6000"]),
        ("zookeeper", "{zookeeper.session.timeout.ms: 6000}", []),
        ("zookeeper", "{broker.session.timeout.ms: 6000}", ["broker.session.timeout.ms=6000"]),
        ("kraft", "{controlled.shutdown.enable: false}", ["controlled.shutdown.enable=false"]),
        ("zookeeper", "{controlled.shutdown.enable: false}", []),
    ],
)
def test_coordination_mode_specific_configs(
    coordinator: str, cluster: str, expected: list[str]
) -> None:
    warnings = warnings_of(scenario(coordinator=coordinator, cluster=cluster))
    assert [w.split(" (")[0].removeprefix("broker config ") for w in warnings] == expected
    if coordinator == "zookeeper" and expected:
        assert warnings[0].endswith(
            "applies to KRaft mode only (Kafka ignores it too); this cluster runs ZooKeeper"
        )


def test_configs_lists_the_status_of_every_config() -> None:
    text = render_tables(("consumer",))
    lines = text.splitlines()
    header = lines[1]
    column = header.index("status")
    isolation = next(line for line in lines if line.startswith("isolation.level "))
    assert isolation[column:].startswith("no effect ")
    fetch = next(line for line in lines if line.startswith("fetch.max.wait.ms "))
    assert fetch[column:].startswith("modelled ")
    assert any(line.startswith("  isolation.level: no effect: no producer") for line in lines)
    everything = render_tables()
    for (_, name), status in STATUS.items():
        if status.status != "modelled":
            assert f"  {name}: {status_text(status)}: {status.note}" in everything


# -- the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def warned_file(tmp_path: Path) -> Path:
    path = tmp_path / "configs.yaml"
    path.write_text(scenario(consumer="{isolation.level: read_committed}"))
    return path


def test_validate_warns_on_stderr_and_exits_0(
    warned_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(warned_file)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{warned_file}: ok (configs)\n"
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"{warned_file}: warning: consumer config isolation.level=read_committed (consumers.0): "
        "no effect: no producer in this scenario is transactional"
    )


def test_run_warns_on_stderr_and_lists_the_warnings_in_meta_json(
    warned_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", str(warned_file), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 0
    _, err = capsys.readouterr()
    assert len(err.splitlines()) == 1 and ": warning: consumer config isolation.level" in err
    (meta_file,) = (tmp_path / "out" / "configs").glob("*/meta.json")
    meta = json.loads(meta_file.read_text())
    assert meta["warnings"] == [err.splitlines()[0].split(": warning: ", 1)[1]]


# -- honesty: what the simulator reads -----------------------------------------------------------

HONESTY_SCENARIO = """
name: honesty
duration: 12s
drain: 2s
cluster:
  brokers: 3
  coordinator: {coordinator}
  config: {{leader.imbalance.check.interval.seconds: 1, log.retention.check.interval.ms: 1000}}
network: {{latency: 1ms}}
topics:
  - {{name: T, partitions: 3, replication.factor: 3, assignment: [[0, 1, 2], [1, 2, 0], [2, 0, 1]]}}
  - {{name: U}}  # num.partitions, default.replication.factor
producers:
  - {{name: p, topic: T, rate: 100/s, keys: {{count: 10}}, config: {{acks: all}}}}
  - {{name: u, topic: U, rate: 10/s}}
consumers:
  - {{name: c, group: g, topics: [T], config: {{auto.offset.reset: earliest}}}}
  - {{name: solo, topics: [T], config: {{auto.offset.reset: earliest}}}}
faults:
  - {{at: 2s, action: partition, groups: [[broker-2], [broker-0]], for: 2s}}
  - {{at: 5s, action: shutdown, target: broker-1, for: 3s}}
"""


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[tuple[str, str]]]:
    """Every (kind, name) read from a KafkaConfig while the fixture is active."""
    seen: set[tuple[str, str]] = set()
    original = KafkaConfig.__getitem__

    def recording(self: KafkaConfig, name: str) -> Any:
        seen.add((self.kind, name))
        return original(self, name)

    monkeypatch.setattr(KafkaConfig, "__getitem__", recording)
    yield seen


def simulate(text: str, reads: set[tuple[str, str]]) -> tuple[set[tuple[str, str]], set[Any]]:
    """(configs read while loading, configs read while the cluster is built and runs)."""
    reads.clear()
    scenario = load_scenario_text(text, "honesty.yaml")
    loading = set(reads)
    reads.clear()
    simenv = SimEnv(scenario.seed, Recorder("r", scenario.seed, scenario.name))
    cluster = build(scenario, simenv)
    cluster.start()
    simenv.run(cluster.load_end_ms)
    cluster.end_load()
    simenv.run(cluster.end_ms)
    cluster.finish()
    return loading, set(reads)


# Consumer configs the loader turns into scenario keys before any KafkaConfig exists (it reads
# the raw mapping): group.id is the consumer's `group`, enable.auto.commit its `commit` mode.
MAPPED_BY_THE_LOADER = {("consumer", "group.id"), ("consumer", "enable.auto.commit")}


def test_the_loader_maps_group_id_and_enable_auto_commit() -> None:
    text = scenario(consumer="{group.id: other, enable.auto.commit: false}").replace(
        "group: g, ", ""
    )
    consumer = load_scenario_text(text, "configs.yaml").consumers[0]
    assert (consumer.group, consumer.commit) == ("other", "none")
    consumer = load_scenario_text(scenario(), "configs.yaml").consumers[0]
    assert (consumer.group, consumer.commit) == ("g", "auto")


@pytest.mark.slow
def test_no_effect_configs_are_never_read_and_every_other_config_is(
    reads: set[tuple[str, str]],
) -> None:
    # A cluster of each mode with a keyed producer, a group and a standalone consumer, retention
    # and leader-rebalance checks, a network cut (follower fetch errors) and a controlled
    # shutdown. Reads while loading count only towards "read" (the loader derives topic defaults
    # from broker configs and the group from group.id, whether or not anything uses them later).
    loaded: set[tuple[str, str]] = set()
    running: set[tuple[str, str]] = set()
    for coordinator in ("kraft", "zookeeper"):
        at_load, at_run = simulate(HONESTY_SCENARIO.format(coordinator=coordinator), reads)
        loaded |= at_load
        running |= at_run
    no_effect = {key for key, status in STATUS.items() if status.status == "no-effect"}
    assert sorted(no_effect & running) == [], sorted(no_effect & running)
    # A broker config counts as read when the topic config it is the default of is read.
    related = {
        ("broker", d.name)
        for d in TABLES["broker"].values()
        if d.related is not None and ("topic", d.related) in running
    }
    read = loaded | running | related | MAPPED_BY_THE_LOADER
    unread = sorted(key for key in STATUS if key not in no_effect and key not in read)
    assert unread == [], unread
