"""What a rule change does to a population: every record scored under the base year and under the
reform, the movers, the groups they fall in, and the budget-neutral scaling factor of each side.

The engine knows no MIPS field: the final score, the adjustment and its direction, the groups to
break down by, the two sides of the budget and its weight are the figures the year's `report.yaml`
names (`figures:`); the scaling factor is the statute's arithmetic over them — positive adjustments
scaled so that their weighted total equals the negative ones', at most the year's cap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from mips_rules.dsl.errors import RulesError
from mips_rules.dsl.values import to_plain, to_value
from mips_rules.engine.populations.replay import Unplain, form
from mips_rules.engine.populations.tally import STUDY, Budget, Tally, number
from mips_rules.engine.scoring.display import at
from mips_rules.engine.years.report_declaration import INPUT_ROOTS

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
    budget: tuple[str, ...] = ()  # the definitions of the budget's two sides, as the figures name them
    groups: tuple[tuple[str, tuple[str, ...] | None], ...] = ()  # each breakdown: the input path read, or None for a figure
    cache: dict[str, Any] = field(default_factory=dict, compare=False)  # made on first use: replayer, reads, layout

    @classmethod
    def of(cls, year: Any) -> "StudyPlan":
        layout = year.report_layout
        figures = layout.figures
        # Only the figures a study reads are computed, not each record's whole report.
        paths = [figures[k] for k in ("final_score", "adjustment_percent", "adjustment_direction") if k in figures]
        paths += [p for p in figures.get("groups") or [] if p.split(".")[0] not in INPUT_ROOTS]
        budget = tuple(figures[k] for k in ("budget_negative", "budget_positive") if k in figures)
        groups = tuple((p, tuple(p.split(".")) if p.split(".")[0] in INPUT_ROOTS else None)
                       for p in figures.get("groups") or [])
        return cls(figures, tuple(paths), tuple(layout.rule_at(p) for p in paths), budget, groups)

    @property
    def reads(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The input paths a study reads of each record (its budget weight, its input groups)."""
        found = self.cache.get("reads")
        if found is None:
            weight = self.figures.get("budget_weight")
            listed = [(weight, tuple(weight.split(".")))] if weight else []
            found = self.cache["reads"] = tuple(
                listed + [(p, parts) for p, parts in self.groups if parts is not None and p != weight])
        return found

    def replayer(self, year: Any) -> Any:
        """The year's recorded evaluations of a record without a submission: from its context as
        read to its figures, the budget's values and the inputs read (`populations/replay.py`)."""
        found = self.cache.get("replayer")
        if found is None:
            from mips_rules.dsl.compiler import RULE_DECIMAL_CONTEXT
            from mips_rules.engine.populations.replay import Replayer
            from mips_rules.engine.scoring.plain_inputs import plain_inputs

            def evaluate(context: Any) -> tuple[Any, ...]:
                inputs = plain_inputs(year, {"context": context})
                if inputs is None:
                    raise Unplain
                return _values_of(year, self, inputs)
            found = self.cache["replayer"] = Replayer(evaluate, RULE_DECIMAL_CONTEXT)
        return found


def score_outcome(year: Any, record: Any, line_no: int, plan: StudyPlan | None = None,
                  inputs: tuple[Any, dict[str, Any]] | None = None, found: Any = None) -> Outcome:
    """A population record scored by `year`, with the figures impact needs; bad input is an outcome
    with its error, never an exception. `inputs`: its plain inputs, `found`: its context's form
    (`replay.form`), when the other side of a study made them already."""
    plan = plan or StudyPlan.of(year)
    record_id = record.get("id") if isinstance(record, dict) else None
    try:
        if not isinstance(record, dict) or ("submission" not in record and "context" not in record):
            return Outcome(record_id, f"line {line_no}: a record needs `submission` and/or `context`")
        raw = plain_values(year, record, plan, inputs, found)
        if raw is None:
            from mips_rules.engine.populations.batch import record_inputs
            from mips_rules.engine.scoring.score import report_values

            sub, ctx = record_inputs(year, record, f"line {line_no}: ")
            values, ev = report_values(year, sub, ctx, list(plan.paths))
            with ev.session():
                raw = (*[values[p] for p in plan.paths], *[ev.value(name) for name in plan.budget],
                       *[at(ev.inputs, p) for p, _ in plan.reads])
    except RulesError as exc:
        return Outcome(record_id, " | ".join(d.message for d in exc.diagnostics))
    return _outcome(plan, record_id, raw)


