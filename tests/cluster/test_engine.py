"""The engine's no-progress guard: a zero-delay loop stops the run with one line naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import sim.cluster.net.engine as engine
from sim.cli import main
from sim.cluster.clients.producer import Producer
from sim.cluster.net.engine import SimEnv, SimulationStalled


class Spinner:
    """An actor whose callback reschedules itself at the same instant, forever."""

    def __init__(self, simenv: SimEnv, name: str) -> None:
        self.simenv = simenv
        self.name = name
        self.calls = 0

    def spin(self) -> None:
        self.calls += 1
        self.simenv.call_later(0.0, self.spin)


def test_a_zero_delay_loop_stops_with_the_callback_and_its_actor() -> None:
    simenv = SimEnv(1, max_steps_without_progress=2_000)
    spinner = Spinner(simenv, "spinner-0")
    simenv.call_later(5.0, spinner.spin)
    with pytest.raises(SimulationStalled) as stalled:
        simenv.run(100.0)
    message = str(stalled.value)
    assert "\n" not in message
    assert message.startswith("simulation stalled at 5.000 ms: 2,")
    assert "Spinner.spin of spinner-0 keeps rescheduling" in message
    assert simenv.now == 5.0
    # Detected within the limit plus one check interval, plus the diagnosis sample.
    assert spinner.calls <= 2_000 + 2_000 // 16 + 2_000


def test_time_that_advances_is_never_a_stall() -> None:
    simenv = SimEnv(1, max_steps_without_progress=100)
    ticks: list[float] = []

    def tick() -> None:
        ticks.append(simenv.now)
        simenv.call_later(1.0, tick)

    simenv.call_later(0.0, tick)
    simenv.run(9_999.5)  # 10,000 events, every one at a new time
    assert len(ticks) == 10_000


def test_many_events_at_one_instant_below_the_limit_are_fine() -> None:
    simenv = SimEnv(1, max_steps_without_progress=1_000)
    done: list[int] = []
    for i in range(900):
        simenv.call_later(1.0, done.append, i)
    simenv.run(2.0)
    assert done == list(range(900))


def test_the_cli_exits_3_with_one_line_and_marks_the_results_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Plant a zero-delay loop in the producer's wake-up, as the restart bug of issue 14 had.
    def looping_wake(self: Any) -> None:
        self.after(0.0, self._on_wake)

    looping_wake.__qualname__ = "Producer._on_wake"
    monkeypatch.setattr(Producer, "_on_wake", looping_wake)
    monkeypatch.setattr(engine, "MAX_STEPS_WITHOUT_PROGRESS", 20_000)
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "hello-kafka.yaml"
    code = main(["run", str(scenario), "--out", str(tmp_path), "--quiet", "--set", "duration=1s"])
    err = capsys.readouterr().err
    assert code == 3
    assert err.count("\n") == 1
    assert err.startswith("kafka-sim: error: simulation stalled at ")
    assert "Producer._on_wake of checkout-0 keeps rescheduling" in err
    (folder,) = (tmp_path / "hello-kafka").iterdir()
    assert str(folder) in err
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["status"] == "error"
    assert "SimulationStalled: simulation stalled at" in meta["exception"]
