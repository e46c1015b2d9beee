"""Reading a scenario: YAML with positions, --set overrides, validation, located errors.

The file is read with ruamel.yaml's round-trip loader (`YAML(typ="rt")`, YAML 1.2, so `1e3` is a
number and `yes` a string); `.lc` gives the line/column of every key and value. Duplicate keys
are refused with their path (found on the composed node tree before construction). The data is
then copied into plain Python types with a side table path -> position, `--set key.path=value`
overrides are applied (the value parsed as YAML), and the root model validates it. A pydantic
ValidationError is mapped back to the position of the offending key or value, so every error is
a single `file:line:col: key.path: message` line (1-based).

Kafka config names contain dots, so a --set path is matched against the keys that exist (and
the model's key names) longest first: `producers.0.config.linger.ms=5`,
`topics.0.replication.factor=3`.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from sim.scenario.errors import PathValueError, ScenarioError, did_you_mean
from sim.scenario.kafka_configs import KafkaConfig
from sim.scenario.scenario_model import Scenario

__all__ = ["load_scenario", "load_scenario_text"]

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Pos:
    """A 1-based position in a file (or in the N-th --set option)."""

    file: str
    line: int
    col: int


@dataclass
class _Positions:
    """Where each key path's key and value were written."""

    keys: dict[Path_, Pos]
    values: dict[Path_, Pos]

    def find(self, path: Path_, *, at_key: bool = False) -> Pos:
        """Position of `path`'s value (or key), else of its closest written ancestor."""
        table_order = (self.keys, self.values) if at_key else (self.values, self.keys)
        for cut in range(len(path), -1, -1):
            for table in table_order:
                pos = table.get(path[:cut])
                if pos is not None:
                    return pos
        raise AssertionError("root position missing")  # pragma: no cover

    def forget(self, prefix: Path_) -> None:
        """Drop positions under `prefix` (replaced by an override)."""
        for table in (self.keys, self.values):
            for p in [p for p in table if p[: len(prefix)] == prefix and len(p) > len(prefix)]:
                del table[p]


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, override and validate the scenario file at `path` (ScenarioError if invalid)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(str(path), 1, 1, (), f"cannot read file: {e.strerror}") from None
    return load_scenario_text(text, str(path), overrides)


def load_scenario_text(
    text: str, filename: str = "<text>", overrides: Sequence[str] = ()
) -> Scenario:
    """Validate scenario YAML `text`; `filename` is used in messages and for the default name."""
    data, positions = _read_yaml(text, filename)
    for index, override in enumerate(overrides, start=1):
        _apply_override(data, positions, override, index)
    if "source" in data:
        why = "unknown key 'source' (it is set by the loader)"
        raise ScenarioError(*_at(positions.find(("source",), at_key=True)), ("source",), why)
    if "name" not in data:
        stem = Path(filename).stem
        data["name"] = stem if filename != "<text>" and stem else "scenario"
    data["source"] = filename
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        raise _to_scenario_error(e, positions) from None


def _at(pos: Pos) -> tuple[str, int, int]:
    return pos.file, pos.line, pos.col


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def _read_yaml(text: str, filename: str) -> tuple[dict[str, Any], _Positions]:
    y = _yaml()
    try:
        node = y.compose(text)
        if node is not None:
            _check_duplicates(node, (), filename)
        loaded = y.load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = e.problem or e.context or "invalid YAML"
        raise ScenarioError(filename, line, col, (), f"YAML syntax error: {problem}") from None
    except YAMLError as e:
        raise ScenarioError(filename, 1, 1, (), f"YAML error: {e}") from None
    positions = _Positions({(): Pos(filename, 1, 1)}, {(): Pos(filename, 1, 1)})
    if loaded is None:
        return {}, positions
    if not isinstance(loaded, CommentedMap):
        raise ScenarioError(filename, 1, 1, (), "a scenario must be a mapping of keys")
    data = _plain(loaded, (), filename, positions)
    assert isinstance(data, dict)
    return data, positions


