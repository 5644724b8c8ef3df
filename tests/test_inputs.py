"""Tests for the engine's inputs: QPP JSON submissions, scoring contexts, and their errors."""

from __future__ import annotations

import copy
import importlib.util
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mips_rules.dsl.errors import InputError, Location
from mips_rules.engine.inputs.context import Context, load_context, parse_context, resolve_performance_year
from mips_rules.engine.inputs.validation import clean_loc, format_path, validation_error_to_input_error
from mips_rules.engine.inputs.submission import MeasurementSet, MultiRate, Proportion, SingleRate, Submission, load_submission, parse_submission

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "cms" / "samples"
PLACEHOLDER = "< performanceYearToBeReported >"
HAVE_YAMLSAFE = importlib.util.find_spec("mips_rules.engine.inputs.safe_yaml") is not None


def samples(folder: str, pattern: str) -> list[Path]:
    found = sorted((SAMPLES / folder).glob(pattern)) if SAMPLES.exists() else []
    return found or [SAMPLES / folder / pattern]  # a missing file makes the test skip


def sample_text(path: Path) -> str:
    if not path.exists():
        pytest.skip(f"{path} is absent (CMS samples are not beside this checkout)")
    return path.read_text(encoding="utf-8")


def sample_data(path: Path, year: int = 2024) -> Any:
    """Parsed sample, with CMS's year placeholders filled in."""
    text = sample_text(path)
    text = text.replace(f'"{PLACEHOLDER}"', str(year)).replace(f"{PLACEHOLDER}-", f"{year}-")
    return json.loads(text, parse_float=Decimal)


def base() -> dict[str, Any]:
    """A small valid individual submission touching every kind of value."""
    return {
        "entityType": "individual",
        "taxpayerIdentificationNumber": "000456789",
        "nationalProviderIdentifier": "9876543210",
        "performanceYear": 2024,
        "measurementSets": [
            {
                "category": "quality",
                "submissionMethod": "registry",
                "programName": "mips",
                "performanceStart": "2024-01-01",
                "performanceEnd": "2024-12-31",
                "measurements": [
                    {"measureId": "001", "value": {"isEndToEndReported": True, "performanceMet": 80,
                                                   "performanceNotMet": 10, "eligiblePopulation": 100,
                                                   "eligiblePopulationExclusion": 5,
                                                   "eligiblePopulationException": None}},
                    {"measureId": "305", "value": {"isEndToEndReported": False, "strata": [
                        {"stratum": "14days", "performanceMet": 4, "eligiblePopulation": 6},
                        {"stratum": "34days", "performanceMet": 5, "performanceNotMet": 1, "eligiblePopulation": 6},
                    ]}},
                    {"measureId": "ACRAD15", "value": {"numerator": 3, "denominator": 1000,
                                                       "isEndToEndReported": False, "observationInstances": 80}},
                ],
            },
            {
                "category": "pi",
                "submissionMethod": "electronicHealthRecord",
                "performanceStart": "2024-01-01",
                "performanceEnd": "2024-03-31",
                "cehrtId": "0015E181NBE3YEG",
                "measurements": [
                    {"measureId": "PI_EP_1", "value": {"numerator": 49, "denominator": 115}},
                    {"measureId": "PI_PPHI_1", "value": True},
                ],
            },
            {
                "category": "ia",
                "submissionMethod": "registry",
                "performanceStart": "2024-01-01",
                "performanceEnd": "2024-03-31",
                "measurements": [{"measureId": "IA_EPA_1", "value": True}],
            },
        ],
    }


