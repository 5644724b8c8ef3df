"""What cancels a 0% weight: 2024's "qualifying data submission" against 2023's "any data".

Sources: CMS 2024 automatic EUC fact sheet (../shared/cms/euc/: "a non-qualifying
(incomplete) submission for a performance category won't void its 0% weighting", as
finalized in the CY 2025 PFS final rule); 004_23d77edc1962e2e1.txt, "Why Did I Receive a
Performance Category Score of 0 Out of 25 Points When I Qualified for Reweighting?" (a
qualifying PI submission holds every required element "even if the data submitted didn't
meet reporting requirements"); the 2023 fact sheet and 003 "Reweighting" (any data).
Every expected number is worked by hand in the comments from those sources and the
benchmarks of rules/<year>/benchmarks.yaml (CMS benchmarks/<year>.json).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.test_categories import COMPLETE_PI, ia_set, pi_set, quality_set, run, sub

# Registry, 50 of 50 met (100%). 2024 registry benchmarks: 236, 112, 317, 374 have
# p90 ≤ 100 → decile 10 → 10 points each; 128 and 130 are topped out by program → capped at 7.
SIX_MEASURES = ["236", "112", "317", "374", "128", "130"]  # 10+10+10+10+7+7 = 54 of 60 = 90%
TWO_MEDIUM = ["IA_EPA_2", "IA_EPA_3"]  # 10 + 10 = 20 of 40 = 50% (not doubled)


def test_euc_quality_and_two_medium_activities_both_count_in_2024(year_2024):
    # Both submissions qualify (numerator/denominator data; one attested activity), so the
    # EUC row "quality and IA" applies: not a small practice → 85 / 15 (fact sheet Table 1).
    r = run(year_2024, sub(2024, quality_set(2024, SIX_MEASURES), ia_set(2024, TWO_MEDIUM)), auto_euc=True)
    cats = r["categories"]
    assert cats["quality"]["score"] == 90 and cats["ia"]["score"] == 50
    assert (cats["quality"]["weight"], cats["ia"]["weight"], cats["pi"]["weight"], cats["cost"]["weight"]) == \
        (85, 15, 0, 0)
    assert r["final_score"] == D("84.00")  # 90 × 0.85 + 50 × 0.15 = 76.5 + 7.5
    assert r["payment_adjustment"]["direction"] == "positive"


def test_euc_one_measure_qualifies_quality_in_2024(year_2024):
    # One measure with numerator/denominator data is a qualifying quality submission:
    # 236 scores 10 of 60 → 16.666…%; with the complete PI (93%) the row is 70 / 30.
    r = run(year_2024, sub(2024, quality_set(2024, ["236"]), pi_set(2024, COMPLETE_PI)), auto_euc=True)
    cats = r["categories"]
    assert (cats["quality"]["weight"], cats["pi"]["weight"]) == (70, 30)
    # 10/60 × 100 × 0.7 + 93 × 0.3 = 11.666… + 27.9 = 39.566… → 39.57
    assert r["final_score"] == D("39.57")


def test_euc_complete_pi_with_a_short_period_is_scored_zero_in_2024(year_2024):
    # 120 days is under 2024's 180-day minimum: the PI score is 0, but the submission has
    # every element, so it qualifies and PI is scored at 30% (quality + PI row, 70 / 30).
    pi_short = pi_set(2024, COMPLETE_PI, start="01-01", end="04-30")  # 119 days between the dates
    r = run(year_2024, sub(2024, quality_set(2024, SIX_MEASURES), pi_short), auto_euc=True)
    cats = r["categories"]
    assert cats["pi"]["score"] == 0 and cats["pi"]["weight"] == 30
    assert "shorter than 180" in cats["pi"]["reason"]
    assert r["final_score"] == D("63.00")  # 90 × 0.7 + 0 × 0.3


def test_euc_pi_without_cehrt_id_does_not_qualify_in_2024_but_counts_in_2023(year_2023, year_2024):
    def report(year):
        y = year.performance_year
        return run(year, sub(y, quality_set(y, SIX_MEASURES), pi_set(y, COMPLETE_PI, cehrt=None)), auto_euc=True)

    r24 = report(year_2024)
    assert r24["categories"]["pi"]["reweighted"] is True
    assert "not a qualifying submission: no CEHRT ID" in r24["categories"]["pi"]["reason"]
    # Only quality qualifies: one category at 100% → the performance threshold.
    assert r24["categories"]["quality"]["weight"] == 100 and r24["final_score"] == 75
    r23 = report(year_2023)  # 2023: any PI data voids the 0% weight → PI 0 at 30%
    assert (r23["categories"]["quality"]["weight"], r23["categories"]["pi"]["weight"]) == (70, 30)
    assert r23["categories"]["pi"]["score"] == 0
    # 2023 registry benchmarks: 236 (p90 90), 112 and 317 (p90 100) → 10 each; 128 topped
    # out but not by program → 10; 130 and 374 topped out by program → 7: 54 of 60 = 90%.
    assert r23["categories"]["quality"]["score"] == 90
    assert r23["final_score"] == D("63.00")  # 90 × 0.7


def test_small_practice_pi_without_cehrt_id_stays_reweighted_in_2024(year_2023, year_2024):
    # Small practice: PI reweighted by special status. Quality 236 (10) + 128 (7) + 130 (7)
    # + the 6-point small-practice bonus = 30 of 60 = 50%; one medium activity doubled = 20
    # of 40 = 50%; cost 8 points of 10 = 80%.
    def report(year):
        y = year.performance_year
        return run(year, sub(y, quality_set(y, ["236", "128", "130"]), ia_set(y, ["IA_EPA_2"]),
                             pi_set(y, COMPLETE_PI, cehrt=None)),
                   entity={"type": "individual", "small_practice": True},
                   cost={"measures": [{"measure_id": "TPCC_1", "points": 8}]})

    r24 = report(year_2024)
    cats = r24["categories"]
    assert cats["quality"]["score"] == 50 and cats["ia"]["score"] == 50 and cats["cost"]["score"] == 80
    assert cats["pi"]["reweighted"] is True
    assert cats["pi"]["reason"] == ("reweighted: special status: small_practice (the PI data is not a qualifying "
                                    "submission: no CEHRT ID)")
    # Small practice, PI reweighted: quality 40, cost 30, IA 30 (000; 42 CFR 414.1380(c)(2)(ii)(G)).
    assert (cats["quality"]["weight"], cats["cost"]["weight"], cats["ia"]["weight"]) == (40, 30, 30)
    assert r24["final_score"] == D("59.00")  # 50 × 0.4 + 80 × 0.3 + 50 × 0.3 = 20 + 24 + 15
    # 2023: any PI data cancels the reweighting and is scored 0 ("no CEHRT ID"); default
    # weights 30/30/15/25. 2023 registry: 236 → 10, 128 → 10 (not capped), 130 → 7:
    # 27 + 6 = 33 of 60 = 55%.
    r23 = report(year_2023)
    assert r23["categories"]["pi"]["score"] == 0 and r23["categories"]["pi"]["weight"] == 25
    assert r23["categories"]["quality"]["score"] == 55
    assert r23["final_score"] == D("48.00")  # 55 × 0.3 + 80 × 0.3 + 50 × 0.15 = 16.5 + 24 + 7.5


def test_a_no_on_the_security_risk_analysis_still_qualifies(year_2024):
    # Every element present, a "no" on PI_PPHI_1: qualifying → scored (0), not reweighted,
    # even for a small practice (004: "even if the data submitted didn't meet reporting requirements").
    r = run(year_2024, sub(2024, pi_set(2024, {**COMPLETE_PI, "PI_PPHI_1": False})),
            entity={"type": "individual", "small_practice": True}, category_scores={"quality": 80, "ia": 100},
            exceptions={"cost": True})
    pi = r["categories"]["pi"]
    assert pi["score"] == 0 and pi["reweighted"] is False
    assert pi["reason"] == "score 0: PI_PPHI_1 not attested yes"


@pytest.mark.parametrize("missing, reason", [
    ("PI_ONCDIR_1", "PI_ONCDIR_1 not answered"),
    ("PI_PEA_1", "PI_PEA_1 neither reported nor excluded"),
])
def test_missing_required_elements_keep_pi_reweighted_in_2024(year_2024, missing, reason):
    measures = {k: v for k, v in COMPLETE_PI.items() if k != missing}
    r = run(year_2024, sub(2024, pi_set(2024, measures)), entity={"type": "individual", "hospital_based": True},
            category_scores={"quality": 80, "ia": 100, "cost": 50})
    pi = r["categories"]["pi"]
    assert pi["reweighted"] is True and pi["reason"].endswith(f"not a qualifying submission: {reason})")


def test_apm_participant_ia_credit_under_euc_needs_a_qualifying_submission(year_2023, year_2024):
    empty_quality = {**quality_set(2024, []), "measurements": []}
    # 2024: a quality set without any measure does not qualify → no IA credit, nothing scored.
    r = run(year_2024, sub(2024, empty_quality), auto_euc=True,
            entity={"type": "individual", "apm_participant": True})
    assert r["categories"]["ia"]["reweighted"] is True and r["final_score"] == 75
    assert "no quality measure with numerator and denominator data" in r["categories"]["quality"]["reason"]
    # A qualifying quality submission starts the credit: IA 20 of 40 = 50%; quality 90%;
    # the row quality + IA (not small) is 85 / 15: 76.5 + 7.5 = 84.
    r = run(year_2024, sub(2024, quality_set(2024, SIX_MEASURES)), auto_euc=True,
            entity={"type": "individual", "apm_participant": True})
    assert r["categories"]["ia"]["score"] == 50 and r["final_score"] == D("84.00")
    # 2023: any quality data (even an empty set) starts the credit.
    r23 = run(year_2023, sub(2023, {**quality_set(2023, []), "measurements": []}), auto_euc=True,
              entity={"type": "individual", "apm_participant": True})
    assert r23["categories"]["ia"]["score"] == 50


def test_a_quality_exception_is_cancelled_only_by_a_qualifying_submission_in_2024(year_2023, year_2024):
    def report(year):
        y = year.performance_year
        empty = {**quality_set(y, []), "measurements": []}
        return run(year, sub(y, empty), exceptions={"quality": True},
                   category_scores={"cost": 50, "ia": 100, "pi": 100})

    q24 = report(year_2024)["categories"]["quality"]
    assert q24["reweighted"] is True and q24["reason"] == "reweighted: approved exception application"
    q23 = report(year_2023)["categories"]["quality"]  # 2023: any data cancels it → 0 of 60
    assert q23["reweighted"] is False and q23["score"] == 0
