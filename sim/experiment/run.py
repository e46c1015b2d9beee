"""One run of a scenario: build, simulate the three phases, judge, write the results folder.

The results folder (``results/<scenario>/<run-id>/``, see results/README.md) is written into a
temporary sibling and renamed at the end, so an interrupted run never leaves a folder that looks
complete. The run id is derived from the seed and the effective configuration only (never the
wall clock), so the same scenario and seed give byte-identical tables in any process.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from sim.analysis.checker import check
from sim.analysis.metrics import evaluate_expectations, summarize
from sim.analysis.recorder import Recorder
from sim.cluster.build import build
from sim.cluster.net.engine import SimEnv
from sim.experiment.progress import progress_bar
from sim.experiment.result import Result, load_result
from sim.scenario import Scenario
from sim.scenario.config_status import config_warnings

__all__ = ["Result", "load_result", "run", "run_id_for"]

VERSION = "0.1.0"
PROGRESS_STEPS = 200
COMPACT_EVERY_MS = 1000.0


def with_seed(scenario: Scenario, seed: int | None) -> Scenario:
    """The scenario as run with ``seed`` (its own when None): config.yaml and the run id must
    name the seed the run really used, however it was given (``--seed`` or ``--set seed=``)."""
    if seed is None or int(seed) == scenario.seed:
        return scenario
    return scenario.model_copy(update={"seed": int(seed)})


def run_id_for(scenario: Scenario, seed: int | None = None) -> str:
    """``seed<N>-<hash of the effective config>``: never the wall clock, so reruns match."""
    scenario = with_seed(scenario, seed)
    config = json.dumps(scenario.effective_dict(), sort_keys=True, default=str)
    digest = hashlib.sha256(config.encode()).hexdigest()[:10]
    return f"seed{scenario.seed}-{digest}"


def _advance(simenv: SimEnv, recorder: Recorder, until: float, bar: Any) -> None:
    """Run to ``until`` in steps of at most one simulated second, updating the progress bar
    and compacting the recorded rows into columns after each step (bounded memory)."""
    t = simenv.now
    step = COMPACT_EVERY_MS
    if bar is not None:
        step = min(step, max((until - t) / PROGRESS_STEPS, 1.0))
    while t < until:
        target = min(until, t + step)
        simenv.run(target)
        recorder.compact()
        if bar is not None:
            bar.update(round((target - t) / 1000.0, 3))
        t = target


def run(
    scenario: Scenario,
    seed: int | None = None,
    out: str | Path | None = None,
    progress: bool | None = None,
) -> Result:
    """Run ``scenario`` and return its `Result`.

    ``seed`` overrides the scenario's own seed. ``out``: parent folder of the results folder to
    write (``out/<scenario>/<run-id>/``, see results/README.md); None (the default) writes
    nothing. ``progress``: None shows a progress bar where it helps (a notebook; a terminal, for
    runs longer than about two wall seconds), True always, False never (see
    `sim.experiment.progress`); the environment variable TQDM_DISABLE turns it off.
    """
    scenario = with_seed(scenario, seed)
    seed = scenario.seed
    run_id = run_id_for(scenario)
    recorder = Recorder(run_id, seed, scenario.name)
    simenv = SimEnv(seed, recorder)
    cluster = build(scenario, simenv)
    wall_start = time.perf_counter()
    status = "ok"
    error: str | None = None
    bar = progress_bar(cluster.end_ms, progress)
    try:
        cluster.start()
        _advance(simenv, recorder, cluster.load_end_ms, bar)
        cluster.end_load()
        _advance(simenv, recorder, cluster.drain_end_ms, bar)
        _advance(simenv, recorder, cluster.end_ms, bar)
        cluster.finish()
    except Exception:
        status = "error"
        error = traceback.format_exc()
    finally:
        if bar is not None:
            bar.close()
    wall_s = time.perf_counter() - wall_start
    frames = recorder.frames()
    verdict = check(frames)
    summary = summarize(frames, verdict)
    expectations = evaluate_expectations(summary, [(e.key, e.op, e.value) for e in scenario.expect])
    meta = {
        "version": VERSION,
        "scenario": scenario.name,
        "source": scenario.source,
        "seed": seed,
        "run_id": run_id,
        "status": status,
        "exception": error,
        "wall_seconds": round(wall_s, 3),
        "simulated_ms": simenv.now,
        "events_processed": simenv.events_processed,
        "messages_delivered": sum(link.delivered for link in cluster.network.links()),
        "messages_dropped": sum(link.dropped for link in cluster.network.links()),
        "messages_retransmitted": sum(link.retransmitted for link in cluster.network.links()),
        "warnings": config_warnings(scenario),
    }
    result = Result(scenario, seed, run_id, frames, summary, verdict, expectations, meta)
    if out is not None:
        result.path = write_results(result, Path(out))
    if status == "error":
        raise RuntimeError(f"simulation failed (details in meta.json):\n{error}")
    return result


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def write_results(result: Result, out: Path) -> Path:
    """Write the results folder atomically; returns its final path."""
    parent = out / result.scenario.name
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / result.run_id
    staging = Path(tempfile.mkdtemp(prefix=f".{result.run_id}.", dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; results are ordinary folders
    try:
        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False
        with open(staging / "config.yaml", "w") as fh:
            yaml.dump(result.scenario.effective_dict(), fh)
        (staging / "meta.json").write_text(json.dumps(result.meta, indent=2, default=_json_default))
        (staging / "summary.json").write_text(
            json.dumps(result.summary, indent=2, sort_keys=True, default=_json_default)
        )
        verdict = result.verdict.to_dict()
        verdict["expectations"] = result.expectations
        verdict["expectations_ok"] = result.expectations_ok
        (staging / "verdict.json").write_text(json.dumps(verdict, indent=2, default=_json_default))
        tables = staging / "tables"
        tables.mkdir()
        for name in sorted(result.tables):
            result.tables[name].to_parquet(tables / f"{name}.parquet", index=False)
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
