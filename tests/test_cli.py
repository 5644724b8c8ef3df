"""`rulesctl` end to end: exit codes, messages on stderr, reports on stdout."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

from typer.testing import CliRunner

from mips_rules.engine.cli.commands import app

from conftest import EXAMPLES, RULES

runner = CliRunner()


def test_check_shipped_years():
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "2023" in result.output and "2024" in result.output


def test_check_one_year():
    result = runner.invoke(app, ["check", "2024"])
    assert result.exit_code == 0
    assert "2024" in result.output and "ok" in result.output


def test_check_broken_copy_fails_with_positions(year_copy):
    folder = year_copy(edits={"final.rules": [("weights.redistribution[reweighted_in(basis)]",
                                               "weights.redistribution[reweighted_in(basi)]")]})
    result = runner.invoke(app, ["check", "--rules", str(folder)])
    assert result.exit_code == 1
    assert "final.rules:" in result.output and "undefined name `basi`" in result.output
    assert "did you mean `basis`?" in result.output
    assert "Traceback" not in result.output


def test_check_broken_copy_in_a_rules_root(year_copy):
    folder = year_copy(edits={"program.yaml": [("  unit: points\n", "  unti: points\n")]})
    result = runner.invoke(app, ["check", "2024", "--rules", str(folder.parent)])
    assert result.exit_code == 1
    assert "program.yaml:" in result.output and "did you mean `unit`?" in result.output


def test_score_json_both_years():
    for year in (2023, 2024):
        result = runner.invoke(app, ["score", str(EXAMPLES / f"{year}-individual.json"),
                                     "--context", str(EXAMPLES / f"{year}-context.yaml"), "--format", "json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout, parse_float=Decimal)
        assert report["performance_year"] == year
        # 71.2 × 55% + 100 × 15% + 80 × 30% + 2.5 bonus
        assert report["final_score"] == Decimal("80.66")
        assert report["categories"]["cost"] == {"score": None, "weight": 0, "points": 0, "reweighted": True,
                                                "reason": "reweighted: no cost measure scored"}


def test_score_table():
    result = runner.invoke(app, ["score", str(EXAMPLES / "2024-individual.json"),
                                 "-c", str(EXAMPLES / "2024-context.yaml")])
    assert result.exit_code == 0, result.output
    assert "Final score" in result.output and "80.66" in result.output
    assert "Payment adjustment: +0.24%" in result.output  # 5.66 / 25 × 1.05 = 0.23772


def test_score_rejects_a_contradicting_year():
    result = runner.invoke(app, ["score", str(EXAMPLES / "2024-individual.json"),
                                 "-c", str(EXAMPLES / "2023-context.yaml")])
    assert result.exit_code != 0
    assert "performance_year" in result.output and "Traceback" not in result.output


def test_score_bad_submission_names_the_field(tmp_path):
    bad = json.loads((EXAMPLES / "2024-individual.json").read_text())
    bad["measurementSets"][0]["performanceEnd"] = "2023-12-31"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    result = runner.invoke(app, ["score", str(path)])
    assert result.exit_code != 0
    assert "measurementSets[0].performanceEnd" in result.output


def test_score_with_a_draft_rules_folder(year_copy):
    folder = year_copy(edits={"program.yaml": [("  value: 75\n", "  value: 80\n")]})
    result = runner.invoke(app, ["score", str(EXAMPLES / "2024-individual.json"), "-c",
                                 str(EXAMPLES / "2024-context.yaml"), "--rules", str(folder), "-f", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout, parse_float=Decimal)
    assert report["payment_adjustment"]["direction"] == "positive"  # 80.66 > 80
    # (80.66 − 80) / 20 × 1.05 = 0.03465 → 0.03
    assert report["payment_adjustment"]["percent"] == Decimal("0.03")


def test_a_new_year_is_a_copied_folder(tmp_path):
    """Adding a year needs no code: copy a folder, edit its data, score with it."""
    root = tmp_path / "rules"
    shutil.copytree(RULES / "2024", root / "2025")
    program = root / "2025" / "program.yaml"
    program.write_text(program.read_text().replace("value: 2024", "value: 2025").replace("value: 2026", "value: 2027"))
    payment = root / "2025" / "payment.yaml"
    payment.write_text(payment.read_text().replace("value: 1.05", "value: 1.50"))
    assert runner.invoke(app, ["check", "2025", "--rules", str(root)]).exit_code == 0
    sub = json.loads((EXAMPLES / "2024-individual.json").read_text().replace("2024-", "2025-"))
    sub["performanceYear"] = 2025
    (tmp_path / "s.json").write_text(json.dumps(sub))
    (tmp_path / "c.yaml").write_text("category_scores: {quality: 100, cost: 100, ia: 100, pi: 100}\n")
    result = runner.invoke(app, ["score", str(tmp_path / "s.json"), "-c", str(tmp_path / "c.yaml"),
                                 "--rules", str(root), "-f", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout, parse_float=Decimal)
    assert report["performance_year"] == 2025
    assert report["payment_adjustment"] == {"payment_year": 2027, "applies": True, "direction": "positive",
                                            "percent": Decimal("1.50")}
