"""The field shapes of the rule language's inputs, derived from the input models.

The checker uses them to catch `context.entity.smal_practice` when a year
loads, with a "did you mean", instead of failing on the first submission.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Any

from pydantic import BaseModel


def _shape_of_annotation(annotation: Any, depth: int = 0) -> Any:
    if depth > 8:
        return None
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        shapes = [_shape_of_annotation(a, depth + 1) for a in typing.get_args(annotation) if a is not type(None)]
        records = [s for s in shapes if isinstance(s, dict)]
        return records[0] if len(records) == 1 and len(shapes) == 1 else None
    if origin is typing.Annotated:
        return _shape_of_annotation(typing.get_args(annotation)[0], depth + 1)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return shape_of_model(annotation, depth + 1)
    return None


def shape_of_model(model: type[BaseModel], depth: int = 0) -> dict[str, Any]:
    """Field name → shape of that field (a dict for nested records, None when not a record)."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        out[key] = _shape_of_annotation(info.annotation, depth)
    return out


@functools.lru_cache(maxsize=1)
def submission_shape() -> dict[str, Any]:
    from mips_rules.engine.inputs.submission import Submission

    return shape_of_model(Submission)


@functools.lru_cache(maxsize=1)
def input_shapes() -> dict[str, Any]:
    """Both inputs' shapes with the built-in context (a year that declares its own uses its shape)."""
    from mips_rules.engine.inputs.builtin_context import Context

    return {"submission": submission_shape(), "context": shape_of_model(Context)}
