"""The nemesis's `recover: true` (issue 7): "one faulty broker at a time" made strict.

Random power losses every 5 s, each for 1 s, on the safe configuration (RF 3, min ISR 2,
acks=all, idempotence, no unclean election). Without `recover` a broker is often still out of
the ISR (or not even noticed as failed: KRaft fences it only after broker.session.timeout.ms,
9 s) when the next one loses power; when the whole ISR has lost power within the OS flush
interval, acknowledged records are gone: Kafka's own behaviour with `flush: os` (replication is
its durability, and two correlated power losses defeat it). With `recover: true` each fault waits
until the previous broker is registered again, back in every ISR and caught up: nothing is lost.
docs/nemesis.md has the analysis of the traces.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from sim import run
from sim.scenario import ScenarioError, load_scenario_text


def scenario(seed: int, coordinator: str, recover: bool) -> str:
    return f"""
name: nemesis
seed: {seed}
duration: 60s
drain: 30s
cluster: {{brokers: 3, coordinator: {coordinator},
           config: {{unclean.leader.election.enable: false}}}}
network: {{latency: {{distribution: lognormal, median: 0.5ms, p99: 3ms}}}}
topics:
  - {{name: T, partitions: 3, replication.factor: 3, config: {{min.insync.replicas: 2}}}}
producers:
  - {{name: p, topic: T, rate: 200/s, keys: {{count: 30}},
      config: {{acks: all, enable.idempotence: true, linger.ms: 5}}}}
consumers:
  - {{name: c, group: g, topics: [T], commit: after-processing,
      config: {{auto.offset.reset: earliest}}}}
faults:
  - {{action: nemesis, kinds: [power-loss], every: 5s, for: 1s, start: 2s, recover: {recover}}}
"""


NEMESIS_LINE = (
    "{action: nemesis, kinds: [power-loss], every: 5s, for: 1s, start: 2s, recover: True}"
)


def run_text(text: str) -> Any:
    return run(load_scenario_text(text, "nemesis.yaml"), out=None)


@pytest.mark.slow
def losing_seeds(coordinator: str, wanted: int = 2, tries: int = 10) -> list[int]:
    """The first seeds whose random schedule puts two power losses on the ISR within the OS
    flush interval, so that the run without `recover` loses acknowledged records (Kafka's own
    behaviour). Searched rather than fixed: any change of timing moves the schedule's hits; over
    seeds 1-12, 5-7 of 12 KRaft runs and 10 of 12 ZooKeeper runs lost data."""
    found = []
    for seed in range(1, tries + 1):
        if run_text(scenario(seed, coordinator, recover=False)).summary["lost_acked_records"]:
            found.append(seed)
            if len(found) == wanted:
                break
    return found


@pytest.mark.slow
@pytest.mark.parametrize("coordinator", ["kraft", "zookeeper"])
def test_recover_keeps_the_safe_configuration_safe(coordinator: str) -> None:
    seeds = losing_seeds(coordinator)
    assert seeds, "no seed lost data without recover: the test scenario no longer provokes it"
    for seed in seeds:
        strict = run_text(scenario(seed, coordinator, recover=True))
        s = strict.summary
        assert s["records_acked"] > 10_000
        assert s["lost_acked_records"] == 0, (seed, strict.verdict.examples["lost_acked_records"])
        assert s["duplicated_records"] == 0 and s["unclean_elections"] == 0
        events: pd.DataFrame = strict.frames["events"]
        faults = events[events.kind == "fault:power-loss"]
        recovered = events[events.kind == "fault:recovered"]
        assert len(recovered) == len(faults) - 1 or len(recovered) == len(faults)
        # Each fault after the first waits for the previous broker to be whole again: at least
        # `every` apart, and more when the broker needed longer (fenced, registered, caught up).
        gaps = faults.time_ms.diff().dropna()
        assert (gaps >= 5000).all()
        assert (gaps > 5000).any()


def test_recover_waits_for_the_previous_broker() -> None:
    result = run_text(scenario(8, "kraft", recover=True).replace("duration: 60s", "duration: 25s"))
    events: pd.DataFrame = result.frames["events"]
    rows = events[events.kind.isin(["fault:power-loss", "fault:recovered", "fenced"])]
    first, recovered = rows.iloc[0], rows[rows.kind == "fault:recovered"].iloc[0]
    assert first.kind == "fault:power-loss"
    assert recovered.entity == first.entity
    # KRaft notices the power loss only at the session timeout (9 s), so the broker is whole
    # again only after that: the next fault waits well beyond `every`.
    assert recovered.time_ms > first.time_ms + 9000
    fenced = rows[(rows.kind == "fenced") & (rows.entity == first.entity)]
    assert fenced.time_ms.iloc[0] < recovered.time_ms


def test_recover_is_a_nemesis_boolean() -> None:
    with pytest.raises(ScenarioError, match=r"faults\.0\.recover: expected true or false"):
        load_scenario_text(
            scenario(1, "kraft", recover=True).replace("recover: True", "recover: 1")
        )
    with pytest.raises(ScenarioError, match="'recover' does not apply to crash"):
        load_scenario_text(
            scenario(1, "kraft", recover=True).replace(
                NEMESIS_LINE, "{at: 1s, action: crash, target: broker-0, recover: true}"
            )
        )
