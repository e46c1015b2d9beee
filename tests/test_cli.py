"""The `kafka-sim` command line, in-process (`sim.cli.main`) and as `python -m sim`.

Each command's main behaviour is checked both ways through the `kafka_sim` fixture, which is
parametrized over the two modes; variations that a subprocess would only make slower use
`kafka_sim_in_process`. Checked: exit codes (0 ok, 1 an expectation failed, 2 bad input or usage,
3 a simulator bug), what is printed, and what is (or is not) written under --out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from sim.analysis.plots import PLOTS
from sim.analysis.recorder import META_COLUMNS, TABLES
from sim.cli import main
from sim.experiment.run import run_id_for, with_seed
from sim.scenario import SUMMARY_KEYS, load_scenario
from sim.scenario.scenario_model import PER_TOPIC_KEYS

# file:line:col: message   (message is "key.path: text" when a key is to blame)
ERROR_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>\S.*)$")
RUN_ID = re.compile(r"^seed(?P<seed>\d+)-[0-9a-f]{10}$")
META_KEYS = {
    "version",
    "scenario",
    "source",
    "seed",
    "run_id",
    "status",
    "exception",
    "wall_seconds",
    "simulated_ms",
    "events_processed",
    "messages_delivered",
    "messages_dropped",
    "messages_retransmitted",
    "warnings",
    "files",
    "invariant_checks",
}

TINY_FAILING = """\
name: tiny
description: One broker, one producer; the answer key cannot hold.
duration: 1s
drain: 0s
cluster: {brokers: 1}
topics: [{name: T, partitions: 1, replication.factor: 1}]
producers: [{name: p, topic: T, rate: 100/s}]
expect: {records_acked: "< 0"}
"""


@dataclass
class Outcome:
    code: int
    out: str
    err: str


Invoke = Callable[..., Outcome]


def _in_process(capsys: pytest.CaptureFixture[str]) -> Invoke:
    def invoke(*args: str | Path) -> Outcome:
        capsys.readouterr()  # drop anything printed before
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse usage errors
            code = e.code if isinstance(e.code, int) else 2
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke


def _in_subprocess(sim_cli: Callable[..., subprocess.CompletedProcess[str]]) -> Invoke:
    def invoke(*args: str | Path) -> Outcome:
        proc = sim_cli(*args)
        return Outcome(proc.returncode, proc.stdout, proc.stderr)

    return invoke


@pytest.fixture(params=["in-process", "subprocess"])
def kafka_sim(
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    repo_root: Path,
    sim_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> Invoke:
    """`kafka_sim(*args)` runs the CLI from the repository root, in-process or as a subprocess."""
    monkeypatch.chdir(repo_root)
    return _in_process(capsys) if request.param == "in-process" else _in_subprocess(sim_cli)


@pytest.fixture
def kafka_sim_in_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, repo_root: Path
) -> Invoke:
    """`sim.cli.main` only, for the variations whose subprocess twin would add nothing."""
    monkeypatch.chdir(repo_root)
    return _in_process(capsys)


def results_path(stdout: str) -> Path:
    """The folder named on the summary's `results` line."""
    lines = [line for line in stdout.splitlines() if line.startswith("results ")]
    assert len(lines) == 1, stdout
    return Path(lines[0].split(None, 1)[1])


