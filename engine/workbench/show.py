"""Describe one value, table or rule of a year for an analyst: value, unit, source, confirmation."""

from __future__ import annotations

from pathlib import Path

from mips_rules.dsl.errors import Diagnostic, RulesError, did_you_mean
from mips_rules.engine.workbench.diff import value_text
from mips_rules.engine.years.loader import Year


def origin(year: Year, file: str | None) -> str:
    """Which year folder an effective value or definition comes from (a year may extend another)."""
    if not file:
        return f"from {year.folder.name}"
    folder = Path(file).parent
    if folder.resolve() == year.folder.resolve():
        return f"from {year.folder.name} (set in this year)"
    return f"inherited from {folder.name} ({folder})"


def _item_text(year: Year, ns: str, name: str) -> str:
    it = year.data.items[ns][name]
    lines = [f"{it.path}  ({it.location})", f"  {origin(year, it.location.file)}"]
    if it.kind == "value":
        lines.append(f"  value: {value_text(it.value)}" + (f" {it.unit}" if it.unit else ""))
    else:
        table = it.value
        key = table.key_field if isinstance(table.key_field, str) else ", ".join(table.key_field)
        lines.append(f"  table keyed by {key}, {len(table)} rows:")
        for row in list(table.rows.values())[:60]:
            lines.append(f"    {value_text(row)}")
        if len(table) > 60:
            lines.append(f"    … {len(table) - 60} more")
    lines.append(f"  source: {it.source}")
    if it.note:
        lines.append(f"  note: {it.note}")
    lines.append(f"  confirmed: {'yes' if it.confirmed else 'NO (unconfirmed)'}")
    if it.carried_over:
        lines.append("  carried over from another year: not yet reviewed")
    if it.imported_from:
        lines.append(f"  imported rows from: {it.imported_from}")
    return "\n".join(lines)


def _rule_text(year: Year, name: str) -> str:
    d = year.definitions[name]
    lines = [f"rule {name}  ({d.loc})", f"  {origin(year, d.loc.file if d.loc else None)}",
             *("  " + line for line in d.text.splitlines()),
             f"  source: {d.source}"]
    if "unconfirmed" in d.annotations:
        lines.append("  confirmed: NO (unconfirmed)")
    return "\n".join(lines)


def describe(year: Year, path: str) -> str:
    if path in year.definitions:
        return _rule_text(year, path)
    ns, _, name = path.partition(".")
    if ns in year.data.items and not name:
        return "\n\n".join(_item_text(year, ns, n) for n in year.data.items[ns])
    if ns in year.data.items and name in year.data.items[ns]:
        return _item_text(year, ns, name)
    known = [*year.definitions, *(it.path for it in year.data.all_items())]
    guess = did_you_mean(path, known)
    raise RulesError(Diagnostic(f"{year.performance_year} has no value or rule `{path}`",
                                hint=f"did you mean `{guess}`?" if guess else None))


def unconfirmed_items(year: Year) -> str:
    lines = [f"Unconfirmed in {year.performance_year}:"]
    for it in year.data.all_items():
        if not it.confirmed:
            lines.append(f"  {it.path}: {value_text(it.value) if it.kind == 'value' else 'table'}  — {it.source}")
    for name, d in year.definitions.items():
        if "unconfirmed" in d.annotations:
            lines.append(f"  rule {name}  — {d.source}")
    return "\n".join(lines)
