"""The outcome of one run, in memory (`Result`) and read back from a results folder (`load_result`).

A `Result` holds exactly what a results folder holds (results/README.md): the effective scenario,
the seed and run id, the recorded tables (`tables`: one pandas DataFrame per table, the same
columns and dtypes as `tables/*.parquet`), the flat `summary` (summary.json), the checker's
`verdict` and the `expect:` results (verdict.json), and `meta` (meta.json). `sim.run` returns one;
`load_result(folder)` rebuilds the same object from a finished folder, so a notebook can analyse a
run made on the command line.

Plots are one attribute away: `result.plot.<name>(ax=None, ...)` calls the plot `<name>` of
`sim.analysis.plots.PLOTS` on the result's tables (`result.plot` lists the names). In Jupyter a
`Result` shows a short card (scenario, seed, verdict, a few headline figures), never its tables;
`repr()` is one line.

`load_result` refuses a folder that is not a finished run (`check_complete`): `meta.json` must say
`status: ok` and every table of the recorder's contract must be present.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.checker import ANOMALIES, Verdict
from sim.analysis.recorder import ensure_tables
from sim.experiment import results_folder
from sim.experiment.errors import IncompleteResultsError
from sim.scenario import Scenario

__all__ = [
    "IncompleteResultsError",
    "PlotAccessor",
    "Result",
    "check_complete",
    "load_result",
    "read_tables",
]

RESULT_FILES = ("config.yaml", "meta.json", "summary.json", "verdict.json")


class PlotAccessor:
    """`result.plot.<name>(ax=None, **options)`: every plot of `sim.analysis.plots.PLOTS`,
    drawn from this result's tables. `dir()` and `repr()` list the names."""

    def __init__(self, result: Result) -> None:
        self._result = result

    @staticmethod
    def names() -> list[str]:
        from sim.analysis.plots import PLOTS

        return list(PLOTS)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        from sim.analysis.plots import PLOTS

        plot = PLOTS.get(name)
        if plot is None:
            raise AttributeError(f"no plot {name!r}; plots: {', '.join(PLOTS)}")
        result = self._result

        def draw(*args: Any, **kwargs: Any) -> Any:
            if name == "durability":
                kwargs.setdefault("label", result.label)
            return plot(result.tables, *args, **kwargs)

        draw.__name__ = name
        draw.__doc__ = plot.__doc__
        return draw

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.names()))

    def __repr__(self) -> str:
        return f"<plots of {self._result.label}: {', '.join(self.names())}>"


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


