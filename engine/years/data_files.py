"""The YAML half of a year: values and keyed tables, each with its source.

A data file `rules/<year>/<stem>.yaml` maps item names to items. The rule
language sees the file as a record named `<stem>`: a value item is its value
(`program.performance_threshold` → 75), a table item is a `Table` looked up by
its key (`weights.redistribution[reweighted]`).

    performance_threshold:
      value: 75
      unit: points
      source: "004_23d77edc1962e2e1.txt, How Does My MIPS Final Score Determine My Payment Adjustment?"

    redistribution:
      source: "004_23d77edc1962e2e1.txt, Appendix B, Table 1"
      key: reweighted
      covers: {subsets_of: [quality, cost, ia, pi], max_size: 2}
      row_total: {field: weights, equals: 100}
      rows:
        - reweighted: []
          weights: {quality: 30, cost: 30, ia: 15, pi: 25}

A table may instead say `same_as: <other table>` with `except:` rows that
replace the rows with the same key.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from mips_rules.dsl.errors import DataError, Diagnostic, Location, did_you_mean
from mips_rules.dsl.values import Table, format_key, to_value
from mips_rules.engine.inputs.numbers import bounded_decimal
from mips_rules.engine.inputs.safe_yaml import LocatedDoc, load_yaml

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Covers(_Strict):
    """Which row keys a set-keyed table must have: every subset of `subsets_of` in the size range."""

    subsets_of: list[str]
    min_size: int = 0
    max_size: int | None = None
    always: list[str] = []
    never: list[str] = []


class RowTotal(_Strict):
    """Each row's `field` (a record of numbers) must add up to `equals` (or be all zero, if allowed)."""

    field: str
    equals: Decimal | int
    allow_all_zero: bool = False


class ValueItem(_Strict):
    value: Any
    source: str
    confirmed: bool = True
    unit: str | None = None
    note: str | None = None
    carried_over: bool = False


class TableItem(_Strict):
    source: str
    key: str | list[str]
    rows: list[dict[str, Any]] | None = None
    same_as: str | None = None
    except_: list[dict[str, Any]] | None = None
    covers: Covers | None = None
    row_total: RowTotal | None = None
    confirmed: bool = True
    note: str | None = None
    carried_over: bool = False
    complete: bool = False  # the table lists every entry that exists (an inventory): unknown keys are errors

    @field_validator("source")
    @classmethod
    def _nonempty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a source must not be empty")
        return v


_VALUE_KEYS = set(ValueItem.model_fields)
_TABLE_KEYS = {k if k != "except_" else "except" for k in TableItem.model_fields}


@dataclass
class Item:
    """One named value or table of a year, with its provenance."""

    namespace: str
    name: str
    kind: Literal["value", "table"]
    value: Any  # rule-language value (Decimal …) or a Table
    raw: Any  # the plain YAML data of the value / rows, for diffs
    source: str
    confirmed: bool
    unit: str | None
    note: str | None
    carried_over: bool
    location: Location
    imported_from: str | None = None
    complete: bool = False
    spec: Any = None  # a table's TableItem (its covers / row_total checks apply to changed rows too)

    @property
    def path(self) -> str:
        return f"{self.namespace}.{self.name}"


@dataclass
class YearData:
    """All data files of a year: namespace → item name → Item."""

    items: dict[str, dict[str, Item]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)
    """Overrides that repeat what they override (a year that extends another)."""
    """Per data file written by `rulesctl data import`: where its CMS data came from."""

    def namespaces(self) -> dict[str, dict[str, Any]]:
        """What the rule language sees: namespace → {item name → value or Table}."""
        return {ns: {name: it.value for name, it in items.items()} for ns, items in self.items.items()}

    def all_items(self) -> list[Item]:
        return [it for items in self.items.values() for it in items.values()]


MAX_JSON_BYTES = 20_000_000
"""Imported CMS data files (`measures.json`, `benchmarks.json`) are larger than hand-written YAML."""


