"""The log of one partition replica: batches, offsets, segments, high watermark, epochs, retention.

Kafka concept
    Every replica of a partition stores an append-only log of record batches (``UnifiedLog`` over
    ``LocalLog``). Offsets are contiguous: a batch of n records appended at the log end offset
    (**LEO**) gets offsets [LEO, LEO+n). The log is a list of **segments** named by their base
    offset; only the last (*active*) one takes appends. Records below the **high watermark**
    (HW) are committed; the **log start offset** is the first offset still stored.

Rules modelled here (Kafka 3.9)
    - Leader append (``UnifiedLog.appendAsLeader``): idempotent producer check first
      (:mod:`sim.kafka.producer_state`: duplicate -> original offset, gap -> error), then offsets
      are assigned and the leader epoch is stamped on the batch.
    - Follower append (``appendAsFollower``): the leader's offsets and epochs are kept; the first
      batch must start at our LEO; producer state is updated without validation.
    - Both record (epoch, start offset) in the **leader-epoch cache** when a batch carries a new
      epoch (``maybeAssignEpochStartOffset``; ``LeaderEpochFileCache.assign`` drops non-monotonic
      entries). Truncation removes entries from the end (``truncateFromEnd``), retention from the
      start (``truncateFromStart``). :meth:`PartitionLog.end_offset_for_epoch` answers
      ``OffsetsForLeaderEpoch`` exactly like ``LeaderEpochFileCache.endOffsetFor``
      (KIP-101, KIP-279).
    - Roll (``LogSegment.shouldRoll``): before an append, when the active segment is non-empty and
      ``size > segment.bytes - appendSize``, or when the appended max timestamp minus the max
      timestamp of the segment's first batch exceeds ``segment.ms`` (no ``segment.jitter.ms``).
      A roll snapshots the producer state and flushes the rolled segment (Kafka schedules
      ``flushUptoOffsetExclusive(newSegment.baseOffset)`` right after a roll), so the
      **recovery point** moves to the new segment's base offset.
    - Read (``LocalLog.read``/``LogSegment.read``): whole batches from ONE segment, the first one
      containing ``fetch_offset``, only batches ending at or below ``max_offset`` (HW for consumers,
      LEO for followers), at least one batch even if it exceeds ``max_bytes`` (KIP-74).
      ``fetch_offset`` outside [log start, LEO] -> :class:`OffsetOutOfRange`.
    - Truncation (``UnifiedLog.truncateTo``): removes every batch with last offset >= target
      (a target inside a batch removes the whole batch); below the first segment it becomes
      ``truncateFullyAndStartAt``. The producer state is rebuilt from the snapshot of the last
      remaining segment plus a replay of its batches (``rebuildProducerState``).
    - Retention (``UnifiedLog.deleteOldSegments``/``deletableSegments``): whole segments, oldest
      first, stopping at the first one that is not deletable: by size while
      ``total - segment size >= retention.bytes``, then by time when
      ``now - segment largest timestamp > retention.ms``; -1 disables either. A segment whose end
      (next segment's base, or LEO) is above the HW is never deleted, so the active segment can go
      only when HW == LEO, and an empty active segment never; deleting every segment rolls an empty
      one first. The log start offset becomes the first surviving base offset.
    - Durability: :meth:`PartitionLog.flush` (fsync) sets the recovery point to the LEO;
      :meth:`PartitionLog.lose_unflushed` models a power loss: everything past the recovery point
      (page cache only) is gone, as after Kafka's log recovery on an unclean restart.

Simplifications
    Batches are metadata only (no records, no compression, no indexes). No transactions/LSO,
    compaction, tiered storage, ``DeleteRecords`` or async ``.deleted`` files. Producer-state
    snapshots live in memory on each segment. Timestamps are CreateTime; the ``segment.ms`` roll
    uses batch timestamps like Kafka's ``rollingBasedTimestamp``.

Kafka sources: ``core/src/main/scala/kafka/log/UnifiedLog.scala``, ``LocalLog.scala``,
``storage/.../internals/log/LogSegment.java``,
``storage/.../internals/epoch/LeaderEpochFileCache.java``.
"""

