"""dsl/dependencies.py: the inputs each definition reads, through the definitions it uses; local
names and data namespaces shadow inputs as the compiler resolves them."""

from __future__ import annotations

from mips_rules.dsl.dependencies import inputs_read
from mips_rules.dsl.parser import parse_rules


def test_inputs_read_through_values_functions_and_shadowing():
    defs = {d.name: d for d in parse_rules("""
a = submission.x + 1
b = a * 2
f(context) = context + 1
c = f(3) + b
d = let submission = 5; submission + program.limit
e = map([1, 2], submission -> submission + 1)
g = context.y and c
h = 42
""", "t.rules")}
    read = inputs_read(defs, {"program": {"limit": 1}}, frozenset({"submission", "context"}))
    assert read["a"] == read["b"] == read["c"] == {"submission"}
    assert read["f"] == frozenset()  # its parameter shadows the input
    assert read["d"] == read["e"] == read["h"] == frozenset()
    assert read["g"] == {"submission", "context"}
