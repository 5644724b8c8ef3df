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
from mips_rules.dsl.compiler import HOIST_AT, ast_depth, ast_size, call_cost

from mips_rules.dsl import ops as _ops

HELPERS: dict[str, Callable[..., Any]] = {
    name: fn for name, fn in vars(_ops).items() if name.startswith("h_") and callable(fn)
}
HELPERS["h_truth"] = truth
_PLAIN = frozenset({str, Decimal, bool, type(None)})  # arguments `Evaluation.c` memoises calls with

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
        self.direct = False

    def temp(self) -> str:
        """A fresh local name for a value tested in place (never one a rule can spell)."""
        return f"_t{next(self._counter)}"

    def const(self, value: Any) -> str:
        name = f"k{next(self._counter)}"
        self.constants[name] = value
        return name

    def module(self) -> str:
        self.direct = self.nesting_bound() <= HOIST_AT
        out = ["DIRECT = True\n"] if self.direct else []
        for name, d in self.definitions.items():
            params = ", ".join(f"l_{p}" for p in d.params or ())
            body = self.expr(d.body, {p: (f"l_{p}", False) for p in d.params or ()})
            sig = f"ev, {params}" if params else "ev"
            if self.direct:
                out.append(self._direct(name, d, sig, body))
            else:
                prefix = "f_" if d.is_function else "v_"
                out.append(f"def {prefix}{name}({sig}):\n    return {body}\n")
        return "\n".join(out)

    @staticmethod
    def _direct(name: str, d: ast.Definition, sig: str, body: str) -> str:
        """A definition that does what `Evaluation.v`/`c` do around it — memoise (calls with plain
        arguments only), charge its steps, note where a failure happened — without the generic
        call: one Python call per computed definition."""
        size = ast_size(d.body)
        lines = [f"def {'F_' if d.is_function else 'V_'}{name}({sig}):"]
        if d.is_function:
            args = [f"l_{p}" for p in d.params or ()]
            plain = " and ".join(f"type({a}) in _PLAIN" for a in args) or "True"
            # `ops.memo_key`'s key: numbers' digits are part of it (75 and 75.00 are other calls)
            listed = f"({''.join(a + ', ' for a in args)})"
            key = f"({name!r}, {listed})"
            if args:
                no_number = " and ".join(f"type({a}) is not Decimal" for a in args)
                key = f"({key} if {no_number} else ({name!r}, {listed}, h_digits({listed})))"
            lines += [f"    if {plain}:",
                      f"        _k = {key}",
                      "        if _k in (_C := ev.cache):",
                      "            return _C[_k]",
                      "    else:",
                      "        _k = None"]
            where = key
        else:
            where = f"({name!r}, None)"
        lines += [f"    ev.steps -= {size}",
                  "    if ev.steps < 0:",
                  "        ev.charge(0)",
                  "    try:",
                  f"        _r = {body}",
                  "    except Exception:",
                  "        if ev.failed_in is None:",
                  f"            ev.failed_in = {where}",
                  "        raise"]
        if d.is_function:
            lines += ["    if _k is not None:", "        ev.cache[_k] = _r"]
        else:
            lines += [f"    ev.cache[{name!r}] = _r"]
        lines += ["    return _r", ""]
        return "\n".join(lines)

    def nesting_bound(self) -> int:
        """The deepest nesting any evaluation can reach (`compiler.HOIST_AT`'s units): definitions
        form no cycle and functions take no functions, so a chain of calls follows the
        definitions' references. Within HOIST_AT nothing is ever hoisted, on either path, and the
        generated code calls definitions directly."""
        deps: dict[str, set[str]] = {}
        for name, d in self.definitions.items():
            found: set[str] = set()
            stack: list[ast.Node] = [d.body]
            while stack:
                node = stack.pop()
                if isinstance(node, ast.Name) and node.name in self.definitions:
                    found.add(node.name)
                elif isinstance(node, ast.Call) and node.func in self.definitions:
                    found.add(node.func)
                stack.extend(ast.children(node))
            deps[name] = found
        reach: dict[str, int] = {}
        for root in self.definitions:
            todo = [(root, False)]
            active: set[str] = set()
            while todo:
                name, done = todo.pop()
                if done:
                    active.discard(name)
                    reach[name] = 3 + ast_depth(self.definitions[name].body) + max(
                        (reach[c] for c in deps[name]), default=0)
                    continue
                if name in reach:
                    continue
                if name in active:
                    return HOIST_AT + 1  # a cycle (refused by the checker): never call directly
                active.add(name)
                todo.append((name, True))
                todo.extend((c, False) for c in deps[name] if c not in reach)
        return max(reach.values(), default=0)

    @staticmethod
    def _fast_equality(node: ast.Binary, left: str, right: str) -> str | None:
        """`x == "text"`, `x == none`, `x == true`: plain Python comparisons mean the same here."""
        for lit, other_node, other in ((node.right, node.left, left), (node.left, node.right, right)):
            if isinstance(lit, ast.String):
                return f"({other} == {lit.value!r})"
            if isinstance(lit, ast.Const):
                # A text literal is never true, false or none: `==` says so without `is` on a literal
                return f"({other} {'==' if isinstance(other_node, ast.String) else 'is'} {lit.value!r})"
        return None

    # Expressions whose value is always true or false (or a failure): tested without a check.
    _BOOL_OPS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "not in", "and", "or"})
    _BOOL_CALLS = frozenset({"any", "all", "has", "contains_text"})

    def is_bool(self, node: ast.Node, scope: Scope) -> bool:
        if isinstance(node, ast.Const):
            return node.value is True or node.value is False
        if isinstance(node, ast.Binary):
            return node.op in self._BOOL_OPS
        if isinstance(node, ast.Unary):
            return node.op == "not"
        if isinstance(node, ast.Name):
            return node.name in scope and scope[node.name][1]
        if isinstance(node, ast.If):
            return self.is_bool(node.then, scope) and self.is_bool(node.otherwise, scope)
        if isinstance(node, ast.Let):
            return self.is_bool(node.body, {**scope, node.name: ("", self.is_bool(node.value, scope))})
        if isinstance(node, ast.Call):
            return node.func not in self.definitions and node.func in self._BOOL_CALLS
        return False

    def truth(self, node: ast.Node, scope: Scope, what: str) -> str:
        """`node` as a Python bool: as it is when it is always one, else checked (`h_truth`'s error)."""
        code = self.expr(node, scope)
        if self.is_bool(node, scope):
            return code
        t = self.temp()
        return f"({t} if ({t} := {code}) is True or {t} is False else h_truth({t}, {what!r}))"

    def expr(self, node: ast.Node, local: Scope) -> str:
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
                return local[node.name][0]
            if node.name in self.data:
                return self.const(self.data[node.name])
            if node.name in self.inputs:
                return f"ev.inputs[{node.name!r}]"
            fallback = f"V_{node.name}(ev)" if self.direct else f"ev.v({node.name!r})"
            return f"(_C[{node.name!r}] if {node.name!r} in (_C := ev.cache) else {fallback})"
        if isinstance(node, ast.Field):
            known, v = ast.static_data(node, frozenset(local), self.data)
            if known:
                return self.const(v)
            # Inline the common case (a record with the field); anything else goes through the helper.
            return (f"(_o[{node.name!r}] if type(_o := {e(node.target, local)}) is dict and {node.name!r} in _o "
                    f"else h_field(_o, {node.name!r}))")
        if isinstance(node, ast.Index):
            return f"h_index({e(node.target, local)}, {e(node.key, local)})"
        if isinstance(node, ast.Unary):
            if node.op == "not":
                if self.is_bool(node.operand, local):
                    return f"(not {e(node.operand, local)})"
                return f"(not h_truth({e(node.operand, local)}, '`not`'))"
            return f"h_neg({e(node.operand, local)})"
        if isinstance(node, ast.Binary):
            if node.op in ("and", "or"):
                what = f"`{node.op}`"
                return f"({self.truth(node.left, local, what)} {node.op} {self.truth(node.right, local, what)})"
            left, right = e(node.left, local), e(node.right, local)
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
            then, otherwise = e(node.then, local), e(node.otherwise, local)
            if self.is_bool(node.cond, local):
                return f"({then} if {e(node.cond, local)} else {otherwise})"
            # The condition's value tested in place (true/false); anything else is h_cond's error.
            t = self.temp()
            return (f"({then} if ({t} := {e(node.cond, local)}) is True else "
                    f"({otherwise} if {t} is False else h_cond({t})))")
        if isinstance(node, ast.Let):
            # An assignment expression under a name of its own (never one a rule can spell, never
            # reused): no function call, and no clash with any other name in the function.
            name = f"l{next(self._counter)}_{node.name}"
            inner = e(node.body, {**local, node.name: (name, self.is_bool(node.value, local))})
            return f"({name} := {e(node.value, local)}, {inner})[1]"
        if isinstance(node, ast.Lambda):
            return f"(lambda l_{node.param}: {e(node.body, {**local, node.param: (f'l_{node.param}', False)})})"
        if isinstance(node, ast.Call):
            loop = self._loop(node, local)
            if loop is not None:
                return loop
            args = [e(a, local) for a in node.args]
            if node.func in self.definitions:
                if self.direct:
                    return f"F_{node.func}(ev, {', '.join(args)})"
                return f"ev.c({node.func!r}, ({''.join(a + ', ' for a in args)}))"
            if BUILTINS[node.func].metered:
                args = ["ev", str(call_cost(node)), *args]
            return f"b_{node.func}({', '.join(args)})"
        raise TypeError(f"cannot translate {type(node).__name__}")  # pragma: no cover

    _LOOPS = ("filter", "map", "sum", "count", "any", "all", "find")

    def _loop(self, node: ast.Call, local: Scope) -> str | None:
        """`filter`/`map`/`sum`/`count`/`any`/`all`/`find` over `x -> …` written as a Python
        comprehension or generator: no function call per item. The same steps (charged first), the
        same checks, the same messages, and `any`/`all`/`find` stop at the same item."""
        if node.func not in self._LOOPS or node.func in self.definitions or len(node.args) != 2 \
                or not isinstance(node.args[1], ast.Lambda):
            return None
        fn: ast.Lambda = node.args[1]
        items = f"h_items(ev, {call_cost(node)}, {self.expr(node.args[0], local)}, {node.func!r})"
        var = f"l_{fn.param}"
        inner = {**local, fn.param: (var, False)}
        # The list is held by a name of its own: a comprehension's iterable cannot hold the
        # assignment expressions the generated code uses.
        it = self.temp()
        if node.func == "map":
            loop = f"tuple([{self.expr(fn.body, inner)} for {var} in {it}])"
        elif node.func == "sum":
            loop = f"h_sum_numbers([{self.expr(fn.body, inner)} for {var} in {it}])"
        else:
            test = self.truth(fn.body, inner, node.func)
            if node.func == "filter":
                loop = f"tuple([{var} for {var} in {it} if {test}])"
            elif node.func == "count":
                loop = f"Decimal(len([1 for {var} in {it} if {test}]))"
            elif node.func == "any":
                loop = f"any({test} for {var} in {it})"
            elif node.func == "all":
                loop = f"all({test} for {var} in {it})"
            else:
                loop = f"next(({var} for {var} in {it} if {test}), None)"
        return f"({it} := {items}, {loop})[1]"


