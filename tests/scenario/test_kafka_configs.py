"""Kafka 3.9 config tables: names and defaults from kafka-semantics.md §1, Kafka's rules."""

from __future__ import annotations

import pytest

from sim.scenario.errors import PathValueError
from sim.scenario.kafka_configs import (
    BROKER,
    CONSUMER,
    PRODUCER,
    TOPIC,
    build_config,
    render_tables,
    topic_defaults_from_broker,
)

LONG_MAX = 2**63 - 1


def test_producer_defaults_3_9() -> None:
    cfg = build_config("producer", {})
    expected = {
        "acks": "all",
        "retries": 2147483647,
        "delivery.timeout.ms": 120000,
        "request.timeout.ms": 30000,
        "linger.ms": 0,
        "batch.size": 16384,
        "max.in.flight.requests.per.connection": 5,
        "enable.idempotence": True,
        "retry.backoff.ms": 100,
        "retry.backoff.max.ms": 1000,
        "max.block.ms": 60000,
        "buffer.memory": 33554432,
        "max.request.size": 1048576,
        "metadata.max.age.ms": 300000,
        "partitioner.class": None,
        "partitioner.ignore.keys": False,
        "partitioner.adaptive.partitioning.enable": True,
        "partitioner.availability.timeout.ms": 0,
        "compression.type": "none",
        "transaction.timeout.ms": 60000,
    }
    assert {k: cfg[k] for k in expected} == expected
    assert cfg.explicit == frozenset()
    assert list(cfg) == list(PRODUCER)


def test_consumer_defaults_3_9() -> None:
    cfg = build_config("consumer", {}, defaults={"group.id": "g"})
    expected = {
        "group.id": "g",
        "group.protocol": "classic",
        "session.timeout.ms": 45000,
        "heartbeat.interval.ms": 3000,
        "max.poll.interval.ms": 300000,
        "max.poll.records": 500,
        "fetch.min.bytes": 1,
        "fetch.max.wait.ms": 500,
        "fetch.max.bytes": 52428800,
        "max.partition.fetch.bytes": 1048576,
        "enable.auto.commit": True,
        "auto.commit.interval.ms": 5000,
        "auto.offset.reset": "latest",
        "isolation.level": "read_uncommitted",
        "request.timeout.ms": 30000,
        "default.api.timeout.ms": 60000,
        "retry.backoff.ms": 100,
        "allow.auto.create.topics": True,
    }
    assert {k: cfg[k] for k in expected} == expected
    assert cfg["partition.assignment.strategy"][0].endswith("RangeAssignor")


def test_consumer_without_group_has_no_auto_commit() -> None:
    assert build_config("consumer", {})["enable.auto.commit"] is False


def test_broker_defaults_3_9() -> None:
    cfg = build_config("broker", None)
    expected = {
        "num.partitions": 1,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        "unclean.leader.election.enable": False,
        "replica.lag.time.max.ms": 30000,
        "replica.fetch.wait.max.ms": 500,
        "replica.fetch.min.bytes": 1,
        "replica.fetch.max.bytes": 1048576,
        "replica.fetch.response.max.bytes": 10485760,
        "replica.fetch.backoff.ms": 1000,
        "num.replica.fetchers": 1,
        "replica.high.watermark.checkpoint.interval.ms": 5000,
        "log.retention.hours": 168,
        "log.retention.bytes": -1,
        "log.retention.check.interval.ms": 300000,
        "log.segment.bytes": 1073741824,
        "log.roll.hours": 168,
        "log.segment.delete.delay.ms": 60000,
        "log.flush.interval.messages": LONG_MAX,
        "log.flush.interval.ms": None,
        "log.flush.offset.checkpoint.interval.ms": 60000,
        "auto.create.topics.enable": True,
        "auto.leader.rebalance.enable": True,
        "leader.imbalance.check.interval.seconds": 300,
        "leader.imbalance.per.broker.percentage": 10,
        "controlled.shutdown.enable": True,
        "controlled.shutdown.max.retries": 3,
        "controlled.shutdown.retry.backoff.ms": 5000,
        "message.max.bytes": 1048588,
        "max.incremental.fetch.session.cache.slots": 1000,
        "offsets.topic.replication.factor": 3,
        "offsets.topic.num.partitions": 50,
        "offsets.retention.minutes": 10080,
        "offsets.commit.timeout.ms": 5000,
        "group.min.session.timeout.ms": 6000,
        "group.max.session.timeout.ms": 1800000,
        "group.initial.rebalance.delay.ms": 3000,
        "group.consumer.session.timeout.ms": 45000,
        "group.consumer.heartbeat.interval.ms": 5000,
        "group.consumer.assignors": ("uniform", "range"),
        "eligible.leader.replicas.enable": False,
        "num.io.threads": 8,
        "num.network.threads": 3,
        "zookeeper.session.timeout.ms": 18000,
        "controller.quorum.election.timeout.ms": 1000,
        "controller.quorum.fetch.timeout.ms": 2000,
        "controller.quorum.election.backoff.max.ms": 1000,
        "controller.quorum.request.timeout.ms": 2000,
        "controller.quorum.retry.backoff.ms": 20,
        "controller.quorum.append.linger.ms": 25,
        "broker.heartbeat.interval.ms": 2000,
        "broker.session.timeout.ms": 9000,
        "initial.broker.registration.timeout.ms": 60000,
    }
    assert {k: cfg[k] for k in expected} == expected


