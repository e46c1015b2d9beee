"""The progress display of a run: a bar in simulated seconds (tqdm), shown only where it helps.

`progress_bar(total_ms, progress)` returns a tqdm bar or None:
- `progress=False`, or the environment variable `TQDM_DISABLE` set (any value but "" and "0"):
  no bar;
- `progress=None` (the default, "auto"): in Jupyter a notebook bar (`tqdm.auto`: a widget when
  ipywidgets is installed, else text) from the start; in a terminal (stderr is a TTY) a text bar
  that appears only once the run has taken about two wall seconds (tqdm's `delay`), so short runs
  print nothing; anywhere else (a pipe, a file, CI) no bar;
- `progress=True`: a bar whatever the output is.
The bar counts simulated seconds (`sim-s`); it closes itself (leaves nothing behind in a
terminal) when the run ends.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

__all__ = ["TERMINAL_DELAY_S", "in_notebook", "progress_bar"]

TERMINAL_DELAY_S = 2.0


def in_notebook() -> bool:
    """True inside a Jupyter kernel (the test tqdm.autonotebook uses: ipykernel is loaded)."""
    if "ipykernel.zmqshell" not in sys.modules:
        return False
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "zmq" in type(shell).__name__.lower()


def _disabled_by_environment() -> bool:
    return os.environ.get("TQDM_DISABLE", "") not in ("", "0")


def _notebook_tqdm() -> Any:
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        # Without ipywidgets tqdm.auto falls back to the text bar and warns: text is fine.
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm

    return tqdm


def progress_bar(total_ms: float, progress: bool | None = None) -> Any:
    """A tqdm bar of `total_ms` simulated milliseconds (counted in seconds), or None."""
    if progress is False or _disabled_by_environment():
        return None
    total = round(total_ms / 1000.0, 3)
    options: dict[str, Any] = {"total": total, "unit": "sim-s", "desc": "simulating"}
    if in_notebook():
        return _notebook_tqdm()(**options, leave=True)
    from tqdm import tqdm

    if progress is None:
        if not sys.stderr.isatty():
            return None
        options["delay"] = TERMINAL_DELAY_S
    return tqdm(**options, leave=False, file=sys.stderr, dynamic_ncols=True)
