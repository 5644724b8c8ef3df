"""Show a `YearDiff`: a terminal table, Markdown, JSON or one self-contained HTML page."""

from __future__ import annotations

import html
from itertools import groupby
from typing import Any

from mips_rules.engine.workbench.diff import Change, YearDiff, row_path, value_text
from mips_rules.engine.scoring.render import to_json


def _old_new(c: Change) -> tuple[str, str]:
    if c.text_diff is not None:
        return "(formula)", "(formula)"
    return ("" if c.kind == "added" else value_text(c.old)), ("" if c.kind == "removed" else value_text(c.new))


def _source(c: Change) -> str:
    if c.old_source and c.new_source and c.old_source != c.new_source:
        return f"{c.old_source} → {c.new_source}"
    return c.new_source or c.old_source or ""


def _grouped(d: YearDiff) -> list[tuple[str, list[Change]]]:
    ordered = sorted(d.changes, key=lambda c: c.group)
    return [(g, list(cs)) for g, cs in groupby(ordered, key=lambda c: c.group)]


FEW = 5  # keys listed per kind of row change before `--only` is needed to see them all


def _keys(keys: list[str], narrowed: bool, table: str) -> str:
    if narrowed or len(keys) <= FEW:
        return ", ".join(keys)
    return f"{', '.join(keys[:FEW])} … ({len(keys) - FEW} more: --only {table})"


def _reference_lines(d: YearDiff) -> list[str]:
    """One line per reference table: rows added, removed and changed, with counts, the first few keys
    (every key under `--only`, where the changed rows follow field by field) and the fields that changed."""
    lines = []
    narrowed = d.narrowed is not None
    for r in d.reference:
        bits = [f"{r['old_rows']} → {r['new_rows']} rows"]
        if r["added"]:
            bits.append(f"added {len(r['added'])}: {_keys(r['added'], narrowed, r['table'])}")
        if r["removed"]:
            bits.append(f"removed {len(r['removed'])}: {_keys(r['removed'], narrowed, r['table'])}")
        if r["changed"]:
            fields: dict[str, int] = {}
            for c in r["changed"]:
                for name in dict.fromkeys(f["field"].split(".")[0] for f in c["fields"]):
                    fields[name] = fields.get(name, 0) + 1
            tally = ", ".join(f"{name} {n}" for name, n in sorted(fields.items(), key=lambda kv: (-kv[1], kv[0])))
            keys = "" if narrowed else ": " + _keys([c["key"] for c in r["changed"]], False, r["table"])
            bits.append(f"changed {len(r['changed'])}{keys} (fields: {tally})")
        if not (r["added"] or r["removed"] or r["changed"]):
            bits.append("no differences")
        lines.append(f"{r['table']}: " + "; ".join(bits))
    return lines


def _changed_rows(d: YearDiff) -> list[tuple[str, str, str, str]]:
    """Under `--only`: (row path, field, old, new) for every changed field of every changed row."""
    if d.narrowed is None:
        return []
    return [(row_path(r["table"], c["key"]), f["field"], value_text(f["old"]), value_text(f["new"]))
            for r in d.reference for c in r["changed"] for f in c["fields"]]


def to_markdown(d: YearDiff) -> str:
    out = [f"# Rules {d.old_label} → {d.new_label}", ""]
    if d.same:
        return "\n".join(out + ["No differences.", ""])
    for group, changes in _grouped(d):
        out += [f"## {group}", "", "| rule path | change | " + d.old_label + " | " + d.new_label + " | source |",
                "|---|---|---|---|---|"]
        formulas = []
        for c in changes:
            old, new = _old_new(c)
            out.append(f"| `{c.path}` | {c.kind} | {old} | {new} | {_source(c)} |".replace("\n", " "))
            if c.text_diff:
                formulas.append(c)
        for c in formulas:
            out += ["", f"`{c.path}`:", "", "```diff", c.text_diff or "", "```"]
        out.append("")
    if d.reference:
        out += ["## Reference data", ""] + [f"- {line}" for line in _reference_lines(d)] + [""]
        rows = _changed_rows(d)
        if rows:
            out += ["### Changed rows", "", f"| row | field | {d.old_label} | {d.new_label} |", "|---|---|---|---|"]
            out += [f"| `{r}` | {f} | {o} | {n} |" for r, f, o, n in rows] + [""]
    return "\n".join(out)


