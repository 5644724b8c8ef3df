"""Complete reports for varied submissions, both years, nothing given by hand but what CMS
would know (cost measures, statuses). Snapshots: read the diff before accepting one."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from mips_rules.engine.render import to_json

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
