"""Start a new program year from an existing one: a copy whose every value is marked as
carried over (not yet reviewed), so `rulesctl check` warns until an analyst reviews it.

The copy also records what it was copied from in `<folder>/.new-year` (JSON: the source year and
the field names of each reference table's rows), so that `review_warnings` can list what else
there is to review: citations that still name the old year, and definitions reading fields of
reference data that the new year's data no longer has (or has with another kind of value).
Delete `.new-year` when the review is done."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping

from mips_rules.dsl.errors import DataError, Diagnostic, Location, RulesError
from mips_rules.dsl.values import type_name
from mips_rules.engine.inputs.safe_yaml import load_yaml

CARRIED = "  carried_over: true"
MARKER = ".new-year"  # not *.yaml / *.json: the loader must not read it as data


def new_year(root: Path, year: int, source_year: int) -> Path:
    """Make `root/<year>`, a folder that extends `root/<source_year>` and holds only what changes: its
    `year.yaml` (`extends:`) and a `program.yaml` with the new performance and payment years (the payment
    year marked `carried_over` for review). Everything else is inherited until the analyst overrides it;
    `rulesctl show PATH --year <year>` says where each value comes from. Nothing is written unless the
    whole folder is made; the new folder must be a new path (never over a file, a link or a folder); any
    OS error is a RulesError naming the path, with nothing left behind."""
    src, dest = root / str(source_year), root / str(year)
    if not src.is_dir():
        raise RulesError(Diagnostic(f"no rules for {source_year} in {root}"))
    if os.path.lexists(dest):
        what = "" if dest.is_dir() and not dest.is_symlink() else " (and is not a folder)"
        raise RulesError(Diagnostic(f"{dest} already exists{what}; remove it or pick another year"))
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{year}-", dir=root))
    except OSError as exc:
        raise RulesError(Diagnostic(f"cannot create {dest}: {exc.strerror or exc}")) from None
    try:
        work = tmp / str(year)
        (work / "tests").mkdir(parents=True)
        source = _load_source(src)
        program = source.namespaces()["program"]
        offset = int(program["payment_year"]) - int(program["performance_year"])
        (work / "year.yaml").write_text(
            f"# The {year} performance year: the {source_year} year with the changes in this folder (made by\n"
            f"# `rulesctl new-year`). Add each changed item or definition here, with its source.\n"
            f"extends: {source_year}\n", encoding="utf-8")
        (work / "program.yaml").write_text(
            f"# {year} changes to the program values; every other item is inherited from {source_year}.\n\n"
            f"performance_year:\n  value: {year}\n"
            f"  source: \"set by rulesctl new-year: cite the {year} final rule\"\n\n"
            f"payment_year:\n  value: {year + offset}\n{CARRIED}\n"
            f"  note: payment year = performance year + {offset}, as in {source_year}\n"
            f"  source: \"set by rulesctl new-year: cite the {year} final rule\"\n", encoding="utf-8")
        _write_marker(work, source, year, source_year)
        if os.path.lexists(dest):  # made meanwhile: never replace it
            raise RulesError(Diagnostic(f"{dest} already exists; remove it or pick another year"))
        work.rename(dest)
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        raise RulesError(Diagnostic(f"cannot create {dest}: {exc.strerror or exc}{where}")) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _load_source(src: Path) -> Any:
    """The year a new year extends, loaded (its effective data says the payment year and the fields)."""
    from mips_rules.engine.years.loader import load_year

    return load_year(None, src)


# ---------------------------------------------------------------------------------------------------
# What else a new year's copy needs reviewed: old-year citations and reference fields that changed.

def _kind(value: Any) -> str | None:
    """The rule language's name of a data value's kind (lists and tuples alike); none for null."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"
    return "list" if isinstance(value, list) else type_name(value)


