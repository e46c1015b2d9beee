"""Shared types of the assignors and the Java orderings Kafka's assignors decide by.

Kafka's assignors are Java code, and where two answers are equally good they pick by an order
that Java defines: ``String.compareTo`` (UTF-16 code units) in sorted structures, and the
iteration order of a ``java.util.HashMap``/``HashSet`` where they loop over one. Both are pure
functions of the keys, so they are reproduced here exactly instead of being replaced by Python's
``str`` order or by Python's (salted) ``hash``:

- ``java_order(s)`` is a sort key equal to ``String.compareTo``.
- ``java_hash_map_order(keys)`` is the iteration order of a ``new HashMap<>()`` after ``put``-ing
  the keys in the given order: entries are visited by bucket index
  ``(h ^ (h >>> 16)) & (capacity - 1)`` with ``h = key.hashCode()``, entries of one bucket in
  insertion order; the table starts at 16 buckets and doubles whenever ``size > 0.75 *
  capacity``. (A bucket holding 8 or more colliding keys in a table of 64+ buckets becomes a red-
  black tree in Java; not modelled, it needs dozens of members whose hashes collide.)
- ``hash_order(items, hashcode, capacity)`` is the same for any keys (topic UUIDs, partition
  numbers), with the table sizes of ``new HashSet<>(collection)`` (``copied_set_capacity``) and
  of a set grown by insertions (``grown_capacity``).
- ``JavaHashSet`` keeps that order for a ``new HashSet<>()`` that grows and shrinks, for the
  place where Kafka takes ``set.iterator().next()`` (the sticky assignors' partition movements).

Kafka sources: ``java.util.HashMap`` (``hash``, ``putVal``, ``resize``),
``org.apache.kafka.common.TopicPartition.hashCode``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sim.kafka.partitioner import java_string_hashcode

K = TypeVar("K", bound=Hashable)

TopicPartition = tuple[str, int]
Assignment = dict[str, list[TopicPartition]]

# ConsumerPartitionAssignor.DEFAULT_GENERATION / AbstractStickyAssignor.DEFAULT_GENERATION
DEFAULT_GENERATION = -1

_MASK32 = 0xFFFFFFFF
_HASH_MAP_INITIAL_CAPACITY = 16  # HashMap.DEFAULT_INITIAL_CAPACITY


@dataclass(frozen=True)
class Subscription:
    """One member's JoinGroup metadata (``ConsumerProtocolSubscription``) as the leader sees it.

    ``owned_partitions`` are the partitions the member owns when it joins (cooperative protocol:
    the field of the subscription; for the eager ``StickyAssignor`` pass the member's previous
    assignment, which Kafka carries in that assignor's user data because an eager member has
    revoked everything before it joins). ``generation`` is the generation those partitions were
    assigned in (``-1``: none), used by the sticky assignors to settle conflicting claims.
    """

    member_id: str
    topics: tuple[str, ...]
    owned_partitions: tuple[TopicPartition, ...] = ()
    generation: int = DEFAULT_GENERATION
    group_instance_id: str | None = None


@dataclass(frozen=True)
class MemberSpec:
    """One member of a KIP-848 group as the server-side assignor sees it (``GroupSpec``).

    ``current`` is the member's current *target* assignment (what the previous assignment run
    gave it), the basis of stickiness. It is read topic by topic in the order topics first
    appear in it, partitions of a topic in ascending order (see ``uniform`` for why the order
    matters); pass it sorted for the default.
    """

    member_id: str
    topics: tuple[str, ...]
    current: tuple[TopicPartition, ...] = ()
    instance_id: str | None = None


def java_order(s: str) -> bytes:
    """Sort key equal to Java ``String.compareTo`` order (UTF-16 code units)."""
    return s.encode("utf-16-be")


def java_sorted(strings: Iterable[str]) -> list[str]:
    return sorted(strings, key=java_order)


def tp_order(tp: TopicPartition) -> tuple[bytes, int]:
    """``TopicPartitionComparator``: topic (Java order), then partition number."""
    return java_order(tp[0]), tp[1]


def sorted_partitions(tps: Iterable[TopicPartition]) -> list[TopicPartition]:
    return sorted(tps, key=tp_order)


def signed32(value: int) -> int:
    """Two's-complement 32-bit value, like a Java ``int`` after overflow."""
    value &= _MASK32
    return value - (1 << 32) if value & 0x80000000 else value


