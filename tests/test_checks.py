"""Checks when a year loads: each problem is reported with file, line, column and a hint."""

from __future__ import annotations

import pytest

from mips_rules.dsl.errors import RulesError
from mips_rules.engine.years.loader import load_year


def problems(folder):
    with pytest.raises(RulesError) as err:
        load_year(None, folder)
    return err.value.diagnostics


def only(diags, fragment):
    found = [d for d in diags if fragment in d.message]
    assert found, f"no diagnostic with {fragment!r} in {[d.message for d in diags]}"
    return found[0]


def test_shipped_years_load(year_2023, year_2024):
    assert year_2023.performance_year == 2023
    assert year_2024.performance_year == 2024
    # How long loading takes is measured in benchmarks/bench.py, not asserted here.


def test_undefined_name_with_did_you_mean(year_copy):
    folder = year_copy(edits={"final.rules": [("else weights.redistribution[reweighted_in(basis)]",
                                               "else weights.redistribution[reweighted_in(basi)]")]})
    d = only(problems(folder), "undefined name `basi`")
    assert d.location.file.endswith("final.rules")
    text = (folder / "final.rules").read_text().splitlines()
    assert "(basi)" in text[d.location.line - 1]
    assert text[d.location.line - 1][d.location.column - 1:].startswith("basi)")
    assert d.hint == "did you mean `basis`?"
    assert "^^^^" in d.render()


def test_misspelt_data_entry(year_copy):
    folder = year_copy(edits={"final.rules": [("weights.redistribution_small_practice[reweighted_in(basis)]",
                                               "weights.redistributon_small_practice[reweighted_in(basis)]")]})
    d = only(problems(folder), "`weights` has no entry `redistributon_small_practice`")
    assert d.hint == "did you mean `redistribution_small_practice`?"


def test_misspelt_input_field(year_copy):
    folder = year_copy(edits={"final.rules": [("context.entity.small_practice", "context.entity.smal_practice")]})
    d = only(problems(folder), "`context.entity` has no field `smal_practice`")
    assert d.hint == "did you mean `small_practice`?"


def test_wrong_number_of_arguments(year_copy):
    folder = year_copy(edits={"final.rules": [("c -> points_in(c, basis))", "c -> points_in(c))")]})
    d = only(problems(folder), "`points_in` takes 2 argument(s) (c, basis), given 1")
    assert d.location.line > 1


def test_wrong_number_of_arguments_to_a_builtin(year_copy):
    folder = year_copy(edits={"payment.rules": [("round_half_up(unrounded_adjustment, payment.adjustment_decimals)",
                                                 "round_half_up(unrounded_adjustment, 2, 3)")]})
    d = only(problems(folder), "`round_half_up` takes 1 to 2 argument(s), given 3")
    assert "round_half_up(x, places = 0)" in d.hint


def test_duplicate_definition(year_copy):
    folder = year_copy(edits={"payment.rules": [("@source \"004_23d77edc1962e2e1.txt, How Does My MIPS Final Score "
                                                 "Determine My Payment Adjustment?\"\npayment_year",
                                                 "@source \"x\"\nfinal_score = 1\n@source \"y\"\npayment_year")]})
    d = only(problems(folder), "`final_score` is defined twice")
    assert "first defined at" in d.hint and "final.rules" in d.hint


def test_cycle_is_named(year_copy):
    folder = year_copy(edits={"final.rules": [("clamp(given, 0, program.complex_patient_bonus_max)",
                                               "clamp(given, 0, final_score)")]})
    d = only(problems(folder), "cycle")
    cycle = d.message.split(": ", 1)[1].split(" → ")
    assert cycle[0] == cycle[-1]
    assert {"final_score", "final_score_in", "complex_patient_bonus_points"} <= set(cycle)


def test_missing_source_citation(year_copy):
    folder = year_copy(edits={"payment.rules": [("@source \"004_23d77edc1962e2e1.txt, How Does My MIPS Final Score "
                                                 "Determine My Payment Adjustment?\"\npayment_year", "payment_year")]})
    d = only(problems(folder), "`payment_year` does not cite its source")
    assert "@source" in d.hint


def test_function_given_where_a_lambda_is_needed(year_copy):
    folder = year_copy(edits={"final.rules": [("filter(categories, c -> score_in(c, basis) == none)",
                                               "filter(categories, categories)")]})
    only(problems(folder), "argument 2 of `filter` must be a function")


def test_unknown_yaml_key_with_did_you_mean(year_copy):
    folder = year_copy(edits={"program.yaml": [("  unit: points\n", "  unti: points\n")]})
    d = only(problems(folder), "unknown key `unti`")
    assert d.hint == "did you mean `unit`?"
    assert d.location.file.endswith("program.yaml") and d.location.column == 3


def test_wrong_value_type(year_copy):
    folder = year_copy(edits={"program.yaml": [("  confirmed: false\n", "  confirmed: maybe\n")]})
    d = only(problems(folder), "confirmed")
    assert d.location.file.endswith("program.yaml")


def test_misspelt_row_field(year_copy):
    folder = year_copy(edits={"weights.yaml": [("weights: {quality: 55, cost: 0, ia: 15, pi: 30}",
                                                "weights: {qualty: 55, cost: 0, ia: 15, pi: 30}")]})
    d = only(problems(folder), "has a field `qualty` that row 1 does not have")
    assert d.hint == "did you mean `quality`?"


def test_redistribution_table_lacking_a_combination(year_copy):
    folder = year_copy(edits={"weights.yaml": [("    - reweighted: [pi, ia]\n      weights: {quality: 70, cost: 30, "
                                                "ia: 0, pi: 0}\n", "")]})
    diags = problems(folder)
    d = only(diags, "`weights.redistribution` lacks a row for {ia, pi}")
    assert d.location.file.endswith("weights.yaml")


def test_row_weights_must_sum_to_100(year_copy):
    folder = year_copy(edits={"weights.yaml": [("weights: {quality: 55, cost: 0, ia: 15, pi: 30}",
                                                "weights: {quality: 50, cost: 0, ia: 15, pi: 30}")]})
    only(problems(folder), "adds up to 95, not 100")


def test_rule_syntax_error_in_a_year(year_copy):
    folder = year_copy(edits={"payment.rules": [("payment_year = program.payment_year",
                                                 "payment_year = program.payment_year +")]})
    d = only(problems(folder), "syntax error")
    assert d.location.file.endswith("payment.rules")


def test_unsafe_yaml_tag_is_refused(year_copy):
    folder = year_copy(edits={"program.yaml": [("  value: 75\n", "  value: !!python/object/apply:os.system [echo]\n")]})
    only(problems(folder), "not allowed")
