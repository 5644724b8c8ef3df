"""Compile checked definitions into Python closures, once, when a year loads.

Scoring a submission then only calls closures: no parsing, no tree walking
of source text. Each definition's value is computed at most once per
evaluation (memoised), and each function call with hashable arguments too.
"""

from __future__ import annotations

import decimal
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from mips_rules.dsl import ast, ops
from mips_rules.dsl.ops import memo_key
from mips_rules.dsl.builtins import BUILTINS, truth
from mips_rules.dsl.errors import Diagnostic, EvaluationError, Location
from mips_rules.dsl.limits import DEFAULT_MAX_STEPS, LimitExceeded
from mips_rules.dsl.values import EvalFailure, Table, type_name

# Arithmetic for every evaluation: 34 significant digits, exact where the
# inputs allow; rounding happens only through the rounding built-ins.
RULE_DECIMAL_CONTEXT = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN,
                                       traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])

# Nesting while evaluating, in units of about a Python frame of the closure interpreter (each
# definition weighs 3 plus the depth of its expression; the generated code needs fewer frames). A
# definition reached deeper than HOIST_AT is computed first on its own, from the top (its value is
# memoised), and the computation that needed it restarts: the results are the same, and a long chain
# of definitions never runs out of Python stack on either path. The shipped years nest to about 150.
HOIST_AT = 450
MAX_NESTING = 700  # calls that cannot be memoised (record arguments) cannot be hoisted: refused this deep


class _Hoist(BaseException):
    """Unwinds a computation that went too deep; `Evaluation._drive` computes `key` first and retries."""

    def __init__(self, name: str, args: tuple[Any, ...] | None):
        self.name = name
        self.call_args = args


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
    fast_values: dict[str, Callable[..., Any]] | None = None  # generated Python (dsl/codegen.py)
    fast_functions: dict[str, Callable[..., Any]] | None = None
    generated: Any = None  # the compiled module and its constants, for the year cache
    direct: bool = False  # the generated definitions memoise and charge steps themselves (codegen.CodeGen._direct)
    max_steps: int = DEFAULT_MAX_STEPS
    # The closures, their costs and data references: made the first time something needs them
    # (tracing, the interpreter path, an explanation, a failure to locate) — a year whose generated
    # code runs everything loads without them.
    build: Callable[["CompiledRules"], None] | None = None
    _values: dict[str, Code] = field(default_factory=dict)
    _functions: dict[str, tuple[tuple[str, ...], Code]] = field(default_factory=dict)
    _data_refs: dict[str, list[str]] = field(default_factory=dict)
    _meta: dict[str, tuple[int, int]] = field(default_factory=dict)

    def _closures(self) -> "CompiledRules":
        if self.build is not None:
            build, self.build = self.build, None
            build(self)
        return self

    @property
    def values(self) -> dict[str, Code]:
        return self._closures()._values

    @property
    def functions(self) -> dict[str, tuple[tuple[str, ...], Code]]:
        return self._closures()._functions

    @property
    def data_refs(self) -> dict[str, list[str]]:
        """Definition → the data items it reads (for explanations)."""
        return self._closures()._data_refs

    @property
    def meta(self) -> dict[str, tuple[int, int]]:
        """Per definition: (the steps one computation costs, how much nesting it adds — see HOIST_AT)."""
        return self._closures()._meta

    def evaluate(self, inputs: Mapping[str, Any], *, trace: bool = False, fast: bool | None = None,
                 max_steps: int | None = None) -> "Evaluation":
        """An evaluation of these rules for one submission's inputs. `fast=False` runs the closure
        interpreter without tracing (the differential tests compare both paths)."""
        return Evaluation(self, dict(inputs), trace=trace, fast=fast, max_steps=max_steps)


@dataclass(eq=False)
class TraceEntry:
    """One computed definition (or a table row it looked up): for explanations."""

    name: str
    args: tuple[Any, ...] | None
    value: Any
    uses: list["TraceEntry"] = field(default_factory=list)
    kind: str = "rule"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "ran out of memory"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, decimal.DivisionByZero):
        return "division by zero"
    if isinstance(exc, ArithmeticError):
        return "invalid arithmetic"
    if isinstance(exc, EvalFailure):
        return str(exc)
    return f"internal error ({type(exc).__name__}: {exc})"


