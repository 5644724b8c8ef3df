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
            real = tape.replay
            tape.replay = lambda X, real=real: None if real(X) is None else tuple(
                "wrong" if isinstance(v, str) else v for v in real(X))
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
