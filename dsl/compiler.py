"""Compile checked definitions into Python closures, once, when a year loads.

Scoring a submission then only calls closures: no parsing, no tree walking
of source text. Each definition's value is computed at most once per
evaluation (memoised), and each function call with hashable arguments too.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping

from mips_rules.dsl import ast, ops
from mips_rules.dsl.builtins import BUILTINS, truth
from mips_rules.dsl.errors import Diagnostic, EvaluationError, Location
from mips_rules.dsl.values import EvalFailure, Table, type_name

# Arithmetic for every evaluation: 34 significant digits, exact where the
# inputs allow; rounding happens only through the rounding built-ins.
RULE_DECIMAL_CONTEXT = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN,
                                       traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])

MAX_CALL_DEPTH = 200


class Frame:
    """What a compiled expression sees: the evaluation and the local names."""

    __slots__ = ("ev", "locals")

    def __init__(self, ev: "Evaluation", locals_: dict[str, Any]):
        self.ev = ev
        self.locals = locals_


Code = Callable[[Frame], Any]


@dataclass
class CompiledRules:
    """A year's definitions, compiled. Make an `Evaluation` per submission."""

    definitions: dict[str, ast.Definition]
    values: dict[str, Code] = field(default_factory=dict)
    functions: dict[str, tuple[tuple[str, ...], Code]] = field(default_factory=dict)
    data_refs: dict[str, list[str]] = field(default_factory=dict)  # definition → data items it reads
    fast_values: dict[str, Callable[..., Any]] | None = None  # generated Python (dsl/codegen.py)
    fast_functions: dict[str, Callable[..., Any]] | None = None

    def evaluate(self, inputs: Mapping[str, Any], *, trace: bool = False) -> "Evaluation":
        return Evaluation(self, dict(inputs), trace=trace)


@dataclass(eq=False)
class TraceEntry:
    """One computed definition (or a table row it looked up): for explanations."""

    name: str
    args: tuple[Any, ...] | None
    value: Any
    uses: list["TraceEntry"] = field(default_factory=list)
    kind: str = "rule"


class Evaluation:
    """The values of one submission's definitions, computed on demand and memoised.

    Without tracing it runs the generated Python (the fast path); a failure there is
    re-run through the closures, which say exactly where in the rules it happened.
    With tracing it runs the closures and records what each definition used.
    """

    def __init__(self, rules: CompiledRules, inputs: dict[str, Any], *, trace: bool = False):
        self.rules = rules
        self.inputs = inputs
        self.cache: dict[Any, Any] = {}
        self.depth = 0
        self.trace_on = trace
        self.fast = not trace and rules.fast_values is not None
        self.trace_stack: list[TraceEntry] = [TraceEntry("<root>", None, None)] if trace else []
        self.trace_index: dict[Any, TraceEntry] = {}

    # -- public API -------------------------------------------------------
    def value(self, name: str) -> Any:
        """A definition's value (memoised). Sets the rules' decimal context for the whole computation."""
        if name in self.cache:
            if self.trace_on:
                self._reuse(name)
            return self.cache[name]
        if name not in self.rules.definitions or self.rules.definitions[name].is_function:
            raise EvaluationError(Diagnostic(f"no definition `{name}`"))
        return self._entry(self.v, name)

    def call(self, name: str, args: tuple[Any, ...]) -> Any:
        """A function definition's value for these arguments (memoised when they are hashable)."""
        return self._entry(self.c, name, args)

    def _entry(self, fn: Callable[..., Any], *args: Any) -> Any:
        with decimal.localcontext(RULE_DECIMAL_CONTEXT):
            if not self.fast:
                return fn(*args)
            try:
                return fn(*args)
            except (EvalFailure, ArithmeticError, RecursionError, KeyError, TypeError):
                # Find the exact spot with the closures, then say where it is.
                self.fast = False
                try:
                    return fn(*args)
                finally:
                    self.fast = True

    # -- what compiled code calls -------------------------------------------
    def v(self, name: str) -> Any:
        cache = self.cache
        if name in cache:
            if self.trace_on:
                self._reuse(name)
            return cache[name]
        if self.fast:
            result = self.rules.fast_values[name](self)  # type: ignore[index]
        else:
            result = self._run(name, None, self.rules.values[name], {})
        cache[name] = result
        return result

    def c(self, name: str, args: tuple[Any, ...]) -> Any:
        key: Any = (name, args)
        for a in args:  # memoise calls with plain arguments only (records are not hashable)
            t = type(a)
            if t is not str and t is not Decimal and t is not bool and a is not None:
                key = None
                break
        if key is not None and key in self.cache:
            if self.trace_on:
                self._reuse(key)
            return self.cache[key]
        if self.fast:
            result = self.rules.fast_functions[name](self, *args)  # type: ignore[index]
        else:
            params, code = self.rules.functions[name]
            result = self._run(name, args, code, dict(zip(params, args)))
        if key is not None:
            self.cache[key] = result
        return result

    @property
    def trace(self) -> list[TraceEntry]:
        return self.trace_stack[0].uses if self.trace_stack else []

    def note_row(self, table: Table, key: Any, row: Any) -> None:
        """While tracing: a table row that was looked up (which redistribution row, which benchmark)."""
        from mips_rules.dsl.values import format_key

        self.trace_stack[-1].uses.append(TraceEntry(f"{table.name}[{format_key(table.normalise(key))}]", None, row,
                                                    kind="row"))

    # -- internals --------------------------------------------------------
    def _reuse(self, key: Any) -> None:
        entry = self.trace_index.get(key)
        if entry is not None and self.trace_stack:
            self.trace_stack[-1].uses.append(entry)

    def _run(self, name: str, args: tuple[Any, ...] | None, code: Code, locals_: dict[str, Any]) -> Any:
        self.depth += 1
        if self.depth > MAX_CALL_DEPTH:
            self.depth = 0
            raise EvaluationError(Diagnostic("rules nested too deeply while evaluating", self.rules.definitions[name].loc))
        entry = None
        if self.trace_on:
            entry = TraceEntry(name, args, None)
            self.trace_stack[-1].uses.append(entry)
            self.trace_stack.append(entry)
        try:
            result = code(Frame(self, locals_))
        finally:
            self.depth -= 1
            if entry is not None:
                self.trace_stack.pop()
        if entry is not None:
            entry.value = result
            try:
                self.trace_index[name if args is None else (name, args)] = entry
            except TypeError:
                pass
        return result


