"""The fast path: translate checked definitions into one Python module, compiled once per year.

Every name in the generated source is ours (mangled definitions and locals, helper
functions, constants); text from rule files only ever appears through `repr` of a
string literal, so a rule file cannot inject Python. Operations call the same typed
helpers as the closure compiler (`dsl/ops.py`, `dsl/builtins.py`), which raise `EvalFailure`,
and count the same steps (`dsl/limits.py`). A failure here is always an error: the evaluation
re-runs the failing computation through the closures only to report the exact rule location
(`compiler.Evaluation._attempt`); `tests/test_two_paths.py` checks that both paths agree.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
import marshal
from typing import Any, Callable, Mapping

from mips_rules.dsl import ast
from mips_rules.dsl.builtins import BUILTINS, truth
from mips_rules.dsl.compiler import call_cost

from mips_rules.dsl import ops as _ops

HELPERS: dict[str, Callable[..., Any]] = {
    name: fn for name, fn in vars(_ops).items() if name.startswith("h_") and callable(fn)
}
HELPERS["h_truth"] = truth

# ---------------------------------------------------------------------------
# Translation
# ---------------------------------------------------------------------------

_BINARY = {"+": "h_add", "-": "h_sub", "*": "h_mul", "/": "h_div", "<": "h_lt", "<=": "h_le", ">": "h_gt",
           ">=": "h_ge"}


class CodeGen:
    def __init__(self, definitions: Mapping[str, ast.Definition], data: Mapping[str, Any], inputs: Mapping[str, Any]):
        self.definitions = definitions
        self.data = data
        self.inputs = inputs
        self.constants: dict[str, Any] = {}
        self._counter = itertools.count()

    def temp(self) -> str:
        """A fresh local name for a value tested in place (never one a rule can spell)."""
        return f"_t{next(self._counter)}"

    def const(self, value: Any) -> str:
        name = f"k{next(self._counter)}"
        self.constants[name] = value
        return name

    def module(self) -> str:
        out = []
        for name, d in self.definitions.items():
            params = ", ".join(f"l_{p}" for p in d.params or ())
            body = self.expr(d.body, frozenset(d.params or ()))
            sig = f"ev, {params}" if params else "ev"
            prefix = "f_" if d.is_function else "v_"
            out.append(f"def {prefix}{name}({sig}):\n    return {body}\n")
        return "\n".join(out)

    @staticmethod
    def _fast_equality(node: ast.Binary, left: str, right: str) -> str | None:
        """`x == "text"`, `x == none`, `x == true`: plain Python comparisons mean the same here."""
        for lit, other in ((node.right, left), (node.left, right)):
            if isinstance(lit, ast.String):
                return f"({other} == {lit.value!r})"
            if isinstance(lit, ast.Const):
                return f"({other} is {lit.value!r})"
        return None

    def expr(self, node: ast.Node, local: frozenset[str]) -> str:
        e = self.expr
        if isinstance(node, ast.Number):
            return self.const(node.value)
        if isinstance(node, ast.String):
            return repr(node.value)
        if isinstance(node, ast.Const):
            return repr(node.value)
        if isinstance(node, ast.ListLit):
            items = [e(i, local) for i in node.items]
            return "(" + "".join(f"{i}, " for i in items) + ")"
        if isinstance(node, ast.RecordLit):
            return "{" + ", ".join(f"{name!r}: {e(v, local)}" for name, v in node.fields) + "}"
        if isinstance(node, ast.Name):
            if node.name in local:
                return f"l_{node.name}"
            if node.name in self.data:
                return self.const(self.data[node.name])
            if node.name in self.inputs:
                return f"ev.inputs[{node.name!r}]"
            return f"(_C[{node.name!r}] if {node.name!r} in (_C := ev.cache) else ev.v({node.name!r}))"
        if isinstance(node, ast.Field):
            known, v = ast.static_data(node, local, self.data)
            if known:
                return self.const(v)
            # Inline the common case (a record with the field); anything else goes through the helper.
            return (f"(_o[{node.name!r}] if type(_o := {e(node.target, local)}) is dict and {node.name!r} in _o "
                    f"else h_field(_o, {node.name!r}))")
        if isinstance(node, ast.Index):
            return f"h_index({e(node.target, local)}, {e(node.key, local)})"
        if isinstance(node, ast.Unary):
            if node.op == "not":
                return f"(not h_truth({e(node.operand, local)}, '`not`'))"
            return f"h_neg({e(node.operand, local)})"
        if isinstance(node, ast.Binary):
            left, right = e(node.left, local), e(node.right, local)
            if node.op in ("and", "or"):
                a, b = self.temp(), self.temp()
                first = f"({a} if ({a} := {left}) is True or {a} is False else h_truth({a}, '`{node.op}`'))"
                second = f"({b} if ({b} := {right}) is True or {b} is False else h_truth({b}, '`{node.op}`'))"
                return f"({first} {node.op} {second})"
            if node.op in ("==", "!=") and (fast := self._fast_equality(node, left, right)) is not None:
                return fast if node.op == "==" else f"(not {fast})"
            if node.op == "==":
                return f"h_eq({left}, {right}, ev)"
            if node.op == "!=":
                return f"(not h_eq({left}, {right}, ev))"
            if node.op == "in":
                return f"h_in({left}, {right}, ev)"
            if node.op == "not in":
                return f"(not h_in({left}, {right}, ev))"
            return f"{_BINARY[node.op]}({left}, {right})"
        if isinstance(node, ast.If):
            # The condition's value tested in place (true/false); anything else is h_cond's error.
            t = self.temp()
            return (f"({e(node.then, local)} if ({t} := {e(node.cond, local)}) is True else "
                    f"({e(node.otherwise, local)} if {t} is False else h_cond({t})))")
        if isinstance(node, ast.Let):
            inner = e(node.body, local | {node.name})
            return f"(lambda l_{node.name}: {inner})({e(node.value, local)})"
        if isinstance(node, ast.Lambda):
            return f"(lambda l_{node.param}: {e(node.body, local | {node.param})})"
        if isinstance(node, ast.Call):
            loop = self._loop(node, local)
            if loop is not None:
                return loop
            args = [e(a, local) for a in node.args]
            if node.func in self.definitions:
                return f"ev.c({node.func!r}, ({''.join(a + ', ' for a in args)}))"
            if BUILTINS[node.func].metered:
                args = ["ev", str(call_cost(node)), *args]
            return f"b_{node.func}({', '.join(args)})"
        raise TypeError(f"cannot translate {type(node).__name__}")  # pragma: no cover

    _LOOPS = ("filter", "map", "sum", "count")

    def _loop(self, node: ast.Call, local: frozenset[str]) -> str | None:
        """`filter`/`map`/`sum`/`count` over `x -> …` written as a Python comprehension: no function
        call per item. The same steps (charged first), the same checks, the same messages."""
        if node.func not in self._LOOPS or node.func in self.definitions or len(node.args) != 2 \
                or not isinstance(node.args[1], ast.Lambda):
            return None
        fn: ast.Lambda = node.args[1]
        items = f"h_items(ev, {call_cost(node)}, {self.expr(node.args[0], local)}, {node.func!r})"
        var = f"l_{fn.param}"
        body = self.expr(fn.body, local | {fn.param})
        # The list is an argument of a one-off lambda: a comprehension's iterable cannot hold the
        # assignment expressions the generated code uses.
        it = self.temp()
        if node.func == "map":
            loop = f"tuple([{body} for {var} in {it}])"
        elif node.func == "sum":
            loop = f"h_sum_numbers([{body} for {var} in {it}])"
        else:
            t = self.temp()
            test = f"(({t} := {body}) is True or ({t} is not False and h_truth({t}, {node.func!r})))"
            loop = (f"tuple([{var} for {var} in {it} if {test}])" if node.func == "filter"
                    else f"Decimal(len([1 for {var} in {it} if {test}]))")
        return f"(lambda {it}: {loop})({items})"


Generated = tuple[bytes, dict[str, Any]]
"""A year's generated module, compiled (`marshal` bytes) with its constants: what a cache keeps."""


