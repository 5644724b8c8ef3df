"""MIPS Value Pathways (issue #17): the reporting option a submission names, what it may not do, and
the report of the MVP's requirements. The scores themselves are worked by hand in each year's rule
tests (rules/<year>/tests/mvp.yaml) and checked against the hand-written reference scorer on the
synthetic population's MVP records (tests/test_reference.py)."""

from __future__ import annotations

import copy
import json

from typer.testing import CliRunner

from mips_rules.dsl.errors import InputError
from mips_rules.engine.cli.commands import app, normalise_argv
from mips_rules.engine.inputs.context import parse_context
from mips_rules.engine.inputs.submission import parse_submission
from mips_rules.engine.scoring.render import to_markdown
from mips_rules.engine.scoring.score import score

from conftest import EXAMPLES

runner = CliRunner()
SUBMISSION = json.loads((EXAMPLES / "2024-mvp-g0053.json").read_text())
CONTEXT = {"performance_year": 2024, "category_scores": {"pi": 90},
           "quality": {"admin_claims": [{"measure_id": "479", "performance_rate": 0.15},
                                        {"measure_id": "484", "points": 5}]},
           "cost": {"measures": [{"measure_id": "TPCC_1", "points": 6}, {"measure_id": "MSPB_1", "points": 9}]}}


def _score(year, submission=SUBMISSION, context=CONTEXT):
    return score(year, parse_submission(copy.deepcopy(submission)), parse_context(copy.deepcopy(context), year=year))


def test_the_submission_names_its_mvp_and_the_report_lists_its_requirements(year_2024):
    report = _score(year_2024).report
    assert report["reporting_option"] == "mvp"
    assert report["mvp"] == "G0053 Advancing Rheumatology Patient Care"
    met = {r["requirement"]: r["met"] for r in report["mvp_requirements"]}
    assert len(met) == 5 and all(met.values())
    # 78.3154 × 0.30 + 60 × 0.30 + 100 × 0.15 + 90 × 0.25 = 78.98462 → 78.99
    assert str(report["final_score"]) == "78.99"
    cost = {m["measure_id"]: m for m in report["categories"]["cost"]["measures"]}
    assert cost["MSPB_1"]["points"] is None and cost["MSPB_1"]["reason"] == "not one of G0053's cost measures"
    markdown = to_markdown(report, year_2024.report_layout)
    assert "## MVP requirements" in markdown
    assert "| 4 quality measures from the MVP, one of them an outcome measure (or high priority) | yes |" in markdown
    assert "MVP: G0053 Advancing Rheumatology Patient Care" in markdown


def test_a_requirement_not_met_says_so(year_2024):
    """One medium activity: 10 × 2 = 20 of 40 points → IA 50%, and the requirement is not met."""
    sub = copy.deepcopy(SUBMISSION)
    sub["measurementSets"][2]["measurements"] = [{"measureId": "IA_BE_1", "value": True}]
    report = _score(year_2024, sub).report
    assert report["categories"]["ia"]["score"] == 50
    ia = report["mvp_requirements"][1]
    assert ia["met"] is False and ia["detail"] == "1 of the MVP's activities attested, 20 points"


def test_a_traditional_report_has_no_mvp_fields(year_2024):
    sub = copy.deepcopy(SUBMISSION)
    for s in sub["measurementSets"]:
        s["programName"] = "mips"
    report = _score(year_2024, sub).report
    assert report["reporting_option"] == "traditional"
    assert "mvp" not in report and "mvp_requirements" not in report
    # Traditional MIPS: 6 required measures, every measure and activity counts, no population health.
    assert report["categories"]["ia"]["score"] == 75  # IA_BE_1, IA_PM_16 and IA_CC_1 all count: 3 medium × 10 = 30 of 40
    assert report["categories"]["quality"]["measures"][0]["counted"] is True


def test_sets_for_another_program_are_not_the_mvps(year_2024):
    """Under an MVP, a quality set named `mips` is a traditional submission of its own: not scored here."""
    sub = copy.deepcopy(SUBMISSION)
    sub["measurementSets"][1]["programName"] = "mips"  # the eCQM set with 134
    report = _score(year_2024, sub).report
    assert "134" not in {m["measure_id"] for m in report["categories"]["quality"]["measures"]}
    assert report["mvp_requirements"][0]["met"] is False  # 3 measures from the MVP


def test_what_cannot_be_scored_as_an_mvp(year_2024):
    cases = [
        ({**CONTEXT, "reporting_option": "app"}, SUBMISSION,
         "the context's reporting option is the APP but the submission reports MVP G0053"),
        ({**CONTEXT, "reporting_option": "mvp"}, {**SUBMISSION, "measurementSets": [
            {**s, "programName": "mips"} for s in SUBMISSION["measurementSets"]]},
         "MVP reporting names its MVP"),
        (CONTEXT, {**SUBMISSION, "measurementSets": [{**SUBMISSION["measurementSets"][0], "programName": "M0001"},
                                                     *SUBMISSION["measurementSets"][1:]]},
         "the measurement sets name more than one MVP (M0001, G0053)"),
    ]
    for context, submission, message in cases:
        try:
            _score(year_2024, submission, context)
        except InputError as exc:
            assert message in exc.render()
        else:
            raise AssertionError(f"scored: {message}")


def test_the_cli_scores_the_example_and_explains_the_requirements():
    result = runner.invoke(app, normalise_argv(["score", str(EXAMPLES / "2024-mvp-g0053.json"), "-c",
                                                str(EXAMPLES / "2024-mvp-g0053-context.yaml"), "--format", "json",
                                                "--explain", "mvp_requirements"]))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert str(report["final_score"]) == "78.99"
    assert "explanation" in report
