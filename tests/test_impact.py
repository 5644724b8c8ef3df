"""rulesctl impact (issue #16): a rule change over a population, and the budget-neutral scaling factor."""

from __future__ import annotations

import json

import pytest
from decimal import Decimal as D

from typer.testing import CliRunner

from mips_rules.engine.cli.commands import app

from conftest import RULES

runner = CliRunner()


def _record(rid, score, charges):
    return {"id": rid, "context": {"category_scores": {c: score for c in ("quality", "cost", "ia", "pi")},
                                   "eligibility": {"allowed_charges": charges, "part_b_patients": 500,
                                                   "covered_services": 500}}}


def _population(tmp_path):
    path = tmp_path / "pop.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (
        _record("A", 100, 100000), _record("B", 50, 200000), _record("C", 10, 150000))))
    return path


def test_the_scaling_factor_worked_by_hand(tmp_path):
    """2024 (threshold 75, 9%): A at 100 → +9 × 25/25 = 9 before scaling (weight 100,000); B at 50 →
    −9 × 25/75 = −3 (200,000); C at 10 ≤ 18.75 → −9 (150,000). Budget neutral: (3 × 200,000 + 9 × 150,000)
    / (9 × 100,000) = 1,950,000 / 900,000 = 2.1666…, under the cap of 3; the best score earns 9 × 2.1666… = 19.5%.
    Threshold 80: B → −9 × 30/80 = −3.375, C ≤ 20 → −9, A → 9 × 20/20 = 9: 2,025,000 / 900,000 = 2.25 → 20.25%."""
    result = runner.invoke(app, ["impact", "2024", "--set", "program.performance_threshold=80",
                                 "-p", str(_population(tmp_path)), "-f", "json"])
    assert result.exit_code == 0, result.output
    study = json.loads(result.stdout, parse_float=D)
    before, after = study["scaling_factor"]["before"], study["scaling_factor"]["after"]
    assert (before["negative_total"], before["positive_total_unscaled"]) == (1950000, 900000)
    assert before["factor"] == D("2.166667") and before["max_positive_adjustment"] == D("19.5")
    assert not before["cap_binds"] and before["weighted_by"] == "context.eligibility.allowed_charges"
    assert (after["negative_total"], after["factor"], after["max_positive_adjustment"]) == (2025000, D("2.25"),
                                                                                           D("20.25"))
    # Mean adjustments as paid (the published factor 1.05 / 9): (1.05 − 3 − 9) / 3 = −3.65;
    # after: (1.05 − 3.38 − 9) / 3 = −3.7766… → −3.78.
    assert study["before"]["mean_adjustment"] == D("-3.65") and study["after"]["mean_adjustment"] == D("-3.78")
    markdown = runner.invoke(app, ["impact", "2024", "--set", "program.performance_threshold=80",
                                   "-p", str(_population(tmp_path)), "-f", "markdown"]).stdout
    assert "Scaling factor after: 2.25, maximum positive adjustment 20.25%" in markdown
    page = runner.invoke(app, ["impact", "2024", "--set", "program.performance_threshold=80",
                               "-p", str(_population(tmp_path)), "-f", "html"]).stdout
    assert page.count("<svg") == 2 and "<script" not in page and "20.25%" in page


def test_the_cap_binds_and_movers_are_counted(tmp_path):
    """A at 76 (threshold 75): 9 × 1/25 = 0.36 before scaling; B at 50 → −3 (200,000): 600,000 / 36,000 ≈ 16.7,
    capped at 3. With the threshold at 80, A (76) turns negative: −9 × 4/80 = −0.45."""
    path = tmp_path / "pop.jsonl"
    path.write_text(json.dumps(_record("A", 76, 100000)) + "\n" + json.dumps(_record("B", 50, 200000)) + "\n")
    study = json.loads(runner.invoke(app, ["impact", "2024", "--set", "program.performance_threshold=80",
                                           "-p", str(path), "-f", "json"]).stdout, parse_float=D)
    before = study["scaling_factor"]["before"]
    assert before["cap_binds"] and before["factor"] == 3 and before["max_positive_adjustment"] == 27
    assert study["movers"]["turned_negative"] == 1
    assert study["movers"]["direction_changes"] == {"positive → negative": 1}
    group = study["groups"]["context.entity.type"]["individual"]
    assert (group["records"], group["negative_before"], group["negative_after"], group["turned_negative"]) == (2, 1, 2, 1)
    # The other side has no positive adjustment left: nothing to scale, and the study says so.
    assert study["scaling_factor"]["after"]["factor"] is None


