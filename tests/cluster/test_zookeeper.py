"""ZooKeeper mode: session-expiry failover, controller failover, zombie-controller fencing."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from sim import run
from sim.analysis.recorder import Recorder
from sim.cluster.build import build
from sim.cluster.coordination.controller_zk import (
    RELOAD_BASE_MS,
    STALE_CONTROLLER_EPOCH,
    LeaderAndIsrRequest,
    ZkOp,
    ZkStore,
    ZooKeeperNode,
)
from sim.cluster.coordination.zk_broker import ZkBrokerClient
from sim.cluster.net.engine import SimEnv
from sim.cluster.net.network import Network, Request
from sim.kafka.election import PartitionState
from sim.scenario import load_scenario_text
from sim.scenario.models import NetworkSpec

SESSION_TIMEOUT_MS = 18000.0


def scenario(faults: str, *, brokers: int = 3, assignment: str = "", duration: str = "25s") -> str:
    return f"""
name: zk
seed: 1
duration: {duration}
drain: 20s
cluster: {{brokers: {brokers}, coordinator: zookeeper}}
network:
  latency: {{distribution: lognormal, median: 0.5ms, p99: 2ms}}
topics:
  - name: T
    partitions: 3
    replication.factor: 3
    {assignment}
    config: {{min.insync.replicas: 2}}
producers:
  - name: p
    topic: T
    rate: 200/s
    keys: {{count: 50}}
    config: {{acks: all, linger.ms: 5}}
consumers:
  - name: c
    group: g
    topics: [T]
    commit: after-processing
    config: {{auto.offset.reset: earliest}}
