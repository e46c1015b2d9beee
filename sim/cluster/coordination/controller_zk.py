"""ZooKeeper mode: the ensemble (``zookeeper-<i>``) and the ZK-mode controller's decisions.

Theory of operation (kafka-semantics §3.1, ``KafkaController.scala``, ``KafkaZkClient.scala``)
------------------------------------------------------------------------------------------------
**The ensemble.** ``zookeeper-<i>`` nodes serve one znode tree, kept in a shared
:class:`ZkStore` (the replicated state every ZooKeeper server agrees on). A client talks to one
server by RPC (``Zk`` requests over the network); the server answers only if it is alive and
can reach a majority of the ensemble (itself included): a server is reachable when it is alive,
not paused, and neither direction of the link between the two is blocked by a network
partition. Otherwise it answers ``CONNECTION_LOSS`` at once (a ZooKeeper server without a quorum
closes its client connections) and the client moves to the next server.

A request carries a session id and a list of *transactions*; each transaction is a list of ops
(``create`` / ``delete`` / ``get`` / ``children`` / ``set`` / ``check``) applied atomically
(ZooKeeper ``multi``): every op is validated against the tree as it was before the transaction
(ops of one transaction touch distinct paths), then all are applied, or none. ``get`` and
``children`` may leave a one-shot watch (``get`` on a missing node is an ``exists`` watch). When
a watched node is created, deleted or changed (or a child of a child-watched node comes or
goes) the watch fires: the session's current server sends a ``ZkWatch`` notification to the
client over the network. If that server is down or cut off from the client, the notification
waits until the session's next request reaches a server (ZooKeeper's ``SetWatches`` replay on
reconnect); clients also re-read what they watch after a reconnect.

**Sessions** (``SessionTrackerImpl``/``ExpiryQueue``). Every request that reaches a server with a
quorum refreshes the session; a session expires at the first tick boundary (``tickTime`` =
3000 ms, ZooKeeper's default) after ``last heard + zookeeper.session.timeout.ms``. Tick
boundaries are multiples of ``tickTime`` on the ensemble's own clock, so they sit at a phase
drawn once per run (``SimEnv.phase("zookeeper", tickTime)``), not at multiples of 3 s of
simulated time. Expiry deletes
the session's ephemeral znodes (``/brokers/ids/N``, ``/controller``) and fires their watches.
A client may also close its session (a ``close`` request: a broker's clean shutdown closes its
ZooKeeper client), which does the same at once.
Without a quorum nothing expires; when a quorum forms again every session gets a fresh timeout
(a new ZooKeeper leader restarts session tracking).

**The controller** (:class:`ZkController`, one per broker, active on the broker that holds
``/controller``). It handles one event at a time (``ControllerEventManager``): every event is a
chain of ZK requests and decisions, and the next event starts when it is done.

* *Failover* (``onControllerFailover``): read ``/brokers/ids`` (with a child watch) and every
  partition state, then spend ``reload_ms`` = ``RELOAD_BASE_MS`` + ``RELOAD_PER_PARTITION_MS``
  per partition before acting (the state reload; seconds on big clusters). Then partitions whose
  leader or ISR members are not live are failed over as below, and every live broker gets an
  ``UpdateMetadata`` with every partition and every live replica a ``LeaderAndIsr``.
* *Broker change* (the ``/brokers/ids`` child watch): brokers gone (or bounced: a new czxid,
  Kafka's broker epoch) run ``onBrokerFailure``: ``election.broker_fenced`` for each of their
  partitions under the ZK policy (leader epoch bumped on every controller ISR shrink, no ELR);
  new brokers run ``onBrokerStartup``: full ``UpdateMetadata`` to them, ``LeaderAndIsr`` for
  their replicas, and ``election.broker_unfenced`` for leaderless partitions.
* *ControlledShutdown* (``doControlledShutdown``, ``controlled.shutdown.enable``): the broker
  joins the controller's shutting-down set (``shuttingDownBrokerIds``: usable for no election
  and not ISR-eligible in AlterPartition, yet still live in ``UpdateMetadata``, as Kafka's
  ``liveOrShuttingDownBrokers``); every partition it hosts gets ``election.controlled_shutdown``
  under the ZK policy (leadership to the first live ISR replica not shutting down, kind
  ``'controlled'``; it leaves the ISRs, not as the last member), written to ZK and propagated.
  The answer lists the partitions it still leads (a leader without another usable ISR member
  keeps them; empty = it may stop). A broker leaves the set when its registration goes or
  bounces; a new controller starts with an empty set (it is in memory only).
* *AlterPartition* (IBP >= 2.7, KIP-497): validated by ``election.alter_partition``, written to
  ZK, answered, then ``UpdateMetadata`` for that partition to every live broker.
* Every partition-state write is conditional twice (``KafkaZkClient.updateLeaderAndIsr``): on
  the partition znode's version (= ``partition_epoch``, the zkVersion) and on the
  ``/controller_epoch`` znode's version this controller created. A zombie controller's write
  fails the latter: it resigns (``ControllerMovedException``). Brokers reject
  ``LeaderAndIsr``/``UpdateMetadata`` carrying an older controller epoch
  (``STALE_CONTROLLER_EPOCH``).

Elections go to the ``elections`` table (start = when the old leader was lost, from
``Outages``), controller failovers to ``controller_elections`` (coordinator ``zookeeper``; start =
when the previous controller's broker was lost).

Simplifications
---------------
* Bootstrap: a run starts with a formed cluster. Every broker has a session (last heard at 0),
  ``/brokers/ids/N`` and its topics' partition states exist (preferred leaders, full ISRs, epoch
  0), and broker-0 is the controller with controller epoch 1, state loaded. That first election
  is not counted as a failover.
* The ensemble's own consensus (ZAB leader election, proposal round trips, fsync) is not
  modelled: a request is applied the moment a server with a quorum receives it, and only the
  client-server network round trip costs time.
* ``children`` answers each child's czxid with its name (Kafka reads every ``/brokers/ids/N``
  to get it); a broker epoch is the czxid of its registration znode.
* Preferred-leader rebalancing, topic/partition creation and reassignment are not modelled in
  ZooKeeper mode.
* Controlled shutdown sends the shutting-down broker ``LeaderAndIsr`` for the partitions it
  followed (it becomes a follower outside the ISR) instead of Kafka's ``StopReplica``; its
  fetching is harmless, as the controller refuses to put it back in an ISR.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sim.cluster.net.messages import AlterPartitionRequest, AlterPartitionResponse
from sim.cluster.net.network import Network, Node, Request
from sim.kafka import election
from sim.kafka.election import ElectionPolicy, PartitionChange, PartitionState

if TYPE_CHECKING:
    from sim.cluster.broker.broker import Broker
    from sim.cluster.faults import Outages
    from sim.cluster.net.engine import SimEnv
    from sim.scenario import ClusterSpec, TopicSpec

TopicPartition = tuple[str, int]

TICK_MS = 3000.0  # ZooKeeper tickTime default: sessions expire on tick boundaries
RELOAD_BASE_MS = 200.0  # a new controller's state reload: fixed part ...
RELOAD_PER_PARTITION_MS = 1.0  # ... plus this per partition
ZK_BYTES = 64
CHANNEL_RETRY_MS = 100.0  # the controller's resend backoff towards one broker

CONNECTION_LOSS = "CONNECTION_LOSS"
SESSION_EXPIRED = "SESSION_EXPIRED"
NODE_EXISTS = "NODE_EXISTS"
NO_NODE = "NO_NODE"
BAD_VERSION = "BAD_VERSION"
STALE_CONTROLLER_EPOCH = "STALE_CONTROLLER_EPOCH"
NOT_CONTROLLER = "NOT_CONTROLLER"
BROKER_NOT_AVAILABLE = "BROKER_NOT_AVAILABLE"

CONTROLLER_PATH = "/controller"
CONTROLLER_EPOCH_PATH = "/controller_epoch"
BROKER_IDS_PATH = "/brokers/ids"
TOPICS_PATH = "/brokers/topics"

# API names of the controller's channels; they travel on a connection of their own
# (ControllerChannelManager, BrokerToControllerChannelManager), never behind replica fetches.
CONTROLLER_CONNECTION = "controller"


def partition_path(topic: str, partition: int) -> str:
    return f"{TOPICS_PATH}/{topic}/partitions/{partition}/state"


def broker_path(broker_id: int) -> str:
    return f"{BROKER_IDS_PATH}/{broker_id}"


def zk_policy(topic: TopicSpec) -> ElectionPolicy:
    """The ZooKeeper controller's rules: no ELR, leader epoch bumped on controller ISR shrinks."""
    cfg = topic.config
    return ElectionPolicy(
        unclean=bool(cfg["unclean.leader.election.enable"]),
        elr=False,
        min_isr=min(int(cfg["min.insync.replicas"]), topic.replication_factor),
        bump_epoch_on_isr_shrink=True,
    )


