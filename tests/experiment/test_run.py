"""One run: determinism across processes, the in-memory Result, the run id, the atomic folder.

DESIGN.md principle 2: one seed gives identical tables in any process. Python salts str hashes
per process (PYTHONHASHSEED), so the determinism test runs the same scenario in two fresh
interpreters with different salts and compares every table.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sim import Result, Scenario, load_scenario, run
from sim.analysis.recorder import COLUMN_DTYPES, META_COLUMNS, TABLES
from sim.experiment.run import run_id_for
from sim.scenario import SUMMARY_KEYS

CliRunner = Callable[..., subprocess.CompletedProcess[str]]
SEED = 5


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(folder / "tables" / f"{name}.parquet") for name in TABLES}


def content(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """A table without its run_id/seed/scenario columns (which differ between seeds)."""
    return frame.loc[:, list(TABLES[name])]


@pytest.fixture(scope="module")
def short_scenario(hello_kafka: Path, short_overrides: tuple[str, ...]) -> Scenario:
    return load_scenario(hello_kafka, short_overrides)


@pytest.fixture(scope="module")
def result_seed5(short_scenario: Scenario) -> Result:
    return run(short_scenario, seed=SEED, out=None)


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize(
    ("scenario_file", "overrides"),
    [
        ("hello-kafka.yaml", ("duration=2s", "drain=1s")),
        # Three producers, three topics, one consumer reading all three: more ordering to get
        # wrong.
        ("acks-latency.yaml", ("duration=1s", "drain=1s")),
        # Faults, fencing, an election, retries and a restart: the Raft timers and the
        # controllers' decisions must be reproducible too.
        ("leader-failover.yaml", ("duration=12s", "drain=8s")),
    ],
    ids=["hello-kafka", "acks-latency", "leader-failover"],
)
def test_same_seed_gives_identical_tables_in_two_processes(
    sim_cli: CliRunner,
    tmp_path: Path,
    repo_root: Path,
    scenario_file: str,
    overrides: tuple[str, ...],
) -> None:
    path = repo_root / "scenarios" / scenario_file
    assert path.exists(), f"{scenario_file} is not in scenarios/"
    sets = [arg for value in overrides for arg in ("--set", value)]
    folders = []
    for i, hash_seed in enumerate(("0", "4242")):
        out = tmp_path / f"out{i}"
        proc = sim_cli(
            "run",
            path,
            *sets,
            "--seed",
            str(SEED),
            "--out",
            out,
            "--quiet",
            env={"PYTHONHASHSEED": hash_seed},
        )
        assert proc.returncode == 0, proc.stderr
        [scenario_dir] = out.iterdir()
        [folder] = scenario_dir.iterdir()
        folders.append(folder)
    first, second = folders
    assert first.name == second.name  # the run id: seed + config hash, never the wall clock

    tables_1, tables_2 = read_tables(first), read_tables(second)
    assert sum(len(f) for f in tables_1.values()) > 0
    for name in TABLES:
        pd.testing.assert_frame_equal(tables_1[name], tables_2[name], obj=f"table {name}")
    for file in ("summary.json", "verdict.json", "config.yaml"):
        assert (first / file).read_text() == (second / file).read_text(), file
    meta_1, meta_2 = (json.loads((f / "meta.json").read_text()) for f in folders)
    for meta in (meta_1, meta_2):
        meta.pop("wall_seconds")
    assert meta_1 == meta_2


def test_in_process_run_matches_the_cli_run(
    result_seed5: Result, sim_cli: CliRunner, tmp_path: Path, hello_kafka: Path
) -> None:
    """A third process (this one) agrees with a CLI run, table for table."""
    proc = sim_cli(
        "run",
        hello_kafka,
        "--set",
        "duration=2s",
        "--set",
        "drain=1s",
        "--seed",
        str(SEED),
        "--out",
        tmp_path,
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "hello-kafka" / result_seed5.run_id
    tables = read_tables(folder)
    for name in TABLES:
        pd.testing.assert_frame_equal(result_seed5.frames[name], tables[name], obj=name)
    assert json.loads((folder / "summary.json").read_text()) == json.loads(
        json.dumps(result_seed5.summary)
    )


def test_a_different_seed_gives_a_different_produce_table(
    short_scenario: Scenario, result_seed5: Result
) -> None:
    other = run(short_scenario, seed=SEED + 1, out=None)
    assert other.run_id != result_seed5.run_id
    a = content(result_seed5.frames["produce"], "produce")
    b = content(other.frames["produce"], "produce")
    assert len(a) > 0 and len(b) > 0
    assert not a.equals(b)
    # ...and the same seed again gives the same table.
    again = run(short_scenario, seed=SEED, out=None)
    pd.testing.assert_frame_equal(again.frames["produce"], result_seed5.frames["produce"])


# ---------------------------------------------------------------- the Result in memory


def test_run_without_out_returns_every_table_and_writes_nothing(
    short_scenario: Scenario, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(short_scenario, seed=SEED, out=None)
    assert list(tmp_path.iterdir()) == []
    assert isinstance(result, Result)
    assert result.path is None
    assert result.seed == SEED
    assert result.run_id == run_id_for(short_scenario, SEED)
    assert sorted(result.frames) == sorted(TABLES)
    for name, frame in result.frames.items():
        assert tuple(frame.columns) == META_COLUMNS + TABLES[name], name
        for column in frame.columns:
            expected = COLUMN_DTYPES[column]
            if expected == "str":
                assert pd.api.types.is_string_dtype(frame[column].dtype), (name, column)
            else:
                assert str(frame[column].dtype) == expected, (name, column)
        assert (frame["run_id"] == result.run_id).all()
        assert (frame["seed"] == SEED).all()
        assert (frame["scenario"] == "hello-kafka").all()
    assert len(result.frames["produce"]) > 0
    assert set(SUMMARY_KEYS) <= set(result.summary)
    assert result.meta["status"] == "ok"
    assert result.meta["exception"] is None
    assert result.verdict.ok
    assert result.expectations_ok
    assert [e["key"] for e in result.expectations] == [
        "lost_acked_records",
        "duplicated_records",
        "reordered_records",
    ]


# ---------------------------------------------------------------- run id and results folder


def test_run_id_is_seed_plus_config_hash(tmp_path: Path, hello_kafka: Path) -> None:
    base = load_scenario(hello_kafka, ["duration=2s"])
    run_id = run_id_for(base, 3)
    assert run_id.startswith("seed3-")
    assert run_id == run_id_for(load_scenario(hello_kafka, ["duration=2s"]), 3)
    # The file's location is not part of the configuration.
    copy = tmp_path / "elsewhere.yaml"
    shutil.copy(hello_kafka, copy)
    assert run_id_for(load_scenario(copy, ["duration=2s"]), 3) == run_id
    # Any change of the effective configuration, or of the seed, changes the id.
    assert run_id_for(base, 4) != run_id
    changed = load_scenario(hello_kafka, ["duration=2s", "producers.0.config.linger.ms=6"])
    assert run_id_for(changed, 3) != run_id
    # Spelling out a default does not change the effective configuration.
    explicit = load_scenario(hello_kafka, ["duration=2s", "producers.0.config.retries=2147483647"])
    assert run_id_for(explicit, 3) == run_id


def test_results_folder_is_written_atomically(short_scenario: Scenario, tmp_path: Path) -> None:
    result = run(short_scenario, seed=SEED, out=tmp_path)
    parent = tmp_path / "hello-kafka"
    assert result.path == parent / result.run_id
    assert [p.name for p in parent.iterdir()] == [result.run_id]  # no '.seed*' staging left
    assert not list(parent.glob(".*"))
    assert (result.path / "meta.json").is_file()

    # Running again replaces the folder as a whole (a stale file does not survive).
    (result.path / "stale.txt").write_text("from an older run")
    again = run(short_scenario, seed=SEED, out=tmp_path)
    assert again.path == result.path
    assert not (result.path / "stale.txt").exists()
    assert [p.name for p in parent.iterdir()] == [result.run_id]


def test_an_interrupted_write_leaves_nothing_that_looks_complete(
    short_scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    real_to_parquet = pd.DataFrame.to_parquet

    def failing_to_parquet(self: pd.DataFrame, path: Path, **kw: Any) -> None:
        written.append(str(path))
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        real_to_parquet(self, path, **kw)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing_to_parquet)
    with pytest.raises(OSError, match="No space left"):
        run(short_scenario, seed=SEED, out=tmp_path)
    assert len(written) == 3
    parent = tmp_path / "hello-kafka"
    assert list(parent.iterdir()) == []  # neither the run's folder nor its staging copy


def test_config_yaml_records_the_seed_the_run_used(
    short_scenario: Scenario, tmp_path: Path
) -> None:
    result = run(short_scenario, seed=SEED, out=tmp_path)
    assert result.path is not None
    config = load_scenario(result.path / "config.yaml")
    assert config.seed == SEED  # re-running config.yaml must reproduce this run


def test_the_seed_range_is_checked_before_building(
    short_scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0 <= seed < 2**63 (numpy's SeedSequence and the tables' int64 columns); issue 7: -1 was a
    numpy traceback, 2**63 crashed in the recorder after the whole simulation."""

    def refuse(*args: Any) -> None:
        raise AssertionError("built a cluster for a bad seed")

    monkeypatch.setattr("sim.experiment.run.build", refuse)
    for seed in (-1, 2**63, True):
        with pytest.raises(ValueError, match=r"0 <= seed < 2\*\*63"):
            run(short_scenario, seed=seed, out=None)  # type: ignore[arg-type]
