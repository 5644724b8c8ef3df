"""Static types of the rule language, inferred from a year's data and checked when the year loads.

The year's data fixes the type of every data item: numbers, text, booleans,
none, lists, records and tables (a table's row type merges all of its rows,
remembering which fields some rows lack or hold as null). From there types
flow through the rules: `let`, `if`, record literals, field reads, table
lookups (`table[key]`, `get(table, key)`, `rows(table)`), the list built-ins
and their `x -> …` functions, and every definition's result. Parameters of
functions are unknown (`Any`), and so are inputs below what their shapes say;
nothing unknown is ever reported.

What is reported, each at the expression's file:line:column:

- a field that no row or record has (`rows of `x` have no field `wieght``,
  with "did you mean");
- a field that is null (or missing) in some of the data's rows, used where a
  value is required — arithmetic, ordering, a table key, a condition, a field
  read — without a guard. `if e == none then … else …`, `e != none`,
  `and`/`or`/`not` of those, `has(r, "f")`, `filter`/`find` with such a test,
  and `coalesce(e, …)` are guards;
- a value of the wrong kind: text in arithmetic or compared with `<` to a
  number, `sum` of texts, a number where text is needed, `==` between a
  number and a text (never true).

The rules' own `none` (a `get` that finds nothing, `first` of an empty list)
is not reported: only what the year's data makes null. Nor is a value written
as a literal in the rules (`"a" * 3`): scoring refuses it with its own message.
Each table's row type is computed once per check, on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping

from mips_rules.dsl import ast
from mips_rules.dsl.builtins import BUILTINS
from mips_rules.dsl.errors import Diagnostic, Location, did_you_mean
from mips_rules.dsl.values import Table, format_key

# ---------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Null:
    """Why a value may be none. `data`: the year's data holds none there (reported when used unguarded)."""

    data: bool
    why: str
    missing: bool = False  # the field is absent from some rows (rather than null)


@dataclass(frozen=True, eq=False)
class Ty:
    null: Null | None = None

    def nonnull(self) -> "Ty":
        return replace(self, null=None) if self.null is not None else self

    def with_null(self, null: Null | None) -> "Ty":
        if null is None:
            return self
        return replace(self, null=_pick_null(self.null, null))

    @property
    def data_null(self) -> Null | None:
        return self.null if self.null is not None and self.null.data else None

    def kind(self) -> str:
        return "a value"


@dataclass(frozen=True, eq=False)
class AnyT(Ty):
    """Unknown: never checked."""


@dataclass(frozen=True, eq=False)
class NeverT(Ty):
    """No value at all (the items of an empty list): joins to the other side."""


@dataclass(frozen=True, eq=False)
class NoneT(Ty):
    """Only none."""

    def nonnull(self) -> Ty:
        return ANY

    def kind(self) -> str:
        return "none"


@dataclass(frozen=True, eq=False)
class PrimT(Ty):
    name: str = "number"  # number | text | boolean
    origin: str | None = None  # where the value comes from, for messages
    literal: bool = False  # written as a literal in the rules: its misuse is left to scoring (test_untrusted)

    def kind(self) -> str:
        return {"number": "a number", "text": "text", "boolean": "true or false"}[self.name]


@dataclass(frozen=True, eq=False)
class ListT(Ty):
    elem: Ty = field(default_factory=lambda: ANY)
    is_set: bool = False

    def kind(self) -> str:
        return "a set" if self.is_set else "a list"


@dataclass(frozen=True)
class FieldT:
    ty: Ty
    missing: str | None = None  # why the field may be absent (None: every record has it)


@dataclass(frozen=True, eq=False)
class RecT(Ty):
    fields: Mapping[str, FieldT] = field(default_factory=dict)
    open: bool = False  # may have fields not listed here
    desc: str = "the record"  # a noun phrase for messages: "rows of `measures.ia`"
    plural: bool = False
    data: bool = False  # a record of the year's data (its absent fields are the data's doing)

    def kind(self) -> str:
        return "a record"


@dataclass(frozen=True, eq=False)
class DictT(Ty):
    """A record with computed field names (`group_by`, `index_by`)."""

    value: Ty = field(default_factory=lambda: ANY)

    def kind(self) -> str:
        return "a record"


@dataclass(frozen=True, eq=False)
class TableT(Ty):
    name: str = ""
    row: RecT = field(default_factory=RecT)
    key: Ty = field(default_factory=lambda: ANY)  # the key field's type (Any for composite or set keys)

    def kind(self) -> str:
        return "a table"


ANY = AnyT()
NEVER = NeverT()
NUM = PrimT(name="number")
TEXT = PrimT(name="text")
BOOL = PrimT(name="boolean")
NUM_LIT, TEXT_LIT, BOOL_LIT = (PrimT(name=n, literal=True) for n in ("number", "text", "boolean"))
RULE_NONE = Null(False, "the rules may give none here")


def _pick_null(a: Null | None, b: Null | None) -> Null | None:
    if a is None:
        return b
    if b is None:
        return a
    if b.data and not a.data:
        return b
    return a


def join(a: Ty, b: Ty) -> Ty:
    """The type of a value that is either an `a` or a `b`."""
    if isinstance(a, NeverT):
        return b
    if isinstance(b, NeverT):
        return a
    if isinstance(a, AnyT) or isinstance(b, AnyT):
        return ANY
    null = _pick_null(a.null, b.null)
    if isinstance(a, NoneT):
        return b.with_null(null)
    if isinstance(b, NoneT):
        return a.with_null(null)
    if isinstance(a, PrimT) and isinstance(b, PrimT):
        if a.name != b.name:
            return ANY
        return PrimT(null, a.name, a.origin if a.origin == b.origin else None, a.literal and b.literal)
    if isinstance(a, ListT) and isinstance(b, ListT):
        return ListT(null, join(a.elem, b.elem), a.is_set and b.is_set)
    if isinstance(a, RecT) and isinstance(b, RecT):
        return _join_records(a, b, null)
    if isinstance(a, DictT) and isinstance(b, DictT):
        return DictT(null, join(a.value, b.value))
    if isinstance(a, TableT) and isinstance(b, TableT) and a.name == b.name:
        return a.with_null(null)
    return ANY


