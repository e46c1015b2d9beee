"""TCP connections under packet loss: per-segment loss, fast retransmit, tail loss, RTO backoff,
head-of-line blocking per connection, and the reset after ``tcp_retries2``.

Theory of operation (kafka-semantics §8; RFC 6298, RFC 5681, RFC 8985, Linux ``tcp(7)``)
----------------------------------------------------------------------------------------
Kafka's clients, followers and controllers talk over long-lived TCP connections. A
:class:`Connection` is one of them: a client node, a server node and the connection's name
(``data``, ``group``, ``heartbeat``, ``controller``, ... : Kafka opens separate connections for
these, so none waits behind another). It carries two :class:`Stream` objects, one per direction
(``up``: client to server, requests; ``down``: server to client, responses and pushes), and the
client's request bookkeeping (the correlation ids in flight, in order, and the request-timeout
watchdog; see ``network.Node``).

A message of ``size`` bytes is ``ceil(size / network.mss)`` segments (MSS 1460 bytes on
Ethernet). Each segment is lost independently with the link's ``loss`` probability, and so is
each retransmission of it. TCP never loses data; it repairs it late:

* a lost segment with more data of the message behind it is found by the selective
  acknowledgements of that later data and resent by **fast retransmit**: it arrives about one
  round trip (``srtt``) late;
* the **last segment in flight** (the tail: nothing follows to be acknowledged) is found by the
  tail loss probe or the retransmission timeout. RACK-TLP's probe timeout is ``2·srtt`` plus a
  200 ms delayed-ACK allowance when one segment is outstanding, capped by the RTO, so at
  data-centre latencies both cost about the RTO: the model resends a lost tail after
  ``RTO = max(200 ms, srtt + 4·rttvar)`` (Linux ``TCP_RTO_MIN``; RFC 6298 estimator);
* if new data is sent on the stream before that timer fires, its acknowledgement reveals the
  lost tail (RACK): the tail is resent about ``1.25·srtt`` after the new data was sent (one
  round trip plus RACK's reordering window of a quarter round trip);
* a lost retransmission waits the RTO again, doubled each time (exponential backoff, each wait
  capped at ``TCP_RTO_MAX`` = 120 s);
* after ``tcp_retries2`` (15) retransmissions of one segment the sender gives up and resets the
  connection (about 15 minutes with backoff): the client's requests on it fail with
  NETWORK_EXCEPTION, as a disconnect does. Kafka's own timers (``request.timeout.ms``,
  ``replica.socket.timeout.ms``, 30 s) usually close the connection long before.

Bytes are delivered **in order per connection and direction**: a message never arrives before
an earlier one on the same stream, so a retransmission holds back everything behind it on that
connection (head-of-line blocking), and nothing on other connections between the same hosts
(their packets were not lost; the link itself is FIFO, see ``network.py``).
When the application closes a connection (a request timeout, a disconnect, a crash) its
:attr:`Connection.generation` changes: data still held back by a retransmission on the old
connection is never delivered, and the next request opens a fresh connection with no backlog.

``srtt`` / ``rttvar`` follow RFC 6298 per stream: the first message gives ``srtt = R``,
``rttvar = R/2`` (standing for the handshake's sample); every message not delayed by a
retransmission (Karn's rule) gives a sample ``R`` = its one-way latency plus the mean latency of
the reverse link (the acknowledgement's way back).

Losses are drawn per message in bulk (:func:`draw_segment_losses`: whether any segment is lost,
where the first loss is, a binomial draw for the rest, geometric draws for the repeats), so a
1 MiB message costs a handful of draws, not 720. With no loss on the link none of this runs.

Simplifications
---------------
* No congestion control: no congestion window, slow start or fast recovery's window reduction;
  losses delay only the segments that were lost (and what is behind them), never the rate.
* Acknowledgements are not messages: they are never lost, and the round trip uses the reverse
  link's mean latency. No delayed ACKs, Nagle or receive windows.
* Lost segments of one message are repaired in parallel; the message arrives when the last of
  them does (its size over the link's bandwidth is paid once, by the link).
* Connection setup (handshake, TLS) costs nothing; a reset connection is usable again at once.
* A network partition is not loss: a partitioned link drops messages outright (``network.py``),
  and Kafka learns of it by its timeouts. (Real TCP would retransmit into the partition and
  deliver after the heal if no timeout closed the connection first.)
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sim.cluster.net.engine import SimEnv, Timer
    from sim.cluster.net.network import Link, Node

__all__ = [
    "DEFAULT_MSS",
    "RTO_MAX_MS",
    "RTO_MIN_MS",
    "TCP_RETRIES2",
    "Connection",
    "Stream",
    "backoff_total",
    "draw_segment_losses",
    "segments_of",
]

RTO_MIN_MS = 200.0  # Linux TCP_RTO_MIN
RTO_MAX_MS = 120_000.0  # Linux TCP_RTO_MAX: the longest single wait of the backoff
TCP_RETRIES2 = 15  # net.ipv4.tcp_retries2: retransmissions of one segment before a reset
DEFAULT_MSS = 1460  # Ethernet MTU 1500 - 40 bytes of IP and TCP headers
RACK_REORDER_FRACTION = 0.25  # RACK's reordering window: a quarter of the round trip


def segments_of(size: int, mss: int) -> int:
    """How many segments a message of ``size`` bytes takes (at least one)."""
    return max(1, -(-int(size) // mss))


def backoff_total(rto: float, waits: int) -> float:
    """Time spent in ``waits`` successive retransmission timeouts starting at ``rto``: each
    wait doubles the previous one, capped at ``RTO_MAX_MS`` (exponential backoff)."""
    total = 0.0
    wait = rto
    for _ in range(waits):
        total += wait if wait < RTO_MAX_MS else RTO_MAX_MS
        wait *= 2.0
    return total


def draw_segment_losses(rng: np.random.Generator, segments: int, loss: float) -> tuple[int, int]:
    """Losses of one message of ``segments`` segments on a link losing each transmission with
    probability ``loss``: ``(inner, tail)`` where ``inner`` is the largest number of times one
    of the segments before the last was lost in a row (0: none lost) and ``tail`` the number of
    times the last segment was lost in a row (0: delivered first time).

    Exact in distribution, in a few draws whatever ``segments``: whether any segment is lost
    (``1 - (1 - loss)**segments``), the index of the first lost one (a truncated geometric),
    the number lost after it (binomial), and the repeats of each (geometric)."""
    if loss <= 0.0:
        return 0, 0
    if loss >= 1.0:
        return TCP_RETRIES2 + 1, TCP_RETRIES2 + 1
    log_keep = math.log1p(-loss)
    any_lost = -math.expm1(segments * log_keep)
    u = float(rng.random())
    if u >= any_lost:
        return 0, 0
    # First lost segment J (1-based), given at least one loss: P(J <= j) = (1 - (1-p)^j) / q.
    first = min(segments, 1 + int(math.log1p(-u) / log_keep))
    if first == segments:
        return 0, int(rng.geometric(1.0 - loss))
    inner_lost = 1 + (int(rng.binomial(segments - first - 1, loss)) if segments - first > 1 else 0)
    tail = int(rng.geometric(1.0 - loss)) if float(rng.random()) < loss else 0
    repeats = rng.geometric(1.0 - loss, size=inner_lost)
    return int(repeats.max()), tail


class Stream:
    """One direction of a connection: what one end sends to the other, in order."""

    __slots__ = (
        "back",
        "connection",
        "last_arrival",
        "late_until",
        "link",
        "receiver",
        "rttvar",
        "sender",
        "srtt",
        "tail_extra",
        "tail_fires",
        "tail_floor",
        "tail_message",
        "tail_timer",
    )

    def __init__(self, connection: Connection, link: Link, back: Link, receiver: Node) -> None:
        self.connection = connection
        self.link = link  # the directed link the segments travel
        self.back = back  # the reverse link (acknowledgements)
        self.sender = link.source
        self.receiver = receiver
        self.last_arrival = 0.0  # in-order delivery: nothing arrives before this
        self.late_until = -1.0  # arrival of the latest message held back by a retransmission
        self.srtt = -1.0  # smoothed round trip (ms); < 0: no sample yet
        self.rttvar = 0.0
        # The last message sent, if its last segment was lost and nothing followed it yet.
        self.tail_message: Any = None
        self.tail_timer: Timer | None = None
        self.tail_fires = 0.0  # when its first retransmission (TLP/RTO) goes out
        self.tail_extra = 0.0  # backoff its lost retransmissions add after that
        self.tail_floor = 0.0  # it cannot arrive earlier (other lost segments, order)

    def reset(self) -> None:
        """A new connection: no backlog, no lost tail (the RTT estimate is kept, as Linux's
        per-destination ``tcp_metrics`` keeps it)."""
        self.last_arrival = 0.0
        self.late_until = -1.0
        self.tail_message = None
        self.tail_timer = None

    def rto(self) -> float:
        """RFC 6298 retransmission timeout, at least TCP_RTO_MIN."""
        rto = self.srtt + 4.0 * self.rttvar
        return RTO_MIN_MS if rto < RTO_MIN_MS else (RTO_MAX_MS if rto > RTO_MAX_MS else rto)

    def sample_rtt(self, latency: float) -> None:
        rtt = latency + self.back.latency.mean
        if self.srtt < 0.0:
            self.srtt = rtt
            self.rttvar = rtt / 2.0
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt

    def send_lossy(
        self,
        simenv: SimEnv,
        message: Any,
        now: float,
        arrival: float,
        latency: float,
        size: int,
        mss: int,
    ) -> None:
        """Send ``message`` (sent ``now``, arriving at ``arrival`` were nothing lost) over a
        lossy link: draw its segments' losses, delay it by TCP's repairs, keep it in order
        behind earlier messages, and schedule its delivery (or the connection's reset)."""
        if self.srtt < 0.0:
            self.sample_rtt(latency)  # the handshake's sample
        if self.tail_message is not None:
            self._repair_tail(simenv, now, latency)
        link = self.link
        connection = self.connection
        inner, tail = draw_segment_losses(link._rng, segments_of(size, mss), link.loss)
        tail_delay = 0.0
        if inner or tail:
            link.retransmitted += 1
            rto = self.rto()
            if inner > TCP_RETRIES2 or tail > TCP_RETRIES2:
                # The sender gives up after tcp_retries2 retransmissions: connection reset.
                link.dropped += 1
                reset_at = now + backoff_total(rto, TCP_RETRIES2 + 1)
                if reset_at > self.last_arrival:
                    self.last_arrival = reset_at
                self.late_until = self.last_arrival
                simenv.call_later(
                    reset_at - now,
                    connection.client_node.connection_reset,
                    connection,
                    connection.generation,
                )
                return
            inner_delay = self.srtt + backoff_total(rto, inner - 1) if inner else 0.0
            if tail:
                tail_delay = backoff_total(rto, tail)
            floor = arrival + inner_delay
            if floor < self.last_arrival:
                floor = self.last_arrival
            arrival += inner_delay if inner_delay > tail_delay else tail_delay
            if arrival < self.last_arrival:
                arrival = self.last_arrival
            self.last_arrival = self.late_until = arrival
            link.delivered += 1
            timer = simenv.call_later(
                arrival - now, self.deliver_late, connection.generation, message
            )
            if tail and arrival > floor:  # the lost tail decides when it arrives
                self.tail_message = message
                self.tail_timer = timer
                self.tail_fires = now + rto
                self.tail_floor = floor
                self.tail_extra = backoff_total(rto * 2.0, tail - 1)
            return
        self.sample_rtt(latency)
        if arrival < self.last_arrival:
            arrival = self.last_arrival
        self.last_arrival = arrival
        link.delivered += 1
        if arrival <= self.late_until:  # held back behind a retransmission
            simenv.call_later(arrival - now, self.deliver_late, connection.generation, message)
        else:
            simenv.call_later(arrival - now, self.receiver.deliver, self.sender, message)

    def _repair_tail(self, simenv: SimEnv, now: float, latency: float) -> None:
        """New data is sent behind a lost tail before its timer fired: RACK finds the loss
        when the new data is acknowledged, and the tail is resent then."""
        message, timer = self.tail_message, self.tail_timer
        self.tail_message = None
        self.tail_timer = None
        if timer is None or timer.cancelled or now >= self.tail_fires:
            return
        repaired = now + (1.0 + RACK_REORDER_FRACTION) * self.srtt + latency + self.tail_extra
        if repaired < self.tail_floor:
            repaired = self.tail_floor
        if repaired >= timer.when:
            return
        timer.cancel()
        simenv.call_later(repaired - now, self.deliver_late, self.connection.generation, message)
        if self.last_arrival == timer.when:
            self.last_arrival = repaired
        self.late_until = repaired

    def deliver_late(self, generation: int, message: Any) -> None:
        """Deliver a message held back by a retransmission, unless its connection was closed
        meanwhile (a closed connection's unsent data is never delivered)."""
        if generation == self.connection.generation:
            self.receiver.deliver(self.sender, message)


class Connection:
    """One TCP connection between a client node and a server node, named by its role."""

    __slots__ = (
        "client",
        "client_node",
        "down",
        "generation",
        "in_order",
        "name",
        "server",
        "server_node",
        "up",
        "watchdog",
    )

    def __init__(
        self,
        client: Node,
        server: Node,
        name: str,
        up_link: Link,
        down_link: Link,
    ) -> None:
        self.client = client.name
        self.server = server.name
        self.client_node = client
        self.server_node = server
        self.name = name
        self.up = Stream(self, up_link, down_link, server)
        self.down = Stream(self, down_link, up_link, client)
        self.generation = 0  # +1 each time the connection is closed or reset
        # The client's NetworkClient state: correlation ids in flight (in order) and the
        # request-timeout watchdog (see network.Node).
        self.in_order: deque[int] = deque()
        self.watchdog: Timer | None = None

    def close(self) -> None:
        """Close (or reset) the connection: held-back data is dropped, the next message opens
        a fresh one."""
        self.generation += 1
        self.up.reset()
        self.down.reset()

    def __repr__(self) -> str:
        return f"Connection({self.client}->{self.server} {self.name!r} gen {self.generation})"
