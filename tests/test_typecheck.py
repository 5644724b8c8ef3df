"""The typing pass (dsl/types.py): rules are checked against the year's data when the year loads.

A field the data lacks, a field null in some rows read without a guard, text where a number
belongs and a misspelt record field are each an error with file:line:column (and a "did you
mean") from `check`, never first at score time.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from mips_rules.dsl.checker import check
from mips_rules.dsl.errors import RuleCheckError
from mips_rules.dsl.parser import parse_rules
from mips_rules.dsl.values import Table
from mips_rules.engine.years.loader import load_year

RULES = Path(__file__).resolve().parent.parent / "rules"


# ---------------------------------------------------------------------------
# Broken copies of a year
# ---------------------------------------------------------------------------

def check_errors(folder: Path) -> list:
    with pytest.raises(RuleCheckError) as err:
        load_year(None, folder)
    return err.value.diagnostics


def only(diags, *fragments):
    found = [d for d in diags if all(f in d.message for f in fragments)]
    assert found, f"no diagnostic with {fragments!r} in {[d.message for d in diags]}"
    return found


def line_at(d) -> str:
    return Path(d.location.file).read_text(encoding="utf-8").splitlines()[d.location.line - 1]


def edit_activity_rows(folder: Path, change) -> None:
    """Apply `change(row) -> row` to each improvement activity of the copy's inventory (JSON or YAML)."""
    as_json = folder / "measures.json"
    if as_json.exists():
        doc = json.loads(as_json.read_text(encoding="utf-8"))
        doc["ia"]["rows"] = [change(dict(r)) for r in doc["ia"]["rows"]]
        as_json.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        return
    as_yaml = folder / "measures.yaml"
    lines = as_yaml.read_text(encoding="utf-8").splitlines(keepends=True)
    out = []
    for line in lines:
        m = re.match(r'^(\s*- )(\{activity_id: .*\})(\s*)$', line)
        if m:
            row = _flow_row(m.group(2))
            line = m.group(1) + _write_flow(change(row)) + m.group(3)
        out.append(line)
    as_yaml.write_text("".join(out), encoding="utf-8")


def _flow_row(text: str) -> dict:
    """A one-line YAML flow mapping of scalars (as the shipped inventory writes them)."""
    row = {}
    for m in re.finditer(r'(\w+): ("(?:[^"\\]|\\.)*"|null|true|false|[^,}]+)', text[1:-1]):
        row[m.group(1)] = m.group(2)
    return {k: (None if v == "null" else v) for k, v in row.items()}


def _write_flow(row: dict) -> str:
    return "{" + ", ".join(f"{k}: {'null' if v is None else v}" for k, v in row.items()) + "}"


def test_shipped_years_check_clean():
    for year in (2023, 2024):
        loaded = load_year(year, RULES)
        result = check(list(loaded.definitions.values()), loaded.namespaces(), _year_shapes(loaded))
        assert [d.render() for d in result.diagnostics] == []


def _year_shapes(loaded):
    """The inputs as the year declares them (its context.yaml), as the loader checks them."""
    from mips_rules.engine.years.loader import _shapes as declared

    return declared(loaded.context_schema)


def _shapes():
    from mips_rules.engine.inputs.shapes import input_shapes

    return input_shapes()


def test_a_field_no_row_has_is_an_error(year_copy):
    # 2025's activities carry no weight: 2024's formula would silently score 0.
    folder = year_copy()
    edit_activity_rows(folder, lambda r: {k: v for k, v in r.items() if k != "weight"})
    found = only(check_errors(folder), "rows of `measures.ia` have no field `weight`")
    assert {Path(d.location.file).name for d in found} == {"ia.rules"}
    for d in found:
        assert d.location.line > 1 and d.location.column > 1
        assert line_at(d)[d.location.column - 1:].startswith("weight")
        assert "ia.rules:" in d.render() and "^^^^^^" in d.render()


