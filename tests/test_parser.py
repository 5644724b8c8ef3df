"""The rule language's grammar: what parses, into what, and where syntax errors point."""

from decimal import Decimal

import pytest

from mips_rules.dsl import ast
from mips_rules.dsl.errors import RuleSyntaxError
from mips_rules.dsl.parser import parse_rules


def test_definitions_span_lines_and_keep_annotations():
    defs = parse_rules('''
# comment
@source "004, Appendix B"
@unconfirmed
total =
  1 + 2   # trailing comment
    * 3
@source "x"
f(a, b) = a - b
''', "t.rules")
    assert [d.name for d in defs] == ["total", "f"]
    total, f = defs
    assert total.annotations == {"source": "004, Appendix B", "unconfirmed": None}
    assert total.loc.line == 5 and total.loc.column == 1
    assert isinstance(total.body, ast.Binary) and total.body.op == "+"
    assert total.body.right == ast.Binary(None, "*", ast.Number(None, Decimal(2)), ast.Number(None, Decimal(3)))
    assert f.params == ("a", "b")


def test_precedence_and_keywords():
    (d,) = parse_rules('x = if not a and b or c then -1 else [1, 2][0] / 4', "t.rules")
    assert isinstance(d.body, ast.If)
    cond = d.body.cond
    assert cond.op == "or" and cond.left.op == "and" and cond.left.left.op == "not"
    assert isinstance(d.body.then, ast.Unary)
    assert d.body.otherwise.op == "/"


def test_lambda_field_index_and_strings():
    (d,) = parse_rules('x = sort(ms, m -> [desc(m.points), m.id])[0].name == "a\\"b"', "t.rules")
    assert d.body.op == "=="
    assert d.body.right == ast.String(None, 'a"b')
    field = d.body.left
    assert isinstance(field, ast.Field) and field.name == "name"
    call = field.target.target
    assert isinstance(call, ast.Call) and call.func == "sort"
    assert isinstance(call.args[1], ast.Lambda) and call.args[1].param == "m"


def test_membership():
    (d,) = parse_rules('x = "pi" not in reweighted', "t.rules")
    assert d.body.op == "not in"


@pytest.mark.parametrize("text, line, column, message", [
    ("x = 1 +\ny = 2", 2, 3, "unexpected `=`"),
    ("x = (1 + 2", 1, 11, "unexpected end of file"),
    ("x = 1 $ 2", 1, 7, "unexpected character `$`"),
    ("x = if a then b", 1, 16, "unexpected end of file"),
    ("if = 3", 1, 1, "unexpected `if`"),
])
def test_syntax_errors_point_at_the_spot(text, line, column, message):
    with pytest.raises(RuleSyntaxError) as err:
        parse_rules(text, "broken.rules")
    diag = err.value.diagnostics[0]
    assert message in diag.message
    assert (diag.location.file, diag.location.line, diag.location.column) == ("broken.rules", line, column)
    rendered = err.value.render()
    assert f"broken.rules:{line}:{column}" in rendered and "^" in rendered