def test_a_draft_folder_gives_the_same_study(tmp_path):
    draft = tmp_path / "draft" / "2024"
    draft.mkdir(parents=True)
    (draft / "year.yaml").write_text(f"extends: {RULES / '2024'}\n")
    (draft / "program.yaml").write_text('performance_threshold:\n  value: 80\n  unit: points\n  source: "a draft"\n')
    pop = _population(tmp_path)
    by_set = json.loads(runner.invoke(app, ["impact", "2024", "--set", "program.performance_threshold=80",
                                            "-p", str(pop), "-f", "json"]).stdout)
    by_draft = json.loads(runner.invoke(app, ["impact", "2024", "--draft", str(draft), "-p", str(pop),
                                              "-f", "json"]).stdout)
    assert by_set["scaling_factor"] == by_draft["scaling_factor"] and by_set["groups"] == by_draft["groups"]


def test_bad_reforms_are_refused_with_their_reason(tmp_path):
    pop = _population(tmp_path)
    for args, message in (
            (["--set", "program.performance_threshold=high"], "is text"),
            (["--set", "program.performance_treshold=80"], "did you mean program.performance_threshold"),
            (["--set", "weights.redistribution=1"], "a table"),
            (["--set", "threshold"], "NAMESPACE.ITEM=VALUE"),
            ([], "--draft FOLDER or as one or more --set")):
        result = runner.invoke(app, ["impact", "2024", "-p", str(pop), *args])
        assert result.exit_code != 0 and "Traceback" not in result.output, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "context": {"category_scores": {"quality": "lots"}}}\nnot json\n')
    study = json.loads(runner.invoke(app, ["impact", "2024", "--set", "program.performance_threshold=80",
                                           "-p", str(bad), "-f", "json"]).stdout)
    assert study["population"]["not_scored"] == 2
    assert any("category_scores.quality" in e for e in study["population"]["errors"])
    assert any("line 2: not JSON" in e for e in study["population"]["errors"])


PUF_HEADER = ["npi", "practice size", "quality category score", "cost category score",
              "improvement activities (ia) category score", "promoting interoperability (pi) category score",
              "small practice status", "rural status", "allowed charges", "medicare patients", "services",
              "reporting option", "final score"]


def _puf_rows():
    return [["1000000001", "50", "100", "100", "100", "100", "False", "False", "100000", "500", "500",
             "Traditional MIPS", "100"],
            ["1000000002", "50", "50", "50", "50", "50", "False", "True", "200000", "500", "500",
             "Traditional MIPS", "50"],
            ["1000000003", "3", "10", "10", "10", "10", "True", "False", "150000", "500", "500",
             "Traditional MIPS", "10"]]


def test_a_table_of_category_scores_gives_the_same_study(tmp_path):
    """CMS's QPP Experience columns (CSV and Parquet), read as rules/2023/population_table.yaml says:
    the same three clinicians as the JSONL population above, so the same factors (2.1666…, 2.25)."""
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = tmp_path / "puf.csv"
    with table.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(PUF_HEADER)
        writer.writerows(_puf_rows())
    parquet = tmp_path / "puf.parquet"
    pq.write_table(pa.table({c: [r[i] for r in _puf_rows()] for i, c in enumerate(PUF_HEADER)}), parquet)
    for path in (table, parquet):
        result = runner.invoke(app, ["impact", "2024", "--set", "program.performance_threshold=80",
                                     "-p", str(path), "-f", "json"])
        assert result.exit_code == 0, result.output
        study = json.loads(result.stdout, parse_float=D)
        assert study["scaling_factor"]["before"]["factor"] == D("2.166667")
        assert study["scaling_factor"]["after"]["factor"] == D("2.25")
        assert study["groups"]["context.entity.rural"]["yes"]["records"] == 1
        assert study["groups"]["context.entity.small_practice"]["yes"]["records"] == 1


