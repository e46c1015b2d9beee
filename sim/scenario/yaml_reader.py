"""Reading scenario YAML safely: plain data with the position of every key and value.

Theory of operation
-------------------
A scenario file is untrusted input. It is read with ruamel.yaml's pure-Python *parser* only (the
event stream of `YAML(typ="safe", pure=True).parse`, YAML 1.2): no constructor ever runs, so no
tag can build an object. This module composes the events itself, without recursion, into plain
Python (dict, list, str, int, float, bool, None), recording the 1-based line/column of every key
and value by key path. Every problem is a `YamlProblem` at a position, which the loader turns into
one `file:line:col: key.path: message` line.

What the format accepts, and what it refuses (each refusal is located):
- Text: UTF-8 only (a UTF-8 byte order mark is allowed); the loader refuses other encodings. No
  control characters but tab, CR and LF (a NUL or ^A is reported at its own line and column).
- One document (a leading `---` is fine); an empty document is refused by the loader.
- Mappings, sequences and scalars. Scalars resolve by YAML 1.2's core schema as ruamel.yaml does
  (`1e3` is a number, `yes` a string); a date-like plain scalar stays a string. Explicit tags:
  `!!str`, `!!int`, `!!float`, `!!bool`, `!!null` (the content must fit: `!!int abc` is refused),
  `!!map`, `!!seq` and the non-specific `!`. Any other tag (`!!omap`, `!!set`, `!!binary`,
  `!!timestamp`, `!!python/...`, `!custom`) is refused: a scenario is plain data.
- Keys are plain scalars (their text is the key); a list or mapping as a key is refused.
  A key written twice in one mapping is refused (pointing at the second, naming the first line).
- Anchors and aliases are allowed. An alias inside its own anchor (a recursive structure) is
  refused, and so is a document whose aliases would expand it beyond `MAX_EXPANDED_VALUES` values
  (the "billion laughs"): sizes are computed once per node, never by re-walking aliases.
- Merge keys (`<<: *defaults`, `<<: [*a, *b]`) are accepted, as YAML 1.1 defines them and as
  docker-compose or CI files use them: keys written in the mapping win over merged ones, and
  among several merged mappings the first wins. A merged value keeps the line/column where it
  was written (inside the anchored mapping). A merge value that is not a mapping (or a list of
  mappings) is refused.
- Nesting deeper than `MAX_DEPTH` levels is refused (scenarios need about six).

Simplification: keys keep their source text, so `1: x` has the key "1" (scenario keys are names).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from ruamel.yaml.nodes import ScalarNode

from sim.scenario.errors import short_repr

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPANDED_VALUES",
    "Located",
    "YamlProblem",
    "find_control_character",
    "read_yaml",
]

MAX_DEPTH = 50
MAX_EXPANDED_VALUES = 1_000_000

Path_ = tuple[str | int, ...]
_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null")}
_MAP_TAGS = {f"{_CORE}map", "!"}
_SEQ_TAGS = {f"{_CORE}seq", "!"}
# What ruamel.yaml's Reader refuses, plus the same set: anything YAML calls non-printable.
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


class YamlProblem(Exception):
    """A problem in the YAML text at (1-based) line and column, optionally at a key path."""

    def __init__(
        self, line: int, col: int, message: str, path: Path_ = (), *, syntax: bool = False
    ) -> None:
        super().__init__(message)
        self.line = line
        self.col = col
        self.message = message
        self.path = path
        self.syntax = syntax  # the text is not YAML at all (vs YAML this format refuses)


@dataclass(frozen=True, slots=True)
class Located:
    line: int
    col: int


def find_control_character(text: str) -> YamlProblem | None:
    """The first character YAML does not allow (NUL, ^A, ...), located; None if there is none."""
    m = _NON_PRINTABLE.search(text)
    if m is None:
        return None
    line = text.count("\n", 0, m.start()) + 1
    col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
    return YamlProblem(
        line, col, f"control character U+{ord(m.group()):04X} is not allowed in a scenario file"
    )


def tag_name(tag: str) -> str:
    """'tag:yaml.org,2002:omap' -> '!!omap' (as it is usually written)."""
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


# ---------------------------------------------------------------- the node tree


@dataclass(eq=False, slots=True)
class _Node:
    kind: str  # "scalar" | "map" | "seq"
    line: int
    col: int
    value: Any = None  # scalar: the constructed value
    text: str = ""  # scalar: the source text (keys use it)
    tagged: bool = False  # scalar: an explicit tag other than !!str or !
    items: list[Any] = field(default_factory=list)  # seq: nodes; map: (key node, value node)
    merges: list[_Node] = field(default_factory=list)  # map: values of its merge keys, in order
    seen: dict[str, int] = field(default_factory=dict)  # map: key -> line of its first writing
    flat: list[Any] = field(default_factory=list)  # map: entries with merge keys applied
    size: int = -1  # values once aliases are expanded (computed once)


# The parser: libyaml's through ruamel.yaml.clib when installed (about 30x faster on big files),
# else ruamel.yaml's pure-Python one; both only produce events. Resolving and building scalars
# uses the pure-Python resolver and constructor of the YAML 1.2 core schema.
_yaml = YAML(typ="safe")
_pure = YAML(typ="safe", pure=True)
_resolver = _pure.resolver
_constructor = _pure.constructor


# A plain scalar that cannot be anything but a string under the YAML 1.2 core schema (the common
# case: names, units such as '250ms'), recognised without asking the (slow) resolver.
_SURELY_STR = re.compile(r"[A-Za-z_/*]")
_WORDS = frozenset(
    f"{w}" for b in ("null", "true", "false") for w in (b, b.capitalize(), b.upper())
)


@functools.lru_cache(maxsize=4096)
def _resolve(text: str) -> str:
    return str(_resolver.resolve(ScalarNode, text, (True, False)))


@functools.lru_cache(maxsize=4096)
def _build(tag: str, text: str) -> Any:
    return _constructor.construct_object(ScalarNode(tag, text))


def _scalar_value(event: ScalarEvent, line: int, col: int) -> Any:
    text = event.value
    tag = event.tag
    if tag is None or tag == "!":
        if tag == "!" or not event.implicit[0]:  # quoted or non-specific: a string
            return text
        if _SURELY_STR.match(text) and text not in _WORDS:
            return text
        tag_to_build = _resolve(text)
    elif tag in _SCALAR_TAGS:
        tag_to_build = tag
        if tag != f"{_CORE}str":
            plain = _resolve(text)
            fits = plain == tag or (tag == f"{_CORE}float" and plain == f"{_CORE}int")
            if not fits:
                raise YamlProblem(line, col, f"{short_repr(text)} is not a valid {tag_name(tag)}")
    else:
        raise YamlProblem(
            line,
            col,
            f"unsupported tag {short_repr(tag_name(tag))}: a scenario is plain YAML "
            "(mappings, lists, strings, numbers, true/false, null)",
        )
    if tag_to_build not in _SCALAR_TAGS or tag_to_build == f"{_CORE}str":
        return text  # str, and plain scalars YAML would make dates or '=' values: text
    try:
        return _build(tag_to_build, text)
    except Exception:  # e.g. an int too odd for ruamel's int constructor
        raise YamlProblem(
            line, col, f"{short_repr(text)} is not a valid {tag_name(tag_to_build)}"
        ) from None


def _compose(text: str) -> tuple[_Node | None, list[tuple[_Node, int, int]]]:
    """Events -> one document's node tree (aliases shared), without recursion.

    Returns the root (None for an empty document) and every alias use (target, line, col)."""
    anchors: dict[str, _Node] = {}
    open_nodes: list[_Node] = []  # the path from the root to the node being composed
    open_paths: list[Path_] = []  # their key paths
    open_ids: set[int] = set()
    pending_key: list[_Node | None] = []  # per open mapping: its key awaiting a value
    aliases: list[tuple[_Node, int, int]] = []
    root: _Node | None = None
    documents = 0
    last = (1, 1)

    def attach(node: _Node) -> None:
        nonlocal root
        if not open_nodes:
            root = node
            return
        parent = open_nodes[-1]
        if parent.kind == "seq":
            parent.items.append(node)
            return
        key = pending_key[-1]
        if key is None:
            pending_key[-1] = node
            return
        pending_key[-1] = None
        _add_entry(parent, key, node, open_paths[-1])

    def child_path() -> Path_:
        if not open_nodes:
            return ()
        parent = open_nodes[-1]
        if parent.kind == "seq":
            return (*open_paths[-1], len(parent.items))
        key = pending_key[-1]
        return (*open_paths[-1], key.text if key is not None else "?")

    try:
        for event in _yaml.parse(text):
            mark = event.start_mark
            line, col = mark.line + 1, mark.column + 1
            last = (line, col)
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise YamlProblem(
                        line, col, "a scenario file holds one YAML document; a second starts here"
                    )
            elif isinstance(event, ScalarEvent):
                node = _Node("scalar", line, col, text=event.value)
                if _is_merge_key(event) and _expecting_key(open_nodes, pending_key):
                    node.kind = "merge"
                else:
                    node.value = _scalar_value(event, line, col)
                    node.tagged = event.tag not in (None, "!", f"{_CORE}str")
                _anchor(anchors, event, node)
                attach(node)
            elif isinstance(event, MappingStartEvent | SequenceStartEvent):
                is_map = isinstance(event, MappingStartEvent)
                if event.tag is not None and event.tag not in (_MAP_TAGS if is_map else _SEQ_TAGS):
                    raise YamlProblem(
                        line,
                        col,
                        f"unsupported tag {short_repr(tag_name(event.tag))}: "
                        "a scenario is plain YAML "
                        "(mappings, lists, strings, numbers, true/false, null)",
                    )
                if len(open_nodes) >= MAX_DEPTH:
                    raise YamlProblem(
                        line, col, f"nested more than {MAX_DEPTH} levels deep (scenarios need ~6)"
                    )
                node = _Node("map" if is_map else "seq", line, col)
                _anchor(anchors, event, node)
                path = child_path()
                attach(node)
                open_nodes.append(node)
                open_paths.append(path)
                open_ids.add(id(node))
                pending_key.append(None)
            elif isinstance(event, MappingEndEvent | SequenceEndEvent):
                node = open_nodes.pop()
                open_paths.pop()
                open_ids.discard(id(node))
                pending_key.pop()
            elif isinstance(event, AliasEvent):
                target = anchors.get(event.anchor)
                if target is None:
                    raise YamlProblem(
                        line, col, f"undefined alias *{short_repr(event.anchor)[1:-1]}"
                    )
                if id(target) in open_ids:
                    raise YamlProblem(
                        line, col, f"alias *{event.anchor} is inside its own anchor (recursive)"
                    )
                aliases.append((target, line, col))
                attach(target)
            elif isinstance(event, StreamEndEvent):
                break
    except YamlProblem:
        raise
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else last
        problem = e.problem or e.context or "invalid YAML"
        raise YamlProblem(line, col, f"YAML syntax error: {problem}", syntax=True) from None
    except YAMLError as e:
        raise YamlProblem(*last, f"YAML error: {e}", syntax=True) from None
    except RecursionError:  # pragma: no cover - the parser is iterative; belt and braces
        raise YamlProblem(*last, "YAML too deeply nested") from None
    return root, aliases


def _is_merge_key(event: ScalarEvent) -> bool:
    if event.value != "<<":
        return False
    if event.tag == f"{_CORE}merge":
        return True
    return event.tag is None and event.implicit[0]


def _expecting_key(open_nodes: list[_Node], pending_key: list[_Node | None]) -> bool:
    return bool(open_nodes) and open_nodes[-1].kind == "map" and pending_key[-1] is None


def _anchor(anchors: dict[str, _Node], event: Event, node: _Node) -> None:
    anchor = getattr(event, "anchor", None)
    if anchor is not None:
        anchors[anchor] = node


def _add_entry(mapping: _Node, key: _Node, value: _Node, path: Path_) -> None:
    """One `key: value` of a mapping: keys are plain names, each written once."""
    if key.kind == "merge":
        mapping.merges.append(value)  # checked and applied once the document is read
        return
    if key.kind != "scalar":
        what = "list" if key.kind == "seq" else "mapping"
        raise YamlProblem(key.line, key.col, f"a key must be a plain name, not a {what}")
    if key.tagged:
        raise YamlProblem(key.line, key.col, "a key must be a plain name, not a tagged value")
    name = key.text
    first = mapping.seen.get(name)
    if first is not None:
        raise YamlProblem(
            key.line, key.col, f"duplicate key {name!r} (first at line {first})", (*path, name)
        )
    mapping.seen[name] = key.line
    mapping.items.append((key, value))


# ---------------------------------------------------------------- sizes and conversion


def _expand(root: _Node) -> int:
    """Apply merge keys and size the document once every alias is expanded.

    An iterative post-order walk: each node is entered once however many aliases point at it,
    and a mapping is finished after the mappings it merges. Merged entries come first (the
    first source wins), then the mapping's own keys, which override merged ones."""
    stack: list[tuple[_Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            total = 1
            if node.kind == "seq":
                total += sum(child.size for child in node.items)
            elif node.kind == "map":
                node.flat = _flatten(node)
                total += sum(1 + v.size for _, v in node.flat)
            node.size = min(total, 10 * MAX_EXPANDED_VALUES)
            continue
        if node.size != -1:
            continue
        node.size = -2  # entered
        stack.append((node, True))
        if node.kind == "seq":
            stack.extend((child, False) for child in node.items)
        elif node.kind == "map":
            stack.extend((v, False) for _, v in node.items)
            stack.extend((m, False) for m in node.merges)
    return root.size


def _flatten(node: _Node) -> list[tuple[_Node, _Node]]:
    if not node.merges:
        return node.items
    merged: dict[str, tuple[_Node, _Node]] = {}
    for merge in node.merges:
        sources = merge.items if merge.kind == "seq" else [merge]
        for source in sources:
            if source.kind != "map":
                raise YamlProblem(
                    source.line,
                    source.col,
                    "a merge key '<<' takes a mapping or a list of mappings (e.g. <<: *defaults)",
                )
    for merge in node.merges:
        for key, value in (
            entry
            for source in (merge.items if merge.kind == "seq" else [merge])
            for entry in source.flat
        ):
            if key.text not in node.seen and key.text not in merged:
                merged[key.text] = (key, value)
    return [*merged.values(), *node.items]


def _plain(
    node: _Node, path: Path_, keys: dict[Path_, Located], values: dict[Path_, Located]
) -> Any:
    """Node tree -> plain Python, recording positions by key path (depth <= MAX_DEPTH)."""
    if node.kind == "map":
        out: dict[str, Any] = {}
        for key, value in node.flat:
            sub = (*path, key.text)
            keys[sub] = Located(key.line, key.col)
            values[sub] = Located(value.line, value.col)
            out[key.text] = _plain(value, sub, keys, values)
        return out
    if node.kind == "seq":
        items = []
        for i, item in enumerate(node.items):
            values[(*path, i)] = Located(item.line, item.col)
            items.append(_plain(item, (*path, i), keys, values))
        return items
    return node.value


def read_yaml(
    text: str,
) -> tuple[Any, dict[Path_, Located], dict[Path_, Located], Located | None]:
    """Plain data of one YAML document, key and value positions by path, and the root's position
    (None and an empty document when there is nothing but comments or `---`).

    Raises YamlProblem for anything the format refuses (see the module docstring)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    problem = find_control_character(text)
    if problem is not None:
        raise problem
    root, aliases = _compose(text)
    keys: dict[Path_, Located] = {}
    values: dict[Path_, Located] = {}
    if root is None:
        return None, keys, values, None
    if _expand(root) > MAX_EXPANDED_VALUES:
        if not aliases:
            raise YamlProblem(
                root.line, root.col, f"more than {MAX_EXPANDED_VALUES:,} values in one file"
            )
        target, line, col = max(aliases, key=lambda a: a[0].size)
        raise YamlProblem(
            line,
            col,
            f"aliases expand this file to more than {MAX_EXPANDED_VALUES:,} values "
            f"(this one alone to {'more than ' if target.size >= 10 * MAX_EXPANDED_VALUES else ''}"
            f"{target.size:,}); write the values out or use fewer aliases",
        )
    return _plain(root, (), keys, values), keys, values, Located(root.line, root.col)