def to_json_text(d: YearDiff) -> str:
    return to_json(d.as_dict())


def print_table(d: YearDiff, console: Any) -> None:
    """The diff on the terminal (rich); rule paths, values, sources and labels are never read as markup."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    old_label, new_label = escape(str(d.old_label)), escape(str(d.new_label))
    if d.same:
        console.print(f"Rules {old_label} and {new_label}: no differences.")
        return
    for group, changes in _grouped(d):
        table = Table(title=f"{escape(str(group))}: {old_label} → {new_label}", title_justify="left",
                      show_lines=False)
        for col in ("rule path", "change", old_label, new_label, "source"):
            table.add_column(col, overflow="fold")
        for c in changes:
            old, new = _old_new(c)
            table.add_row(*(Text(str(v)) for v in (c.path, c.kind, old, new, _source(c))))
        console.print(table)
        for c in changes:
            if c.text_diff:
                console.print(f"[bold]{escape(str(c.path))}[/bold]")
                console.print(c.text_diff, markup=False, highlight=False)
    if d.reference:
        console.print("[bold]Reference data[/bold]")
        for line in _reference_lines(d):
            console.print(f"  {line}", markup=False)
        rows = _changed_rows(d)
        if rows:
            table = Table(title=f"reference rows changed: {old_label} → {new_label}", title_justify="left")
            for col in ("row", "field", old_label, new_label):
                table.add_column(col, overflow="fold")
            for row in rows:
                table.add_row(*(Text(str(v)) for v in row))
            console.print(table)


PAGE_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b;max-width:1200px}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}th,td{border:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top;font-size:.9rem}th{background:#f3f3f3}
.added{color:#0a6b0a}.removed{color:#a61b1b}.changed{color:#7a4d00}code,pre{font-family:ui-monospace,monospace}
pre{background:#f7f7f7;padding:.5rem;overflow:auto}details{margin:.3rem 0}summary{cursor:pointer}
.bar{display:inline-block;height:.8rem;background:#3b6ea5;vertical-align:middle}.muted{color:#666}
"""


def page(title: str, body: str) -> str:
    """One self-contained HTML page: inline style, no scripts, nothing fetched."""
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{PAGE_STYLE}</style></head><body>\n{body}\n</body></html>\n")


def to_html(d: YearDiff) -> str:
    e = html.escape
    parts = [f"<h1>Rules {e(d.old_label)} → {e(d.new_label)}</h1>"]
    if d.same:
        parts.append("<p>No differences.</p>")
    for group, changes in _grouped(d):
        rows = []
        for c in changes:
            old, new = _old_new(c)
            rows.append(f"<tr><td><code>{e(c.path)}</code></td><td class=\"{c.kind}\">{c.kind}</td>"
                        f"<td>{e(old)}</td><td>{e(new)}</td><td class=\"muted\">{e(_source(c))}</td></tr>")
            if c.text_diff:
                rows.append(f"<tr><td colspan=\"5\"><details><summary>formula</summary><pre>{e(c.text_diff)}</pre>"
                            "</details></td></tr>")
        parts.append(f"<h2>{e(group)}</h2><table><tr><th>rule path</th><th>change</th><th>{e(d.old_label)}</th>"
                     f"<th>{e(d.new_label)}</th><th>source</th></tr>{''.join(rows)}</table>")
    if d.reference:
        parts.append("<h2>Reference data</h2><ul>" + "".join(f"<li>{e(line)}</li>" for line in _reference_lines(d))
                     + "</ul>")
        rows = _changed_rows(d)
        if rows:
            parts.append(f"<h3>Changed rows</h3><table><tr><th>row</th><th>field</th>"
                         f"<th>{e(d.old_label)}</th><th>{e(d.new_label)}</th></tr>"
                         + "".join(f"<tr><td><code>{e(r)}</code></td><td>{e(f)}</td>"
                                   f"<td class=\"removed\">{e(o)}</td><td class=\"added\">{e(n)}</td></tr>"
                                   for r, f, o, n in rows) + "</table>")
    return page(f"Rules {d.old_label} → {d.new_label}", "\n".join(parts))
