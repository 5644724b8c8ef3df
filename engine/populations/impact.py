"""What a rule change does to a population: every record scored under the base year and under the
reform, the movers, the groups they fall in, and the budget-neutral scaling factor of each side.

The engine knows no MIPS field: the final score, the adjustment and its direction, the groups to
break down by, the two sides of the budget and its weight are the figures the year's `report.yaml`
names (`figures:`); the scaling factor is the statute's arithmetic over them — positive adjustments
scaled so that their weighted total equals the negative ones', at most the year's cap.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from mips_rules.dsl.errors import RulesError
from mips_rules.engine.scoring.display import at
from mips_rules.engine.years.report_declaration import INPUT_ROOTS

HISTOGRAM_WIDTH = 10  # final-score bins of 10 points


@dataclass(slots=True)
class Outcome:
    """One record scored under one year."""

    id: Any
    error: str | None = None
    final_score: Decimal | None = None
    adjustment: Decimal | None = None
    direction: str | None = None
    negative: Decimal = Decimal(0)
    positive: Decimal = Decimal(0)
    weight: Decimal | None = None
    groups: dict[str, str] = field(default_factory=dict)


def _group_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@dataclass(frozen=True)
class StudyPlan:
    """What a study reads of each record under one year: the report paths of its figures and the
    definition behind each (None where a path is not one definition's value)."""

    figures: Any
    paths: tuple[str, ...]
    rules: tuple[str | None, ...]

    @classmethod
    def of(cls, year: Any) -> "StudyPlan":
        layout = year.report_layout
        figures = layout.figures
        # Only the figures a study reads are computed, not each record's whole report.
        paths = [figures[k] for k in ("final_score", "adjustment_percent", "adjustment_direction") if k in figures]
        paths += [p for p in figures.get("groups") or [] if p.split(".")[0] not in INPUT_ROOTS]
        return cls(figures, tuple(paths), tuple(layout.rule_at(p) for p in paths))


def score_outcome(year: Any, record: Any, line_no: int, plan: StudyPlan | None = None,
                  inputs: tuple[Any, dict[str, Any]] | None = None) -> Outcome:
    """A population record scored by `year`, with the figures impact needs; bad input is an outcome
    with its error, never an exception."""
    from mips_rules.dsl.values import to_plain
    from mips_rules.engine.populations.batch import record_inputs
    from mips_rules.engine.scoring.score import report_values

    plan = plan or StudyPlan.of(year)
    figures = plan.figures
    record_id = record.get("id") if isinstance(record, dict) else None
    try:
        if not isinstance(record, dict) or ("submission" not in record and "context" not in record):
            return Outcome(record_id, f"line {line_no}: a record needs `submission` and/or `context`")
        fast = plain_values(year, record, plan, inputs)
        if fast is not None:
            values, ev = fast
        else:
            sub, ctx = record_inputs(year, record, f"line {line_no}: ")
            values, ev = report_values(year, sub, ctx, list(plan.paths))
    except RulesError as exc:
        return Outcome(record_id, " | ".join(d.message for d in exc.diagnostics))
    inputs = ev.inputs
    out = Outcome(record_id, final_score=values[figures["final_score"]],
                  adjustment=values[figures["adjustment_percent"]],
                  direction=values[figures["adjustment_direction"]] if "adjustment_direction" in figures else None)
    try:
        with ev.session():
            if "budget_negative" in figures:
                out.negative = abs(Decimal(ev.value(figures["budget_negative"])))
            if "budget_positive" in figures:
                out.positive = Decimal(ev.value(figures["budget_positive"]))
    except RulesError as exc:
        return Outcome(record_id, " | ".join(d.message for d in exc.diagnostics))
    if "budget_weight" in figures:
        weight = at(inputs, figures["budget_weight"])
        out.weight = Decimal(weight) if isinstance(weight, (Decimal, int)) and not isinstance(weight, bool) else None
    for path in figures.get("groups") or []:
        out.groups[path] = _group_text(to_plain(at(inputs, path)) if path.split(".")[0] in inputs
                                       else values.get(path))
    return out


def plain_values(year: Any, record: dict[str, Any], plan: StudyPlan,
                 inputs: tuple[Any, dict[str, Any]] | None = None) -> tuple[dict[str, Any], Any] | None:
    """The figures of a plainly valid record, its inputs checked in plain Python
    (`scoring/plain_inputs.py`) and the figures read from their definitions: the values the usual
    way gives. None when that way does not apply (inputs to check the usual way, a figure that is
    not one definition's value): then the usual way says what is wrong."""
    from mips_rules.dsl.values import to_plain
    from mips_rules.engine.scoring.plain_inputs import evaluation, plain_inputs
    from mips_rules.engine.scoring.score import refuse_rejected

    if None in plan.rules:
        return None
    if inputs is None:
        inputs = plain_inputs(year, record)
        if inputs is None:
            return None
    ev = evaluation(year, *inputs)
    with ev.session():
        refuse_rejected(year, ev)
        return {p: to_plain(ev.value(r)) for p, r in zip(plan.paths, plan.rules)}, ev


def read_population(path: Path) -> list[tuple[int, Any]]:
    """(line number, record) of a JSONL population (as `rulesctl batch` reads it); a line that is not
    JSON is kept as its error."""
    from mips_rules.engine.cli.outputs import OutputError

    records = []
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    records.append((n, json.loads(line, parse_float=Decimal)))
                except (json.JSONDecodeError, ValueError, RecursionError) as exc:
                    records.append((n, {"__error__": f"line {n}: not JSON ({exc})"}))
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return records


def scaling_factor(year: Any, outcomes: list[Outcome]) -> dict[str, Any]:
    """The budget-neutral scaling factor over a population: Σ weight × negative adjustment divided by
    Σ weight × positive adjustment before scaling, capped; and the maximum positive adjustment it gives."""
    figures = year.report_layout.figures
    if "budget_negative" not in figures or "budget_positive" not in figures:
        return {"available": False, "why": "the year's report.yaml names no budget figures"}
    cap_path = figures.get("scaling_factor_cap", "")
    ns, _, name = cap_path.partition(".")
    cap_item = year.data.items.get(ns, {}).get(name)
    cap = cap_item.value if cap_item is not None else None
    scored = [o for o in outcomes if o.error is None]
    weighted = [o for o in scored if o.weight is not None]
    unweighted = not weighted
    pool = scored if unweighted else weighted
    negative = sum((o.negative * (Decimal(1) if unweighted else o.weight) for o in pool), Decimal(0))
    positive = sum((o.positive * (Decimal(1) if unweighted else o.weight) for o in pool), Decimal(0))
    result: dict[str, Any] = {"available": True, "records": len(pool),
                              "weighted_by": None if unweighted else figures.get("budget_weight"),
                              "without_weight": 0 if unweighted else len(scored) - len(weighted),
                              "negative_total": negative, "positive_total_unscaled": positive, "cap": cap}
    if positive == 0:
        result.update(raw=None, factor=None, cap_binds=False, max_positive_adjustment=None,
                      why="no positive adjustment in the population: nothing to scale")
        return result
    raw = negative / positive
    factor = min(raw, cap) if isinstance(cap, Decimal) else raw
    best = _max_unscaled(year)
    result.update(raw=raw, factor=factor, cap_binds=isinstance(cap, Decimal) and raw > cap,
                  max_positive_adjustment=best * factor if best is not None else None)
    return result


def _max_unscaled(year: Any) -> Decimal | None:
    """The positive adjustment before scaling at the best final score (every category scored 100)."""
    from mips_rules.engine.scoring.score import score, scores_context

    if "category_scores_input" not in year.report_layout.figures:
        return None
    ctx = scores_context(year, 100)
    return Decimal(score(year, None, ctx, detail=False).evaluation.value(year.report_layout.figures["budget_positive"]))


def record_row(line: int, b: Outcome, a: Outcome) -> dict[str, Any]:
    """One record before and after, flat (a CSV or Parquet row)."""
    return {"id": b.id if b.id is not None else a.id, "line": line, "error": b.error or a.error,
            "final_score_before": b.final_score, "final_score_after": a.final_score,
            "adjustment_before": b.adjustment, "adjustment_after": a.adjustment,
            "direction_before": b.direction, "direction_after": a.direction,
            "weight": b.weight if b.weight is not None else a.weight, **(a.groups or b.groups)}


def write_rows(rows: list[dict[str, Any]], path: Path, inputs: list[Path]) -> None:
    """The records table, whole or not at all: Parquet for a .parquet name, else CSV."""
    import csv

    from mips_rules.engine.cli.outputs import OutputError, atomic_file
    from mips_rules.engine.scoring.display import format_number

    columns = list(dict.fromkeys(k for r in rows for k in r)) or ["id", "line", "error"]
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise OutputError("--records *.parquet needs pyarrow: pip install 'mips-rules[frames]'") from None

        def cell(v: Any) -> Any:
            return float(v) if isinstance(v, Decimal) else v
        table = pa.table({c: [cell(r.get(c)) for r in rows] for c in columns})
        with atomic_file(path, inputs=inputs, binary=True) as out:
            pq.write_table(table, out)
        return
    with atomic_file(path, inputs=inputs, newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: format_number(v) if isinstance(v, Decimal) else v for k, v in r.items()})


