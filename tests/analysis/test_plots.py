"""Plots are tested for what they show (issue 8): lanes, tracks, labels, fault bands on every time
axis, time in seconds, and an honest panel for the degenerate cases (nothing recorded, no ISR
change, constant latency, no election).

Tables are built with the Recorder (exact, tiny histories) so that every expectation can be
checked by hand; one real run checks the regressions reported in the issue.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba

import sim
from sim.analysis import plots
from sim.analysis.plot_style import PALETTE, broker_colour, fault_intervals
from sim.analysis.recorder import Recorder

TIME_PLOTS = ("leadership", "isr_size", "hw_leo", "consumer_lag", "throughput", "latency")


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def failover() -> dict[str, pd.DataFrame]:
    """ORDER-0 on brokers 0, 1, 2: broker-0 leads, is cut off at 10 s but keeps believing it
    leads (a zombie) until 25 s; broker-1 is elected at 17 s. ORDER-1 never changes."""
    rec = Recorder("r", 3, "plots")
    p = rec.table("produce")
    p((20.0, "p-0", "ORDER", 0, 1, 0, 3, 300, 10.0, 12.0, "all", "acked", "", 0, 1))
    p((20_000.0, "p-0", "ORDER", 0, 2, 3, 2, 200, 11_000.0, 11_000.0, "all", "acked", "", 3, 2))
    p((30.0, "p-0", "ORDER", 1, 3, 0, 4, 400, 20.0, 22.0, "all", "acked", "", 0, 1))
    g = rec.table("gauges")
    for entity in ("ORDER-0", "ORDER-1"):
        leader = 0 if entity == "ORDER-0" else 1
        for metric in ("high_watermark", "log_end_offset", "log_start_offset"):
            g((0.0, entity, metric, 0, leader))
        g((0.0, entity, "isr_size", 3, leader))
    g((20.0, "ORDER-0", "log_end_offset", 3, 0))
    g((20.0, "ORDER-0", "high_watermark", 3, 0))
    g((12_000.0, "ORDER-0", "log_end_offset", 9, 0))  # the zombie appends alone
    g((15_000.0, "ORDER-0", "isr_size", 2, 0))
    for metric, value in (("high_watermark", 3), ("log_end_offset", 3), ("log_start_offset", 1)):
        g((17_000.0, "ORDER-0", metric, value, 1))
    g((17_000.0, "ORDER-0", "isr_size", 2, 1))
    g((20_000.0, "ORDER-0", "log_end_offset", 5, 1))
    g((20_001.0, "ORDER-0", "high_watermark", 5, 1))
    g((30.0, "ORDER-1", "high_watermark", 4, 1))
    g((30.0, "ORDER-1", "log_end_offset", 4, 1))
    g((40.0, "g/ORDER-0", "committed_offset", 3, 2))
    g((21_000.0, "g/ORDER-0", "committed_offset", 5, 2))
    rec.table("elections")(
        (17_000.0, "ORDER", 0, 10_000.0, 17_000.0, 0, 1, 1, "clean", "broker 0 fenced")
    )
    e = rec.table("events")
    e((0.0, "ORDER-0@broker-0", "leader", "epoch 0"))
    e((0.0, "ORDER-1@broker-1", "leader", "epoch 0"))
    e((10_000.0, "network", "fault:partition", "broker-0 | broker-1,broker-2"))
    e((17_000.0, "ORDER-0@broker-1", "leader", "epoch 1"))
    e((25_000.0, "network", "fault:heal", "partition ended"))
    e((25_002.0, "ORDER-0@broker-0", "follower", "epoch 1, leader broker-1"))
    e((30_000.0, "all", "fault:heal", "drain phase"))
    d = rec.table("deliveries")
    d((50.0, "g", "c-0", "ORDER", 0, 0, 3, "p-0", 0, 10.0, 12.0, 45.0, 50.0))
    d((20_500.0, "g", "c-0", "ORDER", 0, 3, 2, "p-0", 3, 11_000.0, 11_000.0, 20_400.0, 20_500.0))
    return rec.frames()


def empty() -> dict[str, pd.DataFrame]:
    return Recorder("r", 1, "empty").frames()


def texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def data_lines(ax: Axes) -> list[Any]:
    """The labelled data lines (not the fault and drain markers)."""
    return [x for x in ax.lines if not str(x.get_label()).startswith("_")]


def by_gid(ax: Axes, gid: str) -> list[Any]:
    return [a for a in ax.get_children() if a.get_gid() == gid]


# ---------------------------------------------------------------- every plot


@pytest.mark.parametrize("name", list(plots.PLOTS))
def test_each_plot_draws_on_a_given_axes_and_returns_it(name: str) -> None:
    _, ax = plt.subplots()
    assert plots.PLOTS[name](failover(), ax=ax) is ax
    assert ax.has_data() or ax.patches or ax.texts, name


@pytest.mark.parametrize("name", list(plots.PLOTS))
def test_each_plot_of_an_empty_run_says_so(name: str) -> None:
    ax = plots.PLOTS[name](empty())
    assert not ax.lines and not ax.collections, name
    assert by_gid(ax, "nothing"), name


@pytest.mark.parametrize("name", TIME_PLOTS)
def test_time_axes_are_in_seconds_over_the_whole_run_with_fault_bands(name: str) -> None:
    _, ax = plt.subplots()
    plots.PLOTS[name](failover(), ax=ax)
    assert ax.get_xlabel() == "time (s)"
    assert ax.get_xlim() == pytest.approx((0.0, 30.0))  # the run's last record, in seconds
    [band] = by_gid(ax, "fault")
    assert band.get_x() == pytest.approx(10.0) and band.get_width() == pytest.approx(15.0)
    assert " partition" in [t.get_text() for t in by_gid(ax, "fault-label")]
    assert by_gid(ax, "drain")
    assert ax.get_title() and ax.get_ylabel(), name


def test_fault_intervals_pair_faults_with_their_heal() -> None:
    t = failover()
    rows = [
        (1000.0, "broker-1", "fault:crash", ""),
        (2000.0, "broker-2", "fault:pause", "for 500 ms"),
        (2500.0, "broker-2", "fault:heal", ""),
        (3000.0, "broker-1", "fault:restart", ""),
        (4000.0, "broker-0", "fault:restart", ""),  # nothing to end: an instant
        (5000.0, "nobody", "fault:crash", "no such node now: skipped"),
    ]
    events = pd.concat(
        [t["events"], pd.DataFrame(rows, columns=["time_ms", "entity", "kind", "detail"])]
    )
    faults, drain = fault_intervals({**t, "events": events})
    assert drain == 30_000.0
    assert [(f.start_ms, f.end_ms, f.label) for f in faults] == [
        (1000.0, 3000.0, "crash broker-1"),
        (2000.0, 2500.0, "pause broker-2"),
        (4000.0, 4000.0, "restart broker-0"),
        (10_000.0, 25_000.0, "partition"),
    ]


# ---------------------------------------------------------------- leadership


def test_leadership_lanes_coloured_by_leader_with_the_offline_gap_annotated() -> None:
    ax = plots.leadership(failover())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ORDER-0", "ORDER-1"]
    lead = by_gid(ax, "lead")
    spans = sorted(
        (
            round(b.get_paths()[0].vertices[:, 0].min(), 3),
            round(b.get_paths()[0].vertices[:, 1].min(), 1),
            tuple(b.get_facecolor()[0]),
        )
        for b in lead
    )
    # ORDER-0 (lane 0): broker-0 to 10 s, nobody 10..17 s, broker-1 after; ORDER-1 (lane 1):
    # broker-1 throughout.
    blue, orange = (tuple(to_rgba(broker_colour(b))) for b in (0, 1))
    assert spans == [(0.0, -0.3, blue), (0.0, 0.7, orange), (17.0, -0.3, orange)]
    [offline] = by_gid(ax, "offline")
    xs = offline.get_paths()[0].vertices[:, 0]
    assert (xs.min(), xs.max()) == pytest.approx((10.0, 17.0))
    assert [t.get_text() for t in by_gid(ax, "election")] == ["7.0 s clean"]
    assert ax.get_title() == "Partition leaders (1 election)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["broker-0", "broker-1", "no leader"]


def test_leadership_without_elections_says_so() -> None:
    t = failover()
    t["elections"] = t["elections"].iloc[0:0]
    ax = plots.leadership(t)
    assert ax.get_title() == "Partition leaders (no leader election in this run)"
    assert not by_gid(ax, "offline") and len(by_gid(ax, "lead")) == 2


# ---------------------------------------------------------------- replication


def test_isr_size_runs_to_the_end_and_names_the_partitions_that_changed() -> None:
    ax = plots.isr_size(failover())
    assert ax.get_title() == "ISR size (1 of 2 partitions changed)"
    lines = {line.get_label(): line for line in data_lines(ax)}
    x0, y0 = lines["ORDER-0"].get_data()
    assert x0[-1] == pytest.approx(30.0)  # extended to the end of the run
    assert np.round(y0).tolist() == [3.0, 2.0, 2.0, 2.0]


def test_isr_size_that_never_changes_is_a_readable_plot() -> None:
    """Issue 8: an empty frame with an x-axis of -0.04..0.04 ms when the ISR never changed."""
    t = failover()
    g = t["gauges"]
    t["gauges"] = g.loc[~((g["metric"] == "isr_size") & (g["time_ms"] > 0))]
    ax = plots.isr_size(t)
    assert ax.get_title() == "ISR size (never changed: 3 replicas in sync throughout)"
    assert ax.get_xlim() == pytest.approx((0.0, 30.0))
    assert all(line.get_xdata()[-1] == pytest.approx(30.0) for line in data_lines(ax))


def test_hw_leo_one_track_per_broker_that_believes_it_leads() -> None:
    """Issue 14 item 6: during the isolation the old and the new leader each get a track."""
    _, ax = plt.subplots()
    plots.hw_leo(failover(), ax=ax)
    hw = by_gid(ax, "hw")
    colours = sorted({line.get_color() for line in hw})
    assert colours == sorted({broker_colour(0), broker_colour(1)})
    tracks = {t.get_text(): t for t in by_gid(ax, "track-label")}
    assert set(tracks) == {"ORDER-0 broker-0", "ORDER-0 broker-1", "ORDER-1 broker-1"}
    zombie = next(line for line in hw if line.get_color() == broker_colour(0))
    x, y = zombie.get_data()
    assert x[-1] == pytest.approx(25.002)  # ends when broker-0 learns it is a follower
    leo = next(line for line in by_gid(ax, "leo") if line.get_color() == broker_colour(0))
    assert max(leo.get_ydata()) == 9 and max(y) == 3  # LEO ran ahead of the frozen HW
    assert by_gid(ax, "uncommitted")
    assert by_gid(ax, "lso")  # the log start offset moved (to 1 on broker-1): drawn
    [note] = [t.get_text() for t in by_gid(ax, "note")]
    assert "ORDER-0: two brokers believed they led at once" in note
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:4] == [
        "high watermark",
        "log end offset",
        "not yet in all ISR",
        "log start offset",
    ]


def test_hw_leo_without_axes_gives_each_partition_a_panel() -> None:
    fig = plots.hw_leo(failover())
    titles = [a.get_title() for a in fig.axes]
    assert titles == [
        "ORDER-0: high watermark and log end offset",
        "ORDER-1: high watermark and log end offset",
    ]
    assert [a.get_xlabel() for a in fig.axes] == ["", "time (s)"]
    assert {t.get_text() for t in by_gid(fig.axes[1], "track-label")} == {"ORDER-1 broker-1"}
    assert plots.hw_leo_partitions(failover()) == ["ORDER-0", "ORDER-1"]


def test_hw_leo_chooses_partitions_and_reads_older_tables_without_broker() -> None:
    t = failover()
    ax = plots.hw_leo(t, partitions=["ORDER-1"])
    assert {x.get_text() for x in by_gid(ax, "track-label")} == {"ORDER-1 broker-1"}
    old = {**t, "gauges": t["gauges"].drop(columns="broker")}
    ax = plots.hw_leo(old, partitions=["ORDER-0"])
    assert [x.get_text() for x in by_gid(ax, "track-label")] == ["ORDER-0"]  # one merged track


# ---------------------------------------------------------------- consumers


def test_consumer_lag_sum_max_and_per_partition() -> None:
    t = failover()
    g = t["gauges"]
    extra = g.iloc[[0]].assign(
        time_ms=40.0, entity="g/ORDER-1", metric="committed_offset", value=1.0
    )
    t["gauges"] = pd.concat([g, extra], ignore_index=True)
    summed = plots.consumer_lag_plot(t, bin_s=1.0)
    assert summed.get_title() == "Consumer lag per group (sum over partitions, peak per 1 s)"
    assert summed.get_ylabel() == "lag: HW − committed offset (records)"
    [line] = data_lines(summed)
    # At 40 ms: ORDER-0 HW 3 − 3 = 0 and ORDER-1 HW 4 − 1 = 3; at 20 s ORDER-0's HW is 5.
    assert line.get_ydata()[0] == 3.0
    assert max(line.get_ydata()) == 5.0
    per_partition = plots.consumer_lag_plot(t, how="partition", bin_s=1.0)
    assert sorted(x.get_label() for x in data_lines(per_partition)) == ["g ORDER-0", "g ORDER-1"]
    worst = plots.consumer_lag_plot(t, how="max", bin_s=1.0)
    assert data_lines(worst)[0].get_ydata()[0] == 3.0
    with pytest.raises(ValueError, match="how must be"):
        plots.consumer_lag_plot(t, how="mean")


def test_consumer_lag_marks_rebalances_when_the_table_exists() -> None:
    t = failover()
    t["rebalances"] = pd.DataFrame(
        {"group": ["g"], "generation": [2], "start_ms": [5000.0], "end_ms": [8000.0]}
    )
    ax = plots.consumer_lag_plot(t)
    [band] = by_gid(ax, "rebalance")
    assert band.get_x() == pytest.approx(5.0) and band.get_width() == pytest.approx(3.0)
    assert [x.get_text() for x in by_gid(ax, "rebalance-label")] == [" rebalance g 2"]


def test_consumer_lag_that_stays_zero_says_so() -> None:
    t = failover()
    g = t["gauges"]
    t["gauges"] = g.loc[g["metric"] != "high_watermark"]
    hw = g.iloc[[0]].assign(time_ms=0.0, entity="ORDER-0", metric="high_watermark", value=3.0)
    t["gauges"] = pd.concat([t["gauges"], hw], ignore_index=True)
    committed = t["gauges"]["metric"] == "committed_offset"
    t["gauges"].loc[committed, "value"] = 3.0
    ax = plots.consumer_lag_plot(t)
    assert "lag stayed 0" in " ".join(texts(ax))


# ---------------------------------------------------------------- rates and latency


def test_throughput_counts_records_per_second() -> None:
    ax = plots.throughput(failover(), bin_s=1.0)
    lines = {line.get_label(): line for line in data_lines(ax)}
    assert set(lines) == {"produced", "acknowledged", "consumed"}
    # 3 + 4 records created in the first second, 2 at 11 s; 7 acknowledged in the first second.
    assert lines["produced"].get_ydata()[0] == 7.0
    assert lines["produced"].get_ydata()[11] == 2.0
    assert lines["acknowledged"].get_ydata()[20] == 2.0
    assert lines["consumed"].get_ydata()[0] == 3.0


def test_latency_over_time_in_ms_on_a_log_axis_for_a_failover_tail() -> None:
    ax = plots.latency(failover(), bin_s=1.0)
    assert ax.get_ylabel() == "latency (ms)" and ax.get_yscale() == "log"
    labels = sorted(x.get_label() for x in data_lines(ax))
    assert labels == ["end-to-end p50", "end-to-end p99", "produce p50", "produce p99"]
    p50 = next(x for x in data_lines(ax) if x.get_label() == "produce p50").get_ydata()
    assert p50[0] == pytest.approx(
        9.0
    )  # records created at 10, 11, 12 ms (and 20..22), acked at 20/30
    assert p50[20] == pytest.approx(9000.0)


def constant_latency() -> dict[str, pd.DataFrame]:
    rec = Recorder("r", 1, "constant")
    for i in range(50):
        t0 = 100.0 * i
        rec.table("produce")(
            (t0 + 4.040353, "p-0", "T", 0, i, i, 1, 100, t0, t0, "all", "acked", "", i, 1)
        )
    return rec.frames()


def test_constant_latency_is_readable() -> None:
    """Issue 8: the CDF's x-axis read "1e-13+4.040353" with constant latency."""
    fig, (left, right) = plt.subplots(1, 2)
    cdf = plots.latency_cdf(constant_latency(), ax=left)
    assert cdf.get_title() == "Latency distribution (every record: 4.04035 ms)"
    low, high = cdf.get_xlim()
    assert low < 4.04 < high and high / low == pytest.approx(4.0)
    over_time = plots.latency(constant_latency(), ax=right)
    assert over_time.get_title() == "Latency over time (constant: 4.04035 ms)"
    fig.canvas.draw()
    for ax in (cdf, over_time):
        ticks = [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
        assert not any("e-" in t or "+" in t for t in ticks), ticks
        assert not ax.yaxis.get_offset_text().get_text()


def test_latency_cdf_uses_a_log_axis_and_marks_p50_p99() -> None:
    ax = plots.latency_cdf(failover())
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "latency (ms)"
    assert {x.get_label() for x in ax.lines if not x.get_gid()} == {"produce", "end-to-end"}
    assert len(by_gid(ax, "quantile")) == 2


# ---------------------------------------------------------------- durability


def test_durability_counts_and_several_runs_on_one_axes() -> None:
    t = failover()
    assert plots.durability_counts(t) == {
        "acknowledged": 9,
        "lost": 9,  # the log table is empty: every acknowledged record is missing
        "duplicated": 0,
        "reordered": 0,
        "unconsumed": 0,
    }
    ax = plots.durability(t, label="first")
    ax = plots.durability(empty(), ax=ax, label="second")
    assert len(by_gid(ax, "durability")) == 10
    assert [len(c) for c in ax.containers] == [5, 5]
    assert [x.get_text() for x in ax.get_xticklabels()] == [
        "acknowledged",
        "lost",
        "duplicated",
        "reordered",
        "unconsumed",
    ]
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["first", "second"]
    assert ax.get_yscale() == "log"


def test_durability_of_several_results(hello_kafka: Path) -> None:
    scenario = sim.load_scenario(hello_kafka, {"duration": "1s", "drain": "0s"})
    a, b = sim.run(scenario), sim.run(scenario, seed=2)
    ax = plots.durability([a, b])
    labels = [x.get_text() for x in ax.get_legend().get_texts()]
    assert labels == ["hello-kafka seed 1", "hello-kafka seed 2"]
    ax2 = a.plot.durability()
    b.plot.durability(ax=ax2)
    assert [x.get_text() for x in ax2.get_legend().get_texts()] == labels
    ax3 = plots.durability(a)  # one Result
    plots.durability(b.tables, ax=ax3)  # bare tables name themselves from their columns
    assert [x.get_text() for x in ax3.get_legend().get_texts()] == labels


def test_the_palette_is_colour_blind_safe_okabe_ito() -> None:
    assert PALETTE[:3] == ("#0072B2", "#E69F00", "#009E73")
    assert broker_colour(1) == PALETTE[1] and broker_colour(9) == PALETTE[1]


def test_the_style_keeps_the_interactive_mode_the_backend_chose() -> None:
    """In Jupyter the first figure loads the inline backend, which switches interactive mode on;
    restoring rcParams after a plot must not switch it off (the notebook would stop showing
    figures)."""
    import matplotlib

    from sim.analysis.plot_style import styled

    @styled
    def draw() -> None:
        matplotlib.interactive(True)  # what loading the inline backend does

    before = matplotlib.is_interactive()
    try:
        matplotlib.interactive(False)
        draw()
        assert matplotlib.is_interactive()
    finally:
        matplotlib.interactive(before)