from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from sim.kafka.producer_state import INT32_MAX, SEQUENCE_OK, ProducerStateManager

UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1
_MAX_OFFSET = sys.maxsize
_NEG_INF = float("-inf")


@dataclass(slots=True)
class RecordBatch:
    """One record batch: offsets, size, epoch, idempotence fields and workload identity.

    Immutable by convention once appended (replicas share the same object, as they share the
    same bytes in Kafka); not ``frozen=True`` because a frozen dataclass costs about 2 µs more
    per batch to build, on the simulator's hottest path.

    ``origin``/``origin_seq`` identify the records for the checkers: the producer instance name and
    the index, within this partition, of the batch's first record.
    """

    base_offset: int
    count: int
    size_bytes: int
    leader_epoch: int
    producer_id: int  # -1 = not idempotent
    producer_epoch: int
    base_sequence: int
    first_timestamp_ms: float  # CreateTime of the first record
    max_timestamp_ms: float  # CreateTime of the last record
    origin: str
    origin_seq: int

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.count

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.count - 1


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Outcome of :meth:`PartitionLog.append_as_leader`.

    kind ``'appended'`` (``batch`` is the stored batch), ``'duplicate'`` (``base_offset`` of the
    original batch, nothing appended) or ``'error'`` (``error`` =
    ``OUT_OF_ORDER_SEQUENCE_NUMBER`` or ``INVALID_PRODUCER_EPOCH``, ``base_offset`` -1).
    """

    kind: Literal["appended", "duplicate", "error"]
    batch: RecordBatch | None
    base_offset: int
    error: str | None = None


class OffsetOutOfRange(Exception):
    """A fetch offset below the log start offset or above the LEO."""

    def __init__(self, fetch_offset: int, log_start_offset: int, log_end_offset: int) -> None:
        super().__init__(
            f"fetch offset {fetch_offset} outside [{log_start_offset}, {log_end_offset}]"
        )
        self.fetch_offset = fetch_offset
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset


class LogSegment:
    """A segment: base offset, its batches, their base offsets (for bisect) and cumulative sizes.

    ``ends[i]`` is the byte size of ``batches[: i + 1]``, so byte limits are a bisect too.
    ``producer_snapshot`` is the producer state at ``base_offset`` (taken when it was rolled).
    Callers must treat the lists as read-only.
    """

    __slots__ = (
        "base_offset",
        "batches",
        "created_ms",
        "ends",
        "first_append_ms",
        "max_timestamp_ms",
        "offsets",
        "producer_snapshot",
        "rolling_base_timestamp_ms",
        "size_bytes",
    )

    def __init__(
        self, base_offset: int, created_ms: float, producer_snapshot: ProducerStateManager
    ) -> None:
        self.base_offset = base_offset
        self.batches: list[RecordBatch] = []
        self.offsets: list[int] = []
        self.ends: list[int] = []
        self.size_bytes = 0
        self.max_timestamp_ms = _NEG_INF
        self.created_ms = created_ms
        self.first_append_ms: float | None = None
        self.rolling_base_timestamp_ms = _NEG_INF  # max timestamp of the first batch
        self.producer_snapshot = producer_snapshot

    @property
    def next_offset(self) -> int:
        """One past the last offset (the base offset when empty)."""
        batches = self.batches
        return batches[-1].next_offset if batches else self.base_offset

    @property
    def record_count(self) -> int:
        return self.next_offset - self.base_offset

    @property
    def largest_timestamp_ms(self) -> float:
        """Largest batch timestamp; the creation time when empty (Kafka: file lastModified)."""
        return self.max_timestamp_ms if self.batches else self.created_ms

    def _truncate_batches(self, index: int) -> None:
        """Drop ``batches[index:]`` and recompute sizes and timestamps."""
        del self.batches[index:]
        del self.offsets[index:]
        del self.ends[index:]
        self.size_bytes = self.ends[-1] if self.ends else 0
        if self.batches:
            self.max_timestamp_ms = max(b.max_timestamp_ms for b in self.batches)
        else:
            self.max_timestamp_ms = _NEG_INF
            self.first_append_ms = None
            self.rolling_base_timestamp_ms = _NEG_INF

    def __repr__(self) -> str:
        return (
            f"LogSegment(base={self.base_offset}, next={self.next_offset}, "
            f"batches={len(self.batches)}, bytes={self.size_bytes})"
        )


class PartitionLog:
    """One replica's log of ``topic``-``partition`` (see the module docstring for the rules)."""

    def __init__(
        self,
        topic: str,
        partition: int,
        *,
        segment_bytes: int,
        segment_ms: float,
        retention_ms: float,
        retention_bytes: int,
        now_ms: float = 0.0,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.segment_bytes = segment_bytes
        self.segment_ms = segment_ms
        self.retention_ms = retention_ms
        self.retention_bytes = retention_bytes
        self._now_ms = now_ms
        self._segments: list[LogSegment] = [LogSegment(0, now_ms, ProducerStateManager())]
        self._bases: list[int] = [0]
        self._log_start = 0
        self._leo = 0
        self._hw = 0
        self._recovery_point = 0
        self._size = 0
        self._epochs: list[tuple[int, int]] = []
        self._latest_epoch = UNDEFINED_EPOCH
        self._producers = ProducerStateManager()

    # -- read-only state -------------------------------------------------------------------
    @property
    def log_start_offset(self) -> int:
        return self._log_start

    @property
    def log_end_offset(self) -> int:
        return self._leo

    @property
    def high_watermark(self) -> int:
        return self._hw

    @property
    def recovery_point(self) -> int:
        """Offsets below it are flushed to disk and survive a power loss."""
        return self._recovery_point

    @property
    def size_bytes(self) -> int:
        return self._size

    @property
    def record_count(self) -> int:
        """Records stored (LEO - log start offset)."""
        return self._leo - self._log_start

    @property
    def segments(self) -> tuple[LogSegment, ...]:
        return tuple(self._segments)

    @property
    def epoch_entries(self) -> list[tuple[int, int]]:
        """Leader-epoch cache: (epoch, start offset), ascending."""
        return list(self._epochs)

    @property
    def latest_epoch(self) -> int:
        return self._latest_epoch

    @property
    def producer_state(self) -> ProducerStateManager:
        return self._producers

    def batches(self) -> Iterator[RecordBatch]:
        """Every stored batch in offset order."""
        for seg in self._segments:
            yield from seg.batches

    def __repr__(self) -> str:
        return (
            f"PartitionLog({self.topic}-{self.partition}, start={self._log_start}, "
            f"hw={self._hw}, leo={self._leo}, segments={len(self._segments)}, "
            f"epochs={self._epochs})"
        )

    # -- appends ---------------------------------------------------------------------------
    def append_as_leader(
        self, batch: RecordBatch, leader_epoch: int, now_ms: float
    ) -> AppendResult:
        """Validate idempotence, assign offsets [LEO, LEO+count), stamp ``leader_epoch``, append."""
        pid = batch.producer_id
        if pid >= 0:
            first_seq = batch.base_sequence
            inc = batch.count - 1
            last_seq = (
                inc - (INT32_MAX - first_seq) - 1
                if first_seq > INT32_MAX - inc
                else first_seq + inc
            )
            verdict = self._producers.check(pid, batch.producer_epoch, first_seq, last_seq)
            if verdict is not SEQUENCE_OK:
                if verdict.kind == "duplicate":
                    return AppendResult("duplicate", None, verdict.base_offset, None)
                return AppendResult("error", None, -1, verdict.error)
        base = self._leo
        if batch.base_offset == base and batch.leader_epoch == leader_epoch:
            stored = batch
        else:
            stored = RecordBatch(
                base,
                batch.count,
                batch.size_bytes,
                leader_epoch,
                pid,
                batch.producer_epoch,
                batch.base_sequence,
                batch.first_timestamp_ms,
                batch.max_timestamp_ms,
                batch.origin,
                batch.origin_seq,
            )
        if leader_epoch != self._latest_epoch:
            self.assign_epoch_start_offset(leader_epoch, base)
        size = stored.size_bytes
        max_ts = stored.max_timestamp_ms
        seg = self._segments[-1]
        seg_size = seg.size_bytes
        if seg_size > 0 and (
            seg_size > self.segment_bytes - size
            or max_ts - seg.rolling_base_timestamp_ms > self.segment_ms
        ):
            seg = self._roll(now_ms)
            seg_size = 0
        # inlined _push (hot path)
        if seg.first_append_ms is None:
            seg.first_append_ms = now_ms
            seg.rolling_base_timestamp_ms = max_ts
        seg.batches.append(stored)
        seg.offsets.append(base)
        seg_size += size
        seg.size_bytes = seg_size
        seg.ends.append(seg_size)
        if max_ts > seg.max_timestamp_ms:
            seg.max_timestamp_ms = max_ts
        self._now_ms = now_ms
        self._leo = base + stored.count
        self._size += size
        if pid >= 0:
            self._producers.update(pid, stored.producer_epoch, first_seq, last_seq, base)
        return AppendResult("appended", stored, base, None)

    def append_as_follower(self, batches: Sequence[RecordBatch], now_ms: float) -> None:
        """Append the leader's batches unchanged; the first must start at our LEO."""
        if not batches:
            return
        expected = self._leo
        total = 0
        max_ts = _NEG_INF
        for b in batches:
            if b.base_offset != expected:
                raise ValueError(
                    f"{self.topic}-{self.partition}: follower append at offset {b.base_offset}, "
                    f"expected {expected}"
                )
            expected = b.base_offset + b.count
            total += b.size_bytes
            if b.max_timestamp_ms > max_ts:
                max_ts = b.max_timestamp_ms
        seg = self._maybe_roll(total, max_ts, now_ms)
        producers = self._producers
        for b in batches:
            if b.leader_epoch != self._latest_epoch:
                self.assign_epoch_start_offset(b.leader_epoch, b.base_offset)
            self._push(seg, b, b.size_bytes, now_ms)
            if b.producer_id >= 0:
                producers.update_from_batch(b)
        self._leo = expected
        self._size += total

    def _push(self, seg: LogSegment, batch: RecordBatch, size: int, now_ms: float) -> None:
        if seg.first_append_ms is None:
            seg.first_append_ms = now_ms
            seg.rolling_base_timestamp_ms = batch.max_timestamp_ms
        seg.batches.append(batch)
        seg.offsets.append(batch.base_offset)
        seg.size_bytes += size
        seg.ends.append(seg.size_bytes)
        if batch.max_timestamp_ms > seg.max_timestamp_ms:
            seg.max_timestamp_ms = batch.max_timestamp_ms
        self._now_ms = now_ms

    def _maybe_roll(self, append_size: int, max_timestamp_ms: float, now_ms: float) -> LogSegment:
        """``UnifiedLog.maybeRoll``: the segment the next append goes to."""
        seg = self._segments[-1]
        if seg.size_bytes > 0 and (
            seg.size_bytes > self.segment_bytes - append_size
            or max_timestamp_ms - seg.rolling_base_timestamp_ms > self.segment_ms
        ):
            return self._roll(now_ms)
        return seg

    def _roll(self, now_ms: float) -> LogSegment:
        """Start a new active segment at the LEO, snapshot producers, flush the rolled segment."""
        leo = self._leo
        active = self._segments[-1]
        if active.base_offset == leo and not active.batches:
            return active  # Kafka replaces an empty active segment by an identical one
        seg = LogSegment(leo, now_ms, self._producers.copy())
        self._segments.append(seg)
        self._bases.append(leo)
        if self._recovery_point < leo:
            self._recovery_point = leo
        return seg

    def roll(self, now_ms: float) -> None:
        """Force a segment roll (``UnifiedLog.roll``)."""
        self._roll(now_ms)

    # -- reads -----------------------------------------------------------------------------
    def read(self, fetch_offset: int, max_bytes: int, max_offset: int) -> list[RecordBatch]:
        """Whole batches of the segment holding ``fetch_offset``, ending at or below ``max_offset``.

        See the module docstring (one segment per read, KIP-74 first batch, OffsetOutOfRange).
        """
        if fetch_offset < self._log_start or fetch_offset > self._leo:
            raise OffsetOutOfRange(fetch_offset, self._log_start, self._leo)
        if fetch_offset >= max_offset or fetch_offset == self._leo:
            return []
        segs = self._segments
        seg = segs[bisect_right(self._bases, fetch_offset) - 1] if len(segs) > 1 else segs[0]
        offsets = seg.offsets
        i = bisect_right(offsets, fetch_offset) - 1
        if i < 0:
            i = 0
        batches = seg.batches
        j = bisect_left(offsets, max_offset, i)
        if j > i and batches[j - 1].base_offset + batches[j - 1].count > max_offset:
            j -= 1
        if j <= i:
            return []
        ends = seg.ends
        limit = (ends[i - 1] if i else 0) + max_bytes
        if ends[j - 1] > limit:
            j = bisect_right(ends, limit, i, j)
            if j == i:
                j = i + 1  # KIP-74: the first batch even if larger than max_bytes
        return batches[i:j]

    # -- high watermark --------------------------------------------------------------------
    def update_high_watermark(self, hw: int) -> int:
        """Set the HW clamped to [log start, LEO]; it may go backwards (the caller decides)."""
        if hw < self._log_start:
            hw = self._log_start
        elif hw > self._leo:
            hw = self._leo
        self._hw = hw
        return hw

    # -- truncation ------------------------------------------------------------------------
    def truncate_to(self, offset: int) -> int:
        """Remove every batch with last offset >= ``offset``; returns the records removed."""
        old_leo = self._leo
        if offset >= old_leo:
            return 0
        segs = self._segments
        if offset < segs[0].base_offset:
            removed = old_leo - self._log_start
            self.truncate_fully_and_start_at(offset)
            return removed
        idx = bisect_right(self._bases, offset) - 1
        if idx + 1 < len(segs):
            del segs[idx + 1 :]
            del self._bases[idx + 1 :]
        seg = segs[idx]
        i = bisect_right(seg.offsets, offset) - 1
        if i < 0:
            i = 0
        elif seg.batches[i].next_offset <= offset:
            i += 1
        seg._truncate_batches(i)
        self._leo = seg.next_offset
        self._size = sum(s.size_bytes for s in segs)
        self._truncate_epochs_from_end(self._leo)
        producers = seg.producer_snapshot.copy()
        producers.replay(seg.batches)
        self._producers = producers
        if self._hw > self._leo:
            self._hw = self._leo
        if self._recovery_point > self._leo:
            self._recovery_point = self._leo
        return old_leo - self._leo

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Delete everything, restart the log empty at ``offset`` (``truncateFullyAndStartAt``)."""
        self._segments = [LogSegment(offset, self._now_ms, ProducerStateManager())]
        self._bases = [offset]
        self._log_start = self._leo = self._hw = self._recovery_point = offset
        self._size = 0
        self._epochs = []
        self._latest_epoch = UNDEFINED_EPOCH
        self._producers = ProducerStateManager()

    # -- leader-epoch cache ----------------------------------------------------------------
    def assign_epoch_start_offset(self, epoch: int, start_offset: int) -> None:
        """``LeaderEpochFileCache.assign``: record that ``epoch`` starts at ``start_offset``."""
        entries = self._epochs
        if entries:
            last_epoch, last_start = entries[-1]
            if last_epoch == epoch and last_start <= start_offset:
                return
            while entries and (entries[-1][0] >= epoch or entries[-1][1] >= start_offset):
                entries.pop()
        entries.append((epoch, start_offset))
        self._latest_epoch = epoch

    def _truncate_epochs_from_end(self, end_offset: int) -> None:
        """``truncateFromEnd``: drop entries starting at or after ``end_offset``."""
        entries = self._epochs
        while entries and entries[-1][1] >= end_offset:
            entries.pop()
        self._latest_epoch = entries[-1][0] if entries else UNDEFINED_EPOCH

    def _truncate_epochs_from_start(self, start_offset: int) -> None:
        """``truncateFromStart``: entries at or before ``start_offset`` merge into one there."""
        entries = self._epochs
        n = 0
        while n < len(entries) and entries[n][1] <= start_offset:
            n += 1
        if n:
            epoch = entries[n - 1][0]
            entries[:n] = [(epoch, start_offset)]

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """KIP-279 ``OffsetsForLeaderEpoch``: (largest epoch <= ``epoch``, its end offset).

        (-1, -1) when undefined (no epochs, or ``epoch`` above all known ones).

        The end offset is the start of the first larger epoch, or the LEO when ``epoch`` is the
        latest. An epoch below every known one answers (epoch, start of the first known epoch).
        """
        entries = self._epochs
        if epoch == UNDEFINED_EPOCH or not entries:
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
        if entries[-1][0] == epoch:
            return (epoch, self._leo)
        hi = bisect_right(entries, (epoch, _MAX_OFFSET))
        if hi == len(entries):
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
        if hi == 0:
            return (epoch, entries[0][1])
        return (entries[hi - 1][0], entries[hi][1])

    # -- retention -------------------------------------------------------------------------
    def delete_old_segments(self, now_ms: float) -> int:
        """Apply retention.bytes then retention.ms; returns the number of records deleted."""
        self._now_ms = max(self._now_ms, now_ms)
        deleted = 0
        retention_bytes = self.retention_bytes
        if retention_bytes >= 0 and self._size >= retention_bytes:
            diff = self._size - retention_bytes
            n = 0
            for seg, _upper in self._deletable_prefix():
                if diff - seg.size_bytes < 0:
                    break
                diff -= seg.size_bytes
                n += 1
            deleted += self._delete_first(n, now_ms)
        retention_ms = self.retention_ms
        if retention_ms >= 0:
            n = 0
            for seg, _upper in self._deletable_prefix():
                if not now_ms - seg.largest_timestamp_ms > retention_ms:
                    break
                n += 1
            deleted += self._delete_first(n, now_ms)
        return deleted

    def _deletable_prefix(self) -> Iterator[tuple[LogSegment, int]]:
        """Segments in order while they end at or below the HW and are not the last empty one."""
        segs = self._segments
        last = len(segs) - 1
        hw = self._hw
        for k, seg in enumerate(segs):
            if k < last:
                upper = segs[k + 1].base_offset
            else:
                if not seg.batches:
                    return
                upper = self._leo
            if hw < upper:
                return
            yield seg, upper

    def _delete_first(self, n: int, now_ms: float) -> int:
        if n <= 0:
            return 0
        if n == len(self._segments):
            self._roll(now_ms)  # always keep one segment: roll an empty one first
        doomed = self._segments[:n]
        del self._segments[:n]
        del self._bases[:n]
        removed = sum(seg.record_count for seg in doomed)
        self._size -= sum(seg.size_bytes for seg in doomed)
        new_start = self._segments[0].base_offset
        if new_start > self._log_start:
            self._log_start = new_start
            if self._hw < new_start:
                self._hw = new_start
            if self._recovery_point < new_start:
                self._recovery_point = new_start
            self._truncate_epochs_from_start(new_start)
        return removed

    # -- durability ------------------------------------------------------------------------
    def flush(self) -> None:
        """fsync everything: the recovery point becomes the LEO."""
        self._recovery_point = self._leo

    def lose_unflushed(self) -> int:
        """Power loss: truncate to the recovery point; returns the number of records lost."""
        return self.truncate_to(self._recovery_point)
