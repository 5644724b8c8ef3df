"""dsl/trace.py: an evaluation recorded over traced numbers replays exactly, or not at all."""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal as D

import pytest

from mips_rules.dsl.compiler import RULE_DECIMAL_CONTEXT
from mips_rules.dsl.trace import Traced, trace


def _tuple_of(result, ref):
    return "(" + "".join(ref(v) + ", " for v in result) + ")"


def _weighted(xs):
    """A final-score-like computation: weights, a cap, rounding half up, a threshold."""
    total = sum((x * w / 100 for x, w in zip(xs, (D(30), D(30), D(15), D(25)))), D(0))
    total = min(total + xs[4], D(100))
    final = total.quantize(D("0.01"), rounding=ROUND_HALF_UP)
    return final, ("positive" if final >= 75 else "negative"), abs(final - 75)


def _numbers(r: random.Random, n: int) -> list[D]:
    picks = [lambda: D(r.randint(0, 100)), lambda: D(f"{r.uniform(0, 100):.2f}"), lambda: D("75"),
             lambda: D("75.00"), lambda: D(f"{r.uniform(0, 100):.4f}"), lambda: D(0)]
    return [r.choice(picks)() for _ in range(n)]


def test_a_tape_replays_to_the_digit_or_says_no():
    import decimal

    r = random.Random(3)
    with decimal.localcontext(RULE_DECIMAL_CONTEXT):
        first = [D("80.5"), D("90"), D("40"), D("100"), D("3.2")]
        recorded, tape = trace(first, _weighted, _tuple_of)
        assert recorded == _weighted(first)
        assert all(not isinstance(v, Traced) for v in tape.replay(tuple(first)))
        fitted = 0
        for _ in range(3000):
            xs = _numbers(r, 5)
            got = tape.replay(tuple(xs))
            if got is None:
                continue
            fitted += 1
            want = _weighted(xs)
            assert [str(g) for g in got] == [str(w) for w in want]  # the digits too (75 vs 75.00)
        assert fitted > 200


def test_whatever_else_reads_a_number_pins_it():
    """Text, an integer, a hash: the tape holds only for the same number, digit for digit."""
    import decimal

    with decimal.localcontext(RULE_DECIMAL_CONTEXT):
        _, tape = trace([D("2")], lambda xs: (str(xs[0]), {D(2): "two"}.get(xs[0]), int(xs[0] * 3)), _tuple_of)
        assert tape.replay((D("2"),)) == ("2", "two", 6)
        assert tape.replay((D("2.0"),)) is None  # str() differs
        assert tape.replay((D("3"),)) is None
        _, tape = trace([D("2")], lambda xs: ({D(2): "two"}.get(xs[0]),), _tuple_of)
        assert tape.replay((D("2.00"),)) == ("two",)  # a hash pins the value, not the digits
        assert tape.replay((D("2.01"),)) is None


def test_a_trapped_condition_is_the_callers_to_report():
    import decimal

    with decimal.localcontext(RULE_DECIMAL_CONTEXT):
        _, tape = trace([D("4"), D("2")], lambda xs: (xs[0] / xs[1],), _tuple_of)
        assert tape.replay((D("9"), D("3"))) == (D("3"),)
        with pytest.raises(decimal.DivisionByZero):
            tape.replay((D("9"), D("0")))


def test_an_operation_or_guard_met_again_is_written_once():
    """Slots are written once and one decimal context holds: `x * 3` computed twice is one line, and
    `x * 3 > 10` tested twice is one guard."""
    import decimal

    def twice(xs):
        first, second = xs[0] * 3, xs[0] * 3
        return (first if first > 10 else D(0), second if second > 10 else D(1))

    with decimal.localcontext(RULE_DECIMAL_CONTEXT):
        recorded, tape = trace([D("4")], twice, _tuple_of)
        assert recorded == (D(12), D(12))
        assert tape.source.count(" * ") == 1 and tape.source.count("append(None)") == 1
        assert tape.replay((D("5"),)) == (D(15), D(15)) and tape.replay((D("3"),)) is None


def test_a_loop_of_replays_gives_each_replay():
    """`replay_many` gives what `replay` gives for each item — to the digit, None where a guard
    fails — and TRAPPED where a replay raises, going on with the next item."""
    import decimal

    from mips_rules.dsl.trace import TRAPPED

    def rule(xs):
        total = xs[0] + xs[1]
        return (total / xs[1], (total * 2).quantize(D("0.01"), rounding=decimal.ROUND_HALF_UP)) \
            if total > 10 else (D(0), D(0))

    with decimal.localcontext(RULE_DECIMAL_CONTEXT):
        _, tape = trace([D("8"), D("4")], rule, _tuple_of)
        items = [(D("8"), D("4")), (D("1"), D("2")), (D("11.000"), D("0")), (D("7.5"), D("3.50")), (D("20"),)]
        many = tape.replay_many(items)
        assert many[:2] == [tape.replay(items[0]), None]
        assert many[2] is TRAPPED and many[4] is TRAPPED  # division by zero; numbers of another form
        assert many[3] == tape.replay(items[3]) == (D("11.0") / D("3.50"), D("22.00"))
        assert str(many[3][1]) == "22.00"
