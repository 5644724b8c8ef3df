"""`fast_submission_value`: the plain-Python fast path population tools use must give exactly
`to_value(parse_submission(s).to_record())`, or None — never a different value, and never a value
for a submission pydantic refuses."""

from __future__ import annotations

import copy
import json
import random
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mips_rules.dsl.errors import InputError
from mips_rules.dsl.values import to_value
from mips_rules.engine.inputs import submission as submission_module
from mips_rules.engine.inputs.submission import fast_submission_value, parse_submission
from mips_rules.engine.inputs.validation import parse_json_text, read_text_file
from mips_rules.engine.populations.synth import Synthesizer
from mips_rules.engine.years.loader import load_year

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
EXAMPLES = ROOT / "examples"
SAMPLES = ROOT.parent / "shared" / "cms" / "samples"
PLACEHOLDER = "< performanceYearToBeReported >"
YEARS = (2023, 2024, 2025, 2026)

_SYNTHETIC: dict[int, list[Any]] = {}


def synthetic(y: int, n: int = 300) -> list[Any]:
    """The submissions of a year's synthetic population, normalised as benchmarks/bench.py does."""
    if y not in _SYNTHETIC:
        year = load_year(y, RULES)
        _SYNTHETIC[y] = [json.loads(json.dumps(r), parse_float=Decimal)["submission"]
                         for r in Synthesizer(year, 1).records(n)]
    return _SYNTHETIC[y]


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (Decimal('1') is not 1, nor Decimal('1.0'),
    nor True; a tuple is not a list), with keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, float):
        return repr(a) == repr(b)
    return bool(a == b)


def reference(data: Any) -> Any:
    """The slow path's value (raises InputError for a bad submission)."""
    return to_value(parse_submission(data).to_record())


def check(data: Any) -> tuple[Any, bool]:
    """The fast value (None or exactly the reference) and whether parse_submission accepts the data."""
    snapshot = copy.deepcopy(data)
    fast = fast_submission_value(data)
    assert same(data, snapshot), "the fast path must not change its input"
    try:
        expected = reference(data)
    except InputError:
        assert fast is None, f"fast path accepted a submission parse_submission refuses: {data!r}"
        return None, False
    assert fast is None or same(fast, expected), f"fast path differs for {data!r}"
    return fast, True


def test_fast_path_is_switched_on() -> None:
    """The models still have exactly the fields the fast path mirrors."""
    assert submission_module._FAST_READY


# --- normal input: the fast path must take it ---------------------------------------------------


@pytest.mark.parametrize("y", YEARS)
def test_synthetic_submissions(y: int) -> None:
    for sub in synthetic(y):
        fast, ok = check(sub)
        assert ok and fast is not None


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_example_submissions(path: Path) -> None:
    data = parse_json_text(read_text_file(path, "submission"), str(path))  # as load_submission reads it
    fast, ok = check(data)
    assert ok and fast is not None


def _cms_samples() -> list[Path]:
    found = sorted(SAMPLES.rglob("*.json")) if SAMPLES.exists() else []
    return found or [SAMPLES / "absent.json"]


@pytest.mark.parametrize("path", _cms_samples(), ids=lambda p: p.name)
def test_cms_samples(path: Path) -> None:
    """CMS's QPP JSON samples, as is and with their year placeholders filled in (some are not
    submissions at all: those must give None)."""
    if not path.exists():
        pytest.skip(f"{path} is absent (CMS samples are not beside this checkout)")
    text = path.read_text(encoding="utf-8")
    check(json.loads(text, parse_float=Decimal))
    filled = text.replace(f'"{PLACEHOLDER}"', "2024").replace(f"{PLACEHOLDER}-", "2024-")
    fast, ok = check(parse_json_text(filled, str(path)))
    assert fast is not None or not ok or path.name == "scopedConversionFixture.json"


# --- every kind of value ------------------------------------------------------------------------


