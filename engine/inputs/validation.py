"""Turning bad input into readable InputErrors, and the strict value types that find it.

Submissions and contexts are validated with pydantic, but pydantic's raw errors
name internal union branches and Python types; an analyst needs the path they
wrote (``measurementSets[0].measurements[2].value.performanceMet``). This module
owns that translation, the strict number types shared by both inputs, and the
JSON reader that keeps every number exact.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Sequence

import pydantic
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from mips_rules.engine.inputs.numbers import bounded_decimal, bounded_int
from mips_rules.dsl.errors import Diagnostic, InputError, Location, did_you_mean

Loc = tuple[str | int, ...]
WhereFn = Callable[[tuple], Location | None]

# --------------------------------------------------------------------------
# Strict numbers
# --------------------------------------------------------------------------


def _describe(value: Any) -> str:
    """A short, user-facing description of a wrong value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'the string "{shown}"'
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _quoted_number_hint(value: Any) -> str:
    """Suggest dropping the quotes only when the string really holds a number."""
    if isinstance(value, str):
        try:
            if Decimal(value.strip()).is_finite():
                return " (write it without quotes)"
        except ArithmeticError:
            pass
    return ""


def _strict_decimal(value: Any) -> Decimal:
    """Accept real numbers only: scores must not silently come from "12" or true."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        hint = _quoted_number_hint(value)
        raise PydanticCustomError(
            "strict_number", "expected a number, got {got}{hint}", {"got": _describe(value), "hint": hint}
        )
    if isinstance(value, int):
        return Decimal(value)
    number = Decimal(repr(value)) if isinstance(value, float) else value
    if not number.is_finite():
        raise PydanticCustomError("finite_number", "expected a finite number, got {got}", {"got": str(value)})
    return number


def _strict_count(value: Any) -> int:
    """Counts are whole, non-negative numbers; 800.0 is tolerated, 800.5 and "800" are not."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        hint = _quoted_number_hint(value)
        raise PydanticCustomError(
            "strict_count", "expected a whole number, got {got}{hint}", {"got": _describe(value), "hint": hint}
        )
    if not isinstance(value, int):
        number = Decimal(repr(value)) if isinstance(value, float) else value
        if not number.is_finite() or number != number.to_integral_value():
            raise PydanticCustomError("whole_number", "expected a whole number, got {got}", {"got": str(value)})
        value = int(number)
    if value < 0:
        raise PydanticCustomError("negative_count", "must not be negative, got {got}", {"got": value})
    return value


def _strict_int(value: Any) -> int:
    """Integers such as years: no strings, no booleans, no fractions."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            return int(value)
        hint = _quoted_number_hint(value)
        raise PydanticCustomError(
            "strict_int", "expected an integer, got {got}{hint}", {"got": _describe(value), "hint": hint}
        )
    return value


def _strict_bool(value: Any) -> bool:
    """Flags must be true/false, not 1 or "yes", so a typo cannot flip a special status."""
    if not isinstance(value, bool):
        raise PydanticCustomError("strict_bool", "expected true or false, got {got}", {"got": _describe(value)})
    return value


def _strict_str(value: Any) -> str:
    """Identifiers must be strings: an unquoted 001 in YAML/JSON has already lost its zeros."""
    if not isinstance(value, str):
        hint = " (quote it)" if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) else ""
        raise PydanticCustomError(
            "strict_str", "expected a string, got {got}{hint}", {"got": _describe(value), "hint": hint}
        )
    return value


def _year_range(value: int) -> int:
    """A year must have four digits; 224 or 99999 are typos. Whether rules exist for it is the loader's call."""
    if not 1000 <= value <= 9999:
        raise PydanticCustomError(
            "year_range", "expected a four-digit performance year, got {got}", {"got": value}
        )
    return value


StrictNumber = Annotated[Decimal, BeforeValidator(_strict_decimal)]
"""Any finite number, held as Decimal; strings and booleans are rejected."""

Count = Annotated[int, BeforeValidator(_strict_count)]
"""A non-negative whole number (patients, encounters, services)."""

