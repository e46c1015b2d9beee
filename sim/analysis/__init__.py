"""Analysis of a run: reads recorded tables only (pandas DataFrames), never simulator internals.

- `recorder`: row buffers during a run -> typed DataFrames (`Recorder`, `TABLES`).
- `ranges`: interval arithmetic over record identities (producer, topic, partition, seq).
- `checker`: anomalies judged from history (`check` -> `Verdict`).
- `metrics`: the flat summary (`summarize`, `METRIC_KEYS`, `evaluate_expectations`).
- `plots` (with `plot_style` and `flow`, the message-flow diagram and its animation): matplotlib
  figures from the tables; `report`: plots/*.png and a self-contained report.html. matplotlib is
  imported only by those modules, so importing this package stays light.
"""

from sim.analysis.checker import ANOMALIES, Verdict, check
from sim.analysis.metrics import METRIC_KEYS, consumer_lag, evaluate_expectations, summarize
from sim.analysis.recorder import TABLES, Recorder, empty_frame, ensure_tables
from sim.analysis.report import read_tables, write_report

__all__ = [
    "ANOMALIES",
    "METRIC_KEYS",
    "TABLES",
    "Recorder",
    "Verdict",
    "check",
    "consumer_lag",
    "empty_frame",
    "ensure_tables",
    "evaluate_expectations",
    "read_tables",
    "summarize",
    "write_report",
]