def test_a_bad_table_names_the_row_and_column(tmp_path):
    import csv

    table = tmp_path / "bad.csv"
    rows = _puf_rows()
    rows[1][2] = "lots"
    rows[2][11] = "Some Other Pathway"
    with table.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(PUF_HEADER)
        writer.writerows(rows)
    study = json.loads(runner.invoke(app, ["impact", "2024", "--set", "program.performance_threshold=80",
                                           "-p", str(table), "-f", "json"]).stdout)
    errors = " ".join(study["population"]["errors"])
    assert "row 2, column 'quality category score': 'lots' is not a number" in errors
    assert "row 3, column 'reporting option': 'Some Other Pathway' is not one of" in errors
    missing = tmp_path / "missing.csv"
    missing.write_text("npi,quality category score\n1,80\n")
    result = runner.invoke(app, ["impact", "2024", "--set", "program.performance_threshold=80", "-p", str(missing)])
    assert result.exit_code != 0 and "has no column 'cost category score'" in result.output


def test_check_refuses_a_bad_table_layout(tmp_path):
    import shutil

    root = tmp_path / "rules"
    shutil.copytree(RULES / "2023", root / "2023")
    (root / "2023" / "population_table.yaml").write_text("source: x\ncolumns:\n  a: {to: b, type: numbr}\n")
    result = runner.invoke(app, ["check", "2023", "--rules", str(root)])
    assert result.exit_code != 0 and "population_table.yaml:3:3" in result.output


def test_each_record_before_and_after_as_csv_and_parquet(tmp_path):
    import csv

    import pyarrow.parquet as pq

    pop = _population(tmp_path)
    for name in ("rows.csv", "rows.parquet"):
        result = runner.invoke(app, ["impact", "2024", "--set", "program.performance_threshold=80", "-p", str(pop),
                                     "--records", str(tmp_path / name), "-f", "json"])
        assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "rows.csv").open()))
    # B at 50: −9 × 25/75 = −3 before, −9 × 30/80 = −3.375 → −3.38 after (half up).
    assert (rows[1]["id"], rows[1]["adjustment_before"], rows[1]["adjustment_after"]) == ("B", "-3", "-3.38")
    table = pq.read_table(tmp_path / "rows.parquet").to_pylist()
    assert table[1]["adjustment_after"] == -3.38 and table[1]["weight"] == 200000
    assert table[0]["context.entity.type"] == "individual"
    # Never over the population itself.
    result = runner.invoke(app, ["impact", "2024", "--set", "program.performance_threshold=80", "-p", str(pop),
                                 "--records", str(pop)])
    assert result.exit_code != 0 and json.loads(pop.read_text().splitlines()[0])["id"] == "A"


def test_report_values_are_the_reports_own(year_2024):
    """`report_values` computes only the definitions behind some report paths: each value equals the
    one in the whole report, for every path kind (a top-level rule, a nested record's field, an
    `each` field's path, which builds the report)."""
    import json as _json
    from decimal import Decimal as _D

    from mips_rules.engine.inputs.context import parse_context
    from mips_rules.engine.inputs.submission import parse_submission
    from mips_rules.engine.populations.synth import Synthesizer
    from mips_rules.engine.scoring.display import at
    from mips_rules.engine.scoring.score import report_values, score

    paths = ["final_score", "payment_adjustment.percent", "payment_adjustment.direction", "reporting_option",
             "categories.quality.score"]
    checked = 0
    for record in Synthesizer(year_2024, seed=3).records(60):
        record = _json.loads(_json.dumps(record), parse_float=_D)
        sub = parse_submission(record["submission"])
        try:
            report = score(year_2024, sub, parse_context(record["context"], year=year_2024), detail=False).report
        except Exception:  # noqa: BLE001 - records the year refuses are refused both ways
            continue
        values, _ = report_values(year_2024, sub, parse_context(record["context"], year=year_2024), paths)
        assert values == {p: at(report, p) for p in paths}
        checked += 1
    assert checked > 40


