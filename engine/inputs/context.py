"""What CMS knows about a clinician beside the submission: the scoring context.

Special statuses, eligibility data, elections, exceptions, CMS-computed cost and
administrative-claims results come from CMS's own records, not from QPP JSON.
They arrive as a small YAML/JSON file; every key has a safe default so a missing
file means "an ordinary individual physician with nothing special".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from mips_rules.dsl.errors import DataError, Diagnostic, InputError
from mips_rules.engine.inputs.validation import (
    PerformanceYear,
    WhereFn,
    _describe,
    parse_json_text,
    problems_to_input_error,
    read_text_file,
    validation_error_to_input_error,
)

if TYPE_CHECKING:
    from mips_rules.engine.inputs.builtin_context import Context

def __getattr__(name: str) -> Any:
    """The built-in models (`Context`, `Entity` …) live in builtin_context.py, imported when first used."""
    if not name.startswith("_"):
        from mips_rules.engine.inputs import builtin_context

        if hasattr(builtin_context, name):
            return getattr(builtin_context, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _builtin() -> Any:
    from mips_rules.engine.inputs import builtin_context

    return builtin_context


def _field_names() -> Any:
    return _builtin().FIELD_NAMES


_YEARS: list[Any] = []


def _year_adapter() -> Any:
    """The performance year's validator (made once, when a context first names a year)."""
    if not _YEARS:
        _YEARS.append(TypeAdapter(PerformanceYear))
    return _YEARS[0]


def _is_builtin_context(value: Any) -> bool:
    return isinstance(value, BaseModel) and type(value) is _builtin().Context



class ContextInput:
    """A context as read, before the year that will check it is known (only its year is checked here).

    A year declares its scoring context (`context.yaml`): `checked_context` validates the data
    against the declaration of the year that scores it. Without a declaration the built-in
    `Context` (the documented default) checks it."""

    def __init__(self, data: Any, source: str = "<context>", where: WhereFn | None = None):
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InputError(Diagnostic(f"{source}: expected a mapping of context settings, got {_describe(data)}",
                                        location=where(()) if where else None))
        self.data, self.source, self.where = data, source, where
        year = data.get("performance_year")
        try:
            self.performance_year = _year_adapter().validate_python(year) if year is not None else None
        except ValidationError as exc:
            raise validation_error_to_input_error(exc, source, where, field_names=_field_names()) from None


def raw_input(context: Any) -> tuple[dict[str, Any], str, WhereFn | None]:
    """The data a context was made from, whatever checked it."""
    if isinstance(context, ContextInput):
        return context.data, context.source, context.where
    raw = getattr(context, "_raw", None)
    return raw if raw is not None else ({}, "<context>", None)


def checked_context(year: Any, context: Any, submission: Any) -> Any:
    """The context as the scoring year declares it, settled against the submission."""
    schema = getattr(year, "context_schema", None)
    if schema is not None and getattr(context, "_schema", None) is schema:
        return context.for_submission(submission)
    if schema is not None:
        data, source, where = raw_input(context)
        return schema.validate(data, source=source, where=where, submission=submission)
    if isinstance(context, ContextInput):
        context = parse_context(context.data, source=context.source, where=context.where)
    return (context if context is not None else _builtin().Context()).for_submission(submission)


def parse_context(data: Any, *, source: str = "<context>", where: WhereFn | None = None, year: Any = None) -> Any:
    """Validate a parsed context (dict, or None for an empty file) or raise InputError naming each field:
    against `year`'s declared context when given, else the built-in `Context`."""
    schema = getattr(year, "context_schema", None)
    if schema is not None and not _is_builtin_context(data):
        checked = ContextInput(data, source, where)
        return schema.validate(checked.data, source=source, where=where)
    if _is_builtin_context(data):
        context = data
    elif data is None:
        return _builtin().Context()
    elif not isinstance(data, dict):
        raise InputError(Diagnostic(f"{source}: expected a mapping of context settings, got {_describe(data)}",
                                    location=where(()) if where else None))
    else:
        try:
            context = _builtin().Context.model_validate(data)
        except ValidationError as exc:
            raise validation_error_to_input_error(exc, source, where, field_names=_field_names()) from None
    problems = context.problems()
    if problems:
        raise problems_to_input_error(source, problems, where)
    if isinstance(data, dict) and data:  # an empty context is the default, equal to Context()
        context._raw = (data, source, where)
    return context


def read_context(path: str | Path | None) -> ContextInput:
    """Read a .json/.yaml/.yml context file as it is (the scoring year checks it, `checked_context`)."""
    if path is None:
        return ContextInput({})
    p = Path(path)
    source = str(p)
    suffix = p.suffix.lower()
    if suffix == ".json":
        return ContextInput(parse_json_text(read_text_file(p, "context"), source), source)
    if suffix not in (".yaml", ".yml"):
        raise InputError(Diagnostic(f"{source}: a context file must end in .json, .yaml or .yml"))
    from mips_rules.engine.inputs.safe_yaml import load_yaml

    try:
        doc = load_yaml(p)
    except InputError:
        raise
    except DataError as exc:
        raise InputError(exc.diagnostics) from None
    return ContextInput(doc.data, source, doc.where)


def load_context(path: str | Path | None) -> Context:
    """Read a .json/.yaml/.yml context checked by the built-in model; no path at all means the defaults."""
    if path is None:
        return _builtin().Context()
    read = read_context(path)
    return parse_context(read.data, source=read.source, where=read.where)


def resolve_performance_year(
    submission: Any,
    context: Context,
    *,
    submission_source: str = "<submission>",
    context_source: str = "<context>",
    requested: int | None = None,
) -> int:
    """The year to score: from the submission or the context, which must agree.

    Also checks the submission's performance periods fall in that year, which
    parse_submission could not do when only the context knew the year.
    """
    from_submission = getattr(submission, "performanceYear", None)
    from_context = context.performance_year
    if from_submission is None and from_context is None and requested is not None:
        from_context = int(requested)
    if from_submission is None and from_context is None:
        raise InputError(Diagnostic(
            f"{submission_source}: performanceYear: missing, and the context has no performance_year either",
            hint="add performanceYear to the submission or performance_year to the context",
        ))
    if from_submission is not None and from_context is not None and from_submission != from_context:
        raise InputError(Diagnostic(
            f"{context_source}: performance_year: {from_context} differs from the submission's "
            f"performanceYear {from_submission} ({submission_source})"
        ))
    year = from_submission if from_submission is not None else from_context
    if requested is not None and int(requested) != int(year):
        raise InputError(Diagnostic(f"--year {requested} contradicts the inputs' performance year {year}"))
    submission.validate_year(year, source=submission_source)
    return year
