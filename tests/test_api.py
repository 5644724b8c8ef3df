"""The Python API (issue #16, item 4): plain dicts in, plain JSON-serialisable data out."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
import yaml

import mips_rules
from mips_rules.dsl.errors import InputError

from conftest import EXAMPLES, RULES

SUB = json.loads((EXAMPLES / "2024-full.json").read_text())
CTX = yaml.safe_load((EXAMPLES / "2024-full-context.yaml").read_text())


@pytest.fixture(scope="module")
def year():
    return mips_rules.load_year(2024)


def test_a_report_is_plain_json_data(year):
    report = year.score(SUB, CTX)
    json.dumps(report)  # no Decimals
    # 67.58: derived by hand in tests/test_full_reports.py (the same example).
    assert report["final_score"] == 67.58 and report["performance_year"] == 2024
    assert report["rules_fingerprint"] == year.fingerprint
    exact = year.score(SUB, CTX, exact=True)
    assert exact["final_score"] == D("67.58") and isinstance(exact["final_score"], D)


def test_a_float_means_the_number_it_shows(year):
    # 66.6 typed in Python is the float 66.59999…; the API reads it as the decimal 66.6.
    report = year.score(None, {"category_scores": {"quality": 66.6, "cost": 50, "ia": 100, "pi": 100}},
                        exact=True)
    assert report["categories"]["quality"]["score"] == D("66.6")
    # 66.6 × 30% + 50 × 30% + 100 × 15% + 100 × 25% = 19.98 + 15 + 15 + 25 = 74.98
    assert report["final_score"] == D("74.98")


def test_bad_input_names_the_field(year):
    with pytest.raises(InputError) as err:
        year.score({**SUB, "entityType": "team"}, CTX)
    assert "entityType" in err.value.render()
    with pytest.raises(InputError) as err:
        year.score(SUB, {"category_scores": {"quality": float("nan")}})
    assert "category_scores.quality" in err.value.render()


def test_a_population_as_rows_and_a_data_frame(year):
    records = [{"id": "a", "submission": SUB, "context": CTX}, {"id": "b", "submission": {"entityType": "x"}},
               {"id": "c", "context": {"category_scores": {"quality": 80, "cost": 80, "ia": 80, "pi": 80}}}]
    rows = list(year.score_population(records))
    assert [r["id"] for r in rows] == ["a", "b", None]
    assert rows[0]["final_score"] == 67.58 and rows[0]["error"] is None
    assert "entityType" in rows[1]["error"] and rows[1]["final_score"] is None
    assert "needs `id`, `submission`" in rows[2]["error"]
    json.dumps(rows)
    frame = year.frame(records[:1])
    assert list(frame.columns)[:5] == ["id", "line", "performance_year", "rules_fingerprint", "final_score"]
    assert frame.loc[0, "final_score"] == 67.58 and frame.loc[0, "pi_weight"] == 25


def test_a_year_folder_by_path_and_an_explanation():
    year = mips_rules.load_year(str(RULES / "2023"))
    assert year.performance_year == 2023
    text = year.explain(None, {"category_scores": {"quality": 80, "cost": 80, "ia": 80, "pi": 80}})
    assert text.startswith("final_score = 80")