def reload_ms(partitions: int) -> float:
    """How long a new controller spends loading cluster state before it acts."""
    return RELOAD_BASE_MS + RELOAD_PER_PARTITION_MS * partitions


# -- the ZooKeeper protocol ----------------------------------------------------------------------


@dataclass(slots=True)
class ZkOp:
    kind: str  # connect | ping | close | create | delete | get | children | set | check | snapshot
    path: str = ""
    data: Any = None
    version: int = -1  # -1 = any version
    ephemeral: bool = False
    watch: bool = False


@dataclass(slots=True)
class ZkOpResult:
    data: Any = None
    version: int = -1
    czxid: int = -1
    exists: bool = True
    children: dict[str, int] = field(default_factory=dict)  # name -> czxid
    nodes: dict[str, tuple[Any, int]] = field(default_factory=dict)  # snapshot: path -> (d, v)


@dataclass(slots=True)
class TxnResult:
    error: str | None
    failed_op: int = -1  # index of the op that failed
    results: list[ZkOpResult] = field(default_factory=list)


@dataclass(slots=True)
class ZkRequest:
    session_id: int  # 0 with a single connect op: open a new session
    txns: list[list[ZkOp]]


@dataclass(slots=True)
class ZkResponse:
    error: str | None  # CONNECTION_LOSS | SESSION_EXPIRED | None
    session_id: int
    txns: list[TxnResult] = field(default_factory=list)