def assert_complete_results(folder: Path, seed: int, overrides: tuple[str, ...]) -> None:
    """Every file a run writes is there and consistent with the scenario and seed."""
    scenario = load_scenario(Path("scenarios/hello-kafka.yaml").resolve(), overrides)
    match = RUN_ID.match(folder.name)
    assert match is not None and int(match["seed"]) == seed
    assert folder.name == run_id_for(scenario, seed)
    assert folder.parent.name == "hello-kafka"

    # config.yaml: the effective scenario as run (with the seed actually used), which the
    # loader reads again.
    expected = with_seed(scenario, seed).effective_dict()
    assert load_scenario(folder / "config.yaml").effective_dict() == expected

    meta = json.loads((folder / "meta.json").read_text())
    assert set(meta) == META_KEYS
    assert meta["status"] == "ok"
    assert meta["exception"] is None
    assert meta["seed"] == seed
    assert meta["run_id"] == folder.name
    assert meta["scenario"] == "hello-kafka"
    assert meta["simulated_ms"] >= scenario.duration_ms + scenario.drain_ms
    assert meta["events_processed"] > 0
    assert meta["warnings"] == []  # hello-kafka sets no config that cannot change the run
    assert meta["messages_delivered"] > 0

    summary = json.loads((folder / "summary.json").read_text())
    assert set(SUMMARY_KEYS) <= set(summary)
    per_topic = {f"{k}.{t.name}" for k in PER_TOPIC_KEYS for t in scenario.topics}
    extra = set(summary) - set(SUMMARY_KEYS) - per_topic
    assert all(k.startswith("produce_errors.") for k in extra), extra
    assert summary["records_sent"] > 0
    assert summary["records_acked"] == summary["records_sent"]

    verdict = json.loads((folder / "verdict.json").read_text())
    assert verdict["ok"] is True
    assert verdict["expectations_ok"] is True
    assert [e["key"] for e in verdict["expectations"]] == [e.key for e in scenario.expect]
    assert all(e["ok"] for e in verdict["expectations"])

    tables = folder / "tables"
    assert sorted(p.stem for p in tables.glob("*.parquet")) == sorted(TABLES)
    for name, columns in TABLES.items():
        frame = pd.read_parquet(tables / f"{name}.parquet")
        assert tuple(frame.columns) == META_COLUMNS + columns, name
        assert (frame["run_id"] == folder.name).all()
        assert (frame["seed"] == seed).all()
    assert not (folder / "plots").exists()
    # Nothing but the run's folder (no staging leftovers) in the scenario folder.
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


# ---------------------------------------------------------------- validate, list, configs


def test_validate_ok(kafka_sim: Invoke) -> None:
    result = kafka_sim("validate", "scenarios/hello-kafka.yaml")
    assert result.code == 0, result.err
    assert result.out == "scenarios/hello-kafka.yaml: ok (hello-kafka)\n"
    assert result.err == ""


def test_validate_accepts_overrides(kafka_sim_in_process: Invoke) -> None:
    result = kafka_sim_in_process(
        "validate", "scenarios/hello-kafka.yaml", "--set", "producers.0.config.acks=1"
    )
    assert result.code == 0, result.err


def test_list_shows_hello_kafka_with_its_description(kafka_sim: Invoke, hello_kafka: Path) -> None:
    result = kafka_sim("list", "scenarios")
    assert result.code == 0, result.err
    description = " ".join(load_scenario(hello_kafka).description.split())
    assert description.startswith("One producer sends orders to topic ORDER")
    lines = [line for line in result.out.splitlines() if line.startswith("hello-kafka.yaml ")]
    assert len(lines) == 1, result.out
    assert lines[0].split(None, 1)[1] == description


def test_list_default_folder_is_scenarios(kafka_sim_in_process: Invoke) -> None:
    result = kafka_sim_in_process("list")
    assert result.code == 0, result.err
    assert "hello-kafka.yaml" in result.out


def test_list_of_a_missing_folder_exits_2(kafka_sim_in_process: Invoke, tmp_path: Path) -> None:
    result = kafka_sim_in_process("list", tmp_path / "nowhere")
    assert result.code == 2
    assert "not a folder" in result.err
    assert "Traceback" not in result.err


def test_configs_producer_lists_linger_ms_default_0(kafka_sim: Invoke) -> None:
    result = kafka_sim("configs", "producer")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    header = next(line for line in lines if line.startswith("name "))
    column = header.index("default")
    linger = [line for line in lines if line.split()[:1] == ["linger.ms"]]
    assert len(linger) == 1, result.out
    assert linger[0][column:].split()[0] == "0"
    assert "PRODUCER" in result.out and "BROKER" not in result.out


def test_configs_unknown_kind_exits_2(kafka_sim_in_process: Invoke) -> None:
    result = kafka_sim_in_process("configs", "zookeeper")
    assert result.code == 2
    assert "Traceback" not in result.err


