"""KRaft metadata quorum: the pull-based Raft of KIP-595, one :class:`RaftNode` per controller.

Kafka concept (kafka-semantics §1.4, §3.2)
    The controllers (``process.roles=controller``) are the *voters* of the single-partition log
    ``__cluster_metadata``; the Raft leader is the active controller. Unlike textbook Raft the
    leader never pushes: followers *pull* with ``Fetch`` (KIP-595), and the leader learns how far
    each follower got from the fetch offsets. Brokers are *observers*: they fetch the same log but
    never vote and never count for the majority.

States (``QuorumState``/``EpochState``): ``unattached`` (epoch known, no leader; maybe voted),
``follower`` (``FollowerState``), ``candidate`` (``CandidateState``), ``leader``
(``LeaderState``), ``resigned`` (``ResignedState``). Persistent state is the log and the
``quorum-state`` file (epoch, voted_for, leader_id); KRaft voters fsync both before answering, so
a crash keeps them (:meth:`RaftNode.restart`). Everything else is volatile.

Rules (``raft/src/main/java/org/apache/kafka/raft/KafkaRaftClient.java`` unless named otherwise)
    * **Epochs.** Any message with a higher epoch moves the receiver to that epoch
      (``maybeTransition`` / ``maybeHandleCommonResponse``): as a follower of the leader the
      message names (``BeginQuorumEpoch``/``EndQuorumEpoch`` from the leader itself, or a response
      carrying ``leader_id``), else unattached. A same-epoch message naming a leader makes an
      unattached node or a candidate a follower. A request with a stale epoch is answered with
      ``FENCED_LEADER_EPOCH`` and the receiver's epoch and leader, so the sender catches up.
    * **Timers** (``poll``). A voter following a leader with no successful fetch for
      ``fetch_timeout_ms`` (``controller.quorum.fetch.timeout.ms``) becomes a candidate
      (``pollFollowerAsVoter``); an unattached voter does so after its election timeout, drawn
      uniformly in [T, 2T) (``QuorumState.randomElectionTimeoutMs``,
      ``controller.quorum.election.timeout.ms``); so does a resigned leader (``pollResigned``).
      An unattached voter or a candidate moved to a higher epoch keeps its running election
      timer (``QuorumState.transitionToUnattached``); granting a vote restarts it.
    * **Candidacy** (``transitionToCandidate``): epoch+1, vote for itself, ``Vote`` to every other
      voter. Majority of grants -> leader. When the election timeout passes, or a majority rejected
      (``handleVoteResponse``), it backs off ``min(100 * U{0 .. 2^retries - 1},
      election_backoff_max_ms)`` ms (``binaryExponentialElectionBackoffMs``, retries counts
      consecutive candidacies) and then stands again in the next epoch.
    * **Voting** (``handleVoteRequest``, ``UnattachedState.canGrantVote``): only an unattached
      voter grants, once per epoch (a repeated request from the same candidate is granted again);
      followers, candidates, leaders and resigned leaders refuse. The candidate's log must be at
      least as up to date: (last_epoch, end_offset) compared lexicographically
      (``isLogUpToDate``). A vote restarts the election timer.
    * **Leader** (``onBecomeLeader``, ``LeaderState``): records its *epoch start offset* (its log
      end) and appends a control entry :class:`LeaderChange` there (KRaft's
      ``LeaderChangeMessage``), then sends ``BeginQuorumEpoch`` to every other voter, resending it
      every ``request_timeout_ms`` to voters that neither answered nor fetched
      (``nonAcknowledgingVoters``).
    * **Fetch on the leader** (``handleFetchRequest``/``tryCompleteFetchRequest``,
      ``KafkaMetadataLog.validateOffsetAndEpoch``): the leader looks up the end of
      ``last_fetched_epoch`` in its own log (``endOffsetForEpoch``: largest epoch <= it, and where
      that epoch ends). If that epoch differs, or ends before ``fetch_offset``, the answer carries
      ``diverging=(epoch, end_offset)`` and no entries. Otherwise ``fetch_offset`` becomes the
      voter's end offset and the answer carries the entries from ``fetch_offset``.
    * **High watermark** (``LeaderState.maybeUpdateHighWatermark``): sort the voters' end offsets
      (the leader's own log end included) descending and take index ``len(voters) // 2``; it
      becomes the HW only if it is above the epoch start offset (so the marker, an entry of the
      leader's own epoch, commits first: Raft's current-term rule) and above the current HW.
      Observers never count.
    * **Check quorum** (``LeaderState.updateCheckQuorumForFollowingVoter``,
      ``CHECK_QUORUM_TIMEOUT_FACTOR = 1.5``): when fetches from a majority (the leader counts
      itself) have arrived, the timer restarts at 1.5 * ``fetch_timeout_ms``. If it expires the
      leader resigns: ``EndQuorumEpoch`` to the other voters with the preferred successors (other
      voters by descending end offset, ``nonLeaderVotersByDescendingFetchOffset``). A follower
      of that leader then shortens its fetch timeout to 0 for the first successor and
      ``min(max, (max >> (n - 1)) << (position - 1))`` for the others
      (``endEpochElectionBackoff``/``strictExponentialElectionBackoffMs``).
    * **Follower** (``handleFetchResponse``): on ``diverging`` it truncates to
      ``min(diverging end, own end offset for that epoch)``
      (``KafkaMetadataLog.truncateToEndOffset``) and fetches again at once; otherwise it appends
      the entries and sets its HW to ``min(leader HW, own end)``, never moving it backwards
      (``FollowerState.updateHighWatermark``).
      Truncating below the HW is a safety violation and raises, as Kafka does.

Fetch pacing (a simulator choice, documented for the shell)
    One fetch is outstanding at a time, identified by a ``correlation_id`` the response echoes
    (responses to older requests are ignored). The next ``Fetch`` leaves from :meth:`poll` as
    soon as the previous response arrived: at once after a response with entries or a divergence,
    ``fetch_backoff_ms`` later after an empty one (default 0: the shell is expected to hold empty
    fetches like Kafka's long poll, ``MAX_FETCH_WAIT_MS`` = 500), ``retry_backoff_ms`` after an
    error, and again after ``request_timeout_ms`` if no response came (a lost message). The leader
    answers every fetch immediately. Observers with no known leader fetch from a voter drawn from
    the rng; its ``NOT_LEADER_OR_FOLLOWER`` answer names the leader if it knows one. A shell that
    holds an empty fetch and hands the same request to the leader again later (long poll) is
    safe: the second answer carries the same correlation id and the follower takes only one.

Simplifications
    Entries are single records (no batches, bytes or linger); no snapshots / log start offset;
    no pre-vote (KIP-996, 4.0) and no dynamic voters (KIP-853); ``Vote`` is sent once per
    candidacy (no per-voter retries), ``EndQuorumEpoch`` once (unacknowledged). A new leader's HW
    starts at the HW it had as a follower (a committed prefix) instead of Kafka's "unknown".
    Time comes in as ``now_ms``; randomness only from the ``numpy.random.Generator`` argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "FENCED_LEADER_EPOCH",
    "NOT_LEADER",
    "NOT_LEADER_OR_FOLLOWER",
    "BeginQuorumEpoch",
    "BeginQuorumEpochResponse",
    "EndQuorumEpoch",
    "Entry",
    "FetchRequest",
    "FetchResponse",
    "LeaderChange",
    "Message",
    "RaftNode",
    "VoteRequest",
    "VoteResponse",
]

FENCED_LEADER_EPOCH = "FENCED_LEADER_EPOCH"
NOT_LEADER_OR_FOLLOWER = "NOT_LEADER_OR_FOLLOWER"
NOT_LEADER = NOT_LEADER_OR_FOLLOWER  # the contract's short name for Kafka's error
CHECK_QUORUM_TIMEOUT_FACTOR = 1.5  # LeaderState
RETRY_BACKOFF_BASE_MS = 100  # KafkaRaftClient
ROLES = ("unattached", "follower", "candidate", "leader", "resigned")
_INF = math.inf


# --------------------------------------------------------------------------------------------
# Log entries


@dataclass(frozen=True, slots=True)
class LeaderChange:
    """Control record a new leader appends at its epoch start offset (``LeaderChangeMessage``)."""

    leader_id: int
    voters: tuple[int, ...]
    granting_voters: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Entry:
    """One record of ``__cluster_metadata``: the leader epoch that wrote it, its offset, payload."""

    epoch: int
    offset: int
    payload: Any

    @property
    def is_control(self) -> bool:
        """True for the leader-change marker (not a metadata record for the state machine)."""
        return isinstance(self.payload, LeaderChange)


# --------------------------------------------------------------------------------------------
# Messages: every one carries source, destination and the sender's epoch.


@dataclass(frozen=True, slots=True, kw_only=True)
class VoteRequest:
    """``Vote`` request (``VoteRequestData``): the candidate's epoch and last log position."""

    source: int
    destination: int
    epoch: int
    last_epoch: int
    end_offset: int

    @property
    def candidate_epoch(self) -> int:
        return self.epoch


