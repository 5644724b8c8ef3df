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


# ---------------------------------------------------------------------------
# The catalogue of issue #12: tracebacks and unbounded work, each now a clean error with a message
# (and, when the rules are at fault, the definition and its location), on both execution paths.
# ---------------------------------------------------------------------------

import time  # noqa: E402

from mips_rules.dsl import limits  # noqa: E402
from mips_rules.dsl.parser import parse_file  # noqa: E402


def evaluate_both(text: str, name: str = "x", context=None, **kwargs):
    """The value on the fast path and on the closure path (they must agree), or the error of each."""
    rules = compile_text(text)
    out = []
    for fast in (True, False):
        try:
            out.append(rules.evaluate({"submission": {}, "context": context or {}}, fast=fast, **kwargs).value(name))
        except EvaluationError as exc:
            out.append(exc)
    return out


def _doubling(kind: str, n: int = 40) -> str:
    build = {"text": 'concat_text(t{p}, t{p})', "list": "concat(t{p}, t{p})", "nested": "[t{p}, t{p}]"}[kind]
    first = {"text": '"ab"', "list": "[1]", "nested": "[1]"}[kind]
    return f"t0 = {first}\n" + "".join(f"t{i} = {build.format(p=i - 1)}\n" for i in range(1, n + 1))


CHAIN = "d0 = 1\n" + "".join(f"d{i} = d{i - 1} + 1\n" for i in range(1, 250))
R = {"r": {"a": Decimal(1)}, "l": (Decimal(1),)}
BIG_LIST = {"items": tuple(Decimal(i) for i in range(500_000))}

# (id, rule text, the definition asked for, context, message fragment, the definition named, line)
EVALUATION_CASES = [
    ("record-in-record-at-run-time", "y = 1\nx = context.r in context.r", "x", R,
     "`in` a record looks for a field name (text), got record", "x", 2),
    ("set-of-records-at-run-time", "y = 1\nx = set([context.r])", "x", R,
     "a set holds numbers, texts, true/false or none, not a record", "x", 2),
    ("index-by-a-record-at-run-time", "y = 1\nx = index_by([1, 2], i -> context.r)", "x", R,
     "index_by needs a text (or number) as each item's key, got record", "x", 2),
    ("group-by-a-list-at-run-time", "y = 1\nx = group_by([1, 2], i -> context.l)", "x", R,
     "group_by needs a text (or number) as each item's key, got list", "x", 2),
    ("record-as-a-record-key", "y = 1\nx = context.r[context.r]", "x", R,
     "a record's fields are named by text, got record", "x", 2),
    ("text-doubled-40-times", _doubling("text") + "x = length(t40)", "x", None,
     "a text of more than 1,000,000 characters", "t19", 20),
    ("list-doubled-40-times", _doubling("list") + "x = count(t40)", "x", None,
     "a list or record of more than 1,000,000 items", "t20", 21),
    ("shared-nesting-written-as-text", _doubling("nested") + "x = text(t40)", "x", None,
     "a value of more than 250,000 items", "x", 42),
    ("nested-count-over-500000-items", "xs = map(context.items, i -> i)\n"
     "x = count(xs, a -> count(xs, b -> a == b) > 0)", "x", BIG_LIST, "needs more than 2,000,000 steps", "x", 2),
    ("recursion-through-record-arguments", "f0(a) = a.v\n" + "".join(f"f{i}(a) = f{i - 1}(a)\n" for i in range(1, 1000))
     + "x = f999({v: 1})", "x", None, "rules nested too deeply while evaluating", None, None),
]


@pytest.mark.parametrize("case, text, name, context, fragment, definition, line", EVALUATION_CASES,
                         ids=[c[0] for c in EVALUATION_CASES])
def test_bad_rules_fail_cleanly_on_both_paths(case, text, name, context, fragment, definition, line):
    started = time.process_time()
    results = evaluate_both(text, name, context, max_steps=2_000_000)
    for result in results:
        assert isinstance(result, EvaluationError), result
        rendered = result.render()
        assert fragment in rendered
        assert "Traceback" not in rendered
        if definition is not None:
            assert f"in `{definition}`" in rendered
            assert f"evil.rules:{line}:" in rendered
    # both paths stop at the same definition
    assert results[0].diagnostics[0].message.split(":")[0].split(",")[0] == \
        results[1].diagnostics[0].message.split(":")[0].split(",")[0]
    del started  # bounded work is asserted by the limits, not by the clock