def _table_records(year, tmp_path, n=300):
    """Rows of a QPP Experience-like table (seeded), some of them odd: what `impact` reads from a table."""
    import csv
    import random

    from mips_rules.engine.populations.score_table import records

    header = ["npi", "quality category score", "cost category score", "improvement activities (ia) category score",
              "promoting interoperability (pi) category score", "small practice status", "rural status",
              "allowed charges", "medicare patients", "services", "reporting option", "complex patient bonus"]
    r = random.Random(16)
    path = tmp_path / "rows.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for i in range(n):
            writer.writerow([1000000000 + i, round(r.uniform(0, 100), 2), r.choice(["", 0, 37.5, round(r.uniform(0, 100), 4)]),
                             r.choice([0, 15, 20, 30, 40]), r.choice(["", 0, 60, 88, 100, 101]),
                             r.random() < .2, r.random() < .15, r.choice(["", 20000, 500000.5, -5]),
                             r.randint(0, 3000), r.randint(0, 5000),
                             r.choice(["Traditional MIPS"] * 6 + ["APP", "MIPS Value Pathways"]),
                             r.choice(["", 0, 1.5, 5, 12])])
    return list(records(year, path))


def test_plainly_valid_records_take_the_short_way_to_the_same_outcomes(year_2024, tmp_path, monkeypatch):
    """A table's rows are checked by `ContextSchema.fast_record` and scored without a report: each
    outcome (scores, adjustment, budget figures, groups, errors) is the one the usual way gives."""
    from mips_rules.engine.populations import impact

    rows = _table_records(year_2024, tmp_path)
    rows += [(900, {"id": "bad", "context": {"category_scores": {"quality": "high"}}}),
             (901, {"id": "unknown", "context": {"no_such_field": True}}),
             (902, {"id": "empty", "context": {}})]
    taken = []
    short_way = impact.plain_values
    monkeypatch.setattr(impact, "plain_values", lambda *a: taken.append(short_way(*a)) or taken[-1])
    short = [impact.score_outcome(year_2024, record, n) for n, record in rows]
    monkeypatch.setattr(impact, "plain_values", lambda *a: None)
    usual = [impact.score_outcome(year_2024, record, n) for n, record in rows]
    assert short == usual
    assert sum(o.error is None for o in usual) > 60 and sum(o.error is not None for o in usual) > 60
    assert sum(t is not None for t in taken) >= sum(o.error is None for o in usual)  # every scored row went short


def test_worker_processes_give_the_same_study(year_2024, tmp_path, monkeypatch):
    """A large population is scored by forked workers, in order: the same study as in one process."""
    from mips_rules.engine.populations import impact
    from mips_rules.engine.workbench.reform import reform_year

    rows = _table_records(year_2024, tmp_path, 120)
    reform = reform_year(year_2024, ["program.performance_threshold=80"])
    alone = impact.compare(year_2024, reform, rows, "t80", workers=1)
    monkeypatch.setattr(impact, "PARALLEL_FROM", 10)
    monkeypatch.setattr(impact, "CHUNK", 7)
    assert impact.compare(year_2024, reform, rows, "t80", workers=2) == alone


def test_a_study_is_the_same_the_usual_way(year_2024, tmp_path, monkeypatch):
    """Plain inputs made once for both sides (the reform checks contexts alike) give the study the
    input models give, for full submissions and table rows alike."""
    import json as _json

    from mips_rules.engine.populations import impact
    from mips_rules.engine.populations.synth import Synthesizer
    from mips_rules.engine.workbench.reform import reform_year

    records = [(n, _json.loads(_json.dumps(r), parse_float=D))
               for n, r in enumerate(Synthesizer(year_2024, 5).records(80), 1)]
    records += _table_records(year_2024, tmp_path, 80)
    reform = reform_year(year_2024, ["program.performance_threshold=80"])
    assert impact._checks_alike(year_2024, reform)
    short = impact.compare(year_2024, reform, records, "t80", workers=1)
    monkeypatch.setattr(impact, "plain_values", lambda *a: None)
    monkeypatch.setattr(impact, "_both_replayed", lambda *a: None)
    monkeypatch.setattr(impact, "_checks_alike", lambda *a: False)
    assert impact.compare(year_2024, reform, records, "t80", workers=1) == short


