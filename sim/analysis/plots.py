"""Plots of a run, computed from the recorded tables only (results/README.md), in one style.

Every plot is `fn(tables, ax=None, **options)`: it draws on `ax` (a new figure when None) and
returns the Axes, so notebooks compose them (`fig, axes = plt.subplots(2)`) and `report` saves
them; `result.plot.<name>(...)` calls them on a run's tables. `PLOTS` maps the names to the
functions, in the order the HTML report shows them. The look (palette, sizes, fault bands,
"nothing happened" panels, time in seconds) is `sim.analysis.plot_style`.

- `leadership`: one lane per partition, coloured by the broker the controller made leader
  (initial leaders from the `leader` events, then table `elections`); the time without a usable
  leader (`start_ms` to `end_ms`) hatched and annotated with its duration and kind
  (clean / unclean / ...).
- `isr_size`: in-sync replicas of each partition (gauge `isr_size`), step lines to the end.
- `hw_leo`: per partition, the high watermark (solid), log end offset (dashed; the shading
  between them is what the leader has but the ISR has not yet acknowledged) and log start offset
  (dotted, when retention moved it) as seen by *each broker that believes it leads* (gauge rows
  carry the recording broker): a leader cut off from the cluster keeps its own track beside the
  new leader's (a zombie). A broker's track runs from its `leader` event to its `follower`
  event, crash, power loss, disk wipe or shutdown.
- `consumer_lag`: per group, HW − committed offset (or position, `metrics.consumer_lag`) summed
  (`how="sum"`, default) or maxed (`"max"`) over partitions, or per partition (`"partition"`);
  the highest value in each time bin is drawn, so peaks survive and normal traffic is not a
  block of noise. Rebalances of a `rebalances` table, when one exists, are shaded.
- `throughput`: records produced (by create time), acknowledged and consumed (processed) per
  second, in time bins.
- `latency`: produce (send → acknowledgement) and end-to-end (send → processed) p50 and p99 per
  time bin (by completion time); exact percentiles of the interpolated per-record values
  (`progressions`); a log axis when the values span more than a factor of 30.
- `latency_cdf`: the distribution of produce and end-to-end latency per topic on a log axis, so a
  failover tail does not squash the bulk against the left edge; p50 and p99 marked.
- `durability`: acknowledged, lost, duplicated, reordered and unconsumed records (checker) as
  bars on a log axis; several runs on one Axes (pass a list, or call again with the same `ax`).
- `message_flow`: one record's journey, producer → leader → followers → HW → acknowledgement →
  consumer → commit, as a sequence diagram from the recorded tables (`sim.analysis.flow`).

Time bins: the narrowest of 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60 s giving at
most 120 bins over the run (`bin_s=` overrides).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

from sim.analysis.checker import check
from sim.analysis.metrics import (
    _e2e_progressions,
    _produce_progressions,
    consumer_lag,
    delivery_e2e_latencies,
    produce_latencies,
)
from sim.analysis.plot_style import (
    BAD_COLOUR,
    broker_colour,
    finish,
    new_axes,
    nothing_happened,
    plain_numbers,
    records,
    run_end_ms,
    series_colour,
    styled,
    thousands,
)
from sim.analysis.progressions import progression_percentiles
from sim.analysis.recorder import ensure_tables

__all__ = [
    "PLOTS",
    "consumer_lag_plot",
    "durability",
    "hw_leo",
    "isr_size",
    "latency",
    "latency_cdf",
    "leadership",
    "throughput",
]

Tables = Mapping[str, pd.DataFrame]
NICE_BINS_S = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MAX_BINS = 120


# ---------------------------------------------------------------- helpers


def _partition_key(name: str) -> tuple[str, int]:
    topic, _, partition = name.rpartition("-")
    return (topic, int(partition)) if partition.isdigit() else (name, -1)


def _partition_gauges(t: Tables, metric: str) -> pd.DataFrame:
    """Rows of a partition-level gauge (entity `T-P`), in time order."""
    g = t["gauges"]
    sel = (g["metric"] == metric) & ~g["entity"].str.contains("/", regex=False)
    return g.loc[sel].sort_values(["entity", "time_ms"], kind="stable")


def _steps_to(
    times_ms: np.ndarray[Any, Any], values: np.ndarray[Any, Any], end_ms: float
) -> tuple[Any, Any]:
    """A step function's points in seconds, extended to `end_ms` (the level holds)."""
    if len(times_ms) and end_ms > times_ms[-1]:
        times_ms = np.append(times_ms, end_ms)
        values = np.append(values, values[-1])
    return times_ms / 1000.0, values


def bin_width_s(end_ms: float, bin_s: float | None = None) -> float:
    """The time bin of the rate and latency plots (see the module docstring)."""
    if bin_s is not None:
        return float(bin_s)
    span = max(end_ms / 1000.0, 1e-3)
    for width in NICE_BINS_S:
        if span / width <= MAX_BINS:
            return width
    return NICE_BINS_S[-1]