def generate(definitions: Mapping[str, ast.Definition], data: Mapping[str, Any], inputs: Mapping[str, Any],
             label: str, cached: Generated | None = None
             ) -> tuple[dict[str, Callable[..., Any]], dict[str, Callable[..., Any]], Generated] | None:
    """Compile the year's definitions to Python functions: (values, functions, the compiled module).
    `cached` is a compiled module from an earlier load of the same year and engine (it skips
    generating and compiling the source, which is most of a cached year's load)."""
    if cached is not None:
        code = marshal.loads(cached[0])
        constants = cached[1]
    else:
        gen = CodeGen(definitions, data, inputs)
        try:
            source = gen.module()
            code = compile(source, f"<rules {label}>", "exec")
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            return None  # the closures still work; only the fast path is missing
        constants = gen.constants
    namespace: dict[str, Any] = {"__builtins__": {}, "type": type, "dict": dict, "tuple": tuple, "len": len,
                                 "Decimal": Decimal}
    namespace.update(HELPERS)
    namespace.update({f"b_{name}": b.fn for name, b in BUILTINS.items()})
    namespace.update(constants)
    exec(code, namespace)  # noqa: S102 - our own generated source
    values = {name: namespace[f"v_{name}"] for name, d in definitions.items() if not d.is_function}
    functions = {name: namespace[f"f_{name}"] for name, d in definitions.items() if d.is_function}
    return values, functions, (cached[0] if cached is not None else marshal.dumps(code), constants)