def test_the_study_is_tallied_as_records_stream_by(year_2024, tmp_path):
    """Records are read as the study goes (a generator is enough) and each figure is the one the
    whole list gives; the errors listed are the first 20 distinct ones in sorted order."""
    import random

    from mips_rules.engine.populations import impact, tally
    from mips_rules.engine.workbench.reform import reform_year

    rows = _table_records(year_2024, tmp_path, 60)
    reform = reform_year(year_2024, ["program.performance_threshold=80"])
    listed = impact.compare(year_2024, reform, rows, "t80", workers=1)
    assert impact.compare(year_2024, reform, iter(rows), "t80", workers=1) == listed
    r = random.Random(4)
    for _ in range(200):
        errors = [r.choice("abcdefghijklmnopqrstuvwxyz") * r.randint(1, 3) for _ in range(r.randint(0, 60))]
        kept: list[str] = []
        for e in errors:
            tally.keep_error(kept, e)
        assert kept == sorted(set(errors))[:20]
        cut = r.randint(0, len(errors))  # two parts' lists merged: the same list
        first: list[str] = []
        second: list[str] = []
        for e in errors[:cut]:
            tally.keep_error(first, e)
        for e in errors[cut:]:
            tally.keep_error(second, e)
        for e in second:
            tally.keep_error(first, e)
        assert first == kept


def test_parts_of_any_size_give_the_same_study(year_2024, tmp_path, monkeypatch):
    """A study is tallied a chunk at a time and the parts merged: chunks of 1, 7 or 500 records, in
    one process or two workers, give the same study, figure for figure."""
    from mips_rules.engine.populations import impact
    from mips_rules.engine.workbench.reform import reform_year

    rows = _table_records(year_2024, tmp_path, 90)
    reform = reform_year(year_2024, ["program.performance_threshold=80"])
    whole = impact.compare(year_2024, reform, rows, "t80", workers=1)
    assert whole["population"]["records"] == 90
    monkeypatch.setattr(impact, "PARALLEL_FROM", 10)
    for size in (1, 7):
        monkeypatch.setattr(impact, "CHUNK", size)
        assert impact.compare(year_2024, reform, rows, "t80", workers=1) == whole
        assert impact.compare(year_2024, reform, rows, "t80", workers=2) == whole


def test_rows_tallied_as_columns_give_the_study_of_their_outcomes(year_2024, tmp_path, monkeypatch):
    """Without `--records`, the rows a tape replays go from their values to the tally as columns (no
    outcome made): the study each record's outcome tallied one by one gives, in one process or two."""
    from mips_rules.engine.populations import impact
    from mips_rules.engine.populations.score_table import rows
    from mips_rules.engine.workbench.reform import reform_year

    _table_records(year_2024, tmp_path, 600)
    table = tmp_path / "rows.csv"
    reform = reform_year(year_2024, ["program.performance_threshold=80"])
    one_by_one = impact.compare(year_2024, reform, rows(year_2024, table), "t80", rows=[], workers=1)
    columns = []
    tallied = impact.Tally.add_scored
    monkeypatch.setattr(impact.Tally, "add_scored", lambda self, b, a, c: columns.append(len(c)) or tallied(self, b, a, c))
    assert impact.compare(year_2024, reform, rows(year_2024, table), "t80", workers=1) == one_by_one
    assert max(columns) > 10  # (a chunk's replayed rows at once)
    monkeypatch.setattr(impact, "PARALLEL_FROM", 10)
    monkeypatch.setattr(impact, "CHUNK", 50)
    assert impact.compare(year_2024, reform, rows(year_2024, table), "t80", workers=2) == one_by_one
    assert one_by_one["population"]["not_scored"] > 50 and one_by_one["population"]["scored_both"] > 150