@pytest.mark.parametrize("text, fragment", [
    ("x = {a: 1} in {a: 1}", "`in` a record looks for a field name (text), but this value is a record"),
    ("x = set([{a: 1}])", "a set holds numbers, texts, true/false or none, but the items of this value are records"),
    ("x = index_by([{a: 1}], r -> r)", "`index_by` keys each item by text (or a number), but `r` is a record"),
    ("x = group_by([1], r -> [r])", "`group_by` keys each item by text (or a number), but this value is a list"),
])
def test_records_where_keys_belong_are_check_time_type_errors(text, fragment):
    with pytest.raises(RuleCheckError) as err:
        compile_text(text)
    assert fragment in err.value.render()


def test_the_step_budget_is_counted_alike_on_both_paths_and_configurable():
    text = "x = sum(map(context.items, i -> i * 2))"
    rules = compile_text(text)
    used = []
    for fast in (True, False):
        ev = rules.evaluate({"submission": {}, "context": {"items": tuple(Decimal(i) for i in range(1000))}},
                            fast=fast)
        assert ev.value("x") == 999000
        used.append(ev.steps_used)
    assert used[0] == used[1] > 2000
    assert limits.DEFAULT_MAX_STEPS == 50_000_000
    for fast in (True, False):
        ev = rules.evaluate({"submission": {}, "context": {"items": tuple(Decimal(i) for i in range(1000))}},
                            fast=fast, max_steps=1000)
        with pytest.raises(EvaluationError) as err:
            ev.value("x")
        assert "needs more than 1,000 steps" in err.value.render()


def test_a_long_chain_of_definitions_scores_and_explains():
    for trace in (False, True):
        ev = compile_text(CHAIN).evaluate({"submission": {}, "context": {}}, trace=trace)
        assert ev.value("d249") == 250


def test_a_rule_file_over_the_size_cap_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "huge.rules"
    with path.open("wb") as fh:  # 60 MB, sparse: nothing is written, and nothing must be read
        fh.truncate(60 * 1024 * 1024)
    from pathlib import Path

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    monkeypatch.setattr(Path, "read_text", no_reading)
    with pytest.raises(RuleSyntaxError) as err:
        parse_file(path)
    assert "rule file is too large: 62,914,560 bytes (the limit is 1,048,576)" in err.value.render()


@pytest.mark.parametrize("text, fragment", [
    ("d0 = 1\n" + "".join(f"d{i} = d{i - 1} + 1\n" for i in range(1, 40_000)), "rule file has more than 30,000 tokens"),
    ("x = [" + ", ".join(["1"] * 40_000) + "]", "rule file has more than 30,000 tokens"),
    ("x = " + "x" * (limits.MAX_RULE_FILE_BYTES + 1), "rule file is too large"),
])
def test_loading_any_rule_file_is_bounded(text, fragment):
    with pytest.raises(RuleSyntaxError) as err:
        parse_rules(text, "big.rules")
    assert fragment in err.value.render()


def test_categories_none_is_a_clean_rule_error_when_scoring(year_copy):
    from mips_rules.engine.scoring.score import score
    from mips_rules.engine.years.loader import load_year

    folder = year_copy()
    rules = sorted(folder.glob("*.rules"))
    text = "".join(p.read_text() for p in rules)
    assert "\ncategories =" in text or text.startswith("categories =")
    target = next(p for p in rules if "categories =" in p.read_text())
    body = target.read_text()
    start = body.index("categories =")
    end = body.find("\n@", start)
    target.write_text(body[:start] + "categories = none\n" + (body[end:] if end >= 0 else ""))
    year = load_year(None, folder)
    with pytest.raises(EvaluationError) as err:
        score(year, None, None)
    rendered = err.value.render()
    # Whichever definition first reads the broken list says so, at its own line.
    assert "got none" in rendered and "error: in `" in rendered or \
        "`categories` must be a list of names (texts), got none" in rendered
    assert target.name in rendered


def test_a_rules_folder_holds_regular_files_only(tmp_path):
    """A link out of the folder is never followed (nor its target's first line printed); a FIFO named
    like a rule file never hangs the loader."""
    import os
    import shutil

    from typer.testing import CliRunner

    from mips_rules.engine.cli import app

    from conftest import RULES

    folder = tmp_path / "2023"
    shutil.copytree(RULES / "2023", folder)
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:do not print me\n")
    (folder / "evil.yaml").symlink_to(secret)
    os.mkfifo(folder / "pipe.rules")
    result = CliRunner().invoke(app, ["check", "--rules", str(folder)])
    assert result.exit_code == 1
    assert "evil.yaml: a symbolic link; a year folder holds regular files only" in result.output
    assert "pipe.rules: not a regular file" in result.output
    assert "do not print me" not in result.output and "Traceback" not in result.output