def _numbers_read() -> Any:
    """`bounded_decimal`, each text read once (a file's numbers repeat: 0, 1, 100 …; the same
    Decimal for the same text, which is immutable)."""
    seen: dict[str, Decimal] = {}

    def number(text: str) -> Decimal:
        value = seen.get(text)
        if value is None:
            value = seen[text] = bounded_decimal(text)
        return value
    return number


def load_json_doc(path: Path) -> LocatedDoc:
    """A JSON data file (written by `rulesctl data import`): exact decimals; positions are the file."""
    name = str(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_JSON_BYTES + 1)
    except OSError as exc:
        raise DataError(Diagnostic(f"cannot read {name}: {exc.strerror or exc}", Location(name, 1, 1))) from None
    if len(raw) > MAX_JSON_BYTES:
        raise DataError(Diagnostic(f"file is too large (more than {MAX_JSON_BYTES} bytes)", Location(name, 1, 1)))
    try:
        number = _numbers_read()
        doc = json.loads(raw.decode("utf-8"), parse_float=number, parse_int=number)
    except UnicodeDecodeError as exc:
        raise DataError(Diagnostic(f"not UTF-8 text: {exc.reason}", Location(name, 1, 1))) from None
    except json.JSONDecodeError as exc:
        raise DataError(Diagnostic(f"not valid JSON: {exc.msg}", Location(name, exc.lineno, exc.colno))) from None
    except RecursionError:
        raise DataError(Diagnostic("JSON nested too deeply", Location(name, 1, 1))) from None
    except ValueError as exc:  # a number beyond the bounds
        raise DataError(Diagnostic(str(exc), Location(name, 1, 1))) from None
    return LocatedDoc(doc, name, {})


def regular_files(folder: Path, suffixes: tuple[str, ...], problems: list[Diagnostic]) -> list[Path]:
    """A year folder's files with these suffixes; a link, a FIFO or a device there is a problem, never
    followed or read (a rules folder must not reach outside itself, nor hang on a pipe)."""
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in suffixes:
            continue
        if path.is_symlink() or not path.is_file():
            kind = "a symbolic link" if path.is_symlink() else "not a regular file"
            # No location: rendering one would read the link's target or block on the pipe.
            problems.append(Diagnostic(f"{path}: {kind}; a year folder holds regular files only"))
            continue
        out.append(path)
    return out


MANIFEST = "year.yaml"
"""A year folder's manifest (`extends: 2023` …), not a data file."""
DECLARATIONS = {MANIFEST, "context.yaml", "report.yaml", "population_table.yaml"}
"""Files that declare the year (its manifest, its scoring context, its report): not data files."""

_OVERRIDE_KEYS = {"changed_rows", "removed_rows", "removed", "source", "note", "confirmed", "carried_over"}


