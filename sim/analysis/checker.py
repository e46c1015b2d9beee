"""History checker: judges a run from its recorded tables only (Maelstrom/Jepsen style).

Identity of a record: (producer instance, topic, partition, origin seq). Tables used: produce
(what producers were told), log (the final leader's log after heal and drain), deliveries (what
applications processed) and positions (where consumers started and where auto.offset.reset moved
them). Anomalies, counted in records (see kafka-semantics.md §7):

- lost_acked_records: acknowledged with acks=1 or acks=all (produce outcome 'acked') but absent
  from the final log (A1 acks=1 failover, A2 unclean election, A3 HW truncation). acks=0 records
  are never "lost": Kafka promised nothing for them.
- duplicated_records: extra copies of an identity in the final log (A4 retries without
  idempotence).
- reordered_records: per (producer, topic, partition), walking the log in offset order, records
  whose seq is below the highest seq seen earlier and which are their identity's first
  occurrence (A5 max.in.flight > 1 without idempotence). A retried duplicate is a duplicate,
  not a reorder.
- records_consumed: distinct identities in deliveries (any group or consumer); not an anomaly.
- duplicate_deliveries: per reader (a group; a consumer without group.id is a reader on its own),
  extra deliveries of an identity (A6 late commit + rebalance).
- unconsumed_records: per reader of a topic-partition (seen in positions or deliveries for it),
  records of the final log below the final HW (log.committed) at offsets >= the reader's first
  'init' position that it never processed (A7 commit before processing).
- skipped_records: records jumped over by auto.offset.reset (positions kind 'reset':
  new_position - old_position when positive).

Simplifications: the log table must hold one replica per partition (the final leader's), rows
without a workload identity (producer '' or seq_start < 0) are ignored, and a reader with no
'init' position starts at its earliest position row, else at its lowest delivered offset.
All counting is done on ranges (`sim.analysis.ranges`), at the cost of rows, not records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.ranges import IntervalUnion, examples, factorize, sweep
from sim.analysis.recorder import ensure_tables

__all__ = ["ANOMALIES", "EXAMPLE_LIMIT", "Verdict", "check"]

EXAMPLE_LIMIT = 20

ANOMALIES: tuple[str, ...] = (
    "lost_acked_records",
    "duplicated_records",
    "reordered_records",
    "duplicate_deliveries",
    "unconsumed_records",
    "skipped_records",
)

_ID = ["producer", "topic", "partition"]
_READER = ["group", "consumer"]


@dataclass
class Verdict:
    """Checker result: record counts per anomaly and up to 20 example ranges each.

    An example is a dict with the identity key (producer, topic, partition), seq_start, seq_end
    (exclusive) and count; reader-based anomalies add group and consumer (consumer is '' for a
    group), skipped_records examples are the reset rows themselves.
    """

    lost_acked_records: int = 0
    duplicated_records: int = 0
    reordered_records: int = 0
    records_consumed: int = 0
    duplicate_deliveries: int = 0
    unconsumed_records: int = 0
    skipped_records: int = 0
    examples: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in ANOMALIES}
    )

    @property
    def ok(self) -> bool:
        """True when no anomaly was found."""
        return all(getattr(self, name) == 0 for name in ANOMALIES)

    def counts(self) -> dict[str, int]:
        """Every count, records_consumed included."""
        d = asdict(self)
        d.pop("examples")
        return {k: int(v) for k, v in d.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the counts, `ok`, and `examples`."""
        out: dict[str, Any] = dict(self.counts())
        out["ok"] = self.ok
        out["examples"] = {k: [dict(e) for e in v] for k, v in self.examples.items()}
        return out


def check(frames: Mapping[str, pd.DataFrame]) -> Verdict:
    """Judge one run from its tables (frames of a single run; missing tables count as empty)."""
    t = ensure_tables(frames)
    v = Verdict()
    log = _with_identity(t["log"])
    _log_anomalies(_not_expired(t["produce"], t["partitions"]), log, v)
    _delivery_anomalies(log, t["deliveries"], t["positions"], v)
    _skipped(t["positions"], v)
    return v


def _not_expired(produce: pd.DataFrame, partitions: pd.DataFrame) -> pd.DataFrame:
    """Produce rows minus batches that retention deleted: those acknowledged at offsets below
    the final leader's log start offset are gone by design (retention.ms / retention.bytes),
    not lost."""
    leaders = partitions.loc[
        partitions["role"] == "leader", ["topic", "partition", "log_start_offset"]
    ]
    if leaders.empty or produce.empty:
        return produce
    merged = produce.merge(leaders, on=["topic", "partition"], how="left", sort=False)
    start = merged["log_start_offset"].fillna(0).to_numpy(dtype=np.int64)
    base = merged["base_offset"].to_numpy(dtype=np.int64)
    end = base + merged["count"].to_numpy(dtype=np.int64)
    expired = (base >= 0) & (end <= start)
    return produce.loc[~expired].reset_index(drop=True)


