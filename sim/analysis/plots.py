"""Plots of one run, from the recorded tables only (matplotlib; no backend chosen here).

Each function is `f(frames, ax=None) -> Axes`: it draws on `ax` (a new figure when None) and
returns it, so notebooks compose them freely and `report` saves them.

- `plot_produce_latency_cdf`: empirical CDF of send-to-acknowledgement latency per topic (table
  produce, acknowledged batches, per record with create times interpolated inside a batch).
- `plot_hw_leo`: high watermark (solid) and log end offset (dashed) of each partition's leader
  over time (gauges entity 'T-P', metrics high_watermark / log_end_offset), as step functions.
- `plot_consumer_lag`: HW − committed offset per group and partition over time (gauges; the
  consumer-position view when nothing was committed), see `metrics.consumer_lag`.
- `plot_isr_size`: ISR size of each partition over time (gauges metric isr_size).

Empty tables give an axes with a "no data" note instead of an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from sim.analysis.metrics import consumer_lag, produce_latencies
from sim.analysis.recorder import ensure_tables

__all__ = [
    "PLOTS",
    "plot_consumer_lag",
    "plot_hw_leo",
    "plot_isr_size",
    "plot_produce_latency_cdf",
]

Frames = Mapping[str, pd.DataFrame]


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=(8, 4.5))
    return new


def _no_data(ax: Axes, what: str) -> Axes:
    ax.text(0.5, 0.5, f"no {what} recorded", ha="center", va="center", transform=ax.transAxes)
    return ax


def _legend(ax: Axes, n: int) -> None:
    if 0 < n <= 12:
        ax.legend(fontsize="small")


def plot_produce_latency_cdf(frames: Frames, ax: Axes | None = None) -> Axes:
    """CDF of produce latency (ms) per topic, over acknowledged records."""
    ax = _axes(ax)
    produce = ensure_tables(frames)["produce"]
    lat, rows = produce_latencies(produce)
    ax.set_title("Produce latency (send to acknowledgement)")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("fraction of acknowledged records")
    if len(lat) == 0:
        return _no_data(ax, "acknowledged records")
    topics = produce["topic"].to_numpy(dtype=object)[rows]
    names = sorted(set(topics.tolist()))
    for topic in names:
        x = np.sort(lat[topics == topic])
        y = np.arange(1, len(x) + 1) / len(x)
        ax.step(x, y, where="post", label=str(topic))
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    _legend(ax, len(names))
    return ax


def _gauge(frames: Frames, metric: str) -> pd.DataFrame:
    g = ensure_tables(frames)["gauges"]
    sel = (g["metric"] == metric) & ~g["entity"].str.contains("/", regex=False)
    return g.loc[sel].sort_values(["entity", "time_ms"], kind="stable")


def _steps(ax: Axes, frame: pd.DataFrame, label: str, **style: Any) -> None:
    ax.step(
        frame["time_ms"].to_numpy(), frame["value"].to_numpy(), where="post", label=label, **style
    )


def plot_hw_leo(frames: Frames, ax: Axes | None = None) -> Axes:
    """High watermark and log end offset of each partition (leader view) over time."""
    ax = _axes(ax)
    hw, leo = _gauge(frames, "high_watermark"), _gauge(frames, "log_end_offset")
    ax.set_title("High watermark (solid) and log end offset (dashed)")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("offset")
    if len(hw) == 0 and len(leo) == 0:
        return _no_data(ax, "HW/LEO gauges")
    entities = sorted(set(hw["entity"].tolist()) | set(leo["entity"].tolist()))
    for i, entity in enumerate(entities):
        color = f"C{i % 10}"
        h = hw.loc[hw["entity"] == entity]
        e = leo.loc[leo["entity"] == entity]
        if len(h):
            _steps(ax, h, f"{entity} HW", color=color)
        if len(e):
            _steps(ax, e, f"{entity} LEO", color=color, linestyle="--", alpha=0.7)
    ax.grid(True, alpha=0.3)
    _legend(ax, 2 * len(entities))
    return ax


def plot_consumer_lag(frames: Frames, ax: Axes | None = None) -> Axes:
    """Consumer lag (HW − committed offset, records) per group and partition over time."""
    ax = _axes(ax)
    lag = consumer_lag(frames)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("lag (records)")
    if len(lag) == 0:
        ax.set_title("Consumer lag")
        return _no_data(ax, "committed offsets or positions")
    source = str(lag["source"].iloc[0])
    what = "HW − committed offset" if source == "committed" else "HW − consumer position"
    ax.set_title(f"Consumer lag ({what})")
    pairs = lag.groupby(["owner", "topic_partition"], sort=True)
    for (owner, tp), part in pairs:
        ax.step(
            part["time_ms"].to_numpy(), part["lag"].to_numpy(), where="post", label=f"{owner} {tp}"
        )
    ax.grid(True, alpha=0.3)
    _legend(ax, pairs.ngroups)
    return ax


def plot_isr_size(frames: Frames, ax: Axes | None = None) -> Axes:
    """Number of in-sync replicas of each partition over time."""
    ax = _axes(ax)
    isr = _gauge(frames, "isr_size")
    ax.set_title("ISR size")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("replicas in sync")
    if len(isr) == 0:
        return _no_data(ax, "ISR gauges")
    entities = sorted(set(isr["entity"].tolist()))
    for entity in entities:
        _steps(ax, isr.loc[isr["entity"] == entity], str(entity))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    _legend(ax, len(entities))
    return ax


_KIND_COLORS = {
    "clean": "tab:blue",
    "unclean": "tab:red",
    "elr": "tab:green",
    "last_known_leader": "tab:red",
    "controlled": "tab:gray",
    "preferred": "tab:gray",
}


def plot_elections(frames: Frames, ax: Axes | None = None) -> Axes:
    """One row per partition: the time it had no usable leader (from the loss of the old leader
    to the election), coloured by the kind of election that ended it; faults as vertical lines."""
    ax = _axes(ax)
    ax.set_title("partition leader elections (time without a usable leader)")
    ax.set_xlabel("time (ms)")
    elections = frames.get("elections")
    if elections is None or len(elections) == 0:
        return _no_data(ax, "elections")
    pairs = zip(elections["topic"], elections["partition"], strict=True)
    names = sorted({f"{t}-{p}" for t, p in pairs})
    rows = {name: i for i, name in enumerate(names)}
    seen: set[str] = set()
    starts = elections["start_ms"].to_numpy(dtype=float)
    ends = elections["end_ms"].to_numpy(dtype=float)
    kinds = elections["kind"].astype(str).tolist()
    moves = [
        f"{o}->{n}" for o, n in zip(elections["old_leader"], elections["new_leader"], strict=True)
    ]
    keys = [f"{t}-{p}" for t, p in zip(elections["topic"], elections["partition"], strict=True)]
    for start, end, kind, move, key in zip(starts, ends, kinds, moves, keys, strict=True):
        y = rows[key]
        label = None if kind in seen else kind
        seen.add(kind)
        color = _KIND_COLORS.get(kind, "tab:purple")
        ax.broken_barh([(start, max(end - start, 1.0))], (y - 0.35, 0.7), color=color, label=label)
        ax.annotate(
            move, (end, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7
        )
    events = frames.get("events")
    if events is not None and len(events):
        faults = events.loc[events["kind"].str.startswith("fault:")]
        for t in faults["time_ms"].to_numpy(dtype=float):
            ax.axvline(t, color="black", alpha=0.25, linewidth=0.8)
    ax.set_yticks(range(len(names)), names)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


PLOTS: dict[str, Callable[..., Axes]] = {
    "produce_latency_cdf": plot_produce_latency_cdf,
    "hw_leo": plot_hw_leo,
    "consumer_lag": plot_consumer_lag,
    "isr_size": plot_isr_size,
    "elections": plot_elections,
}
