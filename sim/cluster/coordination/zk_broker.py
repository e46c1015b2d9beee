"""A broker's side of ZooKeeper mode: its ZK session, registration, the controller race,
LeaderAndIsr / UpdateMetadata, and AlterPartition to the controller.

Theory of operation (kafka-semantics §3.1; ``ZooKeeperClient``, ``KafkaZkClient``,
``KafkaController.elect``, ``ReplicaManager.becomeLeaderOrFollower``, ``ZkMetadataCache``)
--------------------------------------------------------------------------------------------
* **Session.** The broker talks to one ZooKeeper server (``zookeeper-<broker id mod N>`` at
  first) and pings it as ZooKeeper's ``ClientCnxn`` does (:func:`ping_interval_ms`): with
  ``readTimeout = 2/3`` of the session timeout, a ping goes out once the client has sent nothing
  for ``readTimeout / 2 - 1 s`` (5 s for Kafka's 18 s), the first one at a phase drawn in
  [0, interval) (the broker did not boot at t = 0). A ping that fails (no answer before the
  client has heard nothing for ``readTimeout``, connection reset, or ``CONNECTION_LOSS`` from a
  server without a quorum) moves the client to the next server and pings again shortly. Other
  ZK requests are retried on the next server the same way, until answered (Kafka's
  ``retryRequestsUntilConnected``).
  After such a reconnect the broker reads ``/controller`` (and, as controller, ``/brokers/ids``)
  again, as ZooKeeper's watch replay would make it.
  ``SESSION_EXPIRED`` ends the session: if this broker was controller it resigns; it opens a new
  session, registers ``/brokers/ids/<id>`` again (retrying every second while the old session's
  znode still exists) and then joins the controller race.
* **Controller race** (``KafkaController.elect``): read ``/controller`` with a watch; if absent,
  one ZK transaction creates the ephemeral ``/controller`` and bumps ``/controller_epoch``
  (conditional on its version). The winner's
  :class:`~sim.cluster.coordination.controller_zk.ZkController`
  activates; losers keep the watch and race again when ``/controller`` disappears.
* **LeaderAndIsr** from the controller is rejected (``STALE_CONTROLLER_EPOCH``) when it carries an
  older controller epoch than the newest this broker has seen (zombie-controller fencing); each
  partition state is applied only if its (leader epoch, partition epoch) is newer than the last
  one applied: ``become_leader`` / ``become_follower`` (truncating to the HW first with
  ``protocol.truncation: high-watermark``) / ``isr_updated``. A restarted broker has applied none.
* **UpdateMetadata** (same epoch check) fills the metadata cache that answers clients' Metadata
  requests, and the live-broker set: brokers not live are not eligible to join an ISR or count
  for the HW (KIP-841, ``isReplicaIsrEligible``).
* **Controlled shutdown** (``KafkaServer.controlledShutdown``, ``controlled.shutdown.enable``):
  a ``ControlledShutdown`` request to the controller this broker last heard of; the controller
  moves leadership away and answers with the partitions the broker still leads. An empty answer
  means done; otherwise (or on an error or no answer within ``request.timeout.ms``) the broker
  waits ``controlled.shutdown.retry.backoff.ms`` and tries again,
  ``controlled.shutdown.max.retries`` attempts in all, then shuts down anyway (Kafka's "unclean"
  shutdown: not controlled, but the logs are still closed). Either way it flushes its logs,
  closes its ZooKeeper session (so its ``/brokers/ids`` znode goes at once and the controller
  fails it over without waiting for expiry) and stops. With ``controlled.shutdown.enable:
  false`` it stops at once.
* **AlterPartition** goes to the controller the broker last heard of (UpdateMetadata or the
  ``/controller`` znode); on ``NOT_CONTROLLER`` or no answer it is retried after
  ``controller.quorum.retry.backoff.ms`` while it is still the replica's pending proposal.

Simplifications: a restarted broker keeps its old metadata cache until the controller's
UpdateMetadata arrives (Kafka starts with an empty one); requests from the controller and
ZooKeeper notifications go through the broker's request handler pool like any request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sim.cluster.coordination.controller_zk import (
    BROKER_IDS_PATH,
    CONNECTION_LOSS,
    CONTROLLER_CONNECTION,
    CONTROLLER_EPOCH_PATH,
    CONTROLLER_PATH,
    NOT_CONTROLLER,
    SESSION_EXPIRED,
    STALE_CONTROLLER_EPOCH,
    ZK_BYTES,
    ControlledShutdownRequest,
    ControlledShutdownResponse,
    ControllerResponse,
    LeaderAndIsrRequest,
    UpdateMetadataRequest,
    WatchedEvent,
    ZkController,
    ZkOp,
    ZkRequest,
    ZkResponse,
    ZkStore,
    broker_path,
    partition_path,
)
from sim.cluster.coordination.metadata import partition_metadata
from sim.cluster.net.messages import (
    AlterPartitionRequest,
    AlterPartitionResponse,
    PartitionMetadata,
)
from sim.kafka import election
from sim.kafka.election import PartitionState
from sim.kafka.replica import IsrProposal

if TYPE_CHECKING:
    from sim.cluster.broker.broker import Broker
    from sim.cluster.faults import Outages
    from sim.cluster.net.network import Request
    from sim.scenario import ClusterSpec, TopicSpec

TopicPartition = tuple[str, int]

RECONNECT_BACKOFF_MS = 100.0  # before retrying on the next ZooKeeper server
REGISTER_RETRY_MS = 1000.0  # /brokers/ids/N still held by the previous session
REQUEST_BYTES = 64
MAX_SEND_PING_INTERVAL_MS = 10_000.0  # ClientCnxn: ping at least this often


def ping_interval_ms(session_timeout_ms: float) -> float:
    """How long a ZooKeeper client stays silent before it pings (``ClientCnxn.SendThread.run``).

    ``readTimeout = sessionTimeout * 2 / 3`` (integer ms); the time to the next ping is
    ``readTimeout / 2 - idleSend``, less another second once ``idleSend`` exceeds 1 s ("to
    prevent race condition missing to send the second ping"), and a ping also goes out whenever
    nothing was sent for 10 s. So the client pings after ``readTimeout / 2 - 1000`` ms of silence
    (5,000 ms for Kafka's 18 s session), after just over 1 s when ``readTimeout / 2`` is between
    1 and 2 s, and after ``readTimeout / 2`` below that."""
    half = (int(session_timeout_ms) * 2 // 3) // 2
    if half - 1000 > 1000:
        interval = float(half - 1000)
    elif half > 1000:
        interval = 1000.0
    else:
        interval = float(half)
    return min(interval, MAX_SEND_PING_INTERVAL_MS)


class ZkBrokerClient:
    """Plugged into a Broker as its ``controller``; hosts the broker's ZkController."""

    def __init__(
        self,
        broker: Broker,
        cluster: ClusterSpec,
        topics: list[TopicSpec],
        outages: Outages,
        zk_servers: int,
    ) -> None:
        self.broker = broker
        self.broker_id = broker.broker_id
        cfg = cluster.config
        self.session_timeout_ms = float(cfg["zookeeper.session.timeout.ms"])
        self.ping_interval_ms = ping_interval_ms(self.session_timeout_ms)
        self.zk_timeout_ms = self.session_timeout_ms * 2.0 / 3.0  # ZK client readTimeout
        self.last_send = 0.0  # when this client last sent anything to ZooKeeper
        self.last_heard = 0.0  # when it last got an answer
        self.request_timeout_ms = float(cfg.get("request.timeout.ms", 30000))
        self.retry_backoff_ms = float(cfg["controller.quorum.retry.backoff.ms"])
        self.shutdown_enabled = bool(cfg.get("controlled.shutdown.enable", True))
        self.shutdown_attempts = max(1, int(cfg.get("controlled.shutdown.max.retries", 3)))
        self.shutdown_backoff_ms = float(cfg.get("controlled.shutdown.retry.backoff.ms", 5000))
        self.shutting_down = False
        self.truncate_to_hw = cluster.protocol.truncation == "high-watermark"
        self.brokers = cluster.brokers
        self.servers = zk_servers
        self.server_index = broker.broker_id % zk_servers
        self.session_id = 0
        self.registered = True
        self._resync = False
        self.cache: dict[TopicPartition, PartitionState] = {}
        for topic in topics:
            for p, replicas in enumerate(topic.assignment):
                self.cache[(topic.name, p)] = election.initial_state(replicas)
        self.live: set[int] = set(range(cluster.brokers))
        self.controller_id = 0
        self.controller_epoch = 1  # newest seen; bootstrap: broker-0, epoch 1
        self.applied: dict[TopicPartition, tuple[int, int]] = {
            key: (s.leader_epoch, s.partition_epoch) for key, s in self.cache.items()
        }
        self.controller = ZkController(broker, self.zk_request, cluster, topics, outages)
        self._events = broker.simenv.recorder.table("events")
        handlers = broker._handlers
        handlers["LeaderAndIsr"] = self.handle_leader_and_isr
        handlers["UpdateMetadata"] = self.handle_update_metadata
        handlers["AlterPartition"] = self._handle_alter_partition
        handlers["ZkWatch"] = self._handle_watch
        handlers["ControlledShutdown"] = self.controller.handle_controlled_shutdown

    # -- the Broker-facing interface --
    def live_brokers(self) -> list[int]:
        return sorted(self.live)

    def metadata_for(self, topics: list[str]) -> list[PartitionMetadata]:
        return partition_metadata(self.cache, topics)

    def start(self) -> None:
        """Time 0: the bootstrap roles, then the session's pings."""
        for key in sorted(self.cache):
            self._apply(key, self.cache[key])
        self._publish_eligibility()
        # The session's last exchange was at some phase before t = 0 (the broker did not boot
        # at t = 0): the first ping comes when that silence reaches the ping interval.
        now = self.broker.simenv.now
        self.last_send = self.last_heard = now - self.broker.phase(self.ping_interval_ms)
        self.broker.after(self.last_send + self.ping_interval_ms - now, self._ping)

    def restart(self, unclean: bool) -> None:
        """After a crash: a new session, registration, then roles from the controller. (No ELR
        in ZooKeeper mode, so an unclean shutdown changes nothing here.)"""
        self.controller.reset()
        self.session_id = 0
        self.registered = False
        self.shutting_down = False
        self.applied.clear()
        self._connect()
        self.broker.after(self.ping_interval_ms, self._ping)

    def _send_zk(
        self,
        request: ZkRequest,
        size: int,
        timeout_ms: float | None,
        done: Callable[[ZkResponse | None, str | None], None] | None,
    ) -> None:
        """Every request to ZooKeeper goes through here: it resets the ping clock."""
        self.last_send = self.broker.simenv.now
        self.broker.send_request(self._server(), "Zk", request, size, timeout_ms, done)

    # -- ZooKeeper plumbing --
    def _server(self) -> str:
        return f"zookeeper-{self.server_index % self.servers}"

    def _next_server(self) -> None:
        self.server_index = (self.server_index + 1) % self.servers

    def zk_request(
        self, txns: list[list[ZkOp]], callback: Callable[[ZkResponse | None], None]
    ) -> None:
        """Send ``txns`` in this session, retried on other servers until answered; ``callback``
        gets the response, or None if the session ended first."""
        sid = self.session_id
        if sid == 0:
            callback(None)
            return

        def done(response: ZkResponse | None, error: str | None) -> None:
            if response is not None:
                self.last_heard = self.broker.simenv.now
            if self.session_id != sid:
                callback(None)
                return
            if response is None or response.error == CONNECTION_LOSS:
                self._next_server()
                self._resync = True
                self.broker.after(RECONNECT_BACKOFF_MS, self._retry, sid, txns, callback)
                return
            if response.error == SESSION_EXPIRED:
                callback(None)
                self._on_session_expired()
                return
            callback(response)

        size = ZK_BYTES + 32 * sum(len(t) for t in txns)
        self._send_zk(ZkRequest(sid, txns), size, self.zk_timeout_ms, done)

    def _retry(
        self, sid: int, txns: list[list[ZkOp]], callback: Callable[[ZkResponse | None], None]
    ) -> None:
        if self.session_id != sid:
            callback(None)
            return
        self.zk_request(txns, callback)

    def _ping(self, reconnect: bool = False) -> None:
        """Ping once nothing was sent for ``ping_interval_ms`` (other requests count); after a
        failure (``reconnect``) at once, on the next server (ClientCnxn reconnects then)."""
        sid = self.session_id
        if sid == 0:
            self.broker.after(self.ping_interval_ms, self._ping)
            return
        now = self.broker.simenv.now
        due = self.last_send + self.ping_interval_ms
        if not reconnect and due > now + 1e-6:
            self.broker.after(due - now, self._ping)
            return

        def done(response: ZkResponse | None, error: str | None) -> None:
            if response is not None:
                self.last_heard = self.broker.simenv.now
            if response is not None and response.error == SESSION_EXPIRED:
                if self.session_id == sid:
                    self._on_session_expired()
            elif response is None or response.error is not None:
                self._next_server()
                self._resync = True
                self.broker.after(RECONNECT_BACKOFF_MS, self._ping, True)
                return
            elif self._resync:
                self._resync = False
                self._reread_watches()
            next_ping = self.last_send + self.ping_interval_ms - self.broker.simenv.now
            self.broker.after(max(0.0, next_ping), self._ping)

        if reconnect:
            # A new connection: ClientCnxn waits connectTimeout (session timeout / servers).
            self.last_heard = now
            timeout = self.session_timeout_ms / self.servers
        else:
            # ClientCnxn gives up on a server once it has heard nothing for readTimeout.
            timeout = max(self.last_heard + self.zk_timeout_ms - now, RECONNECT_BACKOFF_MS)
        self._send_zk(ZkRequest(sid, [[ZkOp("ping")]]), ZK_BYTES, timeout, done)

    def _reread_watches(self) -> None:
        """After a reconnect: read what this broker watches again, in case a notification was
        lost with the old connection."""
        if self.registered:
            self.elect()
        self.controller.on_brokers_changed()

    def _on_session_expired(self) -> None:
        if self.session_id == 0:
            return
        self._events((self.broker.simenv.now, self.broker.name, "zk_session_lost", ""))
        self.session_id = 0
        self.registered = False
        self.controller.resign("ZooKeeper session expired")
        self._connect()

    def _connect(self) -> None:
        def done(response: ZkResponse | None, error: str | None) -> None:
            if response is None or response.error is not None:
                self._next_server()
                self.broker.after(RECONNECT_BACKOFF_MS, self._connect)
                return
            self.last_heard = self.broker.simenv.now
            self.session_id = response.session_id
            self._events(
                (
                    self.broker.simenv.now,
                    self.broker.name,
                    "zk_session",
                    f"session {response.session_id}",
                )
            )
            self._register()

        self._send_zk(ZkRequest(0, [[ZkOp("connect")]]), ZK_BYTES, self.zk_timeout_ms, done)

    def _register(self) -> None:
        sid = self.session_id
        if sid == 0 or self.registered:
            return
        op = ZkOp("create", broker_path(self.broker_id), self.broker_id, ephemeral=True)

        def done(response: ZkResponse | None) -> None:
            if response is None or self.session_id != sid:
                return
            if response.txns[0].error is not None:  # the old session's znode is still there
                self.broker.after(REGISTER_RETRY_MS, self._register)
                return
            self.registered = True
            self._events((self.broker.simenv.now, self.broker.name, "zk_registered", ""))
            self.elect()

        self.zk_request([[op]], done)

    # -- the controller race --
    def elect(self) -> None:
        """Read ``/controller`` (watching it); if nobody holds it, try to take it."""
        if self.session_id == 0:
            return
        txns = [
            [ZkOp("get", CONTROLLER_PATH, watch=True)],
            [ZkOp("get", CONTROLLER_EPOCH_PATH)],
        ]
        self.zk_request(txns, self._on_controller_read)

    def _on_controller_read(self, response: ZkResponse | None) -> None:
        if response is None:
            return
        current = response.txns[0].results[0]
        if current.exists:
            holder = int(current.data)
            self.controller_id = holder
            if holder != self.broker_id and self.controller.active:
                self.controller.resign(f"broker {holder} holds /controller")
            return
        if not self.registered:
            return
        epoch_node = response.txns[1].results[0]
        epoch = int(epoch_node.data) + 1
        txn = [
            ZkOp("create", CONTROLLER_PATH, self.broker_id, ephemeral=True),
            ZkOp("set", CONTROLLER_EPOCH_PATH, epoch, version=epoch_node.version),
        ]

        def won(reply: ZkResponse | None) -> None:
            if reply is None:
                return
            result = reply.txns[0]
            if result.error is not None:
                self.elect()  # lost the race: watch the winner
                return
            self.controller_id = self.broker_id
            self.controller_epoch = max(self.controller_epoch, epoch)
            self.controller.activate(epoch, result.results[1].version)

        self.zk_request([txn], won)

    def _handle_watch(self, source: str, request: Request) -> None:
        event: WatchedEvent = request.body
        self.broker.send_response(source, request, None, 16)
        if event.session_id != self.session_id:
            return
        if event.path == CONTROLLER_PATH:
            self.elect()
        elif event.path == BROKER_IDS_PATH:
            self.controller.on_brokers_changed()

    # -- requests from the controller --
    def handle_leader_and_isr(self, source: str, request: Request) -> None:
        body: LeaderAndIsrRequest = request.body
        if not self._accept_controller(body.controller_id, body.controller_epoch, "LeaderAndIsr"):
            self.broker.send_response(
                source, request, ControllerResponse(STALE_CONTROLLER_EPOCH), REQUEST_BYTES
            )
            return
        for key in sorted(body.partitions):
            state = body.partitions[key]
            known = self.applied.get(key)
            if known is not None and (state.leader_epoch, state.partition_epoch) <= known:
                continue  # Kafka: "leader epoch ... is not newer", ignored
            self.applied[key] = (state.leader_epoch, state.partition_epoch)
            self._apply(key, state)
        self.broker.send_response(source, request, ControllerResponse(None), REQUEST_BYTES)

    def handle_update_metadata(self, source: str, request: Request) -> None:
        body: UpdateMetadataRequest = request.body
        if not self._accept_controller(body.controller_id, body.controller_epoch, "UpdateMetadata"):
            self.broker.send_response(
                source, request, ControllerResponse(STALE_CONTROLLER_EPOCH), REQUEST_BYTES
            )
            return
        self.live = set(body.live_brokers)
        self.cache.update(body.partitions)
        self._publish_eligibility()
        self.broker.send_response(source, request, ControllerResponse(None), REQUEST_BYTES)

    def _accept_controller(self, controller_id: int, epoch: int, api: str) -> bool:
        if epoch < self.controller_epoch:
            self._events(
                (
                    self.broker.simenv.now,
                    self.broker.name,
                    "stale_controller_epoch",
                    f"{api} from broker {controller_id} epoch {epoch} < {self.controller_epoch}",
                )
            )
            return False
        self.controller_epoch = epoch
        self.controller_id = controller_id
        return True

    def _apply(self, key: TopicPartition, state: PartitionState) -> None:
        """Make the local replica match ``state`` (``makeLeader`` / ``makeFollower``)."""
        self.broker.apply_partition_state(key, state, truncate_to_hw=self.truncate_to_hw)

    def _publish_eligibility(self) -> None:
        """Brokers not live (per UpdateMetadata) may not join an ISR nor count for the HW."""
        ineligible = frozenset(b for b in range(self.brokers) if b not in self.live)
        for key in sorted(self.broker.partitions):
            replica = self.broker.partitions[key]
            if replica.ineligible != ineligible:
                replica.ineligible = ineligible
                if replica.is_leader:
                    self.broker.high_watermark_maybe_moved(key)

    # -- controlled shutdown --
    def begin_controlled_shutdown(self) -> None:
        """Ask the controller to move leadership away, then stop (see the module docstring)."""
        if self.shutting_down:
            return
        self.shutting_down = True
        if not self.shutdown_enabled:
            self._stop()
            return
        self._request_shutdown(1)

    def _request_shutdown(self, attempt: int) -> None:
        def done(response: ControlledShutdownResponse | None, error: str | None) -> None:
            if response is not None and response.error is None and not response.remaining:
                self._stop()
                return
            if response is None:
                why = error or "no answer"
            elif response.error is not None:
                why = response.error
            else:
                why = f"{len(response.remaining)} partitions still led"
            if attempt >= self.shutdown_attempts:
                detail = f"giving up after {attempt} attempts ({why}): unclean shutdown"
                self._events(
                    (self.broker.simenv.now, self.broker.name, "controlled_shutdown_failed", detail)
                )
                self._stop()
                return
            detail = f"attempt {attempt} failed ({why})"
            self._events(
                (self.broker.simenv.now, self.broker.name, "controlled_shutdown_retry", detail)
            )
            self.broker.after(self.shutdown_backoff_ms, self._request_shutdown, attempt + 1)

        self.broker.send_request(
            f"broker-{self.controller_id}",
            "ControlledShutdown",
            ControlledShutdownRequest(self.broker_id),
            REQUEST_BYTES,
            self.request_timeout_ms,
            done,
            connection="controlled-shutdown",
        )

    def _stop(self) -> None:
        """Close the ZooKeeper session (its ephemerals go at once), flush and exit."""
        if self.session_id != 0:
            self._send_zk(ZkRequest(self.session_id, [[ZkOp("close")]]), ZK_BYTES, None, None)
            self.session_id = 0
        self.broker.finish_controlled_shutdown()

    # -- AlterPartition --
    def _handle_alter_partition(self, source: str, request: Request) -> None:
        self.controller.handle_alter_partition(source, request)

    def alter_partition(self, broker: Broker, proposal: IsrProposal) -> None:
        body = AlterPartitionRequest.from_proposal(broker.broker_id, proposal)

        def done(response: AlterPartitionResponse | None, error: str | None) -> None:
            if response is None or response.error == NOT_CONTROLLER:
                broker.after(self.retry_backoff_ms, self._retry_alter, proposal)
                return
            state = response.state
            isr = state.isr if state is not None else ()
            epoch = state.partition_epoch if state is not None else -1
            if response.error is None and state is not None:
                self.applied[(proposal.topic, proposal.partition)] = (
                    state.leader_epoch,
                    state.partition_epoch,
                )
            broker.on_alter_partition_response(proposal, response.error, isr, epoch)

        broker.send_request(
            f"broker-{self.controller_id}",
            "AlterPartition",
            body,
            REQUEST_BYTES,
            self.request_timeout_ms,
            done,
            connection=CONTROLLER_CONNECTION,
        )

    def _retry_alter(self, proposal: IsrProposal) -> None:
        replica = self.broker.partitions.get((proposal.topic, proposal.partition))
        if replica is not None and replica.pending_isr is proposal:
            self.alter_partition(self.broker, proposal)


def bootstrap_zookeeper(
    store: ZkStore, clients: list[ZkBrokerClient], topics: list[TopicSpec]
) -> None:
    """Time 0 (a formed cluster): every broker has a session and ``/brokers/ids/<id>``, every
    broker watches ``/controller``, partition states exist, and broker-0 is the controller with
    controller epoch 1 and the state loaded (the first election is not a failover)."""
    live: dict[int, int] = {}
    for client in clients:
        sid = store.open_session(client.broker.name, store.servers[client.server_index])
        client.session_id = sid
        path = broker_path(client.broker_id)
        store.bootstrap_node(path, client.broker_id, owner=sid)
        live[client.broker_id] = store.nodes[path].czxid
        store.watch(CONTROLLER_PATH, sid)
    for topic in topics:
        for p, replicas in enumerate(topic.assignment):
            store.bootstrap_node(partition_path(topic.name, p), election.initial_state(replicas))
    store.bootstrap_node(CONTROLLER_EPOCH_PATH, 1)
    if clients:
        first = clients[0]
        store.bootstrap_node(CONTROLLER_PATH, first.broker_id, owner=first.session_id)
        store.watch(BROKER_IDS_PATH, first.session_id, children=True)
        first.controller.bootstrap(1, store.nodes[CONTROLLER_EPOCH_PATH].version, live)
