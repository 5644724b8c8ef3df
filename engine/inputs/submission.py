"""QPP JSON submissions, as CMS's Submissions API defines them, validated strictly.

The engine scores whatever this module lets through, so it refuses anything a
scorer could misread: strings or booleans for counts, unknown keys, impossible
counts, dates outside the performance year. Every refusal is an InputError that
names the field path the submitter wrote.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from mips_rules.dsl.errors import Diagnostic, InputError, did_you_mean
from mips_rules.dsl.values import to_value as _to_value
from mips_rules.engine.inputs.validation import (
    Count,
    Loc,
    PerformanceYear,
    Percent,
    StrictBool,
    StrictNumber,
    StrictStr,
    _describe,
    _year_range,
    model_field_names,
    parse_json_text,
    problems_to_input_error,
    read_text_file,
    to_plain,
    validation_error_to_input_error,
)

EntityType = Literal["individual", "group", "virtualGroup", "apm", "subgroup"]
Category = Literal["quality", "pi", "ia"]
SubmissionMethod = Literal[
    "electronicHealthRecord",
    "registry",
    "claims",
    "cmsWebInterface",
    "certifiedSurveyVendor",
    "administrativeClaims",
]

PROGRAMS = ("mips", "app1", "app_plus")
"""Program names scored by this engine; MVPs are named by their id instead."""

OTHER_CMS_PROGRAMS = ("cpcPlus", "pcf")
"""Other program names CMS's API accepts and real QPP JSON carries (CPC+, Primary Care First)."""

MVP_ID = re.compile(r"^[A-Z]\d{4}$")

_LEGACY_CATEGORIES = {"aci": "pi"}
"""Advancing Care Information (aci) is the old name of Promoting Interoperability."""

_ENTITIES_NEEDING_TIN = ("individual", "group", "subgroup")
_ENTITIES_NEEDING_ID = ("apm", "virtualGroup", "subgroup")

# --------------------------------------------------------------------------
# Field types
# --------------------------------------------------------------------------


def _digits(n: int, what: str) -> Callable[[str], str]:
    """A validator for identifiers of exactly ``n`` digits, kept as strings (leading zeros matter)."""
    pattern = re.compile(rf"^\d{{{n}}}$")

    def check(value: str) -> str:
        if not pattern.match(value):
            raise PydanticCustomError(
                "identifier_digits", "{what} must be exactly {n} digits, got {got}",
                {"what": what, "n": n, "got": _describe(value)},
            )
        return value

    return check


def _program_name(value: str) -> str:
    """mips, app1, app_plus or an MVP id like G0053 (plus CMS's other APM program names)."""
    if value in PROGRAMS or value in OTHER_CMS_PROGRAMS or MVP_ID.match(value):
        return value
    raise PydanticCustomError(
        "program_name",
        "programName must be mips, app1, app_plus or an MVP id like G0053, got {got}",
        {"got": _describe(value)},
    )


def _iso_date(value: Any) -> date:
    """A calendar date written YYYY-MM-DD; timestamps and other spellings are refused."""
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("date_value", "{got} is not a real date", {"got": repr(value)}) from None
    raise PydanticCustomError("date_format", "expected a date as YYYY-MM-DD, got {got}", {"got": _describe(value)})


def _legacy_category(value: Any) -> Any:
    return _LEGACY_CATEGORIES.get(value, value) if isinstance(value, str) else value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("empty_string", "must not be empty", {})
    return value