StrictInt = Annotated[int, BeforeValidator(_strict_int)]
"""An integer such as a year; strings and booleans are rejected."""

StrictBool = Annotated[bool, BeforeValidator(_strict_bool)]
"""true or false only."""

StrictStr = Annotated[str, BeforeValidator(_strict_str)]
"""A string only; numbers are rejected rather than converted."""

PerformanceYear = Annotated[int, BeforeValidator(_strict_int), AfterValidator(_year_range)]
"""A performance year (four digits)."""

Percent = Annotated[Decimal, BeforeValidator(_strict_decimal), Field(ge=0, le=100)]
"""A percentage (scores, rates), 0 to 100."""


def to_plain(value: Any) -> Any:
    """Recursively turn input values into the rule engine's plain types (numbers as Decimal)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot turn {type(value).__name__} into a plain record value")


# --------------------------------------------------------------------------
# Field paths and diagnostics
# --------------------------------------------------------------------------

# Tags pydantic puts into ``loc`` for union branches and wrapped validators; they
# are not keys the user wrote.
_TYPE_TAGS = frozenset(
    {
        "bool", "int", "float", "str", "decimal", "none", "dict", "list", "tuple", "date",
        "datetime", "literal", "model", "is-instance", "json-or-python", "lax-or-strict",
        "chain", "function-plain", "function-before", "function-after", "function-wrap",
    }
)
_VALUE_ERROR_PREFIX = re.compile(r"^(Value error|Assertion failed), ")


def _is_tag(item: str) -> bool:
    """Whether a loc item is a pydantic branch tag rather than a user's key.

    Input keys are camelCase (QPP JSON) or snake_case (contexts), so a name that
    starts with a capital is a model/branch tag such as ``SingleRate``.
    """
    return "[" in item or item in _TYPE_TAGS or item[:1].isupper()


def clean_loc(loc: Sequence[str | int], *, keep_last: bool = False) -> Loc:
    """The user's key path from a pydantic loc, with branch tags removed.

    ``keep_last`` protects the final item (an unknown key the user wrote, which
    could look like a tag).
    """
    items = list(loc)
    out: list[str | int] = []
    for i, item in enumerate(items):
        if isinstance(item, str) and _is_tag(item) and not (keep_last and i == len(items) - 1):
            continue
        out.append(item)
    return tuple(out)


def format_path(loc: Sequence[str | int]) -> str:
    """``('measurementSets', 0, 'value')`` → ``measurementSets[0].value``."""
    text = ""
    for item in loc:
        if isinstance(item, int):
            text += f"[{item}]"
        else:
            text += f".{item}" if text else str(item)
    return text


def _locate(where: WhereFn | None, loc: Loc) -> Location | None:
    """The file position of a path, falling back to the nearest parent that exists."""
    if where is None:
        return None
    for n in range(len(loc), -1, -1):
        try:
            found = where(tuple(loc[:n]))
        except Exception:  # noqa: BLE001 - a missing key is normal here (e.g. "Field required")
            continue
        if found is not None:
            return found
    return None


def make_diagnostic(
    source: str,
    loc: Sequence[str | int],
    message: str,
    *,
    where: WhereFn | None = None,
    hint: str | None = None,
) -> Diagnostic:
    """One problem as ``"{source}: {path}: {message}"``."""
    path = format_path(loc)
    text = f"{source}: {path}: {message}" if path else f"{source}: {message}"
    return Diagnostic(text, location=_locate(where, tuple(loc)), hint=hint)


def problems_to_input_error(
    source: str,
    problems: Iterable[tuple[Sequence[str | int], str]],
    where: WhereFn | None = None,
) -> InputError:
    """InputError for checks done outside pydantic (cross-field rules), same format."""
    return InputError([make_diagnostic(source, loc, msg, where=where) for loc, msg in problems])


def validation_error_to_input_error(
    exc: pydantic.ValidationError,
    source: str,
    where: WhereFn | None = None,
    *,
    field_names: Iterable[str] = (),
    prefix: Loc = (),
) -> InputError:
    """One Diagnostic per pydantic error, naming the path as the user wrote it.

    ``where`` (YAML inputs) maps a key path to a file Location; ``field_names`` are
    the known keys, used to suggest a fix for a misspelt one; ``prefix`` is the
    path of the validated object inside the file (e.g. a wrapped submission).
    """
    known = sorted(set(field_names))
    diagnostics: list[Diagnostic] = []
    for err in exc.errors(include_url=False):
        unknown_key = err["type"] == "extra_forbidden"
        loc = tuple(prefix) + clean_loc(err["loc"], keep_last=unknown_key)
        message = _VALUE_ERROR_PREFIX.sub("", err["msg"])
        hint = None
        if unknown_key:
            message = "unknown field"
            if loc and isinstance(loc[-1], str):
                guess = did_you_mean(loc[-1], known)
                if guess and guess != loc[-1]:
                    hint = f"did you mean '{guess}'?"
        elif err["type"] == "missing":
            message = "required field is missing"
        diagnostics.append(make_diagnostic(source, loc, message, where=where, hint=hint))
    if not diagnostics:  # defensive: a ValidationError always has errors
        diagnostics.append(Diagnostic(f"{source}: {exc}"))
    return InputError(diagnostics)


def model_field_names(*models: type[pydantic.BaseModel]) -> set[str]:
    """All field names/aliases of some models and the models nested in them (for hints)."""
    names: set[str] = set()
    seen: set[type] = set()

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
            if tp in seen:
                return
            seen.add(tp)
            for name, info in tp.model_fields.items():
                names.add(info.alias or name)
                visit(info.annotation)
            return
        for arg in getattr(tp, "__args__", ()) or ():
            visit(arg)
        origin = getattr(tp, "__origin__", None)
        if origin is not None and origin is not tp:
            for meta in getattr(tp, "__metadata__", ()) or ():
                visit(meta)

    for model in models:
        visit(model)
    return names


# --------------------------------------------------------------------------
# Reading JSON exactly
# --------------------------------------------------------------------------


class _JsonProblem(ValueError):
    """A JSON text that parses but must be refused (NaN, duplicate keys)."""


def _json_number(text: str) -> Decimal:
    try:
        return bounded_decimal(text)
    except ValueError as exc:
        raise _JsonProblem(str(exc)) from None


def _json_int(text: str) -> int:
    try:
        return bounded_int(text)
    except ValueError as exc:
        raise _JsonProblem(str(exc)) from None


def _reject_constant(name: str) -> Any:
    raise _JsonProblem(f"{name} is not a number a submission may contain")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Reject duplicate keys: json keeps the last one silently, hiding an edit mistake."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _JsonProblem(f'duplicate key "{key}"')
        out[key] = value
    return out


def parse_json_text(text: str, source: str) -> Any:
    """JSON with floats as Decimal; NaN/Infinity, duplicate keys and empty text are InputErrors."""
    if not text.strip():
        raise InputError(Diagnostic(f"{source}: the file is empty; expected a JSON object"))
    try:
        return json.loads(
            text,
            parse_float=_json_number,
            parse_int=_json_int,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicate_keys,
        )
    except RecursionError:
        raise InputError(Diagnostic(f"{source}: the JSON is nested too deeply")) from None
    except json.JSONDecodeError as exc:
        loc = Location(source, exc.lineno, exc.colno)
        raise InputError(
            Diagnostic(f"{source}: not valid JSON: {exc.msg}", location=loc, source_text=text)
        ) from None
    except _JsonProblem as exc:
        raise InputError(Diagnostic(f"{source}: {exc}")) from None


def read_text_file(path: str | Path, what: str) -> str:
    """A file's text, with missing/unreadable files as InputErrors rather than tracebacks."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(Diagnostic(f"{p}: {what} file not found")) from None
    except IsADirectoryError:
        raise InputError(Diagnostic(f"{p}: is a directory, expected a {what} file")) from None
    except UnicodeDecodeError as exc:
        raise InputError(Diagnostic(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})")) from None
    except OSError as exc:
        raise InputError(Diagnostic(f"{p}: cannot read {what} file: {exc.strerror or exc}")) from None