def _bin_label(width: float) -> str:
    return f"{width:g} s"


def _legend(ax: Axes, **kwargs: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**{"loc": "best", "framealpha": 0.85, **kwargs})


# ---------------------------------------------------------------- leadership


def _initial_leaders(t: Tables) -> dict[str, tuple[float, int]]:
    events = t["events"]
    rows = events.loc[events["kind"] == "leader"].sort_values("time_ms", kind="stable")
    out: dict[str, tuple[float, int]] = {}
    for time, entity in zip(rows["time_ms"].to_numpy(dtype=float), rows["entity"], strict=True):
        partition, _, broker = str(entity).partition("@broker-")
        if partition not in out and broker.isdigit():
            out[partition] = (float(time), int(broker))
    return out


@styled
def leadership(tables: Tables, ax: Axes | None = None) -> Axes:
    """Who leads each partition over time (controller's view), offline gaps and elections."""
    t = ensure_tables(tables)
    elections = t["elections"].sort_values("end_ms", kind="stable")
    first = _initial_leaders(t)
    names = set(first)
    names |= {f"{a}-{b}" for a, b in zip(elections["topic"], elections["partition"], strict=True)}
    partitions = sorted(names, key=_partition_key)
    height = max(2.6, 1.2 + 0.55 * len(partitions))
    ax = new_axes(ax, (10.0, height))
    count = len(elections)
    unclean = int((elections["kind"] == "unclean").sum())
    if count == 0:
        ax.set_title("Partition leaders (no leader election in this run)")
    else:
        extra = f", {unclean} unclean" if unclean else ""
        ax.set_title(f"Partition leaders ({count} election{'s' * (count != 1)}{extra})")
    if not partitions:
        nothing_happened(ax, "no partition leader was recorded")
        return finish(ax, t)
    end = run_end_ms(t)
    brokers: set[int] = set()
    for lane, name in enumerate(partitions):
        start, leader = first.get(name, (0.0, -1))
        rows = elections.loc[
            (elections["topic"] + "-" + elections["partition"].astype(str)) == name
        ]
        if name not in first and len(rows):
            leader = int(rows["old_leader"].iloc[0])
        for row in records(rows):
            lost = max(float(row["start_ms"]), start)
            won = max(float(row["end_ms"]), lost)
            if leader >= 0 and lost > start:
                ax.broken_barh(
                    [(start / 1000, (lost - start) / 1000)],
                    (lane - 0.3, 0.6),
                    facecolor=broker_colour(leader),
                    gid="lead",
                )
                brokers.add(leader)
            if won > lost:
                ax.broken_barh(
                    [(lost / 1000, (won - lost) / 1000)],
                    (lane - 0.3, 0.6),
                    facecolor="white",
                    edgecolor=BAD_COLOUR,
                    hatch="///",
                    gid="offline",
                )
            kind = str(row["kind"])
            bad = kind in ("unclean", "last_known_leader")
            ax.annotate(
                f"{(won - lost) / 1000:.1f} s {kind}",
                ((lost + won) / 2000, lane + 0.32),
                ha="center",
                va="bottom",
                fontsize=11,
                color=BAD_COLOUR if bad else "#202020",
                fontweight="bold" if bad else "normal",
                gid="election",
            )
            start, leader = won, int(row["new_leader"])
        if leader >= 0 and end > start:
            ax.broken_barh(
                [(start / 1000, (end - start) / 1000)],
                (lane - 0.3, 0.6),
                facecolor=broker_colour(leader),
                gid="lead",
            )
            brokers.add(leader)
    ax.set_yticks(range(len(partitions)), partitions)
    ax.set_ylabel("partition")
    ax.set_ylim(-0.6, len(partitions) - 0.1)
    ax.invert_yaxis()
    handles: list[Any] = [
        Patch(facecolor=broker_colour(b), label=f"broker-{b}") for b in sorted(brokers)
    ]
    if count:
        handles.append(
            Patch(facecolor="white", edgecolor=BAD_COLOUR, hatch="///", label="no leader")
        )
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="leader")
    finish(ax, t)
    ax.grid(False)
    return ax


# ---------------------------------------------------------------- replication


