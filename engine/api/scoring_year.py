"""A loaded year for Python callers: plain dicts in, plain JSON-serialisable data out.

The command line's JSON report is the exact one (decimals as written by the rules); `plain`
parses that same text with Python's json module, so a report here holds ints and floats that
`json.dumps` accepts — or, with `exact=True`, Decimals. Populations come back as rows with the
batch CSV's columns, as a list or as a pandas/polars DataFrame (optional: `pip install
mips-rules[frames]`).
"""

from __future__ import annotations

import functools
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator

from mips_rules.dsl.errors import Diagnostic, InputError


def plain(report: Any) -> Any:
    """A report (Decimals) as plain JSON data: numbers exactly as the JSON report writes them, read as
    int or float."""
    from mips_rules.engine.scoring.render import to_json

    return json.loads(to_json(report, indent=None))


def _exact(value: Any, path: str = "") -> Any:
    """Caller data → what the JSON readers produce: floats become the Decimal of their shortest text
    (0.1 → Decimal('0.1')), so a number typed in a notebook means what it says."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int, Decimal)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(Diagnostic(f"{path or 'value'}: {value} is not a number"))
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _exact(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_exact(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise InputError(Diagnostic(f"{path or 'value'}: {type(value).__name__} is not JSON data"))


class ScoringYear:
    """A year of rules, loaded, checked and compiled once; score as many submissions as you like."""

    def __init__(self, year: Any):
        self.year = year

    @property
    def performance_year(self) -> int:
        return int(self.year.performance_year)

    @functools.cached_property
    def columns(self) -> list[str]:
        """The population rows' columns: the batch CSV's, as the year's report.yaml names them."""
        from mips_rules.engine.populations.batch import csv_fields
        from mips_rules.engine.scoring.score import year_categories

        return csv_fields(self.year.report_layout, year_categories(self.year))

    @property
    def fingerprint(self) -> str:
        """What scored the reports: the year folder's files (every report carries it)."""
        return str(self.year.fingerprint)

    def _inputs(self, submission: dict[str, Any] | None, context: dict[str, Any] | None) -> tuple[Any, Any]:
        """The caller's submission and context, checked like a batch record's."""
        from mips_rules.engine.populations.batch import record_inputs

        record: dict[str, Any] = {"context": _exact(context) if context is not None else {}}
        if isinstance(submission, Path) or (isinstance(submission, str) and submission.lower().endswith(".xml")
                                            and not submission.lstrip().startswith("<")):
            from mips_rules.engine.inputs.qrda import read_qrda_file

            record["submission"] = read_qrda_file(submission).submission(self.year)  # a QRDA III file
        elif submission is not None:
            record["submission"] = _exact(submission)  # QPP JSON data, or QRDA III text (a str)
        return record_inputs(self.year, record)

    def score(self, submission: dict[str, Any] | None, context: dict[str, Any] | None = None, *,
              exact: bool = False) -> dict[str, Any]:
        """One QPP JSON submission (a dict, or None for a context-only score) — or a QRDA Category III
        document, as its text (a str starting with `<`) or a file path (a Path, or a str ending in .xml)
        — and its scoring context → the report, as `rulesctl score --format json` writes it. Bad input raises InputError
        naming the field path (`str(err)` or `err.render()`)."""
        from mips_rules.engine.scoring.score import score

        report = score(self.year, *self._inputs(submission, context)).report
        return report if exact else plain(report)

    def score_population(self, records: Iterable[dict[str, Any]], *, exact: bool = False) -> Iterator[dict[str, Any]]:
        """Records {id, submission, context} (as `rulesctl batch` reads them) → one row each with
        the batch CSV's columns (id, final score, each category's score and weight, the adjustment);
        a record that cannot be scored gives a row with its `error`, never an exception."""
        from mips_rules.engine.populations.batch import csv_row, score_record

        columns = self.columns
        for i, record in enumerate(records):
            try:
                data = _exact(record)
            except InputError as exc:
                result: dict[str, Any] = {"id": record.get("id") if isinstance(record, dict) else None,
                                          "line": i + 1, "error": exc.diagnostics[0].message}
            else:
                result = score_record(self.year, data, i + 1)
            row = csv_row(result, self.year.report_layout)
            row = {c: row.get(c) for c in columns}
            yield row if exact else plain(row)

    def frame(self, records: Iterable[dict[str, Any]], *, library: str = "pandas") -> Any:
        """`score_population` as a DataFrame (pandas or polars), one row per record."""
        rows = list(self.score_population(records))
        if library == "pandas":
            try:
                import pandas as pd
            except ImportError:
                raise ImportError("DataFrames need pandas: pip install 'mips-rules[frames]'") from None
            return pd.DataFrame(rows, columns=self.columns)
        if library == "polars":
            try:
                import polars as pl
            except ImportError:
                raise ImportError("DataFrames need polars: pip install polars") from None
            return pl.DataFrame(rows)
        raise ValueError(f"library must be pandas or polars, got {library!r}")

    def explain(self, submission: dict[str, Any] | None, context: dict[str, Any] | None = None,
                query: str = "final_score") -> str:
        """How a value was computed (a rule name or a report path), as `rulesctl score --explain`."""
        from mips_rules.engine.scoring.explain import as_text, find
        from mips_rules.engine.scoring.score import score

        scored = score(self.year, *self._inputs(submission, context), trace=True)
        found = find(scored.evaluation.trace, query, self.year)
        if not found:
            raise InputError(Diagnostic(f"nothing named `{query}` was computed for this submission"))
        return as_text(self.year, found)

    def __repr__(self) -> str:
        return f"<ScoringYear {self.performance_year} {self.fingerprint[:19]}…>"


def load_year(year: int | str | None = None, rules: str | Path | None = None) -> ScoringYear:
    """A year by number (the bundled rules, or those under `rules`), or a year folder by path."""
    from mips_rules.engine.years.loader import load_year as load

    if isinstance(year, Path) or (isinstance(year, str) and not year.isdigit()):
        return ScoringYear(load(None, Path(year)))
    return ScoringYear(load(year, Path(rules) if rules is not None else None))
