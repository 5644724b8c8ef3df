"""`ContextSchema.fast_record`: the plain-Python fast path population tools use must give exactly
the record pydantic's path gives (`to_record(validate(…))`), or None — never a different record."""

from __future__ import annotations

import copy
import csv
import json
import random
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mips_rules.dsl.errors import DataError, InputError
from mips_rules.engine.inputs.declared_context import ContextSchema, load_schema
from mips_rules.engine.inputs.safe_yaml import load_yaml
from mips_rules.engine.inputs.shapes import shape_of_model
from mips_rules.engine.inputs.submission import parse_submission
from mips_rules.engine.populations import score_table
from mips_rules.engine.populations.synth import Synthesizer
from mips_rules.engine.years.loader import load_year
from mips_rules.engine.years.population_table import declaration as table_declaration

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
EXAMPLES = ROOT / "examples"
YEARS = (2023, 2024, 2025, 2026)


_YEARS: dict[int, Any] = {}


def _year(y: int) -> Any:
    if y not in _YEARS:
        _YEARS[y] = load_year(y, RULES)
    return _YEARS[y]


@pytest.fixture(params=YEARS)
def year(request: Any) -> Any:
    return _year(request.param)


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (Decimal('1') is not 1, nor Decimal('1.0'), nor True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def slow_record(schema: ContextSchema, data: Any, submission: Any = None) -> Any:
    """The pydantic path's record, or what it raises (an InputError; another exception for a declaration
    pydantic cannot honour, such as an optional record whose default is {})."""
    try:
        return schema.to_record(schema.validate(data, submission=submission))
    except Exception as exc:  # noqa: BLE001 - compared, not handled
        return exc


def assert_agrees(schema: ContextSchema, data: Any, submission: Any = None, *, valid: bool | None = None) -> Any:
    """fast_record is None, or the pydantic path succeeds with the same record. `valid=True` also
    demands the fast path answer (the cases population tools score), `False` that both refuse."""
    before = copy.deepcopy(data)
    fast = schema.fast_record(data, submission)
    assert same(data, before), "fast_record changed its input"
    slow = slow_record(schema, data, submission)
    if fast is not None:
        assert not isinstance(slow, Exception), f"fast path accepted what validate refuses: {slow!r}\n{data!r}"
        assert same(fast, slow), f"records differ for {data!r}:\nfast {fast!r}\nslow {slow!r}"
    if valid is True:
        assert not isinstance(slow, Exception), slow
        assert fast is not None, f"the fast path gave up on a valid context: {data!r}"
    if valid is False:
        assert fast is None and isinstance(slow, InputError)
    return slow


# -- the inputs population tools give --------------------------------------------------------------


def _example_contexts() -> list[tuple[str, Any]]:
    """The example contexts as the CLI reads them (read_context: safe_yaml, numbers as Decimal)."""
    return [(p.name, load_yaml(p).data) for p in sorted(EXAMPLES.glob("*context*.yaml"))]


def _example_submissions() -> dict[str, Any]:
    out = {}
    for path in sorted(EXAMPLES.glob("*.json")):
        try:
            out[path.name] = parse_submission(json.loads(path.read_text(), parse_float=Decimal))
        except InputError:
            continue
    return out


def test_example_contexts(year: Any) -> None:
    schema = year.context_schema
    contexts = _example_contexts()
    submissions = _example_submissions()
    assert contexts and submissions
    for name, data in contexts:
        assert_agrees(schema, data, valid=True)
        for sub_name, submission in submissions.items():
            if sub_name[:4] == name[:4]:
                assert_agrees(schema, data, submission)


def _synth_records(year: Any, seed: int, n: int) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(r), parse_float=Decimal) for r in Synthesizer(year, seed).records(n)]


def test_synthetic_contexts(year: Any) -> None:
    """The bench's records (JSON numbers as Decimal), each with its parsed submission."""
    accepted = 0
    for record in _synth_records(year, 11, 200):
        submission = parse_submission(record["submission"])
        slow = assert_agrees(year.context_schema, record["context"], submission)
        if not isinstance(slow, InputError):
            assert year.context_schema.fast_record(record["context"], submission) is not None
            accepted += 1
        assert_agrees(year.context_schema, record["context"])
    assert accepted >= 190


