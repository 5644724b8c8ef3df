"""Compare two years of rules semantically: values by rule path, table rows by their key,
formulas as text diffs of their definitions, reference data (CMS's inventories and benchmarks)
as rows added, removed and changed per table, each changed row with the fields that changed."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from mips_rules.dsl.errors import Diagnostic, RulesError, did_you_mean
from mips_rules.dsl.values import equal, format_key, to_plain
from mips_rules.engine.years.loader import Year
from mips_rules.engine.years.data_files import Item

# Namespaces holding CMS reference data: hundreds of rows, so reported per table (rows added, removed,
# changed) rather than as one change per row.
def reference_namespaces(*years: Any) -> list[str]:
    """CMS's reference data (inventories, benchmarks, MVPs): the namespaces written by
    `rulesctl data import`, known by their provenance record — summarised, not listed item by item."""
    return sorted({ns for y in years for ns in (getattr(y.data, "provenance", None) or {})})


@dataclass
class Change:
    """One difference between the two rule sets, addressed by its rule path."""

    path: str
    kind: str  # changed | added | removed
    old: Any = None
    new: Any = None
    old_source: str | None = None
    new_source: str | None = None
    group: str = ""  # the data file or rule file it belongs to
    text_diff: str | None = None  # for formulas

    def as_dict(self) -> dict[str, Any]:
        out = {"path": self.path, "kind": self.kind, "group": self.group, "old": to_plain(self.old),
               "new": to_plain(self.new), "old_source": self.old_source, "new_source": self.new_source}
        if self.text_diff is not None:
            out["diff"] = self.text_diff
        return out


@dataclass
class YearDiff:
    old_label: str
    new_label: str
    changes: list[Change] = field(default_factory=list)
    reference: list[dict[str, Any]] = field(default_factory=list)
    narrowed: str | None = None  # the --only prefix, when given: reference rows are then listed in full

    @property
    def same(self) -> bool:
        return not self.changes and not any(r["added"] or r["removed"] or r["changed"] for r in self.reference)

    def only(self, prefix: str | None) -> "YearDiff":
        if not prefix:
            return self
        keep = [c for c in self.changes if c.path.startswith(prefix)]
        ref = [n for n in (_narrow_reference(r, prefix) for r in self.reference) if n is not None]
        return YearDiff(self.old_label, self.new_label, keep, ref, narrowed=prefix)

    def as_dict(self) -> dict[str, Any]:
        return {"old": self.old_label, "new": self.new_label, "same": self.same, "only": self.narrowed,
                "changes": [c.as_dict() for c in self.changes],
                "reference": [{**r, "changed": [{"key": c["key"], "fields": [
                    {"field": f["field"], "old": to_plain(f["old"]), "new": to_plain(f["new"])} for f in c["fields"]]}
                    for c in r["changed"]]} for r in self.reference]}


def row_path(table: str, key: str) -> str:
    """A reference row's path: `measures.ia[IA_EPA_1]`, `benchmarks.quality[001, registry]`."""
    return f"{table}{key}" if key.startswith("[") else f"{table}[{key}]"


