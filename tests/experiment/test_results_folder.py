"""The results folder: written atomically, never outside --out, refused when incomplete.

A kill can come at any moment of ``write_results``. Each step (``results.after_step``) is tested
twice: in a subprocess killed there with ``os._exit`` (no cleanup runs, as with SIGKILL or a power
cut), and in-process with an exception raised there (the writer cleans up). Either way the
visible folder is absent, complete and correct, or refused by ``check_complete``; and no hidden
folder ever says status "ok".
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from sim import run
from sim.experiment import results_folder as results
from sim.experiment.results_folder import (
    IncompleteResultsError,
    OutputError,
    check_complete,
    check_output_location,
    write_results,
)
from sim.experiment.run import Result
from sim.scenario import load_scenario_text

TINY = """\
name: tiny
duration: 500ms
drain: 0s
cluster: {brokers: 1, controllers: 1}
topics: [{name: T, partitions: 1, replication.factor: 1}]
producers: [{name: p, topic: T, rate: 100/s}]
"""
STEPS = ["staging-written", "old-moved-away", "renamed-in", "meta-final", "old-deleted"]

KILLER = """
import os, pickle, sys
from pathlib import Path
from sim.experiment import results_folder as results
result = pickle.loads(Path(sys.argv[1]).read_bytes())
step = sys.argv[3]
def hook(name):
    if name == step:
        os._exit(137)
results.after_step = hook
results.write_results(result, Path(sys.argv[2]))
"""


@pytest.fixture(scope="module")
def tiny_result() -> Result:
    return run(load_scenario_text(TINY, "tiny.yaml"), out=None)


def _state(parent: Path, run_id: str) -> tuple[str, list[Path]]:
    """('absent' | 'complete' | 'refused', hidden folders) of a scenario folder."""
    hidden = sorted(p for p in parent.iterdir() if p.name.startswith("."))
    for folder in hidden:
        for meta in folder.rglob("meta.json"):
            assert json.loads(meta.read_text())["status"] != "ok", meta
    final = parent / run_id
    if not final.exists():
        return "absent", hidden
    try:
        meta = check_complete(final)
    except IncompleteResultsError:
        return "refused", hidden
    assert meta["status"] == "ok" and meta["run_id"] == run_id
    return "complete", hidden


@pytest.mark.parametrize("replace", [False, True], ids=["new", "replacing"])
@pytest.mark.parametrize("step", STEPS)
def test_a_kill_at_any_step_leaves_nothing_that_looks_complete(
    tiny_result: Result, tmp_path: Path, step: str, replace: bool
) -> None:
    if step in ("old-moved-away", "old-deleted") and not replace:
        pytest.skip("no earlier folder to move")
    out = tmp_path / "out"
    if replace:
        write_results(tiny_result, out)
        (out / "tiny" / tiny_result.run_id / "from-the-old-run.txt").write_text("old")
    blob = tmp_path / "result.pickle"
    blob.write_bytes(pickle.dumps(tiny_result))
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(blob), str(out), step],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 137, proc.stderr
    state, hidden = _state(out / "tiny", tiny_result.run_id)
    expected = {
        "staging-written": "complete" if replace else "absent",  # the old folder still there
        "old-moved-away": "absent",
        "renamed-in": "refused",
        "meta-final": "complete",
        "old-deleted": "complete",
    }[step]
    assert state == expected, (state, hidden)
    final = out / "tiny" / tiny_result.run_id
    if state == "complete" and step != "staging-written":
        assert not (final / "from-the-old-run.txt").exists()  # the new run's folder
    # Running again always ends with one complete folder (a kill may leave hidden remains,
    # which never say "ok").
    write_results(tiny_result, out)
    assert _state(out / "tiny", tiny_result.run_id)[0] == "complete"


@pytest.mark.parametrize("replace", [False, True], ids=["new", "replacing"])
@pytest.mark.parametrize("step", ["staging-written", "old-moved-away"])
def test_an_exception_while_writing_cleans_up_and_keeps_the_old_folder(
    tiny_result: Result,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    replace: bool,
) -> None:
    out = tmp_path / "out"
    if replace:
        write_results(tiny_result, out)

    def hook(name: str) -> None:
        if name == step:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(results, "after_step", hook)
    if step == "old-moved-away" and not replace:
        write_results(tiny_result, out)  # the hook never fires
    else:
        with pytest.raises(OSError, match="No space left"):
            write_results(tiny_result, out)
    state, hidden = _state(out / "tiny", tiny_result.run_id)
    assert hidden == []
    assert state == ("complete" if replace or step == "old-moved-away" else "absent")


def test_check_complete_reads_the_manifest(tiny_result: Result, tmp_path: Path) -> None:
    folder = write_results(tiny_result, tmp_path)
    meta = check_complete(folder)
    assert "tables/produce.parquet" in meta["files"] and "config.yaml" in meta["files"]
    assert "meta.json" not in meta["files"]
    (folder / "plots").mkdir()
    (folder / "plots" / "extra.png").write_bytes(b"later, by report")
    check_complete(folder)  # plots are added after the run
    table = folder / "tables" / "events.parquet"
    table.write_bytes(table.read_bytes()[:-5])
    with pytest.raises(IncompleteResultsError, match=r"tables/events.parquet has \d+ bytes"):
        check_complete(folder)
    (folder / "meta.json").write_text("{not json")
    with pytest.raises(IncompleteResultsError, match=r"unreadable meta\.json"):
        check_complete(folder)
    (folder / "meta.json").unlink()
    with pytest.raises(IncompleteResultsError, match=r"not a results folder \(no meta.json\)"):
        check_complete(folder)
    with pytest.raises(IncompleteResultsError, match="no such folder"):
        check_complete(tmp_path / "nothing")


def test_nothing_is_written_outside_out(tiny_result: Result, tmp_path: Path) -> None:
    """The loader refuses unsafe names; the writer checks again, whatever it is given."""
    for name in ("/abs", "..", "a/b", "", ".hidden", "x" * 300):
        bad = tiny_result.scenario.model_copy(update={"name": name})
        result = Result(**{**tiny_result.__dict__, "scenario": bad})
        with pytest.raises(OutputError, match="scenario name"):
            write_results(result, tmp_path / "out")
        with pytest.raises(OutputError, match="scenario name"):
            check_output_location(tmp_path / "out", name)
    for run_id in ("../x", "seed1-../../..", "/tmp/x", "seed1-0123456789/.."):
        result = Result(**{**tiny_result.__dict__, "run_id": run_id})
        with pytest.raises(OutputError, match="run id"):
            write_results(result, tmp_path / "out")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").rglob("*")) == []
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["out"])


def test_output_location_is_checked_before_the_run(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        check_output_location(file, "tiny")
    with pytest.raises(OutputError, match=r"is a file \(in the way of"):
        check_output_location(file / "a" / "b", "tiny")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "tiny").write_text("a file where the scenario folder goes")
    with pytest.raises(OutputError, match="is a file"):
        check_output_location(tmp_path / "out", "tiny")
    assert check_output_location(tmp_path / "new" / "deeper", "tiny") == (
        tmp_path / "new" / "deeper" / "tiny"
    )
    assert not (tmp_path / "new").exists()  # checking creates nothing
    with pytest.raises(OutputError, match="is a file"):
        run(load_scenario_text(TINY, "tiny.yaml"), out=file)