def test_synthetic_contexts_with_floats(year: Any) -> None:
    """The synthesizer's own records, before JSON: floats where JSON would give Decimals."""
    for record in Synthesizer(year, 5).records(100):
        assert_agrees(year.context_schema, record["context"], parse_submission(record["submission"]))


_CELLS = {"category_scores": ["0", "10", "55.5", "87.25", "100", "100.00"], "complex_patient_bonus": ["0", "2.5", "10"],
          "allowed_charges": ["0", "90,000", "1,200,000.50"], "part_b_patients": ["0", "150", "2,000"],
          "covered_services": ["0", "400", "2,000"]}


def _table_rows(layout: dict[str, Any], rng: random.Random, n: int) -> list[dict[str, str]]:
    """Cells as CMS's table writes them: mostly valid, a few out of range, fractional counts or empty."""
    rows = []
    for i in range(n):
        row = {"npi": f"{1000000000 + i}"}
        for column, spec in layout["columns"].items():
            target = spec["to"].split(".")
            if not spec.get("required") and target[0] != "eligibility" and rng.random() < 0.2:
                row[column] = ""
            elif "map" in spec:
                row[column] = rng.choice(sorted(spec["map"]))
            elif spec["type"] == "boolean":
                row[column] = rng.choice(["True", "False", "Y", "n", "1", "0"])
            elif spec["type"] == "number" and rng.random() < 0.01:
                row[column] = rng.choice(["101", "-4", "3.25", "1e3", ""])  # out of range, not whole, missing
            elif spec["type"] == "number":
                row[column] = rng.choice(_CELLS.get(target[0], _CELLS.get(target[-1], ["1"])))
            else:
                row[column] = rng.choice(["x", "physician"])
        rows.append(row)
    return rows


def test_table_contexts(year: Any, tmp_path: Path) -> None:
    """Contexts as score_table builds them from the rows of a QPP Experience table."""
    layout = table_declaration(year)
    path = tmp_path / "puf.csv"
    rows = _table_rows(layout, random.Random(year.performance_year), 150)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["npi", *layout["columns"]])
        writer.writeheader()
        writer.writerows(rows)
    records = list(score_table.records(year, path))
    assert len(records) == len(rows)
    valid = 0
    for _, record in records:
        assert "__error__" not in record
        slow = assert_agrees(year.context_schema, record["context"])
        valid += not isinstance(slow, InputError)
        if not isinstance(slow, InputError):
            assert year.context_schema.fast_record(record["context"]) is not None
    assert valid > 100


# -- errors ----------------------------------------------------------------------------------------


def test_invalid_contexts_leave_the_error_to_validate(year: Any) -> None:
    schema = year.context_schema
    bad = [
        ({"entity": {"clinicians": 0}}, "entity.clinicians"),
        ({"entity": {"small_practice": "yes"}}, "entity.small_practice"),
        ({"reporting_option": "bespoke"}, "reporting_option"),
        ({"cost": {"measures": [{"measure_id": "X", "points": 1, "score": 2}]}}, "exactly one of"),
        ({"cost": {"measures": [{"measure_id": "X", "points": 1}, {"measure_id": "X", "points": 2}]}}, "twice"),
        ({"pi_rollup": [{"npi": "123", "score": 50}]}, "10 digits"),
        ({"category_scores": {"quality": 101}}, "category_scores.quality"),
        ({"complex_patient_bonus": "1"}, "complex_patient_bonus"),
        ({"entitty": {}}, "unknown field"),
        ({"performance_year": 224}, "four-digit"),
        ({"eligibility": {"allowed_charges": Decimal("NaN")}}, "finite"),
        ([1, 2], "mapping"),
    ]
    for data, message in bad:
        assert schema.fast_record(data) is None, data
        with pytest.raises(InputError) as caught:
            schema.validate(data)
        assert message in str(caught.value), (data, str(caught.value))
    contradiction = {"entity": {"type": "group"}}
    individual = SimpleNamespace(entityType="individual")
    assert schema.fast_record(contradiction, individual) is None
    with pytest.raises(InputError, match="contradicts the submission's entityType individual"):
        schema.validate(contradiction, submission=individual)


