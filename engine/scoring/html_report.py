"""A scoring report as one self-contained HTML page: category bars, the counted and uncounted
measures, and the explanation tree as collapsible sections. No scripts, nothing fetched."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

from mips_rules.dsl.compiler import TraceEntry
from mips_rules.engine.workbench.diff_render import page
from mips_rules.engine.scoring.explain import _data_lines, _short, _unique, label
from mips_rules.engine.scoring.render import _cell, extra_fields, CATEGORY_TITLES, _adjustment_text, _two_places, detail_table
from mips_rules.engine.years.loader import Year


def _bars(report: dict[str, Any]) -> str:
    rows = []
    for c, cat in report["categories"].items():
        score = cat["score"]
        width = 0 if score is None else float(min(Decimal(100), Decimal(score)))
        shown = "not scored" if score is None else f"{_two_places(score)}%"
        rows.append(f"<tr><td>{html.escape(CATEGORY_TITLES.get(c, c))}</td>"
                    f"<td><span class=\"bar\" style=\"width:{width * 2:.0f}px\"></span> {shown}</td>"
                    f"<td>{_two_places(cat['weight'])}%</td><td>{_two_places(cat['points'])}</td>"
                    f"<td class=\"muted\">{html.escape(cat.get('reason') or '')}</td></tr>")
    return ("<table><tr><th>category</th><th>score</th><th>weight</th><th>points</th><th>why</th></tr>"
            + "".join(rows) + "</table>")


def _details(report: dict[str, Any]) -> str:
    parts = []
    for c, cat in report["categories"].items():
        if not cat.get("measures"):
            continue
        columns, rows = detail_table(cat)
        head = "".join(f"<th>{html.escape(col)}</th>" for col in columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in rows)
        parts.append(f"<h2>{html.escape(CATEGORY_TITLES.get(c, c))}</h2><table><tr>{head}</tr>{body}</table>")
    return "".join(parts)


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
    title = f"MIPS {report['performance_year']} final score {_two_places(report['final_score'])}"
    body = [f"<h1>{e(title)}</h1>",
            f"<p>{e(report['reporting_option'])} · {e(report['entity']['type'])} · eligibility "
            f"{e(report['eligibility'])}" + (" · facility-based scoring" if report.get("scoring_basis") == "facility"
                                             else "") + "</p>",
            _bars(report),
            f"<p>Complex patient bonus: {_two_places(report['complex_patient_bonus'])} · "
            + "".join(f"{e(label)}: {e(_cell(report[name]))} · " for name, label in extra_fields(report)) +
            f"<strong>Final score: {_two_places(report['final_score'])} / 100</strong> · "
            + (f"<span class=\"muted\">{e(report['final_score_reason'])}</span> · "
               if report.get("final_score_reason") else "") +
            f"Payment adjustment: {e(_adjustment_text(report))}</p>",
            _details(report),
            f"<p class=\"muted\">Scored by the {e(str(report['performance_year']))} rules, fingerprint "
            f"<code>{e(report['rules_fingerprint'])}</code></p>"]
    if explanation:
        body.append("<h2>How it was computed</h2>" + _tree(year, explanation))
    return page(title, "\n".join(body))
