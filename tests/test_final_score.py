"""Weights, the final score and the payment adjustment, against the numbers in the spec.

Expected numbers are typed in from ../shared/spec/scoring-rules.md §1, §3 and §8
(and the seeds they cite), not read from the rules under test.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from mips_rules.engine.inputs.context import parse_context
from mips_rules.engine.scoring.score import score

CATS = ("quality", "cost", "ia", "pi")

# §1, not a small practice: reweighted categories → (quality, cost, ia, pi)
REDISTRIBUTION = {
    (): (30, 30, 15, 25),
    ("cost",): (55, 0, 15, 30),
    ("pi",): (55, 30, 15, 0),
    ("quality",): (0, 30, 15, 55),
    ("ia",): (45, 30, 0, 25),
    ("cost", "pi"): (85, 0, 15, 0),
    ("cost", "quality"): (0, 0, 15, 85),
    ("cost", "ia"): (70, 0, 0, 30),
    ("pi", "quality"): (0, 50, 50, 0),
    ("pi", "ia"): (70, 30, 0, 0),
    ("quality", "ia"): (0, 30, 0, 70),
}
# §1, small practice: identical except two rows.
SMALL_PRACTICE = {**REDISTRIBUTION, ("pi",): (40, 30, 30, 0), ("cost", "pi"): (50, 0, 50, 0)}


def report(year, *, small=False, option="traditional", bonus=0, election="none", **scores):
    """Score with given category scores; a category left out is reweighted (an approved exception)."""
    ctx = parse_context({
        "reporting_option": option,
        "entity": {"type": "individual", "small_practice": small},
        "election": election,
        "complex_patient_bonus": D(str(bonus)),
        "category_scores": {k: D(str(v)) for k, v in scores.items()},
        "exceptions": {c: c not in scores for c in CATS},
    })
    return score(year, None, ctx).report


@pytest.mark.parametrize("year_fixture", ["year_2023", "year_2024"])
@pytest.mark.parametrize("small", [False, True], ids=["not-small", "small-practice"])
@pytest.mark.parametrize("reweighted", list(REDISTRIBUTION), ids=lambda r: "+".join(r) or "none")
def test_every_redistribution_row(request, year_fixture, small, reweighted):
    year = request.getfixturevalue(year_fixture)
    expected = (SMALL_PRACTICE if small else REDISTRIBUTION)[reweighted]
    scores = {c: 80 for c in CATS if c not in reweighted}
    r = report(year, small=small, **scores)
    weights = tuple(r["categories"][c]["weight"] for c in CATS)
    assert weights == tuple(D(w) for w in expected)
    assert [r["categories"][c]["reweighted"] for c in CATS] == [c in reweighted for c in CATS]
    # Every category scored 80 → the final score is 80 whatever the weights.
    assert r["final_score"] == D("80.00")


@pytest.mark.parametrize("year_fixture", ["year_2023", "year_2024"])
def test_fewer_than_two_categories_scored_gives_the_threshold(request, year_fixture):
    year = request.getfixturevalue(year_fixture)
    only_quality = report(year, quality=12)
    assert only_quality["final_score"] == 75
    assert only_quality["categories"]["quality"]["weight"] == 100
    assert only_quality["payment_adjustment"]["percent"] == 0
    assert only_quality["payment_adjustment"]["direction"] == "neutral"
    nothing = report(year)
    assert nothing["final_score"] == 75
    assert all(c["weight"] == 0 for c in nothing["categories"].values())


@pytest.mark.parametrize("year_fixture", ["year_2023", "year_2024"])
def test_app_weights(request, year_fixture):
    year = request.getfixturevalue(year_fixture)
    r = report(year, option="app", quality=80, pi=90, cost=10)  # cost is ignored under the APP
    assert [r["categories"][c]["weight"] for c in CATS] == [50, 0, 20, 30]
    assert r["categories"]["ia"]["score"] == 100  # APP: IA full credit automatically
    # 80 × 0.5 + 100 × 0.2 + 90 × 0.3 = 87
    assert r["final_score"] == D("87.00")
    q_off = report(year, option="app", pi=90)
    assert [q_off["categories"][c]["weight"] for c in CATS] == [0, 0, 25, 75]
    pi_off = report(year, option="app", quality=80)
    assert [pi_off["categories"][c]["weight"] for c in CATS] == [75, 0, 25, 0]


def test_worked_example_quality_points(year_2024):
    # 004 (EMA screenshot): 13.32 points of 2 required measures → 66.6% × 30 = 19.98 points.
    quality_score = D("13.32") / 20 * 100
    r = report(year_2024, quality=quality_score, cost=50, ia=100, pi=100)
    assert r["categories"]["quality"]["points"] == D("19.98")


def test_points_bonus_cap_and_rounding(year_2024):
    r = report(year_2024, quality="71.2", ia=100, pi=80, bonus="2.5")
    assert r["categories"]["quality"]["points"] == D("39.16")  # 71.2 × 55 / 100
    # 39.16 + 15 + 24 + 2.5
    assert r["final_score"] == D("80.66")
    assert r["complex_patient_bonus"] == D("2.5")
    capped = report(year_2024, quality=100, cost=100, ia=100, pi=100, bonus=10)
    assert capped["final_score"] == 100
    half = report(year_2024, quality="66.665", cost="66.665", ia="66.665", pi="66.665")
    assert half["final_score"] == D("66.67")  # two decimals, half up


# §3: −9% at or below 18.75; −9 × (75 − s) / 75 below 75; 0 at 75; 9 × (s − 75) / 25 × factor above,
# with the factor making 100 earn the maximum paid (2.15% for PY2023, 1.05% for PY2024).
@pytest.mark.parametrize("final, pct_2023, pct_2024", [
    ("0", "-9.00", "-9.00"),
    ("18.75", "-9.00", "-9.00"),
    ("18.76", "-6.75", "-6.75"),  # −9 × 56.24 / 75 = −6.7488
    ("60", "-1.80", "-1.80"),
    ("74.99", "-0.00", "-0.00"),  # −9 × 0.01 / 75 = −0.0012 → −0.00
    ("75", "0", "0"),
    ("75.01", "0.00", "0.00"),  # 9 × 0.01 / 25 × 2.15 / 9 = 0.00086
    ("93.07", "1.55", "0.76"),  # 18.07 / 25 × 2.15 = 1.55402; × 1.05 = 0.75894
    ("100", "2.15", "1.05"),
])
def test_payment_adjustment_bands(year_2023, year_2024, final, pct_2023, pct_2024):
    for year, pct in ((year_2023, pct_2023), (year_2024, pct_2024)):
        r = report(year, quality=final, cost=final, ia=final, pi=final)
        assert r["final_score"] == D(final)
        assert r["payment_adjustment"]["percent"] == D(pct)
        expected_direction = "positive" if D(final) > 75 else "negative" if D(final) < 75 else "neutral"
        assert r["payment_adjustment"]["direction"] == expected_direction


def test_band_direction_at_the_edges(year_2024):
    assert report(year_2024, quality=75, cost=75, ia=75, pi=75)["payment_adjustment"]["direction"] == "neutral"
    assert report(year_2024, quality="18.76", cost="18.76", ia="18.76", pi="18.76")[
        "payment_adjustment"]["direction"] == "negative"


def test_voluntary_reporters_get_no_adjustment(year_2024):
    r = report(year_2024, election="voluntary", quality=90, cost=90, ia=90, pi=90)
    assert r["final_score"] == D("90.00")
    assert r["payment_adjustment"]["applies"] is False
    assert r["payment_adjustment"]["percent"] == 0
    assert r["payment_adjustment"]["direction"] == "none"


def test_payment_years(year_2023, year_2024):
    assert report(year_2023, quality=1, pi=1)["payment_adjustment"]["payment_year"] == 2025
    assert report(year_2024, quality=1, pi=1)["payment_adjustment"]["payment_year"] == 2026