def test_the_errors_are_those_of_before(year: Any) -> None:
    """Asking the fast path first changes nothing about what validate reports."""
    data = {"entity": {"clinicians": -1, "rural": 1}, "election": "maybe", "extra": True}
    fresh = load_schema(year.context_schema.declaration, year.namespaces())
    with pytest.raises(InputError) as before:
        fresh.validate(data)
    assert year.context_schema.fast_record(data) is None
    with pytest.raises(InputError) as after:
        year.context_schema.validate(data)
    assert str(before.value) == str(after.value)


def test_records_are_fresh(year: Any) -> None:
    """Each call makes its own record: a caller that edits one does not change the next."""
    schema = year.context_schema
    first = schema.fast_record({})
    first["entity"]["rural"] = True
    first["exceptions"]["cost"] = True
    second = schema.fast_record({})
    assert second["entity"]["rural"] is False and second["exceptions"]["cost"] is False


# -- mutations -------------------------------------------------------------------------------------

ODD_VALUES = [None, True, False, 0, 1, -1, 5, 10, 100, 101, 1000, 2024, 99999, 10**30, 0.0, 1.5, 2.0, -0.5,
              float("nan"), float("inf"), Decimal("0"), Decimal("-0"), Decimal("1.0"), Decimal("1E+2"),
              Decimal("2.50"), Decimal("100.000"), Decimal("100.01"), Decimal("-1"), Decimal("NaN"),
              Decimal("Infinity"), Decimal("2024"), Decimal("2024.0"), Decimal("7.5"), "", "x", "12", "true",
              "none", "traditional", "app", "mvp", "individual", "group", "G0053", "1234567890", "123456789a",
              [], [1], ["x"], [{}], [{"measure_id": "A", "points": 1}], {}, {"x": 1}, {"quality": 50},
              {"measure_id": "B", "score": Decimal("0.5")}, (1,), ("x",), b"x"]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


def _mutate(context: Any, path: tuple, op: str, value: Any, key: str) -> Any:
    data = copy.deepcopy(context)
    if not path:
        return value if op == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "replace":
        parent[last] = value
    elif op == "delete":
        del parent[last]
    elif op == "add" and isinstance(parent[last], dict):
        parent[last][key] = value
    elif op == "add" and isinstance(parent[last], list):
        parent[last].append(value)
    return data


def _mutants(schema: ContextSchema, bases: list[Any], draw: Any) -> None:
    base = draw(st.sampled_from(bases))
    context = base
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(context)))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        value = draw(st.sampled_from(ODD_VALUES))
        key = draw(st.sampled_from(["points", "score", "measure_id", "bogus", "quality", "type", "id"]))
        context = _mutate(context, path, op, value, key)
    submission = draw(st.sampled_from([None, SimpleNamespace(entityType="individual"),
                                       SimpleNamespace(entityType="group"), SimpleNamespace(entityType="apm"),
                                       SimpleNamespace(entityType="elsewhere"), SimpleNamespace(entityType=3),
                                       SimpleNamespace(entityType=None), {"entityType": "group"}]))
    assert_agrees(schema, context, submission)


def _bases(y: int) -> list[Any]:
    year = _year(y)
    return [r["context"] for r in _synth_records(year, 3, 40)] + [d for _, d in _example_contexts()]


_BASES: dict[int, list[Any]] = {}