def reference_fields(data: Any) -> dict[str, dict[str, list[str]]]:
    """Per reference table (`measures.ia`): each field of its rows (records one level down:
    `percentiles.p50`) → the kinds of value it holds (number, text, …; none is left out)."""
    out: dict[str, dict[str, list[str]]] = {}
    for ns in sorted(getattr(data, "provenance", None) or {}):  # CMS's imported data, as the year diff reads it
        for name, item in sorted(data.items.get(ns, {}).items()):
            if item.kind != "table":
                continue
            fields: dict[str, set[str]] = {}
            for row in item.value.rows.values():
                for f, v in row.items():
                    kinds = fields.setdefault(f, set())
                    if _kind(v):
                        kinds.add(_kind(v))  # type: ignore[arg-type]
                    if isinstance(v, dict):
                        for sub, sv in v.items():
                            sub_kinds = fields.setdefault(f"{f}.{sub}", set())
                            if _kind(sv):
                                sub_kinds.add(_kind(sv))  # type: ignore[arg-type]
            out[f"{ns}.{name}"] = {f: sorted(k) for f, k in sorted(fields.items())}
    return out


def _write_marker(work: Path, source: Any, year: int, source_year: int) -> None:
    fields = reference_fields(source.data)  # the effective data, inherited rows too
    text = json.dumps({"from": source_year, "year": year, "reference_fields": fields}, indent=1, sort_keys=True)
    (work / MARKER).write_text(text + "\n", encoding="utf-8")


def read_marker(folder: Path) -> dict[str, Any] | None:
    """What `new-year` recorded about the folder's source, or None (not a new-year copy, or reviewed)."""
    path = Path(folder) / MARKER
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or not isinstance(marker.get("from"), int):
        return None
    return marker


def _names_year(text: str | None, year: int) -> bool:
    return bool(text) and re.search(rf"(?<!\d){year}(?!\d)", text or "") is not None


def _file_name(loc: Location) -> str:
    return loc.file.replace("\\", "/").rsplit("/", 1)[-1]


def _readers(field: str, definitions: Iterable[Any], namespaces: set[str]) -> list[Any]:
    """Definitions whose text reads `field` of a record: `x.field` (x not a data file or an input)
    or `"field"` (get/has by name)."""
    leaf = field.rsplit(".", 1)[-1]
    dotted = re.compile(rf"(\w+)\s*\.\s*{re.escape(leaf)}\b")
    quoted = re.compile(rf"\"{re.escape(leaf)}\"")
    skip = namespaces | {"context", "submission"}
    out = []
    for d in definitions:
        if quoted.search(d.text) or any(m.group(1) not in skip for m in dotted.finditer(d.text)):
            out.append(d)
    return out


def field_changes(old: Mapping[str, Mapping[str, list[str]]], new: Mapping[str, Mapping[str, list[str]]]
                  ) -> list[tuple[str, str, str]]:
    """(table, field, how) for each field of a reference table's rows that vanished or now holds
    another kind of value. Tables absent on either side are left out (a missing table is a check error)."""
    out = []
    for table, fields in old.items():
        if table not in new:
            continue
        now = new[table]
        for f, kinds in fields.items():
            if f not in now:
                out.append((table, f, "vanished"))
            elif kinds and now[f] and not set(now[f]) <= set(kinds):
                out.append((table, f, f"held {' or '.join(kinds)}, now {' or '.join(now[f])}"))
    return out


