"""Idempotent producer state of one partition replica (KIP-98, Kafka 0.11; default on since 3.0).

Kafka concept
    An idempotent producer gets a (producerId, producerEpoch) from ``InitProducerId`` and stamps
    every batch with them and a ``baseSequence``. Sequences count per partition from 0 and advance
    by the number of records in the batch, wrapping from ``Integer.MAX_VALUE`` to 0. Each replica
    keeps, per producer id, the epoch, the last sequence and the metadata of the last
    ``NUM_BATCHES_TO_RETAIN = 5`` batches (``ProducerStateEntry``), which is why the producer
    allows at most 5 in-flight requests per connection with idempotence.

Rules enforced on a leader append (``UnifiedLog.analyzeAndValidateProducerState``,
``ProducerAppendInfo.checkProducerEpoch`` and ``checkSequence``, Kafka 3.9), in this order:

1. Duplicate: same epoch and same (first sequence, last sequence) as one of the 5 retained
   batches -> nothing is appended and the *original* base offset is returned.
2. Unknown producer id: any sequence is accepted (there is no ``UNKNOWN_PRODUCER_ID`` since
   KIP-360, 2.5).
3. Epoch older than the stored one -> ``INVALID_PRODUCER_EPOCH`` (KIP-588).
4. New (larger) epoch: the batch must start at sequence 0, unless the entry had no epoch.
5. Same epoch: first sequence must be last sequence + 1 (int32 wrap), else
   ``OUT_OF_ORDER_SEQUENCE_NUMBER``. A retry of a batch older than the last 5 therefore gets
   ``OUT_OF_ORDER_SEQUENCE_NUMBER`` from a 3.9 broker.

Follower appends and log recovery call :meth:`ProducerStateManager.update` without any
validation (``AppendOrigin.REPLICATION``): a batch with a new epoch clears the retained batch
metadata (``ProducerStateEntry.maybeUpdateProducerEpoch``).

Simplifications: no transactions (no ``currentTxnFirstOffset``, no markers, no verification
state), no ``producer.id.expiration.ms`` expiry, no snapshot files:
:class:`sim.kafka.log.PartitionLog` keeps an in-memory copy per segment (taken on roll, like
``ProducerStateManager.takeSnapshot``) and replays batches from it after a truncation.

Kafka sources:
``storage/src/main/java/org/apache/kafka/storage/internals/log/ProducerStateManager.java``,
``ProducerAppendInfo.java``, ``ProducerStateEntry.java``, ``BatchMetadata.java``,
``clients/.../common/record/DefaultRecordBatch.java`` (``incrementSequence``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

NUM_BATCHES_TO_RETAIN = 5
NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
NO_SEQUENCE = -1
INT32_MAX = 0x7FFFFFFF

OUT_OF_ORDER_SEQUENCE_NUMBER = "OUT_OF_ORDER_SEQUENCE_NUMBER"
INVALID_PRODUCER_EPOCH = "INVALID_PRODUCER_EPOCH"


def increment_sequence(sequence: int, increment: int) -> int:
    """``DefaultRecordBatch.incrementSequence``: add with wrap from int32 max to 0."""
    if sequence > INT32_MAX - increment:
        return increment - (INT32_MAX - sequence) - 1
    return sequence + increment


def last_sequence(base_sequence: int, count: int) -> int:
    """Sequence of the last record of a batch (``DefaultRecordBatch.lastSequence``)."""
    if base_sequence == NO_SEQUENCE:
        return NO_SEQUENCE
    return increment_sequence(base_sequence, count - 1)


def in_sequence(last_seq: int, next_seq: int) -> bool:
    """``ProducerAppendInfo.inSequence``: next == last + 1, or a wrap from int32 max to 0."""
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == INT32_MAX)


class BatchMetadata(NamedTuple):
    """What a replica remembers of one of a producer's last batches (``BatchMetadata``)."""

    first_seq: int
    last_seq: int
    base_offset: int


@dataclass(frozen=True, slots=True)
class SequenceCheck:
    """Verdict of :meth:`ProducerStateManager.check`.

    kind: ``'ok'`` (append it), ``'duplicate'`` (``base_offset`` is the original one) or ``'error'``
    (``error`` is the Kafka error name).
    """

    kind: Literal["ok", "duplicate", "error"]
    base_offset: int = -1
    error: str | None = None


SEQUENCE_OK = SequenceCheck("ok")
_OUT_OF_ORDER = SequenceCheck("error", -1, OUT_OF_ORDER_SEQUENCE_NUMBER)
_INVALID_EPOCH = SequenceCheck("error", -1, INVALID_PRODUCER_EPOCH)


class ProducerBatchLike(Protocol):
    """The batch fields the producer state reads (``sim.kafka.log.RecordBatch`` fits)."""

    @property
    def base_offset(self) -> int: ...
    @property
    def count(self) -> int: ...
    @property
    def producer_id(self) -> int: ...
    @property
    def producer_epoch(self) -> int: ...
    @property
    def base_sequence(self) -> int: ...