@pytest.mark.parametrize("y", YEARS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_contexts(y: int, data: Any) -> None:
    if y not in _BASES:
        _BASES[y] = _bases(y)
    _mutants(_year(y).context_schema, _BASES[y], data.draw)


def test_seeded_mutations(year: Any) -> None:
    """The same, as a fixed random walk: many more cases, each mutation one change to a valid context."""
    schema = year.context_schema
    rng = random.Random(year.performance_year)
    bases = [r["context"] for r in _synth_records(year, 8, 60)] + [d for _, d in _example_contexts()]
    kept = 0
    for _ in range(3000):
        context = rng.choice(bases)
        path = rng.choice(_paths(context))
        op = rng.choice(["replace", "replace", "delete", "add"])
        mutated = _mutate(context, path, op, rng.choice(ODD_VALUES), rng.choice(["points", "bogus", "type"]))
        submission = rng.choice(SUBMISSIONS)
        assert_agrees(schema, mutated, submission)
        kept += schema.fast_record(mutated, submission) is not None
    assert kept > 300  # many mutations stay valid, and the fast path takes them


# -- every feature of a declaration, beyond what the shipped years use ------------------------------

KITCHEN = {
    "year": {"type": "year", "optional": True},
    "late": {"type": "year", "min": 2020, "max": 2030, "default": 2024},
    "mode": {"type": "choice", "of": ["a", "b", "c", 3], "default": "a", "null_means": "b"},
    "maybe": {"type": "choice", "of": ["x", "y"], "optional": True, "null_means": "x"},
    "odd_default": {"type": "choice", "of": ["x"], "default": "zz"},
    "flag": {"type": "boolean", "default": False},
    "needed": {"type": "boolean", "optional": False, "default": True},
    "rate": {"type": "number", "min": -1.5, "max": 2.5, "optional": True},
    "amount": {"type": "number", "default": 1.25},
    "whole": {"type": "number", "default": 3},
    "pct": {"type": "percent", "min": 10, "default": 50},
    "pct2": {"type": "percent", "optional": True},
    "n": {"type": "count", "max": 7, "optional": True},
    "i": {"type": "integer", "min": -3, "default": 0},
    "code": {"type": "text", "pattern": "[A-Z]{2}\\d", "message": "two letters and a digit", "optional": True},
    "name": {"type": "text", "default": "anon"},
    "kind": {"type": "choice", "of": ["solo", "team", "apm_entity"], "from_submission": "entityType",
             "map": {"individual": "solo", "group": "team", "apm": "apm_entity"}, "default": "solo"},
    "source": {"type": "text", "from_submission": "source"},
    "tags": {"type": "list", "of": {"type": "text", "null_means": "-"}, "default": []},
    "counts": {"type": "list", "of": {"type": "count", "optional": True}, "optional": True},
    "grid": {"type": "list", "of": {"type": "list", "of": {"type": "number"}}, "optional": True, "unique_by": None},
    "items": {"type": "list", "unique_by": "id", "optional": True,
              "of": {"type": "record", "exactly_one_of": ["a", "b"],
                     "fields": {"id": {"type": "integer"}, "a": {"type": "number", "optional": True},
                                "b": {"type": "text", "optional": True},
                                "inner": {"type": "list", "unique_by": "k", "default": [],
                                          "of": {"type": "record", "fields": {"k": {"type": "text"}}}}}}},
    "flags": {"type": "record", "keys_from": "program.categories", "each": {"type": "percent", "optional": True}},
    "per_category": {"type": "list", "optional": True,
                     "of": {"type": "record", "keys_from": "program.categories", "exactly_one_of": ["quality", "cost"],
                            "each": {"type": "number", "optional": True}}},
    "sub": {"type": "record", "default": {}, "exactly_one_of": ["p", "q"],
            "fields": {"p": {"type": "boolean", "default": True}, "q": {"type": "boolean", "optional": True},
                       "who": {"type": "choice", "of": ["solo", "team"], "from_submission": "entityType",
                               "map": {"individual": "solo", "group": "team"}},
                       "deeper": {"type": "record", "fields": {"z": {"type": "count", "default": 2}}}}},
    "opt": {"type": "record", "optional": True, "exactly_one_of": ["u", "v"],
            "fields": {"u": {"type": "number", "optional": True}, "v": {"type": "number", "optional": True}}},
    "opt_default": {"type": "record", "optional": True, "default": {}, "fields": {"w": {"type": "boolean"}}},
    "nulled": {"type": "record", "null_means": {}, "fields": {"w": {"type": "boolean", "default": True}}},
    "required_text": {"type": "text", "optional": False, "pattern": ".+"},
}
NAMESPACES = {"program": {"categories": ["quality", "cost", "ia", "pi"]}}
KITCHEN_VALID = [
    {"required_text": "r", "opt_default": None, "nulled": {}},
    {"required_text": "r", "year": 2024, "late": Decimal("2025.0"), "mode": None, "maybe": None, "flag": True,
     "rate": Decimal("-1.5"), "amount": 2, "pct": Decimal("10"), "pct2": 0, "n": Decimal("7E0"), "i": -3,
     "code": "AB1", "name": "z", "kind": "team", "source": "s", "tags": ["a", None], "counts": [0, None, 3.0],
     "grid": [[1, Decimal("2.0")], []], "flags": {"quality": 5, "pi": None},
     "items": [{"id": 1, "a": 1}, {"id": Decimal("2"), "b": "x", "inner": [{"k": "a"}, {"k": "b"}]}],
     "per_category": [{"quality": 1}, {"cost": Decimal("0.5"), "ia": 3}],
     "sub": {"q": None, "who": "solo", "deeper": {"z": 0}}, "opt": {"v": 1}, "nulled": None,
     "opt_default": {"w": True}},
    {"required_text": "r", "sub": {"p": True}, "opt_default": {"w": False}, "nulled": {"w": False}, "items": []},
]


@pytest.fixture(scope="module")
def kitchen() -> ContextSchema:
    return ContextSchema(KITCHEN, NAMESPACES)


SUBMISSIONS = [None, SimpleNamespace(entityType="individual"), SimpleNamespace(entityType="group", source="q"),
               SimpleNamespace(entityType="apm"), SimpleNamespace(entityType="other"),
               SimpleNamespace(entityType=7), SimpleNamespace(entityType=["x"])]


def test_every_feature(kitchen: ContextSchema) -> None:
    for data in KITCHEN_VALID:
        for submission in SUBMISSIONS:
            assert_agrees(kitchen, data, submission)
        assert_agrees(kitchen, data, valid=True)
    assert kitchen.fast_record(KITCHEN_VALID[1])["counts"] == [Decimal(0), None, Decimal(3)]
    base = KITCHEN_VALID[0]
    assert kitchen.fast_record(base, SimpleNamespace(entityType="other"))["kind"] == "other"
    assert kitchen.fast_record({**base, "kind": "team"}, SimpleNamespace(entityType="apm")) is None
    assert kitchen.fast_record({"required_text": "r", "nulled": {}}) is None  # pydantic: TypeError


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_feature_mutated(kitchen: ContextSchema, data: Any) -> None:
    context = data.draw(st.sampled_from(KITCHEN_VALID))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(context)))
        op = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        value = data.draw(st.sampled_from(ODD_VALUES + ["a", "b", "c", "solo", "team", "AB1", "-"]))
        key = data.draw(st.sampled_from(["a", "b", "id", "k", "p", "q", "u", "v", "w", "bogus", "quality"]))
        context = _mutate(context, path, op, value, key)
    assert_agrees(kitchen, context, data.draw(st.sampled_from(SUBMISSIONS)))


