"""When an election's unavailability starts (``Outages``, ``elections.start_ms``), in KRaft and
ZooKeeper mode: the fault that took the old leader away in the cluster's view (crash, isolation
from the coordination), never an earlier network cut that left the leader leading."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from sim import run
from sim.scenario import load_scenario_text

MODES = ["kraft", "zookeeper"]


def scenario(coordinator: str, faults: str, *, duration: str = "60s") -> str:
    # One partition led by broker-0 (also the ZooKeeper-mode controller), unclean election on,
    # replica.lag.time.max.ms 10 s so that the ISR shrinks quickly.
    return f"""
name: outages
seed: 1
duration: {duration}
drain: 10s
cluster:
  brokers: 3
  coordinator: {coordinator}
  config: {{replica.lag.time.max.ms: 10000}}
network: {{latency: 1ms}}
topics:
  - name: T
    partitions: 1
    replication.factor: 3
    assignment: [[0, 1, 2]]
    config: {{min.insync.replicas: 1, unclean.leader.election.enable: true}}
producers:
  - {{name: p, topic: T, rate: 50/s, config: {{acks: all, linger.ms: 5}}}}
faults:
{faults}
"""


def run_text(text: str) -> Any:
    return run(load_scenario_text(text, "outages.yaml"), out=None)


def only_election(result: Any) -> Any:
    elections: pd.DataFrame = result.frames["elections"]
    assert len(elections) == 1, elections
    return elections.iloc[0]


@pytest.mark.parametrize("coordinator", MODES)
def test_a_cut_between_leader_and_follower_is_not_the_start_of_a_later_election(
    coordinator: str,
) -> None:
    # 5 s: broker-0 (leader) and broker-2 can no longer talk (both directions, nobody else cut):
    # broker-2 leaves the ISR, broker-0 keeps leading. 20 s: broker-1 crashes (ISR = {0}).
    # 35 s: broker-0 crashes: only then does T-0 lose its usable leader; broker-2 is elected
    # uncleanly once the controller notices (KRaft fencing ~9 s, ZooKeeper session ~18 s).
    # Before the fix the cut marked broker-0 lost at 5 s: max_election_ms read 37,001 (KRaft).
    result = run_text(
        scenario(
            coordinator,
            "  - {at: 5s, action: partition, groups: [[broker-0], [broker-2]]}\n"
            "  - {at: 20s, action: crash, target: broker-1}\n"
            "  - {at: 35s, action: crash, target: broker-0}",
        )
    )
    row = only_election(result)
    assert (row.old_leader, row.new_leader, row.kind) == (0, 2, "unclean")
    assert row.start_ms == 35000.0
    limit = 10000.0 if coordinator == "kraft" else 22000.0
    assert 0.0 < row.end_ms - row.start_ms <= limit
    assert result.summary["max_election_ms"] == row.end_ms - row.start_ms
    if coordinator == "zookeeper":
        # broker-0 was also the controller: its failover starts at its crash as well.
        failovers: pd.DataFrame = result.frames["controller_elections"]
        assert list(failovers.old_controller) == [0]
        assert list(failovers.start_ms) == [35000.0]


@pytest.mark.parametrize("coordinator", MODES)
def test_an_isolated_leader_is_lost_when_the_cut_begins(coordinator: str) -> None:
    # broker-1 leads and is cut off from every other node (controllers / ZooKeeper included):
    # the partition has no usable leader from the cut on.
    text = scenario(
        coordinator,
        "  - {at: 5s, action: partition, groups: [[broker-1], [others]], for: 30s}",
        duration="40s",
    ).replace("assignment: [[0, 1, 2]]", "assignment: [[1, 2, 0]]")
    row = only_election(run_text(text))
    assert (row.old_leader, row.new_leader, row.kind) == (1, 2, "clean")
    assert row.start_ms == 5000.0
    assert row.end_ms > 5000.0


def test_a_leader_whose_heartbeats_cannot_reach_the_controllers_is_lost_at_the_cut() -> None:
    # KRaft: broker-0 can still talk to its followers and clients, but its heartbeats no longer
    # reach the controllers (one-way cut): it is fenced after broker.session.timeout.ms, and the
    # partition's unavailability starts when its session stopped being renewed (the cut).
    controllers = "controller-0, controller-1, controller-2"
    row = only_election(
        run_text(
            scenario(
                "kraft",
                f"  - {{at: 5s, action: partition, groups: [[broker-0], [{controllers}]], "
                "one_way: true, for: 30s}",
                duration="40s",
            )
        )
    )
    assert row.old_leader == 0 and row.cause == "broker 0 fenced (session timeout)"
    assert row.start_ms == 5000.0
    assert 7000.0 <= row.end_ms - row.start_ms <= 9100.0


@pytest.mark.parametrize("coordinator", MODES)
def test_a_leader_cut_from_a_follower_only_has_no_election(coordinator: str) -> None:
    result = run_text(
        scenario(
            coordinator,
            "  - {at: 5s, action: partition, groups: [[broker-0], [broker-1]], for: 20s}",
            duration="30s",
        )
    )
    assert result.frames["elections"].empty
    assert result.frames["controller_elections"].empty


def test_a_leader_cut_from_zookeeper_is_lost_at_the_cut() -> None:
    # ZooKeeper mode: broker-1 (leader, not the controller) can no longer send to any ZooKeeper
    # server: its session expires and the controller moves leadership; the unavailability starts
    # at the cut. A cut from the controller broker alone (below) takes nothing away.
    text = scenario(
        "zookeeper",
        "  - {at: 5s, action: partition, groups: [[broker-1], [zookeeper-0, zookeeper-1, "
        "zookeeper-2]], one_way: true, for: 30s}",
        duration="40s",
    ).replace("assignment: [[0, 1, 2]]", "assignment: [[1, 2, 0]]")
    row = only_election(run_text(text))
    assert (row.old_leader, row.new_leader) == (1, 2)
    assert row.start_ms == 5000.0
    assert 12000.0 <= row.end_ms - row.start_ms <= 22000.0


def test_a_zookeeper_leader_cut_from_the_controller_only_is_not_lost() -> None:
    text = scenario(
        "zookeeper",
        "  - {at: 5s, action: partition, groups: [[broker-1], [broker-0]], for: 30s}\n"
        "  - {at: 20s, action: crash, target: broker-1}",
        duration="45s",
    ).replace("assignment: [[0, 1, 2]]", "assignment: [[1, 2, 0]]")
    row = only_election(run_text(text))
    assert row.old_leader == 1
    assert row.start_ms == 20000.0