def _join_records(a: RecT, b: RecT, null: Null | None) -> RecT:
    if a is b:
        return a
    desc = a.desc if a.desc == b.desc else f"{a.desc} or {b.desc}"
    if len(desc) > 160:
        desc = "these records"
    plural = a.plural or b.plural or a.desc != b.desc
    out: dict[str, FieldT] = {}
    for name in {**a.fields, **b.fields}:
        fa, fb = a.fields.get(name), b.fields.get(name)
        if fa is not None and fb is not None:
            out[name] = FieldT(join(fa.ty, fb.ty), fa.missing or fb.missing)
        else:
            present = fa or fb
            assert present is not None
            other = b if fa is not None else a
            if other.open:
                out[name] = FieldT(present.ty, present.missing)
            else:
                out[name] = FieldT(present.ty, present.missing or f"`{name}` is missing from some of {desc}")
    return RecT(null, out, a.open or b.open, desc, plural, a.data and b.data)


def join_all(types: Iterable[Ty]) -> Ty:
    out: Ty = NEVER
    for t in types:
        out = join(out, t)
    return out


# ---------------------------------------------------------------------------
# Types of the year's data (computed once per item, on first use)
# ---------------------------------------------------------------------------

_PRIM_NAMES = {Decimal: "number", str: "text", bool: "boolean"}


def _fmt(v: Any) -> str:
    if isinstance(v, str):
        return '"' + (v if len(v) <= 30 else v[:27] + "...") + '"'
    return str(v)


def value_type(value: Any, path: str) -> Ty:
    """The type of one data value; `path` names it in messages (`program.performance_threshold`)."""
    t = type(value)
    if value is None:
        return NoneT(Null(True, f"`{path}` is null in this year's data"))
    if t in _PRIM_NAMES:
        name = _PRIM_NAMES[t]
        return PrimT(None, name, f"`{path}` is {_kind_word(name)} ({_fmt(value)}) in this year's data")
    if t is dict:
        return _record_of_values([value], f"`{path}`", plural=False, path=path)
    if t is tuple or t is frozenset:
        return ListT(None, values_type(list(value), f"items of `{path}`"), t is frozenset)
    if isinstance(value, Table):
        return table_type(value)
    return ANY


def _kind_word(name: str) -> str:
    return {"number": "a number", "text": "text", "boolean": "a boolean"}[name]


def values_type(values: list[Any], desc: str) -> Ty:
    """The type of any one of several data values (the items of a list, a field across rows)."""
    if not values:
        return NEVER
    kinds: set[type] = set()
    for v in values:
        kinds.add(type(v))
    nulls = type(None) in kinds
    kinds.discard(type(None))
    null = None
    if nulls:
        n = sum(1 for v in values if v is None)
        null = Null(True, f"{n} of {len(values)} {desc} are null" if n < len(values) else f"all {desc} are null")
    if not kinds:
        return NoneT(null)
    if len(kinds) > 1:
        return ANY
    (t,) = kinds
    present = [v for v in values if v is not None]
    if t in _PRIM_NAMES:
        name = _PRIM_NAMES[t]
        return PrimT(null, name, f"{desc} are {_kind_word(name)} in this year's data")
    if t is dict:
        return _record_of_values(present, desc, plural=True).with_null(null)
    if t is tuple or t is frozenset:
        items = [x for v in present for x in v]
        return ListT(null, values_type(items, f"items of {desc}"), t is frozenset)
    return ANY


def _record_of_values(records: list[dict[str, Any]], desc: str, *, plural: bool, path: str | None = None,
                      keys: list[Any] | None = None) -> RecT:
    """The type of one record (`plural=False`) or of any of several (a table's rows: `keys` names them)."""
    names: dict[str, list[Any]] = {}
    for r in records:
        for k, v in r.items():
            got = names.get(k)
            if got is None:
                names[k] = [v]
            else:
                got.append(v)
    total = len(records)
    fields: dict[str, FieldT] = {}
    for name, vals in names.items():
        if plural:
            ty = values_type(vals, f"`{name}` values in {desc}")
            missing = None
            if len(vals) < total:
                which = _which(records, lambda r: name not in r, keys)
                missing = f"`{name}` is missing from {total - len(vals)} of {total} {desc}{which}"
            if ty.data_null is not None:
                n = sum(1 for v in vals if v is None)
                which = _which(records, lambda r: name in r and r[name] is None, keys)
                why = (f"`{name}` is null in {n} of {total} {desc}{which}" if n < total
                       else f"`{name}` is null in all {desc}")
                ty = replace(ty, null=Null(True, why))
        else:
            ty = value_type(vals[0], f"{path}.{name}")
            missing = None
        fields[name] = FieldT(ty, missing)
    return RecT(None, fields, False, desc, plural, True)


def _which(records: list[dict[str, Any]], test: Callable[[dict[str, Any]], bool], keys: list[Any] | None) -> str:
    """`: IA_PCMH, …` naming the first rows that pass `test`, when the rows have keys."""
    if keys is None:
        return ""
    found = [k for k, r in zip(keys, records) if test(r)]
    if not found:
        return ""
    named = ", ".join(format_key(k) for k in found[:3])
    return ": " + named + (f" and {len(found) - 3} more" if len(found) > 3 else "")


