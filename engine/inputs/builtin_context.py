"""The built-in scoring context: the documented default for a year that declares none.

Every shipped year declares its own context (`context.yaml`, `engine/inputs/declared_context.py`),
so these pydantic models are built only when something asks for them (`engine/inputs/context.py`
imports this module on first use): building them costs every command's start otherwise.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator
from pydantic_core import PydanticCustomError

from mips_rules.dsl.errors import Diagnostic, InputError
from mips_rules.engine.inputs.validation import (
    Count,
    PerformanceYear,
    Percent,
    StrictBool,
    StrictInt,
    StrictNumber,
    StrictStr,
    _describe,
    model_field_names,
    to_plain,
)

Points10 = Annotated[StrictNumber, Field(ge=0, le=10)]
NonNegative = Annotated[StrictNumber, Field(ge=0)]

ENTITY_TYPE_FROM_QPP = {
    "individual": "individual",
    "group": "group",
    "virtualGroup": "virtual_group",
    "apm": "apm_entity",
    "subgroup": "subgroup",
}
"""QPP JSON entityType → context entity.type."""


def _npi(value: str) -> str:
    if len(value) != 10 or not value.isdigit():
        raise PydanticCustomError("npi_digits", "npi must be exactly 10 digits, got {got}", {"got": _describe(value)})
    return value


def _none_election(value: Any) -> Any:
    """YAML may read `election: none`-like spellings as null; both mean no election."""
    return "none" if value is None else value


MeasureId = Annotated[StrictStr, Field(min_length=1)]


class _Closed(BaseModel):
    """Every level refuses unknown keys: a misspelt status must not silently default to false."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Entity(_Closed):
    """Who is being scored and the special statuses CMS has determined for them."""

    type: Literal["individual", "group", "virtual_group", "apm_entity", "subgroup"] | None = None
    """None: taken from the submission's entityType (individual when there is no submission)."""
    clinicians: Annotated[StrictInt, Field(ge=1)] = 1
    small_practice: StrictBool = False
    rural: StrictBool = False
    hpsa: StrictBool = False
    non_patient_facing: StrictBool = False
    hospital_based: StrictBool = False
    asc_based: StrictBool = False
    clinician_type: Annotated[StrictStr, Field(min_length=1)] = "physician"
    apm_participant: StrictBool = False


class Eligibility(_Closed):
    """Low-volume threshold data (Part B allowed charges, patients, covered services)."""

    allowed_charges: NonNegative
    part_b_patients: Count
    covered_services: Count


class Exceptions(_Closed):
    """Approved hardship / EUC reweighting applications, per category."""

    quality: StrictBool = False
    cost: StrictBool = False
    ia: StrictBool = False
    pi: StrictBool = False


def _exactly_one(model: BaseModel, a: str, b: str) -> None:
    if (getattr(model, a) is None) == (getattr(model, b) is None):
        raise PydanticCustomError("exactly_one", "give exactly one of {a} or {b}", {"a": a, "b": b})


class CostMeasure(_Closed):
    """A cost measure CMS scored from claims: its achievement points or its raw score."""

    measure_id: MeasureId
    points: Points10 | None = None
    score: StrictNumber | None = None

    @model_validator(mode="after")
    def _one_result(self) -> CostMeasure:
        _exactly_one(self, "points", "score")
        return self


class CostInfo(_Closed):
    measures: list[CostMeasure] = []
    prior_score: Percent | None = None


class AdminClaim(_Closed):
    """An administrative-claims quality measure CMS calculated: points or a performance rate."""

    measure_id: MeasureId
    points: Points10 | None = None
    performance_rate: Percent | None = None

    @model_validator(mode="after")
    def _one_result(self) -> AdminClaim:
        _exactly_one(self, "points", "performance_rate")
        return self


class QualityInfo(_Closed):
    admin_claims: list[AdminClaim] = []
    prior_achievement: Percent | None = None
    denominator_reduction: NonNegative = Decimal(0)


