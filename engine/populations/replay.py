"""A study's figures for records without a submission (a table's rows), replayed from recorded
evaluations (`dsl/trace.py`) instead of evaluated again for each row.

A row's form is its context as read with the numbers left out: which fields it has, its texts
and true/false values. The first row of a form is evaluated twice, the usual way and recorded
(its numbers traced, from the plain checks of the context to the figures); the two must agree
to the digit, and the tape is kept for the form. Later rows
of the form replay a tape on their own numbers: the same decimal operations in the same order,
so the same values; a guard that fails (a comparison of numbers that comes out otherwise) sends
the row to another tape, or to be recorded in turn. The first replays of each tape are checked
against the usual evaluation as well; any difference turns replaying off for the year.

Bounded: so many tapes a form, so many forms, so many failed recordings; past them rows are
evaluated the usual way.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any, Callable

from mips_rules.dsl.trace import TRAPPED, Tape, TraceAbort, trace

MAX_TAPES_PER_FORM = 64
MAX_TAPES = 4096  # in all (each some kilobytes of code): past it, rows are evaluated the usual way
MAX_FORMS = 4096
MAX_FAILURES_PER_FORM = 3
CHECKED_REPLAYS = 2  # each tape's first replays are compared with the usual evaluation


class Unplain(Exception):
    """The record is not plainly valid: the usual way checks it (and says what is wrong)."""


_NUM, _OPEN, _CLOSE, _LIST = object(), object(), object(), object()  # a form's marks (never a value)


def form_of(record: dict[str, Any], numbers: list[Decimal]) -> tuple[Any, ...]:
    """The form of a record as read (plain data: what `to_value` takes) — hashable, flat — with its
    numbers appended to `numbers` as rule values, in the order `with_numbers` puts them back.
    Raises TypeError for data of no form (a float, a set)."""
    key: list[Any] = []
    _walk(record, key, numbers)
    return tuple(key)


def _walk(value: Any, key: list[Any], numbers: list[Decimal]) -> None:
    items = value.items() if type(value) is dict else enumerate(value)
    key.append(_OPEN if type(value) is dict else _LIST)
    for k, v in items:
        key.append(k)
        t = type(v)
        if t is Decimal:
            numbers.append(v)
            key.append(_NUM)
        elif t is str or t is bool or v is None:
            key.append(v)
        elif t is dict or t is list or t is tuple:
            _walk(v, key, numbers)
        elif t is int:
            numbers.append(Decimal(v))
            key.append(_NUM)
        else:
            raise TypeError("no form")
    key.append(_CLOSE)


def with_numbers(value: Any, numbers: Any) -> Any:
    """Plain data with its numbers (in `form_of`'s order) replaced by `numbers` (an iterator)."""
    t = type(value)
    if t is Decimal or t is int:
        return next(numbers)
    if t is dict:
        return {k: with_numbers(v, numbers) for k, v in value.items()}
    if t is list or t is tuple:
        return t([with_numbers(v, numbers) for v in value])
    return value


Form = tuple[tuple[Any, ...], list[Decimal]]


def form(record: Any) -> Form | None:
    """(the form, the numbers) of an input as read, or None for one of no form. Two studies' sides
    reading the same record compute it once (`Replayer.figures(record, found)`)."""
    numbers: list[Decimal] = []
    try:
        return form_of(record, numbers), numbers
    except (TypeError, RecursionError):
        return None


_UNSET: Any = object()


def _emit(value: Any, ref: Callable[[Any], str]) -> str:
    """A Python expression giving `value` (numbers by their tape names)."""
    t = type(value)
    if isinstance(value, Decimal) or t is str or t is bool or value is None:
        return ref(value)
    if t is tuple:
        return "(" + "".join(_emit(v, ref) + ", " for v in value) + ")"
    if t is dict:
        return "{" + ", ".join(f"{ref(k)}: {_emit(v, ref)}" for k, v in value.items()) + "}"
    if t is frozenset and all(type(v) is str for v in value):
        return ref(value)
    raise TraceAbort(f"a {t.__name__} in the figures")


def same(a: Any, b: Any) -> bool:
    """Equal, numbers to the digit (1.0 is not 1.00: reports print them differently)."""
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return Decimal(a).compare_total(Decimal(b)) == 0
    if type(a) is not type(b):
        return False
    if type(a) is tuple:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


class _Form:
    __slots__ = ("tapes", "failures")

    def __init__(self) -> None:
        self.tapes: list[Tape] = []  # the most used first
        self.failures = 0  # recordings that failed (an error, a value of no form)


class Replayer:
    """One year's tapes of a study's values, by form.

    `evaluate(record)` is the usual evaluation of an input as read: the values, or it raises what
    the usual way raises (Unplain where that way is the models'); given the input with its numbers
    traced, it is the recording."""

    def __init__(self, evaluate: Callable[[Any], tuple[Any, ...]], decimal_context: Any):
        self.evaluate = evaluate
        self.decimal_context = decimal_context
        self.forms: dict[Any, _Form] = {}
        self.on = True
        self.tapes = 0
        self.stats = {"replayed": 0, "recorded": 0, "usual": 0, "differed": 0}

    def figures(self, record: dict[str, Any], found: Form | None = _UNSET) -> tuple[Any, ...]:
        """The figures of an input (plain data, as read; `found`: its `form`, if known): replayed
        where a tape fits, else evaluated the usual way (raising what it raises: Unplain where the
        input is not plainly valid)."""
        if self.on:
            if found is _UNSET:
                found = form(record)
            if found is not None:
                key, numbers = found
                entry = self.forms.get(key)
                if entry is None and len(self.forms) < MAX_FORMS:
                    entry = self.forms[key] = _Form()
                if entry is not None:
                    got = self._replay(entry, record, numbers)
                    if got is not None:
                        return got
        self.stats["usual"] += 1
        return self.evaluate(record)

    def replay_known_many(self, key: Any, numbers: list[tuple[Decimal, ...]]) -> list[tuple[Any, ...] | None]:
        """The figures of each of these numbers (inputs of one form) from the tapes already checked
        (past their checked replays), a tape at a time over all the numbers it may fit
        (`Tape.replay_many`); None where none fits (or a replay raised). Nothing is recorded or
        evaluated here."""
        got: list[Any] = [None] * len(numbers)
        entry = self.forms.get(key) if self.on else None
        if entry is None:
            return got
        todo = list(range(len(numbers)))
        with decimal.localcontext(self.decimal_context):
            for tape in list(entry.tapes):
                if not todo:
                    break
                if tape.hits < CHECKED_REPLAYS:
                    continue
                results = tape.replay_many([numbers[i] for i in todo])
                left = []
                fitted = 0
                for i, r in zip(todo, results):
                    if r is None:
                        left.append(i)
                    elif r is not TRAPPED:  # (raised: the usual way says what)
                        got[i] = r
                        fitted += 1
                tape.hits += fitted
                self.stats["replayed"] += fitted
                todo = left
        entry.tapes.sort(key=lambda t: -t.hits)  # the most used first (a stable sort)
        return got

    def _replay(self, form: _Form, record: dict[str, Any], numbers: list[Decimal]) -> tuple[Any, ...] | None:
        tape, got = self._fit(form, tuple(numbers))
        if tape is not None:
            if tape.hits <= CHECKED_REPLAYS:
                return self._checked(got, record)
            self.stats["replayed"] += 1
            return got
        if got is TRAPPED or len(form.tapes) >= MAX_TAPES_PER_FORM or self.tapes >= MAX_TAPES \
                or form.failures >= MAX_FAILURES_PER_FORM + 4 * len(form.tapes):
            return None
        return self._record(form, record, numbers)

    def _fit(self, form: _Form, numbers: tuple[Decimal, ...]) -> tuple[Tape | None, Any]:
        """(the first of the form's tapes that fits these numbers, its values) — the most used tapes
        first; (None, None) when none fits, (None, TRAPPED) when a replay raised (a trapped
        condition: the usual way says what)."""
        tapes = form.tapes
        with decimal.localcontext(self.decimal_context):
            for i, tape in enumerate(tapes):
                got = tape.replay_many((numbers,))[0]
                if got is TRAPPED:
                    return None, TRAPPED
                if got is not None:
                    tape.hits += 1
                    if i and tape.hits > tapes[i - 1].hits:
                        tapes[i - 1], tapes[i] = tape, tapes[i - 1]
                    return tape, got
        return None, None

    def _checked(self, got: tuple[Any, ...], record: dict[str, Any]) -> tuple[Any, ...] | None:
        usual = self.evaluate(record)
        if not same(got, usual):
            self._differs()
        self.stats["usual"] += 1
        return usual

    def _record(self, form: _Form, record: dict[str, Any], numbers: list[Decimal]) -> tuple[Any, ...] | None:
        def run(traced: list[Any]) -> tuple[Any, ...]:
            return self.evaluate(with_numbers(record, iter(traced)))
        try:
            with decimal.localcontext(self.decimal_context):
                recorded, tape = trace(numbers, run, _emit)
        except Exception:  # noqa: BLE001 - not recorded (an error, a value of no form): the usual way
            form.failures += 1
            return None
        usual = self.evaluate(record)  # raises what the usual way raises
        with decimal.localcontext(self.decimal_context):
            replayed = tape.replay(tuple(numbers))
        if not (same(recorded, usual) and replayed is not None and same(replayed, usual)):
            self._differs()
            return usual
        form.tapes.append(tape)
        self.tapes += 1
        self.stats["recorded"] += 1
        return usual

    def _differs(self) -> None:
        """A tape gave other values than the usual way: replaying stops for this year."""
        self.stats["differed"] += 1
        self.on = False