@styled
def isr_size(tables: Tables, ax: Axes | None = None) -> Axes:
    """Number of in-sync replicas of each partition over time."""
    t = ensure_tables(tables)
    ax = new_axes(ax)
    isr = _partition_gauges(t, "isr_size")
    ax.set_ylabel("in-sync replicas")
    if len(isr) == 0:
        ax.set_title("ISR size")
        nothing_happened(ax, "no ISR size was recorded (no partition had a leader)")
        return finish(ax, t)
    end = run_end_ms(t)
    names = sorted(set(isr["entity"].astype(str)), key=_partition_key)
    changed = []
    # Partitions with the same ISR size would hide each other: offset each line a little.
    offset = 0.05 if len(names) > 1 else 0.0
    for i, name in enumerate(names):
        rows = isr.loc[isr["entity"] == name]
        values = rows["value"].to_numpy(dtype=float)
        if len(np.unique(values)) > 1:
            changed.append(name)
        x, y = _steps_to(rows["time_ms"].to_numpy(dtype=float), values, end)
        shift = offset * (i - (len(names) - 1) / 2)
        ax.step(x, y + shift, where="post", color=series_colour(i), label=name)
    top = float(isr["value"].max())
    ax.set_ylim(0, top + 0.6)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if changed:
        ax.set_title(f"ISR size ({len(changed)} of {len(names)} partitions changed)")
    else:
        ax.set_title(f"ISR size (never changed: {int(top)} replicas in sync throughout)")
    if len(names) <= 12:
        title = "lines offset ±0.05 to stay visible" if offset else None
        _legend(ax, loc="lower left", ncols=min(4, len(names)), title=title, title_fontsize=10)
    return finish(ax, t)


def _belief_spells(t: Tables, partition: str, broker: int, end: float) -> list[tuple[float, float]]:
    """When `broker` believed it led `partition`: from each `leader` event to the next
    `follower` event of that replica, or a fault that stopped the broker."""
    events = t["events"]
    replica = f"{partition}@broker-{broker}"
    node = f"broker-{broker}"
    kinds = events["kind"].astype(str)
    starts = events.loc[(events["entity"] == replica) & (kinds == "leader"), "time_ms"]
    stops = events.loc[
        ((events["entity"] == replica) & (kinds == "follower"))
        | (
            (events["entity"] == node)
            & kinds.isin(
                ["fault:crash", "fault:power-loss", "fault:disk-wipe", "controlled_shutdown"]
            )
        )
    ]["time_ms"].to_numpy(dtype=float)
    spells = []
    for start in np.sort(starts.to_numpy(dtype=float)):
        later = stops[stops > start]
        spells.append((float(start), float(later.min()) if len(later) else end))
    merged: list[tuple[float, float]] = []
    for start, stop in spells:  # a re-election while already leading extends the spell
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return merged


def _overlap(spells: list[tuple[float, float]]) -> bool:
    """Do two of these leadership spells (of different brokers) overlap in time?"""
    ordered = sorted(spells)
    return any(b[0] < a[1] for a, b in itertools.pairwise(ordered))


def _default_partitions(t: Tables, names: list[str], limit: int = 3) -> list[str]:
    if len(names) <= limit:
        return names
    elections = t["elections"]
    moved = {f"{a}-{b}" for a, b in zip(elections["topic"], elections["partition"], strict=True)}
    chosen = [n for n in names if n in moved][:limit]
    return chosen + [n for n in names if n not in chosen][: limit - len(chosen)]


@styled
def hw_leo(tables: Tables, ax: Axes | None = None, partitions: Sequence[str] | None = None) -> Any:
    """High watermark, log end offset and log start offset per partition, one track per broker
    that believes it leads. `partitions`: names like "ORDER-0" (default: up to three, those
    with an election first). Without `ax`, several partitions get a panel each (one Figure,
    shared time axis); with `ax`, they share it."""
    t = ensure_tables(tables)
    shown = hw_leo_partitions(t) if partitions is None else list(partitions)
    if ax is None and len(shown) > 1:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(
            len(shown), 1, figsize=(10.0, 3.4 * len(shown)), sharex=True, layout="constrained"
        )
        draw_hw_leo_panels(t, list(axes), shown)
        return fig
    return _hw_leo(t, new_axes(ax), shown)


def hw_leo_partitions(tables: Tables) -> list[str]:
    """The partitions `hw_leo` shows by default: up to three, those with an election first."""
    t = ensure_tables(tables)
    hw = _partition_gauges(t, "high_watermark")
    leo = _partition_gauges(t, "log_end_offset")
    names = sorted(
        set(hw["entity"].astype(str)) | set(leo["entity"].astype(str)), key=_partition_key
    )
    return _default_partitions(t, names)


def draw_hw_leo_panels(tables: Tables, axes: Sequence[Axes], partitions: Sequence[str]) -> None:
    """One `hw_leo` panel per partition on `axes` (the report and the multi-panel figure)."""
    for i, (panel, name) in enumerate(zip(axes, partitions, strict=True)):
        hw_leo(tables, ax=panel, partitions=[name])
        panel.set_title(f"{name}: high watermark and log end offset")
        if i < len(axes) - 1:
            panel.set_xlabel("")