def test_a_field_null_in_some_rows_read_unguarded(year_copy):
    folder = year_copy(edits={"ia.rules": [("activity == none or activity.weight == none then 0",
                                            "activity == none then 0")]})
    nulled = []

    def one_null(row):
        if not nulled and row.get("weight") is not None:
            nulled.append(row["activity_id"])
            row["weight"] = None
        return row

    edit_activity_rows(folder, one_null)
    (d,) = only(check_errors(folder), "`activity.weight` may be none", "rows of `measures.ia`")
    assert "`weight` is null in" in d.message and "as a key" in d.message
    assert Path(d.location.file).name == "ia.rules"
    assert "ia.weight_points[activity.weight]" in line_at(d)
    assert line_at(d)[d.location.column - 1:].startswith("weight]")
    assert "== none" in d.hint


def test_the_shipped_guard_on_a_null_weight_passes(year_copy):
    # IA_PCMH has no weight; `activity == none or activity.weight == none then 0 else …` guards it.
    folder = year_copy()
    edit_activity_rows(folder, lambda r: {**r, "weight": None} if str(r["activity_id"]).strip('"') == "IA_PCMH"
                       else r)
    assert load_year(None, folder).performance_year == 2024


def test_text_where_a_number_belongs(year_copy):
    folder = year_copy(edits={"program.yaml": [("performance_threshold:\n  value: 75\n",
                                                 'performance_threshold:\n  value: "75"\n')]})
    found = only(check_errors(folder), "needs a number", "`program.performance_threshold` is text")
    d = found[0]
    assert Path(d.location.file).name == "payment.rules"
    assert line_at(d)[d.location.column - 1:].startswith("performance_threshold")
    assert '("75")' in d.hint


def test_a_misspelt_field_of_a_data_row(year_copy):
    folder = year_copy(edits={"ia.rules": [("else ia.weight_points[activity.weight].points",
                                            "else ia.weight_points[activity.wieght].points")]})
    (d,) = only(check_errors(folder), "rows of `measures.ia` have no field `wieght`")
    assert d.hint == "did you mean `weight`?"
    assert Path(d.location.file).name == "ia.rules"
    assert line_at(d)[d.location.column - 1:].startswith("wieght")


def test_a_misspelt_field_of_a_table_row_looked_up(year_copy):
    folder = year_copy(edits={"ia.rules": [("ia.weight_points[activity.weight].points",
                                            "ia.weight_points[activity.weight].ponts")]})
    (d,) = only(check_errors(folder), "rows of `ia.weight_points` have no field `ponts`")
    assert d.hint == "did you mean `points`?"


def test_a_misspelt_field_of_a_record_the_rules_build(year_copy):
    folder = year_copy(edits={"quality.rules": [("else sum(counted_measures, r -> r.points)",
                                                 "else sum(counted_measures, r -> r.pionts)")]})
    (d,) = only(check_errors(folder), "no field `pionts`")
    assert d.hint == "did you mean `points`?"
    assert Path(d.location.file).name == "quality.rules"


# ---------------------------------------------------------------------------
# The pass itself, on small rules (the rule language knows nothing of MIPS)
# ---------------------------------------------------------------------------

def _table(name, key, rows):
    return Table(name, key, {r[key]: r for r in rows})


D = Decimal
DATA = {
    "inv": {
        "items": _table("inv.items", "id", [{"id": "A", "weight": "high", "n": D(1)},
                                           {"id": "B", "weight": "medium", "n": D(2)},
                                           {"id": "C", "weight": None, "n": D(3)}]),
        "points": _table("inv.points", "weight", [{"weight": "high", "points": D(20)},
                                                  {"weight": "medium", "points": D(10)}]),
        "cap": D(40),
        "label": "forty",
        "missing": None,
        "limits": {"low": D(1), "high": D(9)},
    },
}
INPUTS = {"submission": None, "context": {"entity": {"small": None, "kind": None}, "scores": None}}


