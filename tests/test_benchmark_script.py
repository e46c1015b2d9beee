"""Smoke test of benchmarks/bench.py: it runs end to end and reports positive figures.

Performance itself is measured by the script, never asserted here.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bench.py"


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kafka_sim_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_main_reports_positive_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _load_bench()
    out = tmp_path / "bench.json"
    report = bench.main(
        [
            "--set",
            "duration=200ms",
            "--set",
            "drain=100ms",
            "--baseline-seconds",
            "0.05",
            "--json",
            str(out),
        ]
    )
    positive = [
        "sim_wall_seconds",
        "total_wall_seconds",
        "events_processed",
        "simulated_ms",
        "records_sent",
        "records_acked",
        "records_per_wall_s",
        "events_per_wall_s",
        "simulated_ms_per_wall_s",
        "baseline_timeout_events_per_s",
        "baseline_callback_events_per_s",
        "ratio_to_timeout_baseline",
        "ratio_to_callback_baseline",
        "records_ratio_to_timeout_baseline",
        "total_cpu_seconds",
        "records_per_total_cpu_s",
        "baseline_timeout_events_per_cpu_s",
        "records_per_cpu_ratio_to_timeout_baseline",
        "produce_batches_per_request",
        "produce_records_per_request",
        "peak_rss_mib",
    ]
    for key in positive:
        assert report[key] > 0, key
    assert report["overrides"] == ["duration=200ms", "drain=100ms"]
    assert len(report["runs"]) == 1
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    table = capsys.readouterr().out
    assert "simulated records / wall-s" in table
    assert "peak RSS" in table