def table_type(table: Table) -> TableT:
    rows = list(table.rows.values())
    row = (_record_of_values(rows, f"rows of `{table.name}`", plural=True, keys=list(table.rows))
           if rows else RecT(open=True, data=True))
    key: Ty = ANY
    if isinstance(table.key_field, str) and table.key_field in row.fields:
        k = row.fields[table.key_field].ty
        key = k if isinstance(k, PrimT) else ANY
    return TableT(None, table.name, row, key)


class _LazyItems(Mapping[str, FieldT]):
    """A data file's items, typed on first use (a year has large inventories it may never read)."""

    def __init__(self, ns: str, items: Mapping[str, Any], cache: dict[int, Ty]):
        self.ns, self.items, self.cache, self.done = ns, items, cache, {}

    def __getitem__(self, name: str) -> FieldT:
        got = self.done.get(name)
        if got is None:
            value = self.items[name]
            if isinstance(value, Table):
                t = self.cache.get(id(value))
                if t is None:
                    t = self.cache[id(value)] = table_type(value)
            else:
                t = value_type(value, f"{self.ns}.{name}")
            got = self.done[name] = FieldT(t)
        return got

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, name: object) -> bool:
        return name in self.items


def shape_type(shape: Any, path: str) -> Ty:
    """An input's shape (field → shape, or None when unknown) as a type: records with unknown leaves."""
    if not isinstance(shape, Mapping):
        return ANY
    return RecT(None, {k: FieldT(shape_type(v, f"{path}.{k}")) for k, v in shape.items()}, False, f"`{path}`")


# ---------------------------------------------------------------------------
# Inference and checks
# ---------------------------------------------------------------------------

Path = tuple[Any, ...]  # a name (or a call) and field names
Fact = tuple[str, Path]  # ("nonnull" | "present", path)


@dataclass
class Env:
    vars: Mapping[str, Ty]
    facts: frozenset[Fact] = frozenset()

    def bind(self, name: str, ty: Ty) -> "Env":
        facts = frozenset(f for f in self.facts if name not in _names_in(f[1])) if self.facts else self.facts
        return Env({**self.vars, name: ty}, facts)

    def knowing(self, facts: frozenset[Fact]) -> "Env":
        if not facts:
            return self
        return Env(self.vars, self.facts | facts)


_LITERAL = "#literal"  # never a name


def path_of(node: ast.Node) -> Path | None:
    """What a guard can narrow, as a hashable path: `a.b.c` is ("a", "b", "c"), `get(a, "b")` is ("a", "b"),
    and a call of plain arguments (`score(c, "x")`, computed once per submission) is a root of its own."""
    names: list[str] = []
    while isinstance(node, ast.Field):
        names.append(node.name)
        node = node.target
    if isinstance(node, ast.Name):
        return (node.name, *reversed(names))
    if isinstance(node, ast.Call):
        args = node.args
        if node.func == "get" and len(args) == 2 and isinstance(args[1], ast.String):
            inner = path_of(args[0])
            return None if inner is None else (*inner, args[1].value, *reversed(names))
        parts: list[Any] = []
        for a in args:
            if isinstance(a, (ast.Number, ast.String, ast.Const)):
                parts.append((_LITERAL, repr(a.value)))
                continue
            inner = path_of(a)
            if inner is None:
                return None
            parts.append(inner)
        return (("call", node.func, tuple(parts)), *reversed(names))
    return None


def _names_in(path: Path) -> set[str]:
    """The names a path depends on (a fact about it no longer holds once one is bound anew)."""
    root = path[0]
    if isinstance(root, str):
        return {root}
    out: set[str] = set()
    for part in root[2]:
        if part[0] != _LITERAL:
            out |= _names_in(part)
    return out


def describe(node: ast.Node) -> str:
    """An expression as short code for messages: `a.b`, `t[…].c`, `get(…)`."""
    text = _code(node, 0)
    return f"`{text}`" if text is not None else "this value"


def _code(node: ast.Node, depth: int) -> str | None:
    if depth > 6:
        return None
    if isinstance(node, ast.Name):
        return node.name
    if isinstance(node, ast.Field):
        inner = _code(node.target, depth + 1)
        return None if inner is None else f"{inner}.{node.name}"
    if isinstance(node, ast.Index):
        inner = _code(node.target, depth + 1)
        return None if inner is None else f"{inner}[…]"
    if isinstance(node, ast.Call):
        return f"{node.func}(…)"
    return None


def facts_when(node: ast.Node, truth: bool) -> frozenset[Fact]:
    """What is known about paths when the condition `node` is `truth`."""
    if isinstance(node, ast.Unary) and node.op == "not":
        return facts_when(node.operand, not truth)
    if isinstance(node, ast.Binary):
        op = node.op
        if op == "and":
            left, right = facts_when(node.left, truth), facts_when(node.right, truth)
            return left | right if truth else left & right
        if op == "or":
            left, right = facts_when(node.left, truth), facts_when(node.right, truth)
            return left & right if truth else left | right
        if op in ("==", "!="):
            equal_case = truth if op == "==" else not truth
            for side, other in ((node.left, node.right), (node.right, node.left)):
                p = path_of(side)
                if p is None:
                    continue
                if isinstance(other, ast.Const) and other.value is None:
                    if not equal_case:
                        return frozenset({("nonnull", p)})
                elif equal_case and isinstance(other, (ast.Number, ast.String, ast.Const)):
                    return frozenset({("nonnull", p)})  # equal to a value: not none
        return frozenset()
    if isinstance(node, ast.Call) and node.func == "has" and len(node.args) == 2 and truth:
        target, name = node.args
        p = path_of(target)
        if p is not None and isinstance(name, ast.String):
            return frozenset({("present", (*p, name.value))})
    return frozenset()


