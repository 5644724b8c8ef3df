"""Rule tests analysts write: YAML cases next to the rules they test.

    cases:
      - name: "004 worked example: 13.32 of 20 points, weighted 30% → 19.98"
        source: "004_23d77edc1962e2e1.txt, EMA screenshot"
        context: {performance_year: YEAR, category_scores: {quality: 66.6, cost: 50, ia: 100, pi: 100}}
        submission: ../../../examples/YEAR-full.json     # a path (relative to this file) or inline QPP JSON
        expect:
          categories.quality.points: 19.98
          categories.quality.measures[001].points: 7.5     # list items by position or by measure_id
          categories.quality.measures[236@registry].counted: false   # … and collection type
        tolerance: 0.005                                   # optional, for numbers

A case may instead expect `error: "text the error must contain"`.

A file in `<year folder>/tests/` runs against that folder — its data and rules, wherever the
folder is (`rules/2024`, a `rulesctl new-year` copy, a draft `./draft/2025`) — and a case whose
inputs name another year (the submission's `performanceYear`, the context's `performance_year`,
the case's `year`) fails with both years named. Cases that give no year take the folder's.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from mips_rules.dsl.errors import DataError, Diagnostic, RulesError
from mips_rules.engine.inputs.safe_yaml import load_yaml


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    source: str | None = None
    submission: str | dict[str, Any] | None = None
    context: str | dict[str, Any] | None = None
    year: int | None = None
    expect: dict[str, Any] = {}
    error: str | None = None
    tolerance: Decimal | None = None


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cases: list[Case]


@dataclass
class Check:
    path: str
    expected: Any
    actual: Any
    ok: bool


@dataclass
class CaseResult:
    file: str
    name: str
    checks: list[Check] = field(default_factory=list)
    error: str | None = None  # an unexpected failure to score

    @property
    def ok(self) -> bool:
        return self.error is None and all(c.ok for c in self.checks)


def load_cases(path: Path) -> list[Case]:
    doc = load_yaml(path)
    try:
        return CaseFile.model_validate(doc.data).cases
    except ValidationError as exc:
        diags = [Diagnostic(f"rule test: {'.'.join(map(str, e['loc']))}: {e['msg']}", doc.where(e["loc"]))
                 for e in exc.errors()]
        raise DataError(diags) from None


_STEP = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")


def lookup(report: Any, path: str) -> Any:
    """`categories.quality.measures[001].points`: keys, list positions, or list items by their id."""
    value = report
    for name, index in _STEP.findall(path):
        key = name or index
        if isinstance(value, dict):
            if key not in value:
                raise KeyError(path)
            value = value[key]
        elif isinstance(value, list):
            if index and index.isdigit() and not any(isinstance(v, dict) and "measure_id" in v for v in value):
                value = value[int(index)]
            else:
                # `236@registry`: the item of that ID reported through that collection type.
                ident, _, method = key.partition("@")
                matches = [v for v in value if isinstance(v, dict)
                           and ident in (v.get("measure_id"), v.get("activity_id"))
                           and (not method or v.get("submission_method") == method)]
                if not matches:
                    raise KeyError(path)
                value = matches[0]
        else:
            raise KeyError(path)
    return value


def _matches(expected: Any, actual: Any, tolerance: Decimal | None) -> bool:
    if isinstance(expected, bool) or expected is None or isinstance(actual, bool) or actual is None:
        return expected == actual
    if isinstance(expected, (int, Decimal)) and isinstance(actual, (int, Decimal)):
        return abs(Decimal(expected) - Decimal(actual)) <= (tolerance or Decimal(0))
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(_matches(e, a, tolerance) for e, a in zip(expected, actual))
    return expected == actual


def _input(value: str | dict[str, Any] | None, base: Path, loader: Any, parser: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return loader(base / value)
    return parser(value)


_YEARS: dict[tuple[Any, Any], Any] = {}


def _year(year: Any, rules: Path | None) -> Any:
    """Each year compiles once per run, however many cases use it (a folder that fails to load, too)."""
    from mips_rules.engine.years.loader import load_year

    key: tuple[Any, ...] = (year, str(rules))
    if year is None and rules is not None and Path(rules).is_dir():
        # A folder given by path: recompile when one of its files changed (drafts are edited between runs).
        key += tuple(sorted((p.name, p.stat().st_mtime_ns) for p in Path(rules).iterdir() if p.is_file()))
    if key not in _YEARS:
        try:
            _YEARS[key] = load_year(year, rules)
        except RulesError as exc:
            _YEARS[key] = exc
    loaded = _YEARS[key]
    if isinstance(loaded, RulesError):
        raise loaded
    return loaded


def year_folder_of(file: Path) -> Path | None:
    """The year folder a test file belongs to: `<year folder>/tests/<file>.yaml`, else None."""
    from mips_rules.engine.years.loader import is_year_folder

    tests = Path(os.path.abspath(file)).parent
    if tests.name == "tests" and is_year_folder(tests.parent):
        return tests.parent
    return None


def _year_mismatches(case: Case, sub: Any, ctx: Any, folder_year: int) -> list[str]:
    """Each input that names a year other than the folder's."""
    given = [("the case's `year`", case.year),
             ("the submission's performanceYear", getattr(sub, "performanceYear", None)),
             ("the context's performance_year", getattr(ctx, "performance_year", None))]
    return [f"{what} is {int(value)}" for what, value in given if value is not None and int(value) != folder_year]