def load_data_dir(folder: Path, base: YearData | None = None) -> YearData:
    """Load every `*.yaml` (and imported `*.json`) data file of a year folder; collects all problems before raising.

    With `base` (the year this one extends), the folder holds only what changes: an item replaces
    the inherited item of the same path, `changed_rows` / `removed_rows` change an inherited table
    by key, `removed: true` removes an inherited item; everything else is inherited as it is."""
    data = YearData()
    overridden: dict[str, Item] = {}
    if base is not None:
        data.items = {ns: dict(items) for ns, items in base.items.items()}
        data.provenance = dict(base.provenance)
        data.warnings = []
    problems: list[Diagnostic] = []
    seen_ns: set[str] = set()
    pending_same_as: list[tuple[str, str, TableItem, LocatedDoc]] = []
    for path in regular_files(folder, (".yaml", ".json"), problems):
        if path.name in DECLARATIONS:
            continue
        ns = path.stem
        if not _IDENT.match(ns):
            problems.append(Diagnostic(f"data file name `{path.name}` must be a plain name (letters, digits, _)",
                                       Location(str(path), 1, 1)))
            continue
        if ns in seen_ns:
            problems.append(Diagnostic(f"two data files for `{ns}`: keep one of {ns}.yaml and {ns}.json",
                                       Location(str(path), 1, 1)))
            continue
        seen_ns.add(ns)
        try:
            doc = load_yaml(path) if path.suffix == ".yaml" else load_json_doc(path)
        except DataError as exc:
            problems.extend(exc.diagnostics)
            continue
        if path.suffix == ".json" and isinstance(doc.data, dict) and "provenance" in doc.data:
            data.provenance[ns] = doc.data["provenance"]
            doc.data = {k: v for k, v in doc.data.items() if k != "provenance"}
        if doc.data is None:
            data.items.setdefault(ns, {})
            continue
        if not isinstance(doc.data, dict):
            problems.append(Diagnostic("a data file must map item names to items", doc.where(())))
            continue
        data.items.setdefault(ns, {})
        for name, raw in doc.data.items():
            loc = doc.where((name,))
            if not _IDENT.match(str(name)):
                problems.append(Diagnostic(f"item name `{name}` must be a plain name (letters, digits, _)", loc))
                continue
            inherited = data.items[ns].get(str(name)) if base is not None else None
            if isinstance(raw, dict) and set(raw) & {"changed_rows", "removed_rows", "removed"}:
                _override(data, ns, str(name), raw, inherited, doc, problems)
                continue
            if inherited is not None:
                overridden[f"{ns}.{name}"] = inherited
            item = _load_item(ns, str(name), raw, doc, problems)
            if item is None:
                continue
            if isinstance(item, TableItem):
                pending_same_as.append((ns, str(name), item, doc))
            else:
                data.items[ns][str(name)] = item
    # Tables next: those built `same_as` another need the other first (inherited tables count).
    done: dict[str, Table] = {it.path: it.value for it in data.all_items() if it.kind == "table"}
    for ns, name, spec, doc in sorted(pending_same_as, key=lambda p: p[2].same_as is not None):
        built = _build_table(ns, name, spec, doc, data, done, problems)
        if built is not None:
            data.items[ns][name] = built
            done[f"{ns}.{name}"] = built.value
    if problems:
        raise DataError(problems)
    for path_, old in overridden.items():
        ns, _, name = path_.partition(".")
        new = data.items[ns].get(name)
        if new is not None and _same_item(old, new):
            data.warnings.append(Diagnostic(f"`{path_}` repeats what it overrides (value and source as inherited "
                                            f"from {old.location.file})", new.location,
                                            hint="remove it: the inherited item applies", severity="warning"))
    return data


def _same_item(a: Item, b: Item) -> bool:
    return (a.kind == b.kind and a.raw == b.raw and a.source == b.source and a.confirmed == b.confirmed
            and a.note == b.note and a.unit == b.unit)


