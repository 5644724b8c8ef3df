"""The workbench and a year's data (issue #11, items 6–8): rule tests run against the folder they are in,
`diff` compares reference rows, `new-year` marks old-year citations and reference fields that changed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mips_rules.engine.cli.commands import app, normalise_argv

from conftest import ROOT, RULES

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, normalise_argv(list(args)))


DEFAULT_WEIGHTS = "weights: {quality: 30, cost: 30, ia: 15, pi: 25}"


def _write_cases(folder: Path, name: str, text: str) -> Path:
    path = folder / "tests" / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------
# 6. Rule tests run against the year of the folder they live in.

def test_a_rule_test_runs_against_the_folder_it_is_in(year_copy):
    # A draft of 2024 that moves 10 points of weight from cost to quality: 40 / 20 / 15 / 25.
    draft = year_copy(2024, edits={"weights.yaml": [(DEFAULT_WEIGHTS, "weights: {quality: 40, cost: 20, ia: 15, pi: 25}")]})
    # The EMA case (copied with the folder) expects 2024's 30% weight: 66.6 × 30 / 100 = 19.98. In the draft
    # it runs against the draft's weights and fails: 66.6 × 40 / 100 = 26.64.
    result = invoke("test", str(draft / "tests" / "final_score.yaml"))
    assert result.exit_code == 1, result.output
    ema = [line for line in result.output.splitlines() if "EMA worked example" in line]
    assert ema and ema[0].startswith("FAIL")
    assert "26.64" in result.output and "19.98" in result.output
    # A case with no year takes the folder's year and data: 80 everywhere → 80 × 40 / 100 = 32 quality points
    # (bundled 2024: 24), final score 32 + 16 + 12 + 20 = 80.
    _write_cases(draft, "no_year.yaml", "cases:\n  - name: no year given\n    context: {category_scores: "
                 "{quality: 80, cost: 80, ia: 80, pi: 80}}\n    expect: {categories.quality.points: 32, "
                 "categories.cost.points: 16, final_score: 80}\n")
    assert invoke("test", str(draft / "tests" / "no_year.yaml")).exit_code == 0
    # The whole folder, by path (a draft outside rules/): the same cases, the same verdicts.
    whole = invoke("test", str(draft))
    assert whole.exit_code == 1 and "pass  2024/no_year.yaml  no year given" in whole.output
    # The bundled 2024 still passes its own tests.
    assert invoke("test", "2024").exit_code == 0


def test_a_year_mismatch_is_a_failing_case_naming_both_years(year_copy):
    draft = year_copy(2024)
    _write_cases(draft, "copied.yaml", """cases:
  - name: "context from 2023"
    context: {performance_year: 2023, category_scores: {quality: 80, cost: 80, ia: 80, pi: 80}}
    expect: {final_score: 80}
  - name: "submission from 2023"
    submission: {entityType: individual, taxpayerIdentificationNumber: "000123456", nationalProviderIdentifier: "1234567893",
                 performanceYear: 2023, measurementSets: [{category: ia, submissionMethod: registry,
                 performanceStart: "2023-01-01", performanceEnd: "2023-03-31",
                 measurements: [{measureId: IA_EPA_2, value: true}]}]}
    expect: {categories.ia.score: 50}
  - name: "the right year"
    context: {performance_year: 2024, category_scores: {quality: 80, cost: 80, ia: 80, pi: 80}}
    expect: {final_score: 80}