def _side(outcomes: list[Outcome]) -> dict[str, Any]:
    scored = [o for o in outcomes if o.error is None and o.final_score is not None]
    finals = [Decimal(o.final_score) for o in scored]
    adjustments = [Decimal(o.adjustment) for o in scored if o.adjustment is not None]
    directions: dict[str, int] = {}
    for o in scored:
        directions[str(o.direction)] = directions.get(str(o.direction), 0) + 1
    bins = {f"{b}-{b + HISTOGRAM_WIDTH}": 0 for b in range(0, 100, HISTOGRAM_WIDTH)}
    for f in finals:
        b = min(int(f // HISTOGRAM_WIDTH) * HISTOGRAM_WIDTH, 100 - HISTOGRAM_WIDTH)
        bins[f"{b}-{b + HISTOGRAM_WIDTH}"] += 1
    return {"scored": len(scored),
            "mean_final_score": _mean(finals), "median_final_score": statistics.median(finals) if finals else None,
            "mean_adjustment": _mean(adjustments), "directions": dict(sorted(directions.items())),
            "final_scores": bins}


def _sign(o: Outcome) -> int:
    """The adjustment's sign (a penalty is below 0): what "turned negative" means, whatever the year calls it."""
    a = Decimal(o.adjustment) if o.adjustment is not None else Decimal(0)
    return (a > 0) - (a < 0)


def _mean(values: list[Decimal]) -> Decimal | None:
    return (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.01")) if values else None


PARALLEL_FROM = 2000  # records: fewer are scored in this process (starting workers costs more)
CHUNK = 500

_SIDES: dict[str, Any] = {}  # both years and their plans for the worker processes, which fork with them loaded


def _pair(sides: tuple[Any, StudyPlan, Any, StudyPlan, bool], n: int, record: Any) -> tuple[Outcome, Outcome]:
    """A record under both years; its plain inputs made once when both years check them alike."""
    from mips_rules.engine.scoring.plain_inputs import plain_inputs, reusable

    if isinstance(record, dict) and "__error__" in record:
        return Outcome(None, record["__error__"]), Outcome(None, record["__error__"])
    base, base_plan, reform, reform_plan, alike = sides
    if alike and isinstance(record, dict) and None not in base_plan.rules and None not in reform_plan.rules:
        inputs = plain_inputs(base, record)
        if inputs is not None and reusable(reform, inputs, record):
            return (score_outcome(base, record, n, base_plan, inputs),
                    score_outcome(reform, record, n, reform_plan, inputs))
    return score_outcome(base, record, n, base_plan), score_outcome(reform, record, n, reform_plan)


def _checks_alike(base: Any, reform: Any) -> bool:
    a, b = getattr(base, "context_schema", None), getattr(reform, "context_schema", None)
    return a is not None and b is not None and hasattr(a, "checks_alike") and a.checks_alike(b)


def _pairs_chunk(chunk: list[tuple[int, Any]]) -> list[tuple[Outcome, Outcome]]:
    sides = _SIDES["sides"]
    return [_pair(sides, n, record) for n, record in chunk]


def score_pairs(base: Any, reform: Any, records: list[tuple[int, Any]],
                workers: int | None = None) -> list[tuple[Outcome, Outcome]]:
    """Each record scored under both years, in order: in worker processes (one per core, forked
    with both years loaded) when the population is large and the platform forks, else here."""
    import os

    n = workers or os.cpu_count() or 1
    sides = (base, StudyPlan.of(base), reform, StudyPlan.of(reform), _checks_alike(base, reform))
    if n == 1 or len(records) < PARALLEL_FROM or not hasattr(os, "fork"):
        return [_pair(sides, line, record) for line, record in records]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from mips_rules.engine.populations.batch import _in_order, _stop

    _SIDES["sides"] = sides
    chunks = (records[i:i + CHUNK] for i in range(0, len(records), CHUNK))
    pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork"))
    out: list[tuple[Outcome, Outcome]] = []
    try:
        for part in _in_order(pool, _pairs_chunk, chunks, 4 * n):
            out.extend(part)
    except BaseException:
        _stop(pool)
        raise
    finally:
        _SIDES.clear()
    pool.shutdown()
    return out


def compare(base: Any, reform: Any, records: list[tuple[int, Any]], reform_label: str,
            rows: list[dict[str, Any]] | None = None, workers: int | None = None) -> dict[str, Any]:
    """The impact study: both sides, the movers, the groups and the scaling factors. With `rows`,
    each record's own before and after are appended to it (`--records`)."""
    scored = score_pairs(base, reform, records, workers)
    before = [b for b, _ in scored]
    after = [a for _, a in scored]
    del scored
    if rows is not None:
        rows.extend(record_row(n, b, a) for (n, _), b, a in zip(records, before, after))
    pairs = [(b, a) for b, a in zip(before, after) if b.error is None and a.error is None]
    transitions: dict[str, int] = {}
    up = down = 0
    changes = []
    for b, a in pairs:
        if a.final_score != b.final_score:
            changes.append(Decimal(a.final_score) - Decimal(b.final_score))
            up += a.final_score > b.final_score
            down += a.final_score < b.final_score
        if a.direction != b.direction:
            key = f"{b.direction} → {a.direction}"
            transitions[key] = transitions.get(key, 0) + 1
    groups: dict[str, dict[str, Any]] = {}
    for b, a in pairs:
        for path, value in a.groups.items():
            g = groups.setdefault(path, {}).setdefault(value, {"records": 0, "negative_before": 0,
                                                               "negative_after": 0, "turned_negative": 0,
                                                               "turned_positive": 0, "_before": [], "_after": []})
            neg_b, neg_a = _sign(b) < 0, _sign(a) < 0
            g["records"] += 1
            g["negative_before"] += neg_b
            g["negative_after"] += neg_a
            g["turned_negative"] += not neg_b and neg_a
            g["turned_positive"] += _sign(b) <= 0 and _sign(a) > 0
            g["_before"].append(Decimal(b.final_score))
            g["_after"].append(Decimal(a.final_score))
    for by_value in groups.values():
        for g in by_value.values():
            g["mean_final_score_before"] = _mean(g.pop("_before"))
            g["mean_final_score_after"] = _mean(g.pop("_after"))
    errors = sorted({o.error for o in before + after if o.error is not None})
    turned_negative = sum(1 for b, a in pairs if _sign(b) >= 0 and _sign(a) < 0)
    turned_positive = sum(1 for b, a in pairs if _sign(b) <= 0 and _sign(a) > 0)
    return {
        "base": {"year": base.performance_year, "rules_fingerprint": base.fingerprint},
        "reform": {"label": reform_label, "year": reform.performance_year, "rules_fingerprint": reform.fingerprint},
        "population": {"records": len(records), "scored_both": len(pairs),
                       "not_scored": len(records) - len(pairs), "errors": errors[:20]},
        "before": _side(before),
        "after": _side(after),
        "movers": {"final_score_changed": len(changes), "up": up, "down": down,
                   "turned_negative": turned_negative, "turned_positive": turned_positive,
                   "mean_change": _mean(changes), "direction_changes": dict(sorted(transitions.items()))},
        "scaling_factor": {"before": scaling_factor(base, before), "after": scaling_factor(reform, after)},
        "groups": {path: dict(sorted(v.items())) for path, v in groups.items()},
    }
