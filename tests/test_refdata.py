"""Importing CMS's published reference files into a year folder, in every layout CMS used.

Counts are CMS's own (../shared/cms/qpp-measures-data): 385 benchmark rows in 2023 (361
quality + 24 cost), 358 in 2024 (330 + 28); 471 and 413 quality measures.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from mips_rules.engine.cli.commands import app
from mips_rules.engine.years.cms_import import read_cms_folder, snake
from mips_rules.engine.years.loader import load_year

from conftest import RULES, shared_path

runner = CliRunner()


def copy_year(tmp_path, year=2024):
    target = tmp_path / "rules" / str(year)
    shutil.copytree(RULES / str(year), target)
    return target


@pytest.mark.parametrize("year, quality, benchmarks, cost_benchmarks", [(2023, 471, 361, 24), (2024, 413, 330, 28)])
def test_the_shipped_years_hold_cms_complete_data(year, quality, benchmarks, cost_benchmarks):
    loaded = load_year(year, RULES)
    ns = loaded.namespaces()
    assert len(ns["measures"]["quality"]) == quality
    assert len(ns["benchmarks"]["quality"]) == benchmarks
    assert len(ns["benchmarks"]["cost"]) == cost_benchmarks
    assert ns["measures"]["quality"].get("181") is not None  # 181 was unknown with the old subset
    prov = loaded.data.provenance["benchmarks"]
    digest = {f["name"]: f["sha256"] for f in prov["files"]}
    import hashlib
    raw = shared_path("cms", "qpp-measures-data", str(year), "benchmarks.json").read_bytes()
    assert digest["benchmarks.json"] == hashlib.sha256(raw).hexdigest()


def test_import_into_a_year_folder_is_reproducible(tmp_path):
    folder = copy_year(tmp_path)
    before = (folder / "measures.json").read_bytes()
    cms = shared_path("cms", "qpp-measures-data", "2024")
    result = runner.invoke(app, ["data", "import", "2024", str(cms), "--rules", str(folder), "--date", "2026-11-29"])
    assert result.exit_code == 0, result.output
    assert "measures.quality: 413 rows" in result.output and "benchmarks.cost: 28 rows" in result.output
    # The same files and the same date give the same bytes as the shipped folder.
    assert (folder / "measures.json").read_bytes() == before
    assert (folder / "mvps.json").read_bytes() == (RULES / "2024" / "mvps.json").read_bytes()
    assert not (folder / "measures.yaml").exists()


def test_rows_are_exact_and_sorted():
    text = (RULES / "2024" / "benchmarks.json").read_text()
    doc = json.loads(text, parse_float=D)
    rows = doc["quality"]["rows"]
    keys = [(r["measure_id"], r["submission_method"]) for r in rows]
    assert keys == sorted(keys)
    row = next(r for r in rows if r["measure_id"] == "001" and r["submission_method"] == "electronicHealthRecord")
    assert row["inverse"] is True and row["percentiles"]["p10"] == D("14.53")  # CMS: 001 eCQM p10 14.53


def test_csv_layout_matches_json():
    folder = shared_path("cms", "qpp-measures-data", "2024")
    from_csv = read_cms_folder(2024, folder / "benchmarks.csv")
    from_json = read_cms_folder(2024, folder / "benchmarks.json")
    assert not from_csv.problems and not from_json.problems
    json_rows = {(r["measure_id"], r["submission_method"]): r for r in from_json.tables["benchmarks.quality"]}
    assert len(from_csv.tables["benchmarks.quality"]) > 200
    core = ("inverse", "topped_out", "topped_out_by_program", "percentiles")
    for row in from_csv.tables["benchmarks.quality"]:
        twin = json_rows[(row["measure_id"], row["submission_method"])]
        assert {k: row[k] for k in core} == {k: twin[k] for k in core}


def test_2019_deciles_become_percentiles():
    # 2019 benchmarks.json: deciles are the lower bounds of deciles 2–10 (CMS benchmarks-schema.yaml);
    # 001 claims (inverse): [100, 44.44, 29.03, 19.51, 14.71, 11.11, 8.33, 5.56, 2.78] and 2019 has no
    # isInverse in its benchmarks: it comes from the inventory (001 is inverse).
    result = read_cms_folder(2019, shared_path("cms", "qpp-measures-data", "2019"))
    assert not result.problems
    row = next(r for r in result.tables["benchmarks.quality"]
               if r["measure_id"] == "001" and r["submission_method"] == "claims")
    assert row["inverse"] is True
    p = row["percentiles"]
    # Inverse: decile 1 starts at p99 (= 100, the implied end), decile 2 at p90, … decile 10 at p10.
    assert (p["p99"], p["p90"], p["p80"], p["p10"]) == (D(100), D(100), D("44.44"), D("2.78"))
    assert any("isInverse taken from the measure inventory" in n for n in result.notes)


def test_another_years_files_are_refused(tmp_path):
    folder = copy_year(tmp_path)
    cms_2023 = shared_path("cms", "qpp-measures-data", "2023")
    result = runner.invoke(app, ["data", "import", "2024", str(cms_2023), "--rules", str(folder)])
    assert result.exit_code == 1 and "2023" in result.output and "not 2024" in result.output
    # The same files copied to a folder not named by year: the benchmarks say 2023.
    plain = tmp_path / "files"
    plain.mkdir()
    for name in ("measures-data.json", "benchmarks.json"):
        shutil.copy(cms_2023 / name, plain / name)
    result = runner.invoke(app, ["data", "import", "2024", str(plain), "--rules", str(folder)])
    assert result.exit_code == 1 and "a benchmark of 2023: these are not the 2024 files" in result.output
    assert "nothing was imported" in result.output


def test_a_missing_field_is_refused_not_defaulted(tmp_path):
    cms = shared_path("cms", "qpp-measures-data", "2024")
    rows = json.loads((cms / "benchmarks.json").read_text())
    del rows[0]["isInverse"]
    (tmp_path / "benchmarks.json").write_text(json.dumps(rows))
    result = read_cms_folder(2024, tmp_path / "benchmarks.json")
    assert any("lacks `isInverse`" in d.message for d in result.problems)


def test_unknown_fields_are_kept():
    # 2025's inventory flags measures whose seven-point cap is removed (isSevenPointCapRemoved).
    result = read_cms_folder(2025, shared_path("cms", "qpp-measures-data", "2025"))
    assert not result.problems
    row = next(r for r in result.tables["measures.quality"] if r["measure_id"] == "001")
    assert "is_seven_point_cap_removed" in row
    # 2025's activities have no weight: the field is absent, not a default.
    assert all("weight" not in r for r in result.tables["measures.ia"])
    assert snake("isToppedOutByProgram") == "is_topped_out_by_program"


def test_bad_rows_are_reported_with_file_and_row_and_nothing_is_written(tmp_path):
    folder = copy_year(tmp_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    csv_path = tmp_path / "benchmarks.csv"
    header = ("measureName,measureId,submissionMethod,isToppedOut,isToppedOutByProgram,percentile1,percentile10,"
              "percentile20,percentile30,percentile40,percentile50,percentile60,percentile70,percentile80,"
              "percentile90,percentile99,isInverse")
    csv_path.write_text(header + "\n"
                        "A,001,eCQM,No,No,1,10,20,30,40,50,60,70,80,90,99,Y\n"
                        "B,002,Carrier Pigeon,No,No,1,10,20,30,40,50,60,70,80,90,99,N\n"
                        "C,003,eCQM,No,No,1,10,20,thirty,40,50,60,70,80,90,99,N\n")
    result = runner.invoke(app, ["data", "import", "2024", str(csv_path), "--rules", str(folder)])
    assert result.exit_code == 1
    assert f"{csv_path}:3:1" in result.output and "unknown collection type 'Carrier Pigeon'" in result.output
    assert f"{csv_path}:4:1" in result.output and "not a number: 'thirty'" in result.output
    assert "nothing was imported" in result.output
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_data_the_rules_cannot_use_is_not_imported(tmp_path):
    # 2025's inventory has no activity weights; the 2024 rules read them, so importing 2025's
    # files into a copy of 2024 named 2025 must fail the check and write nothing.
    folder = tmp_path / "rules" / "2025"
    shutil.copytree(RULES / "2024", folder)
    program = folder / "program.yaml"
    program.write_text(program.read_text().replace("performance_year:\n  value: 2024", "performance_year:\n  value: 2025"))
    before = (folder / "measures.json").read_bytes()
    result = runner.invoke(app, ["data", "import", "2025", str(shared_path("cms", "qpp-measures-data", "2025")),
                                 "--rules", str(folder)])
    assert result.exit_code == 1, result.output
    assert "nothing was imported" in result.output
    assert (folder / "measures.json").read_bytes() == before


def test_missing_folder_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["data", "import", "2024", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "not found" in result.output


def test_reports_name_the_year_and_fingerprint_and_are_byte_identical(tmp_path):
    from mips_rules.engine.inputs.context import load_context
    from mips_rules.engine.scoring.render import to_json
    from mips_rules.engine.scoring.score import score
    from mips_rules.engine.inputs.submission import load_submission
    from mips_rules.engine.years.loader import fingerprint

    from conftest import EXAMPLES

    sub = load_submission(EXAMPLES / "2024-full.json")
    ctx = load_context(EXAMPLES / "2024-full-context.yaml")
    here = load_year(2024, RULES)
    moved = load_year(None, copy_year(tmp_path))  # the same folder's bytes somewhere else
    assert here.fingerprint == moved.fingerprint == fingerprint(RULES / "2024")
    first, second = (to_json(score(y, sub, ctx).report) for y in (here, moved))
    assert first == second and f'"rules_fingerprint": "{here.fingerprint}"' in first
    # Any change to a data or rule file changes the fingerprint; a rule test does not.
    (tmp_path / "rules" / "2024" / "tests" / "extra.yaml").write_text("cases: []\n")
    assert fingerprint(tmp_path / "rules" / "2024") == here.fingerprint
    program = tmp_path / "rules" / "2024" / "program.yaml"
    program.write_text(program.read_text() + "\n# a comment\n")
    assert fingerprint(tmp_path / "rules" / "2024") != here.fingerprint


@pytest.mark.parametrize("year, count", [(2023, 12), (2024, 16), (2025, 21), (2026, 27)])
def test_each_years_mips_value_pathways_are_year_data(year, count):
    """CMS's mvp.json (issue #17): every MVP of the year with its measures, as the table `mvps.pathways`."""
    cms = json.loads(shared_path("cms", "qpp-measures-data", str(year), "mvp.json").read_text())
    assert len(cms) == count
    pathways = load_year(year, RULES).namespaces()["mvps"]["pathways"]
    assert len(pathways) == count
    for entry in cms:
        row = pathways.get(entry["mvpId"])
        assert row["title"] == entry["title"]
        assert list(row["quality_measure_ids"]) == entry["qualityMeasureIds"]
        assert list(row["ia_measure_ids"]) == entry["iaMeasureIds"]
        assert list(row["foundation_pi_measure_ids"]) == entry["foundationPiMeasureIds"]
        assert "description" not in row
