"""The report a year declares (`report.yaml`): its fields in order, where each value comes from,
and how the table, Markdown and HTML reports and the batch lines show it.

The engine knows the shape of a declaration, never a field of it: which fields a report has,
what they are called and how they are shown is the year's data. A year that extends another
inherits its report; its own `report.yaml` replaces fields by name (new ones go at the end,
`removed: true` drops one) and restates `heading`, `summary` or `figures` whole.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from mips_rules.dsl import ast
from mips_rules.dsl.errors import DataError, Diagnostic, Location

# How a value is shown in the table, Markdown and HTML reports (the JSON keeps every digit).
STYLES = {
    "plain": "as it is (numbers with up to six decimals, true/false as yes/no)",
    "two_decimals": "two decimals, rounded half up (75.00)",
    "two_decimals_percent": "two decimals and a percent sign (96.37%)",
    "percent": "the number and a percent sign (25%)",
    "signed_two_decimals": "two decimals with a sign when positive (+1.23)",
    "mark": "`yes` when true, blank otherwise",
    "text": "the text, blank when none",
    "note": "a sentence under the table (a category's reason)",
    "table": "a detail table of records (a category's measures, or a list of records of the report itself)",
}
FIELD_KEYS = {"name", "rule", "from", "label", "show", "shown_as", "optional", "detail", "column", "each",
              "titles", "fields", "columns", "text", "strong", "reason", "source", "removed"}
COLUMN_KEYS = {"field", "label", "show", "shown_as", "align"}
TOP_KEYS = {"source", "fields", "heading", "summary", "figures"}
# What population tools read from every report (`rulesctl plot`, batch summaries, impact studies).
FIGURES = {
    "final_score": "the report path of the final score",
    "adjustment_percent": "the report path of the payment adjustment in percent",
    "adjustment_direction": "the report path of the adjustment's direction",
    "category_scores_input": "the context field that takes category scores directly (a record keyed by category)",
    "groups": "input paths (or report fields) a change is broken down by in `rulesctl impact` (entity type, "
              "practice size, reporting option …)",
    "budget_negative": "the definition of a negative adjustment before rounding (0 otherwise)",
    "budget_positive": "the definition of a positive adjustment before the scaling factor (0 otherwise)",
    "budget_weight": "the input path of each clinician's weight in the budget (Part B allowed charges)",
    "scaling_factor_cap": "the data item capping the scaling factor",
}
PATH_FIGURES = ("final_score", "adjustment_percent", "adjustment_direction")
INPUT_ROOTS = ("context", "submission")


@dataclass(frozen=True)
class Column:
    """A column of a detail table: a field of each record and how to show it."""

    field: str
    label: str
    show: str = "plain"
    shown_as: Mapping[str, str | None] | None = None
    align: str | None = None


@dataclass(frozen=True)
class ReportField:
    """One field of the report. Its value is a definition of the year (`rule`), an input (`from`),
    a record of sub-fields, or — with `each` — one record per name the `each` definition lists."""

    name: str
    rule: str | None = None
    source_path: tuple[str, ...] | None = None
    label: str | None = None
    show: str = "plain"
    shown_as: Mapping[str, str | None] | None = None
    optional: bool = False
    detail: bool = False
    column: str | None = None
    each: str | None = None
    titles: Mapping[str, str] = field(default_factory=dict)
    fields: tuple["ReportField", ...] = ()
    columns: Mapping[str, tuple[Column, ...]] = field(default_factory=dict)
    text: tuple[tuple[str | None, str], ...] = ()
    strong: bool = False
    reason: str | None = None
    location: Location | None = None

    def sub(self, name: str) -> "ReportField | None":
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class ReportLayout:
    """A year's report: fields in order, the heading line, the summary lines, and the figures."""

    fields: tuple[ReportField, ...]
    heading: tuple[str, ...]
    summary: tuple[str, ...]
    figures: Mapping[str, str]
    source: str = ""

    def field_at(self, path: str) -> ReportField | None:
        """The declared field at a report path (`payment_adjustment.percent`; under an `each`
        field the key is skipped: `categories.quality.score` → the `score` field)."""
        parts = path.split(".")
        fields, found = self.fields, None
        i = 0
        while i < len(parts):
            found = next((f for f in fields if f.name == parts[i]), None)
            if found is None:
                return None
            fields = found.fields
            i += 2 if found.each is not None and i + 1 < len(parts) else 1
        return found

    def rule_at(self, path: str) -> str | None:
        """The definition a report path shows, when it is one value of its own (not a record, not
        under an `each` field, whose values depend on the key)."""
        fields, found = self.fields, None
        for part in path.split("."):
            found = next((f for f in fields if f.name == part), None)
            if found is None or found.each is not None:
                return None
            fields = found.fields
        return found.rule if found is not None and not found.fields else None

    def each_field(self) -> ReportField | None:
        """The field with one entry per category (`each:`), if the report has one."""
        return next((f for f in self.fields if f.each is not None), None)

    def columns(self, keys: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
        """(report path, column name) of every batch column, in report order; `{key}` in an
        `each` field's column name is each of `keys` in turn."""
        out: list[tuple[tuple[str, ...], str]] = []

        def walk(fields: tuple[ReportField, ...], prefix: tuple[str, ...]) -> None:
            for f in fields:
                if f.each is not None:
                    for key in keys:
                        for sub in f.fields:
                            if sub.column is not None:
                                out.append(((*prefix, f.name, key, sub.name), sub.column.replace("{key}", key)))
                    continue
                if f.column is not None:
                    out.append(((*prefix, f.name), f.column))
                walk(f.fields, (*prefix, f.name))

        walk(self.fields, ())
        return out


def read_layout(folders: list[Path], load_yaml: Any) -> ReportLayout | None:
    """The year's report from each layer's `report.yaml` (oldest first), or None when none declares one."""
    fields: dict[str, ReportField] = {}
    top: dict[str, Any] = {}
    found = False
    for folder in folders:
        path = folder / "report.yaml"
        if not path.exists() and not path.is_symlink():
            continue
        if path.is_symlink() or not path.is_file():
            raise DataError(Diagnostic(f"{path}: not a regular file; a year folder holds regular files only"))
        doc = load_yaml(path)
        found = True
        data = doc.data
        if not isinstance(data, dict):
            raise DataError(Diagnostic("report.yaml maps `source`, `fields`, `heading`, `summary` and `figures`",
                                       doc.where(())))
        problems = [_unknown(k, TOP_KEYS, "report.yaml key", doc.where((k,))) for k in data if k not in TOP_KEYS]
        entries = data.get("fields", [])
        if not isinstance(entries, list):
            problems.append(Diagnostic("`fields` must be a list of fields", doc.where(("fields",))))
            entries = []
        for i, entry in enumerate(entries):
            try:
                parsed = _field(entry, doc, ("fields", i), nested=False)
            except DataError as exc:
                problems.extend(exc.diagnostics)
                continue
            if isinstance(entry, dict) and entry.get("removed") is True:
                if parsed.name not in fields:
                    problems.append(Diagnostic(f"`{parsed.name}` is removed, but no earlier year declares it",
                                               doc.where(("fields", i))))
                fields.pop(parsed.name, None)
            else:
                fields[parsed.name] = parsed
        for key in ("heading", "summary"):
            if key in data:
                value = data[key]
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    problems.append(Diagnostic(f"`{key}` must be a list of report paths", doc.where((key,))))
                else:
                    top[key] = tuple(value)
        if "figures" in data:
            value = data["figures"]
            if not isinstance(value, dict) or not all(
                    isinstance(v, str) or (k == "groups" and isinstance(v, list) and all(isinstance(g, str) for g in v))
                    for k, v in value.items()):
                problems.append(Diagnostic("`figures` maps each figure to a report path, a definition or an input "
                                           "path (`groups`: a list of input paths)", doc.where(("figures",))))
            else:
                problems += [_unknown(k, set(FIGURES), "figure", doc.where(("figures", k))) for k in value
                             if k not in FIGURES]
                top["figures"] = dict(value)
        if "source" in data:
            if not isinstance(data["source"], str) or not data["source"].strip():
                problems.append(Diagnostic("`source` must cite where the report's layout comes from",
                                           doc.where(("source",))))
            else:
                top["source"] = data["source"]
        if problems:
            raise DataError(problems)
    if not found:
        return None
    return ReportLayout(tuple(fields.values()), top.get("heading", ()), top.get("summary", ()),
                        top.get("figures", {}), top.get("source", ""))


def _unknown(key: Any, known: set[str], what: str, where: Location) -> Diagnostic:
    close = difflib.get_close_matches(str(key), sorted(known), n=1)
    return Diagnostic(f"unknown {what} `{key}`", where,
                      f"did you mean `{close[0]}`?" if close else f"known: {', '.join(sorted(known))}")


def _text_map(value: Any, doc: Any, path: tuple[Any, ...], what: str, nullable: bool) -> dict[str, str | None]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and (isinstance(v, str) or (nullable and v is None))
                                              for k, v in value.items()):
        raise DataError(Diagnostic(f"`{what}` maps values to texts" + (" (or null: not shown)" if nullable else ""),
                                   doc.where(path)))
    return dict(value)