@dataclass(slots=True)
class WatchedEvent:
    path: str
    kind: str  # created | deleted | changed | children
    session_id: int


@dataclass(slots=True)
class Znode:
    data: Any
    version: int
    czxid: int
    owner: int = 0  # session id of an ephemeral node, 0 = persistent


@dataclass(slots=True)
class Session:
    session_id: int
    owner: str  # the client node
    server: ZooKeeperNode
    last_heard: float
    pending: list[WatchedEvent] = field(default_factory=list)  # server was down


class ZkStore:
    """The znode tree, sessions and watches every ZooKeeper server agrees on."""

    def __init__(self, simenv: SimEnv, session_timeout_ms: float, tick_ms: float = TICK_MS) -> None:
        self.simenv = simenv
        self.session_timeout_ms = session_timeout_ms
        self.tick_ms = tick_ms
        self.servers: list[ZooKeeperNode] = []
        self.nodes: dict[str, Znode] = {}
        self.sessions: dict[int, Session] = {}
        self.data_watches: dict[str, set[int]] = {}
        self.child_watches: dict[str, set[int]] = {}
        self.zxid = 0
        self._next_session = 0
        self._had_quorum = True
        self._events = simenv.recorder.table("events")
        # Tick boundaries are tick_offset + k * tick_ms (ZooKeeper's clock did not start at 0).
        self.tick_offset = (tick_ms - simenv.phase("zookeeper", tick_ms)) % tick_ms
        self._ticks = -1  # index of the last tick scheduled

    # -- setup --
    def bootstrap_node(self, path: str, data: Any, owner: int = 0) -> None:
        self.zxid += 1
        self.nodes[path] = Znode(data, 0, self.zxid, owner)

    def open_session(self, owner: str, server: ZooKeeperNode) -> int:
        self._next_session += 1
        sid = self._next_session
        self.sessions[sid] = Session(sid, owner, server, self.simenv.now)
        return sid

    def watch(self, path: str, session_id: int, *, children: bool = False) -> None:
        table = self.child_watches if children else self.data_watches
        table.setdefault(path, set()).add(session_id)

    def start(self) -> None:
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        """The next tick boundary after now, computed (not summed) so that it never drifts."""
        now = self.simenv.now
        self._ticks = max(self._ticks + 1, math.floor((now - self.tick_offset) / self.tick_ms) + 1)
        when = self.tick_offset + self._ticks * self.tick_ms
        if when <= now:
            self._ticks += 1
            when += self.tick_ms
        self.simenv.call_later(when - now, self._tick)

    def partition_states(self) -> dict[TopicPartition, PartitionState]:
        """Every ``/brokers/topics/T/partitions/P/state`` znode: the authoritative metadata."""
        out: dict[TopicPartition, PartitionState] = {}
        for path, node in self.nodes.items():
            if path.startswith(TOPICS_PATH + "/") and path.endswith("/state"):
                topic, _, partition, _ = path[len(TOPICS_PATH) + 1 :].rsplit("/", 3)
                out[(topic, int(partition))] = node.data
        return out

    # -- quorum and session expiry --
    def quorum_available(self) -> bool:
        return any(server.has_quorum() for server in self.servers)

    def _tick(self) -> None:
        now = self.simenv.now
        if not self.quorum_available():
            self._had_quorum = False
        elif not self._had_quorum:
            self._had_quorum = True
            for session in self.sessions.values():  # a new ZK leader restarts session tracking
                session.last_heard = now
        else:
            for sid in sorted(self.sessions):
                if self.expires_at(self.sessions[sid]) <= now + 1e-6:
                    self.expire(sid)
        self._schedule_tick()

    def expires_at(self, session: Session) -> float:
        """First tick boundary after last heard + timeout (ZooKeeper's ``ExpiryQueue``)."""
        deadline = session.last_heard + self.session_timeout_ms - self.tick_offset
        return (math.floor(deadline / self.tick_ms) + 1) * self.tick_ms + self.tick_offset

    def expire(self, session_id: int, kind: str = "zk_session_expired") -> None:
        """End a session (expired, or closed by its client): its ephemerals go, watches fire."""
        session = self.sessions.pop(session_id, None)
        if session is None:
            return
        self._events((self.simenv.now, session.owner, kind, f"session {session_id}"))
        for table in (self.data_watches, self.child_watches):
            for watchers in table.values():
                watchers.discard(session_id)
        for path in sorted(p for p, n in self.nodes.items() if n.owner == session_id):
            del self.nodes[path]
            self._fire(path, "deleted")

    def touch(self, session_id: int, server: ZooKeeperNode) -> Session | None:
        session = self.sessions.get(session_id)
        if session is None:
            return None
        session.last_heard = self.simenv.now
        session.server = server
        if session.pending and server.can_reach(session.owner):
            pending, session.pending = session.pending, []
            for event in pending:
                server.notify(session.owner, event)
        return session

    # -- watches --
    def _fire(self, path: str, kind: str) -> None:
        for sid in sorted(self.data_watches.pop(path, set())):
            self._notify(sid, WatchedEvent(path, kind, sid))
        if kind in ("created", "deleted"):
            parent = path.rsplit("/", 1)[0]
            for sid in sorted(self.child_watches.pop(parent, set())):
                self._notify(sid, WatchedEvent(parent, "children", sid))

    def _notify(self, session_id: int, event: WatchedEvent) -> None:
        session = self.sessions.get(session_id)
        if session is None:
            return
        server = session.server
        if server.alive and not server.paused and server.can_reach(session.owner):
            server.notify(session.owner, event)
        else:
            session.pending.append(event)

    # -- transactions --
    def execute(self, session_id: int, txn: list[ZkOp]) -> TxnResult:
        for index, op in enumerate(txn):
            error = self._validate(op)
            if error is not None:
                return TxnResult(error, index)
        results = [self._apply(session_id, op) for op in txn]
        return TxnResult(None, -1, results)

    def _validate(self, op: ZkOp) -> str | None:
        node = self.nodes.get(op.path)
        if op.kind == "create":
            if node is not None:
                return NODE_EXISTS
        elif op.kind in ("delete", "set", "check"):
            if node is None:
                return NO_NODE
            if op.version >= 0 and node.version != op.version:
                return BAD_VERSION
        return None

    def _apply(self, session_id: int, op: ZkOp) -> ZkOpResult:
        kind, path = op.kind, op.path
        if kind == "create":
            self.zxid += 1
            self.nodes[path] = Znode(op.data, 0, self.zxid, session_id if op.ephemeral else 0)
            self._fire(path, "created")
            return ZkOpResult(op.data, 0, self.zxid)
        if kind == "delete":
            del self.nodes[path]
            self._fire(path, "deleted")
            return ZkOpResult()
        if kind == "set":
            node = self.nodes[path]
            self.zxid += 1
            node.data = op.data
            node.version += 1
            self._fire(path, "changed")
            return ZkOpResult(node.data, node.version, node.czxid)
        if kind == "get":
            if op.watch:
                self.watch(path, session_id)
            found = self.nodes.get(path)
            if found is None:
                return ZkOpResult(exists=False)
            return ZkOpResult(found.data, found.version, found.czxid)
        if kind == "children":
            if op.watch:
                self.watch(path, session_id, children=True)
            prefix = path + "/"
            children = {
                p[len(prefix) :]: n.czxid
                for p, n in self.nodes.items()
                if p.startswith(prefix) and "/" not in p[len(prefix) :]
            }
            return ZkOpResult(children=children)
        if kind == "snapshot":
            prefix = path + "/"
            nodes = {p: (n.data, n.version) for p, n in self.nodes.items() if p.startswith(prefix)}
            return ZkOpResult(nodes=nodes)
        return ZkOpResult()  # check, ping


