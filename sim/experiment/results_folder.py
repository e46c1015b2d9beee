"""The results folder of a run: checking where it goes, writing it atomically, and checking it.

A run writes ``<out>/<scenario>/<run-id>/`` (results/README.md lists the files). The promise: a
run either leaves a complete folder where the user asked, or nothing that looks complete; and
nothing is ever written outside ``<out>``.

Where: ``check_output_location`` runs before the simulation (a file in the way, a read-only or
unwritable folder: an ``OutputError``, one line), and ``write_results`` checks again that the
scenario name and the run id are single safe path components and that the folder it renames into
place is ``<out>/<scenario>/<run-id>`` itself.

How (each step survives a kill at any point):
1. everything is written into a hidden staging folder ``.<run-id>.<random>`` beside the final
   one; its ``meta.json`` says ``"status": "incomplete"`` and lists every file with its size
   (``files``), and is written last, through a temporary file and ``os.replace``;
2. an earlier folder of the same run id gets ``"status": "replaced"`` in its meta.json, then is
   renamed away to a hidden ``.<run-id>.old.<random>``;
3. the staging folder is renamed to ``<run-id>``;
4. its ``meta.json`` is replaced (atomically) by the one with the final status (``ok`` or
   ``error``): the last write;
5. the old folder is deleted.
A kill before 4 leaves at most a folder whose status is ``incomplete`` or ``replaced``; a hidden
folder never says ``ok``. A kill may leave hidden ``.<run-id>.*`` folders behind: remains of the
interrupted write, safe to delete (they are not cleaned automatically, as another process may be
writing the same run id).

``check_complete`` (used by ``kafka-sim report`` and by loaders of results) refuses a folder
whose ``meta.json`` is missing, unreadable, not final, or whose listed files are missing or of
another size.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML

from sim.experiment.errors import IncompleteResultsError
from sim.scenario.scenario_model import name_problem

if TYPE_CHECKING:
    from sim.experiment.run import Result

__all__ = [
    "FINAL_STATUSES",
    "IncompleteResultsError",
    "OutputError",
    "check_complete",
    "check_output_location",
    "write_results",
]

FINAL_STATUSES = ("ok", "error")
INCOMPLETE = "incomplete"
REPLACED = "replaced"
RUN_ID_RE = re.compile(r"seed\d+-[0-9a-f]{10}")

# Test hook: called with the name of each step just done (see the module docstring); tests make
# it raise or kill the process to check that every step leaves a safe state.
after_step: Callable[[str], None] | None = None


class OutputError(Exception):
    """The results folder cannot be written where asked (one line, for exit code 2)."""


def _step(name: str) -> None:
    if after_step is not None:
        after_step(name)


def check_output_location(out: str | Path, scenario_name: str) -> Path:
    """Check, before simulating, that ``<out>/<scenario_name>/`` can be created and written;
    returns that folder. Raises OutputError with a one-line reason."""
    out = Path(out)
    problem = name_problem(scenario_name)
    if problem is not None:
        raise OutputError(f"scenario name: {problem}")
    if "\x00" in str(out):
        raise OutputError(f"--out {str(out)!r}: a path cannot hold a NUL character")
    target = out / scenario_name
    existing = target
    while not os.path.lexists(existing):
        if existing.parent == existing:
            break
        existing = existing.parent
    if os.path.lexists(existing) and not existing.is_dir():
        what = "is a file" if existing.is_file() else "is not a folder"
        where = "" if existing in (target, out) else f" (in the way of {target})"
        raise OutputError(f"--out {out}: {existing} {what}{where}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out}: {existing} is not writable (read-only or no permission)")
    return target


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _replace_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - some filesystems refuse opening folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_results(result: Result, out: Path) -> Path:
    """Write the results folder atomically (see the module docstring); returns its path."""
    name, run_id = result.scenario.name, result.run_id
    problem = name_problem(name)
    if problem is not None:  # the loader refuses such names; never trust a path blindly
        raise OutputError(f"scenario name: {problem}")
    if not RUN_ID_RE.fullmatch(run_id):
        raise OutputError(f"run id {run_id!r} is not seed<N>-<hash>")
    parent = Path(out) / name
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / run_id
    if final.resolve().parent != parent.resolve() or final.resolve().name != run_id:
        raise OutputError(f"{final} would not be inside {parent}")
    staging = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; results are ordinary folders
    old: Path | None = None
    old_meta: str | None = None
    try:
        _write_files(result, staging)
        _step("staging-written")
        if os.path.lexists(final):
            old_meta = _mark_replaced(final)
            old = Path(tempfile.mkdtemp(prefix=f".{run_id}.old.", dir=parent))
            os.rename(final, old / run_id)
            _step("old-moved-away")
        os.rename(staging, final)
        _fsync_dir(parent)
        _step("renamed-in")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not os.path.lexists(final) and os.path.lexists(old / run_id):
            os.rename(old / run_id, final)  # put the earlier folder back
            shutil.rmtree(old, ignore_errors=True)
        if old_meta is not None and os.path.isdir(final):
            _replace_file(final / "meta.json", old_meta)  # ...as it was
        raise
    meta = {**result.meta, "files": _manifest(final)}
    _replace_file(final / "meta.json", json.dumps(meta, indent=2, default=_json_default))
    result.meta["files"] = meta["files"]  # the Result in memory says what the folder says
    _step("meta-final")
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
        _step("old-deleted")
    return final


def _mark_replaced(folder: Path) -> str | None:
    """Give an earlier folder's meta.json the status "replaced" (so that it never says "ok" once
    hidden away); returns its former text (None when it had none)."""
    meta_path = folder / "meta.json"
    try:
        text = meta_path.read_text()
        meta = json.loads(text)
    except (OSError, ValueError):
        return None
    if isinstance(meta, dict) and folder.is_dir():
        meta["status"] = REPLACED
        _replace_file(meta_path, json.dumps(meta, indent=2))
    return text


def _write_files(result: Result, folder: Path) -> None:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    with open(folder / "config.yaml", "w") as fh:
        yaml.dump(result.scenario.effective_dict(), fh)
    (folder / "summary.json").write_text(
        json.dumps(result.summary, indent=2, sort_keys=True, default=_json_default)
    )
    verdict = result.verdict.to_dict()
    verdict["expectations"] = result.expectations
    verdict["expectations_ok"] = result.expectations_ok
    (folder / "verdict.json").write_text(json.dumps(verdict, indent=2, default=_json_default))
    tables = folder / "tables"
    tables.mkdir()
    for name in sorted(result.tables):
        result.tables[name].to_parquet(tables / f"{name}.parquet", index=False)
    # Last: meta.json, not final yet (status "incomplete"), listing every file written.
    meta = {**result.meta, "status": INCOMPLETE, "files": _manifest(folder)}
    _replace_file(folder / "meta.json", json.dumps(meta, indent=2, default=_json_default))


def _manifest(folder: Path) -> dict[str, int]:
    """Every file of the folder (but meta.json and plots/) with its size in bytes."""
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel != "meta.json" and not rel.startswith(("plots/", ".")):
            files[rel] = path.stat().st_size
    return files


def check_complete(folder: str | Path) -> dict[str, Any]:
    """The meta.json of a complete results folder; IncompleteResultsError (one line) otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise IncompleteResultsError(f"{folder}: not a results folder (no such folder)")
    meta_path = folder / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise IncompleteResultsError(f"{folder}: not a results folder (no meta.json)") from None
    except (OSError, ValueError) as e:
        raise IncompleteResultsError(f"{folder}: unreadable meta.json ({e})") from None
    if not isinstance(meta, dict):
        raise IncompleteResultsError(f"{folder}: meta.json is not a mapping")
    status = meta.get("status")
    if status not in FINAL_STATUSES:
        raise IncompleteResultsError(
            f"{folder}: incomplete results folder (status {status!r}): the run that wrote it "
            "was interrupted; run it again"
        )
    files = meta.get("files")
    if not isinstance(files, dict):
        raise IncompleteResultsError(
            f"{folder}: meta.json lists no files (written by an older version?)"
        )
    for rel, size in sorted(files.items()):
        path = folder / rel
        if not path.is_file():
            raise IncompleteResultsError(f"{folder}: incomplete results folder ({rel} is missing)")
        if path.stat().st_size != size:
            raise IncompleteResultsError(
                f"{folder}: incomplete results folder ({rel} has {path.stat().st_size} bytes, "
                f"{size} were written)"
            )
    return meta
