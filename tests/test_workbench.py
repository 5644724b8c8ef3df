"""The analyst's workbench: diff, explanations, rule tests, new-year, show, HTML and plots."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

from typer.testing import CliRunner

from mips_rules.engine.cli.commands import app, normalise_argv

from conftest import EXAMPLES, RULES

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, normalise_argv(list(args)))


def test_diff_2023_2024_shows_the_policy_changes(snapshot):
    result = invoke("diff", "2023", "2024", "--format", "markdown")
    assert result.exit_code == 1  # different, like diff(1)
    out = result.stdout
    for expected in ("| `quality.data_completeness_threshold` | changed | 70 | 75 |",
                     "| `pi.min_performance_days` | changed | 90 | 180 |",
                     "| `quality.excluded_measures` | changed | [] | [389, 488] |",
                     "| `pi.exclusions[PI_EP_2_EX_3]` | removed |",
                     "| `pi.reweighted_clinician_types` | changed |",
                     "| `pi.required_yes` | changed | [PI_INFBLO_1, PI_ONCDIR_1, PI_PPHI_1] | "
                     "[PI_INFBLO_1, PI_ONCDIR_1, PI_PPHI_1, PI_PPHI_2] |",
                     "| `payment.max_positive_paid` | changed | 2.15 | 1.05 |"):
        assert expected in out
    assert out == snapshot


def test_diff_json_only_and_same(year_copy):
    result = invoke("diff", "2023", "2024", "--format", "json", "--only", "quality.")
    data = json.loads(result.stdout)
    assert {c["path"] for c in data["changes"]} >= {"quality.data_completeness_threshold", "quality.excluded_measures"}
    assert all(c["path"].startswith("quality.") for c in data["changes"])
    same = invoke("diff", "2024", str(RULES / "2024"))
    assert same.exit_code == 0
    draft = year_copy(2024, edits={"weights.yaml": [("{quality: 85, cost: 0, ia: 15, pi: 0}",
                                                     "{quality: 80, cost: 0, ia: 20, pi: 0}")]})
    changed = invoke("diff", "2024", str(draft), "--format", "json")
    paths = {(c["path"], str(c["old"]), str(c["new"])) for c in json.loads(changed.stdout)["changes"]}
    assert ("weights.redistribution[{cost, pi}].weights.quality", "85", "80") in paths
    assert changed.exit_code == 1


def test_diff_shows_formula_changes(year_copy):
    draft = year_copy(2024, edits={"payment.rules": [("payment.max_positive_paid / payment.max_negative_percent",
                                                      "payment.max_positive_paid / 10")]})
    result = invoke("diff", "2024", str(draft), "--format", "markdown")
    assert "`rule scaling_factor`" in result.stdout
    assert "+scaling_factor = min(payment.scaling_factor_cap, payment.max_positive_paid / 10)" in result.stdout


def test_diff_html_is_self_contained():
    result = invoke("diff", "2023", "2024", "--format", "html")
    page = result.stdout
    assert page.startswith("<!DOCTYPE html>") and "<h2>quality.yaml</h2>" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_explain_tree_names_rules_rows_and_sources(snapshot):
    result = invoke("score", str(EXAMPLES / "2024-full.json"), "-c", str(EXAMPLES / "2024-full-context.yaml"),
                    "--format", "markdown", "--explain", "categories.cost.weight")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "category_weight(\"cost\") = 30" in text
    assert "row weights.redistribution[{}] = {reweighted: {}, weights: {quality: 30, cost: 30, ia: 15, pi: 25}}" in text
    assert "source: 004_23d77edc1962e2e1.txt, Appendix B, Tables 1 and 2" in text
    assert text[text.index("## How it was computed"):] == snapshot


def test_explain_default_and_json():
    result = invoke("score", str(EXAMPLES / "2024-full.json"), "-c", str(EXAMPLES / "2024-full-context.yaml"),
                    "--explain", "--format", "json")
    data = json.loads(result.stdout, parse_float=Decimal)
    root = data["explanation"][0]
    assert root["rule"] == "final_score" and root["value"] == Decimal("67.58")
    assert root["source"].startswith("004_23d77edc1962e2e1.txt, How Is Our Final Score Determined?")
    measure = invoke("score", str(EXAMPLES / "2024-full.json"), "-c", str(EXAMPLES / "2024-full-context.yaml"),
                     "--explain", "quality.measures.001.points", "-f", "markdown")
    assert "measure_result({measure 001}" in measure.stdout and "decile_points" in measure.stdout
    weights = invoke("score", str(EXAMPLES / "2024-full.json"), "-c", str(EXAMPLES / "2024-full-context.yaml"),
                     "--explain", "weights", "-f", "markdown")
    assert "weight_row_in(\"standard\")" in weights.stdout and "data: weights.redistribution = table" in weights.stdout
    missing = invoke("score", str(EXAMPLES / "2024-full.json"), "--explain", "nonsense")
    assert missing.exit_code == 1 and "nothing named `nonsense`" in missing.output


def test_score_html_with_explanation(tmp_path):
    out = tmp_path / "report.html"
    result = invoke("score", str(EXAMPLES / "2024-full.json"), "-c", str(EXAMPLES / "2024-full-context.yaml"),
                    "--format", "html", "--explain", "-o", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "Final score: 67.58 / 100" in page and "<details>" in page and "class=\"bar\"" in page
    assert "not among the 6 counted" in page  # the uncounted measure is listed too
    assert "http://" not in page and "<script" not in page


def test_rule_tests_run_and_fail_clearly(tmp_path):
    result = invoke("test")
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("cases:\n  - name: wrong on purpose\n    context: {performance_year: 2024, category_scores: "
                   "{quality: 80, cost: 80, ia: 80, pi: 80}}\n    expect: {final_score: 81}\n")
    failed = invoke("test", str(bad))
    assert failed.exit_code == 1
    assert "FAIL" in failed.output and "final_score" in failed.output and "81" in failed.output and "80" in failed.output
    typo = tmp_path / "typo.yaml"
    typo.write_text("cases:\n  - name: x\n    expekt: {final_score: 81}\n")
    assert "expekt" in invoke("test", str(typo)).output


def test_new_year_show_and_check(tmp_path):
    root = tmp_path / "rules"
    shutil.copytree(RULES / "2024", root / "2024")
    result = invoke("new-year", "2025", "--from", "2024", "--rules", str(root))
    assert result.exit_code == 0, result.output
    assert (root / "2025" / "year.yaml").read_text().count("extends: 2024") == 1
    check = invoke("check", "2025", "--rules", str(root))
    assert check.exit_code == 0
    assert "carried over" in check.output and "warning" in check.output  # the payment year, set by new-year
    shown = invoke("show", "quality.case_minimum", "--year", "2025", "--rules", str(root))
    assert "value: 20 cases" in shown.output and "inherited from 2023" in " ".join(shown.output.split())
    # An analyst changes one value: the diff shows exactly that edit.
    (root / "2025" / "quality.yaml").write_text(
        'data_completeness_threshold:\n  value: 80\n  unit: percent\n  source: "a 2025 draft"\n')
    diff = json.loads(invoke("diff", "2024", "2025", "--rules", str(root), "--format", "json").stdout)
    assert {(c["path"], str(c["old"]), str(c["new"])) for c in diff["changes"]} == {
        ("program.payment_year", "2026", "2027"), ("quality.data_completeness_threshold", "75", "80")}
    assert invoke("new-year", "2025", "--from", "2024", "--rules", str(root)).exit_code == 1  # exists already


def test_show_unconfirmed_and_rules():
    out = invoke("show", "--unconfirmed", "--year", "2024").output
    assert "pi.min_performance_days: 180" in out and "rule scaling_factor" in out
    rule = invoke("show", "final_score", "--year", "2023").output
    assert "final_score = final_score_in(scoring_basis)" in rule and "source:" in rule
    assert "did you mean `quality.case_minimum`" in invoke("show", "qualty.case_minimum").output


def test_plot_payment_adjustment(tmp_path):
    out = tmp_path / "pa.svg"
    result = invoke("plot", "payment-adjustment", "2023", "2024", "-o", str(out))
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == 2 and ">2023<" in svg and ">2024<" in svg
