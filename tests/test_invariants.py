"""Invariants over generated submissions and contexts, for both years (hypothesis)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mips_rules.dsl.errors import InputError
from mips_rules.engine.inputs.context import parse_context
from mips_rules.engine.scoring.render import to_json
from mips_rules.engine.scoring.score import score
from mips_rules.engine.inputs.submission import parse_submission
from mips_rules.engine.populations.synth import Synthesizer

from conftest import EXAMPLES

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
YEARS = ["year_2023", "year_2024"]


def _score(year, record):
    record = json.loads(json.dumps(record), parse_float=Decimal)
    return score(year, parse_submission(record["submission"]), parse_context(record["context"])).report


@pytest.mark.parametrize("year_fixture", YEARS)
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_final_score_is_between_0_and_100(request, year_fixture, seed):
    year = request.getfixturevalue(year_fixture)
    record = Synthesizer(year, seed).record(0)
    try:
        report = _score(year, record)
    except InputError as exc:  # the documented rejections (an APM Entity opting in …)
        assert "cannot be scored" in exc.render()
        return
    assert 0 <= report["final_score"] <= 100
    for c in report["categories"].values():
        assert c["score"] is None or 0 <= c["score"] <= 100
        assert 0 <= c["weight"] <= 100


def _full(year):
    data = json.loads((EXAMPLES / "2024-full.json").read_text().replace("2024-", f"{year}-"))
    data["performanceYear"] = year
    return data


def _with_rate(year, measure_index, met, total):
    data = _full(year)
    m = data["measurementSets"][0]["measurements"][measure_index]
    m["value"] = {"performanceMet": met, "performanceNotMet": total - met, "eligiblePopulation": total}
    return data


CONTEXT = {"cost": {"measures": [{"measure_id": "TPCC_1", "points": Decimal("6.5")}]}}


@pytest.mark.parametrize("year_fixture", YEARS)
@SETTINGS
@given(total=st.integers(20, 500), data=st.data())
def test_a_better_rate_never_lowers_points_or_the_final_score(request, year_fixture, total, data):
    year = request.getfixturevalue(year_fixture)
    y = year.performance_year
    low = data.draw(st.integers(0, total))
    high = data.draw(st.integers(low, total))
    # measure 112 (direct) is index 1; measure 001 (inverse) is index 0 in the full example
    for index, inverse in ((1, False), (0, True)):
        worse_met, better_met = (high, low) if inverse else (low, high)
        worse = score(year, parse_submission(_with_rate(y, index, worse_met, total)), parse_context(CONTEXT)).report
        better = score(year, parse_submission(_with_rate(y, index, better_met, total)), parse_context(CONTEXT)).report
        mid = "001" if inverse else "112"
        points = {r: next(m["points"] for m in rep["categories"]["quality"]["measures"] if m["measure_id"] == mid)
                  for r, rep in (("worse", worse), ("better", better))}
        assert points["better"] >= points["worse"]
        assert better["final_score"] >= worse["final_score"]


@pytest.mark.parametrize("year_fixture", YEARS)
@SETTINGS
@given(data=st.data())
def test_adding_an_activity_never_lowers_the_ia_score(request, year_fixture, data):
    year = request.getfixturevalue(year_fixture)
    activities = sorted(year.namespaces()["measures"]["ia"].rows)
    chosen = data.draw(st.lists(st.sampled_from(activities), max_size=4, unique=True))
    extra = data.draw(st.sampled_from(activities))
    statuses = data.draw(st.fixed_dictionaries({"small_practice": st.booleans(), "rural": st.booleans()}))

    def ia(acts):
        sub = {"entityType": "individual", "taxpayerIdentificationNumber": "000123456",
               "nationalProviderIdentifier": "1234567893", "performanceYear": year.performance_year,
               "measurementSets": [{"category": "ia", "submissionMethod": "registry",
                                    "performanceStart": f"{year.performance_year}-01-01",
                                    "performanceEnd": f"{year.performance_year}-03-31",
                                    "measurements": [{"measureId": a, "value": True} for a in acts]}]}
        ctx = parse_context({"entity": {"type": "individual", **statuses}})
        return score(year, parse_submission(sub), ctx).report["categories"]["ia"]["score"]

    assert ia(chosen + ([extra] if extra not in chosen else [])) >= ia(chosen)


@pytest.mark.parametrize("year_fixture", YEARS)
def test_every_redistribution_and_euc_row_sums_to_100_or_is_all_zero(request, year_fixture):
    year = request.getfixturevalue(year_fixture)
    ns = year.namespaces()
    tables = [ns["weights"][t] for t in ("redistribution", "redistribution_small_practice", "app")]
    tables += [ns["euc"][t] for t in ("weights", "weights_small_practice")]
    for table in tables:
        for row in table.rows.values():
            total = sum(row["weights"].values(), Decimal(0))
            assert total == 100 or all(v == 0 for v in row["weights"].values()), (table.name, row)


@pytest.mark.parametrize("year_fixture", YEARS)
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_scoring_is_deterministic(request, year_fixture, seed):
    year = request.getfixturevalue(year_fixture)
    record = Synthesizer(year, seed).record(0)
    try:
        first, second = to_json(_score(year, record)), to_json(_score(year, record))
    except InputError:
        return
    assert first == second


# Submissions the model accepts score without an exception.
_COUNT = st.integers(0, 400)
_RATE = st.builds(lambda met, notmet, extra: {"performanceMet": met, "performanceNotMet": notmet,
                                              "eligiblePopulation": met + notmet + extra},
                  _COUNT, _COUNT, st.integers(0, 50))
_PI_VALUE = st.one_of(st.booleans(), st.builds(lambda n, d: {"numerator": min(n, d), "denominator": d},
                                               _COUNT, _COUNT))


@pytest.mark.parametrize("year_fixture", YEARS)
@SETTINGS
@given(data=st.data())
def test_accepted_submissions_score_without_an_exception(request, year_fixture, data):
    year = request.getfixturevalue(year_fixture)
    y = year.performance_year
    ns = year.namespaces()
    quality_ids = sorted(ns["measures"]["quality"].rows) + ["XYZ1", "999"]
    pi_ids = sorted(ns["measures"]["pi"].rows)
    ia_ids = sorted(ns["measures"]["ia"].rows)
    methods = ["registry", "electronicHealthRecord", "claims"]
    sets = []
    for method in data.draw(st.lists(st.sampled_from(methods), max_size=2, unique=True)):
        ids = data.draw(st.lists(st.sampled_from(quality_ids), min_size=1, max_size=8, unique=True))
        sets.append({"category": "quality", "submissionMethod": method, "performanceStart": f"{y}-01-01",
                     "performanceEnd": f"{y}-12-31",
                     "measurements": [{"measureId": i, "value": data.draw(_RATE)} for i in ids]})
    if data.draw(st.booleans()):
        ids = data.draw(st.lists(st.sampled_from(pi_ids), max_size=12, unique=True))
        sets.append({"category": "pi", "submissionMethod": "electronicHealthRecord", "performanceStart": f"{y}-01-01",
                     "performanceEnd": f"{y}-{data.draw(st.sampled_from(['03-31', '07-31', '12-31']))}",
                     "cehrtId": data.draw(st.sampled_from(["0015E8ABCDEFGHI", "0015H8ABCDEFGHI", "short"])),
                     "measurements": [{"measureId": i, "value": data.draw(_PI_VALUE)} for i in ids]})
    if data.draw(st.booleans()):
        ids = data.draw(st.lists(st.sampled_from(ia_ids), max_size=5, unique=True))
        sets.append({"category": "ia", "submissionMethod": "registry", "performanceStart": f"{y}-01-01",
                     "performanceEnd": f"{y}-03-31", "measurements": [{"measureId": i, "value": True} for i in ids]})
    entity = data.draw(st.sampled_from(["individual", "group"]))
    sub = {"entityType": entity, "taxpayerIdentificationNumber": "000123456", "performanceYear": y,
           "measurementSets": sets}
    if entity == "individual":
        sub["nationalProviderIdentifier"] = "1234567893"
    context = {"entity": {"type": entity, "small_practice": data.draw(st.booleans()),
                          "apm_participant": data.draw(st.booleans())},
               "auto_euc": data.draw(st.booleans()) and entity == "individual",
               "reporting_option": data.draw(st.sampled_from(["traditional", "app"]))}
    try:
        submission = parse_submission(sub)
    except InputError:
        return  # not accepted: fine
    unknown = [m["measureId"] for s in sets if s["category"] == "quality" for m in s["measurements"]
               if m["measureId"] not in ns["measures"]["quality"].rows]
    if unknown:  # the year's inventory is CMS's complete one: an unknown ID is an input error with its path
        with pytest.raises(InputError, match=f"unknown quality measure '{unknown[0]}'"):
            score(year, submission, parse_context(context))
        return
    report = score(year, submission, parse_context(context)).report
    assert 0 <= report["final_score"] <= 100
