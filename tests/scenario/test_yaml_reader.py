"""The safe YAML reader: plain data with positions, the fast path for strings, both parsers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.nodes import ScalarNode

from sim.scenario import yaml_reader
from sim.scenario.yaml_reader import Located, YamlProblem, read_yaml

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=12))
def test_fast_string_path_agrees_with_the_yaml_resolver(text: str) -> None:
    """Text taken as a string without asking the resolver is one the resolver calls a string."""
    if yaml_reader._SURELY_STR.match(text) and text not in yaml_reader._WORDS:
        resolved = YAML(typ="safe", pure=True).resolver.resolve(ScalarNode, text, (True, False))
        assert str(resolved) == "tag:yaml.org,2002:str", text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a: 1e3", 1000.0),
        ("a: yes", "yes"),
        ("a: 0x1F", 31),
        ("a: .inf", float("inf")),
        ("a: ~", None),
        ("a: 2024-01-01", "2024-01-01"),
        ("a: '3'", "3"),
        ("a: !!str 3", "3"),
        ("a: !!float 3", 3.0),
        ("a: ! 3", "3"),
        ("a: =", "="),
        ("a: <<", "<<"),
        ("a: True", True),
    ],
)
def test_scalars_resolve_by_yaml_1_2(text: str, value: object) -> None:
    assert read_yaml(text)[0] == {"a": value}


def test_positions_of_keys_and_values() -> None:
    data, keys, values, root = read_yaml("a:\n  - {b: 1}\n  - &x [2]\nc: *x\n")
    assert data == {"a": [{"b": 1}, [2]], "c": [2]}
    assert keys[("a", 0, "b")] == Located(2, 6) and values[("a", 0, "b")] == Located(2, 9)
    assert values[("a", 1)] == Located(3, 5)
    assert values[("c",)] == Located(3, 5)  # an alias: where its anchor was written
    assert values[("c", 0)] == Located(3, 9)
    assert root == Located(1, 1)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_libyaml_and_the_pure_python_parser_read_the_same(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = path.read_text(encoding="utf-8")
    fast = read_yaml(text)
    monkeypatch.setattr(yaml_reader, "_yaml", YAML(typ="safe", pure=True))
    assert read_yaml(text) == fast


def test_problems_are_located() -> None:
    with pytest.raises(YamlProblem) as info:
        read_yaml("a: 1\nb:\n  c: !!binary aGk=\n")
    assert (info.value.line, info.value.col) == (3, 6)
    assert info.value.message.startswith("unsupported tag '!!binary'")
    assert not info.value.syntax
    with pytest.raises(YamlProblem) as info:
        read_yaml("a: [1\n")
    assert info.value.syntax
