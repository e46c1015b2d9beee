"""The message-flow diagram: one record batch's journey through Kafka, from the recorded tables.

The textbook picture of a write: the producer sends a ProduceRequest to the partition's leader,
the leader appends it to its log, each follower's replica fetch copies it, the followers' next
fetches tell the leader they have it and the high watermark passes it, the leader acknowledges
(at once with acks=1, once the HW passes with acks=all), a consumer fetches it (only below the
HW), processes it and commits its offset to the group coordinator. Drawn as a sequence diagram:
one vertical lane per actor, simulated time flowing down, an arrow per hop.

Every point is a recorded event of this batch (results/README.md), never a template:

- ProduceRequest: `produce_requests.send_ms` -> the leader's append (`appends`, role leader);
- replica Fetch response: the leader's append -> each follower's append (role follower);
- next replica Fetch: the last follower append before the HW moved -> the leader's high
  watermark passing the batch (`gauges` high_watermark rows of that broker);
- ProduceResponse: the HW move (acks=all) or the append (acks=1) -> `response_ms`;
- Fetch response: the HW move -> the consumer starting to process the batch
  (`deliveries.start_ms`), processing until `end_ms`;
- OffsetCommit: end of processing (commit mode after-processing) -> the coordinator storing the
  offset (`gauges` committed_offset, recorded with the coordinator's broker id); and back to
  `commits.time_ms`.

An arrow joins two recorded events: the message that carried the hop left at or after the
arrow's start (a follower's fetch may have been parked in purgatory before the append; a
consumer's fetch may arrive after the HW moved). Attempts that failed are marked on the
producer's lane with their error. Hops with no recorded event are left out, never guessed.

`record_journey(tables, ...)` computes the hops; `plot_message_flow` draws them;
`animate_message_flow` writes the same diagram as an animated GIF (matplotlib.animation with
Pillow), the arrows growing in simulated time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sim.analysis.plot_style import PALETTE, finish, new_axes, nothing_happened, records, styled
from sim.analysis.recorder import ensure_tables

__all__ = ["Hop", "Journey", "animate_message_flow", "plot_message_flow", "record_journey"]

Tables = Mapping[str, pd.DataFrame]

COLOURS = {
    "request": PALETTE[0],
    "replication": PALETTE[2],
    "response": PALETTE[1],
    "consume": PALETTE[4],
    "commit": PALETTE[5],
    "error": PALETTE[3],
    "span": PALETTE[4],
}


@dataclass(frozen=True)
class Hop:
    """An arrow (`source` lane at `start_ms` to `target` lane at `end_ms`) or, when source ==
    target, a mark or a span on one lane."""

    kind: str
    source: str
    start_ms: float
    target: str
    end_ms: float
    label: str


@dataclass
class Journey:
    """The lanes (left to right) and hops of one batch, with a title."""

    title: str
    lanes: list[str] = field(default_factory=list)
    hops: list[Hop] = field(default_factory=list)
    origin_ms: float = 0.0

    @property
    def span_ms(self) -> tuple[float, float]:
        times = [h.start_ms for h in self.hops] + [h.end_ms for h in self.hops]
        return (min(times), max(times)) if times else (0.0, 0.0)

    def add(
        self, kind: str, source: str, start: float, target: str, end: float, label: str
    ) -> None:
        for lane in (source, target):
            if lane not in self.lanes:
                self.lanes.append(lane)
        self.hops.append(Hop(kind, source, float(start), target, float(end), label))


def _pick_batch(
    t: Tables, producer: str | None, topic: str | None, partition: int | None, batch_id: int | None
) -> pd.Series | None:
    produce = t["produce"].sort_values("time_ms", kind="stable")
    sel = np.ones(len(produce), dtype=bool)
    for column, value in (
        ("producer", producer),
        ("topic", topic),
        ("partition", partition),
        ("batch_id", batch_id),
    ):
        if value is not None:
            sel &= (produce[column] == value).to_numpy()
    candidates = produce.loc[sel]
    if len(candidates) == 0:
        return None
    acked = candidates.loc[candidates["outcome"] == "acked"]
    if len(acked) == 0:
        return candidates.iloc[0]
    deliveries = t["deliveries"]
    followers = t["appends"].loc[t["appends"]["role"] == "follower"]
    for _, row in acked.head(200).iterrows():
        same = (deliveries["producer"] == row["producer"]) & (deliveries["topic"] == row["topic"])
        same &= deliveries["partition"] == row["partition"]
        same &= (deliveries["seq_start"] <= row["seq_start"]) & (
            deliveries["seq_start"] + deliveries["count"] > row["seq_start"]
        )
        replicated = (followers["topic"] == row["topic"]) & (
            followers["partition"] == row["partition"]
        )
        replicated &= followers["base_offset"] == row["base_offset"]
        if same.any() and (replicated.any() or len(followers) == 0):
            return row
    return acked.iloc[0]


def record_journey(
    tables: Tables,
    *,
    producer: str | None = None,
    topic: str | None = None,
    partition: int | None = None,
    batch_id: int | None = None,
) -> Journey | None:
    """The hops of one produced batch: the given one, else the first acknowledged batch that
    was replicated and consumed (else the first acknowledged, else the first). None when the
    run produced nothing."""
    t = ensure_tables(tables)
    batch = _pick_batch(t, producer, topic, partition, batch_id)
    if batch is None:
        return None
    name, tp = str(batch["producer"]), (str(batch["topic"]), int(batch["partition"]))
    entity = f"{tp[0]}-{tp[1]}"
    seq, count = int(batch["seq_start"]), int(batch["count"])
    acks = str(batch["acks"])
    size = f"{count} record{'s' * (count != 1)}"
    journey = Journey(f"{entity}: batch {int(batch['batch_id'])} of {name} ({size}, acks={acks})")
    journey.lanes.append(name)

    requests = t["produce_requests"]
    attempts = requests.loc[
        (requests["producer"] == name)
        & (requests["topic"] == tp[0])
        & (requests["partition"] == tp[1])
        & (requests["batch_id"] == int(batch["batch_id"]))
    ].sort_values("send_ms", kind="stable")
    appends = t["appends"]
    mine = appends.loc[
        (appends["topic"] == tp[0])
        & (appends["partition"] == tp[1])
        & (appends["producer"] == name)
        & (appends["seq_start"] == seq)
    ].sort_values("time_ms", kind="stable")
    leader_appends = mine.loc[mine["role"] == "leader"]
    if len(attempts):
        journey.origin_ms = float(attempts["send_ms"].iloc[0])
    lead: tuple[int, float, int] | None = None  # broker, append time, base offset
    ack_attempt: dict[str, Any] | None = None
    for row in records(attempts):
        broker = f"broker-{int(row['broker'])}"
        response = float(row["response_ms"])
        window = leader_appends.loc[
            (leader_appends["broker"] == row["broker"])
            & (leader_appends["time_ms"] >= row["send_ms"])
            & ((leader_appends["time_ms"] <= response) if not np.isnan(response) else True)
        ]
        if len(window) and lead is None:
            append = window.iloc[0]
            lead = (int(row["broker"]), float(append["time_ms"]), int(append["base_offset"]))
            journey.add(
                "request",
                name,
                row["send_ms"],
                broker,
                lead[1],
                f"ProduceRequest (attempt {row['attempt']})",
            )
            end = lead[2] + count
            offsets = f"offset {lead[2]}" if count == 1 else f"offsets {lead[2]}..{end - 1}"
            journey.add("mark", broker, lead[1], broker, lead[1], f"leader appends {offsets}")
        if row["error"]:
            at = response if not np.isnan(response) else float(row["send_ms"])
            journey.add("error", name, at, name, at, f"attempt {row['attempt']}: {row['error']}")
        elif not np.isnan(response):
            ack_attempt = row
    if lead is None:
        return journey if journey.hops else None
    leader, appended, base = lead
    leader_lane = f"broker-{leader}"
    end_offset = base + count

    followers = mine.loc[(mine["role"] == "follower") & (mine["time_ms"] >= appended)]
    follower_times: dict[int, float] = {}
    for row in records(followers):
        if int(row["broker"]) not in follower_times:
            follower_times[int(row["broker"])] = float(row["time_ms"])
    for follower, when in sorted(follower_times.items(), key=lambda kv: kv[0]):
        journey.add(
            "replication",
            leader_lane,
            appended,
            f"broker-{follower}",
            when,
            "replica Fetch response",
        )

    gauges = t["gauges"]
    hw = gauges.loc[
        (gauges["entity"] == f"{tp[0]}-{tp[1]}")
        & (gauges["metric"] == "high_watermark")
        & (gauges["value"] >= end_offset)
        & (gauges["time_ms"] >= appended)
    ]
    if "broker" in hw.columns and (hw["broker"] >= 0).any():
        hw = hw.loc[hw["broker"] == leader]
    hw_time = float(hw["time_ms"].min()) if len(hw) else None
    if hw_time is not None:
        before = {b: w for b, w in follower_times.items() if w <= hw_time}
        if before:
            last, when = max(before.items(), key=lambda kv: kv[1])
            journey.add(
                "replication",
                f"broker-{last}",
                when,
                leader_lane,
                hw_time,
                f"replica Fetch (offset {end_offset})",
            )
        journey.add(
            "mark", leader_lane, hw_time, leader_lane, hw_time, f"high watermark → {end_offset}"
        )

    if ack_attempt is not None and acks != "0":
        start = hw_time if (acks == "all" and hw_time is not None) else appended
        journey.add(
            "response",
            leader_lane,
            start,
            name,
            float(ack_attempt["response_ms"]),
            "ProduceResponse",
        )

    deliveries = t["deliveries"]
    got = deliveries.loc[
        (deliveries["producer"] == name)
        & (deliveries["topic"] == tp[0])
        & (deliveries["partition"] == tp[1])
        & (deliveries["seq_start"] <= seq)
        & (deliveries["seq_start"] + deliveries["count"] > seq)
    ].sort_values("start_ms", kind="stable")
    if hw_time is not None and len(got):
        d = got.iloc[0]
        consumer = str(d["consumer"])
        visible = hw_time
        if float(d["start_ms"]) >= visible:
            journey.add(
                "consume",
                leader_lane,
                visible,
                consumer,
                float(d["start_ms"]),
                "Fetch response (below HW)",
            )
        journey.add("span", consumer, float(d["start_ms"]), consumer, float(d["end_ms"]), "process")
        _commit_hops(t, journey, d, base + (seq - int(d["seq_start"])) + 1)
    return journey


def _commit_hops(t: Tables, journey: Journey, delivery: pd.Series, covering: int) -> None:
    """The OffsetCommit that first covered the record: to the coordinator and back."""
    group, consumer = str(delivery["group"]), str(delivery["consumer"])
    if not group:
        return
    commits = t["commits"]
    ok = commits.loc[
        (commits["group"] == group)
        & (commits["consumer"] == consumer)
        & (commits["topic"] == delivery["topic"])
        & (commits["partition"] == delivery["partition"])
        & (commits["offset"] >= covering)
        & commits["ok"]
    ].sort_values("time_ms", kind="stable")
    if len(ok) == 0:
        return
    commit = ok.iloc[0]
    gauges = t["gauges"]
    stored = gauges.loc[
        (gauges["entity"] == f"{group}/{delivery['topic']}-{delivery['partition']}")
        & (gauges["metric"] == "committed_offset")
        & (gauges["value"] >= covering)
        & (gauges["time_ms"] <= float(commit["time_ms"]))
    ].sort_values("time_ms", kind="stable")
    done = float(commit["time_ms"])
    if len(stored) == 0 or "broker" not in stored.columns or int(stored["broker"].iloc[0]) < 0:
        journey.add(
            "mark", consumer, done, consumer, done, f"offset {int(commit['offset'])} committed"
        )
        return
    at = float(stored["time_ms"].iloc[0])
    coordinator = f"broker-{int(stored['broker'].iloc[0])}"
    if str(commit["kind"]) == "after-processing" and at >= float(delivery["end_ms"]):
        journey.add(
            "commit",
            consumer,
            float(delivery["end_ms"]),
            coordinator,
            at,
            f"OffsetCommit ({int(commit['offset'])})",
        )
    else:
        journey.add(
            "mark",
            coordinator,
            at,
            coordinator,
            at,
            f"{commit['kind']} commit stored ({int(commit['offset'])})",
        )
    journey.add("commit", coordinator, at, consumer, done, "OffsetCommit response")


def _lane_order(journey: Journey) -> list[str]:
    producer = journey.lanes[0]
    brokers = sorted(
        (lane for lane in journey.lanes if lane.startswith("broker-")),
        key=lambda s: int(s.split("-")[1]),
    )
    leader = next((h.target for h in journey.hops if h.kind == "request"), None)
    if leader in brokers:
        brokers.remove(leader)
        brokers.insert(0, leader)
    others = [lane for lane in journey.lanes if lane != producer and lane not in brokers]
    return [producer, *brokers, *others]


def _draw_frame(ax: Axes, journey: Journey, lanes: list[str], now: float | None = None) -> None:
    """The lanes and every hop (up to simulated time `now`, for the animation)."""
    x = {lane: i for i, lane in enumerate(lanes)}
    origin = journey.origin_ms
    leader = lanes[1] if len(lanes) > 1 else None
    coordinator = next(
        (h.target for h in journey.hops if h.label.startswith("OffsetCommit (")), None
    )
    coordinator = coordinator or next(
        (h.source for h in journey.hops if h.label == "OffsetCommit response"), None
    )
    for lane, i in x.items():
        ax.axvline(i, color="#9a9a9a", lw=1.2, zorder=0, gid="lane")
        role = "leader" if lane == leader else ("follower" if lane.startswith("broker-") else "")
        if lane == coordinator:
            role = f"{role}, coordinator" if role else "group coordinator"
        title = f"{lane}\n({role})" if role else lane
        ax.text(
            i,
            1.01,
            title,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=12,
            fontweight="bold",
            gid="lane-label",
        )
    fan_out: dict[tuple[str, float], list[Hop]] = {}
    for hop in journey.hops:
        if hop.source != hop.target:
            fan_out.setdefault((hop.source, hop.start_ms), []).append(hop)
    for hop in journey.hops:
        t0, t1 = hop.start_ms - origin, hop.end_ms - origin
        if now is not None and hop.start_ms > now:
            continue
        colour = COLOURS.get(hop.kind, "#404040")
        if hop.kind in ("mark", "error"):
            ax.plot([x[hop.source]], [t0], "o", color=colour, ms=8, zorder=3, gid=hop.kind)
            ax.annotate(
                hop.label,
                (x[hop.source], t0),
                xytext=(8, 0),
                textcoords="offset points",
                va="center",
                fontsize=10,
                color=colour if hop.kind == "error" else "#202020",
                gid=f"{hop.kind}-label",
            )
            continue
        if hop.kind == "span":
            end = t1 if now is None else min(t1, now - origin)
            ax.plot(
                [x[hop.source]] * 2,
                [t0, end],
                color=colour,
                lw=8,
                alpha=0.6,
                solid_capstyle="butt",
                gid="span",
            )
            ax.annotate(
                hop.label,
                (x[hop.source], (t0 + end) / 2),
                xytext=(8, 0),
                textcoords="offset points",
                va="center",
                fontsize=10,
                gid="span-label",
            )
            continue
        x0, x1 = x[hop.source], x[hop.target]
        frac = (
            1.0
            if now is None or hop.end_ms <= now
            else (now - hop.start_ms) / max(hop.end_ms - hop.start_ms, 1e-9)
        )
        xe, te = x0 + (x1 - x0) * frac, t0 + (t1 - t0) * frac
        ax.annotate(
            "",
            xy=(xe, te),
            xytext=(x0, t0),
            gid="arrow",
            arrowprops={
                "arrowstyle": "-|>",
                "color": colour,
                "lw": 2.2,
                "shrinkA": 0,
                "shrinkB": 0,
            },
        )
        if frac >= 1.0:
            # Arrows leaving one point for several lanes (the followers' fetches) put their
            # labels at different places along them, so that they do not overlap.
            fan = fan_out.get((hop.source, hop.start_ms), [hop])
            at = 0.5 if len(fan) == 1 else min(0.3 + 0.45 * fan.index(hop), 0.9)
            ax.text(
                x0 + (x1 - x0) * at,
                t0 + (t1 - t0) * at,
                hop.label,
                ha="center",
                va="bottom",
                fontsize=10,
                color=colour,
                gid="arrow-label",
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1},
            )
    if now is not None:
        ax.axhline(now - origin, color="#d0d0d0", lw=1, ls="--", zorder=0)


def _frame_axes(ax: Axes, journey: Journey, lanes: list[str]) -> None:
    low, high = journey.span_ms
    pad = max((high - low) * 0.06, 0.5)
    ax.set_xlim(-0.6, len(lanes) - 0.4)
    ax.set_ylim(high - journey.origin_ms + pad, low - journey.origin_ms - pad)  # time flows down
    ax.set_xticks([])
    ax.set_ylabel(f"ms after the first send (at {journey.origin_ms / 1000:.3f} s)")
    ax.set_title(journey.title, pad=48)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=12)
    ax.grid(True, axis="y", alpha=0.25)


@styled
def plot_message_flow(
    tables: Tables,
    ax: Axes | None = None,
    *,
    producer: str | None = None,
    topic: str | None = None,
    partition: int | None = None,
    batch_id: int | None = None,
) -> Axes:
    """One batch's journey as a sequence diagram (lanes = actors, time flows down)."""
    t = ensure_tables(tables)
    journey = record_journey(
        t, producer=producer, topic=topic, partition=partition, batch_id=batch_id
    )
    if journey is None or not journey.hops:
        ax = new_axes(ax, (10.0, 6.0))
        ax.set_title("Message flow")
        nothing_happened(ax, "no produced batch matches: nothing to follow")
        return finish(ax, None, time=False)
    lanes = _lane_order(journey)
    ax = new_axes(ax, (max(8.0, 2.4 * len(lanes)), 7.5))
    _draw_frame(ax, journey, lanes)
    _frame_axes(ax, journey, lanes)
    return ax