def narrow(ty: Ty, sub: Path, kind: str) -> Ty:
    """`ty` with the value at `sub` (field names from it) known to be non-null ("nonnull") or present."""
    if not sub:
        if kind == "nonnull" or (ty.null is not None and ty.null.missing):
            return ty.nonnull()
        return ty
    if isinstance(ty, RecT) and sub[0] in ty.fields:
        f = ty.fields[sub[0]]
        fields = dict(ty.fields)
        # a field tested directly (`r.f != none`, `has(r, "f")`) is there; deeper tests say nothing of it
        fields[sub[0]] = FieldT(narrow(f.ty, sub[1:], kind), None if len(sub) == 1 else f.missing)
        return replace(ty, fields=fields)
    return ty


class Typer:
    """Infers every definition's type once (dependencies first) and collects the problems found."""

    def __init__(self, definitions: Mapping[str, ast.Definition], data: Mapping[str, Any],
                 inputs: Mapping[str, Any], skip: set[tuple[str, int, int]]):
        self.definitions = definitions
        self.skip = skip  # locations the other checks already reported
        self.diagnostics: list[Diagnostic] = []
        self.seen: set[tuple[Any, str]] = set()
        self.def_types: dict[str, Ty] = {}
        self.running: set[str] = set()
        table_cache: dict[int, Ty] = {}
        self.roots: dict[str, Ty] = {}
        for ns, items in data.items():
            if isinstance(items, Mapping):
                self.roots[ns] = RecT(None, _LazyItems(ns, items, table_cache), False, f"`{ns}`", False, True)
            else:
                self.roots[ns] = ANY
        for name, shape in inputs.items():
            self.roots.setdefault(name, shape_type(shape, name))

    # -- reporting ---------------------------------------------------------
    def error(self, message: str, loc: Location | None, hint: str | None = None) -> None:
        if loc is not None and (loc.file, loc.line, loc.column) in self.skip:
            return
        key = ((loc.file, loc.line, loc.column) if loc else None, message)
        if key in self.seen:
            return
        self.seen.add(key)
        self.diagnostics.append(Diagnostic(message, loc, hint))

    def null_error(self, ty: Ty, node: ast.Node, use: str) -> bool:
        """Report a value the year's data may leave null (or absent), used where a value is required."""
        null = ty.data_null
        if null is None:
            return False
        what = describe(node)
        guard = what.strip("`") if what.startswith("`") else "…"
        if null.missing:
            hint = f'guard it with `if has(…, "{guard.rsplit(".", 1)[-1]}") then … else …`'
        else:
            hint = f"guard it with `if {guard} == none then … else …` or `coalesce({guard}, …)`"
        self.error(f"{what} may be {'absent' if null.missing else 'none'} ({null.why}), but it is used {use} "
                   "without a guard", node.loc, hint)
        return True

    def kind_error(self, ty: Ty, node: ast.Node, message: str) -> None:
        origin = ty.origin if isinstance(ty, PrimT) else None
        self.error(f"{message}, but {describe(node)} is {ty.kind()}", node.loc, origin)

    def need_number(self, ty: Ty, node: ast.Node, use: str, what: str) -> None:
        if self.null_error(ty, node, use):
            return
        if _definitely_not(ty, "number"):
            self.kind_error(ty, node, f"{what} needs a number")

    def need_text(self, ty: Ty, node: ast.Node, use: str, what: str) -> None:
        if self.null_error(ty, node, use):
            return
        if _definitely_not(ty, "text"):
            self.kind_error(ty, node, f"{what} needs text")

    def need_bool(self, ty: Ty, node: ast.Node, use: str, what: str) -> None:
        if self.null_error(ty, node, use):
            return
        if _definitely_not(ty, "boolean"):
            self.kind_error(ty, node, f"{what} needs true or false")

    # -- definitions -----------------------------------------------------------
    def run(self) -> list[Diagnostic]:
        # Dependencies first, so that inferring one definition rarely recurses into another.
        for name in _dependency_order(self.definitions):
            self.definition_type(name)
        return self.diagnostics

    def definition_type(self, name: str) -> Ty:
        got = self.def_types.get(name)
        if got is not None:
            return got
        d = self.definitions.get(name)
        if d is None or name in self.running:
            return ANY  # a cycle, reported elsewhere
        self.running.add(name)
        try:
            env = Env({p: ANY for p in (d.params or ())})
            ty = self.infer(d.body, env)
        finally:
            self.running.discard(name)
        self.def_types[name] = ty
        return ty

    # -- expressions ---------------------------------------------------------
    def infer(self, node: ast.Node, env: Env) -> Ty:
        method: Callable[[Any, Env], Ty] | None = getattr(self, "_" + type(node).__name__.lower(), None)
        if method is None:
            return ANY
        ty = method(node, env)
        if ty.null is not None and env.facts and isinstance(node, (ast.Name, ast.Field, ast.Call)):
            p = path_of(node)
            if p is not None:
                if ("nonnull", p) in env.facts or (ty.null.missing and ("present", p) in env.facts):
                    ty = ty.nonnull()
        return ty

    def _number(self, node: ast.Number, env: Env) -> Ty:
        return NUM_LIT

    def _string(self, node: ast.String, env: Env) -> Ty:
        return TEXT_LIT

    def _const(self, node: ast.Const, env: Env) -> Ty:
        if node.value is None:
            return NoneT(RULE_NONE)
        return BOOL_LIT

    def _name(self, node: ast.Name, env: Env) -> Ty:
        name = node.name
        if name in env.vars:
            return env.vars[name]
        if name in self.roots:
            return self.roots[name]
        d = self.definitions.get(name)
        if d is not None and not d.is_function:
            return self.definition_type(name)
        return ANY

    def _listlit(self, node: ast.ListLit, env: Env) -> Ty:
        return ListT(None, join_all(self.infer(i, env) for i in node.items))

    def _recordlit(self, node: ast.RecordLit, env: Env) -> Ty:
        loc = node.loc
        fields = {name: FieldT(self.infer(v, env)) for name, v in node.fields}
        return RecT(None, fields, False, f"the record built at {loc.file.rsplit('/', 1)[-1]}:{loc.line}:{loc.column}")

    def _let(self, node: ast.Let, env: Env) -> Ty:
        value = self.infer(node.value, env)
        return self.infer(node.body, env.bind(node.name, value))

    def _lambda(self, node: ast.Lambda, env: Env) -> Ty:
        self.infer(node.body, env.bind(node.param, ANY))  # misplaced; the checker reports it
        return ANY

    def _if(self, node: ast.If, env: Env) -> Ty:
        cond = self.infer(node.cond, env)
        self.need_bool(cond, node.cond, "as the condition of `if`", "`if`")
        then = self.infer(node.then, env.knowing(facts_when(node.cond, True)))
        otherwise = self.infer(node.otherwise, env.knowing(facts_when(node.cond, False)))
        return join(then, otherwise)

    def _unary(self, node: ast.Unary, env: Env) -> Ty:
        operand = self.infer(node.operand, env)
        if node.op == "not":
            self.need_bool(operand, node.operand, "with `not`", "`not`")
            return BOOL
        self.need_number(operand, node.operand, "in arithmetic (`-`)", "`-`")
        return NUM

    def _binary(self, node: ast.Binary, env: Env) -> Ty:
        op = node.op
        if op in ("and", "or"):
            left = self.infer(node.left, env)
            self.need_bool(left, node.left, f"with `{op}`", f"`{op}`")
            right = self.infer(node.right, env.knowing(facts_when(node.left, op == "and")))
            self.need_bool(right, node.right, f"with `{op}`", f"`{op}`")
            return BOOL
        left = self.infer(node.left, env)
        right = self.infer(node.right, env)
        if op in ("+", "-", "*", "/"):
            self.need_number(left, node.left, f"in arithmetic (`{op}`)", f"`{op}`")
            self.need_number(right, node.right, f"in arithmetic (`{op}`)", f"`{op}`")
            return NUM
        if op in ("<", "<=", ">", ">="):
            self._check_order(left, right, node, op)
            return BOOL
        if op in ("==", "!="):
            if _mixed(left, right):
                self.error(f"`{op}` compares {left.kind()} with {right.kind()}: it is never "
                           f"{'true' if op == '==' else 'false'}", node.loc, left.origin or right.origin)
            return BOOL
        # in / not in
        if not self.null_error(right, node.right, f"with `{op}`"):
            if isinstance(right, (RecT, DictT)) and _compound(left):
                self.error(f"`{op}` a record looks for a field name (text), but {describe(node.left)} is "
                           f"{left.kind()}", node.left.loc)
            elif isinstance(right, PrimT) and right.name != "text" and not right.literal:
                self.kind_error(right, node.right, f"`{op}` needs a list, set, record or table")
            elif isinstance(right, ListT) and _mixed(left, right.elem):
                self.error(f"`{op}` looks for {left.kind()} among {right.elem.name} values: it never finds it",
                           node.loc, right.elem.origin)
        return BOOL

    def _check_order(self, left: Ty, right: Ty, node: ast.Binary, op: str) -> None:
        use = f"in a comparison (`{op}`)"
        bad_left = self.null_error(left, node.left, use)
        bad_right = self.null_error(right, node.right, use)
        if bad_left or bad_right:
            return
        for side, ty in ((node.left, left), (node.right, right)):
            if _definitely_not(ty, "number") and _definitely_not(ty, "text"):
                self.kind_error(ty, side, f"`{op}` orders numbers or texts")
                return
        if _mixed(left, right):
            origin = left.origin or right.origin
            self.error(f"`{op}` compares {left.kind()} with {right.kind()}", node.loc, origin)

    def _field(self, node: ast.Field, env: Env) -> Ty:
        target = self.infer(node.target, env)
        return self.read_field(target, node.target, node.name, node.loc)

    def read_field(self, target: Ty, target_node: ast.Node, name: str, loc: Location) -> Ty:
        if self.null_error(target, target_node, f"to read `.{name}`"):
            target = target.nonnull()
        if isinstance(target, RecT):
            f = target.fields.get(name)
            if f is None:
                if not target.open:
                    guess = did_you_mean(name, list(target.fields))
                    self.error(f"{target.desc} {'have' if target.plural else 'has'} no field `{name}`", loc,
                               f"did you mean `{guess}`?" if guess else
                               "fields: " + ", ".join(f"`{n}`" for n in list(target.fields)[:12]))
                return ANY
            ty = f.ty
            if f.missing is not None:
                ty = ty.with_null(Null(target.data, f.missing, missing=True))
            return ty
        if isinstance(target, DictT):
            return target.value
        if isinstance(target, TableT):
            self.error(f"`{target.name}` is a table: it has no field `{name}`", loc,
                       f"look a row up with `{target.name}[key]` or `get({target.name}, key)`")
            return ANY
        if isinstance(target, (PrimT, ListT)):
            self.kind_error(target, target_node, f"reading `.{name}` needs a record")
        return ANY

    def _index(self, node: ast.Index, env: Env) -> Ty:
        target = self.infer(node.target, env)
        key = self.infer(node.key, env)
        if self.null_error(target, node.target, "to look a key up"):
            target = target.nonnull()
        self.null_error(key, node.key, "as a key")
        if isinstance(target, TableT):
            self._check_key(target, key, node.key)
            return target.row
        if isinstance(target, RecT):
            if isinstance(node.key, ast.String):
                return self.read_field(target, node.target, node.key.value, node.key.loc)
            if target.open or not target.fields:
                return ANY
            return join_all(f.ty.nonnull() for f in target.fields.values())
        if isinstance(target, DictT):
            return target.value
        if isinstance(target, ListT):
            if not isinstance(key, (AnyT, NeverT)) and key.data_null is None and _definitely_not(key, "number"):
                self.kind_error(key, node.key, "a list position needs a number")
            return target.elem.nonnull() if target.elem.data_null is None else target.elem
        if isinstance(target, PrimT):
            self.kind_error(target, node.target, "`[…]` needs a table, record or list")
        return ANY

    def _check_key(self, table: TableT, key: Ty, key_node: ast.Node) -> None:
        want = table.key
        if isinstance(want, PrimT) and isinstance(key, PrimT) and key.name != want.name:
            self.error(f"`{table.name}` is keyed by {want.name} values, but {describe(key_node)} is "
                       f"{key.kind()}: no row matches", key_node.loc, key.origin)

    # -- calls ---------------------------------------------------------------
    def _call(self, node: ast.Call, env: Env) -> Ty:
        name = node.func
        if name in self.definitions and name not in BUILTINS:
            for a in node.args:
                self.infer(a, env)
            d = self.definitions[name]
            return self.definition_type(name) if d.is_function else ANY
        b = BUILTINS.get(name)
        if b is None:
            for a in node.args:
                self.infer(a, env)
            return ANY
        args = node.args
        if len(args) < b.min_args or (b.max_args is not None and len(args) > b.max_args):
            for a in args:
                self.infer(a, env)
            return ANY
        handler = getattr(self, "_b_" + name, None)
        if handler is not None:
            return handler(node, env)
        types = [self.infer(a, env) for a in args if not isinstance(a, ast.Lambda)]
        return _PLAIN_RESULTS.get(name, lambda ts: ANY)(types)

    def _lambda_body(self, fn: ast.Node, elem: Ty, env: Env) -> Ty:
        if isinstance(fn, ast.Lambda):
            return self.infer(fn.body, env.bind(fn.param, elem))
        self.infer(fn, env)
        return ANY

    def _list_arg(self, node: ast.Call, env: Env, i: int = 0) -> tuple[Ty, Ty]:
        """The list argument's type and its items' type."""
        arg = node.args[i]
        ty = self.infer(arg, env)
        if self.null_error(ty, arg, f"as the list of `{node.func}`"):
            ty = ty.nonnull()
        if isinstance(ty, ListT):
            return ty, ty.elem
        if isinstance(ty, (PrimT, RecT, TableT, DictT)):
            hint = f"get its rows with `rows({describe(arg).strip('`')})`" if isinstance(ty, TableT) else None
            self.error(f"`{node.func}` needs a list, but {describe(arg)} is {ty.kind()}", arg.loc, hint)
        return ty, ANY

    def _filtered(self, node: ast.Call, elem: Ty) -> Ty:
        fn = node.args[1]
        if isinstance(fn, ast.Lambda):
            for kind, p in facts_when(fn.body, True):
                if p[0] == fn.param:
                    elem = narrow(elem, p[1:], kind)
        return elem

    def _predicate(self, node: ast.Call, env: Env, elem: Ty) -> None:
        if len(node.args) > 1:
            fn = node.args[1]
            body = self._lambda_body(fn, elem, env)
            where = fn.body if isinstance(fn, ast.Lambda) else fn
            self.need_bool(body, where, f"as the test of `{node.func}`", f"`{node.func}`")

    def _b_map(self, node: ast.Call, env: Env) -> Ty:
        _, elem = self._list_arg(node, env)
        return ListT(None, self._lambda_body(node.args[1], elem, env))

    def _b_filter(self, node: ast.Call, env: Env) -> Ty:
        ty, elem = self._list_arg(node, env)
        self._predicate(node, env, elem)
        return ListT(None, self._filtered(node, elem), isinstance(ty, ListT) and ty.is_set)

    def _b_find(self, node: ast.Call, env: Env) -> Ty:
        _, elem = self._list_arg(node, env)
        self._predicate(node, env, elem)
        return self._filtered(node, elem).with_null(RULE_NONE)

    def _b_any(self, node: ast.Call, env: Env) -> Ty:
        _, elem = self._list_arg(node, env)
        if len(node.args) > 1:
            self._predicate(node, env, elem)
        else:
            self.need_bool(elem, node.args[0], f"as the items of `{node.func}`", f"`{node.func}`")
        return BOOL

    _b_all = _b_any

    def _b_count(self, node: ast.Call, env: Env) -> Ty:
        _, elem = self._list_arg(node, env)
        self._predicate(node, env, elem)
        return NUM

    def _b_sum(self, node: ast.Call, env: Env) -> Ty:
        _, elem = self._list_arg(node, env)
        if len(node.args) > 1:
            fn = node.args[1]
            body = self._lambda_body(fn, elem, env)
            self.need_number(body, fn.body if isinstance(fn, ast.Lambda) else fn, "in `sum`", "`sum`")
        else:
            self.need_number(elem, node.args[0], "in `sum` (its items)", "`sum`")
        return NUM

    def _b_sort(self, node: ast.Call, env: Env) -> Ty:
        ty, elem = self._list_arg(node, env)
        fn = node.args[1]
        if isinstance(fn, ast.Lambda):
            inner = env.bind(fn.param, elem)
            parts = fn.body.items if isinstance(fn.body, ast.ListLit) else (fn.body,)
            for part in parts:
                target = part.args[0] if isinstance(part, ast.Call) and part.func == "desc" and len(part.args) == 1 \
                    else part
                t = self.infer(target, inner)
                if not self.null_error(t, target, "as a sort key"):
                    if _definitely_not(t, "number") and _definitely_not(t, "text") and not isinstance(t, ListT):
                        self.kind_error(t, target, "a sort key needs numbers or texts")
        else:
            self.infer(fn, env)
        return ListT(None, elem)

    def _b_first(self, node: ast.Call, env: Env) -> Ty:
        _, elem = self._list_arg(node, env)
        return elem.with_null(RULE_NONE) if not isinstance(elem, (AnyT, NeverT)) else ANY

    def _b_take(self, node: ast.Call, env: Env) -> Ty:
        ty, elem = self._list_arg(node, env)
        n = self.infer(node.args[1], env)
        self.need_number(n, node.args[1], "as the count of `take`", "`take`")
        return ListT(None, elem)

    def _b_distinct(self, node: ast.Call, env: Env) -> Ty:
        _, elem = self._list_arg(node, env)
        return ListT(None, elem)

    def _b_set(self, node: ast.Call, env: Env) -> Ty:
        _, elem = self._list_arg(node, env)
        if _compound(elem):
            self.error(f"a set holds numbers, texts, true/false or none, but the items of {describe(node.args[0])} "
                       f"are {_plural(elem)}", node.args[0].loc, "use `distinct(…)` for a list without repeats")
        return ListT(None, elem, True)

    def _b_concat(self, node: ast.Call, env: Env) -> Ty:
        elems = []
        for i in range(len(node.args)):
            _, elem = self._list_arg(node, env, i)
            elems.append(elem)
        return ListT(None, join_all(elems))

    def _b_flatten(self, node: ast.Call, env: Env) -> Ty:
        _, elem = self._list_arg(node, env)
        if isinstance(elem, ListT):
            return ListT(None, elem.elem)
        if isinstance(elem, NeverT):
            return ListT(None, NEVER)
        return ListT(None, ANY)

    def _b_rows(self, node: ast.Call, env: Env) -> Ty:
        arg = node.args[0]
        ty = self.infer(arg, env)
        if self.null_error(ty, arg, "as the table of `rows`"):
            return ANY
        if isinstance(ty, TableT):
            return ListT(None, ty.row)
        if isinstance(ty, (PrimT, ListT, RecT, DictT)):
            self.kind_error(ty, arg, "`rows` needs a table")
        return ListT(None, ANY)

    def _b_get(self, node: ast.Call, env: Env) -> Ty:
        target = self.infer(node.args[0], env)
        key = self.infer(node.args[1], env)
        default = self.infer(node.args[2], env) if len(node.args) > 2 else NoneT(RULE_NONE)
        if self.null_error(target, node.args[0], "as the record or table of `get`"):
            target = target.nonnull()
        if isinstance(target, TableT):
            self._check_key(target, key, node.args[1])
            return join(target.row, default)
        if isinstance(target, RecT):
            if isinstance(node.args[1], ast.String):
                f = target.fields.get(node.args[1].value)
                if f is None:
                    return default if not target.open else ANY
                return join(f.ty.nonnull() if f.ty.data_null is None else f.ty, default)
            if target.open or not target.fields:
                return ANY
            return join(join_all(f.ty.nonnull() for f in target.fields.values()), default)
        if isinstance(target, DictT):
            return join(target.value, default)
        if isinstance(target, (PrimT, ListT)):
            self.kind_error(target, node.args[0], "`get` needs a record or table")
        return ANY

    def _b_has(self, node: ast.Call, env: Env) -> Ty:
        for a in node.args:
            self.infer(a, env)
        return BOOL

    def _b_coalesce(self, node: ast.Call, env: Env) -> Ty:
        x = self.infer(node.args[0], env)
        default = self.infer(node.args[1], env)
        return join(x.nonnull(), default)

    def _b_index_by(self, node: ast.Call, env: Env) -> Ty:
        _, elem = self._list_arg(node, env)
        self._record_key(node, self._lambda_body(node.args[1], elem, env))
        return DictT(None, elem)

    def _b_group_by(self, node: ast.Call, env: Env) -> Ty:
        _, elem = self._list_arg(node, env)
        self._record_key(node, self._lambda_body(node.args[1], elem, env))
        return DictT(None, ListT(None, elem))

    def _record_key(self, node: ast.Call, key: Ty) -> None:
        if _compound(key):
            fn = node.args[1]
            where = fn.body if isinstance(fn, ast.Lambda) else fn
            self.error(f"`{node.func}` keys each item by text (or a number), but {describe(where)} is {key.kind()}",
                       where.loc)

    def _numbers(self, node: ast.Call, env: Env, result: Ty = NUM) -> Ty:
        for a in node.args:
            t = self.infer(a, env)
            self.need_number(t, a, f"in `{node.func}`", f"`{node.func}`")
        return result

    _b_clamp = _numbers
    _b_abs = _numbers

    def _b_min(self, node: ast.Call, env: Env) -> Ty:
        if len(node.args) == 1:
            ty, elem = self._list_arg(node, env)
            if elem.null is None and _definitely_not(elem, "number"):
                self.kind_error(elem, node.args[0], f"`{node.func}` needs numbers (its items)")
            return NUM.with_null(RULE_NONE)
        for a in node.args:  # none values are skipped
            t = self.infer(a, env)
            if t.null is None and _definitely_not(t, "number"):
                self.kind_error(t, a, f"`{node.func}` needs numbers")
        return NUM

    _b_max = _b_min

    def _rounding(self, node: ast.Call, env: Env) -> Ty:
        x = self.infer(node.args[0], env)  # none rounds to none
        if x.null is None and _definitely_not(x, "number"):
            self.kind_error(x, node.args[0], f"`{node.func}` needs a number")
        if len(node.args) > 1:
            places = self.infer(node.args[1], env)
            self.need_number(places, node.args[1], f"as the places of `{node.func}`", f"`{node.func}`")
        return NUM.with_null(x.null)

    _b_round_half_up = _b_round_half_even = _b_round_down = _b_round_up = _b_floor = _b_ceiling = _rounding

    def _texts(self, node: ast.Call, env: Env, result: Ty) -> Ty:
        for a in node.args:
            t = self.infer(a, env)
            self.need_text(t, a, f"in `{node.func}`", f"`{node.func}`")
        return result

    def _b_days_between(self, node: ast.Call, env: Env) -> Ty:
        return self._texts(node, env, NUM)

    _b_year_of = _b_length = _b_days_between

    def _b_contains_text(self, node: ast.Call, env: Env) -> Ty:
        for a in node.args:  # anything but text is silently not contained: say so when it is clear
            t = self.infer(a, env)
            self.need_text(t, a, "in `contains_text`", "`contains_text`")
        return BOOL

    def _b_concat_text(self, node: ast.Call, env: Env) -> Ty:
        for a in node.args:  # a null would be written as "None"
            self.null_error(self.infer(a, env), a, f"in `{node.func}`")
        return TEXT

    _b_text = _b_concat_text

    def _b_merge(self, node: ast.Call, env: Env) -> Ty:
        a, b = (self._record_arg(node, env, i) for i in (0, 1))
        if isinstance(a, RecT) and isinstance(b, RecT):
            fields = {**a.fields, **b.fields}
            return RecT(None, fields, a.open or b.open, a.desc if a.desc == b.desc else "the merged record")
        if isinstance(b, RecT):
            return RecT(None, dict(b.fields), True, "the merged record")
        if isinstance(a, RecT):
            return RecT(None, dict(a.fields), True, "the merged record")
        return ANY

    def _b_keys(self, node: ast.Call, env: Env) -> Ty:
        ty = self._record_arg(node, env, 0)  # a record's field names are text; `group_by`'s keys are what f gave
        return ListT(None, TEXT if isinstance(ty, RecT) else ANY)

    def _record_arg(self, node: ast.Call, env: Env, i: int) -> Ty:
        arg = node.args[i]
        ty = self.infer(arg, env)
        if self.null_error(ty, arg, f"in `{node.func}`"):
            return ty.nonnull()
        if isinstance(ty, (PrimT, ListT, TableT)) and not (isinstance(ty, PrimT) and ty.literal):
            self.kind_error(ty, arg, f"`{node.func}` needs a record")
        return ty


