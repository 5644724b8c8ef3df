"""Static checks of a year's definitions before anything is compiled.

Finds duplicate definitions, undefined names (with "did you mean"), wrong
argument counts, misplaced `x -> …` functions, unknown fields of the year's
data and of the inputs, missing citations, and cycles between definitions;
then type-checks the rules against the year's data (`dsl/types.py`): fields
no row has, fields null in some rows used unguarded, text where a number belongs.
Every problem is collected, so an analyst sees them all in one run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from mips_rules.dsl import ast
from mips_rules.dsl.builtins import BUILTINS
from mips_rules.dsl.errors import Diagnostic, Location, did_you_mean
from mips_rules.dsl.types import typecheck
from mips_rules.dsl.values import Table

# A shape describes the fields of an input record: a mapping of field → shape, or None when unknown.
Shape = Mapping[str, Any] | None


@dataclass
class Scope:
    """Everything a definition body may name, besides its own parameters."""

    definitions: dict[str, ast.Definition]
    data: Mapping[str, Any]  # data namespaces: file stem → record of items
    inputs: Mapping[str, Shape]  # input roots (submission, context …) → their shape

    def visible_names(self) -> list[str]:
        return [*self.definitions, *self.data, *self.inputs, *BUILTINS]


@dataclass
class CheckResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    dependencies: dict[str, set[str]] = field(default_factory=dict)

    def error(self, message: str, loc: Location | None, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(message, loc, hint))


def collect_definitions(defs: list[ast.Definition], reserved: Mapping[str, str],
                        result: CheckResult) -> dict[str, ast.Definition]:
    """Index definitions by name, reporting duplicates and clashes with reserved names."""
    table: dict[str, ast.Definition] = {}
    for d in defs:
        if d.name in reserved:
            result.error(f"`{d.name}` is already the name of {reserved[d.name]}; choose another name", d.loc)
            continue
        if d.name in table:
            first = table[d.name]
            result.error(f"`{d.name}` is defined twice", d.loc, f"first defined at {first.loc}")
            continue
        table[d.name] = d
    return table


def check(defs: list[ast.Definition], data: Mapping[str, Any], inputs: Mapping[str, Shape],
          *, require_source: bool = True) -> CheckResult:
    result = CheckResult()
    reserved = {**{n: "a data file" for n in data}, **{n: "an input" for n in inputs},
                **{n: "a built-in function" for n in BUILTINS}}
    scope = Scope(collect_definitions(defs, reserved, result), data, inputs)
    for d in scope.definitions.values():
        if require_source and not d.source:
            result.error(f"`{d.name}` does not cite its source", d.loc,
                         'add a line `@source "<seed file>, <section>"` above the definition')
        for key in d.annotations:
            if key not in ("source", "unconfirmed", "note", "unit"):
                result.error(f"unknown annotation `@{key}`", d.loc,
                             _hint(key, ["source", "unconfirmed", "note", "unit"]))
        params = d.params or ()
        if len(set(params)) != len(params):
            result.error(f"`{d.name}` has a repeated parameter name", d.loc)
        deps: set[str] = set()
        _walk(d.body, frozenset(params), scope, result, deps)
        result.dependencies[d.name] = deps
    _find_cycles(scope.definitions, result)
    # Types last: what the data holds against what the rules do with it (dsl/types.py).
    result.diagnostics.extend(typecheck(scope.definitions, data, inputs, result.diagnostics))
    return result


def _hint(name: str, candidates: list[str] | Any) -> str | None:
    guess = did_you_mean(name, candidates)
    return f"did you mean `{guess}`?" if guess else None


def _walk(node: ast.Node, local: frozenset[str], scope: Scope, result: CheckResult, deps: set[str]) -> None:
    if isinstance(node, ast.Name):
        _check_name(node, local, scope, result, deps)
        return
    if isinstance(node, ast.Lambda):
        result.error("a function `x -> …` can only be given to a built-in such as map, filter, sum or sort",
                     node.loc)
        _walk(node.body, local | {node.param}, scope, result, deps)
        return
    if isinstance(node, ast.Call):
        _check_call(node, local, scope, result, deps)
        return
    if isinstance(node, ast.Let):
        _walk(node.value, local, scope, result, deps)
        _walk(node.body, local | {node.name}, scope, result, deps)
        return
    if isinstance(node, ast.Field) and _check_field_chain(node, local, scope, result):
        return
    if isinstance(node, ast.Binary) and node.op == "/":
        _check_divisor(node.right, scope, result)
    for child in ast.children(node):
        _walk(child, local, scope, result, deps)


def _check_name(node: ast.Name, local: frozenset[str], scope: Scope, result: CheckResult, deps: set[str]) -> None:
    name = node.name
    if name in local or name in scope.data or name in scope.inputs:
        return
    d = scope.definitions.get(name)
    if d is not None:
        deps.add(name)
        if d.is_function:
            result.error(f"`{name}` is a function of {len(d.params or ())} argument(s); call it as "
                         f"`{name}({', '.join(d.params or ())})`", node.loc)
        return
    if name in BUILTINS:
        result.error(f"`{name}` is a built-in function; call it as `{BUILTINS[name].signature}`", node.loc)
        return
    result.error(f"undefined name `{name}`", node.loc, _hint(name, [*local, *scope.visible_names()]))


def _check_call(node: ast.Call, local: frozenset[str], scope: Scope, result: CheckResult, deps: set[str]) -> None:
    name, args = node.func, node.args
    lambda_positions: frozenset[int] = frozenset()
    if name in scope.definitions:
        d = scope.definitions[name]
        deps.add(name)
        if not d.is_function:
            result.error(f"`{name}` is a value, not a function; write `{name}` without arguments", node.loc)
        elif len(args) != len(d.params or ()):
            result.error(f"`{name}` takes {len(d.params or ())} argument(s) ({', '.join(d.params or ())}), "
                         f"given {len(args)}", node.loc, f"defined at {d.loc}")
    elif name in BUILTINS:
        b = BUILTINS[name]
        lambda_positions = b.lambda_args
        too_few = len(args) < b.min_args
        too_many = b.max_args is not None and len(args) > b.max_args
        if too_few or too_many:
            expected = (str(b.min_args) if b.max_args == b.min_args else
                        f"{b.min_args} or more" if b.max_args is None else f"{b.min_args} to {b.max_args}")
            result.error(f"`{name}` takes {expected} argument(s), given {len(args)}", node.loc,
                         f"usage: {b.signature}")
    else:
        result.error(f"undefined function `{name}`", node.loc,
                     _hint(name, [*BUILTINS, *(n for n, d in scope.definitions.items() if d.is_function)]))
    for i, arg in enumerate(args):
        if i in lambda_positions:
            if isinstance(arg, ast.Lambda):
                _walk(arg.body, local | {arg.param}, scope, result, deps)
            else:
                result.error(f"argument {i + 1} of `{name}` must be a function such as `x -> x.points`", arg.loc)
                _walk(arg, local, scope, result, deps)
        else:
            _walk(arg, local, scope, result, deps)


def _static_number(node: ast.Node, scope: Scope) -> Any:
    """The value of a literal or a `data.item` chain, when the year's data fixes it."""
    if isinstance(node, ast.Number):
        return node.value
    if isinstance(node, ast.Unary) and node.op == "-":
        inner = _static_number(node.operand, scope)
        return -inner if isinstance(inner, Decimal) else None  # `-` of a list or a text fails when scored
    chain = _field_chain(node)
    if chain is not None and chain[0] in scope.data:
        value: Any = scope.data[chain[0]]
        for f in chain[1]:
            if not isinstance(value, dict) or f.name not in value:
                return None
            value = value[f.name]
        return value
    return None


