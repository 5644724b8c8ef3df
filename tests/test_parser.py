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


# --- read by hand and by the grammar: the same definitions ---------------------------------------

def _by_lark(text: str):
    from mips_rules.dsl import parser
    from mips_rules.dsl.errors import RulesError

    try:
        return parser._parse_with_lark(text, "f.rules")
    except RulesError:
        return "error"


def _spacing(r) -> str:
    return r.choice(["", " ", " ", "  ", "\n", "\n  ", " # a comment\n ", "\t"])


def _expression(r, depth: int) -> str:
    """A random expression of the language, with random spacing, comments and parentheses."""
    if depth <= 0 or r.random() < 0.2:
        return r.choice(["x", "y_1", "a.b", "f(x)", "1", "2.50", '"s"', '"a\\"b"', "true", "false", "none", "[]",
                         "{}", "g()"])
    e, s = (lambda: _expression(r, depth - 1)), (lambda: _spacing(r))
    return r.choice([
        lambda: f"({s()}{e()}{s()})",
        lambda: f"{e()}{s()}{r.choice(['+', '-', '*', '/'])}{s()}{e()}",
        lambda: f"{e()}{s()}{r.choice(['==', '!=', '<', '<=', '>', '>=', 'in', 'not in'])} {e()}",
        lambda: f"{e()} {r.choice(['and', 'or'])} {e()}",
        lambda: f"not {e()}",
        lambda: f"-{s()}{e()}",
        lambda: f"if {e()} then {e()} else {e()}",
        lambda: f"let v{depth} ={s()}{e()};{s()}{e()}",
        lambda: f"v{depth} ->{s()}{e()}",
        lambda: f"f{depth}({s()}{', '.join(e() for _ in range(r.randint(0, 3)))}{s()})",
        lambda: f"[{', '.join(e() for _ in range(r.randint(0, 3)))}]",
        lambda: "{" + ", ".join(f"k{i}:{s()}{e()}" for i in range(r.randint(0, 3))) + "}",
        lambda: f"({e()}).f{depth}",
        lambda: f"({e()})[{e()}]",
        lambda: f"x{depth}.y[{e()}].z",
    ])()


def test_rules_read_by_hand_as_the_grammar_reads_them():
    """`dsl/descent.py` reads a rule file into the definitions lark's grammar gives — every node's
    location included — or gives up (lark then reads it, and says what is wrong): on every rule
    file of every year, thousands of generated ones, and thousands of mutations of the real ones.
    It never reads what the grammar refuses."""
    import random
    from pathlib import Path

    from conftest import mutations
    from mips_rules.dsl import descent

    root = Path(__file__).resolve().parent.parent / "rules"
    files = [p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.rules"))]
    for text in files:
        assert descent.read(text, "f.rules") == _by_lark(text) != "error"
    r = random.Random(20261129)
    cases = []
    annotations, params = ["", '@source "s"', "@unconfirmed"], ["", "()", "(a, b)"]
    for _ in range(1500):
        cases.append("".join(f"{r.choice(annotations)}\nd{j}{r.choice(params)} ={_spacing(r)}"
                             f"{_expression(r, r.randint(1, 5))}\n" for j in range(r.randint(1, 3))))
    inserts = ["(", ")", "[", "]", "{", "}", ",", ".", ":", ";", "=", "@", "->", "-", "+", "*", "/", "<", "<=",
               "==", "not", "in", "and", "if", "then", "else", "let", "true", "x", '"s"', "1.5", "#c\n", "\n", "\t",
               "é", "\\", '"', "0.", ".5", "not in", "f(", "[1]"]
    cases += mutations(files, inserts, 1500, 20261129)
    read = 0
    for text in cases:
        expected, got = _by_lark(text), descent.read(text, "f.rules")
        if got is None:
            continue  # given up: lark reads it
        assert got == expected, text
        read += 1
    assert read > 1000  # most are read by hand (the rest: lark's errors, and words lark splits by context)


def test_a_syntax_error_is_lark_s_message():
    """Where the hand reading gives up, the grammar reads the file: the message is lark's."""
    from mips_rules.dsl import descent

    assert descent.read("x = (1 +\n", "t.rules") is None
    with pytest.raises(RuleSyntaxError) as err:
        parse_rules("x = (1 +\n", "t.rules")
    assert "unexpected end of file" in err.value.diagnostics[0].message
