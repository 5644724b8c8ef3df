"""Rule files from untrusted hands cannot reach Python: no attributes, builtins, files or network,
no unbounded work. Each way in is tried here."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mips_rules.dsl.checker import check
from mips_rules.dsl.compiler import Compiler
from mips_rules.dsl.errors import EvaluationError, RuleCheckError, RulesError, RuleSyntaxError
from mips_rules.dsl.parser import parse_rules

DATA = {"program": {"threshold": Decimal(75)}}
INPUTS = {"submission": None, "context": None}


def compile_text(text: str):
    defs = parse_rules(text, "evil.rules")
    result = check(defs, DATA, INPUTS, require_source=False)
    if result.diagnostics:
        raise RuleCheckError(result.diagnostics)
    return Compiler({d.name: d for d in defs}, DATA, INPUTS).compile_all("evil")


def evaluate(text: str, name: str = "x", context=None):
    rules = compile_text(text)
    return rules.evaluate({"submission": {}, "context": context or {}}).value(name)


@pytest.mark.parametrize("text, message", [
    ("x = program.__class__", "`program` has no entry `__class__`"),
    ("x = program.threshold.__class__", "`program.threshold` is a number, not a record"),
    ("x = __import__(\"os\")", "undefined function `__import__`"),
    ("x = open(\"/etc/passwd\")", "undefined function `open`"),
    ("x = eval(\"1\")", "undefined function `eval`"),
    ("x = __builtins__", "undefined name `__builtins__`"),
    ("x = x + 1", "cycle"),
    ("f(n) = f(n)\nx = f(1)", "cycle"),
])
def test_no_way_to_python_at_load(text, message):
    with pytest.raises(RulesError) as err:
        compile_text(text)
    assert message in err.value.render()


def test_record_fields_are_only_data():
    # Field access reads a record's keys, never a Python attribute.
    with pytest.raises(EvaluationError) as err:
        evaluate("x = context.__class__", context={"a": Decimal(1)})
    assert "no field `__class__`" in err.value.render()
    assert evaluate('x = get(context, "__dict__")', context={}) is None


def test_string_literals_cannot_inject_code():
    tricky = '"); import os; os.system(\\"echo pwned\\"); ("'
    assert evaluate(f"x = {tricky}") == '); import os; os.system("echo pwned"); ('


def test_no_exponent_or_repetition_operators():
    with pytest.raises(RuleSyntaxError):
        compile_text("x = 2 ** 100000")
    with pytest.raises(EvaluationError) as err:
        evaluate('x = "a" * 1000000000')
    assert "needs numbers" in err.value.render()


def test_huge_numbers_stay_bounded():
    big = "9" * 5000
    value = evaluate(f"x = {big} * {big} * {big}")
    assert value.adjusted() > 10000 and len(value.as_tuple().digits) <= 34  # rounded to 34 digits, instantly


def test_deep_nesting_is_refused_not_crashing():
    with pytest.raises(RuleSyntaxError):
        compile_text("x = " + "-" * 5000 + "1")
    with pytest.raises(RuleSyntaxError):
        compile_text("x = " + " + ".join(["1"] * 5000))


def test_generated_code_has_no_builtins():
    rules = compile_text("x = 1")
    code = rules.fast_values["x"]
    assert code.__globals__["__builtins__"] == {}
