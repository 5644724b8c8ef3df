"""Years that extend years: a folder holds only what changes (year.yaml: `extends: 2023`)."""

from __future__ import annotations

import shutil
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from mips_rules.dsl.errors import DataError, RuleCheckError
from mips_rules.engine.cli.commands import app
from mips_rules.engine.years.loader import fingerprint, load_year

from conftest import RULES

runner = CliRunner()


def delta(tmp_path, files: dict[str, str], base: str = "2023", name: str = "2030"):
    """rules/<base> copied beside a new folder that extends it with `files`."""
    root = tmp_path / "rules"
    shutil.copytree(RULES / "2023", root / "2023")
    folder = root / name
    folder.mkdir()
    (folder / "year.yaml").write_text(f"extends: {base}\n")
    for fname, text in files.items():
        (folder / fname).write_text(text)
    return folder


def test_2024_is_a_delta_of_2023():
    folder = RULES / "2024"
    assert (folder / "year.yaml").read_text().count("extends: 2023") == 1
    assert not (folder / "quality.rules").exists() and not (folder / "ia.yaml").exists()
    year = load_year(2024, RULES)
    ns = year.namespaces()
    assert ns["program"]["performance_year"] == 2024
    assert ns["quality"]["data_completeness_threshold"] == 75  # 2024's own
    assert ns["quality"]["case_minimum"] == 20  # inherited from 2023
    assert year.data.items["quality"]["case_minimum"].location.file.endswith("2023/quality.yaml")
    assert "decile_points" in year.definitions  # inherited
    assert year.definitions["euc_applies"].loc.file.endswith("2024/final.rules")


def test_values_rows_and_definitions_by_path_and_name(tmp_path):
    folder = delta(tmp_path, {
        "program.yaml": 'performance_year:\n  value: 2030\n  source: "test"\n'
                        'performance_threshold:\n  value: 80\n  source: "test: a higher threshold"\n',
        "weights.yaml": ('redistribution:\n  source: "test: one row changed"\n  changed_rows:\n'
                         '    - {reweighted: [], weights: {quality: 40, cost: 20, ia: 15, pi: 25}}\n'),
        "final.rules": '@source "test: a fixed bonus"\ncomplex_patient_bonus_points = 1\n',
    })
    (folder / "year.yaml").write_text("extends: 2023\nremoved_definitions: [scaling_factor]\n"
                                      "source: test\n")
    (folder / "payment.rules").write_text('@source "test"\nscaling_factor = 1\n')
    year = load_year(None, folder)
    ns = year.namespaces()
    assert ns["program"]["performance_threshold"] == 80
    weights = ns["weights"]["redistribution"]
    assert weights.get([])["weights"]["quality"] == 40  # changed row
    assert weights.get(["cost"])["weights"]["quality"] == 55  # inherited row
    # Scores: quality 60, cost 60, IA 60, PI 60 → 60 + the fixed bonus of 1.
    from mips_rules.engine.inputs.context import parse_context
    from mips_rules.engine.scoring.score import score

    report = score(year, None, parse_context({"performance_year": 2030, "category_scores":
                                              {"quality": 60, "cost": 60, "ia": 60, "pi": 60}})).report
    assert report["final_score"] == D("61.00")
    assert report["categories"]["quality"]["weight"] == 40


def test_removing_an_item_the_rules_read_is_a_check_error(tmp_path):
    folder = delta(tmp_path, {"quality.yaml": "excluded_measures:\n  removed: true\n",
                              "program.yaml": 'performance_year:\n  value: 2030\n  source: "t"\n'})
    with pytest.raises(RuleCheckError, match="`quality` has no entry `excluded_measures`") as err:
        load_year(None, folder)
    assert "quality.rules:" in err.value.render()


def test_removed_definitions_must_exist_and_repeats_are_warned(tmp_path):
    folder = delta(tmp_path, {"final.rules": '@source "004_23d77edc1962e2e1.txt, Appendix B, Table 1; 42 CFR 414.1380(c)"\n'
                                             'categories = program.categories\n'})
    (folder / "program.yaml").write_text('performance_year:\n  value: 2030\n  source: "test"\n')
    year = load_year(None, folder)
    assert any("`categories` repeats the definition it overrides" in w.message for w in year.warnings)
    (folder / "year.yaml").write_text("extends: 2023\nremoved_definitions: [no_such_rule]\n")
    with pytest.raises(RuleCheckError, match="`no_such_rule`, which the year it extends does not define"):
        load_year(None, folder)


