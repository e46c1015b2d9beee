"""Node-level RPC plumbing: answers in request order per connection, and a node that dies inside
a response callback while later answers on the same connection are held (issue 9, section 3:
a KRaft controlled shutdown at a multiple of broker.heartbeat.interval.ms ended the run with a
KeyError in ``Node.deliver``)."""

from __future__ import annotations

from typing import Any

import pytest

from sim import run
from sim.cluster.net.engine import SimEnv
from sim.cluster.net.network import Network, Node, Request
from sim.scenario import load_scenario_text
from sim.scenario.models import NetworkSpec


class Server(Node):
    """Answers each request after the delay given in its body (ms)."""

    def handle_request(self, source: str, request: Request) -> None:
        self.after(float(request.body), self.send_response, source, request, request.body, 10)


def pair() -> tuple[SimEnv, Node, Server]:
    simenv = SimEnv(seed=1)
    network = Network(simenv, NetworkSpec())  # 1 ms constant latency, no loss
    client = Node("client", simenv, network)
    server = Server("server", simenv, network)
    return simenv, client, server


def test_answers_are_handed_over_in_request_order() -> None:
    simenv, client, _ = pair()
    seen: list[tuple[float, Any]] = []
    for delay in (10.0, 1.0):
        client.send_request(
            "server", "Slow", delay, 10, 1000.0, lambda b, e: seen.append((simenv.now, b))
        )
    simenv.run(until=100.0)
    # The second answer arrives first (t=3) and is held until the first one (t=12).
    assert seen == [(12.0, 10.0), (12.0, 1.0)]


def test_crash_in_a_response_callback_while_later_answers_are_held() -> None:
    simenv, client, _ = pair()
    seen: list[Any] = []

    def first(body: Any, error: str | None) -> None:
        seen.append(("first", body, error))
        client.crash(reset_connections=True)  # e.g. finish_controlled_shutdown

    client.send_request("server", "Slow", 10.0, 10, 1000.0, first)
    client.send_request("server", "Slow", 1.0, 10, 1000.0, lambda b, e: seen.append(("2nd", b, e)))
    simenv.run(until=100.0)  # raised KeyError in Node.deliver before the fix
    # The process died in the first callback: the held second answer is never handed over.
    assert seen == [("first", 10.0, None)]
    assert not client.alive


def test_disconnect_in_a_response_callback_fails_the_held_answers() -> None:
    simenv, client, _ = pair()
    seen: list[Any] = []

    def first(body: Any, error: str | None) -> None:
        seen.append(("first", body, error))
        client.disconnect("server")

    client.send_request("server", "Slow", 10.0, 10, 1000.0, first)
    client.send_request("server", "Slow", 1.0, 10, 1000.0, lambda b, e: seen.append(("2nd", b, e)))
    simenv.run(until=100.0)
    # The connection was closed from the first callback: the second request failed with it.
    assert seen == [("first", 10.0, None), ("2nd", None, "NETWORK_EXCEPTION")]


SHUTDOWN_AT_A_HEARTBEAT = """
name: shutdown-at-heartbeat
duration: 15s
drain: 5s
cluster: {brokers: 3}
network:
  latency: {distribution: lognormal, median: 0.5ms, p99: 2ms}
topics:
  - {name: T, partitions: 3, replication.factor: 3, config: {min.insync.replicas: 2}}
producers:
  - {name: p, topic: T, rate: 1000/s, keys: {count: 100}, config: {acks: all, linger.ms: 5}}
faults:
  - {at: 10s, action: shutdown, target: broker-TARGET}
"""


@pytest.mark.usefixtures("zero_phases")
@pytest.mark.parametrize("target", [0, 1, 2])
def test_controlled_shutdown_at_a_heartbeat_tick(target: int) -> None:
    """The reported run: heartbeats at multiples of broker.heartbeat.interval.ms (phase 0), a
    controlled shutdown at 10 s. The heartbeat answer that says "shutdown ready" crashes the
    broker while a later answer on the heartbeat connection is held: exit 3 before the fix."""
    text = SHUTDOWN_AT_A_HEARTBEAT.replace("TARGET", str(target))
    result = run(load_scenario_text(text, "shutdown.yaml"), out=None)
    assert result.meta["status"] == "ok"
    events = result.frames["events"]
    assert list(events.loc[events["kind"] == "controlled_shutdown", "entity"]) == [
        f"broker-{target}"
    ]
    assert result.summary["lost_acked_records"] == 0
