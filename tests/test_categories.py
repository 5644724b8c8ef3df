"""PI, IA, cost, the automatic EUC policy, eligibility, facility-based scoring, the complex
patient bonus and attribution — numbers worked by hand from the spec and the seeds."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from mips_rules.dsl.errors import InputError
from mips_rules.engine.scoring.attribution import attribute
from mips_rules.engine.inputs.context import parse_context
from mips_rules.engine.scoring.score import score
from mips_rules.engine.inputs.submission import parse_submission

ATTESTATIONS = {"PI_INFBLO_1": True, "PI_ONCDIR_1": True, "PI_PPHI_1": True, "PI_PPHI_2": True}
COMPLETE_PI = {
    **ATTESTATIONS,
    "PI_EP_1": {"numerator": 187, "denominator": 199},  # 187/199 × 10 = 9.4 → 9
    "PI_EP_2": True,  # 10
    "PI_HIE_5": True,  # 30
    "PI_PEA_1": {"numerator": 600, "denominator": 800},  # 0.75 × 25 = 18.75 → 19
    "PI_PHCDRR_1": True, "PI_PHCDRR_1_PROD": True,
    "PI_PHCDRR_3": True, "PI_PHCDRR_3_PRE": True,  # 25 for the objective
}
CEHRT = "0015E8XXXXXXXXX"


def pi_set(year, measures, start="01-01", end="12-31", cehrt=CEHRT, method="electronicHealthRecord"):
    ms = {"category": "pi", "submissionMethod": method, "programName": "mips",
          "performanceStart": f"{year}-{start}", "performanceEnd": f"{year}-{end}",
          "measurements": [{"measureId": k, "value": v} for k, v in measures.items()]}
    if cehrt is not None:
        ms["cehrtId"] = cehrt
    return ms


def ia_set(year, activities):
    return {"category": "ia", "submissionMethod": "electronicHealthRecord", "programName": "mips",
            "performanceStart": f"{year}-01-01", "performanceEnd": f"{year}-03-31",
            "measurements": [{"measureId": a, "value": True} for a in activities]}


def quality_set(year, measures):
    return {"category": "quality", "submissionMethod": "registry", "programName": "mips",
            "performanceStart": f"{year}-01-01", "performanceEnd": f"{year}-12-31",
            "measurements": [{"measureId": m, "value": {"performanceMet": 50, "performanceNotMet": 0,
                                                       "eligiblePopulation": 50}} for m in measures]}


def sub(year, *sets, entity="individual"):
    data = {"entityType": entity, "taxpayerIdentificationNumber": "000123456", "performanceYear": year,
            "measurementSets": list(sets)}
    if entity == "individual":
        data["nationalProviderIdentifier"] = "1234567893"
    if entity in ("apm", "virtualGroup"):
        data["entityId"] = "A1234"
    return parse_submission(data)


def run(year, submission, **context):
    return score(year, submission, parse_context({"performance_year": year.performance_year, **context})).report


def pi(year, measures, **kw):
    set_kw = {k: kw.pop(k) for k in ("start", "end", "cehrt") if k in kw}
    report = run(year, sub(year.performance_year, pi_set(year.performance_year, measures, **set_kw)), **kw)
    return report["categories"]["pi"]


def points(category):
    return {m["measure_id"]: m["points"] for m in category.get("measures", [])}


def max_points(category):
    return {m["measure_id"]: m["max_points"] for m in category.get("measures", [])}


# ---------------------------------------------------------------------------
# Promoting Interoperability
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("year_fixture", ["year_2023", "year_2024"])
def test_complete_pi_submission(request, year_fixture):
    c = pi(request.getfixturevalue(year_fixture), COMPLETE_PI)
    assert points(c)["PI_EP_1"] == 9  # 004 "How Are Measures Scored?": 187/199 × 10 = 9.4 → 9
    assert points(c)["PI_PEA_1"] == 19  # 18.75 rounds half up
    assert c["score"] == 9 + 10 + 30 + 19 + 25
    assert "reason" not in c


def test_pi_bonus_and_cap(year_2024):
    c = pi(year_2024, {**COMPLETE_PI, "PI_PHCDRR_4": True, "PI_PHCDRR_4_PROD": True})
    assert c["score"] == 98
    full = {**COMPLETE_PI, "PI_EP_1": {"numerator": 10, "denominator": 10}, "PI_PEA_1": {"numerator": 5, "denominator": 5},
            "PI_PHCDRR_4": True, "PI_PHCDRR_4_PROD": True}
    assert pi(year_2024, full)["score"] == 100  # 100 + 5 capped


def test_pi_points_out_of_25(year_2024):
    report = run(year_2024, sub(2024, pi_set(2024, COMPLETE_PI)),
                 category_scores={"quality": 50, "cost": 50, "ia": 100})
    assert report["categories"]["pi"]["weight"] == 25
    assert report["categories"]["pi"]["points"] == D("23.25")  # 93 × 25 / 100: "23.25 out of 25"


def test_small_numerator_scores_at_least_one(year_2024):
    c = pi(year_2024, {**COMPLETE_PI, "PI_PEA_1": {"numerator": 1, "denominator": 1000}})
    assert points(c)["PI_PEA_1"] == 1  # 0.025 would round to 0


HIE_OPTION_1 = {"PI_HIE_1": {"numerator": 50, "denominator": 100}, "PI_HIE_4": {"numerator": 50, "denominator": 100}}
WITHOUT_HIE_5 = {k: v for k, v in COMPLETE_PI.items() if k != "PI_HIE_5"}


@pytest.mark.parametrize("changes, expected_max, expected_points", [
    # e-Prescribing excluded: its 10 go to the HIE option reported (split over HIE_1 and HIE_4)
    ({"PI_EP_1": None, "PI_LVPP_1": True, **HIE_OPTION_1}, {"PI_HIE_1": 20, "PI_HIE_4": 20}, {"PI_HIE_1": 10}),
    ({"PI_EP_1": None, "PI_LVPP_1": True, "PI_HIE_5": True}, {"PI_HIE_5": 40}, {"PI_HIE_5": 40}),
    # PDMP excluded: its 10 go to e-Prescribing: 187/199 × 20 = 18.79 → 19
    ({"PI_EP_2": None, "PI_EP_2_EX_1": True, "PI_HIE_5": True}, {"PI_EP_1": 20}, {"PI_EP_1": 19}),
    # both e-Prescribing measures excluded: 20 to HIE
    ({"PI_EP_1": None, "PI_EP_2": None, "PI_LVPP_1": True, "PI_EP_2_EX_2": True, "PI_HIE_5": True},
     {"PI_HIE_5": 50}, {"PI_HIE_5": 50}),
    # one HIE option-1 measure excluded: its 15 to the other (50/100 × 30 = 15)
    ({"PI_HIE_1": None, "PI_LVOTC_1": True, "PI_HIE_4": {"numerator": 50, "denominator": 100}},
     {"PI_HIE_4": 30}, {"PI_HIE_4": 15}),
    ({"PI_HIE_4": None, "PI_LVITC_2": True, "PI_HIE_1": {"numerator": 50, "denominator": 100}},
     {"PI_HIE_1": 30}, {"PI_HIE_1": 15}),
    # both: 30 to Provide Patients Electronic Access (600/800 × 55 = 41.25 → 41)
    ({"PI_LVOTC_1": True, "PI_LVITC_2": True}, {"PI_PEA_1": 55}, {"PI_PEA_1": 41}),
    # both public health measures excluded: 25 to PEA (600/800 × 50 = 37.5 → 38)
    ({"PI_PHCDRR_1": None, "PI_PHCDRR_1_PROD": None, "PI_PHCDRR_3": None, "PI_PHCDRR_3_PRE": None,
      "PI_PHCDRR_1_EX_1": True, "PI_PHCDRR_3_EX_2": True, "PI_HIE_5": True}, {"PI_PEA_1": 50}, {"PI_PEA_1": 38}),
])
def test_exclusion_redistribution(year_2024, changes, expected_max, expected_points):
    measures = {**WITHOUT_HIE_5, **changes}
    measures = {k: v for k, v in measures.items() if v is not None}
    c = pi(year_2024, measures)
    assert "reason" not in c, c.get("reason")
    for m, v in expected_max.items():
        assert max_points(c)[m] == v
    for m, v in expected_points.items():
        assert points(c)[m] == v


def test_pdmp_exclusion_3_exists_only_in_2023(year_2023, year_2024):
    measures = {k: v for k, v in COMPLETE_PI.items() if k != "PI_EP_2"}
    measures["PI_EP_2_EX_3"] = True
    assert "reason" not in pi(year_2023, measures)
    with pytest.raises(InputError) as err:  # 2024's inventory has no such exclusion
        pi(year_2024, measures)
    assert "unknown pi measure 'PI_EP_2_EX_3' for 2024" in err.value.render()


@pytest.mark.parametrize("changes, kw, reason", [
    ({}, {"cehrt": None}, "no CEHRT ID"),
    ({}, {"cehrt": "0015H8XXXXXXXXX"}, "CEHRT ID 0015H8XXXXXXXXX is not valid"),
    ({}, {"cehrt": "0015E8XXXX"}, "CEHRT ID 0015E8XXXX is not valid"),
    ({"PI_INFBLO_1": False}, {}, "PI_INFBLO_1 not attested yes"),
    ({"PI_ONCDIR_1": None}, {}, "PI_ONCDIR_1 not attested yes"),
    ({"PI_PPHI_1": False}, {}, "PI_PPHI_1 not attested yes"),
    ({"PI_PEA_1": None}, {}, "PI_PEA_1 neither reported nor excluded"),
    ({"PI_HIE_5": None}, {}, "PI_HIE_1 neither reported nor excluded"),
    ({"PI_EP_1": {"numerator": 0, "denominator": 50}}, {}, "PI_EP_1 has a numerator of 0"),
    ({"PI_PHCDRR_1_PROD": None}, {}, "no active-engagement level for PI_PHCDRR_1"),
    ({"PI_PHCDRR_5": True}, {}, "no active-engagement level for PI_PHCDRR_5"),
    ({}, {"start": "10-03", "end": "12-31"}, "performance period of 90 days is shorter than 180"),
])
def test_each_zero_pi_reason(year_2024, changes, kw, reason):
    measures = {k: v for k, v in {**COMPLETE_PI, **changes}.items() if v is not None}
    c = pi(year_2024, measures, **kw)
    assert c["score"] == 0
    assert c["reason"] == f"score 0: {reason}"


def test_safer_guides_and_period_differ_between_years(year_2023, year_2024):
    no_safer = {**COMPLETE_PI, "PI_PPHI_2": False}
    assert "reason" not in pi(year_2023, no_safer)  # 2023: a "no" also satisfies it
    assert pi(year_2024, no_safer)["reason"] == "score 0: PI_PPHI_2 not attested yes"
    missing = {k: v for k, v in COMPLETE_PI.items() if k != "PI_PPHI_2"}
    assert pi(year_2023, missing)["reason"] == "score 0: PI_PPHI_2 not answered"
    assert "reason" not in pi(year_2023, COMPLETE_PI, start="10-03", end="12-31")  # 90 days is enough in 2023


def test_conflicting_values_across_submissions(year_2024):
    other = {**COMPLETE_PI, "PI_EP_1": {"numerator": 100, "denominator": 199}}
    report = run(year_2024, sub(2024, pi_set(2024, COMPLETE_PI), pi_set(2024, other, method="registry")))
    assert report["categories"]["pi"]["score"] == 0
    assert report["categories"]["pi"]["reason"] == "score 0: conflicting values for PI_EP_1 across submissions"


def test_pi_reweighting_by_status_type_and_exception(year_2023, year_2024):
    nothing = sub(2024, quality_set(2024, ["112"]))
    assert run(year_2024, nothing)["categories"]["pi"]["score"] == 0  # no data, no reason to reweight
    for entity in ({"hospital_based": True}, {"small_practice": True}, {"non_patient_facing": True},
                   {"asc_based": True}, {"clinician_type": "clinical_social_worker"}):
        c = run(year_2024, nothing, entity={"type": "individual", **entity})["categories"]["pi"]
        assert c["reweighted"] is True and c["reason"].startswith("reweighted:")
    assert run(year_2024, nothing, exceptions={"pi": True})["categories"]["pi"]["reweighted"] is True
    pt = {"entity": {"type": "individual", "clinician_type": "physical_therapist"}}
    assert run(year_2023, sub(2023, quality_set(2023, ["112"])), **pt)["categories"]["pi"]["reweighted"] is True
    assert run(year_2024, nothing, **pt)["categories"]["pi"]["score"] == 0  # no longer reweighted in 2024
    # Submitting PI data cancels the reweighting.
    submitted = run(year_2024, sub(2024, pi_set(2024, COMPLETE_PI)), entity={"type": "individual", "hospital_based": True})
    assert submitted["categories"]["pi"]["score"] == 93


def test_apm_entity_pi_roll_up(year_2024):
    apm = sub(2024, quality_set(2024, ["112"]), entity="apm")
    report = run(year_2024, apm, entity={"type": "apm_entity", "clinicians": 40},
                 pi_rollup=[{"npi": "1234567893", "score": 80, "bonus": 0},
                            {"npi": "1234567901", "score": 90, "bonus": 5}])
    assert report["categories"]["pi"]["score"] == 90  # (80 + 90) / 2 + 5
    assert report["categories"]["cost"]["reweighted"] is True  # APM Entities: never cost


# ---------------------------------------------------------------------------
# Improvement Activities
# ---------------------------------------------------------------------------

def ia(year, activities, **context):
    return run(year, sub(year.performance_year, ia_set(year.performance_year, activities)), **context)["categories"]["ia"]


def test_ia_points_and_doubling(year_2024):
    assert ia(year_2024, ["IA_EPA_1", "IA_BE_4"])["score"] == 75  # high 20 + medium 10 of 40
    assert ia(year_2024, ["IA_EPA_1", "IA_BE_6", "IA_AHE_1"])["score"] == 100  # 60 capped at 40
    for status in ("small_practice", "rural", "hpsa", "non_patient_facing"):
        doubled = ia(year_2024, ["IA_BE_4"], entity={"type": "individual", status: True})
        assert doubled["score"] == 50  # medium counts 20
    assert ia(year_2024, ["IA_PCMH"])["score"] == 100


def test_ia_apm_credit_and_exception(year_2024):
    apm = {"entity": {"type": "individual", "apm_participant": True}}
    with_quality = run(year_2024, sub(2024, quality_set(2024, ["112"])), **apm)["categories"]["ia"]
    assert with_quality["score"] == 50 and with_quality["reason"] == "APM participant: automatic credit"
    assert ia(year_2024, ["IA_EPA_1", "IA_BE_4"], **apm)["score"] == 75  # more than the credit
    excused = run(year_2024, sub(2024, quality_set(2024, ["112"])), exceptions={"ia": True})["categories"]["ia"]
    assert excused["reweighted"] is True
    assert ia(year_2024, ["IA_BE_4"], exceptions={"ia": True})["score"] == 25  # data voids the exception
    assert run(year_2024, sub(2024, quality_set(2024, ["112"])))["categories"]["ia"]["score"] == 0


# ---------------------------------------------------------------------------
# Cost
# ---------------------------------------------------------------------------

def test_cost_with_improvement(year_2024):
    c = run(year_2024, sub(2024), cost={"measures": [{"measure_id": "TPCC_1", "points": D("6.5")},
                                                     {"measure_id": "MSPB_1", "points": D("8.5")}],
                                        "prior_score": 70})["categories"]["cost"]
    # 15 of 20 = 75%, improvement (75 − 70) / 70 × 1 point
    assert abs(c["score"] - (D(75) + D(5) / D(70))) < D("1e-24")


def test_cost_score_against_the_benchmark_and_exclusion(year_2023, year_2024):
    # COST_D_1 2024 (inverse): p60 9964.41, p50 9032.95 → 5 + 464.41 / 931.46 = 5.4986
    c = run(year_2024, sub(2024), cost={"measures": [{"measure_id": "COST_D_1", "score": 9500},
                                                     {"measure_id": "COST_AKID_1", "points": 9}]})["categories"]["cost"]
    assert points(c) == {"COST_D_1": D("5.4986"), "COST_AKID_1": None}
    assert c["score"] == D("54.986")
    assert run(year_2024, sub(2024), cost={"measures": []})["categories"]["cost"]["reweighted"] is True
    c23 = run(year_2023, sub(2023), cost={"measures": [{"measure_id": "COST_AKID_1", "points": 9}]})["categories"]["cost"]
    assert c23["score"] == 90  # not excluded in 2023


# ---------------------------------------------------------------------------
# The automatic EUC policy: every row, both practice sizes
# ---------------------------------------------------------------------------

# (submitted categories) → quality / PI / IA / cost, from spec §2 (= 000 and 004 Appendix A)
EUC_ROWS = {
    (): (0, 0, 0, 0), ("quality",): (100, 0, 0, 0), ("pi",): (0, 100, 0, 0), ("ia",): (0, 0, 100, 0),
    ("quality", "pi"): (70, 30, 0, 0), ("quality", "ia"): (85, 0, 15, 0), ("ia", "pi"): (0, 85, 15, 0),
    ("quality", "ia", "pi"): (55, 30, 15, 0),
}
EUC_SMALL = {**EUC_ROWS, ("quality", "ia"): (50, 0, 50, 0)}


@pytest.mark.parametrize("year_fixture", ["year_2023", "year_2024"])
@pytest.mark.parametrize("small", [False, True], ids=["not-small", "small-practice"])
@pytest.mark.parametrize("submitted", list(EUC_ROWS), ids=lambda s: "+".join(s) or "nothing")
def test_every_euc_row(request, year_fixture, small, submitted):
    year = request.getfixturevalue(year_fixture)
    scores = {c: 80 for c in submitted}
    report = run(year, sub(year.performance_year), auto_euc=True, category_scores={**scores, "cost": 60},
                 entity={"type": "individual", "small_practice": small})
    cats = report["categories"]
    expected = (EUC_SMALL if small else EUC_ROWS)[submitted]
    assert (cats["quality"]["weight"], cats["pi"]["weight"], cats["ia"]["weight"], cats["cost"]["weight"]) == \
        tuple(D(w) for w in expected)
    if len(submitted) < 2:
        assert report["final_score"] == 75 and report["payment_adjustment"]["percent"] == 0
    else:
        assert report["final_score"] == 80  # every scored category at 80; cost never counts


def test_euc_does_not_apply_to_groups(year_2024):
    report = run(year_2024, sub(2024, entity="group"), auto_euc=True, entity={"type": "group"},
                 category_scores={"quality": 80, "cost": 60, "ia": 80, "pi": 80})
    assert report["categories"]["cost"]["weight"] == 30


def test_only_a_qualifying_submission_counts_in_2024(year_2023, year_2024):
    def report(year, measures):
        y = year.performance_year
        quality = {**quality_set(y, measures), "measurements": quality_set(y, measures)["measurements"]}
        return run(year, sub(y, quality, pi_set(y, COMPLETE_PI)), auto_euc=True)

    # One measure with numerator and denominator data qualifies in both years.
    for year in (year_2023, year_2024):
        r = report(year, ["112"])
        assert r["categories"]["quality"]["weight"] == 70 and r["categories"]["pi"]["weight"] == 30
    # A quality set without a measure: any data in 2023, not a qualifying submission in 2024.
    assert report(year_2023, [])["categories"]["quality"]["weight"] == 70
    r24 = report(year_2024, [])
    assert r24["categories"]["quality"]["reweighted"] is True
    assert r24["categories"]["pi"]["weight"] == 100 and r24["final_score"] == 75


# ---------------------------------------------------------------------------
# Eligibility, elections, rejections
# ---------------------------------------------------------------------------

SCORES = {"quality": 90, "cost": 90, "ia": 90, "pi": 90}


@pytest.mark.parametrize("eligibility, election, status, applies", [
    ({"allowed_charges": 120000, "part_b_patients": 300, "covered_services": 400}, "none", "eligible", True),
    ({"allowed_charges": 50000, "part_b_patients": 300, "covered_services": 400}, "opt_in", "opt_in_eligible", True),
    ({"allowed_charges": 50000, "part_b_patients": 300, "covered_services": 400}, "none", "opt_in_eligible", False),
    ({"allowed_charges": 50000, "part_b_patients": 300, "covered_services": 400}, "voluntary", "opt_in_eligible", False),
    ({"allowed_charges": 90000, "part_b_patients": 200, "covered_services": 200}, "none", "exempt", False),
    ({"allowed_charges": 90000, "part_b_patients": 200, "covered_services": 200}, "voluntary", "exempt", False),
])
def test_eligibility_and_elections(year_2024, eligibility, election, status, applies):
    report = run(year_2024, sub(2024), eligibility=eligibility, election=election, category_scores=SCORES)
    assert report["eligibility"] == status
    assert report["final_score"] == 90  # always scored
    assert report["payment_adjustment"]["applies"] is applies


@pytest.mark.parametrize("context, message", [
    ({"reporting_option": "app", "election": "voluntary"}, "the APP cannot be reported voluntarily"),
    ({"entity": {"type": "apm_entity"}, "election": "opt_in"}, "APM Entities cannot opt in"),
    ({"election": "opt_in", "eligibility": {"allowed_charges": 1, "part_b_patients": 1, "covered_services": 1}},
     "opt-in needs at least one low-volume criterion exceeded"),
])
def test_rejected_inputs(year_2024, context, message):
    entity = {"apm_entity": "apm"}.get(context.get("entity", {}).get("type"), "individual")
    with pytest.raises(InputError) as err:
        run(year_2024, sub(2024, entity=entity), category_scores=SCORES, **context)
    assert message in err.value.render()


# ---------------------------------------------------------------------------
# Facility-based scoring, the complex patient bonus, attribution
# ---------------------------------------------------------------------------

def test_facility_based_only_when_higher(year_2024):
    base = {"category_scores": {"quality": 60, "cost": 60, "ia": 100, "pi": 100}}
    higher = run(year_2024, sub(2024), facility_based={"quality": 90, "cost": 80}, **base)
    assert higher["scoring_basis"] == "facility"
    assert higher["categories"]["quality"]["score"] == 90 and higher["categories"]["cost"]["score"] == 80
    assert higher["final_score"] == D("91.00")  # (90 × 30 + 80 × 30 + 100 × 15 + 100 × 25) / 100
    lower = run(year_2024, sub(2024), facility_based={"quality": 10, "cost": 10}, **base)
    assert lower["scoring_basis"] == "standard"
    computed = run(year_2024, sub(2024, quality_set(2024, ["112", "226", "317"])),
                   facility_based={"quality": 95, "cost": 95}, category_scores={"ia": 100, "pi": 100})
    # 95 × 30 + 95 × 30 + 100 × 15 + 100 × 25 = 97.0 beats the standard score (cost reweighted)
    assert computed["scoring_basis"] == "facility" and computed["final_score"] == 97
    assert computed["categories"]["quality"]["reason"] == "facility-based score"


@pytest.mark.parametrize("z, bonus", [
    ((1, D("0.5")), D("9")),  # 1.5 + 4 × 1 = 5.5 and 1.5 + 4 × 0.5 = 3.5
    ((2, 2), D("10")),  # 19 capped at 10
    ((-1, 0), D("1.5")),  # below the median: no points for that component
])
def test_complex_patient_bonus_from_z_scores(year_2024, z, bonus):
    report = run(year_2024, sub(2024), category_scores={"quality": 50, "cost": 50, "ia": 50, "pi": 50},
                 complex_patient={"hcc_risk_z": D(str(z[0])), "dual_eligible_z": D(str(z[1]))})
    assert report["complex_patient_bonus"] == bonus
    assert report["final_score"] == 50 + bonus


def test_context_entity_type_comes_from_the_submission(year_2024):
    report = run(year_2024, sub(2024, entity="group"), category_scores=SCORES)
    assert report["entity"]["type"] == "group"
    with pytest.raises(InputError) as err:
        run(year_2024, sub(2024, entity="group"), entity={"type": "individual"}, category_scores=SCORES)
    assert "entity.type: individual contradicts the submission's entityType group" in err.value.render()


def test_attribution_hierarchy(year_2024):
    def report(entity, final):
        return {"performance_year": 2024, "final_score": D(final), "entity": {"type": entity}}

    assert attribute(year_2024, [report("individual", 90), report("virtual_group", 60), report("group", 80)]) == \
        (1, "virtual_group participation sets the payment adjustment outright")
    index, reason = attribute(year_2024, [report("individual", 70), report("apm_entity", 85), report("group", 80)])
    assert index == 1 and reason == "the highest final score (85, apm_entity)"
    with pytest.raises(InputError):
        attribute(year_2024, [{"performance_year": 2023, "final_score": D(1), "entity": {"type": "group"}}])