def quality_value(data: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return data["measurementSets"][0]["measurements"][i]["value"]


def error_of(data: Any, **kwargs: Any) -> str:
    """The rendered InputError parse_submission raises for data."""
    with pytest.raises(InputError) as info:
        parse_submission(data, **kwargs)
    return str(info.value)


def context_error(data: Any, **kwargs: Any) -> str:
    with pytest.raises(InputError) as info:
        parse_context(data, **kwargs)
    return str(info.value)


def all_leaves(value: Any):
    if isinstance(value, dict):
        for v in value.values():
            yield from all_leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from all_leaves(v)
    else:
        yield value


# --- a valid submission -------------------------------------------------------


def test_valid_submission_parses_into_kinds_of_value() -> None:
    sub = parse_submission(base())
    quality, pi, ia = sub.measurementSets
    assert isinstance(quality.measurements[0].value, SingleRate)
    assert isinstance(quality.measurements[1].value, MultiRate)
    assert isinstance(pi.measurements[0].value, Proportion)
    assert pi.measurements[1].value is True and ia.measurements[0].value is True
    assert quality.performanceStart == date(2024, 1, 1)


def test_plain_number_value_is_accepted() -> None:
    data = base()
    data["measurementSets"][0]["measurements"].append({"measureId": "CONT_1", "value": Decimal("12.5")})
    record = parse_submission(data).to_record()
    assert record["measurementSets"][0]["measurements"][-1]["value"] == Decimal("12.5")


# --- numbers ------------------------------------------------------------------


def test_count_given_as_string_is_an_error() -> None:
    data = base()
    quality_value(data)["performanceMet"] = "80"
    msg = error_of(data)
    assert "measurementSets[0].measurements[0].value.performanceMet" in msg
    assert "string" in msg and "without quotes" in msg


def test_count_given_as_bool_is_an_error() -> None:
    data = base()
    quality_value(data)["eligiblePopulation"] = True
    msg = error_of(data)
    assert "measurementSets[0].measurements[0].value.eligiblePopulation" in msg
    assert "boolean" in msg


def test_negative_and_fractional_counts_are_errors() -> None:
    data = base()
    quality_value(data)["performanceNotMet"] = -1
    quality_value(data)["eligiblePopulationExclusion"] = Decimal("2.5")
    msg = error_of(data)
    assert "measurementSets[0].measurements[0].value.performanceNotMet: must not be negative" in msg
    assert "measurementSets[0].measurements[0].value.eligiblePopulationExclusion: expected a whole number" in msg


def test_integral_decimal_count_is_accepted() -> None:
    data = base()
    quality_value(data)["performanceMet"] = Decimal("80.0")
    assert parse_submission(data).measurementSets[0].measurements[0].value.performanceMet == 80


def test_rate_as_string_is_an_error() -> None:
    data = base()
    quality_value(data)["performanceRate"] = "88.9"
    assert "measurementSets[0].measurements[0].value.performanceRate: expected a number" in error_of(data)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_json_are_rejected(tmp_path: Path, constant: str) -> None:
    text = json.dumps(base()).replace('"performanceMet": 80', f'"performanceMet": {constant}')
    path = tmp_path / "sub.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_submission(path)
    assert constant in str(info.value) and "not a number" in str(info.value)


def test_json_floats_are_read_as_exact_decimals(tmp_path: Path) -> None:
    data = base()
    quality_value(data)["performanceRate"] = "PLACEHOLDER"
    path = tmp_path / "sub.json"
    path.write_text(json.dumps(data).replace('"PLACEHOLDER"', "88.89"), encoding="utf-8")
    value = load_submission(path).measurementSets[0].measurements[0].value
    assert value.performanceRate == Decimal("88.89")


def test_nan_from_python_float_is_rejected() -> None:
    data = base()
    data["measurementSets"][0]["measurements"][0]["value"] = float("nan")
    assert "measurementSets[0].measurements[0].value: expected a finite number" in error_of(data)


# --- identifiers and entity ---------------------------------------------------


def test_tin_must_be_nine_digits() -> None:
    data = base()
    data["taxpayerIdentificationNumber"] = "12345678"
    assert "taxpayerIdentificationNumber: taxpayerIdentificationNumber must be exactly 9 digits" in error_of(data)


def test_tin_as_number_is_an_error() -> None:
    data = base()
    data["taxpayerIdentificationNumber"] = 456789
    assert "taxpayerIdentificationNumber: expected a string" in error_of(data)


def test_tin_required_for_group() -> None:
    data = base()
    data["entityType"] = "group"
    del data["taxpayerIdentificationNumber"], data["nationalProviderIdentifier"]
    assert "taxpayerIdentificationNumber: required for entityType group" in error_of(data)


def test_npi_must_be_ten_digits() -> None:
    data = base()
    data["nationalProviderIdentifier"] = "98765432101"
    assert "nationalProviderIdentifier: nationalProviderIdentifier must be exactly 10 digits" in error_of(data)


def test_npi_required_for_individual() -> None:
    data = base()
    del data["nationalProviderIdentifier"]
    assert "nationalProviderIdentifier: required for entityType individual" in error_of(data)


@pytest.mark.parametrize("entity", ["group", "subgroup", "virtualGroup", "apm"])
def test_npi_on_non_individual_is_an_error(entity: str) -> None:
    data = base()
    data["entityType"] = entity
    data["entityId"] = "T1MI2815"
    msg = error_of(data)
    assert "nationalProviderIdentifier: only an individual submission has an NPI" in msg


def test_null_npi_on_group_is_fine() -> None:
    data = base()
    data["entityType"] = "group"
    data["nationalProviderIdentifier"] = None
    assert parse_submission(data).nationalProviderIdentifier is None


def test_entity_type_must_be_known() -> None:
    data = base()
    data["entityType"] = "clinic"
    msg = error_of(data)
    assert "entityType: Input should be 'individual', 'group', 'virtualGroup', 'apm' or 'subgroup'" in msg


def test_apm_needs_entity_id_but_not_tin() -> None:
    data = base()
    data["entityType"] = "apm"
    del data["taxpayerIdentificationNumber"], data["nationalProviderIdentifier"]
    assert "entityId: required for entityType apm" in error_of(data)
    data["entityId"] = "A1234"
    assert parse_submission(data).entityId == "A1234"


def test_performance_year_as_string_is_an_error() -> None:
    data = base()
    data["performanceYear"] = "2024"
    assert "performanceYear: expected an integer, got the string \"2024\" (write it without quotes)" in error_of(data)


def test_performance_year_as_bool_is_an_error() -> None:
    data = base()
    data["performanceYear"] = True
    assert "performanceYear: expected an integer, got the boolean true" in error_of(data)


# --- measurement sets ---------------------------------------------------------


@pytest.mark.parametrize("program", ["mips", "app1", "app_plus", "G0053", "M0001"])
def test_program_names_accepted(program: str) -> None:
    data = base()
    data["measurementSets"][0]["programName"] = program
    assert parse_submission(data).measurementSets[0].programName == program


@pytest.mark.parametrize("program", ["MIPS", "mvp", "G053", "G00531", "app2"])
def test_program_name_must_be_known(program: str) -> None:
    data = base()
    data["measurementSets"][0]["programName"] = program
    assert "measurementSets[0].programName: programName must be mips, app1, app_plus or an MVP id" in error_of(data)


def test_category_must_be_known() -> None:
    data = base()
    data["measurementSets"][2]["category"] = "cost"
    assert "measurementSets[2].category: Input should be 'quality', 'pi' or 'ia'" in error_of(data)


def test_legacy_aci_category_means_pi() -> None:
    data = base()
    data["measurementSets"][1]["category"] = "aci"
    assert parse_submission(data).measurementSets[1].category == "pi"


def test_submission_method_must_be_known() -> None:
    data = base()
    data["measurementSets"][0]["submissionMethod"] = "registy"
    assert "measurementSets[0].submissionMethod: Input should be" in error_of(data)


def test_unknown_top_level_key_is_an_error_with_hint() -> None:
    data = base()
    data["performanceYaer"] = 2024
    with pytest.raises(InputError) as info:
        parse_submission(data)
    (diag,) = info.value.diagnostics
    assert diag.message == "<submission>: performanceYaer: unknown field"
    assert diag.hint == "did you mean 'performanceYear'?"


def test_unknown_measurement_set_key_is_an_error() -> None:
    data = base()
    data["measurementSets"][1]["cehrtID"] = "X"
    msg = error_of(data)
    assert "measurementSets[1].cehrtID: unknown field" in msg and "did you mean 'cehrtId'?" in msg


def test_documented_extra_measurement_set_fields_are_accepted() -> None:
    data = base()
    data["measurementSets"][0].update(source="qrda3", practiceId="T1MI2815", submitterId="abc", measureSet="x")
    ms = parse_submission(data).measurementSets[0]
    assert (ms.source, ms.practiceId) == ("qrda3", "T1MI2815")


def test_unknown_measurement_key_is_an_error() -> None:
    data = base()
    data["measurementSets"][2]["measurements"][0]["measureID"] = "IA_X"
    assert "measurementSets[2].measurements[0].measureID: unknown field" in error_of(data)


def test_missing_required_field_names_its_path() -> None:
    data = base()
    del data["measurementSets"][1]["performanceStart"]
    assert "measurementSets[1].performanceStart: required field is missing" in error_of(data)


# --- dates --------------------------------------------------------------------


def test_performance_end_before_start_is_an_error() -> None:
    data = base()
    data["measurementSets"][1]["performanceStart"] = "2024-06-01"
    data["measurementSets"][1]["performanceEnd"] = "2024-05-31"
    assert "measurementSets[1].performanceEnd: 2024-05-31 is before performanceStart 2024-06-01" in error_of(data)


def test_dates_outside_performance_year_are_errors() -> None:
    data = base()
    data["measurementSets"][2]["performanceStart"] = "2023-12-31"
    data["measurementSets"][2]["performanceEnd"] = "2025-01-01"
    msg = error_of(data)
    assert "measurementSets[2].performanceStart: 2023-12-31 is not in performanceYear 2024" in msg
    assert "measurementSets[2].performanceEnd: 2025-01-01 is not in performanceYear 2024" in msg


def test_date_must_be_iso() -> None:
    data = base()
    data["measurementSets"][0]["performanceStart"] = "01/01/2024"
    assert "measurementSets[0].performanceStart: expected a date as YYYY-MM-DD" in error_of(data)


def test_date_must_exist() -> None:
    data = base()
    data["measurementSets"][0]["performanceEnd"] = "2024-02-30"
    assert "measurementSets[0].performanceEnd: '2024-02-30' is not a real date" in error_of(data)


def test_year_from_context_checks_dates() -> None:
    data = base()
    del data["performanceYear"]
    sub = parse_submission(data)  # the year is not known yet: no date check
    assert resolve_performance_year(sub, Context(performance_year=2024)) == 2024
    with pytest.raises(InputError) as info:
        resolve_performance_year(sub, Context(performance_year=2023))
    assert "measurementSets[0].performanceStart: 2024-01-01 is not in performanceYear 2023" in str(info.value)


def test_year_conflict_and_absence() -> None:
    sub = parse_submission(base())
    assert resolve_performance_year(sub, Context()) == 2024
    with pytest.raises(InputError, match="performance_year: 2023 differs"):
        resolve_performance_year(sub, Context(performance_year=2023))
    data = base()
    del data["performanceYear"]
    with pytest.raises(InputError, match="performanceYear: missing"):
        resolve_performance_year(parse_submission(data), Context())


# --- measurement values -------------------------------------------------------


def test_counts_exceeding_eligible_population_are_an_error() -> None:
    data = base()
    quality_value(data)["eligiblePopulationException"] = 6  # 80 + 10 + 5 + 6 = 101 > 100
    msg = error_of(data)
    assert "measurementSets[0].measurements[0].value: performanceMet + performanceNotMet" in msg
    assert "= 101 exceeds eligiblePopulation 100" in msg


def test_counts_equal_to_eligible_population_are_fine() -> None:
    data = base()
    quality_value(data)["eligiblePopulationException"] = 5  # exactly 100
    parse_submission(data)


def test_stratum_counts_are_checked_too() -> None:
    data = base()
    quality_value(data, 1)["strata"][1]["performanceNotMet"] = 2
    assert "measurementSets[0].measurements[1].value.strata[1]: performanceMet" in error_of(data)


def test_duplicate_stratum_is_an_error() -> None:
    data = base()
    quality_value(data, 1)["strata"][1]["stratum"] = "14days"
    assert "measurementSets[0].measurements[1].value.strata[1].stratum: stratum '14days' appears twice" in error_of(data)


def test_numerator_above_denominator_is_an_error() -> None:
    data = base()
    data["measurementSets"][1]["measurements"][0]["value"] = {"numerator": 116, "denominator": 115}
    assert "measurementSets[1].measurements[0].value.numerator: numerator 116 exceeds denominator 115" in error_of(data)


def test_duplicate_measure_in_a_set_is_an_error() -> None:
    data = base()
    data["measurementSets"][2]["measurements"].append({"measureId": "IA_EPA_1", "value": True})
    msg = error_of(data)
    assert "measurementSets[2].measurements[1].measureId: IA_EPA_1 is reported twice" in msg


def test_same_measure_in_two_sets_is_fine() -> None:
    data = base()
    data["measurementSets"].append(copy.deepcopy(data["measurementSets"][2]))
    data["measurementSets"][3]["submissionMethod"] = "electronicHealthRecord"
    parse_submission(data)


def test_value_of_unknown_shape_is_an_error_without_union_tags() -> None:
    data = base()
    data["measurementSets"][2]["measurements"][0]["value"] = "true"
    with pytest.raises(InputError) as info:
        parse_submission(data)
    (diag,) = info.value.diagnostics
    assert diag.message.startswith("<submission>: measurementSets[2].measurements[0].value: expected true/false")
    assert "Invalid" not in diag.message and "Bool" not in diag.message


def test_branch_tags_are_dropped_from_paths() -> None:
    data = base()
    quality_value(data)["performanceMet"] = None
    with pytest.raises(ValidationError) as info:
        Submission.model_validate(data)
    raw = info.value.errors()[0]["loc"]
    assert "SingleRate" in raw  # pydantic's own loc names the union branch …
    err = validation_error_to_input_error(info.value, "s.json")
    assert err.diagnostics[0].message.startswith("s.json: measurementSets[0].measurements[0].value.performanceMet: ")


def test_category_and_value_kind_must_agree() -> None:
    data = base()
    data["measurementSets"][2]["measurements"][0]["value"] = {"numerator": 1, "denominator": 2}
    msg = error_of(data)
    assert "measurementSets[2].measurements[0].value: a ia measurement takes true/false" in msg


def test_cms_extra_value_fields_pass_through() -> None:
    data = base()
    quality_value(data)["reportingRate"] = 100
    quality_value(data)["someNewCmsField"] = "x"
    record = parse_submission(data).to_record()
    value = record["measurementSets"][0]["measurements"][0]["value"]
    assert value["reportingRate"] == Decimal(100) and value["someNewCmsField"] == "x"


def test_misspelt_optional_value_field_is_caught() -> None:
    data = base()
    quality_value(data)["eligiblePopulationExclusoin"] = 5
    msg = error_of(data)
    assert "measurementSets[0].measurements[0].value.eligiblePopulationExclusoin: unknown field; did you mean" in msg


def test_empty_strata_is_an_error() -> None:
    data = base()
    quality_value(data, 1)["strata"] = []
    assert "measurementSets[0].measurements[1].value.strata:" in error_of(data)


# --- reading files ------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="submission file not found"):
        load_submission(tmp_path / "nope.json")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text("  \n", encoding="utf-8")
    with pytest.raises(InputError, match="the file is empty"):
        load_submission(path)


def test_not_json_has_a_location(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "entityType": individual\n}\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_submission(path)
    (diag,) = info.value.diagnostics
    assert "not valid JSON" in diag.message
    assert diag.location == Location(str(path), 2, 17)
    assert "^" in diag.render()


def test_duplicate_json_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text('{"entityType": "group", "entityType": "individual"}', encoding="utf-8")
    with pytest.raises(InputError, match='duplicate key "entityType"'):
        load_submission(path)


def test_top_level_must_be_an_object() -> None:
    assert "expected a QPP submission object" in error_of([base()])


def test_wrapped_submission_is_unwrapped() -> None:
    sub = parse_submission({"data": {"submission": base()}})
    assert sub.taxpayerIdentificationNumber == "000456789"
    data = base()
    quality_value(data)["performanceMet"] = "80"
    msg = error_of({"data": {"submission": data}})
    assert "data.submission.measurementSets[0].measurements[0].value.performanceMet" in msg


def test_source_names_the_file(tmp_path: Path) -> None:
    data = base()
    data["taxpayerIdentificationNumber"] = "x"
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match=rf"{path.name}: taxpayerIdentificationNumber:"):
        load_submission(path)


