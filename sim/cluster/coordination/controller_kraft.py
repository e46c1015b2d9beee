"""KRaft controllers: the metadata quorum and the active controller's decisions (KIP-500/595/631).

Theory of operation (kafka-semantics §3.2)
------------------------------------------
``controller-<i>`` nodes are the voters of ``__cluster_metadata``; the Raft rules live in
``sim.kafka.raft`` and this shell only moves its messages over the network and runs its timers.
An empty Raft fetch is held up to 500 ms on the leader (``MAX_FETCH_WAIT_MS``), like Kafka's long
poll, and answered as soon as the log or the high watermark moves.

The Raft leader is the **active controller** (``QuorumController``). Only it decides, and every
decision is a record appended to the log; everyone applies committed records to a
``MetadataImage``. The leader applies its own records as it appends them (as QuorumController
does) and rebuilds from the committed log if it loses leadership.

* **Broker liveness** (``BrokerHeartbeatManager``): brokers register (``RegisterBrokerRecord``,
  fenced; a restarted broker is refused with DUPLICATE_BROKER_REGISTRATION while its previous
  incarnation's session is still valid), heartbeat every ``broker.heartbeat.interval.ms`` with
  their applied metadata offset, and are unfenced once caught up to their registration. A broker
  whose last heartbeat is older than ``broker.session.timeout.ms`` is fenced
  (``FenceBrokerRecord``) and leaves every ISR, its partitions re-elected by
  ``sim.kafka.election`` (``handleBrokerFenced``). A new active controller gives every unfenced
  broker a fresh session.
* **AlterPartition** from partition leaders is validated and committed, and answered once the
  record is committed.
* **Brokers** learn everything by fetching committed records (``MetadataFetch``, long poll).

Bootstrap simplification: a run starts with a formed cluster. Every voter's log already holds
the brokers' registrations (unfenced) and the topics with their preferred leaders, all
committed; the first quorum election happens after ``controller.quorum.election.timeout.ms``
and is not counted as a failover.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim.cluster.coordination.metadata import (
    FenceBrokerRecord,
    MetadataImage,
    PartitionRecord,
    RegisterBrokerRecord,
    UnfenceBrokerRecord,
)
from sim.cluster.net.messages import AlterPartitionRequest, AlterPartitionResponse
from sim.cluster.net.network import Network, Node, Request
from sim.kafka import election
from sim.kafka.election import ElectionPolicy, PartitionChange, PartitionState
from sim.kafka.raft import FetchRequest, FetchResponse, Message, RaftNode

if TYPE_CHECKING:
    from sim.cluster.faults import Outages
    from sim.cluster.net.engine import SimEnv, Timer
    from sim.scenario import ClusterSpec, TopicSpec

RAFT_MESSAGE_BYTES = 128
MAX_FETCH_WAIT_MS = 500.0
NOT_CONTROLLER = "NOT_CONTROLLER"


@dataclass(slots=True)
class BrokerRegistrationRequest:
    broker_id: int
    incarnation: int
    unclean_shutdown: bool = False  # KIP-966: may have lost unflushed data


@dataclass(slots=True)
class BrokerHeartbeatRequest:
    broker_id: int
    broker_epoch: int
    metadata_offset: int
    want_shutdown: bool = False


@dataclass(slots=True)
class ControllerResponse:
    error: str | None
    leader_hint: int | None
    fenced: bool = True
    broker_epoch: int = -1
    shutdown_ready: bool = False  # controlled shutdown: it leads nothing any more


@dataclass(slots=True)
class MetadataFetchRequest:
    offset: int  # records applied so far


@dataclass(slots=True)
class MetadataFetchResponse:
    error: str | None
    leader_hint: int | None
    records: list[Any]
    start_offset: int
    high_watermark: int = 0


def bootstrap_records(
    brokers: int, topics: list[TopicSpec]
) -> list[RegisterBrokerRecord | UnfenceBrokerRecord | PartitionRecord]:
    """The committed log a run starts from: brokers registered and unfenced, topics created."""
    records: list[RegisterBrokerRecord | UnfenceBrokerRecord | PartitionRecord] = []
    for b in range(brokers):
        records.append(RegisterBrokerRecord(b, 0))
        records.append(UnfenceBrokerRecord(b))
    for topic in topics:
        for p, replicas in enumerate(topic.assignment):
            state = election.initial_state(replicas)
            records.append(PartitionRecord(topic.name, p, state, None, "created"))
    return records


def election_policy(topic: TopicSpec, cluster: ClusterSpec) -> ElectionPolicy:
    cfg = topic.config
    return ElectionPolicy(
        unclean=bool(cfg["unclean.leader.election.enable"]),
        # KIP-966: Kafka 3.9's broker config, or the simulator's generation switch.
        elr=bool(cluster.config["eligible.leader.replicas.enable"])
        or cluster.protocol.eligible_leader_replicas,
        min_isr=min(int(cfg["min.insync.replicas"]), topic.replication_factor),
    )


class KRaftController(Node):
    """``controller-<id>``: a voter of the metadata quorum; the active one when Raft leader."""

    def __init__(
        self,
        controller_id: int,
        simenv: SimEnv,
        network: Network,
        cluster: ClusterSpec,
        topics: list[TopicSpec],
        outages: Outages,
    ) -> None:
        super().__init__(f"controller-{controller_id}", simenv, network)
        cfg = cluster.config
        self.controller_id = controller_id
        self.cluster = cluster
        self.topics = {t.name: t for t in topics}
        self.policies = {t.name: election_policy(t, cluster) for t in topics}
        self.outages = outages
        voters = tuple(range(cluster.controllers))
        self.raft = RaftNode(
            controller_id,
            voters,
            election_timeout_ms=float(cfg["controller.quorum.election.timeout.ms"]),
            fetch_timeout_ms=float(cfg["controller.quorum.fetch.timeout.ms"]),
            election_backoff_max_ms=float(cfg["controller.quorum.election.backoff.max.ms"]),
            request_timeout_ms=float(cfg["controller.quorum.request.timeout.ms"]),
            retry_backoff_ms=float(cfg["controller.quorum.retry.backoff.ms"]),
            rng=simenv.rng(f"controller-{controller_id}:raft"),
            now_ms=simenv.now,
        )
        self.raft.bootstrap(bootstrap_records(cluster.brokers, topics))  # committed, epoch 0
        self.image = MetadataImage()
        self._rebuild_image()
        self.session_timeout_ms = float(cfg["broker.session.timeout.ms"])
        self.rebalance_interval_ms: float | None = (
            float(cfg["leader.imbalance.check.interval.seconds"]) * 1000.0
            if cfg["auto.leader.rebalance.enable"]
            else None
        )
        self.last_contact: dict[int, float] = {}
        self.was_leader = False
        self._raft_timer: Timer | None = None
        self._raft_timer_at = math.inf
        self._fence_timer: Timer | None = None
        self._held_raft_fetches: list[FetchRequest] = []
        self._held_metadata_fetches: list[tuple[str, Request]] = []
        self._pending_commits: list[tuple[int, str, Request, Any]] = []
        self._controller_rows = simenv.recorder.table("controller_elections")
        self._election_rows = simenv.recorder.table("elections")
        self._events = simenv.recorder.table("events")

    # -- lifecycle --
    def start(self) -> None:
        self._schedule_raft()

    def on_crash(self) -> None:
        self._held_raft_fetches.clear()
        self._held_metadata_fetches.clear()
        self._pending_commits.clear()
        self._raft_timer = None
        self._raft_timer_at = math.inf
        self._fence_timer = None
        self.was_leader = False
        self.outages.controller_lost(self.controller_id, self.simenv.now)

    def on_restart(self) -> None:
        self.raft.restart(self.simenv.now)  # log, epoch and vote were fsync'd
        self._rebuild_image()
        self._schedule_raft()

    # -- Raft plumbing --
    def _schedule_raft(self) -> None:
        deadline = self.raft.next_deadline()
        if deadline >= self._raft_timer_at or deadline == math.inf:
            return
        if self._raft_timer is not None:
            self._raft_timer.cancel()
        self._raft_timer_at = deadline
        self._raft_timer = self.at(deadline, self._on_raft_timer)

    def _on_raft_timer(self) -> None:
        self._raft_timer = None
        self._raft_timer_at = math.inf
        self._after_raft(self.raft.poll(self.simenv.now))

    def _after_raft(self, messages: list[Message], hold: FetchRequest | None = None) -> None:
        """Send what Raft produced, hold an empty fetch (long poll), follow commits and role
        changes."""
        for message in messages:
            if (
                hold is not None
                and isinstance(message, FetchResponse)
                and message.destination == hold.source
                and not message.entries
                and message.diverging is None
                and message.error is None
            ):
                self._held_raft_fetches.append(hold)
                self.after(MAX_FETCH_WAIT_MS, self._release_raft_fetch, hold)
                continue
            self.send_request(
                f"controller-{message.destination}", "Raft", message, RAFT_MESSAGE_BYTES, None, None
            )
        self._follow_leadership()
        self._apply_committed()
        self._schedule_raft()

    def _release_raft_fetch(self, request: FetchRequest) -> None:
        if any(held is request for held in self._held_raft_fetches):
            self._held_raft_fetches = [h for h in self._held_raft_fetches if h is not request]
            self._after_raft(self.raft.handle(request, self.simenv.now))

    def handle_request(self, source: str, request: Request) -> None:
        api = request.api
        if api == "Raft":
            message: Message = request.body
            hw_before = self.raft.high_watermark
            end_before = self.raft.end_offset
            out = self.raft.handle(message, self.simenv.now)
            hold = message if isinstance(message, FetchRequest) and self.raft.is_leader else None
            self._after_raft(out, hold)
            if self.raft.high_watermark != hw_before or self.raft.end_offset != end_before:
                self._wake_held_fetches()
        elif api == "MetadataFetch":
            self._handle_metadata_fetch(source, request)
        elif api == "BrokerRegistration":
            self._handle_registration(source, request)
        elif api == "BrokerHeartbeat":
            self._handle_heartbeat(source, request)
        elif api == "AlterPartition":
            self._handle_alter_partition(source, request)

    def _wake_held_fetches(self) -> None:
        held, self._held_raft_fetches = self._held_raft_fetches, []
        for fetch in held:
            self._after_raft(self.raft.handle(fetch, self.simenv.now))
        waiting, self._held_metadata_fetches = self._held_metadata_fetches, []
        for source, request in waiting:
            self._handle_metadata_fetch(source, request)

    def _follow_leadership(self) -> None:
        leader = self.raft.is_leader
        if leader and not self.was_leader:
            self.was_leader = True
            self._become_active()
        elif not leader and self.was_leader:
            self.was_leader = False
            self._rebuild_image()  # drop own uncommitted decisions
            for _, source, request, _ in self._pending_commits:
                self.send_response(
                    source, request, ControllerResponse(NOT_CONTROLLER, self.raft.leader_id), 64
                )
            self._pending_commits.clear()

    def _become_active(self) -> None:
        now = self.simenv.now
        previous = self.outages.previous_active_controller
        if previous is not None and previous != self.controller_id:
            start = self.outages.controller_lost_at(previous, now)
            self._controller_rows(
                (now, start, now, previous, self.controller_id, self.raft.epoch, "kraft")
            )
        self.outages.active_controller = self.controller_id
        self.outages.previous_active_controller = self.controller_id
        self._events((now, self.name, "active_controller", f"epoch {self.raft.epoch}"))
        # A new active controller gives every unfenced broker a fresh session.
        self.last_contact = {b: now for b in self.image.live_brokers()}
        self._schedule_fence_check()
        if self.rebalance_interval_ms is not None:
            self.after(self.rebalance_interval_ms, self._rebalance_leaders, self.raft.epoch)

    def _rebuild_image(self) -> None:
        self.image = MetadataImage()
        for offset, entry in enumerate(self.raft.log[: self.raft.high_watermark]):
            if entry.payload is not None and not _is_control(entry.payload):
                self.image.apply(entry.payload, offset)
            else:
                self.image.offset = offset + 1

    def _apply_committed(self) -> None:
        raft = self.raft
        if raft.is_leader:
            upto = raft.end_offset  # the active controller applies its own records at once
        else:
            upto = raft.high_watermark
        if self.image.offset > upto:
            self._rebuild_image()
            return
        for offset in range(self.image.offset, upto):
            payload = raft.log[offset].payload
            if payload is not None and not _is_control(payload):
                self.image.apply(payload, offset)
            else:
                self.image.offset = offset + 1
        if raft.is_leader:
            self._answer_committed()

    def _answer_committed(self) -> None:
        hw = self.raft.high_watermark
        remaining = []
        for offset, source, request, response in self._pending_commits:
            if offset < hw:
                self.send_response(source, request, response, 64)
            else:
                remaining.append((offset, source, request, response))
        self._pending_commits = remaining

    # -- the active controller's decisions --
    def _append(self, record: Any) -> int | None:
        offset = self.raft.append(record, self.simenv.now)
        if offset is not None:
            self._apply_committed()
            self._wake_held_fetches()
            self._schedule_raft()
        return offset

    def _append_change(self, change: PartitionChange, cause: str) -> None:
        if not change.changed:
            return
        before, after = change.before, change.after
        topic, partition = self._find(before)
        self._append(PartitionRecord(topic, partition, after, change.kind, cause, before.leader))
        if change.leader_changed:
            self._record_election(topic, partition, change, cause)

    def _find(self, state: PartitionState) -> tuple[str, int]:
        for key, value in self.image.partitions.items():
            if value is state:
                return key
        raise KeyError("partition state not in the image")

    def _record_election(
        self, topic: str, partition: int, change: PartitionChange, cause: str
    ) -> None:
        row = self.outages.election_row((topic, partition), change, cause, self.simenv.now)
        if row is not None:
            self._election_rows(row)

    def _for_each_partition_of(self, broker_id: int) -> list[tuple[str, int]]:
        return sorted(k for k, s in self.image.partitions.items() if broker_id in s.replicas)

    def _handle_registration(self, source: str, request: Request) -> None:
        if not self.raft.is_leader:
            self._not_controller(source, request)
            return
        body: BrokerRegistrationRequest = request.body
        existing = self.image.brokers.get(body.broker_id)
        last = self.last_contact.get(body.broker_id)
        if (
            existing is not None
            and existing.incarnation != body.incarnation
            and not existing.fenced
            and last is not None
            and self.simenv.now - last < self.session_timeout_ms
        ):
            # ClusterControlManager.registerBroker: the old incarnation's session is still
            # valid, so a quickly restarted broker waits until it expires.
            response = ControllerResponse("DUPLICATE_BROKER_REGISTRATION", None)
            self.send_response(source, request, response, 64)
            return
        offset = self._append(RegisterBrokerRecord(body.broker_id, body.incarnation))
        if offset is None:
            self._not_controller(source, request)
            return
        self.last_contact[body.broker_id] = self.simenv.now
        if body.unclean_shutdown:
            usable = self.image.usable()
            for key in self._for_each_partition_of(body.broker_id):
                state = self.image.partitions[key]
                change = election.broker_unclean_restart(
                    state, body.broker_id, usable, self.policies[key[0]]
                )
                self._append_change(change, f"broker {body.broker_id} unclean restart")
        response = ControllerResponse(None, None, True, offset)
        self._pending_commits.append((self.raft.end_offset - 1, source, request, response))
        self._answer_committed()

    def _handle_heartbeat(self, source: str, request: Request) -> None:
        if not self.raft.is_leader:
            self._not_controller(source, request)
            return
        body: BrokerHeartbeatRequest = request.body
        reg = self.image.brokers.get(body.broker_id)
        if reg is None or reg.broker_epoch != body.broker_epoch:
            response = ControllerResponse("STALE_BROKER_EPOCH", self.controller_id, True)
            self.send_response(source, request, response, 64)
            return
        self.last_contact[body.broker_id] = self.simenv.now
        ready = False
        if body.want_shutdown:
            ready = self._controlled_shutdown(body.broker_id)
            if ready and not reg.fenced:
                # BrokerHeartbeatManager: CONTROLLED_SHUTDOWN -> SHUTDOWN_NOW fences the broker
                # (handleBrokerFenced), so leaders stop counting it for the HW at once.
                self._fence(body.broker_id, "controlled shutdown")
        elif reg.fenced and body.metadata_offset >= reg.broker_epoch:
            self._unfence(body.broker_id)
        fenced = self.image.brokers[body.broker_id].fenced
        response = ControllerResponse(None, None, fenced, reg.broker_epoch, ready)
        self.send_response(source, request, response, 64)

    def _controlled_shutdown(self, broker_id: int) -> bool:
        """Move leadership away from a broker that wants to shut down (controlled.shutdown);
        True once it leads nothing and may exit."""
        reg = self.image.brokers[broker_id]
        reg.shutting_down = True  # in the controller's memory, as BrokerHeartbeatManager does
        usable = self.image.usable()
        for key in self._for_each_partition_of(broker_id):
            state = self.image.partitions[key]
            change = election.controlled_shutdown(state, broker_id, usable, self.policies[key[0]])
            self._append_change(change, f"broker {broker_id} controlled shutdown")
        return not any(s.leader == broker_id for s in self.image.partitions.values())

    def _rebalance_leaders(self, epoch: int) -> None:
        """auto.leader.rebalance.enable: move leadership back to each partition's preferred
        replica when it is usable and in the ISR (``maybeBalancePartitionLeaders``; KRaft
        ignores leader.imbalance.per.broker.percentage)."""
        interval = self.rebalance_interval_ms
        if not self.raft.is_leader or self.raft.epoch != epoch or interval is None:
            return
        usable = self.image.usable()
        for key in sorted(self.image.partitions):
            state = self.image.partitions[key]
            change = election.preferred_leader_election(state, usable, self.policies[key[0]])
            self._append_change(change, "preferred leader election")
        self.after(interval, self._rebalance_leaders, epoch)

    def _unfence(self, broker_id: int) -> None:
        self._append(UnfenceBrokerRecord(broker_id))
        usable = self.image.usable()
        for key in self._for_each_partition_of(broker_id):
            state = self.image.partitions[key]
            change = election.broker_unfenced(state, broker_id, usable, self.policies[key[0]])
            self._append_change(change, f"broker {broker_id} unfenced")
        self._schedule_fence_check()

    def _schedule_fence_check(self) -> None:
        if not self.raft.is_leader or not self.last_contact:
            return
        live = [b for b in self.image.live_brokers() if b in self.last_contact]
        if not live:
            return
        deadline = min(self.last_contact[b] for b in live) + self.session_timeout_ms
        if self._fence_timer is not None:
            self._fence_timer.cancel()
        self._fence_timer = self.at(deadline, self._fence_check)

    def _fence_check(self) -> None:
        self._fence_timer = None
        if not self.raft.is_leader:
            return
        now = self.simenv.now
        for broker_id in self.image.live_brokers():
            last = self.last_contact.get(broker_id, now)
            # The timer fires at last + timeout up to float rounding: never re-arm it for an ulp.
            if now - last >= self.session_timeout_ms - 1e-6:
                self._fence(broker_id, "session timeout")
        self._schedule_fence_check()

    def _fence(self, broker_id: int, cause: str) -> None:
        self._append(FenceBrokerRecord(broker_id, cause))
        self._events((self.simenv.now, f"broker-{broker_id}", "fenced", cause))
        usable = self.image.usable()
        for key in self._for_each_partition_of(broker_id):
            state = self.image.partitions[key]
            change = election.broker_fenced(state, broker_id, usable, self.policies[key[0]])
            self._append_change(change, f"broker {broker_id} fenced ({cause})")

    def _handle_alter_partition(self, source: str, request: Request) -> None:
        body: AlterPartitionRequest = request.body
        if not self.raft.is_leader:
            self.send_response(
                source, request, AlterPartitionResponse(NOT_CONTROLLER, self.raft.leader_id), 64
            )
            return
        key = (body.topic, body.partition)
        state = self.image.partitions[key]
        error, change = election.alter_partition(
            state,
            body.broker_id,
            body.leader_epoch,
            body.partition_epoch,
            body.new_isr,
            self.image.usable(),
            self.policies[body.topic],
        )
        if error is not None:
            self.send_response(source, request, AlterPartitionResponse(error, None, state), 64)
            return
        self._append_change(change, f"AlterPartition from broker {body.broker_id}")
        offset = self.raft.end_offset - 1
        response = AlterPartitionResponse(None, None, change.after)
        self._pending_commits.append((offset, source, request, response))
        self._answer_committed()

    def _not_controller(self, source: str, request: Request) -> None:
        self.send_response(
            source, request, ControllerResponse(NOT_CONTROLLER, self.raft.leader_id), 64
        )

    # -- brokers fetching the committed log --
    def _handle_metadata_fetch(self, source: str, request: Request) -> None:
        body: MetadataFetchRequest = request.body
        if not self.raft.is_leader:
            response = MetadataFetchResponse(NOT_CONTROLLER, self.raft.leader_id, [], body.offset)
            response.high_watermark = -1
            self.send_response(source, request, response, 64)
            return
        hw = self.raft.high_watermark
        if body.offset >= hw:
            self._held_metadata_fetches.append((source, request))
            self.after(MAX_FETCH_WAIT_MS, self._release_metadata_fetch, source, request)
            return
        records = [entry.payload for entry in self.raft.log[body.offset : hw]]
        size = 64 + 64 * len(records)
        self.send_response(
            source, request, MetadataFetchResponse(None, None, records, body.offset), size
        )

    def _release_metadata_fetch(self, source: str, request: Request) -> None:
        for i, (held_source, held) in enumerate(self._held_metadata_fetches):
            if held is request:
                del self._held_metadata_fetches[i]
                hw = self.raft.high_watermark
                response = MetadataFetchResponse(None, None, [], request.body.offset, hw)
                self.send_response(held_source, request, response, 64)
                return


def _is_control(payload: Any) -> bool:
    """Raft's own entries (the leader-change marker) are not metadata records."""
    return not isinstance(
        payload, RegisterBrokerRecord | FenceBrokerRecord | UnfenceBrokerRecord | PartitionRecord
    )