def _style(value: Any, doc: Any, path: tuple[Any, ...]) -> str:
    if value is None:
        return "plain"
    if value not in STYLES:
        raise DataError(_unknown(value, set(STYLES), "display style", doc.where(path)))
    return str(value)


def _field(entry: Any, doc: Any, path: tuple[Any, ...], nested: bool) -> ReportField:
    where = doc.where(path)
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise DataError(Diagnostic("a report field is a mapping with a `name`", where))
    problems = [_unknown(k, FIELD_KEYS, "report field key", doc.where((*path, k))) for k in entry if k not in FIELD_KEYS]
    if problems:
        raise DataError(problems)
    name = entry["name"]
    if entry.get("removed") is True:
        return ReportField(name, location=where)
    for key in ("rule", "from", "label", "column", "each", "reason"):
        if key in entry and not isinstance(entry[key], str):
            raise DataError(Diagnostic(f"`{key}` of report field `{name}` must be a text", doc.where((*path, key))))
    for key in ("optional", "detail", "strong"):
        if key in entry and not isinstance(entry[key], bool):
            raise DataError(Diagnostic(f"`{key}` of report field `{name}` must be true or false",
                                       doc.where((*path, key))))
    sources = [k for k in ("rule", "from", "fields") if k in entry]
    if len(sources) != 1:
        raise DataError(Diagnostic(f"report field `{name}` takes its value from exactly one of `rule` (a definition), "
                                   "`from` (an input path) or `fields` (a record)", where))
    source_path = None
    if "from" in entry:
        source_path = tuple(entry["from"].split("."))
        if source_path[0] not in INPUT_ROOTS or len(source_path) < 2 or not all(source_path):
            raise DataError(Diagnostic(f"`from` of report field `{name}` is a path into the inputs "
                                       "(`context.…` or `submission.…`)", doc.where((*path, "from"))))
    sub: tuple[ReportField, ...] = ()
    if "fields" in entry:
        if not isinstance(entry["fields"], list) or not entry["fields"]:
            raise DataError(Diagnostic(f"`fields` of report field `{name}` must be a list of fields",
                                       doc.where((*path, "fields"))))
        sub = tuple(_field(e, doc, (*path, "fields", i), nested=True) for i, e in enumerate(entry["fields"]))
        names = [f.name for f in sub]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise DataError(Diagnostic(f"report field `{name}` declares `{twice[0]}` twice", doc.where((*path, "fields"))))
    if "each" in entry and "fields" not in entry:
        raise DataError(Diagnostic(f"report field `{name}` has `each`: its `fields` are functions of each name",
                                   where))
    text: list[tuple[str | None, str]] = []
    if "text" in entry:
        raw = entry["text"]
        cases = [{"then": raw}] if isinstance(raw, str) else raw
        if not isinstance(cases, list) or not all(isinstance(c, dict) and isinstance(c.get("then"), str)
                                                  and set(c) <= {"if", "then"} and isinstance(c.get("if", ""), str)
                                                  for c in cases):
            raise DataError(Diagnostic(f"`text` of report field `{name}` is a template (`{{field}}` for a sub-field) "
                                       "or a list of `{if: FIELD, then: TEMPLATE}` cases, the last without `if`",
                                       doc.where((*path, "text"))))
        text = [(c.get("if"), c["then"]) for c in cases]
    columns: dict[str, tuple[Column, ...]] = {}
    if "columns" in entry:
        raw_columns = entry["columns"]
        if isinstance(raw_columns, list) and not nested:  # a table of the report itself: one list of columns
            raw_columns = {"": raw_columns}
        elif not isinstance(raw_columns, dict):
            raise DataError(Diagnostic(f"`columns` of report field `{name}` maps each key (a category) to its columns "
                                       "(a list of columns for a table of the report itself)",
                                       doc.where((*path, "columns"))))
        for key, cols in raw_columns.items():
            columns[str(key)] = tuple(_column(c, doc, (*path, "columns", key, i)) for i, c in
                                      enumerate(cols if isinstance(cols, list) else [None]))
    if nested is False and entry.get("show") == "note":
        raise DataError(Diagnostic("`note` shows a field of each category (under an `each` field)",
                                   doc.where((*path, "show"))))
    return ReportField(
        name=name, rule=entry.get("rule"), source_path=source_path, label=entry.get("label"),
        show=_style(entry.get("show"), doc, (*path, "show")),
        shown_as=_text_map(entry["shown_as"], doc, (*path, "shown_as"), "shown_as", True) if "shown_as" in entry else None,
        optional=entry.get("optional", False), detail=entry.get("detail", False), column=entry.get("column"),
        each=entry.get("each"),
        titles=_text_map(entry["titles"], doc, (*path, "titles"), "titles", False) if "titles" in entry else {},
        fields=sub, columns=columns, text=tuple(text), strong=entry.get("strong", False), reason=entry.get("reason"),
        location=where)


