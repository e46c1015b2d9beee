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


@pytest.mark.parametrize(("elr", "lost"), [("false", True), ("true", False)])
def test_last_replica_standing_loses_committed_data_without_elr(elr: str, lost: bool) -> None:
    s = summary_of("last-replica-standing", f"cluster.protocol.eligible_leader_replicas={elr}")
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