def _check_divisor(divisor: ast.Node, scope: Scope, result: CheckResult) -> None:
    """A division by a value the year's data makes zero can only fail: flag it when the year loads."""
    from decimal import Decimal

    value = _static_number(divisor, scope)
    if isinstance(value, Decimal) and value == 0:
        result.error("division by zero: the divisor is 0 in this year's data", divisor.loc,
                     "guard it with `if … == 0 then … else …`, or fix the value")


def _field_chain(node: ast.Node) -> tuple[str, list[ast.Field]] | None:
    """`a.b.c` as ("a", [Field b, Field c]) when the chain starts at a plain name."""
    chain: list[ast.Field] = []
    while isinstance(node, ast.Field):
        chain.append(node)
        node = node.target
    if isinstance(node, ast.Name):
        return node.name, list(reversed(chain))
    return None


def _check_field_chain(node: ast.Field, local: frozenset[str], scope: Scope, result: CheckResult) -> bool:
    """Check `data.x.y` against the year's data and `context.x.y` against the input shape.

    Returns True when the whole chain was checked (the caller need not descend).
    """
    chain = _field_chain(node)
    if chain is None:
        return False
    root, fields = chain
    if root in local:
        return False
    if root in scope.data:
        _check_static_chain(root, scope.data[root], fields, result)
        return True
    if root in scope.inputs:
        _check_shape_chain(root, scope.inputs[root], fields, result)
        return True
    return False


def _check_static_chain(root: str, value: Any, fields: list[ast.Field], result: CheckResult) -> None:
    path = root
    for f in fields:
        if isinstance(value, Table):
            result.error(f"`{path}` is a table; look a row up with `{path}[key]`", f.loc)
            return
        if not isinstance(value, dict):
            from mips_rules.dsl.values import type_name

            result.error(f"`{path}` is a {type_name(value)}, not a record: it has no `{f.name}`", f.loc)
            return
        if f.name not in value:
            result.error(f"`{path}` has no entry `{f.name}`", f.loc, _hint(f.name, list(value)))
            return
        value = value[f.name]
        path = f"{path}.{f.name}"


def _check_shape_chain(root: str, shape: Shape, fields: list[ast.Field], result: CheckResult) -> None:
    path = root
    for f in fields:
        if not isinstance(shape, Mapping):
            return
        if f.name not in shape:
            result.error(f"`{path}` has no field `{f.name}`", f.loc, _hint(f.name, list(shape)))
            return
        shape = shape[f.name]
        path = f"{path}.{f.name}"


def _find_cycles(defs: Mapping[str, ast.Definition], result: CheckResult) -> None:
    """Report each cycle once, naming it `a → b → c → a`."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []
    reported: set[frozenset[str]] = set()

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for dep in sorted(result.dependencies.get(name, ())):
            if dep not in defs:
                continue
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    result.error("definitions depend on each other in a cycle: " + " → ".join(cycle),
                                 defs[dep].loc, "a rule cannot use its own result; break the cycle")
            elif state.get(dep) is None:
                visit(dep)
        stack.pop()
        state[name] = 2

    for name in defs:
        if name not in state:
            visit(name)
