"""A Kafka producer: workload, partitioner, accumulator, sender, retries, idempotence.

Theory of operation (kafka-semantics §5, ``RecordAccumulator`` / ``Sender`` / ``KafkaProducer``)
----------------------------------------------------------------------------------------------
* **Workload**: record arrival times (poisson or constant, ``rate`` per instance between
  ``start`` and ``stop``) are drawn with numpy in blocks of about 2,000 records, never one event
  per record. Keys are ``key-<i>`` (UTF-8), chosen uniformly or by a bounded zipf law, and mapped
  to partitions with Kafka's murmur2 partitioner; null keys use the 3.3+ sticky partitioner
  (KIP-794): a random partition keeps every record until ``batch.size`` bytes went to it.
* **Accumulator** (``sim.kafka.accumulator.RecordAccumulator``, the pure Kafka rules): one deque
  of batches per partition; a batch holds up to ``batch.size`` bytes (61-byte v2 header plus
  ``record_size`` per record). Readiness is per *node*: a broker is ready when the head batch of
  one partition it leads is sendable (full or with a batch behind it, ``linger.ms`` passed since
  its first record, its retry backoff passed, or the producer closing) and not muted.
* **Sender** (``Sender.sendProducerData``): for each ready broker whose connection has fewer than
  ``max.in.flight.requests.per.connection`` requests in flight, one ProduceRequest with the first
  batch of *every* partition that broker leads (``drainBatchesForOneNode``: whether or not that
  batch's own linger expired), from a per-broker drain index, up to ``max.request.size``. With
  ``max.in.flight=1`` a partition is muted while its batch is in flight; with idempotence a
  retried batch waits until no earlier batch of its partition is in flight (sequence order).
  The sender sleeps until the accumulator's next ready check, the arrival that fills a batch,
  the linger deadline of the next batch of an empty partition, or the next delivery timeout;
  responses and metadata answers run it at once.
* **Outcomes**: success completes the batch. Retriable errors (NOT_LEADER_OR_FOLLOWER,
  NOT_ENOUGH_REPLICAS[_AFTER_APPEND], REQUEST_TIMED_OUT, NETWORK_EXCEPTION,
  OUT_OF_ORDER_SEQUENCE_NUMBER with idempotence) re-enqueue the batch at the head of its deque
  after ``retry.backoff.ms`` doubling to ``retry.backoff.max.ms`` with ±20 % jitter (KIP-580;
  no backoff once the partition's leader epoch went up, KIP-951), while ``retries`` and
  ``delivery.timeout.ms`` allow; otherwise it fails. A client-side request timeout disconnects:
  the other requests in flight to that broker fail with NETWORK_EXCEPTION.
  Leader errors and disconnects trigger a metadata refresh.
* **acks=0**: the send completes when the request is written; offset -1; no response.
* **Idempotence** (KIP-98): each batch carries (producer id, epoch 0, base sequence = the index of
  its first record in the partition), so the leader drops retried duplicates.

* **Crash and restart**: a crashed producer process loses its buffered and in-flight batches
  (``PRODUCER_CRASHED``) and its metadata; the restarted one fetches metadata before sending.

Simplifications: the producer id comes from the run (no InitProducerId round trip); adaptive
partitioning weights and ``buffer.memory`` back-pressure are not modelled; a failed idempotent
batch does not bump the producer epoch; sequences are the records' indices in their partition,
fixed when a batch is created (Kafka assigns them at the first drain), so a batch that expires
before it was ever sent leaves a gap that the leader answers with OUT_OF_ORDER_SEQUENCE_NUMBER.
"""

from __future__ import annotations

import math
from functools import partial
from heapq import heappop, heappush
from typing import TYPE_CHECKING

import numpy as np

from sim.cluster.net.messages import (
    BATCH_HEADER_BYTES,
    PARTITION_HEADER_BYTES,
    REQUEST_HEADER_BYTES,
    MetadataRequest,
    MetadataResponse,
    ProducePartition,
    ProduceRequest,
    ProduceResponse,
)
from sim.cluster.net.network import Network, Node
from sim.kafka.accumulator import ProducerBatch, RecordAccumulator, retry_backoff_ms
from sim.kafka.log import RecordBatch
from sim.kafka.partitioner import StickyPartitioner, kafka_partition