def _check_duplicates(node: Node, path: Path_, filename: str) -> None:
    if isinstance(node, MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            mark = key_node.start_mark
            if key in seen:
                raise ScenarioError(
                    filename,
                    mark.line + 1,
                    mark.column + 1,
                    (*path, key),
                    f"duplicate key {key!r} (first at line {seen[key]})",
                )
            seen[key] = mark.line + 1
            _check_duplicates(value_node, (*path, key), filename)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(item, (*path, i), filename)


def _plain(obj: Any, path: Path_, filename: str, positions: _Positions) -> Any:
    """ruamel round-trip objects -> plain Python, recording every key/value position."""
    if isinstance(obj, CommentedMap):
        out: dict[Any, Any] = {}
        for key in obj:
            sub = (*path, key if isinstance(key, str | int) else str(key))
            kl, kc = obj.lc.key(key)
            vl, vc = obj.lc.value(key)
            positions.keys[sub] = Pos(filename, kl + 1, kc + 1)
            positions.values[sub] = Pos(filename, vl + 1, vc + 1)
            out[_scalar(key)] = _plain(obj[key], sub, filename, positions)
        return out
    if isinstance(obj, CommentedSeq):
        items = []
        for i, item in enumerate(obj):
            line, col = obj.lc.item(i)
            positions.values[(*path, i)] = Pos(filename, line + 1, col + 1)
            items.append(_plain(item, (*path, i), filename, positions))
        return items
    return _scalar(obj)


def _scalar(v: Any) -> Any:
    """Strip ruamel's scalar subclasses (ScalarFloat, ScalarInt, *ScalarString)."""
    if v is None or isinstance(v, bool):
        return v if v is None else bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    return v


# ---------------------------------------------------------------- --set overrides


def _apply_override(data: dict[str, Any], positions: _Positions, text: str, index: int) -> None:
    """Apply one `dotted.key=value` override to `data`, recording where the value came from."""
    if "=" not in text:
        raise ScenarioError("--set", index, 1, (), f"expected key.path=value, got {text!r}")
    path_text, value_text = text.split("=", 1)
    parts = path_text.split(".")
    if not path_text or any(p == "" for p in parts):
        raise ScenarioError("--set", index, 1, (), f"bad key path {path_text!r}")
    try:
        value = _plain(_yaml().load(value_text), (), "--set", _Positions({}, {}))
    except YAMLError:
        value = value_text
    starts = [0]
    for p in parts[:-1]:
        starts.append(starts[-1] + len(p) + 1)

    node: Any = data
    model: Any = Scenario
    path: Path_ = ()
    i = 0
    while i < len(parts):
        col = starts[i] + 1
        if isinstance(node, list):
            if not parts[i].isdigit() or int(parts[i]) >= len(node):
                raise ScenarioError(
                    "--set",
                    index,
                    col,
                    (*path, parts[i]),
                    f"no item {parts[i]!r} in a list of {len(node)}",
                )
            key: str | int = int(parts[i])
            model = _item_type(model)
            step = 1
        elif isinstance(node, dict):
            key, step = _match_key(node, model, parts[i:])
            if key == "":
                hint = did_you_mean(parts[i], _known_keys(model))
                raise ScenarioError(
                    "--set", index, col, (*path, parts[i]), f"unknown key {parts[i]!r}{hint}"
                )
            model = _field_type(model, key)
        else:  # pragma: no cover - the loop only descends into lists and mappings
            raise AssertionError(node)
        path = (*path, key)
        i += step
        if i == len(parts):
            node[key] = value
            break
        child = node.get(key) if isinstance(node, dict) else node[key]
        if child is None and isinstance(node, dict) and _is_mapping_type(model):
            child = node[key] = {}
            positions.forget(path)
            positions.keys[path] = positions.values[path] = Pos("--set", index, col)
        if not isinstance(child, dict | list):
            raise ScenarioError(
                "--set",
                index,
                starts[i] + 1,
                path,
                f"not a mapping or list, cannot set {parts[i]!r} in it",
            )
        node = child
    positions.forget(path)
    pos = Pos("--set", index, len(path_text) + 2)
    positions.values[path] = pos
    positions.keys[path] = Pos("--set", index, 1)


def _is_mapping_type(model: Any) -> bool:
    """Can a missing key of this type be created as a mapping by --set?"""
    return (
        model is KafkaConfig
        or model == "expect"
        or (isinstance(model, type) and issubclass(model, BaseModel))
    )


def _match_key(node: dict[str, Any], model: Any, rest: list[str]) -> tuple[str, int]:
    """Longest dotted prefix of `rest` that is an existing or known key: (key, parts used)."""
    if model is KafkaConfig or model == "expect":
        return ".".join(rest), len(rest)
    known = _known_keys(model)
    for n in range(len(rest), 0, -1):
        key = ".".join(rest[:n])
        if key in node or key in known:
            return key, n
    return "", 0


def _known_keys(model: Any) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or name for name, f in model.model_fields.items() if name != "source"]
    return []


