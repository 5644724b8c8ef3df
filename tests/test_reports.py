"""Full scoring reports of the bundled examples, as snapshots (read the diff before accepting one)."""

from __future__ import annotations

import pytest

from mips_rules.engine.inputs.context import load_context
from mips_rules.engine.scoring.render import to_json, to_markdown
from mips_rules.engine.scoring.score import score
from mips_rules.engine.inputs.submission import load_submission
from mips_rules.engine.years.loader import load_year

from conftest import EXAMPLES, RULES, masked

CASES = [
    ("2023-individual.json", "2023-context.yaml"),
    ("2024-individual.json", "2024-context.yaml"),
    ("2024-small-practice.json", "2024-small-practice.yaml"),
    ("2023-group-quality.json", "2023-group-context.yaml"),
    ("2024-group-quality.json", "2024-group-context.yaml"),
    ("2023-full.json", "2023-full-context.yaml"),
    ("2024-full.json", "2024-full-context.yaml"),
    ("2025-full.json", "2025-full-context.yaml"),
    ("2026-full.json", "2026-full-context.yaml"),
]


@pytest.mark.parametrize("submission, context", CASES, ids=[f"{s}+{c}" for s, c in CASES])
def test_example_report(submission, context, snapshot):
    sub = load_submission(EXAMPLES / submission)
    ctx = load_context(EXAMPLES / context)
    year = load_year(sub.performanceYear, RULES)
    report = score(year, sub, ctx).report
    assert masked(to_json(report)) == snapshot(name="json")
    assert masked(to_markdown(report, year.report_layout)) == snapshot(name="markdown")


def test_json_numbers_are_exact_json():
    import json
    from decimal import Decimal

    text = to_json({"a": Decimal("82.35"), "b": Decimal("30"), "c": None, "d": [Decimal("0.10")], "e": "x"})
    assert json.loads(text, parse_float=Decimal) == {"a": Decimal("82.35"), "b": 30, "c": None,
                                                     "d": [Decimal("0.1")], "e": "x"}


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_later_full_examples(year):
    """2025 and 2026: two activities are the whole IA category (40 of 40, no weights); the complete PI
    set earns 9 + 10 + 30 + 19 + 25 = 93; the final score is 30/30/15/25 of the category scores."""
    from decimal import ROUND_HALF_UP, Decimal as D

    loaded = load_year(year, RULES)
    report = score(loaded, load_submission(EXAMPLES / f"{year}-full.json"),
                   load_context(EXAMPLES / f"{year}-full-context.yaml")).report
    cats = report["categories"]
    assert cats["ia"]["score"] == 100 and cats["pi"]["score"] == 93
    assert report["payment_adjustment"]["payment_year"] == year + 2
    total = cats["quality"]["score"] * D("0.3") + cats["cost"]["score"] * D("0.3") + D(15) + D("23.25")
    assert report["final_score"] == total.quantize(D("0.01"), rounding=ROUND_HALF_UP)