# --- real CMS samples ---------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [p for p in samples("qpp-conversion-tool", "*.json")
     if p.name not in ("clinicalDocument.json", "scopedConversionFixture.json")]
    + samples("qpp-submissions-docs", "submission-example-*.json")
    + samples("qpp-submissions-docs", "scoring-example-submission-input.json")
    + samples("qpp-submissions-schema", "submission.json"),
    ids=lambda p: p.name,
)
def test_real_samples_parse_and_redate(path: Path) -> None:
    sub = parse_submission(sample_data(path), source=str(path))
    assert sub.measurementSets
    moved = sub.with_year(2024)
    assert moved.performanceYear == 2024
    assert moved.problems() == []
    for old, new in zip(sub.measurementSets, moved.measurementSets):
        assert new.performanceStart == old.performanceStart.replace(year=2024)
        assert new.performanceEnd == old.performanceEnd.replace(year=2024)
    assert sub.performanceYear != 2024 or sub == moved
    record = moved.to_record()
    assert record["performanceYear"] == Decimal(2024)
    assert not any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in all_leaves(record))


def test_placeholder_year_sample_is_rejected_as_is() -> None:
    path = SAMPLES / "qpp-submissions-docs" / "submission-example-ia.json"
    data = json.loads(sample_text(path))
    msg = error_of(data)
    assert "performanceYear: expected an integer" in msg
    assert "measurementSets[0].performanceStart: expected a date as YYYY-MM-DD" in msg