def problems(text: str) -> list[str]:
    defs = parse_rules(text, "t.rules")
    return [d.message for d in check(defs, DATA, INPUTS, require_source=False).diagnostics]


@pytest.mark.parametrize("text", [
    # guards: `== none` / `!= none` with if, and, or, not; coalesce; has; filter and find
    'f(id) = let a = get(inv.items, id); if a == none or a.weight == none then 0 else inv.points[a.weight].points',
    'f(id) = let a = get(inv.items, id); if a != none and a.weight != none then inv.points[a.weight].points else 0',
    'f(id) = let a = inv.items[id]; if not (a.weight == none) then inv.points[a.weight].points else 0',
    'f(id) = let a = inv.items[id]; if a.weight == "high" then inv.points[a.weight].points else 0',
    'f(id) = inv.points[coalesce(inv.items[id].weight, "medium")].points',
    'x = sum(filter(rows(inv.items), r -> r.weight != none), r -> inv.points[r.weight].points)',
    'x = let r = find(rows(inv.items), r -> r.weight != none); if r == none then 0 else inv.points[r.weight].points',
    'x = map(rows(inv.items), r -> {id: r.id, weight: r.weight})',   # read, not used: fine
    'x = count(rows(inv.items), r -> r.weight == none)',
    'w(id) = inv.items[id].weight\nf(id) = if w(id) == none then 0 else inv.points[w(id)].points',
    'f(id) = let a = inv.items[id]; if get(a, "weight") != none then inv.points[a.weight].points else 0',
    'f(id) = let a = inv.items[id]; if a.weight == none then 0 else (let b = a; inv.points[a.weight].points)',
    # unknowns are never reported
    'f(a) = a.whatever + a.other * 2',
    'x = context.scores.anything + submission.x.y',
    'x = get(context.entity, "small") + 1',
    # literals are checked when scoring (tests/test_untrusted.py pins that)
    'x = "a" * 3',
    # numbers and texts where they belong
    'x = inv.cap * 2 + inv.limits.high - sum(rows(inv.items), r -> r.n)',
    'x = length(inv.label) + count(rows(inv.items), r -> r.id < "B")',
    'x = let m = inv.limits; m.low < m.high',
])
def test_no_false_errors(text):
    assert problems(text) == []


@pytest.mark.parametrize("text, fragment", [
    ('f(id) = inv.points[inv.items[id].weight].points', "`inv.items[…].weight` may be none"),
    ('f(id) = let a = inv.items[id]; inv.points[a.weight].points', "`a.weight` may be none"),
    ('f(id) = let a = inv.items[id]; if a.weight == none and a.n > 1 then 0 else inv.points[a.weight].points',
     "`a.weight` may be none"),
    ('x = map(rows(inv.items), r -> inv.points[r.weight].points)', "`r.weight` may be none"),
    ('x = inv.missing + 1', "`inv.missing` may be none"),
    ('x = if inv.missing then 1 else 2', "as the condition of `if`"),
    ('x = sort(rows(inv.items), r -> r.weight)', "as a sort key"),
    ('x = map(rows(inv.items), r -> concat_text("weight: ", r.weight))', "in `concat_text`"),
    ('w(id) = inv.items[id].weight\nf(id) = if w(id) == none then 0 else inv.points[w(\"A\")].points',
     "`w(…)` may be none"),
    ('f(id) = let a = inv.items[id]; if a.weight == none then 0 else (let a = inv.items["B"]; inv.points[a.weight])',
     "`a.weight` may be none"),
])
def test_nulls_of_the_data_used_unguarded(text, fragment):
    found = problems(text)
    assert any(fragment in m for m in found), found
    assert all("null in 1 of 3 rows of `inv.items`: C" in m or "`inv.missing` is null" in m for m in found), found


