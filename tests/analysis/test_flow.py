"""The message-flow diagram follows one batch through the recorded tables (issue 8).

The one-record trace of tests/cluster/test_trace.py (every hop 1 ms) gives the exact journey:
sent at 12, leader append at 13, follower append at 14, HW at 15, acknowledged and fetched at 16,
commit stored at 17 and answered at 18. Every hop of the diagram must sit on those times.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from PIL import Image

from sim import run
from sim.analysis.flow import animate_message_flow, plot_message_flow, record_journey
from sim.analysis.recorder import Recorder
from sim.scenario import load_scenario_text
from tests.cluster.test_trace import ONE_RECORD


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def one_record() -> dict[str, pd.DataFrame]:
    return run(load_scenario_text(ONE_RECORD, "trace.yaml")).tables


def test_the_journey_of_one_record_is_the_recorded_one(one_record: dict[str, pd.DataFrame]) -> None:
    journey = record_journey(one_record)
    assert journey is not None
    assert journey.title == "T-0: batch 0 of p-0 (1 record, acks=all)"
    coordinator = next(h.source for h in journey.hops if h.label == "OffsetCommit response")
    hops = [(h.kind, h.source, h.start_ms, h.target, h.end_ms, h.label) for h in journey.hops]
    assert hops == [
        ("request", "p-0", 12.0, "broker-0", 13.0, "ProduceRequest (attempt 1)"),
        ("mark", "broker-0", 13.0, "broker-0", 13.0, "leader appends offset 0"),
        ("replication", "broker-0", 13.0, "broker-1", 14.0, "replica Fetch response"),
        ("replication", "broker-1", 14.0, "broker-0", 15.0, "replica Fetch (offset 1)"),
        ("mark", "broker-0", 15.0, "broker-0", 15.0, "high watermark → 1"),
        ("response", "broker-0", 15.0, "p-0", 16.0, "ProduceResponse"),
        ("consume", "broker-0", 15.0, "c-0", 16.0, "Fetch response (below HW)"),
        ("span", "c-0", 16.0, "c-0", 16.0, "process"),
        ("commit", "c-0", 16.0, coordinator, 17.0, "OffsetCommit (1)"),
        ("commit", coordinator, 17.0, "c-0", 18.0, "OffsetCommit response"),
    ]
    assert coordinator in ("broker-0", "broker-1")
    assert journey.origin_ms == 12.0


def test_the_diagram_has_a_lane_per_actor_and_arrows_in_simulated_time(
    one_record: dict[str, pd.DataFrame],
) -> None:
    ax = plot_message_flow(one_record)
    lanes = [t.get_text() for t in ax.texts if t.get_gid() == "lane-label"]
    assert lanes[:2] == ["p-0", "broker-0\n(leader)"]
    assert lanes[2] in ("broker-1\n(follower)", "broker-1\n(follower, coordinator)")
    assert lanes[-1] == "c-0"
    arrows = [t for t in ax.texts if t.get_gid() == "arrow"]
    assert len(arrows) == 7
    # The first arrow: from the producer's lane at 0 ms (the send) to the leader's at 1 ms.
    first = arrows[0]
    assert first.xyann == (0, 0.0) and first.xy == (1, 1.0)
    labels = {t.get_text() for t in ax.texts if t.get_gid() == "arrow-label"}
    assert {"ProduceRequest (attempt 1)", "ProduceResponse", "OffsetCommit response"} <= labels
    top, bottom = ax.get_ylim()
    assert top > bottom  # time flows down
    assert ax.get_ylabel() == "ms after the first send (at 0.012 s)"


def test_a_batch_can_be_chosen_and_a_failed_attempt_is_marked() -> None:
    rec = Recorder("r", 1, "flow")
    rec.table("produce")((30.0, "p-0", "T", 0, 7, 0, 2, 200, 1.0, 2.0, "1", "acked", "", 0, 2))
    rq = rec.table("produce_requests")
    rq((5.0, 10.0, "p-0", 1, "T", 0, 7, 1, "NOT_LEADER_OR_FOLLOWER", 1))
    rq((20.0, 30.0, "p-0", 0, "T", 0, 7, 2, "", 2))
    rec.table("appends")((25.0, 0, "T", 0, 0, 2, 1, "p-0", 0, "leader"))
    journey = record_journey(rec.frames(), batch_id=7)
    assert journey is not None
    hops = [(h.kind, h.source, h.start_ms, h.target, h.end_ms, h.label) for h in journey.hops]
    assert hops == [
        ("error", "p-0", 10.0, "p-0", 10.0, "attempt 1: NOT_LEADER_OR_FOLLOWER"),
        ("request", "p-0", 20.0, "broker-0", 25.0, "ProduceRequest (attempt 2)"),
        ("mark", "broker-0", 25.0, "broker-0", 25.0, "leader appends offsets 0..1"),
        ("response", "broker-0", 25.0, "p-0", 30.0, "ProduceResponse"),  # acks=1: at once
    ]
    assert record_journey(rec.frames(), batch_id=99) is None


def test_nothing_to_follow_says_so() -> None:
    ax = plot_message_flow(Recorder("r", 1, "empty").frames())
    assert [t.get_text() for t in ax.texts if t.get_gid() == "nothing"] == [
        "no produced batch matches: nothing to follow"
    ]


def test_the_animation_is_a_gif_whose_frames_grow(
    one_record: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    path = animate_message_flow(one_record, tmp_path / "flow.gif", frames=12, fps=6)
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames >= 12
        gif.seek(0)
        first = gif.convert("L").histogram()
        gif.seek(gif.n_frames - 1)
        last = gif.convert("L").histogram()
    assert first != last  # the picture changes as simulated time passes
    with pytest.raises(ValueError, match="produced nothing"):
        animate_message_flow(Recorder("r", 1, "empty").frames(), tmp_path / "none.gif")
