"""The layout of a population given as a table (`population_table.yaml`): which column is the
id and which context field each column fills. Checked when the year loads; read by
engine/populations/score_table.py. A year that extends another inherits it, or restates it whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mips_rules.dsl.errors import DataError, Diagnostic
from mips_rules.engine.inputs.safe_yaml import load_yaml

DECLARATION = "population_table.yaml"
TYPES = ("number", "boolean", "text")


def nearest(folders: list[Path]) -> Path | None:
    """The declaration of the nearest layer that has one (folders oldest first)."""
    for folder in reversed(folders):
        path = folder / DECLARATION
        if path.exists() or path.is_symlink():
            if path.is_symlink() or not path.is_file():
                raise DataError(Diagnostic(f"{path}: not a regular file; a year folder holds regular files only"))
            return path
    return None


def check(folders: list[Path]) -> None:
    """Raise DataError (file, line, column) when the year's table layout is malformed."""
    path = nearest(folders)
    if path is not None:
        _checked(load_yaml(path))


def declaration(year: Any) -> dict[str, Any]:
    """The year's table layout: the nearest layer's `population_table.yaml` (a year restates it whole)."""
    from mips_rules.engine.years.layers import chain
    from mips_rules.engine.years.loader import default_rules_root

    path = nearest([layer.folder for layer in chain(year.folder, default_rules_root())])
    if path is not None:
        return _checked(load_yaml(path))
    raise DataError(Diagnostic(f"the {year.performance_year} rules declare no population table ({DECLARATION}): "
                               "give the population as JSONL records"))


def _checked(doc: Any) -> dict[str, Any]:
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict) or not data.get("source"):
        raise DataError(Diagnostic(f"{DECLARATION} needs `source` and `columns: {{COLUMN: {{to, type}}}}`",
                                   doc.where(())))
    unknown = sorted(set(data) - {"source", "confirmed", "note", "id", "entity_type", "columns"})
    if unknown:
        raise DataError(Diagnostic(f"{DECLARATION}: unknown key `{unknown[0]}` (source, confirmed, note, id, "
                                   "entity_type, columns)", doc.where((unknown[0],))))
    for name, spec in data["columns"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("to"), str) or spec.get("type") not in TYPES \
                or set(spec) - {"to", "type", "map", "required"}:
            raise DataError(Diagnostic(f"column {name!r}: `{{to: CONTEXT.PATH, type: number|boolean|text}}` "
                                       "(`map`, `required` optional)", doc.where(("columns", name))))
    return data