@pytest.mark.parametrize("text, fragment", [
    ("x = inv.label * 2", "`*` needs a number, but `inv.label` is text"),
    ("x = inv.label < inv.cap", "`<` compares text with a number"),
    ("x = sum(rows(inv.items), r -> r.id)", "`sum` needs a number, but `r.id` is text"),
    ("x = length(inv.cap)", "`length` needs text, but `inv.cap` is a number"),
    ("x = let t = inv.label; -t", "`-` needs a number, but `t` is text"),
    ('x = inv.cap == "40"', "`==` compares a number with text: it is never true"),
    ("x = if inv.cap then 1 else 0", "`if` needs true or false, but `inv.cap` is a number"),
    ("x = inv.items.id", "`inv.items` is a table"),
    ("x = map(inv.items, r -> r.id)", "`map` needs a list, but `inv.items` is a table"),
    ("x = inv.cap.value", "reading `.value` needs a record, but `inv.cap` is a number"),
])
def test_wrong_kinds(text, fragment):
    found = problems(text)
    assert any(fragment in m for m in found), found


@pytest.mark.parametrize("text, fragment, hint", [
    ("x = map(rows(inv.items), r -> r.wieght)", "rows of `inv.items` have no field `wieght`", "`weight`"),
    ("x = inv.points[\"high\"].pionts", "rows of `inv.points` have no field `pionts`", "`points`"),
    ("x = inv.limits.hihg", "`inv.limits` has no entry `hihg`", "`high`"),  # the chain check's, reported once
    ("x = let m = inv.limits; m.hihg", "`inv.limits` has no field `hihg`", "`high`"),
    ("r = {points: 1, reason: \"x\"}\nx = r.pionts", "has no field `pionts`", "`points`"),
    ("x = first(map(rows(inv.items), r -> {id: r.id, n: r.n})).nn", "has no field `nn`", "`n`"),
    ("x = context.entity.smal", "`context.entity` has no field `smal`", "`small`"),
])
def test_fields_that_do_not_exist(text, fragment, hint):
    defs = parse_rules(text, "t.rules")
    diags = check(defs, DATA, INPUTS, require_source=False).diagnostics
    found = [d for d in diags if fragment in d.message]
    assert found, [d.message for d in diags]
    assert len([d for d in diags if "hihg" in d.message or "pionts" in d.message or "smal" in d.message
                or "wieght" in d.message or "`nn`" in d.message]) == 1
    if hint:
        assert hint in (found[0].hint or "")
    assert found[0].location.file == "t.rules" and found[0].location.line >= 1


def test_records_of_different_shapes_from_if():
    # a field only some branches build is not reported (the rules' own records), a field none builds is
    assert problems('f(c) = let r = if c then {a: 1, b: 2} else {a: 3}; r.b') == []
    assert any("no field `z`" in m for m in problems('f(c) = let r = if c then {a: 1, b: 2} else {a: 3}; r.z'))


def test_fields_missing_from_some_rows():
    data = {"t": {"rows": _table("t.rows", "id", [{"id": "A", "x": D(1)}, {"id": "B"}])}}
    found = [d.message for d in check(parse_rules('y = sum(rows(t.rows), r -> r.x)', "t.rules"), data, INPUTS,
                                      require_source=False).diagnostics]
    assert any("`x` is missing from 1 of 2 rows of `t.rows`: B" in m for m in found), found
    ok = 'y = sum(rows(t.rows), r -> if has(r, "x") then r.x else 0)'
    assert check(parse_rules(ok, "t.rules"), data, INPUTS, require_source=False).diagnostics == []


def test_each_table_is_typed_once(monkeypatch):
    from mips_rules.dsl import types

    calls = []
    real = types.table_type
    monkeypatch.setattr(types, "table_type", lambda t: calls.append(t.name) or real(t))
    problems("x = map(rows(inv.items), r -> r.n)\ny = map(rows(inv.items), r -> r.id)\nz = inv.items[\"A\"].n")
    assert calls == ["inv.items"]
