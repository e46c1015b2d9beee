"""Plots and report: smoke tests (each function returns an Axes with data; PNGs written).

Run with MPLBACKEND=Agg (as CI does) so that no window ever opens.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from sim.analysis.plots import (
    PLOTS,
    plot_consumer_lag,
    plot_hw_leo,
    plot_isr_size,
    plot_produce_latency_cdf,
)
from sim.analysis.recorder import Recorder
from sim.analysis.report import write_report


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def run() -> Recorder:
    rec = Recorder("r", 3, "plots")
    p = rec.table("produce")
    p((20.0, "p-0", "orders", 0, 1, 0, 3, 300, 0.0, 10.0, "all", "acked", "", 0, 1))
    p((25.0, "p-1", "audit", 0, 2, 0, 2, 200, 20.0, 21.0, "1", "acked", "", 0, 1))
    g = rec.table("gauges")
    for t, hw, leo, isr in ((0.0, 0, 0, 3), (10.0, 3, 5, 3), (20.0, 5, 5, 2), (30.0, 5, 5, 3)):
        g((t, "orders-0", "high_watermark", hw))
        g((t, "orders-0", "log_end_offset", leo))
        g((t, "orders-0", "isr_size", isr))
    g((12.0, "g/orders-0", "committed_offset", 1))
    g((25.0, "g/orders-0", "committed_offset", 5))
    rec.table("elections")((27.0, "orders", 0, 15.0, 27.0, 0, 1, 1, "clean", "broker 0 fenced"))
    rec.table("events")((15.0, "broker-0", "fault:crash", ""))
    return rec


@pytest.mark.parametrize("plot", list(PLOTS.values()), ids=list(PLOTS))
def test_each_plot_returns_axes_with_data(plot: object) -> None:
    assert callable(plot)
    ax = plot(run().frames())
    assert ax.has_data()


def test_plots_draw_on_a_given_axes() -> None:
    _, axes = plt.subplots(2, 2)
    frames = run().frames()
    fns = (plot_produce_latency_cdf, plot_hw_leo, plot_consumer_lag, plot_isr_size)
    for fn, ax in zip(fns, axes.flat, strict=True):
        assert fn(frames, ax=ax) is ax
    assert len(axes.flat[0].lines) == 2  # one CDF per topic
    assert len(axes.flat[1].lines) == 2  # HW and LEO of orders-0


def test_plots_of_an_empty_run_say_so() -> None:
    frames = Recorder("r", 1, "empty").frames()
    for fn in PLOTS.values():
        ax = fn(frames)
        assert not ax.has_data()
        assert any("no " in t.get_text() for t in ax.texts)


def test_write_report_reads_parquet_and_writes_pngs(tmp_path: Path) -> None:
    tables = tmp_path / "tables"
    tables.mkdir()
    frames = run().frames()
    for name in ("produce", "gauges"):  # other tables absent: treated as empty
        frames[name].to_parquet(tables / f"{name}.parquet")
    written = write_report(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{n}.png" for n in PLOTS)
    for path in written:
        assert path.parent == tmp_path / "plots"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileNotFoundError):
        write_report(tmp_path / "missing")