# ---------------------------------------------------------------- run


def test_run_writes_a_complete_results_folder(
    kafka_sim: Invoke, tmp_path: Path, short_overrides: tuple[str, ...], short_set_args: list[str]
) -> None:
    out = tmp_path / "out"
    result = kafka_sim(
        "run", "scenarios/hello-kafka.yaml", *short_set_args, "--out", out, "--quiet"
    )
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    # The summary: header, record counts, checker, verdict, expectations, folder.
    assert result.out.startswith("hello-kafka  seed 1  (")
    for label in ("records ", "checker ", "latency ", "consumers ", "elections ", "verdict "):
        assert re.search(rf"^{label}", result.out, re.M), label
    assert re.search(r"^verdict\s+OK$", result.out, re.M)
    assert re.search(r"^records .*  failed 0  unfinished 0  consumed ", result.out, re.M)
    assert re.search(r"^availability .*  producer stall [\d.,]+ ms  ", result.out, re.M)
    assert re.search(r"^\s+expect ok\s+lost_acked_records == 0 \(actual 0\)$", result.out, re.M)
    folder = results_path(result.out)
    assert folder.parent.parent == out
    assert_complete_results(folder, 1, short_overrides)


def test_run_with_seed_option(
    kafka_sim_in_process: Invoke,
    tmp_path: Path,
    short_overrides: tuple[str, ...],
    short_set_args: list[str],
) -> None:
    out = tmp_path / "out"
    result = kafka_sim_in_process(
        "run", "scenarios/hello-kafka.yaml", *short_set_args, "--seed", "5", "--out", out, "--quiet"
    )
    assert result.code == 0, result.err
    assert result.out.startswith("hello-kafka  seed 5  (")
    assert_complete_results(results_path(result.out), 5, short_overrides)


def test_run_with_report_writes_plots_and_the_page(
    kafka_sim: Invoke, tmp_path: Path, short_set_args: list[str]
) -> None:
    out = tmp_path / "out"
    result = kafka_sim(
        "run", "scenarios/hello-kafka.yaml", *short_set_args, "--out", out, "--quiet", "--report"
    )
    assert result.code == 0, result.err
    folder = results_path(result.out)
    plots = folder / "plots"
    assert sorted(p.stem for p in plots.glob("*.png")) == sorted(PLOTS)
    assert all(p.stat().st_size > 0 for p in plots.iterdir())
    assert f"report       {folder / 'report.html'}" in result.out.splitlines()
    assert (folder / "report.html").stat().st_size > 10_000


def test_report_of_a_results_folder(kafka_sim: Invoke, tmp_path: Path, short_run_dir: Path) -> None:
    folder = tmp_path / short_run_dir.name
    shutil.copytree(short_run_dir, folder)
    result = kafka_sim("report", folder)
    assert result.code == 0, result.err
    written = [Path(line) for line in result.out.splitlines()]
    assert written[-1] == folder / "report.html"
    assert sorted(p.stem for p in written[:-1]) == sorted(PLOTS)
    assert all(p.parent == folder / "plots" and p.stat().st_size > 0 for p in written[:-1])


@pytest.mark.parametrize("command", ["report", "animate"])
def test_report_or_animate_of_something_else_exits_2(
    kafka_sim_in_process: Invoke, tmp_path: Path, short_run_dir: Path, command: str
) -> None:
    result = kafka_sim_in_process(command, tmp_path)
    assert result.code == 2
    assert len(result.err.splitlines()) == 1
    assert "not a results folder (no meta.json)" in result.err
    assert "Traceback" not in result.err
    failed = tmp_path / "failed"
    shutil.copytree(short_run_dir, failed)
    meta = json.loads((failed / "meta.json").read_text())
    (failed / "meta.json").write_text(json.dumps({**meta, "status": "error"}))
    result = kafka_sim_in_process(command, failed)
    assert result.code == 2 and "the run did not finish" in result.err


