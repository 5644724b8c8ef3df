"""Fuzzing the rule-language parser and checker and the input loaders: nothing but the documented
error types, and no hang. CI runs a short budget; for a longer run:

    HYPOTHESIS_PROFILE=long python3 -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mips_rules.dsl.checker import check
from mips_rules.dsl.errors import RulesError
from mips_rules.dsl.parser import parse_rules
from mips_rules.engine.context import parse_context
from mips_rules.engine.submission import parse_submission
from mips_rules.engine.yamlsafe import load_yaml_text

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


def _parse_and_check(text: str) -> None:
    try:
        defs = parse_rules(text, "fuzz.rules")
    except RulesError:
        return
    check(defs, {"program": {"k": 1}}, {"submission": None, "context": None})


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