def test_an_override_equal_to_the_inherited_item_is_a_warning(tmp_path):
    program = (RULES / "2023" / "program.yaml").read_text()
    block = program[program.index("performance_threshold:"):program.index("\n\n", program.index("performance_threshold:"))]
    folder = delta(tmp_path, {"program.yaml": 'performance_year:\n  value: 2030\n  source: "test"\n\n' + block + "\n"})
    result = runner.invoke(app, ["check", "--rules", str(folder)])
    assert result.exit_code == 0
    assert "`program.performance_threshold` repeats what it overrides" in result.output


@pytest.mark.parametrize("files, message", [
    ({"quality.yaml": "no_such_item:\n  removed: true\n"}, "changes or removes an item the year it extends does not have"),
    ({"weights.yaml": 'redistribution:\n  source: "x"\n  changed_rows:\n'
                      '    - {reweighted: [], weights: {quality: 40, cost: 20, ia: 15, pi: 5}}\n'}, "adds up to 80, not 100"),
    ({"weights.yaml": 'redistribution:\n  source: "x"\n  removed_rows: [[quality, cost, ia, pi, x]]\n'},
     "removes a row"),
    ({"quality.yaml": "case_minimum:\n  removed: true\n  rows: []\n"}, "unknown key `rows`"),
])
def test_bad_changes_to_inherited_items(tmp_path, files, message):
    folder = delta(tmp_path, {**files, "program.yaml": 'performance_year:\n  value: 2030\n  source: "t"\n'})
    with pytest.raises(DataError, match=message):
        load_year(None, folder)


def test_extending_in_a_circle_or_nowhere_is_an_error(tmp_path):
    root = tmp_path / "rules"
    for name, parent in (("2031", "2032"), ("2032", "2031")):
        (root / name).mkdir(parents=True)
        (root / name / "year.yaml").write_text(f"extends: {parent}\n")
    with pytest.raises(DataError, match="extend each other in a circle"):
        load_year(None, root / "2031")
    (root / "2031" / "year.yaml").write_text("extends: 1999\n")
    with pytest.raises(DataError, match="no such year folder"):
        load_year(None, root / "2031")


def test_the_fingerprint_covers_the_year_extended(tmp_path):
    folder = delta(tmp_path, {"program.yaml": 'performance_year:\n  value: 2030\n  source: "t"\n'})
    before = fingerprint(folder)
    parent = tmp_path / "rules" / "2023" / "quality.yaml"
    parent.write_text(parent.read_text() + "\n# edited\n")
    assert fingerprint(folder) != before


def test_the_fingerprint_is_the_rules_not_the_folders_they_were_read_from(tmp_path):
    """The same layers give the same fingerprint however `extends` names the year below (by year, by
    a relative path, or by the absolute path a `--set` reform writes): on any machine, in any folder.
    What a year.yaml says besides, and every other file, still counts."""
    from mips_rules.engine.workbench.reform import reform_year

    program = {"program.yaml": 'performance_year:\n  value: 2030\n  source: "t"\n'}
    by_year = fingerprint(delta(tmp_path / "a", program))
    by_relative = fingerprint(delta(tmp_path / "b", program, base="../2023"))
    by_absolute = fingerprint(delta(tmp_path / "c", program, base=str(tmp_path / "c" / "rules" / "2023")))
    assert by_year == by_relative == by_absolute
    noted = delta(tmp_path / "d", program)
    (noted / "year.yaml").write_text("extends: 2023\nnote: another note\n")
    assert fingerprint(noted) != by_year
    shutil.copytree(RULES / "2024", tmp_path / "e" / "2024")
    shutil.copytree(RULES / "2023", tmp_path / "e" / "2023")
    here = reform_year(load_year(2024), ["program.performance_threshold=80"])
    there = reform_year(load_year(None, tmp_path / "e" / "2024"), ["program.performance_threshold=80"])
    assert here.fingerprint == there.fingerprint != load_year(2024).fingerprint


def test_show_names_where_a_value_comes_from():
    inherited = runner.invoke(app, ["show", "quality.case_minimum", "--year", "2024"])
    assert "inherited from 2023" in inherited.output
    own = runner.invoke(app, ["show", "quality.data_completeness_threshold", "--year", "2024"])
    assert "from 2024 (set in this year)" in own.output
