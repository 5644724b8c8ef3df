"""Complete reports for varied submissions, both years, nothing given by hand but what CMS
would know (cost measures, statuses). Snapshots: read the diff before accepting one."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from mips_rules.engine.scoring.render import to_json

from conftest import masked
from test_categories import COMPLETE_PI, ia_set, pi_set, run, sub


def quality_full(year):
    """Six registry measures and one eCQM, with varied rates."""
    def rate(met, not_met):
        return {"performanceMet": met, "performanceNotMet": not_met, "eligiblePopulation": met + not_met}

    return {"category": "quality", "submissionMethod": "registry", "programName": "mips",
            "performanceStart": f"{year}-01-01", "performanceEnd": f"{year}-12-31",
            "measurements": [{"measureId": "001", "value": rate(35, 65)}, {"measureId": "112", "value": rate(80, 20)},
                             {"measureId": "226", "value": rate(90, 10)}, {"measureId": "317", "value": rate(40, 60)},
                             {"measureId": "374", "value": rate(70, 30)}, {"measureId": "047", "value": rate(60, 40)},
                             {"measureId": "128", "value": rate(99, 1)}]}


def full(year, entity="individual", pi=True):
    sets = [quality_full(year), ia_set(year, ["IA_EPA_1", "IA_BE_4"])]
    if pi:
        sets.append(pi_set(year, COMPLETE_PI))
    return sub(year, *sets, entity=entity)


COST = {"measures": [{"measure_id": "TPCC_1", "points": D("6.5")}, {"measure_id": "MSPB_1", "points": D("4.2")}],
        "prior_score": 50}

SCENARIOS = {
    "individual": lambda y: (full(y), {"cost": COST}),
    "group": lambda y: (full(y, "group"), {"entity": {"type": "group", "clinicians": 40}, "cost": COST,
                                           "quality": {"admin_claims": [{"measure_id": "479", "points": 6}]}}),
    "small-practice-no-pi": lambda y: (full(y, pi=False), {"entity": {"type": "individual", "small_practice": True},
                                                           "cost": COST}),
    "app": lambda y: (full(y), {"reporting_option": "app", "quality": {"admin_claims": [{"measure_id": "484", "points": 7}]}}),
    "apm-entity-roll-up": lambda y: (full(y, "apm", pi=False), {
        "entity": {"type": "apm_entity", "clinicians": 30},
        "pi_rollup": [{"npi": "1234567893", "score": 70, "bonus": 5}, {"npi": "1234567901", "score": 88, "bonus": 0}]}),
    "auto-euc": lambda y: (full(y), {"auto_euc": True, "cost": COST}),
    "pi-hardship": lambda y: (full(y, pi=False), {"exceptions": {"pi": True}, "cost": COST}),
    "cost-reweighted": lambda y: (full(y), {}),
    "facility-based": lambda y: (full(y), {"facility_based": {"quality": 92, "cost": 85}, "cost": COST}),
    "voluntary": lambda y: (full(y), {"election": "voluntary", "cost": COST,
                                      "eligibility": {"allowed_charges": 30000, "part_b_patients": 100,
                                                      "covered_services": 100}}),
    "complex-patients": lambda y: (full(y), {"cost": COST, "complex_patient": {"hcc_risk_z": D("0.8"),
                                                                              "dual_eligible_z": D("0.3")}}),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("year_fixture", ["year_2023", "year_2024"])
def test_complete_report(request, year_fixture, scenario, snapshot):
    year = request.getfixturevalue(year_fixture)
    submission, context = SCENARIOS[scenario](year.performance_year)
    report = run(year, submission, **context)
    assert 0 <= report["final_score"] <= 100
    assert masked(to_json(report)) == snapshot


def test_the_2024_full_example_worked_by_hand(year_2024):
    """examples/2024-full.json, every number from CMS's 2024 registry benchmarks (rules/2024/benchmarks.json):

    001 (inverse, 35%): 7 deciles start at or above 35 (99 … 40) → 7 + (35 − 40)/(30 − 40) = 7.5
    112 (80%): p60 79.61 ≤ 80 < p70 86.36 → 7 + 0.39/6.75 = 7.0578
    226 (90%): p50 89.29 ≤ 90 < p60 97.1 → 6 + 0.71/7.81 = 6.0909
    317 (40%): p30 27.76 ≤ 40 < p40 48.05 → 4 + 12.24/20.29 = 4.6033
    374 (70%): p10 56.72 ≤ 70 < p20 90 → 2 + 13.28/33.28 = 2.3990 (the lowest: not counted)
    047 (60%): p20 53.35 ≤ 60 < p30 76.45 → 3 + 6.65/23.1 = 3.2879
    128 (99%): p40 98.32 ≤ 99 < p50 99.76 → 5 + 0.68/1.44 = 5.4722 (topped out by program, under the cap of 7)
    quality: 001 (the outcome measure) + the five highest others = 34.0121 of 60 = 56.686833…%
    cost: (6.5 + 4.2) / 20 = 53.5%, improvement (53.5 − 50) / 50 × 1 = 0.07 → 53.57%
    IA: IA_EPA_1 (high, 20) + IA_BE_4 (medium, 10) = 30 of 40 = 75%; PI: 9 + 10 + 30 + 19 + 25 = 93
    final: 56.686833 × 0.30 + 53.57 × 0.30 + 75 × 0.15 + 93 × 0.25 = 67.57705 → 67.58 (half up)
    """
    from mips_rules.engine.inputs.context import load_context
    from mips_rules.engine.scoring.score import score
    from mips_rules.engine.inputs.submission import load_submission

    from conftest import EXAMPLES

    report = score(year_2024, load_submission(EXAMPLES / "2024-full.json"),
                   load_context(EXAMPLES / "2024-full-context.yaml")).report
    points = {m["measure_id"]: m["points"] for m in report["categories"]["quality"]["measures"]}
    assert points == {"001": D("7.5"), "112": D("7.0578"), "226": D("6.0909"), "317": D("4.6033"),
                      "374": D("2.3990"), "047": D("3.2879"), "128": D("5.4722")}
    counted = {m["measure_id"] for m in report["categories"]["quality"]["measures"] if m["counted"]}
    assert counted == {"001", "112", "226", "317", "047", "128"}
    cats = report["categories"]
    assert abs(cats["quality"]["score"] - D("34.0121") / 60 * 100) < D("1e-25")
    assert cats["cost"]["score"] == D("53.57") and cats["ia"]["score"] == 75 and cats["pi"]["score"] == 93
    assert report["final_score"] == D("67.58")
