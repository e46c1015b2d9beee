"""The TCP connection model (sim/cluster/net/tcp.py): segment arithmetic, the RTO backoff, the
loss draws (against a brute-force per-segment simulation), and exact traces of two nodes over
one link with scripted losses: tail loss (RTO), fast retransmit, RACK repair by later data,
head-of-line blocking per connection only, a closed connection's held-back data, and the reset
after tcp_retries2."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.cluster.net import tcp
from sim.cluster.net.engine import SimEnv
from sim.cluster.net.network import Network, Node, Request
from sim.cluster.net.tcp import (
    RTO_MIN_MS,
    TCP_RETRIES2,
    backoff_total,
    draw_segment_losses,
    segments_of,
)
from sim.scenario.models import NetworkSpec


def test_segments_of_a_message() -> None:
    assert segments_of(0, 1460) == 1  # a header-only message is still one segment
    assert segments_of(1460, 1460) == 1
    assert segments_of(1461, 1460) == 2
    assert segments_of(1 << 20, 1460) == 719  # 1 MiB


def test_backoff_doubles_and_is_capped() -> None:
    assert backoff_total(200.0, 0) == 0.0
    assert backoff_total(200.0, 1) == 200.0
    assert backoff_total(200.0, 3) == 200.0 + 400.0 + 800.0
    # Linux's tcp_retries2 = 15: 15 retransmissions and the final wait, each capped at
    # TCP_RTO_MAX (120 s): 924.6 s, the figure tcp(7) gives.
    assert backoff_total(200.0, TCP_RETRIES2 + 1) == 924_600.0


def test_no_loss_and_certain_loss() -> None:
    rng = np.random.default_rng(1)
    assert draw_segment_losses(rng, 700, 0.0) == (0, 0)
    inner, tail = draw_segment_losses(rng, 3, 1.0)
    assert inner > TCP_RETRIES2 and tail > TCP_RETRIES2


@settings(max_examples=200, deadline=None)
@given(
    segments=st.integers(1, 2000),
    loss=st.floats(0.0001, 0.9),
    seed=st.integers(0, 2**32 - 1),
)
def test_loss_draws_are_well_formed(segments: int, loss: float, seed: int) -> None:
    inner, tail = draw_segment_losses(np.random.default_rng(seed), segments, loss)
    assert inner >= 0 and tail >= 0
    if segments == 1:
        assert inner == 0  # a single segment is always the tail


def brute_force(rng: np.random.Generator, segments: int, loss: float) -> tuple[int, int]:
    """Every transmission of every segment drawn one by one."""
    repeats = []
    for _ in range(segments):
        count = 0
        while rng.random() < loss:
            count += 1
        repeats.append(count)
    return max(repeats[:-1], default=0), repeats[-1]


@pytest.mark.parametrize(("segments", "loss"), [(1, 0.1), (10, 0.05), (300, 0.01)])
def test_loss_draws_match_segment_by_segment_losses(segments: int, loss: float) -> None:
    trials = 6000
    fast = np.random.default_rng(7)
    slow = np.random.default_rng(8)
    drawn = np.array([draw_segment_losses(fast, segments, loss) for _ in range(trials)])
    exact = np.array([brute_force(slow, segments, loss) for _ in range(trials)])
    for column in (0, 1):
        for statistic in (
            lambda x: float(np.mean(x > 0)),  # how often lost at all
            lambda x: float(np.mean(x > 1)),  # how often the resend was lost too
        ):
            a, b = statistic(drawn[:, column]), statistic(exact[:, column])
            # Binomial standard error of a proportion from 6,000 trials is at most 0.0065.
            assert abs(a - b) < 0.03, (column, a, b)
    assert abs(np.mean(drawn[:, 1] > 0) - loss) < 0.02  # the tail is lost with p


# -- exact traces: two nodes, 1 ms one way, scripted losses -----------------------------------


class Server(Node):
    """Answers each request after the delay (ms) in its body; remembers when requests came."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.received: list[tuple[float, str, Any]] = []

    def handle_request(self, source: str, request: Request) -> None:
        self.received.append((self.simenv.now, request.connection, request.body))
        self.after(float(request.body), self.send_response, source, request, request.body, 10)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int]]]:
    """Losses to apply, one (inner, tail) per message sent on a lossy link, in send order;
    (0, 0) once the script is used up."""
    script: list[tuple[int, int]] = []

    def draw(rng: np.random.Generator, segments: int, loss: float) -> tuple[int, int]:
        return script.pop(0) if script else (0, 0)

    monkeypatch.setattr(tcp, "draw_segment_losses", draw)
    yield script


def pair(loss: float = 0.5, mss: int = 1460) -> tuple[SimEnv, Node, Server]:
    simenv = SimEnv(seed=1)
    spec = NetworkSpec.model_validate({"loss": loss, "mss": mss})  # latency: 1 ms constant
    network = Network(simenv, spec)
    return simenv, Node("client", simenv, network), Server("server", simenv, network)