class ProducerStateEntry:
    """State of one producer id on one partition (``ProducerStateEntry``)."""

    __slots__ = ("batches", "producer_epoch", "producer_id")

    def __init__(self, producer_id: int, producer_epoch: int = NO_PRODUCER_EPOCH) -> None:
        self.producer_id = producer_id
        self.producer_epoch = producer_epoch
        self.batches: deque[BatchMetadata] = deque(maxlen=NUM_BATCHES_TO_RETAIN)

    @property
    def last_seq(self) -> int:
        """Last sequence appended in the current epoch, ``NO_SEQUENCE`` when none."""
        return self.batches[-1].last_seq if self.batches else NO_SEQUENCE

    @property
    def first_seq(self) -> int:
        """First sequence of the oldest retained batch, ``NO_SEQUENCE`` when none."""
        return self.batches[0].first_seq if self.batches else NO_SEQUENCE

    def find_duplicate(
        self, producer_epoch: int, first_seq: int, last_seq: int
    ) -> BatchMetadata | None:
        """The retained batch with this epoch and sequence range (``findDuplicateBatch``)."""
        if producer_epoch != self.producer_epoch:
            return None
        for meta in self.batches:
            if meta.first_seq == first_seq and meta.last_seq == last_seq:
                return meta
        return None

    def add_batch(
        self, producer_epoch: int, first_seq: int, last_seq: int, base_offset: int
    ) -> None:
        """Remember a batch; a new epoch first forgets the old epoch's batches."""
        if producer_epoch != self.producer_epoch:
            self.batches.clear()
            self.producer_epoch = producer_epoch
        self.batches.append(BatchMetadata(first_seq, last_seq, base_offset))

    def copy(self) -> ProducerStateEntry:
        other = ProducerStateEntry(self.producer_id, self.producer_epoch)
        other.batches.extend(self.batches)  # BatchMetadata is immutable: sharing is safe
        return other

    def __repr__(self) -> str:
        return (
            f"ProducerStateEntry(pid={self.producer_id}, epoch={self.producer_epoch}, "
            f"batches={list(self.batches)})"
        )


class ProducerStateManager:
    """Per-partition map producer id -> :class:`ProducerStateEntry` (``ProducerStateManager``)."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[int, ProducerStateEntry] = {}

    # -- queries ---------------------------------------------------------------------------
    def entry(self, producer_id: int) -> ProducerStateEntry | None:
        return self._entries.get(producer_id)

    def producer_ids(self) -> list[int]:
        """Known producer ids, sorted."""
        return sorted(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[ProducerStateEntry]:
        return iter([self._entries[pid] for pid in sorted(self._entries)])

    # -- leader validation -----------------------------------------------------------------
    def check(
        self, producer_id: int, producer_epoch: int, first_seq: int, last_seq: int
    ) -> SequenceCheck:
        """Validate a client batch on the leader; does not change any state.

        Returns :data:`SEQUENCE_OK`, a duplicate verdict with the original base offset (-1 when
        the batch is older than the retained ones: DUPLICATE_SEQUENCE_NUMBER), or an error
        verdict (``INVALID_PRODUCER_EPOCH`` / ``OUT_OF_ORDER_SEQUENCE_NUMBER``).
        """
        entry = self._entries.get(producer_id)
        if entry is None:
            return SEQUENCE_OK
        current_epoch = entry.producer_epoch
        if producer_epoch == current_epoch:
            for meta in entry.batches:
                if meta.first_seq == first_seq and meta.last_seq == last_seq:
                    return SequenceCheck("duplicate", meta.base_offset, None)
        if producer_epoch < current_epoch:
            return _INVALID_EPOCH
        if producer_epoch != current_epoch:
            if first_seq != 0 and current_epoch != NO_PRODUCER_EPOCH:
                return _OUT_OF_ORDER
        elif current_epoch != NO_PRODUCER_EPOCH and not in_sequence(entry.last_seq, first_seq):
            if entry.last_seq != NO_SEQUENCE and last_seq <= entry.last_seq:
                # Entirely at or before what this producer already wrote, but older than the
                # retained batches: DUPLICATE_SEQUENCE_NUMBER, which the client takes as success
                # without an offset (kafka-semantics §5.4.3). Answering out-of-order instead
                # would make the producer bump its epoch and write the records again.
                return SequenceCheck("duplicate", -1, None)
            return _OUT_OF_ORDER
        return SEQUENCE_OK

    # -- state changes ---------------------------------------------------------------------
    def update(
        self, producer_id: int, producer_epoch: int, first_seq: int, last_seq: int, base_offset: int
    ) -> None:
        """Record an appended batch (leader after :meth:`check`, follower and replay unchecked)."""
        entry = self._entries.get(producer_id)
        if entry is None:
            entry = self._entries[producer_id] = ProducerStateEntry(producer_id)
        entry.add_batch(producer_epoch, first_seq, last_seq, base_offset)

    def update_from_batch(self, batch: ProducerBatchLike) -> None:
        """:meth:`update` from a stored batch; batches without a producer id are ignored."""
        if batch.producer_id < 0:
            return
        first = batch.base_sequence
        self.update(
            batch.producer_id,
            batch.producer_epoch,
            first,
            last_sequence(first, batch.count),
            batch.base_offset,
        )

    def replay(self, batches: Iterable[ProducerBatchLike]) -> None:
        """Replay log batches in offset order (``UnifiedLog.rebuildProducerState``)."""
        for batch in batches:
            if batch.producer_id >= 0:
                self.update_from_batch(batch)

    def clear(self) -> None:
        """Forget every producer (``truncateFullyAndStartAt``)."""
        self._entries.clear()

    def copy(self) -> ProducerStateManager:
        """An independent snapshot (``takeSnapshot``)."""
        other = ProducerStateManager()
        other._entries = {pid: entry.copy() for pid, entry in self._entries.items()}
        return other

    def __repr__(self) -> str:
        return f"ProducerStateManager({[self._entries[p] for p in sorted(self._entries)]})"
