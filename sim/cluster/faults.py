"""Fault injection: crashes, restarts, power loss, pauses, network partitions and degradations.

Theory of operation (Maelstrom's nemesis, kept apart from workload and checker)
-----------------------------------------------------------------------------
Faults come from the scenario's ``faults:`` list (``sim.scenario`` FaultSpec). Each fault runs at
its ``at`` time against a target resolved *then* (``leader(T-P)``, ``active-controller``,
``random-broker`` ...), is recorded in the events table with the resolved target, and is healed
after ``for`` when given. Kinds:

* ``crash``: the process dies; the OS page cache survives (nothing unflushed is lost); peers see
  their connections reset at once. ``restart`` starts it again (log recovery, re-registration).
* ``power-loss``: the machine loses power: every log loses its unflushed suffix
  (``cluster.disk``), the node is down, peers only learn by timeouts.
* ``disk-wipe``: the node's logs are emptied (and it is down until restarted).
* ``pause``: stop-the-world stall (GC, debugger): nothing runs, messages and timers wait.
* ``shutdown``: controlled shutdown (``controlled.shutdown.enable``), then down.
* ``partition`` (symmetric or one-way, ``others`` = every node not named), ``degrade``
  (latency/loss/bandwidth on matching links) and ``heal``.
* ``nemesis``: random faults of the listed kinds on the listed targets, drawn from the seed, one
  at a time, each healed after ``for``.

``Outages`` remembers when nodes and partitions became unavailable so the elections and
controller-elections tables can report the start of unavailability (the fault's time), not the
moment the controller noticed. A node is lost when a fault takes it away *in the cluster's view*:
its process crashed, lost power, was wiped, paused or shut down, or a network partition cut it off
from the coordination that keeps its session (see :meth:`FaultInjector._cut_from_coordination`):

* a KRaft broker whose heartbeats can no longer reach the active controller
  (``BrokerHeartbeatRequest``; the controller fences it after ``broker.session.timeout.ms``), or,
  when the active controller itself lost its quorum, any controller of the majority side;
* a ZooKeeper-mode broker that can reach no ZooKeeper server of the quorum's majority side (its
  client tries every server; the session expires after ``zookeeper.session.timeout.ms``);
* a KRaft controller or ZooKeeper server that cannot talk both ways with a majority of its
  ensemble (Raft leaders resign, ZooKeeper answers ``CONNECTION_LOSS``);
* a client cut off from every broker.

A partition that only separates a leader from some of its followers or clients does not take the
leader away (it keeps leading, the ISR shrinks), so a later election never starts at that cut.
Simplification: reachability is judged when the partition is applied; a controller move later
that turns an old cut into a lost session is not seen (that election then starts at its decision).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from sim.cluster.net.network import Node, Sampler
from sim.scenario.faults import OTHERS, FaultSpec, parse_group_coordinator, parse_leader

if TYPE_CHECKING:
    from sim.cluster.net.engine import SimEnv
    from sim.cluster.net.network import Network
    from sim.kafka.election import PartitionChange, PartitionState
    from sim.scenario import Scenario

TopicPartition = tuple[str, int]


class ClusterView(Protocol):
    """What the fault injector needs of a running cluster (``build.Cluster`` satisfies it):
    faults depend on this narrow view, never on the wiring in ``build``."""

    scenario: Scenario
    simenv: SimEnv
    network: Network
    outages: Outages

    @property
    def load_end_ms(self) -> float: ...

    def final_state(self) -> dict[TopicPartition, PartitionState]: ...

    def active_controller_node(self) -> Node | None: ...

    def group_coordinator_node(self, group: str) -> Node | None: ...


class Outages:
    """When nodes and partitions became unavailable (recorded history for the tables)."""

    def __init__(self) -> None:
        self.active_controller: int | None = None
        self.previous_active_controller: int | None = None
        self._lost: dict[str, float] = {}
        self._offline: dict[TopicPartition, float] = {}

    def node_lost(self, name: str, now: float) -> None:
        self._lost.setdefault(name, now)

    def node_back(self, name: str) -> None:
        self._lost.pop(name, None)

    def lost_at(self, name: str, default: float) -> float:
        return self._lost.get(name, default)

    def broker_lost_at(self, broker_id: int, default: float) -> float:
        return self.lost_at(f"broker-{broker_id}", default)

    def controller_lost(self, controller_id: int, now: float) -> None:
        self.node_lost(f"controller-{controller_id}", now)
        if self.active_controller == controller_id:
            self.active_controller = None

    def controller_lost_at(self, controller_id: int, default: float) -> float:
        return self.lost_at(f"controller-{controller_id}", default)

    def partition_offline(self, key: TopicPartition, since: float) -> None:
        self._offline.setdefault(key, since)

    def partition_online(self, key: TopicPartition) -> float | None:
        return self._offline.pop(key, None)

    def election_row(
        self, key: TopicPartition, change: PartitionChange, cause: str, now: float
    ) -> tuple[object, ...] | None:
        """The elections-table row of a leader change decided ``now``, or None when the
        partition just went offline (its row comes with the election that ends it). The row's
        start is when the partition lost its usable leader: when it went offline, else when the
        old leader was lost, else now (a controlled or preferred move)."""
        old, new = change.before.leader, change.after.leader
        if new < 0:
            self.partition_offline(key, self.broker_lost_at(old, now))
            return None
        start = self.partition_online(key)
        if start is None:
            start = self.broker_lost_at(old, now) if old >= 0 else now
        kind = change.kind or "clean"
        epoch = change.after.leader_epoch
        return (now, key[0], key[1], start, now, old, new, epoch, kind, cause)


class FaultInjector:
    """Runs the scenario's faults against a built cluster (Maelstrom's nemesis)."""

    def __init__(self, cluster: ClusterView) -> None:
        self.cluster = cluster
        self.simenv = cluster.simenv
        self.network = cluster.network
        self.rng = cluster.simenv.rng("nemesis")
        self._isolated: list[str] = []  # nodes marked lost by a partition, back on heal
        # (source, target) pairs the partitions in force block, as Network.partition blocks
        # them: membership only, never iterated to decide.
        self._cut: set[tuple[str, str]] = set()
        self._events = cluster.simenv.recorder.table("events")

    # -- scheduling --
    def schedule(self) -> None:
        for index, fault in enumerate(self.cluster.scenario.faults):
            if fault.action == "nemesis":
                start = fault.start_ms if fault.start_ms is not None else fault.at_ms
                self.simenv.call_at(start, self._nemesis_step, fault, index)
            else:
                self.simenv.call_at(fault.at_ms, self.apply, fault)

    def apply(self, fault: FaultSpec) -> None:
        action = fault.action
        if action == "partition":
            groups = self._groups(fault.groups or [])
            self.network.partition(groups, one_way=fault.one_way)
            self._cut_links(groups, one_way=fault.one_way)
            now = self.simenv.now
            for name in self._cut_from_coordination():
                if name not in self._isolated:
                    self.cluster.outages.node_lost(name, now)
                    self._isolated.append(name)
            self._record(action, "network", " | ".join(",".join(g) for g in groups))
            if fault.for_ms is not None:
                self.simenv.call_later(fault.for_ms, self._heal_network, "partition ended")
        elif action == "degrade":
            latency = (
                Sampler(fault.latency, self.simenv.rng(f"degrade:{fault.at_ms}"))
                if fault.latency is not None
                else None
            )
            source, target = fault.link_from or "*", fault.link_to or "*"
            self.network.degrade(source, target, latency, fault.loss, fault.bandwidth_bytes_per_ms)
            self._record(action, f"{source}->{target}", self._degrade_detail(fault))
            if fault.for_ms is not None:
                self.simenv.call_later(fault.for_ms, self._heal_network, "degrade ended")
        elif action == "heal":
            self._heal_network("heal")
            for node in self._nodes():
                if node.paused:
                    node.resume()
                    self.cluster.outages.node_back(node.name)
        else:
            self._node_fault(action, fault.target or "", fault.for_ms)

    def _node_fault(self, action: str, target: str, for_ms: float | None) -> None:
        node = self.resolve(target)
        if node is None:
            self._record(action, target, "no such node now: skipped")
            return
        now = self.simenv.now
        outages = self.cluster.outages
        heal: Callable[[], None] | None = None
        if action == "crash":
            outages.node_lost(node.name, now)
            node.crash(reset_connections=True)
            heal = node.restart
        elif action == "power-loss":
            outages.node_lost(node.name, now)
            power_loss = getattr(node, "power_loss", None)
            if power_loss is not None:
                power_loss()
            else:
                node.crash(reset_connections=False)
            heal = node.restart
        elif action == "disk-wipe":
            outages.node_lost(node.name, now)
            wipe = getattr(node, "disk_wipe", None)
            if wipe is not None:
                wipe()
            else:
                node.crash(reset_connections=False)
            heal = node.restart
        elif action == "pause":
            outages.node_lost(node.name, now)
            node.pause()
            heal = node.resume
        elif action == "shutdown":
            shutdown = getattr(node, "begin_controlled_shutdown", None)
            if shutdown is not None:
                shutdown()
            else:
                node.crash(reset_connections=True)
            heal = node.restart
        elif action == "restart":
            node.restart()
            outages.node_back(node.name)
        self._record(action, node.name, f"for {for_ms:g} ms" if for_ms else "")
        if for_ms is not None and heal is not None:
            self.simenv.call_later(for_ms, self._heal_node, node, heal)

    def _heal_node(self, node: Node, heal: Callable[[], None]) -> None:
        heal()
        self.cluster.outages.node_back(node.name)
        self._record("heal", node.name, "")

    def _heal_network(self, reason: str) -> None:
        self.network.heal()
        self._cut.clear()
        for name in self._isolated:
            if self.network.nodes[name].alive and not self.network.nodes[name].paused:
                self.cluster.outages.node_back(name)
        self._isolated.clear()
        self._record("heal", "network", reason)

    def heal_all(self) -> None:
        """Start of the drain phase: every fault healed, crashed nodes restarted."""
        self.network.heal()
        self._cut.clear()
        self._isolated.clear()
        for node in self._nodes():
            if node.paused:
                node.resume()
            if not node.alive:
                node.restart()
            self.cluster.outages.node_back(node.name)
        self._record("heal", "all", "drain phase")

    # -- who a partition takes away --
    def _cut_links(self, groups: list[list[str]], *, one_way: bool) -> None:
        """Remember the directed pairs a partition blocks (the same pairs as
        ``Network.partition``: between groups, only from ``groups[0]`` when one-way)."""
        for i, group in enumerate(groups):
            for j, other in enumerate(groups):
                if i == j or (one_way and i != 0):
                    continue
                self._cut.update((a, b) for a in group for b in other)

    def _reaches(self, source: str, target: str) -> bool:
        return source == target or (source, target) not in self._cut

    def _keeps_quorum(self, name: str, ensemble: list[str]) -> bool:
        """Whether ``name`` talks both ways with a majority of ``ensemble`` (itself included)."""
        talking = sum(1 for m in ensemble if self._reaches(name, m) and self._reaches(m, name))
        return talking > len(ensemble) // 2

    def _cut_from_coordination(self) -> list[str]:
        """The nodes (sorted) the partitions in force cut off from the coordination that keeps
        their session: see the module docstring for the rule of each role."""
        names = sorted(self.network.nodes)
        controllers = [n for n in names if n.startswith("controller-")]
        zookeepers = [n for n in names if n.startswith("zookeeper-")]
        brokers = [n for n in names if n.startswith("broker-")]
        healthy_controllers = [c for c in controllers if self._keeps_quorum(c, controllers)]
        healthy_zookeepers = [z for z in zookeepers if self._keeps_quorum(z, zookeepers)]
        active = self.cluster.active_controller_node()
        if controllers and active is not None and active.name in healthy_controllers:
            session_keepers = [active.name]  # heartbeats go to the active controller only
        else:
            session_keepers = healthy_controllers if controllers else healthy_zookeepers
        cut = []
        for name in names:
            if name in controllers or name in zookeepers:
                ensemble = controllers if name in controllers else zookeepers
                lost = not self._keeps_quorum(name, ensemble)
            elif name in brokers:
                lost = not any(self._reaches(name, keeper) for keeper in session_keepers)
            else:
                lost = not any(self._reaches(name, b) for b in brokers)
            if lost:
                cut.append(name)
        return cut

    # -- nemesis --
    def _nemesis_step(self, fault: FaultSpec, index: int) -> None:
        now = self.simenv.now
        stop = fault.stop_ms if fault.stop_ms is not None else self.cluster.load_end_ms
        if now >= stop:
            return
        kinds = list(fault.kinds or [])
        kind = kinds[int(self.rng.integers(len(kinds)))]
        names = self._nemesis_targets(fault)
        if names:
            name = names[int(self.rng.integers(len(names)))]
            if kind == "partition":
                spec = {
                    "action": "partition",
                    "at": now,
                    "for": fault.for_ms,
                    "groups": [[name], ["others"]],
                }
                self.apply(FaultSpec.model_validate(spec))
            elif kind == "degrade":
                spec = {
                    "action": "degrade",
                    "at": now,
                    "for": fault.for_ms,
                    "from": name,
                    "latency": "200ms",
                    "loss": 0.3,
                }
                self.apply(FaultSpec.model_validate(spec))
            else:
                self._node_fault(kind, name, fault.for_ms)
        every = fault.every_ms or 0.0
        if every > 0 and now + every < stop:
            self.simenv.call_later(every, self._nemesis_step, fault, index)

    def _nemesis_targets(self, fault: FaultSpec) -> list[str]:
        targets = fault.targets if fault.targets is not None else "brokers"
        nodes = self.network.nodes
        if isinstance(targets, list):
            return [t for t in targets if t in nodes]
        prefix = {"brokers": "broker-", "controllers": "controller-", "zookeepers": "zookeeper-"}
        if targets in prefix:
            return sorted(n for n in nodes if n.startswith(prefix[targets]))
        return sorted(
            n for n in nodes if not n.startswith(("broker-", "controller-", "zookeeper-"))
        )

    # -- targets --
    def resolve(self, target: str) -> Node | None:
        """A node name, or a selector resolved now: leader(T-P), active-controller,
        random-broker, group-coordinator(G)."""
        nodes = self.network.nodes
        if target in nodes:
            return nodes[target]
        key = parse_leader(target)
        if key is not None:
            state = self.cluster.final_state().get(key)
            if state is None or state.leader < 0:
                return None
            return nodes[f"broker-{state.leader}"]
        if target == "active-controller":
            return self.cluster.active_controller_node()
        if target == "random-broker":
            brokers = sorted(n for n in nodes if n.startswith("broker-"))
            return nodes[brokers[int(self.rng.integers(len(brokers)))]]
        group = parse_group_coordinator(target)
        if group is not None:
            return self.cluster.group_coordinator_node(group)
        return None

    def _groups(self, groups: list[list[str]]) -> list[list[str]]:
        named = {n for g in groups for n in g if n != OTHERS}
        others = sorted(n for n in self.network.nodes if n not in named)
        return [sorted({n for m in g for n in (others if m == OTHERS else [m])}) for g in groups]

    def _nodes(self) -> list[Node]:
        return [self.network.nodes[name] for name in sorted(self.network.nodes)]

    @staticmethod
    def _degrade_detail(fault: FaultSpec) -> str:
        parts = []
        if fault.latency is not None:
            parts.append(f"latency {fault.latency.kind}")
        if fault.loss is not None:
            parts.append(f"loss {fault.loss:g}")
        if fault.bandwidth_bytes_per_ms is not None:
            parts.append(f"bandwidth {fault.bandwidth_bytes_per_ms:g} B/ms")
        return ", ".join(parts)

    def _record(self, action: str, entity: str, detail: str) -> None:
        self._events((self.simenv.now, entity, f"fault:{action}", detail))