def test_conversion_tool_mvp_fixture_id_needs_a_real_mvp_id() -> None:
    """clinicalDocument.json uses the tool's test constant "MVP01123", not a CMS MVP id."""
    data = sample_data(SAMPLES / "qpp-conversion-tool" / "clinicalDocument.json")
    assert "measurementSets[0].programName" in error_of(data)
    for ms in data["measurementSets"]:
        ms["programName"] = "G0053"
    sub = parse_submission(data)
    assert sub.performanceYear == 2018
    assert sub.with_year(2024).problems() == []


def test_scoped_conversion_fixture_sections_parse() -> None:
    """scopedConversionFixture.json is a bag of fixtures; its submission and sets parse."""
    fixtures = sample_data(SAMPLES / "qpp-conversion-tool" / "scopedConversionFixture.json")
    sub = parse_submission(fixtures["CLINICAL_DOCUMENT"])
    assert [ms.category for ms in sub.measurementSets] == ["quality", "pi", "ia"]
    for key in ("PI_SECTION_V2", "IA_SECTION", "MEASURE_SECTION_V2"):
        MeasurementSet.model_validate(fixtures[key])


def test_cms_scoring_example_input_details() -> None:
    sub = parse_submission(sample_data(SAMPLES / "qpp-submissions-docs" / "scoring-example-submission-input.json"))
    assert sub.entityType == "group" and sub.nationalProviderIdentifier is None
    assert [ms.category for ms in sub.measurementSets] == ["ia", "quality", "pi"]  # "aci" read as pi
    value = sub.to_record()["measurementSets"][1]["measurements"][0]["value"]
    assert value["eligiblePopulationExclusion"] == Decimal(0)  # null count → 0
    assert value["performanceRate"] == Decimal(100)