def test_animate_writes_the_message_flow_gif(
    kafka_sim: Invoke, tmp_path: Path, short_run_dir: Path
) -> None:
    folder = tmp_path / short_run_dir.name
    shutil.copytree(short_run_dir, folder)
    result = kafka_sim("animate", folder, "--frames", "4", "--fps", "4")
    assert result.code == 0, result.err
    gif = folder / "plots" / "message_flow.gif"
    assert result.out.splitlines() == [str(gif)]
    assert gif.read_bytes()[:6] == b"GIF89a"
    other = tmp_path / "other.gif"
    result = kafka_sim("animate", folder, "--out", other, "--partition", "1", "--frames", "3")
    assert result.code == 0 and other.read_bytes()[:6] == b"GIF89a"
    result = kafka_sim("animate", folder, "--producer", "nobody")
    assert result.code == 2 and "nothing to follow: no produced batch matches" in result.err
    result = kafka_sim("animate", folder, "--frames", "1")
    assert result.code == 2 and "--frames must be >= 2" in result.err


def test_failed_expectation_exits_1(kafka_sim: Invoke, tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY_FAILING)
    out = tmp_path / "out"
    result = kafka_sim("run", scenario, "--out", out, "--quiet")
    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    assert re.search(r"^\s+expect FAIL\s+records_acked < 0 \(actual \d[\d,]*\)$", result.out, re.M)
    folder = results_path(result.out)
    verdict = json.loads((folder / "verdict.json").read_text())
    assert verdict["expectations_ok"] is False
    [expectation] = verdict["expectations"]
    assert expectation["key"] == "records_acked"
    assert expectation["op"] == "<"
    assert expectation["ok"] is False
    assert expectation["actual"] > 0
    assert json.loads((folder / "meta.json").read_text())["status"] == "ok"


def test_expectation_set_from_the_command_line(
    kafka_sim_in_process: Invoke, tmp_path: Path, short_set_args: list[str]
) -> None:
    result = kafka_sim_in_process(
        "run",
        "scenarios/hello-kafka.yaml",
        *short_set_args,
        "--set",
        "expect.records_failed=> 0",
        "--out",
        tmp_path / "out",
        "--quiet",
    )
    assert result.code == 1, result.err
    assert re.search(r"^\s+expect FAIL\s+records_failed > 0 \(actual 0\)$", result.out, re.M)


# ---------------------------------------------------------------- bad input: exit 2, one line


@dataclass(frozen=True)
class BadInput:
    """A scenario file (None: hello-kafka; '' : a file that does not exist) plus --set options,
    and the one line expected on stderr: where it points and how the message starts."""

    text: str | None
    sets: tuple[str, ...]
    where: tuple[str, int, int]  # ('FILE' = the scenario file, or '--set'), line, column
    message: str


