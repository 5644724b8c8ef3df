"""Score one submission with a compiled year: evaluate the contract's names into a report."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from mips_rules.dsl.compiler import Evaluation
from mips_rules.dsl.errors import Diagnostic, EvaluationError, InputError
from mips_rules.dsl.limits import MAX_REPORT_ITEMS
from mips_rules.dsl.values import EvalFailure, to_plain_bounded, to_value, type_name
from mips_rules.engine.inputs.context import checked_context
from mips_rules.engine.inputs.submission import Submission
from mips_rules.engine.years.loader import Year
from mips_rules.engine.years.report_declaration import ReportField

if TYPE_CHECKING:
    from mips_rules.engine.inputs.builtin_context import Context


@dataclass
class Scored:
    """A report and the evaluation behind it (for explanations)."""

    report: dict[str, Any]
    evaluation: Evaluation


def evaluate(year: Year, submission: Submission | None, context: Context, *, trace: bool = False,
             fast: bool | None = None, max_steps: int | None = None) -> Evaluation:
    """An evaluation of the year's rules for one submission. `fast=False` runs the closure interpreter
    (the differential tests compare both paths); `max_steps` overrides the step budget (`dsl/limits.py`)."""
    inputs = {
        "submission": to_value(submission.to_record()) if submission is not None else to_value(_empty_submission()),
        "context": to_value(_declared(year, context, submission).to_record()),
    }
    return year.rules.evaluate(inputs, trace=trace, fast=fast, max_steps=max_steps)


def _rule_error(year: Year, name: str, message: str) -> EvaluationError:
    """A contract definition whose value the report cannot use: a rule error at the definition."""
    d = year.definitions.get(name)
    return EvaluationError(Diagnostic(f"`{name}` {message}", d.loc if d is not None else None))


def _names(year: Year, name: str, value: Any, what: str) -> Any:
    if value is None and name == "rejections":
        return ()
    if not isinstance(value, (tuple, frozenset)) or not all(isinstance(c, str) for c in value):
        got = type_name(value) if not isinstance(value, (tuple, frozenset)) else "a list holding other values"
        raise _rule_error(year, name, f"must be a list of {what} (texts), got {got}")
    return value


@functools.lru_cache(maxsize=1)
def empty_submission_value() -> Any:
    """The rules' `submission` input when there is none (one value, shared: rule values are never changed)."""
    return to_value(_empty_submission())


def _empty_submission() -> dict[str, Any]:
    return {"entityType": None, "taxpayerIdentificationNumber": None, "nationalProviderIdentifier": None,
            "entityId": None, "programName": None, "performanceYear": None, "measurementSets": []}


def default_context() -> Any:
    """The built-in context's defaults (its model is built on first use)."""
    from mips_rules.engine.inputs.builtin_context import Context

    return Context()


def _declared(year: Year, context: Any, submission: Submission | None) -> Any:
    """The context as the year declares it (a context checked by another schema is checked again)."""
    schema = getattr(year, "context_schema", None)
    if schema is not None and getattr(context, "_schema", None) is not schema:
        return checked_context(year, context, submission)
    return context if context is not None else default_context()


def build_report(year: Year, ev: Evaluation, context: Context, submission: Submission | None = None, *,
                 detail: bool = True) -> dict[str, Any]:
    """The report the year declares (`report.yaml`): each field the value of a named definition,
    an input, or a record of such fields.

    `detail=False` leaves out the fields marked `detail` (population runs need only the scores,
    weights and adjustment, and skip computing the reasons and measure detail)."""
    with ev.session():
        refuse_rejected(year, ev)
        inputs = {"context": context.to_record(), "submission": submission}
        report = {"performance_year": year.performance_year, "rules_fingerprint": year.fingerprint,
                  **_fields(year, year.report_layout.fields, ev, inputs, detail, None)}
    try:
        return to_plain_bounded(report, MAX_REPORT_ITEMS)
    except EvalFailure as exc:
        raise EvaluationError(Diagnostic(f"the report cannot be built: {exc}")) from None


def refuse_rejected(year: Year, ev: Evaluation) -> None:
    """The inputs the year cannot score at all (`rejections`): an InputError naming each reason."""
    rejections = _names(year, "rejections", ev.value("rejections"), "reasons")
    if rejections:
        raise InputError([Diagnostic(f"cannot be scored: {r}") for r in rejections])


