"""The producer's record accumulator: batches per partition, node readiness and the node drain.

Kafka concept (``RecordAccumulator.ready`` / ``drain`` / ``drainBatchesForOneNode`` and
``Sender.sendProducerData``, clients module, Kafka 3.9; kafka-semantics.md §5.1)
    - ``send()`` appends a record to its partition's deque of batches. A batch holds up to
      ``batch.size`` bytes (the 61-byte v2 header, ``DefaultRecordBatch.RECORD_BATCH_OVERHEAD``,
      plus the records); a record that does not fit starts a new batch. A batch that has been
      sent once is closed: retried batches are never appended to.
    - **Readiness is per node** (``ready``): a node (broker) is ready when the head batch of at
      least one partition it leads is *sendable* and that partition is not muted. A head is
      sendable when it is full or another batch waits behind it, when ``linger.ms`` has passed
      since it was created, or when the producer is closing; a retried head instead waits out its
      retry backoff (counted from its last attempt), unless the partition's leader changed since
      that attempt (KIP-951: ``ProducerBatch.hasLeaderChangedForTheOngoingRetry``, compared by
      leader epoch). ``ready`` also returns when the earliest head of a not-yet-ready node becomes
      sendable (``nextReadyCheckDelayMs``; here as an absolute time, ``next_ready_check_ms``), and
      whether a partition with data has no known leader (the sender then refreshes metadata).
    - **Draining is per node** (``drain``): for a ready node, walk *every* partition it leads,
      starting at that node's drain index so no partition starves, and take the first batch of
      each one that has data, **whether or not its own linger has expired**. Skip a partition
      when it is muted (``max.in.flight.requests.per.connection=1``: a partition with a batch in
      flight is muted) or when its head is backing off a retry. Stop the walk when the next batch
      would take the request past ``max.request.size`` (the first batch is always taken), or, with
      idempotence, when the head is a retry and a batch of the same partition with a lower
      sequence is still in flight (``shouldStopDrainBatchesForPartition``: retries go out in
      sequence order). The drain index stored is the last partition *visited*, exactly as
      Kafka's ``updateDrainIndex`` leaves it (after a full walk: the one before the start).
    - ``expiredBatches``: batches whose ``delivery.timeout.ms`` has passed since creation leave
      the accumulator (head first, per partition).
    - ``reenqueue``: a batch to retry goes back at the head of its deque (with idempotence, in
      sequence order: ``insertInSequenceOrder``), with its retry backoff.

What this module adds for speed (never changes a decision)
    Kafka's ``ready`` walks every partition with data at every sender wake-up, and its drain
    every partition of the node. Here each node keeps the earliest time one of its partitions
    becomes sendable, updated in place when records arrive (a head can only become sendable
    earlier) and recomputed, from that node's partitions *with data* only, after a drain, a
    retry, a mute change, an expiry or a metadata update. The drain walks the node's partitions
    with data only, in Kafka's cyclic order, so the batches taken and the drain index stored are
    Kafka's. (PERFORMANCE.md rules 1-2: no per-partition work per wake-up.)

Simplifications
    - Records are counted, not stored: a batch is (first record's index in its partition, count,
      first and last create time). Every record has the producer's ``record_size``; a batch
      takes ``(batch.size - 61) // record_size`` records (at least one). As in Kafka
      (``MemoryRecordsBuilder.isFull``) it is *full* only when its bytes reach ``batch.size``;
      a batch with room left but not for one more record becomes sendable when the next record
      arrives and opens a batch behind it.
    - The retry backoff of each attempt is drawn once by the caller (KIP-580 exponential with
      ±20 % jitter, :func:`retry_backoff_ms`) when the batch is re-enqueued; Kafka draws a new
      jitter at every check.
    - Not modelled: ``buffer.memory`` exhaustion and ``flush()`` (both make every head sendable),
      transactions (``isSendToPartitionAllowed``, ``transactionManager.isCompleting``), the
      stale-epoch and unresolved-sequence holds of ``shouldStopDrainBatchesForPartition`` (the
      producer bumps its epoch only when nothing else is unresolved), batch splitting on
      ``MESSAGE_TOO_LARGE``, adaptive partitioning statistics, and the expiry of batches in flight.

Kafka sources: ``clients/src/main/java/org/apache/kafka/clients/producer/internals/``
``RecordAccumulator.java``, ``ProducerBatch.java``, ``Sender.java``; tests ported in
``tests/kafka/test_accumulator.py`` from ``RecordAccumulatorTest.java``; KIP-580, KIP-951.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "RECORD_BATCH_OVERHEAD",
    "ProducerBatch",
    "ReadyCheckResult",
    "RecordAccumulator",
    "retry_backoff_ms",
]

RECORD_BATCH_OVERHEAD = 61  # DefaultRecordBatch.RECORD_BATCH_OVERHEAD: the v2 batch header
RETRY_BACKOFF_EXP_BASE = 2  # CommonClientConfigs.RETRY_BACKOFF_EXP_BASE
RETRY_BACKOFF_JITTER = 0.2  # CommonClientConfigs.RETRY_BACKOFF_JITTER
_NEVER = math.inf
_NOW = -math.inf  # "sendable whatever the time": full, a batch behind it, closing, new leader


def retry_backoff_ms(attempts: int, base_ms: float, max_ms: float, jitter_draw: float) -> float:
    """KIP-580 ``ExponentialBackoff.backoff(attempts - 1)``: ``base * 2^(attempts-1)``, capped
    at ``retry.backoff.max.ms``, times a jitter factor ``1 + 0.2 * (2 * jitter_draw - 1)``
    (``jitter_draw`` uniform in [0, 1)), capped again. ``attempts`` is the number of sends so far.
    """
    exp = base_ms * RETRY_BACKOFF_EXP_BASE ** max(0, attempts - 1)
    term = min(exp, max_ms)
    jitter = 1.0 + RETRY_BACKOFF_JITTER * (2.0 * jitter_draw - 1.0)
    return min(term * jitter, max_ms)


class ProducerBatch:
    """One batch in the accumulator (Kafka ``ProducerBatch``), records counted, not stored.

    ``attempts`` counts the ProduceRequests that carried it (Kafka's ``attempts`` while it waits
    in a deque); ``last_attempt_ms`` and ``backoff_ms`` are set when it is re-enqueued;
    ``leader_epoch`` and ``attempts_when_leader_changed`` are ``currentLeaderEpoch`` and
    ``attemptsWhenLeaderLastChanged`` (KIP-951); ``fill_ms`` is for the caller (when its workload
    will fill the batch).
    """

    __slots__ = (
        "attempts",
        "attempts_when_leader_changed",
        "backoff_ms",
        "batch_id",
        "count",
        "fill_ms",
        "first_create_ms",
        "full",
        "last_attempt_ms",
        "last_create_ms",
        "leader_epoch",
        "partition",
        "seq_start",
    )

    def __init__(self, batch_id: int, partition: int, seq_start: int, first_create_ms: float):
        self.batch_id = batch_id
        self.partition = partition
        self.seq_start = seq_start
        self.count = 0
        self.first_create_ms = first_create_ms
        self.last_create_ms = first_create_ms
        self.full = False
        self.attempts = 0
        self.last_attempt_ms = first_create_ms
        self.backoff_ms = 0.0
        self.leader_epoch = -1
        self.attempts_when_leader_changed = 0
        self.fill_ms = _NEVER

    def __repr__(self) -> str:
        return (
            f"ProducerBatch(id={self.batch_id}, p={self.partition}, seq={self.seq_start}, "
            f"count={self.count}, attempts={self.attempts})"
        )


@dataclass(slots=True)
class ReadyCheckResult:
    """``RecordAccumulator.ReadyCheckResult``: the ready nodes (ascending id), the time the
    earliest head of a node not yet ready becomes sendable (``inf``: none), and whether some
    partition with data has no known leader."""

    ready_nodes: list[int]
    next_ready_check_ms: float
    unknown_leader: bool


class RecordAccumulator:
    """Batches per partition of one topic, with Kafka's node readiness and node drain.

    The caller (the producer's sender) sets the leaders with :meth:`update_metadata`, appends
    arriving records with :meth:`append`, and at every wake-up calls :meth:`ready`, then
    :meth:`drain` for each ready node whose connection can take another request, then reports
    every batch's outcome with :meth:`complete` or :meth:`reenqueue`.
    """

    def __init__(
        self,
        num_partitions: int,
        *,
        batch_size: int,
        record_size: int,
        linger_ms: float,
        delivery_timeout_ms: float = math.inf,
        idempotent: bool = False,
        guarantee_message_order: bool = False,
    ) -> None:
        self.num_partitions = num_partitions
        self.record_size = record_size
        self.batch_size = batch_size
        self.batch_capacity = max(1, (batch_size - RECORD_BATCH_OVERHEAD) // record_size)
        # Do ``batch_capacity`` records reach batch.size exactly (isFull), or is the batch only
        # closed when the next record opens another one?
        self.fills_exactly = RECORD_BATCH_OVERHEAD + self.batch_capacity * record_size >= batch_size
        self.linger_ms = float(linger_ms)
        self.delivery_timeout_ms = float(delivery_timeout_ms)
        self.idempotent = idempotent
        self.guarantee_message_order = guarantee_message_order  # max.in.flight == 1: muting
        self.closing = False
        self.deques: list[deque[ProducerBatch]] = [deque() for _ in range(num_partitions)]
        self.next_seq = [0] * num_partitions  # records appended so far, per partition
        self.muted = [False] * num_partitions
        self.in_flight: list[list[ProducerBatch]] = [[] for _ in range(num_partitions)]
        self.leaders: list[int | None] = [None] * num_partitions
        self.leader_epochs = [-1] * num_partitions
        self.next_expiry_ms = _NEVER  # a lower bound of the earliest delivery timeout
        self.empty_partitions = num_partitions
        self._next_batch_id = 0
        self._drain_index: dict[int, int] = {}
        self._node_parts: dict[int, list[int]] = {}  # partitionsForNode, in partition order
        self._position = [-1] * num_partitions  # index of a partition in its leader's list
        self._with_data: dict[int, list[int]] = {}  # per node: positions with data, sorted
        self._leaderless: list[int] = list(range(num_partitions))
        self._ready_at: dict[int, float] = {}  # per node: when its earliest head is sendable
        self._dirty: set[int] = set()  # nodes whose _ready_at must be recomputed

    # -- metadata --
    def update_metadata(self, leaders: Sequence[int | None], epochs: Sequence[int]) -> None:
        """New leaders and leader epochs (a Metadata response). A retried head whose
        partition's leader epoch went up no longer backs off (KIP-951)."""
        self.leaders = list(leaders)
        self.leader_epochs = [int(e) for e in epochs]
        parts: dict[int, list[int]] = {}
        leaderless = []
        for partition, leader in enumerate(self.leaders):
            if leader is None:
                self._position[partition] = -1
                leaderless.append(partition)
                continue
            node = parts.setdefault(leader, [])
            self._position[partition] = len(node)
            node.append(partition)
        self._node_parts = parts
        self._leaderless = leaderless
        self._with_data = {
            node: [i for i, p in enumerate(members) if self.deques[p]]
            for node, members in parts.items()
        }
        self._ready_at = dict.fromkeys(parts, _NOW)
        self._dirty = set(parts)

    def nodes(self) -> list[int]:
        """Nodes that lead at least one partition, ascending."""
        return sorted(self._node_parts)

    def partitions_for_node(self, node: int) -> list[int]:
        return list(self._node_parts.get(node, ()))

    # -- appending --
    def append(self, partition: int, times: npt.NDArray[np.float64]) -> list[ProducerBatch]:
        """Append records created at ``times`` (ascending) to ``partition``; returns the batches
        created for them (``RecordAccumulator.append`` for a block of records)."""
        dq = self.deques[partition]
        capacity = self.batch_capacity
        n = len(times)
        if not n:
            return []
        if dq:
            tail = dq[-1]
            if tail.count + n < capacity and not tail.attempts:
                # The common case: the open batch takes them all and stays below capacity, so
                # no head changes and no readiness either.
                tail.count += n
                self.next_seq[partition] += n
                tail.last_create_ms = float(times[-1])
                return []
        was_empty = not dq
        created: list[ProducerBatch] = []
        taken = 0
        while taken < n:
            batch = dq[-1] if dq else None
            if batch is None or batch.count >= capacity or batch.attempts > 0:
                first = float(times[taken])
                batch = ProducerBatch(
                    self._next_batch_id, partition, self.next_seq[partition], first
                )
                self._next_batch_id += 1
                dq.append(batch)
                created.append(batch)
                expiry = first + self.delivery_timeout_ms
                if expiry < self.next_expiry_ms:
                    self.next_expiry_ms = expiry
            take = min(capacity - batch.count, n - taken)
            batch.count += take
            self.next_seq[partition] += take
            taken += take
            batch.last_create_ms = float(times[taken - 1])
            if batch.count >= capacity and self.fills_exactly:
                batch.full = True
        if was_empty:
            self.empty_partitions -= 1
        leader = self.leaders[partition]
        if leader is None:
            return created
        if was_empty:
            insort(self._with_data[leader], self._position[partition])
        if (was_empty or created or dq[0].full) and not self.muted[partition]:
            if leader in self._dirty:
                return created
            # A new head, or one that just became sendable by size. (Appending can only make a
            # head sendable earlier: the node's minimum stays exact.)
            sendable = self._sendable_at(partition)
            if sendable < self._ready_at[leader]:
                self._ready_at[leader] = sendable
        return created

    def records_until_sendable(self, batch: ProducerBatch) -> int:
        """How many more records make the (head) batch sendable by size: the ones that fill it,
        or, when it cannot fill exactly, one more (it opens the next batch)."""
        return self.batch_capacity - batch.count + (0 if self.fills_exactly else 1)

    def batch_bytes(self, batch: ProducerBatch) -> int:
        return RECORD_BATCH_OVERHEAD + batch.count * self.record_size

    # -- readiness --
    def _sendable_at(self, partition: int) -> float:
        """When the head of ``partition`` (which has data) becomes sendable: ``batchReady``
        with ``shouldBackoff``. Updates the head's leader epoch as ``maybeUpdateLeaderEpoch``."""
        dq = self.deques[partition]
        head = dq[0]
        if head.attempts:
            epoch = self.leader_epochs[partition]
            if epoch > head.leader_epoch:
                head.leader_epoch = epoch
                head.attempts_when_leader_changed = head.attempts
            if head.attempts == head.attempts_when_leader_changed:
                return _NOW  # KIP-951: a new leader, no backoff (a sent batch is closed: full)
            return head.last_attempt_ms + head.backoff_ms
        if head.full or self.closing or len(dq) > 1:
            return _NOW
        return head.first_create_ms + self.linger_ms

    def _recompute(self, node: int) -> None:
        earliest = _NEVER
        parts, muted = self._node_parts[node], self.muted
        for position in self._with_data[node]:
            partition = parts[position]
            if muted[partition]:
                continue
            sendable = self._sendable_at(partition)
            if sendable < earliest:
                earliest = sendable
        self._ready_at[node] = earliest

    def ready(self, now: float) -> ReadyCheckResult:
        """Which nodes have a sendable partition, and when the next one will
        (``RecordAccumulator.ready``)."""
        dirty = self._dirty
        if dirty:
            for node in dirty:
                self._recompute(node)
            dirty.clear()
        ready_nodes: list[int] = []
        next_check = _NEVER
        for node, sendable in self._ready_at.items():
            if sendable <= now:
                ready_nodes.append(node)
            elif sendable < next_check:
                next_check = sendable
        ready_nodes.sort()
        deques = self.deques
        unknown = any(deques[p] for p in self._leaderless)
        return ReadyCheckResult(ready_nodes, next_check, unknown)

    # -- draining --
    def _backing_off(self, batch: ProducerBatch, now: float) -> bool:
        """``shouldBackoff``, after ``maybeUpdateLeaderEpoch``."""
        if not batch.attempts:
            return False
        if batch.attempts == batch.attempts_when_leader_changed:
            return False
        return now < batch.last_attempt_ms + batch.backoff_ms

    def _should_stop(self, first: ProducerBatch, partition: int) -> bool:
        """``shouldStopDrainBatchesForPartition`` for an idempotent producer: a retried batch
        waits until it is the lowest unresolved sequence of its partition."""
        if not self.idempotent or not first.attempts:
            return False
        seq = first.seq_start
        return any(b.seq_start < seq for b in self.in_flight[partition])

    def drain(self, node: int, max_size: int, now: float) -> list[ProducerBatch]:
        """The batches of one ProduceRequest to ``node`` (``drainBatchesForOneNode``): the first
        batch of every partition it leads, from its drain index, within ``max_size`` bytes.
        Drained batches are in flight: their ``attempts`` goes up, and with
        ``guarantee_message_order`` their partition is muted."""
        parts = self._node_parts.get(node)
        if not parts:
            return []
        count = len(parts)
        start = self._drain_index.get(node, 0) % count
        with_data = self._with_data[node]
        split = bisect_left(with_data, start)
        walk = with_data[split:] + with_data[:split]
        last_visited = (start - 1) % count  # where a walk over every partition ends
        deques, muted, epochs = self.deques, self.muted, self.leader_epochs
        taken: list[ProducerBatch] = []
        emptied: list[int] = []
        size = 0
        for position in walk:
            partition = parts[position]
            if muted[partition]:
                continue
            dq = deques[partition]
            first = dq[0]
            epoch = epochs[partition]
            if epoch > first.leader_epoch:  # maybeUpdateLeaderEpoch
                first.leader_epoch = epoch
                first.attempts_when_leader_changed = first.attempts
            retry = first.attempts > 0
            if retry and self._backing_off(first, now):
                continue
            batch_size = RECORD_BATCH_OVERHEAD + first.count * self.record_size
            if size + batch_size > max_size and taken:
                last_visited = position
                break
            if retry and self._should_stop(first, partition):
                last_visited = position
                break
            dq.popleft()
            if not dq:
                emptied.append(position)
            first.attempts += 1
            self.in_flight[partition].append(first)
            if self.guarantee_message_order:
                muted[partition] = True
            size += batch_size
            taken.append(first)
        self._drain_index[node] = last_visited
        if emptied:
            for position in emptied:
                del with_data[bisect_left(with_data, position)]
            self.empty_partitions += len(emptied)
        self._dirty.add(node)
        return taken

    # -- outcomes --
    def _settle(self, batch: ProducerBatch) -> None:
        partition = batch.partition
        in_flight = self.in_flight[partition]
        if in_flight and in_flight[0] is batch:
            del in_flight[0]  # the usual case: answers come in send order
        elif batch in in_flight:
            in_flight.remove(batch)
        if self.muted[partition]:
            self.muted[partition] = False
            self._mark(partition)

    def _mark(self, partition: int) -> None:
        leader = self.leaders[partition]
        if leader is not None:
            self._dirty.add(leader)

    def complete(self, batch: ProducerBatch) -> None:
        """The batch's request ended for good (acknowledged, written with acks=0, or failed):
        it is no longer in flight and its partition is unmuted."""
        self._settle(batch)

    def reenqueue(self, batch: ProducerBatch, now: float, backoff_ms: float) -> None:
        """Put a batch to retry back at the head of its deque (``reenqueue``; with idempotence
        in sequence order, ``insertInSequenceOrder``); it may be drained again ``backoff_ms``
        after ``now`` (sooner if its partition's leader changes)."""
        self._settle(batch)
        batch.last_attempt_ms = now
        batch.backoff_ms = backoff_ms
        partition = batch.partition
        dq = self.deques[partition]
        was_empty = not dq
        if self.idempotent:
            index = 0
            while index < len(dq) and dq[index].attempts and dq[index].seq_start < batch.seq_start:
                index += 1
            dq.insert(index, batch)
        else:
            dq.appendleft(batch)
        if was_empty:
            self.empty_partitions -= 1
            leader = self.leaders[partition]
            if leader is not None:
                insort(self._with_data[leader], self._position[partition])
        expiry = batch.first_create_ms + self.delivery_timeout_ms
        if expiry < self.next_expiry_ms:
            self.next_expiry_ms = expiry
        self._mark(partition)

    def expired_batches(self, now: float) -> list[ProducerBatch]:
        """Batches waiting past ``delivery.timeout.ms`` since creation, removed
        (``expiredBatches``). Cheap until ``next_expiry_ms``."""
        if now < self.next_expiry_ms:
            return []
        deadline = self.delivery_timeout_ms
        expired: list[ProducerBatch] = []
        earliest = _NEVER
        for partition, dq in enumerate(self.deques):
            if not dq:
                continue
            before = len(expired)
            while dq and now >= dq[0].first_create_ms + deadline:
                expired.append(dq.popleft())
            if dq:
                earliest = min(earliest, dq[0].first_create_ms + deadline)
                if len(expired) > before:
                    self._mark(partition)
            else:
                self._emptied(partition)
        self.next_expiry_ms = earliest
        return expired

    def _emptied(self, partition: int) -> None:
        self.empty_partitions += 1
        leader = self.leaders[partition]
        if leader is not None:
            with_data = self._with_data[leader]
            index = bisect_left(with_data, self._position[partition])
            if index < len(with_data) and with_data[index] == self._position[partition]:
                del with_data[index]
            self._dirty.add(leader)

    def close(self) -> None:
        """``close()``: every head becomes sendable without waiting for its linger."""
        self.closing = True
        self._dirty.update(self._node_parts)

    def abort_all(self) -> list[ProducerBatch]:
        """Every batch, buffered or in flight, removed (the producer process died or the run
        ended), in batch order."""
        batches: list[ProducerBatch] = []
        for partition in range(self.num_partitions):
            batches.extend(self.deques[partition])
            batches.extend(self.in_flight[partition])
            self.deques[partition].clear()
            self.in_flight[partition].clear()
            self.muted[partition] = False
        self.empty_partitions = self.num_partitions
        for with_data in self._with_data.values():
            with_data.clear()
        self._dirty.update(self._node_parts)
        self.next_expiry_ms = _NEVER
        batches.sort(key=lambda b: b.batch_id)
        return batches

    # -- views for the sender --
    def batches(self) -> Iterator[ProducerBatch]:
        """Every buffered batch (not in flight), partition by partition."""
        for dq in self.deques:
            yield from dq

    def in_flight_batches(self) -> Iterator[ProducerBatch]:
        for batches in self.in_flight:
            yield from batches

    def has_undrained(self) -> bool:
        return self.empty_partitions < self.num_partitions
