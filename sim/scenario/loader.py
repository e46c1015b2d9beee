"""Reading a scenario: safe YAML with positions, --set overrides, validation, located errors.

The file must be a regular file of at most `MAX_FILE_BYTES` (8 MiB; FIFOs, devices and folders
are refused before anything is read) holding UTF-8 text. `yaml_reader.read_yaml` turns it into
plain Python with the line/column of every key and value, without ever constructing a tagged
object (see its docstring for what the format accepts: YAML 1.2 scalars, anchors, aliases and
merge keys `<<`, which are accepted, merged values keeping the line/column where they were
written; duplicate keys, complex keys, unsupported tags, recursive aliases, alias bombs and deep
nesting are refused at their position). An empty file (nothing, only comments, or `---`) is
refused with what a scenario needs. Top-level keys starting with `x-` are extension fields, as
in docker-compose files: ignored, they hold anchors for merge keys (`x-acks-all: &safe {acks:
all}` ... `config: {<<: *safe, linger.ms: 5}`). `--set key.path=value` overrides are applied
(the value read by the same reader; text that is not YAML is taken as a string), and the root
model validates the result. A pydantic ValidationError is mapped back to the position of the
offending key or value, so every error is a single `file:line:col: key.path: message` line
(1-based), with values cut to a readable length.

Kafka config names contain dots, so a --set path is matched against the keys that exist (and
the model's key names) longest first: `producers.0.config.linger.ms=5`,
`topics.0.replication.factor=3`.
"""

from __future__ import annotations

import os
import re
import stat
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sim.scenario.errors import PathValueError, ScenarioError, did_you_mean, short_repr
from sim.scenario.kafka_configs import KafkaConfig
from sim.scenario.scenario_model import Scenario
from sim.scenario.yaml_reader import YamlProblem, read_yaml

__all__ = ["MAX_FILE_BYTES", "load_scenario", "load_scenario_text"]

MAX_FILE_BYTES = 8 * 1024 * 1024
EXTENSION_PREFIX = "x-"
EMPTY_SCENARIO = (
    "empty scenario: a scenario needs at least topics: and producers: or consumers: "
    "(see scenarios/hello-kafka.yaml)"
)

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
    text = read_scenario_file(path)
    return load_scenario_text(text, str(path), overrides)


def read_scenario_file(path: Path) -> str:
    """The file's UTF-8 text: a regular file of at most MAX_FILE_BYTES, else a ScenarioError."""
    name = str(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            kind = (
                "a folder"
                if stat.S_ISDIR(info.st_mode)
                else "a FIFO"
                if stat.S_ISFIFO(info.st_mode)
                else "a device or special file"
            )
            raise ScenarioError(name, 1, 1, (), f"not a regular file ({kind})")
        if info.st_size > MAX_FILE_BYTES:
            raise ScenarioError(name, 1, 1, (), _too_big(info.st_size))
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ScenarioError(name, 1, 1, (), f"cannot read file: {e.strerror}") from None
    except ValueError as e:  # a NUL byte in the path (possible from Python, not a shell)
        raise ScenarioError(name, 1, 1, (), f"cannot read file: {e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(name, 1, 1, (), _too_big(len(data)))
    return decode_utf8(data, name)


def _too_big(size: int) -> str:
    return (
        f"file too large ({size:,} bytes; a scenario file may have at most "
        f"{MAX_FILE_BYTES:,} bytes)"
    )


def decode_utf8(data: bytes, filename: str) -> str:
    """UTF-8 (an optional byte order mark) -> text; anything else is a located ScenarioError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ScenarioError(
            filename, 1, 1, (), "the file is UTF-16 text: scenario files must be UTF-8"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        good = data[: e.start]
        line = good.count(b"\n") + 1
        col = len(good[good.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        byte = data[e.start : e.start + 1].hex()
        raise ScenarioError(
            filename,
            line,
            col,
            (),
            f"not UTF-8 text (byte 0x{byte} cannot be decoded): scenario files must be UTF-8",
        ) from None


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
    for key in [k for k in data if isinstance(k, str) and k.startswith(EXTENSION_PREFIX)]:
        del data[key]  # extension fields: a place for anchors, ignored (docker-compose's x-)
    if "name" not in data:
        data["name"] = default_name(filename)
    data["source"] = filename
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        raise _to_scenario_error(e, positions) from None


def default_name(filename: str) -> str:
    """The scenario name when the file gives none: its file name's stem, made a safe folder
    name (characters other than letters, digits, '_', '-', '.' become '-')."""
    stem = Path(filename).stem if filename != "<text>" else ""
    name = re.sub(r"[^\w.-]+", "-", stem).lstrip(".-")[:100].rstrip(".-")
    return name or "scenario"


def _at(pos: Pos) -> tuple[str, int, int]:
    return pos.file, pos.line, pos.col


def _read_yaml(text: str, filename: str) -> tuple[dict[str, Any], _Positions]:
    try:
        data, keys, values, root = read_yaml(text)
    except YamlProblem as e:
        raise ScenarioError(filename, e.line, e.col, e.path, e.message) from None
    if data is None or data == {}:
        line, col = (root.line, root.col) if data == {} and root is not None else (1, 1)
        raise ScenarioError(filename, line, col, (), EMPTY_SCENARIO)
    if not isinstance(data, dict):
        assert root is not None
        raise ScenarioError(
            filename, root.line, root.col, (), "a scenario must be a mapping of keys"
        )
    positions = _Positions({(): Pos(filename, 1, 1)}, {(): Pos(filename, 1, 1)})
    for path, at in keys.items():
        positions.keys[path] = Pos(filename, at.line, at.col)
    for path, at in values.items():
        positions.values[path] = Pos(filename, at.line, at.col)
    return data, positions


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
        value = read_yaml(value_text)[0]
    except YamlProblem as e:
        if not e.syntax:  # YAML this format refuses (a tag, an alias bomb...): say so
            col = len(path_text) + 1 + e.col if e.line == 1 else len(path_text) + 2
            raise ScenarioError("--set", index, col, (), e.message) from None
        value = value_text  # not YAML at all: the text itself
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
        return path, f"unknown key {short_repr(path[-1])}{hint}", True
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
    return path, f"{text}, got {short_repr(value)}{hint}", False


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