def test_past_so_many_combinations_of_groups_the_study_is_the_same(year_2024, tmp_path, monkeypatch):
    """A part keeps the counts of each combination of groups apart up to `MAX_COMBINATIONS`, then
    adds a record's counts to its groups at once: the same groups either way."""
    from mips_rules.engine.populations import impact, tally
    from mips_rules.engine.workbench.reform import reform_year

    rows = _table_records(year_2024, tmp_path, 200)
    reform = reform_year(year_2024, ["program.performance_threshold=80"])
    kept_apart = impact.compare(year_2024, reform, rows, "t80", workers=1)
    monkeypatch.setattr(tally, "MAX_COMBINATIONS", 1)
    assert impact.compare(year_2024, reform, rows, "t80", workers=1) == kept_apart
    assert len(kept_apart["groups"]["context.entity.small_practice"]) == 2


def test_progress_is_told_each_part(year_2024, tmp_path, monkeypatch):
    """`compare(progress=…)` hears of every record, a part at a time, in one process or in workers;
    `rulesctl impact` draws it as a bar on a terminal's stderr, of the table's rows."""
    import io
    import sys

    from mips_rules.engine.cli import commands
    from mips_rules.engine.populations import impact
    from mips_rules.engine.populations.score_table import rows
    from mips_rules.engine.workbench.reform import reform_year

    _table_records(year_2024, tmp_path, 120)
    table = tmp_path / "rows.csv"
    reform = reform_year(year_2024, ["program.performance_threshold=80"])
    heard: list[int] = []
    impact.compare(year_2024, reform, rows(year_2024, table), "t80", workers=1, progress=heard.append)
    assert sum(heard) == 120
    monkeypatch.setattr(impact, "PARALLEL_FROM", 10)
    monkeypatch.setattr(impact, "CHUNK", 25)
    heard.clear()
    impact.compare(year_2024, reform, rows(year_2024, table), "t80", workers=2, progress=heard.append)
    assert heard == [25, 25, 25, 25, 20]

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True
    monkeypatch.setattr(sys, "stderr", Terminal())
    with commands._progress_bar(table, "scoring") as advance:
        advance(120)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with commands._progress_bar(table, "scoring") as advance:
        assert advance is None  # not a terminal: no bar


def test_workers_read_slices_of_a_csv_file_as_it_reads_from_the_start(year_2024, tmp_path, monkeypatch):
    """A CSV table that slices cleanly is read by the workers themselves, a slice of rows each
    (`TableRows.slices`): blank lines (before the header too), a line of spaces, CRLF line ends, a
    byte-order mark and a last line without its line end read as from the start — the same rows,
    numbered alike (a table without an id column names its rows by number), the same study, each
    row's outcome the same. A file that may not slice cleanly is read here, as before."""
    from mips_rules.engine.populations import impact
    from mips_rules.engine.populations.score_table import rows
    from mips_rules.engine.workbench.reform import reform_year

    _table_records(year_2024, tmp_path, 300)
    lines = (tmp_path / "rows.csv").read_text().splitlines()
    header, body = lines[0].replace("npi,", "number,"), lines[1:]  # no id column: rows named by number
    odd = ["", *body[:100], "", "   ", *body[100:200], "", "", *body[200:]]
    table = tmp_path / "sliced.csv"
    table.write_bytes(("\ufeff\r\n" + header + "\r\n" + "\r\n".join(odd)).encode("utf-8"))  # (no last line end)
    reform = reform_year(year_2024, ["program.performance_threshold=80"])
    here: list = []
    alone = impact.compare(year_2024, reform, rows(year_2024, table), "t80", rows=here, workers=1)
    monkeypatch.setattr(impact, "PARALLEL_FROM", 10)
    monkeypatch.setattr(impact, "CHUNK", 7)
    sliced = rows(year_2024, table).slices(7, 10)
    assert sliced is not None and len(sliced) == 43 and sliced[0].first == 1 and sliced[-1].first == 295  # 301 rows
    assert [n for s in sliced for n, _ in s.rows()] == list(range(1, 302))
    there: list = []
    assert impact.compare(year_2024, reform, rows(year_2024, table), "t80", rows=there, workers=2) == alone
    assert there == here and {r["id"] for r in here} >= {"1", "150", "301"}
    for text in ('a,"quoted"\n', "caf\xe9\n", "lone\rreturn\n"):  # may not slice cleanly: read here
        other = tmp_path / "other.csv"
        other.write_bytes(table.read_bytes() + b"\r\n" + text.encode("latin-1"))
        assert rows(year_2024, other).slices(7, 10) is None
    assert rows(year_2024, table).slices(7, 400) is None  # fewer rows than that: scored here
    started = rows(year_2024, table)
    next(started)
    assert started.slices(7, 10) is None  # rows taken already: the rest are read here
    from mips_rules.engine.cli.outputs import OutputError

    table.unlink()  # a file gone since it was sliced: an error naming it and the rows, no traceback
    with pytest.raises(OutputError, match="sliced.csv: the rows from row 8 on cannot be read"):
        sliced[1].rows()


