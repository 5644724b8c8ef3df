"""Write reports as JSON (stable, exact decimals), a rich table, or Markdown — the last two laid
out as the year's `report.yaml` declares."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from io import StringIO
from typing import Any

from mips_rules.engine.scoring import display
from mips_rules.engine.scoring.display import format_number
from mips_rules.engine.years.report_declaration import ReportLayout

def to_json(value: Any, indent: int | None = 2) -> str:
    """JSON with Decimals written as exact JSON numbers, keys in the report's own order."""
    out = StringIO()
    _write(value, out, indent, 0)
    out.write("\n")
    return out.getvalue()


def _write(value: Any, out: StringIO, indent: int | None, level: int) -> None:
    if isinstance(value, bool) or value is None:
        out.write(json.dumps(value))
    elif isinstance(value, (Decimal, int)):
        out.write(format_number(value))
    elif isinstance(value, str):
        out.write(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, dict):
        _write_items([(json.dumps(str(k), ensure_ascii=False) + ": ", v) for k, v in value.items()],
                     "{", "}", out, indent, level)
    elif isinstance(value, (list, tuple)):
        _write_items([("", v) for v in value], "[", "]", out, indent, level)
    elif isinstance(value, float):
        out.write(repr(value))
    else:
        out.write(json.dumps(str(value)))


_DECIMAL_MARK = re.compile(r'"\\u0000D([-0-9.]+)"')


def to_json_line(value: Any) -> str:
    """`to_json(value, indent=None)`, made by the json module's C encoder (a batch writes a line per
    record): each Decimal goes through `format_number` as a marked string, unmarked afterwards. A
    value the writer above would write otherwise — a key that is not text, a float that is not
    finite, a text holding a NUL character (it would look like a mark) — is written by it."""
    if not _text_keys(value, 0):
        return to_json(value, indent=None)
    count = [0]

    def number(v: Any) -> Any:
        if isinstance(v, Decimal):
            count[0] += 1
            return "\x00D" + format_number(v)
        return str(v)

    try:
        text = json.dumps(value, ensure_ascii=False, default=number, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return to_json(value, indent=None)
    if text.count("\\u0000") != count[0]:
        return to_json(value, indent=None)
    return _DECIMAL_MARK.sub(r"\1", text) + "\n"


def _text_keys(value: Any, depth: int) -> bool:
    """Every record key in the value is text (json and the writer above name other keys differently)."""
    if depth > 64:
        return False
    if isinstance(value, dict):
        return all(type(k) is str for k in value) and all(_text_keys(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_text_keys(v, depth + 1) for v in value)
    return True


def _write_items(items: list[tuple[str, Any]], open_: str, close: str, out: StringIO, indent: int | None,
                 level: int) -> None:
    if not items:
        out.write(open_ + close)
        return
    out.write(open_)
    sep = "," if indent is not None else ", "
    for i, (prefix, v) in enumerate(items):
        if indent is not None:
            out.write("\n" + " " * (indent * (level + 1)))
        out.write(prefix)
        _write(v, out, indent, level + 1)
        if i < len(items) - 1:
            out.write(sep)
    if indent is not None:
        out.write("\n" + " " * (indent * level))
    out.write(close)


def _md_table(table: display.Table) -> list[str]:
    return ["| " + " | ".join(table.columns) + " |",
            "|" + "".join("---:|" if r else "---|" for r in table.right),
            *("| " + " | ".join(row) + " |" for row in table.rows)]


def to_markdown(report: dict[str, Any], layout: ReportLayout) -> str:
    """The report as Markdown, laid out as the year declares it."""
    year = report["performance_year"]
    lines = [f"# MIPS final score, performance year {year}", "",
             f"Scored by the {year} rules, fingerprint `{report['rules_fingerprint']}`.", ""]
    head = display.heading(report, layout)
    if head:
        lines += ["; ".join(head), ""]
    table = display.category_table(report, layout)
    if table is not None:
        lines += _md_table(table)
    notes = display.notes(report, layout)
    if notes:
        lines += ["", *(f"- {title}: {text}" for title, text in notes)]
    for detail in display.details(report, layout):
        lines += ["", f"## {detail.title}", "", *_md_table(detail)]
    lines.append("")
    for line in display.summary(report, layout):
        text = f"{line.label}: {line.text}"
        lines.append(f"- **{text}**" if line.strong else f"- {text}")
        if line.reason:
            lines[-1] += f" — {line.reason}"
    lines.append("")
    return "\n".join(lines)


def print_table(report: dict[str, Any], layout: ReportLayout, console: Any) -> None:
    """A readable table on the terminal (rich). Text from the inputs or the rules (measure IDs,
    reasons, category names …) is never read as rich markup."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    def rich_table(t: display.Table, title: str) -> Any:
        out = Table(title=escape(title), title_justify="left")
        for name, right in zip(t.columns, t.right):
            out.add_column(escape(name), justify="right" if right else "left")
        for row in t.rows:
            out.add_row(*(Text(v) for v in row))
        return out

    console.print(Text(f"MIPS {report['performance_year']}", style="bold"))
    head = display.heading(report, layout)
    if head:
        console.print(Text("; ".join(head)))
    table = display.category_table(report, layout)
    if table is not None:
        console.print(rich_table(table, ""))
    for title, text in display.notes(report, layout):
        console.print(Text(f"{title}: {text}"))
    for detail in display.details(report, layout):
        console.print(rich_table(detail, detail.title))
    for line in display.summary(report, layout):
        text = Text(f"{line.label}: {line.text}", style="bold" if line.strong else "")
        if line.reason:
            text.append(f" — {line.reason}")
        console.print(text)
    console.print(Text(f"Scored by the {report['performance_year']} rules, fingerprint {report['rules_fingerprint']}",
                       style="dim"))