# --- with_year and to_record --------------------------------------------------


def test_with_year_redates_everything() -> None:
    sub = parse_submission(base()).with_year(2023)
    assert sub.performanceYear == 2023
    assert {(ms.performanceStart.year, ms.performanceEnd.year) for ms in sub.measurementSets} == {(2023, 2023)}
    assert sub.measurementSets[1].performanceEnd == date(2023, 3, 31)
    assert sub.problems() == []


def test_with_year_keeps_leap_day_valid() -> None:
    data = base()
    data["measurementSets"][1]["performanceEnd"] = "2024-02-29"
    assert parse_submission(data).with_year(2023).measurementSets[1].performanceEnd == date(2023, 2, 28)


def test_with_year_does_not_change_the_original() -> None:
    sub = parse_submission(base())
    sub.with_year(2023)
    assert sub.performanceYear == 2024 and sub.measurementSets[0].performanceStart.year == 2024


def test_to_record_is_plain_with_decimals() -> None:
    record = parse_submission(base()).to_record()
    assert record["performanceYear"] == Decimal(2024) and record["entityId"] is None
    quality, pi, ia = record["measurementSets"]
    assert quality["performanceStart"] == "2024-01-01" and pi["programName"] == "mips"
    single = quality["measurements"][0]["value"]
    assert single == {
        "isEndToEndReported": True, "performanceMet": Decimal(80), "performanceNotMet": Decimal(10),
        "eligiblePopulation": Decimal(100), "eligiblePopulationExclusion": Decimal(5),
        "eligiblePopulationException": Decimal(0), "reportingRate": None, "performanceRate": None,
    }
    stratum = quality["measurements"][1]["value"]["strata"][0]
    assert stratum["stratum"] == "14days" and stratum["performanceNotMet"] == Decimal(0)
    assert pi["measurements"][0]["value"] == {"numerator": Decimal(49), "denominator": Decimal(115)}
    assert pi["measurements"][1]["value"] is True
    assert quality["measurements"][2]["value"]["observationInstances"] == Decimal(80)
    assert ia["cehrtId"] is None
    for leaf in all_leaves(record):
        assert leaf is None or isinstance(leaf, (bool, str, Decimal)), leaf
    json.dumps(record, default=str)  # plain enough to serialise