def _override(data: YearData, ns: str, name: str, raw: dict[str, Any], inherited: Item | None, doc: LocatedDoc,
              problems: list[Diagnostic]) -> None:
    """`removed: true`, or `changed_rows` / `removed_rows` of an inherited table."""
    loc = doc.where((name,))
    path = f"{ns}.{name}"
    bad = [k for k in raw if k not in _OVERRIDE_KEYS]
    for k in bad:
        guess = did_you_mean(str(k), _OVERRIDE_KEYS)
        problems.append(Diagnostic(f"unknown key `{k}` in `{path}` (a change to an inherited item)",
                                   doc.where((name, k)), f"did you mean `{guess}`?" if guess else
                                   f"allowed keys: {', '.join(sorted(_OVERRIDE_KEYS))}"))
    if bad:
        return
    if inherited is None:
        known = [it.path for it in data.all_items()]
        guess = did_you_mean(path, known)
        problems.append(Diagnostic(f"`{path}` changes or removes an item the year it extends does not have", loc,
                                   f"did you mean `{guess}`?" if guess else None))
        return
    if raw.get("removed") is True:
        if set(raw) - {"removed", "source", "note"}:
            problems.append(Diagnostic(f"`{path}`: `removed: true` takes no other changes", loc))
            return
        del data.items[ns][name]
        return
    if inherited.kind != "table":
        problems.append(Diagnostic(f"`{path}` is a value; give its new `value` instead of row changes", loc))
        return
    if not isinstance(raw.get("source"), str) or not raw["source"].strip():
        problems.append(Diagnostic(f"`{path}` needs a `source` for its changed rows", loc))
        return
    table: Table = inherited.value
    key_fields = (table.key_field,) if isinstance(table.key_field, str) else table.key_field
    rows = dict(table.rows)
    raw_rows = [dict(r) for r in (inherited.raw or [])]
    raw_index = {table.row_key(r): j for j, r in enumerate(raw_rows)}
    before = len(problems)
    for i, key in enumerate(raw.get("removed_rows") or []):
        k = table.row_key({f: v for f, v in zip(key_fields, key if len(key_fields) > 1 else [key])}) \
            if not isinstance(key, dict) else table.row_key(key)
        if k not in rows:
            problems.append(Diagnostic(f"`{path}` removes a row {format_key(k)} it does not have",
                                       doc.where((name, "removed_rows", i))))
            continue
        del rows[k]
        if k in raw_index:
            raw_rows[raw_index.pop(k)] = None  # type: ignore[call-overload]
    changed = raw.get("changed_rows") or []
    if not isinstance(changed, list):
        problems.append(Diagnostic(f"`{path}.changed_rows` must be a list of rows", loc))
        return
    reference = [r for r in raw_rows if r is not None][:1]
    for i, row in enumerate(changed):
        rloc = doc.where((name, "changed_rows", i))
        if not isinstance(row, dict) or any(f not in row for f in key_fields):
            problems.append(Diagnostic(f"row {i + 1} of `{path}.changed_rows` needs its key "
                                       f"({', '.join(key_fields)})", rloc))
            continue
        _put_row(rows, raw_rows, raw_index, table.key_field, table.row_key(row), row)
    _check_row_shapes(path, [*reference, *changed], "changed_rows", name, doc, problems) if reference else None
    spec = inherited.spec
    if spec is not None:
        _check_table(path, spec, rows, loc, loc, problems)
    if len(problems) > before:
        return
    data.items[ns][name] = Item(ns, name, "table", Table(path, table.key_field, rows, raw["source"]),
                                [r for r in raw_rows if r is not None], raw["source"],
                                bool(raw.get("confirmed", True)), None, raw.get("note", inherited.note),
                                bool(raw.get("carried_over", False)), loc, complete=inherited.complete, spec=spec)


def _load_item(ns: str, name: str, raw: Any, doc: LocatedDoc, problems: list[Diagnostic]) -> Item | TableItem | None:
    loc = doc.where((name,))
    if not isinstance(raw, dict):
        problems.append(Diagnostic(f"`{ns}.{name}` must be a mapping with `value` and `source` (or a table with "
                                   "`key` and `rows`)", loc))
        return None
    is_table = "rows" in raw or "same_as" in raw or "key" in raw
    allowed = _TABLE_KEYS if is_table else _VALUE_KEYS
    bad = [k for k in raw if k not in allowed]
    for k in bad:
        guess = did_you_mean(str(k), allowed)
        problems.append(Diagnostic(f"unknown key `{k}` in `{ns}.{name}`", doc.where((name, k)),
                                   f"did you mean `{guess}`?" if guess else f"allowed keys: {', '.join(sorted(allowed))}"))
    if bad:
        return None
    try:
        if is_table:
            fields = {("except_" if k == "except" else k): v for k, v in raw.items()}
            return TableItem.model_validate(fields)
        spec = ValueItem.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            path = tuple("except" if p == "except_" else p for p in err["loc"])
            where = doc.where((name, *path))
            missing = err["type"] == "missing"
            what = ".".join(str(p) for p in path)
            msg = f"`{ns}.{name}` needs `{what}`" if missing else f"`{ns}.{name}.{what}`: {err['msg']}"
            problems.append(Diagnostic(msg, where))
        return None
    if isinstance(spec.value, float):
        problems.append(Diagnostic(f"`{ns}.{name}` is not an exact number", loc))
        return None
    return Item(ns, name, "value", to_value(spec.value), spec.value, spec.source, spec.confirmed, spec.unit,
                spec.note, spec.carried_over, loc)