""")
    result = invoke("test", str(draft / "tests" / "copied.yaml"))
    assert result.exit_code == 1
    out = " ".join(result.output.split())  # rich wraps long lines
    assert 'case "context from 2023": the context\'s performance_year is 2023' in out
    assert 'case "submission from 2023": the submission\'s performanceYear is 2023' in out
    assert "whose program.performance_year is 2024" in out
    assert "pass 2024/copied.yaml the right year" in out
    assert "1 passed, 2 failed" in out
    assert "Traceback" not in result.output


def test_2023_tests_copied_into_a_2019_folder_do_not_pass(tmp_path):
    # The bug of issue #11: 2023's tests copied into another year's folder ran against rules/2023.
    folder = tmp_path / "draft" / "2019"
    shutil.copytree(RULES / "2023", folder)
    program = folder / "program.yaml"
    program.write_text(re.sub(r"(performance_year:\n  value: )2023", r"\g<1>2019", program.read_text()))
    result = invoke("test", str(folder))
    cases = sum(len(re.findall(r"^  - name:", p.read_text(), re.M)) for p in (folder / "tests").glob("*.yaml"))
    assert result.exit_code == 1
    assert f"0 passed, {cases} failed" in result.output
    assert "whose program.performance_year is 2019" in " ".join(result.output.split())


def test_pytest_collects_rule_tests_against_their_folder(year_copy, tmp_path):
    draft = year_copy(2024, edits={"weights.yaml": [(DEFAULT_WEIGHTS, "weights: {quality: 40, cost: 20, ia: 15, pi: 25}")]})
    for p in (draft / "tests").glob("*.yaml"):
        p.unlink()
    _write_cases(draft, "cases.yaml", """cases:
  - name: draft weights
    context: {category_scores: {quality: 80, cost: 80, ia: 80, pi: 80}}
    expect: {categories.quality.points: 32}
  - name: wrong year
    context: {performance_year: 2023, category_scores: {quality: 80, cost: 80, ia: 80, pi: 80}}
    expect: {final_score: 80}