def review_warnings(folder: Path, data: Any, definitions: Mapping[str, Any]) -> list[Diagnostic]:
    """Warnings for a folder made by `rulesctl new-year` (it has a `.new-year` marker): data items and
    definitions whose citation names the year it was copied from, and definitions reading a field of
    reference data that the folder's rows no longer have (or hold with another kind of value).
    Nothing for any other folder. Meant to be added to a year's warnings when it loads."""
    marker = read_marker(folder)
    if marker is None:
        return []
    old = marker["from"]
    hint = (f"cite this year's source, or confirm the {old} one still applies; "
            f"delete {MARKER} in the folder when the whole review is done")
    out: list[Diagnostic] = []
    for ns, items in sorted(data.items.items()):
        named = [it for it in items.values() if _names_year(it.source, old)]
        if named:
            out.append(Diagnostic(
                f"{len(named)} citation(s) in `{ns}` name {old}, the year this folder was copied from: "
                + ", ".join(it.name for it in named),
                Location(named[0].location.file, named[0].location.line, 1), hint=hint, severity="warning"))
    by_file: dict[str, list[Any]] = {}
    for d in sorted(definitions.values(), key=lambda d: (d.loc.file, d.loc.line)):
        if _names_year(d.source, old):
            by_file.setdefault(d.loc.file, []).append(d)
    for file, defs in by_file.items():
        out.append(Diagnostic(
            f"{len(defs)} rule citation(s) (@source) in {_file_name(defs[0].loc)} name {old}, the year this "
            f"folder was copied from: " + ", ".join(d.name for d in defs),
            Location(file, defs[0].loc.line, 1), hint=hint, severity="warning"))
    namespaces = set(data.items)
    for table, field, how in field_changes(marker.get("reference_fields") or {}, reference_fields(data)):
        readers = _readers(field, definitions.values(), namespaces)
        if not readers:
            continue
        what = (f"no longer have the field `{field}`" if how == "vanished"
                else f"changed the field `{field}` ({how})")
        out.append(Diagnostic(
            f"the rows of `{table}` {what} since {old}; definitions reading "
            f"`.{field.rsplit('.', 1)[-1]}`: "
            + ", ".join(f"{d.name} ({_file_name(d.loc)}:{d.loc.line})" for d in readers),
            Location(readers[0].loc.file, readers[0].loc.line, 1),
            hint=f"check each still reads what the {table} rows hold now", severity="warning"))
    return out


def review_folder(folder: Path) -> list[Diagnostic]:
    """`review_warnings` for a folder read as it is, without checking or compiling it (it may not load
    yet, e.g. after new reference data removed a field its rules read), plus its carried-over values."""
    from mips_rules.dsl.parser import parse_file
    from mips_rules.engine.years.data_files import YearData, load_data_dir

    from mips_rules.engine.years.loader import default_rules_root
    from mips_rules.engine.years.layers import chain

    folder = Path(folder)
    try:
        layers = [layer.folder for layer in chain(folder, default_rules_root())]
    except RulesError:
        layers = [folder]
    data: YearData | None = None
    definitions: dict[str, Any] = {}
    for layer in layers:  # the effective year: inherited items and definitions too
        try:
            data = load_data_dir(layer, data)
        except DataError:
            data = data or YearData()
        for path in sorted(layer.glob("*.rules")):
            try:
                definitions.update((d.name, d) for d in parse_file(path))
            except RulesError:
                continue
    data = data or YearData()
    carried = [f"{ns}.{it.name}" for ns, items in sorted(data.items.items()) for it in items.values()
               if it.carried_over]
    out = []
    if carried:
        out.append(Diagnostic(f"{len(carried)} value(s) still carried over, not yet reviewed (`rulesctl check` "
                              "lists them file by file)", severity="warning"))
    return out + review_warnings(folder, data, definitions)


def rule_test_notes(folder: Path, year: int) -> list[str]:
    """Rule-test files of a copied folder whose cases give another year (they fail until re-dated)."""
    from mips_rules.engine.workbench.rule_tests import load_cases

    notes = []
    for path in sorted((Path(folder) / "tests").glob("*.yaml")):
        try:
            cases = load_cases(path)
        except RulesError:
            continue
        others = 0
        for case in cases:
            years = {case.year}
            for value, key in ((case.submission, "performanceYear"), (case.context, "performance_year")):
                if isinstance(value, str):
                    try:
                        value = load_yaml(path.parent / value).data
                    except (RulesError, OSError):
                        value = None
                if isinstance(value, dict):
                    years.add(value.get(key))
            if any(y is not None and str(y) != str(year) for y in years):
                others += 1
        if others:
            notes.append(f"tests/{path.name}: {others} of {len(cases)} case(s) give another year than {year}; "
                         f"they fail until re-dated (rule tests run against the folder they are in)")
    return notes
