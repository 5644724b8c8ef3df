"""Whole populations: synth, batch (local processes and Dask), error lines, atomic output."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from engine.batch import read_results
from engine.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    path = tmp_path_factory.mktemp("pop") / "pop.jsonl"
    result = runner.invoke(app, ["synth", "--year", "2024", "--n", "300", "--seed", "11", "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_synth_is_deterministic(population, tmp_path):
    again = tmp_path / "again.jsonl"
    runner.invoke(app, ["synth", "--year", "2024", "--n", "300", "--seed", "11", "-o", str(again)])
    assert again.read_bytes() == population.read_bytes()
    other = tmp_path / "other.jsonl"
    runner.invoke(app, ["synth", "--year", "2024", "--n", "300", "--seed", "12", "-o", str(other)])
    assert other.read_bytes() != population.read_bytes()
    records = [json.loads(line) for line in population.read_text().splitlines()]
    types = {r["context"]["entity"]["type"] for r in records}
    assert {"individual", "group"} <= types and len(types) >= 4
    assert any(r["context"].get("cost") for r in records) and any(r["context"]["reporting_option"] == "app"
                                                                    for r in records)


def test_batch_local_processes_match_one_process(population, tmp_path):
    out1, out2 = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    r1 = runner.invoke(app, ["batch", str(population), "--year", "2024", "-o", str(out1), "--workers", "1"])
    r2 = runner.invoke(app, ["batch", str(population), "--year", "2024", "-o", str(out2), "--workers", "2"])
    assert out1.read_bytes() == out2.read_bytes()
    results = read_results(out1)
    assert len(results) == 300
    assert [r["id"] for r in results] == [f"S2024-{i:07d}" for i in range(300)]
    failed = [r for r in results if "error" in r]
    assert r1.exit_code == (1 if failed else 0) == r2.exit_code
    assert all(0 <= r["final_score"] <= 100 for r in results if "error" not in r)


def test_bad_records_become_error_lines(tmp_path, population):
    lines = population.read_text().splitlines()[:3]
    lines.insert(1, "{not json")
    lines.insert(2, json.dumps({"id": "bad-tin", "submission": {"entityType": "group",
                                "taxpayerIdentificationNumber": "12", "performanceYear": 2024,
                                "measurementSets": []}, "context": {}}))
    source = tmp_path / "mixed.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "mixed.out.jsonl"
    result = runner.invoke(app, ["batch", str(source), "--year", "2024", "-o", str(out), "--workers", "1"])
    assert result.exit_code == 1
    rows = read_results(out)
    assert rows[1]["line"] == 2 and rows[1]["error"].startswith("not JSON")
    assert rows[2]["id"] == "bad-tin" and rows[2]["line"] == 3 and "taxpayerIdentificationNumber" in rows[2]["error"]
    assert "final_score" in rows[0] and "final_score" in rows[3]
    assert not list(tmp_path.glob(".*.part"))  # the temporary file was renamed


def test_csv_output(population, tmp_path):
    out = tmp_path / "out.csv"
    runner.invoke(app, ["batch", str(population), "--year", "2024", "-o", str(out), "--format", "csv",
                        "--workers", "1"])
    header, first = out.read_text().splitlines()[:2]
    assert header.startswith("id,line,performance_year,final_score,quality_score")
    assert first.startswith("S2024-0000000,,2024,")


def test_dask_matches_local(population, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    local, remote = tmp_path / "local.jsonl", tmp_path / "dask.jsonl"
    runner.invoke(app, ["batch", str(population), "--year", "2024", "-o", str(local), "--workers", "2"])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        result = runner.invoke(app, ["batch", str(population), "--year", "2024", "-o", str(remote),
                                     "--engine", "dask", "--scheduler", cluster.scheduler_address])
    assert result.exit_code in (0, 1), result.output
    assert remote.read_bytes() == local.read_bytes()
