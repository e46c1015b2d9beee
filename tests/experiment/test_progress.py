"""The progress display (issue 8): a bar in simulated seconds where it helps, nowhere else."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

import sim
from sim.experiment import progress
from sim.experiment import run as run_module


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TQDM_DISABLE", raising=False)


@pytest.mark.usefixtures("no_env")
def test_no_bar_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress.progress_bar(60_000.0) is None


@pytest.mark.usefixtures("no_env")
def test_a_delayed_bar_in_simulated_seconds_in_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bar = progress.progress_bar(60_000.0)
    assert bar is not None
    try:
        assert bar.total == 60.0 and bar.unit == "sim-s"
        assert bar.delay == progress.TERMINAL_DELAY_S  # short runs print nothing
        bar.update(1.0)
        assert terminal.getvalue() == ""  # nothing within the first two wall seconds
    finally:
        bar.close()


@pytest.mark.usefixtures("no_env")
def test_forced_bar_shows_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    bar = progress.progress_bar(5_000.0, progress=True)
    assert bar is not None
    bar.update(5.0)
    bar.refresh()
    assert "5.0/5.0" in out.getvalue() and "sim-s/s" in out.getvalue()
    bar.close()


def test_off_when_asked_or_by_tqdm_disable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Terminal())
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert progress.progress_bar(60_000.0, progress=False) is None
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert progress.progress_bar(60_000.0) is None
    assert progress.progress_bar(60_000.0, progress=True) is None


def test_notebook_detection_needs_a_kernel() -> None:
    assert progress.in_notebook() is False  # pytest is no Jupyter kernel


@pytest.mark.usefixtures("no_env")
def test_a_run_with_a_forced_bar_counts_the_whole_simulated_time(
    monkeypatch: pytest.MonkeyPatch, hello_kafka: Path
) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    bars: list[Any] = []

    def keep(total_ms: float, wanted: bool | None = None) -> Any:
        bars.append(progress.progress_bar(total_ms, wanted))
        return bars[-1]

    monkeypatch.setattr(run_module, "progress_bar", keep)
    scenario = sim.load_scenario(hello_kafka, {"duration": "1s", "drain": "0s"})
    result = sim.run(scenario, progress=True)
    [bar] = bars
    # The run lasts duration + drain + the final phase; the bar reaches its total.
    assert bar.total == pytest.approx(result.meta["simulated_ms"] / 1000.0)
    assert bar.n == pytest.approx(bar.total)
    assert "simulating" in sys.stderr.getvalue()


@pytest.mark.usefixtures("no_env")
def test_a_notebook_gets_a_tqdm_auto_bar_from_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a Jupyter kernel (ipykernel's shell loaded) the bar is tqdm.auto's, shown at once
    (no delay) and kept when done; without ipywidgets tqdm.auto falls back to text quietly."""

    class ZMQInteractiveShell:
        config: ClassVar[dict[str, Any]] = {"IPKernelApp": {}}

    class FakeIPython:
        @staticmethod
        def get_ipython() -> ZMQInteractiveShell:
            return ZMQInteractiveShell()

    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", type(sys)("ipykernel.zmqshell"))
    monkeypatch.setitem(sys.modules, "IPython", FakeIPython)  # type: ignore[arg-type]
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: still a bar
    assert progress.in_notebook()
    bar = progress.progress_bar(10_000.0)
    assert bar is not None
    try:
        assert bar.total == 10.0 and bar.leave and not bar.delay
    finally:
        bar.close()
