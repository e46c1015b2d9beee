"""How much work a scenario is, estimated before simulating, and the limits of this machine.

A scenario can ask for more than any machine can simulate (`rate: 1e9/s`, a million partitions,
ten thousand brokers, `duration: 1e9s`): such a run would hang or exhaust memory. ``estimate``
reads the scenario only (no simulation) and ``check_size`` refuses a run whose estimated memory
or wall time is beyond the limits, with the estimate and the limits in one line; ``--force``
(``run(..., force=True)``) runs it anyway.

The cost model, calibrated on benchmarks/throughput.yaml and the shipped scenarios on the team's
2-core machine (see benchmarks/README.md; figures are deliberately on the high side):
- records: sum over producers of rate x instances x active seconds of the load phase;
- batches (produce requests, roughly): per producer instance and partition, at most one per
  ``max(linger.ms, 1 ms)`` unless ``batch.size`` fills first, and never more than the records;
- events: about 12 per batch (request, response, replication fetch, handler, timers), plus the
  periodic work of an idle cluster, about 40 per broker or controller and 20 per client instance
  per simulated second (heartbeats, fetch sessions, polls);
- wall time: about 25 µs per event and 2 µs per record (arrivals, keys, history), plus 1.3 µs
  per broker pair per simulated second (metadata and heartbeats fan out to every broker) and
  0.5 ms per replica (building, the final read);
- memory: about 300 bytes per record of history, 8 KiB per partition replica, 200 bytes per
  broker pair and 100 MiB of fixed cost.
Limits: memory at most 75 % of this machine's physical memory; wall time at most 24 hours.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sim.scenario import Scenario

__all__ = ["MAX_WALL_SECONDS", "Estimate", "TooBig", "check_size", "estimate", "memory_limit"]

MAX_WALL_SECONDS = 24 * 3600.0
MEMORY_FRACTION = 0.75
CLOSE_MS = 5000.0  # the close phase after the drain (build.CLOSE_GRACE_MS)

EVENTS_PER_BATCH = 12.0
IDLE_EVENTS_PER_SERVER_S = 40.0
IDLE_EVENTS_PER_CLIENT_S = 20.0
WALL_S_PER_EVENT = 25e-6
WALL_S_PER_RECORD = 2e-6
WALL_S_PER_BROKER_PAIR_S = 1.3e-6
WALL_S_PER_REPLICA = 5e-4
BYTES_PER_RECORD = 300.0
BYTES_PER_REPLICA = 8 * 1024.0
BYTES_PER_BROKER_PAIR = 200.0
BASE_BYTES = 100 * 2**20


class TooBig(Exception):
    """The run is estimated to be beyond this machine (one line, for exit code 2)."""


@dataclass(frozen=True)
class Estimate:
    records: float
    batches: float
    partitions: int
    replicas: int
    nodes: int
    events: float
    memory_bytes: float
    wall_seconds: float

    def describe(self) -> str:
        return (
            f"{_n(self.records)} records, {_n(self.batches)} batches, {self.partitions:,} "
            f"partitions ({self.replicas:,} replicas), {self.nodes:,} nodes, "
            f"{_n(self.events)} events, {_bytes(self.memory_bytes)} of memory, "
            f"{_duration(self.wall_seconds)} of wall time"
        )


def estimate(scenario: Scenario) -> Estimate:
    """The work of ``scenario`` by the cost model of the module docstring."""
    load_s = scenario.duration_ms / 1000.0
    total_s = (scenario.duration_ms + scenario.drain_ms + CLOSE_MS) / 1000.0
    partitions_of = {t.name: t.partitions for t in scenario.topics}
    records = batches = 0.0
    for p in scenario.producers:
        stop_s = load_s if p.stop_ms is None else min(p.stop_ms / 1000.0, load_s)
        active_s = max(0.0, stop_s - p.start_ms / 1000.0)
        n = p.rate_per_s * p.count * active_s
        linger_ms = max(float(p.config["linger.ms"]), 1.0)
        per_partition = p.count * partitions_of.get(p.topic, 1) * active_s * 1000.0 / linger_ms
        full = n * max(p.record_size_bytes, 1) / max(float(p.config["batch.size"]), 1.0)
        records += n
        batches += min(n, max(per_partition, full))
    partitions = sum(t.partitions for t in scenario.topics)
    replicas = sum(t.partitions * t.replication_factor for t in scenario.topics)
    brokers = scenario.cluster.brokers
    servers = brokers + scenario.cluster.controllers
    clients = sum(p.count for p in scenario.producers) + sum(c.count for c in scenario.consumers)
    events = EVENTS_PER_BATCH * batches + total_s * (
        IDLE_EVENTS_PER_SERVER_S * servers + IDLE_EVENTS_PER_CLIENT_S * clients
    )
    wall = (
        WALL_S_PER_EVENT * events
        + WALL_S_PER_RECORD * records
        + WALL_S_PER_BROKER_PAIR_S * brokers * brokers * total_s
        + WALL_S_PER_REPLICA * replicas
    )
    memory = (
        BASE_BYTES
        + BYTES_PER_RECORD * records
        + BYTES_PER_REPLICA * replicas
        + BYTES_PER_BROKER_PAIR * brokers * brokers
    )
    return Estimate(records, batches, partitions, replicas, servers + clients, events, memory, wall)


def memory_limit() -> float:
    """75 % of this machine's physical memory (8 GiB assumed when it cannot be read)."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not Linux
        physical = 8 * 2**30
    return MEMORY_FRACTION * float(physical)


def check_size(scenario: Scenario) -> Estimate:
    """The estimate, or TooBig when it is beyond the memory or wall-time limit."""
    est = estimate(scenario)
    limit = memory_limit()
    over = []
    if est.memory_bytes > limit:
        over.append(f"memory {_bytes(est.memory_bytes)} > {_bytes(limit)}")
    if est.wall_seconds > MAX_WALL_SECONDS:
        over.append(f"wall time {_duration(est.wall_seconds)} > {_duration(MAX_WALL_SECONDS)}")
    if over:
        raise TooBig(
            f"{scenario.source}: too big for this machine ({'; '.join(over)}); estimated "
            f"{est.describe()}; use --force (run(..., force=True)) to run it anyway"
        )
    return est


def _n(x: float) -> str:
    return f"{x:,.0f}" if x < 1e7 else f"{x:.2g}"


def _bytes(x: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if x >= size:
            return f"{x / size:,.1f} {unit}" if x / size < 1e5 else f"{x / size:.2g} {unit}"
    return f"{x / 1024:,.0f} KiB"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        hours = seconds / 3600
        return f"{hours:,.1f} h" if hours < 1e5 else f"{hours:.2g} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"
