"""Recorder: the simulator's history, one immutable row per event, turned into tidy DataFrames.

Every actor of a run writes what it did and saw into named tables (contract C). A row is a plain
tuple in the column order of `TABLES`; `Recorder.table(name)` hands out the bound `list.append` of
that table's row list, so recording costs one C call per row and nothing is validated on the hot
path. `Recorder.frames()` converts every table, once, at the end of the run, into a
`pandas.DataFrame` with fixed dtypes (int64 offsets/counts/ids, float64 simulated times in ms,
bool flags, pandas `str` for names) and prepends the columns run_id, seed and scenario, so frames
of many runs concatenate into one long table (Mesa `batch_run` style).

Tables (columns in `TABLES`): produce (one row per producer batch, final outcome),
produce_requests (one row per ProduceRequest attempt), appends (leader and follower log appends),
log (final leader's log after the drain, one row per batch), partitions (final replica state),
deliveries (one row per poll and batch slice handed to the application), commits, positions
(consumer position initialisations and auto.offset.reset jumps), gauges (levels on change: HW, LEO,
log start offset, ISR size, committed offset, consumer position; with the id of the broker that
recorded the row, -1 for clients), events, elections (partition leader elections) and
controller_elections.

Identity of a record: (origin producer instance, topic, partition, origin_seq). Kafka batches carry
only baseTimestamp and maxTimestamp, so per-record times inside a batch are interpolated linearly
between first_create_ms and last_create_ms by the analysis (see metrics).

`ensure_tables(frames)` gives the same schema to frames read back from parquet or built partially
(by tests): missing tables become empty typed frames, columns are cast to the contract dtypes.
`OPTIONAL_COLUMNS` are trailing columns a row may leave out and an older folder may lack (they
take their default value).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "COLUMN_DTYPES",
    "META_COLUMNS",
    "OPTIONAL_COLUMNS",
    "TABLES",
    "Recorder",
    "empty_frame",
    "ensure_tables",
]

Row = tuple[Any, ...]

TABLES: dict[str, tuple[str, ...]] = {
    "produce": (
        "time_ms",
        "producer",
        "topic",
        "partition",
        "batch_id",
        "seq_start",
        "count",
        "bytes",
        "first_create_ms",
        "last_create_ms",
        "acks",
        "outcome",
        "error",
        "base_offset",
        "attempts",
    ),
    "produce_requests": (
        "send_ms",
        "response_ms",
        "producer",
        "broker",
        "topic",
        "partition",
        "batch_id",
        "attempt",
        "error",
        "request_id",
    ),
    "appends": (
        "time_ms",
        "broker",
        "topic",
        "partition",
        "base_offset",
        "count",
        "leader_epoch",
        "producer",
        "seq_start",
        "role",
    ),
    "log": (
        "topic",
        "partition",
        "broker",
        "base_offset",
        "count",
        "leader_epoch",
        "producer",
        "seq_start",
        "first_create_ms",
        "last_create_ms",
        "committed",
    ),
    "partitions": (
        "topic",
        "partition",
        "broker",
        "role",
        "leader_epoch",
        "log_start_offset",
        "high_watermark",
        "log_end_offset",
        "isr",
    ),
    "deliveries": (
        "time_ms",
        "group",
        "consumer",
        "topic",
        "partition",
        "base_offset",
        "count",
        "producer",
        "seq_start",
        "first_create_ms",
        "last_create_ms",
        "start_ms",
        "end_ms",
    ),
    "commits": (
        "time_ms",
        "group",
        "consumer",
        "topic",
        "partition",
        "offset",
        "kind",
        "ok",
        "error",
    ),
    "positions": (
        "time_ms",
        "group",
        "consumer",
        "topic",
        "partition",
        "kind",
        "old_position",
        "new_position",
        "reason",
    ),
    "gauges": ("time_ms", "entity", "metric", "value", "broker"),
    "events": ("time_ms", "entity", "kind", "detail"),
    "elections": (
        "time_ms",
        "topic",
        "partition",
        "start_ms",
        "end_ms",
        "old_leader",
        "new_leader",
        "leader_epoch",
        "kind",
        "cause",
    ),
    "controller_elections": (
        "time_ms",
        "start_ms",
        "end_ms",
        "old_controller",
        "new_controller",
        "epoch",
        "coordinator",
    ),
}

META_COLUMNS: tuple[str, ...] = ("run_id", "seed", "scenario")

# Trailing columns a row may leave out (the value used then), and that a table read from an
# older results folder may lack: gauges.broker came after the first results folders.
OPTIONAL_COLUMNS: dict[str, dict[str, Any]] = {"gauges": {"broker": -1}}

_F, _I, _B, _S = "float64", "int64", "bool", "str"

# One dtype per column name: a name means the same thing in every table. Broker, leader and
# controller ids are Kafka node ids (int, -1 = none); gauge values are float64 (exact for
# offsets below 2**53).
COLUMN_DTYPES: dict[str, str] = {
    "run_id": _S,
    "seed": _I,
    "scenario": _S,
    "time_ms": _F,
    "send_ms": _F,
    "response_ms": _F,
    "first_create_ms": _F,
    "last_create_ms": _F,
    "start_ms": _F,
    "end_ms": _F,
    "value": _F,
    "partition": _I,
    "batch_id": _I,
    "seq_start": _I,
    "count": _I,
    "bytes": _I,
    "base_offset": _I,
    "attempts": _I,
    "attempt": _I,
    "request_id": _I,
    "broker": _I,
    "leader_epoch": _I,
    "log_start_offset": _I,
    "high_watermark": _I,
    "log_end_offset": _I,
    "offset": _I,
    "old_position": _I,
    "new_position": _I,
    "old_leader": _I,
    "new_leader": _I,
    "old_controller": _I,
    "new_controller": _I,
    "epoch": _I,
    "committed": _B,
    "ok": _B,
    "producer": _S,
    "topic": _S,
    "acks": _S,
    "outcome": _S,
    "error": _S,
    "role": _S,
    "isr": _S,
    "group": _S,
    "consumer": _S,
    "kind": _S,
    "reason": _S,
    "entity": _S,
    "metric": _S,
    "detail": _S,
    "cause": _S,
    "coordinator": _S,
}


def _column(values: np.ndarray[Any, Any], dtype: str) -> Any:
    """One object column as a numpy array (numbers, bools) or a pandas string array.

    None becomes NaN in float columns and '' in string columns.
    """
    if dtype == _S:
        return pd.Series(values, dtype="str").fillna("").array
    try:
        return values.astype(np.dtype(dtype))
    except TypeError:  # None in a float column: let numpy map it to NaN
        return np.asarray(values.tolist(), dtype=np.dtype(dtype))


def _pad(rows: list[Row], width: int, defaults: tuple[Any, ...]) -> list[Row]:
    """Rows that leave out trailing optional columns, completed with their defaults (rows of
    any other length are returned unchanged, to be reported)."""
    short = width - len(defaults)
    out = [r + defaults[len(r) - short :] if short <= len(r) < width else r for r in rows]
    return out if all(len(r) == width for r in out) else rows


def empty_frame(name: str, with_meta: bool = True) -> pd.DataFrame:
    """An empty DataFrame with the columns and dtypes of table `name`."""
    cols = (META_COLUMNS if with_meta else ()) + TABLES[name]
    return pd.DataFrame({c: pd.Series([], dtype=COLUMN_DTYPES[c]) for c in cols})


def _cast(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast known columns to the contract dtypes (strings keep '' for missing values)."""
    todo = [
        (col, dtype)
        for col in frame.columns
        if (dtype := COLUMN_DTYPES.get(str(col))) is not None and str(frame[col].dtype) != dtype
    ]
    if not todo:
        return frame
    out = frame.copy()
    for col, dtype in todo:
        if dtype == _S:
            out[col] = out[col].fillna("").astype("str")
        else:
            out[col] = out[col].astype(np.dtype(dtype))
    return out