def _narrow_reference(entry: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    """A reference table's summary under `--only`: the whole table (`benchmarks.`, `benchmarks.quality`),
    its rows whose path starts with the prefix (`benchmarks.quality[001`), or nothing."""
    table = entry["table"]
    if table.startswith(prefix) or prefix in (table + ".", table + "["):
        return entry
    if not prefix.startswith(table + "["):
        return None
    added = [k for k in entry["added"] if row_path(table, k).startswith(prefix)]
    removed = [k for k in entry["removed"] if row_path(table, k).startswith(prefix)]
    changed = [c for c in entry["changed"] if row_path(table, c["key"]).startswith(prefix)]
    if not (added or removed or changed):
        return None
    return {**entry, "added": added, "removed": removed, "changed": changed,
            "counts": {"added": len(added), "removed": len(removed), "changed": len(changed)}}


def _scalar_list(value: Any) -> bool:
    return isinstance(value, tuple) and all(not isinstance(v, (dict, tuple)) for v in value)


def _compare(path: str, old: Any, new: Any, ctx: dict[str, Any], out: list[Change]) -> None:
    """Record the differences between two values, recursing into records field by field."""
    if equal(old, new):
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for k in old:
            sub = f"{path}.{k}"
            if k not in new:
                out.append(Change(sub, "removed", old=old[k], **ctx))
            else:
                _compare(sub, old[k], new[k], ctx, out)
        for k in new:
            if k not in old:
                out.append(Change(f"{path}.{k}", "added", new=new[k], **ctx))
        return
    if _scalar_list(old) and _scalar_list(new) and frozenset(old) == frozenset(new):
        return  # same members, another order: not a policy change
    out.append(Change(path, "changed", old=old, new=new, **ctx))


def _compare_items(ns: str, name: str, a: Item | None, b: Item | None, out: list[Change]) -> None:
    path = f"{ns}.{name}"
    ctx = {"old_source": a.source if a else None, "new_source": b.source if b else None, "group": f"{ns}.yaml"}
    if a is None:
        out.append(Change(path, "added", new=b.value if b.kind == "value" else f"table of {len(b.value)} rows", **ctx))
        return
    if b is None:
        out.append(Change(path, "removed", old=a.value if a.kind == "value" else f"table of {len(a.value)} rows", **ctx))
        return
    if a.kind != b.kind:
        out.append(Change(path, "changed", old=a.kind, new=b.kind, **ctx))
        return
    if a.kind == "value":
        _compare(path, a.value, b.value, ctx, out)
    else:
        rows_a, rows_b = a.value.rows, b.value.rows
        for key, row in rows_a.items():
            label = f"{path}[{format_key(key)}]"
            if key not in rows_b:
                out.append(Change(label, "removed", old=_without_key(row, a.value.key_field), **ctx))
            else:
                _compare(label, _without_key(row, a.value.key_field), _without_key(rows_b[key], b.value.key_field),
                         ctx, out)
        for key, row in rows_b.items():
            if key not in rows_a:
                out.append(Change(f"{path}[{format_key(key)}]", "added",
                                  new=_without_key(row, b.value.key_field), **ctx))
    if a.confirmed != b.confirmed:
        out.append(Change(f"{path}.confirmed", "changed", old=a.confirmed, new=b.confirmed, **ctx))


def _without_key(row: dict[str, Any], key: Any) -> dict[str, Any]:
    fields = (key,) if isinstance(key, str) else tuple(key)
    return {k: v for k, v in row.items() if k not in fields}


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _formula_changes(a: Year, b: Year, out: list[Change]) -> None:
    for name in sorted(set(a.definitions) | set(b.definitions)):
        da, db = a.definitions.get(name), b.definitions.get(name)
        group = _file_of(db or da)
        ctx = {"old_source": da.source if da else None, "new_source": db.source if db else None, "group": group}
        if da is None:
            out.append(Change(f"rule {name}", "added", new=db.text, **ctx))
        elif db is None:
            out.append(Change(f"rule {name}", "removed", old=da.text, **ctx))
        elif _normalise(da.text) != _normalise(db.text):
            diff = "\n".join(difflib.unified_diff(da.text.splitlines(), db.text.splitlines(), a.folder.name,
                                                  b.folder.name, lineterm="", n=2))
            out.append(Change(f"rule {name}", "changed", old=da.text, new=db.text, text_diff=diff, **ctx))


def _file_of(d: Any) -> str:
    return d.loc.file.replace("\\", "/").rsplit("/", 1)[-1]


def _row_changes(label: str, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields of one row that differ, nested records field by field (`percentiles.p50`)."""
    found: list[Change] = []
    _compare(label, old, new, {}, found)
    return [{"field": c.path[len(label) + 1:], "old": c.old, "new": c.new} for c in found]


def _reference_summary(a: Year, b: Year) -> list[dict[str, Any]]:
    """Per reference table: the keys of the rows added and removed, and each changed row with its
    changed fields (old → new)."""
    out = []
    for ns in reference_namespaces(a, b):
        names = sorted(set(a.data.items.get(ns, {})) | set(b.data.items.get(ns, {})))
        for name in names:
            ia, ib = a.data.items.get(ns, {}).get(name), b.data.items.get(ns, {}).get(name)
            rows_a = ia.value.rows if ia and ia.kind == "table" else {}
            rows_b = ib.value.rows if ib and ib.kind == "table" else {}
            key_a = ia.value.key_field if ia and ia.kind == "table" else ()
            key_b = ib.value.key_field if ib and ib.kind == "table" else ()
            added = sorted(format_key(k) for k in rows_b if k not in rows_a)
            removed = sorted(format_key(k) for k in rows_a if k not in rows_b)
            changed = []
            for k, row in rows_b.items():
                if k in rows_a:
                    fields = _row_changes(format_key(k), _without_key(rows_a[k], key_a), _without_key(row, key_b))
                    if fields:
                        changed.append({"key": format_key(k), "fields": fields})
            changed.sort(key=lambda c: c["key"])
            out.append({"table": f"{ns}.{name}", "old_rows": len(rows_a), "new_rows": len(rows_b),
                        "counts": {"added": len(added), "removed": len(removed), "changed": len(changed)},
                        "added": added, "removed": removed, "changed": changed})
    return out


def rule_paths(y: Year) -> set[str]:
    """Every path `--only` can name in a year: namespaces, items, reference tables, `rule NAME`."""
    paths = {f"rule {name}" for name in y.definitions}
    for ns, items in y.data.items.items():
        paths.add(ns)
        paths.update(f"{ns}.{name}" for name in items)
    return paths


def check_only(prefix: str, a: Year, b: Year, old_label: str, new_label: str) -> None:
    """`--only` must name something in one of the two years; a typo is an error with a did-you-mean."""
    paths = rule_paths(a) | rule_paths(b)
    for p in paths:
        if p.startswith(prefix):
            return
        # Inside an item: a record's field (`quality.app_required.`) or a table row (`pi.exclusions[PI_`).
        if "." in p and not p.startswith("rule ") and prefix.startswith(p) and prefix[len(p)] in ".[":
            return
    candidates = paths | {p + "." for p in paths if not p.startswith("rule ")}
    guess = did_you_mean(prefix, candidates)
    if guess is None:  # a misspelt namespace followed by more: `qualty.case_minimum`
        head, dot, tail = prefix.partition(".")
        ns = did_you_mean(head, [p for p in paths if "." not in p and not p.startswith("rule ")])
        if ns and dot:
            guess = did_you_mean(f"{ns}.{tail}", candidates) or f"{ns}."
    raise RulesError(Diagnostic(
        f"--only {prefix!r} matches nothing in {old_label} or {new_label}",
        hint=(f"did you mean `{guess}`?" if guess else
              "give the start of a rule path: a data file (`quality.`), an item (`quality.case_minimum`), "
              "a reference table (`benchmarks.quality`) or a rule (`rule final_score`)")))


def diff_years(a: Year, b: Year, old_label: str | None = None, new_label: str | None = None, *,
               only: str | None = None) -> YearDiff:
    """Everything that differs between two years; `only` narrows it to the paths starting with that
    prefix and must match a path of one of the years (RulesError otherwise)."""
    old_label, new_label = old_label or str(a.performance_year), new_label or str(b.performance_year)
    if only:
        check_only(only, a, b, old_label, new_label)
    changes: list[Change] = []
    namespaces = sorted((set(a.data.items) | set(b.data.items)) - set(reference_namespaces(a, b)))
    for ns in namespaces:
        items_a, items_b = a.data.items.get(ns, {}), b.data.items.get(ns, {})
        for name in list(items_a) + [n for n in items_b if n not in items_a]:
            if name == "performance_year" and ns == "program":
                continue  # every year differs in its year; that is what is being compared
            _compare_items(ns, name, items_a.get(name), items_b.get(name), changes)
    _formula_changes(a, b, changes)
    return YearDiff(old_label, new_label, changes, _reference_summary(a, b)).only(only)


def value_text(value: Any) -> str:
    """A value as an analyst reads it: 75, [389, 488], {quality: 30, …}."""
    from mips_rules.engine.scoring.render import format_number
    from decimal import Decimal

    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Decimal, int)):
        return format_number(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, frozenset):
        return format_key(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in value.items()) + "}"
    return str(value)
