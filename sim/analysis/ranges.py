"""Interval arithmetic over record identities, in numpy, at the cost of rows (batches), not records.

A batch of `count` records from one producer instance to one partition covers the half-open
sequence range [seq_start, seq_start + count) of that (producer, topic, partition) key: the
identity of a record is (producer, topic, partition, origin_seq). Every table that talks about
records (produce, log, deliveries) therefore holds *ranges*, and every question of the checker
(acknowledged but absent? present twice? delivered?) is a question about how several families of
ranges overlap.

`sweep` answers all of them at once with a sweep line: each range becomes two events (+1 at its
start, -1 at its end) in the family it belongs to; the events are sorted by (key, position) and a
cumulative sum gives, for every elementary segment between two consecutive event positions of a
key, how many ranges of each family cover it (its *depth*). Counting records then means summing
segment lengths under a mask, e.g. lost = length where depth(acked) > 0 and depth(log) == 0, and
extra copies = sum of (depth - 1) * length where depth > 1. Everything is O(rows log rows).

`factorize` turns the key columns of several frames into one shared int64 code per key, so the
sweep works on integers; `examples` turns the first masked segments back into readable ranges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["IntervalUnion", "Segments", "examples", "factorize", "sweep"]

IntArray = np.ndarray[Any, np.dtype[Any]]  # int64 values


def factorize(
    frames: Sequence[pd.DataFrame], cols: Sequence[str]
) -> tuple[list[IntArray], pd.DataFrame]:
    """One int64 code per distinct key (tuple of `cols`) shared by all `frames`.

    Returns the codes of each frame's rows and the table of keys (row i = key of code i), in
    sorted key order so that results come out in a deterministic, readable order.
    """
    cols = list(cols)
    parts = [f[cols] for f in frames]
    combined = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    if len(combined) == 0:
        return [np.zeros(0, dtype=np.int64) for _ in frames], combined.iloc[0:0][cols]
    codes = combined.groupby(cols, sort=True, dropna=False).ngroup().to_numpy(dtype=np.int64)
    keys = (
        combined.assign(_code=codes)
        .drop_duplicates("_code")
        .sort_values("_code")
        .drop(columns="_code")
        .reset_index(drop=True)
    )
    out: list[IntArray] = []
    pos = 0
    for part in parts:
        out.append(codes[pos : pos + len(part)])
        pos += len(part)
    return out, keys


@dataclass(frozen=True)
class Segments:
    """Elementary segments [start, end) of each key with the depth of every range family.

    `depth[k, i]` = number of ranges of family k covering segment i. Segments of zero length
    and gaps covered by no family are included only as far as they separate covered parts.
    """

    key: IntArray
    start: IntArray
    end: IntArray
    depth: IntArray

    @property
    def length(self) -> IntArray:
        return self.end - self.start

    def total(self, mask: np.ndarray[Any, np.dtype[np.bool_]]) -> int:
        """Number of records in the segments selected by `mask`."""
        return int(self.length[mask].sum())

    def per_key(self, weights: np.ndarray[Any, Any], nkeys: int) -> IntArray:
        """Sum of `weights` (one per segment) for each key code 0..nkeys-1."""
        return np.bincount(self.key, weights=weights, minlength=nkeys).astype(np.int64)


def sweep(families: Sequence[tuple[IntArray, IntArray, IntArray]]) -> Segments:
    """Overlay families of ranges; each family is (key codes, starts, ends) arrays.

    Ranges with end <= start are ignored.
    """
    nfam = len(families)
    keys, pos, fam, delta = [], [], [], []
    for k, (key, start, end) in enumerate(families):
        key = np.asarray(key, dtype=np.int64)
        start = np.asarray(start, dtype=np.int64)
        end = np.asarray(end, dtype=np.int64)
        ok = end > start
        key, start, end = key[ok], start[ok], end[ok]
        n = len(key)
        keys += [key, key]
        pos += [start, end]
        fam.append(np.full(2 * n, k, dtype=np.int64))
        delta += [np.ones(n, dtype=np.int64), -np.ones(n, dtype=np.int64)]
    if not keys or sum(len(k) for k in keys) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Segments(empty, empty, empty, np.zeros((nfam, 0), dtype=np.int64))
    key_all = np.concatenate(keys)
    pos_all = np.concatenate(pos)
    fam_all = np.concatenate(fam)
    delta_all = np.concatenate(delta)
    order = np.lexsort((pos_all, key_all))
    key_s, pos_s = key_all[order], pos_all[order]
    steps = np.zeros((nfam, len(order)), dtype=np.int64)
    steps[fam_all[order], np.arange(len(order))] = delta_all[order]
    depth = np.cumsum(steps, axis=1)
    # Segment i = [pos_s[i], pos_s[i+1]) with the depth after event i, within one key.
    same = key_s[:-1] == key_s[1:]
    seg_start, seg_end = pos_s[:-1], pos_s[1:]
    keep = same & (seg_end > seg_start)
    return Segments(
        key=key_s[:-1][keep],
        start=seg_start[keep],
        end=seg_end[keep],
        depth=depth[:, :-1][:, keep],
    )


def examples(
    seg: Segments,
    mask: np.ndarray[Any, np.dtype[np.bool_]],
    keys: pd.DataFrame,
    limit: int = 20,
    weight: np.ndarray[Any, Any] | None = None,
) -> list[dict[str, Any]]:
    """The first `limit` maximal runs of masked segments as dicts: key columns, seq_start,
    seq_end (exclusive) and count (records, times `weight` per segment when given, e.g. the
    number of extra copies)."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0 or limit <= 0:
        return []
    k, s, e = seg.key[idx], seg.start[idx], seg.end[idx]
    w = (e - s) if weight is None else (e - s) * np.asarray(weight)[idx]
    # A new run starts where the key changes or the previous run does not touch this segment.
    new = np.ones(len(idx), dtype=bool)
    new[1:] = (k[1:] != k[:-1]) | (s[1:] != e[:-1])
    run_id = np.cumsum(new) - 1
    starts = np.flatnonzero(new)[:limit]
    nruns = len(starts)
    run_end = np.zeros(nruns, dtype=np.int64)
    run_count = np.zeros(nruns, dtype=np.int64)
    sel = run_id < nruns
    np.maximum.at(run_end, run_id[sel], e[sel])
    np.add.at(run_count, run_id[sel], w[sel])
    out: list[dict[str, Any]] = []
    for r, i in enumerate(starts):
        row = {str(c): _py(v) for c, v in keys.iloc[int(k[i])].items()}
        row.update(seq_start=int(s[i]), seq_end=int(run_end[r]), count=int(run_count[r]))
        out.append(row)
    return out


def _py(value: Any) -> Any:
    """A JSON-able Python scalar from a numpy/pandas scalar."""
    if isinstance(value, np.generic):
        return value.item()
    return value


class IntervalUnion:
    """A growing union of half-open integer ranges, for the few places that need it online."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def uncovered(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of [start, end) not yet in the union."""
        out: list[tuple[int, int]] = []
        cur = start
        for s, e in zip(self._starts, self._ends, strict=True):
            if e <= cur:
                continue
            if s >= end:
                break
            if s > cur:
                out.append((cur, s))
            cur = max(cur, e)
            if cur >= end:
                break
        if cur < end:
            out.append((cur, end))
        return out

    def add(self, start: int, end: int) -> None:
        """Add [start, end) to the union (merging touching ranges)."""
        if end <= start:
            return
        starts, ends = [], []
        placed = False
        for s, e in zip(self._starts, self._ends, strict=True):
            if e < start or s > end:
                if s > end and not placed:
                    starts.append(start)
                    ends.append(end)
                    placed = True
                starts.append(s)
                ends.append(e)
            else:
                start, end = min(s, start), max(e, end)
        if not placed:
            starts.append(start)
            ends.append(end)
        self._starts, self._ends = starts, ends
