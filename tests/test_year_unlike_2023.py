"""A year unlike 2023 written as data only (issue #13): other weights, a new special status in the
scoring context, and an extra adjustment shown in the report — no Python change."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal as D

from typer.testing import CliRunner

from mips_rules.engine.cli import app

from conftest import RULES

runner = CliRunner()

YEAR = {
    "year.yaml": "extends: 2023\nsource: a test year\n",
    "program.yaml": 'performance_year:\n  value: 2031\n  source: "test"\n'
                    'payment_year:\n  value: 2033\n  source: "test"\n'
                    'exceptional_threshold:\n  value: 90\n  source: "test: an exceptional performance threshold"\n'
                    'exceptional_adjustment:\n  value: 0.5\n  unit: percent\n  source: "test"\n',
    # Other weights: quality 40, cost 20 when nothing is reweighted.
    "weights.yaml": 'redistribution:\n  source: "test: other default weights"\n  changed_rows:\n'
                    '    - {reweighted: [], weights: {quality: 40, cost: 20, ia: 15, pi: 25}}\n',
    # A new special status in the context: `frontier` (and it doubles activities like `rural`).
    "context.yaml": "entity:\n  type: record\n  fields:\n"
                    "    type: {type: choice, of: [individual, group, virtual_group, apm_entity, subgroup],"
                    " from_submission: entityType, map: {individual: individual, group: group}, default: individual}\n"
                    "    clinicians: {type: integer, min: 1, default: 1}\n"
                    "    small_practice: {type: boolean, default: false}\n"
                    "    rural: {type: boolean, default: false}\n"
                    "    hpsa: {type: boolean, default: false}\n"
                    "    non_patient_facing: {type: boolean, default: false}\n"
                    "    hospital_based: {type: boolean, default: false}\n"
                    "    asc_based: {type: boolean, default: false}\n"
                    "    clinician_type: {type: text, default: physician}\n"
                    "    apm_participant: {type: boolean, default: false}\n"
                    "    frontier: {type: boolean, default: false, source: \"test: a new special status\"}\n",
    "ia.yaml": 'doubling_statuses:\n  value: [small_practice, rural, hpsa, non_patient_facing, frontier]\n'
               '  source: "test: frontier clinicians count double"\n',
    # An extra adjustment (like 2019's exceptional performance bonus), shown in every report.
    "payment.rules": '@source "test: an exceptional performance adjustment at or above 90"\n'
                     'exceptional_performance_adjustment =\n'
                     '  if final_score >= program.exceptional_threshold then program.exceptional_adjustment else 0\n',
    "report.yaml": 'fields:\n  - {name: exceptional_performance_adjustment, rule: exceptional_performance_adjustment,'
                   ' label: "Exceptional adjustment", show: signed_two_decimals, column: exceptional_adjustment,'
                   ' source: "test"}\n'
                   'summary: [complex_patient_bonus, final_score, exceptional_performance_adjustment,'
                   ' payment_adjustment]\n',
}


def make_year(tmp_path):
    root = tmp_path / "rules"
    shutil.copytree(RULES / "2023", root / "2023")
    folder = root / "2031"
    folder.mkdir()
    for name, text in YEAR.items():
        (folder / name).write_text(text)
    return root


def test_a_year_unlike_2023_is_only_data(tmp_path):
    root = make_year(tmp_path)
    assert runner.invoke(app, ["check", "2031", "--rules", str(root)]).exit_code == 0
    sub = {"entityType": "individual", "taxpayerIdentificationNumber": "000123456",
           "nationalProviderIdentifier": "1234567893", "performanceYear": 2031,
           "measurementSets": [{"category": "ia", "submissionMethod": "registry", "performanceStart": "2031-01-01",
                                "performanceEnd": "2031-03-31",
                                "measurements": [{"measureId": "IA_EPA_2", "value": True}]}]}
    (tmp_path / "s.json").write_text(json.dumps(sub))
    (tmp_path / "c.yaml").write_text("entity: {frontier: true}\n"
                                     "category_scores: {quality: 100, cost: 100, pi: 100}\n")
    result = runner.invoke(app, ["score", str(tmp_path / "s.json"), "-c", str(tmp_path / "c.yaml"),
                                 "--rules", str(root), "-f", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout, parse_float=D)
    cats = report["categories"]
    # The new status doubles the medium activity: 20 of 40 = 50% (10 of 40 without it).
    assert cats["ia"]["score"] == 50
    # Other weights: 100 × 0.40 + 100 × 0.20 + 50 × 0.15 + 100 × 0.25 = 92.5
    assert (cats["quality"]["weight"], cats["cost"]["weight"]) == (40, 20)
    assert report["final_score"] == D("92.50")
    # The extra adjustment is in the report (92.5 ≥ 90 → 0.5), and in the other formats too.
    assert report["exceptional_performance_adjustment"] == D("0.5")
    markdown = runner.invoke(app, ["score", str(tmp_path / "s.json"), "-c", str(tmp_path / "c.yaml"),
                                   "--rules", str(root), "-f", "markdown"]).stdout
    # Shown where the year's `summary` puts it: after the final score, before the payment adjustment.
    assert "- **Final score: 92.50 / 100**\n- Exceptional adjustment: +0.50\n- Payment adjustment:" in markdown
    table = runner.invoke(app, ["score", str(tmp_path / "s.json"), "-c", str(tmp_path / "c.yaml"),
                                "--rules", str(root)]).stdout
    assert "Exceptional adjustment: +0.50" in table
    page = runner.invoke(app, ["score", str(tmp_path / "s.json"), "-c", str(tmp_path / "c.yaml"),
                               "--rules", str(root), "-f", "html"]).stdout
    assert "Exceptional adjustment: +0.50" in page
    # …and in the batch lines: its own CSV column, and the JSONL population view.
    (tmp_path / "pop.jsonl").write_text(json.dumps({"id": "a", "submission": sub, "context": {
        "entity": {"frontier": True}, "category_scores": {"quality": 100, "cost": 100, "pi": 100}}}) + "\n")
    for fmt in ("csv", "jsonl"):
        out = tmp_path / f"out.{fmt}"
        result = runner.invoke(app, ["batch", str(tmp_path / "pop.jsonl"), "--year", "2031", "--rules", str(root),
                                     "--format", fmt, "-o", str(out)])
        assert result.exit_code == 0, result.output
        text = out.read_text()
        if fmt == "csv":
            header, row = text.splitlines()[:2]
            values = dict(zip(header.split(","), row.split(",")))
            assert values["exceptional_adjustment"] == "0.5" and values["final_score"] == "92.5"
        else:
            assert json.loads(text, parse_float=D)["exceptional_performance_adjustment"] == D("0.5")


REPORT_CHANGES = (
    "fields:\n"
    "  - {name: complex_patient_bonus, removed: true}\n"
    "  - name: categories\n"
    "    each: categories\n"
    "    label: Area\n"
    "    titles: {quality: Quality of care, cost: Cost, ia: Activities, pi: Interoperability}\n"
    "    fields:\n"
    "      - {name: score, rule: category_score, label: Result, show: two_decimals_percent, column: '{key}_result'}\n"
    "      - {name: weight, rule: category_weight, label: Share, show: percent}\n"
    "summary: [final_score, payment_adjustment]\n"
)


def test_a_year_changes_its_report_by_data(tmp_path):
    """Another year's report: a field dropped, the category table's titles and columns, its CSV columns."""
    root = make_year(tmp_path)
    (root / "2031" / "report.yaml").write_text(REPORT_CHANGES)
    sub = {"entityType": "individual", "taxpayerIdentificationNumber": "000123456",
           "nationalProviderIdentifier": "1234567893", "performanceYear": 2031, "measurementSets": []}
    (tmp_path / "s.json").write_text(json.dumps(sub))
    (tmp_path / "c.yaml").write_text("category_scores: {quality: 80, cost: 60, ia: 100, pi: 50}\n")
    args = ["score", str(tmp_path / "s.json"), "-c", str(tmp_path / "c.yaml"), "--rules", str(root)]
    report = json.loads(runner.invoke(app, [*args, "-f", "json"]).stdout, parse_float=D)
    assert "complex_patient_bonus" not in report
    assert report["categories"]["quality"] == {"score": 80, "weight": 40}
    markdown = runner.invoke(app, [*args, "-f", "markdown"]).stdout
    assert "| Area | Result | Share |" in markdown and "| Quality of care | 80.00% | 40% |" in markdown
    assert "Complex patient bonus" not in markdown
    (tmp_path / "pop.jsonl").write_text(json.dumps({"id": "a", "submission": sub,
                                                    "context": {"category_scores": {"quality": 80}}}) + "\n")
    out = tmp_path / "out.csv"
    assert runner.invoke(app, ["batch", str(tmp_path / "pop.jsonl"), "--year", "2031", "--rules", str(root),
                               "--format", "csv", "-o", str(out)]).exit_code == 0
    assert out.read_text().splitlines()[0] == ("id,line,performance_year,rules_fingerprint,final_score,"
                                               "quality_result,cost_result,ia_result,pi_result,adjustment_applies,"
                                               "adjustment_direction,adjustment_percent,error")


BAD_REPORTS = [
    ("fields:\n  - {name: bonus, rule: complex_patient_bonus, lable: Bonus}\n", "report.yaml:2:",
     "did you mean `label`?"),
    ("fields:\n  - {name: bonus, rule: complex_patient_bonuss}\n", "report.yaml:2:",
     "did you mean `complex_patient_bonus`?"),
    ("fields:\n  - {name: bonus, rule: category_score}\n", "report.yaml:2:", "must be a value (no parameters)"),
    ("fields:\n  - {name: who, from: context.entity.typ}\n", "report.yaml:2:", "did you mean `type`?"),
    ("summary: [final_score, bonus]\n", "report.yaml", "`summary` names `bonus`, which is not a field"),
    ("fields:\n  - {name: x, rule: final_score, show: two_decimal}\n", "report.yaml:2:",
     "did you mean `two_decimals`?"),
]


def test_a_bad_report_declaration_is_refused_where_it_is_wrong(tmp_path):
    import pytest  # noqa: F401

    for text, where, message in BAD_REPORTS:
        root = make_year(tmp_path / str(abs(hash(text))))
        (root / "2031" / "report.yaml").write_text(text)
        result = runner.invoke(app, ["check", "2031", "--rules", str(root)])
        assert result.exit_code != 0 and "Traceback" not in result.output, (text, result.output)
        assert where in result.output and message in " ".join(result.output.split()), (text, result.output)


def test_the_years_context_is_checked_with_field_paths(tmp_path):
    root = make_year(tmp_path)
    sub = {"entityType": "individual", "taxpayerIdentificationNumber": "000123456",
           "nationalProviderIdentifier": "1234567893", "performanceYear": 2031, "measurementSets": []}
    (tmp_path / "s.json").write_text(json.dumps(sub))
    (tmp_path / "c.yaml").write_text("entity: {fronteir: true}\n")
    result = runner.invoke(app, ["score", str(tmp_path / "s.json"), "-c", str(tmp_path / "c.yaml"),
                                 "--rules", str(root)])
    assert result.exit_code != 0 and "entity.fronteir" in result.output and "Traceback" not in result.output
    # The same context is refused by 2023, which has no such status.
    (tmp_path / "c.yaml").write_text("entity: {frontier: true}\n")
    sub["performanceYear"] = 2023
    (tmp_path / "s23.json").write_text(json.dumps(sub))
    result = runner.invoke(app, ["score", str(tmp_path / "s23.json"), "-c", str(tmp_path / "c.yaml")])
    assert result.exit_code != 0 and "entity.frontier" in result.output


def test_a_flattened_year_keeps_its_report(tmp_path):
    """flatten_year writes the effective report.yaml: inherited fields with the year's by name."""
    from mips_rules.engine.years.flatten import flatten_year
    from mips_rules.engine.years.loader import load_year

    root = make_year(tmp_path)
    (root / "2031" / "weights.yaml").unlink()  # a table change by rows is not written out by flatten_year
    flat = flatten_year(root / "2031", tmp_path / "flat" / "2031", root)
    layout = load_year(None, flat).report_layout
    names = [f.name for f in layout.fields]
    assert names[0] == "reporting_option" and names[-1] == "exceptional_performance_adjustment"
    assert "complex_patient_bonus" in names and layout.summary[2] == "exceptional_performance_adjustment"
