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
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal, Mapping

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
        self.model = self._record_model("Context", self.declaration, "context")

    # -- building the models -------------------------------------------------

    def _record_model(self, name: str, fields: Mapping[str, Any], path: str) -> type[BaseModel]:
        spec: dict[str, Any] = {}
        for fname, fspec in fields.items():
            if not isinstance(fspec, Mapping):
                raise _spec_error(f"{path}.{fname}", "must be a mapping with `type`")
            bad = [k for k in fspec if k not in _KEYS]
            if bad:
                raise _spec_error(f"{path}.{fname}", f"unknown key `{bad[0]}`")
            annotation, default = self._field(fname, fspec, f"{path}.{fname}")
            spec[fname] = (annotation, default)
        return create_model(name, __base__=_Closed, **spec)  # type: ignore[call-overload,no-any-return]

    def _field(self, fname: str, fspec: Mapping[str, Any], path: str) -> tuple[Any, Any]:
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
            annotation = self._record_model(path.replace(".", "_"), fields, path)
        elif kind == "list":
            element = fspec.get("of")
            if not isinstance(element, Mapping):
                raise _spec_error(path, "a list needs `of: {type: …}`")
            inner, _ = self._field(fname, element, f"{path}[]")
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
