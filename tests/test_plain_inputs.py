"""Population records scored from their plain JSON (engine/scoring/plain_inputs.py) give the reports
and errors of the usual way (the input models), record for record, in every shipped year."""

from __future__ import annotations

import copy
import json
import random
from decimal import Decimal

import pytest

from mips_rules.engine.populations import batch
from mips_rules.engine.populations.synth import Synthesizer
from mips_rules.engine.scoring import plain_inputs as plain_module

from conftest import RULES


def _records(year, n, seed):
    return [json.loads(json.dumps(r), parse_float=Decimal) for r in Synthesizer(year, seed).records(n)]


def _odd(records, seed):
    """The same records, some of them made wrong or unusual in the ways population files are."""
    r = random.Random(seed)
    out = []
    for rec in records:
        rec = copy.deepcopy(rec)
        pick = r.randrange(12)
        sub, ctx = rec.get("submission"), rec.get("context")
        if pick == 0 and ctx is not None:
            ctx["no_such_field"] = True
        elif pick == 1 and sub is not None:
            sub["performanceYear"] = sub.get("performanceYear", 2024) - 1
        elif pick == 2 and sub is not None and sub.get("measurementSets"):
            ms = sub["measurementSets"][0]
            if ms.get("measurements"):
                ms["measurements"][0]["measureId"] = "NOT_A_MEASURE"
        elif pick == 3 and sub is not None:
            sub.pop("performanceYear", None)
        elif pick == 4 and ctx is not None:
            ctx["performance_year"] = 1999
        elif pick == 5:
            rec.pop("submission", None)
        elif pick == 6 and sub is not None:
            sub["entityType"] = "nonsense"
        elif pick == 7 and ctx is not None:
            ctx.setdefault("entity", {})["clinicians"] = "many"
        elif pick == 8:
            rec["context"] = None
        out.append(rec)
    return out


def _both_ways(year, records, monkeypatch):
    taken = []
    short = plain_module.plain_inputs

    def counting(*args):
        got = short(*args)
        taken.append(got is not None)
        return got

    monkeypatch.setattr(plain_module, "plain_inputs", counting)
    fast = [batch.score_record(year, rec, n) for n, rec in enumerate(records, 1)]
    monkeypatch.setattr(plain_module, "plain_inputs", lambda *a: None)
    usual = [batch.score_record(year, rec, n) for n, rec in enumerate(records, 1)]
    return fast, usual, taken


@pytest.mark.parametrize("performance_year", [2023, 2024, 2025, 2026])
def test_synthetic_records_score_the_same_either_way(performance_year, monkeypatch):
    from mips_rules.engine.years.loader import load_year

    year = load_year(performance_year, RULES)
    records = _records(year, 150, 7)
    fast, usual, taken = _both_ways(year, records, monkeypatch)
    assert json.dumps(fast, default=str) == json.dumps(usual, default=str)
    assert sum(taken) >= 0.9 * len(records)  # plainly valid records do take the short way


def test_odd_records_score_and_fail_the_same_either_way(year_2024, monkeypatch):
    records = _odd(_records(year_2024, 240, 11), 3)
    fast, usual, taken = _both_ways(year_2024, records, monkeypatch)
    assert json.dumps(fast, default=str) == json.dumps(usual, default=str)
    assert any("error" in r for r in usual) and any("error" not in r for r in usual)
    assert 0 < sum(taken) < len(records)


def test_a_record_the_plain_checks_trip_on_goes_the_usual_way(year_2024, monkeypatch):
    """A submission nested too deeply for the plain checks is the usual way's to report (an error
    line, never a traceback), in batch and in impact alike."""
    from mips_rules.engine.populations import impact

    record = _records(year_2024, 1, 7)[0]
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]
    record["submission"]["extra"] = deep
    assert plain_module.plain_inputs(year_2024, record) is None
    line = batch.score_record(year_2024, record, 1)
    assert "error" in line
    outcome = impact.score_outcome(year_2024, record, 1)
    assert outcome.error is not None
