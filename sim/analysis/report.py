"""The report of a finished run: `plots/*.png` and one self-contained `report.html`.

`write_report(folder_or_result)` draws every plot of `sim.analysis.plots.PLOTS` into
`plots/<name>.png` and writes `report.html` beside them: the run's identity, the verdict and the
`expect:` results, the summary table, every plot (embedded as `data:` URIs, so the page opens from
disk in any browser with no network and can be mailed as one file), the events timeline
(table `events`, in time order) and the effective scenario (`config.yaml`). No script, no
external stylesheet, font or image. A results folder is read with `sim.load_result`, which
refuses an incomplete one.

Figures are drawn on `matplotlib.figure.Figure` objects (Agg canvas, no pyplot), so writing a
report from a notebook neither changes its backend nor displays anything.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.recorder import ensure_tables

__all__ = ["EVENT_ROWS_SHOWN", "read_tables", "render_plots", "write_report"]

EVENT_ROWS_SHOWN = 1000
DPI = 100


def read_tables(results_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Every table of a results folder (tables/<name>.parquet), missing ones empty."""
    tables = Path(results_dir) / "tables"
    frames = {p.stem: pd.read_parquet(p) for p in sorted(tables.glob("*.parquet"))}
    return ensure_tables(frames)


def _lanes(tables: Mapping[str, pd.DataFrame]) -> int:
    events = tables["events"]
    leaders = events.loc[events["kind"] == "leader", "entity"].astype(str)
    return max(1, len({e.split("@")[0] for e in leaders}))


def _figsize(name: str, tables: Mapping[str, pd.DataFrame]) -> tuple[float, float]:
    if name == "leadership":
        return (10.0, max(2.6, 1.2 + 0.55 * _lanes(tables)))
    if name == "message_flow":
        return (11.0, 7.5)
    return (10.0, 4.8)


def render_plots(
    tables: Mapping[str, pd.DataFrame], out_dir: Path, label: str | None = None
) -> dict[str, Path]:
    """Draw every plot into `out_dir/<name>.png`; returns name -> file."""
    from matplotlib.figure import Figure

    from sim.analysis.plots import PLOTS, draw_hw_leo_panels, hw_leo_partitions

    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, plot in PLOTS.items():
        if name == "hw_leo":  # one panel per partition shown
            parts = hw_leo_partitions(tables)
            fig = Figure(figsize=(10.0, max(4.8, 3.4 * len(parts))), layout="constrained")
            if parts:
                draw_hw_leo_panels(
                    tables,
                    list(fig.subplots(len(parts), 1, sharex=True, squeeze=False)[:, 0]),
                    parts,
                )
            else:
                plot(tables, ax=fig.subplots())
        else:
            fig = Figure(figsize=_figsize(name, tables), layout="constrained")
            kwargs: dict[str, Any] = {"label": label} if name == "durability" and label else {}
            plot(tables, ax=fig.subplots(), **kwargs)
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=DPI)
        written[name] = path
    return written


