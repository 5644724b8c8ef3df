"""populations/replay.py: a study's figures replayed from recorded evaluations are, row for row and
digit for digit, the figures the usual evaluation gives — in every year, near every threshold."""

from __future__ import annotations

import csv
import random
from decimal import Decimal as D

import pytest


YEARS = [2023, 2024, 2025, 2026]
HEADER = ["npi", "quality category score", "cost category score", "improvement activities (ia) category score",
          "promoting interoperability (pi) category score", "small practice status", "rural status",
          "allowed charges", "medicare patients", "services", "reporting option", "complex patient bonus"]


def _score(r: random.Random) -> str:
    """Category scores at and around the edges, with 0 to 4 decimals (75, 75.0 and 75.00 differ in print)."""
    return r.choice(["", "0", "0.0", "100", "100.00", "75", "75.0", "74.99", "75.01", "89", "50",
                     f"{r.uniform(0, 100):.{r.randint(0, 4)}f}", f"{r.uniform(60, 100):.2f}"])


def _rows(tmp_path, n: int, seed: int):
    r = random.Random(seed)
    path = tmp_path / f"rows{seed}.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(n):
            w.writerow([i, _score(r), _score(r), r.choice(["", "0", "10", "15", "20", "30", "40", "40.0"]),
                        r.choice(["", "0", "50", "60", "75", "88.5", "100"]),
                        r.choice(["", "true", "false"]), r.choice(["", "true", "false"]),
                        r.choice(["", "90000", "90000.01", "89999.99", "0", f"{r.uniform(1000, 900000):.2f}"]),
                        r.choice(["", "200", "199", "201", str(r.randint(0, 3000))]),
                        r.choice(["", "200", "199", "201", str(r.randint(0, 5000))]),
                        r.choice(["Traditional MIPS"] * 5 + ["APP", "MIPS Value Pathways", ""]),
                        r.choice(["", "0", "1.5", "3.25", "5", "10", "10.0"])])
    return path


@pytest.mark.parametrize("performance_year", YEARS)
def test_replayed_figures_are_the_usual_figures(performance_year, tmp_path, monkeypatch):
    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.populations import replay
    from mips_rules.engine.populations.impact import StudyPlan
    from mips_rules.engine.populations.score_table import records
    from mips_rules.engine.years.loader import load_year

    monkeypatch.setattr(replay, "CHECKED_REPLAYS", 0)  # nothing replayed is checked on the way
    year = load_year(performance_year)
    plan = StudyPlan.of(year)
    replayer = plan.replayer(year)
    compared = 0
    rows = list(records(year, _rows(tmp_path, 1500, performance_year)))
    for n, record in rows + rows:  # twice: the second time, each form has its tapes
        if "__error__" in record:
            continue
        context = record["context"]  # as read: the tape covers the plain checks too
        try:
            usual = replayer.evaluate(context)
        except replay.Unplain:  # not plainly valid: the usual way says what is wrong
            with pytest.raises(replay.Unplain):
                replayer.figures(context)
            continue
        except RulesError as exc:
            with pytest.raises(RulesError) as raised:
                replayer.figures(context)
            assert [d.message for d in raised.value.diagnostics] == [d.message for d in exc.diagnostics]
            continue
        assert replay.same(replayer.figures(context), usual), f"row {n}"
        compared += 1
    assert compared > 1200
    assert replayer.stats["differed"] == 0 and replayer.on
    assert replayer.stats["replayed"] > compared / 2  # most rows were replayed, not evaluated


def test_a_tape_that_differs_turns_replaying_off(year_2024, tmp_path):
    """The first replays of a tape are checked: a wrong tape is caught and the usual values given."""
    from mips_rules.dsl.trace import TRAPPED
    from mips_rules.engine.populations.impact import StudyPlan
    from mips_rules.engine.populations.score_table import records

    plan = StudyPlan.of(year_2024)
    replayer = plan.replayer(year_2024)
    rows = [rec["context"] for _, rec in records(year_2024, _rows(tmp_path, 200, 5)) if "__error__" not in rec]
    for context in rows:
        try:
            replayer.figures(context)
        except Exception:  # noqa: BLE001 - rejected rows
            pass
    assert replayer.stats["recorded"] > 0
    for form in replayer.forms.values():
        for tape in form.tapes:
            tape.hits = 0
            real = tape.replay_many
            tape.replay_many = lambda XS, raising=False, real=real: [
                got if got is None or got is TRAPPED else tuple("wrong" if isinstance(v, str) else v for v in got)
                for got in real(XS, raising)]
    for context in rows:
        try:
            got = replayer.figures(context)
        except Exception:  # noqa: BLE001
            continue
        assert "wrong" not in got
    assert replayer.stats["differed"] > 0 and not replayer.on


