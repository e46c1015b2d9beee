"""Conservation: with no faults and no message loss, every record sent is acknowledged, stored
once, in order, and processed exactly once by its consumer group, whatever the configuration."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import run
from sim.scenario import load_scenario_text

# 12 examples keep the suite fast; CONSERVATION_EXAMPLES=150 was run when the test was written.
EXAMPLES = int(os.environ.get("CONSERVATION_EXAMPLES", "12"))


@st.composite
def healthy_scenarios(draw: st.DrawFn) -> str:
    brokers = draw(st.integers(1, 4))
    rf = draw(st.integers(1, brokers))
    partitions = draw(st.integers(1, 4))
    min_isr = draw(st.integers(1, rf))
    acks = draw(st.sampled_from(["1", "all"]))
    idempotence = acks == "all" and draw(st.booleans())
    linger = draw(st.sampled_from([0, 2, 10]))
    in_flight = draw(st.sampled_from([1, 5]))
    rate = draw(st.sampled_from([50, 400, 2000]))
    keys = draw(st.sampled_from(["null", "{count: 7}", "{count: 50, distribution: zipf}"]))
    latency = draw(st.sampled_from(["1ms", "{distribution: lognormal, median: 1ms, p99: 5ms}"]))
    members = draw(st.integers(1, 3))
    commit = draw(st.sampled_from(["auto", "after-processing"]))
    processing = draw(st.sampled_from(["0ms", "0.2ms"]))
    max_poll = draw(st.sampled_from([7, 500]))
    return f"""
name: conservation
seed: {draw(st.integers(0, 10_000))}
duration: 1500ms
drain: 4s
cluster: {{brokers: {brokers}}}
network: {{latency: {latency}}}
topics:
  - name: T
    partitions: {partitions}
    replication.factor: {rf}
    config: {{min.insync.replicas: {min_isr}}}
producers:
  - name: p
    count: 2
    topic: T
    rate: {rate}/s
    keys: {keys}
    config:
      acks: {acks}
      enable.idempotence: {str(idempotence).lower()}
      linger.ms: {linger}
      max.in.flight.requests.per.connection: {in_flight}
consumers:
  - name: c
    count: {members}
    group: g
    topics: [T]
    commit: {commit}
    processing: {processing}
    config: {{auto.offset.reset: earliest, max.poll.records: {max_poll}}}
"""


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The same examples in every CI run; HYPOTHESIS_EXPLORE=1 searches new ones.
    derandomize=not os.environ.get("HYPOTHESIS_EXPLORE"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(healthy_scenarios())
def test_every_acked_record_is_consumed_exactly_once(text: str) -> None:
    result = run(load_scenario_text(text, "conservation.yaml"), out=None)
    s: dict[str, Any] = result.summary
    assert s["records_sent"] > 0
    assert s["records_acked"] == s["records_sent"]
    assert s["records_failed"] == 0
    assert s["lost_acked_records"] == 0
    assert s["duplicated_records"] == 0
    assert s["reordered_records"] == 0
    assert s["records_consumed"] == s["records_acked"]
    assert s["duplicate_deliveries"] == 0
    assert s["unconsumed_records"] == 0
    assert s["skipped_records"] == 0
    # The final logs hold exactly the acknowledged records, all below the high watermark.
    log = result.frames["log"]
    assert int(log["count"].sum()) == s["records_acked"]
    assert bool(log["committed"].all())