@dataclass(frozen=True)
class _Layout:
    """Where an outcome's parts are in a record's values (`plain_values`): the figures in the plan's
    order, then the budget's two sides, then the inputs read."""

    final: int
    adjustment: int
    direction: int | None
    negative: int | None
    positive: int | None
    weight: int | None
    groups: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, plan: StudyPlan) -> "_Layout":
        figures = plan.figures
        n, b = len(plan.paths), len(plan.budget)
        at_path = {p: i for i, p in enumerate(plan.paths)}
        at_read = {p: n + b + i for i, (p, _) in enumerate(plan.reads)}
        at_budget = {name: n + i for i, name in enumerate(plan.budget)}
        return cls(at_path[figures["final_score"]], at_path[figures["adjustment_percent"]],
                   at_path[figures["adjustment_direction"]] if "adjustment_direction" in figures else None,
                   at_budget[figures["budget_negative"]] if "budget_negative" in figures else None,
                   at_budget[figures["budget_positive"]] if "budget_positive" in figures else None,
                   at_read[figures["budget_weight"]] if "budget_weight" in figures else None,
                   tuple((p, at_read[p] if parts is not None else at_path[p]) for p, parts in plan.groups))


def _outcome(plan: StudyPlan, record_id: Any, raw: tuple[Any, ...]) -> Outcome:
    """The outcome of a record's values (`plain_values`' order: figures, budget, inputs read)."""
    return _outcome_maker(plan)(record_id, raw)


def _outcome_maker(plan: StudyPlan) -> Any:
    """`_outcome` for this plan: a function of (record id, values) with the plan's layout bound."""
    made = plan.cache.get("outcome")
    if made is None:
        read = _figures_reader(plan)

        def made(record_id: Any, raw: tuple[Any, ...]) -> Outcome:
            columns, groups, _ = read([raw])
            return Outcome(record_id, None, *[column[0] for column in columns], groups[0])
        plan.cache["outcome"] = made
    return made


def _figures_reader(plan: StudyPlan) -> Any:
    """A function of records' values (a list, each in `plain_values`' order) with the plan's layout
    bound: (their figures as an outcome holds them, a column each — `tally.Columns` —, each
    record's groups (path → text), and the same as a tuple of items)."""
    made = plan.cache.get("figures")
    if made is not None:
        return made
    layout = _Layout.of(plan)
    final, adjustment, direction = layout.final, layout.adjustment, layout.direction
    negative, positive, weight_at = layout.negative, layout.positive, layout.weight
    group_at = tuple(i for _, i in layout.groups)
    group_paths = tuple(p for p, _ in layout.groups)
    # The groups of the records, kept by their values (a population has few combinations) and
    # their values' types: equal values read alike only where they are texts, true/false or none
    # (1.0 == 1 and True == 1 == Decimal(1), but they read differently).
    texts: dict[tuple[Any, ...], tuple[tuple[type, ...], dict[str, str], tuple[tuple[str, str], ...]]] = {}
    zero = Decimal(0)

    def groups_of(raw: tuple[Any, ...]) -> tuple[tuple[type, ...], dict[str, str], tuple[tuple[str, str], ...]]:
        values = tuple([raw[i] for i in group_at])
        types = tuple(map(type, values))
        try:
            found = texts.get(values)
        except TypeError:  # (a value that is no key: a record, a list)
            found = None
        if found is not None and found[0] == types:
            return found
        named = {p: _group_text(_plain(v)) for p, v in zip(group_paths, values)}
        made = types, named, tuple(named.items())
        if len(texts) < 4096 and all([t in _TEXTLIKE for t in types]):
            texts[values] = made
        return made

    def column(at: int | None, default: Any, read: Any, raws: list[tuple[Any, ...]], kind: type) -> list[Any]:
        """The values at `at` (`default` without a place), each of type `kind` as it is, else `read`."""
        if at is None:
            return [default] * len(raws)
        return [v if type(v) is kind else read(v) for v in [raw[at] for raw in raws]]

    def weight_of(w: Any) -> Decimal | None:
        return number(w) if isinstance(w, (Decimal, int)) and not isinstance(w, bool) else None

    def read(raws: list[tuple[Any, ...]]) -> tuple[Any, list[dict[str, str]], list[tuple[tuple[str, str], ...]]]:
        groups = [groups_of(raw) for raw in raws]
        columns = (column(final, None, _plain, raws, Decimal), column(adjustment, None, _plain, raws, Decimal),
                   column(direction, None, _plain, raws, str),
                   [v.copy_abs() for v in column(negative, zero, number, raws, Decimal)],
                   column(positive, zero, number, raws, Decimal), column(weight_at, None, weight_of, raws, Decimal))
        return columns, [g[1] for g in groups], [g[2] for g in groups]  # (groups shared: read, never changed)
    plan.cache["figures"] = read
    return read


