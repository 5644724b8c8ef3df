"""What a report shows, as the year's declaration (`report.yaml`) says: the heading, the category
table, its notes and detail tables, and the summary lines — as text cells, for any renderer."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterator

from mips_rules.engine.years.report_declaration import Column, ReportField, ReportLayout

# Intermediate values (category points, scores) can have long expansions (66.666…); reports
# show at most this many decimals. Values the rules round are shown as the rules produced them.
DISPLAY_DECIMALS = 6
NUMERIC_STYLES = {"two_decimals", "two_decimals_percent", "percent", "signed_two_decimals"}


def format_number(value: Decimal | int) -> str:
    if isinstance(value, int):
        return str(value)
    if value != value.quantize(Decimal(1).scaleb(-DISPLAY_DECIMALS), rounding=ROUND_HALF_UP):
        value = value.quantize(Decimal(1).scaleb(-DISPLAY_DECIMALS), rounding=ROUND_HALF_UP)
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def two_decimals(value: Decimal | int) -> str:
    """Final scores and adjustments are published with two decimals (75.00, -0.41), rounded half up."""
    text = str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return "0.00" if text == "-0.00" else text


def show(value: Any, style: str = "plain", shown_as: Any = None) -> str | None:
    """A value as a text cell in a display style; None when `shown_as` hides it."""
    if shown_as is not None and isinstance(value, str) and value in shown_as:
        return shown_as[value]
    if style == "mark":
        return "yes" if value is True else ""
    if style == "text" and value is None:
        return ""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (Decimal, int)):
        if style == "two_decimals":
            return two_decimals(value)
        if style == "two_decimals_percent":
            return two_decimals(value) + "%"
        if style == "signed_two_decimals":
            return ("+" if value > 0 else "") + two_decimals(value)
        if style == "percent":
            return format_number(value) + "%"
        return format_number(value)
    return str(value)


def field_text(f: ReportField, value: Any) -> str | None:
    """A field's display text: its template (the first case whose `if` field is true), else its value."""
    for cond, template in f.text:
        if cond is None or (isinstance(value, dict) and value.get(cond) is True):
            return _fill(template, f, value)
    return show(value, f.show, f.shown_as)


def _fill(template: str, f: ReportField, value: Any) -> str:
    out, rest = [], template
    while "{" in rest:
        before, _, after = rest.partition("{")
        name, _, rest = after.partition("}")
        sub = f.sub(name)
        if name == "value" or sub is None:
            out += [before, show(value, f.show, f.shown_as) or ""]
        else:
            out += [before, show(value.get(sub.name) if isinstance(value, dict) else None, sub.show, sub.shown_as) or ""]
    return "".join(out) + rest


def at(report: dict[str, Any], path: str) -> Any:
    value: Any = report
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def heading(report: dict[str, Any], layout: ReportLayout) -> list[str]:
    """The heading's parts ("Reporting option: traditional", "entity: group", …)."""
    parts = []
    for path in layout.heading:
        f = layout.field_at(path)
        if f is None or path.split(".")[0] not in report:
            continue
        text = field_text(f, at(report, path))
        if text is not None:
            parts.append(f"{f.label}: {text}" if f.label else text)
    return parts


@dataclass
class SummaryLine:
    label: str
    text: str
    strong: bool
    reason: str | None


def summary(report: dict[str, Any], layout: ReportLayout) -> list[SummaryLine]:
    """The lines after the category tables (bonus, final score, adjustment …), as the year lists them."""
    lines = []
    for path in layout.summary:
        f = layout.field_at(path)
        if f is None or path.split(".")[0] not in report:
            continue
        reason = None
        if f.reason is not None:
            reason = at(report, ".".join([*path.split(".")[:-1], f.reason]))
        text = field_text(f, at(report, path))
        if text is not None:
            lines.append(SummaryLine(f.label or f.name, text, f.strong, None if reason is None else str(reason)))
    return lines


@dataclass
class Table:
    title: str
    columns: list[str]
    right: list[bool]
    rows: list[list[str]]


def _categories(report: dict[str, Any], layout: ReportLayout) -> tuple[ReportField | None, dict[str, Any]]:
    f = layout.each_field()
    entries = report.get(f.name) if f is not None else None
    return f, entries if isinstance(entries, dict) else {}


def shown_fields(f: ReportField) -> list[ReportField]:
    """The per-category fields the category table has a column for (labelled; not a note or a table)."""
    return [s for s in f.fields if s.label and s.show not in ("note", "table")]


def category_table(report: dict[str, Any], layout: ReportLayout) -> Table | None:
    """One row per category: its title and each shown field (score, weight, points …)."""
    f, entries = _categories(report, layout)
    if f is None:
        return None
    shown = shown_fields(f)
    rows = [[f.titles.get(key, key), *(show(entry.get(s.name), s.show, s.shown_as) or "" for s in shown)]
            for key, entry in entries.items()]
    return Table("", [f.label or "Category", *(s.label or s.name for s in shown)],
                 [False, *(s.show in NUMERIC_STYLES for s in shown)], rows)


def notes(report: dict[str, Any], layout: ReportLayout) -> list[tuple[str, str]]:
    """(category title, sentence) of each category that says why it scored as it did."""
    f, entries = _categories(report, layout)
    if f is None:
        return []
    out = []
    for key, entry in entries.items():
        for s in f.fields:
            if s.show == "note" and entry.get(s.name):
                out.append((f.titles.get(key, key), str(entry[s.name])))
    return out


def details(report: dict[str, Any], layout: ReportLayout) -> Iterator[Table]:
    """Each category's detail table, then the report's own tables (a list of records shown as a
    table, such as an MVP's requirements): the declared columns, else the records field by field."""
    f, entries = _categories(report, layout)
    for key, entry in entries.items() if f is not None else ():
        for s in f.fields:
            records = entry.get(s.name)
            if s.show != "table" or not records or not isinstance(records, list):
                continue
            title = f"{f.titles.get(key, key)} detail"
            declared = s.columns.get(key)
            if declared:
                yield _declared_table(title, declared, records)
            else:
                yield _generic_table(title, records)
    for top in layout.fields:
        records = report.get(top.name)
        if top.show != "table" or top.each is not None or not records or not isinstance(records, list):
            continue
        declared = top.columns.get("")
        title = top.label or top.name
        yield _declared_table(title, declared, records) if declared else _generic_table(title, records)


def _declared_table(title: str, columns: tuple[Column, ...], records: list[Any]) -> Table:
    rows = [[show(r.get(c.field), c.show, c.shown_as) or "" if isinstance(r, dict) else "" for c in columns]
            for r in records]
    return Table(title, [c.label for c in columns],
                 [c.align == "right" if c.align else c.show in NUMERIC_STYLES for c in columns], rows)


def _generic_table(title: str, records: list[Any]) -> Table:
    columns = list(records[0]) if isinstance(records[0], dict) else []
    rows = [[("" if r.get(c) is None else show(r.get(c)) or "") if isinstance(r, dict) else "" for c in columns]
            for r in records]
    right = [all(isinstance(r.get(c), (Decimal, int)) and not isinstance(r.get(c), bool)
                 for r in records if isinstance(r, dict) and r.get(c) is not None) and
             any(isinstance(r, dict) and r.get(c) is not None for r in records) for c in columns]
    return Table(title, [c.replace("_", " ").capitalize() for c in columns], right, rows)