def test_sums_are_exact_in_any_order():
    """The budget's sums are exact. Weights 1E+28, 6 and 6 (× an adjustment of 1): 28-digit running
    sums give 1E+28 + 20 in that order (1E+28 + 6 rounds to + 10, then + 16 to + 20) and 1E+28 + 10
    the other way (6 + 6 + 1E+28 = 1E+28 + 12, rounded); the exact sum is 1E+28 + 12 in every order
    and in merged parts, rounded once when shown: 1.000000000000000000000000001E+28."""
    import itertools

    from mips_rules.engine.populations.tally import STUDY, Budget

    weights = [D("1E+28"), D(6), D(6)]
    running = [sum((w for w in order), D(0)) for order in (weights, weights[::-1])]
    assert running == [D("1E+28") + 20, D("1E+28") + 10] and running[0] != running[1]  # (Python's default context)
    for order in itertools.permutations(weights):
        one, parts = Budget(), [Budget(), Budget()]
        for i, w in enumerate(order):
            one.add([D(1)], [D(0)], [w])
            parts[i % 2].add([D(1)], [D(0)], [w])
        column = Budget()  # a column of three records at once
        column.add([D(1)] * 3, [D(0)] * 3, list(order))
        assert column.negative_weighted == one.negative_weighted
        parts[0].merge(parts[1])
        for total in (one.negative_weighted, parts[0].negative_weighted):
            assert total == D("10000000000000000000000000012")
        assert (one.negative, one.scored, one.weighted) == (3, 3, 3)
    assert str(STUDY.plus(one.negative_weighted)) == "1.000000000000000000000000001E+28"


def test_the_median_from_counts_is_statistics_median():
    """Final scores are counted by their digits; the median is the one of the list they count."""
    import random
    import statistics

    from mips_rules.engine.populations.tally import median_of

    r = random.Random(9)
    for _ in range(300):
        values = [D(r.randint(0, 400)) / 4 for _ in range(r.randint(1, 40))]
        counts: dict[str, int] = {}
        for v in values:
            counts[str(v)] = counts.get(str(v), 0) + 1
        assert median_of(counts) == statistics.median(values)
    assert median_of({"75.5": 1, "80": 1}) == D("77.75") and median_of({}) is None


