"""One truth for both execution paths: the generated Python (`dsl/codegen.py`, the fast path) and
the closure interpreter (`dsl/compiler.py`, used for explanations and exact error locations) must
give the same value — or the same error — for every input.

Compared here, report value by report value, exactly: every rule test case (rules/*/tests/*.yaml),
every example in examples/, 10,000 synthetic records per year, and random well-formed expressions
(hypothesis). A failure inside generated code is never hidden: it is an error with its location.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mips_rules.dsl.checker import check
from mips_rules.dsl.compiler import Compiler
from mips_rules.dsl.errors import EvaluationError, RuleCheckError, RulesError
from mips_rules.dsl.parser import parse_rules
from mips_rules.engine.scoring import score as scoring
from mips_rules.engine.inputs.context import load_context, parse_context
from mips_rules.engine.inputs.submission import load_submission, parse_submission

from conftest import EXAMPLES, RULES

YEARS = (2023, 2024)
SYNTHETIC = int(os.environ.get("TWO_PATHS_RECORDS", "10000"))


def _outcome(year, sub, ctx, *, fast: bool, detail: bool = True):
    """The report, or the error (class and message) — what one path gives."""
    try:
        return ("report", scoring.score(year, sub, ctx, fast=fast, detail=detail).report)
    except RulesError as exc:
        return (type(exc).__name__, exc.render())


def _both_outcomes(year, sub, ctx):
    """Both paths' outcomes, from the same inputs (converted once: `scoring.score` does the same per path)."""
    context = ctx.for_submission(sub)
    try:
        scoring.check_inventory(year, sub)
    except RulesError as exc:
        refused = (type(exc).__name__, exc.render())
        return refused, refused
    inputs = scoring.evaluate(year, sub, context).inputs
    out = []
    for fast in (True, False):
        ev = year.rules.evaluate(inputs, fast=fast)
        try:
            out.append(("report", scoring.build_report(year, ev, context, sub)))
        except RulesError as exc:
            out.append((type(exc).__name__, exc.render()))
    return out


def _same(year, sub, ctx, *, detail: bool = True):
    fast = _outcome(year, sub, ctx, fast=True, detail=detail)
    slow = _outcome(year, sub, ctx, fast=False, detail=detail)
    assert _exact(fast) == _exact(slow), "the generated code and the interpreter disagree"
    return fast


def _exact(value):
    """Decimals compared with their exponent too (2.50 is not 2.5 in a report)."""
    if isinstance(value, Decimal):
        return ("decimal", str(value))
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_exact(v) for v in value]
    return value


# ---------------------------------------------------------------------------
# The rule tests' cases and the examples
# ---------------------------------------------------------------------------

def test_every_rule_test_case_scores_the_same_both_ways(monkeypatch):
    from mips_rules.engine.workbench.rule_tests import load_cases, run_case

    compared = []
    real = scoring.score

    def both(year, sub, ctx=None, **kwargs):
        fast = _outcome_of(real, year, sub, ctx, True)
        slow = _outcome_of(real, year, sub, ctx, False)
        assert _exact(fast[0]) == _exact(slow[0]), "the generated code and the interpreter disagree"
        compared.append(1)
        if fast[1] is not None:
            raise fast[1]
        return fast[2]

    monkeypatch.setattr(scoring, "score", both)
    files = sorted(p for y in YEARS for p in (RULES / str(y) / "tests").glob("*.yaml"))
    assert files
    for f in files:
        for case in load_cases(f):
            run_case(case, f)
    assert len(compared) >= 20


def _outcome_of(real, year, sub, ctx, fast):
    try:
        scored = real(year, sub, ctx, fast=fast)
        return ("report", scored.report), None, scored
    except RulesError as exc:
        return (type(exc).__name__, exc.render()), exc, None


