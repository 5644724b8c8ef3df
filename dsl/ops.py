"""The rule language's operations, shared by the closure compiler and the generated code.

One definition of what `+`, `==`, `in`, `.field` and `[key]` mean: exact decimals only,
no silent mixing of kinds (1 is not true), and an `EvalFailure` that says what went wrong.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mips_rules.dsl.values import EvalFailure, Table, equal, type_name

_D = Decimal


def _num(v: Any, op: str) -> Decimal:
    if type(v) is _D or isinstance(v, _D):  # a subclass: a recorded number (dsl/trace.py)
        return v
    raise EvalFailure(f"`{op}` needs numbers, got {type_name(v)}")


def h_add(a: Any, b: Any) -> Decimal:
    if type(a) is _D and type(b) is _D:
        return a + b
    return _num(a, "+") + _num(b, "+")


def h_sub(a: Any, b: Any) -> Decimal:
    if type(a) is _D and type(b) is _D:
        return a - b
    return _num(a, "-") - _num(b, "-")


def h_mul(a: Any, b: Any) -> Decimal:
    if type(a) is _D and type(b) is _D:
        return a * b
    return _num(a, "*") * _num(b, "*")


def h_div(a: Any, b: Any) -> Decimal:
    if type(a) is _D and type(b) is _D:
        return a / b
    return _num(a, "/") / _num(b, "/")


def h_neg(a: Any) -> Decimal:
    return -_num(a, "-")


def _ordered(a: Any, b: Any, op: str) -> None:
    if not ((isinstance(a, _D) and isinstance(b, _D)) or (type(a) is str and type(b) is str)):
        raise EvalFailure(f"cannot compare {type_name(a)} {op} {type_name(b)}")


def h_lt(a: Any, b: Any) -> bool:
    if type(a) is _D and type(b) is _D:
        return a < b
    _ordered(a, b, "<")
    return a < b


def h_le(a: Any, b: Any) -> bool:
    if type(a) is _D and type(b) is _D:
        return a <= b
    _ordered(a, b, "<=")
    return a <= b


def h_gt(a: Any, b: Any) -> bool:
    if type(a) is _D and type(b) is _D:
        return a > b
    _ordered(a, b, ">")
    return a > b


def h_ge(a: Any, b: Any) -> bool:
    if type(a) is _D and type(b) is _D:
        return a >= b
    _ordered(a, b, ">=")
    return a >= b


def h_eq(a: Any, b: Any, ev: Any) -> bool:
    t = type(a)
    if t is type(b) and t in (_D, str, bool):
        if t is str and len(a) > 4096 and len(a) == len(b):
            ev.charge(len(a) >> 6)
        return a == b
    return equal(a, b, ev)


_KEYS = (str, _D, bool, type(None))


def h_in(x: Any, xs: Any, ev: Any) -> bool:
    t = type(xs)
    if t is tuple or t is frozenset:
        ev.steps -= len(xs)
        if ev.steps < 0:
            ev.charge(0)
        if type(x) in (str, _D):
            for y in xs:
                if type(y) is type(x) and y == x:
                    return True
            return False
        return any(equal(x, y, ev) for y in xs)
    if t is dict:
        if type(x) in _KEYS:
            return x in xs
        raise EvalFailure(f"`in` a record looks for a field name (text), got {type_name(x)}")
    if isinstance(xs, Table):
        return xs.get(x) is not None
    if t is str and type(x) is str:
        ev.charge(1 + (len(xs) >> 6))
        return x in xs
    raise EvalFailure(f"`in` needs a list, set, record or table on the right, got {type_name(xs)}")


def h_field(obj: Any, name: str) -> Any:
    if type(obj) is dict:
        try:
            return obj[name]
        except KeyError:
            raise EvalFailure(f"the record has no field `{name}`") from None
    raise EvalFailure(f"cannot read field `{name}` of {type_name(obj)}")


def h_index(obj: Any, k: Any) -> Any:
    if type(obj) is Table:
        rows = obj.rows
        if type(k) is str and type(obj.key_field) is str and k in rows:  # the common lookup
            return rows[k]
        return obj.lookup(k)
    if isinstance(obj, Table):
        return obj.lookup(k)
    if type(obj) is dict:
        if type(k) in _KEYS and k in obj:
            return obj[k]
        if type(k) is str:
            raise EvalFailure(f"the record has no field {k!r}")
        raise EvalFailure(f"a record's fields are named by text, got {type_name(k)}")
    if type(obj) is tuple:
        if isinstance(k, _D) and k == k.to_integral_value() and 0 <= k < len(obj):
            return obj[int(k)]
        raise EvalFailure(f"list position {k} is out of range (the list has {len(obj)} items)")
    raise EvalFailure(f"cannot look up a key in {type_name(obj)}")


def h_digits(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """What tells apart calls whose arguments are equal but not the same: each number's digits and
    exponent (75 == 75.00 == 75.0, -0 == 0, and 1 == true in Python; a rule may print or test them
    otherwise). Part of a memoised call's key wherever an argument is a number (`memo_key`)."""
    return tuple([a.as_tuple() if type(a) is _D else None for a in args])


def memo_key(name: str, args: tuple[Any, ...]) -> Any:
    """The key a call of a function definition is memoised by, or None when an argument is not
    plain (a record or a list: not memoised). Both execution paths key calls alike."""
    digits = False
    for a in args:
        t = type(a)
        if t is _D:
            digits = True
        elif t is not str and t is not bool and a is not None:
            return None
    return (name, args, h_digits(args)) if digits else (name, args)


def h_cond(c: Any) -> bool:
    if c is True or c is False:
        return c
    raise EvalFailure(f"`if` needs true or false, got {type_name(c)}")




# -- the item loops of filter/map/sum/count, written in place by the generated code --------------

def h_items(ev: Any, cost: int, xs: Any, what: str) -> Any:
    """The list a loop runs over, its steps charged first (as the built-in does)."""
    t = type(xs)
    if t is not tuple and t is not frozenset:
        raise EvalFailure(f"{what} needs a list, got {type_name(xs)}")
    ev.steps -= len(xs) * cost
    if ev.steps < 0:
        ev.charge(0)
    return xs


def h_sum_numbers(values: list[Any]) -> Decimal:
    total = _D(0)
    for v in values:
        if type(v) is not _D and not isinstance(v, _D):
            raise EvalFailure(f"sum needs a number, got {type_name(v)}")
        total += v
    return total
