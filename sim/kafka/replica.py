"""One broker's replica of a partition: leader and follower rules (Kafka's ``Partition.scala``).

Theory of operation (kafka-semantics §2, Kafka 3.9)
---------------------------------------------------
* **Produce on the leader** (``Partition.appendRecordsToLeader``): with ``acks=all`` and
  |ISR| < effective min ISR (= min(``min.insync.replicas``, RF)) the write is refused with
  NOT_ENOUGH_REPLICAS and nothing is appended. Otherwise the batch is appended with the current
  leader epoch and the HW may advance. ``acks=0/1`` are never refused for min ISR.
* **acks=all completion** (``checkEnoughReplicasReachOffset``): once the leader HW passes the
  batch, success if the *maximal* ISR has >= min ISR members, else
  NOT_ENOUGH_REPLICAS_AFTER_APPEND (the record is in the log).
* **Follower fetch state** (``updateFollowerFetchState``): a follower's fetch offset is its LEO.
  ``lastCaughtUpTimeMs`` becomes the fetch time when the fetch offset reaches the leader LEO, or
  the previous fetch time when it reaches the leader LEO recorded at the previous fetch.
* **HW** (``maybeIncrementLeaderHW``): min LEO over the maximal ISR plus caught-up joiners, never
  backwards, and frozen while |ISR| < min ISR ("strict min ISR", 3.7+, KIP-966 part 1).
* **ISR** (``maybeShrinkIsr`` / ``maybeExpandIsr``, KIP-497 AlterPartition): the leader proposes,
  the controller commits. While an expansion is pending the maximal ISR already includes the
  joiner; a pending shrink keeps the old members until committed. One change in flight at a time.
  A follower joins when its LEO >= HW and >= the current leader epoch's start offset.
* **Follower** (``ReplicaFetcherThread``): appends the leader's batches as they are, then sets its
  HW to min(leader HW, own LEO).

* **Leader change** (``makeLeader``): a new leader epoch starts at the leader's LEO in the epoch
  cache; followers' state is reset (LEO unknown for a newly elected leader, ISR members caught up
  "now"), so the HW waits for their next fetches; the HW is then recomputed (ISR may be {leader}).

Leader changes (``make_leader`` / ``make_follower``) and truncation are explicit operations so a
controller can drive them. This module never imports simpy; it returns decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.kafka.log import PartitionLog, RecordBatch

__all__ = [
    "LeaderAppend",
    "Partition",
    "RemoteReplica",
]

NOT_LEADER_OR_FOLLOWER = "NOT_LEADER_OR_FOLLOWER"
NOT_ENOUGH_REPLICAS = "NOT_ENOUGH_REPLICAS"
NOT_ENOUGH_REPLICAS_AFTER_APPEND = "NOT_ENOUGH_REPLICAS_AFTER_APPEND"
FENCED_LEADER_EPOCH = "FENCED_LEADER_EPOCH"
UNKNOWN_OFFSET = -1
NEVER = float("-inf")  # a time that never happened (Kafka: 0L, i.e. 1970)


class RemoteReplica:
    """The leader's view of one follower (Kafka ``Replica.scala``).

    Times are simulated ms. "Never" is ``-inf``: Kafka uses ``0L`` on a wall clock (1970), but the
    simulated clock starts at 0, where ``0`` would mean "caught up at the start of the run".
    """

    __slots__ = (
        "broker_id",
        "last_caught_up_time_ms",
        "last_fetch_leader_log_end_offset",
        "last_fetch_time_ms",
        "log_end_offset",
    )

    def __init__(self, broker_id: int) -> None:
        self.broker_id = broker_id
        self.log_end_offset = UNKNOWN_OFFSET
        self.last_caught_up_time_ms = NEVER
        self.last_fetch_leader_log_end_offset = 0
        self.last_fetch_time_ms = NEVER

    def reset(
        self,
        now_ms: float,
        in_sync: bool,
        *,
        is_new_leader: bool = True,
        leader_end_offset: int = UNKNOWN_OFFSET,
    ) -> None:
        """State after a new leader epoch on this broker (``Replica.resetReplicaState``).

        ISR members count as caught up now, others never. A broker that just became leader
        forgets the follower's LEO; one re-elected in a new epoch keeps it.
        """
        self.last_caught_up_time_ms = now_ms if in_sync else NEVER
        if is_new_leader:
            self.log_end_offset = UNKNOWN_OFFSET
            self.last_fetch_leader_log_end_offset = UNKNOWN_OFFSET
            self.last_fetch_time_ms = NEVER
        else:
            self.last_fetch_leader_log_end_offset = leader_end_offset
            self.last_fetch_time_ms = now_ms if in_sync else NEVER

    def is_caught_up(self, leader_log_end_offset: int, now_ms: float, max_lag_ms: float) -> bool:
        return (
            self.log_end_offset == leader_log_end_offset
            or now_ms - self.last_caught_up_time_ms <= max_lag_ms
        )


@dataclass(frozen=True, slots=True)
class LeaderAppend:
    """Outcome of a produce on the leader for one partition."""

    error: str | None
    base_offset: int = -1
    required_offset: int = -1  # acks=all waits until HW >= this
    duplicate: bool = False
    batch: RecordBatch | None = None
    high_watermark_changed: bool = False


@dataclass(frozen=True, slots=True)
class IsrProposal:
    """An AlterPartition request (KIP-497) the leader wants the controller to commit."""

    topic: str
    partition: int
    leader_id: int
    leader_epoch: int
    partition_epoch: int
    new_isr: tuple[int, ...]
    kind: str  # "shrink" | "expand"


class Partition:
    """One broker's replica of ``topic-partition`` with its local log."""

    def __init__(
        self,
        topic: str,
        partition: int,
        broker_id: int,
        assignment: list[int],
        log: PartitionLog,
        *,
        min_insync_replicas: int,
        replica_lag_time_max_ms: float,
        strict_min_isr: bool = True,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.name = f"{topic}-{partition}"
        self.broker_id = broker_id
        self.assignment = list(assignment)
        self.log = log
        self.min_insync_replicas = min_insync_replicas
        self.replica_lag_time_max_ms = replica_lag_time_max_ms
        self.strict_min_isr = strict_min_isr
        self.leader_id: int | None = None
        self.leader_epoch = -1
        self.partition_epoch = 0
        self.isr: tuple[int, ...] = ()
        self.pending_isr: IsrProposal | None = None
        # Brokers a controller has fenced or that are shutting down: never counted as caught up.
        self.ineligible: frozenset[int] = frozenset()
        self.remote: dict[int, RemoteReplica] = {
            b: RemoteReplica(b) for b in self.assignment if b != broker_id
        }

    # -- role --
    @property
    def is_leader(self) -> bool:
        return self.leader_id == self.broker_id

    @property
    def effective_min_isr(self) -> int:
        return min(self.min_insync_replicas, len(self.assignment))

    @property
    def maximal_isr(self) -> tuple[int, ...]:
        pending = self.pending_isr
        if pending is not None and pending.kind == "expand":
            return pending.new_isr
        return self.isr

    @property
    def is_under_min_isr(self) -> bool:
        return len(self.isr) < self.effective_min_isr

    def make_leader(
        self, leader_epoch: int, isr: tuple[int, ...], partition_epoch: int, now_ms: float
    ) -> bool:
        """Become leader (``Partition.makeLeader``); returns True when the HW moved.

        In a new leader epoch the epoch starts at our LEO in the epoch cache and the followers'
        state is reset (``Replica.resetReplicaState``). Then the HW is recomputed, since the ISR
        may be down to the leader alone.
        """
        was_leader = self.is_leader
        new_epoch = not was_leader or leader_epoch != self.leader_epoch
        self.leader_id = self.broker_id
        self.leader_epoch = leader_epoch
        self.isr = tuple(isr)
        self.partition_epoch = partition_epoch
        self.pending_isr = None
        if new_epoch:
            start = self.log.log_end_offset
            self.log.assign_epoch_start_offset(leader_epoch, start)
            for broker_id, replica in self.remote.items():
                replica.reset(
                    now_ms,
                    broker_id in self.isr,
                    is_new_leader=not was_leader,
                    leader_end_offset=start,
                )
        return self.maybe_increment_high_watermark(now_ms)

    def make_follower(
        self, leader_id: int | None, leader_epoch: int, isr: tuple[int, ...], partition_epoch: int
    ) -> None:
        self.leader_id = leader_id
        self.leader_epoch = leader_epoch
        self.isr = tuple(isr)
        self.partition_epoch = partition_epoch
        self.pending_isr = None

    # -- leader: produce --------------------------------------------------------------------------
    def append_records_to_leader(
        self, batch: RecordBatch, acks: str, now_ms: float
    ) -> LeaderAppend:
        if not self.is_leader:
            return LeaderAppend(NOT_LEADER_OR_FOLLOWER)
        if acks == "all" and len(self.isr) < self.effective_min_isr:
            return LeaderAppend(NOT_ENOUGH_REPLICAS)
        result = self.log.append_as_leader(batch, self.leader_epoch, now_ms)
        if result.kind == "error":
            return LeaderAppend(result.error)
        if result.kind == "duplicate":
            # The original append already happened: answer as Kafka does, with its offset.
            return LeaderAppend(
                None,
                base_offset=result.base_offset,
                required_offset=result.base_offset + batch.count,
                duplicate=True,
            )
        appended = result.batch
        assert appended is not None
        changed = self.maybe_increment_high_watermark(now_ms)
        return LeaderAppend(
            None,
            base_offset=appended.base_offset,
            required_offset=appended.next_offset,
            batch=appended,
            high_watermark_changed=changed,
        )

    def check_enough_replicas_reach_offset(self, required_offset: int) -> tuple[bool, str | None]:
        """Whether a parked acks=all produce can complete, and with which error."""
        if not self.is_leader:
            return True, NOT_LEADER_OR_FOLLOWER
        if self.log.high_watermark >= required_offset:
            if len(self.maximal_isr) >= self.effective_min_isr:
                return True, None
            return True, NOT_ENOUGH_REPLICAS_AFTER_APPEND
        return False, None

    # -- leader: follower fetch -------------------------------------------------------------------
    def update_follower_fetch_state(
        self, replica_id: int, fetch_offset: int, now_ms: float
    ) -> tuple[bool, IsrProposal | None]:
        """Record a follower fetch; returns (HW changed, ISR expansion to propose or None)."""
        replica = self.remote.get(replica_id)
        if replica is None:
            return False, None
        leader_end = self.log.log_end_offset
        if fetch_offset >= leader_end:
            replica.last_caught_up_time_ms = max(replica.last_caught_up_time_ms, now_ms)
        elif fetch_offset >= replica.last_fetch_leader_log_end_offset:
            replica.last_caught_up_time_ms = max(
                replica.last_caught_up_time_ms, replica.last_fetch_time_ms
            )
        replica.log_end_offset = fetch_offset
        replica.last_fetch_leader_log_end_offset = leader_end
        replica.last_fetch_time_ms = now_ms
        proposal = self._maybe_expand_isr(replica_id)
        changed = self.maybe_increment_high_watermark(now_ms)
        return changed, proposal

    def maybe_increment_high_watermark(self, now_ms: float) -> bool:
        """Kafka 3.9 ``maybeIncrementLeaderHW``; True when the HW moved."""
        if self.strict_min_isr and self.is_under_min_isr:
            return False
        log = self.log
        new_hw = log.log_end_offset
        maximal = self.maximal_isr
        for broker_id, replica in self.remote.items():
            end = replica.log_end_offset
            if end < new_hw and (
                broker_id in maximal
                or (
                    end >= 0
                    and replica.is_caught_up(
                        log.log_end_offset, now_ms, self.replica_lag_time_max_ms
                    )
                    and self._eligible(broker_id)
                )
            ):
                new_hw = end
        if new_hw > log.high_watermark:
            log.update_high_watermark(new_hw)
            return True
        return False

    def _eligible(self, broker_id: int) -> bool:
        """Whether a caught-up non-ISR follower counts for the HW (alive, unfenced).

        With a static controller every registered broker is eligible; a controller that fences
        brokers overrides this through ``ineligible``.
        """
        return broker_id not in self.ineligible

    def _maybe_expand_isr(self, replica_id: int) -> IsrProposal | None:
        if self.pending_isr is not None or replica_id in self.isr:
            return None
        replica = self.remote[replica_id]
        epoch_start = self._current_epoch_start_offset()
        if (
            replica.log_end_offset >= self.log.high_watermark
            and replica.log_end_offset >= epoch_start
            and self._eligible(replica_id)
        ):
            new_isr = tuple(b for b in self.assignment if b in self.isr or b == replica_id)
            return self._propose(new_isr, "expand")
        return None

    def _current_epoch_start_offset(self) -> int:
        for epoch, start in reversed(self.log.epoch_entries):
            if epoch == self.leader_epoch:
                return start
        return self.log.log_end_offset

    def out_of_sync_replicas(self, now_ms: float) -> list[int]:
        """ISR followers not caught up within ``replica.lag.time.max.ms``.

        Kafka's ``Partition.getOutOfSyncReplicas``.
        """
        leader_end = self.log.log_end_offset
        return [
            b
            for b in self.isr
            if b != self.broker_id
            and not self.remote[b].is_caught_up(leader_end, now_ms, self.replica_lag_time_max_ms)
        ]

    def maybe_shrink_isr(self, now_ms: float) -> IsrProposal | None:
        """The ``isr-expiration`` task: propose removing lagging followers (never the leader)."""
        if not self.is_leader or self.pending_isr is not None:
            return None
        lagging = self.out_of_sync_replicas(now_ms)
        if not lagging:
            return None
        new_isr = tuple(b for b in self.isr if b not in lagging)
        return self._propose(new_isr, "shrink")

    def _propose(self, new_isr: tuple[int, ...], kind: str) -> IsrProposal:
        proposal = IsrProposal(
            self.topic,
            self.partition,
            self.broker_id,
            self.leader_epoch,
            self.partition_epoch,
            new_isr,
            kind,
        )
        self.pending_isr = proposal
        return proposal

    def on_isr_committed(self, isr: tuple[int, ...], partition_epoch: int, now_ms: float) -> bool:
        """The controller committed an ISR; returns True when the HW moved as a result."""
        self.isr = tuple(isr)
        self.partition_epoch = partition_epoch
        self.pending_isr = None
        return self.maybe_increment_high_watermark(now_ms) if self.is_leader else False

    def on_isr_rejected(self) -> None:
        self.pending_isr = None

    # -- follower --
    def append_records_as_follower(
        self, batches: list[RecordBatch], leader_high_watermark: int, now_ms: float
    ) -> None:
        log = self.log
        if batches:
            log.append_as_follower(batches, now_ms)
        hw = min(leader_high_watermark, log.log_end_offset)
        if hw != log.high_watermark:
            log.update_high_watermark(hw)