class ZooKeeperNode(Node):
    """``zookeeper-<i>``: a server of the ensemble; serves only with a reachable majority."""

    def __init__(self, index: int, simenv: SimEnv, network: Network, store: ZkStore) -> None:
        super().__init__(f"zookeeper-{index}", simenv, network)
        self.index = index
        self.store = store
        store.servers.append(self)

    def has_quorum(self) -> bool:
        if not self.alive or self.paused:
            return False
        reachable = 0
        for peer in self.store.servers:
            if peer is self or (
                peer.alive
                and not peer.paused
                and not self.network.link(self.name, peer.name).blocked
                and not self.network.link(peer.name, self.name).blocked
            ):
                reachable += 1
        return 2 * reachable > len(self.store.servers)

    def can_reach(self, client: str) -> bool:
        """Whether the connection to ``client`` is up (else a notification waits for it)."""
        return not self.network.link(self.name, client).blocked

    def notify(self, client: str, event: WatchedEvent) -> None:
        self.push(client, "ZkWatch", event, ZK_BYTES, "data")

    def handle_request(self, source: str, request: Request) -> None:
        if request.api != "Zk":
            return
        body: ZkRequest = request.body
        store = self.store
        if not self.has_quorum():
            self.send_response(source, request, ZkResponse(CONNECTION_LOSS, body.session_id), 64)
            return
        sid = body.session_id
        if sid == 0:
            sid = store.open_session(source, self)
            self.send_response(source, request, ZkResponse(None, sid), ZK_BYTES)
            return
        if store.touch(sid, self) is None:
            self.send_response(source, request, ZkResponse(SESSION_EXPIRED, sid), ZK_BYTES)
            return
        if body.txns and body.txns[0] and body.txns[0][0].kind == "close":
            store.expire(sid, "zk_session_closed")
            self.send_response(source, request, ZkResponse(None, sid), ZK_BYTES)
            return
        results = [store.execute(sid, txn) for txn in body.txns]
        size = ZK_BYTES + 32 * sum(len(t) for t in body.txns)
        self.send_response(source, request, ZkResponse(None, sid, results), size)