def test_topic_defaults_follow_broker() -> None:
    broker = build_config(
        "broker",
        {
            "min.insync.replicas": 2,
            "log.retention.hours": 1,
            "log.segment.bytes": "1MiB",
            "log.roll.ms": "10s",
            "unclean.leader.election.enable": True,
        },
    )
    topic = build_config("topic", {}, defaults=topic_defaults_from_broker(broker))
    assert topic["min.insync.replicas"] == 2
    assert topic["retention.ms"] == 3_600_000
    assert topic["segment.bytes"] == 2**20
    assert topic["segment.ms"] == 10_000
    assert topic["unclean.leader.election.enable"] is True
    assert topic["flush.ms"] == LONG_MAX


def test_retention_precedence_ms_minutes_hours() -> None:
    def retention(**broker: object) -> int:
        cfg = build_config("broker", {k.replace("_", "."): v for k, v in broker.items()})
        return int(topic_defaults_from_broker(cfg)["retention.ms"])

    assert retention() == 604_800_000
    assert retention(log_retention_minutes=2) == 120_000
    assert retention(log_retention_minutes=2, log_retention_ms=5) == 5
    assert retention(log_retention_ms=-1) == -1
    assert retention(log_roll_hours=1) == 604_800_000


def test_topic_table_names() -> None:
    assert set(TOPIC) >= {
        "min.insync.replicas",
        "unclean.leader.election.enable",
        "retention.ms",
        "retention.bytes",
        "segment.bytes",
        "segment.ms",
        "file.delete.delay.ms",
        "flush.messages",
        "flush.ms",
    }
    for d in TOPIC.values():
        assert d.related is not None and d.related in BROKER, d.name


@pytest.mark.parametrize(
    ("raw", "acks"), [("all", "all"), (-1, "all"), ("-1", "all"), (0, "0"), (1, "1"), ("1", "1")]
)
def test_acks_normalised(raw: object, acks: str) -> None:
    assert build_config("producer", {"acks": raw, "enable.idempotence": False})["acks"] == acks


def test_units_in_kafka_values() -> None:
    cfg = build_config(
        "producer", {"linger.ms": "5s", "batch.size": "64KiB", "delivery.timeout.ms": 1e6}
    )
    assert (cfg["linger.ms"], cfg["batch.size"], cfg["delivery.timeout.ms"]) == (
        5000,
        65536,
        1_000_000,
    )
    assert cfg.explicit == frozenset({"linger.ms", "batch.size", "delivery.timeout.ms"})
    assert isinstance(cfg["delivery.timeout.ms"], int)


