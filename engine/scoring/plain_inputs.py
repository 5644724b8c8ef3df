"""Population records scored straight from their JSON, without the input models.

`rulesctl batch` and `rulesctl impact` read millions of records. The usual way checks each with
the pydantic models (`parse_submission`, the year's context schema), turns the models into
records and the records into rule values — a third of a record's time. Most records are plainly
valid, and for those `fast_submission_value` and `ContextSchema.fast_record` build the same values
in plain Python. Anything they do not vouch for — an invalid field, an unusual form, a QRDA
document, a measure the inventory lacks, a performance year to settle — goes the usual way, which
says what is wrong: the same reports and the same errors either way (tests/test_plain_inputs.py).
"""

from __future__ import annotations

from typing import Any

from mips_rules.dsl.values import to_value


class _SubmissionFields:
    """A submission value read by attribute (`from_submission` asks the submission for `entityType`)."""

    __slots__ = ("_value",)

    def __init__(self, value: dict[str, Any]):
        self._value = value

    def __getattr__(self, name: str) -> Any:
        v = self._value.get(name)
        return int(v) if name == "performanceYear" and v is not None else v


class CheckedContext:
    """A context the year's schema checked in plain Python: its record, as a checked model gives it
    (`_schema` and `_raw` as a checked model keeps them: what checked it, and the data as given)."""

    __slots__ = ("_record", "_schema", "_raw")

    def __init__(self, record: dict[str, Any], schema: Any = None, raw: Any = None):
        self._record = record
        self._schema = schema
        self._raw = raw

    def to_record(self) -> dict[str, Any]:
        return self._record

    def for_submission(self, submission: Any) -> "CheckedContext":
        return self  # checked with its submission already


def plain_context(year: Any, context: Any, submission: Any) -> CheckedContext | None:
    """A context as read (`ContextInput`, or none) checked by the year's schema in plain Python with
    its submission's model; None when the usual check must run (it reports what is wrong)."""
    from mips_rules.engine.inputs.context import ContextInput

    schema = getattr(year, "context_schema", None)
    if schema is None or not hasattr(schema, "fast_record"):
        return None
    if isinstance(context, ContextInput):
        data, raw = context.data, (context.data, context.source, context.where)
    elif context is None:
        data, raw = {}, None
    else:
        return None
    record = schema.fast_record(data, submission)
    return None if record is None else CheckedContext(record, schema, raw)


def plain_inputs(year: Any, record: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
    """(the rules' `submission` value, the context's record) of a population record, or None when the
    usual way must check it. A record without `submission` has the empty one. Whatever the plain
    checks trip on (a record nested too deeply …) is the usual way's to report."""
    try:
        return _plain_inputs(year, record)
    except Exception:  # noqa: BLE001 - None is always a safe answer
        return None


def _plain_inputs(year: Any, record: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
    from mips_rules.engine.inputs.submission import fast_submission_value
    from mips_rules.engine.scoring.score import empty_submission_value

    schema = getattr(year, "context_schema", None)
    context = record.get("context")
    if schema is None or not hasattr(schema, "fast_record") or not (context is None or isinstance(context, dict)):
        return None
    if "submission" not in record:
        checked = schema.fast_record(context or {})
        return None if checked is None else (empty_submission_value(), checked)
    raw = record["submission"]
    if not isinstance(raw, dict):
        return None
    value = fast_submission_value(raw)
    if value is None or not _year_settled(year, value, context) or not _in_inventory(year, value):
        return None
    checked = schema.fast_record(context or {}, submission=_SubmissionFields(value))
    return None if checked is None else (value, checked)


def reusable(year: Any, inputs: tuple[Any, dict[str, Any]], record: dict[str, Any]) -> bool:
    """Whether another year whose context checks alike (`ContextSchema.checks_alike`) takes these
    plain inputs as they are: the same performance year, every measure in its inventory."""
    if "submission" not in record:
        return True
    return _year_settled(year, inputs[0], record.get("context")) and _in_inventory(year, inputs[0])


def _year_settled(year: Any, value: dict[str, Any], context: dict[str, Any] | None) -> bool:
    """The submission names the year scored and the context does not say otherwise (the usual way
    settles everything else: a year from the context, a contradiction)."""
    named = value.get("performanceYear")
    if named is None or int(named) != year.performance_year:
        return False
    given = (context or {}).get("performance_year")
    return given is None or (type(given) is int and given == year.performance_year)


def _in_inventory(year: Any, value: dict[str, Any]) -> bool:
    """Every measure is in the year's inventory where it is complete (`score.check_inventory`)."""
    from mips_rules.engine.scoring.score import unknown_measures

    sets = ((ms.get("category"), [m.get("measureId") for m in ms.get("measurements") or ()])
            for ms in value.get("measurementSets") or ())
    return next(unknown_measures(year, sets), None) is None


def evaluation(year: Any, submission: Any, context_record: dict[str, Any]) -> Any:
    """An evaluation of the year's rules for plain inputs (what `score.evaluate` makes from models).

    A record without a submission (a table's row) starts with the values of the definitions that
    read nothing but the submission, computed once for the year with the empty submission — the
    same values, not computed again for every row (nor charged again to its step budget)."""
    return evaluation_of_value(year, submission, to_value(context_record))


def evaluation_of_value(year: Any, submission: Any, context: Any) -> Any:
    """`evaluation` of a context already a rule value."""
    from mips_rules.engine.scoring.score import empty_submission_value

    ev = year.rules.evaluate({"submission": submission, "context": context})
    if submission is empty_submission_value():
        ev.cache.update(_without_submission(year))
    return ev


def _without_submission(year: Any) -> dict[Any, Any]:
    """The evaluation cache entries (values, and function calls by their arguments) of the definitions
    that read only the submission — or no input at all — with the empty submission. Made once per
    year; a definition that fails with the empty submission is left out (a row that needs it fails
    as it would have)."""
    rules = year.rules
    seed = getattr(rules, "_seed_without_submission", None)
    if seed is not None:
        return seed
    from mips_rules.dsl.dependencies import inputs_read
    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.scoring.score import empty_submission_value

    read = inputs_read(rules.definitions, year.namespaces(), frozenset({"submission", "context"}))
    only = {name for name, inputs in read.items() if inputs <= {"submission"}}
    ev = rules.evaluate({"submission": empty_submission_value(), "context": None})
    with ev.session():
        for name in sorted(only):
            if not rules.definitions[name].is_function:
                try:
                    ev.value(name)
                except RulesError:
                    pass
    seed = {k: v for k, v in ev.cache.items() if (k if isinstance(k, str) else k[0]) in only}
    rules._seed_without_submission = seed
    return seed


def plain_report(year: Any, submission: Any, context_record: dict[str, Any], *, detail: bool = False) -> dict[str, Any]:
    """The report of plain inputs (the same as `score.score` gives for their models)."""
    from mips_rules.engine.scoring.score import build_report

    ev = evaluation(year, submission, context_record)
    return build_report(year, ev, CheckedContext(context_record), submission, detail=detail)
