"""Final score → payment adjustment, drawn from the year's own rules as a plain SVG chart."""

from __future__ import annotations

import html
from decimal import Decimal

from mips_rules.engine.scoring.score import score
from mips_rules.engine.years.loader import Year

COLOURS = ("#3b6ea5", "#c0504d", "#4f9a3a", "#8064a2", "#d08a00")


def adjustment_curve(year: Year, step: Decimal = Decimal("0.25")) -> list[tuple[Decimal, Decimal]]:
    """(final score, adjustment %) for scores 0 … 100: every category scored at that score."""
    from mips_rules.engine.scoring.display import at
    from mips_rules.engine.scoring.score import scores_context

    figures = year.report_layout.figures
    points = []
    s = Decimal(0)
    while s <= 100:
        ctx = scores_context(year, s)
        report = score(year, None, ctx).report
        points.append((Decimal(at(report, figures["final_score"])), Decimal(at(report, figures["adjustment_percent"]))))
        s += step
    return points


def svg_chart(curves: list[tuple[str, list[tuple[Decimal, Decimal]]]], width: int = 720, height: int = 420) -> str:
    left, right, top, bottom = 60, 20, 30, 50
    lo = min([Decimal(-10)] + [p for _, c in curves for _, p in c])
    hi = max([Decimal(3)] + [p for _, c in curves for _, p in c])

    def x(score: Decimal) -> float:
        return left + float(score) / 100 * (width - left - right)

    def y(pct: Decimal) -> float:
        return top + float((hi - pct) / (hi - lo)) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             '<title>MIPS final score → payment adjustment</title>',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    for tick in range(0, 101, 10):
        parts.append(f'<line x1="{x(Decimal(tick)):.1f}" y1="{top}" x2="{x(Decimal(tick)):.1f}" '
                     f'y2="{height - bottom}" stroke="#eee"/>'
                     f'<text x="{x(Decimal(tick)):.1f}" y="{height - bottom + 16}" text-anchor="middle">{tick}</text>')
    pct = int(lo)
    while pct <= hi:
        parts.append(f'<line x1="{left}" y1="{y(Decimal(pct)):.1f}" x2="{width - right}" y2="{y(Decimal(pct)):.1f}" '
                     f'stroke="{"#999" if pct == 0 else "#eee"}"/>'
                     f'<text x="{left - 6}" y="{y(Decimal(pct)) + 4:.1f}" text-anchor="end">{pct}%</text>')
        pct += 1
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">final score</text>')
    parts.append(f'<text x="14" y="{(top + height - bottom) / 2}" transform="rotate(-90 14 {(top + height - bottom) / 2})" '
                 'text-anchor="middle">payment adjustment</text>')
    for i, (name, curve) in enumerate(curves):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{x(s):.1f},{y(p):.1f}" for s, p in curve)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts.append(f'<rect x="{left + 12}" y="{top + 8 + 18 * i}" width="14" height="4" fill="{colour}"/>'
                     f'<text x="{left + 32}" y="{top + 14 + 18 * i}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