def _examples():
    pairs = []
    for sub_path in sorted(EXAMPLES.glob("*.json")):
        year = sub_path.name.split("-", 1)[0]
        if not year.isdigit() or int(year) not in YEARS:
            continue
        stem = sub_path.stem
        kind = stem.split("-")[1]
        ctx_path = next(p for p in (EXAMPLES / f"{stem}-context.yaml", EXAMPLES / f"{stem}.yaml",
                                    EXAMPLES / f"{year}-{kind}-context.yaml", EXAMPLES / f"{year}-context.yaml")
                        if p.exists())
        pairs.append((int(year), sub_path, ctx_path))
    return pairs


@pytest.mark.parametrize("year_n, sub_path, ctx_path", _examples(), ids=lambda v: getattr(v, "name", str(v)))
def test_every_example_scores_the_same_both_ways(year_n, sub_path, ctx_path, year_2023, year_2024):
    year = {2023: year_2023, 2024: year_2024}[year_n]
    sub = load_submission(sub_path)
    ctx = load_context(ctx_path)
    kind, _ = _same(year, sub, ctx)
    assert kind == "report"
    _same(year, sub, ctx, detail=False)


def test_the_examples_are_all_compared():
    assert len(_examples()) >= 7


# ---------------------------------------------------------------------------
# Synthetic populations
# ---------------------------------------------------------------------------

_POOL_YEAR = None  # the year a forked worker compares (set before the pool forks)


def _compare_records(records):
    """In a worker: (compared, scored, first disagreement or None) for these records."""
    compared = scored = 0
    for record in records:
        try:
            sub = parse_submission(record["submission"])
            ctx = parse_context(record["context"])
        except RulesError:
            continue  # refused before the rules run: nothing for the two paths to differ on
        fast, slow = _both_outcomes(_POOL_YEAR, sub, ctx)
        if _exact(fast) != _exact(slow):
            return compared, scored, {"id": record.get("id"), "fast": repr(fast)[:2000], "slow": repr(slow)[:2000]}
        compared += 1
        scored += fast[0] == "report"
    return compared, scored, None


@pytest.mark.parametrize("year_n", YEARS)
def test_synthetic_records_score_the_same_both_ways(year_n, year_2023, year_2024):
    """10,000 records per year, every report value (with each category's reasons and measure detail).
    The interpreter is about three times slower than the generated code, so the records are compared
    in forked worker processes, one per core."""
    import multiprocessing

    from mips_rules.engine.populations.synth import Synthesizer

    global _POOL_YEAR
    _POOL_YEAR = {2023: year_2023, 2024: year_2024}[year_n]
    records = list(Synthesizer(_POOL_YEAR, 12).records(SYNTHETIC))
    workers = max(1, min(os.cpu_count() or 1, 4))
    chunks = [records[i::workers] for i in range(workers)]
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_compare_records, chunks)
    else:
        results = [_compare_records(c) for c in chunks]
    disagreements = [r[2] for r in results if r[2] is not None]
    assert not disagreements, f"the generated code and the interpreter disagree: {disagreements[0]}"
    compared = sum(r[0] for r in results)
    scored = sum(r[1] for r in results)
    assert compared >= SYNTHETIC * 0.9 and scored >= compared * 0.9


# ---------------------------------------------------------------------------
# Random well-formed expressions
# ---------------------------------------------------------------------------

DATA = {"program": {"k": Decimal(3), "names": ("a", "b"), "t": "x"}}
INPUTS = {"submission": None, "context": None}
CONTEXT = {"n": Decimal("2.5"), "xs": (Decimal(1), Decimal(2), Decimal(3)), "r": {"a": Decimal(1), "b": "t"},
           "s": "text"}

NAMES = ["a", "b", "c"]


