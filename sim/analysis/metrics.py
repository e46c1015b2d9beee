"""Run summary (summary.json): flat metrics computed from the recorded tables only.

Keys (`METRIC_KEYS`, the SUMMARY_KEYS list of contract C) and their sources:

- records_sent / records_acked / records_failed / records_unfinished: sum of produce.count over
  all rows / outcome 'acked' / 'failed' / 'unfinished' (neither acknowledged nor failed when the
  run ended).
- lost_acked_records, duplicated_records, reordered_records, records_consumed,
  duplicate_deliveries, unconsumed_records, skipped_records: the checker (`sim.analysis.checker`).
- elections / unclean_elections (kind 'unclean'), max_election_ms and offline_partition_ms (max and
  sum of end_ms - start_ms, the time a partition had no usable leader): table elections; rows
  whose end is unknown (NaN) are left out of the durations.
- controller_failovers / max_controller_failover_ms: table controller_elections.
- max_consumer_lag: Kafka's group lag (kafka-consumer-groups.sh LAG, kafka-semantics.md §4.7) =
  HW − committed offset, per group and partition, both level gauges recorded on change
  (entity 'T-P' metric high_watermark, entity 'group/T-P' metric committed_offset). Both are step
  functions; the lag is evaluated at every change point of either, from the group's first commit
  of that partition on (pandas merge_asof). When no commit gauge exists at all, the client view
  HW − position (entity 'consumer/T-P' metric position) is used instead.
- max_produce_unavailability_ms (per partition) / max_producer_stall_ms (per producer instance):
  `produce_unavailability` / `producer_stall` (table produce): the longest time records were
  waiting and none was acknowledged, failed and unfinished batches included.
- produce_latency_p50_ms / _p99_ms: per acknowledged record, produce.time_ms − its create time;
  e2e_latency_p50_ms / _p99_ms: per delivered record, its processing completion − create time.
  Kafka batches carry only the first and max CreateTime, so the create time of record i of n is
  interpolated linearly between first_create_ms and last_create_ms; the completion of record i
  of a delivery slice processed from start_ms to end_ms is start + (end − start)(i + 1)/n.
  Percentiles use numpy's default linear interpolation between order statistics.
- <key>.<TOPIC> (e.g. produce_latency_p50_ms.ORDER, lost_acked_records.ACKS1): the four latency
  keys and lost/duplicated/reordered per topic.
- produce_errors.<NAME>: number of ProduceRequest attempts answered with error NAME (table
  produce_requests; REQUEST_TIMED_OUT is the client-side request timeout, NETWORK_EXCEPTION the
  other requests failed by the disconnect that follows it).

Counts of empty tables are 0; durations without elections are 0.0; latencies and lag are None
when no record or gauge defines them. `evaluate_expectations` checks a scenario's `expect:` list.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.checker import Verdict, check
from sim.analysis.progressions import progression_percentiles
from sim.analysis.recorder import ensure_tables

__all__ = [
    "METRIC_KEYS",
    "consumer_lag",
    "delivery_e2e_latencies",
    "evaluate_expectations",
    "per_record_index",
    "produce_latencies",
    "summarize",
]

METRIC_KEYS: tuple[str, ...] = (
    "records_sent",
    "records_acked",
    "records_failed",
    "records_unfinished",
    "lost_acked_records",
    "duplicated_records",
    "reordered_records",
    "records_consumed",
    "duplicate_deliveries",
    "unconsumed_records",
    "skipped_records",
    "elections",
    "unclean_elections",
    "max_election_ms",
    "offline_partition_ms",
    "controller_failovers",
    "max_controller_failover_ms",
    "max_consumer_lag",
    "max_produce_unavailability_ms",
    "max_producer_stall_ms",
    "produce_latency_p50_ms",
    "produce_latency_p99_ms",
    "e2e_latency_p50_ms",
    "e2e_latency_p99_ms",
)

FloatArray = np.ndarray[Any, np.dtype[Any]]  # float64 values
IntArray = np.ndarray[Any, np.dtype[Any]]  # int64 values
BoolArray = np.ndarray[Any, np.dtype[Any]]  # bool values

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def per_record_index(counts: IntArray) -> tuple[IntArray, IntArray]:
    """For rows with `counts` records each: (row of every record, index of it inside its row)."""
    counts = np.maximum(np.asarray(counts, dtype=np.int64), 0)
    rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    first = np.cumsum(counts) - counts
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(first, counts)
    return rows, within


def _create_times(frame: pd.DataFrame, rows: IntArray, within: IntArray) -> FloatArray:
    """Create time of every record: linear between first_create_ms and last_create_ms."""
    n = frame["count"].to_numpy(dtype=np.int64)[rows]
    first = frame["first_create_ms"].to_numpy(dtype=np.float64)[rows]
    last = frame["last_create_ms"].to_numpy(dtype=np.float64)[rows]
    frac = np.where(n > 1, within / np.maximum(n - 1, 1), 0.0)
    return first + (last - first) * frac


def produce_latencies(produce: pd.DataFrame) -> tuple[FloatArray, IntArray]:
    """Send-to-acknowledgement latency of every acknowledged record, and its produce row index
    (positional, within `produce`)."""
    acked = np.flatnonzero((produce["outcome"] == "acked").to_numpy(dtype=bool))
    sub = produce.iloc[acked]
    rows, within = per_record_index(sub["count"].to_numpy(dtype=np.int64))
    done = sub["time_ms"].to_numpy(dtype=np.float64)[rows]
    return done - _create_times(sub, rows, within), acked[rows]


def delivery_e2e_latencies(deliveries: pd.DataFrame) -> tuple[FloatArray, IntArray]:
    """Create-to-processed latency of every delivered record (duplicates included), and its
    deliveries row index."""
    rows, within = per_record_index(deliveries["count"].to_numpy(dtype=np.int64))
    n = deliveries["count"].to_numpy(dtype=np.int64)[rows]
    start = deliveries["start_ms"].to_numpy(dtype=np.float64)[rows]
    end = deliveries["end_ms"].to_numpy(dtype=np.float64)[rows]
    done = start + (end - start) * (within + 1) / n
    return done - _create_times(deliveries, rows, within), rows


Progressions = tuple[FloatArray, FloatArray, IntArray, np.ndarray[Any, Any]]


def _produce_progressions(produce: pd.DataFrame) -> Progressions:
    """Per acknowledged batch: latency of its first record, change per record, count, topic.
    Same values as `produce_latencies`, without expanding them."""
    sub = produce.loc[(produce["outcome"] == "acked").to_numpy(dtype=bool)]
    n = sub["count"].to_numpy(dtype=np.int64)
    done = sub["time_ms"].to_numpy(dtype=np.float64)
    first_create = sub["first_create_ms"].to_numpy(dtype=np.float64)
    span = sub["last_create_ms"].to_numpy(dtype=np.float64) - first_create
    step = np.where(n > 1, -span / np.maximum(n - 1, 1), 0.0)
    return done - first_create, step, n, sub["topic"].to_numpy()


def _e2e_progressions(deliveries: pd.DataFrame) -> Progressions:
    """Per delivery slice: the same values as `delivery_e2e_latencies`, as progressions."""
    n = deliveries["count"].to_numpy(dtype=np.int64)
    start = deliveries["start_ms"].to_numpy(dtype=np.float64)
    per_record = (deliveries["end_ms"].to_numpy(dtype=np.float64) - start) / np.maximum(n, 1)
    first_create = deliveries["first_create_ms"].to_numpy(dtype=np.float64)
    span = deliveries["last_create_ms"].to_numpy(dtype=np.float64) - first_create
    step = np.where(n > 1, per_record - span / np.maximum(n - 1, 1), 0.0)
    return start + per_record - first_create, step, n, deliveries["topic"].to_numpy()


def _row_percentiles(rows: Progressions, topic: str | None = None) -> list[float | None]:
    first, step, n, topics = rows
    if topic is not None:
        mask = topics == topic
        first, step, n = first[mask], step[mask], n[mask]
    return progression_percentiles(first, step, n, (50, 99))


def _split_entity(entity: pd.Series, sep: str) -> tuple[pd.Series, pd.Series]:
    parts = entity.str.rsplit(sep, n=1, expand=True)
    return parts[0].astype("str"), parts[1].astype("str")


def _last_per_time(frame: pd.DataFrame) -> pd.DataFrame:
    """One value per (entity, time): the last one recorded at that time."""
    frame = frame.assign(_row=np.arange(len(frame)))
    frame = frame.sort_values(["time_ms", "_row"], kind="stable")
    return frame.drop_duplicates(["entity", "time_ms"], keep="last").drop(columns="_row")


def consumer_lag(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Lag over time: columns owner (group, or consumer for the position fallback),
    topic_partition ('T-P'), time_ms, high_watermark, offset, lag, source ('committed' or
    'position'). One row per change point of HW or offset, from the owner's first offset on."""
    g = ensure_tables(frames)["gauges"]
    cols = ["owner", "topic_partition", "time_ms", "high_watermark", "offset", "lag", "source"]
    empty = pd.DataFrame({c: pd.Series([], dtype="float64") for c in cols}).astype(
        {"owner": "str", "topic_partition": "str", "source": "str"}
    )
    has_slash = g["entity"].str.contains("/", regex=False)
    hw = g.loc[(g["metric"] == "high_watermark") & ~has_slash]
    source = "committed"
    off = g.loc[(g["metric"] == "committed_offset") & has_slash]
    if len(off) == 0:
        source = "position"
        off = g.loc[(g["metric"] == "position") & has_slash]
    if len(off) == 0 or len(hw) == 0:
        return empty
    hw = _last_per_time(hw)
    off = _last_per_time(off)
    owner, tp = _split_entity(off["entity"], "/")
    off = pd.DataFrame(
        {
            "owner": owner.to_numpy(),
            "topic_partition": tp.to_numpy(),
            "time_ms": off["time_ms"].to_numpy(),
            "offset": off["value"].to_numpy(),
        }
    )
    hw = pd.DataFrame(
        {
            "topic_partition": hw["entity"].to_numpy(),
            "time_ms": hw["time_ms"].to_numpy(),
            "high_watermark": hw["value"].to_numpy(),
        }
    )
    first = off.groupby(["owner", "topic_partition"], as_index=False).agg(t0=("time_ms", "min"))
    hw_points = hw.merge(first, on="topic_partition")
    hw_points = hw_points.loc[hw_points["time_ms"] >= hw_points["t0"]]
    points = pd.concat(
        [
            hw_points[["owner", "topic_partition", "time_ms"]],
            off[["owner", "topic_partition", "time_ms"]],
        ],
        ignore_index=True,
    ).drop_duplicates()
    points = points.sort_values(["time_ms", "owner", "topic_partition"], kind="stable")
    merged = pd.merge_asof(
        points,
        off.sort_values("time_ms", kind="stable"),
        on="time_ms",
        by=["owner", "topic_partition"],
        direction="backward",
    )
    merged = pd.merge_asof(
        merged,
        hw.sort_values("time_ms", kind="stable"),
        on="time_ms",
        by="topic_partition",
        direction="backward",
    )
    merged = merged.dropna(subset=["offset", "high_watermark"])
    merged = merged.assign(lag=merged["high_watermark"] - merged["offset"], source=source)
    merged = merged.sort_values(["owner", "topic_partition", "time_ms"], kind="stable")
    return merged[cols].reset_index(drop=True)


