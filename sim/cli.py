"""The ``kafka-sim`` command line: run | validate | list | report | animate | configs.

Exit codes (DESIGN.md): 0 ran and every ``expect:`` held; 1 ran and an expectation failed;
2 bad input or usage (one line naming file:line:col and the key, no traceback); 3 a bug in the
simulator (traceback shown, and recorded in meta.json when a results folder was written; a run
whose simulated time stopped advancing is told in one line naming the looping callback); 141
the reader of the output went away (`kafka-sim run ... | head`): the command stops quietly, with
the status of a process killed by SIGPIPE, as other Unix tools give.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.experiment.errors import IncompleteResultsError
from sim.scenario import ScenarioError, load_scenario

EXIT_OK, EXIT_EXPECTATION, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away (`| head`)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _seed(text: str) -> int:
    """--seed N: an integer with 0 <= N < 2**63 (checked before anything runs)."""
    from sim.scenario.scenario_model import SEED_LIMIT

    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 <= seed < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be 0 <= seed < 2**63, got {text}")
    return seed


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kafka-sim", description="Discrete-event simulator of Apache Kafka clusters"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario and write a results folder")
    run.add_argument("file")
    run.add_argument(
        "--seed", type=_seed, default=None, help="override the scenario's seed (0 <= N < 2**63)"
    )
    run.add_argument(
        "--out", default="results", help="parent folder of the results (default results/)"
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario key, e.g. --set producers.0.config.acks=1 (repeatable)",
    )
    run.add_argument("--report", action="store_true", help="also write plots/*.png and report.html")
    run.add_argument("--quiet", action="store_true", help="no progress bar, summary only")
    run.add_argument(
        "--check-invariants",
        action="store_true",
        help="assert Kafka's safety invariants during the run (docs/invariants.md); "
        "a violation exits with 3",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="run even if the estimated memory or wall time is beyond this machine's limits",
    )

    validate = sub.add_parser("validate", help="check scenarios without running them")
    validate.add_argument("files", nargs="+")
    validate.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE"
    )

    listing = sub.add_parser("list", help="list the scenarios of a folder with their descriptions")
    listing.add_argument("dir", nargs="?", default="scenarios")

    report = sub.add_parser(
        "report", help="write plots/*.png and a self-contained report.html for a results folder"
    )
    report.add_argument("folder")

    animate = sub.add_parser(
        "animate", help="write the message-flow diagram of a results folder as an animated GIF"
    )
    animate.add_argument("folder")
    animate.add_argument(
        "--out", default=None, help="GIF file to write (default FOLDER/plots/message_flow.gif)"
    )
    animate.add_argument("--producer", default=None, help="follow a batch of this producer")
    animate.add_argument("--topic", default=None, help="... of this topic")
    animate.add_argument("--partition", type=int, default=None, help="... of this partition")
    animate.add_argument("--batch", type=int, default=None, help="... with this batch_id")
    animate.add_argument(
        "--frames", type=int, default=48, help="frames over the journey (default 48)"
    )
    animate.add_argument("--fps", type=int, default=8, help="frames per second (default 8)")

    configs = sub.add_parser("configs", help="print the supported Kafka configs and defaults")
    configs.add_argument("kind", nargs="?", choices=["broker", "topic", "producer", "consumer"])
    return parser


def _fmt(value: Any, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, float):
        text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    else:
        text = f"{value:,}"
    return f"{text}{unit}"


def _line(label: str, items: list[tuple[str, Any, str]], summary: dict[str, Any]) -> str:
    parts = [f"{name} {_fmt(summary.get(key), unit)}" for name, key, unit in items]
    return f"{label:<13}" + "  ".join(parts)


def format_summary(result: Any) -> str:
    """The short human summary printed after a run."""
    s = result.summary
    meta = result.meta
    ms = " ms"
    lines = [
        f"{result.scenario.name}  seed {result.seed}  "
        f"({meta['simulated_ms'] / 1000:,.1f} s simulated in {meta['wall_seconds']:.2f} s wall, "
        f"{meta['events_processed']:,} events)",
        _line(
            "records",
            [
                ("sent", "records_sent", ""),
                ("acked", "records_acked", ""),
                ("failed", "records_failed", ""),
                ("unfinished", "records_unfinished", ""),
                ("consumed", "records_consumed", ""),
            ],
            s,
        ),
        _line(
            "checker",
            [
                ("lost acked", "lost_acked_records", ""),
                ("duplicated", "duplicated_records", ""),
                ("reordered", "reordered_records", ""),
                ("duplicate deliveries", "duplicate_deliveries", ""),
                ("unconsumed", "unconsumed_records", ""),
                ("skipped", "skipped_records", ""),
            ],
            s,
        ),
        _line(
            "latency",
            [
                ("produce p50", "produce_latency_p50_ms", ms),
                ("p99", "produce_latency_p99_ms", ms),
                ("  end-to-end p50", "e2e_latency_p50_ms", ms),
                ("p99", "e2e_latency_p99_ms", ms),
            ],
            s,
        ),
        _line("consumers", [("max lag", "max_consumer_lag", " records")], s),
        _line(
            "elections",
            [
                ("leader", "elections", ""),
                ("unclean", "unclean_elections", ""),
                ("longest", "max_election_ms", ms),
                ("offline", "offline_partition_ms", " partition-ms"),
            ],
            s,
        ),
        _line(
            "availability",
            [
                ("longest partition stall", "max_produce_unavailability_ms", ms),
                ("producer stall", "max_producer_stall_ms", ms),
                ("controller failovers", "controller_failovers", ""),
                ("longest", "max_controller_failover_ms", ms),
            ],
            s,
        ),
    ]
    errors = sorted(
        (k.split(".", 1)[1], v) for k, v in s.items() if k.startswith("produce_errors.") and v
    )
    if errors:
        lines.append(f"{'produce err':<13}" + "  ".join(f"{k} {_fmt(v)}" for k, v in errors))
    lines.append(f"{'verdict':<13}" + ("OK" if result.verdict.ok else "ANOMALIES"))
    for e in result.expectations:
        mark = "ok  " if e["ok"] else "FAIL"
        expected, actual = _fmt(e["expected"]), _fmt(e["actual"])
        lines.append(f"  expect {mark} {e['key']} {e['op']} {expected} (actual {actual})")
    if result.path is not None:
        lines.append(f"{'results':<13}{result.path}")
    return "\n".join(lines)


def _warn_configs(file: str, scenario: Any) -> None:
    """One stderr line per config the scenario sets that cannot change the run (not an error)."""
    from sim.scenario.config_status import config_warnings

    for warning in config_warnings(scenario):
        print(f"{file}: warning: {warning}", file=sys.stderr)


def _cmd_run(args: argparse.Namespace) -> int:
    from sim.experiment.run import run

    scenario = load_scenario(args.file, args.overrides)
    _warn_configs(args.file, scenario)
    result = run(
        scenario,
        seed=args.seed,
        out=args.out,
        progress=False if args.quiet else None,
        force=args.force,
        check_invariants=True if args.check_invariants else None,
    )
    report: Path | None = None
    if args.report and result.path is not None:
        from sim.analysis.report import write_report

        report = write_report(result)[-1]
    print(format_summary(result))
    if report is not None:
        print(f"{'report':<13}{report}")
    return EXIT_OK if result.expectations_ok else EXIT_EXPECTATION


def _cmd_validate(args: argparse.Namespace) -> int:
    """Every file is validated and reported (ok on stdout, the error on stderr); exit 2 if any
    failed."""
    failed = 0
    for file in args.files:
        try:
            scenario = load_scenario(file, args.overrides)
        except ScenarioError as e:
            print(str(e), file=sys.stderr, flush=True)
            failed += 1
            continue
        _warn_configs(file, scenario)
        print(f"{file}: ok ({scenario.name})", flush=True)
    return EXIT_USAGE if failed else EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    if not folder.is_dir():
        print(f"kafka-sim: error: {folder}: not a folder", file=sys.stderr)
        return EXIT_USAGE
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    width = max((len(f.name) for f in files), default=0)
    for file in files:
        try:
            scenario = load_scenario(file)
            description = " ".join(scenario.description.split()) or "(no description)"
        except ScenarioError as e:
            description = f"INVALID: {e}"
        print(f"{file.name:<{width}}  {description}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from sim.analysis.report import write_report
    from sim.experiment.result import load_result

    for path in write_report(load_result(args.folder)):
        print(path)
    return EXIT_OK


def _cmd_animate(args: argparse.Namespace) -> int:
    from sim.analysis.flow import animate_message_flow
    from sim.experiment.result import load_result

    result = load_result(args.folder)
    assert result.path is not None
    out = Path(args.out) if args.out else result.path / "plots" / "message_flow.gif"
    selection = {
        "producer": args.producer,
        "topic": args.topic,
        "partition": args.partition,
        "batch_id": args.batch,
    }
    if args.frames < 2 or args.fps < 1:
        print("kafka-sim: error: --frames must be >= 2 and --fps >= 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        print(
            animate_message_flow(result.tables, out, frames=args.frames, fps=args.fps, **selection)
        )
    except ValueError as e:
        print(f"kafka-sim: error: {args.folder}: {e}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _cmd_configs(args: argparse.Namespace) -> int:
    from sim.scenario.kafka_configs import render_tables

    kinds: tuple[Any, ...] = (
        (args.kind,) if args.kind else ("broker", "topic", "producer", "consumer")
    )
    print(render_tables(kinds))
    return EXIT_OK


COMMANDS = {
    "run": _cmd_run,
    "validate": _cmd_validate,
    "list": _cmd_list,
    "report": _cmd_report,
    "animate": _cmd_animate,
    "configs": _cmd_configs,
}


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that the interpreter's final flush
    does not fail again (the recipe of Python's signal module documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    from sim.cluster.invariants import InvariantViolation
    from sim.experiment.results_folder import OutputError
    from sim.experiment.sizing import TooBig

    args = _parser().parse_args(argv)
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a reader that went away (`| head`) shows up here, not at exit
        return code
    except BrokenPipeError:
        # The reader of our output closed it (`kafka-sim run ... | head`): stop quietly with the
        # status a process killed by SIGPIPE has (128 + 13), as other Unix tools do.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except ScenarioError as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    except (OutputError, IncompleteResultsError, TooBig) as e:
        print(f"kafka-sim: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except InvariantViolation as e:  # a simulator bug, in one line (details in meta.json)
        print(f"kafka-sim: {e}", file=sys.stderr)
        return EXIT_BUG
    except FileNotFoundError as e:
        print(f"{e.filename}: no such file", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        from sim.cluster.net.engine import SimulationStalled

        if isinstance(e, SimulationStalled):  # a simulator bug, told in one line
            where = f" (results marked failed: {e.results_path})" if e.results_path else ""
            print(f"kafka-sim: error: {e}{where}", file=sys.stderr)
            return EXIT_BUG
        traceback.print_exc()
        return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
