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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from mips_rules.dsl.errors import DataError, Diagnostic, RulesError
from mips_rules.engine.yamlsafe import load_yaml


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
    """Each year compiles once per run, however many cases use it."""
    from mips_rules.engine.year import load_year

    key = (year, str(rules))
    if key not in _YEARS:
        _YEARS[key] = load_year(year, rules, reference=False)
    return _YEARS[key]


def run_case(case: Case, file: Path, rules: Path | None = None) -> CaseResult:
    from mips_rules.engine.context import Context, load_context, parse_context, resolve_performance_year
    from mips_rules.engine.scoring import score
    from mips_rules.engine.submission import load_submission, parse_submission

    result = CaseResult(str(file), case.name)
    try:
        sub = _input(case.submission, file.parent, load_submission, parse_submission)
        ctx = _input(case.context, file.parent, load_context, parse_context) or Context()
        year = case.year
        if sub is not None:
            year = resolve_performance_year(sub, ctx, requested=year)
        elif year is None:
            year = ctx.performance_year
        report = score(_year(year, rules), sub, ctx).report
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