class ComplexPatient(_Closed):
    """Inputs of the complex patient bonus, as standard scores against the prior-year distribution."""

    hcc_risk_z: StrictNumber | None = None
    dual_eligible_z: StrictNumber | None = None
    hcc_risk_at_or_above_median: StrictBool | None = None
    """What CMS's feedback says of the indicator against the prior year's median; None: the year's
    stand-in median (`program.complex_patient_median_z`) decides."""
    dual_eligible_at_or_above_median: StrictBool | None = None


class CategoryScores(_Closed):
    """Category scores given directly (percent), overriding what the rules would compute."""

    quality: Percent | None = None
    cost: Percent | None = None
    ia: Percent | None = None
    pi: Percent | None = None


class FacilityBased(_Closed):
    """Scores carried over from the facility's Hospital VBP results (percent)."""

    quality: Percent | None = None
    cost: Percent | None = None


class PiRollup(_Closed):
    """One clinician's PI result when PI is aggregated to a group or APM Entity."""

    npi: Annotated[StrictStr, AfterValidator(_npi)]
    score: Percent
    bonus: NonNegative = Decimal(0)


class Context(_Closed):
    """Everything CMS knows beside the submission; ``Context()`` is the no-file default.

    The documented default: a year declares its own context in `context.yaml` (see
    `engine/inputs/declared_context.py`), and this model applies only to a year that does not."""

    _raw: Any = PrivateAttr(default=None)

    performance_year: PerformanceYear | None = None
    reporting_option: Literal["traditional", "app"] = "traditional"
    entity: Entity = Entity()
    eligibility: Eligibility | None = None
    election: Annotated[Literal["none", "opt_in", "voluntary"], BeforeValidator(_none_election)] = "none"
    exceptions: Exceptions = Exceptions()
    auto_euc: StrictBool = False
    cost: CostInfo | None = None
    quality: QualityInfo | None = None
    complex_patient_bonus: Points10 = Decimal(0)
    complex_patient: ComplexPatient | None = None
    category_scores: CategoryScores = CategoryScores()
    facility_based: FacilityBased | None = None
    pi_rollup: list[PiRollup] | None = None

    def problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Cross-item checks: the same measure or NPI given twice is ambiguous."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        if self.cost is not None:
            out += _duplicates(("cost", "measures"), [m.measure_id for m in self.cost.measures], "measure_id")
        if self.quality is not None:
            out += _duplicates(("quality", "admin_claims"), [m.measure_id for m in self.quality.admin_claims],
                               "measure_id")
        if self.pi_rollup is not None:
            out += _duplicates(("pi_rollup",), [r.npi for r in self.pi_rollup], "npi")
        return out

    def to_record(self) -> dict[str, Any]:
        """Plain dict: every declared key present, absent optionals None, numbers Decimal."""
        return to_plain(self.model_dump(mode="python"))

    def for_submission(self, submission: Any) -> "Context":
        """This context with the entity type settled: the submission's, which a given type must match."""
        qpp = getattr(submission, "entityType", None)
        from_submission = ENTITY_TYPE_FROM_QPP.get(qpp) if qpp else None
        given = self.entity.type
        if given is not None and from_submission is not None and given != from_submission:
            raise InputError(Diagnostic(f"<context>: entity.type: {given} contradicts the submission's "
                                        f"entityType {qpp}"))
        settled = given or from_submission or "individual"
        if settled == given:
            return self
        return self.model_copy(update={"entity": self.entity.model_copy(update={"type": settled})})


def _duplicates(loc: tuple[str | int, ...], keys: list[str], name: str) -> list[tuple[tuple[str | int, ...], str]]:
    seen: dict[str, int] = {}
    out = []
    for i, key in enumerate(keys):
        if key in seen:
            out.append((loc + (i, name), f"{key} is given twice (first at [{seen[key]}])"))
        seen.setdefault(key, i)
    return out


FIELD_NAMES = model_field_names(Context)
