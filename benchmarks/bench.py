"""Measure how fast kafka-sim simulates a scenario, against bare SimPy in the same process.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench.py [--scenario benchmarks/throughput.yaml]
        [--set key=value ...] [--seed N] [--repeat N] [--baseline-seconds S] [--json OUT]

What is measured (see benchmarks/README.md):

* **Baselines**, run in this same process just before and just after the scenario, so that a busy
  machine slows both alike: ``timeout`` (K SimPy processes, each ``yield env.timeout(1)`` forever),
  ``callback`` (K chains of ``env.timeout(1)`` whose callback schedules the next one: no
  generators) and ``engine_timer`` (K chains of the simulator's own ``SimEnv.call_later``, i.e.
  its event loop with an empty model). Each is run for about ``--baseline-seconds`` wall seconds
  and reports events per wall second; the better of the two measurements is the reference.
* **The scenario**, run with ``out=None`` (nothing written): the simulation wall time the run
  reports itself (``meta.wall_seconds``: build and analysis excluded), the wall time around
  ``run()`` (analysis included), SimPy events processed, records sent and acknowledged.
* **Peak memory**: ``getrusage(RUSAGE_SELF).ru_maxrss`` (the process's peak resident set size;
  KiB on Linux), read before and after the scenario runs. No tracemalloc (far too slow).

Nothing is asserted: performance is measured here, not tested. ``main(argv)`` returns the
figures as a dict (the same content as ``--json``).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import simpy

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as `python benchmarks/bench.py` without installing
    sys.path.insert(0, str(ROOT))

import sim  # noqa: E402
from sim import load_scenario, run  # noqa: E402

DEFAULT_SCENARIO = ROOT / "benchmarks" / "throughput.yaml"
BASELINE_PROCESSES = 100  # concurrent timers in the baselines (a heap of ~100 entries)
CHUNK_TARGET_S = 0.02  # grow the simulated chunk until one chunk takes about this long


# --------------------------------------------------------------------------- baselines


def _processed(env: simpy.Environment) -> int:
    """Events processed so far: events scheduled minus events still in the heap.

    ``env._eid`` is SimPy's schedule counter (an ``itertools.count``); reading it consumes one
    value, harmless because the environment is thrown away afterwards.
    """
    return next(env._eid) - len(env._queue)


def _drive(env: simpy.Environment, run_until: Callable[[float], None], seconds: float) -> dict:
    """Advance ``env`` in growing chunks of simulated time until ``seconds`` of wall time."""
    chunk = 10.0
    until = 0.0
    start = time.perf_counter()
    cpu_start = time.process_time()
    elapsed = 0.0
    while elapsed < seconds:
        before = time.perf_counter()
        until += chunk
        run_until(until)
        now = time.perf_counter()
        elapsed = now - start
        if now - before < CHUNK_TARGET_S:
            chunk *= 2
    cpu = max(time.process_time() - cpu_start, 1e-6)
    events = _processed(env)
    return {
        "events": events,
        "wall_seconds": elapsed,
        "events_per_s": events / elapsed,
        "cpu_seconds": cpu,
        "events_per_cpu_s": events / cpu,
    }


def baseline_timeout(seconds: float, processes: int = BASELINE_PROCESSES) -> dict:
    """K SimPy processes, each ``while True: yield env.timeout(1)``."""
    env = simpy.Environment()

    def ticker(env: simpy.Environment) -> Any:
        timeout = env.timeout
        while True:
            yield timeout(1)

    for _ in range(processes):
        env.process(ticker(env))
    return _drive(env, lambda until: env.run(until=until), seconds)


def baseline_callback(seconds: float, processes: int = BASELINE_PROCESSES) -> dict:
    """K chains of SimPy events without generators: each ``env.timeout(1)`` carries a callback
    that schedules the next one."""
    env = simpy.Environment()
    timeout = env.timeout

    def tick(_event: simpy.Event) -> None:
        timeout(1).callbacks.append(tick)

    for _ in range(processes):
        timeout(1).callbacks.append(tick)
    return _drive(env, lambda until: env.run(until=until), seconds)


def baseline_engine_timer(seconds: float, processes: int = BASELINE_PROCESSES) -> dict | None:
    """K chains of the simulator's own ``SimEnv.call_later`` (its event loop, no model).

    None if the engine has no ``call_later`` (the engine is not part of this script's contract).
    """
    try:
        from sim.cluster.net.engine import SimEnv

        simenv = SimEnv(0)
        call_later = simenv.call_later
    except (ImportError, AttributeError, TypeError):
        return None

    def tick() -> None:
        call_later(1.0, tick)

    for _ in range(processes):
        call_later(1.0, tick)
    return _drive(simenv.env, simenv.run, seconds)


BASELINES: dict[str, Callable[..., dict | None]] = {
    "timeout": baseline_timeout,
    "callback": baseline_callback,
    "engine_timer": baseline_engine_timer,
}


def measure_baselines(seconds: float, processes: int) -> dict[str, dict | None]:
    out: dict[str, dict | None] = {}
    for name, fn in BASELINES.items():
        gc.collect()
        out[name] = fn(seconds, processes)
    return out


# --------------------------------------------------------------------------- scenario


def _maxrss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (ru_maxrss is KiB on Linux and
    bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def run_scenario(path: Path, overrides: Sequence[str], seed: int | None) -> dict:
    scenario = load_scenario(path, list(overrides))
    gc.collect()
    start = time.perf_counter()
    cpu_start = time.process_time()
    result = run(scenario, seed=seed, out=None, progress=False)
    total = time.perf_counter() - start
    total_cpu = time.process_time() - cpu_start
    meta, summary = result.meta, result.summary
    sim_wall = float(meta["wall_seconds"])
    figures = {
        "sim_wall_seconds": sim_wall,
        "total_wall_seconds": total,
        "events_processed": int(meta["events_processed"]),
        "simulated_ms": float(meta["simulated_ms"]),
        "records_sent": int(summary["records_sent"]),
        "records_acked": int(summary["records_acked"]),
        # Batching, which sets the work per record (PERFORMANCE.md: name a workload's records
        # per request when quoting its speed). None from a simulator without these keys.
        "produce_batches_per_request": summary.get("produce_batches_per_request"),
        "produce_records_per_request": summary.get("produce_records_per_request"),
    }
    del result
    # meta.wall_seconds is rounded to the millisecond; guard against 0 for tiny runs.
    per_s = 1.0 / max(sim_wall, 1e-3)
    figures["records_per_wall_s"] = figures["records_sent"] * per_s
    figures["events_per_wall_s"] = figures["events_processed"] * per_s
    figures["simulated_ms_per_wall_s"] = figures["simulated_ms"] * per_s
    figures["records_per_total_wall_s"] = figures["records_sent"] / total
    # CPU time of this process around run() (build + simulation + analysis): on a machine
    # shared with other work, far steadier than wall time.
    figures["total_cpu_seconds"] = total_cpu
    figures["records_per_total_cpu_s"] = figures["records_sent"] / max(total_cpu, 1e-6)
    return figures


# --------------------------------------------------------------------------- report


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip()


def _environment() -> dict[str, Any]:
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "sim_path": str(Path(sim.__file__).resolve().parent),
        "python": platform.python_version(),
        "simpy": simpy.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def _best_baseline(*measurements: dict | None) -> dict | None:
    found = [m for m in measurements if m is not None]
    if not found:
        return None
    best = max(found, key=lambda m: m["events_per_s"])
    return {
        "events_per_s": best["events_per_s"],
        "measurements_events_per_s": [m["events_per_s"] for m in found],
        "events_per_cpu_s": max(m["events_per_cpu_s"] for m in found),
    }


def _fmt(value: float, unit: str = "") -> str:
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 1:
        text = f"{value:,.2f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}".rstrip()


def format_table(report: dict) -> str:
    rows: list[tuple[str, str]] = [
        ("scenario", f"{report['scenario']} {' '.join(report['overrides'])}".rstrip()),
        ("commit / date", f"{report['git_commit']} / {report['date']}"),
        *([("label", report["label"])] if report["label"] else []),
        ("runs", f"{report['repeat']}" + (" (figures: fastest)" if report["repeat"] > 1 else "")),
        ("records sent / acked", f"{report['records_sent']:,} / {report['records_acked']:,}"),
        ("simulated time", _fmt(report["simulated_ms"] / 1000.0, "s")),
        ("SimPy events processed", f"{report['events_processed']:,}"),
        ("simulation wall time", _fmt(report["sim_wall_seconds"], "s")),
        ("wall time incl. analysis", _fmt(report["total_wall_seconds"], "s")),
        ("simulated records / wall-s", _fmt(report["records_per_wall_s"])),
        ("records / CPU-s of the whole run", _fmt(report["records_per_total_cpu_s"])),
        ("simulated ms / wall-s", _fmt(report["simulated_ms_per_wall_s"])),
        ("simulator events / wall-s", _fmt(report["events_per_wall_s"])),
    ]
    for key, label in (
        ("produce_batches_per_request", "batches / produce request"),
        ("produce_records_per_request", "records / produce request"),
    ):
        if report.get(key) is not None:
            rows.append((label, _fmt(report[key])))
    for name in BASELINES:
        rate = report.get(f"baseline_{name}_events_per_s")
        if rate is None:
            continue
        ratio = report[f"ratio_to_{name}_baseline"]
        rows.append((f"baseline '{name}' events/s", _fmt(rate)))
        rows.append((f"  simulator / '{name}'", f"{ratio:.3f}"))
        records_ratio = report[f"records_ratio_to_{name}_baseline"]
        rows.append((f"  records/wall-s / '{name}'", f"{records_ratio:.3f}"))
        cpu_ratio = report[f"records_per_cpu_ratio_to_{name}_baseline"]
        rows.append((f"  records/CPU-s / '{name}' per CPU-s", f"{cpu_ratio:.3f}"))
    rows.append(("peak RSS", _fmt(report["peak_rss_mib"], "MiB")))
    rows.append(("  RSS peak before the runs", _fmt(report["rss_before_runs_mib"], "MiB")))
    if report["repeat"] > 1:
        walls = ", ".join(f"{r['sim_wall_seconds']:.3f}" for r in report["runs"])
        rows.append(("simulation wall time per run", walls + " s"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Benchmark kafka-sim on a scenario against bare SimPy loops."
    )
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="scenario override, as for `kafka-sim run --set` (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=None, help="default: the scenario's seed")
    parser.add_argument("--repeat", type=int, default=1, help="scenario runs (fastest reported)")
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=1.5,
        help="wall seconds for each baseline measurement (default 1.5)",
    )
    parser.add_argument("--baseline-processes", type=int, default=BASELINE_PROCESSES)
    parser.add_argument(
        "--label", default=None, help="free text stored with the figures (e.g. what was measured)"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="write JSON here")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    report: dict[str, Any] = {
        "scenario": str(args.scenario),
        "overrides": list(args.overrides),
        "seed": args.seed,
        "repeat": args.repeat,
        "baseline_seconds": args.baseline_seconds,
        "baseline_processes": args.baseline_processes,
        "label": args.label,
        **_environment(),
    }

    before = measure_baselines(args.baseline_seconds, args.baseline_processes)
    rss_before = _maxrss_mib()
    runs = []
    for index in range(args.repeat):
        print(f"run {index + 1}/{args.repeat} of {args.scenario} ...", file=sys.stderr, flush=True)
        runs.append(run_scenario(args.scenario, args.overrides, args.seed))
    peak_rss = _maxrss_mib()
    after = measure_baselines(args.baseline_seconds, args.baseline_processes)

    fastest = min(runs, key=lambda r: r["sim_wall_seconds"])
    report.update(fastest)
    report["runs"] = runs
    if args.repeat > 1:
        report["median_sim_wall_seconds"] = statistics.median(r["sim_wall_seconds"] for r in runs)
    report["peak_rss_mib"] = peak_rss
    report["rss_before_runs_mib"] = rss_before
    report["baselines"] = {}
    for name in BASELINES:
        best = _best_baseline(before[name], after[name])
        report["baselines"][name] = {"before": before[name], "after": after[name]}
        if best is None:
            continue
        report[f"baseline_{name}_events_per_s"] = best["events_per_s"]
        report[f"ratio_to_{name}_baseline"] = report["events_per_wall_s"] / best["events_per_s"]
        # "Per bare event" of PERFORMANCE.md: simulated records per bare SimPy event.
        report[f"records_ratio_to_{name}_baseline"] = (
            report["records_per_wall_s"] / best["events_per_s"]
        )
        report[f"baseline_{name}_events_per_cpu_s"] = best["events_per_cpu_s"]
        report[f"records_per_cpu_ratio_to_{name}_baseline"] = (
            report["records_per_total_cpu_s"] / best["events_per_cpu_s"]
        )
    report["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

    print(format_table(report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