def _exprs(depth: int, scope: tuple[str, ...]):
    leaf = st.one_of(
        st.decimals(min_value=-1000, max_value=1000, places=2).map(lambda d: str(abs(d)) if d >= 0 else f"(-{abs(d)})"),
        st.sampled_from(['"a"', '"b"', '""', "true", "false", "none", "program.k", "program.names", "program.t",
                         "context.n", "context.xs", "context.r", "context.s", "[]", "{}"]),
        *([st.sampled_from(scope)] if scope else []),
    )
    if depth <= 0:
        return leaf
    sub = _exprs(depth - 1, scope)

    def with_var(build):
        return st.sampled_from(NAMES).flatmap(lambda v: build(v, _exprs(depth - 1, scope + (v,))))

    return st.one_of(
        leaf,
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "and", "or", "in",
                                        "not in"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda e: f"(not {e})"),
        sub.map(lambda e: f"(-{e})"),
        st.lists(sub, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), sub), max_size=3, unique_by=lambda t: t[0])
        .map(lambda fs: "{" + ", ".join(f"{k}: {v}" for k, v in fs) + "}"),
        st.tuples(sub, sub, sub).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"),
        with_var(lambda v, body: sub.map(lambda val: f"(let {v} = {val}; ").flatmap(
            lambda head: body.map(lambda b: f"{head}{b})"))),
        st.tuples(st.sampled_from(["map", "filter", "count", "sum", "any", "all", "find", "sort", "index_by",
                                   "group_by"]), sub).flatmap(
            lambda t: with_var(lambda v, body: body.map(lambda b: f"{t[0]}({t[1]}, {v} -> {b})"))),
        st.tuples(st.sampled_from(["first", "set", "distinct", "flatten", "keys", "text", "type_of", "length",
                                   "abs", "round_half_up", "concat_text", "min", "max"]), sub)
        .map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["concat", "coalesce", "get", "has", "merge", "take", "contains_text",
                                   "round_half_up"]), sub, sub).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(sub, sub).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(sub, st.sampled_from(["a", "b", "k", "n"])).map(lambda t: f"{t[0]}.{t[1]}"),
    )


def _both_ways(text: str):
    """(value or error class) on the fast path and the closure path; None when the checker refuses it."""
    try:
        defs = parse_rules(text, "fuzz.rules")
    except RulesError:
        return None
    result = check(defs, DATA, INPUTS, require_source=False)
    if result.diagnostics:
        return None
    rules = Compiler({d.name: d for d in defs}, DATA, INPUTS).compile_all("fuzz")
    assert rules.fast_values is not None
    out = []
    for fast in (True, False):
        ev = rules.evaluate({"submission": {}, "context": CONTEXT}, fast=fast, max_steps=200_000)
        try:
            out.append(("value", _exact(ev.value("x")), ev.steps_used))
        except EvaluationError as exc:
            out.append(("error", type(exc).__name__, _first_line(exc)))
    return out


def _first_line(exc: RulesError) -> str:
    # Messages agree except that the closures may name the failing operation, the fast path its definition.
    return exc.diagnostics[0].message.split(":")[0].split(",")[0]


