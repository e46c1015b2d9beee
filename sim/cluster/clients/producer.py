"""A Kafka producer: workload, partitioner, accumulator, sender, retries, idempotence.

Theory of operation (kafka-semantics §5, ``RecordAccumulator`` / ``Sender`` / ``KafkaProducer``)
----------------------------------------------------------------------------------------------
* **Workload**: record arrival times (poisson or constant, ``rate`` per instance between
  ``start`` and ``stop``) are drawn with numpy in blocks of about 2,000 records, never one event
  per record. Keys are ``key-<i>`` (UTF-8), chosen uniformly or by a bounded zipf law, and mapped
  to partitions with Kafka's murmur2 partitioner; null keys use the 3.3+ sticky partitioner
  (KIP-794): a random partition keeps every record until ``batch.size`` bytes went to it.
* **Accumulator**: one deque of batches per partition. A batch holds up to ``batch.size`` bytes
  (61-byte v2 header plus ``record_size`` per record). The head batch is *ready* when it is full
  or another batch waits behind it, when ``linger.ms`` passed since its first record, when a
  retry's backoff passed, or when the producer is closing.
* **Sender**: per broker, ready batches (at most one per partition) go into one ProduceRequest,
  with at most ``max.in.flight.requests.per.connection`` requests in flight per broker. With
  ``max.in.flight=1`` the partition is muted while its batch is in flight. With idempotence a
  retried batch waits until no earlier batch of its partition is in flight (sequence order).
* **Outcomes**: success completes the batch. Retriable errors (NOT_LEADER_OR_FOLLOWER,
  NOT_ENOUGH_REPLICAS[_AFTER_APPEND], REQUEST_TIMED_OUT, NETWORK_EXCEPTION,
  OUT_OF_ORDER_SEQUENCE_NUMBER with idempotence) re-enqueue the batch at the head of its deque
  after ``retry.backoff.ms`` doubling to ``retry.backoff.max.ms`` with ±20 % jitter (KIP-580),
  while ``retries`` and ``delivery.timeout.ms`` allow; otherwise it fails. A client-side request
  timeout disconnects: the other requests in flight to that broker fail with NETWORK_EXCEPTION.
  Leader errors and disconnects trigger a metadata refresh.
* **acks=0**: the send completes when the request is written; offset -1; no response.
* **Idempotence** (KIP-98): each batch carries (producer id, epoch 0, base sequence = the index of
  its first record in the partition), so the leader drops retried duplicates.

Simplifications: the producer id comes from the run (no InitProducerId round trip); adaptive
partitioning weights and ``buffer.memory`` back-pressure are not modelled; a failed idempotent
batch does not bump the producer epoch.
"""

from __future__ import annotations

import math
from collections import deque
from functools import partial
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


