"""Periodic timers start at phases drawn per component (issue 9, section 2): nodes do not boot in
step, so a fault at a round time lands at a different point of each heartbeat, ping or tick
cycle from seed to seed, and leader failover times form Kafka's real ranges, not one figure.

The ten-seed distributions are slow tests (about a minute each); the rest is exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import run
from sim.analysis.recorder import Recorder
from sim.cluster.coordination.controller_zk import ZkStore, ZooKeeperNode
from sim.cluster.coordination.zk_broker import ping_interval_ms
from sim.cluster.net.engine import SimEnv
from sim.cluster.net.network import Network
from sim.scenario import load_scenario
from sim.scenario.models import NetworkSpec

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SEEDS = range(1, 11)


def test_phases_are_drawn_per_component_and_seed() -> None:
    a, b = SimEnv(seed=1), SimEnv(seed=1)
    first = [a.phase("broker-0", 2000.0) for _ in range(3)]
    assert first == [b.phase("broker-0", 2000.0) for _ in range(3)]  # same seed, same draws
    assert all(0.0 <= p < 2000.0 for p in first)
    assert len(set(first)) == 3  # one draw per timer
    assert SimEnv(seed=2).phase("broker-0", 2000.0) != first[0]
    assert SimEnv(seed=1).phase("broker-1", 2000.0) != first[0]
    assert a.phase("broker-0", 0.0) == 0.0


def test_zero_phases_is_for_tests(zero_phases: None) -> None:
    simenv = SimEnv(seed=1)
    assert simenv.zero_phases
    assert simenv.phase("broker-0", 2000.0) == 0.0


def test_zookeeper_ping_interval_follows_client_cnxn() -> None:
    # readTimeout = 2/3 of the session; ping after readTimeout/2 - 1 s of silence.
    assert ping_interval_ms(18_000) == 5_000.0  # Kafka's zookeeper.session.timeout.ms
    assert ping_interval_ms(6_000) == 1_000.0  # readTimeout/2 = 2 s: just over 1 s of silence
    assert ping_interval_ms(3_000) == 1_000.0  # readTimeout/2 = 1 s
    assert ping_interval_ms(60_000) == 10_000.0  # MAX_SEND_PING_INTERVAL
    assert ping_interval_ms(1_500) == 500.0


def test_zookeeper_ticks_sit_at_the_ensemble_phase() -> None:
    simenv = SimEnv(3, Recorder("r", 3, "zk"))
    network = Network(simenv, NetworkSpec())
    store = ZkStore(simenv, 18_000.0)
    server = ZooKeeperNode(0, simenv, network, store)
    offset = store.tick_offset
    assert 0.0 < offset < 3000.0
    sid = store.open_session("client", server)  # last heard at 0
    expiry = store.expires_at(store.sessions[sid])
    # The first tick boundary (offset + k * 3 s) after 0 + 18 s.
    assert 18_000.0 < expiry <= 21_000.0
    assert (expiry - offset) % 3000.0 == pytest.approx(0.0, abs=1e-6)
    store.start()
    simenv.run(until=expiry - 1.0)
    assert sid in store.sessions
    simenv.run(until=expiry + 1.0)
    assert sid not in store.sessions


def failover_ms(scenario: str, seed: int, duration: str) -> float:
    path = SCENARIOS / scenario
    result = run(
        load_scenario(path, [f"seed={seed}", f"duration={duration}", "drain=5s"]), out=None
    )
    assert result.summary["lost_acked_records"] == 0
    return float(result.summary["max_election_ms"])


@pytest.mark.slow
def test_kraft_leader_failover_spreads_over_seeds() -> None:
    """A broker crashes at 10 s; the controller fences it broker.session.timeout.ms (9 s) after
    its last heartbeat (every 2 s, at the broker's own phase): 7-9 s without a leader."""
    times = [failover_ms("leader-failover.yaml", seed, "20s") for seed in SEEDS]
    assert all(7_000.0 <= t <= 9_500.0 for t in times), times
    assert max(times) - min(times) >= 1_500.0, times


@pytest.mark.slow
def test_zookeeper_leader_failover_spreads_over_seeds() -> None:
    """The crashed broker's session was last heard at its last ping (5 s of silence, at its own
    phase), expires on the first ZooKeeper tick (3 s, at the ensemble's phase) after 18 s more:
    13-21 s without a leader."""
    times = [failover_ms("kraft-vs-zookeeper-zookeeper.yaml", seed, "35s") for seed in SEEDS]
    assert all(12_000.0 <= t <= 22_000.0 for t in times), times
    assert max(times) - min(times) >= 4_000.0, times