if TYPE_CHECKING:
    from sim.cluster.net.engine import SimEnv, Timer
    from sim.scenario import ProducerSpec, TopicSpec

RETRIABLE = frozenset(
    {
        "NOT_LEADER_OR_FOLLOWER",
        "NOT_ENOUGH_REPLICAS",
        "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        "REQUEST_TIMED_OUT",
        "NETWORK_EXCEPTION",
        "FENCED_LEADER_EPOCH",
        "UNKNOWN_LEADER_EPOCH",
        "LEADER_NOT_AVAILABLE",
        "UNKNOWN_TOPIC_OR_PARTITION",
    }
)
METADATA_ERRORS = frozenset(
    {
        "NOT_LEADER_OR_FOLLOWER",
        "FENCED_LEADER_EPOCH",
        "UNKNOWN_LEADER_EPOCH",
        "LEADER_NOT_AVAILABLE",
        "UNKNOWN_TOPIC_OR_PARTITION",
        "NETWORK_EXCEPTION",
        "REQUEST_TIMED_OUT",
    }
)
BLOCK_RECORDS = 2048


class Workload:
    """Arrival times and partitions of one producer instance's records, drawn in blocks."""

    def __init__(
        self,
        spec: ProducerSpec,
        num_partitions: int,
        batch_size: int,
        rng: np.random.Generator,
        end_ms: float,
    ) -> None:
        self.spec = spec
        self.rng = rng
        self.num_partitions = num_partitions
        self.rate_per_ms = spec.rate_per_s / 1000.0
        self.start_ms = spec.start_ms
        self.end_ms = end_ms if spec.stop_ms is None else min(end_ms, spec.stop_ms)
        self.generated_until = self.start_ms
        self.horizon_ms = BLOCK_RECORDS / self.rate_per_ms if self.rate_per_ms > 0 else math.inf
        self._next_constant = self.start_ms
        keys = spec.keys
        self.key_partitions: np.ndarray | None = None
        self.key_probabilities: np.ndarray | None = None
        if keys is not None:
            self.key_partitions = np.array(
                [kafka_partition(f"key-{i}".encode(), num_partitions) for i in range(keys.count)],
                dtype=np.int64,
            )
            if keys.distribution == "zipf":
                weights = 1.0 / np.arange(1, keys.count + 1, dtype=float) ** keys.s
                self.key_probabilities = weights / weights.sum()
        # Null keys: the 3.3+ sticky partitioner (KIP-794), drawing from this workload's stream.
        self.sticky = StickyPartitioner(num_partitions, batch_size, rng)
        self.times: np.ndarray = np.empty(0)
        self.partitions = np.empty(0, dtype=np.int64)
        self.position = 0
        self.single_partition = -1
        self.part_times: list[np.ndarray] = []
        self.part_position: list[int] = []

    @property
    def exhausted(self) -> bool:
        return self.position >= len(self.times) and self.generated_until >= self.end_ms

    def next_arrival(self) -> float:
        """Time of the next record not yet taken, or inf."""
        while self.position >= len(self.times):
            if self.generated_until >= self.end_ms:
                return math.inf
            self._generate()
        return float(self.times[self.position])

    def take_until(self, now: float) -> list[tuple[int, np.ndarray]]:
        """Records that arrived at or before ``now``, as (partition, arrival times) pairs."""
        taken: list[tuple[int, np.ndarray]] = []
        if self.position < len(self.times) and self.times[self.position] > now:
            return taken  # nothing new yet (the common case on a response)
        while True:
            if self.position >= len(self.times):
                if self.generated_until >= self.end_ms or self.generated_until > now:
                    break
                self._generate()
                continue
            end = int(np.searchsorted(self.times, now, side="right"))
            if end > self.position:
                if self.single_partition >= 0:
                    p = self.single_partition
                    n = end - self.position
                    start = self.part_position[p]
                    taken.append((p, self.part_times[p][start : start + n]))
                    self.part_position[p] = start + n
                else:
                    counts = np.bincount(
                        self.partitions[self.position : end], minlength=self.num_partitions
                    )
                    for p in np.flatnonzero(counts).tolist():
                        start = self.part_position[p]
                        n = int(counts[p])
                        taken.append((p, self.part_times[p][start : start + n]))
                        self.part_position[p] = start + n
                self.position = end
            if end < len(self.times):
                break
        return taken

    def nth_arrival(self, partition: int, n: int) -> float:
        """Arrival time of the n-th (1-based) record still to come for ``partition`` in the
        current block; when the block holds fewer, the block's end (a lower bound: a safe
        wake-up time), or inf when no block follows."""
        if self.part_times:
            times = self.part_times[partition]
            index = self.part_position[partition] + n - 1
            if index < len(times):
                return float(times[index])
        return self.generated_until if self.generated_until < self.end_ms else math.inf

    def _generate(self) -> None:
        start = self.generated_until
        stop = min(start + self.horizon_ms, self.end_ms)
        rng = self.rng
        if self.spec.arrival == "constant":
            interval = 1.0 / self.rate_per_ms
            first = self._next_constant
            n = max(0, math.ceil((stop - first) / interval)) if first < stop else 0
            times = first + interval * np.arange(n)
            times = times[times < stop]
            self._next_constant = first + interval * len(times)
        else:
            n = int(rng.poisson(self.rate_per_ms * (stop - start)))
            times = np.sort(rng.uniform(start, stop, n))
        self.generated_until = stop
        self.times = times
        self.partitions = self._choose_partitions(len(times))
        self.position = 0
        # Per-partition arrival times (stable sort keeps time order within a partition), so that
        # ingestion and "when does this batch fill up" are slices, not scans.
        counts = np.bincount(self.partitions, minlength=self.num_partitions)
        self.single_partition = (
            int(self.partitions[0])
            if int(counts.max(initial=0)) == len(times) and len(times)
            else -1
        )
        if self.single_partition >= 0:
            self.part_times = [
                times if p == self.single_partition else times[:0]
                for p in range(self.num_partitions)
            ]
        else:
            order = np.argsort(self.partitions, kind="stable")
            bounds = np.concatenate(([0], np.cumsum(counts)))
            sorted_times = times[order]
            self.part_times = [
                sorted_times[bounds[p] : bounds[p + 1]] for p in range(self.num_partitions)
            ]
        self.part_position = [0] * self.num_partitions

    def _choose_partitions(self, n: int) -> np.ndarray:
        if n == 0:
            return np.empty(0, dtype=np.int64)
        if self.key_partitions is not None:
            count = len(self.key_partitions)
            if self.key_probabilities is not None:
                keys = self.rng.choice(count, size=n, p=self.key_probabilities)
            else:
                keys = self.rng.integers(0, count, size=n)
            return self.key_partitions[keys]
        out = np.empty(n, dtype=np.int64)
        filled = 0
        for partition, count in self.sticky.partition_chunks(n, self.spec.record_size_bytes):
            out[filled : filled + count] = partition
            filled += count
        return out


