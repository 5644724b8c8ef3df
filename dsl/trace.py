"""An evaluation recorded as straight-line decimal arithmetic, replayed on other inputs.

Many inputs share everything but their numbers: a table of a million rows may hold a few hundred
forms (which fields are given, their texts and true/false values). For such a form, the rules do
the same thing to every row — the same operations on its numbers — except
where a comparison of numbers decides otherwise. So one row's evaluation, its numbers `Traced`,
is recorded as a `Tape`: each operation on a number, and each comparison as a guard with the
outcome it had. Replayed on another row's numbers, the tape gives that row's values exactly (the
same decimal operations, in the same order, in the same decimal context), or None when a guard
comes out otherwise — then the row is evaluated the usual way, and may be recorded in turn.

Anything the rules' code learns of a traced number other than through arithmetic or a comparison
(its text, its integer value, any other method) pins the tape to that exact number: a guard
that the replayed number is the same, digit for digit (a hash: the same value). The tape is never
wrong, at worst of no use. The rule language knows nothing of this; the operations accept the `Traced` subclass
of Decimal wherever they accept a number (`ops._num`, `values.equal`, `require_number`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

MAX_OPS = 20_000  # operations and guards a tape may hold; a longer evaluation is not recorded


class TraceAbort(Exception):
    """The evaluation cannot be recorded (too long, or numbers of two recordings mixed)."""


class Recorder:
    """The tape being written: numbered slots for numbers, constants, lines of code."""

    def __init__(self, n_inputs: int):
        self.lines: list[str] = []
        self.consts: list[Any] = []
        self._const_at: dict[tuple[type, str], int] = {}
        self.slots = n_inputs
        # Each slot is written once, and every operation runs in one decimal context: an operation or
        # a guard written before means the same again (its result is reused, the guard not repeated).
        self._made: dict[str, Traced] = {}
        self._guarded: set[str] = set()

    def ref(self, v: Any) -> str:
        if isinstance(v, Traced):
            if v._rec is not self:
                raise TraceAbort("a number of another recording")
            return f"s{v._slot}"
        key = (type(v), repr(v))
        i = self._const_at.get(key)
        if i is None:
            i = self._const_at[key] = len(self.consts)
            self.consts.append(v)
        return f"k{i}"

    def _line(self, text: str) -> None:
        if len(self.lines) >= MAX_OPS:
            raise TraceAbort("too long to record")
        self.lines.append(text)

    def op(self, template: str, args: tuple[Any, ...], result: Any) -> Any:
        """`result`, computed from `args` by `template`, as a traced number (a plain result stays plain
        where it is not a number)."""
        if type(result) is not Decimal:
            return result
        expression = template.format(*(self.ref(a) for a in args))
        made = self._made.get(expression)
        if made is not None:
            return made
        slot = self.slots
        self.slots += 1
        self._line(f"s{slot} = {expression}")
        made = self._made[expression] = Traced._of(result, self, slot)
        return made

    def guard(self, template: str, args: tuple[Any, ...], outcome: Any) -> None:
        """The replay goes on only where `template` gives `outcome` again."""
        test = template.format(*(self.ref(a) for a in args))
        if outcome is True:
            line = f"if not ({test}): return None"
        elif outcome is False:
            line = f"if {test}: return None"
        else:
            line = f"if ({test}) != {self.ref(outcome)}: return None"
        if line not in self._guarded:
            self._guarded.add(line)
            self._line(line)

    def same(self, *values: Any) -> None:
        """Pin the traced numbers among `values` to their exact digits."""
        for v in values:
            if isinstance(v, Traced):
                self.guard("{0}.compare_total({1}) == 0", (v, Decimal(v)), True)


def _plain(v: Any) -> Any:
    return Decimal(v) if isinstance(v, Traced) else v


_NUMERIC = (Decimal, int, float)


class Traced(Decimal):
    """A number whose every use is recorded on its `Recorder`."""

    __slots__ = ("_rec", "_slot")

    @classmethod
    def _of(cls, value: Decimal, rec: Recorder, slot: int) -> "Traced":
        t = Decimal.__new__(cls, value)
        t._rec, t._slot = rec, slot
        return t

    # -- comparisons: guards -------------------------------------------------------------------
    def _compare(self, other: Any, name: str, sym: str, swapped: bool = False) -> Any:
        if not isinstance(other, _NUMERIC):
            return getattr(Decimal, name)(self, other)  # not a number: the answer does not depend on ours
        result = getattr(Decimal, name)(self, other)
        if result is not NotImplemented:
            self._rec.guard("{0} %s {1}" % sym, (self, other), result)
        return result

    def __lt__(self, o: Any) -> Any: return self._compare(o, "__lt__", "<")
    def __le__(self, o: Any) -> Any: return self._compare(o, "__le__", "<=")
    def __gt__(self, o: Any) -> Any: return self._compare(o, "__gt__", ">")
    def __ge__(self, o: Any) -> Any: return self._compare(o, "__ge__", ">=")
    def __eq__(self, o: Any) -> Any: return self._compare(o, "__eq__", "==")
    def __ne__(self, o: Any) -> Any: return self._compare(o, "__ne__", "!=")

    def __bool__(self) -> bool:
        result = Decimal.__bool__(self)
        self._rec.guard("bool({0})", (self,), result)
        return result

    def __hash__(self) -> int:
        # A hash decides which values a dict or set finds equal: the number is pinned (numerically).
        self._rec.guard("{0} == {1}", (self, Decimal(self)), True)
        return Decimal.__hash__(self)

    # -- arithmetic: operations ----------------------------------------------------------------
    def _arith(self, other: Any, name: str, template: str, swapped: bool) -> Any:
        if not isinstance(other, _NUMERIC) or isinstance(other, float):
            if isinstance(other, float):
                self._rec.same(self)
                return getattr(Decimal, name)(Decimal(self), other)
            return NotImplemented
        result = getattr(Decimal, name)(self, other)
        if result is NotImplemented:
            return result
        return self._rec.op(template, (other, self) if swapped else (self, other), result)

    def __add__(self, o: Any) -> Any: return self._arith(o, "__add__", "{0} + {1}", False)
    def __radd__(self, o: Any) -> Any: return self._arith(o, "__radd__", "{0} + {1}", True)
    def __sub__(self, o: Any) -> Any: return self._arith(o, "__sub__", "{0} - {1}", False)
    def __rsub__(self, o: Any) -> Any: return self._arith(o, "__rsub__", "{0} - {1}", True)
    def __mul__(self, o: Any) -> Any: return self._arith(o, "__mul__", "{0} * {1}", False)
    def __rmul__(self, o: Any) -> Any: return self._arith(o, "__rmul__", "{0} * {1}", True)
    def __truediv__(self, o: Any) -> Any: return self._arith(o, "__truediv__", "{0} / {1}", False)
    def __rtruediv__(self, o: Any) -> Any: return self._arith(o, "__rtruediv__", "{0} / {1}", True)
    def __floordiv__(self, o: Any) -> Any: return self._arith(o, "__floordiv__", "{0} // {1}", False)
    def __rfloordiv__(self, o: Any) -> Any: return self._arith(o, "__rfloordiv__", "{0} // {1}", True)
    def __mod__(self, o: Any) -> Any: return self._arith(o, "__mod__", "{0} % {1}", False)
    def __rmod__(self, o: Any) -> Any: return self._arith(o, "__rmod__", "{0} % {1}", True)

    def __pow__(self, o: Any, mod: Any = None) -> Any:
        if mod is not None:
            self._rec.same(self, o, mod)
            return Decimal.__pow__(Decimal(self), _plain(o), _plain(mod))
        return self._arith(o, "__pow__", "{0} ** {1}", False)

    def __rpow__(self, o: Any, mod: Any = None) -> Any:
        if mod is not None:
            self._rec.same(self, mod)
            return Decimal.__rpow__(Decimal(self), o, _plain(mod))
        return self._arith(o, "__rpow__", "{0} ** {1}", True)

    def __neg__(self) -> Any: return self._rec.op("-{0}", (self,), Decimal.__neg__(self))
    def __pos__(self) -> Any: return self._rec.op("+{0}", (self,), Decimal.__pos__(self))
    def __abs__(self) -> Any: return self._rec.op("abs({0})", (self,), Decimal.__abs__(self))

    def quantize(self, exp: Any, rounding: Any = None, context: Any = None) -> Any:
        if context is not None or isinstance(exp, Traced):
            self._rec.same(self, exp)
            return Decimal(self).quantize(_plain(exp), rounding=rounding, context=context)
        return self._rec.op("{0}.quantize({1}, rounding={2})", (self, exp, rounding),
                            Decimal.quantize(self, exp, rounding=rounding))

    def to_integral_value(self, rounding: Any = None, context: Any = None) -> Any:
        if context is not None:
            self._rec.same(self)
            return Decimal(self).to_integral_value(rounding=rounding, context=context)
        return self._rec.op("{0}.to_integral_value(rounding={1})", (self, rounding),
                            Decimal.to_integral_value(self, rounding=rounding))

    def normalize(self, context: Any = None) -> Any:
        if context is not None:
            self._rec.same(self)
            return Decimal(self).normalize(context=context)
        return self._rec.op("{0}.normalize()", (self,), Decimal.normalize(self))

    def _predicate(self, name: str, args: tuple[Any, ...]) -> Any:
        if args:
            self._rec.same(self, *args)
            return getattr(Decimal, name)(Decimal(self), *[_plain(a) for a in args])
        result = getattr(Decimal, name)(self)
        self._rec.guard("{0}.%s()" % name, (self,), result)
        return result

    def is_finite(self, *a: Any) -> Any: return self._predicate("is_finite", a)
    def is_infinite(self, *a: Any) -> Any: return self._predicate("is_infinite", a)
    def is_nan(self, *a: Any) -> Any: return self._predicate("is_nan", a)
    def is_zero(self, *a: Any) -> Any: return self._predicate("is_zero", a)
    def is_signed(self, *a: Any) -> Any: return self._predicate("is_signed", a)

    def __reduce__(self) -> Any:
        self._rec.same(self)
        return (Decimal, (str(Decimal(self)),))


def _pinned(name: str) -> Callable[..., Any]:
    """A Decimal method the recording does not model: the numbers it reads are pinned, and its
    answer (computed from those exact numbers) is a constant of the tape."""
    method = getattr(Decimal, name)

    def pinned(self: Traced, *args: Any, **kwargs: Any) -> Any:
        self._rec.same(self, *args, *kwargs.values())
        return method(Decimal(self), *[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})
    pinned.__name__ = name
    return pinned


_MODELLED = set(vars(Traced)) | {"__new__", "__init__", "__getattribute__", "__setattr__", "__delattr__",
                                  "__class__", "__init_subclass__", "__subclasshook__", "__dir__",
                                  "__sizeof__", "__reduce_ex__", "__getstate__", "__doc__"}
for _name in dir(Decimal):
    if _name not in _MODELLED and callable(getattr(Decimal, _name)):
        setattr(Traced, _name, _pinned(_name))


TRAPPED: Any = type("Trapped", (), {"__repr__": lambda self: "TRAPPED"})()
"""What `Tape.replay_many` gives for numbers whose replay raised (a trapped decimal condition)."""


class Tape:
    """A recorded evaluation as a function of the inputs' numbers: `replay(numbers)` gives the
    recorded outputs for them, or None when a guard fails; `replay_many(list of numbers)` the same
    for each (TRAPPED where a replay raised), in one loop: no call, no context entered, per item."""

    def __init__(self, replay_many: Callable[..., list[Any]], source: str):
        self.replay_many = replay_many
        self.source = source
        self.hits = 0

    def replay(self, numbers: tuple[Any, ...]) -> Any:
        """The outputs for these numbers, or None (raising what the replay raises)."""
        return self.replay_many((numbers,), True)[0]


def trace(numbers: list[Decimal], run: Callable[[list[Traced]], Any],
          emit: Callable[[Any, Callable[[Any], str]], str]) -> tuple[Any, Tape]:
    """Run `run` on the numbers traced, and make its tape: `emit(result, ref)` writes the result as
    a Python expression over the tape's names (`ref(v)` names a number or a constant). Raises
    TraceAbort where the run cannot be recorded; whatever `run` raises, it raises."""
    rec = Recorder(len(numbers))
    traced = [Traced._of(v, rec, i) for i, v in enumerate(numbers)]
    result = run(traced)
    out = emit(result, rec.ref)
    unpack = f"{', '.join(f's{i}' for i in range(len(numbers)))}{',' if len(numbers) == 1 else ''} = X" \
        if numbers else "pass"
    consts = ", ".join(f"k{i}" for i in range(len(rec.consts)))
    # A loop of replays (one is a loop of one): a failed guard goes on to the next item.
    lines = [line[:-len(_FAIL)] + ": append(None); continue" if line.endswith(_FAIL) else line
             for line in rec.lines]
    source = "\n".join([
        f"def make({consts}):",
        "    def replay_many(XS, raising=False):",
        "        result = []",
        "        append = result.append",
        "        for X in XS:",
        "            try:",
        f"                {unpack}",
        *[f"                {line}" for line in lines],
        f"                append({out})",
        "            except Exception:",
        "                if raising:",
        "                    raise",
        "                append(TRAPPED)",
        "        return result",
        "    return replay_many", ""])
    scope: dict[str, Any] = {"TRAPPED": TRAPPED, "Exception": Exception}
    exec(compile(source, "<tape>", "exec"), scope)  # noqa: S102 - our own generated text
    return result, Tape(scope["make"](*rec.consts), source)


_FAIL = ": return None"  # how a guard's line ends (`Recorder.guard`)

