"""Importing CMS's published reference files, and scoring with the whole inventory."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from mips_rules.engine.cli import app
from mips_rules.engine.refdata import read_cms_folder
from mips_rules.engine.year import load_year

from conftest import RULES, shared_path

runner = CliRunner()


# CMS's files: 385 benchmark rows in 2023 (361 quality + 24 cost), 358 in 2024 (330 + 28).
@pytest.mark.parametrize("year, quality, benchmarks, cost_benchmarks", [(2023, 471, 361, 24), (2024, 413, 330, 28)])
def test_import_real_files(tmp_path, year, quality, benchmarks, cost_benchmarks):
    folder = shared_path("cms", "qpp-measures-data", str(year))
    result = runner.invoke(app, ["data", "import", str(year), str(folder), "--to", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"measures.quality: {quality} rows" in result.output
    assert f"benchmarks.quality: {benchmarks} rows" in result.output
    assert f"benchmarks.cost: {cost_benchmarks} rows" in result.output
    loaded = load_year(year, RULES, reference=tmp_path)
    table = loaded.namespaces()["benchmarks"]["quality"]
    assert len(table) == benchmarks
    # Imported rows win, and a measure outside the shipped subset is now known.
    assert loaded.namespaces()["measures"]["quality"].get("007") is not None


def test_csv_layout_matches_json(tmp_path):
    folder = shared_path("cms", "qpp-measures-data", "2024")
    from_csv = read_cms_folder(2024, folder / "benchmarks.csv")
    from_json = read_cms_folder(2024, folder / "benchmarks.json")
    assert not from_csv.problems and not from_json.problems
    json_rows = {(r["measure_id"], r["submission_method"]): r for r in from_json.tables["benchmarks.quality"]}
    # Every spreadsheet row has the same percentiles and flags as benchmarks.json (e.g. 001 eCQM, p10 14.53).
    assert len(from_csv.tables["benchmarks.quality"]) > 200
    for row in from_csv.tables["benchmarks.quality"]:
        twin = json_rows[(row["measure_id"], row["submission_method"])]
        assert row == twin
    row = next(r for r in from_csv.tables["benchmarks.quality"]
               if r["measure_id"] == "001" and r["submission_method"] == "electronicHealthRecord")
    assert row["inverse"] is True and row["percentiles"]["p10"] == D("14.53")


def test_bad_rows_are_reported_with_file_and_row_and_nothing_is_written(tmp_path):
    csv_path = tmp_path / "benchmarks.csv"
    header = ("measureName,measureId,submissionMethod,isToppedOut,isToppedOutByProgram,percentile1,percentile10,"
              "percentile20,percentile30,percentile40,percentile50,percentile60,percentile70,percentile80,"
              "percentile90,percentile99,isInverse")
    csv_path.write_text(header + "\n"
                        "A,001,eCQM,No,No,1,10,20,30,40,50,60,70,80,90,99,Y\n"
                        "B,002,Carrier Pigeon,No,No,1,10,20,30,40,50,60,70,80,90,99,N\n"
                        "C,003,eCQM,No,No,1,10,20,thirty,40,50,60,70,80,90,99,N\n")
    store = tmp_path / "store"
    result = runner.invoke(app, ["data", "import", "2024", str(csv_path), "--to", str(store)])
    assert result.exit_code == 1
    assert f"{csv_path}:3:1" in result.output and "unknown collection type 'Carrier Pigeon'" in result.output
    assert f"{csv_path}:4:1" in result.output and "not a number: 'thirty'" in result.output
    assert "nothing was imported" in result.output
    assert not (store / "2024").exists() or not any((store / "2024").iterdir())


def test_missing_folder_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["data", "import", "2024", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "not found" in result.output


def test_import_store_is_exact(tmp_path):
    folder = shared_path("cms", "qpp-measures-data", "2024")
    runner.invoke(app, ["data", "import", "2024", str(folder), "--to", str(tmp_path)])
    stored = json.loads((tmp_path / "2024" / "reference.json").read_text())
    row = next(r for r in stored["tables"]["benchmarks.quality"]
               if r["measure_id"] == "001" and r["submission_method"] == "electronicHealthRecord")
    assert row["percentiles"]["p10"] == "14.53"
