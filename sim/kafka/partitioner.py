"""Producer partition choice and the ``__consumer_offsets`` partition of a group.

Kafka concept (``KafkaProducer.partition``, ``BuiltInPartitioner``, Kafka 3.9)
    - A record with a key (and ``partitioner.ignore.keys=false``) goes to
      ``toPositive(murmur2(serializedKey)) % numPartitions``, where ``numPartitions`` counts *all*
      partitions, leaderless ones included. ``murmur2`` is MurmurHash2, 32 bit, seed
      ``0x9747b28c`` (``Utils.murmur2``); ``toPositive(x) = x & 0x7fffffff`` (not ``abs``).
      The simulator's keys are the UTF-8 strings ``key-<i>`` (StringSerializer);
      :class:`KeyPartitionTable` hashes them all once, vectorised with numpy.
    - A null key uses the 3.3+ sticky partitioner (KIP-794): pick a random partition among those
      with a leader (or, with adaptive partitioning, weighted by ``max queue + 1 - queue size``),
      keep it until at least ``batch.size`` bytes were produced to it, then pick again (the same
      partition may be picked again). :class:`StickyPartitioner` works on chunks of equal-size
      records so the producer does not call it per record.
    - The group coordinator of a group is the leader of ``__consumer_offsets`` partition
      ``Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions`` (50), where
      ``Utils.abs(Integer.MIN_VALUE) == 0`` (``GroupCoordinator.partitionFor``).

Simplifications
    The sticky partitioner switches as soon as ``batch.size`` bytes were produced (Kafka
    additionally waits until the batch is ready, at most up to 2 × ``batch.size``), and draws the
    next partition lazily when the next record arrives. No custom ``partitioner.class``; the
    KIP-480 (2.4–3.2) sticky partitioner is not modelled.

Kafka sources: ``clients/src/main/java/org/apache/kafka/common/utils/Utils.java`` (murmur2,
toPositive, abs), ``clients/.../producer/internals/BuiltInPartitioner.java``,
``clients/.../producer/KafkaProducer.java``, KIP-794.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

_MASK = 0xFFFFFFFF
_M = 0x5BD1E995
_R = 24
_SEED = 0x9747B28C
_KEY_PREFIX = b"key-"


def _signed32(x: int) -> int:
    return x - 0x100000000 if x & 0x80000000 else x


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2``: MurmurHash2 of ``data`` as a signed 32-bit Java int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    n4 = length >> 2
    if n4:
        for k in struct.unpack_from(f"<{n4}I", data):
            k = (k * _M) & _MASK
            k ^= k >> _R
            k = (k * _M) & _MASK
            h = ((h * _M) & _MASK) ^ k
    tail = length & ~3
    extra = length & 3
    if extra == 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return _signed32(h)


def to_positive(x: int) -> int:
    """``Utils.toPositive``: clear the sign bit (``x & 0x7fffffff``); not ``abs``."""
    return x & 0x7FFFFFFF


def kafka_partition(key: bytes, num_partitions: int) -> int:
    """The default partition of a non-null serialized key."""
    return to_positive(murmur2(key)) % num_partitions


def murmur2_rows(rows: npt.NDArray[np.uint8]) -> npt.NDArray[np.int32]:
    """murmur2 of every row of an (n, length) uint8 array of equal-length keys (vectorised)."""
    n, length = rows.shape
    m = np.uint32(_M)
    h = np.full(n, (_SEED ^ length) & _MASK, dtype=np.uint32)
    for i in range(length >> 2):
        k = (
            np.ascontiguousarray(rows[:, 4 * i : 4 * i + 4])
            .view("<u4")
            .reshape(n)
            .astype(np.uint32)
        )
        k *= m
        k ^= k >> np.uint32(_R)
        k *= m
        h *= m
        h ^= k
    tail = length & ~3
    extra = length & 3
    if extra == 3:
        h ^= rows[:, tail + 2].astype(np.uint32) << np.uint32(16)
    if extra >= 2:
        h ^= rows[:, tail + 1].astype(np.uint32) << np.uint32(8)
    if extra >= 1:
        h ^= rows[:, tail].astype(np.uint32)
        h *= m
    h ^= h >> np.uint32(13)
    h *= m
    h ^= h >> np.uint32(15)
    return h.view(np.int32)


def key_bytes(index: int) -> bytes:
    """The serialized key of key index ``index``: UTF-8 ``key-<index>``."""
    return b"key-%d" % index


def _key_rows(indices: npt.NDArray[np.int64], digits: int) -> npt.NDArray[np.uint8]:
    """UTF-8 bytes of ``key-<i>`` for indices that all have ``digits`` decimal digits."""
    rows = np.empty((len(indices), len(_KEY_PREFIX) + digits), dtype=np.uint8)
    rows[:, : len(_KEY_PREFIX)] = np.frombuffer(_KEY_PREFIX, dtype=np.uint8)
    rest = indices.copy()
    for col in range(len(_KEY_PREFIX) + digits - 1, len(_KEY_PREFIX) - 1, -1):
        rows[:, col] = (rest % 10 + 48).astype(np.uint8)
        rest //= 10
    return rows


def key_hashes(key_count: int) -> npt.NDArray[np.int32]:
    """murmur2 of ``key-0`` .. ``key-<key_count-1>``, vectorised per digit count."""
    out = np.empty(key_count, dtype=np.int32)
    lo = 0
    digits = 1
    while lo < key_count:
        hi = min(key_count, 10**digits)
        idx = np.arange(lo, hi, dtype=np.int64)
        out[lo:hi] = murmur2_rows(_key_rows(idx, digits))
        lo = hi
        digits += 1
    return out


class KeyPartitionTable:
    """Partition of every workload key ``key-<i>``, i < ``key_count``, computed once.

    ``partitions[i]`` is ``toPositive(murmur2(b"key-<i>")) % num_partitions`` (int64 array).
    """

    __slots__ = ("key_count", "num_partitions", "partitions")

    def __init__(self, key_count: int, num_partitions: int) -> None:
        if num_partitions < 1:
            raise ValueError("num_partitions must be >= 1")
        self.key_count = key_count
        self.num_partitions = num_partitions
        hashes = key_hashes(key_count).astype(np.int64)
        self.partitions: npt.NDArray[np.int64] = (hashes & 0x7FFFFFFF) % num_partitions

    def partition(self, key_index: int) -> int:
        return int(self.partitions[key_index])

    def __len__(self) -> int:
        return self.key_count


@lru_cache(maxsize=16)
def _table(capacity: int, num_partitions: int) -> KeyPartitionTable:
    return KeyPartitionTable(capacity, num_partitions)


def partition_for_keys(
    keys: Sequence[bytes] | npt.NDArray[np.integer], num_partitions: int
) -> npt.NDArray[np.int64]:
    """Partitions for many keys: serialized keys (bytes), or an integer array of key indices.

    Key indices stand for ``key-<i>`` and are looked up in a cached :class:`KeyPartitionTable`
    (capacity rounded up to a power of two so repeated calls share the table).
    """
    if isinstance(keys, np.ndarray) and np.issubdtype(keys.dtype, np.integer):
        if keys.size == 0:
            return np.empty(0, dtype=np.int64)
        needed = int(keys.max()) + 1
        capacity = 1 << max(needed - 1, 1).bit_length()
        return _table(capacity, num_partitions).partitions[keys]
    return np.fromiter(
        (kafka_partition(bytes(k), num_partitions) for k in keys), dtype=np.int64, count=len(keys)
    )


def adaptive_weights(queue_sizes: Sequence[int]) -> list[int]:
    """KIP-794 adaptive weights from per-partition queue sizes: ``max + 1 - size``."""
    if not queue_sizes:
        return []
    top = max(queue_sizes) + 1
    return [top - q for q in queue_sizes]


class StickyPartitioner:
    """KIP-794 ``BuiltInPartitioner`` for records without a key (one per producer and topic)."""

    __slots__ = ("_rng", "batch_size", "current", "num_partitions", "produced_bytes")

    def __init__(self, num_partitions: int, batch_size: int, rng: np.random.Generator) -> None:
        self.num_partitions = num_partitions
        self.batch_size = max(1, batch_size)
        self._rng = rng
        self.current = -1  # sticky partition, -1 = pick one at the next record
        self.produced_bytes = 0

    def _next_partition(
        self,
        available: Sequence[int] | npt.NDArray[np.integer] | None,
        weights: Sequence[float] | None,
    ) -> int:
        rng = self._rng
        if available is None or len(available) == 0:
            return int(rng.integers(self.num_partitions))
        if weights is not None:
            cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
            total = float(cumulative[-1])
            if total > 0:
                r = rng.random() * total
                i = int(np.searchsorted(cumulative, r, side="right"))
                return int(available[min(i, len(available) - 1)])
        return int(available[int(rng.integers(len(available)))])

    def partition_chunks(
        self,
        count: int,
        record_size: int,
        available: Sequence[int] | npt.NDArray[np.integer] | None = None,
        weights: Sequence[float] | None = None,
    ) -> list[tuple[int, int]]:
        """Partitions for ``count`` records of ``record_size`` bytes arriving now.

        Returns ``[(partition, n_records), ...]`` in arrival order. ``available`` lists the
        partitions with a leader (None or empty: all partitions); ``weights`` (aligned with
        ``available``) switches on adaptive partitioning, see :func:`adaptive_weights`.
        """
        chunks: list[tuple[int, int]] = []
        remaining = count
        batch_size = self.batch_size
        while remaining > 0:
            if self.current < 0:
                self.current = self._next_partition(available, weights)
                self.produced_bytes = 0
            need = batch_size - self.produced_bytes
            n = -(-need // record_size) if record_size > 0 else remaining
            n = min(max(n, 1), remaining)
            if chunks and chunks[-1][0] == self.current:
                chunks[-1] = (self.current, chunks[-1][1] + n)
            else:
                chunks.append((self.current, n))
            self.produced_bytes += n * record_size
            remaining -= n
            if self.produced_bytes >= batch_size:
                self.current = -1
        return chunks

    def partition(
        self,
        record_size: int,
        available: Sequence[int] | npt.NDArray[np.integer] | None = None,
        weights: Sequence[float] | None = None,
    ) -> int:
        """Partition of a single record (``partition_chunks`` for one record)."""
        return self.partition_chunks(1, record_size, available, weights)[0][0]


def java_string_hashcode(s: str) -> int:
    """Java ``String.hashCode`` (over UTF-16 code units) as a signed 32-bit int."""
    data = s.encode("utf-16-be")
    h = 0
    for (unit,) in struct.iter_unpack(">H", data):
        h = (31 * h + unit) & _MASK
    return _signed32(h)


def consumer_offsets_partition(group_id: str, num_partitions: int = 50) -> int:
    """``__consumer_offsets`` partition of a group: ``Utils.abs(groupId.hashCode) % n``."""
    h = java_string_hashcode(group_id)
    return (0 if h == -0x80000000 else abs(h)) % num_partitions
