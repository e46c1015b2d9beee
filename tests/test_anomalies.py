"""The anomaly scenarios: each shows its anomaly, and the fix removes it (kafka-semantics §7).

Where the fix is a per-topic setting the scenario compares both topics in its own `expect:`
(run by tests/test_scenarios.py); here are the fixes that are cluster-wide settings, which one
run cannot compare, plus the timing facts the issue asks for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import load_scenario, run

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def summary_of(name: str, *overrides: str) -> dict:
    return run(load_scenario(SCENARIOS / f"{name}.yaml", list(overrides)), out=None).summary


@pytest.mark.parametrize(("truncation", "lost"), [("high-watermark", True), ("epoch", False)])
def test_kip101_high_watermark_truncation_loses_acked_records_epoch_does_not(
    truncation: str, lost: bool
) -> None:
    s = summary_of("kip101-truncation", f"cluster.protocol.truncation={truncation}")
    assert (s["lost_acked_records"] > 0) is lost
    assert s["unclean_elections"] == 0


@pytest.mark.parametrize(
    ("switch", "lost"),
    [
        ("cluster.protocol.eligible_leader_replicas=false", True),
        ("cluster.protocol.eligible_leader_replicas=true", False),
        # Kafka 3.9's own broker config turns ELR on just the same.
        ("cluster.config.eligible.leader.replicas.enable=true", False),
    ],
)
def test_last_replica_standing_loses_committed_data_without_elr(switch: str, lost: bool) -> None:
    s = summary_of("last-replica-standing", switch)
    assert (s["lost_acked_records"] > 0) is lost
    assert s["unclean_elections"] == 0


def test_kraft_leader_failover_takes_about_the_broker_session_timeout() -> None:
    # Fenced broker.session.timeout.ms (9 s) after its last heartbeat (every 2 s): 7-9 s.
    s = summary_of("leader-failover")
    assert 7000 <= s["max_election_ms"] <= 9100
    assert s["lost_acked_records"] == 0


def test_acks_all_writes_survive_the_zombie_leader() -> None:
    s = summary_of("acks1-loss")
    assert s["lost_acked_records.ACKS1"] > 0
    assert s["lost_acked_records.ACKSALL"] == 0


def test_zookeeper_takes_about_the_zookeeper_session_timeout_to_elect() -> None:
    kraft = summary_of("kraft-vs-zookeeper-kraft")
    zookeeper = summary_of("kraft-vs-zookeeper-zookeeper")
    # KRaft: broker.session.timeout.ms (9 s) after the last heartbeat.
    assert 5000 <= kraft["max_election_ms"] <= 9100
    # ZooKeeper: zookeeper.session.timeout.ms (18 s) after the last ping, on a 3 s tick.
    assert 11000 <= zookeeper["max_election_ms"] <= 22000
    assert kraft["lost_acked_records"] == zookeeper["lost_acked_records"] == 0


def test_controller_failover_in_both_modes_leaves_partition_leaders_alone() -> None:
    kraft = summary_of("controller-failover")
    zookeeper = summary_of("controller-failover-zookeeper")
    assert kraft["controller_failovers"] == zookeeper["controller_failovers"] == 1
    assert kraft["max_controller_failover_ms"] < 4000  # Raft: fetch timeout + a vote
    assert 11000 <= zookeeper["max_controller_failover_ms"] <= 23000  # session + reload
    for s in (kraft, zookeeper):
        assert s["elections"] == 0
        assert s["lost_acked_records"] == 0
        assert s["produce_latency_p99_ms"] < 100  # leaders kept serving acks=all writes


@pytest.mark.parametrize("coordinator", ["kraft", "zookeeper"])
def test_preferred_leader_comes_back_after_the_failover(coordinator: str) -> None:
    # auto.leader.rebalance.enable: once the crashed preferred leader is back in the ISR, the
    # periodic check (300 s by default, 10 s here) moves leadership back to it.
    result = run(
        load_scenario(
            SCENARIOS / "leader-failover.yaml",
            [
                f"cluster.coordinator={coordinator}",
                "cluster.config.leader.imbalance.check.interval.seconds=10",
                "drain=40s",
            ],
        ),
        out=None,
    )
    elections = result.frames["elections"]
    preferred = elections.loc[elections["kind"] == "preferred"]
    assert len(preferred) >= 1
    assert (preferred["new_leader"] == 0).all()  # ORDER-0's preferred replica is broker-0
    leaders = result.frames["partitions"]
    leader = leaders.loc[(leaders["partition"] == 0) & (leaders["role"] == "leader"), "broker"]
    assert leader.tolist() == [0]
    assert result.summary["lost_acked_records"] == 0


@pytest.mark.parametrize(("coordinator", "lost"), [("zookeeper", True), ("kraft", False)])
def test_quick_unclean_leader_restart_loses_data_only_in_zookeeper_mode(
    coordinator: str, lost: bool
) -> None:
    s = summary_of("zookeeper-unclean-restart", f"cluster.coordinator={coordinator}")
    assert (s["lost_acked_records"] > 0) is lost
    assert s["unclean_elections"] == 0


def test_consumer_detects_the_truncation_after_an_unclean_election() -> None:
    # KIP-320: the consumer's position is past the new leader's log end; it resets to the
    # divergence point instead of re-reading the partition from the start.
    result = run(load_scenario(SCENARIOS / "unclean-election.yaml"), out=None)
    positions = result.frames["positions"]
    resets = positions.loc[(positions["kind"] == "reset") & (positions["topic"] == "UNCLEAN")]
    assert resets["reason"].tolist() == ["LOG_TRUNCATION"]
    assert (resets["new_position"] < resets["old_position"]).all()
    assert result.summary["duplicate_deliveries"] == 0