def _dependency_order(definitions: Mapping[str, ast.Definition]) -> list[str]:
    """Definition names, each after the definitions it names (cycles are broken anywhere)."""
    def refs(d: ast.Definition) -> list[str]:
        found: list[str] = []
        stack = [d.body]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Name) and node.name in definitions:
                found.append(node.name)
            elif isinstance(node, ast.Call) and node.func in definitions:
                found.append(node.func)
            stack.extend(ast.children(node))
        return found

    order: list[str] = []
    state: dict[str, int] = {}  # 1: being visited, 2: done
    for root in definitions:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(refs(definitions[root])))]
        while stack:
            name, pending = stack[-1]
            for dep in pending:
                if dep not in state:
                    state[dep] = 1
                    stack.append((dep, iter(refs(definitions[dep]))))
                    break
            else:
                stack.pop()
                state[name] = 2
                order.append(name)
    return order


_PLAIN_RESULTS: dict[str, Callable[[list[Ty]], Ty]] = {
    "type_of": lambda ts: TEXT,
    "desc": lambda ts: ANY,
}


def _compound(ty: Ty) -> bool:
    """A list, set, record or table: never a field name, a set's item or a record's key."""
    return isinstance(ty, (ListT, RecT, DictT, TableT)) and ty.null is None


def _plural(ty: Ty) -> str:
    return {"a list": "lists", "a set": "sets", "a record": "records", "a table": "tables"}.get(ty.kind(), ty.kind())


