"""Report of a finished run: reads results/<scenario>/<run-id>/tables/*.parquet, writes plots/*.png.

The tables are the recorder's (contract C); a table file that is missing counts as an empty
table. One PNG per entry of `sim.analysis.plots.PLOTS` (produce latency CDF, HW/LEO, consumer lag,
ISR size). Rendering uses matplotlib's non-interactive Agg backend, selected here, when a report
is written, never when the plots module is imported (notebooks keep their inline backend).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.analysis.recorder import ensure_tables

__all__ = ["read_tables", "write_report"]


def read_tables(results_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Every table of a results folder (tables/<name>.parquet), missing ones empty."""
    tables = Path(results_dir) / "tables"
    frames = {p.stem: pd.read_parquet(p) for p in sorted(tables.glob("*.parquet"))}
    return ensure_tables(frames)


def write_report(results_dir: str | Path) -> list[Path]:
    """Write plots/<name>.png for every plot into `results_dir`; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from sim.analysis.plots import PLOTS

    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a results folder")
    frames = read_tables(root)
    out_dir = root / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, plot in PLOTS.items():
        fig = Figure(figsize=(8, 4.5), layout="constrained")
        plot(frames, ax=fig.subplots())
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=110)
        written.append(path)
    return written
