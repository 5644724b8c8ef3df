"""Which of one clinician's several scores sets the payment adjustment (the year's `attribute` rule)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mips_rules.dsl.errors import Diagnostic, InputError
from mips_rules.dsl.values import to_value
from mips_rules.engine.scoring.score import default_context, evaluate
from mips_rules.engine.years.loader import Year


def load_report(path: Path) -> dict[str, Any]:
    """A JSON report written by `rulesctl score --format json`."""
    from decimal import Decimal

    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(Diagnostic(f"{path}: not a readable JSON report ({exc})")) from None
    if not isinstance(report, dict) or "performance_year" not in report or "rules_fingerprint" not in report:
        raise InputError(Diagnostic(f"{path}: not a scoring report (no performance_year and rules_fingerprint)"))
    return report


def attribute(year: Year, reports: list[dict[str, Any]]) -> tuple[int, str]:
    """The index of the report that sets the payment adjustment, and why."""
    if not reports:
        raise InputError(Diagnostic("no reports to choose from"))
    years = {int(r["performance_year"]) for r in reports}
    if years != {year.performance_year}:
        raise InputError(Diagnostic(f"the reports are for {', '.join(map(str, sorted(years)))}; "
                                    f"they must all be for {year.performance_year}"))
    indexed = [to_value({**r, "index": i}) for i, r in enumerate(reports)]
    choice = evaluate(year, None, default_context()).call("attribute", (tuple(indexed),))
    return int(choice["index"]), choice["reason"]