@styled
def _hw_leo(tables: Tables, ax: Axes, shown: list[str]) -> Axes:
    t = ensure_tables(tables)
    hw = _partition_gauges(t, "high_watermark")
    leo = _partition_gauges(t, "log_end_offset")
    lso = _partition_gauges(t, "log_start_offset")
    ax.set_ylabel("offset")
    names = sorted(
        set(hw["entity"].astype(str)) | set(leo["entity"].astype(str)), key=_partition_key
    )
    if not names:
        ax.set_title("High watermark and log end offset")
        nothing_happened(ax, "no high watermark or log end offset was recorded")
        return finish(ax, t)
    end = run_end_ms(t)
    moved_start = bool((lso["value"] > 0).any())
    tracks: dict[str, set[int]] = {}
    spells_of: dict[str, list[tuple[float, float]]] = {}
    for name in shown:
        brokers = sorted(set(hw.loc[hw["entity"] == name, "broker"].astype(int)))
        for broker in brokers:
            spells = [(0.0, end)] if broker < 0 else _belief_spells(t, name, broker, end)
            for spell_start, spell_end in spells:
                sel = {}
                for key, frame in (("hw", hw), ("leo", leo), ("lso", lso)):
                    rows = frame.loc[(frame["entity"] == name) & (frame["broker"] == broker)]
                    times = rows["time_ms"].to_numpy(dtype=float)
                    inside = (times >= spell_start) & (times <= spell_end)
                    sel[key] = (times[inside], rows["value"].to_numpy(dtype=float)[inside])
                if len(sel["hw"][0]) == 0:
                    continue
                tracks.setdefault(name, set()).add(broker)
                spells_of.setdefault(name, []).append((spell_start, spell_end))
                colour = broker_colour(broker)
                hx, hy = _steps_to(*sel["hw"], spell_end)
                ax.step(hx, hy, where="post", color=colour, lw=2.4, gid="hw")
                if len(sel["leo"][0]):
                    lx, ly = _steps_to(*sel["leo"], spell_end)
                    ax.step(lx, ly, where="post", color=colour, lw=1.6, ls="--", gid="leo")
                    grid = np.union1d(hx, lx)
                    h_at = hy[np.clip(np.searchsorted(hx, grid, side="right") - 1, 0, None)]
                    l_at = ly[np.clip(np.searchsorted(lx, grid, side="right") - 1, 0, None)]
                    ax.fill_between(
                        grid,
                        h_at,
                        np.maximum(l_at, h_at),
                        step="post",
                        color=colour,
                        alpha=0.25,
                        lw=0,
                        gid="uncommitted",
                    )
                if moved_start and len(sel["lso"][0]):
                    sx, sy = _steps_to(*sel["lso"], spell_end)
                    ax.step(sx, sy, where="post", color=colour, lw=1.6, ls=":", gid="lso")
                who = f" broker-{broker}" if broker >= 0 else ""
                ax.annotate(
                    f"{name}{who}",
                    (hx[-1], hy[-1]),
                    xytext=(-4, 4),
                    textcoords="offset points",
                    ha="right",
                    va="bottom",
                    fontsize=10,
                    color=colour,
                    gid="track-label",
                )
    zombies = [n for n, spells in spells_of.items() if _overlap(spells)]
    title = "High watermark and log end offset"
    if len(shown) < len(names):
        title += f" ({len(shown)} of {len(names)} partitions)"
    ax.set_title(title)
    handles: list[Any] = [
        Line2D([], [], color="#404040", lw=2.4, label="high watermark"),
        Line2D([], [], color="#404040", lw=1.6, ls="--", label="log end offset"),
        Patch(facecolor="#404040", alpha=0.25, label="not yet in all ISR"),
    ]
    if moved_start:
        handles.append(Line2D([], [], color="#404040", lw=1.6, ls=":", label="log start offset"))
    for broker in sorted({b for bs in tracks.values() for b in bs if b >= 0}):
        handles.append(Patch(facecolor=broker_colour(broker), label=f"leader broker-{broker}"))
    ax.legend(handles=handles, loc="upper left", fontsize=10)
    notes = []
    if zombies:
        notes.append(f"{', '.join(zombies)}: two brokers believed they led at once")
    if not moved_start:
        notes.append("log start offset stayed 0 (no retention deletion)")
    if notes:
        ax.text(
            0.99,
            0.02,
            "\n".join(notes),
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=10,
            color="#303030",
            gid="note",
        )
    thousands(ax)
    return finish(ax, t)


# ---------------------------------------------------------------- consumers


