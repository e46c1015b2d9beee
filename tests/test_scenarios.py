"""Examples are tests: every scenarios/*.yaml validates, runs, and keeps its own answer key.

Each scenario runs twice: shortened (at most 3 s of load and 2 s of drain) as a quick smoke test,
and at full length (marked slow, still run by default) where every `expect:` must hold and its
HTML report must render in headless Chromium (where a browser can be had). The short
run only has to complete cleanly: an answer key may need the full length (retention.yaml's
consumer falls behind retention only after ~20 s), so it is not judged there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import load_scenario, run
from sim.analysis.plots import PLOTS
from sim.analysis.recorder import TABLES
from sim.analysis.report import write_report
from sim.scenario import SUMMARY_KEYS
from tests.browser import assert_report_renders, find_browser

SCENARIOS_DIR = Path(__file__).resolve().parents[1] / "scenarios"
SCENARIO_FILES = sorted(SCENARIOS_DIR.glob("*.yaml"))
SHORT_DURATION_MS, SHORT_DRAIN_MS = 3000.0, 2000.0


def test_there_are_scenarios() -> None:
    assert "hello-kafka.yaml" in [p.name for p in SCENARIO_FILES]


@pytest.fixture(params=SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def scenario_file(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


def test_scenario_validates_and_explains_itself(scenario_file: Path) -> None:
    scenario = load_scenario(scenario_file)
    assert scenario.description, "a description for `kafka-sim list`"
    header = scenario_file.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("# "), "a comment header saying what the scenario teaches"
    assert scenario.topics and (scenario.producers or scenario.consumers)


def test_scenario_runs_shortened(scenario_file: Path) -> None:
    overrides = []
    scenario = load_scenario(scenario_file)
    # Long enough for the last fault to happen inside the load phase.
    last_fault = max((f.at_ms for f in scenario.faults), default=-1.0)
    short_duration = max(SHORT_DURATION_MS, last_fault + 1000.0)
    if scenario.duration_ms > short_duration:
        overrides.append(f"duration={short_duration:g}ms")
    if scenario.drain_ms > SHORT_DRAIN_MS:
        overrides.append(f"drain={SHORT_DRAIN_MS:g}ms")
    short = load_scenario(scenario_file, overrides)
    assert short.duration_ms <= short_duration
    result = run(short, out=None)
    assert result.meta["status"] == "ok"
    assert result.meta["exception"] is None
    assert sorted(result.frames) == sorted(TABLES)
    assert set(SUMMARY_KEYS) <= set(result.summary)
    assert result.summary["records_sent"] > 0
    # Every expectation was evaluated, even if it is only meant to hold at full length.
    assert [e["key"] for e in result.expectations] == [e.key for e in short.expect]


@pytest.mark.slow
def test_scenario_keeps_its_answer_key_at_full_length(scenario_file: Path, tmp_path: Path) -> None:
    scenario = load_scenario(scenario_file)
    result = run(scenario, out=None)
    assert result.meta["status"] == "ok"
    failed = [e for e in result.expectations if not e["ok"]]
    assert not failed, failed
    assert len(result.expectations) == len(scenario.expect)
    # Its report: a readable page, checked in a real browser where there is one.
    page = write_report(result, tmp_path / "report")[-1]
    browser = find_browser()
    if browser is not None:
        assert_report_renders(browser, page, tmp_path / "browser", expected_images=len(PLOTS))
