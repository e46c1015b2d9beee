"""Recorder: table schema of contract C, hot-path appends, typed frames, empty tables."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from sim.analysis.recorder import COLUMN_DTYPES, META_COLUMNS, TABLES, Recorder, ensure_tables

CONTRACT_COLUMNS = {
    "produce": "time_ms, producer, topic, partition, batch_id, seq_start, count, bytes, "
    "first_create_ms, last_create_ms, acks, outcome, error, base_offset, attempts",
    "produce_requests": "send_ms, response_ms, producer, broker, topic, partition, batch_id, "
    "attempt, error, request_id",
    "appends": "time_ms, broker, topic, partition, base_offset, count, leader_epoch, producer, "
    "seq_start, role",
    "log": "topic, partition, broker, base_offset, count, leader_epoch, producer, seq_start, "
    "first_create_ms, last_create_ms, committed",
    "partitions": "topic, partition, broker, role, leader_epoch, log_start_offset, "
    "high_watermark, log_end_offset, isr",
    "deliveries": "time_ms, group, consumer, topic, partition, base_offset, count, producer, "
    "seq_start, first_create_ms, last_create_ms, start_ms, end_ms",
    "commits": "time_ms, group, consumer, topic, partition, offset, kind, ok, error",
    "positions": "time_ms, group, consumer, topic, partition, kind, old_position, new_position, "
    "reason",
    "gauges": "time_ms, entity, metric, value, broker",
    "events": "time_ms, entity, kind, detail",
    "elections": "time_ms, topic, partition, start_ms, end_ms, old_leader, new_leader, "
    "leader_epoch, kind, cause",
    "controller_elections": "time_ms, start_ms, end_ms, old_controller, new_controller, epoch, "
    "coordinator",
}


def test_tables_match_contract_c() -> None:
    assert list(TABLES) == list(CONTRACT_COLUMNS)
    for name, cols in CONTRACT_COLUMNS.items():
        assert TABLES[name] == tuple(c.strip() for c in cols.split(",")), name
    for cols in TABLES.values():
        assert all(c in COLUMN_DTYPES for c in cols)


def test_table_returns_bound_append() -> None:
    rec = Recorder("run-1", 42, "demo")
    add = rec.table("events")
    add((1.5, "broker-0", "start", ""))
    add((2.0, "broker-1", "crash", "power"))
    assert rec.rows("events") == [
        (1.5, "broker-0", "start", ""),
        (2.0, "broker-1", "crash", "power"),
    ]
    assert rec.table("events").__self__ is rec.rows("events")  # type: ignore[attr-defined]


def test_unknown_table_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="unknown table 'produc'"):
        Recorder("r", 1, "s").table("produc")


def test_frames_have_every_table_typed_and_meta_columns() -> None:
    rec = Recorder("run-7", 7, "acks1")
    rec.table("produce")(
        (10.0, "p-0", "orders", 2, 1, 0, 5, 500, 1.0, 3.0, "all", "acked", "", 40, 1)
    )
    rec.table("produce_requests")(
        (4.0, float("nan"), "p-0", 1, "orders", 2, 1, 1, "REQUEST_TIMEOUT", 1)
    )
    rec.table("log")(("orders", 2, 1, 40, 5, 3, "p-0", 0, 1.0, 3.0, True))
    rec.table("gauges")((0.0, "orders-2", "high_watermark", 45))
    frames = rec.frames()
    assert set(frames) == set(TABLES)
    for name, frame in frames.items():
        assert tuple(frame.columns) == META_COLUMNS + TABLES[name]
        for col in frame.columns:
            assert str(frame[col].dtype) == COLUMN_DTYPES[col], (name, col)
    produce = frames["produce"]
    assert produce.loc[0, "run_id"] == "run-7"
    assert produce.loc[0, "seed"] == 7
    assert produce.loc[0, "scenario"] == "acks1"
    assert produce.loc[0, "base_offset"] == 40
    assert math.isnan(frames["produce_requests"].loc[0, "response_ms"])
    assert bool(frames["log"].loc[0, "committed"]) is True
    assert frames["gauges"].loc[0, "value"] == 45.0
    assert len(frames["deliveries"]) == 0


def test_wrong_row_length_is_reported_at_frames_time() -> None:
    rec = Recorder("r", 1, "s")
    rec.table("events")((1.0, "x", "y"))
    with pytest.raises(ValueError, match="expected 4"):
        rec.frames()


def test_optional_trailing_columns_take_their_default() -> None:
    """gauges.broker: a row may leave it out (clients record -1), and a table read from an
    older results folder without the column gets it."""
    rec = Recorder("r", 1, "s")
    gauge = rec.table("gauges")
    gauge((0.0, "t-0", "high_watermark", 4, 2))
    gauge((1.0, "c-0/t-0", "position", 3))  # no broker: a client's row
    gauges = rec.frames()["gauges"]
    assert gauges["broker"].tolist() == [2, -1]
    assert str(gauges["broker"].dtype) == "int64"
    old = gauges.drop(columns="broker")
    assert ensure_tables({"gauges": old})["gauges"]["broker"].tolist() == [-1, -1]
    gauge((2.0, "t-0", "isr_size"))  # too short even without the optional column
    with pytest.raises(ValueError, match="expected 5"):
        rec.frames()


def test_ensure_tables_fills_missing_and_casts(tmp_path: Path) -> None:
    rec = Recorder("r", 1, "s")
    rec.table("commits")((5.0, "g", "c-0", "t", 0, 12, "auto", True, ""))
    frames = rec.frames()
    path = tmp_path / "commits.parquet"
    frames["commits"].to_parquet(path)
    back = ensure_tables({"commits": pd.read_parquet(path)})
    assert set(back) == set(TABLES)
    assert back["commits"]["offset"].tolist() == [12]
    assert str(back["commits"]["group"].dtype) == "str"
    assert len(back["produce"]) == 0
    with pytest.raises(ValueError, match="lacks columns"):
        ensure_tables({"commits": frames["commits"].drop(columns="offset")})