Tin = Annotated[StrictStr, AfterValidator(_digits(9, "taxpayerIdentificationNumber"))]
Npi = Annotated[StrictStr, AfterValidator(_digits(10, "nationalProviderIdentifier"))]
ProgramName = Annotated[StrictStr, AfterValidator(_program_name)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Name = Annotated[StrictStr, AfterValidator(_non_empty)]


class _Closed(BaseModel):
    """Unknown keys are errors: a misspelt key would otherwise be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Open(BaseModel):
    """Measurement values: CMS adds fields over the years, so unknown keys pass through."""

    model_config = ConfigDict(extra="allow", frozen=True)


# --------------------------------------------------------------------------
# Measurement values
# --------------------------------------------------------------------------


class SingleRate(_Open):
    """A quality measure with one performance rate (met / not met / eligible population)."""

    performanceMet: Count
    eligiblePopulation: Count
    performanceNotMet: Count | None = None
    eligiblePopulationExclusion: Count | None = None
    eligiblePopulationException: Count | None = None
    isEndToEndReported: StrictBool | None = None
    reportingRate: Percent | None = None
    performanceRate: Percent | None = None

    def counted(self) -> Decimal:
        """Every patient accounted for; may not exceed the eligible population."""
        return Decimal(
            self.performanceMet
            + (self.performanceNotMet or 0)
            + (self.eligiblePopulationExclusion or 0)
            + (self.eligiblePopulationException or 0)
        )

    def to_record(self) -> dict[str, Any]:
        """Counts as Decimal with null/missing counts as 0, known optionals as None."""
        record: dict[str, Any] = {
            "isEndToEndReported": self.isEndToEndReported,
            "performanceMet": Decimal(self.performanceMet),
            "performanceNotMet": Decimal(self.performanceNotMet or 0),
            "eligiblePopulation": Decimal(self.eligiblePopulation),
            "eligiblePopulationExclusion": Decimal(self.eligiblePopulationExclusion or 0),
            "eligiblePopulationException": Decimal(self.eligiblePopulationException or 0),
            "reportingRate": self.reportingRate,
            "performanceRate": self.performanceRate,
        }
        for key, value in (self.model_extra or {}).items():
            record.setdefault(key, to_plain(value))
        return record


class Stratum(SingleRate):
    """One stratum of a multi-performance-rate measure."""

    stratum: Name

    def to_record(self) -> dict[str, Any]:
        return {"stratum": self.stratum, **super().to_record()}


class MultiRate(_Open):
    """A quality measure reported as several strata (e.g. 30 days / overall)."""

    strata: Annotated[list[Stratum], Field(min_length=1)]
    isEndToEndReported: StrictBool | None = None
    reportingRate: Percent | None = None
    performanceRate: Percent | None = None

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "isEndToEndReported": self.isEndToEndReported,
            "reportingRate": self.reportingRate,
            "performanceRate": self.performanceRate,
            "strata": [s.to_record() for s in self.strata],
        }
        for key, value in (self.model_extra or {}).items():
            record.setdefault(key, to_plain(value))
        return record


class Proportion(_Closed):
    """A Promoting Interoperability numerator/denominator measure."""

    numerator: Count
    denominator: Count

    def to_record(self) -> dict[str, Any]:
        return {"numerator": Decimal(self.numerator), "denominator": Decimal(self.denominator)}


class NonProportion(_Open):
    """A QCDR/continuous measure: numerator and denominator need not be a ratio of counts."""

    numerator: StrictNumber
    denominator: StrictNumber
    denominatorException: Count | None = None
    numeratorExclusion: Count | None = None
    observationInstances: Count | None = None
    isEndToEndReported: StrictBool | None = None
    reportingRate: Percent | None = None
    performanceRate: StrictNumber | None = None
    """The measure's own result (a median time, a ratio …): not a percent, so not capped at 100."""

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "isEndToEndReported": self.isEndToEndReported,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "denominatorException": Decimal(self.denominatorException or 0),
            "numeratorExclusion": Decimal(self.numeratorExclusion or 0),
            "observationInstances": None if self.observationInstances is None else Decimal(self.observationInstances),
            "reportingRate": self.reportingRate,
            "performanceRate": self.performanceRate,
        }
        for key, value in (self.model_extra or {}).items():
            record.setdefault(key, to_plain(value))
        return record


_SINGLE_KEYS = frozenset(SingleRate.model_fields) - {"isEndToEndReported", "reportingRate", "performanceRate"}
_RATIO_KEYS = frozenset({"numerator", "denominator"})
_NON_PROPORTION_KEYS = frozenset({"denominatorException", "numeratorExclusion", "observationInstances"})


def _value_kind(value: Any) -> str:
    """Which kind of measurement value this is, judged by its shape (as CMS's schema does)."""
    if isinstance(value, BaseModel):
        return type(value).__name__
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, (int, float, Decimal)):
        return "Number"
    if isinstance(value, dict):
        keys = set(value)
        if "strata" in keys:
            return "MultiRate"
        if keys & _SINGLE_KEYS:
            return "SingleRate"
        if keys & (_RATIO_KEYS | _NON_PROPORTION_KEYS):
            return "Proportion" if keys <= _RATIO_KEYS else "NonProportion"
    return "Invalid"


def _invalid_value(value: Any) -> Any:
    raise PydanticCustomError(
        "measurement_value",
        "expected true/false, a number, or an object with performanceMet/eligiblePopulation, "
        "strata, or numerator/denominator; got {got}",
        {"got": _describe(value)},
    )


