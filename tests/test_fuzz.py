"""Fuzzing the promise about bad input (issue 7): whatever the file, `kafka-sim` answers with exit
code 0, 1 or 2 (one located line), never 3 (a traceback) and never a hang.

Inputs are derived from the shipped scenarios, two ways: raw bytes mutated (bytes inserted,
deleted, replaced, repeated, cut: encodings, control characters, broken YAML) and YAML trees
mutated (a value replaced by another type or an extreme number, keys dropped or added, anchors
and tags), then written out. Every input is validated in-process under a time limit of
`LIMIT_S` seconds; a few tree mutants that validate are also run, shortened, through the CLI.

CI runs a deterministic profile (the same examples every time, well under a minute);
`FUZZ_EXAMPLES=2000 HYPOTHESIS_EXPLORE=1 pytest tests/test_fuzz.py` explores new ones.
"""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from sim.cli import main
from sim.experiment.sizing import estimate
from sim.scenario import ScenarioError, load_scenario
from sim.scenario.yaml_reader import read_yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "scenarios").glob("*.yaml"))
TEXTS = [p.read_bytes() for p in SOURCES]
TREES = [read_yaml(t.decode())[0] for t in TEXTS]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
RUN_EXAMPLES = max(3, EXAMPLES // 25)
LIMIT_S = 10.0
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("HYPOTHESIS_EXPLORE"),
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # capsys is read out before each example
    ],
)


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expired(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def validate(path: Path, capsys: pytest.CaptureFixture[str]) -> int:
    capsys.readouterr()
    with time_limit(LIMIT_S):
        code = main(["validate", str(path)])
    captured = capsys.readouterr()
    assert code in (0, 2), captured.err
    assert "Traceback" not in captured.err
    if code == 2:
        lines = captured.err.splitlines()
        assert len(lines) == 1, captured.err
        assert lines[0].startswith(f"{path}:"), lines[0]
        assert len(lines[0]) < 800
    return code


# ---------------------------------------------------------------- raw bytes

NASTY = [
    b"\x00",
    b"\xff",
    b"\xfe\xff",
    b"\x01",
    b"&a ",
    b"*a",
    b"<<: ",
    b"!!python/name:x ",
    b"!!omap ",
    b"? ",
    b"[",
    b"{",
    b"---\n",
    b"\t",
    b"\r",
    b"\xc3",
    b"'",
    b'"',
    b"#",
    b"%YAML 1.1\n",
    b"\xef\xbb\xbf",
    b"!!int ",
    b"- ",
    b": ",
    b"\n",
    b"9" * 30,
]


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(TEXTS)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "repeat", "cut"]))
        if kind == "insert":
            data[at:at] = draw(st.one_of(st.sampled_from(NASTY), st.binary(max_size=8)))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 60))] * draw(st.integers(2, 50))
        else:
            del data[at:]
    return bytes(data)


@FUZZ
@given(data=mutated_bytes())
def test_mutated_bytes_exit_0_or_2(
    data: bytes, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "mutant.yaml"
    path.write_bytes(data)
    validate(path, capsys)


# ---------------------------------------------------------------- YAML trees

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 2**63, 2**31, 10**12]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "1e9/s",
            "1e9s",
            "-5ms",
            "0",
            "leader(X-0)",
            "others",
            "..",
            "/tmp/x",
            "broker-99",
            "nan",
            "1k/s",
            "16KiB",
            "*",
            "a" * 300,
        ]
    ),
    st.lists(st.integers(-3, 5), max_size=4),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
)


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += _paths(v, (*prefix, i))
    return out


def _copy(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _copy(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_copy(v) for v in tree]
    return tree


@st.composite
def mutated_trees(draw: st.DrawFn) -> Any:
    tree = _copy(draw(st.sampled_from(TREES)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(tree)[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = tree
        for part in path[:-1]:
            parent = parent[part]
        kind = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if kind == "replace":
            parent[path[-1]] = draw(ODD_VALUES)
        elif kind == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(ODD_VALUES)
        else:
            parent.append(draw(ODD_VALUES))
    return tree


def dump(tree: Any) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = None
    buffer = io.StringIO()
    yaml.dump(tree, buffer)
    return buffer.getvalue()


@FUZZ
@given(tree=mutated_trees())
def test_mutated_yaml_trees_exit_0_or_2(
    tree: Any, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "mutant.yaml"
    path.write_text(dump(tree), encoding="utf-8")
    validate(path, capsys)


@st.composite
def mild_mutants(draw: st.DrawFn) -> Any:
    """One scalar of a shipped scenario changed to a plausible value: most still validate."""
    tree = _copy(draw(st.sampled_from(TREES)))
    leaves = [p for p in _paths(tree)[1:] if not isinstance(_get(tree, p), dict | list)]
    path = draw(st.sampled_from(leaves))
    old = _get(tree, path)
    if isinstance(old, bool):
        new: Any = not old
    elif isinstance(old, int):
        new = draw(st.sampled_from([0, 1, 2, 3, -1, old + 1, old * 2]))
    elif isinstance(old, float):
        new = draw(st.sampled_from([0.0, 0.5, 1.0, old * 2]))
    else:
        new = draw(
            st.sampled_from(
                [
                    "1ms",
                    "0s",
                    "200/s",
                    "all",
                    "1",
                    "earliest",
                    "none",
                    "kraft",
                    "zookeeper",
                    "broker-0",
                    "leader(T-0)",
                    "auto",
                    "16KiB",
                    old,
                ]
            )
        )
    _get(tree, path[:-1])[path[-1]] = new
    return tree


def _get(tree: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        tree = tree[part]
    return tree


@settings(FUZZ, max_examples=RUN_EXAMPLES)
@given(tree=mild_mutants())
def test_mutants_that_validate_run_with_exit_0_1_or_2(
    tree: Any, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Full runs, shortened (1.5 s of load): a valid mutant runs, or is refused with exit 2
    (sizes, --out); it never crashes."""
    folder = tmp_path_factory.mktemp("fuzz-run")
    path = folder / "mutant.yaml"
    path.write_text(dump(tree), encoding="utf-8")
    short = ["duration=1500ms", "drain=500ms"]
    try:
        scenario = load_scenario(path, short)
    except ScenarioError:
        assume(False)  # the loader's side is the two tests above
        return
    assume(estimate(scenario).wall_seconds < 5)  # long runs: the sizes check is tested apart
    capsys.readouterr()
    with time_limit(120):
        code = main(
            [
                "run",
                str(path),
                "--set",
                short[0],
                "--set",
                short[1],
                "--out",
                str(folder / "out"),
                "--quiet",
            ]
        )
    captured = capsys.readouterr()
    assert code in (0, 1, 2), captured.err
    assert "Traceback" not in captured.err