def _mixed(a: Ty, b: Ty) -> bool:
    """Two kinds of value that never compare equal (a number and a text), not both written as literals."""
    return isinstance(a, PrimT) and isinstance(b, PrimT) and a.name != b.name and not (a.literal and b.literal)


def _definitely_not(ty: Ty, kind: str) -> bool:
    """True when a value of this type can never be of `kind` (number, text, boolean)."""
    if isinstance(ty, (AnyT, NeverT)):
        return False
    if isinstance(ty, PrimT):
        return ty.name != kind and not ty.literal
    if isinstance(ty, NoneT):
        return ty.data_null is not None  # the rules' own none is not reported
    return isinstance(ty, (ListT, RecT, DictT, TableT))


def typecheck(definitions: Mapping[str, ast.Definition], data: Mapping[str, Any], inputs: Mapping[str, Any],
              already: Iterable[Diagnostic] = ()) -> list[Diagnostic]:
    """Type-check a year's definitions against its data and the inputs' shapes; the problems found."""
    skip = {(d.location.file, d.location.line, d.location.column) for d in already if d.location is not None}
    typer = Typer(definitions, data, inputs, skip)
    try:
        return typer.run()
    except RecursionError:  # the parser bounds nesting; this is only a safety net
        return typer.diagnostics