MeasurementValue = Annotated[
    Union[
        Annotated[StrictBool, Tag("Bool")],
        Annotated[StrictNumber, Tag("Number")],
        Annotated[SingleRate, Tag("SingleRate")],
        Annotated[MultiRate, Tag("MultiRate")],
        Annotated[Proportion, Tag("Proportion")],
        Annotated[NonProportion, Tag("NonProportion")],
        Annotated[Any, BeforeValidator(_invalid_value), Tag("Invalid")],
    ],
    Discriminator(_value_kind),
]


class Measurement(_Closed):
    """One measure, activity or PI objective and its reported value."""

    measureId: Name
    value: MeasurementValue

    def to_record(self) -> dict[str, Any]:
        value = self.value
        plain = value.to_record() if isinstance(value, BaseModel) else to_plain(value)
        return {"measureId": self.measureId, "value": plain}


class MeasurementSet(_Closed):
    """The measurements of one category, submitted one way for one period."""

    category: Annotated[Category, BeforeValidator(_legacy_category)]
    submissionMethod: SubmissionMethod
    performanceStart: IsoDate
    performanceEnd: IsoDate
    measurements: list[Measurement]
    programName: ProgramName | None = None
    cehrtId: StrictStr | None = None
    source: StrictStr | None = None
    practiceId: StrictStr | None = None
    submitterId: StrictStr | None = None
    submitterType: StrictStr | None = None
    measureSet: StrictStr | None = None

    def to_record(self, default_program: str = "mips") -> dict[str, Any]:
        """Plain dict; a set without programName belongs to the submission's program (mips by default)."""
        return {
            "category": self.category,
            "submissionMethod": self.submissionMethod,
            "programName": self.programName or default_program,
            "performanceStart": self.performanceStart.isoformat(),
            "performanceEnd": self.performanceEnd.isoformat(),
            "cehrtId": self.cehrtId,
            "source": self.source,
            "practiceId": self.practiceId,
            "submitterId": self.submitterId,
            "submitterType": self.submitterType,
            "measureSet": self.measureSet,
            "measurements": [m.to_record() for m in self.measurements],
        }


class Submission(_Closed):
    """A whole QPP submission for one TIN/NPI, group, virtual group, APM Entity or subgroup."""

    entityType: EntityType
    taxpayerIdentificationNumber: Tin | None = None
    nationalProviderIdentifier: Npi | None = None
    entityId: Name | None = None
    programName: ProgramName | None = None  # top level in CMS's first schema; per set since
    performanceYear: PerformanceYear | None = None
    measurementSets: list[MeasurementSet] = []

    def problems(self, year: int | None = None) -> list[tuple[Loc, str]]:
        """Cross-field checks pydantic cannot express per field (CMS upload errors, §10)."""
        out: list[tuple[Loc, str]] = []
        entity = self.entityType
        if entity in _ENTITIES_NEEDING_TIN and self.taxpayerIdentificationNumber is None:
            out.append((("taxpayerIdentificationNumber",), f"required for entityType {entity}"))
        if entity == "individual" and self.nationalProviderIdentifier is None:
            out.append((("nationalProviderIdentifier",), "required for entityType individual"))
        if entity != "individual" and self.nationalProviderIdentifier is not None:
            out.append((("nationalProviderIdentifier",),
                        f"only an individual submission has an NPI; remove it for entityType {entity}"))
        if entity in _ENTITIES_NEEDING_ID and self.entityId is None:
            out.append((("entityId",), f"required for entityType {entity}"))
        year = self.performanceYear if year is None else year
        for i, ms in enumerate(self.measurementSets):
            out.extend(_set_problems(("measurementSets", i), ms, year))
        return out

    def validate_year(self, year: int, *, source: str = "<submission>") -> None:
        """Check the performance periods against a year known only from elsewhere (the context)."""
        if year == self.performanceYear:
            return  # parse_submission checked them against the submission's own year
        problems = [p for p in self.problems(year) if p[0][-1] in ("performanceStart", "performanceEnd")]
        if problems:
            raise problems_to_input_error(source, problems)

    def with_year(self, year: int) -> Submission:
        """A copy re-dated to ``year``, so older real samples can be scored under current rules."""
        if isinstance(year, bool) or not isinstance(year, int):
            raise TypeError(f"year must be an int, got {type(year).__name__}")
        _year_range(year)
        sets = [
            ms.model_copy(update={
                "performanceStart": _redate(ms.performanceStart, year),
                "performanceEnd": _redate(ms.performanceEnd, year),
            })
            for ms in self.measurementSets
        ]
        return self.model_copy(update={"performanceYear": year, "measurementSets": sets})

    def to_record(self) -> dict[str, Any]:
        """Plain dict for the rule engine: CMS's camelCase names, Decimal numbers, ISO dates."""
        program = self.programName or "mips"
        return {
            "entityType": self.entityType,
            "taxpayerIdentificationNumber": self.taxpayerIdentificationNumber,
            "nationalProviderIdentifier": self.nationalProviderIdentifier,
            "entityId": self.entityId,
            "programName": self.programName,
            "performanceYear": None if self.performanceYear is None else Decimal(self.performanceYear),
            "measurementSets": [ms.to_record(program) for ms in self.measurementSets],
        }


