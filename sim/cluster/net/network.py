"""The simulated network: directed links, latency distributions, loss, bandwidth, RPC.

Theory of operation
-------------------
Every ordered pair of nodes has a directed link. A message on a link is delivered after
``latency`` (drawn from the link's distribution) plus ``size / bandwidth`` when a bandwidth is
set (the link then serialises messages one after another). A link is one network path with FIFO
queues: a message never overtakes an earlier one on the same link, whatever latency it drew
(latency jitter is queueing, shared by everything on the path). Messages travel on TCP
connections (``sim.cluster.net.tcp``): a retransmitted segment arrives late and holds back
only its own connection, never other connections on the same link.

A link's ``loss`` is, by ``network.loss_mode``:
* ``tcp`` (the default): the loss of a *segment* (``network.mss`` bytes) that TCP repairs:
  fast retransmit about a round trip later when data follows it, the retransmission timeout
  (at least 200 ms, doubling per repeated loss) for the last segment in flight; everything
  behind it on its connection waits (head-of-line blocking); only ``tcp_retries2`` losses in a
  row of one segment reset the connection. See ``sim.cluster.net.tcp``.
* ``drop`` (explicit opt-in, UDP-like, for teaching what TCP saves us from): a lost message
  silently vanishes, and the requester only learns of it through its own timeout, as with a
  black-holed connection.

Links take the scenario's ``network`` defaults, overridden by every matching ``links:`` entry in
order ("*" matches any node). Faults partition (block) or degrade links at run time and heal
them. A partitioned link drops every message (not TCP loss: Kafka learns of it by timeouts).

RPC: a node sends a ``Request`` carrying a correlation id (as in Kafka's request header) on a
named connection to the target. Like Kafka's ``NetworkClient``, answers are handed over in
request order per connection, and a request timeout (one watchdog timer per connection) closes
the connection: every request in flight on it fails. A request to a dead process on a live host
is refused at once (RST).

Simplifications: connection setup costs nothing (no handshake, no TLS); TCP's own
simplifications are listed in ``sim.cluster.net.tcp``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.cluster.net.tcp import DEFAULT_MSS, Connection, Stream

if TYPE_CHECKING:
    from sim.cluster.net.engine import SimEnv, Timer
    from sim.scenario import Distribution, NetworkSpec

__all__ = ["Connection", "Link", "Network", "Node", "Request", "Response", "Sampler"]

_Z99 = 2.3263478740408408  # standard normal quantile of 0.99


class Sampler:
    """Draws delays (ms) from a scenario Distribution, in blocks for speed."""

    __slots__ = ("_block", "_buffer", "_index", "_kind", "_params", "_rng", "constant")

    def __init__(self, dist: Distribution, rng: np.random.Generator, block: int = 1024) -> None:
        self._kind = dist.kind
        self._rng = rng
        self._block = block
        self._buffer: np.ndarray = np.empty(0)
        self._index = 0
        self.constant: float | None = None
        if dist.kind == "constant":
            self.constant = float(dist.value_ms or 0.0)
            self._params: tuple[float, ...] = ()
        elif dist.kind == "uniform":
            self._params = (float(dist.low_ms or 0.0), float(dist.high_ms or 0.0))
        elif dist.kind == "exponential":
            self._params = (float(dist.mean_ms or 0.0),)
        elif dist.kind == "lognormal":
            median = float(dist.median_ms or 0.0)
            p99 = float(dist.p99_ms or median)
            sigma = (math.log(p99) - math.log(median)) / _Z99 if median > 0 and p99 > 0 else 0.0
            self._params = (math.log(median) if median > 0 else -math.inf, max(sigma, 0.0))
        else:  # pragma: no cover - the scenario models refuse other kinds
            raise ValueError(f"unknown distribution {dist.kind!r}")

    def sample(self, n: int) -> np.ndarray:
        """``n`` independent draws as an array (vectorised)."""
        if self.constant is not None:
            return np.full(n, self.constant)
        rng = self._rng
        if self._kind == "uniform":
            low, high = self._params
            return rng.uniform(low, high, n)
        if self._kind == "exponential":
            return rng.exponential(self._params[0], n)
        mu, sigma = self._params
        if mu == -math.inf:
            return np.zeros(n)
        return rng.lognormal(mu, sigma, n)

    def __call__(self) -> float:
        if self.constant is not None:
            return self.constant
        if self._index >= len(self._buffer):
            self._buffer = self.sample(self._block)
            self._index = 0
        value = float(self._buffer[self._index])
        self._index += 1
        return value

    @property
    def mean(self) -> float:
        if self.constant is not None:
            return self.constant
        if self._kind == "uniform":
            return (self._params[0] + self._params[1]) / 2
        if self._kind == "exponential":
            return self._params[0]
        mu, sigma = self._params
        return 0.0 if mu == -math.inf else math.exp(mu + sigma * sigma / 2)


# Kafka clients talk to a group coordinator over a connection of their own (the coordinator's
# node id is Integer.MAX_VALUE - broker id), so group requests never queue behind fetches.
GROUP_APIS = frozenset(
    {
        "OffsetCommit",
        "OffsetFetch",
        "JoinGroup",
        "SyncGroup",
        "Heartbeat",
        "LeaveGroup",
        "FindCoordinator",
    }
)


def connection_of(api: str) -> str:
    return "group" if api in GROUP_APIS else "data"


class Request:
    """A request with Kafka-style correlation id; ``body`` is the API-specific payload.

    ``connection`` names the client connection it travels on ("data" or "group"): the broker
    serves one request per connection at a time and answers in order. ``reply_stream`` is the
    way back on that connection, set when it is sent."""

    __slots__ = ("api", "body", "connection", "correlation_id", "reply_stream", "size")

    def __init__(self, api: str, correlation_id: int, body: Any, size: int) -> None:
        self.api = api
        self.correlation_id = correlation_id
        self.body = body
        self.size = size
        self.connection = connection_of(api)
        self.reply_stream: Stream | None = None


class Response:
    __slots__ = ("body", "correlation_id")

    def __init__(self, correlation_id: int, body: Any) -> None:
        self.correlation_id = correlation_id
        self.body = body


class Link:
    """One directed link; mutable so faults can degrade or block it at run time."""

    __slots__ = (
        "_rng",
        "_uniform",
        "_uniform_index",
        "bandwidth",
        "base",
        "blocked",
        "busy_until",
        "delivered",
        "dropped",
        "last_arrival",
        "latency",
        "loss",
        "retransmitted",
        "source",
        "target",
    )

    def __init__(
        self,
        source: str,
        target: str,
        latency: Sampler,
        loss: float,
        bandwidth: float | None,
        rng: np.random.Generator,
    ) -> None:
        self.source = source
        self.target = target
        self.latency = latency
        self.loss = loss
        self.bandwidth = bandwidth  # bytes per ms, None = unlimited
        self.blocked = False
        self.base = (latency, loss, bandwidth)  # restored when a degradation heals
        self.busy_until = 0.0
        self.last_arrival = 0.0
        self.delivered = 0
        self.dropped = 0
        self.retransmitted = 0
        self._rng = rng
        self._uniform: np.ndarray = np.empty(0)
        self._uniform_index = 0

    def lost(self) -> bool:
        if self.loss <= 0.0:
            return False
        if self._uniform_index >= len(self._uniform):
            self._uniform = self._rng.random(1024)
            self._uniform_index = 0
        u = self._uniform[self._uniform_index]
        self._uniform_index += 1
        return bool(u < self.loss)


class Network:
    """Nodes by name, the directed links between them and the TCP connections over them."""

    def __init__(self, simenv: SimEnv, spec: NetworkSpec) -> None:
        self.simenv = simenv
        self.spec = spec
        self.nodes: dict[str, Node] = {}
        self._links: dict[tuple[str, str], Link] = {}
        self._connections: dict[tuple[str, str, str], Connection] = {}
        self._connections_of: dict[str, list[Connection]] = {}  # node -> its connections
        self.drop_lost = spec.loss_mode == "drop"
        self.mss = int(getattr(spec, "mss", DEFAULT_MSS))
        self._blocked: set[tuple[str, str]] = set()  # membership only, never iterated to decide
        self._degradations: list[tuple[str, str, Sampler | None, float | None, float | None]] = []

    # -- faults: partitions and degradations (Maelstrom-style nemesis operations) --
    def partition(self, groups: list[list[str]], *, one_way: bool = False) -> None:
        """Drop every message between nodes of different groups (only from groups[0] to the
        others when ``one_way``). Messages already in flight still arrive."""
        for i, group in enumerate(groups):
            for j, other in enumerate(groups):
                if i == j or (one_way and i != 0):
                    continue
                for a in group:
                    for b in other:
                        self._blocked.add((a, b))
                        link = self._links.get((a, b))
                        if link is not None:
                            link.blocked = True

    def degrade(
        self,
        source: str,
        target: str,
        latency: Sampler | None,
        loss: float | None,
        bandwidth: float | None,
    ) -> None:
        """Worse latency/loss/bandwidth on every link matching source->target ("*" = any)."""
        self._degradations.append((source, target, latency, loss, bandwidth))
        for (a, b), link in sorted(self._links.items()):
            self._apply_degradation(link, a, b)

    def heal(self) -> None:
        """Remove every partition and degradation."""
        self._blocked.clear()
        self._degradations.clear()
        for link in self._links.values():
            link.blocked = False
            link.latency, link.loss, link.bandwidth = link.base

    def _apply_degradation(self, link: Link, source: str, target: str) -> None:
        for src, dst, latency, loss, bandwidth in self._degradations:
            if src in ("*", source) and dst in ("*", target):
                if latency is not None:
                    link.latency = latency
                if loss is not None:
                    link.loss = loss
                if bandwidth is not None:
                    link.bandwidth = bandwidth

    def register(self, node: Node) -> None:
        if node.name in self.nodes:
            raise ValueError(f"duplicate node name {node.name!r}")
        self.nodes[node.name] = node

    def link(self, source: str, target: str) -> Link:
        link = self._links.get((source, target))
        if link is None:
            link = self._make_link(source, target)
            self._links[(source, target)] = link
        return link

    def links(self) -> list[Link]:
        return [self._links[key] for key in sorted(self._links)]

    def _make_link(self, source: str, target: str) -> Link:
        spec = self.spec
        latency = spec.latency
        loss = spec.loss
        bandwidth = spec.bandwidth_bytes_per_ms
        for override in spec.links:
            if override.source in ("*", source) and override.target in ("*", target):
                if override.latency is not None:
                    latency = override.latency
                if override.loss is not None:
                    loss = override.loss
                if override.bandwidth_bytes_per_ms is not None:
                    bandwidth = override.bandwidth_bytes_per_ms
        name = f"link:{source}->{target}"
        rng = self.simenv.rng(name)
        link = Link(source, target, Sampler(latency, rng), loss, bandwidth, rng)
        link.blocked = (source, target) in self._blocked
        self._apply_degradation(link, source, target)
        return link

    # -- connections --
    def connection(self, client: str, server: str, name: str) -> Connection:
        """The TCP connection ``name`` from ``client`` to ``server`` (created on first use)."""
        key = (client, server, name)
        connection = self._connections.get(key)
        if connection is None:
            connection = Connection(
                self.nodes[client],
                self.nodes[server],
                name,
                self.link(client, server),
                self.link(server, client),
            )
            self._connections[key] = connection
            self._connections_of.setdefault(client, []).append(connection)
            if server != client:
                self._connections_of.setdefault(server, []).append(connection)
        return connection

    def close_connections_of(self, node: str) -> None:
        """A process died: its sockets are gone, data held back on them is never delivered."""
        for connection in self._connections_of.get(node, ()):
            connection.close()

    def transmit(self, stream: Stream, message: Request | Response, size: int) -> None:
        """Put ``message`` on ``stream`` (one direction of a connection); it arrives later, in
        order on its connection, or is lost (partition, ``loss_mode: drop``, dead process)."""
        link = stream.link
        if link.blocked:
            link.dropped += 1
            return
        loss = link.loss
        if loss > 0.0 and self.drop_lost and link.lost():
            link.dropped += 1
            return
        receiver = stream.receiver
        if not receiver.alive and receiver.refuses_connections and type(message) is Request:
            # The process is dead but its host is up: the connection is refused (RST) one
            # hop later, and the sender fails its requests on it at once.
            link.dropped += 1
            sender = self.nodes[stream.sender]
            self.simenv.call_later(link.latency(), sender.disconnect, receiver.name)
            return
        now = self.simenv.env._now
        latency = link.latency()
        if link.bandwidth is not None:
            start = link.busy_until if link.busy_until > now else now
            link.busy_until = start + size / link.bandwidth
            arrival = link.busy_until + latency
        else:
            arrival = now + latency
        if arrival < link.last_arrival:
            arrival = link.last_arrival  # one path, FIFO queues: no overtaking on a link
        link.last_arrival = arrival
        if loss > 0.0 and not self.drop_lost:
            stream.send_lossy(self.simenv, message, now, arrival, latency, size, self.mss)
            return
        if arrival < stream.last_arrival:
            arrival = stream.last_arrival  # behind a retransmission on its connection
        stream.last_arrival = arrival
        link.delivered += 1
        if arrival <= stream.late_until:  # held back behind a retransmission
            generation = stream.connection.generation
            self.simenv.call_later(arrival - now, stream.deliver_late, generation, message)
        else:
            self.simenv.call_later(arrival - now, receiver.deliver, stream.sender, message)


RequestCallback = Callable[[Any, str | None], None]


_NO_RESPONSE = object()


class _Pending:
    __slots__ = ("callback", "connection", "deadline", "held")

    def __init__(self, connection: Connection, callback: RequestCallback, deadline: float) -> None:
        self.connection = connection
        self.callback = callback
        self.deadline = deadline
        self.held: Any = _NO_RESPONSE  # a response that arrived before an earlier one


class Node:
    """A named endpoint on the network with Kafka-style request/response plumbing.

    Like Kafka's ``NetworkClient``, responses are handed over in request order per connection
    (a response is held while an earlier request on the same connection is unanswered), and a
    request timeout closes the connection: every other request in flight on it fails with
    NETWORK_EXCEPTION. A callback may crash the node or close the connection; answers held
    behind it are then never handed over (the connection's requests failed, or the process is
    gone).
    """

    def __init__(self, name: str, simenv: SimEnv, network: Network) -> None:
        self.name = name
        self.simenv = simenv
        self.network = network
        self.alive = True
        self.paused = False
        self.refuses_connections = False  # dead process on a live host: connections refused
        self.incarnation = 0  # +1 at every crash: timers of a dead process never fire
        self._backlog: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._next_correlation_id = 0
        self._pending: dict[int, _Pending] = {}
        # This node's client connections by (server, connection name).
        self._connections: dict[tuple[str, str], Connection] = {}
        network.register(self)

    # -- sending --
    def send_request(
        self,
        target: str,
        api: str,
        body: Any,
        size: int,
        timeout_ms: float | None,
        callback: RequestCallback | None,
        *,
        connection: str | None = None,
    ) -> int:
        """Send a request; ``callback(response_body, error)`` runs once, on response or timeout.

        ``callback=None`` sends a one-way request (acks=0 produce): nothing is awaited.
        ``connection`` overrides the connection the API travels on (``connection_of``), e.g. the
        ZooKeeper-mode controller's own channel to each broker.
        """
        self._next_correlation_id += 1
        correlation_id = self._next_correlation_id
        request = Request(api, correlation_id, body, size)
        if connection is not None:
            request.connection = connection
        key = (target, request.connection)
        conn = self._connections.get(key)
        if conn is None:
            conn = self.network.connection(self.name, target, request.connection)
            self._connections[key] = conn
        request.reply_stream = conn.down
        if callback is not None:
            now = self.simenv.env._now
            deadline = now + timeout_ms if timeout_ms is not None else math.inf
            self._pending[correlation_id] = _Pending(conn, callback, deadline)
            conn.in_order.append(correlation_id)
            watchdog = conn.watchdog
            if deadline < math.inf and (watchdog is None or deadline < watchdog.when):
                if watchdog is not None:
                    watchdog.cancel()
                conn.watchdog = self.simenv.call_later(deadline - now, self._check_timeouts, conn)
        self.network.transmit(conn.up, request, size)
        return correlation_id

    def push(self, target: str, api: str, body: Any, size: int, connection: str) -> None:
        """Send a one-way message to ``target`` on *its* connection ``connection`` to this
        node, behind the responses on it (a ZooKeeper server's watch notifications travel on
        the client's session connection)."""
        self._next_correlation_id += 1
        request = Request(api, self._next_correlation_id, body, size)
        request.connection = connection
        conn = self.network.connection(target, self.name, connection)
        request.reply_stream = conn.up
        self.network.transmit(conn.down, request, size)

    def send_response(self, target: str, request: Request, body: Any, size: int) -> None:
        if self.alive:
            stream = request.reply_stream
            if stream is None:  # a request made by hand (tests): answer on the client's connection
                stream = self.network.connection(target, self.name, request.connection).down
            self.network.transmit(stream, Response(request.correlation_id, body), size)

    def _check_timeouts(self, conn: Connection) -> None:
        """The connection's watchdog: one timer per connection, at its earliest deadline
        (cheaper than a timer per request; answers come in order, so few deadlines matter)."""
        conn.watchdog = None
        if not self.alive:
            return
        order = conn.in_order
        if not order:
            return
        now = self.simenv.env._now
        earliest = math.inf
        for cid in order:
            deadline = self._pending[cid].deadline
            if deadline <= now:
                self._disconnect(conn, cid)
                return
            earliest = min(earliest, deadline)
        if earliest < math.inf:
            conn.watchdog = self.simenv.call_later(earliest - now, self._check_timeouts, conn)

    def _disconnect(self, conn: Connection, timed_out: int | None) -> None:
        """Close one connection: the timed-out request fails with REQUEST_TIMED_OUT, every other
        one in flight on it with NETWORK_EXCEPTION (``NetworkClient.processDisconnection``)."""
        order = list(conn.in_order)
        conn.in_order.clear()
        if conn.watchdog is not None:
            conn.watchdog.cancel()
            conn.watchdog = None
        conn.close()
        failed = [(cid, self._pending.pop(cid)) for cid in order if cid in self._pending]
        for cid, pending in failed:
            pending.callback(None, "REQUEST_TIMED_OUT" if cid == timed_out else "NETWORK_EXCEPTION")

    def disconnect(self, target: str) -> None:
        """Close every connection to ``target`` (e.g. the peer crashed: connection reset)."""
        for key in sorted(k for k in self._connections if k[0] == target):
            self._disconnect(self._connections[key], None)

    def connection_reset(self, conn: Connection, generation: int) -> None:
        """TCP gave up on ``conn`` (``tcp_retries2``): its requests fail as on a disconnect."""
        if conn.generation != generation:
            return  # already closed and reopened since
        if self.alive:
            self._disconnect(conn, None)
        else:
            conn.close()

    def in_flight(self, target: str) -> int:
        return sum(1 for p in self._pending.values() if p.connection.server == target)

    # -- timers and lifecycle --
    def phase(self, interval: float) -> float:
        """Phase of a periodic timer of this node, uniform in [0, interval) (``SimEnv.phase``):
        a task that runs every ``interval`` first runs after ``interval - phase``."""
        return self.simenv.phase(self.name, interval)

    def after(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """A timer of this process: it never fires after a crash, and waits while paused."""
        return self.simenv.call_later(delay, self._guarded, self.incarnation, fn, args)

    def at(self, when: float, fn: Callable[..., Any], *args: Any) -> Timer:
        return self.after(max(0.0, when - self.simenv.now), fn, *args)

    def _guarded(self, incarnation: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        if incarnation != self.incarnation or not self.alive:
            return
        if self.paused:
            self._backlog.append((fn, args))
            return
        fn(*args)

    def crash(self, *, reset_connections: bool) -> None:
        """The process dies. With ``reset_connections`` (process crash, host still up) peers see
        their connections reset at once (NETWORK_EXCEPTION); otherwise (power loss, host gone)
        they only learn by their request timeouts."""
        if not self.alive:
            return
        self.alive = False
        self.paused = False
        self.refuses_connections = reset_connections
        self.incarnation += 1
        self._backlog.clear()
        self._pending.clear()
        for conn in self._connections.values():
            conn.in_order.clear()
            if conn.watchdog is not None:
                conn.watchdog.cancel()
                conn.watchdog = None
        self.network.close_connections_of(self.name)
        self.on_crash()
        if reset_connections:
            for name in sorted(self.network.nodes):
                peer = self.network.nodes[name]
                if peer is not self and peer.alive:
                    peer.disconnect(self.name)

    def restart(self) -> None:
        if self.alive:
            return
        self.alive = True
        self.on_restart()

    def pause(self) -> None:
        """Stop-the-world stall (GC, debugger): nothing runs; messages and timers wait."""
        if self.alive:
            self.paused = True

    def resume(self) -> None:
        if not self.paused:
            return
        self.paused = False
        self.on_resume()
        backlog, self._backlog = self._backlog, []
        for fn, args in backlog:
            if self.paused or not self.alive:
                self._backlog.append((fn, args))
                continue
            fn(*args)

    def on_crash(self) -> None:
        """Subclasses drop their volatile state here."""

    def on_restart(self) -> None:
        """Subclasses start their process again here."""

    def on_resume(self) -> None:
        """Subclasses with a SimPy process wake it here."""

    # -- receiving --
    def deliver(self, source: str, message: Request | Response) -> None:
        if not self.alive:
            return
        if self.paused:
            self._backlog.append((self.deliver, (source, message)))
            return
        if isinstance(message, Response):
            pending = self._pending.get(message.correlation_id)
            if pending is None:
                return  # late response to a request already failed (timeout, disconnect)
            order = pending.connection.in_order
            if order[0] != message.correlation_id:
                pending.held = message.body  # an earlier answer is still missing
                return
            self._complete(order, message.body)
            # Hand over the answers held behind it. A callback may have crashed this node or
            # closed the connection (both empty ``order``), or sent more on it: look again.
            while order:
                held = self._pending.get(order[0])
                if held is None or held.held is _NO_RESPONSE:
                    break
                self._complete(order, held.held)
        else:
            self.handle_request(source, message)

    def _complete(self, order: deque[int], body: Any) -> None:
        self._pending.pop(order.popleft()).callback(body, None)

    def handle_request(self, source: str, request: Request) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not serve {request.api}")