def test_submission_is_immutable() -> None:
    sub = parse_submission(base())
    with pytest.raises(ValidationError):
        sub.performanceYear = 2023  # type: ignore[misc]


# --- error formatting ---------------------------------------------------------


def test_format_path() -> None:
    assert format_path(("measurementSets", 0, "measurements", 2, "value", "performanceMet")) == \
        "measurementSets[0].measurements[2].value.performanceMet"
    assert format_path(()) == ""


def test_clean_loc_drops_pydantic_tags_but_keeps_user_keys() -> None:
    loc = ("a", 0, "function-after[check(), str]", "value", "bool", "SingleRate", "x")
    assert clean_loc(loc) == ("a", 0, "value", "x")
    assert clean_loc(("a", "Weird"), keep_last=True) == ("a", "Weird")


def test_where_attaches_locations() -> None:
    with pytest.raises(ValidationError) as info:
        Context.model_validate({"entity": {"rural": "yes"}})
    seen: list[tuple] = []

    def where(path: tuple) -> Location:
        seen.append(path)
        return Location("ctx.yaml", 3, 3)

    err = validation_error_to_input_error(info.value, "ctx.yaml", where)
    assert err.diagnostics[0].location == Location("ctx.yaml", 3, 3)
    assert seen == [("entity", "rural")]
    assert err.diagnostics[0].message == 'ctx.yaml: entity.rural: expected true or false, got the string "yes"'


