"""One look for every plot of kafka-sim: readable on a projector, colour-blind safe, honest.

- **Palette**: Okabe & Ito's eight colours ("Color Universal Design", 2008), distinguishable
  with every common colour-vision deficiency; broker N always has colour N (`broker_colour`), in
  every plot, so a student can follow a broker from the leadership lanes to the HW/LEO tracks.
- **Sizes**: large fonts and thick lines (`STYLE`, applied by the `styled` decorator while a plot
  draws; tick labels are sized explicitly because matplotlib creates them later).
- **Time** in seconds on every time axis (`time (s)`), from 0 to the end of the run.
- **Faults** as shaded bands with a label on every time axis (`draw_faults`), read from the
  `events` table: a node fault (crash, power-loss, disk-wipe, pause, shutdown) lasts until the
  node's `fault:heal` or `fault:restart`, a network fault (partition, degrade) until the network's
  heal, anything still open until the drain phase heals everything (`fault:heal` of `all`, drawn
  as a dashed line labelled "drain"). A restart is a thin line. Artists carry gids (`fault`,
  `fault-label`, `drain`) so that tests can find them.
- **Nothing happened**: `nothing_happened(ax, text)` writes an honest sentence in the middle of
  an otherwise empty panel instead of drawing an empty or misleading frame.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, ScalarFormatter

__all__ = [
    "PALETTE",
    "STYLE",
    "Fault",
    "broker_colour",
    "draw_faults",
    "fault_intervals",
    "finish",
    "new_axes",
    "nothing_happened",
    "plain_numbers",
    "records",
    "run_end_ms",
    "series_colour",
    "styled",
]

# Okabe-Ito, ordered so that the first colours (brokers 0, 1, 2) are the most distinct.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
FAULT_COLOUR = "#7f7f7f"
BAD_COLOUR = "#D55E00"

STYLE: dict[str, Any] = {
    "font.size": 13,
    "axes.titlesize": 15,
    "axes.titleweight": "bold",
    "axes.labelsize": 13,
    "legend.fontsize": 11,
    "lines.linewidth": 2.2,
    "axes.prop_cycle": __import__("cycler").cycler(color=list(PALETTE)),
    "axes.spines.top": False,
    "axes.spines.right": False,
}
TICK_SIZE = 12

F = TypeVar("F", bound=Callable[..., Any])


def styled(fn: F) -> F:
    """Draw `fn` with `STYLE` in effect."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
            out = fn(*args, **kwargs)
            # The first figure loads pyplot's backend, which in Jupyter switches interactive
            # mode on; rc_context would switch it off again on exit and the notebook would
            # stop showing figures. Keep what the backend decided.
            interactive = matplotlib.is_interactive()
        matplotlib.interactive(interactive)
        return out

    return wrapper  # type: ignore[return-value]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of `frame` as plain dicts (column -> value)."""
    return cast(list[dict[str, Any]], frame.to_dict("records"))


def broker_colour(broker: int) -> str:
    """The colour of broker `broker` in every plot."""
    return PALETTE[int(broker) % len(PALETTE)] if broker >= 0 else FAULT_COLOUR


def series_colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def new_axes(ax: Axes | None, size: tuple[float, float] = (10.0, 4.8)) -> Axes:
    """`ax`, or the axes of a new figure (constrained layout) of `size` inches."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=size, layout="constrained")
    return new


def plain_numbers(ax: Axes, axis: str = "y") -> None:
    """No offset or scientific notation (constant data otherwise reads "1e-13+4.04")."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    formatter = ScalarFormatter(useOffset=False)
    formatter.set_scientific(False)
    target.set_major_formatter(formatter)


def thousands(ax: Axes, axis: str = "y") -> None:
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v == int(v) else f"{v:g}"))


def nothing_happened(ax: Axes, text: str) -> Axes:
    """An honest sentence in the middle of the panel (gid `nothing`)."""
    ax.text(
        0.5,
        0.5,
        text,
        ha="center",
        va="center",
        transform=ax.transAxes,
        fontsize=14,
        color="#404040",
        wrap=True,
        gid="nothing",
        bbox={"boxstyle": "round,pad=0.6", "facecolor": "#f2f2f2", "edgecolor": "#bfbfbf"},
    )
    return ax


def run_end_ms(tables: Mapping[str, pd.DataFrame]) -> float:
    """The last recorded moment of the run (ms): the latest time in any time column."""
    end = 0.0
    for frame in tables.values():
        for column in ("time_ms", "end_ms", "response_ms"):
            if column in frame.columns and len(frame):
                values = frame[column].to_numpy(dtype=np.float64)
                values = values[~np.isnan(values)]
                if len(values):
                    end = max(end, float(values.max()))
    return end


