"""The Python API's Result: tables like the folder's, load_result, completeness, display, plots.

Issue 8: `result.tables` holds the same tables, columns and dtypes as the results folder's
`tables/`; `sim.load_result(folder)` gives back the same Result; an incomplete folder is refused;
a Result shows a short card in Jupyter and one line as repr; `result.plot.<name>()` draws every
plot from the result's tables.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import sim
from sim.analysis.checker import Verdict
from sim.analysis.plots import PLOTS
from sim.analysis.recorder import COLUMN_DTYPES, META_COLUMNS, TABLES
from sim.experiment.result import IncompleteResultsError, check_complete


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, hello_kafka: Path) -> sim.Result:
    scenario = sim.load_scenario(hello_kafka, {"duration": "2s", "drain": "1s"})
    return sim.run(scenario, seed=4, out=tmp_path_factory.mktemp("api"), progress=False)


def test_run_writes_nothing_by_default(
    hello_kafka: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = sim.run(sim.load_scenario(hello_kafka, ["duration=1s", "drain=0s"]))
    assert result.path is None
    assert list(tmp_path.iterdir()) == []


def test_tables_are_the_folders_tables_with_the_same_dtypes(written: sim.Result) -> None:
    assert written.path is not None
    assert sorted(written.tables) == sorted(TABLES)
    for name, frame in written.tables.items():
        assert tuple(frame.columns) == META_COLUMNS + TABLES[name]
        on_disk = pd.read_parquet(written.path / "tables" / f"{name}.parquet")
        pd.testing.assert_frame_equal(frame, on_disk, obj=name)
        for column in frame.columns:
            if COLUMN_DTYPES[column] != "str":
                assert str(frame[column].dtype) == COLUMN_DTYPES[column]
    assert written.frames is written.tables  # the old name still works


def test_load_result_gives_back_the_same_result(written: sim.Result) -> None:
    assert written.path is not None
    loaded = sim.load_result(written.path)
    assert isinstance(loaded, sim.Result)
    assert loaded.path == written.path
    assert (loaded.seed, loaded.run_id) == (written.seed, written.run_id)
    assert loaded.scenario.effective_dict() == written.scenario.effective_dict()
    assert loaded.summary == json.loads(json.dumps(written.summary))
    assert loaded.verdict.to_dict() == json.loads(json.dumps(written.verdict.to_dict()))
    assert loaded.expectations == written.expectations
    assert loaded.expectations_ok == written.expectations_ok
    assert loaded.meta == json.loads(json.dumps(written.meta))
    for name in TABLES:
        pd.testing.assert_frame_equal(loaded.tables[name], written.tables[name], obj=name)


def test_load_result_refuses_an_incomplete_folder(written: sim.Result, tmp_path: Path) -> None:
    assert written.path is not None
    with pytest.raises(IncompleteResultsError, match="no such folder"):
        sim.load_result(tmp_path / "missing")

    no_table = tmp_path / "no-table"
    shutil.copytree(written.path, no_table)
    (no_table / "tables" / "log.parquet").unlink()
    with pytest.raises(IncompleteResultsError, match=r"tables/log\.parquet is missing"):
        sim.load_result(no_table)

    no_summary = tmp_path / "no-summary"
    shutil.copytree(written.path, no_summary)
    (no_summary / "summary.json").unlink()
    with pytest.raises(IncompleteResultsError, match=r"summary\.json is missing"):
        sim.load_result(no_summary)

    failed = tmp_path / "failed"
    shutil.copytree(written.path, failed)
    meta = json.loads((failed / "meta.json").read_text())
    meta.update(status="error", exception="Traceback ...")
    (failed / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(IncompleteResultsError, match=r"did not finish.*'error'"):
        check_complete(failed)


def test_repr_is_one_short_line_and_the_html_card_is_small(written: sim.Result) -> None:
    text = repr(written)
    assert "\n" not in text and len(text) < 300
    assert text.startswith("Result(scenario='hello-kafka', seed=4,")
    assert "verdict='OK; expect: 3/3 held'" in text
    card = written._repr_html_()
    assert len(card) < 2000  # not the tables (the old display was about 30 KB)
    assert "hello-kafka" in card and written.run_id in card and "OK" in card
    assert "records sent / acked" in card and "<table>" in card
    assert not hasattr(written, "network")  # the old, always empty, undocumented dict


def test_anomalies_show_in_the_verdict_text(written: sim.Result) -> None:
    bad = dataclasses.replace(written, verdict=Verdict(lost_acked_records=12))
    assert bad.verdict_text().startswith("ANOMALIES: lost_acked_records 12")
    assert "#b42318" in bad._repr_html_()


def test_every_plot_is_an_attribute_of_result_plot(written: sim.Result) -> None:
    assert set(PLOTS) <= set(dir(written.plot))
    for name in PLOTS:
        _, ax = plt.subplots()
        drawn = getattr(written.plot, name)(ax=ax)
        assert drawn is ax or getattr(drawn, "figure", None) is not None, name
        plt.close("all")
    with pytest.raises(AttributeError, match="no plot 'nope'; plots: "):
        written.plot.nope  # noqa: B018
    assert "hello-kafka seed 4" in repr(written.plot)