# --- context ------------------------------------------------------------------

FULL_CONTEXT: dict[str, Any] = {
    "performance_year": 2024,
    "reporting_option": "app",
    "entity": {"type": "group", "clinicians": 12, "small_practice": True, "rural": True, "hpsa": False,
               "non_patient_facing": False, "hospital_based": False, "asc_based": False,
               "clinician_type": "nurse_practitioner", "apm_participant": True},
    "eligibility": {"allowed_charges": Decimal("120000"), "part_b_patients": 300, "covered_services": 400},
    "election": "opt_in",
    "exceptions": {"quality": False, "cost": True, "ia": False, "pi": True},
    "auto_euc": False,
    "cost": {"measures": [{"measure_id": "TPCC_1", "points": Decimal("6.5")}, {"measure_id": "MSPB_1", "score": 3}],
             "prior_score": Decimal("55.0")},
    "quality": {"admin_claims": [{"measure_id": "479", "points": Decimal("7.2")},
                                 {"measure_id": "484", "performance_rate": Decimal("12.5")}],
                "prior_achievement": Decimal("60.0"), "denominator_reduction": 0},
    "complex_patient_bonus": Decimal("2.5"),
    "category_scores": {"quality": Decimal("80.0")},
    "facility_based": {"quality": 70, "cost": Decimal("50.5")},
    "pi_rollup": [{"npi": "1234567890", "score": 90, "bonus": 5}],
}


def test_context_defaults() -> None:
    record = Context().to_record()
    assert record["performance_year"] is None and record["reporting_option"] == "traditional"
    # entity.type is settled from the submission when scoring (Context.for_submission)
    assert record["entity"]["type"] is None and record["entity"]["clinicians"] == Decimal(1)
    assert record["election"] == "none" and record["complex_patient_bonus"] == Decimal(0)
    assert record["category_scores"] == {"quality": None, "cost": None, "ia": None, "pi": None}
    for key in ("eligibility", "cost", "quality", "facility_based", "pi_rollup"):
        assert record[key] is None
    assert record["exceptions"] == {"quality": False, "cost": False, "ia": False, "pi": False}
    assert load_context(None) == Context() and parse_context(None) == Context()


def test_full_context_record() -> None:
    record = parse_context(FULL_CONTEXT).to_record()
    assert set(record) == set(Context.model_fields)
    assert record["entity"]["clinicians"] == Decimal(12)
    assert record["cost"]["measures"][0] == {"measure_id": "TPCC_1", "points": Decimal("6.5"), "score": None}
    assert record["quality"]["admin_claims"][1]["performance_rate"] == Decimal("12.5")
    assert record["category_scores"] == {"quality": Decimal("80.0"), "cost": None, "ia": None, "pi": None}
    assert record["pi_rollup"] == [{"npi": "1234567890", "score": Decimal(90), "bonus": Decimal(5)}]
    for leaf in all_leaves(record):
        assert leaf is None or isinstance(leaf, (bool, str, Decimal)), leaf


def test_context_election_null_means_none() -> None:
    assert parse_context({"election": None}).election == "none"
    assert parse_context({"election": "none"}).election == "none"


def test_context_unknown_key_nested() -> None:
    msg = context_error({"entity": {"smal_practice": True}})
    assert "<context>: entity.smal_practice: unknown field" in msg and "did you mean 'small_practice'?" in msg


def test_context_unknown_top_level_key() -> None:
    assert "<context>: electon: unknown field" in context_error({"electon": "opt_in"})


def test_context_number_as_string_is_an_error() -> None:
    msg = context_error({"complex_patient_bonus": "2.5", "entity": {"clinicians": "3"}})
    assert "complex_patient_bonus: expected a number" in msg
    assert "entity.clinicians: expected an integer" in msg


def test_context_number_as_bool_is_an_error() -> None:
    assert "eligibility.allowed_charges: expected a number, got the boolean true" in context_error(
        {"eligibility": {"allowed_charges": True, "part_b_patients": 1, "covered_services": 1}})


def test_context_bool_as_int_is_an_error() -> None:
    assert "exceptions.pi: expected true or false" in context_error({"exceptions": {"pi": 1}})


def test_context_ranges() -> None:
    msg = context_error({"complex_patient_bonus": 11, "category_scores": {"ia": 101}, "entity": {"clinicians": 0}})
    assert "complex_patient_bonus: Input should be less than or equal to 10" in msg
    assert "category_scores.ia: Input should be less than or equal to 100" in msg
    assert "entity.clinicians: Input should be greater than or equal to 1" in msg