def rich() -> dict[str, Any]:
    """A valid submission touching every value kind, optional field and normalisation."""
    return {
        "entityType": "individual",
        "taxpayerIdentificationNumber": "000456789",
        "nationalProviderIdentifier": "9876543210",
        "programName": "app1",
        "performanceYear": 2024,
        "entityId": None,
        "measurementSets": [
            {
                "category": "quality",
                "submissionMethod": "registry",
                "performanceStart": "2024-01-01",
                "performanceEnd": "2024-12-31",
                "cehrtId": "0015HXYZ",
                "source": "provider",
                "submitterType": None,
                "measurements": [
                    {"measureId": "001", "value": {
                        "performanceMet": 50, "eligiblePopulation": 100, "performanceNotMet": 40,
                        "eligiblePopulationExclusion": None, "eligiblePopulationException": 10,
                        "isEndToEndReported": True, "reportingRate": Decimal("87.50"),
                        "performanceRate": 55, "observationComment": ["a", 1, {"b": Decimal("2.5")}],
                    }},
                    {"measureId": "005", "value": {
                        "isEndToEndReported": False, "reportingRate": 100, "performanceRate": None,
                        "vendorNote": "x",
                        "strata": [
                            {"stratum": "overall", "performanceMet": 3, "eligiblePopulation": 9},
                            {"stratum": "30days", "performanceMet": 1, "eligiblePopulation": 2,
                             "performanceNotMet": 1, "detail": None},
                        ],
                    }},
                    {"measureId": "QCDR1", "value": {
                        "numerator": Decimal("-2.75"), "denominator": 4, "observationInstances": 7,
                        "numeratorExclusion": 1, "performanceRate": Decimal("1E+3"), "reportingRate": None,
                    }},
                    {"measureId": "QCDR2", "value": {"numerator": 1, "denominator": Decimal("0.5"), "unit": "min"}},
                    {"measureId": "479", "value": Decimal("0.0153")},
                    {"measureId": "480", "value": 7},
                ],
            },
            {
                "category": "aci",
                "submissionMethod": "electronicHealthRecord",
                "programName": None,
                "performanceStart": "2024-02-29",
                "performanceEnd": "2024-05-28",
                "measurements": [
                    {"measureId": "PI_EP_1", "value": {"numerator": 0, "denominator": 0}},
                    {"measureId": "PI_INFBLO_1", "value": True},
                ],
            },
            {
                "category": "ia",
                "submissionMethod": "claims",
                "programName": "G0053",
                "performanceStart": "2024-07-01",
                "performanceEnd": "2024-07-01",
                "measurements": [{"measureId": "IA_EPA_1", "value": False}],
            },
            {
                "category": "pi",
                "submissionMethod": "registry",
                "performanceStart": "2024-01-01",
                "performanceEnd": "2024-03-31",
                "measurements": [],
            },
        ],
    }


def test_every_kind_of_value_takes_the_fast_path() -> None:
    fast, ok = check(rich())
    assert ok and fast is not None
    sets = fast["measurementSets"]
    assert [s["programName"] for s in sets] == ["app1", "app1", "G0053", "app1"]
    assert sets[1]["category"] == "pi"
    assert isinstance(sets[0]["measurements"], tuple)
    assert sets[0]["measurements"][0]["value"]["observationComment"] == ("a", Decimal(1), {"b": Decimal("2.5")})


@pytest.mark.parametrize("change", [
    lambda d: d.pop("performanceYear"),
    lambda d: d.pop("programName"),
    lambda d: d.pop("measurementSets"),
    lambda d: d.update(entityType="group", nationalProviderIdentifier=None),
    lambda d: d.update(entityType="apm", taxpayerIdentificationNumber=None, nationalProviderIdentifier=None,
                       entityId="A1234"),
    lambda d: d.update(entityType="subgroup", nationalProviderIdentifier=None, entityId="SG-1"),
    lambda d: d.update(performanceYear=None),
])
def test_variants_take_the_fast_path(change: Any) -> None:
    data = rich()
    change(data)
    fast, ok = check(data)
    assert ok and fast is not None