def topic_partition_hashcode(tp: TopicPartition) -> int:
    """``TopicPartition.hashCode``: ``31 * (31 + partition) + topic.hashCode()`` in 32 bits."""
    return signed32(31 * (31 + tp[1]) + java_string_hashcode(tp[0]))


def _bucket(hashcode: int, capacity: int) -> int:
    """``HashMap.hash`` spread (``h ^ (h >>> 16)``) masked to a table of ``capacity`` buckets."""
    h = hashcode & _MASK32
    return (h ^ (h >> 16)) & (capacity - 1)


def _grown_capacity(capacity: int, size: int) -> int:
    """Table size after ``size`` entries: ``resize()`` doubles it when ``size > 0.75 * cap``."""
    while size * 4 > capacity * 3:
        capacity *= 2
    return capacity


def table_size_for(capacity: int) -> int:
    """``HashMap.tableSizeFor``: the power of two at or above ``capacity`` (at least 1)."""
    size = 1
    while size < capacity:
        size *= 2
    return size


def copied_set_capacity(size: int) -> int:
    """Table size of ``new HashSet<>(collection)`` of ``size`` elements:
    ``new HashMap<>(Math.max((int) (size / .75f) + 1, 16))``."""
    return table_size_for(max(int(size / 0.75) + 1, 16))


def grown_capacity(size: int) -> int:
    """Table size of a ``new HashMap<>()``/``new HashSet<>()`` after ``size`` insertions."""
    return _grown_capacity(_HASH_MAP_INITIAL_CAPACITY, size)


def hash_order(items: Sequence[K], hashcode: Callable[[K], int], capacity: int) -> list[K]:
    """Iteration order of a Java hash table of ``capacity`` buckets filled with ``items`` in the
    given order: by bucket, a bucket's entries in insertion order (a repeated item keeps its
    first position)."""
    position: dict[K, int] = {}
    for item in items:
        position.setdefault(item, len(position))
    return sorted(position, key=lambda k: (_bucket(hashcode(k), capacity), position[k]))


def java_hash_map_order(keys: Sequence[str]) -> list[str]:
    """Iteration order of ``new HashMap<String, V>()`` filled by ``put`` in ``keys`` order."""
    return hash_order(keys, java_string_hashcode, grown_capacity(len(set(keys))))


class JavaHashSet(Generic[K]):
    """A ``new HashSet<>()`` that remembers enough to answer ``iterator().next()`` like Java.

    Java visits buckets in index order and a bucket's entries in the order they were added
    (``putVal`` appends to the chain, ``resize`` splits chains keeping their order, ``remove``
    unlinks). The table never shrinks, so the capacity depends on the largest size reached.
    """

    __slots__ = ("_capacity", "_hashcode", "_next_seq", "_seq")

    def __init__(self, hashcode: Callable[[K], int]) -> None:
        self._hashcode = hashcode
        self._seq: dict[K, int] = {}
        self._next_seq = 0
        self._capacity = _HASH_MAP_INITIAL_CAPACITY

    def add(self, item: K) -> None:
        if item in self._seq:
            return
        self._seq[item] = self._next_seq
        self._next_seq += 1
        self._capacity = _grown_capacity(self._capacity, len(self._seq))

    def discard(self, item: K) -> None:
        self._seq.pop(item, None)

    def __len__(self) -> int:
        return len(self._seq)

    def __contains__(self, item: object) -> bool:
        return item in self._seq

    def first(self) -> K:
        """``iterator().next()``."""
        return min(
            self._seq,
            key=lambda k: (_bucket(self._hashcode(k), self._capacity), self._seq[k]),
        )
