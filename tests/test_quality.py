"""The quality category, with numbers worked by hand from the spec and CMS's benchmarks.

Benchmarks quoted in comments are CMS's (qpp-measures-data benchmarks/<year>.json),
as shipped in rules/<year>/benchmarks.yaml.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal as D

import pytest

from mips_rules.dsl.values import to_value
from mips_rules.engine.inputs.context import parse_context
from mips_rules.engine.scoring.score import evaluate, score
from mips_rules.engine.inputs.submission import parse_submission

from conftest import RULES, shared_path


def rate(met, not_met, eligible=None, excl=0, exc=0):
    return {"performanceMet": met, "performanceNotMet": not_met,
            "eligiblePopulation": eligible if eligible is not None else met + not_met + excl + exc,
            "eligiblePopulationExclusion": excl, "eligiblePopulationException": exc}


def submission(year, sets, entity="individual"):
    data = {"entityType": entity, "taxpayerIdentificationNumber": "000123456", "performanceYear": year,
            "measurementSets": [{"category": "quality", "submissionMethod": method, "programName": "mips",
                                 "performanceStart": f"{year}-01-01", "performanceEnd": f"{year}-12-31",
                                 "measurements": [{"measureId": mid, "value": value} for mid, value in measures]}
                                for method, measures in sets]}
    if entity == "individual":
        data["nationalProviderIdentifier"] = "1234567893"
    return parse_submission(data)


def quality(year, sub, **context):
    ctx = parse_context({"performance_year": year.performance_year, **context})
    return score(year, sub, ctx).report["categories"]["quality"]


def by_id(q):
    return {(m["measure_id"], m["submission_method"]): m for m in q["measures"]}


def q4(x):
    return D(x).quantize(D("0.0001"), rounding=ROUND_HALF_UP)


def close(actual, expected):
    """Equal to 24 decimals: the rules compute with 34 significant digits, this test with 28."""
    return abs(D(actual) - D(expected)) < D("1e-24")


# ---------------------------------------------------------------------------
# Decile interpolation
# ---------------------------------------------------------------------------

def decile(year, value, percentiles, inverse=False):
    ev = evaluate(year, None, parse_context({}))
    bench = to_value({"inverse": inverse, "percentiles": {f"p{k}": D(str(v)) for k, v in percentiles.items()}})
    return ev.call("decile_points", (D(str(value)), bench))


def test_cms_worked_example(year_2024):
    # CMS scoring-engine sample: 82.31 between the decile-8 start 73.08 and the decile-9 start 82.71.
    pct = {1: 1, 10: 10, 20: 20, 30: 30, 40: 40, 50: 50, 60: 60, 70: "73.08", 80: "82.71", 90: 95, 99: 99}
    points = decile(year_2024, "82.31", pct)
    assert close(points, 8 + D("9.23") / D("9.63"))
    assert q4(points) == D("8.9585")


def real_benchmark(year, measure, method):
    rows = json.loads(shared_path("cms", "qpp-measures-data", str(year), "benchmarks.json").read_text())
    row = next(r for r in rows if r["measureId"] == measure and r["submissionMethod"] == method)
    return row["percentiles"], row["isInverse"], row["isToppedOutByProgram"]


@pytest.mark.parametrize("measure, method, value, expected", [
    # 236 eCQM 2024, direct: p1 4.76 … p50 68.98, p60 72, p70 75, p80 78.7, p90 84.04, p99 98.18
    ("236", "electronicHealthRecord", "72", D(7)),  # exactly on the decile-7 start
    ("236", "electronicHealthRecord", "80", 9 + D("1.3") / D("5.34")),
    ("236", "electronicHealthRecord", "4", D(1)),  # below p1
    ("236", "electronicHealthRecord", "99", D(10)),  # above p99
    # 236 registry 2024: CMS's flat benchmark, 1, 10, 20 … 90, 99
    ("236", "registry", "72", 8 + D(2) / D(10)),
    ("236", "registry", "70", D(8)),
    # 001 eCQM 2024, inverse: p99 99.5, p90 93.62, p80 72.21, p70 53.18, p60 41.62, p50 34.15,
    # p40 29.05, p30 24.25, p20 19.83, p10 14.53
    ("001", "electronicHealthRecord", "20", 8 + D("4.25") / D("4.42")),
    ("001", "electronicHealthRecord", "24.25", D(8)),  # on an edge
    ("001", "electronicHealthRecord", "14.53", D(10)),  # at p10: the tenth decile
    ("001", "electronicHealthRecord", "99.9", D(1)),  # worse than p99
    # 130 registry 2024, topped out by program: p1 3.8, p10 68.13, p20 93, p30 98.23, p40 99.65, p50 99.95, p60 100
    ("130", "registry", "99.8", 5 + D("0.15") / D("0.3")),
    ("130", "registry", "100", D(10)),
])
def test_real_benchmarks(year_2024, measure, method, value, expected):
    percentiles, inverse, _ = real_benchmark(2024, measure, method)
    assert close(decile(year_2024, value, percentiles, inverse), expected)


def test_topped_out_cap_and_its_absence_in_the_app(year_2024):
    sub = submission(2024, [("registry", [("130", rate(100, 0))])])
    m = by_id(quality(year_2024, sub))[("130", "registry")]
    assert m["points"] == 7 and m["reason"] == "topped out: capped at 7"
    app = by_id(quality(year_2024, sub, reporting_option="app"))[("130", "registry")]
    assert app["points"] == 10 and app["counted"] is False  # not an APP measure, and never capped there


def test_new_measure_floors(year_2023, year_2024):
    # 497 is new in 2024 (floor 7); 485 is new in 2023, so in its second year in 2024 (floor 5).
    sub = submission(2024, [("registry", [("497", rate(3, 97)),  # p1 0.09, p10 5.02 → 1.5903
                                          ("485", rate(30, 70))])])  # p10 22.58, p20 32.09 → 2.7802
    ms = by_id(quality(year_2024, sub))
    assert ms[("497", "registry")]["points"] == 7
    assert ms[("497", "registry")]["reason"] == "new measure: floor of 7 points"
    assert ms[("485", "registry")]["points"] == 5
    first_year = by_id(quality(year_2023, submission(2023, [("registry", [("485", rate(30, 70))])])))
    assert first_year[("485", "registry")]["points"] == 7


def test_multi_rate_measures_use_the_overall_algorithm(year_2024):
    # 305 (simpleAverage), CMS's own example values: 47 of 60 and 121 of 147 → the mean of the two rates.
    strata = {"strata": [{**rate(47, 13), "stratum": "14Days"}, {**rate(121, 26), "stratum": "34Days"}]}
    # 238 (overallStratumOnly): only the stratum named "overall" counts.
    overall_only = {"strata": [{**rate(50, 50), "stratum": "appropriateDiagnosis"},
                               {**rate(5, 95), "stratum": "overall"}]}
    sub = submission(2024, [("electronicHealthRecord", [("305", strata), ("238", overall_only)])])
    ms = by_id(quality(year_2024, sub))
    expected = (D(47) / 60 + D(121) / 147) / 2 * 100
    assert close(ms[("305", "electronicHealthRecord")]["performance_rate"], expected)
    assert ms[("305", "electronicHealthRecord")]["data_completeness"] == 100
    assert ms[("238", "electronicHealthRecord")]["performance_rate"] == 5
    assert ms[("238", "electronicHealthRecord")]["data_completeness"] == 100


# ---------------------------------------------------------------------------
# Selection
# ---------------------------------------------------------------------------

def tie_break_submission(year):
    return submission(year, [("registry", [
        ("001", rate(35, 65)),  # inverse flat benchmark: 7 + (40 − 35) / (40 − 30) = 7.5, the outcome measure
        ("112", rate(50, 0)), ("226", rate(50, 0)), ("317", rate(50, 0)), ("374", rate(50, 0)),  # p90 = 100 → 10
        ("102", rate(25, 25)), ("250", rate(25, 25)),  # both below p1 → 1 point each
    ])])


def test_tie_break_by_measure_id(year_copy):
    # 004 "We Submitted More Than the Required Number of Measures": 102 and 250 both at 1 point → 102 counts.
    # CMS publishes no 102 registry benchmark; the test gives it one whose p1 is 90, so rate 50 earns 1.
    from mips_rules.engine.years.loader import load_year

    row = ('    {"measure_id": "102", "submission_method": "registry", "inverse": false, "topped_out": false, '
           '"topped_out_by_program": false, "percentiles": {"p1": 90, "p10": 91, "p20": 92, "p30": 93, "p40": 94, '
           '"p50": 95, "p60": 96, "p70": 97, "p80": 98, "p90": 99, "p99": 100}, "benchmark_year": 2022, '
           '"is_high_priority": true, "metric_type": "singlePerformanceRate", "average_performance_rate": 50},\n')
    text = (RULES / "2024" / "benchmarks.json").read_text()
    header = next(line for line in text.splitlines(keepends=True) if line.startswith('  "quality": {'))
    folder = year_copy(2024, edits={"benchmarks.json": [(header, header + row)]})
    year = load_year(None, folder)
    q = quality(year, tie_break_submission(2024))
    ms = by_id(q)
    assert ms[("102", "registry")]["points"] == 1 and ms[("250", "registry")]["points"] == 1
    assert ms[("102", "registry")]["counted"] is True
    assert ms[("250", "registry")]["counted"] is False
    assert ms[("250", "registry")]["reason"] == "not among the 6 counted"
    # 7.5 + 4 × 10 + 1 = 48.5 of 60
    assert close(q["score"], D("48.5") / 60 * 100)


def test_missing_outcome_slot_scores_zero(year_2024):
    sub = submission(2024, [("registry", [("112", rate(50, 0)), ("226", rate(50, 0)), ("317", rate(50, 0)),
                                          ("374", rate(50, 0)), ("047", rate(30, 0)), ("250", rate(25, 25))])])
    q = quality(year_2024, sub)
    ms = by_id(q)
    # 374 is high priority (no outcome measure was submitted), so it takes the outcome slot; 5 more count.
    assert sum(1 for m in q["measures"] if m["counted"]) == 6
    only_process = submission(2024, [("registry", [("112", rate(50, 0)), ("226", rate(50, 0)),
                                                   ("317", rate(50, 0))])])
    q2 = quality(year_2024, only_process)
    assert q2["score"] == D(30) / 60 * 100  # three 10s of 60 points
    assert all(m["counted"] for m in by_id(q2).values())
    assert ms[("374", "registry")]["counted"]


def test_same_measure_through_two_methods_counts_once(year_2024):
    sub = submission(2024, [("registry", [("236", rate(72, 28))]),  # flat: 8.2
                            ("electronicHealthRecord", [("236", rate(80, 20))])])  # 9.2434
    q = quality(year_2024, sub)
    ms = by_id(q)
    assert ms[("236", "electronicHealthRecord")]["counted"] is True
    assert ms[("236", "registry")]["counted"] is False
    assert ms[("236", "registry")]["reason"] == "another collection type of this measure scored higher (eCQM)"
    assert close(q["score"], q4(9 + D("1.3") / D("5.34")) / 60 * 100)


# ---------------------------------------------------------------------------
# Small practices, case minimum, data completeness, excluded measures
# ---------------------------------------------------------------------------

def test_small_practice_three_claims_and_three_ecqms(year_2024):
    sub = submission(2024, [
        ("claims", [("112", rate(80, 20)),  # p30 75.86, p40 84.1 → 4 + 4.14 / 8.24 = 4.5024
                    ("226", rate(100, 0)),  # topped out by program → 10 capped at 7
                    ("001", rate(15, 85))]),  # flat inverse → 9 + (15 − 20) / (10 − 20) = 9.5
        ("electronicHealthRecord", [("134", rate(50, 50)),  # p50 42.69, p60 53.94 → 6 + 7.31 / 11.25 = 6.6498
                                    ("236", rate(80, 20)),  # 9 + 1.3 / 5.34 = 9.2434
                                    ("309", rate(5, 95))]),  # p1 0.34, p10 7.89 → 1 + 4.66 / 7.55 = 1.6172
    ])
    q = quality(year_2024, sub, entity={"type": "individual", "small_practice": True})
    points = {k[0]: m["points"] for k, m in by_id(q).items()}
    assert points == {"112": D("4.5024"), "226": 7, "001": D("9.5"), "134": D("6.6498"), "236": D("9.2434"),
                      "309": D("1.6172")}
    assert all(m["counted"] for m in q["measures"])
    # (38.5128 + 6 small-practice bonus) / 60
    assert close(q["score"], D("44.5128") / 60 * 100)
    assert close(q["score"], D("74.188"))


def test_below_case_minimum(year_2024):
    sub = submission(2024, [("electronicHealthRecord", [("134", rate(10, 9))])])
    m = by_id(quality(year_2024, sub))[("134", "electronicHealthRecord")]
    assert m["points"] == 0 and m["reason"] == "below case minimum"
    small = by_id(quality(year_2024, sub, entity={"type": "individual", "small_practice": True}))
    assert small[("134", "electronicHealthRecord")]["points"] == 3


def test_data_completeness_72_percent_passes_in_2023_fails_in_2024(year_2023, year_2024):
    def sub(year):  # 50 met + 22 not met of 100 eligible: 72% complete, rate 69.44%
        return submission(year, [("electronicHealthRecord", [("236", rate(50, 22, eligible=100))])])

    m23 = by_id(quality(year_2023, sub(2023)))[("236", "electronicHealthRecord")]
    assert m23["data_completeness"] == 72
    # 2023 236 eCQM: p60 67.55, p70 71.1 → 7 + (69.444… − 67.55) / 3.55
    assert m23["points"] == q4(7 + (D(50) / 72 * 100 - D("67.55")) / D("3.55"))
    assert m23["points"] == D("7.5336")
    m24 = by_id(quality(year_2024, sub(2024)))[("236", "electronicHealthRecord")]
    assert m24["points"] == 0
    assert m24["reason"] == "data completeness below 75%"


def test_measure_389_is_excluded_in_2024_only(year_2023, year_2024):
    def sub(year):
        return submission(year, [("registry", [("389", rate(80, 20))]),
                                 ("electronicHealthRecord", [("236", rate(80, 20))])])

    q24 = quality(year_2024, sub(2024))
    m = by_id(q24)[("389", "registry")]
    assert m["points"] is None and m["counted"] is False and m["reason"] == "excluded from scoring this year"
    # 389 earns nothing and leaves the denominator (spec section 4; Appendix E: it "won't contribute"):
    # 9.2434 of 60 − 10 = 50 points.
    assert close(q24["score"], D("9.2434") / 50 * 100)
    q23 = quality(year_2023, sub(2023))
    assert by_id(q23)[("389", "registry")]["counted"] is True


def test_an_excluded_measure_costs_nothing_when_six_others_are_submitted(year_2024):
    """With six other measures the six count as usual over 60 points: 389 neither fills a slot nor
    takes one away (with fewer others it leaves the denominator, as above)."""
    others = [("236", rate(80, 20)), ("001", rate(20, 80)), ("134", rate(50, 50)), ("130", rate(100, 0)),
              ("317", rate(40, 60)), ("226", rate(90, 10))]
    q = quality(year_2024, submission(2024, [("registry", [("389", rate(80, 20)), *others])]))
    measures = by_id(q)
    assert measures[("389", "registry")]["counted"] is False
    counted = [m for m in q["measures"] if m["counted"]]
    assert len(counted) == 6  # all six others
    assert close(q["score"], sum(m["points"] for m in counted) / 60 * 100)


# ---------------------------------------------------------------------------
# Administrative claims, improvement, the APP
# ---------------------------------------------------------------------------

def test_admin_claims_add_ten_to_the_denominator(year_2024):
    sub = tie_break_submission(2024)
    q = quality(year_2024, sub, quality={"admin_claims": [{"measure_id": "479", "performance_rate": D("0.1474")}]})
    ms = by_id(q)
    # 479 (inverse): p40 0.1474 is the decile-7 start → 7 points
    assert ms[("479", "administrativeClaims")]["points"] == 7
    # 102 has no 2024 benchmark → 0, so 250 (1 point) is sixth: 7.5 + 40 + 1 = 48.5, plus 479's 7, over 70
    assert close(q["score"], D("55.5") / 70 * 100)


def test_improvement_scoring(year_2024):
    sub = tie_break_submission(2024)  # 102 has no 2024 benchmark: 7.5 + 40 + 1 (250) = 48.5 of 60
    achievement = D("48.5") / 60 * 100
    q = quality(year_2024, sub, quality={"prior_achievement": 50})
    expected = achievement + (achievement - 50) / 50 * 10
    assert close(q["score"], expected)
    assert close(q["score"], 87)
    low = quality(year_2024, sub, quality={"prior_achievement": 20})  # 20% counts as 30%: +16.4 → capped at 10
    assert close(low["score"], achievement + 10)
    worse = quality(year_2024, sub, quality={"prior_achievement": 90})  # never negative
    assert close(worse["score"], achievement)


def test_app_quality(year_2024):
    sub = submission(2024, [("electronicHealthRecord", [("001", rate(20, 80)),  # 8.9615
                                                        ("134", rate(50, 50)),  # 6.6498
                                                        ("236", rate(80, 20))])])  # 9.2434
    q = quality(year_2024, sub, reporting_option="app",
                quality={"admin_claims": [{"measure_id": "479", "points": 8}]})
    # CAHPS (321) not reported: 0 of 10; 484 not calculated: leaves the denominator. 5 slots.
    assert close(q["score"], (D("8.9615") + D("6.6498") + D("9.2434") + 8) / 50 * 100)
    assert all(m["counted"] for m in q["measures"])


# ---------------------------------------------------------------------------
# Real CMS submissions
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("year_fixture", ["year_2023", "year_2024"])
def test_real_samples_score_without_error(request, year_fixture):
    from mips_rules.engine.inputs.submission import load_submission
    from mips_rules.dsl.errors import InputError

    year = request.getfixturevalue(year_fixture)
    folder = shared_path("cms", "samples", "qpp-conversion-tool")
    scored = 0
    for path in sorted(folder.glob("*.json")):
        try:
            sub = load_submission(path)
        except InputError:
            continue  # fixtures that are not submissions (checked in test_inputs.py)
        report = score(year, sub.with_year(year.performance_year),
                       parse_context({"performance_year": year.performance_year})).report
        assert 0 <= report["final_score"] <= 100
        scored += 1
    assert scored >= 4


# ---------------------------------------------------------------------------
# Snapshots of the whole quality section (read the diff before accepting one)
# ---------------------------------------------------------------------------

SNAPSHOT_CASES = {
    "tie-break": (lambda y: tie_break_submission(y), {}),
    "small-practice": (lambda y: submission(y, [
        ("claims", [("112", rate(80, 20)), ("226", rate(100, 0)), ("001", rate(15, 85))]),
        ("electronicHealthRecord", [("134", rate(50, 50)), ("236", rate(80, 20)), ("309", rate(5, 95))])]),
        {"entity": {"type": "individual", "small_practice": True}}),
    "app": (lambda y: submission(y, [("electronicHealthRecord", [("001", rate(20, 80)), ("134", rate(50, 50)),
                                                                 ("236", rate(80, 20))])]),
            {"reporting_option": "app", "quality": {"admin_claims": [{"measure_id": "479", "points": 8}]}}),
    "case-minimum-and-completeness": (lambda y: submission(y, [("electronicHealthRecord", [
        ("134", rate(10, 9)), ("236", rate(50, 22, eligible=100)), ("001", rate(20, 80))])]), {}),
}


@pytest.mark.parametrize("case", list(SNAPSHOT_CASES))
@pytest.mark.parametrize("year_fixture", ["year_2023", "year_2024"])
def test_quality_section_snapshot(request, year_fixture, case, snapshot):
    from mips_rules.engine.scoring.render import to_json

    year = request.getfixturevalue(year_fixture)
    make, context = SNAPSHOT_CASES[case]
    assert to_json(quality(year, make(year.performance_year), **context)) == snapshot