def call(
    simenv: SimEnv,
    client: Node,
    seen: list[tuple[float, Any, str | None]],
    body: float = 0.0,
    connection: str | None = None,
    timeout_ms: float | None = 30_000.0,
) -> None:
    client.send_request(
        "server",
        "Test",
        body,
        10,
        timeout_ms,
        lambda b, e: seen.append((simenv.now, b, e)),
        connection=connection,
    )


def test_a_lost_lone_request_waits_the_retransmission_timeout(
    scripted: list[tuple[int, int]],
) -> None:
    simenv, client, server = pair()
    scripted.append((0, 1))  # the request's only segment is lost once
    seen: list[tuple[float, Any, str | None]] = []
    call(simenv, client, seen)
    simenv.run(until=1000.0)
    # srtt 2 ms (1 ms each way), rttvar 1 ms: RTO = max(200, 2 + 4) = 200 ms after the send.
    assert server.received == [(1.0 + RTO_MIN_MS, "data", 0.0)]
    assert seen == [(202.0, 0.0, None)]


def test_a_lost_resend_doubles_the_wait(scripted: list[tuple[int, int]]) -> None:
    simenv, client, server = pair()
    scripted.append((0, 3))  # lost, resend lost, second resend lost
    seen: list[tuple[float, Any, str | None]] = []
    call(simenv, client, seen)
    simenv.run(until=5000.0)
    assert server.received[0][0] == 1.0 + 200.0 + 400.0 + 800.0


def test_a_lost_segment_inside_a_message_costs_a_round_trip(
    scripted: list[tuple[int, int]],
) -> None:
    simenv, client, server = pair()
    scripted.append((1, 0))  # a segment before the last is lost: fast retransmit
    seen: list[tuple[float, Any, str | None]] = []
    client.send_request("server", "Test", 0.0, 5000, 30_000.0, lambda b, e: seen.append(b))
    simenv.run(until=1000.0)
    assert server.received[0][0] == 1.0 + 2.0  # one srtt late


def test_later_data_repairs_a_lost_tail_and_waits_behind_it(
    scripted: list[tuple[int, int]],
) -> None:
    simenv, client, server = pair()
    scripted.append((0, 1))  # the first request's tail is lost
    seen: list[tuple[float, Any, str | None]] = []
    call(simenv, client, seen)
    simenv.run(until=10.0)
    call(simenv, client, seen)  # t=10: new data on the same connection
    simenv.run(until=1000.0)
    # The second request's acknowledgement reveals the lost tail (RACK): resent 1.25 srtt
    # after t=10, it arrives at 10 + 2.5 + 1; the second request waits behind it (HOL).
    assert server.received == [(13.5, "data", 0.0), (13.5, "data", 0.0)]
    assert [t for t, _, _ in seen] == [14.5, 14.5]


def test_head_of_line_blocking_is_per_connection(scripted: list[tuple[int, int]]) -> None:
    simenv, client, server = pair()
    scripted.append((0, 1))
    seen: list[tuple[float, Any, str | None]] = []
    call(simenv, client, seen, connection="data")
    call(simenv, client, seen, connection="group")  # same link, another connection
    simenv.run(until=1000.0)
    assert server.received == [(1.0, "group", 0.0), (201.0, "data", 0.0)]


def test_a_closed_connection_never_delivers_its_held_back_data(
    scripted: list[tuple[int, int]],
) -> None:
    simenv, client, server = pair()
    scripted.append((0, 2))  # would arrive at 1 + 200 + 400
    seen: list[tuple[float, Any, str | None]] = []

    def retry(body: Any, error: str | None) -> None:
        seen.append((simenv.now, body, error))
        if error is not None:  # a new connection: nothing waits in front of the retry
            call(simenv, client, seen)

    client.send_request("server", "Test", 0.0, 10, 300.0, retry)
    simenv.run(until=2000.0)
    assert seen == [(300.0, None, "REQUEST_TIMED_OUT"), (302.0, 0.0, None)]
    assert server.received == [(301.0, "data", 0.0)]  # the old request never arrived


def test_tcp_gives_up_after_tcp_retries2_and_resets_the_connection() -> None:
    simenv, client, server = pair(loss=1.0)
    seen: list[tuple[float, Any, str | None]] = []
    call(simenv, client, seen, timeout_ms=None)  # no request timeout: only TCP gives up
    simenv.run(until=2_000_000.0)
    assert seen == [(924_600.0, None, "NETWORK_EXCEPTION")]
    assert server.received == []


def test_loss_free_links_keep_to_the_fast_path(scripted: list[tuple[int, int]]) -> None:
    simenv, client, _ = pair(loss=0.0)
    scripted.append((0, 5))  # never consulted: no loss on the link
    seen: list[tuple[float, Any, str | None]] = []
    call(simenv, client, seen)
    simenv.run(until=100.0)
    assert seen == [(2.0, 0.0, None)]
    assert scripted == [(0, 5)]
