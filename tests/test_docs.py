"""The documentation cannot drift from the code (issue 8).

- docs/scenario-file.md documents every key of every section of the scenario file, no key that
  does not exist, each required key as required, and each literal default (a value in
  backticks) equal to the loader's; the models are walked from `Scenario`, so a new nested
  section must be documented too;
- docs/faults.md lists every fault action with exactly the keys it takes, and every selector;
- every summary key is on docs/summary-and-tables.md and in results/README.md;
- the examples of docs/python-api.md run;
- relative links in README.md and docs/*.md point to files that exist (the pages other work is
  adding, listed in docs/index.md under "see also", may be missing yet);
- the README sends users to docs/, not to files outside the repository.
"""

from __future__ import annotations

import os
import re
import typing
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytest
from pydantic import BaseModel
from ruamel.yaml import YAML

from sim.scenario import FAULT_ACTIONS, SELECTORS, SUMMARY_KEYS, Scenario
from sim.scenario.faults import _TAKES, FaultSpec
from sim.scenario.models import (
    ConsumerSpec,
    Distribution,
    KeysSpec,
    LinkSpec,
    ProducerSpec,
    RequestHandlingSpec,
    TopicSpec,
)
from sim.scenario.scenario_model import Expectation

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# Pages other work adds; docs/index.md links them under "see also" before they exist.
COMING = {"invariants.md", "consumer-groups.md"}

# The smallest valid data of each model, so that one documented key can be validated alone.
MINIMAL: dict[type[BaseModel], dict[str, Any]] = {
    LinkSpec: {"from": "*", "to": "*"},
    TopicSpec: {"name": "T"},
    ProducerSpec: {"name": "p", "topic": "T", "rate": 1},
    KeysSpec: {"count": 1},
    ConsumerSpec: {"name": "c", "topics": ["T"]},
    FaultSpec: {"action": "partition", "at": 0, "groups": [["a"], ["b"]]},
    Distribution: {"value": 1},
}
# Fields whose model default is a plain value that the loader replaces by one derived from other
# keys (documented in words): the file name, num.io.threads, the group, num.partitions and
# default.replication.factor.
FILLED_BY_THE_LOADER = {
    (Scenario, "name"),
    (RequestHandlingSpec, "io_threads"),
    (ConsumerSpec, "commit"),
    (TopicSpec, "partitions"),
    (TopicSpec, "replication_factor"),
}


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """The model inside Optional[...] / list[...], and whether it is a list."""
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if origin is list:
        inner, _ = _unwrap(args[0])
        return inner, True
    if origin is not None and len(args) == 1:
        return _unwrap(args[0])
    return tp, False


def _yaml_key(field_name: str, model: type[BaseModel]) -> str:
    info = model.model_fields[field_name]
    return info.alias or field_name


def sections() -> dict[str, type[BaseModel]]:
    """Documentation section (dotted path, `[]` for list items) -> model, from Scenario down."""
    out: dict[str, type[BaseModel]] = {"distribution": Distribution}

    def walk(model: type[BaseModel], path: str) -> None:
        out[path] = model
        for name, info in model.model_fields.items():
            inner, is_list = _unwrap(info.annotation)
            if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
                continue
            if inner in (Distribution, Expectation):
                continue
            key = _yaml_key(name, model)
            walk(inner, f"{path + '.' if path else ''}{key}{'[]' if is_list else ''}")

    walk(Scenario, "")
    return out


def documented(page: Path) -> dict[str, dict[str, str]]:
    """Section path -> {key: default cell} from the tables of a docs page."""
    out: dict[str, dict[str, str]] = {}
    section: str | None = None
    for line in page.read_text().splitlines():
        heading = re.match(r"^#{2,3} (.*)$", line)
        if heading:
            title = heading.group(1).strip()
            named = re.search(r"`([^`]+)`", title)
            if title == "Top level":
                section = ""
            elif title == "Distributions":
                section = "distribution"
            else:
                section = named.group(1) if named else None
            if section is not None:
                out.setdefault(section, {})
            continue
        row = re.match(r"^\| `([^`]+)` \|(.*)\|$", line)
        if row and section is not None:
            cells = [c.strip() for c in row.group(2).split("|")]
            if len(cells) >= 3:
                out[section][row.group(1)] = cells[1]
    return out


SCENARIO_PAGE = documented(DOCS / "scenario-file.md")