BAD_INPUTS = {
    "unknown-key": BadInput(
        "name: x\nduraton: 2s\n",
        (),
        ("FILE", 2, 1),
        "duraton: unknown key 'duraton'; did you mean 'duration'?",
    ),
    "unknown-kafka-config": BadInput(
        "name: x\n"
        "cluster: {brokers: 1}\n"
        "topics:\n"
        "  - name: T\n"
        "    partitions: 1\n"
        "    replication.factor: 1\n"
        "    config: {min.insync.replica: 1}\n",
        (),
        ("FILE", 7, 14),
        "topics.0.config.min.insync.replica: unknown topic config 'min.insync.replica'; "
        "did you mean 'min.insync.replicas'?",
    ),
    "malformed-yaml": BadInput("name: x\ntopics: [\n", (), ("FILE", 3, 1), "YAML syntax error: "),
    "bad-value": BadInput("name: x\nduration: soon\n", (), ("FILE", 2, 11), "duration: "),
    "missing-file": BadInput("", (), ("FILE", 1, 1), "cannot read file: "),
    "set-unknown-kafka-config": BadInput(
        None,
        ("producers.0.config.linger.mss=5",),
        ("--set", 1, 1),
        "producers.0.config.linger.mss: unknown producer config 'linger.mss'; "
        "did you mean 'linger.ms'?",
    ),
    "set-unknown-key": BadInput(
        None,
        ("duration=2s", "durationx=2s"),
        ("--set", 2, 1),
        "durationx: unknown key 'durationx'; did you mean 'duration'?",
    ),
    "set-without-value": BadInput(None, ("duration",), ("--set", 1, 1), "expected key.path=value"),
    "set-bad-value": BadInput(None, ("duration=abc",), ("--set", 1, 10), "duration: "),
    "set-bad-list-index": BadInput(
        None, ("producers.3.rate=1/s",), ("--set", 1, 11), "producers.3: no item '3'"
    ),
    # issue 7: each of these was a traceback, a hang or a silent acceptance.
    "set-python-tag": BadInput(
        None,
        ("description=!!python/object/apply:os.system [id]",),
        ("--set", 1, 13),
        "unsupported tag '!!python/object/apply:os.system'",
    ),
    "set-negative-seed": BadInput(None, ("seed=-1",), ("--set", 1, 6), "seed: must be >= 0"),
    "empty-file": BadInput("# only a comment\n", (), ("FILE", 1, 1), "empty scenario: "),
    "recursive-alias": BadInput("topics: &r [*r]\n", (), ("FILE", 1, 13), "alias *r is inside"),
    "absolute-name": BadInput(
        "name: /tmp/x\n", (), ("FILE", 1, 7), "name: a scenario name must be a folder name"
    ),
    "dot-dot-name": BadInput(
        "name: '..'\n", (), ("FILE", 1, 7), "name: a scenario name must be a folder name"
    ),
    "nan-expectation": BadInput(
        "expect: {records_sent: .nan}\n", (), ("FILE", 1, 24), "expect.records_sent: "
    ),
}
# The subprocess twin covers one case of each kind the brief names; in-process covers them all.
SUBPROCESS_BAD_INPUTS = [
    "set-python-tag",
    "unknown-key",
    "unknown-kafka-config",
    "set-unknown-kafka-config",
    "set-without-value",
    "missing-file",
    "malformed-yaml",
]


def check_bad_input(invoke: Invoke, tmp_path: Path, bad: BadInput, commands: list[str]) -> None:
    if bad.text is None:
        scenario = Path("scenarios/hello-kafka.yaml")
    else:
        scenario = tmp_path / "bad.yaml"
        if bad.text:
            scenario.write_text(bad.text)
    sets = [arg for value in bad.sets for arg in ("--set", value)]
    out = tmp_path / "out"
    argvs = {
        "run": ["run", scenario, *sets, "--out", out, "--quiet"],
        "validate": ["validate", scenario, *sets],
    }
    for command in commands:
        result = invoke(*argvs[command])
        assert result.code == 2, (command, result.out, result.err)
        assert "Traceback" not in result.err
        assert result.out == ""
        assert result.err.endswith("\n")
        lines = result.err.splitlines()
        assert len(lines) == 1, result.err
        match = ERROR_LINE.match(lines[0])
        assert match is not None, lines[0]
        file, line, col = bad.where
        assert match["file"] == (str(scenario) if file == "FILE" else file), lines[0]
        assert (int(match["line"]), int(match["col"])) == (line, col), lines[0]
        assert match["message"].startswith(bad.message), lines[0]
        assert not out.exists(), "a results folder was created for bad input"


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_located_line(
    kafka_sim_in_process: Invoke, tmp_path: Path, case: str
) -> None:
    check_bad_input(kafka_sim_in_process, tmp_path, BAD_INPUTS[case], ["run", "validate"])


@pytest.mark.parametrize("case", SUBPROCESS_BAD_INPUTS)
def test_bad_input_exits_2_with_one_located_line_from_a_subprocess(
    sim_cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path, case: str
) -> None:
    check_bad_input(_in_subprocess(sim_cli), tmp_path, BAD_INPUTS[case], ["run"])


