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
                   ' label: "Exceptional adjustment", source: "test"}\n',
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
    assert "- Exceptional adjustment: 0.5" in markdown
    table = runner.invoke(app, ["score", str(tmp_path / "s.json"), "-c", str(tmp_path / "c.yaml"),
                                "--rules", str(root)]).stdout
    assert "Exceptional adjustment" in table


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
