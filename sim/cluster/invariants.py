"""Safety invariants checked while a run goes (``--check-invariants``, on in the test suite).

Kafka's own simulation tests assert the protocol's safety properties at every step rather than
only judging the final history (``RaftEventSimulationTest``: one leader per epoch, monotonic high
watermark, committed data never lost). This module does the same for a kafka-sim run. The
brokers, the KRaft controllers and (soon) the group coordinator call its hooks at their state
changes; each hook is one line at the call site::

    if (inv := self.simenv.invariants) is not None:
        inv.partition_leader(key, epoch, broker_id)

so a run without checking pays one attribute read per state change (measured in
benchmarks/README.md). The first violation raises ``InvariantViolation``: the run stops, the
results folder (if any) records it with status "error", and the CLI exits with code 3 and one
line naming the invariant, the entity and the simulated time.

Invariants (names as they appear in messages; docs/invariants.md explains each):
- ``one-leader-per-epoch``: at most one broker becomes leader of a partition in a leader epoch
  (the controller bumps the epoch at every leader change; KIP-101/279).
- ``hw-monotonic-on-leader``: while a broker leads a partition (from becoming leader, in one
  leader epoch), its high watermark never goes down.
- ``hw-below-leo``: no replica's high watermark is above its log end offset.
- ``isr-contains-leader``: a leader's ISR contains the leader itself.
- ``raft-election-safety``: at most one KRaft controller is Raft leader in an epoch (term).
- ``raft-log-matching``: two controllers' ``__cluster_metadata`` entries at the same offset and
  epoch are the same record.
- ``raft-committed-never-lost``: an entry below a leader's high watermark is never replaced or
  removed, and every new leader's log holds every committed entry.
- ``group-generation-monotonic``: a consumer group's generation never goes down (the hook
  ``group_generation`` is for the group coordinator).

Simplifications: the Raft checks observe a controller's log after each message it handles (an
incremental check: only entries appended since the last look, all of them after a truncation);
identity of entries is by epoch and record equality.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

__all__ = ["INVARIANTS", "InvariantViolation", "Invariants"]

INVARIANTS: tuple[str, ...] = (
    "one-leader-per-epoch",
    "hw-monotonic-on-leader",
    "hw-below-leo",
    "isr-contains-leader",
    "raft-election-safety",
    "raft-log-matching",
    "raft-committed-never-lost",
    "group-generation-monotonic",
)

TopicPartition = tuple[str, int]


class InvariantViolation(Exception):
    """A safety invariant failed during the run: a simulator bug (exit code 3)."""

    def __init__(self, invariant: str, entity: str, time_ms: float, detail: str) -> None:
        self.invariant = invariant
        self.entity = entity
        self.time_ms = time_ms
        self.detail = detail
        super().__init__(
            f"invariant {invariant} violated by {entity} at {time_ms:.3f} ms: {detail}"
        )


class _RaftEntry(Protocol):
    epoch: int
    payload: Any


class _RaftView(Protocol):
    """What the checker reads of a ``sim.kafka.raft.RaftNode``."""

    epoch: int
    high_watermark: int
    log: Sequence[Any]

    @property
    def is_leader(self) -> bool: ...


def _same(a: _RaftEntry, b: _RaftEntry) -> bool:
    return a is b or (a.epoch == b.epoch and (a.payload is b.payload or a.payload == b.payload))


class Invariants:
    """The checker of one run; ``clock()`` gives the simulated time (ms) for messages."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._leaders: dict[tuple[TopicPartition, int], int] = {}
        self._leader_hw: dict[tuple[TopicPartition, int], tuple[int, int]] = {}
        self._raft_leaders: dict[int, int] = {}
        self._committed: list[Any] = []  # the longest committed __cluster_metadata prefix seen
        self._raft_seen: dict[int, tuple[int, Any]] = {}  # node -> (log length, last entry)
        self._raft_entries: dict[tuple[int, int], Any] = {}  # (offset, epoch) -> entry
        self._generations: dict[str, int] = {}
        self.checks = 0

    def _fail(self, invariant: str, entity: str, detail: str) -> None:
        raise InvariantViolation(invariant, entity, self._clock(), detail)

    # -- partitions (brokers) ---------------------------------------------------------------
    def partition_leader(self, key: TopicPartition, leader_epoch: int, broker_id: int) -> None:
        """``broker_id`` became leader of ``key`` in ``leader_epoch`` (a new tenure: a broker
        restarted with a shorter log may lead the same epoch again, with a lower HW)."""
        self.checks += 1
        self._leader_hw.pop((key, broker_id), None)
        other = self._leaders.setdefault((key, leader_epoch), broker_id)
        if other != broker_id:
            self._fail(
                "one-leader-per-epoch",
                f"{key[0]}-{key[1]}",
                f"broker {broker_id} became leader in epoch {leader_epoch}, "
                f"which broker {other} already led",
            )

    def high_watermark(
        self,
        key: TopicPartition,
        broker_id: int,
        is_leader: bool,
        leader_epoch: int,
        high_watermark: int,
        log_end_offset: int,
    ) -> None:
        """A replica's high watermark changed (or may have)."""
        self.checks += 1
        if high_watermark > log_end_offset:
            self._fail(
                "hw-below-leo",
                f"{key[0]}-{key[1]}@broker-{broker_id}",
                f"high watermark {high_watermark} > log end offset {log_end_offset}",
            )
        if not is_leader:
            return
        last = self._leader_hw.get((key, broker_id))
        if last is not None and last[0] == leader_epoch and high_watermark < last[1]:
            self._fail(
                "hw-monotonic-on-leader",
                f"{key[0]}-{key[1]}@broker-{broker_id}",
                f"high watermark went down from {last[1]} to {high_watermark} "
                f"in leader epoch {leader_epoch}",
            )
        self._leader_hw[(key, broker_id)] = (leader_epoch, high_watermark)

    def leader_isr(self, key: TopicPartition, broker_id: int, isr: Sequence[int]) -> None:
        """The ISR a leader holds for ``key``."""
        self.checks += 1
        if broker_id not in isr:
            self._fail(
                "isr-contains-leader",
                f"{key[0]}-{key[1]}@broker-{broker_id}",
                f"leader {broker_id} is not in its ISR {list(isr)}",
            )

    # -- KRaft metadata quorum (controllers) -------------------------------------------------
    def raft_state(self, node_id: int, raft: _RaftView) -> None:
        """Look at a controller's Raft state after it handled a message or a timer."""
        self.checks += 1
        entity = f"controller-{node_id}"
        if raft.is_leader:
            other = self._raft_leaders.setdefault(raft.epoch, node_id)
            if other != node_id:
                self._fail(
                    "raft-election-safety",
                    entity,
                    f"Raft leader in epoch {raft.epoch}, which controller-{other} already led",
                )
        log = raft.log
        seen_len, seen_last = self._raft_seen.get(node_id, (0, None))
        start = seen_len
        if seen_len > len(log) or (seen_len and log[seen_len - 1] is not seen_last):
            start = 0  # truncated (and maybe rewritten) since the last look: check it all
        committed = self._committed
        for offset in range(start, len(log)):
            entry = log[offset]
            known = self._raft_entries.setdefault((offset, entry.epoch), entry)
            if not _same(known, entry):
                self._fail(
                    "raft-log-matching",
                    entity,
                    f"entry at offset {offset} epoch {entry.epoch} differs from another "
                    "controller's entry at the same offset and epoch",
                )
            if offset < len(committed) and not _same(committed[offset], entry):
                self._fail(
                    "raft-committed-never-lost",
                    entity,
                    f"committed entry at offset {offset} (epoch {committed[offset].epoch}) "
                    f"replaced by one of epoch {entry.epoch}",
                )
        if raft.is_leader and len(log) < len(committed):
            self._fail(
                "raft-committed-never-lost",
                entity,
                f"leader of epoch {raft.epoch} has {len(log)} entries, "
                f"{len(committed)} were committed",
            )
        if raft.is_leader and raft.high_watermark > len(committed):
            committed.extend(log[len(committed) : raft.high_watermark])
        self._raft_seen[node_id] = (len(log), log[-1] if log else None)

    # -- consumer groups (the group coordinator) --------------------------------------------
    def group_generation(self, group: str, generation: int) -> None:
        """The coordinator moved ``group`` to ``generation`` (generation ids never go down)."""
        self.checks += 1
        last = self._generations.get(group, -1)
        if generation < last:
            self._fail(
                "group-generation-monotonic",
                f"group {group}",
                f"generation went down from {last} to {generation}",
            )
        self._generations[group] = generation