def test_unknown_subcommand_exits_2(kafka_sim: Invoke) -> None:
    result = kafka_sim("frobnicate")
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("kafka-sim: error: ")
    assert "invalid choice: 'frobnicate'" in result.err
    assert len(result.err.splitlines()) == 1, result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["run"],
        ["run", "scenarios/hello-kafka.yaml", "--seed", "seven"],
        ["run", "scenarios/hello-kafka.yaml", "--no-such-option"],
        ["validate"],
        ["run", "scenarios/hello-kafka.yaml", "--seed", "-1"],
        ["run", "scenarios/hello-kafka.yaml", "--seed", str(2**63)],
    ],
    ids=[
        "no-subcommand",
        "run-without-file",
        "bad-seed",
        "bad-option",
        "validate-nothing",
        "negative-seed",
        "seed-2**63",
    ],
)
def test_usage_errors_exit_2(kafka_sim_in_process: Invoke, argv: list[str]) -> None:
    result = kafka_sim_in_process(*argv)
    assert result.code == 2
    assert "Traceback" not in result.err
    assert result.out == ""
    assert len(result.err.splitlines()) == 1, result.err
    assert result.err.startswith("kafka-sim")


# ---------------------------------------------------------------- a simulator bug: exit 3


def test_simulator_failure_exits_3_and_records_it(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    hello_kafka: Path,
    short_set_args: list[str],
) -> None:
    from sim.cluster.build import Cluster

    def boom(self: Cluster) -> None:
        raise ZeroDivisionError("boom in the load phase")

    monkeypatch.setattr(Cluster, "end_load", boom)
    out = tmp_path / "out"
    code = main(["run", str(hello_kafka), *short_set_args, "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == 3
    assert "Traceback" in captured.err
    assert "boom in the load phase" in captured.err
    [folder] = (out / "hello-kafka").iterdir()
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["status"] == "error"
    assert "ZeroDivisionError: boom in the load phase" in meta["exception"]
    assert sorted(p.stem for p in (folder / "tables").glob("*.parquet")) == sorted(TABLES)


# ---------------------------------------------------------------- files and folders (issue 7)


def _no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if a run gets as far as building the cluster."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the simulation started before the input was checked")

    monkeypatch.setattr("sim.experiment.run.build", refuse)


def _one_error_line(result: Outcome) -> str:
    assert result.code == 2, (result.out, result.err)
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


@pytest.mark.parametrize("where", ["is-a-file", "under-a-file", "read-only"])
def test_bad_out_is_refused_before_simulating(
    kafka_sim_in_process: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    hello_kafka: Path,
    where: str,
) -> None:
    _no_simulation(monkeypatch)
    file = tmp_path / "a-file"
    file.write_text("not a folder")
    out = {"is-a-file": file, "under-a-file": file / "sub", "read-only": tmp_path / "ro"}[where]
    if where == "read-only":
        out.mkdir()
        real_access = os.access
        monkeypatch.setattr(
            "os.access", lambda p, mode: False if Path(p) == out else real_access(p, mode)
        )
    line = _one_error_line(kafka_sim_in_process("run", hello_kafka, "--out", out, "--quiet"))
    assert line.startswith(f"kafka-sim: error: --out {out}: "), line
    assert ("not writable" if where == "read-only" else "is a file") in line
    assert file.read_text() == "not a folder"


def test_out_that_really_is_read_only(
    kafka_sim_in_process: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hello_kafka: Path
) -> None:
    if os.geteuid() == 0:
        pytest.skip("root may write anywhere; the read-only case is covered with os.access")
    _no_simulation(monkeypatch)
    out = tmp_path / "ro"
    out.mkdir(mode=0o555)
    line = _one_error_line(kafka_sim_in_process("run", hello_kafka, "--out", out, "--quiet"))
    assert "not writable" in line


def test_bad_seed_is_refused_before_simulating(
    kafka_sim_in_process: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hello_kafka: Path
) -> None:
    _no_simulation(monkeypatch)
    for seed in ("-1", str(2**63), "1e3"):
        result = kafka_sim_in_process("run", hello_kafka, "--seed", seed, "--out", tmp_path)
        line = _one_error_line(result)
        assert line.startswith("kafka-sim run: error: argument --seed: "), line
    assert list(tmp_path.iterdir()) == []


def test_validate_checks_every_file_and_reports_each(
    kafka_sim: Invoke, tmp_path: Path, hello_kafka: Path
) -> None:
    bad_1, bad_2 = tmp_path / "bad-1.yaml", tmp_path / "bad-2.yaml"
    bad_1.write_text("nmae: x\n")
    bad_2.write_bytes(b"name: caf\xe9\n")
    result = kafka_sim("validate", bad_1, hello_kafka, bad_2, hello_kafka)
    assert result.code == 2
    assert result.out.splitlines() == [f"{hello_kafka}: ok (hello-kafka)"] * 2
    errors = result.err.splitlines()
    assert len(errors) == 2, result.err
    assert errors[0].startswith(f"{bad_1}:1:1: nmae: unknown key")
    assert errors[1].startswith(f"{bad_2}:1:10: not UTF-8 text")


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "folder"])
def test_validate_refuses_special_files_without_reading(
    kafka_sim_in_process: Invoke, tmp_path: Path, special: str
) -> None:
    path = Path(special)
    if special == "fifo":
        path = tmp_path / "fifo.yaml"
        os.mkfifo(path)
    elif special == "folder":
        path = tmp_path
    line = _one_error_line(kafka_sim_in_process("validate", path))
    assert line.startswith(f"{path}:1:1: not a regular file"), line