def test_idempotence_quietly_off_when_not_explicit() -> None:
    assert build_config("producer", {"acks": 1})["enable.idempotence"] is False
    assert build_config("producer", {"retries": 0})["enable.idempotence"] is False
    cfg = build_config("producer", {"max.in.flight.requests.per.connection": 6})
    assert cfg["enable.idempotence"] is False


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        ({"acks": 1, "enable.idempotence": True}, ("acks",), "Must set acks to all"),
        ({"retries": 0, "enable.idempotence": True}, ("retries",), "Must set retries to non-zero"),
        (
            {"max.in.flight.requests.per.connection": 6, "enable.idempotence": True},
            ("max.in.flight.requests.per.connection",),
            "Must set max.in.flight",
        ),
        (
            {"delivery.timeout.ms": 30000, "linger.ms": 1},
            ("delivery.timeout.ms",),
            "delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms",
        ),
        (
            {"linger.mss": 5},
            ("linger.mss",),
            "unknown producer config 'linger.mss'; did you mean 'linger.ms'?",
        ),
        ({"acks": "some"}, ("acks",), "must be one of all, -1, 0, 1, got 'some'"),
        ({"linger.ms": -1}, ("linger.ms",), "must be >= 0, got -1"),
        ({"linger.ms": 0.5}, ("linger.ms",), "expected a whole number of milliseconds, got 0.5"),
        ({"retries": "many"}, ("retries",), "expected an integer, got 'many'"),
        (
            {"enable.idempotence": "yes"},
            ("enable.idempotence",),
            "expected true or false, got 'yes'",
        ),
        (
            {"compression.type": "zstdd"},
            ("compression.type",),
            "must be one of none, gzip, snappy, lz4, zstd, got 'zstdd'; did you mean 'zstd'?",
        ),
        ({"acks": None}, ("acks",), "may not be null"),
    ],
)
def test_producer_errors(raw: dict[str, object], path: tuple[str, ...], message: str) -> None:
    with pytest.raises(PathValueError) as info:
        build_config("producer", raw)
    assert info.value.subpath == path
    assert info.value.message.startswith(message)


def test_delivery_timeout_default_raised_like_kafka() -> None:
    cfg = build_config("producer", {"request.timeout.ms": 200_000})
    assert cfg["delivery.timeout.ms"] == 200_000


def test_heartbeat_below_session_timeout() -> None:
    with pytest.raises(PathValueError, match=r"heartbeat\.interval\.ms must be set lower") as e:
        build_config("consumer", {"session.timeout.ms": 3000})
    assert e.value.subpath == ("session.timeout.ms",)


def test_config_is_immutable_mapping() -> None:
    cfg = build_config("topic", {"retention.ms": "1h"})
    assert cfg["retention.ms"] == 3_600_000
    assert len(cfg) == len(TOPIC)
    with pytest.raises(TypeError):
        cfg["retention.ms"] = 1  # type: ignore[index]
    d = cfg.as_dict()
    d["retention.ms"] = 5
    assert cfg["retention.ms"] == 3_600_000
    assert cfg == build_config("topic", {"retention.ms": 3_600_000})


def test_every_default_passes_its_own_validator() -> None:
    for kind, table in (
        ("producer", PRODUCER),
        ("consumer", CONSUMER),
        ("broker", BROKER),
        ("topic", TOPIC),
    ):
        for d in table.values():
            group = {"group.id": "g"} if kind == "consumer" and d.name != "group.id" else {}
            cfg = build_config(kind, {d.name: d.default}, defaults=group)  # type: ignore[arg-type]
            assert cfg[d.name] == d.default, (kind, d.name)


def test_render_tables() -> None:
    text = render_tables()
    lines = text.splitlines()
    assert lines[0].startswith("BROKER configs (Kafka 3.9 defaults")
    assert any(
        line.startswith("num.io.threads") and " 8 " in line and "[1,...]" in line for line in lines
    )
    assert any(line.startswith("linger.ms") and "long (ms)" in line for line in lines)
    assert any(
        line.startswith("retention.ms") and "broker: log.retention.ms" in line for line in lines
    )
    for name in [*PRODUCER, *CONSUMER, *BROKER, *TOPIC]:
        assert name in text