def _field_type(model: Any, key: str) -> Any:
    if model is Scenario and key == "expect":
        return "expect"
    if isinstance(model, type) and issubclass(model, BaseModel):
        for name, f in model.model_fields.items():
            if (f.alias or name) == key:
                return _unwrap(f.annotation)
    return None


def _item_type(model: Any) -> Any:
    if typing.get_origin(model) is list:
        return _unwrap(typing.get_args(model)[0])
    return None


def _unwrap(tp: Any) -> Any:
    """Optional[X] -> X; list[X] stays (indexed next); anything else as is."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is not list and len(args) == 1 and typing.get_origin(tp) is not None:
        return _unwrap(args[0])
    return tp


# ---------------------------------------------------------------- pydantic errors


def _to_scenario_error(e: ValidationError, positions: _Positions) -> ScenarioError:
    """The first error (in file order) of a ValidationError, as a one-line ScenarioError."""
    found: list[ScenarioError] = []
    for err in e.errors():
        path, message, at_key = _describe(err)
        pos = positions.find(path, at_key=at_key)
        found.append(ScenarioError(pos.file, pos.line, pos.col, path, message))
    found.sort(key=lambda s: (s.file == "--set", s.line, s.col))
    return found[0]


def _describe(err: ErrorDetails) -> tuple[Path_, str, bool]:
    path: Path_ = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    cause = ctx.get("error")
    if isinstance(cause, PathValueError):
        return (*path, *cause.subpath), cause.message, cause.at_key
    if isinstance(cause, Exception):
        return path, str(cause), False
    if kind == "extra_forbidden":
        parent = _model_at(path[:-1])
        hint = did_you_mean(str(path[-1]), _known_keys(parent))
        return path, f"unknown key {path[-1]!r}{hint}", True
    if kind == "missing":
        return path, "required key missing", True
    messages = {
        "int_type": "expected an integer",
        "int_from_float": "expected an integer",
        "float_type": "expected a number",
        "bool_type": "expected true or false",
        "string_type": "expected a string",
        "list_type": "expected a list",
        "model_type": "expected a mapping",
        "dict_type": "expected a mapping",
        "literal_error": f"expected {ctx.get('expected', '')}",
        "greater_than_equal": f"must be >= {_num(ctx.get('ge'))}",
        "greater_than": f"must be > {_num(ctx.get('gt'))}",
        "less_than_equal": f"must be <= {_num(ctx.get('le'))}",
        "less_than": f"must be < {_num(ctx.get('lt'))}",
        "too_short": "must not be empty",
        "string_too_short": "must not be empty",
    }
    text = messages.get(kind)
    if text is None:
        return path, err["msg"], False
    hint = ""
    if kind == "literal_error" and isinstance(value, str):
        options = [
            o.strip(" '") for o in str(ctx.get("expected", "")).replace(" or ", ",").split(",")
        ]
        hint = did_you_mean(value, [o for o in options if o])
    return path, f"{text}, got {value!r}{hint}", False


def _num(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _model_at(path: Path_) -> Any:
    model: Any = Scenario
    for part in path:
        if isinstance(part, int):
            model = _item_type(model)
        else:
            model = _field_type(model, part)
        if model is None:
            return None
    return model