def test_table_rows_read_where_they_are_scored(year_2024, tmp_path, monkeypatch):
    """`impact` hands a table's rows to its workers as cells (`score_table.rows`), each read into its
    record where it is scored, and gets each outcome back packed as texts: the same study, outcome
    for outcome, as the records read here and scored in this process."""
    from mips_rules.engine.populations import impact
    from mips_rules.engine.populations.score_table import rows
    from mips_rules.engine.workbench.reform import reform_year

    records = _table_records(year_2024, tmp_path, 600)
    table = tmp_path / "rows.csv"  # the file _table_records wrote
    reform = reform_year(year_2024, ["program.performance_threshold=80"])
    here: list = []
    alone = impact.compare(year_2024, reform, records, "t80", rows=here, workers=1)
    monkeypatch.setattr(impact, "PARALLEL_FROM", 10)
    monkeypatch.setattr(impact, "CHUNK", 7)
    there: list = []
    assert impact.compare(year_2024, reform, rows(year_2024, table), "t80", rows=there, workers=2) == alone
    assert there == here
    straight = []  # rows whose form both years had replayed go from their cells to their outcomes,
    rows_replayed = impact._rows_replayed  # a form at a time
    monkeypatch.setattr(impact, "_rows_replayed", lambda *a: straight.append(rows_replayed(*a)) or straight[-1])
    in_process: list = []
    assert impact.compare(year_2024, reform, rows(year_2024, table), "t80", rows=in_process, workers=1) == alone
    assert in_process == here
    assert sum(len(p) for p in straight) > 30
    b, a = impact.score_outcome(year_2024, records[3][1], 4), impact.score_outcome(reform, records[3][1], 4)
    groups = [p for p, _ in impact.StudyPlan.of(year_2024).groups]
    assert impact._unpack(impact._pack(b, groups), groups) == b and impact._unpack(impact._pack(a, groups), groups) == a


def test_odd_cells_read_the_same_straight_or_as_records(year_2024, tmp_path, monkeypatch):
    """Cells a row goes straight from (`Row.cells_form`) read as `_read` reads them: spaces, thousands
    commas, exponents; a cell that is no number (NaN, text) sends the row the usual way, to its error."""
    import csv

    from mips_rules.engine.populations import impact
    from mips_rules.engine.populations.score_table import rows
    from mips_rules.engine.workbench.reform import reform_year

    header = ["npi", "quality category score", "cost category score", "improvement activities (ia) category score",
              "promoting interoperability (pi) category score", "allowed charges", "small practice status"]
    odd = [" 75 ", "7.5E+1", "75.00", "NaN", "abc", "", "1e2", "-0", "0.0"]
    charges = ["1,000,000", " 95000 ", "9.5E+4", "inf", "", "95000.001"]
    path = tmp_path / "odd.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for i in range(1200):  # each odd cell many times: the later rows go straight from their cells
            w.writerow([i, odd[i % len(odd)], odd[(i // 3) % len(odd)], "40", "75", charges[i % len(charges)],
                        ["true", "", " FALSE ", "maybe"][i % 4]])
    reform = reform_year(year_2024, ["program.performance_threshold=80"])
    sides = (year_2024, impact.StudyPlan.of(year_2024), reform, impact.StudyPlan.of(reform), True)
    table = list(rows(year_2024, path))
    straight, quick = 0, []
    for at in range(0, len(table), 100):
        chunk = table[at: at + 100]
        straight += len(impact._rows_replayed(sides, chunk))
        quick += [(b, a) for _, b, a in impact._pairs_of(sides, chunk)]
    assert straight > 50
    # Empty cells as Parquet gives them (none) and short rows read as blank cells, straight too.
    from mips_rules.engine.populations.score_table import Row

    holes = [Row(n, [None if c == "" else c for c in row.cells][: 5 + n % 3], row.reader) for n, row in table]
    assert sum(row.cells_form() is not None for row in holes) > 400
    before_holes = straight
    for at in range(0, len(holes), 100):
        chunk = [(row.n, row) for row in holes[at: at + 100]]
        straight += len(impact._rows_replayed(sides, chunk))
        quick += [(b, a) for _, b, a in impact._pairs_of(sides, chunk)]
    assert straight - before_holes > 300
    monkeypatch.setattr(impact, "plain_values", lambda *a: None)  # the input models, no replay
    monkeypatch.setattr(impact, "_both_replayed", lambda *a: None)
    usual = [impact._pair(sides, n, row.read()) for n, row in rows(year_2024, path)]
    assert quick == usual + [impact._pair(sides, row.n, row.read()) for row in holes]