# --------------------------------------------------------------------------
# Cross-field checks
# --------------------------------------------------------------------------

_CATEGORY_VALUES: dict[str, tuple[type, ...]] = {
    "ia": (bool,),
    "pi": (bool, Proportion),
    "quality": (SingleRate, MultiRate, NonProportion, Decimal),
}
_KIND_WORDS = {
    bool: "true/false", Decimal: "a number", SingleRate: "a performance-rate object",
    MultiRate: "a multi-performance-rate object", Proportion: "a numerator/denominator object",
    NonProportion: "a non-proportion object",
}


def _set_problems(loc: Loc, ms: MeasurementSet, year: int | None) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    start, end = ms.performanceStart, ms.performanceEnd
    if end < start:
        out.append((loc + ("performanceEnd",), f"{end} is before performanceStart {start}"))
    if year is not None:
        for name, day in (("performanceStart", start), ("performanceEnd", end)):
            if day.year != year:
                out.append((loc + (name,), f"{day} is not in performanceYear {year}"))
    first_seen: dict[str, int] = {}
    for j, m in enumerate(ms.measurements):
        mloc = loc + ("measurements", j)
        if m.measureId in first_seen:
            out.append((mloc + ("measureId",),
                        f"{m.measureId} is reported twice in this measurement set "
                        f"(first at measurements[{first_seen[m.measureId]}])"))
        else:
            first_seen[m.measureId] = j
        allowed = _CATEGORY_VALUES[ms.category]
        kind = type(m.value)
        if kind not in allowed:
            wanted = " or ".join(_KIND_WORDS[k] for k in allowed)
            out.append((mloc + ("value",), f"a {ms.category} measurement takes {wanted}, got {_KIND_WORDS[kind]}"))
        out.extend(_value_problems(mloc + ("value",), m.value))
    return out


def _value_problems(loc: Loc, value: Any) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    if isinstance(value, SingleRate):
        counted = value.counted()
        if counted > value.eligiblePopulation:
            out.append((loc, "performanceMet + performanceNotMet + eligiblePopulationExclusion + "
                             f"eligiblePopulationException = {counted} exceeds eligiblePopulation "
                             f"{value.eligiblePopulation}"))
    elif isinstance(value, MultiRate):
        names: dict[str, int] = {}
        for k, stratum in enumerate(value.strata):
            sloc = loc + ("strata", k)
            if stratum.stratum in names:
                out.append((sloc + ("stratum",), f"stratum {stratum.stratum!r} appears twice "
                                                 f"(first at strata[{names[stratum.stratum]}])"))
            names.setdefault(stratum.stratum, k)
            out.extend(_value_problems(sloc, stratum))
    elif isinstance(value, Proportion):
        if value.numerator > value.denominator:
            out.append((loc + ("numerator",), f"numerator {value.numerator} exceeds denominator {value.denominator}"))
    if isinstance(value, _Open):
        known = sorted(type(value).model_fields)
        for key, extra in (value.model_extra or {}).items():
            guess = did_you_mean(key, known)
            if guess:
                out.append((loc + (key,), f"unknown field; did you mean {guess!r}?"))
            elif not _plain_ok(extra):
                out.append((loc + (key,), "must be plain JSON with finite numbers"))
    return out


def _plain_ok(value: Any) -> bool:
    """Extra fields travel to the rule engine, so they must be plain, finite JSON values."""
    if value is None or isinstance(value, (bool, str, int)):
        return True
    if isinstance(value, (float, Decimal)):
        return Decimal(repr(value) if isinstance(value, float) else value).is_finite()
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_ok(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_ok(v) for v in value)
    return False


def _redate(day: date, year: int) -> date:
    """The same month and day in ``year`` (29 February becomes the 28th in a common year)."""
    last = calendar.monthrange(year, day.month)[1]
    return day.replace(year=year, day=min(day.day, last))


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------

