"""Where the engine used to differ from CMS (issue #10, items 2–7), worked by hand.

Sources are named on each test; benchmarks are CMS's (benchmarks/<year>.json, shipped in
rules/<year>/benchmarks.yaml). The CMS Web Interface benchmarks of measures 001, 112, 113,
236 are the flat deciles 1, 10, 20, …, 90, 99, so a rate r in [10(k−1), 10k) earns
k + (r − 10(k−1)) / 10 (42 CFR 414.1380(b)(1)).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from mips_rules.engine.scoring.html_report import report_html
from mips_rules.engine.scoring.render import to_markdown
from tests.test_categories import COMPLETE_PI, ia_set, pi_set, quality_set, run, sub


def rate(met, not_met):
    return {"performanceMet": met, "performanceNotMet": not_met, "eligiblePopulation": met + not_met}


def qset(year, method, measures):
    return {"category": "quality", "submissionMethod": method, "programName": "mips",
            "performanceStart": f"{year}-01-01", "performanceEnd": f"{year}-12-31",
            "measurements": [{"measureId": m, "value": v} for m, v in measures]}


def by_key(category):
    return {(m["measure_id"], m["submission_method"]): m for m in category["measures"]}


GROUP = {"entity": {"type": "group", "clinicians": 40}, "category_scores": {"cost": 50, "ia": 100, "pi": 100}}

# --------------------------------------------------------------------------- item 2

def test_2023_simple_pneumonia_cost_measure_is_not_scored(year_2023):
    # CMS's 2023 cost page (May 2024): COST_SPH_1 excluded from 2023 scoring. TPCC_1 alone: 6 of 10 = 60%.
    c = run(year_2023, sub(2023), cost={"measures": [{"measure_id": "TPCC_1", "points": 6},
                                                     {"measure_id": "COST_SPH_1", "points": 9}]})["categories"]["cost"]
    assert c["score"] == 60
    sph = next(m for m in c["measures"] if m["measure_id"] == "COST_SPH_1")
    assert sph["points"] is None and sph["reason"] == "excluded from scoring this year"


# --------------------------------------------------------------------------- item 3

@pytest.mark.parametrize("complex_patient, bonus", [
    # At or above the median on one indicator (z ≥ the stand-in median 0): both components,
    # 1.5 + 4 × 0.5 = 3.5 and 1.5 + 4 × (−0.2) = 0.7 → 4.2.
    ({"hcc_risk_z": D("0.5"), "dual_eligible_z": D("-0.2")}, D("4.2")),
    # Below the median on both: not eligible (004, Why Am I Not Eligible …?).
    ({"hcc_risk_z": D("-0.3"), "dual_eligible_z": D("-0.1")}, D("0")),
    # CMS's feedback says the HCC indicator is at or above the median: 0.3 + 1.1 = 1.4.
    ({"hcc_risk_z": D("-0.3"), "dual_eligible_z": D("-0.1"), "hcc_risk_at_or_above_median": True}, D("1.4")),
    # … or that neither is, whatever the z-scores say.
    ({"hcc_risk_z": D("0.2"), "dual_eligible_z": D("0.2"), "hcc_risk_at_or_above_median": False,
      "dual_eligible_at_or_above_median": False}, D("0")),
    # The cap of 10: 1.5 + 4 × 1.5 = 7.5 twice → 10.
    ({"hcc_risk_z": D("1.5"), "dual_eligible_z": D("1.5")}, D("10")),
])
@pytest.mark.parametrize("year_fixture", ["year_2023", "year_2024"])
def test_complex_patient_bonus_at_or_above_the_median(request, year_fixture, complex_patient, bonus):
    year = request.getfixturevalue(year_fixture)
    r = run(year, None, category_scores={"quality": 60, "cost": 60, "ia": 60, "pi": 60},
            complex_patient=complex_patient)
    assert r["complex_patient_bonus"] == bonus
    assert r["final_score"] == D(60) + bonus


# --------------------------------------------------------------------------- item 4

WI_SET = [("112", rate(85, 15)),   # 9 + 5/10 = 9.5
          ("113", rate(95, 5)),    # decile 10 → 10
          ("236", rate(55, 45)),   # 6 + 5/10 = 6.5
          ("001", rate(25, 75)),   # inverse: between p30 30 and p20 20 → 8 + (25 − 30)/(20 − 30) = 8.5
          ("134", rate(5, 5))]     # 10 cases: below the case minimum → leaves the denominator
# Web Interface: 9.5 + 10 + 6.5 + 8.5 = 34.5 of 40 = 86.25%.


def test_web_interface_loses_to_better_other_collection_types(year_2024):
    # Registry (2024): 236, 112, 317, 374 at 100% → 10 each; 128, 130 topped out by program → 7: 54/60 = 90%.
    other = [(m, rate(50, 0)) for m in ("236", "112", "317", "374", "128", "130")]
    s = sub(2024, qset(2024, "cmsWebInterface", WI_SET), qset(2024, "registry", other), entity="group")
    q = run(year_2024, s, **GROUP)["categories"]["quality"]
    assert q["score"] == 90
    assert q["reason"] == "other collection types: they scored higher than the CMS Web Interface measures"
    wi = by_key(q)[("112", "cmsWebInterface")]
    assert wi["points"] == D("9.5") and wi["counted"] is False
    assert wi["reason"] == "the other collection types scored higher than the CMS Web Interface measures"


def test_web_interface_wins_over_worse_other_collection_types(year_2024):
    # Registry 236, 112, 317 at 100% → 30 of 60 = 50% < 86.25%.
    other = [(m, rate(50, 0)) for m in ("236", "112", "317")]
    s = sub(2024, qset(2024, "cmsWebInterface", WI_SET), qset(2024, "registry", other), entity="group")
    q = run(year_2024, s, **GROUP)["categories"]["quality"]
    assert q["score"] == D("86.25")
    ms = by_key(q)
    assert ms[("001", "cmsWebInterface")]["points"] == D("8.5") and ms[("001", "cmsWebInterface")]["counted"]
    assert ms[("134", "cmsWebInterface")]["counted"] is False
    assert ms[("236", "registry")]["counted"] is False
    assert ms[("236", "registry")]["reason"] == \
        "the CMS Web Interface measures scored higher than the other collection types"


def test_web_interface_alone(year_2023):
    # 2023 Web Interface benchmarks are the same flat deciles: 86.25% again, no other set to compare.
    q = run(year_2023, sub(2023, qset(2023, "cmsWebInterface", WI_SET), entity="group"), **GROUP)
    assert q["categories"]["quality"]["score"] == D("86.25")


# --------------------------------------------------------------------------- item 5

def test_part_b_claims_from_a_practice_that_is_not_small_are_not_scored(year_2024):
    s = sub(2024, qset(2024, "claims", [("236", rate(50, 0))]), ia_set(2024, ["IA_EPA_2"]))
    q = run(year_2024, s)["categories"]["quality"]
    m = q["measures"][0]
    assert m["points"] is None and m["counted"] is False
    assert m["reason"] == "Medicare Part B claims measures are scored only for clinicians in small practices"
    # Nothing CMS scores: 0 of 60 (the clinician had to report quality).
    assert q["score"] == 0 and q["reason"].startswith("no quality data CMS scores")


def test_part_b_claims_from_a_small_practice_are_scored(year_2024):
    # 2024 claims benchmark of 236 has p90 ≤ 100 → 10 points + the 6-point bonus = 16 of 60.
    s = sub(2024, qset(2024, "claims", [("236", rate(50, 0))]), ia_set(2024, ["IA_EPA_2"]))
    q = run(year_2024, s, entity={"type": "individual", "small_practice": True})["categories"]["quality"]
    assert q["measures"][0]["points"] == 10
    assert abs(q["score"] - D(16) / D(60) * 100) < D("1e-25")


def test_small_group_claims_alone_are_not_scored(year_2024):
    # 000: a group-level quality score from Part B claims only if the group submits another category.
    alone = sub(2024, qset(2024, "claims", [("236", rate(50, 0))]), entity="group")
    ctx = {"entity": {"type": "group", "clinicians": 9, "small_practice": True}}
    m = run(year_2024, alone, **ctx)["categories"]["quality"]["measures"][0]
    assert m["points"] is None and "also submits another performance category" in m["reason"]
    with_ia = sub(2024, qset(2024, "claims", [("236", rate(50, 0))]), ia_set(2024, ["IA_EPA_2"]), entity="group")
    assert run(year_2024, with_ia, **ctx)["categories"]["quality"]["measures"][0]["points"] == 10


@pytest.mark.parametrize("method, reason", [
    ("administrativeClaims", "administrative claims measures are calculated by CMS from claims, not submitted "
                             "(give them in the context's quality.admin_claims)"),
    ("certifiedSurveyVendor", "the CAHPS for MIPS survey is scored only for groups, subgroups, virtual groups and APM Entities"),
    ("cmsWebInterface", "the CMS Web Interface is scored only for registered groups, virtual groups and APM Entities"),
])
def test_individuals_cannot_be_scored_on_group_collection_types(year_2024, method, reason):
    measure = "321" if method == "certifiedSurveyVendor" else "236"
    q = run(year_2024, sub(2024, qset(2024, method, [(measure, rate(50, 0))])))["categories"]["quality"]
    assert q["measures"][0]["reason"] == reason and q["measures"][0]["points"] is None


# --------------------------------------------------------------------------- item 6

@pytest.mark.parametrize("year_fixture", ["year_2023", "year_2024"])
def test_the_report_says_why_the_final_score_is_the_threshold(request, year_fixture):
    year = request.getfixturevalue(year_fixture)
    # IA alone (two medium activities, 50%) with PI, quality and cost reweighted by exception.
    r = run(year, sub(year.performance_year, ia_set(year.performance_year, ["IA_EPA_2", "IA_EPA_3"])),
            exceptions={"quality": True, "pi": True, "cost": True})
    assert r["categories"]["ia"]["weight"] == 100 and r["final_score"] == 75
    assert r["final_score_reason"] == ("fewer than 2 performance categories scored, so the final score is the "
                                       "performance threshold (75)")
    assert "Final score: 75.00 / 100** — fewer than 2 performance categories scored" in to_markdown(r, year.report_layout)
    assert "fewer than 2 performance categories scored, so the final score is the performance threshold (75)" \
        in report_html(year, r)
    full = run(year, None, category_scores={"quality": 60, "cost": 60, "ia": 60, "pi": 60})
    assert "final_score_reason" not in full


def test_equal_points_through_two_collection_types(year_2024):
    # 236 at 100%: registry p90 90 → 10; eCQM p90 84.04 → 10. Ties go to the first method by
    # name (electronicHealthRecord); the registry version is counted once, not "scored higher".
    s = sub(2024, qset(2024, "registry", [("236", rate(50, 0))]),
            qset(2024, "electronicHealthRecord", [("236", rate(50, 0))]))
    ms = by_key(run(year_2024, s)["categories"]["quality"])
    assert ms[("236", "electronicHealthRecord")]["counted"] is True
    assert ms[("236", "registry")]["reason"] == \
        "counted once, through another collection type with the same points (eCQM)"


def test_non_proportion_measure(year_2024):
    # ACEP50 (registry, inverse, 2024 benchmark p50 181, p40 170): a median time of 175 minutes
    # → decile 6 + (175 − 181) / (170 − 181) = 6.5455 (four decimals).
    value = {"numerator": 175, "denominator": 300, "performanceRate": 175, "reportingRate": 90}
    ms = by_key(run(year_2024, sub(2024, qset(2024, "registry", [("ACEP50", value)])))["categories"]["quality"])
    m = ms[("ACEP50", "registry")]
    assert m["points"] == D("6.5455") and m["data_completeness"] == 90 and m["reason"] is None
    # Given as a single rate, it is not scored, and the report says why (not "data completeness").
    ms = by_key(run(year_2024, sub(2024, qset(2024, "registry", [("ACEP50", rate(40, 10))])))["categories"]["quality"])
    assert ms[("ACEP50", "registry")]["points"] is None
    assert ms[("ACEP50", "registry")]["reason"].startswith("non-proportion measure reported as a single performance rate")
    # Without its reporting rate, the reason names what is missing.
    no_rate = {"numerator": 175, "denominator": 300, "performanceRate": 175}
    ms = by_key(run(year_2024, sub(2024, qset(2024, "registry", [("ACEP50", no_rate)])))["categories"]["quality"])
    assert ms[("ACEP50", "registry")]["reason"] == "non-proportion measure without a reportingRate (data completeness)"


# --------------------------------------------------------------------------- item 7

@pytest.mark.parametrize("year_fixture", ["year_2023", "year_2024"])
def test_query_of_pdmp_answered_no_zeroes_pi(request, year_fixture):
    year = request.getfixturevalue(year_fixture)
    y = year.performance_year
    r = run(year, sub(y, pi_set(y, {**COMPLETE_PI, "PI_EP_2": False})))
    pi = r["categories"]["pi"]
    assert pi["score"] == 0
    assert pi["reason"] == "score 0: PI_EP_2 answered no and not excluded (only a yes completes the measure)"
    # Excluded instead: its 10 points go to e-Prescribing (187/199 × 20 = 18.79 → 19): 19 + 30 + 19 + 25 = 93.
    excluded = {k: v for k, v in COMPLETE_PI.items() if k != "PI_EP_2"}
    r = run(year, sub(y, pi_set(y, {**excluded, "PI_EP_2_EX_1": True})))
    assert r["categories"]["pi"]["score"] == 93