_TEXTLIKE = (str, bool, type(None))


_COMPOUND = (dict, tuple, frozenset)


def _plain(v: Any) -> Any:
    """`to_plain`, a scalar passed as it is."""
    return to_plain(v) if type(v) in _COMPOUND else v


def _at_parts(value: Any, parts: tuple[str, ...]) -> Any:
    for part in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def plain_values(year: Any, record: dict[str, Any], plan: StudyPlan,
                 inputs: tuple[Any, dict[str, Any]] | None = None, found: Any = None
                 ) -> tuple[Any, ...] | None:
    """The values a study reads of a plainly valid record (its figures in the plan's order, the
    budget's two sides, the inputs read: `StudyPlan.reads`), its inputs checked in plain Python
    (`scoring/plain_inputs.py`) and the figures read from their definitions — replayed
    (`populations/replay.py`) for a record without a submission: the values the usual way gives.
    None when that way does not apply (inputs to check the usual way, a figure that is not one
    definition's value): then the usual way says what is wrong."""
    if None in plan.rules:
        return None
    if inputs is None and "submission" not in record:
        context = record.get("context")
        if not (context is None or type(context) is dict):
            return None
        try:
            context = {} if context is None else context
            return plan.replayer(year).figures(context, form(context) if found is None else found)
        except Unplain:
            return None
    from mips_rules.engine.scoring.plain_inputs import plain_inputs

    if inputs is None:
        inputs = plain_inputs(year, record)
        if inputs is None:
            return None
    return _values_of(year, plan, inputs)


def _values_of(year: Any, plan: StudyPlan, inputs: tuple[Any, dict[str, Any]]) -> tuple[Any, ...]:
    """The values a study reads (`plain_values`' order), evaluated from plain inputs: the rules'
    submission value and the context's checked record."""
    from mips_rules.engine.scoring.plain_inputs import evaluation_of_value
    from mips_rules.engine.scoring.score import refuse_rejected

    ev = evaluation_of_value(year, inputs[0], to_value(inputs[1]))
    given = {"submission": inputs[0], "context": inputs[1]}
    with ev.session():
        refuse_rejected(year, ev)
        return (*[ev.value(r) for r in (*plan.rules, *plan.budget)],  # type: ignore[misc]
                *[_at_parts(given, parts) for _, parts in plan.reads])


def read_population(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, record) of a JSONL population (as `rulesctl batch` reads it), read as the study
    goes (a population of any size); a line that is not JSON is kept as its error. The file is
    opened now: a file that cannot be read is an error before anything is scored."""
    from mips_rules.engine.cli.outputs import OutputError

    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {exc.strerror or exc}") from None

    def lines() -> Iterator[tuple[int, Any]]:
        with fh:
            try:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        yield n, json.loads(line, parse_float=Decimal)
                    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
                        yield n, {"__error__": f"line {n}: not JSON ({exc})"}
            except (OSError, UnicodeDecodeError) as exc:
                raise OutputError(f"cannot read {path}: {exc}") from None
    return lines()


def scaling_factor(year: Any, budget: Budget) -> dict[str, Any]:
    """The budget-neutral scaling factor over a population: Σ weight × negative adjustment divided by
    Σ weight × positive adjustment before scaling, capped; and the maximum positive adjustment it gives.
    The sums are exact (`tally.EXACT`); the totals shown, the quotient and the product are rounded
    once, to `tally.STUDY`'s 28 digits."""
    figures = year.report_layout.figures
    if "budget_negative" not in figures or "budget_positive" not in figures:
        return {"available": False, "why": "the year's report.yaml names no budget figures"}
    cap_path = figures.get("scaling_factor_cap", "")
    ns, _, name = cap_path.partition(".")
    cap_item = year.data.items.get(ns, {}).get(name)
    cap = cap_item.value if cap_item is not None else None
    unweighted = not budget.weighted
    negative = budget.negative if unweighted else budget.negative_weighted
    positive = budget.positive if unweighted else budget.positive_weighted
    result: dict[str, Any] = {"available": True, "records": budget.scored if unweighted else budget.weighted,
                              "weighted_by": None if unweighted else figures.get("budget_weight"),
                              "without_weight": 0 if unweighted else budget.scored - budget.weighted,
                              "negative_total": STUDY.plus(negative), "positive_total_unscaled": STUDY.plus(positive),
                              "cap": cap}
    if positive == 0:
        result.update(raw=None, factor=None, cap_binds=False, max_positive_adjustment=None,
                      why="no positive adjustment in the population: nothing to scale")
        return result
    raw = STUDY.divide(negative, positive)
    factor = min(raw, cap) if isinstance(cap, Decimal) else raw
    best = _max_unscaled(year)
    result.update(raw=raw, factor=factor, cap_binds=isinstance(cap, Decimal) and raw > cap,
                  max_positive_adjustment=STUDY.multiply(best, factor) if best is not None else None)
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