def test_wrapped_submission() -> None:
    """CMS API responses wrap the submission as {"data": {"submission": {...}}} (see _unwrap)."""
    fast, ok = check({"data": {"submission": rich()}})
    assert ok and fast is not None and same(fast, reference(rich()))
    for wrapped in ({"data": rich()}, {"data": {"submission": rich(), "x": 1}}, {"data": {"submission": [1]}}):
        assert check(wrapped) == (None, False)


# --- bad input: None, and parse_submission still says what is wrong ---------------------------


def _bad(path: tuple[Any, ...], value: Any = ..., *, delete: bool = False) -> dict[str, Any]:
    data = rich()
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


_SET0, _SET1 = ("measurementSets", 0), ("measurementSets", 1)
_SINGLE = _SET0 + ("measurements", 0, "value")
_MULTI = _SET0 + ("measurements", 1, "value")
_NONPROP = _SET0 + ("measurements", 2, "value")
_PROP = _SET1 + ("measurements", 0, "value")

INVALID = {
    "not an object": [rich()],
    "missing entityType": _bad(("entityType",), delete=True),
    "unknown top-level key": _bad(("measurementSet",), []),
    "missing TIN": _bad(("taxpayerIdentificationNumber",), None),
    "TIN too short": _bad(("taxpayerIdentificationNumber",), "12345678"),
    "TIN as number": _bad(("taxpayerIdentificationNumber",), 456789),
    "NPI on a group": _bad(("entityType",), "group"),
    "apm without entityId": _bad(("entityType",), "apm"),
    "blank entityId": _bad(("entityId",), "  "),
    "bad programName": _bad(("programName",), "MVP01123"),
    "year as string": _bad(("performanceYear",), "2024"),
    "year as bool": _bad(("performanceYear",), True),
    "three-digit year": _bad(("performanceYear",), 224),
    "date outside the year": _bad(_SET0 + ("performanceEnd",), "2025-01-01"),
    "end before start": _bad(_SET0 + ("performanceEnd",), "2023-12-31"),
    "impossible date": _bad(_SET0 + ("performanceEnd",), "2024-02-30"),
    "timestamp": _bad(_SET0 + ("performanceEnd",), "2024-12-31T00:00:00"),
    "unknown category": _bad(_SET0 + ("category",), "cost"),
    "unknown method": _bad(_SET0 + ("submissionMethod",), "fax"),
    "measurements missing": _bad(_SET0 + ("measurements",), delete=True),
    "unknown set key": _bad(_SET0 + ("measureIds",), "x"),
    "duplicate measureId": _bad(_SET0 + ("measurements", 1, "measureId"), "001"),
    "measurement without value": _bad(_SET0 + ("measurements", 0, "value"), delete=True),
    "blank measureId": _bad(_SET0 + ("measurements", 0, "measureId"), ""),
    "bool in quality": _bad(_SET0 + ("measurements", 0, "value"), True),
    "number in ia": _bad(("measurementSets", 2, "measurements", 0, "value"), 1),
    "proportion in ia": _bad(("measurementSets", 2, "measurements", 0, "value"), {"numerator": 1, "denominator": 2}),
    "null value": _bad(_SINGLE, None),
    "string value": _bad(_SINGLE, "true"),
    "NaN value": _bad(_SET0 + ("measurements", 4, "value"), Decimal("NaN")),
    "count as string": _bad(_SINGLE + ("performanceMet",), "50"),
    "negative count": _bad(_SINGLE + ("performanceNotMet",), -1),
    "fractional count": _bad(_SINGLE + ("performanceMet",), Decimal("50.5")),
    "count as bool": _bad(_SINGLE + ("performanceMet",), True),
    "counted exceeds population": _bad(_SINGLE + ("eligiblePopulation",), 99),
    "rate over 100": _bad(_SINGLE + ("reportingRate",), Decimal("100.01")),
    "negative rate": _bad(_SINGLE + ("performanceRate",), -1),
    "misspelt field": _bad(_SINGLE + ("performanceMett",), 1),
    "infinite extra": _bad(_SINGLE + ("note",), Decimal("Infinity")),
    "empty strata": _bad(_MULTI + ("strata",), []),
    "duplicate stratum": _bad(_MULTI + ("strata", 1, "stratum"), "overall"),
    "stratum over its population": _bad(_MULTI + ("strata", 0, "performanceMet"), 10),
    "stratum without name": _bad(_MULTI + ("strata", 0, "stratum"), delete=True),
    "non-proportion without numerator": _bad(_NONPROP + ("numerator",), delete=True),
    "non-proportion string": _bad(_NONPROP + ("denominator",), "4"),
    "numerator over denominator": _bad(_PROP + ("numerator",), 1),
    "proportion without denominator": _bad(_PROP + ("denominator",), delete=True),
    "negative proportion": _bad(_PROP + ("numerator",), -1),
    "end-to-end as string": _bad(_SINGLE + ("isEndToEndReported",), "yes"),
}