def _num(x: Any) -> float:
    return float(x)


PRODUCER_CRASHED = "PRODUCER_CRASHED"  # produce.error of batches failed by their producer's crash


def _waiting_until(done: FloatArray, acked: BoolArray, failed: BoolArray) -> FloatArray:
    """Until when each batch of one group counts as waiting for an acknowledgement.

    ``done`` is each batch's outcome time (``produce.time_ms``), ``acked`` marks acknowledged
    batches and ``failed`` batches failed because of the cluster (a delivery timeout, a
    non-retriable error, retries exhausted). Acknowledged: its acknowledgement. Unfinished: the
    end of the run (its row's time). Failed because of the cluster: the group's next
    acknowledgement at or after its failure, else the group's last outcome: a failure is
    evidence that nothing could be written, until a write succeeds again. Failed by its
    producer's crash (``PRODUCER_CRASHED``): the crash, which says nothing about the cluster."""
    until = done.copy()
    if failed.any():
        acks = np.sort(done[acked])
        after = np.searchsorted(acks, done[failed], side="left")
        if len(acks):
            next_ack = acks[np.minimum(after, len(acks) - 1)]
            until[failed] = np.where(after < len(acks), next_ack, done.max())
        else:
            until[failed] = done.max()
    return until


def _longest_stall_of_group(
    created: FloatArray, done: FloatArray, acked: BoolArray, failed: BoolArray
) -> float:
    """Longest stretch of one group's time during which some of its records were waiting
    (`_waiting_until`) and none was acknowledged: the waiting intervals [first record's
    creation, waiting until] are merged into busy stretches, and each stretch is cut at every
    acknowledgement of the group; the longest piece."""
    until = _waiting_until(done, acked, failed)
    order = np.argsort(created, kind="stable")
    created, until = created[order], until[order]
    reach = np.maximum.accumulate(until)
    new_stretch = np.ones(len(created), dtype=bool)
    new_stretch[1:] = created[1:] > reach[:-1]
    heads = np.flatnonzero(new_stretch)
    starts = created[heads]
    ends = np.maximum.reduceat(until, heads)
    acks = done[acked]
    # Every cut point in time order; at equal times a start comes before an acknowledgement,
    # which comes before an end. A piece is the time from one point to the next, except from a
    # stretch's end to the next stretch's start (nothing was waiting in between).
    times = np.concatenate([starts, acks, ends])
    kinds = np.repeat(np.array([0, 1, 2], dtype=np.int8), [len(starts), len(acks), len(ends)])
    order = np.lexsort((kinds, times))
    times, kinds = times[order], kinds[order]
    pieces = np.diff(times)[kinds[:-1] != 2]
    return float(pieces.max()) if len(pieces) else 0.0