_FIELD_NAMES = model_field_names(Submission)


def _unwrap(data: Any) -> tuple[Any, Loc]:
    """CMS API responses wrap the submission as {"data": {"submission": {...}}}."""
    if isinstance(data, dict) and set(data) == {"data"}:
        inner = data["data"]
        if isinstance(inner, dict) and set(inner) == {"submission"}:
            return inner["submission"], ("data", "submission")
    return data, ()


def parse_submission(data: Any, *, source: str = "<submission>") -> Submission:
    """Validate parsed QPP JSON (a dict) into a Submission, or raise InputError naming each bad field."""
    if isinstance(data, Submission):
        submission, prefix = data, ()
    else:
        data, prefix = _unwrap(data)
        if not isinstance(data, dict):
            where = ".".join(map(str, prefix))
            raise InputError(Diagnostic(
                f"{source}: {where + ': ' if where else ''}expected a QPP submission object "
                f"(entityType, taxpayerIdentificationNumber, measurementSets …), got {_describe(data)}"
            ))
        try:
            submission = Submission.model_validate(data)
        except ValidationError as exc:
            raise validation_error_to_input_error(exc, source, field_names=_FIELD_NAMES, prefix=prefix) from None
    problems = submission.problems()
    if problems:
        raise problems_to_input_error(source, [(prefix + loc, msg) for loc, msg in problems])
    return submission


def load_submission(path: str | Path) -> Submission:
    """Read and validate a QPP JSON file; a missing, empty or non-JSON file is an InputError."""
    source = str(path)
    text = read_text_file(path, "submission")
    return parse_submission(parse_json_text(text, source), source=source)


# --------------------------------------------------------------------------
# Fast path for population tools
# --------------------------------------------------------------------------
#
# Scoring a batch validated each record with pydantic, built its record and turned that into
# rule-language values: ~0.3 ms a record, a fifth of the batch. `fast_submission_value` does the
# same in plain Python for a submission that is plainly valid, and gives up (None) on anything
# else, so pydantic still judges, and words the errors of, every doubtful input. It accepts a
# subset of what the models accept (e.g. whole counts only as ints, numbers only as ints or finite
# Decimals, never floats) and builds exactly `to_value(parse_submission(data).to_record())`.

_MISSING: Any = object()
_BAD: Any = object()

# The fields the fast path knows, model by model; if a model gains or loses a field the fast path
# switches itself off (see _FAST_READY) rather than build a record the model would not.
_F_SUBMISSION = frozenset({"entityType", "taxpayerIdentificationNumber", "nationalProviderIdentifier",
                           "entityId", "programName", "performanceYear", "measurementSets"})
_F_SET = frozenset({"category", "submissionMethod", "performanceStart", "performanceEnd", "measurements",
                    "programName", "cehrtId", "source", "practiceId", "submitterId", "submitterType",
                    "measureSet"})
_F_SET_TEXT = ("cehrtId", "source", "practiceId", "submitterId", "submitterType", "measureSet")
_F_MEASUREMENT = frozenset({"measureId", "value"})
_F_SINGLE = frozenset({"performanceMet", "eligiblePopulation", "performanceNotMet", "eligiblePopulationExclusion",
                       "eligiblePopulationException", "isEndToEndReported", "reportingRate", "performanceRate"})
_F_STRATUM = _F_SINGLE | {"stratum"}
_F_MULTI = frozenset({"strata", "isEndToEndReported", "reportingRate", "performanceRate"})
_F_PROPORTION = _RATIO_KEYS
_F_NON_PROPORTION = frozenset({"numerator", "denominator", "denominatorException", "numeratorExclusion",
                               "observationInstances", "isEndToEndReported", "reportingRate", "performanceRate"})
_FAST_READY = all(
    frozenset(model.model_fields) == fields
    for model, fields in ((Submission, _F_SUBMISSION), (MeasurementSet, _F_SET), (Measurement, _F_MEASUREMENT),
                          (SingleRate, _F_SINGLE), (Stratum, _F_STRATUM), (MultiRate, _F_MULTI),
                          (Proportion, _F_PROPORTION), (NonProportion, _F_NON_PROPORTION))
)
"""Whether the models still have exactly the fields the fast path mirrors."""

_SORTED_FIELDS = {fields: sorted(fields) for fields in (_F_SINGLE, _F_STRATUM, _F_MULTI, _F_NON_PROPORTION)}
_ENTITY_TYPES = frozenset(EntityType.__args__)
_SUBMISSION_METHODS = frozenset(SubmissionMethod.__args__)
_FAST_CATEGORIES = {**{c: c for c in Category.__args__}, **_LEGACY_CATEGORIES}
_FAST_PROGRAMS = frozenset(PROGRAMS + OTHER_CMS_PROGRAMS)

