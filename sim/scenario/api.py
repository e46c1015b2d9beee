"""The Python entry points to scenarios: `load_scenario` (a file or YAML text) and overrides.

`load_scenario(path_or_yaml_text, overrides=None)` accepts a path (``str`` or ``Path``) or the
YAML text itself (any string containing a line break, or a one-line ``{...}`` mapping), and
overrides either as a mapping ``{"producers.0.config.acks": "1", "seed": 3}`` (Python values) or
as the command line's ``["producers.0.config.acks=1"]`` strings (values parsed as YAML).

`with_overrides(scenario, {...})` (also `Scenario.with_overrides`) returns a new scenario with
dotted keys changed. The overrides go through exactly the path a file takes: they are applied to
the scenario's *original* data (its file text and earlier overrides), so derived defaults follow
(a new `cluster.config.num.partitions` or `replication.factor` reassigns replicas; a broker-level
config reaches the topics that did not set it), and the result is validated like a file. A
scenario changed by other means since (`model_copy`, as `run(seed=...)` does) keeps its origin:
the changed keys are added as overrides. A scenario built without the loader starts from its
effective configuration (every default spelled out, so nothing is derived again). Errors are
`ScenarioError` lines naming the override's position and the key path:
``overrides:1:1: producers.0.config.acks: ...``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario_text, read_scenario_file
from sim.scenario.scenario_model import Scenario

__all__ = ["Overrides", "load_scenario", "with_overrides"]

Overrides = Mapping[str, Any] | Sequence[str] | None

MAPPING_ORIGIN = "overrides"


class _Origin:
    """How a scenario was made: its YAML text, file name and overrides, plus the effective
    configuration it gave (to notice a scenario changed since). Always compares equal, so that it
    never changes whether two scenarios are equal."""

    __slots__ = ("effective", "filename", "overrides", "text")

    def __init__(self, text: str, filename: str, overrides: tuple[str, ...], effective: str):
        self.text = text
        self.filename = filename
        self.overrides = overrides
        self.effective = effective

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Origin)

    def __hash__(self) -> int:
        return 0


def _effective_json(scenario: Scenario) -> str:
    return json.dumps(scenario.effective_dict(), sort_keys=True, default=str)


def _as_text(key: str, value: Any) -> str:
    """`key=value` with a Python value written as YAML (JSON is YAML 1.2: "1" stays a string)."""
    if isinstance(value, str | int | float | bool | list | dict) or value is None:
        return f"{key}={json.dumps(value)}"
    return f"{key}={json.dumps(str(value))}"


def _override_lines(overrides: Overrides) -> tuple[list[str], bool]:
    """The overrides as `key=value` lines, and whether they came from a mapping."""
    if overrides is None:
        return [], False
    if isinstance(overrides, Mapping):
        return [_as_text(str(k), v) for k, v in overrides.items()], True
    if isinstance(overrides, str):
        raise TypeError("overrides: give a mapping {'key.path': value} or a list of 'key=value'")
    return [str(o) for o in overrides], False


def _is_text(source: str | Path) -> bool:
    if isinstance(source, Path):
        return False
    return "\n" in source or source.lstrip().startswith("{")


def _load(text: str, filename: str, lines: list[str], first_new: int, mapped: bool) -> Scenario:
    """Validate `text` with override `lines`. Errors in the lines from index `first_new` on
    (0-based) are numbered from 1 again, as ``overrides:N`` when they came from a mapping."""
    try:
        scenario = load_scenario_text(text, filename, lines)
    except ScenarioError as e:
        if e.file != "--set" or e.line <= first_new:
            raise
        line = e.line - first_new
        if mapped:  # no text to point into: the N-th key of the mapping
            raise ScenarioError(MAPPING_ORIGIN, line, 1, e.path, e.message) from None
        raise ScenarioError("--set", line, e.col, e.path, e.message) from None
    scenario._origin = _Origin(text, filename, tuple(lines), _effective_json(scenario))
    return scenario


def load_scenario(source: str | Path, overrides: Overrides = None) -> Scenario:
    """Read and validate a scenario from a file path or from YAML text, with `overrides`
    (a mapping of dotted keys to values, or `key=value` strings as `kafka-sim run --set`)."""
    lines, mapped = _override_lines(overrides)
    if _is_text(source):
        text, filename = str(source), "<text>"
    else:
        path = Path(source)
        # The loader's checks: a regular file, a size limit, UTF-8 (one located line otherwise).
        text = read_scenario_file(path)
        filename = str(path)
    return _load(text, filename, lines, 0, mapped)


def _changes(old: Any, new: Any, path: str = "") -> list[str] | None:
    """`key=value` overrides that turn effective configuration `old` into `new`, or None when a
    key was removed (an override cannot remove a key)."""
    if isinstance(old, dict) and isinstance(new, dict):
        if set(old) - set(new):
            return None
        out: list[str] = []
        for key in new:
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(_as_text(sub, new[key]))
                continue
            more = _changes(old[key], new[key], sub)
            if more is None:
                return None
            out += more
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and path:
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            more = _changes(a, b, f"{path}.{i}")
            if more is None:
                return None
            out += more
        return out
    return [] if old == new else [_as_text(path, new)]


def with_overrides(scenario: Scenario, overrides: Overrides) -> Scenario:
    """`scenario` with dotted keys changed, validated exactly like a file (see module doc)."""
    lines, mapped = _override_lines(overrides)
    origin = scenario._origin
    base: list[str] | None = None
    if isinstance(origin, _Origin):
        base = list(origin.overrides)
        current = _effective_json(scenario)
        if origin.effective != current:  # changed since (e.g. model_copy): add the changes
            since = _changes(json.loads(origin.effective), json.loads(current))
            base = None if since is None else base + since
    if isinstance(origin, _Origin) and base is not None:
        text, filename = origin.text, origin.filename
    else:  # no origin: the effective configuration, every default spelled out, is the base
        base = []
        text = json.dumps(scenario.effective_dict(), default=str)
        filename = scenario.source
    return _load(text, filename, [*base, *lines], len(base), mapped)
