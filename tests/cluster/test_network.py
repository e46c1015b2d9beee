"""The network's loss modes end to end on hello-kafka (issue 9, section 1).

``loss_mode: tcp`` (the default): 2 % segment loss gives latency tails, not lost records,
timeouts, ISR shrinks or controller failovers; very high loss still ends in Kafka's timeouts.
``loss_mode: drop`` (explicit, UDP-like): a lost message is gone and requests time out.
The loader refuses the old ``retransmit`` mode with a located error naming ``tcp``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sim import run
from sim.cluster.net.tcp import RTO_MIN_MS
from sim.scenario import ScenarioError, load_scenario, load_scenario_text
from sim.scenario.models import NetworkSpec

HELLO = Path(__file__).resolve().parents[2] / "scenarios" / "hello-kafka.yaml"


def hello(*overrides: str) -> Any:
    return run(load_scenario(HELLO, list(overrides)), out=None)


def test_tcp_is_the_default_loss_mode() -> None:
    spec = NetworkSpec()
    assert spec.loss_mode == "tcp"
    assert spec.mss == 1460


@pytest.fixture(scope="module")
def loss_free() -> Any:
    return hello()


@pytest.fixture(scope="module")
def two_percent() -> Any:
    return hello("network.loss=0.02")


def test_two_percent_loss_gives_latency_tails_not_failures(
    loss_free: Any, two_percent: Any
) -> None:
    s, base = two_percent.summary, loss_free.summary
    assert s["records_acked"] >= 0.999 * s["records_sent"]
    assert s["records_failed"] == 0 and s["lost_acked_records"] == 0
    assert not any(k.startswith("produce_errors.") for k in s)  # no timeout, no disconnect
    assert s["controller_failovers"] == 0
    kinds = list(two_percent.frames["events"]["kind"])
    assert "isr_shrink" not in kinds and "fenced" not in kinds
    assert kinds.count("active_controller") == 1  # the first election only
    assert two_percent.meta["messages_retransmitted"] > 0
    assert two_percent.meta["messages_dropped"] == 0
    # Tails of hundreds of milliseconds: a lost lone segment costs the RTO (200 ms), two in a
    # row 600 ms.
    assert RTO_MIN_MS <= s["produce_latency_p99_ms"] < 1000.0
    # The median: every acks=all produce waits for two followers' fetch round trips, each a
    # lone request or response (a lost one costs the 200 ms RTO). At 2 % loss and about 200
    # round trips a second per follower, a follower is stalled most of the time, so the median
    # rises well above the loss-free one but stays under one RTO (docs/network.md).
    assert base["produce_latency_p50_ms"] < s["produce_latency_p50_ms"] < RTO_MIN_MS


def test_half_a_percent_loss_keeps_the_median(loss_free: Any) -> None:
    s = hello("network.loss=0.005").summary
    assert s["records_acked"] == s["records_sent"]
    assert s["controller_failovers"] == 0
    assert s["produce_latency_p50_ms"] <= 2.0 * loss_free.summary["produce_latency_p50_ms"]
    assert RTO_MIN_MS <= s["produce_latency_p99_ms"] < 1000.0


def test_very_high_loss_ends_in_timeouts_and_disconnects() -> None:
    result = hello("duration=40s", "drain=5s", "network.loss=0.5")
    s = result.summary
    # Several losses in a row of one segment (backoff 0.2 + 0.4 + ... s) outlast Kafka's
    # timers: request.timeout.ms closes connections, the KRaft quorum loses its leader.
    errors = sum(v for k, v in s.items() if k.startswith("produce_errors."))
    assert errors > 0
    assert s["records_acked"] < 0.2 * s["records_sent"]
    assert s["controller_failovers"] >= 1
    assert result.meta["messages_dropped"] == 0  # TCP lost nothing: it gave up on nothing yet


def test_drop_mode_loses_messages_and_requests_time_out() -> None:
    result = hello(
        "duration=5s",
        "drain=5s",
        "network.loss=0.02",
        "network.loss_mode=drop",
        "producers.0.config.request.timeout.ms=2000",
    )
    s = result.summary
    assert result.meta["messages_dropped"] > 0
    assert result.meta["messages_retransmitted"] == 0
    assert s.get("produce_errors.REQUEST_TIMED_OUT", 0) > 0
    # A dropped follower fetch stalls replication until replica.socket.timeout.ms (30 s).
    assert s["records_acked"] < s["records_sent"]


def test_the_old_retransmit_mode_is_refused_with_a_pointer_to_tcp() -> None:
    text = "name: x\nnetwork:\n  loss: 0.01\n  loss_mode: retransmit\n"
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "x.yaml")
    message = str(info.value)
    assert message.startswith("x.yaml:4:14: network.loss_mode: ")
    assert "loss_mode: tcp" in message