def test_declarations_the_fast_path_does_not_mirror_defer_to_validate() -> None:
    odd = ContextSchema({"copy": {"type": "boolean", "default": False}}, {})
    assert odd.fast_record({}) is None
    dup = ContextSchema({"xs": {"type": "list", "unique_by": "k", "of": {"type": "text"}, "default": []}}, {})
    assert dup.fast_record({"xs": ["a"]}) is None


# -- the lazy model --------------------------------------------------------------------------------


def test_the_model_is_built_on_first_use(year: Any) -> None:
    schema = load_schema(year.context_schema.declaration, year.namespaces())
    assert schema._model is None
    assert schema.fast_record({}) is not None and schema._model is None
    assert schema.shape() == shape_of_model(schema.model) and schema._model is not None
    assert schema.model is schema.model


def test_shape_without_the_model(kitchen: ContextSchema) -> None:
    assert kitchen.shape() == shape_of_model(kitchen.model)
    deep: dict[str, Any] = {"leaf": {"type": "boolean", "default": False}}
    for i in range(12):
        deep = {f"r{i}": {"type": "record", "fields": deep, **({"optional": True} if i % 2 else {}),
                          **({"null_means": {}} if i % 3 == 0 else {})}, "x": {"type": "text", "optional": True}}
    schema = ContextSchema(deep, {})
    assert schema.shape() == shape_of_model(schema.model)


@pytest.mark.parametrize("declaration, message", [
    ({"a": {"type": "boolean", "colour": "red"}}, "unknown key `colour`"),
    ({"a": {"type": "bool"}}, "unknown type 'bool'"),
    ({"a": {"type": "record", "keys_from": "program.nothing"}}, "keys_from: program.nothing"),
    ({"a": {"type": "record", "fields": {"b": {"type": "list", "of": {"type": "record", "fields": {
        "c": {"type": "choice"}}}}}}}, "a choice needs"),
    ({"a": "boolean"}, "must be a mapping with `type`"),
])
def test_declaration_errors_are_raised_when_the_schema_is_made(declaration: Any, message: str) -> None:
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        load_schema(declaration, NAMESPACES)