def _with_identity(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows that carry a workload identity and at least one record."""
    ok = (frame["producer"] != "") & (frame["seq_start"] >= 0) & (frame["count"] > 0)
    return frame.loc[ok].reset_index(drop=True)


def _ends(frame: pd.DataFrame) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    start = frame["seq_start"].to_numpy(dtype=np.int64)
    return start, start + frame["count"].to_numpy(dtype=np.int64)


def _log_anomalies(produce: pd.DataFrame, log: pd.DataFrame, v: Verdict) -> None:
    acked = _with_identity(
        produce.loc[(produce["outcome"] == "acked") & produce["acks"].isin(["1", "all"])]
    )
    (c_acked, c_log), keys = factorize([acked, log], _ID)
    a_s, a_e = _ends(acked)
    l_s, l_e = _ends(log)
    seg = sweep([(c_acked, a_s, a_e), (c_log, l_s, l_e)])
    d_acked, d_log = seg.depth[0], seg.depth[1]

    lost = (d_acked > 0) & (d_log == 0)
    v.lost_acked_records = seg.total(lost)
    v.examples["lost_acked_records"] = examples(seg, lost, keys, EXAMPLE_LIMIT)

    dup = d_log > 1
    extra = np.maximum(d_log - 1, 0)
    v.duplicated_records = int((seg.length * extra).sum())
    v.examples["duplicated_records"] = examples(seg, dup, keys, EXAMPLE_LIMIT, weight=extra)

    nkeys = len(keys)
    distinct = seg.per_key(seg.length * (d_log > 0), nkeys)
    copies = np.bincount(c_log, weights=l_e - l_s, minlength=nkeys).astype(np.int64)
    _reordered(log, c_log, keys, distinct, copies, v)


def _reordered(
    log: pd.DataFrame,
    codes: np.ndarray[Any, Any],
    keys: pd.DataFrame,
    distinct: np.ndarray[Any, Any],
    copies: np.ndarray[Any, Any],
    v: Verdict,
) -> None:
    """Reordered records per key = distinct records - records above every earlier seq.

    Walking a key's batches in offset order, let M_j be the highest seq in batches before j.
    Records of batch j with seq > M_j are first occurrences and in order; every identity has
    exactly one first occurrence; so the first occurrences that are reordered number
    distinct - sum_j |{seq in batch j: seq > M_j}|. Exact, and one groupby cummax.
    """
    if len(log) == 0:
        return
    start = log["seq_start"].to_numpy(dtype=np.int64)
    end = start + log["count"].to_numpy(dtype=np.int64)
    order = np.lexsort((np.arange(len(log)), log["base_offset"].to_numpy(dtype=np.int64), codes))
    k, s, e = codes[order], start[order], end[order]
    last = pd.Series(e - 1)
    highest = last.groupby(k).cummax()
    prev = highest.groupby(k).shift(1).to_numpy(dtype=np.float64, na_value=np.nan)
    first_new = np.where(np.isnan(prev), s, np.maximum(s, np.nan_to_num(prev, nan=0) + 1))
    above = np.maximum(e - first_new.astype(np.int64), 0)
    v.reordered_records = int(distinct.sum() - above.sum())
    if v.reordered_records == 0:
        return
    # Examples: batches holding records below M_j. Where a key has no duplicates every such
    # record is a first occurrence; otherwise replay that key's batches with an interval union.
    below_end = np.minimum(e, first_new.astype(np.int64))
    candidates = np.flatnonzero(below_end > s)
    out: list[dict[str, Any]] = []
    unions: dict[int, tuple[IntervalUnion, int]] = {}
    for j in candidates:
        key = int(k[j])
        if copies[key] == distinct[key]:
            pieces = [(int(s[j]), int(below_end[j]))]
        else:
            union, done = unions.get(key, (IntervalUnion(), int(np.searchsorted(k, key))))
            for i in range(done, j):
                union.add(int(s[i]), int(e[i]))
            pieces = union.uncovered(int(s[j]), int(below_end[j]))
            union.add(int(s[j]), int(e[j]))
            unions[key] = (union, int(j) + 1)
        base = int(log["base_offset"].iloc[order[j]])
        for ps, pe in pieces:
            row = {c: _py(keys.iloc[key][c]) for c in _ID}
            row.update(
                seq_start=ps,
                seq_end=pe,
                count=pe - ps,
                base_offset=base + ps - int(s[j]),
                highest_seq_before=int(first_new[j]) - 1,
            )
            out.append(row)
        if len(out) >= EXAMPLE_LIMIT:
            break
    v.examples["reordered_records"] = out[:EXAMPLE_LIMIT]


def _readers(frame: pd.DataFrame) -> pd.DataFrame:
    """Reader columns: (group, '') for a group member, ('', consumer) for a standalone consumer."""
    out = frame.copy()
    out["consumer"] = out["consumer"].where(out["group"] == "", "")
    return out


def _delivery_anomalies(
    log: pd.DataFrame, deliveries: pd.DataFrame, positions: pd.DataFrame, v: Verdict
) -> None:
    dl = _with_identity(deliveries)
    (c_any,), _ = factorize([dl], _ID)
    s, e = _ends(dl)
    seg_any = sweep([(c_any, s, e)])
    v.records_consumed = seg_any.total(seg_any.depth[0] > 0)

    rd = _readers(dl)
    (c_rd,), rkeys = factorize([rd], _READER + _ID)
    seg = sweep([(c_rd, s, e)])
    extra = np.maximum(seg.depth[0] - 1, 0)
    v.duplicate_deliveries = int((seg.length * extra).sum())
    v.examples["duplicate_deliveries"] = examples(
        seg, seg.depth[0] > 1, rkeys, EXAMPLE_LIMIT, weight=extra
    )
    _unconsumed(log, rd, _readers(positions), v)


def _reader_starts(rd: pd.DataFrame, pos: pd.DataFrame) -> pd.DataFrame:
    """First position of each reader per topic-partition (see module docstring)."""
    tp_cols = [*_READER, "topic", "partition"]
    pos = pos.assign(_init=(pos["kind"] != "init").astype(np.int64), _row=np.arange(len(pos)))
    pos = pos.sort_values(["_init", "time_ms", "_row"], kind="stable")
    from_pos = pos.drop_duplicates(tp_cols)[[*tp_cols, "new_position"]]
    from_pos = from_pos.rename(columns={"new_position": "start"})
    from_dl = rd.sort_values("base_offset", kind="stable").drop_duplicates(tp_cols)
    from_dl = from_dl[[*tp_cols, "base_offset"]].rename(columns={"base_offset": "start"})
    both = pd.concat([from_pos, from_dl], ignore_index=True)
    return both.drop_duplicates(tp_cols, keep="first").reset_index(drop=True)


def _unconsumed(log: pd.DataFrame, rd: pd.DataFrame, pos: pd.DataFrame, v: Verdict) -> None:
    if len(rd) == 0 and len(pos) == 0:
        return
    starts = _reader_starts(rd, pos)
    committed = log.loc[
        log["committed"], ["topic", "partition", "base_offset", "count", "producer", "seq_start"]
    ]
    todo = committed.merge(starts, on=["topic", "partition"], how="inner")
    if len(todo) == 0:
        return
    base = todo["base_offset"].to_numpy(dtype=np.int64)
    count = todo["count"].to_numpy(dtype=np.int64)
    start = todo["start"].to_numpy(dtype=np.int64)
    skip = np.clip(start - base, 0, None)
    keep = skip < count
    todo = todo.loc[keep].reset_index(drop=True)
    seq0 = todo["seq_start"].to_numpy(dtype=np.int64) + skip[keep]
    seq1 = todo["seq_start"].to_numpy(dtype=np.int64) + count[keep]
    (c_log, c_dl), keys = factorize([todo, rd], _READER + _ID)
    d_s, d_e = _ends(rd)
    seg = sweep([(c_log, seq0, seq1), (c_dl, d_s, d_e)])
    miss = (seg.depth[0] > 0) & (seg.depth[1] == 0)
    v.unconsumed_records = seg.total(miss)
    v.examples["unconsumed_records"] = examples(seg, miss, keys, EXAMPLE_LIMIT)


def _skipped(positions: pd.DataFrame, v: Verdict) -> None:
    resets = positions.loc[(positions["kind"] == "reset") & (positions["old_position"] >= 0)]
    jump = (resets["new_position"] - resets["old_position"]).clip(lower=0)
    v.skipped_records = int(jump.sum())
    rows = resets.loc[jump > 0].head(EXAMPLE_LIMIT)
    cols = [
        "time_ms",
        "group",
        "consumer",
        "topic",
        "partition",
        "old_position",
        "new_position",
        "reason",
    ]
    v.examples["skipped_records"] = [
        {**{c: _py(r[c]) for c in cols}, "count": int(r["new_position"] - r["old_position"])}
        for _, r in rows.iterrows()
    ]


def _py(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
