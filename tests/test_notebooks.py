"""The classroom notebooks (notebooks/*.ipynb) are kept small and honest.

They run in the suite through nbmake (`--nbmake` in pyproject.toml: each notebook is a test that
executes every cell in a fresh kernel). Here their shape is checked: stored without outputs,
opening with what the student will learn and closing with exercises that say how to check a
prediction with `expect:`, importing `sim` and never defining a model of their own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
EXPECTED = [
    "01_topics_partitions_offsets.ipynb",
    "02_acks_and_durability.ipynb",
    "03_leader_election.ipynb",
    "04_consumer_groups_and_lag.ipynb",
    "05_known_kafka_bugs.ipynb",
]


def cells(path: Path) -> list[dict[str, Any]]:
    notebook = json.loads(path.read_text())
    result: list[dict[str, Any]] = notebook["cells"]
    return result


def source(cell: dict[str, Any]) -> str:
    text = cell["source"]
    return "".join(text) if isinstance(text, list) else str(text)


def test_the_five_notebooks_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path: Path) -> None:
    for cell in cells(path):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert path.stat().st_size < 40_000


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_opens_with_what_you_will_learn_and_ends_with_exercises(path: Path) -> None:
    all_cells = cells(path)
    assert all_cells[0]["cell_type"] == "markdown"
    assert "What you will learn" in source(all_cells[0])
    markdown = [source(c) for c in all_cells if c["cell_type"] == "markdown"]
    exercises = markdown[-1]
    assert "## Exercises" in "".join(markdown[-2:])
    assert exercises.count("\n1. ") + exercises.startswith("1. ") >= 1
    assert "check" in exercises.lower() and "predict" in exercises.lower()
    code = "\n".join(source(c) for c in all_cells if c["cell_type"] == "code")
    assert '"expect"' in code  # the check helper runs the scenario with an answer key


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_imports_sim_and_defines_no_model(path: Path) -> None:
    code = "\n".join(source(c) for c in cells(path) if c["cell_type"] == "code")
    assert "import sim" in code
    assert "class " not in code
    assert "simpy" not in code
