"""A scoring report as one self-contained HTML page: category bars, the counted and uncounted
measures, and the explanation tree as collapsible sections. No scripts, nothing fetched."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

from mips_rules.dsl.compiler import TraceEntry
from mips_rules.engine.workbench.diff_render import page
from mips_rules.engine.scoring.explain import _data_lines, _short, _unique, label
from mips_rules.engine.scoring import display
from mips_rules.engine.years.loader import Year
from mips_rules.engine.years.report_declaration import ReportLayout


def _cells(table: display.Table, bar_column: int | None) -> str:
    head = "".join(f"<th>{html.escape(col)}</th>" for col in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for i, v in enumerate(row):
            bar = ""
            if i == bar_column and v.endswith("%"):
                width = max(0.0, min(100.0, float(Decimal(v[:-1]))))
                bar = f"<span class=\"bar\" style=\"width:{width * 2:.0f}px\"></span> "
            cells.append(f"<td>{bar}{html.escape(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _categories(report: dict[str, Any], layout: ReportLayout) -> str:
    """The category table, the first percent column drawn as bars, and the notes under it."""
    table = display.category_table(report, layout)
    if table is None:
        return ""
    f = layout.each_field()
    shown = display.shown_fields(f) if f is not None else []
    bar = next((i + 1 for i, s in enumerate(shown) if s.show == "two_decimals_percent"), None)
    notes = "".join(f"<li>{html.escape(title)}: {html.escape(text)}</li>" for title, text in display.notes(report, layout))
    return _cells(table, bar) + (f"<ul class=\"muted\">{notes}</ul>" if notes else "")


def _details(report: dict[str, Any], layout: ReportLayout) -> str:
    return "".join(f"<h2>{html.escape(t.title)}</h2>{_cells(t, None)}" for t in display.details(report, layout))


def _tree(year: Year, entries: list[TraceEntry]) -> str:
    done: set[int] = set()

    def node(e: TraceEntry) -> str:
        text = html.escape(f"{label(e)} = {_short(e.value)}")
        if e.kind == "row":
            return f"<li>row {text}</li>"
        if id(e) in done:
            return f"<li>{text} <span class=\"muted\">(see above)</span></li>"
        done.add(id(e))
        d = year.definitions.get(e.name)
        notes = []
        if d is not None and d.source:
            notes.append(f"<div class=\"muted\">source: {html.escape(d.source)}</div>")
        notes += [f"<div class=\"muted\">data: {html.escape(line)}</div>" for line in _data_lines(year, e.name)]
        children = "".join(node(u) for u in _unique(e.uses))
        inner = "".join(notes) + (f"<ul>{children}</ul>" if children else "")
        return f"<li><details><summary><code>{text}</code></summary>{inner}</details></li>"

    return "<ul>" + "".join(node(e) for e in entries) + "</ul>"


def report_html(year: Year, report: dict[str, Any], explanation: list[TraceEntry] | None = None) -> str:
    e = html.escape
    layout = year.report_layout
    final = layout.field_at(layout.figures["final_score"])
    final_value = display.at(report, layout.figures["final_score"])
    title = f"MIPS {report['performance_year']} {(final.label or '').lower()} {display.show(final_value, final.show)}"
    summary = []
    for line in display.summary(report, layout):
        text = f"{e(line.label)}: {e(line.text)}"
        summary.append((f"<strong>{text}</strong>" if line.strong else text)
                       + (f" <span class=\"muted\">— {e(line.reason)}</span>" if line.reason else ""))
    body = [f"<h1>{e(title)}</h1>",
            f"<p>{' · '.join(e(part) for part in display.heading(report, layout))}</p>",
            _categories(report, layout),
            f"<p>{' · '.join(summary)}</p>",
            _details(report, layout),
            f"<p class=\"muted\">Scored by the {e(str(report['performance_year']))} rules, fingerprint "
            f"<code>{e(report['rules_fingerprint'])}</code></p>"]
    if explanation:
        body.append("<h2>How it was computed</h2>" + _tree(year, explanation))
    return page(title, "\n".join(body))