@pytest.mark.parametrize("data", list(INVALID.values()), ids=list(INVALID))
def test_invalid_submissions_give_none(data: Any) -> None:
    assert fast_submission_value(data) is None
    with pytest.raises(InputError):
        parse_submission(data)


CONSERVATIVE = {
    "date object": _bad(_SET0 + ("performanceEnd",), date(2024, 12, 31)),
    "float value": _bad(_SET0 + ("measurements", 4, "value"), 0.5),
    "float count": _bad(_SINGLE + ("performanceMet",), 50.0),
    "Decimal count": _bad(_SINGLE + ("performanceMet",), Decimal("50")),
    "float rate": _bad(_SINGLE + ("performanceRate",), 55.5),
    "Decimal year": _bad(("performanceYear",), Decimal("2024")),
    "TIN with a trailing newline": _bad(("taxpayerIdentificationNumber",), "000456789\n"),
    "tuple of measurements": _bad(_SET0 + ("measurements",), tuple(rich()["measurementSets"][0]["measurements"])),
}


@pytest.mark.parametrize("data", list(CONSERVATIVE.values()), ids=list(CONSERVATIVE))
def test_unusual_valid_submissions_are_left_to_pydantic(data: Any) -> None:
    """Input pydantic accepts but the fast path does not vouch for: None, and the slow path works."""
    assert fast_submission_value(data) is None
    parse_submission(data)


# --- mutations ------------------------------------------------------------------------------

_REPLACEMENTS: list[Any] = [
    None, True, False, 0, 1, -1, 5, 100, 101, 2024, 10**20, 1.0, 2.5, float("nan"),
    Decimal("1.5"), Decimal("-0"), Decimal("0E-3"), Decimal("100"), Decimal("100.000"), Decimal("101"),
    Decimal("7"), Decimal("7.0"), Decimal("NaN"), Decimal("Infinity"), Decimal("1E+2"), Decimal("-3.25"),
    "", " ", "x", "5", "true", "2024-01-01", "2024-12-31", "2024-02-30", "2024-1-1", "2023-06-30",
    "2024-01-01T00:00:00", "２０２４-01-01", "aci", "quality", "pi", "ia", "registry", "claims", "G0053",
    "mips", "app_plus", "pcf", "MVP01", "G0053\n", "000456789", "1234567890", "123456789\n", "١٢٣٤٥٦٧٨٩",
    "individual", "group", "apm", "overall", "001",
    [], [{}], [1, 2], {}, {"a": 1}, ("x",), date(2024, 1, 1),
    {"performanceMet": 1, "eligiblePopulation": 2}, {"numerator": 1, "denominator": 2},
    {"numerator": Decimal("1.5"), "denominator": 2, "observationInstances": 3},
    {"strata": [{"stratum": "a", "performanceMet": 1, "eligiblePopulation": 1}]}, {"strata": []},
]
_NEW_KEYS = ["comment", "performanceMett", "numerater", "stratum", "strata", "performanceMet", "numerator",
             "denominator", "observationInstances", "reportingRate", "programName", "entityId", "_private",
             "model_x", "value", "measureId", "category", "data", "submission", "extraField", "isEndToEndReported"]