def _binned_max(
    times: np.ndarray[Any, Any], values: np.ndarray[Any, Any], width_ms: float, end_ms: float
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The highest level a step function takes in each bin [k w, (k+1) w): the values that
    start inside the bin and the one carried into it."""
    n_bins = max(1, math.ceil(end_ms / width_ms))
    edges = np.arange(n_bins) * width_ms
    inside = np.full(n_bins, -np.inf)
    idx = np.clip((times // width_ms).astype(np.int64), 0, n_bins - 1)
    np.maximum.at(inside, idx, values)
    carried_idx = np.searchsorted(times, edges, side="right") - 1
    carried = np.where(carried_idx >= 0, values[np.clip(carried_idx, 0, None)], -np.inf)
    out = np.maximum(inside, carried)
    out[np.isinf(out)] = np.nan
    return edges, out


def _aggregate(lag: pd.DataFrame, how: str) -> pd.DataFrame:
    """Per owner, the sum or max over partitions of the step functions (each partition's lag
    holds until its next change)."""
    parts = []
    for owner, frame in lag.groupby("owner", sort=True):
        wide = frame.pivot_table(
            index="time_ms", columns="topic_partition", values="lag", aggfunc="last"
        )
        wide = wide.sort_index().ffill()
        total = wide.sum(axis=1, min_count=1) if how == "sum" else wide.max(axis=1)
        parts.append(
            pd.DataFrame(
                {
                    "owner": owner,
                    "series": str(owner),
                    "time_ms": total.index,
                    "lag": total.to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else lag.assign(series=lag["owner"])


def _rebalances(t: Tables) -> pd.DataFrame | None:
    frame = t.get("rebalances")
    if frame is None or len(frame) == 0:
        return None
    start = "start_ms" if "start_ms" in frame.columns else "start"
    stop = "end_ms" if "end_ms" in frame.columns else "end"
    if start not in frame.columns or stop not in frame.columns:
        return None
    return frame.assign(_start=frame[start].astype(float), _end=frame[stop].astype(float))


@styled
def consumer_lag_plot(
    tables: Tables, ax: Axes | None = None, how: str = "sum", bin_s: float | None = None
) -> Axes:
    """Consumer lag per group over time: `how` = "sum" (default) or "max" over partitions, or
    "partition" for one line per group and partition; the highest value per time bin."""
    if how not in ("sum", "max", "partition"):
        raise ValueError(f"how must be 'sum', 'max' or 'partition', got {how!r}")
    t = ensure_tables(tables)
    ax = new_axes(ax)
    lag = consumer_lag(t)
    if len(lag) == 0:
        ax.set_title("Consumer lag")
        nothing_happened(
            ax, "no committed offset or consumer position was recorded: no consumer read anything"
        )
        return finish(ax, t)
    source = str(lag["source"].iloc[0])
    what = "HW − committed offset" if source == "committed" else "HW − consumer position"
    ax.set_ylabel(f"lag: {what} (records)")
    if how == "partition":
        series = lag.assign(series=lag["owner"] + " " + lag["topic_partition"])
    else:
        series = _aggregate(lag, how)
    end = run_end_ms(t)
    width = bin_width_s(end, bin_s)
    names = sorted(set(series["series"].astype(str)))
    for i, name in enumerate(names):
        rows = series.loc[series["series"] == name].sort_values("time_ms", kind="stable")
        edges, peak = _binned_max(
            rows["time_ms"].to_numpy(dtype=float),
            rows["lag"].to_numpy(dtype=float),
            width * 1000,
            end,
        )
        x, y = _steps_to(edges, peak, end)
        ax.step(x, y, where="post", color=series_colour(i), label=name)
    word = {"sum": "sum over partitions", "max": "worst partition", "partition": "per partition"}
    ax.set_title(f"Consumer lag per group ({word[how]}, peak per {_bin_label(width)})")
    if float(np.nanmax(series["lag"].to_numpy(dtype=float))) <= 0:
        nothing_happened(
            ax, "the lag stayed 0: every record was consumed as soon as it was committed"
        )
    rebalances = _rebalances(t)
    if rebalances is not None:
        for row in records(rebalances):
            ax.axvspan(
                row["_start"] / 1000,
                max(row["_end"], row["_start"]) / 1000,
                color=series_colour(4),
                alpha=0.2,
                hatch="\\\\",
                gid="rebalance",
            )
            generation = row.get("generation", "")
            ax.text(
                row["_start"] / 1000,
                0.80,
                f" rebalance {row['group']} {generation}".rstrip(),
                transform=ax.get_xaxis_transform(),
                fontsize=10,
                gid="rebalance-label",
            )
    ax.set_ylim(bottom=0)
    thousands(ax)
    if len(names) <= 12:
        _legend(ax, loc="upper right")
    return finish(ax, t)


# ---------------------------------------------------------------- rates and latency


def _rate(
    times_ms: np.ndarray[Any, Any], counts: np.ndarray[Any, Any], width_s: float, end_ms: float
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Records per second in each bin, each row's count at `times_ms`."""
    n_bins = max(1, math.ceil(end_ms / (width_s * 1000)))
    idx = np.clip((times_ms // (width_s * 1000)).astype(np.int64), 0, n_bins - 1)
    sums = np.bincount(idx, weights=counts.astype(float), minlength=n_bins)
    return np.arange(n_bins) * width_s, sums / width_s


def _created_rate(produce: pd.DataFrame, width_s: float, end_ms: float) -> tuple[Any, Any]:
    """Records created per second: a batch's records spread over its create times (linear
    between first_create_ms and last_create_ms, as everywhere in the analysis)."""
    first = produce["first_create_ms"].to_numpy(dtype=float)
    last = produce["last_create_ms"].to_numpy(dtype=float)
    counts = produce["count"].to_numpy(dtype=np.int64)
    width = width_s * 1000
    n_bins = max(1, math.ceil(end_ms / width))
    a = np.clip((first // width).astype(np.int64), 0, n_bins - 1)
    b = np.clip((last // width).astype(np.int64), 0, n_bins - 1)
    one = a == b
    sums = np.bincount(a[one], weights=counts[one].astype(float), minlength=n_bins)
    for f, lst, n in zip(first[~one], last[~one], counts[~one], strict=True):  # rare: long batches
        times = f + (lst - f) * np.arange(n) / max(n - 1, 1)
        sums += np.bincount(
            np.clip((times // width).astype(np.int64), 0, n_bins - 1), minlength=n_bins
        )
    return np.arange(n_bins) * width_s, sums / width_s


@styled
def throughput(tables: Tables, ax: Axes | None = None, bin_s: float | None = None) -> Axes:
    """Records produced (created by send()), acknowledged and consumed per second."""
    t = ensure_tables(tables)
    ax = new_axes(ax)
    produce, deliveries = t["produce"], t["deliveries"]
    end = run_end_ms(t)
    width = bin_width_s(end, bin_s)
    ax.set_title(f"Throughput (records per second, in {_bin_label(width)} bins)")
    ax.set_ylabel("records / s")
    if len(produce) == 0 and len(deliveries) == 0:
        nothing_happened(ax, "no record was produced or consumed")
        return finish(ax, t)
    acked = produce.loc[produce["outcome"] == "acked"]
    series = [
        ("produced", produce["first_create_ms"], produce["count"], "-"),
        ("acknowledged", acked["time_ms"], acked["count"], "--"),
        ("consumed", deliveries["end_ms"], deliveries["count"], ":"),
    ]
    for i, (label, times, counts, style) in enumerate(series):
        if len(times) == 0:
            continue
        if label == "produced":
            x, y = _created_rate(produce, width, end)
        else:
            x, y = _rate(times.to_numpy(dtype=float), counts.to_numpy(dtype=float), width, end)
        ax.step(
            np.append(x, x[-1] + width),
            np.append(y, y[-1]),
            where="post",
            ls=style,
            color=series_colour(i),
            label=label,
        )
    ax.set_ylim(bottom=0)
    thousands(ax)
    _legend(ax, loc="upper right")
    return finish(ax, t)


def _binned_percentiles(
    done_first: np.ndarray[Any, Any], rows: Any, width_ms: float, end_ms: float
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """p50 and p99 per bin of completion time, exact over the interpolated records."""
    first, step, n, _ = rows
    n_bins = max(1, math.ceil(end_ms / width_ms))
    idx = np.clip((done_first // width_ms).astype(np.int64), 0, n_bins - 1)
    p50 = np.full(n_bins, np.nan)
    p99 = np.full(n_bins, np.nan)
    order = np.argsort(idx, kind="stable")
    bounds = np.searchsorted(idx[order], np.arange(n_bins + 1))
    for k in range(n_bins):
        sel = order[bounds[k] : bounds[k + 1]]
        if len(sel):
            a, b = progression_percentiles(first[sel], step[sel], n[sel], (50, 99))
            p50[k] = np.nan if a is None else a
            p99[k] = np.nan if b is None else b
    return np.arange(n_bins) * width_ms / 1000.0, p50, p99


def _latency_scale(ax: Axes, values: np.ndarray[Any, Any], axis: str = "y") -> None:
    """Log scale when the values span more than a factor of 30, else plain numbers; a range
    around a constant."""
    finite = values[np.isfinite(values) & (values > 0)]
    if len(finite) == 0:
        return
    low, high = float(finite.min()), float(finite.max())
    set_lim = ax.set_ylim if axis == "y" else ax.set_xlim
    if high / low > 30:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        target = ax.yaxis if axis == "y" else ax.xaxis
        target.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        set_lim(low / 1.5, high * 1.5)
    else:
        plain_numbers(ax, axis)
        pad = max((high - low) * 0.1, high * 0.05, 1e-3)
        set_lim(max(0.0, low - pad), high + pad)


@styled
def latency(tables: Tables, ax: Axes | None = None, bin_s: float | None = None) -> Axes:
    """Produce and end-to-end latency p50 / p99 per time bin (by completion time)."""
    t = ensure_tables(tables)
    ax = new_axes(ax)
    end = run_end_ms(t)
    width = bin_width_s(end, bin_s)
    ax.set_title(f"Latency over time (p50 and p99 per {_bin_label(width)})")
    ax.set_ylabel("latency (ms)")
    produce_rows = _produce_progressions(t["produce"])
    acked = t["produce"].loc[t["produce"]["outcome"] == "acked"]
    e2e_rows = _e2e_progressions(t["deliveries"])
    drawn: list[np.ndarray[Any, Any]] = []
    series = [
        ("produce", produce_rows, acked["time_ms"].to_numpy(dtype=float), 0),
        ("end-to-end", e2e_rows, t["deliveries"]["start_ms"].to_numpy(dtype=float), 2),
    ]
    for label, rows, done, colour in series:
        if len(done) == 0:
            continue
        x, p50, p99 = _binned_percentiles(done, rows, width * 1000, end)
        ax.step(x, p50, where="post", color=series_colour(colour), label=f"{label} p50")
        ax.step(x, p99, where="post", color=series_colour(colour), ls="--", label=f"{label} p99")
        drawn += [p50, p99]
    if not drawn:
        nothing_happened(ax, "no record was acknowledged or consumed")
        return finish(ax, t)
    values = np.concatenate(drawn)
    _latency_scale(ax, values)
    finite = values[np.isfinite(values)]
    if len(finite) and math.isclose(float(finite.max()), float(finite.min()), rel_tol=1e-6):
        ax.set_title(f"Latency over time (constant: {finite.max():g} ms)")
    _legend(ax, loc="upper right")
    return finish(ax, t)


def _cdf_points(
    values: np.ndarray[Any, Any], limit: int = 2000
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(sorted values, fraction <= value), thinned to about `limit` points (all of the top 1%)."""
    x = np.sort(values)
    y = np.arange(1, len(x) + 1) / len(x)
    if len(x) > limit:
        tail = max(len(x) - len(x) // 100, 0)
        keep = np.unique(
            np.concatenate(
                [np.linspace(0, tail, limit // 2).astype(np.int64), np.arange(tail, len(x))]
            )
        )
        keep = keep[: limit * 5]
        x, y = x[keep], y[keep]
    return x, y


@styled
def latency_cdf(tables: Tables, ax: Axes | None = None) -> Axes:
    """Distribution of produce and end-to-end latency per topic, on a log axis."""
    t = ensure_tables(tables)
    ax = new_axes(ax)
    ax.set_title("Latency distribution (fraction of records at or below)")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("fraction of records")
    produce, deliveries = t["produce"], t["deliveries"]
    p_lat, p_rows = produce_latencies(produce)
    e_lat, e_rows = delivery_e2e_latencies(deliveries)
    p_topics = produce["topic"].to_numpy(dtype=object)[p_rows]
    e_topics = deliveries["topic"].to_numpy(dtype=object)[e_rows]
    topics = sorted(set(p_topics.tolist()) | set(e_topics.tolist()))
    if not topics:
        nothing_happened(ax, "no record was acknowledged or consumed")
        ax.tick_params(labelsize=12)
        return ax
    everything = []
    for i, topic in enumerate(topics):
        colour = series_colour(i)
        suffix = f" {topic}" if len(topics) > 1 else ""
        for label, lat, which, style in (
            ("produce", p_lat, p_topics, "-"),
            ("end-to-end", e_lat, e_topics, "--"),
        ):
            values = lat[which == topic]
            if len(values) == 0:
                continue
            x, y = _cdf_points(values)
            ax.step(x, y, where="post", color=colour, ls=style, label=f"{label}{suffix}")
            everything.append(values)
    values = np.concatenate(everything)
    positive = values[values > 0]
    low = float(positive.min()) if len(positive) else 1e-3
    high = float(values.max())
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    if math.isclose(high, low, rel_tol=1e-6):
        ax.set_xlim(low / 2, high * 2)
        ax.set_title(f"Latency distribution (every record: {high:g} ms)")
    else:
        ax.set_xlim(low / 1.3, high * 1.3)
    for q in (0.5, 0.99):
        ax.axhline(q, color="#808080", lw=1, ls=":", gid="quantile")
        ax.text(
            1.0,
            q,
            f" p{int(q * 100)}",
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=10,
        )
    ax.set_ylim(0, 1.02)
    ax.tick_params(labelsize=12)
    ax.grid(True, which="both", alpha=0.25)
    _legend(ax, loc="lower right")
    return ax


# ---------------------------------------------------------------- durability

DURABILITY_BARS: tuple[tuple[str, str], ...] = (
    ("acknowledged", "records_acked"),
    ("lost", "lost_acked_records"),
    ("duplicated", "duplicated_records"),
    ("reordered", "reordered_records"),
    ("unconsumed", "unconsumed_records"),
)


def durability_counts(tables: Tables) -> dict[str, int]:
    """The durability bars of one run, from its tables (checker + produce table)."""
    t = ensure_tables(tables)
    verdict = check(t)
    produce = t["produce"]
    acked = int(produce.loc[produce["outcome"] == "acked", "count"].sum())
    counts = {"records_acked": acked, **verdict.counts()}
    return {label: int(counts[key]) for label, key in DURABILITY_BARS}


def _tables_label(tables: Tables) -> str:
    """`<scenario> seed <N>` from the tables' own columns (how a Result labels itself)."""
    for frame in tables.values():
        if len(frame) and "scenario" in frame.columns and "seed" in frame.columns:
            return f"{frame['scenario'].iloc[0]} seed {int(frame['seed'].iloc[0])}"
    return "run"


def _runs(data: Any, label: str | None) -> list[tuple[str, Any]]:
    if hasattr(data, "tables"):  # one Result
        return [(label or str(data.label), data.tables)]
    if isinstance(data, Mapping) and "produce" in data:
        return [(label or _tables_label(data), data)]
    if isinstance(data, Mapping):
        return [(str(k), getattr(v, "tables", v)) for k, v in data.items()]
    out = []
    for i, item in enumerate(data):
        if isinstance(item, tuple):
            out.append((str(item[0]), getattr(item[1], "tables", item[1])))
        else:
            out.append((getattr(item, "label", f"run {i + 1}"), getattr(item, "tables", item)))
    return out


@styled
def durability(tables: Any, ax: Axes | None = None, label: str | None = None) -> Axes:
    """Acknowledged vs lost, duplicated, reordered and unconsumed records, as grouped bars on a
    log axis. `tables`: one run's tables, a list of Results (or of (label, tables)), or a
    mapping label -> tables. Calling it again with the same `ax` adds a run beside the others."""
    runs = _runs(tables, label)
    ax = new_axes(ax)
    known: list[tuple[str, dict[str, int]]] = list(getattr(ax, "_kafka_sim_durability", []))
    for i, (name, frames) in enumerate(runs):
        name = name if not any(name == k for k, _ in known) else f"{name} ({len(known) + i + 1})"
        known.append((name, durability_counts(frames)))
    ax._kafka_sim_durability = known  # type: ignore[attr-defined]
    ax.clear()
    ax.set_title("Durability: what happened to the records")
    if all(counts["acknowledged"] == 0 for _, counts in known):
        return nothing_happened(ax, "no record was acknowledged")
    labels = [bar for bar, _ in DURABILITY_BARS]
    width = 0.8 / len(known)
    top = 1
    for i, (name, counts) in enumerate(known):
        xs = np.arange(len(labels)) + (i - (len(known) - 1) / 2) * width
        heights = [counts[b] for b in labels]
        top = max(top, *heights)
        bars = ax.bar(
            xs,
            [max(h, 0) for h in heights],
            width * 0.92,
            color=series_colour(i),
            label=name,
            gid="durability",
        )
        for j, (bar, h) in enumerate(zip(bars, heights, strict=True)):
            bad = j > 0 and h > 0  # every bar but "acknowledged" counts an anomaly
            ax.annotate(
                f"{h:,}",
                (bar.get_x() + bar.get_width() / 2, max(h, 1)),
                ha="center",
                va="bottom",
                fontsize=10 if len(known) < 4 else 8,
                color=BAD_COLOUR if bad else "#202020",
                fontweight="bold" if bad else "normal",
            )
    ax.set_yscale("log")
    ax.set_ylim(0.8, top * 3)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("records (log scale)")
    ax.set_title("Durability: what happened to the records")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else ""))
    ax.tick_params(labelsize=12)
    ax.grid(True, axis="y", alpha=0.3)
    if len(known) > 1 or label is not None:
        _legend(ax, loc="upper right")
    return ax


# ---------------------------------------------------------------- message flow


def message_flow(tables: Tables, ax: Axes | None = None, **options: Any) -> Axes:
    """One record's journey as a sequence diagram (see `sim.analysis.flow.plot_message_flow`)."""
    from sim.analysis.flow import plot_message_flow

    return plot_message_flow(tables, ax=ax, **options)


PLOTS: dict[str, Callable[..., Any]] = {
    "leadership": leadership,
    "isr_size": isr_size,
    "hw_leo": hw_leo,
    "consumer_lag": consumer_lag_plot,
    "throughput": throughput,
    "latency": latency,
    "latency_cdf": latency_cdf,
    "durability": durability,
    "message_flow": message_flow,
}