class Producer(Node):
    """One producer instance (``<name>-<i>``) writing to one topic.

    The sender (``Sender.sendProducerData``) runs on every wake-up: it takes the records that
    arrived since the last run into the accumulator, asks it which nodes are ready, drains one
    request for each ready node whose connection has room (at most
    ``max.in.flight.requests.per.connection`` requests in flight per broker), fails batches past
    ``delivery.timeout.ms``, and sleeps until the earliest of: the accumulator's next ready check
    (a linger or a retry backoff running out), the arrival that fills a batch, the linger deadline
    of the next batch of an empty partition (Kafka's application thread wakes the sender when a
    batch fills or a new one is created), the next delivery timeout. A response or a metadata
    answer runs the sender at once.
    """

    def __init__(
        self,
        name: str,
        spec: ProducerSpec,
        topic: TopicSpec,
        simenv: SimEnv,
        network: Network,
        bootstrap: list[str],
        producer_id: int,
        load_end_ms: float,
    ) -> None:
        super().__init__(name, simenv, network)
        cfg = spec.config
        self.spec = spec
        self.topic = topic.name
        self.num_partitions = topic.partitions
        self.bootstrap = bootstrap
        self.acks = str(cfg["acks"])
        self.linger_ms = float(cfg["linger.ms"])
        self.batch_size = int(cfg["batch.size"])
        self.max_in_flight = int(cfg["max.in.flight.requests.per.connection"])
        self.retries = int(cfg["retries"])
        self.retry_backoff_ms = float(cfg["retry.backoff.ms"])
        self.retry_backoff_max_ms = float(cfg["retry.backoff.max.ms"])
        self.request_timeout_ms = float(cfg["request.timeout.ms"])
        self.delivery_timeout_ms = float(cfg["delivery.timeout.ms"])
        self.max_request_size = int(cfg["max.request.size"])
        self.idempotent = bool(cfg["enable.idempotence"])
        self.producer_id = producer_id if self.idempotent else -1
        self.record_size = spec.record_size_bytes
        self.accumulator = RecordAccumulator(
            topic.partitions,
            batch_size=self.batch_size,
            record_size=self.record_size,
            linger_ms=self.linger_ms,
            delivery_timeout_ms=self.delivery_timeout_ms,
            idempotent=self.idempotent,
            guarantee_message_order=self.max_in_flight == 1,
        )
        self.workload = Workload(
            spec, topic.partitions, self.batch_size, simenv.rng(f"{name}:workload"), load_end_ms
        )
        self._backoff_rng = simenv.rng(f"{name}:backoff")
        # Idempotence: epoch and, per partition, the record index where sequence 0 of the
        # current epoch starts (sequences restart after an epoch bump, KIP-360).
        self.producer_epoch = 0
        self.sequence_base = [0] * topic.partitions
        self.in_flight_per_broker: dict[int, int] = {}
        self.leaders: list[int | None] = [None] * topic.partitions
        self.leader_epochs = [-1] * topic.partitions
        self._metadata_in_flight = False
        self._bootstrap_index = 0
        self._requests_sent = 0
        self._wake_timer: Timer | None = None
        self._wake_at = math.inf
        # Application-thread wake-ups (see _next_hint): (time, tie-break, partition, batch).
        self._hints: list[tuple[float, int, int, ProducerBatch | None]] = []
        self._hint_count = 0
        self._empty_hint_at = [math.inf] * topic.partitions
        rec = simenv.recorder
        self._produce_rows = rec.table("produce")
        self._request_rows = rec.table("produce_requests")
        self._events = rec.table("events")

    # -- lifecycle --
    def start(self) -> None:
        self._refresh_metadata()
        self._ingest(self.simenv.now)  # draws the first block: hints need its arrival times
        for partition in range(self.num_partitions):
            if not self.accumulator.deques[partition]:
                self._hint_empty(partition, self.simenv.now)
        self._run_sender()

    def on_crash(self) -> None:
        """The application dies: every record it had handed to send() and not yet seen
        acknowledged fails (its callbacks never ran). The new process knows no leaders."""
        self._ingest(self.simenv.now)  # records handed to send() since the sender last ran
        for batch in self.accumulator.abort_all():
            self._record(batch, "failed", "PRODUCER_CRASHED", -1)
        self.in_flight_per_broker.clear()
        self.leaders = [None] * self.num_partitions
        self.leader_epochs = [-1] * self.num_partitions
        self.accumulator.update_metadata(self.leaders, self.leader_epochs)
        self._hints.clear()
        self._empty_hint_at = [math.inf] * self.num_partitions
        self._wake_timer = None  # a timer of the dead incarnation: it never fires
        self._wake_at = math.inf
        self._metadata_in_flight = False

    def on_restart(self) -> None:
        """A new producer instance: a new producer id (idempotence does not span restarts), and
        the records that would have arrived while it was down were never sent."""
        self.workload.take_until(self.simenv.now)
        if self.idempotent:
            self.producer_id += 1_000_000
            self.producer_epoch = 0
            self.sequence_base = list(self.accumulator.next_seq)
        self._events((self.simenv.now, self.name, "producer_restarted", f"id {self.producer_id}"))
        self.start()

    def close(self) -> None:
        """KafkaProducer.close(): send everything still buffered without waiting for linger."""
        self.accumulator.close()
        self._run_sender()

    def finish(self) -> None:
        """End of run: batches never completed are recorded as unfinished."""
        self._ingest(self.simenv.now)
        for batch in self.accumulator.abort_all():
            self._record(batch, "unfinished", "", -1)

    # -- the application thread: records arrive --
    def _ingest(self, now: float) -> None:
        accumulator = self.accumulator
        deques = accumulator.deques
        for partition, times in self.workload.take_until(now):
            accumulator.append(partition, times)
            tail = deques[partition][-1]
            if tail.fill_ms == math.inf and not tail.full:
                self._hint_fill(tail, now)

    def _push_hint(
        self, when: float, partition: int, batch: ProducerBatch | None, now: float
    ) -> None:
        if now < when < math.inf:  # only a future wake-up is a wake-up
            self._hint_count += 1
            heappush(self._hints, (when, self._hint_count, partition, batch))

    def _hint_fill(self, batch: ProducerBatch, now: float) -> None:
        """KafkaProducer wakes the sender when a batch becomes full or a new one is created:
        note when the workload's records will make ``batch`` sendable by size (a lower bound
        when that lies beyond the drawn block). Not needed when its linger runs out first: the
        accumulator wakes the sender then."""
        batch.fill_ms = self.workload.nth_arrival(
            batch.partition, self.accumulator.records_until_sendable(batch)
        )
        if batch.fill_ms < batch.first_create_ms + self.linger_ms:
            self._push_hint(batch.fill_ms, batch.partition, batch, now)

    def _hint_empty(self, partition: int, now: float) -> None:
        """KafkaProducer wakes the sender when a new batch is created; its linger then runs from
        the batch's first record: note when the next record of empty ``partition`` lingers out
        (one valid hint per partition)."""
        when = self.workload.nth_arrival(partition, 1) + self.linger_ms
        if when != self._empty_hint_at[partition]:
            self._empty_hint_at[partition] = when
            self._push_hint(when, partition, None, now)

    def _next_hint(self, now: float) -> float:
        """The earliest application-thread wake-up still meaningful after ``now``. A hint is
        dropped when its batch was drained or filled, or its partition got data (the
        accumulator then knows the linger deadline); one that was a lower bound (beyond the
        drawn block) is computed again."""
        hints, deques = self._hints, self.accumulator.deques
        while hints:
            when, _, partition, batch = hints[0]
            if batch is None:
                valid = not deques[partition] and self._empty_hint_at[partition] == when
            else:
                # Still the open tail batch (once a batch waits behind it, it is sendable).
                dq = deques[partition]
                valid = (
                    bool(dq)
                    and dq[-1] is batch
                    and not batch.attempts
                    and not batch.full
                    and batch.fill_ms == when
                )
            if valid and when > now:
                return when
            heappop(hints)
            if valid:
                if batch is None:
                    self._hint_empty(partition, now)
                else:
                    self._hint_fill(batch, now)
        return math.inf

    # -- wake-ups --
    def _schedule_wake(self, when: float) -> None:
        if when == math.inf or when >= self._wake_at:
            return
        if self._wake_timer is not None:
            self._wake_timer.cancel()
        self._wake_at = when
        self._wake_timer = self.at(when, self._on_wake)

    def _on_wake(self) -> None:
        self._wake_timer = None
        self._wake_at = math.inf
        self._run_sender()

    # -- sender --
    def _run_sender(self) -> None:
        """``Sender.sendProducerData``: ready, drain per node, send, expire, sleep."""
        if not self.alive:
            return
        now = self.simenv.now
        self._ingest(now)
        accumulator = self.accumulator
        in_flight, max_in_flight = self.in_flight_per_broker, self.max_in_flight
        while True:
            result = accumulator.ready(now)
            if result.unknown_leader:
                self._refresh_metadata()
            sent = False
            for node in result.ready_nodes:
                if in_flight.get(node, 0) >= max_in_flight:
                    continue  # NetworkClient.ready is false: its next response runs the sender
                batches = accumulator.drain(node, self.max_request_size, now)
                if batches:
                    self._send(node, batches, now)
                    sent = True
            if not sent:
                break
        for batch in accumulator.expired_batches(now):
            self._record(batch, "failed", "DELIVERY_TIMEOUT", -1)
            if not accumulator.deques[batch.partition]:
                self._hint_empty(batch.partition, now)
        wake = min(result.next_ready_check_ms, accumulator.next_expiry_ms, self._next_hint(now))
        self._schedule_wake(wake)

    def _send(self, broker_id: int, batches: list[ProducerBatch], now: float) -> None:
        """One ProduceRequest carrying the drained ``batches`` (their attempts already counted)."""
        parts = []
        size = REQUEST_HEADER_BYTES
        deques = self.accumulator.deques
        for batch in batches:
            batch_bytes = BATCH_HEADER_BYTES + batch.count * self.record_size
            size += PARTITION_HEADER_BYTES + batch_bytes
            record_batch = RecordBatch(
                base_offset=-1,
                count=batch.count,
                size_bytes=batch_bytes,
                leader_epoch=-1,
                producer_id=self.producer_id,
                producer_epoch=self.producer_epoch if self.idempotent else -1,
                base_sequence=(
                    batch.seq_start - self.sequence_base[batch.partition] if self.idempotent else -1
                ),
                first_timestamp_ms=batch.first_create_ms,
                max_timestamp_ms=batch.last_create_ms,
                origin=self.name,
                origin_seq=batch.seq_start,
            )
            parts.append(
                ProducePartition(self.topic, batch.partition, record_batch, batch.batch_id)
            )
            if not deques[batch.partition]:
                self._hint_empty(batch.partition, now)
        self._requests_sent += 1
        request_id = self._requests_sent
        request = ProduceRequest(self.acks, self.request_timeout_ms, parts)
        target = f"broker-{broker_id}"
        if self.acks == "0":
            self.send_request(target, "Produce", request, size, None, None)
            for batch in batches:
                # acks=0: no answer; the batch is done when written.
                self._record_request(batch, broker_id, now, math.nan, "", request_id)
                self._record(batch, "acked", "", -1)
                self.accumulator.complete(batch)
            return
        self.in_flight_per_broker[broker_id] = self.in_flight_per_broker.get(broker_id, 0) + 1
        self.send_request(
            target,
            "Produce",
            request,
            size,
            self.request_timeout_ms,
            partial(self._on_response, broker_id, batches, now, request_id),
        )

    def _on_response(
        self,
        broker_id: int,
        batches: list[ProducerBatch],
        sent_at: float,
        request_id: int,
        response: ProduceResponse | None,
        error: str | None,
    ) -> None:
        now = self.simenv.now
        accumulator = self.accumulator
        self.in_flight_per_broker[broker_id] -= 1
        for batch in batches:
            accumulator.complete(batch)  # no longer in flight (a retry is re-enqueued below)
        refresh = False
        outcomes: list[tuple[ProducerBatch, str | None, int]]
        if response is None:
            # Client-side timeout or disconnect (the network layer already failed the other
            # requests in flight on that connection); Kafka refreshes metadata.
            failure: str | None = error or "NETWORK_EXCEPTION"
            outcomes = [(batch, failure, -1) for batch in batches]
            refresh = True
        else:
            by_partition = {r.partition: r for r in response.partitions}
            outcomes = []
            for batch in batches:
                result = by_partition[batch.partition]
                outcomes.append((batch, result.error, result.base_offset))
                if result.error in METADATA_ERRORS:
                    refresh = True
        for batch, batch_error, base_offset in outcomes:
            answered = now if response is not None else math.nan
            self._record_request(batch, broker_id, sent_at, answered, batch_error or "", request_id)
            if batch_error is None:
                self._record(batch, "acked", "", base_offset)
                continue
            if (
                self.idempotent
                and batch_error == "OUT_OF_ORDER_SEQUENCE_NUMBER"
                and self._only_unresolved_partition(batch.partition)
            ):
                self._bump_epoch(batch)
            if self._can_retry(batch, batch_error, now):
                accumulator.reenqueue(batch, now, self._backoff(batch.attempts))
            else:
                expired = now >= batch.first_create_ms + self.delivery_timeout_ms
                self._record(batch, "failed", "DELIVERY_TIMEOUT" if expired else batch_error, -1)
        if refresh:
            self._refresh_metadata()
        self._run_sender()

    def _only_unresolved_partition(self, partition: int) -> bool:
        """An epoch bump renumbers every partition's sequences, so it is safe only when no
        other partition has a batch already sent under the old epoch and not yet answered or
        acknowledged (in flight, or waiting to be retried). Until then the batch is retried."""
        accumulator = self.accumulator
        if any(True for _ in accumulator.in_flight_batches()):
            return False
        return not any(
            batch.attempts > 0 and batch.partition != partition for batch in accumulator.batches()
        )

    def _bump_epoch(self, failed: ProducerBatch) -> None:
        """KIP-360: the leader does not know our last sequences (its log lost them, e.g. after
        an unclean election), so no retry can ever be in sequence. Bump the producer epoch and
        restart every partition's sequence at its oldest unacknowledged record."""
        accumulator = self.accumulator
        self.producer_epoch += 1
        for partition in range(self.num_partitions):
            pending = [b.seq_start for b in accumulator.deques[partition]]
            pending += [b.seq_start for b in accumulator.in_flight[partition]]
            if partition == failed.partition:
                pending.append(failed.seq_start)
            self.sequence_base[partition] = min(pending, default=accumulator.next_seq[partition])
        self._events(
            (self.simenv.now, self.name, "producer_epoch_bump", f"epoch {self.producer_epoch}")
        )

    def _can_retry(self, batch: ProducerBatch, error: str, now: float) -> bool:
        retriable = error in RETRIABLE or (
            self.idempotent and error in ("OUT_OF_ORDER_SEQUENCE_NUMBER", "INVALID_PRODUCER_EPOCH")
        )
        return (
            retriable
            and batch.attempts <= self.retries
            and now < batch.first_create_ms + self.delivery_timeout_ms
        )

    def _backoff(self, attempts: int) -> float:
        """KIP-580 exponential backoff: base * 2^(attempts-1), capped, ±20 % jitter."""
        return retry_backoff_ms(
            attempts,
            self.retry_backoff_ms,
            self.retry_backoff_max_ms,
            float(self._backoff_rng.random()),
        )

    def _record_request(
        self,
        batch: ProducerBatch,
        broker_id: int,
        sent_at: float,
        answered: float,
        error: str,
        request_id: int,
    ) -> None:
        self._request_rows(
            (
                sent_at,
                answered,
                self.name,
                broker_id,
                self.topic,
                batch.partition,
                batch.batch_id,
                batch.attempts,
                error,
                request_id,
            )
        )

    def _record(self, batch: ProducerBatch, outcome: str, error: str, base_offset: int) -> None:
        self._produce_rows(
            (
                self.simenv.now,
                self.name,
                self.topic,
                batch.partition,
                batch.batch_id,
                batch.seq_start,
                batch.count,
                self.accumulator.batch_bytes(batch),
                batch.first_create_ms,
                batch.last_create_ms,
                self.acks,
                outcome,
                error,
                base_offset,
                batch.attempts,
            )
        )

    # -- metadata --
    def _refresh_metadata(self) -> None:
        if self._metadata_in_flight or not self.alive:
            return
        self._metadata_in_flight = True
        # NetworkClient.leastLoadedNode: the broker with the fewest requests in flight from us
        # (ties: the next in the bootstrap rotation), so a refresh does not queue behind a
        # parked acks=all produce on a busy connection.
        n = len(self.bootstrap)
        order = [self.bootstrap[(self._bootstrap_index + i) % n] for i in range(n)]
        target = min(order, key=self.in_flight)
        self.send_request(
            target,
            "Metadata",
            MetadataRequest([self.topic]),
            REQUEST_HEADER_BYTES,
            self.request_timeout_ms,
            self._on_metadata,
        )

    def _on_metadata(self, response: MetadataResponse | None, error: str | None) -> None:
        self._metadata_in_flight = False
        if response is None:
            self._bootstrap_index += 1
            self.after(self.retry_backoff_ms, self._refresh_metadata)
            return
        for part in response.partitions:
            if part.topic == self.topic:
                self.leaders[part.partition] = part.leader_id
                self.leader_epochs[part.partition] = part.leader_epoch
        self.accumulator.update_metadata(self.leaders, self.leader_epochs)
        if any(leader is None for leader in self.leaders):
            self.after(self.retry_backoff_ms, self._refresh_metadata)
        self._run_sender()