@dataclass
class Result:
    """Everything one run produced. `tables` are the recorded tables (results/README.md)."""

    scenario: Scenario
    seed: int
    run_id: str
    tables: dict[str, pd.DataFrame]
    summary: dict[str, Any]
    verdict: Verdict
    expectations: list[dict[str, Any]]
    meta: dict[str, Any]
    path: Path | None = None

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """Deprecated name of `tables` (kept so that older code keeps working)."""
        return self.tables

    @property
    def expectations_ok(self) -> bool:
        """True when every `expect:` entry held (also when there is none)."""
        return all(e["ok"] for e in self.expectations)

    @property
    def label(self) -> str:
        """`<scenario> seed <N>`: how plots comparing several runs name this one."""
        return f"{self.scenario.name} seed {self.seed}"

    @property
    def plot(self) -> PlotAccessor:
        """The plots of this run: `result.plot.leadership()`, `result.plot.hw_leo(ax=ax)`, ..."""
        return PlotAccessor(self)

    def headline(self) -> list[tuple[str, str]]:
        """A few figures worth a first look, as (label, text) pairs."""
        s = self.summary

        def pair(a: str, b: str, unit: str = "") -> str:
            return f"{_num(s.get(a))} / {_num(s.get(b))}{unit}"

        return [
            ("records sent / acked", pair("records_sent", "records_acked")),
            ("lost acked / duplicated", pair("lost_acked_records", "duplicated_records")),
            ("produce p50 / p99", pair("produce_latency_p50_ms", "produce_latency_p99_ms", " ms")),
            ("elections / longest", pair("elections", "max_election_ms", " ms")),
        ]

    def verdict_text(self) -> str:
        """`OK` or `ANOMALIES: lost_acked_records 12, ...`, and how many `expect:` held."""
        v = self.verdict
        found = [f"{name} {getattr(v, name)}" for name in ANOMALIES if getattr(v, name)]
        text = "OK" if v.ok else "ANOMALIES: " + ", ".join(found)
        if self.expectations:
            held = sum(1 for e in self.expectations if e["ok"])
            text += f"; expect: {held}/{len(self.expectations)} held"
        return text

    def __repr__(self) -> str:
        s = self.summary
        where = f", path={str(self.path)!r}" if self.path is not None else ""
        return (
            f"Result(scenario={self.scenario.name!r}, seed={self.seed}, run_id={self.run_id!r}, "
            f"verdict={self.verdict_text()!r}, records_acked={s.get('records_acked')}, "
            f"lost_acked_records={s.get('lost_acked_records')}{where})"
        )

    def _repr_html_(self) -> str:
        e = html.escape
        good = self.verdict.ok and self.expectations_ok
        colour = "#1a7f37" if good else "#b42318"
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{e(k)}</th><td>{e(v)}</td></tr>"
            for k, v in self.headline()
        )
        where = f"<br><code>{e(str(self.path))}</code>" if self.path is not None else ""
        return (
            f"<div><b>{e(self.scenario.name)}</b> seed {self.seed} <code>{e(self.run_id)}</code>"
            f"<br><span style='color:{colour};font-weight:bold'>{e(self.verdict_text())}</span>"
            f"<table>{rows}</table><small>result.summary, result.tables, result.verdict, "
            f"result.plot.&lt;name&gt;()</small>{where}</div>"
        )


def check_complete(folder: str | Path) -> dict[str, Any]:
    """The meta.json of a finished, successful run's folder; `IncompleteResultsError` (one line)
    for a folder that was not completely written (`results_folder.check_complete`: every file
    its meta.json lists, at the size written) or whose run failed (status not "ok")."""
    meta = results_folder.check_complete(folder)
    if meta.get("status") != "ok":
        raise IncompleteResultsError(
            f"{folder}: the run did not finish (meta.json status {meta.get('status')!r}; "
            "see its exception)"
        )
    return meta


def read_tables(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Every `tables/*.parquet` of a results folder, with the recorder's dtypes (a table the
    folder lacks comes back empty)."""
    tables = Path(folder) / "tables"
    frames = {p.stem: pd.read_parquet(p) for p in sorted(tables.glob("*.parquet"))}
    return ensure_tables(frames)


def _verdict(data: dict[str, Any]) -> Verdict:
    counts = {name: int(data.get(name, 0)) for name in (*ANOMALIES, "records_consumed")}
    examples = data.get("examples") or {}
    return Verdict(**counts, examples={name: list(examples.get(name, [])) for name in ANOMALIES})


def load_result(folder: str | Path) -> Result:
    """The `Result` of a finished results folder (`results/<scenario>/<run-id>/`).

    Raises IncompleteResultsError for a folder whose run failed or was not completely written.
    """
    from sim.scenario import load_scenario

    root = Path(folder)
    meta = check_complete(root)
    verdict = json.loads((root / "verdict.json").read_text())
    scenario = load_scenario(root / "config.yaml")
    return Result(
        scenario=scenario,
        seed=int(meta.get("seed", scenario.seed)),
        run_id=str(meta.get("run_id", root.name)),
        tables=read_tables(root),
        summary=json.loads((root / "summary.json").read_text()),
        verdict=_verdict(verdict),
        expectations=list(verdict.get("expectations", [])),
        meta=meta,
        path=root,
    )
