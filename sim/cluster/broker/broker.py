"""A Kafka broker: request handling, produce/fetch purgatories, replica fetchers, log tasks.

Theory of operation
-------------------
* **Request handling** (``KafkaRequestHandlerPool``): requests queue for ``num.io.threads``
  handler threads; each costs ``per_request_ms + per_byte_ms * size`` of simulated time, so load
  creates queueing delay. The Kafka logic itself lives in ``sim.kafka.replica.Partition``.
* **Produce** (``ReplicaManager.appendRecords``): acks=0 gets no response, acks=1 is answered
  after the local append, acks=all is parked in the produce purgatory (``DelayedProduce``) until
  the HW passes every batch of the request, or ``ProduceRequest.timeoutMs`` expires
  (REQUEST_TIMED_OUT).
* **Fetch** (``ReplicaManager.fetchMessages``): followers read up to the LEO, consumers up to the
  HW. A fetch with less than ``min_bytes`` available is parked (``DelayedFetch``) for up to
  ``max_wait_ms`` and completed as soon as data arrives (a follower's on a leader append, a
  consumer's on an HW advance). A follower fetch also updates the leader's view of that follower
  (LEO, caught-up time), which may advance the HW and complete parked acks=all produces.
* **Replica fetcher** (``ReplicaFetcherThread``, ``num.replica.fetchers=1``): one fetch session per
  source broker covering every partition this broker follows there; the next fetch is sent as soon
  as the previous response is processed; errors back off ``replica.fetch.backoff.ms``.
* **Background tasks**: ``isr-expiration`` every ``replica.lag.time.max.ms / 2``; log
  retention every ``log.retention.check.interval.ms``; the OS page-cache flush every
  ``disk.os_flush_interval`` (or after every append with ``disk.flush: every-append``); the HW
  checkpoint every ``replica.high.watermark.checkpoint.interval.ms``. Each starts at a phase
  drawn from the broker's stream (``Node.phase``): brokers do not boot in step.
* **Group offsets**: commits are kept by the group coordinator broker (the leader of
  ``__consumer_offsets`` partition ``abs(hashCode(group)) % 50``). Simplification: the offsets
  topic itself is not simulated; commits live in that broker's memory.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from sim.cluster.net.messages import (
    CONSUMER_REPLICA_ID,
    EARLIEST_TIMESTAMP,
    PARTITION_HEADER_BYTES,
    REQUEST_HEADER_BYTES,
    FetchPartition,
    FetchPartitionResponse,
    FetchRequest,
    FetchResponse,
    ListOffsetsRequest,
    ListOffsetsResponse,
    MetadataRequest,
    MetadataResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
    OffsetsForLeaderEpochRequest,
    OffsetsForLeaderEpochResponse,
    PartitionMetadata,
    ProducePartitionResponse,
    ProduceRequest,
    ProduceResponse,
)
from sim.cluster.net.network import Network, Node, Request
from sim.kafka.log import PartitionLog, RecordBatch
from sim.kafka.replica import NOT_LEADER_OR_FOLLOWER, IsrProposal, Partition

if TYPE_CHECKING:
    from sim.cluster.faults import Outages
    from sim.cluster.net.engine import SimEnv, Timer
    from sim.kafka.election import PartitionState
    from sim.scenario import ClusterSpec, TopicSpec

TopicPartition = tuple[str, int]


class ControllerClient(Protocol):
    """What a broker needs from its coordinator link (KRaft or ZooKeeper mode)."""

    def start(self) -> None: ...
    def restart(self, unclean: bool) -> None: ...
    def live_brokers(self) -> list[int]: ...
    def metadata_for(self, topics: list[str]) -> list[PartitionMetadata]: ...
    def alter_partition(self, broker: Broker, proposal: IsrProposal) -> None: ...


class DelayedProduce:
    """An acks=all produce waiting in purgatory for the HW of each of its partitions."""

    __slots__ = ("done", "pending", "request", "results", "source", "timer")

    def __init__(self, source: str, request: Request, results: list[ProducePartitionResponse]):
        self.source = source
        self.request = request
        self.results = results
        # Partitions still waiting for their HW, in request order (dicts keep insertion order).
        self.pending: dict[TopicPartition, ProducePartitionResponse] = {}
        self.done = False
        self.timer: Timer | None = None


class DelayedFetch:
    """A fetch parked until ``min_bytes`` are available or ``max_wait_ms`` passes."""

    __slots__ = ("body", "done", "request", "source", "timer")

    def __init__(self, source: str, request: Request, body: FetchRequest) -> None:
        self.source = source
        self.request = request
        self.body = body
        self.done = False
        self.timer: Timer | None = None


class ReplicaFetcher:
    """This broker's fetch session towards one leader broker."""

    __slots__ = ("backoff_until", "delayed", "in_flight", "leader_id", "partitions")

    def __init__(self, leader_id: int) -> None:
        self.leader_id = leader_id
        self.partitions: list[Partition] = []
        self.in_flight = False
        self.backoff_until = 0.0  # the whole session failed (no answer)
        # Partitions that failed, left out until then (AbstractFetcherThread.delayPartitions).
        self.delayed: dict[str, float] = {}