def test_context_enums() -> None:
    msg = context_error({"reporting_option": "mvp", "election": "optin", "entity": {"type": "apm"}})
    assert "reporting_option: Input should be 'traditional' or 'app'" in msg
    assert "election: Input should be 'none', 'opt_in' or 'voluntary'" in msg
    assert "entity.type: Input should be" in msg


def test_context_cost_measure_needs_points_or_score() -> None:
    msg = context_error({"cost": {"measures": [{"measure_id": "TPCC_1"}]}})
    assert "cost.measures[0]: give exactly one of points or score" in msg
    msg = context_error({"cost": {"measures": [{"measure_id": "TPCC_1", "points": 1, "score": 2}]}})
    assert "cost.measures[0]: give exactly one of points or score" in msg


def test_context_admin_claim_needs_points_or_rate() -> None:
    msg = context_error({"quality": {"admin_claims": [{"measure_id": "479"}]}})
    assert "quality.admin_claims[0]: give exactly one of points or performance_rate" in msg


def test_context_measure_id_must_be_a_string() -> None:
    msg = context_error({"quality": {"admin_claims": [{"measure_id": 479, "points": 5}]}})
    assert "quality.admin_claims[0].measure_id: expected a string, got int 479 (quote it)" in msg


def test_context_duplicates() -> None:
    msg = context_error({"cost": {"measures": [{"measure_id": "TPCC_1", "points": 1},
                                               {"measure_id": "TPCC_1", "points": 2}]},
                         "pi_rollup": [{"npi": "1234567890", "score": 1}, {"npi": "1234567890", "score": 2}]})
    assert "cost.measures[1].measure_id: TPCC_1 is given twice" in msg
    assert "pi_rollup[1].npi: 1234567890 is given twice" in msg


def test_context_pi_rollup_npi_digits() -> None:
    assert "pi_rollup[0].npi: npi must be exactly 10 digits" in context_error(
        {"pi_rollup": [{"npi": "123", "score": 50}]})


def test_context_must_be_a_mapping() -> None:
    assert "expected a mapping" in context_error(["performance_year", 2024])


def test_context_json_file(tmp_path: Path) -> None:
    path = tmp_path / "ctx.json"
    path.write_text('{"complex_patient_bonus": 2.15, "entity": {"rural": true}}', encoding="utf-8")
    ctx = load_context(path)
    assert ctx.complex_patient_bonus == Decimal("2.15") and ctx.entity.rural is True
    path.write_text('{"complex_patient_bonus": NaN}', encoding="utf-8")
    with pytest.raises(InputError, match="NaN"):
        load_context(path)


def test_context_missing_file_and_bad_extension(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_context(tmp_path / "nope.json")
    with pytest.raises(InputError, match="must end in .json, .yaml or .yml"):
        load_context(tmp_path / "ctx.toml")


@pytest.mark.skipif(not HAVE_YAMLSAFE, reason="engine.yamlsafe is not there yet")
def test_context_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "ctx.yaml"
    path.write_text(
        "performance_year: 2024\n"
        "election: none\n"
        "entity:\n"
        "  type: group\n"
        "  clinicians: 3\n"
        "cost:\n"
        "  measures:\n"
        "    - {measure_id: TPCC_1, points: 6.5}\n"
        "complex_patient_bonus: 2.5\n",
        encoding="utf-8",
    )
    ctx = load_context(path)
    assert ctx.election == "none" and ctx.entity.clinicians == 3
    assert ctx.cost is not None and ctx.cost.measures[0].points == Decimal("6.5")
    assert ctx.complex_patient_bonus == Decimal("2.5")


@pytest.mark.skipif(not HAVE_YAMLSAFE, reason="engine.yamlsafe is not there yet")
def test_context_yaml_error_has_location(tmp_path: Path) -> None:
    path = tmp_path / "ctx.yaml"
    path.write_text("entity:\n  type: group\n  rurl: true\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_context(path)
    (diag,) = info.value.diagnostics
    assert diag.message == f"{path}: entity.rurl: unknown field"
    assert diag.location is not None and (diag.location.file, diag.location.line) == (str(path), 3)
    assert diag.hint == "did you mean 'rural'?"


@pytest.mark.skipif(not HAVE_YAMLSAFE, reason="engine.yamlsafe is not there yet")
def test_context_yaml_empty_and_broken(tmp_path: Path) -> None:
    path = tmp_path / "ctx.yml"
    path.write_text("# nothing special\n", encoding="utf-8")
    assert load_context(path) == Context()
    path.write_text("entity: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError):
        load_context(path)
    with pytest.raises(InputError, match="not found"):
        load_context(tmp_path / "missing.yaml")