def report_values(year: Year, submission: Submission | None, context: Context | None,
                  paths: list[str]) -> tuple[dict[str, Any], Evaluation]:
    """The values at some report paths (`final_score`, `payment_adjustment.percent` …), each the same
    as in the report, computing only the definitions behind them (population tools need a few
    figures of each record, not its whole report). A path the layout cannot map to one definition
    builds the report."""
    from mips_rules.dsl.values import to_plain
    from mips_rules.engine.scoring.display import at

    context, ev = _prepared(year, submission, context)
    out: dict[str, Any] = {}
    report: dict[str, Any] | None = None
    with ev.session():
        refuse_rejected(year, ev)
        for path in paths:
            rule = year.report_layout.rule_at(path)
            if rule is not None:
                out[path] = to_plain(ev.value(rule))
                continue
            if report is None:
                report = build_report(year, ev, context, submission, detail=False)
            out[path] = at(report, path)
    return out, ev


def _prepared(year: Year, submission: Submission | None, context: Context | None,
              **options: Any) -> tuple[Any, Evaluation]:
    """The context as the year declares it, the submission's measures checked against the year's
    inventory, and an evaluation of the rules for both (what every way of scoring starts with)."""
    from mips_rules.engine.scoring.plain_inputs import plain_context

    context = plain_context(year, context, submission) or checked_context(year, context, submission)
    if submission is not None:
        check_inventory(year, submission)
    return context, evaluate(year, submission, context, **options)


def _fields(year: Year, fields: tuple[ReportField, ...], ev: Evaluation, inputs: dict[str, Any], detail: bool,
            key: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        if f.detail and not detail:
            continue
        if f.each is not None:
            names = _names(year, f.each, ev.value(f.each), "names")
            out[f.name] = {c: _fields(year, f.fields, ev, inputs, detail, c) for c in names}
            continue
        if f.fields:
            value: Any = _fields(year, f.fields, ev, inputs, detail, key)
        elif f.rule is not None:
            value = ev.value(f.rule) if key is None else ev.call(f.rule, (key,))
        else:
            value = _input(inputs, f.source_path or ())
        if value is None and f.optional:
            continue
        out[f.name] = value
    return out


def _input(inputs: dict[str, Any], path: tuple[str, ...]) -> Any:
    """An input's value at a path (`context.entity.type`, `submission.entityId`); none when absent."""
    value = inputs.get(path[0])
    for part in path[1:]:
        if value is None:
            return None
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
    return value


def check_inventory(year: Year, submission: Submission) -> None:
    """A measure or activity ID unknown to the year's inventory is an input error — where the
    inventory is complete (imported from CMS's files, or marked `complete` in the rules)."""
    sets = ((ms.category, [m.measureId for m in ms.measurements]) for ms in submission.measurementSets)
    problems = [Diagnostic(f"measurementSets[{i}].measurements[{j}].measureId: unknown {category} "
                           f"measure {measure!r} for {year.performance_year}")
                for i, j, category, measure in unknown_measures(year, sets)]
    if problems:
        raise InputError(problems)


def unknown_measures(year: Year, sets: Any) -> Iterator[tuple[int, int, Any, Any]]:
    """(set index, measure index, category, ID) of each measure a complete inventory of the year
    lacks; `sets` gives each measurement set's category and measure IDs."""
    inventories = year.data.items.get("measures", {})
    for i, (category, measures) in enumerate(sets):
        item = inventories.get(category)
        if item is None or not item.complete or item.kind != "table":
            continue
        for j, measure in enumerate(measures):
            if item.value.get(measure) is None:
                yield i, j, category, measure


def score(year: Year, submission: Submission | None, context: Context | None = None, *,
          trace: bool = False, detail: bool = True, fast: bool | None = None, max_steps: int | None = None) -> Scored:
    context, ev = _prepared(year, submission, context, trace=trace, fast=fast, max_steps=max_steps)
    return Scored(build_report(year, ev, context, submission, detail=detail), ev)


def year_categories(year: Year) -> tuple[str, ...]:
    """The names the report's `each` field lists (the categories), in report order."""
    from mips_rules.dsl.values import to_plain

    each = year.report_layout.each_field()
    if each is None:
        return ()
    return tuple(str(c) for c in to_plain(evaluate(year, None, default_context()).value(each.each)))


def scores_context(year: Year, value: Any) -> Any:
    """A context that gives every category the score `value` (the year's `figures.category_scores_input`):
    what plot and impact score to read the rules' curve."""
    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.inputs.context import parse_context

    scores_input = year.report_layout.figures.get("category_scores_input")
    if scores_input is None:
        raise RulesError(Diagnostic(f"the {year.performance_year} report declares no `figures.category_scores_input` "
                                    "(the context field that takes category scores)"))
    return parse_context({scores_input: {c: value for c in year_categories(year)},
                          "performance_year": year.performance_year}, year=year)