class ProducerBatch:
    """A batch in the accumulator (Kafka ``ProducerBatch``)."""

    __slots__ = (
        "attempts",
        "backoff_until",
        "batch_id",
        "count",
        "first_create_ms",
        "full",
        "last_create_ms",
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
        self.backoff_until = 0.0


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
        current block, or the block's end when the block holds fewer (a safe wake-up time)."""
        times = self.part_times[partition] if self.part_times else None
        if times is None:
            return self.generated_until
        index = self.part_position[partition] + n - 1
        if index < len(times):
            return float(times[index])
        return self.generated_until

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
    """One producer instance (``<name>-<i>``) writing to one topic."""

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
        self.batch_capacity = max(1, (self.batch_size - BATCH_HEADER_BYTES) // self.record_size)
        self.workload = Workload(
            spec, topic.partitions, self.batch_size, simenv.rng(f"{name}:workload"), load_end_ms
        )
        self._backoff_rng = simenv.rng(f"{name}:backoff")
        self.deques: list[deque[ProducerBatch]] = [deque() for _ in range(topic.partitions)]
        self.next_seq = [0] * topic.partitions
        # Idempotence: epoch and, per partition, the record index where sequence 0 of the
        # current epoch starts (sequences restart after an epoch bump, KIP-360).
        self.producer_epoch = 0
        self.sequence_base = [0] * topic.partitions
        self.in_flight_per_partition = [0] * topic.partitions
        self.in_flight_per_broker: dict[int, int] = {}
        self.in_flight_batches: dict[int, ProducerBatch] = {}
        self.leaders: list[int | None] = [None] * topic.partitions
        self.metadata_ready = False
        self._metadata_in_flight = False
        self._bootstrap_index = 0
        self._next_batch_id = 0
        self._drain_start = 0
        self.closing = False
        self._wake_timer: Timer | None = None
        self._wake_at = math.inf
        rec = simenv.recorder
        self._produce_rows = rec.table("produce")
        self._request_rows = rec.table("produce_requests")
        self._events = rec.table("events")

    # -- lifecycle --
    def start(self) -> None:
        self._refresh_metadata()
        self._schedule_wake(max(self.simenv.now, self.workload.next_arrival()))

    def on_crash(self) -> None:
        """The application dies: every record it had handed to send() and not yet seen
        acknowledged fails (its callbacks never ran)."""
        lost = list(self.in_flight_batches.values())
        for dq in self.deques:
            lost.extend(dq)
            dq.clear()
        self.in_flight_batches.clear()
        for batch in sorted(lost, key=lambda b: b.batch_id):
            self._record(batch, "failed", "PRODUCER_CRASHED", -1)
        self.in_flight_per_partition = [0] * self.num_partitions
        self.in_flight_per_broker.clear()
        self._wake_timer = None
        self._wake_at = math.inf
        self.metadata_ready = False
        self._metadata_in_flight = False

    def on_restart(self) -> None:
        """A new producer instance: a new producer id (idempotence does not span restarts), and
        the records that would have arrived while it was down were never sent."""
        self.workload.take_until(self.simenv.now)
        if self.idempotent:
            self.producer_id += 1_000_000
            self.producer_epoch = 0
            self.sequence_base = list(self.next_seq)
        self._events((self.simenv.now, self.name, "producer_restarted", f"id {self.producer_id}"))
        self.start()

    def close(self) -> None:
        """KafkaProducer.close(): send everything still buffered without waiting for linger."""
        self.closing = True
        self._run_sender()

    def finish(self) -> None:
        """End of run: batches never completed are recorded as unfinished."""
        now = self.simenv.now
        self._ingest(now)
        leftover = list(self.in_flight_batches.values())
        for dq in self.deques:
            leftover.extend(dq)
            dq.clear()
        self.in_flight_batches.clear()
        for batch in sorted(leftover, key=lambda b: b.batch_id):
            self._record(batch, "unfinished", "", -1)

    # -- accumulator --
    def _ingest(self, now: float) -> None:
        for partition, times in self.workload.take_until(now):
            self._append_records(partition, times)

    def _append_records(self, partition: int, times: np.ndarray) -> None:
        dq = self.deques[partition]
        capacity = self.batch_capacity
        n = len(times)
        taken = 0
        while taken < n:
            batch = dq[-1] if dq else None
            if batch is None or batch.full or batch.attempts > 0:
                batch = ProducerBatch(
                    self._next_batch_id, partition, self.next_seq[partition], float(times[taken])
                )
                self._next_batch_id += 1
                dq.append(batch)
            take = min(capacity - batch.count, n - taken)
            batch.count += take
            self.next_seq[partition] += take
            taken += take
            batch.last_create_ms = float(times[taken - 1])
            if batch.count >= capacity:
                batch.full = True

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

    def _next_wake(self, now: float) -> float:
        """Earliest time something may become sendable: a linger deadline, a batch filling up,
        a retry backoff ending, an expiry, or the next record's linger deadline."""
        linger = self.linger_ms
        wake = math.inf
        workload = self.workload
        next_arrival = workload.next_arrival()
        if next_arrival < math.inf:
            wake = next_arrival + (0.0 if self.closing else linger)
        for partition, dq in enumerate(self.deques):
            if not dq:
                continue
            head = dq[0]
            expiry = head.first_create_ms + self.delivery_timeout_ms
            leader = self.leaders[partition]
            if (
                leader is None
                or self.in_flight_per_broker.get(leader, 0) >= self.max_in_flight
                or (self.max_in_flight == 1 and self.in_flight_per_partition[partition] > 0)
                or (
                    head.attempts > 0
                    and self.idempotent
                    and self.in_flight_per_partition[partition]
                )
            ):
                # Blocked: a response or a metadata update runs the sender again.
                wake = min(wake, expiry)
                continue
            if head.attempts > 0:
                due = head.backoff_until
            elif self.closing or head.full or len(dq) > 1:
                due = now
            else:
                due = head.first_create_ms + linger
                # The batch may fill before its linger expires: wake at the arrival that fills it.
                due = min(due, self._fill_time(head))
            wake = min(wake, due, expiry)
        return wake

    def _fill_time(self, batch: ProducerBatch) -> float:
        return self.workload.nth_arrival(batch.partition, self.batch_capacity - batch.count)

    # -- sender --
    def _run_sender(self) -> None:
        if not self.alive:
            return
        now = self.simenv.now
        self._ingest(now)
        self._expire_batches(now)
        if not self.metadata_ready:
            self._refresh_metadata()
        else:
            self._drain(now)
        self._schedule_wake(max(now, self._next_wake(now)) if self._has_work() else math.inf)

    def _has_work(self) -> bool:
        return any(self.deques) or not self.workload.exhausted

    def _ready(self, partition: int, now: float) -> bool:
        dq = self.deques[partition]
        if not dq:
            return False
        head = dq[0]
        if head.attempts > 0:
            if now < head.backoff_until:
                return False
            if self.idempotent and self.in_flight_per_partition[partition] > 0:
                return False  # resend in sequence order
        elif not (
            self.closing or head.full or len(dq) > 1 or now >= head.first_create_ms + self.linger_ms
        ):
            return False
        if self.max_in_flight == 1 and self.in_flight_per_partition[partition] > 0:
            return False  # guaranteeMessageOrder: partition muted
        return self.leaders[partition] is not None

    def _drain(self, now: float) -> None:
        num = self.num_partitions
        deques, leaders = self.deques, self.leaders
        in_flight, max_in_flight = self.in_flight_per_broker, self.max_in_flight
        while True:
            by_broker: dict[int, list[ProducerBatch]] = {}
            sizes: dict[int, int] = {}
            start = self._drain_start
            for i in range(num):
                partition = (start + i) % num
                if not deques[partition]:
                    continue
                # Cheap refusals first: no leader known, or its connection is full.
                leader = leaders[partition]
                if leader is None or in_flight.get(leader, 0) >= max_in_flight:
                    continue
                if not self._ready(partition, now):
                    continue
                batch = deques[partition][0]
                size = self._batch_bytes(batch)
                if leader in sizes and sizes[leader] + size > self.max_request_size:
                    continue
                self.deques[partition].popleft()
                by_broker.setdefault(leader, []).append(batch)
                sizes[leader] = sizes.get(leader, 0) + size
            if not by_broker:
                return
            self._drain_start = (start + 1) % num
            for broker_id in sorted(by_broker):
                self._send(broker_id, by_broker[broker_id], sizes[broker_id], now)

    def _batch_bytes(self, batch: ProducerBatch) -> int:
        return BATCH_HEADER_BYTES + batch.count * self.record_size

    def _send(self, broker_id: int, batches: list[ProducerBatch], size: int, now: float) -> None:
        parts = []
        for batch in batches:
            batch.attempts += 1
            record_batch = RecordBatch(
                base_offset=-1,
                count=batch.count,
                size_bytes=self._batch_bytes(batch),
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
        request = ProduceRequest(self.acks, self.request_timeout_ms, parts)
        size += REQUEST_HEADER_BYTES + PARTITION_HEADER_BYTES * len(parts)
        target = f"broker-{broker_id}"
        if self.acks == "0":
            self.send_request(target, "Produce", request, size, None, None)
            for batch in batches:
                self._record_request(batch, broker_id, now, math.nan, "")  # acks=0: no answer
                self._record(batch, "acked", "", -1)
            return
        for batch in batches:
            self.in_flight_per_partition[batch.partition] += 1
            self.in_flight_batches[batch.batch_id] = batch
        self.in_flight_per_broker[broker_id] = self.in_flight_per_broker.get(broker_id, 0) + 1
        self.send_request(
            target,
            "Produce",
            request,
            size,
            self.request_timeout_ms,
            partial(self._on_response, broker_id, batches, now),
        )

    def _on_response(
        self,
        broker_id: int,
        batches: list[ProducerBatch],
        sent_at: float,
        response: ProduceResponse | None,
        error: str | None,
    ) -> None:
        now = self.simenv.now
        self.in_flight_per_broker[broker_id] -= 1
        for batch in batches:
            self.in_flight_per_partition[batch.partition] -= 1
            self.in_flight_batches.pop(batch.batch_id, None)
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
            self._record_request(batch, broker_id, sent_at, answered, batch_error or "")
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
                batch.backoff_until = now + self._backoff(batch.attempts)
                self._reenqueue(batch)
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
        if any(b.partition != partition for b in self.in_flight_batches.values()):
            return False
        if self.in_flight_per_partition[partition]:
            return False
        return not any(
            batch.attempts > 0 for q, dq in enumerate(self.deques) if q != partition for batch in dq
        )

    def _bump_epoch(self, failed: ProducerBatch) -> None:
        """KIP-360: the leader does not know our last sequences (its log lost them, e.g. after
        an unclean election), so no retry can ever be in sequence. Bump the producer epoch and
        restart every partition's sequence at its oldest unacknowledged record."""
        self.producer_epoch += 1
        for partition in range(self.num_partitions):
            pending = [b.seq_start for b in self.deques[partition]]
            pending += [
                b.seq_start for b in self.in_flight_batches.values() if b.partition == partition
            ]
            if partition == failed.partition:
                pending.append(failed.seq_start)
            self.sequence_base[partition] = min(pending, default=self.next_seq[partition])
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
        exp = self.retry_backoff_ms * (2 ** max(0, attempts - 1))
        capped = min(exp, self.retry_backoff_max_ms)
        jitter = float(self._backoff_rng.uniform(0.8, 1.2))
        return min(capped * jitter, self.retry_backoff_max_ms)

    def _reenqueue(self, batch: ProducerBatch) -> None:
        dq = self.deques[batch.partition]
        if self.idempotent:
            # RecordAccumulator.insertInSequenceOrder: retried batches go back in sequence order.
            index = 0
            while (
                index < len(dq) and dq[index].attempts > 0 and dq[index].seq_start < batch.seq_start
            ):
                index += 1
            dq.insert(index, batch)
        else:
            dq.appendleft(batch)

    def _expire_batches(self, now: float) -> None:
        """Fail batches waiting in the accumulator past ``delivery.timeout.ms``."""
        deadline = self.delivery_timeout_ms
        for dq in self.deques:
            while dq and now >= dq[0].first_create_ms + deadline:
                batch = dq.popleft()
                self._record(batch, "failed", "DELIVERY_TIMEOUT", -1)

    def _record_request(
        self, batch: ProducerBatch, broker_id: int, sent_at: float, answered: float, error: str
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
                self._batch_bytes(batch),
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
        self.metadata_ready = True
        if any(leader is None for leader in self.leaders):
            self.after(self.retry_backoff_ms, self._refresh_metadata)
        self._run_sender()