ROW_COLUMNS = ("id", "line", "error", "final_score_before", "final_score_after", "adjustment_before",
               "adjustment_after", "direction_before", "direction_after", "weight")


class RowWriter:
    """`--records`: each record before and after, written as the study goes (a population of any
    size) and committed whole or not at all — a CSV, or for a .parquet name a Parquet table made
    from those rows when the study is complete. The columns: ROW_COLUMNS, then the year's groups."""

    def __init__(self, path: Path, inputs: list[Path], groups: list[str]):
        self.path, self.inputs = path, inputs
        self.columns = [*ROW_COLUMNS, *groups]
        self.parquet = path.suffix.lower() == ".parquet"
        if self.parquet:
            from mips_rules.engine.cli.outputs import OutputError

            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise OutputError("--records *.parquet needs pyarrow: pip install 'mips-rules[frames]'") from None

    def __enter__(self) -> "RowWriter":
        import csv
        import tempfile

        from mips_rules.engine.cli.outputs import atomic_file

        if self.parquet:
            self._tmp = tempfile.TemporaryDirectory()
            self._target = atomic_file(self.path, inputs=self.inputs, binary=True)
            self._csv_path = Path(self._tmp.name) / "rows.csv"
            self._file = open(self._csv_path, "w", encoding="utf-8", newline="")
        else:
            self._target = atomic_file(self.path, inputs=self.inputs, newline="")
            self._file = self._target.__enter__()
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns)
        self._writer.writeheader()
        return self

    def write(self, line: int, b: Outcome, a: Outcome) -> None:
        from mips_rules.engine.scoring.display import format_number

        self._writer.writerow({k: format_number(v) if isinstance(v, Decimal) else v
                               for k, v in record_row(line, b, a).items()})

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if not self.parquet:
            self._target.__exit__(kind, exc, tb)
            return
        self._file.close()
        try:
            if kind is None:
                import pyarrow as pa
                from pyarrow import csv as pacsv
                from pyarrow import parquet as pq

                numbers = {"line"} | {c for c in ROW_COLUMNS if c.startswith(("final_score", "adjustment", "weight"))}
                types = {c: pa.string() for c in self.columns if c not in numbers}
                types["line"] = pa.int64()
                table = pacsv.read_csv(self._csv_path, convert_options=pacsv.ConvertOptions(
                    column_types=types, strings_can_be_null=True))
                with self._target as out:
                    pq.write_table(table, out)
        finally:
            self._tmp.cleanup()


PARALLEL_FROM = 2000  # records: fewer are scored in this process (starting workers costs more)
CHUNK = 500

_SIDES: dict[str, Any] = {}  # both years and their plans for the worker processes, which fork with them loaded


