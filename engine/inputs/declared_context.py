"""The scoring context a year declares (`context.yaml`), turned into a strict validator.

A year says what CMS knows beside the submission — special statuses, eligibility data,
elections, exceptions per category, reporting options — as a tree of typed fields:

    reporting_option: {type: choice, of: [traditional, app], default: traditional}
    entity:
      type: record
      fields:
        small_practice: {type: boolean, default: false}
        clinicians: {type: count, min: 1, default: 1}
    exceptions: {type: record, keys_from: program.categories, each: {type: boolean, default: false}}

Types: boolean, number, count (a whole number ≥ 0), integer, percent (0–100), text, year,
choice (`of`), record (`fields`, or `keys_from` a list in the year's data with `each`), list
(`of`). Options: default, optional (null allowed, the default), min, max, pattern (+ message),
null_means (a YAML null read as this value), exactly_one_of (records), unique_by (lists of
records), from_submission + map (a default taken from the submission, which a given value must
agree with). Unknown keys in a context are errors; every error names its field path. The
engine names no field of the context: the year does.

Population tools score a million rows, and pydantic costs about 0.3 ms a context: `fast_record`
checks a plainly valid context in plain Python (the declaration compiled once into closures) and
gives the same record; anything else it leaves to `validate`, which reports the error.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Callable, Literal, Mapping

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, create_model
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError
from typing import Annotated

from mips_rules.dsl.errors import DataError, Diagnostic, InputError, Location
from mips_rules.engine.inputs.validation import (
    Count,
    Percent,
    PerformanceYear,
    StrictBool,
    StrictInt,
    StrictNumber,
    StrictStr,
    WhereFn,
    _describe,
    problems_to_input_error,
    to_plain,
    validation_error_to_input_error,
)

_SCALARS: dict[str, Any] = {"boolean": StrictBool, "number": StrictNumber, "count": Count, "integer": StrictInt,
                            "percent": Percent, "text": StrictStr, "year": PerformanceYear}
_KEYS = {"type", "default", "optional", "min", "max", "of", "fields", "keys_from", "each", "pattern", "message",
         "null_means", "exactly_one_of", "unique_by", "from_submission", "map", "note", "source"}


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    _schema: Any = PrivateAttr(default=None)  # the ContextSchema that checked a whole context
    _raw: Any = PrivateAttr(default=None)  # (data, source, where) as given
    _record: Any = PrivateAttr(default=None)  # to_record(), made once (the model is frozen)

    def to_record(self) -> dict[str, Any]:
        """Plain dict: every declared key present, absent optionals None, numbers Decimal. Made once
        per context (scoring reads it twice: as the rules' input and for the report): read it, never
        change it."""
        if self._record is None:
            self._record = to_plain(self.model_dump(mode="python"))
        return self._record

    def for_submission(self, submission: Any) -> "_Closed":
        """Fields taken from the submission (`from_submission`), which given ones must agree with."""
        if self._schema is None or submission is None:
            return self
        data, source, _ = self._raw or ({}, "<context>", None)
        return self._schema._from_submission(self._schema.declaration, self, submission, source, ())


def _spec_error(path: str, message: str) -> DataError:
    return DataError(Diagnostic(f"context.yaml: `{path}`: {message}"))


class ContextSchema:
    """A year's declared context: `validate` turns a plain mapping into a checked context object."""

    def __init__(self, declaration: Mapping[str, Any], namespaces: Mapping[str, Any], source: str = "context.yaml"):
        self.declaration = dict(declaration)
        self.namespaces = namespaces
        self.source = source
        # The declaration is checked now (its errors belong to loading the year); the models are built
        # when something validates with them, and the fast path's checks when it is first asked.
        self._record_model("Context", self.declaration, "context", build=False)
        self._model: type[BaseModel] | None = None
        self._fast: Callable[[dict[str, Any], Any], dict[str, Any]] | bool | None = None

    @property
    def model(self) -> type[BaseModel]:
        """The pydantic model of the whole context, built on first use: loading a year needs none."""
        if self._model is None:
            self._model = self._record_model("Context", self.declaration, "context")
        return self._model

    # -- building the models -------------------------------------------------

    def _record_model(self, name: str, fields: Mapping[str, Any], path: str, build: bool = True) -> type[BaseModel]:
        """The model of a record; `build=False` only checks the declaration (every step but `create_model`)."""
        spec: dict[str, Any] = {}
        for fname, fspec in fields.items():
            if not isinstance(fspec, Mapping):
                raise _spec_error(f"{path}.{fname}", "must be a mapping with `type`")
            bad = [k for k in fspec if k not in _KEYS]
            if bad:
                raise _spec_error(f"{path}.{fname}", f"unknown key `{bad[0]}`")
            annotation, default = self._field(fname, fspec, f"{path}.{fname}", build)
            spec[fname] = (annotation, default)
        if not build:
            return _Closed
        return create_model(name, __base__=_Closed, **spec)  # type: ignore[call-overload,no-any-return]

    def _field(self, fname: str, fspec: Mapping[str, Any], path: str, build: bool = True) -> tuple[Any, Any]:
        kind = fspec.get("type")
        if kind in _SCALARS:
            annotation = _SCALARS[kind]
            bounds = {k: Decimal(str(fspec[k])) for k in ("min", "max") if k in fspec}
            if bounds:
                annotation = Annotated[annotation, Field(**{("ge" if k == "min" else "le"): v
                                                           for k, v in bounds.items()})]
            if "pattern" in fspec:
                annotation = Annotated[annotation, AfterValidator(_pattern(fspec["pattern"], fspec.get("message"),
                                                                           fname))]
        elif kind == "choice":
            values = fspec.get("of")
            if not isinstance(values, list) or not values:
                raise _spec_error(path, "a choice needs `of: [values]`")
            annotation = Literal[tuple(values)]  # type: ignore[valid-type]
        elif kind == "record":
            fields = fspec.get("fields")
            if "keys_from" in fspec:
                keys = self._keys_from(str(fspec["keys_from"]), path)
                fields = {k: fspec.get("each") or {"type": "boolean", "default": False} for k in keys}
            if not isinstance(fields, Mapping):
                raise _spec_error(path, "a record needs `fields` (or `keys_from` and `each`)")
            annotation = self._record_model(path.replace(".", "_"), fields, path, build)
        elif kind == "list":
            element = fspec.get("of")
            if not isinstance(element, Mapping):
                raise _spec_error(path, "a list needs `of: {type: …}`")
            inner, _ = self._field(fname, element, f"{path}[]", build)
            annotation = list[inner]  # type: ignore[valid-type]
        else:
            raise _spec_error(path, f"unknown type {kind!r} (one of: {', '.join([*_SCALARS, 'choice', 'record', 'list'])})")
        if "null_means" in fspec:
            annotation = Annotated[annotation, BeforeValidator(_null_means(fspec["null_means"]))]
        optional = bool(fspec.get("optional")) or fspec.get("from_submission") is not None
        if optional:
            annotation = annotation | None
        if fspec.get("from_submission") is not None:
            return annotation, None  # settled later: the submission's value, else `default`
        if "default" in fspec:
            default = fspec["default"]
            if kind == "record" and default == {}:
                return annotation, Field(default_factory=lambda a=annotation: a())  # type: ignore[misc]
            if kind == "list":
                return annotation, Field(default_factory=lambda d=default: list(d))  # type: ignore[misc]
            return annotation, (Decimal(str(default)) if isinstance(default, (int, float)) and
                                not isinstance(default, bool) and kind in ("number", "percent") else default)
        if optional:
            return annotation, None
        if kind == "record":
            return annotation, Field(default_factory=annotation)
        return annotation, ...

    def _keys_from(self, ref: str, path: str) -> list[str]:
        ns, _, name = ref.partition(".")
        value = self.namespaces.get(ns, {}).get(name)
        if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) for v in value):
            raise _spec_error(path, f"`keys_from: {ref}` must name a list of names in the year's data")
        return list(value)

    def checks_alike(self, other: "ContextSchema") -> bool:
        """Whether two years check a context alike (a reform that left context.yaml as it was): the
        same declaration, and the same names where it takes them from the year's data (`keys_from`)."""
        return self is other or (self.declaration == other.declaration and self.shape() == other.shape())

    def shape(self) -> dict[str, Any]:
        """`shape_of_model(self.model)` (the records the rules may read into) from the declaration alone:
        the rule checker needs the shape when a year loads, the model is needed only to validate."""
        return self._shape(self.declaration, 0)

    def _shape(self, fields: Mapping[str, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, spec in fields.items():
            out[name] = None
            if spec.get("type") != "record":
                continue
            # shapes.py counts the annotation's wrappers: Model, Model | None, Annotated[Model, …] | None
            optional = bool(spec.get("optional")) or spec.get("from_submission") is not None
            wrappers = (2 if "null_means" in spec else 1) if optional else 0
            if depth + wrappers > 8:
                continue
            if "keys_from" in spec:
                each = spec.get("each") or {"type": "boolean", "default": False}
                inner = {k: each for k in self._keys_from(str(spec["keys_from"]), name)}
            else:
                inner = spec["fields"]
            out[name] = self._shape(inner, depth + wrappers + 1)
        return out

    # -- validating a context ------------------------------------------------

    def validate(self, data: Any, *, source: str = "<context>", where: WhereFn | None = None,
                 submission: Any = None) -> BaseModel:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise InputError(Diagnostic(f"{source}: expected a mapping of context settings"))
        try:
            context = self.model.model_validate(dict(data))
        except ValidationError as exc:
            raise validation_error_to_input_error(exc, source, where,
                                                  field_names=self._names(self.declaration)) from None
        problems = self._problems(self.declaration, context, ())
        if problems:
            raise problems_to_input_error(source, problems, where)
        context._schema = self
        context._raw = (dict(data), source, where)
        return self._from_submission(self.declaration, context, submission, source, ())

    def _names(self, fields: Mapping[str, Any]) -> set[str]:
        out: set[str] = set()
        for name, spec in fields.items():
            out.add(name)
            if isinstance(spec, Mapping) and isinstance(spec.get("fields"), Mapping):
                out |= self._names(spec["fields"])
        return out

    def _problems(self, fields: Mapping[str, Any], value: Any, loc: tuple) -> list[tuple[tuple, str]]:
        out: list[tuple[tuple, str]] = []
        if value is None:
            return out
        for name, spec in fields.items():
            item = getattr(value, name, None)
            if item is None:
                continue
            if spec.get("type") == "record" and isinstance(spec.get("fields"), Mapping):
                out += self._record_checks(spec, item, loc + (name,))
            if spec.get("type") == "list" and isinstance(spec.get("of"), Mapping):
                element = spec["of"]
                key = spec.get("unique_by")
                seen: dict[Any, int] = {}
                for i, entry in enumerate(item):
                    if element.get("type") == "record":
                        out += self._record_checks(element, entry, loc + (name, i))
                    if key is not None:
                        k = getattr(entry, key, None)
                        if k in seen:
                            out.append((loc + (name, i, key), f"{k} is given twice (first at [{seen[k]}])"))
                        seen.setdefault(k, i)
        return out

    def _record_checks(self, spec: Mapping[str, Any], value: Any, loc: tuple) -> list[tuple[tuple, str]]:
        out = []
        pair = spec.get("exactly_one_of")
        if pair and sum(getattr(value, f, None) is not None for f in pair) != 1:
            out.append((loc, f"give exactly one of {' or '.join(pair)}"))
        return out + self._problems(spec.get("fields") or {}, value, loc)

    def _from_submission(self, fields: Mapping[str, Any], context: BaseModel, submission: Any, source: str,
                         loc: tuple) -> BaseModel:
        updates: dict[str, Any] = {}
        for name, spec in fields.items():
            value = getattr(context, name, None)
            if spec.get("type") == "record" and isinstance(value, BaseModel) and isinstance(spec.get("fields"), Mapping):
                new = self._from_submission(spec["fields"], value, submission, source, loc + (name,))
                if new is not value:
                    updates[name] = new
            field = spec.get("from_submission")
            if field is None:
                continue
            raw = getattr(submission, field, None) if submission is not None else None
            mapped = (spec.get("map") or {}).get(raw, raw) if raw is not None else None
            if value is not None and mapped is not None and value != mapped:
                path = ".".join(str(p) for p in (*loc, name))
                raise InputError(Diagnostic(f"{source}: {path}: {value} contradicts the submission's {field} {raw}"))
            settled = value if value is not None else mapped if mapped is not None else spec.get("default")
            if settled != value:
                updates[name] = settled
        return context.model_copy(update=updates) if updates else context

    def to_record(self, context: BaseModel) -> dict[str, Any]:
        return to_plain(context.model_dump(mode="python"))

    # -- the fast path -------------------------------------------------------

    def fast_record(self, data: Any, submission: Any = None) -> dict[str, Any] | None:
        """The context's record — exactly `self.to_record(self.validate(data, submission=submission))` —
        checked in plain Python, or None whenever the input is not plainly valid (the caller then
        validates the usual way, which reports the error).

        Population tools score a million table rows, and pydantic's 0.3 ms per context would dominate:
        this checks the values pydantic surely accepts (exact types: no strings for numbers, no
        tuples for lists) and normalises them as it does. None is always a safe answer."""
        fast = self._fast
        if fast is None:
            try:
                fast = _FastCompiler(self).top()
            except _Unsupported:
                fast = False
            self._fast = fast
        if fast is False:
            return None
        if data is None:
            data = {}
        elif type(data) is not dict:
            if not isinstance(data, Mapping):
                return None
            data = dict(data)
        try:
            return fast(data, submission)  # type: ignore[operator]
        except Exception:  # noqa: BLE001 - _Reject, or a value the plain checks trip on: `validate` decides
            return None


# --------------------------------------------------------------------------
# The fast path: the declaration compiled into plain-Python checks
# --------------------------------------------------------------------------

_Check = Callable[[Any, Any], Any]
"""(value, submission) → the value's part of the record, or _Reject."""


_ONE = Decimal(1)


class _Reject(Exception):
    """The fast path cannot vouch for a value: `validate` decides (and names the error)."""


class _Unsupported(Exception):
    """A declaration the fast path does not mirror: it then always defers to `validate`."""


_INT_KINDS = ("count", "integer", "year")
_NUMBER_KINDS = ("number", "percent")
_DEFAULT_TYPES: dict[str, tuple[type, ...]] = {"boolean": (bool,), "number": (Decimal,), "percent": (Decimal,),
                                               "count": (int,), "integer": (int,), "year": (int,),
                                               "text": (str,), "choice": (str,)}


def _reject(value: Any = None, submission: Any = None) -> Any:
    raise _Reject


class _FastCompiler:
    """Mirrors `ContextSchema._field` (what each field accepts and its default), `_problems` (which
    records get `exactly_one_of` and which lists `unique_by`: only those the check walks to) and
    `_from_submission` (which fields are settled) as closures. Anything it cannot mirror for sure
    rejects, or raises _Unsupported when the declaration is compiled."""

    def __init__(self, schema: ContextSchema):
        self.schema = schema

    def top(self) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        return self.record(self.schema.declaration, None, checked=True, settles=True)

    # A field: (check for a given value, maker of the value for an absent key or None, the constant one).
    def field(self, spec: Mapping[str, Any], checked: bool, settles: bool) -> tuple[_Check, _Check | None, Any]:
        kind = spec.get("type")
        check = self.value(spec, checked, element=False)
        if spec.get("from_submission") is not None:
            return check, None, None  # settled by the record (`settle`), as `_from_submission` does
        optional = bool(spec.get("optional"))
        if "default" in spec:
            default = spec["default"]
            if kind == "record":
                if default == {} and not optional and "null_means" not in spec:
                    return check, lambda _v, submission: check({}, submission), None
                return check, _reject, None  # a default pydantic does not validate (or cannot make): left to it
            if kind == "list":
                return check, (lambda _v, _s: []) if type(default) is list and not default else _reject, None
            if isinstance(default, (int, float)) and not isinstance(default, bool) and kind in _NUMBER_KINDS:
                default = Decimal(str(default))
            if default is None or (type(default) in _DEFAULT_TYPES.get(str(kind), ())):
                return check, None, to_plain(default)
            return check, _reject, None
        if optional:
            return check, None, None
        if kind == "record" and "null_means" not in spec:
            return check, lambda _v, submission: check({}, submission), None
        return check, _reject, None

    # A value: the field's type, with `optional`/`from_submission` (null kept) or `null_means`.
    def value(self, spec: Mapping[str, Any], checked: bool, element: bool) -> _Check:
        kind = spec.get("type")
        nullable = bool(spec.get("optional")) or spec.get("from_submission") is not None
        if kind == "record":
            if element and (nullable or "null_means" in spec):
                raise _Unsupported("an optional record in a list")
            base = self.record_field(spec, checked, element)
        elif kind == "list":
            base = self.list_field(spec, checked)
        elif kind == "choice":
            base = self.choice(spec, nullable)
            nullable = False  # the choice keeps a null itself
        else:
            base = self.scalar(spec, nullable)
            nullable = False
        if nullable:
            return lambda v, submission: None if v is None else base(v, submission)
        if "null_means" in spec and not (bool(spec.get("optional")) or spec.get("from_submission") is not None):
            replacement = spec["null_means"]
            return lambda v, submission: base(replacement if v is None else v, submission)
        return base

    def scalar(self, spec: Mapping[str, Any], nullable: bool) -> _Check:
        kind = spec.get("type")
        bounds = {k: Decimal(str(spec[k])) for k in ("min", "max") if k in spec}
        if any(not b.is_finite() for b in bounds.values()):
            raise _Unsupported("a bound that is not a finite number")
        if bounds and kind not in (*_NUMBER_KINDS, *_INT_KINDS):
            raise _Unsupported(f"min/max on a {kind}")
        if "pattern" in spec and kind != "text":
            raise _Unsupported(f"a pattern on a {kind}")
        low, high = bounds.get("min"), bounds.get("max")
        if kind == "percent":  # Percent's own 0–100 and the declared bounds: both hold
            low = Decimal(0) if low is None else max(low, Decimal(0))
            high = Decimal(100) if high is None else min(high, Decimal(100))
        if kind == "year":
            low = Decimal(1000) if low is None else max(low, Decimal(1000))
            high = Decimal(9999) if high is None else min(high, Decimal(9999))
        if kind == "boolean":
            def boolean(v: Any, _s: Any) -> Any:
                if type(v) is not bool and not (v is None and nullable):
                    raise _Reject
                return v
            return boolean
        if kind == "text":
            regex = re.compile(spec["pattern"]) if "pattern" in spec else None

            def text(v: Any, _s: Any) -> Any:
                if type(v) is not str:
                    if v is None and nullable:
                        return None
                    raise _Reject
                if regex is not None and not regex.fullmatch(v):
                    raise _Reject
                return v
            return text
        if kind in _NUMBER_KINDS:
            def number(v: Any, _s: Any) -> Any:  # _strict_decimal, then pydantic's Decimal (unchanged) and ge/le
                t = type(v)
                if t is Decimal or (t is not int and isinstance(v, Decimal)):  # a recorded number too (dsl/trace.py)
                    if not v.is_finite():
                        raise _Reject
                elif t is int:
                    v = Decimal(v)
                elif t is float:
                    v = Decimal(repr(v))
                    if not v.is_finite():
                        raise _Reject
                elif v is None and nullable:
                    return None
                else:
                    raise _Reject
                if (low is not None and v < low) or (high is not None and v > high):
                    raise _Reject
                return v
            return number
        if kind in _INT_KINDS:
            if any(b != b.to_integral_value() for b in (low, high) if b is not None):
                raise _Unsupported("a fractional bound on a whole number")
            lo = int(low) if low is not None else None
            hi = int(high) if high is not None else None
            counting = kind == "count"

            def whole(v: Any, _s: Any) -> Any:  # _strict_count / _strict_int, then int and ge/le (and the year's range)
                t = type(v)
                if t is not int:
                    if v is None and nullable:
                        return None
                    if t is float and counting:
                        v = Decimal(repr(v))
                    elif not isinstance(v, Decimal):
                        raise _Reject
                    if not v.is_finite() or v != v.to_integral_value():
                        raise _Reject
                    # Decimal(int(v)), by decimal operations (a recorded number stays recorded): exponent
                    # 0, and no negative zero; one too long for the context raises (then `validate` decides)
                    v = v.quantize(_ONE) + 0
                if (counting and v < 0) or (lo is not None and v < lo) or (hi is not None and v > hi):
                    raise _Reject
                return Decimal(v) if type(v) is int else v
            return whole
        raise _Unsupported(f"type {kind!r}")

    def choice(self, spec: Mapping[str, Any], nullable: bool) -> _Check:
        options = frozenset(v for v in spec.get("of") or () if type(v) is str)
        if nullable:
            options |= {None}  # type: ignore[arg-type]

        def choice(v: Any, _s: Any) -> Any:
            if (type(v) is not str and v is not None) or v not in options:
                raise _Reject
            return v
        return choice

    def list_field(self, spec: Mapping[str, Any], checked: bool) -> _Check:
        element = spec["of"]
        # `_problems` checks the records of a list it walks to, not the lists inside a list
        inner = self.value(element, checked and element.get("type") == "record", element=True)
        key = spec.get("unique_by") if checked else None
        if key is not None and (element.get("type") != "record" or key not in self.record_names(element)):
            raise _Unsupported("unique_by names no field of the list's records")

        def listing(v: Any, submission: Any) -> Any:
            if type(v) is not list:
                raise _Reject
            out = [inner(item, submission) for item in v]
            if key is not None:
                seen = set()
                for entry in out:
                    k = entry[key]
                    if k in seen:
                        raise _Reject
                    seen.add(k)
            return out
        return listing

    def record_names(self, spec: Mapping[str, Any]) -> list[str]:
        if "keys_from" in spec:
            return self.schema._keys_from(str(spec["keys_from"]), "")
        return list(spec["fields"])

    def record_field(self, spec: Mapping[str, Any], checked: bool, element: bool) -> _Check:
        if "keys_from" in spec:
            if "fields" in spec:
                raise _Unsupported("a record with both keys_from and fields")
            each = spec.get("each") or {"type": "boolean", "default": False}
            fields: Mapping[str, Any] = {k: each for k in self.record_names(spec)}
            walked = False  # `_problems` and `_from_submission` walk only records with `fields`
        else:
            fields, walked = spec["fields"], True
        pair = spec.get("exactly_one_of")
        own = checked if element else checked and walked
        if not own or not pair:
            pair = None
        elif not isinstance(pair, list) or not all(isinstance(f, str) and f in fields for f in pair):
            raise _Unsupported("exactly_one_of names no field of the record")
        return self.record(fields, pair, checked=checked and walked, settles=not element and walked)

    def record(self, fields: Mapping[str, Any], pair: list[str] | None, *, checked: bool, settles: bool) -> _Check:
        checks: dict[str, _Check] = {}
        constants: dict[str, Any] = {}  # every field, in the declaration's order: the absent value, or a stand-in
        made: list[tuple[str, _Check]] = []  # the fields whose absent value is made per record (or refused)
        settled: list[tuple[str, Callable[[Any, Any], Any]]] = []
        for name, spec in fields.items():
            if type(name) is not str or not name.isidentifier() or name.startswith("_") or hasattr(_Closed, name):
                raise _Unsupported(f"the field name {name!r}")
            checks[name], maker, constants[name] = self.field(spec, checked, settles)
            if maker is not None:
                made.append((name, maker))
            if settles and spec.get("from_submission") is not None:
                settled.append((name, self.settle(spec)))
        makers, settlers = tuple(made), tuple(settled)
        both = tuple(pair) if pair else None
        lookup = checks.get

        def record(v: Any, submission: Any) -> Any:
            if type(v) is not dict:
                raise _Reject
            out = constants.copy()
            for name, given in v.items():
                check = lookup(name)
                if check is None:
                    raise _Reject  # an unknown key
                out[name] = check(given, submission)
            for name, maker in makers:
                if name not in v:
                    out[name] = maker(None, submission)
            if both is not None and sum(out[f] is not None for f in both) != 1:
                raise _Reject
            for name, settle in settlers:
                out[name] = settle(out[name], submission)
            return out
        return record

    def settle(self, spec: Mapping[str, Any]) -> Callable[[Any, Any], Any]:
        """`_from_submission` for one field: the submission's value (mapped), which a given one must equal."""
        if spec.get("type") not in ("choice", "text"):
            raise _Unsupported("from_submission on a field that is not a choice or text")
        field, mapping, default = spec["from_submission"], spec.get("map") or {}, spec.get("default")
        if not isinstance(mapping, Mapping) or not (default is None or type(default) is str):
            raise _Unsupported("from_submission with an odd map or default")

        def settle(value: Any, submission: Any) -> Any:
            raw = getattr(submission, field, None) if submission is not None else None
            mapped = mapping.get(raw, raw) if raw is not None else None
            if mapped is not None and type(mapped) is not str:
                raise _Reject
            if value is not None and mapped is not None and value != mapped:
                raise _Reject  # a contradiction: `validate` reports it
            return value if value is not None else mapped if mapped is not None else default
        return settle


def _pattern(regex: str, message: str | None, name: str):  # noqa: ANN202 - a validator
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError("pattern", (message or f"{name} does not have the expected form")
                                      + ", got {got}", {"got": _describe(value)})
        return value

    return check


def _null_means(replacement: Any):  # noqa: ANN202 - a validator
    return lambda value: replacement if value is None else value


def load_schema(declaration: Any, namespaces: Mapping[str, Any], location: Location | None = None) -> ContextSchema:
    if not isinstance(declaration, Mapping):
        raise DataError(Diagnostic("context.yaml must map field names to their declarations", location))
    return ContextSchema(declaration, namespaces)