def _longest_stall(produce: pd.DataFrame, by: list[str]) -> float:
    """The longest stall of any group of ``produce`` rows (grouped by the ``by`` columns)."""
    if produce.empty:
        return 0.0
    codes = produce.groupby(by, sort=True).ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    created = produce["first_create_ms"].to_numpy(dtype=np.float64)[order]
    done = produce["time_ms"].to_numpy(dtype=np.float64)[order]
    outcome = produce["outcome"]
    acked = (outcome == "acked").to_numpy(dtype=bool)[order]
    failed = ((outcome == "failed") & (produce["error"] != PRODUCER_CRASHED)).to_numpy(dtype=bool)
    failed = failed[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    return max(
        _longest_stall_of_group(created[group], done[group], acked[group], failed[group])
        for group in np.split(np.arange(len(codes)), bounds)
    )


def produce_unavailability(produce: pd.DataFrame) -> float:
    """``max_produce_unavailability_ms``: the longest time one *partition* had records waiting
    and none acknowledged (by any producer), as producers saw it. A record waits from its
    creation to its acknowledgement; one that failed because of the cluster keeps the
    partition unavailable until the partition's next acknowledgement (or its last outcome when
    none came); one never finished waits to the end of the run. So a partition counts as
    unavailable whether its batches were retried, failed or stuck. 0.0 without batches."""
    return _longest_stall(produce, ["topic", "partition"])


def producer_stall(produce: pd.DataFrame) -> float:
    """``max_producer_stall_ms``: the longest time one *producer instance* had records waiting
    and none of its records acknowledged (on any partition), with the waiting of
    `produce_unavailability`. Catches a stalled producer writing beside a healthy one, which
    the per-partition figure hides (the healthy producer's acknowledgements end its windows).
    0.0 without batches."""
    return _longest_stall(produce, ["producer"])


def _durations(start: pd.Series, end: pd.Series) -> FloatArray:
    d = (end - start).to_numpy(dtype=np.float64)
    return d[~np.isnan(d)]


def summarize(frames: Mapping[str, pd.DataFrame], verdict: Verdict | None = None) -> dict[str, Any]:
    """Every key of `METRIC_KEYS` (in that order), then 'produce_errors.<NAME>' sorted by name.

    Pass the checker's `verdict` when already computed to avoid checking twice.
    """
    t = ensure_tables(frames)
    v = verdict if verdict is not None else check(t)
    produce = t["produce"]
    out: dict[str, Any] = {}
    counts = produce["count"].to_numpy(dtype=np.int64)
    outcome = produce["outcome"]
    out["records_sent"] = int(counts.sum())
    out["records_acked"] = int(counts[(outcome == "acked").to_numpy(dtype=bool)].sum())
    out["records_failed"] = int(counts[(outcome == "failed").to_numpy(dtype=bool)].sum())
    out["records_unfinished"] = int(counts[(outcome == "unfinished").to_numpy(dtype=bool)].sum())
    out.update(v.counts())

    el = t["elections"]
    dur = _durations(el["start_ms"], el["end_ms"])
    out["elections"] = len(el)
    out["unclean_elections"] = int((el["kind"] == "unclean").sum())
    out["max_election_ms"] = _num(dur.max()) if len(dur) else 0.0
    out["offline_partition_ms"] = _num(dur.sum())

    ce = t["controller_elections"]
    cdur = _durations(ce["start_ms"], ce["end_ms"])
    out["controller_failovers"] = len(ce)
    out["max_controller_failover_ms"] = _num(cdur.max()) if len(cdur) else 0.0

    out["max_produce_unavailability_ms"] = produce_unavailability(produce)
    out["max_producer_stall_ms"] = producer_stall(produce)

    lag = consumer_lag(t)
    out["max_consumer_lag"] = _num(lag["lag"].max()) if len(lag) else None

    # Percentiles straight from the batches (per-record values are arithmetic progressions
    # inside a batch), so memory stays proportional to batches, not records.
    produce_rows = _produce_progressions(produce)
    e2e_rows = _e2e_progressions(t["deliveries"])
    out["produce_latency_p50_ms"], out["produce_latency_p99_ms"] = _row_percentiles(produce_rows)
    out["e2e_latency_p50_ms"], out["e2e_latency_p99_ms"] = _row_percentiles(e2e_rows)

    summary = {k: out[k] for k in METRIC_KEYS}
    # Per-topic latencies, '<key>.<TOPIC>', so that scenarios comparing settings per topic
    # (acks-latency.yaml) can read and expect them.
    topics = sorted(set(produce["topic"]) | set(t["deliveries"]["topic"]))
    for topic in topics:
        if len(topics) > 1:
            per_topic = check(
                {
                    name: frame.loc[frame["topic"] == topic] if "topic" in frame.columns else frame
                    for name, frame in t.items()
                }
            )
            for key in ("lost_acked_records", "duplicated_records", "reordered_records"):
                summary[f"{key}.{topic}"] = getattr(per_topic, key)
        else:
            for key in ("lost_acked_records", "duplicated_records", "reordered_records"):
                summary[f"{key}.{topic}"] = out[key]
        p50, p99 = _row_percentiles(produce_rows, topic)
        summary[f"produce_latency_p50_ms.{topic}"] = p50
        summary[f"produce_latency_p99_ms.{topic}"] = p99
        p50, p99 = _row_percentiles(e2e_rows, topic)
        summary[f"e2e_latency_p50_ms.{topic}"] = p50
        summary[f"e2e_latency_p99_ms.{topic}"] = p99
    errors = t["produce_requests"]["error"]
    errors = errors.loc[errors != ""]
    for name, n in sorted(errors.value_counts().items(), key=lambda kv: str(kv[0])):
        summary[f"produce_errors.{name}"] = int(n)
    return summary


def _expectation_parts(e: Any) -> tuple[str, str, float]:
    if isinstance(e, tuple | list):
        key, op, value = e
    else:
        key, op, value = e.key, e.op, e.value
    return str(key), str(op), value


def evaluate_expectations(
    summary: Mapping[str, Any], expectations: Iterable[Any]
) -> list[dict[str, Any]]:
    """Check `expect:` entries, given as (key, op, value) tuples or objects with key/op/value.

    A 'produce_errors.<NAME>' key absent from the summary counts 0; any other absent key, or an
    undefined value (None, NaN: e.g. a latency without records), fails.
    """
    results: list[dict[str, Any]] = []
    for e in expectations:
        key, op, expected = _expectation_parts(e)
        if op not in _OPS:
            raise ValueError(f"unknown operator {op!r} for {key}; use one of {', '.join(_OPS)}")
        actual = summary.get(key)
        if actual is None and key.startswith("produce_errors.") and key not in summary:
            actual = 0
        defined = actual is not None and not (isinstance(actual, float) and math.isnan(actual))
        ok = bool(_OPS[op](actual, expected)) if defined else False
        results.append({"key": key, "op": op, "expected": expected, "actual": actual, "ok": ok})
    return results