def _column(entry: Any, doc: Any, path: tuple[Any, ...]) -> Column:
    where = doc.where(path)
    if not isinstance(entry, dict) or not isinstance(entry.get("field"), str) or not isinstance(entry.get("label"), str):
        raise DataError(Diagnostic("a detail column is `{field, label}` (texts; `show`, `shown_as`, `align` optional)",
                                   where))
    unknown = [k for k in entry if k not in COLUMN_KEYS]
    if unknown:
        raise DataError(_unknown(unknown[0], COLUMN_KEYS, "column key", doc.where((*path, unknown[0]))))
    if entry.get("align") not in (None, "left", "right"):
        raise DataError(Diagnostic("`align` is left or right", doc.where((*path, "align"))))
    return Column(entry["field"], entry["label"], _style(entry.get("show"), doc, (*path, "show")),
                  _text_map(entry["shown_as"], doc, (*path, "shown_as"), "shown_as", True) if "shown_as" in entry
                  else None, entry.get("align"))


def check_layout(layout: ReportLayout | None, definitions: Mapping[str, ast.Definition],
                 shapes: Mapping[str, Any], anchor: Location) -> list[Diagnostic]:
    """Every definition a field reads exists with the right arity, every input path exists,
    and every path the heading, summary and figures name is a field of the report."""
    if layout is None:
        return [Diagnostic("the year declares no report (report.yaml): the fields a report holds and how it shows "
                           "them", anchor, "a year that extends another inherits its report.yaml")]
    problems: list[Diagnostic] = []

    def check(f: ReportField, in_each: bool, siblings: tuple[ReportField, ...]) -> None:
        if f.rule is not None:
            d = definitions.get(f.rule)
            want = 1 if in_each else 0
            if d is None:
                close = difflib.get_close_matches(f.rule, list(definitions), n=1)
                problems.append(Diagnostic(f"report field `{f.name}` reads `{f.rule}`, which the year does not define",
                                           f.location, f"did you mean `{close[0]}`?" if close else None))
            elif len(d.params or ()) != want:
                what = "a function of each name of `each` (one parameter)" if in_each else "a value (no parameters)"
                problems.append(Diagnostic(f"report field `{f.name}` reads `{f.rule}`, which must be {what}",
                                           f.location))
        if f.source_path is not None:
            problems.extend(_check_input(f, shapes))
        if f.each is not None:
            d = definitions.get(f.each)
            if d is None or d.params:
                problems.append(Diagnostic(f"report field `{f.name}` lists one entry per name of `{f.each}`, which "
                                           "the year does not define as a value", f.location))
        if f.reason is not None and not any(s.name == f.reason for s in siblings):
            problems.append(Diagnostic(f"report field `{f.name}`: its reason `{f.reason}` is not a field beside it",
                                       f.location))
        for cond, template in f.text:
            names = [cond] if cond else []
            names += [part.split("}", 1)[0] for part in template.split("{")[1:]]
            missing = [n for n in names if f.sub(n) is None and n != "value"]
            if missing:
                problems.append(Diagnostic(f"the text of report field `{f.name}` names `{missing[0]}`, which is not "
                                           "one of its fields (or `value`)", f.location))
        for s in f.fields:
            check(s, in_each or f.each is not None, f.fields)

    for f in layout.fields:
        check(f, False, layout.fields)
    figure_paths = tuple(layout.figures[k] for k in PATH_FIGURES if k in layout.figures)
    for key, paths in (("heading", layout.heading), ("summary", layout.summary), ("figures", figure_paths)):
        for p in paths:
            if layout.field_at(p) is None:
                problems.append(Diagnostic(f"report.yaml: `{key}` names `{p}`, which is not a field of the report",
                                           anchor))
    missing = [k for k in ("final_score", "adjustment_percent") if k not in layout.figures]
    if missing:
        problems.append(Diagnostic(f"report.yaml: `figures` needs `{missing[0]}` ({FIGURES[missing[0]]})", anchor))
    for key in ("budget_negative", "budget_positive"):
        name = layout.figures.get(key)
        if name is not None and (name not in definitions or definitions[name].params):
            problems.append(Diagnostic(f"report.yaml: `figures.{key}` names `{name}`, which the year does not "
                                       "define as a value", anchor))
    for key, paths in (("budget_weight", [layout.figures.get("budget_weight")]),
                       ("groups", list(layout.figures.get("groups") or []))):
        for path in paths:
            if path is None:
                continue
            parts = tuple(str(path).split("."))
            probe = ReportField(f"figures.{key}", source_path=parts, location=anchor)
            if key == "groups" and parts[0] not in INPUT_ROOTS and layout.field_at(str(path)) is not None:
                continue  # a field of the report (the reporting option the rules settle on)
            if parts[0] not in INPUT_ROOTS or len(parts) < 2:
                problems.append(Diagnostic(f"report.yaml: `figures.{key}`: {path} is not an input path "
                                           "(context.… or submission.…)" + (" or a field of the report"
                                                                            if key == "groups" else ""), anchor))
            else:
                problems.extend(_check_input(probe, shapes))
    scores_input = layout.figures.get("category_scores_input")
    if scores_input is not None and scores_input not in (shapes.get("context") or {}):
        problems.append(Diagnostic(f"report.yaml: `figures.category_scores_input` names `{scores_input}`, which is "
                                   "not a field of the scoring context", anchor))
    return problems


def _check_input(f: ReportField, shapes: Mapping[str, Any]) -> Iterator[Diagnostic]:
    """`from: context.entity.type`: each step a field of the input's declared shape."""
    assert f.source_path is not None
    shape: Any = shapes.get(f.source_path[0])
    for i, part in enumerate(f.source_path[1:], 1):
        if not isinstance(shape, dict):
            return
        if part not in shape:
            close = difflib.get_close_matches(part, list(shape), n=1)
            yield Diagnostic(f"report field `{f.name}` reads `{'.'.join(f.source_path[:i + 1])}`, which the "
                             f"{f.source_path[0]} does not have", f.location,
                             f"did you mean `{close[0]}`?" if close else None)
            return
        shape = shape[part]