def _build_table(ns: str, name: str, spec: TableItem, doc: LocatedDoc, data: YearData, done: dict[str, Table],
                 problems: list[Diagnostic]) -> Item | None:
    loc = doc.where((name,))
    path = f"{ns}.{name}"
    before = len(problems)
    key_field: str | tuple[str, ...] = spec.key if isinstance(spec.key, str) else tuple(spec.key)
    key_fields = (key_field,) if isinstance(key_field, str) else key_field
    shape = Table(path, key_field)
    rows: dict[Any, dict[str, Any]] = {}
    raw_rows: list[dict[str, Any]] = []
    if spec.same_as is not None:
        if spec.rows is not None:
            problems.append(Diagnostic(f"`{path}` has both `rows` and `same_as`; use `except` to change rows", loc))
            return None
        base_name = spec.same_as if "." in spec.same_as else f"{ns}.{spec.same_as}"
        base = done.get(base_name)
        if base is None:
            guess = did_you_mean(base_name, done)
            problems.append(Diagnostic(f"`{path}` is `same_as` an unknown table `{spec.same_as}`",
                                       doc.where((name, "same_as")), f"did you mean `{guess}`?" if guess else None))
            return None
        base_item = data.items[base_name.split(".")[0]][base_name.split(".")[1]]
        if base.key_field != key_field:
            problems.append(Diagnostic(f"`{path}` is keyed by `{spec.key}` but `{base_name}` by `{base.key_field}`",
                                       doc.where((name, "key"))))
            return None
        rows = dict(base.rows)
        raw_rows = [dict(r) for r in base_item.raw]
        overrides, override_field = spec.except_ or [], "except"
    else:
        if spec.except_ is not None:
            problems.append(Diagnostic(f"`{path}` has `except` without `same_as`", doc.where((name, "except"))))
            return None
        if spec.rows is None:
            problems.append(Diagnostic(f"`{path}` needs `rows` (or `same_as`)", loc))
            return None
        overrides, override_field = spec.rows, "rows"
    seen: set[Any] = set()
    raw_index = {shape.row_key(r): j for j, r in enumerate(raw_rows)}
    for i, row in enumerate(overrides):
        rloc = doc.where((name, override_field, i))
        absent = [f for f in key_fields if f not in row]
        if absent:
            problems.append(Diagnostic(f"row {i + 1} of `{path}` has no key field `{absent[0]}`", rloc,
                                       _close_hint(row, absent[0])))
            continue
        key = shape.row_key(row)
        if key in seen:
            problems.append(Diagnostic(f"`{path}` has two rows for {format_key(key)}", rloc))
            continue
        seen.add(key)
        if spec.same_as is not None and key not in rows:
            problems.append(Diagnostic(f"`{path}` changes a row {format_key(key)} that `{spec.same_as}` does not have",
                                       rloc))
            continue
        _put_row(rows, raw_rows, raw_index, key_field, key, row)
    _check_row_shapes(path, overrides, override_field, name, doc, problems)
    _check_table(path, spec, rows, doc.where((name, "covers")), loc, problems)
    if len(problems) > before:
        return None
    table = Table(path, key_field, rows, spec.source)
    return Item(ns, name, "table", table, raw_rows, spec.source, spec.confirmed, None, spec.note,
                spec.carried_over, loc, complete=spec.complete, spec=spec)


def _put_row(rows: dict[Any, Any], raw_rows: list[Any], raw_index: dict[Any, int], key_field: Any, key: Any,
             row: dict[str, Any]) -> None:
    """Add or replace one row by its key, in the table's values and in its plain rows (for diffs)."""
    value_row = to_value(row)
    if isinstance(key_field, str):
        value_row[key_field] = key
    rows[key] = value_row
    if key in raw_index:
        raw_rows[raw_index[key]] = row
    else:
        raw_index[key] = len(raw_rows)
        raw_rows.append(row)


def _check_table(path: str, spec: Any, rows: dict[Any, Any], covers_loc: Location, loc: Location,
                 problems: list[Diagnostic]) -> None:
    """The table-wide checks a table declares (`covers`, `row_total`), for its rows as they now are."""
    if spec.covers is not None:
        _check_covers(path, spec.covers, rows, covers_loc, problems)
    if spec.row_total is not None:
        _check_totals(path, spec.row_total, rows, loc, problems)