# -- controller <-> broker messages ---------------------------------------------------------------


@dataclass(slots=True)
class LeaderAndIsrRequest:
    controller_id: int
    controller_epoch: int
    partitions: dict[TopicPartition, PartitionState]


@dataclass(slots=True)
class UpdateMetadataRequest:
    controller_id: int
    controller_epoch: int
    live_brokers: tuple[int, ...]
    partitions: dict[TopicPartition, PartitionState]


@dataclass(slots=True)
class ControllerResponse:
    error: str | None


@dataclass(slots=True)
class ControlledShutdownRequest:
    broker_id: int


@dataclass(slots=True)
class ControlledShutdownResponse:
    error: str | None  # NOT_CONTROLLER | BROKER_NOT_AVAILABLE | None
    remaining: tuple[TopicPartition, ...] = ()  # partitions the broker still leads


ZkRequester = Callable[[list[list[ZkOp]], Callable[[ZkResponse | None], None]], None]


class ZkController:
    """The controller logic of one broker; acts only while that broker holds ``/controller``."""

    def __init__(
        self,
        broker: Broker,
        zk: ZkRequester,
        cluster: ClusterSpec,
        topics: list[TopicSpec],
        outages: Outages,
    ) -> None:
        self.broker = broker
        self.broker_id = broker.broker_id
        self.zk = zk
        self.cluster = cluster
        self.policies = {t.name: zk_policy(t) for t in topics}
        self.outages = outages
        self.partitions: dict[TopicPartition, PartitionState] = {}
        for topic in topics:
            for p, replicas in enumerate(topic.assignment):
                self.partitions[(topic.name, p)] = election.initial_state(replicas)
        self.reload_ms = reload_ms(len(self.partitions))
        self.live: dict[int, int] = {}  # broker id -> czxid of its registration (broker epoch)
        self.shutting_down: set[int] = set()  # shuttingDownBrokerIds (controlled shutdown)
        self.active = False
        self.ready = False  # state loaded, acting
        self.epoch = 0
        self.epoch_version = -1  # zkVersion of /controller_epoch as this controller wrote it
        self.generation = 0  # +1 at every (de)activation: stale callbacks are ignored
        self._queue: deque[Callable[[Callable[[], None]], None]] = deque()
        self._busy = False
        self._channels: dict[int, deque[tuple[str, Any, int]]] = {}
        self._in_flight: set[int] = set()
        recorder = broker.simenv.recorder
        self._controller_rows = recorder.table("controller_elections")
        self._election_rows = recorder.table("elections")
        self._events = recorder.table("events")

    @property
    def now(self) -> float:
        return self.broker.simenv.now

    # -- activation --
    def bootstrap(self, epoch: int, epoch_version: int, live: dict[int, int]) -> None:
        """Time 0: controller with the state already loaded (not counted as a failover)."""
        self.active = self.ready = True
        self.epoch, self.epoch_version = epoch, epoch_version
        self.live = dict(live)
        self.generation += 1
        self.outages.active_controller = self.broker_id
        self.outages.previous_active_controller = self.broker_id
        self._schedule_rebalance()  # auto.leader.rebalance.enable from the start, as activate()

    def activate(self, epoch: int, epoch_version: int) -> None:
        """This broker just won ``/controller`` with ``epoch`` (onControllerFailover)."""
        self.active, self.ready = True, False
        self.epoch, self.epoch_version = epoch, epoch_version
        self.shutting_down.clear()
        self.generation += 1
        self._queue.clear()
        self._busy = False
        self._drop_channels()
        self._events((self.now, self.broker.name, "controller_elected", f"epoch {epoch}"))
        self._enqueue(self._failover)
        self._schedule_rebalance()

    # -- auto.leader.rebalance.enable (KafkaController.checkAndTriggerAutoLeaderRebalance) --
    def _schedule_rebalance(self) -> None:
        cfg = self.broker.config
        if cfg["auto.leader.rebalance.enable"]:
            interval = float(cfg["leader.imbalance.check.interval.seconds"]) * 1000.0
            self.broker.after(interval, self._rebalance_tick, self.generation, interval)

    def _rebalance_tick(self, generation: int, interval: float) -> None:
        if not self.active or generation != self.generation:
            return
        self._enqueue(self._rebalance)
        self.broker.after(interval, self._rebalance_tick, generation, interval)

    def _rebalance(self, done: Callable[[], None]) -> None:
        """Every leader.imbalance.check.interval.seconds: a broker whose share of preferred
        partitions led by someone else exceeds leader.imbalance.per.broker.percentage gets
        them back where it is live and in the ISR (preferred-replica election)."""
        threshold = float(self.broker.config["leader.imbalance.per.broker.percentage"]) / 100.0
        usable = self._usable()
        preferred: dict[int, list[TopicPartition]] = {}
        for key in sorted(self.partitions):
            preferred.setdefault(self.partitions[key].replicas[0], []).append(key)
        changes: list[tuple[TopicPartition, PartitionChange, str]] = []
        for broker_id in sorted(preferred):
            keys = preferred[broker_id]
            elsewhere = [k for k in keys if self.partitions[k].leader != broker_id]
            if not keys or len(elsewhere) / len(keys) <= threshold:
                continue
            for key in elsewhere:
                change = election.preferred_leader_election(
                    self.partitions[key], usable, self.policies[key[0]]
                )
                if change.changed:
                    changes.append((key, change, "preferred leader election"))
        if not changes:
            done()
            return

        def written(applied: dict[TopicPartition, PartitionState]) -> None:
            self._propagate(applied)
            done()

        self._write(changes, written)

    def resign(self, reason: str) -> None:
        if not self.active:
            return
        self.active = self.ready = False
        self.generation += 1
        self._queue.clear()
        self._busy = False
        self._drop_channels()
        if self.outages.active_controller == self.broker_id:
            self.outages.active_controller = None
        self._events((self.now, self.broker.name, "controller_resigned", reason))

    def reset(self) -> None:
        """The broker crashed: everything in memory is gone."""
        self.active = self.ready = False
        self.shutting_down.clear()
        self.generation += 1
        self._queue.clear()
        self._busy = False
        self._drop_channels()

    # -- the event queue --
    def _enqueue(self, event: Callable[[Callable[[], None]], None]) -> None:
        self._queue.append(event)
        self._run_next()

    def _run_next(self) -> None:
        if self._busy or not self._queue or not self.active:
            return
        self._busy = True
        event = self._queue.popleft()
        generation = self.generation

        def done() -> None:
            if generation != self.generation:
                return
            self._busy = False
            self._run_next()

        event(done)

    def _zk(self, txns: list[list[ZkOp]], then: Callable[[ZkResponse], None]) -> None:
        """A ZK request on behalf of this controller generation; dropped if it resigned."""
        generation = self.generation

        def callback(response: ZkResponse | None) -> None:
            if generation != self.generation or not self.active:
                return
            if response is None or response.error is not None:
                self.resign("ZooKeeper session lost")
                return
            then(response)

        self.zk(txns, callback)

    # -- failover --
    def _failover(self, done: Callable[[], None]) -> None:
        txns = [
            [ZkOp("children", BROKER_IDS_PATH, watch=True)],
            [ZkOp("snapshot", TOPICS_PATH)],
        ]

        def loaded(response: ZkResponse) -> None:
            self.live = {int(b): c for b, c in response.txns[0].results[0].children.items()}
            for key in self.partitions:
                data, _ = response.txns[1].results[0].nodes[partition_path(*key)]
                self.partitions[key] = data
            generation = self.generation
            self.broker.after(self.reload_ms, self._failover_act, generation, done)

        self._zk(txns, loaded)

    def _failover_act(self, generation: int, done: Callable[[], None]) -> None:
        if generation != self.generation or not self.active:
            return
        now = self.now
        self.ready = True
        previous = self.outages.previous_active_controller
        if previous is not None and previous != self.broker_id:
            start = self.outages.lost_at(f"broker-{previous}", now)
            self._controller_rows(
                (now, start, now, previous, self.broker_id, self.epoch, "zookeeper")
            )
        self.outages.active_controller = self.broker_id
        self.outages.previous_active_controller = self.broker_id
        self._events((now, self.broker.name, "active_controller", f"epoch {self.epoch}"))
        dead = {r for s in self.partitions.values() for r in s.replicas if r not in self.live}
        changes = self._fail_brokers(dead, "controller failover")

        def written(applied: dict[TopicPartition, PartitionState]) -> None:
            live = sorted(self.live)
            self._send_update_metadata(live, dict(self.partitions))
            for b in live:
                mine = {k: s for k, s in self.partitions.items() if b in s.replicas}
                self._send_leader_and_isr(b, mine)
            done()

        self._write(changes, written)

    # -- broker changes --
    def on_brokers_changed(self) -> None:
        if self.active:
            self._enqueue(self._brokers_changed)

    def _brokers_changed(self, done: Callable[[], None]) -> None:
        def read(response: ZkResponse) -> None:
            current = {int(b): c for b, c in response.txns[0].results[0].children.items()}
            bounced = {b for b, c in current.items() if b in self.live and self.live[b] != c}
            dead = (set(self.live) - set(current)) | bounced
            new = (set(current) - set(self.live)) | bounced
            self.live = current
            self.shutting_down -= dead
            self._drop_channels(dead)
            self._on_broker_failure(dead, lambda: self._on_broker_startup(new, done))

        self._zk([[ZkOp("children", BROKER_IDS_PATH, watch=True)]], read)

    def _on_broker_failure(self, dead: set[int], then: Callable[[], None]) -> None:
        if not dead:
            then()
            return
        self._events((self.now, self.broker.name, "brokers_failed", _ids(dead)))
        changes = self._fail_brokers(dead, "zk session expired")

        def written(applied: dict[TopicPartition, PartitionState]) -> None:
            self._propagate(applied)
            if not applied:
                self._send_update_metadata(sorted(self.live), {})
            then()

        self._write(changes, written)

    def _on_broker_startup(self, new: set[int], done: Callable[[], None]) -> None:
        if not new:
            done()
            return
        self._events((self.now, self.broker.name, "brokers_started", _ids(new)))
        live = sorted(self.live)
        self._send_update_metadata([b for b in live if b not in new], {})
        self._send_update_metadata(sorted(new), dict(self.partitions))
        for b in sorted(new):
            mine = {k: s for k, s in self.partitions.items() if b in s.replicas}
            self._send_leader_and_isr(b, mine)
        usable = self._usable()
        changes: list[tuple[TopicPartition, PartitionChange, str]] = []
        for key in sorted(self.partitions):
            state = self.partitions[key]
            for b in sorted(new):
                change = election.broker_unfenced(state, b, usable, self.policies[key[0]])
                if change.changed:
                    changes.append((key, change, f"broker {b} started"))
                    break

        def written(applied: dict[TopicPartition, PartitionState]) -> None:
            self._propagate(applied)
            done()

        self._write(changes, written)

    def _fail_brokers(
        self, dead: set[int], cause: str
    ) -> list[tuple[TopicPartition, PartitionChange, str]]:
        """``onBrokerFailure``: every partition with a dead leader or ISR member, one change each
        (one ZK write: leader and partition epochs rise by one)."""
        usable = self._usable() - dead
        changes = []
        for key in sorted(self.partitions):
            before = state = self.partitions[key]
            kind: str | None = None
            for b in sorted(dead):
                change = election.broker_fenced(state, b, usable, self.policies[key[0]])
                if change.changed:
                    if change.leader_changed or kind is None:
                        kind = change.kind
                    state = change.after
            if state == before:
                continue
            state = replace(
                state,
                leader_epoch=before.leader_epoch + 1,
                partition_epoch=before.partition_epoch + 1,
            )
            detail = f"broker {_ids(dead & set(before.replicas))} lost ({cause})"
            changes.append((key, PartitionChange(before, state, kind), detail))
        return changes

    def _usable(self) -> frozenset[int]:
        """Brokers that may lead or be in an ISR: live and not shutting down
        (``ControllerContext.liveBrokerIds``)."""
        return frozenset(b for b in self.live if b not in self.shutting_down)

    # -- controlled shutdown --
    def handle_controlled_shutdown(self, source: str, request: Request) -> None:
        if not self.active:
            self.broker.send_response(
                source, request, ControlledShutdownResponse(NOT_CONTROLLER), 64
            )
            return
        self._enqueue(lambda done: self._controlled_shutdown(source, request, done))

    def _controlled_shutdown(self, source: str, request: Request, done: Callable[[], None]) -> None:
        """``doControlledShutdown``: move leadership away from the broker and drop it from the
        ISRs, then answer with the partitions it still leads."""
        broker_id = request.body.broker_id
        if broker_id not in self.live:
            body = ControlledShutdownResponse(BROKER_NOT_AVAILABLE)
            self.broker.send_response(source, request, body, 64)
            done()
            return
        self.shutting_down.add(broker_id)
        self._events((self.now, f"broker-{broker_id}", "shutting_down", f"epoch {self.epoch}"))
        usable = self._usable()
        changes: list[tuple[TopicPartition, PartitionChange, str]] = []
        for key in sorted(self.partitions):
            state = self.partitions[key]
            if broker_id not in state.replicas or len(state.replicas) < 2:
                continue
            change = election.controlled_shutdown(state, broker_id, usable, self.policies[key[0]])
            if change.changed:
                changes.append((key, change, f"broker {broker_id} controlled shutdown"))

        def written(applied: dict[TopicPartition, PartitionState]) -> None:
            self._propagate(applied)
            remaining = tuple(
                k for k, s in sorted(self.partitions.items()) if s.leader == broker_id
            )
            body = ControlledShutdownResponse(None, remaining)
            self.broker.send_response(source, request, body, 64 + 32 * len(remaining))
            done()

        self._write(changes, written)

    # -- AlterPartition --
    def handle_alter_partition(self, source: str, request: Request) -> None:
        if not self.active:
            self._answer(source, request, AlterPartitionResponse(NOT_CONTROLLER))
            return
        self._enqueue(lambda done: self._alter_partition(source, request, done))

    def _alter_partition(self, source: str, request: Request, done: Callable[[], None]) -> None:
        body: AlterPartitionRequest = request.body
        key = (body.topic, body.partition)
        state = self.partitions[key]
        error, change = election.alter_partition(
            state,
            body.broker_id,
            body.leader_epoch,
            body.partition_epoch,
            body.new_isr,
            self._usable(),
            self.policies[body.topic],
        )
        if error is not None or not change.changed:
            self._answer(source, request, AlterPartitionResponse(error, state=state))
            done()
            return

        def written(applied: dict[TopicPartition, PartitionState]) -> None:
            if key in applied:
                self._answer(source, request, AlterPartitionResponse(None, state=applied[key]))
                self._send_update_metadata(sorted(self.live), applied)
            else:
                current = self.partitions[key]
                self._answer(
                    source,
                    request,
                    AlterPartitionResponse(election.INVALID_UPDATE_VERSION, state=current),
                )
            done()

        self._write([(key, change, f"AlterPartition from broker {body.broker_id}")], written)

    def _answer(self, source: str, request: Request, body: AlterPartitionResponse) -> None:
        self.broker.send_response(source, request, body, 64)

    # -- ZK writes and propagation --
    def _write(
        self,
        changes: list[tuple[TopicPartition, PartitionChange, str]],
        then: Callable[[dict[TopicPartition, PartitionState]], None],
    ) -> None:
        """Conditional writes of partition states (zkVersion and controller epoch checked)."""
        if not changes:
            then({})
            return
        txns = [
            [
                ZkOp("check", CONTROLLER_EPOCH_PATH, version=self.epoch_version),
                ZkOp(
                    "set",
                    partition_path(*key),
                    change.after,
                    version=change.before.partition_epoch,
                ),
            ]
            for key, change, _ in changes
        ]

        def written(response: ZkResponse) -> None:
            applied: dict[TopicPartition, PartitionState] = {}
            for (key, change, cause), result in zip(changes, response.txns, strict=True):
                if result.error is None:
                    self.partitions[key] = change.after
                    applied[key] = change.after
                    if change.leader_changed:
                        self._record_election(key, change, cause)
                elif result.failed_op == 0:
                    self.resign("controller moved (controller epoch check failed)")
                    return
                else:
                    self._events(
                        (self.now, f"{key[0]}-{key[1]}", "zk_write_failed", str(result.error))
                    )
            then(applied)

        self._zk(txns, written)

    def _record_election(self, key: TopicPartition, change: PartitionChange, cause: str) -> None:
        row = self.outages.election_row(key, change, cause, self.now)
        if row is not None:
            self._election_rows(row)

    def _propagate(self, applied: dict[TopicPartition, PartitionState]) -> None:
        """LeaderAndIsr to the live replicas of changed partitions, UpdateMetadata to all."""
        if not applied:
            return
        for b in sorted(self.live):
            mine = {k: s for k, s in applied.items() if b in s.replicas}
            if mine:
                self._send_leader_and_isr(b, mine)
        self._send_update_metadata(sorted(self.live), applied)

    def _send_leader_and_isr(
        self, broker_id: int, partitions: dict[TopicPartition, PartitionState]
    ) -> None:
        if not partitions:
            return
        body = LeaderAndIsrRequest(self.broker_id, self.epoch, partitions)
        self._send(broker_id, "LeaderAndIsr", body, len(partitions))

    def _send_update_metadata(
        self, brokers: list[int], partitions: dict[TopicPartition, PartitionState]
    ) -> None:
        live = tuple(sorted(self.live))
        for b in brokers:
            body = UpdateMetadataRequest(self.broker_id, self.epoch, live, partitions)
            self._send(b, "UpdateMetadata", body, len(partitions))

    def _send(self, broker_id: int, api: str, body: Any, partitions: int) -> None:
        """Queue a request on the channel to ``broker_id`` (``ControllerChannelManager``: one
        request in flight per broker, in order, the head retried until answered or the broker
        is gone)."""
        queue = self._channels.setdefault(broker_id, deque())
        queue.append((api, body, 64 + 32 * partitions))
        if broker_id not in self._in_flight:
            self._send_next(broker_id, queue, self.generation)

    def _send_next(
        self, broker_id: int, queue: deque[tuple[str, Any, int]], generation: int
    ) -> None:
        if generation != self.generation or self._channels.get(broker_id) is not queue:
            return
        if not queue:
            self._in_flight.discard(broker_id)
            return
        self._in_flight.add(broker_id)
        api, body, size = queue[0]

        def done(response: Any, error: str | None) -> None:
            if generation != self.generation or self._channels.get(broker_id) is not queue:
                return
            if response is None:
                self.broker.after(CHANNEL_RETRY_MS, self._send_next, broker_id, queue, generation)
                return
            queue.popleft()
            self._send_next(broker_id, queue, generation)

        self.broker.send_request(
            f"broker-{broker_id}",
            api,
            body,
            size,
            float(self.cluster.config.get("request.timeout.ms", 30000)),
            done,
            connection=CONTROLLER_CONNECTION,
        )

    def _drop_channels(self, brokers: set[int] | None = None) -> None:
        """Forget queued requests (all on resignation, or those of dead brokers)."""
        for b in sorted(self._channels) if brokers is None else sorted(brokers):
            self._channels.pop(b, None)
            self._in_flight.discard(b)


def _ids(brokers: set[int]) -> str:
    return ",".join(map(str, sorted(brokers)))
