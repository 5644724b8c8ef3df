"""Fuzzing the rule-language parser, checker, compiler and both execution paths, and the input
loaders: nothing but the documented error types, the same outcome on both paths, and no hang. CI runs a short budget; for a longer run:

    HYPOTHESIS_PROFILE=long python3 -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decimal import Decimal

from mips_rules.dsl.checker import check
from mips_rules.dsl.compiler import Compiler
from mips_rules.dsl.errors import EvaluationError, RulesError
from mips_rules.dsl.parser import parse_rules
from mips_rules.engine.inputs.context import parse_context
from mips_rules.engine.inputs.submission import parse_submission
from mips_rules.engine.inputs.safe_yaml import load_yaml_text

settings.register_profile("ci", max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=20000, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TOKENS = ["x", "y", "f", "(", ")", "[", "]", "{", "}", ",", ".", "=", "==", "+", "-", "*", "/", "<", ">=",
          "if", "then", "else", "let", ";", "and", "or", "not", "in", "->", "none", "true", "1", "2.5", '"a"',
          "@source", '"s"', "\n", " ", "#c\n", "sum", "map", "count", ":", "__class__", "__import__"]


@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join))
def test_parser_and_checker_on_token_soup(text):
    _parse_and_check(text)


@given(st.text(max_size=200))
def test_parser_on_arbitrary_text(text):
    _parse_and_check(text)


FUZZ_DATA = {"program": {"k": Decimal(1), "names": ("a", "b")}}
FUZZ_INPUTS = {"submission": None, "context": None}
REACHED = {"checked": 0, "evaluated": 0}


def _parse_and_check(text: str) -> None:
    """Parse, check, and — when the checker accepts it — compile both ways and evaluate every
    definition on both paths: a value or an EvaluationError, the same on each, never anything else."""
    try:
        defs = parse_rules(text, "fuzz.rules")
    except RulesError:
        return
    result = check(defs, FUZZ_DATA, FUZZ_INPUTS, require_source=False)
    if result.diagnostics:
        return
    REACHED["checked"] += 1
    by_name = {d.name: d for d in defs}
    rules = Compiler(by_name, FUZZ_DATA, FUZZ_INPUTS).compile_all("fuzz")
    assert rules.fast_values is not None
    for name, d in by_name.items():
        outcomes = []
        for fast in (True, False):
            ev = rules.evaluate({"submission": {}, "context": {"x": Decimal(2), "xs": (Decimal(1),)}}, fast=fast,
                                max_steps=100_000)
            try:
                value = ev.call(name, (Decimal(1),) * len(d.params)) if d.is_function else ev.value(name)
                outcomes.append(("value", repr(value)))
            except EvaluationError as exc:
                outcomes.append(("error", exc.diagnostics[0].message.split(":")[0].split(",")[0]))
        assert outcomes[0] == outcomes[1], text
        REACHED["evaluated"] += 1


# Well-formed definitions built from the grammar, so that fuzzing reaches the compiler and evaluation.
_ATOMS = ["1", "2.5", "0", '"a"', "true", "false", "none", "[]", "[1, 2]", "{a: 1}", "program.k", "program.names",
          "context.x", "context.xs", "y", "f(1)"]
_EXPR = st.recursive(
    st.sampled_from(_ATOMS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "==", "<", "and", "or", "in"]), inner)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"),
        st.tuples(inner, inner).map(lambda t: f"(let z = {t[0]}; {t[1]})"),
        st.tuples(st.sampled_from(["map", "filter", "count", "sum", "sort", "find"]), inner, inner)
        .map(lambda t: f"{t[0]}({t[1]}, z -> {t[2]})"),
        st.tuples(st.sampled_from(["first", "set", "text", "length", "keys", "abs", "distinct"]), inner)
        .map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        inner.map(lambda e: f"{e}.a"),
    ),
    max_leaves=12,
)


@given(_EXPR, _EXPR, _EXPR)
def test_well_formed_rules_compile_and_evaluate_the_same_both_ways(a, b, c):
    _parse_and_check(f"y = {a}\nf(n) = {b}\nx = {c}\n")


def test_fuzzing_reaches_compile_and_evaluate():
    """The generated rules are mostly accepted by the checker: the compiler and both paths run."""
    REACHED.update(checked=0, evaluated=0)
    test_well_formed_rules_compile_and_evaluate_the_same_both_ways()
    assert REACHED["checked"] > 0 and REACHED["evaluated"] > 0


JSON = st.recursive(st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=False) |
                    st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["entityType", "measurementSets", "measurements", "measureId", "value",
                                         "category", "performanceMet", "performanceNotMet", "eligiblePopulation",
                                         "numerator", "denominator", "performanceYear", "performanceStart",
                                         "performanceEnd", "submissionMethod", "taxpayerIdentificationNumber",
                                         "strata", "x"]), inner, max_size=6),
                    max_leaves=30)


@given(JSON)
def test_submission_loader(value):
    try:
        parse_submission(json.loads(json.dumps(value)))
    except RulesError:
        pass


@given(JSON)
def test_context_loader(value):
    try:
        parse_context(value)
    except RulesError:
        pass


@given(st.text(max_size=300))
def test_yaml_loader(text):
    try:
        load_yaml_text(text, "fuzz.yaml")
    except RulesError:
        pass
