"""The rule language's built-in functions.

These are year-agnostic algorithms; everything they compute with comes from a
year's data or the submission. Each entry documents itself for the README and
for `rulesctl` error hints.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from functools import cmp_to_key
from typing import Any, Callable

from mips_rules.dsl.limits import MAX_COLLECTION, MAX_TEXT, LimitExceeded, check_size, check_text
from mips_rules.dsl.values import (EvalFailure, Table, _SCALARS, equal, require_list, require_number,
                                   to_plain_bounded, type_name)


@dataclass(frozen=True)
class Builtin:
    name: str
    fn: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number
    lambda_args: frozenset[int]  # argument positions that must be `x -> …`
    signature: str
    doc: str
    metered: bool = False  # called as fn(ev, cost, *args): it charges the evaluation's steps (dsl/limits.py)


BUILTINS: dict[str, Builtin] = {}


def builtin(signature: str, doc: str, *, min_args: int, max_args: int | None, lambdas: tuple[int, ...] = (),
            metered: bool = False):
    """Register a built-in. A metered one is called as fn(ev, cost, *args): `ev` is the evaluation (its
    `charge(n)` spends steps) and `cost` what one run of the call's `x -> …` functions costs (1 + their size)."""
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        name = signature.split("(")[0]
        BUILTINS[name] = Builtin(name, fn, min_args, max_args, frozenset(lambdas), signature, doc,
                                 metered or bool(lambdas))
        return fn
    return register


def _places(value: Any) -> Decimal:
    n = require_number(value, "rounding places")
    if n != n.to_integral_value() or not (0 <= n <= 20):
        raise EvalFailure("rounding places must be a whole number from 0 to 20")
    return Decimal(1).scaleb(-int(n))


_QUANTUM = {Decimal(n): Decimal(1).scaleb(-n) for n in range(21)}  # places → quantum, the common case


def _rounder(mode: str) -> Callable[[Any, Any], Any]:
    def do(x: Any, places: Any = Decimal(0)) -> Any:
        if x is None:
            return None
        quantum = _QUANTUM.get(places) if type(places) is Decimal else None
        if type(x) is Decimal and quantum is not None:
            return x.quantize(quantum, rounding=mode)
        return require_number(x, "rounding").quantize(_places(places), rounding=mode)
    return do


for _name, _mode, _doc in [
    ("round_half_up", ROUND_HALF_UP, "round to `places` decimals, halves away from zero (CMS's rounding)"),
    ("round_half_even", ROUND_HALF_EVEN, "round to `places` decimals, halves to the even digit"),
    ("round_down", ROUND_DOWN, "truncate to `places` decimals (toward zero)"),
    ("round_up", ROUND_UP, "round away from zero to `places` decimals"),
    ("floor", ROUND_FLOOR, "round toward minus infinity to `places` decimals"),
    ("ceiling", ROUND_CEILING, "round toward plus infinity to `places` decimals"),
]:
    builtin(f"{_name}(x, places = 0)", _doc, min_args=1, max_args=2)(_rounder(_mode))


def _extreme(pick: Callable[..., Any], what: str) -> Callable[..., Any]:
    larger = pick is max

    def do(ev: Any, cost: int, *args: Any) -> Any:
        items = require_list(args[0], what) if len(args) == 1 else args
        ev.steps -= len(items)
        if ev.steps < 0:
            ev.charge(0)
        best = None
        for v in items:  # as pick() over the numbers that are not none: the first of equal ones wins
            if v is None:
                continue
            if type(v) is not Decimal:
                v = require_number(v, what)
            if best is None or (v > best if larger else v < best):
                best = v
        return best
    return do


builtin("min(a, b, …)", "the smallest number (of the arguments, or of one list); none values are skipped",
        min_args=1, max_args=None, metered=True)(_extreme(min, "min"))
builtin("max(a, b, …)", "the largest number (of the arguments, or of one list); none values are skipped",
        min_args=1, max_args=None, metered=True)(_extreme(max, "max"))


@builtin("clamp(x, low, high)", "x limited to the range [low, high]", min_args=3, max_args=3)
def _clamp(x: Any, low: Any, high: Any) -> Decimal:
    return max(require_number(low, "clamp"), min(require_number(high, "clamp"), require_number(x, "clamp")))