@dataclass(frozen=True, slots=True, kw_only=True)
class VoteResponse:
    source: int
    destination: int
    epoch: int
    granted: bool
    leader_id: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BeginQuorumEpoch:
    """The new leader announces itself to the voters (``BeginQuorumEpochRequestData``)."""

    source: int
    destination: int
    epoch: int
    leader_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BeginQuorumEpochResponse:
    source: int
    destination: int
    epoch: int
    leader_id: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EndQuorumEpoch:
    """A resigning leader tells the voters whom to prefer (``EndQuorumEpochRequestData``)."""

    source: int
    destination: int
    epoch: int
    leader_id: int
    preferred_successors: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchRequest:
    """``Fetch`` from a follower or observer: its log end and the epoch of its last entry."""

    source: int
    destination: int
    epoch: int
    fetch_offset: int
    last_fetched_epoch: int
    correlation_id: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchResponse:
    """Entries from ``fetch_offset`` and the leader HW, or ``diverging=(epoch, end_offset)``."""

    source: int
    destination: int
    epoch: int
    leader_id: int | None
    correlation_id: int = 0
    entries: tuple[Entry, ...] = ()
    high_watermark: int = 0
    diverging: tuple[int, int] | None = None
    error: str | None = None


Message = (
    VoteRequest
    | VoteResponse
    | BeginQuorumEpoch
    | BeginQuorumEpochResponse
    | EndQuorumEpoch
    | FetchRequest
    | FetchResponse
)


