"""One run of a scenario: build, simulate the three phases, judge, write the results folder.

The results folder (``results/<scenario>/<run-id>/``, see results/README.md) is written by
``results.write_results``: into a hidden staging folder renamed into place, the final status
written last, so an interrupted run never leaves a folder that looks complete. Where it goes is
checked before the simulation starts (``results.check_output_location``).
The run id is derived from the seed and the effective configuration only (never the
wall clock), so the same scenario and seed give byte-identical tables in any process.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from pathlib import Path
from typing import Any

from sim.analysis.checker import check
from sim.analysis.metrics import evaluate_expectations, summarize
from sim.analysis.recorder import Recorder
from sim.cluster.build import build
from sim.cluster.invariants import Invariants, InvariantViolation
from sim.cluster.net.engine import SimEnv, SimulationStalled
from sim.experiment.progress import progress_bar
from sim.experiment.result import Result, load_result
from sim.experiment.results_folder import check_output_location, write_results
from sim.experiment.sizing import check_size
from sim.scenario import Scenario
from sim.scenario.config_status import config_warnings
from sim.scenario.scenario_model import SEED_LIMIT

__all__ = ["Result", "check_seed", "load_result", "run", "run_id_for", "write_results"]

VERSION = "0.1.0"
PROGRESS_STEPS = 200
COMPACT_EVERY_MS = 1000.0
CHECK_INVARIANTS_ENV = "KAFKA_SIM_CHECK_INVARIANTS"


def with_seed(scenario: Scenario, seed: int | None) -> Scenario:
    """The scenario as run with ``seed`` (its own when None): config.yaml and the run id must
    name the seed the run really used, however it was given (``--seed`` or ``--set seed=``)."""
    if seed is None:
        return scenario
    check_seed(seed)
    if int(seed) == scenario.seed:
        return scenario
    return scenario.model_copy(update={"seed": int(seed)})


def check_seed(seed: Any) -> int:
    """``seed`` as an int if 0 <= seed < 2**63 (what numpy's SeedSequence and the tables' int64
    columns take), else ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"a seed is an integer with 0 <= seed < 2**63, got {seed!r}")
    return seed


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
    force: bool = False,
    check_invariants: bool | None = None,
) -> Result:
    """Run ``scenario`` and return its `Result`.

    ``seed`` overrides the scenario's own seed. ``out``: parent folder of the results folder to
    write (``out/<scenario>/<run-id>/``, see results/README.md); None (the default) writes
    nothing. ``progress``: None shows a progress bar where it helps (a notebook; a terminal, for
    runs longer than about two wall seconds), True always, False never (see
    `sim.experiment.progress`); the environment variable TQDM_DISABLE turns it off.

    Before simulating: ``out`` must be writable (OutputError), and the estimated work must fit
    this machine (``sizing.TooBig``) unless ``force``. ``check_invariants`` (default: on when the
    environment variable KAFKA_SIM_CHECK_INVARIANTS is set to 1, as in the test suite) asserts
    Kafka's safety invariants during the run (sim/cluster/invariants.py): the first violation
    stops it, the results folder records it (status "error") and ``InvariantViolation`` is
    raised."""
    scenario = with_seed(scenario, seed)
    seed = scenario.seed
    if out is not None:
        check_output_location(out, scenario.name)  # before simulating, not after
    if not force:
        check_size(scenario)
    run_id = run_id_for(scenario)
    recorder = Recorder(run_id, seed, scenario.name)
    simenv = SimEnv(seed, recorder)
    if check_invariants is None:
        check_invariants = os.environ.get(CHECK_INVARIANTS_ENV, "") not in ("", "0")
    if check_invariants:
        simenv.invariants = Invariants(lambda: simenv.now)
    cluster = build(scenario, simenv)
    wall_start = time.perf_counter()
    status = "ok"
    error: str | None = None
    failure: Exception | None = None
    bar = progress_bar(cluster.end_ms, progress)
    try:
        cluster.start()
        _advance(simenv, recorder, cluster.load_end_ms, bar)
        cluster.end_load()
        _advance(simenv, recorder, cluster.drain_end_ms, bar)
        _advance(simenv, recorder, cluster.end_ms, bar)
        cluster.finish()
    except Exception as exc:
        status = "error"
        error = traceback.format_exc()
        failure = exc
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
        "invariant_checks": None if simenv.invariants is None else simenv.invariants.checks,
    }
    result = Result(scenario, seed, run_id, frames, summary, verdict, expectations, meta)
    if out is not None:
        result.path = write_results(result, Path(out))
    if isinstance(failure, SimulationStalled):
        failure.results_path = result.path
        raise failure  # its message is one line, for the CLI
    if isinstance(failure, InvariantViolation):
        raise failure  # one line naming the invariant, for the CLI
    if status == "error":
        raise RuntimeError(f"simulation failed (details in meta.json):\n{error}")
    return result