def run_case(case: Case, file: Path, rules: Path | None = None) -> CaseResult:
    """Score one case. A file in `<year folder>/tests/` always runs against that folder (its data and
    rules, wherever the folder is); any year its inputs give must be that folder's. A file elsewhere
    runs against the year its inputs give, looked up under `rules`."""
    from mips_rules.engine.inputs.context import Context, ContextInput, read_context, resolve_performance_year
    from mips_rules.engine.scoring.score import score
    from mips_rules.engine.inputs.submission import load_submission, parse_submission

    result = CaseResult(str(file), case.name)
    folder = year_folder_of(file)
    loaded = None
    if folder is not None:
        try:
            loaded = _year(None, folder)
        except RulesError as exc:
            result.error = f"the rules of {folder} do not load, so the case cannot run:\n{exc.render()}"
            return result
    try:
        sub = _input(case.submission, file.parent, load_submission, parse_submission)
        ctx = _input(case.context, file.parent, read_context, ContextInput) or Context()  # the folder's year checks it
        if loaded is not None:
            mismatches = _year_mismatches(case, sub, ctx, loaded.performance_year)
            if mismatches:
                result.error = (f"case \"{case.name}\": {'; '.join(mismatches)}, but the case is in "
                                f"{folder}, whose program.performance_year is {loaded.performance_year}: a rule test "
                                f"runs against the year folder it is in; give it year {loaded.performance_year} "
                                "(or none) or move it to the other year's tests/")
                return result
            if sub is not None:
                resolve_performance_year(sub, ctx, requested=loaded.performance_year)
        else:
            year = case.year
            if sub is not None:
                year = resolve_performance_year(sub, ctx, requested=year)
            elif year is None:
                year = ctx.performance_year
            loaded = _year(year, rules)
        report = score(loaded, sub, ctx).report
    except RulesError as exc:
        if case.error is not None:
            result.checks.append(Check("error", case.error, exc.render(), case.error in exc.render()))
        else:
            result.error = exc.render()
        return result
    if case.error is not None:
        result.checks.append(Check("error", case.error, "(scored without an error)", False))
    for path, expected in case.expect.items():
        try:
            actual = lookup(report, path)
        except (KeyError, IndexError, ValueError):
            result.checks.append(Check(path, expected, "(no such value in the report)", False))
            continue
        result.checks.append(Check(path, expected, actual, _matches(expected, actual, case.tolerance)))
    return result


def test_files(target: Path) -> list[Path]:
    if target.is_file():
        return [target]
    if (target / "tests").is_dir():
        target = target / "tests"
    return sorted(target.glob("*.yaml"))


def run_files(files: list[Path], rules: Path | None = None) -> list[CaseResult]:
    results = []
    for f in files:
        try:
            cases = load_cases(f)
        except RulesError as exc:
            results.append(CaseResult(str(f), "(file)", error=exc.render()))
            continue
        results.extend(run_case(c, f, rules) for c in cases)
    return results