def test_bounded_and_never_stale(year_2024, tmp_path, monkeypatch):
    """Past its bounds the replayer evaluates the usual way; a record changed between two calls is
    read afresh (nothing is kept by a record's identity)."""
    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.populations import replay
    from mips_rules.engine.populations.impact import StudyPlan
    from mips_rules.engine.populations.score_table import records

    monkeypatch.setattr(replay, "MAX_TAPES", 3)
    monkeypatch.setattr(replay, "CHECKED_REPLAYS", 0)
    replayer = StudyPlan.of(year_2024).replayer(year_2024)
    contexts = [rec["context"] for _, rec in records(year_2024, _rows(tmp_path, 300, 9)) if "__error__" not in rec]
    for context in contexts:
        try:
            usual = replayer.evaluate(context)
        except (RulesError, replay.Unplain):
            continue
        assert replay.same(replayer.figures(context), usual)
    assert replayer.tapes == 3 and replayer.stats["usual"] > 100
    context = {"category_scores": {"quality": D("80"), "cost": D("50"), "ia": D("40"), "pi": D("90")}}
    first = replayer.figures(context)
    context["category_scores"]["quality"] = D("20")
    assert replay.same(replayer.figures(context), replayer.evaluate(context))
    assert not replay.same(replayer.figures(context), first)


@pytest.mark.parametrize("change", [["program.performance_threshold=80"],
                                    ["program.complex_patient_bonus_max=7", "program.final_score_decimals=1",
                                     "payment.max_negative_percent=5"]])
def test_both_years_on_one_tape_give_each_years_figures(change, year_2024, tmp_path, monkeypatch):
    """A study's two years recorded on one tape (`impact._pair_replayer`: what they share is written
    once) give, row for row and digit for digit, what each year's own evaluation gives — one row at a
    time, and a form at a time over a chunk of rows (`impact._rows_replayed`)."""
    import itertools

    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.populations import impact, replay
    from mips_rules.engine.populations.score_table import records, rows
    from mips_rules.engine.scoring.plain_inputs import plain_inputs
    from mips_rules.engine.workbench.reform import reform_year

    monkeypatch.setattr(replay, "CHECKED_REPLAYS", 0)  # nothing replayed is checked on the way
    reform = reform_year(year_2024, change)
    sides = (year_2024, impact.StudyPlan.of(year_2024), reform, impact.StudyPlan.of(reform), True)
    both = impact._pair_replayer(sides)
    path = _rows(tmp_path, 1200, 11)

    def usual(context):
        out = []
        for year, plan in ((year_2024, sides[1]), (reform, sides[3])):
            inputs = plain_inputs(year, {"context": context})
            if inputs is None:
                return None
            out.append(impact._values_of(year, plan, inputs))
        return tuple(out)

    compared = 0
    table = [rec for _, rec in records(year_2024, path) if "__error__" not in rec]
    for record in table + table:  # the second time, the forms have their tapes
        try:
            expected = usual(record["context"])
        except RulesError:
            continue
        if expected is None:
            continue
        assert replay.same(both.figures(record["context"]), expected)
        compared += 1
    assert compared > 1200 and both.stats["differed"] == 0 and both.on
    assert both.stats["replayed"] > compared / 2
    assert both.tapes < 2 * len(both.forms) + 400  # one tape for both years, not one each

    chunked = 0
    for chunk in iter(lambda it=iter(rows(year_2024, path)): list(itertools.islice(it, 200)), []):
        for i, (b, a) in impact._rows_replayed(sides, chunk).items():
            record = chunk[i][1].read()
            record_id = chunk[i][1].record_id()
            b, a = impact._outcome(sides[1], record_id, b), impact._outcome(sides[3], record_id, a)
            assert (b, a) == (impact.score_outcome(year_2024, record, 0, sides[1]),
                              impact.score_outcome(reform, record, 0, sides[3]))
            chunked += 1
    assert chunked > 600  # every row both years score (the others are refused)