# Value kinds, and which a category takes (from _CATEGORY_VALUES).
_K_BOOL, _K_NUMBER, _K_SINGLE, _K_MULTI, _K_PROPORTION, _K_NON_PROPORTION = range(6)
_KIND_OF = {bool: _K_BOOL, Decimal: _K_NUMBER, SingleRate: _K_SINGLE, MultiRate: _K_MULTI,
            Proportion: _K_PROPORTION, NonProportion: _K_NON_PROPORTION}
_FAST_KINDS = {category: frozenset(_KIND_OF[kind] for kind in kinds) for category, kinds in _CATEGORY_VALUES.items()}
_FAST_READY = _FAST_READY and set(_FAST_CATEGORIES.values()) <= set(_FAST_KINDS)
_RATIO_OR_NON_PROPORTION = _RATIO_KEYS | _NON_PROPORTION_KEYS

_DATES: dict[str, date] = {}
"""ISO date strings already seen valid (a population repeats a handful of dates)."""


def _fast_date(text: Any) -> date | None:
    """The date of a plain YYYY-MM-DD string (ASCII, written as isoformat writes it), else None."""
    if type(text) is not str:
        return None
    day = _DATES.get(text)
    if day is None:
        if len(text) != 10 or not text.isascii() or text[4] != "-" or text[7] != "-" \
                or not (text[:4] + text[5:7] + text[8:]).isdigit():
            return None
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        if day.isoformat() != text:
            return None
        if len(_DATES) >= 4096:
            _DATES.clear()
        _DATES[text] = day
    return day


def _fast_digits(value: Any, n: int) -> bool:
    return type(value) is str and len(value) == n and value.isascii() and value.isdigit()


def _fast_program(value: Any) -> bool:
    return type(value) is str and (value in _FAST_PROGRAMS or (
        len(value) == 5 and value.isascii() and MVP_ID.match(value) is not None))


def _fast_name(value: Any) -> bool:
    return type(value) is str and bool(value.strip())


def _fast_percent(value: Any) -> Any:
    """A Percent (0-100) as the model holds it, None for null, _BAD otherwise."""
    t = type(value)
    if value is None:
        return None
    if t is int:
        return Decimal(value) if 0 <= value <= 100 else _BAD
    if t is Decimal and value.is_finite() and 0 <= value <= 100:
        return value
    return _BAD


def _fast_number(value: Any) -> Any:
    """A StrictNumber as the model holds it, _BAD otherwise (None included)."""
    t = type(value)
    if t is int:
        return Decimal(value)
    if t is Decimal and value.is_finite():
        return value
    return _BAD


def _fast_flag(value: Any) -> Any:
    return value if value is None or type(value) is bool else _BAD


def _plain_json(value: Any) -> bool:
    """Plain JSON an extra field may hold (stricter than _plain_ok: no floats, exact types)."""
    t = type(value)
    if value is None or t is bool or t is str or t is int:
        return True
    if t is Decimal:
        return value.is_finite()
    if t is dict:
        return all(type(k) is str and _plain_json(v) for k, v in value.items())
    if t is list:
        return all(_plain_json(v) for v in value)
    return False


def _fast_extras(value: dict, fields: frozenset, record: dict[str, Any]) -> bool:
    """Add an open model's unknown keys to its record as to_record and to_value would; False when
    _value_problems would object (a likely misspelling, a value that is not plain JSON)."""
    known = _SORTED_FIELDS[fields]
    for key, extra in value.items():
        if key in fields:
            continue
        if type(key) is not str or key.startswith(("_", "model_")) or did_you_mean(key, known):
            return False
        try:
            if not _plain_json(extra):
                return False
            record.setdefault(key, _to_value(to_plain(extra)))
        except RecursionError:
            return False
    return True


