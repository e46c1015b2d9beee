"""Shared fixtures: repository paths, a shortened hello-kafka, and a `kafka-sim` subprocess runner.

Runs started here are short (2 s of load, 1 s of drain) so that the CLI, determinism and results
folder tests stay fast; each writes under pytest's tmp paths, never into results/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from sim.cluster.net.engine import SimEnv

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS_DIR = ROOT / "scenarios"
HELLO_KAFKA = SCENARIOS_DIR / "hello-kafka.yaml"
# --set overrides that shorten hello-kafka to a run of well under a second of wall time.
SHORT = ("duration=2s", "drain=1s")

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MPLBACKEND": "Agg", "TQDM_DISABLE": "1"})
    env.update(extra or {})
    return env


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def hello_kafka() -> Path:
    return HELLO_KAFKA


@pytest.fixture(scope="session")
def short_overrides() -> tuple[str, ...]:
    return SHORT


@pytest.fixture(scope="session")
def short_set_args() -> list[str]:
    """The SHORT overrides as command-line options: --set duration=2s --set drain=1s."""
    return [arg for override in SHORT for arg in ("--set", override)]


@pytest.fixture(scope="session")
def sim_cli() -> CliRunner:
    """Run `python -m sim ARGS` in a fresh interpreter from the repository root.

    `env` adds environment variables (e.g. PYTHONHASHSEED); the result has returncode, stdout
    and stderr as text.
    """

    def run(
        *args: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        cwd: Path = ROOT,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        argv: Sequence[str] = [sys.executable, "-m", "sim", *map(str, args)]
        return subprocess.run(
            argv, cwd=cwd, env=_env(env), capture_output=True, text=True, timeout=timeout
        )

    return run


@pytest.fixture(scope="session")
def short_run_dir(tmp_path_factory: pytest.TempPathFactory, sim_cli: CliRunner) -> Path:
    """Results folder of one shortened hello-kafka run made by the CLI in a subprocess (seed 1).

    Shared by the tests that only read a finished results folder; do not modify it.
    """
    out = tmp_path_factory.mktemp("results-shared")
    args = [arg for override in SHORT for arg in ("--set", override)]
    proc = sim_cli("run", HELLO_KAFKA, *args, "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    folders = list((out / "hello-kafka").iterdir())
    assert len(folders) == 1, folders
    return folders[0]


@pytest.fixture
def zero_phases(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every periodic timer at phase 0 (``SimEnv.zero_phases``), as if every node booted at
    exactly t = 0: for exact traces of in-process runs (not for CLI subprocesses)."""
    monkeypatch.setattr(SimEnv, "zero_phases", True)
