"""Errors raised while reading a scenario.

A scenario error is always ONE line, `file:line:col: key.path: message`, pointing at the key (or
its value) that is wrong, like a compiler diagnostic; lines and columns are 1-based. Overrides
from the command line report `--set:N:col`, N being the 1-based position of the `--set` option.

`PathValueError` is the internal carrier: validators raise it (it is a ValueError, so pydantic
wraps it) with a key path relative to the value being validated, and the loader turns the full
path into a file position.

Values quoted in messages are cut to a readable length (`short_repr`), and a message longer than
`MAX_MESSAGE` characters is cut in the middle, so one error is always one readable line.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["PathValueError", "ScenarioError", "did_you_mean", "format_path", "short_repr"]

PathPart = str | int
MAX_MESSAGE = 300

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4
_REPR.maxlevel = 2


def short_repr(value: Any) -> str:
    """repr() cut to a readable length: long strings as 'abc...xyz', long lists as [1, 2, ...]."""
    return _REPR.repr(value)


def _printable(text: str) -> str:
    """Control and line-separator characters escaped (\\x1e, \\u2028): one line, whatever
    a key or file name holds."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[: limit - 60]} ... {text[-50:]}"


def format_path(path: Sequence[PathPart]) -> str:
    """('topics', 0, 'config', 'retention.ms') -> 'topics.0.config.retention.ms'."""
    return ".".join(str(p) for p in path)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """ "; did you mean 'x'?" for the closest choice (difflib), or '' when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {matches[0]!r}?" if matches else ""


class ScenarioError(Exception):
    """A one-line, located error in a scenario file or a --set override."""

    def __init__(self, file: str, line: int, col: int, path: Sequence[PathPart], message: str):
        self.file = file
        self.line = line
        self.col = col
        self.path: tuple[PathPart, ...] = tuple(path)
        self.message = _cut(_printable(" ".join(message.split())), MAX_MESSAGE)
        where = f"{_cut(_printable(file), 200)}:{line}:{col}: "
        key = f"{_cut(_printable(format_path(self.path)), 200)}: " if self.path else ""
        super().__init__(f"{where}{key}{self.message}")


class PathValueError(ValueError):
    """A validation failure at `subpath` below the value being validated.

    `at_key` asks the loader to point at the key itself (unknown or misplaced names) instead of
    the value.
    """

    def __init__(self, subpath: Sequence[PathPart], message: str, *, at_key: bool = False):
        super().__init__(message)
        self.subpath: tuple[PathPart, ...] = tuple(subpath)
        self.message = message
        self.at_key = at_key