class Evaluation:
    """The values of one submission's definitions, computed on demand and memoised.

    Without tracing it runs the generated Python (the fast path). A failure there is an error:
    the closures re-run the failing computation only to say exactly where in the rules it
    happened (and if they do not fail, the two paths disagree, which is reported as such — never
    a silent fallback). With tracing it runs the closures and records what each definition used.
    Both paths count the same steps against one budget per evaluation (`dsl/limits.py`).
    """

    def __init__(self, rules: CompiledRules, inputs: dict[str, Any], *, trace: bool = False,
                 fast: bool | None = None, max_steps: int | None = None):
        self.rules = rules
        self.inputs = inputs
        self.cache: dict[Any, Any] = {}
        self.depth = 0
        self.trace_on = trace
        want_fast = not trace if fast is None else (fast and not trace)
        self.fast = want_fast and rules.fast_values is not None
        self.direct = self.fast and rules.direct  # v() and c() hand the whole call to the generated code
        self.trace_stack: list[TraceEntry] = [TraceEntry("<root>", None, None)] if trace else []
        self.trace_index: dict[Any, TraceEntry] = {}
        self.max_steps = rules.max_steps if max_steps is None else max_steps
        self.steps = self.max_steps
        self.failed_in: tuple[str, tuple[Any, ...] | None] | None = None
        self.driving = False
        self.in_session = False
        self._meta = rules.meta if not self.direct else {}  # the generated code charges its own costs
        self._fast_values = rules.fast_values
        self._fast_functions = rules.fast_functions

    # -- public API -------------------------------------------------------
    def value(self, name: str) -> Any:
        """A definition's value (memoised). Sets the rules' decimal context for the whole computation."""
        if name in self.cache:
            if self.trace_on:
                self._reuse(name)
            return self.cache[name]
        if name not in self.rules.definitions or self.rules.definitions[name].is_function:
            raise EvaluationError(Diagnostic(f"no definition `{name}`"))
        if self.in_session and self.direct:
            try:
                return self._fast_values[name](self)  # type: ignore[index]
            except Exception:  # noqa: BLE001 - the general path says what failed, and where
                pass
        return self._entry(name, None)

    def call(self, name: str, args: tuple[Any, ...]) -> Any:
        """A function definition's value for these arguments (memoised when they are hashable)."""
        if name not in self.rules.definitions or not self.rules.definitions[name].is_function:
            raise EvaluationError(Diagnostic(f"no function `{name}`"))
        if self.in_session and self.direct:
            try:
                return self._fast_functions[name](self, *args)  # type: ignore[index]
            except Exception:  # noqa: BLE001 - the general path says what failed, and where
                pass
        return self._entry(name, tuple(args))

    @contextmanager
    def session(self) -> Iterator["Evaluation"]:
        """Several values read in a row (a report's fields) under the rules' decimal context, entered
        once. With the generated code calling definitions directly, each read is then one call; a
        failure is read again the general way, which reports it (a fresh budget, the closures)."""
        with decimal.localcontext(RULE_DECIMAL_CONTEXT):
            self.in_session = True
            try:
                yield self
            finally:
                self.in_session = False

    @property
    def steps_used(self) -> int:
        return self.max_steps - self.steps

    def charge(self, n: int) -> None:
        """Spend `n` steps of the budget (built-ins call this for the items they process)."""
        self.steps -= n
        if self.steps < 0:
            raise LimitExceeded(f"the evaluation needs more than {self.max_steps:,} steps "
                                "(the rules do too much work for one submission)")

    # -- driving: an entry point, with deep computations hoisted -------------------
    def _entry(self, name: str, args: tuple[Any, ...] | None) -> Any:
        with decimal.localcontext(RULE_DECIMAL_CONTEXT):
            if self.driving:  # already inside a computation
                return self.v(name) if args is None else self.c(name, args)
            self.driving = True
            try:
                return self._drive(name, args)
            finally:
                self.driving = False
                self.depth = 0

    def _drive(self, name: str, args: tuple[Any, ...] | None) -> Any:
        work: list[tuple[str, tuple[Any, ...] | None]] = [(name, args)]
        while True:
            key = work[-1]
            scratch = self.trace_on and len(work) > 1
            if scratch:  # a hoisted computation: its trace is attached where it is used
                self.trace_stack.append(TraceEntry("<hoisted>", None, None))
            try:
                result = self._attempt(*key)
            except _Hoist as h:
                work.append((h.name, h.call_args))
                continue
            finally:
                if scratch:
                    self.trace_stack.pop()
            work.pop()
            if not work:
                return result

    def _attempt(self, name: str, args: tuple[Any, ...] | None) -> Any:
        self.depth = 0
        self.failed_in = None
        run = self.v if args is None else self.c
        call_args = (name,) if args is None else (name, args)
        if not self.fast:
            try:
                return run(*call_args)
            except (EvalFailure, ArithmeticError, MemoryError, RecursionError, TypeError, KeyError,
                    ValueError, AttributeError, IndexError) as exc:
                raise self._error_in(self.failed_in or (name, args), exc) from None
        try:
            return run(*call_args)
        except (EvaluationError, _Hoist):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure of generated code becomes a rule error
            where = self.failed_in or (name, args)
            if isinstance(exc, (LimitExceeded, MemoryError, RecursionError)):
                raise self._error_in(where, exc) from None
            # Find the exact spot with the closures (a fresh budget: the same work again).
            self.fast = self.direct = False
            self._meta = self.rules.meta
            self.steps = self.max_steps
            self.depth = 0
            self.failed_in = None
            try:
                run(*call_args)
            except EvaluationError:
                raise
            except (EvalFailure, ArithmeticError, MemoryError, RecursionError, TypeError, KeyError,
                    ValueError, AttributeError, IndexError) as again:
                raise self._error_in(self.failed_in or where, again) from None
            finally:
                self.fast = True
                self.direct = self.rules.direct
            loc = self._loc(where[0])
            raise EvaluationError(Diagnostic(
                f"in `{where[0]}`: the generated code failed ({type(exc).__name__}: {exc}) where the interpreter did "
                "not: the two execution paths disagree (a bug in the engine; please report it)", loc)) from None

    def _loc(self, name: str) -> Location | None:
        d = self.rules.definitions.get(name)
        return d.loc if d is not None else None

    def _error_in(self, where: tuple[str, tuple[Any, ...] | None], exc: BaseException) -> EvaluationError:
        name = where[0]
        return EvaluationError(Diagnostic(f"in `{name}`: {_describe(exc)}", self._loc(name)))

    # -- what compiled code calls -------------------------------------------
    def v(self, name: str) -> Any:
        cache = self.cache
        if name in cache:
            if self.trace_on:
                self._reuse(name)
            return cache[name]
        if self.direct:
            return self._fast_values[name](self)  # type: ignore[index]
        size, weight = self._meta[name]
        self.steps -= size
        if self.steps < 0:
            self.charge(0)
        depth = self.depth
        inner = depth + weight
        if inner > HOIST_AT and depth:
            raise _Hoist(name, None)
        self.depth = inner
        if self.fast:
            try:
                result = self._fast_values[name](self)  # type: ignore[index]
            except Exception:
                if self.failed_in is None:
                    self.failed_in = (name, None)
                raise
        else:
            result = self._run(name, None, self.rules.values[name], {})
        self.depth = depth
        cache[name] = result
        return result

    def c(self, name: str, args: tuple[Any, ...]) -> Any:
        if self.direct:
            return self._fast_functions[name](self, *args)  # type: ignore[index]
        key = memo_key(name, args)  # calls with plain arguments only (records are not hashable)
        if key is not None and key in self.cache:
            if self.trace_on:
                self._reuse(key)
            return self.cache[key]
        size, weight = self._meta[name]
        self.steps -= size
        if self.steps < 0:
            self.charge(0)
        depth = self.depth
        inner = depth + weight
        if inner > HOIST_AT and depth:
            if key is not None:
                raise _Hoist(name, args)
            if inner > MAX_NESTING:
                raise LimitExceeded("rules nested too deeply while evaluating")
        self.depth = inner
        if self.fast:
            try:
                result = self._fast_functions[name](self, *args)  # type: ignore[index]
            except Exception:
                if self.failed_in is None:
                    self.failed_in = (name, args)
                raise
        else:
            params, code = self.rules.functions[name]
            result = self._run(name, args, code, dict(zip(params, args)), key is not None)
        self.depth = depth
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

    def _run(self, name: str, args: tuple[Any, ...] | None, code: Code, locals_: dict[str, Any],
             indexable: bool = True) -> Any:
        entry = parent = None
        if self.trace_on:
            entry = TraceEntry(name, args, None)
            parent = self.trace_stack[-1]
            parent.uses.append(entry)
            self.trace_stack.append(entry)
        try:
            result = code(Frame(self, locals_))
        except _Hoist:
            if parent is not None:  # abandoned: it is computed again when retried
                for i in range(len(parent.uses) - 1, -1, -1):
                    if parent.uses[i] is entry:
                        del parent.uses[i]
                        break
            raise
        except EvaluationError:
            raise
        except (EvalFailure, ArithmeticError, MemoryError, RecursionError, TypeError) as exc:
            # Escaped every expression's guard (a limit, or nesting): name this definition.
            if self.failed_in is None:
                self.failed_in = (name, args)
            raise _fail(self.rules.definitions[name].loc, f"in `{name}`: {_describe(exc)}") from None
        finally:
            if entry is not None:
                self.trace_stack.pop()
        if entry is not None:
            entry.value = result
            if indexable:
                self.trace_index[name if args is None else (memo_key(name, args) or (name, args))] = entry
        return result