Scope = Mapping[str, tuple[str, bool]]
"""The local names in reach: a rule's name → (its Python name, whether it always holds true or false)."""

Generated = tuple[bytes, dict[str, Any]]
"""A year's generated module, compiled (`marshal` bytes) with its constants: what a cache keeps."""


def generate(definitions: Mapping[str, ast.Definition], data: Mapping[str, Any], inputs: Mapping[str, Any],
             label: str, cached: Generated | None = None
             ) -> tuple[dict[str, Callable[..., Any]], dict[str, Callable[..., Any]], Generated, bool] | None:
    """Compile the year's definitions to Python functions: (values, functions, the compiled module,
    whether they are direct: memoise and charge for themselves, see `CodeGen._direct`).
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
                                 "any": any, "all": all, "next": next, "Decimal": Decimal, "_PLAIN": _PLAIN}
    namespace.update(HELPERS)
    namespace.update({f"b_{name}": b.fn for name, b in BUILTINS.items()})
    namespace.update(constants)
    exec(code, namespace)  # noqa: S102 - our own generated source
    direct = namespace.get("DIRECT") is True
    v, f = ("V_", "F_") if direct else ("v_", "f_")
    values = {name: namespace[f"{v}{name}"] for name, d in definitions.items() if not d.is_function}
    functions = {name: namespace[f"{f}{name}"] for name, d in definitions.items() if d.is_function}
    return values, functions, (cached[0] if cached is not None else marshal.dumps(code), constants), direct