# --------------------------------------------------------------------------------------------
# The node


class RaftNode:
    """One member of the metadata quorum: a voter (``controller-<id>``) or an observer (broker).

    Drive it with :meth:`poll` at :meth:`next_deadline` and :meth:`handle` for every delivered
    message; both return the messages to send. :meth:`append` proposes a record on the leader.
    """

    # Volatile state, reset by every transition (:meth:`_reset_volatile`).
    _election_deadline: float  # unattached voter, candidate, resigned
    _backoff_until: float | None  # candidate backing off after a failed election
    _retries: int  # consecutive candidacies (CandidateState.retries)
    _granted: set[int]
    _rejected: set[int]
    _fetch_deadline: float  # follower: last successful fetch + fetch timeout
    _fetch_in_flight: int | None  # correlation id of the outstanding fetch
    _fetch_due_ms: float  # earliest time of the next fetch when none is outstanding
    _fetch_retry_ms: float  # resend time of the outstanding fetch (request timeout)
    _epoch_start_offset: int  # leader: offset of its LeaderChange marker
    _voter_end_offsets: dict[int, int]  # leader: voter -> last valid fetch offset
    _last_fetch_ms: dict[int, float]  # leader: replica (voter or observer) -> last fetch time
    _acknowledged: set[int]  # leader: voters that fetched or answered BeginQuorumEpoch
    _begin_resend_ms: float
    _check_quorum_deadline: float
    _fetched_voters: set[int]  # leader: voters fetched since the check-quorum timer restarted
    _end_quorum_pending: bool  # resigned: EndQuorumEpoch still to send
    _resend_end_quorum_ms: float
    _successors: tuple[int, ...]  # resigned: preferred successors

    def __init__(
        self,
        node_id: int,
        voters: tuple[int, ...],
        *,
        election_timeout_ms: float = 1000,
        fetch_timeout_ms: float = 2000,
        election_backoff_max_ms: float = 1000,
        rng: np.random.Generator,
        now_ms: float = 0.0,
        request_timeout_ms: float = 2000,
        retry_backoff_ms: float = 20,
        fetch_backoff_ms: float = 0.0,
        fetch_max_entries: int | None = None,
    ) -> None:
        if len(set(voters)) != len(voters) or not voters:
            raise ValueError(f"voters must be distinct and non-empty: {voters}")
        self.node_id = node_id
        self.voters = tuple(voters)
        self.election_timeout_ms = float(election_timeout_ms)
        self.fetch_timeout_ms = float(fetch_timeout_ms)
        self.election_backoff_max_ms = float(election_backoff_max_ms)
        self.request_timeout_ms = float(request_timeout_ms)
        self.retry_backoff_ms = float(retry_backoff_ms)
        self.fetch_backoff_ms = float(fetch_backoff_ms)
        self.fetch_max_entries = fetch_max_entries
        self._rng = rng
        self.is_voter = node_id in self.voters
        self.majority = len(self.voters) // 2 + 1
        # Persistent (log + quorum-state file, fsync'd).
        self.epoch = 0
        self.voted_for: int | None = None
        self.leader_id: int | None = None
        self.log: list[Entry] = []
        self._epoch_cache: list[tuple[int, int]] = []  # (epoch, start offset), LeaderEpochFileCache
        # Volatile.
        self.role = "unattached"
        self.high_watermark = 0
        self._next_correlation_id = 0
        self._reset_volatile(now_ms)
        self._become_unattached(0, now_ms)

    # ---------------------------------------------------------------- properties

    @property
    def end_offset(self) -> int:
        return len(self.log)

    @property
    def last_epoch(self) -> int:
        return self.log[-1].epoch if self.log else 0

    @property
    def is_leader(self) -> bool:
        return self.role == "leader"

    @property
    def leader_epoch_start_offset(self) -> int | None:
        """Offset of this leader's :class:`LeaderChange` marker (None unless leader)."""
        return self._epoch_start_offset if self.role == "leader" else None

    def committed(self) -> list[Entry]:
        return self.log[: self.high_watermark]

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """(largest epoch <= ``epoch`` in the log, the offset where it ends); (0, 0) if none.

        ``LeaderEpochFileCache.endOffsetFor`` as used by ``KafkaMetadataLog.endOffsetForEpoch``.
        """
        for i in range(len(self._epoch_cache) - 1, -1, -1):
            cached_epoch, _start = self._epoch_cache[i]
            if cached_epoch <= epoch:
                if i + 1 < len(self._epoch_cache):
                    return cached_epoch, self._epoch_cache[i + 1][1]
                return cached_epoch, self.end_offset
        return 0, 0

    def snapshot(self) -> dict[str, Any]:
        """Plain-data view for debugging and traces."""
        state: dict[str, Any] = {
            "node_id": self.node_id,
            "role": self.role,
            "epoch": self.epoch,
            "leader_id": self.leader_id,
            "voted_for": self.voted_for,
            "end_offset": self.end_offset,
            "last_epoch": self.last_epoch,
            "high_watermark": self.high_watermark,
            "epoch_cache": list(self._epoch_cache),
            "next_deadline": self.next_deadline(),
        }
        if self.role == "leader":
            state["epoch_start_offset"] = self._epoch_start_offset
            state["voter_end_offsets"] = dict(self._voter_end_offsets)
            state["last_fetch_ms"] = dict(self._last_fetch_ms)
            state["check_quorum_deadline"] = self._check_quorum_deadline
        if self.role == "follower":
            state["fetch_deadline"] = self._fetch_deadline
            state["fetch_in_flight"] = self._fetch_in_flight
        if self.role == "candidate":
            state["granted"] = sorted(self._granted)
            state["rejected"] = sorted(self._rejected)
            state["backoff_until"] = self._backoff_until
        return state

    def __repr__(self) -> str:
        return (
            f"RaftNode({self.node_id}, {self.role}, epoch={self.epoch}, leader={self.leader_id}, "
            f"end={self.end_offset}, hw={self.high_watermark})"
        )

    # ---------------------------------------------------------------- timers

    def next_deadline(self) -> float:
        """When :meth:`poll` must run next (``inf`` if nothing is scheduled)."""
        role = self.role
        if role == "leader":
            deadline = self._check_quorum_deadline
            if self._unacknowledged():
                deadline = min(deadline, self._begin_resend_ms)
            return deadline
        if role == "candidate":
            if self._backoff_until is not None:
                return self._backoff_until
            return self._election_deadline
        if role == "resigned":
            return (
                self._resend_end_quorum_ms
                if self._end_quorum_pending
                else (self._election_deadline)
            )
        if role == "unattached":
            if self.is_voter:
                return self._election_deadline
            return self._fetch_send_time()
        # follower
        return min(self._fetch_deadline, self._fetch_send_time())

    def poll(self, now_ms: float) -> list[Message]:
        """Fire the timers that are due and send the follower's next fetch."""
        out: list[Message] = []
        role = self.role
        if role == "leader":
            if now_ms >= self._check_quorum_deadline:
                self._resign(now_ms)
                out.extend(self._end_quorum_requests())
                self._end_quorum_pending = False
                return out
            if now_ms >= self._begin_resend_ms:
                pending = self._unacknowledged()
                if pending:
                    out.extend(self._begin_quorum_epoch(v) for v in pending)
                self._begin_resend_ms = now_ms + self.request_timeout_ms
        elif role == "candidate":
            if self._backoff_until is not None:
                if now_ms >= self._backoff_until:
                    out.extend(self._become_candidate(now_ms))
            elif now_ms >= self._election_deadline:
                self._start_backoff(now_ms)
        elif role == "resigned":
            if self._end_quorum_pending:
                out.extend(self._end_quorum_requests())
                self._end_quorum_pending = False
            if now_ms >= self._election_deadline:
                out.extend(self._become_candidate(now_ms))
        elif role == "unattached":
            if self.is_voter:
                if now_ms >= self._election_deadline:
                    out.extend(self._become_candidate(now_ms))
            else:
                out.extend(self._maybe_fetch(now_ms))
        else:  # follower
            if now_ms >= self._fetch_deadline:
                if self.is_voter:
                    out.extend(self._become_candidate(now_ms))
                    return out
                # An observer forgets the leader and asks a random voter (pollFollowerAsObserver).
                self._become_unattached(self.epoch, now_ms)
            out.extend(self._maybe_fetch(now_ms))
        return out

    # ---------------------------------------------------------------- leader API

    def append(self, payload: Any, now_ms: float) -> int | None:
        """Append a record on the leader; its offset, or None when not the leader."""
        if self.role != "leader":
            return None
        offset = self.end_offset
        self._append_entry(Entry(self.epoch, offset, payload))
        self._maybe_update_high_watermark()
        return offset

    def bootstrap(self, payloads: list[Any]) -> None:
        """Start from a log already committed at epoch 0 (a formatted cluster's bootstrap records).

        Only on a fresh node; every voter must get the same payloads.
        """
        if self.log or self.epoch != 0:
            raise ValueError("bootstrap needs a fresh node")
        for payload in payloads:
            self._append_entry(Entry(0, self.end_offset, payload))
        self.high_watermark = self.end_offset

    # ---------------------------------------------------------------- crash and restart

    def restart(self, now_ms: float) -> None:
        """Come back after a crash with the fsync'd log and quorum-state, volatile state reset.

        As ``QuorumState.initialize``: a node that was the leader of its stored epoch starts
        resigned in that epoch; one that knew a leader follows it; else unattached (keeping its
        vote). The HW starts at 0 and is learned again from the leader.
        """
        self.high_watermark = 0
        self.role = "unattached"
        self._reset_volatile(now_ms)
        if self.leader_id == self.node_id:
            self._resign(now_ms, successors=())
        elif self.leader_id is not None:
            self._become_follower(self.epoch, self.leader_id, now_ms)
        else:
            self._become_unattached(self.epoch, now_ms)

    # ---------------------------------------------------------------- messages

    def handle(self, message: Message, now_ms: float) -> list[Message]:
        """Process one delivered message; return the messages to send."""
        if message.destination != self.node_id:
            raise ValueError(f"{message} delivered to node {self.node_id}")
        self._observe_epoch(message, now_ms)
        if isinstance(message, FetchRequest):
            return self._handle_fetch_request(message, now_ms)
        if isinstance(message, FetchResponse):
            return self._handle_fetch_response(message, now_ms)
        if isinstance(message, VoteRequest):
            return self._handle_vote_request(message, now_ms)
        if isinstance(message, VoteResponse):
            return self._handle_vote_response(message, now_ms)
        if isinstance(message, BeginQuorumEpoch):
            return self._handle_begin_quorum_epoch(message, now_ms)
        if isinstance(message, BeginQuorumEpochResponse):
            if self.role == "leader" and message.epoch == self.epoch and message.error is None:
                self._acknowledged.add(message.source)
            return []
        if isinstance(message, EndQuorumEpoch):
            return self._handle_end_quorum_epoch(message, now_ms)
        raise TypeError(f"unknown message {message!r}")

    def _named_leader(self, message: Message) -> int | None:
        """The leader of ``message.epoch`` that a message vouches for, if any."""
        if isinstance(message, BeginQuorumEpoch | EndQuorumEpoch):
            return message.leader_id
        if isinstance(message, FetchResponse | VoteResponse | BeginQuorumEpochResponse):
            return message.leader_id
        return None

    def _observe_epoch(self, message: Message, now_ms: float) -> None:
        """Epoch rule for every message (``maybeTransition``, ``maybeHandleCommonResponse``)."""
        leader = self._named_leader(message)
        if leader == self.node_id:
            leader = None
        if message.epoch > self.epoch:
            if leader is not None:
                self._become_follower(message.epoch, leader, now_ms)
            else:
                self._become_unattached(message.epoch, now_ms)
        elif (
            message.epoch == self.epoch
            and leader is not None
            and self.role in ("unattached", "candidate")
        ):
            self._become_follower(message.epoch, leader, now_ms)

    # Vote ------------------------------------------------------------------

    def _handle_vote_request(self, req: VoteRequest, now_ms: float) -> list[Message]:
        if req.epoch < self.epoch:
            return [self._vote_response(req.source, False, FENCED_LEADER_EPOCH)]
        granted = (
            self.is_voter
            and req.source in self.voters
            and self.role == "unattached"
            and self.voted_for in (None, req.source)
            and (req.last_epoch, req.end_offset) >= (self.last_epoch, self.end_offset)
        )
        if granted:
            self.voted_for = req.source  # persisted before the response (quorum-state)
            self._election_deadline = now_ms + self._random_election_timeout()
        return [self._vote_response(req.source, granted, None)]

    def _vote_response(self, dest: int, granted: bool, error: str | None) -> VoteResponse:
        return VoteResponse(
            source=self.node_id,
            destination=dest,
            epoch=self.epoch,
            granted=granted,
            leader_id=self.leader_id,
            error=error,
        )

    def _handle_vote_response(self, resp: VoteResponse, now_ms: float) -> list[Message]:
        if self.role != "candidate" or resp.epoch != self.epoch or resp.error is not None:
            return []
        if resp.source not in self.voters:
            return []
        if resp.granted:
            self._granted.add(resp.source)
            self._rejected.discard(resp.source)
        else:
            self._rejected.add(resp.source)
        if len(self._granted) >= self.majority:
            return self._become_leader(now_ms)
        if len(self._rejected) >= self.majority and self._backoff_until is None:
            self._start_backoff(now_ms)
        return []

    # BeginQuorumEpoch / EndQuorumEpoch ----------------------------------

    def _handle_begin_quorum_epoch(self, req: BeginQuorumEpoch, now_ms: float) -> list[Message]:
        if req.epoch < self.epoch:
            error: str | None = FENCED_LEADER_EPOCH
        else:
            error = None
            if self.role in ("leader", "resigned") or (
                self.role == "follower" and self.leader_id != req.leader_id
            ):
                raise RuntimeError(
                    f"two leaders in epoch {req.epoch}: {req.leader_id} and {self.leader_id} "
                    f"(node {self.node_id} is {self.role})"
                )
        return [
            BeginQuorumEpochResponse(
                source=self.node_id,
                destination=req.source,
                epoch=self.epoch,
                leader_id=self.leader_id,
                error=error,
            )
        ]

    def _handle_end_quorum_epoch(self, req: EndQuorumEpoch, now_ms: float) -> list[Message]:
        if (
            req.epoch == self.epoch
            and self.role == "follower"
            and self.leader_id == req.leader_id
            and self.is_voter
        ):
            backoff = self._end_epoch_election_backoff(req.preferred_successors)
            self._fetch_deadline = now_ms + backoff  # FollowerState.overrideFetchTimeout
        return []

    def _end_epoch_election_backoff(self, successors: tuple[int, ...]) -> float:
        position = successors.index(self.node_id) if self.node_id in successors else -1
        if position == 0:
            return 0.0
        total = len(successors)
        if position < 0 or position >= total:
            return self.election_backoff_max_ms
        base = int(self.election_backoff_max_ms) >> (total - 1)
        return float(min(self.election_backoff_max_ms, base << (position - 1)))

    # Fetch: leader side -------------------------------------------------

    def _handle_fetch_request(self, req: FetchRequest, now_ms: float) -> list[Message]:
        if req.epoch < self.epoch:
            return [self._fetch_error(req, FENCED_LEADER_EPOCH)]
        if self.role != "leader":
            return [self._fetch_error(req, NOT_LEADER_OR_FOLLOWER)]
        replica = req.source
        self._last_fetch_ms[replica] = now_ms
        if replica in self.voters:
            self._acknowledged.add(replica)
            self._update_check_quorum(replica, now_ms)
        div_epoch, div_end = self.end_offset_for_epoch(req.last_fetched_epoch)
        if div_epoch != req.last_fetched_epoch or div_end < req.fetch_offset:
            return [self._fetch_response(req, (), (div_epoch, div_end))]
        if replica in self.voters:
            self._voter_end_offsets[replica] = req.fetch_offset
            self._maybe_update_high_watermark()
        stop = self.end_offset
        if self.fetch_max_entries is not None:
            stop = min(stop, req.fetch_offset + self.fetch_max_entries)
        return [self._fetch_response(req, tuple(self.log[req.fetch_offset : stop]), None)]

    def _fetch_response(
        self, req: FetchRequest, entries: tuple[Entry, ...], diverging: tuple[int, int] | None
    ) -> FetchResponse:
        return FetchResponse(
            source=self.node_id,
            destination=req.source,
            epoch=self.epoch,
            leader_id=self.node_id,
            correlation_id=req.correlation_id,
            entries=entries,
            high_watermark=self.high_watermark,
            diverging=diverging,
        )

    def _fetch_error(self, req: FetchRequest, error: str) -> FetchResponse:
        return FetchResponse(
            source=self.node_id,
            destination=req.source,
            epoch=self.epoch,
            leader_id=self.leader_id if self.role != "resigned" else None,
            correlation_id=req.correlation_id,
            high_watermark=-1,
            error=error,
        )

    def _update_check_quorum(self, voter: int, now_ms: float) -> None:
        if voter == self.node_id:
            return
        self._fetched_voters.add(voter)
        if len(self._fetched_voters) >= self.majority - 1:
            self._fetched_voters.clear()
            self._check_quorum_deadline = (
                now_ms + CHECK_QUORUM_TIMEOUT_FACTOR * self.fetch_timeout_ms
            )

    def _maybe_update_high_watermark(self) -> None:
        offsets = sorted(
            (
                self.end_offset if v == self.node_id else self._voter_end_offsets.get(v, 0)
                for v in self.voters
            ),
            reverse=True,
        )
        candidate = offsets[len(self.voters) // 2]
        if candidate > self._epoch_start_offset and candidate > self.high_watermark:
            self.high_watermark = candidate

    # Fetch: follower / observer side ------------------------------------

    def _fetch_send_time(self) -> float:
        if self._fetch_in_flight is not None:
            return self._fetch_retry_ms
        return self._fetch_due_ms

    def _maybe_fetch(self, now_ms: float) -> list[Message]:
        if now_ms < self._fetch_send_time():
            return []
        if self.role == "follower" and self.leader_id is not None:
            target = self.leader_id
        else:  # an observer without a leader asks any voter (maybeSendFetchToAnyBootstrap)
            target = self.voters[int(self._rng.integers(len(self.voters)))]
        self._next_correlation_id += 1
        self._fetch_in_flight = self._next_correlation_id
        self._fetch_retry_ms = now_ms + self.request_timeout_ms
        return [
            FetchRequest(
                source=self.node_id,
                destination=target,
                epoch=self.epoch,
                fetch_offset=self.end_offset,
                last_fetched_epoch=self.last_epoch,
                correlation_id=self._next_correlation_id,
            )
        ]

    def _handle_fetch_response(self, resp: FetchResponse, now_ms: float) -> list[Message]:
        if self._fetch_in_flight is None or resp.correlation_id != self._fetch_in_flight:
            return []  # an answer to an older request, or we changed state meanwhile
        self._fetch_in_flight = None
        if resp.error is not None or self.role != "follower" or resp.source != self.leader_id:
            self._fetch_due_ms = now_ms + self.retry_backoff_ms
            return []
        if resp.epoch != self.epoch:
            self._fetch_due_ms = now_ms + self.retry_backoff_ms
            return []
        self._fetch_deadline = now_ms + self.fetch_timeout_ms  # resetFetchTimeoutForSuccessfulFetch
        if resp.diverging is not None:
            div_epoch, div_end = resp.diverging
            _own_epoch, own_end = self.end_offset_for_epoch(div_epoch)
            target = min(div_end, own_end)
            if target < self.high_watermark:
                raise RuntimeError(
                    f"node {self.node_id}: truncation to {target} below HW {self.high_watermark}"
                )
            self._truncate_to(target)
            self._fetch_due_ms = now_ms
            return []
        for entry in resp.entries:
            if entry.offset != self.end_offset:
                raise RuntimeError(f"node {self.node_id}: gap at {self.end_offset}: {entry}")
            self._append_entry(entry)
        hw = min(resp.high_watermark, self.end_offset)
        if hw > self.high_watermark:
            self.high_watermark = hw
        self._fetch_due_ms = now_ms if resp.entries else now_ms + self.fetch_backoff_ms
        return []

    # ---------------------------------------------------------------- log

    def _append_entry(self, entry: Entry) -> None:
        if not self._epoch_cache or self._epoch_cache[-1][0] < entry.epoch:
            self._epoch_cache.append((entry.epoch, entry.offset))
        self.log.append(entry)

    def _truncate_to(self, offset: int) -> None:
        del self.log[offset:]
        while self._epoch_cache and self._epoch_cache[-1][1] >= offset:
            self._epoch_cache.pop()

    # ---------------------------------------------------------------- transitions

    def _random_election_timeout(self) -> float:
        t = self.election_timeout_ms
        return float(self._rng.uniform(t, 2 * t))

    def _reset_volatile(self, now_ms: float) -> None:
        """Forget all per-state volatile data (timers, votes, fetch and leader state)."""
        self._election_deadline = _INF
        self._backoff_until = None
        self._retries = 0
        self._granted = set()
        self._rejected = set()
        self._fetch_deadline = _INF
        self._fetch_in_flight = None
        self._fetch_due_ms = now_ms
        self._fetch_retry_ms = _INF
        self._epoch_start_offset = 0
        self._voter_end_offsets = {}
        self._last_fetch_ms = {}
        self._acknowledged = set()
        self._begin_resend_ms = _INF
        self._check_quorum_deadline = _INF
        self._fetched_voters = set()
        self._end_quorum_pending = False
        self._resend_end_quorum_ms = _INF
        self._successors = ()

    def _set_epoch(self, epoch: int) -> None:
        if epoch > self.epoch:
            self.epoch = epoch
            self.voted_for = None
            self.leader_id = None

    def _become_unattached(self, epoch: int, now_ms: float) -> None:
        # QuorumState.transitionToUnattached: an unattached node or a candidate keeps its running
        # election timer (a candidate with a stale log cannot starve the others by bumping the
        # epoch); from any other state the timer is drawn afresh.
        keep = self.role in ("unattached", "candidate") and self._election_deadline < _INF
        deadline = self._election_deadline
        self._set_epoch(epoch)
        self.role = "unattached"
        self.leader_id = None
        self._reset_volatile(now_ms)
        if self.is_voter:
            self._election_deadline = deadline if keep else now_ms + self._random_election_timeout()

    def _become_follower(self, epoch: int, leader: int, now_ms: float) -> None:
        if self.role == "follower" and epoch == self.epoch and self.leader_id == leader:
            return
        self._set_epoch(epoch)
        self.role = "follower"
        self.leader_id = leader
        self._reset_volatile(now_ms)
        self._fetch_deadline = now_ms + self.fetch_timeout_ms

    def _become_candidate(self, now_ms: float) -> list[Message]:
        retries = self._retries + 1 if self.role == "candidate" else 1
        self._set_epoch(self.epoch + 1)
        self.role = "candidate"
        self.voted_for = self.node_id
        self._reset_volatile(now_ms)
        self._retries = retries
        self._granted = {self.node_id}
        self._election_deadline = now_ms + self._random_election_timeout()
        if len(self._granted) >= self.majority:
            return self._become_leader(now_ms)
        return [
            VoteRequest(
                source=self.node_id,
                destination=v,
                epoch=self.epoch,
                last_epoch=self.last_epoch,
                end_offset=self.end_offset,
            )
            for v in self.voters
            if v != self.node_id
        ]

    def _start_backoff(self, now_ms: float) -> None:
        bound = 2 << min(20, self._retries - 1)
        backoff = min(
            RETRY_BACKOFF_BASE_MS * int(self._rng.integers(bound)), self.election_backoff_max_ms
        )
        self._backoff_until = now_ms + backoff

    def _become_leader(self, now_ms: float) -> list[Message]:
        granting = tuple(v for v in self.voters if v in self._granted)
        self.role = "leader"
        self.leader_id = self.node_id
        self._reset_volatile(now_ms)
        self._epoch_start_offset = self.end_offset
        self._append_entry(
            Entry(self.epoch, self.end_offset, LeaderChange(self.node_id, self.voters, granting))
        )
        self._acknowledged = {self.node_id}
        self._voter_end_offsets = {v: 0 for v in self.voters if v != self.node_id}
        if self.majority > 1:
            self._check_quorum_deadline = (
                now_ms + CHECK_QUORUM_TIMEOUT_FACTOR * self.fetch_timeout_ms
            )
        self._begin_resend_ms = now_ms + self.request_timeout_ms
        self._maybe_update_high_watermark()
        return [self._begin_quorum_epoch(v) for v in self.voters if v != self.node_id]

    def _begin_quorum_epoch(self, voter: int) -> BeginQuorumEpoch:
        return BeginQuorumEpoch(
            source=self.node_id, destination=voter, epoch=self.epoch, leader_id=self.node_id
        )

    def _unacknowledged(self) -> list[int]:
        return [v for v in self.voters if v not in self._acknowledged]

    def _resign(self, now_ms: float, successors: tuple[int, ...] | None = None) -> None:
        if successors is None:
            others = [v for v in self.voters if v != self.node_id]
            # nonLeaderVotersByDescendingFetchOffset (stable: voter order breaks ties)
            successors = tuple(sorted(others, key=lambda v: -self._voter_end_offsets.get(v, 0)))
        self.role = "resigned"
        self.leader_id = self.node_id
        self._reset_volatile(now_ms)
        self._successors = successors
        self._end_quorum_pending = True
        self._resend_end_quorum_ms = now_ms
        self._election_deadline = now_ms + self._random_election_timeout()

    def _end_quorum_requests(self) -> list[Message]:
        return [
            EndQuorumEpoch(
                source=self.node_id,
                destination=v,
                epoch=self.epoch,
                leader_id=self.node_id,
                preferred_successors=self._successors,
            )
            for v in self.voters
            if v != self.node_id
        ]