@builtin("abs(x)", "absolute value", min_args=1, max_args=1)
def _abs(x: Any) -> Decimal:
    return abs(require_number(x, "abs"))


@builtin("sum(xs, f = x -> x)", "the sum of a list, or of f applied to each item (0 for an empty list)",
         min_args=1, max_args=2, lambdas=(1,))
def _sum(ev: Any, cost: int, xs: Any, f: Callable[[Any], Any] | None = None) -> Decimal:
    total = Decimal(0)
    items = require_list(xs, "sum")
    ev.steps -= len(items) * cost
    if ev.steps < 0:
        ev.charge(0)
    for item in items:
        v = f(item) if f else item
        total += require_number(v, "sum")
    return total


@builtin("count(xs, f = none)", "how many items (that satisfy f)", min_args=1, max_args=2, lambdas=(1,))
def _count(ev: Any, cost: int, xs: Any, f: Callable[[Any], Any] | None = None) -> Decimal:
    items = xs if type(xs) is tuple else require_list(xs, "count")
    if f is None:
        ev.steps -= 1
        if ev.steps < 0:
            ev.charge(0)
        return Decimal(len(items))  # type: ignore[arg-type]
    ev.steps -= len(items) * cost
    if ev.steps < 0:
        ev.charge(0)
    return Decimal(sum(1 for item in items if _truth(f(item), "count")))


@builtin("map(xs, f)", "f applied to each item", min_args=2, max_args=2, lambdas=(1,))
def _map(ev: Any, cost: int, xs: Any, f: Callable[[Any], Any]) -> tuple[Any, ...]:
    items = require_list(xs, "map")
    ev.steps -= len(items) * cost
    if ev.steps < 0:
        ev.charge(0)
    return tuple([f(item) for item in items])


@builtin("filter(xs, f)", "the items for which f is true", min_args=2, max_args=2, lambdas=(1,))
def _filter(ev: Any, cost: int, xs: Any, f: Callable[[Any], Any]) -> tuple[Any, ...]:
    items = require_list(xs, "filter")
    ev.steps -= len(items) * cost
    if ev.steps < 0:
        ev.charge(0)
    return tuple([item for item in items if _truth(f(item), "filter")])


@builtin("any(xs, f = x -> x)", "true if f is true for at least one item", min_args=1, max_args=2, lambdas=(1,))
def _any(ev: Any, cost: int, xs: Any, f: Callable[[Any], Any] | None = None) -> bool:
    items = require_list(xs, "any")
    ev.steps -= len(items) * cost
    if ev.steps < 0:
        ev.charge(0)
    return any(_truth(f(i) if f else i, "any") for i in items)


@builtin("all(xs, f = x -> x)", "true if f is true for every item (true for an empty list)",
         min_args=1, max_args=2, lambdas=(1,))
def _all(ev: Any, cost: int, xs: Any, f: Callable[[Any], Any] | None = None) -> bool:
    items = require_list(xs, "all")
    ev.steps -= len(items) * cost
    if ev.steps < 0:
        ev.charge(0)
    return all(_truth(f(i) if f else i, "all") for i in items)


@builtin("find(xs, f)", "the first item for which f is true, or none", min_args=2, max_args=2, lambdas=(1,))
def _find(ev: Any, cost: int, xs: Any, f: Callable[[Any], Any]) -> Any:
    items = require_list(xs, "find")
    ev.steps -= len(items) * cost
    if ev.steps < 0:
        ev.charge(0)
    for item in items:
        if _truth(f(item), "find"):
            return item
    return None


