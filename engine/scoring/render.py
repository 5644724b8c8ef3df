"""Write reports as JSON (stable, exact decimals), a rich table, or Markdown."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO
from typing import Any

# Intermediate values (category points, scores) can have long expansions
# (66.666…); reports show at most this many decimals. Values the rules round
# (final score, adjustment) are shown exactly as the rules produced them.
DISPLAY_DECIMALS = 6


def format_number(value: Decimal | int) -> str:
    if isinstance(value, int):
        return str(value)
    if value != value.quantize(Decimal(1).scaleb(-DISPLAY_DECIMALS), rounding=ROUND_HALF_UP):
        value = value.quantize(Decimal(1).scaleb(-DISPLAY_DECIMALS), rounding=ROUND_HALF_UP)
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


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


CATEGORY_TITLES = {"quality": "Quality", "cost": "Cost", "ia": "Improvement Activities",
                   "pi": "Promoting Interoperability"}


def _cell(value: Any, suffix: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (Decimal, int)):
        return format_number(value) + suffix
    return str(value)


def _two_places(value: Decimal | int) -> str:
    """Final scores and adjustments are published with two decimals (75.00, -0.41)."""
    text = f"{Decimal(value):.2f}"
    return "0.00" if text == "-0.00" else text


def _adjustment_text(report: dict[str, Any]) -> str:
    adj = report["payment_adjustment"]
    if not adj["applies"]:
        return f"none (payment year {adj['payment_year']}: no adjustment applies)"
    pct = adj["percent"]
    sign = "+" if pct > 0 else ""
    return f"{sign}{_two_places(pct)}% ({adj['direction']}, payment year {adj['payment_year']})"


def extra_fields(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, label) of the report fields a year adds (`report.yaml`), as the report lists them."""
    return [(f["name"], f["label"]) for f in report.get("report_fields", [])]


def category_rows(report: dict[str, Any]) -> list[list[str]]:
    """Scores and points to two decimals, as CMS's feedback shows them (the JSON keeps more)."""
    rows = []
    for c, cat in report["categories"].items():
        rows.append([CATEGORY_TITLES.get(c, c), "—" if cat["score"] is None else _two_places(cat["score"]) + "%",
                     _cell(cat["weight"], "%"), _two_places(cat["points"]), "yes" if cat["reweighted"] else ""])
    return rows


MEASURE_COLUMNS = ("Measure", "Collection type", "Rate", "Complete", "Points", "Counted", "Why")

# CMS's names for the collection types behind QPP JSON's submission methods (for display only).
COLLECTION_TYPES = {"electronicHealthRecord": "eCQM", "registry": "MIPS CQM", "claims": "Part B claims",
                    "cmsWebInterface": "Web Interface", "certifiedSurveyVendor": "CAHPS survey",
                    "administrativeClaims": "admin claims"}


def _percent(value: Any) -> str:
    return "—" if value is None else f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


def detail_table(category: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of a computed category's detail: quality measures as CMS shows them
    (rates as 96.37%), other categories' records column by column."""
    records = category.get("measures") or []
    if records and "performance_rate" in records[0]:
        return list(MEASURE_COLUMNS), [
            [m["measure_id"], COLLECTION_TYPES.get(m["submission_method"], m["submission_method"]),
             _percent(m["performance_rate"]), _percent(m["data_completeness"]), _cell(m["points"]),
             "yes" if m["counted"] else "", m["reason"] or ""] for m in records]
    columns = list(records[0]) if records else []
    return ([c.replace("_", " ").capitalize() for c in columns],
            [[_cell(r.get(c)) if r.get(c) is not None else "" for c in columns] for r in records])


def to_markdown(report: dict[str, Any]) -> str:
    lines = [f"# MIPS final score, performance year {report['performance_year']}", "",
             f"Scored by the {report['performance_year']} rules, fingerprint `{report['rules_fingerprint']}`.", "",
             f"Reporting option: {report['reporting_option']}; entity: {report['entity']['type']}; "
             f"eligibility: {report['eligibility']}"
             + ("; facility-based scoring" if report.get("scoring_basis") == "facility" else ""), "",
             "| Category | Score | Weight | Points | Reweighted |", "|---|---:|---:|---:|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in category_rows(report)]
    reasons = [f"- {CATEGORY_TITLES.get(c, c)}: {cat['reason']}" for c, cat in report["categories"].items()
               if cat.get("reason")]
    if reasons:
        lines += ["", *reasons]
    for c, cat in report["categories"].items():
        if cat.get("measures"):
            columns, rows = detail_table(cat)
            lines += ["", f"## {CATEGORY_TITLES.get(c, c)} detail", "",
                      "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", f"- Complex patient bonus: {_two_places(report['complex_patient_bonus'])}",
              *(f"- {label}: {_cell(report[name])}" for name, label in extra_fields(report)),
              f"- **Final score: {_two_places(report['final_score'])} / 100**"
              + (f" — {report['final_score_reason']}" if report.get("final_score_reason") else ""),
              f"- Payment adjustment: {_adjustment_text(report)}", ""]
    return "\n".join(lines)


def print_table(report: dict[str, Any], console: Any) -> None:
    """A readable table on the terminal (rich). Text from the inputs or the rules (measure IDs,
    reasons, category names …) is never read as rich markup."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    def cells(row: list[str]) -> list[Text]:
        return [Text(str(v)) for v in row]

    table = Table(title=escape(f"MIPS {report['performance_year']} — {report['reporting_option']}"),
                  title_justify="left")
    table.add_column("Category")
    table.add_column("Score", justify="right")
    table.add_column("Weight", justify="right")
    table.add_column("Points", justify="right")
    table.add_column("Reweighted")
    for row in category_rows(report):
        table.add_row(*cells(row))
    table.add_section()
    table.add_row("Complex patient bonus", "", "", escape(_two_places(report["complex_patient_bonus"])), "")
    for name, label in extra_fields(report):
        table.add_row(escape(label), "", "", escape(_cell(report[name])), "")
    table.add_row("[bold]Final score[/bold]", "", "", f"[bold]{escape(_two_places(report['final_score']))}[/bold]", "")
    console.print(table)
    if report.get("final_score_reason"):
        console.print(f"Final score: {escape(str(report['final_score_reason']))}")
    for c, cat in report["categories"].items():
        if cat.get("reason"):
            console.print(f"{escape(CATEGORY_TITLES.get(c, str(c)))}: {escape(str(cat['reason']))}")
    for c, cat in report["categories"].items():
        if cat.get("measures"):
            columns, rows = detail_table(cat)
            detail = Table(title=escape(f"{CATEGORY_TITLES.get(c, c)} detail"), title_justify="left")
            for col in columns:
                detail.add_column(escape(col),
                                  justify="right" if col in ("Rate", "Complete", "Points", "Max points") else "left",
                                  no_wrap=col not in ("Why", "Reason"))
            for row in rows:
                detail.add_row(*cells(row))
            console.print(detail)
    console.print(f"Payment adjustment: {escape(_adjustment_text(report))}")
    console.print(f"[dim]Scored by the {escape(str(report['performance_year']))} rules, fingerprint "
                  f"{escape(str(report['rules_fingerprint']))}[/dim]")