def test_report_refuses_an_incomplete_folder(
    kafka_sim_in_process: Invoke, tmp_path: Path, short_run_dir: Path
) -> None:
    copy = tmp_path / short_run_dir.name
    shutil.copytree(short_run_dir, copy)
    (copy / "tables" / "produce.parquet").unlink()
    line = _one_error_line(kafka_sim_in_process("report", copy))
    assert line == (
        f"kafka-sim: error: {copy}: incomplete results folder (tables/produce.parquet is missing)"
    )
    assert not (copy / "plots").exists()
    meta = json.loads((copy / "meta.json").read_text())
    meta["status"] = "incomplete"
    (copy / "meta.json").write_text(json.dumps(meta))
    line = _one_error_line(kafka_sim_in_process("report", copy))
    assert "incomplete results folder (status 'incomplete')" in line


def test_a_run_beyond_the_machine_is_refused_before_simulating(
    kafka_sim_in_process: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hello_kafka: Path
) -> None:
    _no_simulation(monkeypatch)
    result = kafka_sim_in_process(
        "run", hello_kafka, "--set", "producers.0.rate=1e9/s", "--out", tmp_path, "--quiet"
    )
    line = _one_error_line(result)
    assert line.startswith(f"kafka-sim: error: {hello_kafka}: too big for this machine (memory ")
    assert "use --force" in line
    assert list(tmp_path.iterdir()) == []


def test_paths_with_a_nul_character_are_refused(
    kafka_sim_in_process: Invoke, tmp_path: Path, hello_kafka: Path
) -> None:
    """Not possible from a shell, but from Python's main(argv): still one line, exit 2."""
    line = _one_error_line(kafka_sim_in_process("validate", "a\x00b.yaml"))
    assert line.startswith("a\\x00b.yaml:1:1: cannot read file: ")
    line = _one_error_line(kafka_sim_in_process("run", hello_kafka, "--out", "a\x00b"))
    assert "NUL" in line


# ---------------------------------------------------------------- a reader that goes away


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["run", "scenarios/hello-kafka.yaml", "--set", "duration=1s", "--set", "drain=0s"],
    ],
    ids=["list", "run"],
)
def test_a_closed_pipe_ends_quietly_with_141(
    argv: list[str], repo_root: Path, tmp_path: Path
) -> None:
    """`kafka-sim run ... | head`: the reader is gone before we print; no traceback, and the
    status of a process killed by SIGPIPE (128 + 13)."""
    if argv[0] == "run":
        argv = [*argv, "--out", str(tmp_path)]
    env = {**os.environ, "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"}
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `head` that has already exited
    proc = subprocess.run(
        [sys.executable, "-m", "sim", *argv],
        cwd=repo_root,
        env=env,
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == ""