def _fail(loc: Location, message: str) -> EvaluationError:
    return EvaluationError(Diagnostic(message, loc))


def _guard(loc: Location, what: str, fn: Code) -> Code:
    """Turn a failure inside `fn` into an EvaluationError that points at the rule."""

    def guarded(f: Frame) -> Any:
        try:
            return fn(f)
        except EvalFailure as exc:
            raise _fail(loc, f"{what}: {exc}") from None
        except decimal.DivisionByZero:
            raise _fail(loc, f"{what}: division by zero") from None
        except (decimal.InvalidOperation, decimal.Overflow, ArithmeticError):
            raise _fail(loc, f"{what}: invalid arithmetic") from None
        except RecursionError:
            raise _fail(loc, f"{what}: nested too deeply") from None

    return guarded


_ARITH = {"+": ops.h_add, "-": ops.h_sub, "*": ops.h_mul, "/": ops.h_div}
_ORDER = {"<": ops.h_lt, "<=": ops.h_le, ">": ops.h_gt, ">=": ops.h_ge}


class Compiler:
    """Turns each definition body into a closure over its sub-expressions."""

    def __init__(self, definitions: Mapping[str, ast.Definition], data: Mapping[str, Any], inputs: Mapping[str, Any]):
        self.definitions = definitions
        self.data = data
        self.inputs = inputs

    def compile_all(self, label: str = "rules") -> CompiledRules:
        from mips_rules.dsl.codegen import generate

        rules = CompiledRules(dict(self.definitions))
        fast = generate(self.definitions, self.data, self.inputs, label)
        if fast is not None:
            rules.fast_values, rules.fast_functions = fast
        for name, d in self.definitions.items():
            rules.data_refs[name] = self.data_refs(d.body, frozenset(d.params or ()))
            code = self.expr(d.body, frozenset(d.params or ()))
            if d.is_function:
                rules.functions[name] = (tuple(d.params or ()), code)
            else:
                rules.values[name] = code
        return rules

    def data_refs(self, body: ast.Node, local: frozenset[str]) -> list[str]:
        """The data items (`namespace.item`) a definition reads, for explanations."""
        found: set[str] = set()
        stack = [(body, local)]
        while stack:
            node, scope = stack.pop()
            if isinstance(node, ast.Field) and isinstance(node.target, ast.Name) \
                    and node.target.name in self.data and node.target.name not in scope:
                found.add(f"{node.target.name}.{node.name}")
            if isinstance(node, ast.Lambda):
                scope = scope | {node.param}
            if isinstance(node, ast.Let):
                stack.append((node.value, scope))
                stack.append((node.body, scope | {node.name}))
                continue
            stack.extend((child, scope) for child in ast.children(node))
        return sorted(found)

    # Each method returns a closure Frame -> value.
    def expr(self, node: ast.Node, local: frozenset[str]) -> Code:
        method = getattr(self, "_" + type(node).__name__.lower())
        return method(node, local)

    def _number(self, node: ast.Number, local: frozenset[str]) -> Code:
        v = node.value
        return lambda f: v

    def _string(self, node: ast.String, local: frozenset[str]) -> Code:
        v = node.value
        return lambda f: v

    def _const(self, node: ast.Const, local: frozenset[str]) -> Code:
        v = node.value
        return lambda f: v

    def _listlit(self, node: ast.ListLit, local: frozenset[str]) -> Code:
        items = [self.expr(i, local) for i in node.items]
        return lambda f: tuple(i(f) for i in items)

    def _name(self, node: ast.Name, local: frozenset[str]) -> Code:
        name = node.name
        if name in local:
            return lambda f: f.locals[name]
        if name in self.data:
            v = self.data[name]
            return lambda f: v
        if name in self.inputs:
            return lambda f: f.ev.inputs[name]
        if name in self.definitions:
            return lambda f: f.ev.v(name)
        raise _fail(node.loc, f"undefined name `{name}`")  # the checker reports this first

    def _field(self, node: ast.Field, local: frozenset[str]) -> Code:
        known, v = ast.static_data(node, local, self.data)
        if known:
            return lambda f: v
        target = self.expr(node.target, local)
        name = node.name
        return _guard(node.loc, f"reading `.{name}`", lambda f: ops.h_field(target(f), name))

    def _index(self, node: ast.Index, local: frozenset[str]) -> Code:
        target = self.expr(node.target, local)
        key = self.expr(node.key, local)

        def get(f: Frame) -> Any:
            obj = target(f)
            k = key(f)
            if isinstance(obj, Table) and f.ev.trace_on:
                row = obj.lookup(k)
                f.ev.note_row(obj, k, row)
                return row
            return ops.h_index(obj, k)

        return _guard(node.loc, "lookup", get)

    def _unary(self, node: ast.Unary, local: frozenset[str]) -> Code:
        operand = self.expr(node.operand, local)
        if node.op == "not":
            return _guard(node.loc, "`not`", lambda f: not truth(operand(f), "`not`"))
        return _guard(node.loc, "negation", lambda f: ops.h_neg(operand(f)))

    def _binary(self, node: ast.Binary, local: frozenset[str]) -> Code:
        left = self.expr(node.left, local)
        right = self.expr(node.right, local)
        op = node.op
        if op == "and":
            return _guard(node.loc, "`and`", lambda f: truth(left(f), "`and`") and truth(right(f), "`and`"))
        if op == "or":
            return _guard(node.loc, "`or`", lambda f: truth(left(f), "`or`") or truth(right(f), "`or`"))
        if op == "==":
            return lambda f: ops.h_eq(left(f), right(f))
        if op == "!=":
            return lambda f: not ops.h_eq(left(f), right(f))
        if op == "in":
            return _guard(node.loc, "`in`", lambda f: ops.h_in(left(f), right(f)))
        if op == "not in":
            return _guard(node.loc, "`not in`", lambda f: not ops.h_in(left(f), right(f)))
        if op in _ARITH:
            arith = _ARITH[op]
            return _guard(node.loc, f"`{op}`", lambda f: arith(left(f), right(f)))
        cmp = _ORDER[op]
        return _guard(node.loc, f"`{op}`", lambda f: cmp(left(f), right(f)))

    def _if(self, node: ast.If, local: frozenset[str]) -> Code:
        cond = self.expr(node.cond, local)
        then = self.expr(node.then, local)
        otherwise = self.expr(node.otherwise, local)
        loc = node.cond.loc

        def choose(f: Frame) -> Any:
            c = cond(f)
            if c is True:
                return then(f)
            if c is False:
                return otherwise(f)
            raise _fail(loc, f"`if` needs true or false, got {type_name(c)}")

        return choose

    def _let(self, node: ast.Let, local: frozenset[str]) -> Code:
        name = node.name
        value = self.expr(node.value, local)
        body = self.expr(node.body, local | {name})

        def bind(f: Frame) -> Any:
            inner = dict(f.locals)
            inner[name] = value(f)
            return body(Frame(f.ev, inner))

        return bind

    def _recordlit(self, node: ast.RecordLit, local: frozenset[str]) -> Code:
        fields = [(name, self.expr(v, local)) for name, v in node.fields]
        return lambda f: {name: code(f) for name, code in fields}

    def _lambda(self, node: ast.Lambda, local: frozenset[str]) -> Code:
        param = node.param
        body = self.expr(node.body, local | {param})

        def make(f: Frame) -> Callable[[Any], Any]:
            def fn(value: Any) -> Any:
                inner = dict(f.locals)
                inner[param] = value
                return body(Frame(f.ev, inner))
            return fn

        return make

    def _call(self, node: ast.Call, local: frozenset[str]) -> Code:
        name = node.func
        args = [self.expr(a, local) for a in node.args]
        if name in self.definitions:
            def call_def(f: Frame) -> Any:
                return f.ev.c(name, tuple(a(f) for a in args))
            return call_def
        fn = BUILTINS[name].fn
        return _guard(node.loc, f"`{name}`", lambda f: fn(*(a(f) for a in args)))