class Broker(Node):
    """``broker-<id>``: hosts replicas, serves clients and other brokers."""

    def __init__(
        self,
        broker_id: int,
        simenv: SimEnv,
        network: Network,
        cluster: ClusterSpec,
        controller: ControllerClient | None,
        outages: Outages,
    ) -> None:
        super().__init__(f"broker-{broker_id}", simenv, network)
        self.broker_id = broker_id
        self.cluster = cluster
        self.config = cluster.config
        # The broker's link to the coordinator (KRaftBrokerClient, ZkBrokerClient), set by build.
        self.controller: ControllerClient = controller  # type: ignore[assignment]
        handling = cluster.request_handling
        self._per_request_ms = handling.per_request_ms
        self._per_byte_ms = handling.per_byte_ms
        self._threads_free_at = [0.0] * max(1, handling.io_threads)
        # Client connections with a request in progress, and the requests queued behind it.
        self._muted: dict[tuple[str, str], deque[Request]] = {}
        self.partitions: dict[TopicPartition, Partition] = {}
        self._produce_waiters: dict[TopicPartition, deque[tuple[int, DelayedProduce]]] = {}
        self._follower_fetch_waiters: dict[TopicPartition, list[DelayedFetch]] = {}
        self._consumer_fetch_waiters: dict[TopicPartition, list[DelayedFetch]] = {}
        self._fetchers: dict[int, ReplicaFetcher] = {}
        self.group_offsets: dict[tuple[str, str, int], int] = {}
        self._hw_checkpoint: dict[TopicPartition, int] = {}  # replication-offset-checkpoint
        self._unclean_shutdown = False
        self._epoch_truncation = cluster.protocol.truncation == "epoch"
        self.outages = outages
        self._flush_every_append = cluster.disk.flush == "every-append"
        rec = simenv.recorder
        self._appends = rec.table("appends")
        self._gauges = rec.table("gauges")
        self._events = rec.table("events")
        self._handlers: dict[str, Callable[[str, Request], None]] = {
            "Produce": self._handle_produce,
            "Fetch": self._handle_fetch,
            "Metadata": self._handle_metadata,
            "ListOffsets": self._handle_list_offsets,
            "OffsetCommit": self._handle_offset_commit,
            "OffsetFetch": self._handle_offset_fetch,
            "OffsetsForLeaderEpoch": self._handle_offsets_for_leader_epoch,
        }

    # -- setup --
    def create_partition(
        self, topic: TopicSpec, partition: int, assignment: list[int]
    ) -> Partition:
        cfg = topic.config
        log = PartitionLog(
            topic.name,
            partition,
            segment_bytes=int(cfg["segment.bytes"]),
            segment_ms=float(cfg["segment.ms"]),
            retention_ms=float(cfg["retention.ms"]),
            retention_bytes=int(cfg["retention.bytes"]),
            now_ms=self.simenv.now,
        )
        replica = Partition(
            topic.name,
            partition,
            self.broker_id,
            assignment,
            log,
            min_insync_replicas=int(cfg["min.insync.replicas"]),
            replica_lag_time_max_ms=float(self.config["replica.lag.time.max.ms"]),
            strict_min_isr=self.cluster.protocol.strict_min_isr,
        )
        key = (topic.name, partition)
        self.partitions[key] = replica
        self._produce_waiters[key] = deque()
        self._follower_fetch_waiters[key] = []
        self._consumer_fetch_waiters[key] = []
        return replica

    def start(self) -> None:
        """Start the background tasks (after leaders are in place)."""
        self._start_tasks()
        self.controller.start()
        self._events((self.simenv.now, self.name, "broker_started", ""))

    def _start_tasks(self) -> None:
        """The periodic tasks (``KafkaScheduler``), each at its own phase: the broker process
        did not start at t = 0 (``Node.phase``)."""
        lag = float(self.config["replica.lag.time.max.ms"])
        intervals = [(lag / 2, self._isr_expiration)]
        intervals.append(
            (float(self.config["log.retention.check.interval.ms"]), self._retention_task)
        )
        if not self._flush_every_append:
            intervals.append((self.cluster.disk.os_flush_interval_ms, self._flush_task))
        checkpoint = float(self.config["replica.high.watermark.checkpoint.interval.ms"])
        intervals.append((checkpoint, self._checkpoint_task))
        for interval, task in intervals:
            self.after(interval - self.phase(interval), task, interval)

    # -- process lifecycle (faults) --
    def on_crash(self) -> None:
        """Everything in memory is gone; the logs (page cache) and checkpoints stay."""
        self._muted.clear()
        for waiters in self._produce_waiters.values():
            waiters.clear()
        for lists in (self._follower_fetch_waiters, self._consumer_fetch_waiters):
            for fetches in lists.values():
                fetches.clear()
        self._fetchers.clear()
        self._threads_free_at = [0.0] * len(self._threads_free_at)
        for replica in self.partitions.values():
            replica.make_follower(None, replica.leader_epoch, replica.isr, replica.partition_epoch)
        self.outages.node_lost(self.name, self.simenv.now)

    def on_restart(self) -> None:
        """Log recovery, then register again: the HW comes back from its checkpoint (up to
        ``replica.high.watermark.checkpoint.interval.ms`` stale)."""
        for key in sorted(self.partitions):
            log = self.partitions[key].log
            log.update_high_watermark(min(self._hw_checkpoint.get(key, 0), log.log_end_offset))
        self.outages.node_back(self.name)
        self._start_tasks()
        self._events((self.simenv.now, self.name, "broker_restarted", ""))
        self.controller.restart(self._unclean_shutdown)
        self._unclean_shutdown = False

    def power_loss(self) -> None:
        """The machine loses power: every log loses its unflushed suffix, then the node is down."""
        now = self.simenv.now
        for key in sorted(self.partitions):
            lost = self.partitions[key].log.lose_unflushed()
            if lost:
                name = self.partitions[key].name
                self._events((now, f"{name}@{self.name}", "unflushed_lost", f"{lost} records"))
        self._unclean_shutdown = True
        self.crash(reset_connections=False)

    def disk_wipe(self) -> None:
        for key in sorted(self.partitions):
            self.partitions[key].log.truncate_fully_and_start_at(0)
        self._hw_checkpoint.clear()
        self._unclean_shutdown = True
        self.crash(reset_connections=False)

    def begin_controlled_shutdown(self) -> None:
        begin = getattr(self.controller, "begin_controlled_shutdown", None)
        if begin is not None:
            begin()
        else:
            self.finish_controlled_shutdown()

    def finish_controlled_shutdown(self) -> None:
        """Leadership moved away: flush everything and exit cleanly."""
        for replica in self.partitions.values():
            replica.log.flush()
        self._events((self.simenv.now, self.name, "controlled_shutdown", ""))
        self.crash(reset_connections=True)

    def _checkpoint_task(self, interval: float) -> None:
        for key, replica in self.partitions.items():
            self._hw_checkpoint[key] = replica.log.high_watermark
        self.after(interval, self._checkpoint_task, interval)

    # -- leadership (driven by the controller) --
    def become_leader(
        self, key: TopicPartition, leader_epoch: int, isr: tuple[int, ...], partition_epoch: int
    ) -> None:
        replica = self.partitions[key]
        self._leave_fetchers(replica)
        replica.make_leader(leader_epoch, isr, partition_epoch, self.simenv.now)
        if (inv := self.simenv.invariants) is not None:
            inv.partition_leader(key, leader_epoch, self.broker_id)
        self._events(
            (self.simenv.now, f"{replica.name}@{self.name}", "leader", f"epoch {leader_epoch}")
        )
        self._gauge_partition(replica)
        self._gauge(replica.name, "isr_size", len(replica.isr))
        if (inv := self.simenv.invariants) is not None:
            inv.leader_isr(key, self.broker_id, replica.isr)
        self._on_high_watermark_change(replica)

    def become_follower(
        self,
        key: TopicPartition,
        leader_id: int | None,
        leader_epoch: int,
        isr: tuple[int, ...],
        partition_epoch: int,
        *,
        truncate_to_hw: bool = False,
    ) -> None:
        replica = self.partitions[key]
        was_leader = replica.is_leader
        replica.make_follower(leader_id, leader_epoch, isr, partition_epoch)
        if was_leader:
            leader = f"broker-{leader_id}" if leader_id is not None else "none"
            self._events(
                (
                    self.simenv.now,
                    f"{replica.name}@{self.name}",
                    "follower",
                    f"epoch {leader_epoch}, leader {leader}",
                )
            )
            # Parked acks=all produces and fetches fail with NOT_LEADER_OR_FOLLOWER now.
            self._complete_produces(replica)
            self._wake_fetches(self._consumer_fetch_waiters[key])
            self._wake_fetches(self._follower_fetch_waiters[key])
        if truncate_to_hw:
            # Before KIP-101 (Kafka < 0.11) a new follower truncated to its own HW.
            log = replica.log
            removed = log.truncate_to(log.high_watermark)
            if removed:
                self._events(
                    (
                        self.simenv.now,
                        f"{replica.name}@{self.name}",
                        "truncate",
                        f"to HW {log.high_watermark} ({removed} records removed)",
                    )
                )
        self._leave_fetchers(replica)
        if leader_id is not None and leader_id != self.broker_id:
            if leader_id not in self._fetchers:
                self._fetchers[leader_id] = ReplicaFetcher(leader_id)
            session = self._fetchers[leader_id]
            session.partitions.append(replica)
            if not session.in_flight:
                self._send_replica_fetch(session)

    def apply_partition_state(
        self, key: TopicPartition, state: PartitionState, *, truncate_to_hw: bool = False
    ) -> None:
        """Make the local replica match the coordinator's view of the partition
        (``ReplicaManager.becomeLeaderOrFollower`` / ``applyDelta``): a new leader or epoch means
        become leader or follower; otherwise only the ISR may have changed."""
        replica = self.partitions.get(key)
        if replica is None:
            return
        if state.leader == self.broker_id:
            if not replica.is_leader or replica.leader_epoch != state.leader_epoch:
                self.become_leader(key, state.leader_epoch, state.isr, state.partition_epoch)
            elif state.partition_epoch > replica.partition_epoch:
                self.isr_updated(key, state.isr, state.partition_epoch)
            return
        leader = state.leader if state.leader >= 0 else None
        if (
            replica.is_leader
            or replica.leader_id != leader
            or replica.leader_epoch != state.leader_epoch
        ):
            self.become_follower(
                key,
                leader,
                state.leader_epoch,
                state.isr,
                state.partition_epoch,
                truncate_to_hw=truncate_to_hw,
            )
        else:
            replica.isr = state.isr
            replica.partition_epoch = state.partition_epoch

    def isr_updated(self, key: TopicPartition, isr: tuple[int, ...], partition_epoch: int) -> None:
        """The controller changed this leader's ISR (e.g. it fenced a follower)."""
        replica = self.partitions[key]
        old = replica.isr
        changed = replica.on_isr_committed(isr, partition_epoch, self.simenv.now)
        if old != replica.isr:
            detail = f"{','.join(map(str, old))} -> {','.join(map(str, replica.isr))}"
            kind = "isr_shrink" if len(replica.isr) < len(old) else "isr_expand"
            self._events((self.simenv.now, replica.name, kind, detail))
            self._gauge(replica.name, "isr_size", len(replica.isr))
        if replica.is_leader and (inv := self.simenv.invariants) is not None:
            inv.leader_isr(key, self.broker_id, replica.isr)
        if changed:
            self._on_high_watermark_change(replica)

    def high_watermark_maybe_moved(self, key: TopicPartition) -> None:
        replica = self.partitions[key]
        if replica.maybe_increment_high_watermark(self.simenv.now):
            self._on_high_watermark_change(replica)

    def _leave_fetchers(self, replica: Partition) -> None:
        for fetcher in self._fetchers.values():
            if replica in fetcher.partitions:
                fetcher.partitions.remove(replica)

    # -- request plumbing --
    def handle_request(self, source: str, request: Request) -> None:
        """Serve one request per client connection at a time (``SocketServer`` mutes a channel
        from receiving a request until its response is sent), so a connection's answers leave
        in order; then queue for the earliest free I/O thread."""
        key = (source, request.connection)
        waiting = self._muted.get(key)
        if waiting is not None:
            waiting.append(request)
            return
        self._muted[key] = deque()
        self._schedule_handling(source, request)

    def _schedule_handling(self, source: str, request: Request) -> None:
        free_at = self._threads_free_at
        start = free_at[0]
        now = self.simenv.env.now
        if start < now:
            start = now
        done = start + self._per_request_ms + self._per_byte_ms * request.size
        heapq.heapreplace(free_at, done)
        self.after(done - now, self._dispatch, source, request)

    def send_response(self, target: str, request: Request, body: Any, size: int) -> None:
        super().send_response(target, request, body, size)
        self._unmute(target, request.connection)

    def _unmute(self, source: str, connection: str) -> None:
        key = (source, connection)
        waiting = self._muted.get(key)
        if waiting:
            self._schedule_handling(source, waiting.popleft())
        else:
            self._muted.pop(key, None)

    def _dispatch(self, source: str, request: Request) -> None:
        if self.alive:
            self._handlers[request.api](source, request)

    # -- produce --
    def _handle_produce(self, source: str, request: Request) -> None:
        body: ProduceRequest = request.body
        now = self.simenv.env.now
        results: list[ProducePartitionResponse] = []
        delayed = DelayedProduce(source, request, results) if body.acks == "all" else None
        for item in body.partitions:
            key = (item.topic, item.partition)
            replica = self.partitions.get(key)
            if replica is None or not replica.is_leader:
                leader = replica.leader_id if replica is not None else None
                results.append(
                    ProducePartitionResponse(
                        item.topic, item.partition, NOT_LEADER_OR_FOLLOWER, -1, leader
                    )
                )
                continue
            outcome = replica.append_records_to_leader(item.batch, body.acks, now)
            result = ProducePartitionResponse(
                item.topic, item.partition, outcome.error, outcome.base_offset
            )
            results.append(result)
            if outcome.error is not None:
                continue
            if outcome.batch is not None:
                self._on_leader_append(replica, outcome.batch, now)
            if outcome.high_watermark_changed:
                self._on_high_watermark_change(replica)
            if delayed is not None:
                done, error = replica.check_enough_replicas_reach_offset(outcome.required_offset)
                if done:
                    result.error = error
                else:
                    delayed.pending[key] = result
                    self._produce_waiters[key].append((outcome.required_offset, delayed))
        if body.acks == "0":
            self._unmute(source, request.connection)  # acks=0: the broker never answers
            return
        if delayed is not None and delayed.pending:
            delayed.timer = self.after(body.timeout_ms, self._expire_produce, delayed)
            return
        self._respond_produce(source, request, results)

    def _respond_produce(
        self, source: str, request: Request, results: list[ProducePartitionResponse]
    ) -> None:
        size = REQUEST_HEADER_BYTES + PARTITION_HEADER_BYTES * len(results)
        self.send_response(source, request, ProduceResponse(results), size)

    def _complete_produces(self, replica: Partition) -> None:
        key = (replica.topic, replica.partition)
        waiters = self._produce_waiters[key]
        hw = replica.log.high_watermark
        while waiters and (waiters[0][1].done or waiters[0][0] <= hw or not replica.is_leader):
            required, delayed = waiters.popleft()
            if delayed.done:
                continue
            _, error = replica.check_enough_replicas_reach_offset(required)
            delayed.pending.pop(key).error = error
            if not delayed.pending:
                delayed.done = True
                if delayed.timer is not None:
                    delayed.timer.cancel()
                self._respond_produce(delayed.source, delayed.request, delayed.results)

    def _expire_produce(self, delayed: DelayedProduce) -> None:
        if delayed.done:
            return
        delayed.done = True
        for result in delayed.pending.values():
            result.error = "REQUEST_TIMED_OUT"
        delayed.pending.clear()
        self._respond_produce(delayed.source, delayed.request, delayed.results)

    # -- fetch --
    def _handle_fetch(self, source: str, request: Request) -> None:
        body: FetchRequest = request.body
        now = self.simenv.env.now
        if body.replica_id != CONSUMER_REPLICA_ID:
            for part in body.partitions:
                replica = self.partitions.get((part.topic, part.partition))
                if replica is None or not replica.is_leader:
                    continue
                # Only a valid read updates the follower's state (Partition.fetchRecords): not a
                # fenced epoch, a diverging log or an offset past our log end.
                if (
                    0 <= part.current_leader_epoch != replica.leader_epoch
                    or self._diverging_epoch(replica, part) is not None
                    or not replica.log.log_start_offset
                    <= part.fetch_offset
                    <= replica.log.log_end_offset
                ):
                    continue
                changed, proposal = replica.update_follower_fetch_state(
                    body.replica_id, part.fetch_offset, now
                )
                if proposal is not None:
                    self._propose_isr(proposal)
                if changed:
                    self._on_high_watermark_change(replica)
        response, available, failed = self._read(body)
        if available >= body.min_bytes or body.max_wait_ms <= 0 or failed:
            self.send_response(source, request, response, response.size)
            return
        delayed = DelayedFetch(source, request, body)
        waiters = (
            self._consumer_fetch_waiters
            if body.replica_id == CONSUMER_REPLICA_ID
            else self._follower_fetch_waiters
        )
        for part in body.partitions:
            lst = waiters.get((part.topic, part.partition))
            if lst is not None:
                if len(lst) > 32:
                    lst[:] = [d for d in lst if not d.done]
                lst.append(delayed)
        delayed.timer = self.after(body.max_wait_ms, self._complete_fetch, delayed)

    def _read(self, body: FetchRequest) -> tuple[FetchResponse, int, bool]:
        """Read every partition of a fetch: (response, bytes available, any error/divergence).

        Followers read up to the LEO, consumers up to the HW (``FetchIsolation``). An offset
        below the log start or past the LEO is OFFSET_OUT_OF_RANGE (``LocalLog.read``); an offset
        in [HW, LEO] gives a consumer an empty answer. A partition with an error or a diverging
        epoch makes the whole fetch answer at once instead of waiting in purgatory.
        """
        is_follower = body.replica_id != CONSUMER_REPLICA_ID
        failed = False
        parts: list[FetchPartitionResponse] = []
        available = 0
        budget = body.max_bytes
        for part in body.partitions:
            topic, partition, fetch_offset = part.topic, part.partition, part.fetch_offset
            replica = self.partitions.get((topic, partition))
            if replica is None or not replica.is_leader:
                failed = True
                parts.append(
                    FetchPartitionResponse(topic, partition, NOT_LEADER_OR_FOLLOWER, -1, -1)
                )
                continue
            log = replica.log
            hw, log_start = log.high_watermark, log.log_start_offset
            leader_epoch = replica.leader_epoch
            current = part.current_leader_epoch
            if current >= 0 and current != leader_epoch:  # KIP-320 fencing
                error = "FENCED_LEADER_EPOCH" if current < leader_epoch else "UNKNOWN_LEADER_EPOCH"
                failed = True
                parts.append(FetchPartitionResponse(topic, partition, error, hw, log_start))
                continue
            if is_follower:
                # The divergence check comes first: a follower ahead of a new leader (a former
                # zombie) must learn where to truncate, not that its offset is out of range.
                last_fetched = part.last_fetched_epoch
                diverging = (
                    self._diverging_epoch(replica, part)
                    if last_fetched >= 0 and last_fetched != leader_epoch
                    else None
                )
                if diverging is not None:
                    failed = True
                    parts.append(
                        FetchPartitionResponse(
                            topic, partition, None, hw, log_start, diverging_epoch=diverging
                        )
                    )
                    continue
                max_offset = log.log_end_offset
            else:
                max_offset = hw
            if not log_start <= fetch_offset <= log.log_end_offset:
                failed = True
                error = "OFFSET_OUT_OF_RANGE"
                out_of_range = FetchPartitionResponse(topic, partition, error, hw, log_start)
                out_of_range.leader_log_end_offset = log.log_end_offset
                parts.append(out_of_range)
                continue
            batches: list[RecordBatch] = []
            if budget > 0 and fetch_offset < max_offset:
                batches = log.read(fetch_offset, min(part.max_bytes, budget), max_offset)
                for batch in batches:
                    budget -= batch.size_bytes
                    available += batch.size_bytes
            parts.append(FetchPartitionResponse(topic, partition, None, hw, log_start, batches))
        return FetchResponse(parts), available, failed

    @staticmethod
    def _diverging_epoch(replica: Partition, part: FetchPartition) -> tuple[int, int] | None:
        """IBP 2.7+ fetch-time divergence check against the follower's last fetched epoch."""
        if part.last_fetched_epoch < 0 or part.last_fetched_epoch == replica.leader_epoch:
            return None  # same lineage: the leader's current epoch ends at its LEO
        epoch, end_offset = replica.log.end_offset_for_epoch(part.last_fetched_epoch)
        if epoch != part.last_fetched_epoch or end_offset < part.fetch_offset:
            return (epoch, end_offset)
        return None

    def _complete_fetch(self, delayed: DelayedFetch) -> None:
        if delayed.done:
            return
        delayed.done = True
        if delayed.timer is not None:
            delayed.timer.cancel()
        response, _, _ = self._read(delayed.body)
        self.send_response(delayed.source, delayed.request, response, response.size)

    def _wake_fetches(self, waiters: list[DelayedFetch]) -> None:
        if not waiters:
            return
        pending = [d for d in waiters if not d.done]
        waiters.clear()
        for delayed in pending:
            if delayed.body.min_bytes <= 1:
                self._complete_fetch(delayed)
                continue
            _, available, _ = self._read(delayed.body)
            if available >= delayed.body.min_bytes:
                self._complete_fetch(delayed)
            else:
                waiters.append(delayed)

    # -- state changes --
    def _on_leader_append(self, replica: Partition, batch: RecordBatch, now: float) -> None:
        self._record_append(replica, batch, now, "leader")
        if self._flush_every_append:
            replica.log.flush()
        self._gauge(replica.name, "log_end_offset", replica.log.log_end_offset)
        self._wake_fetches(self._follower_fetch_waiters[(replica.topic, replica.partition)])

    def _record_append(self, replica: Partition, batch: RecordBatch, now: float, role: str) -> None:
        self._appends(
            (
                now,
                self.broker_id,
                replica.topic,
                replica.partition,
                batch.base_offset,
                batch.count,
                batch.leader_epoch,
                batch.origin,
                batch.origin_seq,
                role,
            )
        )

    def _on_high_watermark_change(self, replica: Partition) -> None:
        self._gauge(replica.name, "high_watermark", replica.log.high_watermark)
        key = (replica.topic, replica.partition)
        if (inv := self.simenv.invariants) is not None:
            log = replica.log
            inv.high_watermark(
                key,
                self.broker_id,
                replica.is_leader,
                replica.leader_epoch,
                log.high_watermark,
                log.log_end_offset,
            )
        self._complete_produces(replica)
        self._wake_fetches(self._consumer_fetch_waiters[key])

    def _gauge(self, entity: str, metric: str, value: float) -> None:
        # The broker id tells apart two brokers that both believe they lead (a zombie leader).
        self._gauges((self.simenv.env.now, entity, metric, value, self.broker_id))

    def _gauge_partition(self, replica: Partition) -> None:
        log = replica.log
        self._gauge(replica.name, "high_watermark", log.high_watermark)
        self._gauge(replica.name, "log_end_offset", log.log_end_offset)
        self._gauge(replica.name, "log_start_offset", log.log_start_offset)

    # -- ISR changes (AlterPartition, KIP-497) ----------------------------------------------------
    def _propose_isr(self, proposal: IsrProposal) -> None:
        self.controller.alter_partition(self, proposal)

    def on_alter_partition_response(
        self, proposal: IsrProposal, error: str | None, isr: tuple[int, ...], partition_epoch: int
    ) -> None:
        replica = self.partitions[(proposal.topic, proposal.partition)]
        if replica.pending_isr is not proposal:
            return
        if error is not None:
            # Kafka (Partition.handleAlterPartitionError) keeps a fenced or stale proposal
            # pending until new leader metadata arrives (make_leader/make_follower clear it);
            # other refusals return to the committed ISR and may be proposed again.
            if error not in ("FENCED_LEADER_EPOCH", "INVALID_UPDATE_VERSION"):
                replica.on_isr_rejected()
            self._events((self.simenv.now, replica.name, "alter_partition_rejected", error))
            return
        old = replica.isr
        changed = replica.on_isr_committed(isr, partition_epoch, self.simenv.now)
        kind = "isr_shrink" if len(isr) < len(old) else "isr_expand"
        self._events(
            (
                self.simenv.now,
                replica.name,
                kind,
                f"{','.join(map(str, old))} -> {','.join(map(str, isr))}",
            )
        )
        self._gauge(replica.name, "isr_size", len(isr))
        if replica.is_leader and (inv := self.simenv.invariants) is not None:
            inv.leader_isr((replica.topic, replica.partition), self.broker_id, replica.isr)
        if changed:
            self._on_high_watermark_change(replica)
        # A shrink below min ISR can make parked acks=all produces unable to succeed: they wait
        # for their timeout, as in Kafka 3.7+ where the HW is frozen below min ISR.

    def _isr_expiration(self, interval: float) -> None:
        if self.alive:
            now = self.simenv.now
            for key in sorted(self.partitions):
                replica = self.partitions[key]
                proposal = replica.maybe_shrink_isr(now)
                if proposal is not None:
                    self._propose_isr(proposal)
        self.after(interval, self._isr_expiration, interval)

    # -- log tasks --
    def _retention_task(self, interval: float) -> None:
        if self.alive:
            now = self.simenv.now
            for key in sorted(self.partitions):
                replica = self.partitions[key]
                deleted = replica.log.delete_old_segments(now)
                if deleted:
                    self._events(
                        (
                            now,
                            f"{replica.name}@{self.name}",
                            "segments_deleted",
                            f"{deleted} records",
                        )
                    )
                    if replica.is_leader:
                        self._gauge(replica.name, "log_start_offset", replica.log.log_start_offset)
        self.after(interval, self._retention_task, interval)

    def _flush_task(self, interval: float) -> None:
        if self.alive:
            for key in sorted(self.partitions):
                self.partitions[key].log.flush()
        self.after(interval, self._flush_task, interval)

    # -- follower: replica fetcher ----------------------------------------------------------------
    def _send_replica_fetch(self, fetcher: ReplicaFetcher) -> None:
        if not self.alive or not fetcher.partitions or fetcher.in_flight:
            return
        now = self.simenv.now
        ready = [r for r in fetcher.partitions if fetcher.delayed.get(r.name, 0.0) <= now]
        if fetcher.backoff_until > now or not ready:
            retry_at = max(
                fetcher.backoff_until,
                min((fetcher.delayed.get(r.name, 0.0) for r in fetcher.partitions), default=now),
            )
            fetcher.in_flight = True  # the scheduled retry owns the session meanwhile
            self.at(retry_at, self._retry_replica_fetch, fetcher)
            return
        cfg = self.config
        partition_max = int(cfg["replica.fetch.max.bytes"])
        parts = []
        for replica in ready:
            log = replica.log
            # Before KIP-101 there were no epochs to compare: no divergence detection.
            last_epoch = log.latest_epoch if self._epoch_truncation else -1
            parts.append(
                FetchPartition(
                    replica.topic,
                    replica.partition,
                    log.log_end_offset,
                    replica.leader_epoch,
                    last_epoch,
                    partition_max,
                )
            )
        body = FetchRequest(
            self.broker_id,
            float(cfg["replica.fetch.wait.max.ms"]),
            int(cfg["replica.fetch.min.bytes"]),
            int(cfg["replica.fetch.response.max.bytes"]),
            parts,
        )
        fetcher.in_flight = True
        size = REQUEST_HEADER_BYTES + PARTITION_HEADER_BYTES * len(parts)
        timeout = float(cfg.get("replica.socket.timeout.ms", 30000))
        self.send_request(
            f"broker-{fetcher.leader_id}",
            "Fetch",
            body,
            size,
            timeout,
            lambda response, error: self._on_replica_fetch_response(fetcher, response, error),
        )

    def _retry_replica_fetch(self, fetcher: ReplicaFetcher) -> None:
        fetcher.in_flight = False
        self._send_replica_fetch(fetcher)

    def _on_replica_fetch_response(
        self, fetcher: ReplicaFetcher, response: FetchResponse | None, error: str | None
    ) -> None:
        fetcher.in_flight = False
        if not self.alive:
            return
        now = self.simenv.now
        backoff = False
        if response is None:
            backoff = True
        else:
            for part in response.partitions:
                replica = self.partitions.get((part.topic, part.partition))
                if replica is None or replica not in fetcher.partitions:
                    continue
                if part.error == "OFFSET_OUT_OF_RANGE" and part.leader_log_end_offset >= 0:
                    self._handle_out_of_range(replica, part)
                    continue
                if part.error is not None:
                    delay = float(self.config["replica.fetch.backoff.ms"])
                    fetcher.delayed[replica.name] = now + delay
                    continue
                if part.diverging_epoch is not None:
                    self._truncate_on_divergence(replica, part.diverging_epoch)
                    continue
                if part.batches and part.batches[0].base_offset != replica.log.log_end_offset:
                    continue  # stale response after a truncation; refetch
                replica.append_records_as_follower(part.batches, part.high_watermark, now)
                for batch in part.batches:
                    self._record_append(replica, batch, now, "follower")
                if part.batches and self._flush_every_append:
                    replica.log.flush()
        if backoff:
            fetcher.backoff_until = now + float(self.config["replica.fetch.backoff.ms"])
        self._send_replica_fetch(fetcher)

    def _handle_out_of_range(self, replica: Partition, part: FetchPartitionResponse) -> None:
        """A follower's fetch offset is outside the leader's log (``fetchOffsetAndTruncate``):
        past its end -> truncate to it (the unclean-leader case: "There is a potential for a
        mismatch ... We don't fix this"); before its start -> start over at its log start."""
        log = replica.log
        where = f"{replica.name}@{self.name}"
        if log.log_end_offset > part.leader_log_end_offset:
            removed = log.truncate_to(part.leader_log_end_offset)
            detail = f"to leader end {part.leader_log_end_offset} ({removed} records removed)"
            self._events((self.simenv.now, where, "truncate", detail))
        elif log.log_end_offset < part.log_start_offset:
            log.truncate_fully_and_start_at(part.log_start_offset)
            self._events((self.simenv.now, where, "truncate", f"start at {part.log_start_offset}"))

    def _truncate_on_divergence(self, replica: Partition, diverging: tuple[int, int]) -> None:
        """KIP-279 truncation: to min(leader's end offset, our end offset for that epoch)."""
        epoch, end_offset = diverging
        log = replica.log
        if epoch < 0:
            target = log.high_watermark  # leader knows none of our epochs
        else:
            # Our end offset for that epoch, or for the largest lower one we know (KIP-279).
            _, own_end = log.end_offset_for_epoch(epoch)
            target = min(end_offset, own_end)
        target = max(min(target, log.log_end_offset), log.log_start_offset)
        removed = log.truncate_to(target)
        self._events(
            (
                self.simenv.now,
                f"{replica.name}@{self.name}",
                "truncate",
                f"to {target} ({removed} records removed)",
            )
        )

    # -- metadata, offsets, group coordination ----------------------------------------------------
    def _handle_metadata(self, source: str, request: Request) -> None:
        body: MetadataRequest = request.body
        partitions = self.controller.metadata_for(body.topics)
        brokers = {b: f"broker-{b}" for b in self.controller.live_brokers()}
        size = REQUEST_HEADER_BYTES + PARTITION_HEADER_BYTES * len(partitions)
        self.send_response(source, request, MetadataResponse(brokers, partitions), size)

    def _handle_list_offsets(self, source: str, request: Request) -> None:
        body: ListOffsetsRequest = request.body
        replica = self.partitions.get((body.topic, body.partition))
        if replica is None or not replica.is_leader:
            response = ListOffsetsResponse(NOT_LEADER_OR_FOLLOWER, -1)
        elif body.timestamp == EARLIEST_TIMESTAMP:
            response = ListOffsetsResponse(None, replica.log.log_start_offset)
        else:
            response = ListOffsetsResponse(None, replica.log.high_watermark)
        self.send_response(source, request, response, REQUEST_HEADER_BYTES)

    def _handle_offsets_for_leader_epoch(self, source: str, request: Request) -> None:
        """KIP-320 / KIP-279: the end offset of an epoch on this leader (largest epoch <= it)."""
        body: OffsetsForLeaderEpochRequest = request.body
        replica = self.partitions.get((body.topic, body.partition))
        if replica is None or not replica.is_leader:
            response = OffsetsForLeaderEpochResponse(NOT_LEADER_OR_FOLLOWER)
        elif 0 <= body.current_leader_epoch < replica.leader_epoch:
            response = OffsetsForLeaderEpochResponse("FENCED_LEADER_EPOCH")
        elif body.current_leader_epoch > replica.leader_epoch:
            response = OffsetsForLeaderEpochResponse("UNKNOWN_LEADER_EPOCH")
        else:
            epoch, end = replica.log.end_offset_for_epoch(body.leader_epoch)
            response = OffsetsForLeaderEpochResponse(None, epoch, end)
        self.send_response(source, request, response, REQUEST_HEADER_BYTES)

    def _handle_offset_commit(self, source: str, request: Request) -> None:
        body: OffsetCommitRequest = request.body
        for topic, partition, offset in body.offsets:
            key = (body.group, topic, partition)
            if self.group_offsets.get(key) != offset:  # gauges are recorded on change
                self._gauge(f"{body.group}/{topic}-{partition}", "committed_offset", offset)
            self.group_offsets[key] = offset
        self.send_response(source, request, OffsetCommitResponse(None), REQUEST_HEADER_BYTES)

    def _handle_offset_fetch(self, source: str, request: Request) -> None:
        body: OffsetFetchRequest = request.body
        offsets = {
            (topic, partition): self.group_offsets[(body.group, topic, partition)]
            for topic, partition in body.partitions
            if (body.group, topic, partition) in self.group_offsets
        }
        size = REQUEST_HEADER_BYTES + PARTITION_HEADER_BYTES * len(body.partitions)
        self.send_response(source, request, OffsetFetchResponse(offsets), size)
