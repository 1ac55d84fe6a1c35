"""One error type for bad input, so the CLI can print it in one line and exit 2.

Every problem a user can cause with an input file (YAML syntax, a wrong type, a
value out of range, a missing CSV column, an unknown key) becomes an
:class:`InputError` that names the file, the field path and what was expected.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field of one input file."""

    field: str
    message: str

    def render(self, source: str) -> str:
        where = f"{source}: {self.field}" if self.field else source
        return f"{where}: {self.message}"


@dataclass
class InputError(Exception):
    """Bad user input: one or more problems, all in the same file."""

    source: str
    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def single(cls, source: str, field_path: str, message: str) -> InputError:
        return cls(source, [Problem(field_path, message)])

    def __str__(self) -> str:
        return "\n".join(problem.render(self.source) for problem in self.problems)


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """'; did you mean 'x'?' when one of ``options`` is close to ``word``, else ''."""
    close = close_match(word, options)
    return f"; did you mean {close!r}?" if close is not None else ""


def close_match(word: str, options: Iterable[str]) -> str | None:
    """The one of ``options`` closest to ``word``, if any is close enough to suggest."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return close[0] if close else None


def require_file(path: Path, kind: str, expected: str) -> None:
    """One line, before anything is read, when an input file is a folder or missing.

    ``kind`` names the file ("scenario"), ``expected`` what it should be ("a scenario YAML file").
    """
    if path.is_dir():
        raise InputError.single(str(path), "", f"is a folder; expected {expected}")
    if not path.is_file():
        raise InputError.single(str(path), "", f"{kind} file not found")