def _containers(node: Any, out: list[Any]) -> list[Any]:
    if isinstance(node, (dict, list)):
        out.append(node)
        for child in (node.values() if isinstance(node, dict) else node):
            _containers(child, out)
    return out


def _mutate(data: Any, rng: random.Random) -> Any:
    """One random change somewhere: replace, delete, add or rename a key, duplicate or drop a list item."""
    target = rng.choice(_containers(data, []))
    op = rng.random()
    if isinstance(target, dict):
        keys = list(target)
        if not keys or op < 0.15:
            target[rng.choice(_NEW_KEYS)] = copy.deepcopy(rng.choice(_REPLACEMENTS))
        elif op < 0.3:
            del target[rng.choice(keys)]
        elif op < 0.4:
            key = rng.choice(keys)
            target[rng.choice(_NEW_KEYS)] = target.pop(key)
        elif op < 0.5:
            key = rng.choice(keys)
            value = target[key]  # the same number as a Decimal, or a list as a tuple
            target[key] = Decimal(value) if type(value) is int else tuple(value) if type(value) is list else None
        else:
            target[rng.choice(keys)] = copy.deepcopy(rng.choice(_REPLACEMENTS))
    elif target:
        i = rng.randrange(len(target))
        if op < 0.3:
            target.append(copy.deepcopy(target[i]))
        elif op < 0.5:
            del target[i]
        else:
            target[i] = copy.deepcopy(rng.choice(_REPLACEMENTS))
    else:
        target.append(copy.deepcopy(rng.choice(_REPLACEMENTS)))
    return data


def test_random_mutations_agree_with_pydantic() -> None:
    rng = random.Random(20240613)
    bases = [rich(), {"data": {"submission": rich()}}] + synthetic(2024)[:40] + synthetic(2026)[:20]
    fast_count = accepted = refused = 0
    for _ in range(6000):
        data = copy.deepcopy(rng.choice(bases))
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            data = _mutate(data, rng)
        fast, ok = check(data)
        fast_count += fast is not None
        accepted += ok
        refused += not ok
    # Both sides exercised: many mutants valid (and taken fast), many refused.
    assert fast_count > 500 and refused > 1500 and accepted >= fast_count


def test_numbers_of_every_type_in_every_numeric_field() -> None:
    """Each numeric field of each value kind with ints, Decimals, floats, bools, strings and specials."""
    numbers: list[Any] = [0, 3, -3, 100, 101, 10**30, Decimal("3"), Decimal("3.0"), Decimal("-0"), Decimal("2.5"),
                          Decimal("100.0"), Decimal("1E+1"), Decimal("sNaN"), Decimal("-Infinity"), 3.0, True,
                          "3", None]
    data = rich()
    paths = [_SINGLE + (k,) for k in ("performanceMet", "eligiblePopulation", "performanceNotMet",
                                      "eligiblePopulationExclusion", "eligiblePopulationException",
                                      "reportingRate", "performanceRate")]
    paths += [_MULTI + (k,) for k in ("reportingRate", "performanceRate")]
    paths += [_MULTI + ("strata", 1, k) for k in ("performanceMet", "eligiblePopulation", "performanceNotMet")]
    paths += [_NONPROP + (k,) for k in ("numerator", "denominator", "denominatorException", "numeratorExclusion",
                                        "observationInstances", "reportingRate", "performanceRate")]
    paths += [_PROP + (k,) for k in ("numerator", "denominator")]
    paths += [_SET0 + ("measurements", 4, "value"), ("performanceYear",)]
    taken = 0
    for path in paths:
        for number in numbers:
            data = _bad(path, number)
            fast, _ = check(data)
            taken += fast is not None
    assert taken > 20