def _fast_rate(value: dict, fields: frozenset) -> dict[str, Any] | None:
    """A SingleRate (or a Stratum's rate part) record, or None; counts must not exceed the population."""
    get = value.get
    met, eligible = get("performanceMet"), get("eligiblePopulation")
    not_met, exclusion, exception = (get("performanceNotMet"), get("eligiblePopulationExclusion"),
                                     get("eligiblePopulationException"))
    if type(met) is not int or type(eligible) is not int or met < 0 or eligible < 0:
        return None
    if not_met is None:
        not_met = 0
    elif type(not_met) is not int or not_met < 0:
        return None
    if exclusion is None:
        exclusion = 0
    elif type(exclusion) is not int or exclusion < 0:
        return None
    if exception is None:
        exception = 0
    elif type(exception) is not int or exception < 0:
        return None
    if met + not_met + exclusion + exception > eligible:
        return None
    flag, reporting, performance = get("isEndToEndReported"), get("reportingRate"), get("performanceRate")
    if flag is not None and type(flag) is not bool:
        return None
    if reporting is not None and (reporting := _fast_percent(reporting)) is _BAD:
        return None
    if performance is not None and (performance := _fast_percent(performance)) is _BAD:
        return None
    record = {
        "isEndToEndReported": flag,
        "performanceMet": Decimal(met),
        "performanceNotMet": Decimal(not_met),
        "eligiblePopulation": Decimal(eligible),
        "eligiblePopulationExclusion": Decimal(exclusion),
        "eligiblePopulationException": Decimal(exception),
        "reportingRate": reporting,
        "performanceRate": performance,
    }
    if not value.keys() <= fields and not _fast_extras(value, fields, record):
        return None
    return record


def _fast_multi(value: dict) -> dict[str, Any] | None:
    strata = value.get("strata")
    if type(strata) is not list or not strata:
        return None
    names: set[str] = set()
    out = []
    for stratum in strata:
        if type(stratum) is not dict:
            return None
        name = stratum.get("stratum")
        if not _fast_name(name) or name in names:
            return None
        names.add(name)
        rate = _fast_rate(stratum, _F_STRATUM)
        if rate is None:
            return None
        out.append({"stratum": name, **rate})
    flag = _fast_flag(value.get("isEndToEndReported"))
    reporting = _fast_percent(value.get("reportingRate"))
    performance = _fast_percent(value.get("performanceRate"))
    if flag is _BAD or reporting is _BAD or performance is _BAD:
        return None
    record = {"isEndToEndReported": flag, "reportingRate": reporting, "performanceRate": performance,
              "strata": tuple(out)}
    if not value.keys() <= _F_MULTI and not _fast_extras(value, _F_MULTI, record):
        return None
    return record


def _fast_non_proportion(value: dict) -> dict[str, Any] | None:
    numerator = _fast_number(value.get("numerator"))
    denominator = _fast_number(value.get("denominator"))
    flag = _fast_flag(value.get("isEndToEndReported"))
    reporting = _fast_percent(value.get("reportingRate"))
    performance = value.get("performanceRate")
    performance = None if performance is None else _fast_number(performance)
    if numerator is _BAD or denominator is _BAD or flag is _BAD or reporting is _BAD or performance is _BAD:
        return None
    counts = []
    for key in ("denominatorException", "numeratorExclusion", "observationInstances"):
        count = value.get(key)
        if count is not None and (type(count) is not int or count < 0):
            return None
        counts.append(count)
    record = {
        "isEndToEndReported": flag,
        "numerator": numerator,
        "denominator": denominator,
        "denominatorException": Decimal(counts[0] or 0),
        "numeratorExclusion": Decimal(counts[1] or 0),
        "observationInstances": None if counts[2] is None else Decimal(counts[2]),
        "reportingRate": reporting,
        "performanceRate": performance,
    }
    if not value.keys() <= _F_NON_PROPORTION and not _fast_extras(value, _F_NON_PROPORTION, record):
        return None
    return record


def _fast_value(value: Any) -> tuple[int, Any] | None:
    """(kind, rule-language value) of a measurement value, judged by shape as _value_kind does."""
    t = type(value)
    if t is bool:
        return _K_BOOL, value
    if t is dict:
        if len(value) == 2 and "numerator" in value and "denominator" in value:  # a Proportion
            numerator, denominator = value["numerator"], value["denominator"]
            if type(numerator) is not int or type(denominator) is not int \
                    or not 0 <= numerator <= denominator:
                return None
            return _K_PROPORTION, {"numerator": Decimal(numerator), "denominator": Decimal(denominator)}
        keys = value.keys()
        if "strata" in value:
            record = _fast_multi(value)
            return None if record is None else (_K_MULTI, record)
        if not keys.isdisjoint(_SINGLE_KEYS):
            record = _fast_rate(value, _F_SINGLE)
            return None if record is None else (_K_SINGLE, record)
        if keys.isdisjoint(_RATIO_OR_NON_PROPORTION) or keys <= _RATIO_KEYS:
            return None  # no kind, or a Proportion missing a count
        record = _fast_non_proportion(value)
        return None if record is None else (_K_NON_PROPORTION, record)
    number = _fast_number(value)
    return None if number is _BAD else (_K_NUMBER, number)