def _pair(sides: tuple[Any, StudyPlan, Any, StudyPlan, bool], n: int, record: Any) -> tuple[Outcome, Outcome]:
    """A record under both years; its plain inputs made once when both years check them alike. A
    table's row (`score_table.Row`) is read into its record here (the rows a checked tape fits went
    straight from their cells to their outcomes: `_rows_replayed`)."""
    from mips_rules.engine.scoring.plain_inputs import plain_inputs, reusable

    if not isinstance(record, dict) and hasattr(record, "cells_form"):
        record = record.read()
    if isinstance(record, dict) and "__error__" in record:
        return Outcome(None, record["__error__"]), Outcome(None, record["__error__"])
    base, base_plan, reform, reform_plan, alike = sides
    if alike and isinstance(record, dict) and "submission" in record and None not in base_plan.rules \
            and None not in reform_plan.rules:  # (a record without one is replayed: `plain_values`)
        inputs = plain_inputs(base, record)
        if inputs is not None and reusable(reform, inputs, record):
            return (score_outcome(base, record, n, base_plan, inputs),
                    score_outcome(reform, record, n, reform_plan, inputs))
    if isinstance(record, dict) and "submission" not in record and type(record.get("context")) is dict:
        found = form(record["context"])  # the context's form, for the replays
        both = _both_replayed(sides, record, found)
        if both is not None:
            return both
        return (score_outcome(base, record, n, base_plan, found=found),
                score_outcome(reform, record, n, reform_plan, found=found))
    return score_outcome(base, record, n, base_plan), score_outcome(reform, record, n, reform_plan)


_ORDERS: dict[tuple[str, Any], Any] = {}  # (table, cells form) → (the record's form, its numbers' cells) or None
MAX_ORDERS = 4096
_NONE_YET = object()


def _pair_replayer(sides: tuple[Any, StudyPlan, Any, StudyPlan, bool]) -> Any:
    """One replayer for both years of a study (`populations/replay.py`): a record without a
    submission evaluated under the base year, then the reform, its numbers traced through both —
    what the two have in common (the context's checks, most of the arithmetic) is on the tape once.
    Its figures: (the base year's values, the reform's), each in `plain_values`' order. None where
    a figure is not one definition's value."""
    base, base_plan, reform, reform_plan, _ = sides
    if None in base_plan.rules or None in reform_plan.rules:
        return None
    found = base_plan.cache.get("pair")
    if found is None or found[0] is not reform_plan:
        from mips_rules.dsl.compiler import RULE_DECIMAL_CONTEXT
        from mips_rules.engine.populations.replay import Replayer
        from mips_rules.engine.scoring.plain_inputs import plain_inputs

        def evaluate(context: Any) -> tuple[Any, ...]:
            values = []
            for year, plan in ((base, base_plan), (reform, reform_plan)):
                inputs = plain_inputs(year, {"context": context})
                if inputs is None:
                    raise Unplain
                values.append(_values_of(year, plan, inputs))
            return tuple(values)
        found = base_plan.cache["pair"] = (reform_plan, Replayer(evaluate, RULE_DECIMAL_CONTEXT))
    return found[1]


def _both_replayed(sides: tuple[Any, StudyPlan, Any, StudyPlan, bool], record: dict[str, Any], found: Any
                   ) -> tuple[Outcome, Outcome] | None:
    """A record without a submission under both years through their one replayer; None where it is
    not plainly valid, or either year refuses it (each year's own way then says what is wrong)."""
    both = _pair_replayer(sides)
    if both is None:
        return None
    try:
        got = both.figures(record["context"], found)
    except (Unplain, RulesError):
        return None
    record_id = record.get("id")
    return _outcome(sides[1], record_id, got[0]), _outcome(sides[3], record_id, got[1])




def _pairs_of(sides: tuple[Any, StudyPlan, Any, StudyPlan, bool], chunk: list[tuple[int, Any]]
              ) -> list[tuple[int, Outcome, Outcome]]:
    """A chunk's records under both years, in order: the table rows whose forms both years have
    replayed a form at a time (`_rows_replayed`), the others one by one (`_pair`) — the same
    outcomes either way."""
    quick = _rows_replayed(sides, chunk)
    before, after = _outcome_maker(sides[1]), _outcome_maker(sides[3])
    out = []
    for i, (n, record) in enumerate(chunk):
        got = quick.get(i)
        if got is None:
            out.append((n, *_pair(sides, n, record)))
        else:
            record_id = record.record_id()
            out.append((n, before(record_id, got[0]), after(record_id, got[1])))
    return out