@settings(max_examples=int(os.environ.get("TWO_PATHS_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(_exprs(3, ()))
def test_random_expressions_give_the_same_value_or_error_both_ways(expr):
    got = _both_ways(f"x = {expr}\n")
    if got is None:
        return
    fast, slow = got
    assert fast == slow, f"x = {expr}"


@pytest.mark.filterwarnings("error::SyntaxWarning")  # the generated code compiles without a warning
@pytest.mark.parametrize("text, expected", [
    ("x = map([1, 2, 3], a -> a * 2)", ("value", [("decimal", "2"), ("decimal", "4"), ("decimal", "6")])),
    ("x = {a: 1} in [{a: 1}]", ("value", True)),
    ('x = index_by(context.xs, a -> text(a))["2"]', ("value", ("decimal", "2"))),
    ("x = context.xs[5]", ("error", "EvaluationError")),
    ('x = sum(filter(context.xs, a -> a > 1), a -> a) / (context.n - context.n)', ("error", "EvaluationError")),
    ('x = "a" == none', ("value", False)),  # generated as `==`: Python warns of `is` with a literal
    ('x = true != "yes"', ("value", True)),
])
def test_known_expressions_both_ways(text, expected):
    fast, slow = _both_ways(text)
    assert fast == slow
    assert fast[: len(expected)] == expected


@pytest.mark.parametrize("text, expected", [
    # A function's calls are memoised by their arguments; equal numbers written otherwise, and true
    # against 1 (equal in Python), are other arguments: each call gives its own value.
    ("twice(v) = v * 2\nx = [twice(75), twice(75.00), twice(75.0)]",
     ("value", [("decimal", "150"), ("decimal", "150.00"), ("decimal", "150.0")])),
    ('is_true(v) = v == true\nx = [is_true(true), is_true(1), is_true(1.0)]', ("value", [True, False, False])),
    ("shown(v) = text(v)\nx = [shown(0), shown(0 * -1), shown(0)]", ("value", ["0", "-0", "0"])),
])
def test_calls_with_equal_but_different_arguments_are_not_confused(text, expected):
    for trace in (False, True):
        defs = parse_rules(text, "memo.rules")
        rules = Compiler({d.name: d for d in defs}, DATA, INPUTS).compile_all("memo")
        for fast in (True, False):
            ev = rules.evaluate({"submission": {}, "context": CONTEXT}, fast=fast, trace=trace)
            assert ("value", _exact(ev.value("x"))) == expected


def test_a_failure_in_generated_code_is_an_error_with_its_location_never_a_fallback(monkeypatch):
    """If the generated code fails where the interpreter does not, the evaluation says so (no silent fallback)."""
    defs = parse_rules("y = 1\nx = y + 1\n", "two.rules")
    rules = Compiler({d.name: d for d in defs}, DATA, INPUTS).compile_all("two")

    def broken(ev):
        raise TypeError("boom")

    rules.fast_values["x"] = broken
    with pytest.raises(EvaluationError) as err:
        rules.evaluate({"submission": {}, "context": {}}).value("x")
    text = err.value.render()
    assert "the two execution paths disagree" in text and "two.rules:2:1" in text and "in `x`" in text
    # The closures alone give the value.
    assert rules.evaluate({"submission": {}, "context": {}}, fast=False).value("x") == 2


def test_a_long_chain_of_definitions_scores_and_explains():
    """`d0 = 1`, `d1 = d0 + 1`, … 250 (and 2,000) deep: the same value on both paths and with tracing."""
    for n in (250, 2000):
        text = "d0 = 1\n" + "".join(f"d{i} = d{i - 1} + 1\n" for i in range(1, n))
        defs = parse_rules(text, "chain.rules")
        rules = Compiler({d.name: d for d in defs}, DATA, INPUTS).compile_all("chain")
        for kwargs in ({}, {"fast": False}, {"trace": True}):
            ev = rules.evaluate({"submission": {}, "context": {}}, **kwargs)
            assert ev.value(f"d{n - 1}") == n
        entry = ev.trace[0]
        depth = 0
        while entry.uses:  # the explanation is the whole chain, each definition using the one before
            assert [u.name for u in entry.uses] == [f"d{n - 2 - depth}"]
            entry = entry.uses[0]
            depth += 1
        assert depth == n - 1


def test_direct_calls_only_where_nothing_can_be_hoisted():
    """Generated definitions call each other directly when no chain of calls can nest past
    HOIST_AT (the shipped years); a deeper year keeps the generic, hoisting calls. Either way
    both paths give the same values and spend the same steps."""
    shallow = "d0 = 1\n" + "".join(f"d{i} = d{i - 1} + 1\n" for i in range(1, 20))
    deep = "d0 = 1\n" + "".join(f"d{i} = d{i - 1} + 1\n" for i in range(1, 300))
    for text, direct, last in ((shallow, True, 20), (deep, False, 300)):
        defs = parse_rules(text, "chain.rules")
        rules = Compiler({d.name: d for d in defs}, DATA, INPUTS).compile_all("chain")
        assert rules.direct is direct
        steps = []
        for fast in (True, False):
            ev = rules.evaluate({"submission": {}, "context": {}}, fast=fast)
            assert ev.value(f"d{last - 1}") == last
            steps.append(ev.steps_used)
        assert steps[0] == steps[1]


def test_functions_called_directly_memoise_like_the_interpreter():
    """`f(2)` computed once however often it is used (plain arguments); calls with a record argument
    are computed each time: the same steps on both paths."""
    text = ("f(n) = n * 2\ng(r) = r.a + 1\n"
            "x = f(2) + f(2) + f(3) + g({a: 1}) + g({a: 1}) + sum(map([1, 2, 1], k -> f(k)))\n")
    defs = parse_rules(text, "calls.rules")
    rules = Compiler({d.name: d for d in defs}, DATA, INPUTS).compile_all("calls")
    assert rules.direct
    out = []
    for fast in (True, False):
        ev = rules.evaluate({"submission": {}, "context": {}}, fast=fast)
        out.append((ev.value("x"), ev.steps_used))
    assert out[0] == out[1]
    assert out[0][0] == 4 + 4 + 6 + 2 + 2 + (2 + 4 + 2)


@pytest.mark.parametrize("text, expected", [
    # A `let` inside a loop reuses the outer name: each keeps its own value.
    ("x = let a = 1; sum(map([1, 2], b -> let a = b * 10; a)) + a", 31),
    ("x = let a = 5; count(filter([1, 2, 3], b -> let a = b; a > 1)) + a", 7),
    # any/all/find stop at the first deciding item: the failing item after it is never tested.
    ('x = if any([1, 2, "t"], v -> v == 1) then 1 else 0', 1),
    ('x = if all([1, 2, "t"], v -> v > 1) then 1 else 0', 0),
    ('x = find([1, 2, "t"], v -> v > 1)', 2),
])
def test_lets_and_short_circuits_both_ways(text, expected):
    fast, slow = _both_ways(text)
    assert fast == slow
    assert fast[:2] == ("value", ("decimal", str(expected)))


def test_a_negated_list_as_a_divisor_is_checked_not_crashing():
    """Found by the random expressions: `-program.names` (a list) as a divisor crashed the checker's
    static-zero test; now the checker refuses it (text divided by a list) like any other kind error."""
    assert _both_ways('x = (not ("a" / (-program.names)))') is None
    assert _both_ways('x = 1 / (-program.names)') is None


@pytest.mark.parametrize("text, expected", [
    # Keys Python can order itself (numbers, texts, desc(number), the same kinds everywhere) …
    ('x = map(sort([{p: 1, i: "b"}, {p: 2, i: "c"}, {p: 1, i: "a"}], r -> [desc(r.p), r.i]), r -> r.i)',
     ("value", ["c", "a", "b"])),
    # … ties keep their order (the sort is stable) …
    ('x = map(sort([{p: 1, i: "b"}, {p: 1, i: "a"}], r -> r.p), r -> r.i)', ("value", ["b", "a"])),
    # … and anything else goes through the rule language's comparison: desc of a text, mixed kinds.
    ('x = sort(["a", "c", "b"], s -> desc(s))', ("value", ["c", "b", "a"])),
    ('x = sort([1, "a"], v -> v)', ("error", "EvaluationError")),
    ('x = sort([1, 2], v -> if v == 1 then desc(v) else v)', ("error", "EvaluationError")),
])
def test_sort_keys_both_ways(text, expected):
    fast, slow = _both_ways(text)
    assert fast[:2] == slow[:2]
    got = fast[:2] if fast[0] == "error" else ("value", [v if isinstance(v, str) else v for v in fast[1]])
    assert got == expected