def _fast_set(ms: Any, default_program: str, year: int | None) -> dict[str, Any] | None:
    """A MeasurementSet's record as to_value(ms.to_record(default_program)), or None."""
    if type(ms) is not dict or not ms.keys() <= _F_SET:
        return None
    category = ms.get("category")
    category = _FAST_CATEGORIES.get(category) if type(category) is str else None
    method = ms.get("submissionMethod")
    if category is None or type(method) is not str or method not in _SUBMISSION_METHODS:
        return None
    start_text, end_text = ms.get("performanceStart"), ms.get("performanceEnd")
    start, end = _fast_date(start_text), _fast_date(end_text)
    if start is None or end is None or end < start:
        return None
    if year is not None and (start.year != year or end.year != year):
        return None
    program = ms.get("programName")
    if program is None:
        program = default_program
    elif not _fast_program(program):
        return None
    record: dict[str, Any] = {"category": category, "submissionMethod": method, "programName": program,
                              "performanceStart": start_text, "performanceEnd": end_text}
    for key in _F_SET_TEXT:
        text = ms.get(key)
        if text is not None and type(text) is not str:
            return None
        record[key] = text
    measurements = ms.get("measurements")
    if type(measurements) is not list:
        return None
    kinds = _FAST_KINDS[category]
    takes_bool = _K_BOOL in kinds
    seen: set[str] = set()
    out = []
    for m in measurements:
        if type(m) is not dict or len(m) != 2:
            return None
        measure_id, value = m.get("measureId"), m.get("value", _MISSING)
        if type(measure_id) is not str or measure_id in seen or not measure_id.strip() or value is _MISSING:
            return None
        seen.add(measure_id)
        if type(value) is bool:  # IA and PI yes/no measures: most measurements
            if not takes_bool:
                return None
        else:
            found = _fast_value(value)
            if found is None or found[0] not in kinds:
                return None
            value = found[1]
        out.append({"measureId": measure_id, "value": value})
    record["measurements"] = tuple(out)
    return record


def fast_submission_value(data: Any) -> dict[str, Any] | None:
    """`to_value(parse_submission(data).to_record())` checked and built in plain Python for a
    submission that is plainly valid; None otherwise (the caller then parses it the usual way,
    which reports what is wrong).

    parse_submission needs no year (dates are checked against the submission's own
    performanceYear; a context's year is checked later by Submission.validate_year), so neither
    does this.
    """
    if not _FAST_READY or type(data) is not dict:
        return None
    if len(data) == 1 and "data" in data:  # as _unwrap: {"data": {"submission": {...}}}
        inner = data["data"]
        if type(inner) is not dict or len(inner) != 1 or "submission" not in inner:
            return None
        data = inner["submission"]
        if type(data) is not dict:
            return None
    if not data.keys() <= _F_SUBMISSION:
        return None
    entity = data.get("entityType")
    if type(entity) is not str or entity not in _ENTITY_TYPES:
        return None
    tin = data.get("taxpayerIdentificationNumber")
    npi = data.get("nationalProviderIdentifier")
    entity_id = data.get("entityId")
    program = data.get("programName")
    year = data.get("performanceYear")
    if tin is None:
        if entity in _ENTITIES_NEEDING_TIN:
            return None
    elif not _fast_digits(tin, 9):
        return None
    if npi is None:
        if entity == "individual":
            return None
    elif entity != "individual" or not _fast_digits(npi, 10):
        return None
    if entity_id is None:
        if entity in _ENTITIES_NEEDING_ID:
            return None
    elif not _fast_name(entity_id):
        return None
    if program is not None and not _fast_program(program):
        return None
    if year is not None and (type(year) is not int or not 1000 <= year <= 9999):
        return None
    sets = data.get("measurementSets", _MISSING)
    if sets is _MISSING:
        sets = []
    elif type(sets) is not list:
        return None
    default_program = program or "mips"
    out = []
    for ms in sets:
        record = _fast_set(ms, default_program, year)
        if record is None:
            return None
        out.append(record)
    return {
        "entityType": entity,
        "taxpayerIdentificationNumber": tin,
        "nationalProviderIdentifier": npi,
        "entityId": entity_id,
        "programName": program,
        "performanceYear": None if year is None else Decimal(year),
        "measurementSets": tuple(out),
    }
