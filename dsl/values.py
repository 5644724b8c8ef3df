"""Runtime values of the rule language and the conversions into them.

Values are: Decimal numbers, str, bool, None, tuples (lists), frozensets
(sets of categories), dicts (records, read-only by convention), `Table`s
(keyed rows from a year's data) and functions (lambdas, only as arguments).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping


class EvalFailure(Exception):
    """Raised inside compiled code; the compiler attaches the rule location."""


def to_plain_bounded(value: Any, limit: int) -> Any:
    """`to_plain`, refusing (EvalFailure) a value of more than `limit` items in all (shared parts count each time)."""
    budget = [limit]

    def conv(v: Any) -> Any:
        t = type(v)
        if t is dict or t is tuple or t is frozenset:
            budget[0] -= len(v) + 1
            if budget[0] < 0:
                raise EvalFailure(f"a value of more than {limit:,} items")
            if t is dict:
                return {k: conv(x) for k, x in v.items()}
            if t is tuple:
                return [conv(x) for x in v]
            return sorted((conv(x) for x in v), key=_set_order)
        if isinstance(v, Table):
            raise EvalFailure(f"the table `{v.name}` as a whole is not a value here (read one of its rows)")
        return v

    return conv(value)


def type_name(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Decimal):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, tuple):
        return "list"
    if isinstance(value, frozenset):
        return "set"
    if isinstance(value, dict):
        return "record"
    if isinstance(value, Table):
        return "table"
    if callable(value):
        return "function"
    return type(value).__name__


_SCALARS = (Decimal, str, bool, type(None))
MAX_KEY_ITEMS = 100  # a table key that is a set of more items than this matches no row


def is_scalar(value: Any) -> bool:
    """A number, text, true/false or none: what sets hold and records and tables are keyed by."""
    return type(value) in _SCALARS


def table_key(value: Any) -> Any:
    """Normalise a lookup key: any collection of names becomes a frozenset (of scalars only:
    a key never holds records or lists, so hashing a key is always cheap)."""
    t = type(value)
    if t is str or value is None or t is bool:
        return value
    if t is Decimal:
        return value.normalize()
    if isinstance(value, (tuple, list, set, frozenset)):
        if len(value) > MAX_KEY_ITEMS:
            raise TypeError("not a key")  # no row has such a key
        for v in value:
            if type(v) not in _SCALARS:
                raise TypeError("not a key")
        return frozenset(value)
    if isinstance(value, (dict, Table)) or callable(value):
        raise TypeError("not a key")
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def format_key(key: Any) -> str:
    if isinstance(key, frozenset):
        return "{" + ", ".join(sorted(str(k) for k in key)) + "}"
    if isinstance(key, tuple):
        return "[" + ", ".join(format_key(k) for k in key) + "]"
    return str(key)


def composite_key(parts: Any) -> tuple[Any, ...]:
    """A key of several fields in order (`[measure_id, submission_method]`)."""
    return tuple(table_key(p) for p in parts)


@dataclass
class Table:
    """Rows of a year's data keyed by what identifies them.

    A key is one field's value (a measure ID), a set of names (the reweighted
    categories: `reweighted: [cost, pi]` matches in any order), or, when
    `key_field` names several fields, those fields' values in order.
    """

    name: str
    key_field: str | tuple[str, ...]
    rows: dict[Any, dict[str, Any]] = field(default_factory=dict)
    source: str | None = None

    @property
    def composite(self) -> bool:
        return isinstance(self.key_field, tuple)

    def normalise(self, key: Any) -> Any:
        if type(key) is str and type(self.key_field) is str:  # the common lookup: one field, a text key
            return key
        if self.composite:
            if not isinstance(key, (tuple, list)) or len(key) != len(self.key_field):
                raise EvalFailure(f"table `{self.name}` is keyed by [{', '.join(self.key_field)}]; "
                                  f"look it up with a list of {len(self.key_field)} values")
            return composite_key(key)
        return table_key(key)

    def row_key(self, row: dict[str, Any]) -> Any:
        if self.composite:
            return composite_key(row[f] for f in self.key_field)
        return table_key(row[self.key_field])

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self.rows.get(self.normalise(key), default)
        except TypeError:
            return default

    def lookup(self, key: Any) -> dict[str, Any]:
        try:
            k = self.normalise(key)
        except TypeError:
            raise EvalFailure(f"table `{self.name}` has no row for {type_name(key)} (a key is a number, a text "
                              f"or a set of them)") from None
        try:
            return self.rows[k]
        except (KeyError, TypeError):
            raise EvalFailure(f"table `{self.name}` has no row for {format_key(k)}") from None

    def __len__(self) -> int:
        return len(self.rows)


def to_value(raw: Any) -> Any:
    """Convert plain Python data (from YAML, JSON or a pydantic dump) into rule-language values."""
    t = type(raw)
    if t is Decimal or t is str or t is bool or raw is None:
        return raw
    if t is dict:
        return {k if type(k) is str else str(k): to_value(v) for k, v in raw.items()}
    if t is list or t is tuple:
        return tuple([to_value(v) for v in raw])
    if t is int:
        return Decimal(raw)
    if isinstance(raw, Table):
        return raw
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return Decimal(int(raw))
    if isinstance(raw, float):
        return Decimal(repr(raw))
    if isinstance(raw, Mapping):
        return {str(k): to_value(v) for k, v in raw.items()}
    if isinstance(raw, (list, tuple)):
        return tuple(to_value(v) for v in raw)
    if isinstance(raw, (set, frozenset)):
        return frozenset(to_value(v) for v in raw)
    return raw


def to_plain(value: Any) -> Any:
    """Rule-language values back to plain data (for reports)."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, frozenset):
        return sorted((to_plain(v) for v in value), key=_set_order)
    return value


def _set_order(v: Any) -> tuple[str, Any]:
    """Sets hold scalars; a set of several kinds lists them kind by kind."""
    return (type_name(v), v)


def equal(a: Any, b: Any, ev: Any = None) -> bool:
    """The rule language's `==`: values of different kinds are never equal (1 is not true).

    With an evaluation `ev`, each list or record compared costs a step per item (`dsl/limits.py`)."""
    if type(a) is type(b):
        if isinstance(a, tuple):
            if a is b:
                return True
            if len(a) != len(b):
                return False
            if ev is not None:
                ev.charge(1 + 3 * len(a))
            return all(equal(x, y, ev) for x, y in zip(a, b))
        if isinstance(a, dict):
            if a is b:
                return True
            if ev is not None:
                ev.charge(1 + 3 * len(a))
            return a.keys() == b.keys() and all(equal(a[k], b[k], ev) for k in a)
        return a == b
    if isinstance(a, (tuple, frozenset)) and isinstance(b, (tuple, frozenset)):
        if ev is not None:
            ev.charge(len(a) + len(b))
        # Sets hold scalars only: a list holding anything else is never equal to one.
        if not (all(type(x) in _SCALARS for x in a) and all(type(x) in _SCALARS for x in b)):
            return False
        return frozenset(a) == frozenset(b)
    if isinstance(a, Decimal) and isinstance(b, Decimal):  # a recorded number (dsl/trace.py) and another
        return a == b
    return False


def require_number(value: Any, what: str) -> Decimal:
    if type(value) is Decimal or isinstance(value, Decimal):
        return value
    raise EvalFailure(f"{what} needs a number, got {type_name(value)}")


def require_list(value: Any, what: str) -> Iterable[Any]:
    t = type(value)
    if t is tuple or t is frozenset or isinstance(value, (tuple, frozenset)):
        return value
    raise EvalFailure(f"{what} needs a list, got {type_name(value)}")