# ---------------------------------------------------------------- HTML

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1f1f1f; background: #fafafa; }
main { max-width: 1120px; margin: 0 auto; padding: 1.5em 2em 4em; background: white; }
h1 { font-size: 1.9em; margin-bottom: 0.2em; }
h2 { margin-top: 2em; border-bottom: 2px solid #0072B2; padding-bottom: 0.2em; }
p.description { font-size: 1.1em; color: #333; }
.ok { color: #1a7f37; font-weight: bold; }
.bad { color: #b42318; font-weight: bold; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.95em; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #e2e2e2; text-align: left;
         vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #f6f8fa; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e2e2e2; }
figcaption { color: #555; font-size: 0.95em; }
pre { background: #f6f8fa; padding: 1em; overflow-x: auto; font-size: 0.85em; }
nav a { margin-right: 1em; }
.events { max-height: 32em; overflow-y: auto; display: block; }
"""

CAPTIONS = {
    "leadership": "Who leads each partition; hatched: no usable leader, with the election's "
    "duration and kind.",
    "isr_size": "In-sync replicas of each partition.",
    "hw_leo": "High watermark (solid), log end offset (dashed) and log start offset (dotted) "
    "per partition, one track per broker that believed it led.",
    "consumer_lag": "Records committed to the log but not yet committed by the group.",
    "throughput": "Records produced, acknowledged and consumed per second.",
    "latency": "Produce (send to acknowledgement) and end-to-end (send to processed) latency.",
    "latency_cdf": "Latency distribution on a log axis: the bulk and the tail.",
    "durability": "What happened to the records, judged by the history checker.",
    "message_flow": "One batch's journey, hop by hop, from the recorded tables.",
}


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(
    rows: list[list[str]], header: list[str], cls: str = "", numeric: tuple[int, ...] = ()
) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{e(c)}</td>" if i in numeric else f"<td>{e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    klass = f" class='{cls}' id='{cls}'" if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _verdict_html(result: Any) -> str:
    e = html.escape
    good = result.verdict.ok
    parts = [f"<p class='{'ok' if good else 'bad'}' id='verdict'>{e(result.verdict_text())}</p>"]
    if result.expectations:
        rows = [
            [
                "held" if x["ok"] else "FAILED",
                str(x["key"]),
                f"{x['op']} {_fmt(x['expected'])}",
                _fmt(x["actual"]),
            ]
            for x in result.expectations
        ]
        parts.append(_table(rows, ["", "expect", "wanted", "actual"], "expectations"))
    examples = result.verdict.examples
    shown = [(name, ex) for name, ex in sorted(examples.items()) if ex]
    for name, ex in shown:
        keys = list(ex[0])
        rows = [[_fmt(item.get(k)) for k in keys] for item in ex[:5]]
        parts.append(f"<p>Examples of <b>{e(name)}</b> (up to 5):</p>")
        parts.append(_table(rows, keys))
    return "".join(parts)


def _events_html(tables: Mapping[str, pd.DataFrame]) -> str:
    events = tables["events"].sort_values("time_ms", kind="stable")
    rows = [
        [f"{t / 1000:,.3f}", str(entity), str(kind), str(detail)]
        for t, entity, kind, detail in zip(
            events["time_ms"].to_numpy(dtype=float)[:EVENT_ROWS_SHOWN],
            events["entity"][:EVENT_ROWS_SHOWN],
            events["kind"][:EVENT_ROWS_SHOWN],
            events["detail"][:EVENT_ROWS_SHOWN],
            strict=True,
        )
    ]
    note = ""
    if len(events) > EVENT_ROWS_SHOWN:
        note = (
            f"<p>The first {EVENT_ROWS_SHOWN:,} of {len(events):,} events; all of them are in "
            "<code>tables/events.parquet</code>.</p>"
        )
    if not rows:
        return "<p>No event was recorded.</p>"
    return note + _table(rows, ["time (s)", "entity", "kind", "detail"], "events", numeric=(0,))


def _page(result: Any, plots: dict[str, Path], config_text: str) -> str:
    e = html.escape
    s = result.summary
    meta = result.meta
    scenario = result.scenario
    identity = [
        ["scenario", scenario.name],
        ["seed", str(result.seed)],
        ["run id", result.run_id],
        ["simulated", f"{meta.get('simulated_ms', 0) / 1000:,.1f} s"],
        ["wall time", f"{meta.get('wall_seconds', 0):,.2f} s"],
        ["events processed", _fmt(meta.get("events_processed"))],
        ["kafka-sim", str(meta.get("version", ""))],
    ]
    summary_rows = [[key, _fmt(value)] for key, value in s.items()]
    figures = "".join(
        f"<figure id='plot-{e(name)}'><img src='{_data_uri(path)}' alt='{e(name)} plot' "
        f"class='plot'><figcaption><b>{e(name)}</b>: {e(CAPTIONS.get(name, ''))}</figcaption>"
        "</figure>"
        for name, path in plots.items()
    )
    nav = "".join(
        f"<a href='#{a}'>{t}</a>"
        for a, t in (
            ("verdict-section", "verdict"),
            ("summary-section", "summary"),
            ("plots-section", "plots"),
            ("events-section", "events"),
            ("scenario-section", "scenario"),
        )
    )
    description = (
        f"<p class='description'>{e(scenario.description)}</p>" if scenario.description else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kafka-sim report: {e(scenario.name)} seed {result.seed}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<h1>{e(scenario.name)} <small>seed {result.seed}</small></h1>
{description}
<nav>{nav}</nav>
{_table(identity, ["run", ""], "identity")}
<h2 id="verdict-section">Verdict and expectations</h2>
{_verdict_html(result)}
<h2 id="summary-section">Summary</h2>
<p>Every key of <code>summary.json</code> (meanings: docs/summary-and-tables.md).</p>
{_table(summary_rows, ["key", "value"], "summary", numeric=(1,))}
<h2 id="plots-section">Plots</h2>
{figures}
<h2 id="events-section">Events timeline</h2>
{_events_html(result.tables)}
<h2 id="scenario-section">Effective scenario (config.yaml)</h2>
<pre id="config">{e(config_text)}</pre>
</main>
</body>
</html>
"""


def _config_text(result: Any) -> str:
    if result.path is not None and (Path(result.path) / "config.yaml").is_file():
        return (Path(result.path) / "config.yaml").read_text()
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(result.scenario.effective_dict(), buffer)
    return buffer.getvalue()


def write_report(source: Any, out_dir: str | Path | None = None) -> list[Path]:
    """Write `plots/*.png` and `report.html` for a results folder (path) or a `Result`, into
    the run's folder (or `out_dir`); returns the files written, the HTML page last."""
    from sim.experiment.result import Result, load_result

    result = source if isinstance(source, Result) else load_result(source)
    if out_dir is not None:
        root = Path(out_dir)
    elif result.path is not None:
        root = Path(result.path)
    else:
        raise ValueError("a Result kept in memory (out=None) needs out_dir")
    root.mkdir(parents=True, exist_ok=True)
    plots = render_plots(result.tables, root / "plots", label=result.label)
    page = root / "report.html"
    page.write_text(_page(result, plots, _config_text(result)), encoding="utf-8")
    return [*plots.values(), page]
