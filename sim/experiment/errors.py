"""Errors of the experiment layer that the command line reports (kept light: no pandas)."""

from __future__ import annotations

__all__ = ["IncompleteResultsError"]


class IncompleteResultsError(ValueError):
    """A folder that is not a finished, successful run (one-line message naming the folder)."""
