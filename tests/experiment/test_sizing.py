"""Sizes: a run beyond the machine is refused before simulating, with the estimate and the limit;
every shipped scenario and the benchmark fit; --force / run(force=True) overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import load_scenario, run
from sim.experiment.sizing import MAX_WALL_SECONDS, TooBig, check_size, estimate, memory_limit

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [*sorted((ROOT / "scenarios").glob("*.yaml")), ROOT / "benchmarks" / "throughput.yaml"]
HELLO = ROOT / "scenarios" / "hello-kafka.yaml"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenarios_and_the_benchmark_are_never_refused(path: Path) -> None:
    est = check_size(load_scenario(path))
    # Far from the limits, so that a smaller machine runs them too.
    assert est.memory_bytes < 4 * 2**30
    assert est.wall_seconds < MAX_WALL_SECONDS / 100


@pytest.mark.parametrize(
    ("override", "limit"),
    [
        ("producers.0.rate=1e9/s", "memory"),
        ("topics.0.partitions=1000000", "memory"),
        ("cluster.brokers=10000", "memory"),
        ("duration=1e9s", "wall time"),
    ],
)
def test_runs_beyond_the_machine_are_refused_with_the_estimate(override: str, limit: str) -> None:
    scenario = load_scenario(HELLO, [override])
    with pytest.raises(TooBig) as info:
        check_size(scenario)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{HELLO}: too big for this machine (")
    assert f"{limit} " in text.split(")")[0]
    assert "records" in text and "events" in text and "memory" in text and "--force" in text
    with pytest.raises(TooBig):
        run(scenario, out=None)  # refused before building anything


def test_the_estimate_is_of_the_right_order(short_overrides: tuple[str, ...]) -> None:
    """Against a real run: events and records within a small factor (the model is on the high
    side on purpose)."""
    scenario = load_scenario(HELLO, short_overrides)
    est = estimate(scenario)
    result = run(scenario, out=None)
    assert result.summary["records_sent"] <= est.records * 1.2
    assert est.records <= result.summary["records_sent"] * 1.5
    assert result.meta["events_processed"] <= est.events <= 20 * result.meta["events_processed"]


def test_force_overrides_the_limit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    scenario = load_scenario(HELLO, ["duration=1s", "drain=0s"])
    monkeypatch.setattr("sim.experiment.sizing.memory_limit", lambda: 1.0)
    with pytest.raises(TooBig, match=r"memory .* > 0 KiB"):
        run(scenario, out=None)
    assert run(scenario, out=None, force=True).meta["status"] == "ok"
    assert memory_limit.__name__ == "memory_limit"
