"""The README stays true: its built-in table and its commands match the code."""

from mips_rules.dsl.builtins import BUILTINS

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_builtin_is_documented():
    for b in BUILTINS.values():
        assert f"| `{b.signature}` | {b.doc} |" in README, b.name


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = "python3 -m pip install -e '.[test]' && python3 -m pytest"
    assert command in README
    assert command.replace("install -e", "install -q -e") in ci