def _rows_replayed(sides: tuple[Any, StudyPlan, Any, StudyPlan, bool], chunk: list[tuple[int, Any]]
                   ) -> dict[int, tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """A chunk's table rows whose form has a checked tape, straight from their cells to their
    values: the numbers parsed from the cells, in the form's order, are all a replay needs — the
    same values as the row read into its record and scored. Grouped by form, each tape replayed
    over all the rows of its form it may fit (`Replayer.replay_known_many`); position in the chunk
    → the values of both years (`plain_values`' order), for the rows replayed."""
    both = _pair_replayer(sides)
    if both is None:
        return {}
    from mips_rules.engine.populations.score_table import Row, cells_forms

    by_reader: dict[Any, list[int]] = {}  # (a table has one reader)
    for i, (_, row) in enumerate(chunk):
        if type(row) is Row:
            by_reader.setdefault(row.reader, []).append(i)
    groups: dict[Any, list[tuple[int, tuple[Decimal, ...]]]] = {}
    for reader, places in by_reader.items():
        by_cells: dict[Any, list[tuple[int, tuple[Any, ...]]]] = {}
        for i, got in zip(places, cells_forms([chunk[i][1] for i in places])):
            if got is not None:
                by_cells.setdefault(got[0], []).append((i, got[1]))
        for cells_form, members in by_cells.items():
            key = (reader.signature, cells_form)
            entry = _ORDERS.get(key, _NONE_YET)
            if entry is _NONE_YET:
                if len(_ORDERS) >= MAX_ORDERS:
                    continue
                entry = _ORDERS[key] = chunk[members[0][0]][1].number_order()
            if entry is None:
                continue
            form_key, order = entry
            groups.setdefault(form_key, []).extend((i, tuple([values[j] for j in order])) for i, values in members)
    out: dict[int, tuple[tuple[Any, ...], tuple[Any, ...]]] = {}
    for form_key, members in groups.items():
        for (i, _), got in zip(members, both.replay_known_many(form_key, [x for _, x in members])):
            if got is not None:
                out[i] = got
    return out


def _checks_alike(base: Any, reform: Any) -> bool:
    a, b = getattr(base, "context_schema", None), getattr(reform, "context_schema", None)
    return a is not None and b is not None and hasattr(a, "checks_alike") and a.checks_alike(b)


def _tallied(sides: tuple[Any, StudyPlan, Any, StudyPlan, bool], chunk: list[tuple[int, Any]], keep: bool
             ) -> tuple[Tally, list[tuple[int, Outcome, Outcome]] | None]:
    """A chunk's records under both years, tallied here (`tally.Tally`, settled: what a worker
    sends back is its part of the study, not its outcomes), and with `keep` each record's
    (line, before, after) as well."""
    part = Tally()
    if keep:
        kept = _pairs_of(sides, chunk)
        for _, b, a in kept:
            part.add(b, a)
        return part.settled(), kept
    # The rows replayed go from their values to the tally as columns (no outcomes made); the others
    # one by one.
    quick = _rows_replayed(sides, chunk)
    for i, (n, record) in enumerate(chunk):
        if i not in quick:
            part.add(*_pair(sides, n, record))
    if quick:
        both = list(quick.values())
        before = _figures_reader(sides[1])([b for b, _ in both])[0]
        after, _, combinations = _figures_reader(sides[3])([a for _, a in both])
        part.add_scored(before, after, combinations)
    return part.settled(), None


def _tallied_here(args: tuple[Any, bool]) -> tuple[Tally, list[tuple[int, Any, Any]] | None]:
    """`_tallied` in a worker process, which forked with both years loaded (`_SIDES`), of a chunk
    as sent (`score_table.packed`, or a slice of a CSV file it reads itself); the outcomes kept go
    back packed (`_pack`: a tuple of texts pickles far faster than the outcomes)."""
    from mips_rules.engine.populations.score_table import unpacked

    sent, keep = args
    sides = _SIDES["sides"]
    part, kept = _tallied(sides, unpacked(sent), keep)
    if kept is None:
        return part, None
    before, after = _group_paths(sides)
    return part, [(n, _pack(b, before), _pack(a, after)) for n, b, a in kept]


def _group_paths(sides: tuple[Any, StudyPlan, Any, StudyPlan, bool]) -> tuple[list[str], list[str]]:
    """Each year's breakdowns, in its plan's order (how a packed outcome lists its groups)."""
    return [p for p, _ in sides[1].groups], [p for p, _ in sides[3].groups]


_FIELDS = ("id", "error", "final_score", "adjustment", "direction", "negative", "positive", "weight")


def _pack(o: Outcome, groups: list[str]) -> tuple[Any, ...]:
    """An outcome as plain values: a number as its text (Decimal(text) gives it back digit for digit),
    anything else that is not None or a text in a 1-tuple; the groups' values in the plan's order."""
    packed = [_packed(getattr(o, f)) for f in _FIELDS]
    packed.append(tuple(o.groups.get(p) for p in groups) if list(o.groups) == groups else dict(o.groups))
    return tuple(packed)


def _packed(v: Any) -> Any:
    if type(v) is Decimal:
        return str(v)
    return v if v is None else (v,)


def _unpacked(v: Any) -> Any:
    if type(v) is str:
        return Decimal(v)
    return v if v is None else v[0]


def _unpack(t: tuple[Any, ...], groups: list[str]) -> Outcome:
    o = Outcome(*[_unpacked(v) for v in t[:len(_FIELDS)]])
    g = t[len(_FIELDS)]
    o.groups = dict(zip(groups, g)) if type(g) is tuple else g
    return o


def tallies(base: Any, reform: Any, records: Iterable[tuple[int, Any]], keep: bool = False,
            workers: int | None = None) -> Iterator[tuple[Tally, list[tuple[int, Outcome, Outcome]] | None]]:
    """The study's parts, a chunk of records at a time, in order (with `keep`, each with its
    records' (line, before, after)): in worker processes (one per core, forked with both years
    loaded) once the population is large and the platform forks, else here. At most a few chunks
    are in flight: memory does not grow with the population."""
    import itertools
    import os

    n = workers or os.cpu_count() or 1
    sides = (base, StudyPlan.of(base), reform, StudyPlan.of(reform), _checks_alike(base, reform))
    groups = _group_paths(sides)

    def unpacked(kept: list[tuple[int, Any, Any]] | None) -> list[tuple[int, Outcome, Outcome]] | None:
        return None if kept is None else [(line, _unpack(b, groups[0]), _unpack(a, groups[1])) for line, b, a in kept]

    from mips_rules.engine.populations.score_table import packed

    parallel = n > 1 and hasattr(os, "fork")
    # A CSV table that slices cleanly is read by the workers themselves, a slice of rows each.
    sent = records.slices(CHUNK, PARALLEL_FROM) if parallel and hasattr(records, "slices") else None
    if sent is None:
        records = iter(records)
        first = list(itertools.islice(records, PARALLEL_FROM))
        everything = itertools.chain(first, records)
        chunks = iter(lambda: list(itertools.islice(everything, CHUNK)), [])
        if not parallel or len(first) < PARALLEL_FROM:
            for chunk in chunks:
                yield _tallied(sides, chunk, keep)
            return
        sent = (packed(chunk) for chunk in chunks)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from mips_rules.engine.populations.batch import _in_order, _stop

    _SIDES["sides"] = sides
    pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork"))
    try:
        for part, kept in _in_order(pool, _tallied_here, ((chunk, keep) for chunk in sent), 4 * n):
            yield part, unpacked(kept)
    except BaseException:
        _stop(pool)
        raise
    finally:
        _SIDES.clear()
    pool.shutdown()


def compare(base: Any, reform: Any, records: Iterable[tuple[int, Any]], reform_label: str,
            rows: "RowWriter | list[dict[str, Any]] | None" = None, workers: int | None = None,
            progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """The impact study: both sides, the movers, the groups and the scaling factors, tallied where
    the records are scored and merged here as the parts come (memory holds counts, not records).
    With `rows`, each record's own before and after goes to it as well (`--records`: a RowWriter,
    or a list); `progress` is told how many records each part held, as the parts come."""
    study = Tally()
    for part, outcomes in tallies(base, reform, records, rows is not None, workers):
        study.merge(part)
        for line, b, a in outcomes or ():
            if isinstance(rows, list):
                rows.append(record_row(line, b, a))
            elif rows is not None:
                rows.write(line, b, a)
        if progress is not None:
            progress(part.records)
    return {
        "base": {"year": base.performance_year, "rules_fingerprint": base.fingerprint},
        "reform": {"label": reform_label, "year": reform.performance_year, "rules_fingerprint": reform.fingerprint},
        "population": {"records": study.records, "scored_both": study.scored_both,
                       "not_scored": study.records - study.scored_both, "errors": study.errors},
        "before": study.before.figures(),
        "after": study.after.figures(),
        "movers": study.movers(),
        "scaling_factor": {"before": scaling_factor(base, study.before.budget),
                           "after": scaling_factor(reform, study.after.budget)},
        "groups": study.group_figures(),
    }