@dataclass(frozen=True)
class Fault:
    """A fault as drawn: from `start_ms` to `end_ms` (equal for an instant), with a label."""

    start_ms: float
    end_ms: float
    action: str
    target: str

    @property
    def label(self) -> str:
        if self.action == "partition":
            return "partition"
        return f"{self.action} {self.target}"


_NODE_FAULTS = ("crash", "power-loss", "disk-wipe", "pause", "shutdown")
_NETWORK_FAULTS = ("partition", "degrade")


def fault_intervals(tables: Mapping[str, pd.DataFrame]) -> tuple[list[Fault], float | None]:
    """The faults of a run as intervals, and the start of the drain phase (None if unknown)."""
    events = tables.get("events")
    if events is None or len(events) == 0:
        return [], None
    kinds = events["kind"].astype(str)
    rows = events.loc[kinds.str.startswith("fault:")].sort_values("time_ms", kind="stable")
    drain: float | None = None
    open_faults: list[tuple[float, str, str]] = []
    done: list[Fault] = []
    for time, entity, kind, detail in zip(
        rows["time_ms"].to_numpy(dtype=np.float64),
        rows["entity"].astype(str),
        rows["kind"].astype(str),
        rows["detail"].astype(str),
        strict=True,
    ):
        action = kind.split(":", 1)[1]
        if "skipped" in detail:
            continue
        if action in _NODE_FAULTS or action in _NETWORK_FAULTS:
            open_faults.append((float(time), action, entity))
            continue
        if action == "restart":
            closing = [f for f in open_faults if f[2] == entity and f[1] in _NODE_FAULTS]
            if not closing:
                done.append(Fault(float(time), float(time), "restart", entity))
        elif action == "heal":
            if entity == "all":
                closing = list(open_faults)
                if detail == "drain phase":
                    drain = float(time)
            elif entity == "network":
                closing = [f for f in open_faults if f[1] in _NETWORK_FAULTS]
            else:
                closing = [f for f in open_faults if f[2] == entity]
        else:
            continue
        for start, act, target in closing:
            done.append(Fault(start, float(time), act, target))
            open_faults.remove((start, act, target))
    end = run_end_ms(tables)
    for start, act, target in open_faults:
        done.append(Fault(start, max(end, start), act, target))
    done.sort(key=lambda f: (f.start_ms, f.label))
    return done, drain


def draw_faults(ax: Axes, tables: Mapping[str, pd.DataFrame], *, seconds: bool = True) -> int:
    """Shade every fault on the time (x) axis of `ax`, with its label, and mark the drain
    phase; returns the number of faults drawn."""
    faults, drain = fault_intervals(tables)
    scale = 1000.0 if seconds else 1.0
    for i, fault in enumerate(faults):
        start, end = fault.start_ms / scale, fault.end_ms / scale
        if end > start:
            ax.axvspan(start, end, color=FAULT_COLOUR, alpha=0.18, lw=0, gid="fault", zorder=0)
        else:
            ax.axvline(start, color=FAULT_COLOUR, lw=1.5, ls=":", gid="fault", zorder=0)
        ax.text(
            start,
            0.97 - 0.09 * (i % 4),
            f" {fault.label}",
            transform=ax.get_xaxis_transform(),
            ha="left",
            va="top",
            fontsize=10,
            color="#303030",
            gid="fault-label",
            clip_on=True,
            bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1},
        )
    if drain is not None:
        x = drain / scale
        ax.axvline(x, color="#404040", lw=1.2, ls="--", gid="drain", zorder=0)
        ax.text(
            x,
            0.99,
            " drain",
            transform=ax.get_xaxis_transform(),
            ha="left",
            va="top",
            fontsize=10,
            color="#404040",
            gid="drain",
        )
    return len(faults)


def finish(
    ax: Axes, tables: Mapping[str, pd.DataFrame] | None = None, *, time: bool = True
) -> Axes:
    """Common finish: tick sizes, a light grid, and for time axes the run's full span in
    seconds with the fault bands."""
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(True, alpha=0.3)
    if time and tables is not None:
        end = run_end_ms(tables) / 1000.0
        ax.set_xlim(0.0, end if end > 0 else 1.0)
        ax.set_xlabel("time (s)")
        draw_faults(ax, tables)
    return ax