def _close_hint(row: dict[str, Any], wanted: str) -> str | None:
    guess = did_you_mean(wanted, [str(k) for k in row])
    return f"is `{guess}` a misspelling of `{wanted}`?" if guess else None


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return None


def _check_row_shapes(path: str, rows: list[dict[str, Any]], field_name: str, name: str, doc: LocatedDoc,
                      problems: list[Diagnostic]) -> None:
    """Every row has the same fields (nested records too): a misspelt field never loads silently."""
    if not rows:
        return
    reference = _shape(rows[0])

    def compare(ref: Any, got: Any, at: tuple[Any, ...], i: int) -> None:
        if not isinstance(ref, dict) or not isinstance(got, dict):
            return
        for k in got:
            if k not in ref:
                guess = did_you_mean(str(k), [str(x) for x in ref])
                problems.append(Diagnostic(f"row {i + 1} of `{path}` has a field `{k}` that row 1 does not have",
                                           doc.where((name, field_name, i, *at, k)),
                                           f"did you mean `{guess}`?" if guess else None))
        for k in ref:
            if k not in got:
                problems.append(Diagnostic(f"row {i + 1} of `{path}` lacks the field `{k}`",
                                           doc.where((name, field_name, i, *at))))
            else:
                compare(ref[k], got[k], (*at, k), i)

    for i, row in enumerate(rows[1:], start=1):
        shape = _shape(row)
        if shape != reference:  # (the same fields: nothing to say)
            compare(reference, shape, (), i)


def _check_covers(path: str, covers: Covers, rows: dict[Any, Any], loc: Location, problems: list[Diagnostic]) -> None:
    universe = covers.subsets_of
    top = len(universe) if covers.max_size is None else covers.max_size
    missing = []
    for size in range(covers.min_size, top + 1):
        for combo in itertools.combinations(universe, size):
            s = frozenset(combo)
            if not set(covers.always) <= s or s & set(covers.never):
                continue
            if s not in rows:
                missing.append(format_key(s))
    if missing:
        problems.append(Diagnostic(f"`{path}` lacks a row for {', '.join(missing)}", loc,
                                   "its `covers` says every such combination must have a row"))


def _check_totals(path: str, total: RowTotal, rows: dict[Any, Any], loc: Location, problems: list[Diagnostic]) -> None:
    want = Decimal(total.equals)
    for key, row in rows.items():
        part = row.get(total.field)
        if not isinstance(part, dict):
            problems.append(Diagnostic(f"row {format_key(key)} of `{path}` has no record `{total.field}`", loc))
            continue
        nums = list(part.values())
        if not all(isinstance(v, Decimal) for v in nums):
            problems.append(Diagnostic(f"row {format_key(key)} of `{path}`: `{total.field}` must be numbers", loc))
            continue
        s = sum(nums, Decimal(0))
        if s != want and not (total.allow_all_zero and s == 0):
            problems.append(Diagnostic(f"row {format_key(key)} of `{path}`: `{total.field}` adds up to {s}, "
                                       f"not {want}", loc))


def apply_imported(data: YearData, tables: dict[str, list[dict[str, Any]]], keys: dict[str, Any],
                   source: str) -> None:
    """Merge imported reference rows into the year's tables; an imported row replaces the shipped one."""
    for path, rows in tables.items():
        ns, _, name = path.partition(".")
        item = data.items.setdefault(ns, {}).get(name)
        if item is not None and item.kind != "table":
            raise DataError(Diagnostic(f"`{path}` is a value in the rules but a table in the imported data",
                                       item.location))
        if item is None:
            key = keys.get(path, "id")
            table = Table(path, key if isinstance(key, str) else tuple(key), {}, source)
            item = Item(ns, name, "table", table, [], source, True, None, None, False, Location(source, 1, 1))
            data.items[ns][name] = item
        table = item.value
        merged = dict(table.rows)
        for row in rows:
            value_row = to_value(row)
            merged[table.row_key(value_row)] = value_row
        item.value = Table(table.name, table.key_field, merged, f"{table.source}; imported: {source}")
        item.imported_from = source
        item.complete = True
