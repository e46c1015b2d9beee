"""A Kafka consumer: assignment, poll loop, fetch long poll, processing, commits, offset reset.

Theory of operation (kafka-semantics §4.1, §4.6, §6)
---------------------------------------------------
* **Assignment**: a consumer without ``group`` assigns itself every partition of its topics
  (``assign()``). Members of a ``group`` get a static RangeAssignor split of the partitions at
  start. Simplification until the group coordinator lands: no JoinGroup/SyncGroup, no rebalances.
* **Positions**: with a group, the committed offset (OffsetFetch from the group coordinator) is
  the next offset to read. Without one, ``auto.offset.reset`` decides: ``earliest`` = log start
  offset, ``latest`` = HW (ListOffsets), ``none`` = the partition is left unread (an error event).
* **poll()**: if ``enable.auto.commit`` and ``auto.commit.interval.ms`` has passed, commit the
  current positions asynchronously (they include every record returned by *earlier* polls); return
  at most ``max.poll.records`` buffered records and send the next fetches before returning
  (pipelining, like ``KafkaConsumer``); with nothing buffered, wait for a fetch response.
* **Fetch**: one request in flight per leader broker, covering the assigned partitions it leads
  with no buffered data; the broker answers with data below the HW (``read_uncommitted``) or after
  ``fetch.max.wait.ms``. OFFSET_OUT_OF_RANGE (position below the log start after retention)
  resets the position per ``auto.offset.reset`` and the skipped range is recorded.
* **Processing**: each record takes ``processing`` time, one after another.
* **Commits** (committed offset = next offset to read): ``auto`` (above, plus a synchronous commit
  on close), ``after-processing`` (commitSync after each poll's records: at-least-once),
  ``before-processing`` (commitSync right after poll: at-most-once), ``none``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from functools import partial
from typing import TYPE_CHECKING, Any

from sim.cluster.net.messages import (
    CONSUMER_REPLICA_ID,
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    PARTITION_HEADER_BYTES,
    REQUEST_HEADER_BYTES,
    FetchPartition,
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
)
from sim.cluster.net.network import Network, Node, Sampler
from sim.kafka.log import RecordBatch

if TYPE_CHECKING:
    from sim.cluster.net.engine import SimEnv
    from sim.scenario import ConsumerSpec

TopicPartition = tuple[str, int]
POLL_TIMEOUT_MS = 1000.0  # the application's poll(Duration) argument


class Consumer(Node):
    """One consumer instance (``<name>-<i>``)."""

    def __init__(
        self,
        name: str,
        spec: ConsumerSpec,
        simenv: SimEnv,
        network: Network,
        bootstrap: list[str],
        assignment: list[TopicPartition],
        coordinator: str | None,
    ) -> None:
        super().__init__(name, simenv, network)
        cfg = spec.config
        self.spec = spec
        self.group = spec.group
        self.bootstrap = bootstrap
        self.assignment = list(assignment)
        self.coordinator = coordinator
        self.commit_mode = spec.commit
        self.max_poll_records = int(cfg["max.poll.records"])
        self.fetch_min_bytes = int(cfg["fetch.min.bytes"])
        self.fetch_max_wait_ms = float(cfg["fetch.max.wait.ms"])
        self.fetch_max_bytes = int(cfg["fetch.max.bytes"])
        self.partition_max_bytes = int(cfg["max.partition.fetch.bytes"])
        self.auto_offset_reset = str(cfg["auto.offset.reset"])
        self.auto_commit_interval_ms = float(cfg["auto.commit.interval.ms"])
        self.request_timeout_ms = float(cfg["request.timeout.ms"])
        self.retry_backoff_ms = float(cfg["retry.backoff.ms"])
        self.processing = Sampler(spec.processing, simenv.rng(f"{name}:processing"))
        self.positions: dict[TopicPartition, int] = {}
        self.leaders: dict[TopicPartition, int | None] = {tp: None for tp in self.assignment}
        self.leader_epochs: dict[TopicPartition, int] = {}
        # KIP-320: leader epoch of the last record handed to the application, per partition,
        # and the partitions whose position is being validated after a leader change.
        self.position_epochs: dict[TopicPartition, int] = {}
        self.validating: set[TopicPartition] = set()
        self.buffers: dict[TopicPartition, deque[RecordBatch]] = {
            tp: deque() for tp in self.assignment
        }
        self.fetching: set[int] = set()  # brokers with a fetch in flight (membership only)
        self._data_event: Any = None
        self._metadata_stale = True
        self._next_auto_commit = math.inf
        self.stopped = False
        self.end_ms = math.inf
        self._resumed: Any = None
        self._crashed_at = -math.inf
        self._rr_start = 0
        rec = simenv.recorder
        self._deliveries = rec.table("deliveries")
        self._commits = rec.table("commits")
        self._positions_rows = rec.table("positions")
        self._gauges = rec.table("gauges")
        self._events = rec.table("events")

    # -- plumbing --
    def _call(
        self, target: str, api: str, body: Any, size: int
    ) -> Generator[Any, Any, tuple[Any, str | None]]:
        event = self.simenv.event()
        self.send_request(
            target,
            api,
            body,
            size,
            self.request_timeout_ms,
            lambda response, error: self._resolve(event, response, error),
        )
        result: tuple[Any, str | None] = yield event
        return result

    @staticmethod
    def _resolve(event: Any, response: Any, error: str | None) -> None:
        event.succeed((response, error))

    def _record_position(
        self, tp: TopicPartition, kind: str, old: int, new: int, reason: str
    ) -> None:
        now = self.simenv.now
        self._positions_rows(
            (now, self.group or "", self.name, tp[0], tp[1], kind, old, new, reason)
        )
        self._gauges((now, f"{self.name}/{tp[0]}-{tp[1]}", "position", new, -1))

    # -- main loop --
    def run(self, end_ms: float) -> Generator[Any, Any, None]:
        """The application thread: poll, process, commit, until ``end_ms``; then close().

        It ends when the process crashes (a restart starts a new one) and waits while paused."""
        self.end_ms = end_ms
        incarnation = self.incarnation

        def gone() -> bool:
            return self.incarnation != incarnation or not self.alive

        if self.spec.start_ms > self.simenv.now:
            yield self.simenv.timeout(self.spec.start_ms - self.simenv.now)
        while self._metadata_stale and self.simenv.now < end_ms and not gone():
            yield from self._refresh_metadata()
        if gone():
            return
        yield from self._init_positions()
        if self.commit_mode == "auto":
            self._next_auto_commit = self.simenv.now + self.auto_commit_interval_ms
        while self.simenv.now < end_ms and not self.stopped:
            yield from self._while_paused()
            if gone():
                return
            records = yield from self._poll(end_ms)
            if not records or gone():
                continue
            if self.commit_mode == "before-processing":
                yield from self._commit_sync("before-processing")
            yield from self._process(records)
            yield from self._while_paused()
            if gone():
                return  # died while processing: nothing of this poll is committed
            if self.commit_mode == "after-processing":
                yield from self._commit_sync("after-processing")
        if self.commit_mode == "auto" and not self.stopped and not gone():
            yield from self._commit_sync("auto")  # close() commits synchronously

    def _while_paused(self) -> Generator[Any, Any, None]:
        while self.paused:
            self._resumed = self.simenv.event()
            yield self._resumed

    def on_resume(self) -> None:
        if self._resumed is not None and not self._resumed.triggered:
            self._resumed.succeed()

    def on_crash(self) -> None:
        """Positions, buffers and fetches are gone; committed offsets stay on the broker."""
        self._crashed_at = self.simenv.now
        self.positions.clear()
        self.validating.clear()
        for buffer in self.buffers.values():
            buffer.clear()
        self.fetching.clear()
        self._data_event = None
        self._metadata_stale = True
        self._next_auto_commit = math.inf

    def on_restart(self) -> None:
        self.simenv.process(self.run(self.end_ms))

    def _refresh_metadata(self) -> Generator[Any, Any, None]:
        topics = sorted({tp[0] for tp in self.assignment})
        target = self.bootstrap[0]
        response, _ = yield from self._call(
            target, "Metadata", MetadataRequest(topics), REQUEST_HEADER_BYTES
        )
        if response is None:
            self.bootstrap = self.bootstrap[1:] + self.bootstrap[:1]
            yield self.simenv.timeout(self.retry_backoff_ms)
            return
        assert isinstance(response, MetadataResponse)
        for part in response.partitions:
            tp = (part.topic, part.partition)
            if tp in self.leaders:
                previous = self.leader_epochs.get(tp, -1)
                self.leaders[tp] = part.leader_id
                self.leader_epochs[tp] = part.leader_epoch
                if (
                    part.leader_epoch > previous >= 0
                    and tp in self.position_epochs
                    and tp not in self.validating
                ):
                    # KIP-320: a new leader epoch; check our position against its log.
                    self.validating.add(tp)
                    self.simenv.process(self._validate_position(tp))
        self._metadata_stale = any(leader is None for leader in self.leaders.values())
        if self._metadata_stale:
            yield self.simenv.timeout(self.retry_backoff_ms)

    def _validate_position(self, tp: TopicPartition) -> Generator[Any, Any, None]:
        """KIP-320 (``SubscriptionState.maybeValidatePositionForCurrentLeader``): ask the new
        leader where the epoch of our last consumed record ends. A shorter log means it was
        truncated (an unclean election): reset to that divergence point (``auto.offset.reset`` is
        not consulted unless it is ``none``, then the partition stops:
        LogTruncationException)."""
        incarnation = self.incarnation
        while self.alive and self.incarnation == incarnation:
            leader = self.leaders.get(tp)
            epoch = self.position_epochs.get(tp, -1)
            if leader is None or tp not in self.positions or epoch < 0:
                break
            body = OffsetsForLeaderEpochRequest(tp[0], tp[1], self.leader_epochs.get(tp, -1), epoch)
            response, _ = yield from self._call(
                f"broker-{leader}", "OffsetsForLeaderEpoch", body, REQUEST_HEADER_BYTES
            )
            if not isinstance(response, OffsetsForLeaderEpochResponse) or response.error:
                yield self.simenv.timeout(self.retry_backoff_ms)
                yield from self._refresh_metadata()
                continue
            position = self.positions.get(tp)
            if position is not None and 0 <= response.end_offset < position:
                self.buffers[tp].clear()
                if self.auto_offset_reset == "none":
                    self.positions.pop(tp, None)
                    self._events((self.simenv.now, self.name, "log_truncation", f"{tp[0]}-{tp[1]}"))
                else:
                    self.positions[tp] = response.end_offset
                    self._record_position(
                        tp, "reset", position, response.end_offset, "LOG_TRUNCATION"
                    )
            break
        self.validating.discard(tp)
        if self._data_event is not None and not self._data_event.triggered:
            self._wake(self._data_event)

    def _init_positions(self) -> Generator[Any, Any, None]:
        committed: dict[TopicPartition, int] = {}
        if self.group is not None and self.coordinator is not None and self.assignment:
            size = REQUEST_HEADER_BYTES + PARTITION_HEADER_BYTES * len(self.assignment)
            response, _ = yield from self._call(
                self.coordinator,
                "OffsetFetch",
                OffsetFetchRequest(self.group, self.assignment),
                size,
            )
            if isinstance(response, OffsetFetchResponse):
                committed = response.offsets
        for tp in self.assignment:
            if tp in committed:
                self.positions[tp] = committed[tp]
                self._record_position(tp, "init", -1, committed[tp], "committed")
                continue
            offset = yield from self._reset_offset(tp)
            if offset is not None:
                self.positions[tp] = offset
                self._record_position(tp, "init", -1, offset, self.auto_offset_reset)

    def _reset_offset(self, tp: TopicPartition) -> Generator[Any, Any, int | None]:
        """Apply ``auto.offset.reset`` with ListOffsets; None when the policy is ``none``."""
        if self.auto_offset_reset == "none":
            self._events((self.simenv.now, self.name, "no_offset", f"{tp[0]}-{tp[1]}"))
            return None
        timestamp = EARLIEST_TIMESTAMP if self.auto_offset_reset == "earliest" else LATEST_TIMESTAMP
        while True:
            leader = self.leaders.get(tp)
            if leader is not None:
                response, _ = yield from self._call(
                    f"broker-{leader}",
                    "ListOffsets",
                    ListOffsetsRequest(tp[0], tp[1], timestamp),
                    REQUEST_HEADER_BYTES,
                )
                if isinstance(response, ListOffsetsResponse) and response.error is None:
                    return response.offset
            yield self.simenv.timeout(self.retry_backoff_ms)
            yield from self._refresh_metadata()

    def _poll(
        self, end_ms: float
    ) -> Generator[Any, Any, list[tuple[TopicPartition, RecordBatch, int, int]]]:
        now = self.simenv.now
        if now >= self._next_auto_commit:
            self._commit_async()
            self._next_auto_commit = now + self.auto_commit_interval_ms
        if self._metadata_stale:
            yield from self._refresh_metadata()
        records = self._take_buffered()
        self._send_fetches()
        if records:
            return records
        # Wait for a fetch response or the poll timeout: one event and a cancellable timer,
        # cheaper than a SimPy AnyOf condition per poll.
        event = self._data_event = self.simenv.event()
        wait = min(POLL_TIMEOUT_MS, max(0.0, end_ms - now), max(0.0, self._next_auto_commit - now))
        timer = self.simenv.call_later(wait, self._wake, event)
        yield event
        timer.cancel()
        self._data_event = None
        return self._take_buffered()

    @staticmethod
    def _wake(event: Any) -> None:
        if not event.triggered:
            event.succeed()

    def _take_buffered(self) -> list[tuple[TopicPartition, RecordBatch, int, int]]:
        """Up to ``max.poll.records`` records as (partition, batch, first offset, count)."""
        budget = self.max_poll_records
        taken: list[tuple[TopicPartition, RecordBatch, int, int]] = []
        assignment = self.assignment
        n = len(assignment)
        for i in range(n):
            if budget <= 0:
                break
            tp = assignment[(self._rr_start + i) % n]
            buffer = self.buffers[tp]
            while buffer and budget > 0:
                batch = buffer[0]
                position = self.positions[tp]
                first = max(position, batch.base_offset)
                count = min(batch.next_offset - first, budget)
                if count <= 0:
                    buffer.popleft()
                    continue
                taken.append((tp, batch, first, count))
                self.position_epochs[tp] = batch.leader_epoch
                budget -= count
                self.positions[tp] = first + count
                if first + count >= batch.next_offset:
                    buffer.popleft()
                self._gauges(
                    (
                        self.simenv.now,
                        f"{self.name}/{tp[0]}-{tp[1]}",
                        "position",
                        first + count,
                        -1,
                    )
                )
        if n:
            self._rr_start = (self._rr_start + 1) % n
        return taken

    def _process(
        self, records: list[tuple[TopicPartition, RecordBatch, int, int]]
    ) -> Generator[Any, Any, None]:
        total = sum(count for _, _, _, count in records)
        durations = self.processing.sample(total)
        start = self.simenv.now
        cursor = 0
        group = self.group or ""
        rows = []
        for tp, batch, first, count in records:
            elapsed = float(durations[cursor : cursor + count].sum())
            cursor += count
            offset_in_batch = first - batch.base_offset
            span = batch.max_timestamp_ms - batch.first_timestamp_ms
            denominator = max(1, batch.count - 1)
            first_create = batch.first_timestamp_ms + span * offset_in_batch / denominator
            last_create = (
                batch.first_timestamp_ms + span * (offset_in_batch + count - 1) / denominator
            )
            end = start + elapsed
            rows.append(
                (
                    end,
                    group,
                    self.name,
                    tp[0],
                    tp[1],
                    first,
                    count,
                    batch.origin,
                    batch.origin_seq + offset_in_batch,
                    first_create,
                    last_create,
                    start,
                    end,
                )
            )
            start = end
        total_time = start - self.simenv.now
        incarnation = self.incarnation
        if total_time > 0:
            yield self.simenv.timeout(total_time)
        for row in rows:
            # A crash (or a pause) in the middle: only records finished before it were processed.
            if self.incarnation == incarnation or row[0] <= self._crashed_at:
                self._deliveries(row)

    # -- fetching --
    def _send_fetches(self) -> None:
        by_broker: dict[int, list[FetchPartition]] = {}
        for tp in self.assignment:
            if tp not in self.positions or self.buffers[tp] or tp in self.validating:
                continue
            leader = self.leaders.get(tp)
            if leader is None or leader in self.fetching:
                continue
            by_broker.setdefault(leader, []).append(
                FetchPartition(
                    tp[0],
                    tp[1],
                    self.positions[tp],
                    self.leader_epochs.get(tp, -1),
                    -1,
                    self.partition_max_bytes,
                )
            )
        for broker_id in sorted(by_broker):
            parts = by_broker[broker_id]
            body = FetchRequest(
                CONSUMER_REPLICA_ID,
                self.fetch_max_wait_ms,
                self.fetch_min_bytes,
                self.fetch_max_bytes,
                parts,
            )
            self.fetching.add(broker_id)
            size = REQUEST_HEADER_BYTES + PARTITION_HEADER_BYTES * len(parts)
            self.send_request(
                f"broker-{broker_id}",
                "Fetch",
                body,
                size,
                self.request_timeout_ms + self.fetch_max_wait_ms,
                partial(self._on_fetch, broker_id, parts),
            )

    def _on_fetch(
        self,
        broker_id: int,
        requested: list[FetchPartition],
        response: FetchResponse | None,
        error: str | None,
    ) -> None:
        self.fetching.discard(broker_id)
        got_data = False
        if response is None:
            self._metadata_stale = True
        else:
            fetch_offsets = {(p.topic, p.partition): p.fetch_offset for p in requested}
            for part in response.partitions:
                tp = (part.topic, part.partition)
                if self.positions.get(tp) != fetch_offsets.get(tp):
                    continue  # position moved meanwhile (reset); the data is stale
                if part.error == "OFFSET_OUT_OF_RANGE":
                    self.simenv.process(self._handle_out_of_range(tp))
                    continue
                if part.error is not None:
                    self._metadata_stale = True
                    continue
                if part.batches:
                    self.buffers[tp].extend(part.batches)
                    got_data = True
        if self._data_event is not None and not self._data_event.triggered:
            if got_data or response is None:
                self._wake(self._data_event)
        elif not got_data and not self.stopped:
            # Keep a long poll outstanding while the application is busy processing.
            self._send_fetches()

    def _handle_out_of_range(self, tp: TopicPartition) -> Generator[Any, Any, None]:
        old = self.positions.pop(tp, -1)
        self._events(
            (self.simenv.now, self.name, "offset_out_of_range", f"{tp[0]}-{tp[1]} at {old}")
        )
        offset = yield from self._reset_offset(tp)
        if offset is None:
            return
        self.positions[tp] = offset
        self.buffers[tp].clear()
        reason = f"OFFSET_OUT_OF_RANGE:{self.auto_offset_reset}"
        self._record_position(tp, "reset", old, offset, reason)
        # poll() resets positions and fetches at once; wake a poll that is waiting for data.
        if self._data_event is not None and not self._data_event.triggered:
            self._wake(self._data_event)
        else:
            self._send_fetches()

    # -- commits --
    def _commit_request(self) -> tuple[OffsetCommitRequest, int]:
        offsets = [
            (tp[0], tp[1], self.positions[tp]) for tp in self.assignment if tp in self.positions
        ]
        body = OffsetCommitRequest(self.group or "", self.name, offsets)
        return body, REQUEST_HEADER_BYTES + PARTITION_HEADER_BYTES * len(offsets)

    def _record_commit(self, body: OffsetCommitRequest, kind: str, error: str | None) -> None:
        now = self.simenv.now
        for topic, partition, offset in body.offsets:
            self._commits(
                (
                    now,
                    body.group,
                    self.name,
                    topic,
                    partition,
                    offset,
                    kind,
                    error is None,
                    error or "",
                )
            )

    def _commit_async(self) -> None:
        if self.coordinator is None or not self.positions:
            return
        body, size = self._commit_request()

        def done(response: OffsetCommitResponse | None, error: str | None) -> None:
            self._record_commit(body, "auto", error or (response.error if response else None))

        self.send_request(
            self.coordinator, "OffsetCommit", body, size, self.request_timeout_ms, done
        )

    def _commit_sync(self, kind: str) -> Generator[Any, Any, None]:
        if self.coordinator is None or not self.positions:
            return
        body, size = self._commit_request()
        response, error = yield from self._call(self.coordinator, "OffsetCommit", body, size)
        self._record_commit(body, kind, error or (response.error if response else None))
