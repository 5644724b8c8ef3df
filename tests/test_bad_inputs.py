"""A catalogue of bad inputs: each fails with its error class, a message that says what is wrong,
and a non-zero exit code from the CLI — never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mips_rules.dsl.errors import DataError, InputError, RuleCheckError, RuleSyntaxError, RulesError
from mips_rules.engine.cli.commands import app

from conftest import EXAMPLES, RULES, copy_whole

runner = CliRunner()
BASE = (EXAMPLES / "2024-full.json").read_text()


# ---------------------------------------------------------------------------
# Rule files: (id, file, edit, error class, message fragment)
# An edit is (old, new) on the file's text, or ("", text) to replace it, or bytes to write.
# ---------------------------------------------------------------------------

def _deep_yaml() -> str:
    return "deep:\n  value: " + "[" * 10000 + "]" * 10000 + "\n  source: x\n"


RULE_CASES = [
    ("yaml-syntax", "program.yaml", ("\nperformance_year:", "\nbroken: [unclosed\nperformance_year:"), DataError,
     "YAML syntax error"),
    ("yaml-tab", "program.yaml", ("  unit: points\n", "\tunit: points\n"), DataError, "found character '\\t'"),
    ("duplicate-key", "program.yaml", ("max_final_score:", "max_final_score:\n  value: 1\n  source: x\nmax_final_score:"),
     DataError, "duplicate key `max_final_score`"),
    ("wrong-type", "program.yaml", ("  confirmed: false\n", "  confirmed: maybe\n"), DataError, "confirmed"),
    ("unknown-key", "program.yaml", ("  unit: points\n", "  unti: points\n"), DataError, "unknown key `unti`"),
    ("missing-required-data", "program.yaml", ("performance_year:\n  value: 2024", "perf_year:\n  value: 2024"),
     RuleCheckError, "no data item `program.performance_year`"),
    ("missing-table", "weights.yaml", ("\napp:\n", "\napp_renamed:\n"), RuleCheckError, "`weights` has no entry `app`"),
    ("row-does-not-sum-to-100", "weights.yaml", ("{quality: 55, cost: 0, ia: 15, pi: 30}",
                                                 "{quality: 50, cost: 0, ia: 15, pi: 30}"), DataError,
     "adds up to 95, not 100"),
    ("euc-table-missing-a-combination", "euc.yaml",
     ("    - {submitted: [ia, pi], weights: {quality: 0, pi: 85, ia: 15, cost: 0}}\n", ""), DataError,
     "`euc.weights` lacks a row for {ia, pi}"),
    ("row-field-typo", "weights.yaml", ("{quality: 55, cost: 30, ia: 15, pi: 0}", "{quality: 55, cost: 30, ia: 15, p: 0}"),
     DataError, "has a field `p` that row 1 does not have"),
    ("python-tag", "program.yaml", ("  value: 75\n", "  value: !!python/object/apply:os.system [echo]\n"), DataError,
     "tag `!!python/object/apply:os.system` is not allowed"),
    ("billion-laughs", "program.yaml", ("", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a]\n"
                                            "c: [*b, *b, *b, *b, *b, *b]\n"), DataError, "YAML aliases are not allowed"),
    ("nesting-10000-deep", "deep.yaml", ("", _deep_yaml()), DataError, "nesting is deeper than the limit"),
    ("non-utf8-yaml", "program.yaml", b"performance_year:\n  value: \xff\xfe\n", DataError, "not valid UTF-8"),
    ("huge-file", "huge.yaml", ("", "# " + "x" * (50 * 1024 * 1024) + "\n"), DataError, "file is too large"),
    ("rule-syntax", "payment.rules", ("payment_year = program.payment_year", "payment_year = program.payment_year +"),
     RuleSyntaxError, "syntax error"),
    ("non-utf8-rules", "payment.rules", b"x = \xff\n", RuleSyntaxError, "not valid UTF-8"),
    ("undefined-name", "final.rules", ("[reweighted_in(basis)]", "[reweighted_in(basi)]"), RuleCheckError,
     "undefined name `basi`"),
    ("undefined-function", "final.rules", ("round_half_up(min(", "round_halfup(min("), RuleCheckError,
     "undefined function `round_halfup`"),
    ("wrong-arity", "final.rules", ("c -> points_in(c, basis))", "c -> points_in(c))"), RuleCheckError,
     "`points_in` takes 2 argument(s)"),
    ("duplicate-definition", "payment.rules", ("@source \"42 CFR 414.1405(b)-(c); 004", "@source \"x\"\nis_app = 1\n"
                                                                                       "@source \"42 CFR 414.1405(b)-(c); 004"),
     RuleCheckError, "`is_app` is defined twice"),
    ("cycle", "final.rules", ("clamp(given, 0, program.complex_patient_bonus_max)", "clamp(given, 0, final_score)"),
     RuleCheckError, "definitions depend on each other in a cycle"),
    ("division-by-zero-in-data", "payment.rules", ("(program.performance_threshold - final_score) / program.performance_threshold",
                                                  "(program.performance_threshold - final_score) / payment.zero"),
     RuleCheckError, "no entry `zero`"),
    ("division-by-a-zero-constant", "payment.rules", ("(program.performance_threshold - final_score) / program.performance_threshold",
                                                     "(program.performance_threshold - final_score) / 0"),
     RuleCheckError, "division by zero"),
    ("missing-source", "payment.rules", ("@source \"004_23d77edc1962e2e1.txt, How Does My MIPS Final Score Determine My "
                                         "Payment Adjustment?\"\npayment_year", "payment_year"), RuleCheckError,
     "does not cite its source"),
    ("name-clashes-with-data", "payment.rules", ("lowest_band_top =", "weights ="), RuleCheckError,
     "`weights` is already the name of a data file"),
    ("attribute-escape", "final.rules", ("categories = program.categories", "categories = program.__class__"),
     RuleCheckError, "`program` has no entry `__class__`"),
    ("import-escape", "final.rules", ("categories = program.categories", "categories = __import__(\"os\")"),
     RuleCheckError, "undefined function `__import__`"),
    ("too-deep-expression", "final.rules", ("categories = program.categories",
                                            "categories = " + "-" * 3000 + "1"), RuleSyntaxError, "nested too deeply"),
]


def _apply(folder: Path, name: str, edit) -> None:
    path = folder / name
    if isinstance(edit, bytes):
        path.write_bytes(edit)
        return
    old, new = edit
    if old == "":
        path.write_text((path.read_text() if path.exists() and name == "program.yaml" else "") + new)
        return
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("case, file, edit, error, fragment", RULE_CASES, ids=[c[0] for c in RULE_CASES])
def test_bad_rule_files(tmp_path, case, file, edit, error, fragment):
    from mips_rules.engine.years.loader import load_year

    folder = tmp_path / "2024"
    copy_whole(RULES / "2024", folder)
    _apply(folder, file, edit)
    with pytest.raises(error) as err:
        load_year(None, folder)
    rendered = err.value.render()
    assert fragment in rendered
    assert any(d.location is not None and d.location.line >= 1 for d in err.value.diagnostics)
    result = runner.invoke(app, ["check", "--rules", str(folder)])
    assert result.exit_code != 0 and fragment in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------------------
# Submissions and contexts: (id, submission text, context text or None, fragment)
# ---------------------------------------------------------------------------

def _sub(old: str, new: str, count: int = 1) -> str:
    assert old in BASE
    return BASE.replace(old, new, count)


GROUP = json.loads(BASE)
GROUP["entityType"] = "group"

INPUT_CASES = [
    ("not-json", '{"entityType": ', None, "not valid JSON"),
    ("empty-file", "", None, "the file is empty"),
    ("nan", _sub('"performanceMet": 35', '"performanceMet": NaN'), None, "NaN is not a number"),
    ("infinity", _sub('"performanceMet": 35', '"performanceMet": Infinity'), None, "Infinity is not a number"),
    ("number-as-string", _sub('"performanceMet": 35', '"performanceMet": "35"'), None,
     "measurementSets[0].measurements[0].value.performanceMet: expected a whole number, got the string \"35\""),
    ("negative-count", _sub('"performanceMet": 35', '"performanceMet": -35'), None, "must not be negative"),
    ("met-over-eligible", _sub('"eligiblePopulation": 100', '"eligiblePopulation": 90'), None,
     "exceeds eligiblePopulation 90"),
    ("numerator-over-denominator", _sub('"numerator": 187', '"numerator": 1870'), None,
     "numerator 1870 exceeds denominator 199"),
    ("date-outside-year", _sub('"performanceEnd": "2024-12-31"', '"performanceEnd": "2025-01-31"'), None,
     "measurementSets[0].performanceEnd: 2025-01-31 is not in performanceYear 2024"),
    ("end-before-start", _sub('"performanceStart": "2024-01-01"', '"performanceStart": "2024-12-31"').replace(
        '"performanceEnd": "2024-12-31"', '"performanceEnd": "2024-06-30"', 1), None, "is before performanceStart"),
    ("unknown-category", _sub('"category": "ia"', '"category": "cost"'), None, "measurementSets[2].category"),
    ("unknown-measure-for-the-year", _sub('"PI_EP_2"', '"PI_FAKE_1"'), None, "unknown pi measure 'PI_FAKE_1' for 2024"),
    ("same-measure-twice", _sub('"measureId": "112"', '"measureId": "001"'), None, "001 is reported twice"),
    ("tin-not-9-digits", _sub('"000123456"', '"12345"'), None, "must be exactly 9 digits"),
    ("npi-on-a-group", json.dumps(GROUP), None, "only an individual submission has an NPI"),
    ("unknown-context-key", BASE, "entty: {type: group}\n", "entty: unknown field"),
    ("context-year-contradicts", BASE, "performance_year: 2023\n", "2023 differs from the submission's performanceYear 2024"),
    ("context-bad-election", BASE, "election: maybe\n", "election: Input should be"),
    ("context-bonus-over-10", BASE, "complex_patient_bonus: 11\n", "complex_patient_bonus"),
    ("context-python-tag", BASE, "election: !!python/object/apply:os.system [echo]\n", "is not allowed"),
    ("context-number-as-string", BASE, "entity: {clinicians: \"12\"}\n", "entity.clinicians"),
    ("app-reported-voluntarily", BASE, "reporting_option: app\nelection: voluntary\n",
     "the APP cannot be reported voluntarily"),
]


@pytest.mark.parametrize("case, submission, context, fragment", INPUT_CASES, ids=[c[0] for c in INPUT_CASES])
def test_bad_submissions_and_contexts(tmp_path, case, submission, context, fragment):
    from mips_rules.engine.inputs.context import load_context, resolve_performance_year
    from mips_rules.engine.scoring.score import score
    from mips_rules.engine.inputs.submission import load_submission
    from mips_rules.engine.years.loader import load_year

    sub_path = tmp_path / "submission.json"
    sub_path.write_text(submission)
    args = ["score", str(sub_path)]
    ctx_path = None
    if context is not None:
        ctx_path = tmp_path / "context.yaml"
        ctx_path.write_text(context)
        args += ["--context", str(ctx_path)]
    with pytest.raises(InputError) as err:
        sub = load_submission(sub_path)
        ctx = load_context(ctx_path)
        year = resolve_performance_year(sub, ctx)
        score(load_year(year, RULES), sub, ctx)
    assert fragment in err.value.render()
    result = runner.invoke(app, args)
    assert result.exit_code != 0 and fragment in result.output and "Traceback" not in result.output


def test_the_catalogue_is_long_enough():
    assert len(RULE_CASES) + len(INPUT_CASES) >= 40


def test_errors_share_one_base_class():
    for cls in (DataError, InputError, RuleCheckError, RuleSyntaxError):
        assert issubclass(cls, RulesError)
