"""The network's loss modes: a lost message is dropped (the requester times out) or resent by TCP
after the retransmission timeout (it arrives late, later messages wait behind it)."""

from __future__ import annotations

from pathlib import Path

from sim import run
from sim.scenario import load_scenario

HELLO = Path(__file__).resolve().parents[2] / "scenarios" / "hello-kafka.yaml"


def test_retransmit_mode_delivers_everything_late() -> None:
    result = run(
        load_scenario(
            HELLO,
            ["duration=5s", "drain=5s", "network.loss=0.02", "network.loss_mode=retransmit"],
        ),
        out=None,
    )
    s = result.summary
    assert result.meta["messages_retransmitted"] > 0
    assert result.meta["messages_dropped"] == 0
    assert s["records_acked"] == s["records_sent"] == s["records_consumed"]
    assert not any(k.startswith("produce_errors.") for k in s)  # nothing timed out
    assert s["produce_latency_p99_ms"] >= 200  # one RTO_MIN behind a resent segment


def test_drop_mode_loses_messages_and_requests_time_out() -> None:
    result = run(
        load_scenario(
            HELLO,
            [
                "duration=5s",
                "drain=5s",
                "network.loss=0.02",
                "producers.0.config.request.timeout.ms=2000",
            ],
        ),
        out=None,
    )
    s = result.summary
    assert result.meta["messages_dropped"] > 0
    assert result.meta["messages_retransmitted"] == 0
    assert s.get("produce_errors.REQUEST_TIMED_OUT", 0) > 0
    # A dropped follower fetch stalls replication until replica.socket.timeout.ms (30 s).
    assert s["records_acked"] < s["records_sent"]
