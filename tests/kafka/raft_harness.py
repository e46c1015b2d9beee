"""A pure discrete-event harness for :mod:`sim.kafka.raft` (no simpy): network, nemesis, checker.

Like Kafka's ``RaftEventSimulationTest``: N voters (and optional observers) exchange messages over
a network with random per-message delays (FIFO per link, as over TCP), optional random drops and
partitions (blocked links drop messages at send and at delivery); nodes crash (messages to them
are lost) and restart with their fsync'd state (:meth:`RaftNode.restart`). Every event (a message
delivered or a node polled at its deadline) is followed by the invariant checks of the contract:

* at most one leader per epoch over the whole history;
* a node's log holds every entry committed so far when it becomes leader (leader completeness);
* a node's HW never moves backwards (except to 0 on restart) and never passes its log end;
* committed entries never change: every node's committed prefix, and everything it ever
  committed, is a prefix of the single global committed sequence, which only grows.

Randomness: one numpy Generator per node and one for the network, all derived from ``seed``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from sim.kafka.raft import Entry, Message, RaftNode

OBSERVER_BASE = 1000


class InvariantViolation(AssertionError):
    pass


@dataclass
class Checker:
    leaders_by_epoch: dict[int, int] = field(default_factory=dict)
    committed: list[Entry] = field(default_factory=list)
    last_hw: dict[int, int] = field(default_factory=dict)
    max_hw: dict[int, int] = field(default_factory=dict)
    checked_epochs: set[int] = field(default_factory=set)

    def check(self, node: RaftNode) -> None:
        nid = node.node_id
        if node.is_leader:
            first = self.leaders_by_epoch.setdefault(node.epoch, nid)
            if first != nid:
                raise InvariantViolation(f"epoch {node.epoch} has leaders {first} and {nid}")
            if node.epoch not in self.checked_epochs:
                # Leader completeness, at election time (an old leader may lag behind later ones).
                self.checked_epochs.add(node.epoch)
                known = min(len(self.committed), node.end_offset)
                if known < len(self.committed) or node.log[:known] != self.committed[:known]:
                    raise InvariantViolation(f"new leader {node!r} lacks committed entries")
        hw = node.high_watermark
        if hw > node.end_offset:
            raise InvariantViolation(f"{node!r}: HW past log end")
        if hw < self.last_hw.get(nid, 0):
            raise InvariantViolation(f"{node!r}: HW went back from {self.last_hw[nid]}")
        self.last_hw[nid] = hw
        ever = max(self.max_hw.get(nid, 0), hw)
        self.max_hw[nid] = ever
        if node.end_offset < ever:
            raise InvariantViolation(f"{node!r}: lost committed entries below {ever}")
        shared = min(ever, len(self.committed))
        if node.log[:shared] != self.committed[:shared]:
            raise InvariantViolation(f"{node!r}: committed prefix differs from the global one")
        if ever > len(self.committed):
            self.committed.extend(node.log[len(self.committed) : ever])

    def restarted(self, node: RaftNode) -> None:
        self.last_hw[node.node_id] = 0


class Cluster:
    """Voters ``1..n`` and observers ``1000..``, all alive and connected at time 0."""

    def __init__(
        self,
        n_voters: int,
        seed: int,
        *,
        observers: int = 0,
        delay_ms: tuple[float, float] = (1.0, 20.0),
        drop: float = 0.0,
        fetch_backoff_ms: float = 50.0,
        fetch_max_entries: int | None = 3,
        trace: bool = False,
    ) -> None:
        self.voters = tuple(range(1, n_voters + 1))
        ids = self.voters + tuple(OBSERVER_BASE + i for i in range(observers))
        self.nodes = {
            i: RaftNode(
                i,
                self.voters,
                rng=np.random.default_rng([seed, i]),
                fetch_backoff_ms=fetch_backoff_ms,
                fetch_max_entries=fetch_max_entries,
            )
            for i in ids
        }
        self.alive = dict.fromkeys(ids, True)
        self.rng = np.random.default_rng([seed, 0])
        self.delay_ms = delay_ms
        self.drop = drop
        self.blocked: set[tuple[int, int]] = set()
        self.now = 0.0
        self._queue: list[tuple[float, int, Message]] = []
        self._seq = 0
        self._link_last: dict[tuple[int, int], float] = {}
        self.checker = Checker()
        self.events = 0
        self.trace: list[tuple[float, str]] | None = [] if trace else None

    # network --------------------------------------------------------------

    def _connected(self, a: int, b: int) -> bool:
        return (a, b) not in self.blocked

    def send(self, messages: list[Message]) -> None:
        for m in messages:
            if not self._connected(m.source, m.destination):
                continue
            if self.drop and self.rng.random() < self.drop:
                continue
            lo, hi = self.delay_ms
            at = self.now + float(self.rng.uniform(lo, hi))
            link = (m.source, m.destination)
            at = max(at, self._link_last.get(link, 0.0))  # FIFO per link (TCP)
            self._link_last[link] = at
            self._seq += 1
            heapq.heappush(self._queue, (at, self._seq, m))

    def partition(self, side: tuple[int, ...]) -> None:
        """Cut every link between ``side`` and the other nodes (both directions)."""
        self.blocked = {
            (a, b) for a in self.nodes for b in self.nodes if (a in side) != (b in side)
        }

    def heal(self) -> None:
        self.blocked = set()

    # nemesis ---------------------------------------------------------------

    def crash(self, nid: int) -> None:
        self.alive[nid] = False

    def restart(self, nid: int) -> None:
        if not self.alive[nid]:
            self.alive[nid] = True
            node = self.nodes[nid]
            node.restart(self.now)
            self.checker.restarted(node)
            self.checker.check(node)

    # event loop --------------------------------------------------------------

    def _next_event(self) -> tuple[float, int | None]:
        """(time, node to poll) of the next event; node None means the head message."""
        best_t = self._queue[0][0] if self._queue else float("inf")
        best: int | None = None
        for nid, node in self.nodes.items():
            if self.alive[nid]:
                t = node.next_deadline()
                if t < best_t:
                    best_t, best = t, nid
        return best_t, best

    def step(self, until: float) -> bool:
        t, nid = self._next_event()
        if t > until:
            return False
        self.now = max(self.now, t)
        self.events += 1
        if nid is None:
            _, _, m = heapq.heappop(self._queue)
            dest = m.destination
            if not self.alive[dest] or not self._connected(m.source, dest):
                return True
            node = self.nodes[dest]
            if self.trace is not None:
                self.trace.append((self.now, repr(m)))
            out = node.handle(m, self.now)
        else:
            node = self.nodes[nid]
            out = node.poll(self.now)
        self.checker.check(node)
        self.send(out)
        return True

    def run(self, ms: float) -> None:
        until = self.now + ms
        same_time = 0
        last = self.now
        while self.step(until):
            same_time = same_time + 1 if self.now == last else 0
            last = self.now
            if same_time > 10_000:
                raise InvariantViolation(f"livelock at t={self.now}")
        self.now = until

    def leaders(self) -> list[RaftNode]:
        return [n for i, n in self.nodes.items() if self.alive[i] and n.is_leader]

    def append_on_leaders(self, payload: object) -> None:
        for node in self.leaders():
            node.append(payload, self.now)
            self.checker.check(node)