def _fail(loc: Location, message: str) -> EvaluationError:
    return EvaluationError(Diagnostic(message, loc))


_CAUGHT = (EvalFailure, ArithmeticError, RecursionError, MemoryError, TypeError)


def _convert(loc: Location, what: str, exc: BaseException) -> EvaluationError:
    """A failure of an operation as an EvaluationError that points at the rule."""
    return _fail(loc, f"{what}: {_describe(exc)}")


def _guard(loc: Location, what: str, fn: Code) -> Code:
    """Turn a failure inside `fn` into an EvaluationError that points at the rule."""

    def guarded(f: Frame) -> Any:
        try:
            return fn(f)
        except _CAUGHT as exc:
            raise _convert(loc, what, exc) from None

    return guarded


_ARITH = {"+": ops.h_add, "-": ops.h_sub, "*": ops.h_mul, "/": ops.h_div}
_ORDER = {"<": ops.h_lt, "<=": ops.h_le, ">": ops.h_gt, ">=": ops.h_ge}


class Compiler:
    """Turns each definition body into a closure over its sub-expressions."""

    def __init__(self, definitions: Mapping[str, ast.Definition], data: Mapping[str, Any], inputs: Mapping[str, Any]):
        self.definitions = definitions
        self.data = data
        self.inputs = inputs
        self.current = "?"  # the definition being compiled, named in its errors

    def _guard(self, loc: Location, what: str, fn: Code) -> Code:
        return _guard(loc, f"in `{self.current}`, {what}", fn)

    def compile_all(self, label: str = "rules", generated: Any = None) -> CompiledRules:
        """Closures and generated Python for every definition; `generated` reuses an earlier load's
        compiled module (`dsl/codegen.py`, kept by the year cache)."""
        from mips_rules.dsl.codegen import generate

        rules = CompiledRules(dict(self.definitions))
        fast = generate(self.definitions, self.data, self.inputs, label, generated)
        if fast is not None:
            rules.fast_values, rules.fast_functions, rules.generated, rules.direct = fast
        rules.build = self._build
        if not rules.direct:
            rules._closures()  # the interpreter's costs are needed by every evaluation
        return rules

    def _build(self, rules: CompiledRules) -> None:
        for name, d in self.definitions.items():
            self.current = name
            rules._meta[name] = (ast_size(d.body), 3 + ast_depth(d.body))
            rules._data_refs[name] = self.data_refs(d.body, frozenset(d.params or ()))
            code = self.expr(d.body, frozenset(d.params or ()))
            if d.is_function:
                rules._functions[name] = (tuple(d.params or ()), code)
            else:
                rules._values[name] = code

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
        slow = self._guard(node.loc, f"reading `.{name}`", lambda o: ops.h_field(o, name))

        def read(f: Frame) -> Any:
            o = target(f)
            if type(o) is dict and name in o:
                return o[name]
            return slow(o)

        return read

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

        return self._guard(node.loc, "lookup", get)

    def _unary(self, node: ast.Unary, local: frozenset[str]) -> Code:
        operand = self.expr(node.operand, local)
        if node.op == "not":
            return self._guard(node.loc, "`not`", lambda f: not truth(operand(f), "`not`"))
        return self._guard(node.loc, "negation", lambda f: ops.h_neg(operand(f)))

    def _binary(self, node: ast.Binary, local: frozenset[str]) -> Code:
        left = self.expr(node.left, local)
        right = self.expr(node.right, local)
        op = node.op
        if op == "and":
            return self._guard(node.loc, "`and`", lambda f: truth(left(f), "`and`") and truth(right(f), "`and`"))
        if op == "or":
            return self._guard(node.loc, "`or`", lambda f: truth(left(f), "`or`") or truth(right(f), "`or`"))
        if op == "==":  # fails only by running out of steps: reported at the definition (`_run`)
            return lambda f: ops.h_eq(left(f), right(f), f.ev)
        if op == "!=":
            return lambda f: not ops.h_eq(left(f), right(f), f.ev)
        if op == "in":
            return self._guard(node.loc, "`in`", lambda f: ops.h_in(left(f), right(f), f.ev))
        if op == "not in":
            return self._guard(node.loc, "`not in`", lambda f: not ops.h_in(left(f), right(f), f.ev))
        # Arithmetic and comparisons are guarded inline (one Python frame per operation).
        fn = _ARITH.get(op) or _ORDER[op]
        loc, what = node.loc, f"in `{self.current}`, `{op}`"

        def operate(f: Frame) -> Any:
            try:
                return fn(left(f), right(f))
            except _CAUGHT as exc:
                raise _convert(loc, what, exc) from None

        return operate

    def _if(self, node: ast.If, local: frozenset[str]) -> Code:
        cond = self.expr(node.cond, local)
        then = self.expr(node.then, local)
        otherwise = self.expr(node.otherwise, local)
        loc = node.cond.loc
        current = self.current

        def choose(f: Frame) -> Any:
            c = cond(f)
            if c is True:
                return then(f)
            if c is False:
                return otherwise(f)
            raise _fail(loc, f"in `{current}`: `if` needs true or false, got {type_name(c)}")

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
        b = BUILTINS[name]
        fn = b.fn
        loc, what = node.loc, f"in `{self.current}`, `{name}`"
        if b.metered:
            cost = call_cost(node)

            def metered(f: Frame) -> Any:
                try:
                    return fn(f.ev, cost, *[a(f) for a in args])
                except _CAUGHT as exc:
                    raise _convert(loc, what, exc) from None

            return metered

        def plain(f: Frame) -> Any:
            try:
                return fn(*[a(f) for a in args])
            except _CAUGHT as exc:
                raise _convert(loc, what, exc) from None

        return plain


def call_cost(node: ast.Call) -> int:
    """What one item of a built-in costs: 1, plus the size of its `x -> …` functions."""
    return 1 + sum(ast_size(a.body) for a in node.args if isinstance(a, ast.Lambda))


def ast_size(node: ast.Node) -> int:
    n = 0
    stack = [node]
    while stack:
        n += 1
        stack.extend(ast.children(stack.pop()))
    return n


def ast_depth(node: ast.Node) -> int:
    deepest = 0
    stack = [(node, 1)]
    while stack:
        cur, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((c, d + 1) for c in ast.children(cur))
    return deepest