def ensure_tables(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every table of `TABLES` present, with its columns and contract dtypes.

    Missing tables become empty frames; missing columns of a present table are an error (a
    table without its columns cannot be analysed). Extra tables and columns are kept.
    """
    out: dict[str, pd.DataFrame] = {}
    for name, cols in TABLES.items():
        frame = frames.get(name)
        if frame is None:
            out[name] = empty_frame(name)
            continue
        optional = OPTIONAL_COLUMNS.get(name, {})
        absent = {c: v for c, v in optional.items() if c not in frame.columns}
        if absent:
            frame = frame.assign(**{c: np.full(len(frame), v) for c, v in absent.items()})
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"table {name!r} lacks columns {missing}")
        out[name] = _cast(frame)
    for name, frame in frames.items():
        out.setdefault(name, frame)
    return out


class Recorder:
    """Row buffers for every table of one run; see the module docstring."""

    def __init__(self, run_id: str, seed: int, scenario: str) -> None:
        self.run_id = run_id
        self.seed = seed
        self.scenario = scenario
        self._rows: dict[str, list[Row]] = {name: [] for name in TABLES}
        self._chunks: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}

    def table(self, name: str) -> Callable[[Row], None]:
        """The bound `append` of table `name`'s row list: `add(row_tuple)`, no validation."""
        try:
            return self._rows[name].append
        except KeyError:
            raise KeyError(f"unknown table {name!r}; tables: {', '.join(TABLES)}") from None

    def rows(self, name: str) -> list[Row]:
        """The rows recorded so far in table `name` (the live list; do not mutate)."""
        return self._rows[name]

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every table as a DataFrame with contract dtypes and run_id/seed/scenario prepended."""
        return {name: self._frame(name) for name in TABLES}

    def compact(self, min_rows: int = 20_000) -> None:
        """Move the buffered rows of every table holding at least ``min_rows`` into a typed
        columnar chunk. Rows as Python tuples cost about 400 bytes each, columns about 10 per
        value, so a runner that compacts every simulated second keeps a long run's memory
        proportional to its batches in columns, not in tuples. The append functions handed out
        by ``table`` stay valid (the lists are cleared in place)."""
        for name, rows in self._rows.items():
            if len(rows) >= min_rows:
                self._chunks[name].append(self._columns(name, rows))
                rows.clear()

    def _frame(self, name: str) -> pd.DataFrame:
        parts = list(self._chunks[name])
        if self._rows[name]:
            parts.append(self._columns(name, self._rows[name]))
        if not parts:
            return empty_frame(name)
        body = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        n = len(body)
        meta = pd.DataFrame(
            {
                "run_id": pd.array([self.run_id] * n, dtype="str"),
                "seed": np.full(n, self.seed, dtype=np.int64),
                "scenario": pd.array([self.scenario] * n, dtype="str"),
            }
        )
        return pd.concat([meta, body], axis=1)

    def _columns(self, name: str, rows: list[Row]) -> pd.DataFrame:
        """The rows of table ``name`` as typed columns (no run_id/seed/scenario)."""
        cols = TABLES[name]
        try:
            table = np.array(rows, dtype=object)
        except ValueError:
            table = np.empty(0, dtype=object)  # ragged rows: padded below, or reported
        if (table.ndim != 2 or table.shape[1] != len(cols)) and name in OPTIONAL_COLUMNS:
            rows = _pad(rows, len(cols), tuple(OPTIONAL_COLUMNS[name].values()))
            table = np.array(rows, dtype=object) if rows else table
        if table.ndim != 2 or table.shape[1] != len(cols):
            bad = next((r for r in rows if len(r) != len(cols)), rows[0])
            raise ValueError(
                f"table {name!r}: row {bad!r} has {len(bad)} values, expected {len(cols)} "
                f"({', '.join(cols)})"
            )
        data: dict[str, Any] = {}
        for j, col in enumerate(cols):
            try:
                data[col] = _column(table[:, j], COLUMN_DTYPES[col])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"table {name!r} column {col!r}: {exc}") from None
        return pd.DataFrame(data)