""")
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")  # the top-level collector, as CI runs it
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                          str(draft / "tests" / "cases.yaml")], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert "1 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    assert 'case "wrong year": the context\'s performance_year is 2023' in run.stdout


# ---------------------------------------------------------------------------------------------------
# 7. diff compares reference data row by row.

def _benchmark_row_edit(folder: Path, measure: str, method: str, pct: str, new: Decimal) -> None:
    """Set one percentile of one benchmark row, in whichever form the folder keeps benchmarks."""
    path = next(p for p in (folder / "benchmarks.yaml", folder / "benchmarks.json") if p.exists())
    lines = path.read_text(encoding="utf-8").split("\n")
    ident = re.compile(rf'"?measure_id"?:\s*"{measure}",\s*"?submission_method"?:\s*"{method}"')
    hits = [i for i, line in enumerate(lines) if ident.search(line)]
    assert len(hits) == 1, hits
    lines[hits[0]] = re.sub(rf'("?{pct}"?:\s*)[0-9.]+', rf"\g<1>{new}", lines[hits[0]], count=1)
    path.write_text("\n".join(lines), encoding="utf-8")


def test_diff_shows_a_changed_benchmark_row(year_2024, year_copy):
    row = next(r for r in year_2024.data.items["benchmarks"]["quality"].value.rows.values()
               if r["measure_id"] == "001" and r["submission_method"] == "registry")
    old = row["percentiles"]["p50"]
    new = old + 5
    draft = year_copy(2024)
    _benchmark_row_edit(draft, "001", "registry", "p50", new)

    data = json.loads(invoke("diff", "2024", str(draft), "--format", "json").stdout, parse_float=Decimal)
    assert data["changes"] == [] and data["same"] is False
    quality = next(r for r in data["reference"] if r["table"] == "benchmarks.quality")
    assert quality["counts"] == {"added": 0, "removed": 0, "changed": 1}
    assert quality["changed"] == [{"key": "[001, registry]",
                                   "fields": [{"field": "percentiles.p50", "old": old, "new": new}]}]
    assert all(r["counts"] == {"added": 0, "removed": 0, "changed": 0} for r in data["reference"] if r is not quality)

    table = invoke("diff", "2024", str(draft))
    assert table.exit_code == 1
    assert "changed 1: [001, registry] (fields: percentiles 1)" in " ".join(table.output.split())

    md = invoke("diff", "2024", str(draft), "--only", "benchmarks.quality", "--format", "markdown").stdout
    assert f"| `benchmarks.quality[001, registry]` | percentiles.p50 | {old} | {new} |" in md
    assert "measures.quality" not in md  # narrowed to the one table

    narrowed = invoke("diff", "2024", str(draft), "--only", "benchmarks.quality[001", "--format", "table")
    flat = " ".join(narrowed.output.split())
    assert "percentiles.p50" in flat and str(old) in flat and str(new) in flat

    page = invoke("diff", "2024", str(draft), "--only", "benchmarks.", "--format", "html").stdout
    assert "<h3>Changed rows</h3>" in page and "<code>benchmarks.quality[001, registry]</code>" in page
    assert f"<td class=\"removed\">{old}</td><td class=\"added\">{new}</td>" in page

    # Rule paths only: the reference change is outside the prefix, so the two are the same there.
    assert invoke("diff", "2024", str(draft), "--only", "quality.").exit_code == 0


def test_diff_2023_2024_reference_rows_agree_with_the_data(year_2023, year_2024):
    data = json.loads(invoke("diff", "2023", "2024", "--format", "json").stdout, parse_float=Decimal)
    for r in data["reference"]:
        ns, name = r["table"].split(".")
        rows_a = year_2023.data.items[ns][name].value.rows
        rows_b = year_2024.data.items[ns][name].value.rows
        # Counts add up: the old rows, plus those added, less those removed, are the new rows.
        assert r["counts"] == {"added": len(r["added"]), "removed": len(r["removed"]), "changed": len(r["changed"])}
        assert r["old_rows"] == len(rows_a) and r["new_rows"] == len(rows_b)
        assert r["old_rows"] + len(r["added"]) - len(r["removed"]) == r["new_rows"]
        assert len(r["changed"]) == sum(1 for k, row in rows_b.items() if k in rows_a and rows_a[k] != row)
    # One changed row checked against both years' data: the 2024 benchmark of 001 by EHR.
    quality = next(r for r in data["reference"] if r["table"] == "benchmarks.quality")
    row = next(c for c in quality["changed"] if c["key"] == "[001, electronicHealthRecord]")
    old = next(v for v in year_2023.data.items["benchmarks"]["quality"].value.rows.values()
               if v["measure_id"] == "001" and v["submission_method"] == "electronicHealthRecord")
    new = next(v for v in year_2024.data.items["benchmarks"]["quality"].value.rows.values()
               if v["measure_id"] == "001" and v["submission_method"] == "electronicHealthRecord")
    p50 = next(f for f in row["fields"] if f["field"] == "percentiles.p50")
    assert (p50["old"], p50["new"]) == (old["percentiles"]["p50"], new["percentiles"]["p50"])
    assert old["percentiles"]["p50"] != new["percentiles"]["p50"]


def test_diff_only_that_matches_nothing_is_an_error():
    typo = invoke("diff", "2023", "2024", "--only", "qualty.")
    assert typo.exit_code == 2
    assert "--only 'qualty.' matches nothing in 2023 or 2024" in typo.output
    assert "did you mean `quality.`?" in typo.output
    item = invoke("diff", "2023", "2024", "--only", "quality.case_minimun")
    assert item.exit_code == 2 and "did you mean `quality.case_minimum`?" in item.output
    # Real prefixes still work: a namespace, an item, a rule, a reference table.
    for prefix in ("quality.", "quality.case_minimum", "rule final_score", "benchmarks.quality", "weights.redistribution["):
        assert invoke("diff", "2023", "2024", "--only", prefix).exit_code in (0, 1), prefix


# ---------------------------------------------------------------------------------------------------
# 8. new-year marks old-year citations and reference fields that changed.

def _new_2025(tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "rules"
    shutil.copytree(RULES / "2024", root / "2024")
    result = invoke("new-year", "2025", "--from", "2024", "--rules", str(root))
    assert result.exit_code == 0, result.output
    return root, result.output


def test_new_year_lists_citations_of_the_old_year(tmp_path):
    root, out = _new_2025(tmp_path)
    flat = " ".join(out.split())
    # quality.yaml: "42 CFR 414.1340 (75% for the 2024 performance period)"
    assert "citation(s) in `quality` name 2024" in flat and "data_completeness_threshold" in flat
    # payment.rules: @source "42 CFR 414.1405(c); CMS PY2024 public use file (maximum positive adjustment)"
    assert re.search(r"rule citation\(s\) \(@source\) in payment\.rules name 2024[^-]*scaling_factor", flat)
    # At check time: the same, as warnings with file and line (engine/years/loader.py adds them when it loads a year).
    from mips_rules.engine.workbench.new_year import review_warnings
    from mips_rules.engine.years.loader import load_year

    year = load_year(2025, root)
    warnings = review_warnings(year.folder, year.data, year.definitions)
    quality = next(w for w in warnings if "in `quality` name 2024" in w.message)
    assert quality.severity == "warning" and quality.location.file.endswith("quality.yaml")
    assert "data_completeness_threshold" in quality.message
    # The bundled years were not made by new-year: nothing to review there.
    bundled = load_year(2024, RULES)
    assert review_warnings(bundled.folder, bundled.data, bundled.definitions) == []
    # An item given in the new year with its own citation is no longer listed.
    (root / "2025" / "quality.yaml").write_text(
        'data_completeness_threshold:\n  value: 75\n  unit: percent\n'
        '  source: "42 CFR 414.1340 (75% for the 2025 performance period)"\n')
    year = load_year(2025, root)
    assert not any("data_completeness_threshold" in w.message for w in
                   review_warnings(year.folder, year.data, year.definitions))


def test_new_year_flags_definitions_reading_a_vanished_field(tmp_path):
    root, out = _new_2025(tmp_path)
    assert "no longer have the field" not in out  # a fresh copy: the same fields as 2024
    # New reference data for 2025 whose improvement activities have no `weight`.
    text, n = re.subn(r'"?weight"?:\s*(?:"[^"]*"|null),\s*', "", (RULES / "2024" / "measures.json").read_text())
    assert n > 0
    (root / "2025" / "measures.json").write_text(text)
    review = invoke("new-year", "2025", "--review", "--rules", str(root))
    assert review.exit_code == 1
    flat = " ".join(review.output.split())
    assert re.search(r"the rows of `measures\.ia` no longer have the field `weight` since 2024; definitions reading "
                     r"`\.weight`: activity_points \(ia\.rules:\d+\)", flat), flat
    assert "citation(s) in `quality` name 2024" in flat


def test_new_year_flags_a_field_of_another_kind(tmp_path):
    from mips_rules.engine.workbench.new_year import review_warnings
    from mips_rules.engine.years.loader import load_year

    root, _ = _new_2025(tmp_path)
    year = load_year(2025, root)
    marker = json.loads((root / "2025" / ".new-year").read_text())
    assert marker["from"] == 2024 and "weight" in marker["reference_fields"]["measures.ia"]
    # As if 2025's data held the activity weight as a number: definitions reading `.weight` are flagged.
    marker["reference_fields"]["measures.ia"]["weight"] = ["number"]
    (root / "2025" / ".new-year").write_text(json.dumps(marker))
    messages = [w.message for w in review_warnings(year.folder, year.data, year.definitions)]
    assert any("`measures.ia` changed the field `weight` (held number, now text)" in m and "activity_points" in m
               for m in messages), messages


def test_check_lists_new_year_review_warnings(tmp_path):
    root, _ = _new_2025(tmp_path)
    check = invoke("check", "2025", "--rules", str(root))
    assert check.exit_code == 0
    assert "citation(s) in `quality` name 2024" in check.output
