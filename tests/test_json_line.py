"""A batch line is written by the json module's C encoder (`render.to_json_line`): byte for byte
what the report writer (`render.to_json`, indent=None) writes, whatever the value holds."""

from __future__ import annotations

import json
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from mips_rules.engine.populations.synth import Synthesizer
from mips_rules.engine.scoring.render import to_json, to_json_line

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(), st.sampled_from(["\x00", "a\x00b", "\\u0000", '"\x00D1"']),
    st.decimals(allow_nan=False, allow_infinity=False), st.floats(),
    st.sampled_from([D("-0"), D("1E+5"), D("0.000001"), D("-12.3456789"), D("1.005"), D("2.5E-7")]),
)
_keys = st.one_of(st.text(max_size=5), st.sampled_from(["\x00D1", "a\x00"]), st.booleans(), st.none(),
                  st.integers(-3, 3))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(_keys, inner, max_size=4),
                                                         st.tuples(inner, inner)), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_any_value_is_written_as_the_report_writer_writes_it(value):
    assert _outcome(to_json_line, value) == _outcome(lambda v: to_json(v, indent=None), value)


def _outcome(write, value):
    try:
        return write(value)
    except ArithmeticError as exc:  # a number too long to format: refused alike
        return type(exc)


def test_batch_lines_are_the_writers(year_2024):
    from mips_rules.engine.populations.batch import score_record

    records = [json.loads(json.dumps(r), parse_float=D) for r in Synthesizer(year_2024, 2).records(60)]
    lines = [score_record(year_2024, r, n) for n, r in enumerate(records, 1)]
    assert any("error" not in line for line in lines)
    for line in lines:
        assert to_json_line(line) == to_json(line, indent=None)
