"""Whole populations: synth, batch (local processes and Dask), error lines, atomic output."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mips_rules.engine.populations.batch import read_results
from mips_rules.engine.cli.commands import app

from conftest import RULES

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
    assert header.startswith("id,line,performance_year,rules_fingerprint,final_score,quality_score")
    from mips_rules.engine.years.loader import fingerprint

    assert first.startswith(f"S2024-0000000,,2024,{fingerprint(RULES / '2024')},")


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


def _start_batch(population, out, *extra):
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-c", "from mips_rules.engine.cli.commands import main; main()", "batch", str(population),
                             "--year", "2024", "-o", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_part(out, proc, minimum=1):
    import time

    from mips_rules.engine.populations.batch import part_path

    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        part = part_path(out)
        if part.exists() and part.read_text().count("\n") >= minimum:
            return
        time.sleep(0.05)
    raise AssertionError("the batch wrote nothing in time")


@pytest.fixture(scope="module")
def big_population(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    runner.invoke(app, ["synth", "--year", "2024", "--n", "3000", "--seed", "5", "-o", str(path)])
    return path


@pytest.fixture(scope="module")
def straight_run(big_population, tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "out.jsonl"
    runner.invoke(app, ["batch", str(big_population), "--year", "2024", "-o", str(out), "--workers", "2"])
    return out.read_bytes()


def test_sigint_leaves_no_partial_output_and_resume_scores_each_record_once(big_population, straight_run, tmp_path):
    import signal

    from mips_rules.engine.populations.batch import part_path

    out = tmp_path / "out.jsonl"
    proc = _start_batch(big_population, out, "--workers", "2")
    _wait_for_part(out, proc, 400)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not out.exists()  # nothing under the final name
    assert part_path(out).exists() and "--resume" in err
    written = part_path(out).read_text().count("\n")
    assert 0 < written < 3000
    resumed = runner.invoke(app, ["batch", str(big_population), "--year", "2024", "-o", str(out), "--resume",
                                  "--workers", "2"])
    assert f"resumed after {written} records" in resumed.output
    assert out.read_bytes() == straight_run  # every record exactly once, in order
    assert not part_path(out).exists()


def test_a_killed_worker_stops_the_batch_cleanly_and_resume_finishes(big_population, straight_run, tmp_path):
    import os
    import signal
    import subprocess

    from mips_rules.engine.populations.batch import part_path

    out = tmp_path / "out.jsonl"
    proc = _start_batch(big_population, out, "--workers", "2")
    _wait_for_part(out, proc, 200)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert children, "no worker processes found"
    os.kill(int(children[0]), signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "worker process died" in err and "Traceback" not in err
    assert not out.exists()
    resumed = runner.invoke(app, ["batch", str(big_population), "--year", "2024", "-o", str(out), "--resume",
                                  "--workers", "2"])
    assert resumed.exit_code in (0, 1)
    assert out.read_bytes() == straight_run
    assert not part_path(out).exists()


def _write_part(out, data, input_path, fmt="jsonl", year=2024, rules=None):
    """A part file as an interrupted batch leaves it, with the record of what it belongs to."""
    from mips_rules.engine.populations.batch import meta_path, part_path, part_record
    from mips_rules.engine.years.loader import load_year

    part_path(out).write_bytes(data)
    meta_path(out).write_text(json.dumps(part_record(input_path, fmt, load_year(year, rules))))


def test_resume_cuts_a_half_written_line(big_population, straight_run, tmp_path):
    out = tmp_path / "out.jsonl"
    lines = straight_run.split(b"\n")
    _write_part(out, b"\n".join(lines[:100]) + b"\n" + lines[100][:20], big_population)  # a torn last line
    runner.invoke(app, ["batch", str(big_population), "--year", "2024", "-o", str(out), "--resume", "--workers", "1"])
    assert out.read_bytes() == straight_run


def test_sigterm_stops_the_workers_keeps_the_part_file_and_resume_finishes(big_population, straight_run, tmp_path):
    import signal
    import subprocess
    import time

    from mips_rules.engine.populations.batch import meta_path, part_path

    out = tmp_path / "out.jsonl"
    proc = _start_batch(big_population, out, "--workers", "2")
    _wait_for_part(out, proc, 400)
    workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert workers, "no worker processes found"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated" in err and "--resume" in err and "Traceback" not in err
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(int(pid)) for pid in workers):
        time.sleep(0.05)
    assert not any(_alive(int(pid)) for pid in workers), "a worker outlived the batch"
    assert not out.exists()
    part = part_path(out).read_bytes()
    assert part.endswith(b"\n") and 0 < part.count(b"\n") < 3000
    assert straight_run.startswith(part)  # whole records, in order, nothing torn
    assert meta_path(out).exists()
    resumed = runner.invoke(app, ["batch", str(big_population), "--year", "2024", "-o", str(out), "--resume",
                                  "--workers", "2"])
    written = part.count(b"\n")
    assert f"resumed after {written} records" in resumed.output
    assert out.read_bytes() == straight_run  # no record scored twice, none lost
    assert not part_path(out).exists() and not meta_path(out).exists()


def _alive(pid):
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def test_resume_refuses_a_part_file_of_another_input(population, big_population, straight_run, tmp_path):
    out = tmp_path / "out.jsonl"
    lines = straight_run.split(b"\n")
    _write_part(out, b"\n".join(lines[:100]) + b"\n", big_population)
    result = runner.invoke(app, ["batch", str(population), "--year", "2024", "-o", str(out), "--resume",
                                 "--workers", "1"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "was written for another input" in result.output and str(big_population) in result.output
    assert not out.exists()
    from mips_rules.engine.populations.batch import part_path

    assert part_path(out).read_bytes() == b"\n".join(lines[:100]) + b"\n"  # left as it was


def test_resume_refuses_csv_over_a_jsonl_part_file(big_population, straight_run, tmp_path):
    out = tmp_path / "out.csv"
    lines = straight_run.split(b"\n")
    _write_part(out, b"\n".join(lines[:50]) + b"\n", big_population, fmt="jsonl")
    result = runner.invoke(app, ["batch", str(big_population), "--year", "2024", "-o", str(out), "--resume",
                                 "--format", "csv", "--workers", "1"])
    assert result.exit_code == 2 and "was written as jsonl, not csv" in result.output
    assert not out.exists()


def test_resume_refuses_a_part_file_with_no_record(big_population, straight_run, tmp_path):
    from mips_rules.engine.populations.batch import part_path

    out = tmp_path / "out.jsonl"
    part_path(out).write_bytes(straight_run.split(b"\n", 1)[0] + b"\n")  # a part file of an older version
    result = runner.invoke(app, ["batch", str(big_population), "--year", "2024", "-o", str(out), "--resume",
                                 "--workers", "1"])
    assert result.exit_code == 2 and "has no record of the input it was written for" in result.output


def test_batch_refuses_to_overwrite_its_input(population, tmp_path):
    import os

    copy = tmp_path / "pop.jsonl"
    copy.write_bytes(population.read_bytes())
    link = tmp_path / "hard.jsonl"
    os.link(copy, link)
    for target in (copy, tmp_path / "." / "pop.jsonl", link):
        result = runner.invoke(app, ["batch", str(copy), "--year", "2024", "-o", str(target), "--workers", "1"])
        assert result.exit_code == 2, result.output
        assert "it is also an input" in result.output and "Traceback" not in result.output
    assert copy.read_bytes() == population.read_bytes()
    assert not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("workers", ["-2", "0"])
def test_workers_must_be_positive(population, tmp_path, workers):
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["batch", str(population), "--year", "2024", "-o", str(out), "--workers", workers])
    assert result.exit_code == 2 and f"--workers: must be 1 or more, got {workers}" in result.output
    assert "Traceback" not in result.output and not list(tmp_path.iterdir())


def test_an_unreachable_dask_scheduler_fails_fast(population, tmp_path):
    import time

    pytest.importorskip("dask.distributed")
    from mips_rules.engine.populations.batch import DASK_CONNECT_TIMEOUT

    out = tmp_path / "out.jsonl"
    start = time.monotonic()
    result = runner.invoke(app, ["batch", str(population), "--year", "2024", "-o", str(out), "--engine", "dask",
                                 "--scheduler", "tcp://127.0.0.1:1"])
    elapsed = time.monotonic() - start
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in result.output
    assert elapsed < DASK_CONNECT_TIMEOUT + 15
    assert not list(tmp_path.iterdir())  # nothing written, not even a part file


def test_csv_columns_follow_the_years_categories(year_copy, tmp_path):
    folder = year_copy(2023, edits={"program.yaml": [("value: [quality, cost, ia, pi]", "value: [pi, ia, quality, cost]")]})
    pop, out = tmp_path / "pop.jsonl", tmp_path / "out.csv"
    assert runner.invoke(app, ["synth", "--year", "2023", "--n", "20", "--rules", str(folder), "-o", str(pop)]).exit_code == 0
    result = runner.invoke(app, ["batch", str(pop), "--year", "2023", "--rules", str(folder), "-o", str(out),
                                 "--format", "csv", "--workers", "1"])
    assert result.exit_code in (0, 1), result.output
    header = out.read_text().splitlines()[0]
    assert header.startswith("id,line,performance_year,rules_fingerprint,final_score,pi_score,pi_weight,ia_score,"
                             "ia_weight,quality_score,quality_weight,cost_score,cost_weight,adjustment_applies")


def test_csv_rows_of_a_year_with_other_categories():
    import csv
    import io

    from mips_rules.engine.populations import batch

    from mips_rules.engine.years.loader import load_year

    year = load_year(2023)
    fields = batch.csv_fields(year.report_layout, ("quality", "ia", "equity"))
    assert fields[5:11] == ["quality_score", "quality_weight", "ia_score", "ia_weight", "equity_score",
                            "equity_weight"]
    result = {"id": "x", "performance_year": 2030, "rules_fingerprint": "f", "final_score": 80,
              "categories": {c: {"score": 80, "weight": w} for c, w in (("quality", 50), ("ia", 20), ("equity", 30))},
              "payment_adjustment": {"applies": True, "direction": "positive", "percent": 1}}
    saved = dict(batch._WORKER)
    try:
        batch._WORKER["csv_fields"] = fields
        batch._WORKER["year"] = year
        line = batch.format_result(result, "csv")
    finally:
        batch._WORKER.clear()
        batch._WORKER.update(saved)
    row = next(csv.DictReader(io.StringIO(",".join(fields) + "\r\n" + line)))
    assert row["equity_weight"] == "30" and row["ia_score"] == "80"


def test_parquet_holds_the_csv_rows(population, tmp_path):
    """`--format parquet`: the CSV's columns and values, typed (issue #16, item 4)."""
    import csv

    import pyarrow.parquet as pq

    args = ["batch", str(population), "--year", "2024", "--workers", "1"]
    assert runner.invoke(app, [*args, "-f", "csv", "-o", str(tmp_path / "s.csv")]).exit_code in (0, 1)
    result = runner.invoke(app, [*args, "-f", "parquet", "-o", str(tmp_path / "s.parquet")])
    assert result.exit_code in (0, 1), result.output
    assert not list(tmp_path.glob(".*part*"))  # the CSV part file was replaced by the table
    table = pq.read_table(tmp_path / "s.parquet").to_pylist()
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert len(table) == len(rows) == 300
    assert list(table[0]) == list(rows[0])
    for got, want in zip(table, rows):
        assert got["id"] == want["id"]
        if want["error"]:
            assert got["error"] == want["error"] and got["final_score"] is None
        else:
            assert got["error"] is None
            assert got["final_score"] == float(want["final_score"])
            assert got["adjustment_percent"] == float(want["adjustment_percent"])
            assert got["adjustment_applies"] is (want["adjustment_applies"] == "True")