@pytest.mark.parametrize("path", sorted(sections()), ids=lambda p: p or "top-level")
def test_scenario_file_reference_documents_exactly_the_keys(path: str) -> None:
    model = sections()[path]
    keys = {
        _yaml_key(n, model) for n in model.model_fields if not (model is Scenario and n == "source")
    }
    assert path in SCENARIO_PAGE, f"docs/scenario-file.md has no section for `{path}`"
    documented_keys = set(SCENARIO_PAGE[path])
    assert documented_keys - keys == set(), f"documented in `{path}` but not a key"
    assert keys - documented_keys == set(), f"keys of `{path}` missing from docs/scenario-file.md"


def _validated(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    return model.model_validate({**MINIMAL.get(model, {}), **data})


@pytest.mark.parametrize("path", sorted(sections()), ids=lambda p: p or "top-level")
def test_scenario_file_reference_defaults_are_the_loaders(path: str) -> None:
    model = sections()[path]
    yaml = YAML(typ="safe", pure=True)
    by_key = {_yaml_key(n, model): n for n in model.model_fields}
    for key, cell in SCENARIO_PAGE.get(path, {}).items():
        name = by_key[key]
        info = model.model_fields[name]
        where = f"`{path}.{key}`" if path else f"`{key}`"
        if cell.startswith("required"):
            assert info.is_required(), f"{where} is documented as required but has a default"
            continue
        assert not info.is_required(), f"{where} is required: its default cell must say so"
        literal = re.fullmatch(r"`([^`]*)`", cell)
        if literal is None:
            # Words: a default that depends on other keys (None, a factory, or derived).
            plain = info.default is not None and info.default_factory is None
            if plain and not info.validate_default:
                assert (model, name) in FILLED_BY_THE_LOADER, (
                    f"{where} has the plain default {info.default!r}: write it in backticks"
                )
            continue
        value = yaml.load(literal.group(1))
        given = getattr(_validated(model, {key: value}), name)
        default = getattr(_validated(model, {}), name)
        assert given == default, f"{where}: documented default {cell} is {given!r}, not {default!r}"


def test_fault_actions_and_their_keys_are_documented() -> None:
    page = (DOCS / "faults.md").read_text()
    actions = page[page.index("## Actions") : page.index("## Targets")]
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| ([^|]*) \|", actions, re.M))
    assert set(rows) == set(FAULT_ACTIONS), "docs/faults.md: one row per action"
    for action, cell in rows.items():
        assert set(re.findall(r"`([a-z_]+)`", cell)) == set(_TAKES[action]), action
    for selector in (*SELECTORS, "leader(TOPIC-P)", "group-coordinator(GROUP)", "others"):
        assert f"`{selector}`" in page, selector


def test_every_summary_key_is_documented() -> None:
    guide = (DOCS / "summary-and-tables.md").read_text()
    reference = (ROOT / "results" / "README.md").read_text()
    for key in SUMMARY_KEYS:
        assert f"`{key}`" in guide, f"{key} missing from docs/summary-and-tables.md"
        assert f"`{key}`" in reference, f"{key} missing from results/README.md"


def test_python_api_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "python-api.md").read_text(), re.S)
    assert len(blocks) >= 4
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, "docs/python-api.md", "exec"), namespace)
    plt.close("all")
    assert namespace["again"].summary == namespace["done"].summary
    assert (tmp_path / "results" / "hello-kafka").is_dir()


def _links(page: Path) -> list[str]:
    text = page.read_text()
    return [m for m in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text) if "://" not in m]


@pytest.mark.parametrize(
    "page", [ROOT / "README.md", *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name
)
def test_relative_links_point_to_files(page: Path) -> None:
    for link in _links(page):
        target = (page.parent / link).resolve()
        if target.name in COMING and target.parent == DOCS:
            continue
        assert target.exists(), f"{page.name} links to {link}, which does not exist"


def test_the_readme_links_to_docs_not_outside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "SCENARIOS.md" not in readme and "DESIGN.md" not in readme
    assert "docs/index.md" in readme and "docs/scenario-file.md" in readme
    assert "docs/python-api.md" in readme
    for name in (
        "index.md",
        "scenario-file.md",
        "faults.md",
        "summary-and-tables.md",
        "python-api.md",
        "plots-and-report.md",
        "simplifications.md",
    ):
        assert (DOCS / name).is_file(), name
    index = (DOCS / "index.md").read_text()
    for name in COMING:
        assert f"]({name})" in index, f"docs/index.md should point to {name} (see also)"
    assert os.path.isdir(ROOT / "docs")
