"""An impact study as text: a plain-text summary first (what an analyst quotes), then tables —
as Markdown, or on the terminal (rich). JSON is the study itself (engine/scoring/render.to_json)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mips_rules.engine.scoring.display import show


def summary(study: dict[str, Any]) -> list[str]:
    """The study in sentences."""
    pop, b, a, m = study["population"], study["before"], study["after"], study["movers"]
    lines = [f"{study['reform']['label']} against the {study['base']['year']} rules: {pop['scored_both']} of "
             f"{pop['records']} records scored under both.",
             f"Mean final score {show(b['mean_final_score'])} → {show(a['mean_final_score'])}; mean adjustment "
             f"{show(b['mean_adjustment'])}% → {show(a['mean_adjustment'])}%.",
             f"{m['final_score_changed']} final scores changed ({m['up']} up, {m['down']} down); "
             f"{m['turned_negative']} turned negative, {m['turned_positive']} turned positive."]
    for side in ("before", "after"):
        sf = study["scaling_factor"][side]
        if not sf.get("available"):
            continue
        if sf.get("factor") is None:
            lines.append(f"Scaling factor {side}: {sf.get('why')}.")
            continue
        weight = f"weighted by {sf['weighted_by']}" if sf["weighted_by"] else "unweighted (no weights in the population)"
        cap = f" — the cap of {show(sf['cap'])} binds (budget neutral would be {show(_round(sf['raw']))})" \
            if sf["cap_binds"] else ""
        lines.append(f"Scaling factor {side}: {show(_round(sf['factor']))}, maximum positive adjustment "
                     f"{show(_round(sf['max_positive_adjustment']))}% ({weight}{cap}).")
    return lines


def _round(value: Any, places: str = "0.0001") -> Any:
    return Decimal(value).quantize(Decimal(places)) if value is not None else None


def tables(study: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, columns, rows) of each table."""
    b, a = study["before"], study["after"]
    out = []
    directions = sorted(set(b["directions"]) | set(a["directions"]))
    out.append(("Adjustment direction", ["direction", "before", "after"],
                [[d, show(b["directions"].get(d, 0)), show(a["directions"].get(d, 0))] for d in directions]))
    out.append(("Final scores", ["final score", "before", "after"],
                [[k, show(v), show(a["final_scores"][k])] for k, v in b["final_scores"].items()]))
    if study["movers"]["direction_changes"]:
        out.append(("Movers", ["change", "records"],
                    [[k, show(v)] for k, v in study["movers"]["direction_changes"].items()]))
    for path, by_value in study["groups"].items():
        out.append((f"By {path}", ["value", "records", "mean before", "mean after", "negative before",
                                   "negative after", "turned negative", "turned positive"],
                    [[value, show(g["records"]), show(g["mean_final_score_before"]), show(g["mean_final_score_after"]),
                      show(g["negative_before"]), show(g["negative_after"]), show(g["turned_negative"]),
                      show(g["turned_positive"])] for value, g in by_value.items()]))
    return out


def to_markdown(study: dict[str, Any]) -> str:
    lines = [f"# Impact: {study['reform']['label']}", "", *summary(study), ""]
    for title, columns, rows in tables(study):
        lines += [f"## {title}", "", "| " + " | ".join(columns) + " |",
                  "|---|" + "---:|" * (len(columns) - 1), *("| " + " | ".join(r) + " |" for r in rows), ""]
    lines.append(f"Base rules `{study['base']['rules_fingerprint']}`, reform `{study['reform']['rules_fingerprint']}`.")
    return "\n".join(lines) + "\n"


def print_study(study: dict[str, Any], console: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    for line in summary(study):
        console.print(Text(line))
    for title, columns, rows in tables(study):
        table = Table(title=Text(title), title_justify="left")
        for i, c in enumerate(columns):
            table.add_column(Text(c), justify="left" if i == 0 else "right")
        for r in rows:
            table.add_row(*(Text(v) for v in r))
        console.print(table)


def _bars_svg(title: str, labels: list[str], before: list[int], after: list[int], width: int = 720,
              height: int = 300) -> str:
    """Paired bars (before, after) per label, as a plain SVG (no scripts, nothing fetched)."""
    import html

    left, bottom, top = 50, 40, 30
    top_value = max([1, *before, *after])
    slot = (width - left - 10) / max(1, len(labels))
    bar = slot * 0.38
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="11" role="img" aria-label="{html.escape(title)}">',
             f'<text x="{left}" y="16" font-size="13">{html.escape(title)}</text>']
    plot_h = height - top - bottom
    for i, label in enumerate(labels):
        x0 = left + i * slot + slot * 0.1
        for j, (value, colour) in enumerate(((before[i], "#9aa5b1"), (after[i], "#3b6ea5"))):
            h = plot_h * value / top_value
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{html.escape(label)}: {value}</title></rect>')
        parts.append(f'<text x="{x0 + bar:.1f}" y="{height - bottom + 14}" text-anchor="middle">{html.escape(label)}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#333"/>')
    parts.append(f'<text x="{left}" y="{height - 6}" fill="#9aa5b1">■ before</text>'
                 f'<text x="{left + 70}" y="{height - 6}" fill="#3b6ea5">■ after</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(study: dict[str, Any]) -> str:
    """The study as one self-contained page: the summary, two charts (final scores, directions), the tables."""
    import html

    from mips_rules.engine.workbench.diff_render import page

    e = html.escape
    b, a = study["before"], study["after"]
    bins = list(b["final_scores"])
    directions = sorted(set(b["directions"]) | set(a["directions"]))
    body = [f"<h1>Impact: {e(study['reform']['label'])}</h1>",
            "<p>" + "<br>".join(e(line) for line in summary(study)) + "</p>",
            _bars_svg("Final scores (records per 10 points)", bins, [b["final_scores"][k] for k in bins],
                      [a["final_scores"][k] for k in bins]),
            _bars_svg("Adjustment direction (records)", directions, [b["directions"].get(d, 0) for d in directions],
                      [a["directions"].get(d, 0) for d in directions])]
    for title, columns, rows in tables(study):
        head = "".join(f"<th>{e(c)}</th>" for c in columns)
        cells = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in r) + "</tr>" for r in rows)
        body.append(f"<h2>{e(title)}</h2><table><tr>{head}</tr>{cells}</table>")
    body.append(f"<p class=\"muted\">Base rules <code>{e(study['base']['rules_fingerprint'])}</code>, reform "
                f"<code>{e(study['reform']['rules_fingerprint'])}</code></p>")
    return page(f"Impact: {study['reform']['label']}", "\n".join(body))
