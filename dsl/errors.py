"""Errors that point at the source: file, line, column, the line itself and a caret.

Every problem found in a rule file, a YAML data file, a submission or a context
is reported through these classes, so the CLI can print it cleanly and exit
non-zero instead of showing a traceback.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable


@dataclass(frozen=True)
class Location:
    """A position in a source file (1-based line and column)."""

    file: str
    line: int
    column: int
    end_column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt name, if one is close enough."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.75)
    return matches[0] if matches else None


_MAX_QUOTED_FILE = 8 * 1024 * 1024


def _source_line(file: str, line: int, text: str | None) -> str | None:
    if text is None:
        try:
            path = Path(file)
            if path.stat().st_size > _MAX_QUOTED_FILE:  # refused for its size: not read to quote a line
                return None
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    lines = text.splitlines()
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return None


_MAX_SHOWN = 160  # characters of a source line shown with an error


@dataclass
class Diagnostic:
    """One problem, with where it is and an optional hint."""

    message: str
    location: Location | None = None
    hint: str | None = None
    severity: str = "error"
    source_text: str | None = field(default=None, repr=False)

    def render(self) -> str:
        out = [f"{self.severity}: {self.message}"]
        loc = self.location
        if loc is not None:
            out.append(f"  --> {loc}")
            src = _source_line(loc.file, loc.line, self.source_text)
            if src is not None:
                gutter = " " * len(str(loc.line))
                width = 1
                if loc.end_column is not None and loc.end_column > loc.column:
                    width = loc.end_column - loc.column
                column = loc.column
                if len(src) > _MAX_SHOWN:  # a very long line: show the part around the column
                    start = max(column - 1 - _MAX_SHOWN // 2, 0)
                    src = ("…" if start else "") + src[start: start + _MAX_SHOWN] + "…"
                    column = column - start + (1 if start else 0)
                    width = min(width, _MAX_SHOWN // 2)
                caret_pad = "".join("\t" if ch == "\t" else " " for ch in src[: max(column - 1, 0)])
                out.append(f"{gutter} |")
                out.append(f"{loc.line} | {src}")
                out.append(f"{gutter} | {caret_pad}{'^' * width}")
        if self.hint:
            out.append(f"  = {self.hint}")
        return "\n".join(out)


class RulesError(Exception):
    """One or more problems that stop a year of rules (or an input) from loading."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(diagnostics)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = diagnostics
        super().__init__(self.render())

    def render(self) -> str:
        return "\n\n".join(d.render() for d in self.diagnostics)


class RuleSyntaxError(RulesError):
    """The rule language could not be parsed."""


class RuleCheckError(RulesError):
    """A rule file parsed but does not make sense (names, arity, cycles …)."""


class DataError(RulesError):
    """A YAML data file of a year is malformed or does not fit the schema."""


class InputError(RulesError):
    """A submission or context is invalid; messages name the field path."""


class EvaluationError(RulesError):
    """A rule failed while scoring a submission (e.g. a missing table row)."""