faults:
{faults}
"""


def run_text(text: str) -> Any:
    return run(load_scenario_text(text, "zk.yaml"), out=None)


def test_leader_crash_fails_over_after_the_zookeeper_session_expires() -> None:
    # broker-0 is the controller; T-0 is led by broker-1, which crashes at 5 s.
    text = scenario(
        "  - {at: 5s, action: crash, target: leader(T-0)}",
        assignment="assignment: [[1, 2, 0], [2, 0, 1], [0, 1, 2]]",
    )
    result = run_text(text)
    elections: pd.DataFrame = result.frames["elections"]
    t0 = elections[elections.partition == 0]
    assert len(t0) == 1
    row = t0.iloc[0]
    assert (row.old_leader, row.new_leader, row.kind) == (1, 2, "clean")
    assert row.start_ms == 5000.0
    # The last ping came up to session.timeout/3 before the crash and expiry waits for the next
    # 3 s ZooKeeper tick: about zookeeper.session.timeout.ms after the crash.
    assert 15000.0 <= row.end_ms - row.start_ms <= 20000.0
    assert row.leader_epoch == 1
    assert result.frames["controller_elections"].empty  # the controller was not touched
    summary = result.summary
    assert summary["records_acked"] == summary["records_sent"] > 0
    assert summary["lost_acked_records"] == 0
    assert summary["duplicated_records"] == 0
    assert result.verdict.ok


def test_controller_crash_elects_a_new_controller_while_leaders_keep_serving() -> None:
    # Four brokers; the controller (broker-0) hosts no replica of T.
    text = scenario(
        "  - {at: 5s, action: crash, target: active-controller, for: 25s}",
        brokers=4,
        assignment="assignment: [[1, 2, 3], [2, 3, 1], [3, 1, 2]]",
        duration="35s",
    )
    result = run_text(text)
    rows: pd.DataFrame = result.frames["controller_elections"]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row.coordinator == "zookeeper"
    assert row.old_controller == 0 and row.new_controller != 0
    assert row.epoch == 2
    assert row.start_ms == 5000.0
    failover = row.end_ms - row.start_ms
    assert 12000.0 + RELOAD_BASE_MS <= failover <= SESSION_TIMEOUT_MS + 3000.0 + 1000.0
    assert result.frames["elections"].empty  # no partition lost its leader
    # Produce acks continue through the controller failover, in every 2 s window.
    produce: pd.DataFrame = result.frames["produce"]
    acked = produce[produce.outcome == "acked"]
    for start in range(6000, int(row.end_ms), 2000):
        window = acked[(acked.time_ms >= start) & (acked.time_ms < start + 2000)]
        assert window["count"].sum() > 0, f"no acks in [{start}, {start + 2000}) ms"
    assert result.summary["lost_acked_records"] == 0
    assert result.verdict.ok


def test_zookeeper_majority_loss_expires_no_session() -> None:
    # Without a quorum nothing is served and nothing expires; afterwards sessions start afresh.
    text = scenario(
        "  - {at: 5s, action: crash, target: zookeeper-0, for: 20s}\n"
        "  - {at: 5s, action: crash, target: zookeeper-1, for: 20s}",
        duration="30s",
    )
    result = run_text(text)
    assert result.frames["elections"].empty
    assert result.frames["controller_elections"].empty
    events: pd.DataFrame = result.frames["events"]
    assert not (events.kind == "zk_session_expired").any()
    assert result.summary["lost_acked_records"] == 0


def built_cluster(text: str) -> Any:
    sc = load_scenario_text(text, "zk.yaml")
    simenv = SimEnv(1, Recorder("r", 1, "zk"))
    return build(sc, simenv)


def test_zombie_controller_leader_and_isr_is_ignored() -> None:
    cluster = built_cluster(scenario("  []"))
    broker = cluster.brokers[1]
    client = broker.controller
    assert isinstance(client, ZkBrokerClient)
    client.start()
    key = ("T", 0)
    replicas = cluster.final_state()[key].replicas
    assert replicas[0] == 0 and broker.partitions[key].leader_id == 0
    # A new controller (broker-2, epoch 2) makes broker-1 the leader of T-0.
    new = PartitionState(replicas, isr=(1, 2), leader=1, leader_epoch=1, partition_epoch=1)
    client.handle_leader_and_isr(
        "broker-2", Request("LeaderAndIsr", 1, LeaderAndIsrRequest(2, 2, {key: new}), 64)
    )
    replica = broker.partitions[key]
    assert replica.is_leader and replica.leader_epoch == 1
    assert client.controller_epoch == 2
    # The old controller (broker-0, epoch 1) still believes broker-0 leads, with a higher leader
    # epoch: its request carries the stale controller epoch and is ignored.
    stale = PartitionState(replicas, isr=(0, 1, 2), leader=0, leader_epoch=5, partition_epoch=5)
    responses: list[Any] = []
    broker.send_response = lambda target, request, body, size: responses.append(body)
    client.handle_leader_and_isr(
        "broker-0", Request("LeaderAndIsr", 2, LeaderAndIsrRequest(0, 1, {key: stale}), 64)
    )
    assert responses[-1].error == STALE_CONTROLLER_EPOCH
    assert replica.is_leader and replica.leader_epoch == 1
    assert client.controller_epoch == 2
    # Same controller epoch, but an older leader epoch than applied: ignored per partition.
    older = PartitionState(replicas, isr=(0, 1, 2), leader=0, leader_epoch=0, partition_epoch=0)
    client.handle_leader_and_isr(
        "broker-2", Request("LeaderAndIsr", 3, LeaderAndIsrRequest(2, 2, {key: older}), 64)
    )
    assert responses[-1].error is None
    assert replica.is_leader and replica.leader_epoch == 1


def test_selectors_and_final_state_in_zookeeper_mode() -> None:
    cluster = built_cluster(scenario("  []"))
    node = cluster.active_controller_node()
    assert node is not None and node.name == "broker-0"
    assert [z.name for z in cluster.zookeepers] == ["zookeeper-0", "zookeeper-1", "zookeeper-2"]
    state = cluster.final_state()
    assert sorted(state) == [("T", 0), ("T", 1), ("T", 2)]
    assert all(s.leader == s.replicas[0] for s in state.values())


@pytest.mark.usefixtures("zero_phases")  # ticks at multiples of 3 s
def test_store_quorum_ephemerals_and_conditional_writes() -> None:
    simenv = SimEnv(1, Recorder("r", 1, "zk"))
    network = Network(simenv, NetworkSpec())
    store = ZkStore(simenv, SESSION_TIMEOUT_MS)
    servers = [ZooKeeperNode(i, simenv, network, store) for i in range(3)]
    sid = store.open_session("client", servers[0])
    assert store.execute(sid, [ZkOp("create", "/controller", 7, ephemeral=True)]).error is None
    assert store.execute(sid, [ZkOp("create", "/controller", 8)]).error == "NODE_EXISTS"
    store.bootstrap_node("/e", 1)
    assert store.execute(sid, [ZkOp("set", "/e", 2, version=3)]).error == "BAD_VERSION"
    # A transaction is atomic: the failing check leaves the set undone.
    txn = [ZkOp("set", "/e", 2, version=0), ZkOp("check", "/e", version=9)]
    result = store.execute(sid, txn)
    assert (result.error, result.failed_op) == ("BAD_VERSION", 1)
    assert store.nodes["/e"].data == 1
    # Expiry: on the first 3 s tick after last heard + timeout; ephemerals go with it.
    assert store.expires_at(store.sessions[sid]) == 21000.0
    store.expire(sid)
    assert "/controller" not in store.nodes and "/e" in store.nodes
    # Quorum: a server needs a reachable majority.
    assert servers[0].has_quorum()
    servers[1].crash(reset_connections=True)
    assert servers[0].has_quorum()
    network.partition([["zookeeper-0"], ["zookeeper-2"]])
    assert not servers[0].has_quorum()
    assert not servers[2].has_quorum()


def test_the_bootstrap_controller_runs_the_auto_leader_rebalance() -> None:
    # auto.leader.rebalance.enable (default true) every 5 s here, threshold 0 %: broker-1 (the
    # preferred leader of T-0) shuts down at 3 s and is back at 8 s; the first controller (no
    # failover happened) gives it T-0 back at its next check. It used to schedule the check
    # only after a controller failover.
    text = scenario(
        "  - {at: 3s, action: shutdown, target: broker-1, for: 5s}",
        assignment="assignment: [[1, 2, 0], [2, 0, 1], [0, 1, 2]]",
    ).replace(
        "coordinator: zookeeper}",
        "coordinator: zookeeper, config: {leader.imbalance.check.interval.seconds: 5, "
        "leader.imbalance.per.broker.percentage: 0}}",
    )
    result = run_text(text)
    assert result.frames["controller_elections"].empty
    elections: pd.DataFrame = result.frames["elections"]
    t0 = elections[elections.partition == 0]
    assert list(zip(t0.kind, t0.old_leader, t0.new_leader, strict=True)) == [
        ("controlled", 1, 2),
        ("preferred", 2, 1),
    ]
    assert 8000.0 < t0.time_ms.iloc[1] <= 15000.0 + 100.0