def animate_message_flow(
    tables: Tables, path: str | Path, *, frames: int = 48, fps: int = 8, **selection: Any
) -> Path:
    """Write the message-flow diagram of `plot_message_flow` as an animated GIF at `path`: the
    hops appear and grow as simulated time passes (`frames` steps over the journey, then a
    pause on the whole picture)."""
    import matplotlib
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.figure import Figure

    t = ensure_tables(tables)
    journey = record_journey(t, **selection)
    if journey is None or not journey.hops:
        chosen = ", ".join(f"{k}={v}" for k, v in selection.items() if v is not None)
        why = f"no produced batch matches {chosen}" if chosen else "the run produced nothing"
        raise ValueError(f"nothing to follow: {why}")
    lanes = _lane_order(journey)
    low, high = journey.span_ms
    times = list(np.linspace(low, high, frames)) + [high] * max(fps * 2, 1)
    with matplotlib.rc_context({"font.size": 12}):
        fig = Figure(figsize=(max(8.0, 2.4 * len(lanes)), 7.5), layout="constrained")
        ax = fig.subplots()

        def draw(now: float) -> list[Any]:
            ax.clear()
            _draw_frame(ax, journey, lanes, now)
            _frame_axes(ax, journey, lanes)
            return []

        animation = FuncAnimation(fig, draw, frames=times, blit=False)
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        animation.save(str(out), writer=PillowWriter(fps=fps), dpi=80)
    return out