class _Desc:
    """A sort key that orders in reverse (`desc(x.points)`)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


@builtin("desc(x)", "inside a sort key: order this part from largest to smallest", min_args=1, max_args=1)
def _desc(x: Any) -> _Desc:
    return _Desc(x)


def _compare(a: Any, b: Any, ev: Any) -> int:
    if isinstance(a, _Desc) and isinstance(b, _Desc):
        return -_compare(a.value, b.value, ev)
    ev.steps -= 2
    if ev.steps < 0:
        ev.charge(0)
    if isinstance(a, tuple) and isinstance(b, tuple):
        ev.steps -= 2 * min(len(a), len(b))
        if ev.steps < 0:
            ev.charge(0)
        for x, y in zip(a, b):
            c = _compare(x, y, ev)
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    if a is None or b is None or isinstance(a, bool) != isinstance(b, bool) or type(a) is not type(b):
        raise EvalFailure(f"cannot order {type_name(a)} against {type_name(b)} in a sort key")
    return (a > b) - (a < b)


@builtin("sort(xs, key)", "the items ordered by key, smallest first; a key may be a list "
         "(`[desc(x.points), x.measure_id]`) to break ties; the sort is stable",
         min_args=2, max_args=2, lambdas=(1,))
def _sort(ev: Any, cost: int, xs: Any, key: Callable[[Any], Any]) -> tuple[Any, ...]:
    items = list(require_list(xs, "sort"))
    ev.steps -= len(items) * (cost + len(items).bit_length())
    if ev.steps < 0:
        ev.charge(0)
    keyed = [(key(item), item) for item in items]
    native = _native_keys([k for k, _ in keyed])
    if native is not None:  # numbers, texts and desc(number) in the same kinds at each position
        order = sorted(range(len(keyed)), key=native.__getitem__)
        return tuple(keyed[i][1] for i in order)
    keyed.sort(key=cmp_to_key(lambda p, q: _compare(p[0], q[0], ev)))
    return tuple(item for _, item in keyed)


def _native_key(k: Any) -> Any:
    """A key Python orders as `_compare` does (None when only `_compare` can: a text in `desc`, none …)."""
    t = type(k)
    if t is Decimal or t is str or t is bool:
        return k
    if t is _Desc and type(k.value) is Decimal:
        return -k.value
    if t is tuple:
        parts = tuple([_native_key(p) for p in k])
        return None if None in parts else parts
    return None


def _kinds(k: Any) -> Any:
    return tuple([_kinds(p) for p in k]) if type(k) is tuple else type(k)  # desc(…) and a number differ


def _native_keys(keys: list[Any]) -> list[Any] | None:
    """Sort keys as plain Python values when every key has the same kinds at the same places (where they
    differ `_compare` refuses, or orders a shorter list first, which Python tuples do too — but only
    for lists whose common part has the same kinds)."""
    native = []
    shape = None
    for k in keys:
        n = _native_key(k)
        if n is None:
            return None
        kinds = _kinds(k)
        if shape is None:
            shape = kinds
        elif kinds != shape:
            return None
        native.append(n)
    return native


@builtin("take(xs, n)", "the first n items", min_args=2, max_args=2)
def _take(xs: Any, n: Any) -> tuple[Any, ...]:
    k = require_number(n, "take")
    items = tuple(require_list(xs, "take"))
    return items[: int(max(min(k, len(items)), 0))]


@builtin("first(xs)", "the first item, or none for an empty list", min_args=1, max_args=1)
def _first(xs: Any) -> Any:
    if type(xs) is tuple:
        return xs[0] if xs else None
    items = tuple(require_list(xs, "first"))
    return items[0] if items else None


@builtin("concat(xs, ys, …)", "the lists joined end to end", min_args=1, max_args=None, metered=True)
def _concat(ev: Any, cost: int, *lists: Any) -> tuple[Any, ...]:
    out: list[Any] = []
    for xs in lists:
        items = require_list(xs, "concat")
        check_size(len(out) + len(items))  # type: ignore[arg-type]
        out.extend(items)
    ev.steps -= len(lists) + len(out)
    if ev.steps < 0:
        ev.charge(0)
    return tuple(out)


@builtin("flatten(xss)", "a list of lists as one list", min_args=1, max_args=1, metered=True)
def _flatten(ev: Any, cost: int, xss: Any) -> tuple[Any, ...]:
    return _concat(ev, cost, *require_list(xss, "flatten")) if xss else ()


@builtin("set(xs)", "the distinct items, as a set (usable as a table key)", min_args=1, max_args=1, metered=True)
def _set(ev: Any, cost: int, xs: Any) -> frozenset[Any]:
    items = require_list(xs, "set")
    ev.steps -= len(items)
    if ev.steps < 0:
        ev.charge(0)
    for item in items:
        if type(item) not in _SCALARS:
            raise EvalFailure(f"a set holds numbers, texts, true/false or none, not a {type_name(item)}")
    return frozenset(items)


@builtin("distinct(xs)", "the items without repeats, in first-seen order", min_args=1, max_args=1, metered=True)
def _distinct(ev: Any, cost: int, xs: Any) -> tuple[Any, ...]:
    out: list[Any] = []
    items = require_list(xs, "distinct")
    kinds = {type(item) for item in items}
    if len(kinds) == 1 and (str in kinds or Decimal in kinds):  # `==` is Python's: a set finds repeats
        seen: set[Any] = set()
        for item in items:
            ev.steps -= 1 + len(out)
            if ev.steps < 0:
                ev.charge(0)
            if item not in seen:
                seen.add(item)
                out.append(item)
        return tuple(out)
    for item in items:
        ev.steps -= 1 + len(out)
        if ev.steps < 0:
            ev.charge(0)
        if not any(equal(item, kept, ev) for kept in out):
            out.append(item)
    return tuple(out)


@builtin("coalesce(x, default)", "x, or default when x is none", min_args=2, max_args=2)
def _coalesce(x: Any, default: Any) -> Any:
    return default if x is None else x


@builtin("get(record, name, default = none)", "a field of a record or a row of a table by a computed name; "
         "default when it is absent", min_args=2, max_args=3)
def _get(record: Any, name: Any, default: Any = None) -> Any:
    if type(record) is Table and type(name) is str and type(record.key_field) is str:
        return record.rows.get(name, default)  # the common lookup (Table.get's, without the calls)
    if isinstance(record, Table):
        return record.get(name, default)
    if isinstance(record, dict):
        v = record.get(name, default)
        return default if v is None else v
    raise EvalFailure(f"get needs a record or table, got {type_name(record)}")


@builtin("has(record, name)", "true if the record has the field (or the table the row); false for anything else",
         min_args=2, max_args=2)
def _has(record: Any, name: Any) -> bool:
    if type(record) is dict:
        return name in record
    if isinstance(record, Table):
        return record.get(name) is not None
    if isinstance(record, dict):
        return name in record
    return False


@builtin("merge(record, changes)", "a copy of the record with the fields of `changes` added or replaced",
         min_args=2, max_args=2, metered=True)
def _merge(ev: Any, cost: int, record: Any, changes: Any) -> dict[str, Any]:
    if not isinstance(record, dict) or not isinstance(changes, dict):
        raise EvalFailure(f"merge needs two records, got {type_name(record)} and {type_name(changes)}")
    ev.steps -= len(record) + len(changes)
    if ev.steps < 0:
        ev.charge(0)
    check_size(len(record) + len(changes))
    return {**record, **changes}


@builtin("type_of(x)", "the kind of a value: number, text, boolean, none, list, set, record, table",
         min_args=1, max_args=1)
def _type_of(x: Any) -> str:
    return type_name(x)


@builtin("concat_text(a, b, …)", "texts (and numbers, written plainly) joined into one text", min_args=1, max_args=None, metered=True)
def _concat_text(ev: Any, cost: int, *parts: Any) -> str:
    texts = [p if isinstance(p, str) else _text(ev, cost, p) for p in parts]
    total = sum(len(t) for t in texts)
    check_text_len(total)
    ev.steps -= len(texts) + (total >> 4)
    if ev.steps < 0:
        ev.charge(0)
    return "".join(texts)


def check_text_len(n: int) -> None:
    if n > MAX_TEXT:
        raise LimitExceeded(f"a text of more than {MAX_TEXT:,} characters")


def _record_key(k: Any, what: str) -> Any:
    if type(k) not in _SCALARS:
        raise EvalFailure(f"{what} needs a text (or number) as each item's key, got {type_name(k)}")
    return k


@builtin("index_by(xs, f)", "a record of the items keyed by f (text); the first item wins for a repeated key",
         min_args=2, max_args=2, lambdas=(1,))
def _index_by(ev: Any, cost: int, xs: Any, f: Callable[[Any], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    items = require_list(xs, "index_by")
    ev.steps -= len(items) * cost
    if ev.steps < 0:
        ev.charge(0)
    for item in items:
        out.setdefault(_record_key(f(item), "index_by"), item)
    return out


@builtin("group_by(xs, f)", "a record of lists: the items grouped by f (text), in first-seen order",
         min_args=2, max_args=2, lambdas=(1,))
def _group_by(ev: Any, cost: int, xs: Any, f: Callable[[Any], Any]) -> dict[str, Any]:
    out: dict[str, list[Any]] = {}
    items = require_list(xs, "group_by")
    ev.steps -= len(items) * cost
    if ev.steps < 0:
        ev.charge(0)
    for item in items:
        out.setdefault(_record_key(f(item), "group_by"), []).append(item)
    return {k: tuple(v) for k, v in out.items()}


@builtin("keys(record)", "the field names of a record, in order", min_args=1, max_args=1, metered=True)
def _keys(ev: Any, cost: int, record: Any) -> tuple[Any, ...]:
    if not isinstance(record, dict):
        raise EvalFailure(f"keys needs a record, got {type_name(record)}")
    ev.steps -= len(record)
    if ev.steps < 0:
        ev.charge(0)
    return tuple(record)


@builtin("rows(table)", "the rows of a table, in file order", min_args=1, max_args=1, metered=True)
def _rows(ev: Any, cost: int, table: Any) -> tuple[Any, ...]:
    if not isinstance(table, Table):
        raise EvalFailure(f"rows needs a table, got {type_name(table)}")
    ev.steps -= len(table.rows)
    if ev.steps < 0:
        ev.charge(0)
    return tuple(table.rows.values())


def _date(value: Any) -> _dt.date:
    if not isinstance(value, str):
        raise EvalFailure(f"a date must be text like YYYY-MM-DD, got {type_name(value)}")
    try:
        return _dt.date.fromisoformat(value)
    except ValueError:
        raise EvalFailure(f"not a date: {value!r}") from None


@builtin("days_between(start, end)", "calendar days from start to end, counting both (dates as text YYYY-MM-DD)",
         min_args=2, max_args=2)
def _days_between(start: Any, end: Any) -> Decimal:
    return Decimal((_date(end) - _date(start)).days + 1)


@builtin("year_of(date)", "the year of a date given as text YYYY-MM-DD", min_args=1, max_args=1)
def _year_of(date: Any) -> Decimal:
    return Decimal(_date(date).year)


@builtin("text(x)", "a value written as text", min_args=1, max_args=1, metered=True)
def _text(ev: Any, cost: int, x: Any) -> str:
    if isinstance(x, str):
        return x
    if isinstance(x, Decimal):
        if x.is_finite() and abs(x.adjusted()) > MAX_TEXT - 100:
            check_text_len(abs(x.adjusted()))
        return format(x.normalize(), "f")
    if isinstance(x, (tuple, frozenset, dict)):
        # Written as plain data; its size is bounded before any text is made.
        plain = to_plain_bounded(x, MAX_TEXT // 4)
        ev.steps -= _text_size(plain, ev)
        if ev.steps < 0:
            ev.charge(0)
        return str(plain)
    return str(x)


def _text_size(plain: Any, ev: Any) -> int:
    """About how long `str(plain)` is, refusing it when over the cap."""
    total = 0
    stack = [plain]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            total += 4 * len(v) + sum(len(k) for k in v)
            stack.extend(v.values())
        elif isinstance(v, list):
            total += 2 * len(v) + 2
            stack.extend(v)
        elif isinstance(v, str):
            total += len(v) + 2
        else:
            total += 48
        if total > MAX_TEXT:
            check_text_len(total)
    return 1 + (total >> 4)


@builtin("contains_text(haystack, needle)", "true if the text contains the other", min_args=2, max_args=2, metered=True)
def _contains_text(ev: Any, cost: int, haystack: Any, needle: Any) -> bool:
    if not isinstance(haystack, str) or not isinstance(needle, str):
        return False
    ev.steps -= 1 + (len(haystack) >> 6)
    if ev.steps < 0:
        ev.charge(0)
    return needle in haystack


@builtin("length(text)", "the number of characters of a text", min_args=1, max_args=1)
def _length(x: Any) -> Decimal:
    if not isinstance(x, str):
        raise EvalFailure(f"length needs text, got {type_name(x)}")
    return Decimal(len(x))


def _truth(value: Any, what: str) -> bool:
    if value is True or value is False:
        return value
    raise EvalFailure(f"{what} needs true or false, got {type_name(value)}")


truth = _truth
