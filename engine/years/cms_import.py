"""CMS's published reference data → a year folder (the only way it enters the project).

`import_reference(year, path, folder)` reads CMS's qpp-measures-data files of one
program year — `measures-data.json` (quality measures, improvement activities, PI and
cost measures) and `benchmarks.json` (or CMS's spreadsheet layout `benchmarks.csv`) —
in every layout CMS has published from 2017 to 2026 (deciles or percentiles; `aci` for
Promoting Interoperability; fields added over the years), and writes them into the year
folder as `measures.json` and `benchmarks.json`: exact decimals, rows sorted by key,
provenance (file names, sha256, the CMS commit when given, the date) in the file.

What it refuses: another year's files (benchmarks of another `performanceYear`,
measures first used after the year, a folder named for another year), a row without
the fields every year needs (IDs, category, submission method, percentiles or deciles,
whether the measure is inverse — 2019's benchmarks take it from the inventory, never a
default), duplicate rows. Fields it does not know are kept (in snake_case) so that rules
can read them; a year that needs a field the data lacks fails `check` (and so the import).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

from mips_rules.dsl.errors import DataError, Diagnostic, Location

PERCENTILES = ("1", "10", "20", "30", "40", "50", "60", "70", "80", "90", "99")

# CMS's spreadsheet names for collection types → the submission methods of QPP JSON.
CSV_COLLECTION_TYPES = {
    "ecqm": "electronicHealthRecord",
    "mips cqm": "registry",
    "qcdr measure": "registry",
    "medicare part b claims": "claims",
    "cms web interface": "cmsWebInterface",
    "administrative claims": "administrativeClaims",
    "cahps for mips survey": "certifiedSurveyVendor",
    "medicare cqm": "registry",
}

# CMS's category names over the years → the inventory tables.
CATEGORIES = {"quality": "quality", "ia": "ia", "pi": "pi", "aci": "pi", "cost": "cost"}

# Coding and documentation details CMS keeps in its inventory (value sets, codes, URLs,
# long descriptions): not kept, so that a year loads fast. Every other field is kept.
NOT_KEPT = frozenset({"description", "eligibilityOptions", "performanceOptions", "measureSpecification",
                      "eMeasureUuid", "strata", "historic_benchmarks", "allowedVendors"})

TABLE_KEYS: dict[str, str | tuple[str, ...]] = {
    "measures.quality": "measure_id", "measures.ia": "activity_id", "measures.pi": "measure_id",
    "measures.cost": "measure_id", "benchmarks.quality": ("measure_id", "submission_method"),
    "benchmarks.cost": ("measure_id", "submission_method"),
    "mvps.pathways": "mvp_id",
    "ecqm.measures": "e_measure_uuid",
}

TABLE_WHAT = {"measures.quality": "quality measures", "measures.ia": "improvement activities",
              "measures.pi": "Promoting Interoperability measures", "measures.cost": "cost measures",
              "benchmarks.quality": "quality benchmarks", "benchmarks.cost": "cost benchmarks",
              "mvps.pathways": "MIPS Value Pathways",
              "ecqm.measures": "eCQMs with their version-specific UUIDs (eMeasureUuid, strata eMeasureUuids)"}
TABLE_FILES = {"measures": "measures-data.json", "benchmarks": ("benchmarks.json", "benchmarks.csv"),
               "mvps": "mvp.json", "ecqm": "measures-data.json"}
"""The CMS file each namespace of the import comes from (its citation)."""


@dataclass
class SourceFile:
    name: str
    sha256: str
    rows: int


@dataclass
class ImportResult:
    year: int
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    files: list[SourceFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def sources(self) -> list[str]:
        return [f.name for f in self.files]

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()}


# ---------------------------------------------------------------------------
# Field conversions
# ---------------------------------------------------------------------------

def snake(name: str) -> str:
    """CMS's camelCase field names as the rules read them: `isSevenPointCapRemoved` → `is_seven_point_cap_removed`."""
    text = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    text = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", text)
    return text.lower()


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a number, not true/false")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return d


def _yes(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("y", "yes", "true", "1"):
        return True
    if text in ("n", "no", "false", "0"):
        return False
    raise ValueError(f"expected yes/no, got {value!r}")


def _plain(value: Any) -> Any:
    """A CMS value kept as it is, numbers as exact decimals."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        return _dec(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _need(m: dict[str, Any], key: str) -> Any:
    if key not in m or m[key] is None:
        raise ValueError(f"lacks `{key}`")
    return m[key]


def _kept(m: dict[str, Any], known: set[str]) -> dict[str, Any]:
    """The fields this importer does not map itself, in snake_case."""
    return {snake(k): _plain(v) for k, v in m.items() if k not in known and k not in NOT_KEPT}


def _quality_measure(m: dict[str, Any]) -> dict[str, Any]:
    first = m.get("firstPerformanceYear")
    row = {
        "measure_id": str(_need(m, "measureId")),
        "title": str(m.get("title") or ""),
        "measure_type": str(_need(m, "measureType")),
        "high_priority": _yes(_need(m, "isHighPriority")),
        "inverse": _yes(_need(m, "isInverse")),
        "first_performance_year": _dec(first) if first is not None else None,
        "metric_type": str(_need(m, "metricType")),
        "overall_algorithm": m.get("overallAlgorithm"),
        "submission_methods": [str(s) for s in _need(m, "submissionMethods")],
    }
    known = {"measureId", "title", "measureType", "isHighPriority", "isInverse", "firstPerformanceYear",
             "metricType", "overallAlgorithm", "submissionMethods", "category"}
    return {**row, **_kept(m, known)}


def _activity(m: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"activity_id": str(_need(m, "measureId")), "title": str(m.get("title") or "")}
    if "weight" in m:  # activities carried a weight until 2024; from 2025 the field is gone
        weight = m["weight"]
        if weight not in (None, "medium", "high"):
            raise ValueError(f"weight must be medium or high, got {weight!r}")
        row["weight"] = weight
    row["subcategory"] = m.get("subcategoryId")
    return {**row, **_kept(m, {"measureId", "title", "weight", "subcategoryId", "category"})}


def _pi_measure(m: dict[str, Any]) -> dict[str, Any]:
    exclusion = m.get("exclusion")
    row = {"measure_id": str(_need(m, "measureId")), "title": str(m.get("title") or ""),
           "objective": m.get("objective"), "reporting_category": m.get("reportingCategory"),
           "metric_type": str(_need(m, "metricType")), "required": _yes(_need(m, "isRequired")),
           "bonus": _yes(m.get("isBonus", False)),
           "exclusions": [str(e) for e in exclusion] if isinstance(exclusion, list) else
           ([str(exclusion)] if exclusion else []),
           "substitutes": [str(s) for s in m.get("substitutes") or []]}
    known = {"measureId", "title", "objective", "reportingCategory", "metricType", "isRequired", "isBonus",
             "exclusion", "substitutes", "category"}
    return {**row, **_kept(m, known)}


def _cost_measure(m: dict[str, Any]) -> dict[str, Any]:
    row = {"measure_id": str(_need(m, "measureId")), "title": str(m.get("title") or ""),
           "inverse": _yes(_need(m, "isInverse"))}
    return {**row, **_kept(m, {"measureId", "title", "isInverse", "category"})}


ECQM_POPULATIONS = {
    "initialPopulationUuid": "initial_population_uuid", "denominatorUuid": "denominator_uuid",
    "numeratorUuid": "numerator_uuid", "denominatorExclusionUuid": "denominator_exclusion_uuid",
    "denominatorExceptionUuid": "denominator_exception_uuid", "numeratorExclusionUuid": "numerator_exclusion_uuid",
}
"""CMS's population UUID fields (measures-schema.yaml `eMeasureUuids`) → the ecqm table's fields."""


def _uuid(value: Any, what: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
                                                     r"[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}", value.strip()):
        raise ValueError(f"{what} must be a UUID, got {value!r}")
    return value.strip().lower()


def _ecqm_row(m: dict[str, Any]) -> dict[str, Any]:
    """An eCQM's identifiers: its version-specific UUID (lower case: QRDA documents compare them
    case-insensitively), measure ID, eCQM ID, metric type and, per performance rate (CMS's `strata`
    that carry `eMeasureUuids`, in CMS's order), the UUIDs of its populations and stratifiers."""
    strata = []
    for k, s in enumerate(m.get("strata") or []):
        if not isinstance(s, dict) or s.get("eMeasureUuids") is None:
            continue  # a performance rate eCQMs do not report (e.g. 370's adults): no populations
        uuids = s["eMeasureUuids"]
        if not isinstance(uuids, dict):
            raise ValueError(f"strata[{k}].eMeasureUuids must be an object")
        row: dict[str, Any] = {"name": s.get("name")}
        for key, name in ECQM_POPULATIONS.items():
            row[name] = _uuid(uuids[key], f"strata[{k}].{key}") if uuids.get(key) is not None else None
        row["strata_uuids"] = [_uuid(u, f"strata[{k}].strata") for u in uuids.get("strata") or []]
        for key, value in uuids.items():
            if key not in ECQM_POPULATIONS and key != "strata":
                row[snake(key)] = _plain(value)
        if row["denominator_uuid"] is None or row["numerator_uuid"] is None:
            raise ValueError(f"strata[{k}].eMeasureUuids needs denominatorUuid and numeratorUuid")
        strata.append(row)
    return {"e_measure_uuid": _uuid(m["eMeasureUuid"], "eMeasureUuid"), "measure_id": str(_need(m, "measureId")),
            "e_measure_id": m.get("eMeasureId"), "metric_type": str(_need(m, "metricType")), "strata": strata}


_INVENTORY: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "quality": ("measures.quality", _quality_measure),
    "ia": ("measures.ia", _activity),
    "pi": ("measures.pi", _pi_measure),
    "cost": ("measures.cost", _cost_measure),
}


# ---------------------------------------------------------------------------
# Reading CMS's files
# ---------------------------------------------------------------------------

def _read_json_list(path: Path, what: str, result: ImportResult) -> list[Any] | None:
    """A CMS JSON file that must hold a list; a problem is recorded, not raised."""
    try:
        raw = path.read_bytes()
        data = json.loads(raw.decode("utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        result.problems.append(Diagnostic(f"cannot read the {what}: {exc}", Location(str(path), 1, 1)))
        return None
    except RecursionError:
        result.problems.append(Diagnostic(f"the {what} is nested too deeply", Location(str(path), 1, 1)))
        return None
    if not isinstance(data, list):
        result.problems.append(Diagnostic(f"the {what} must be a JSON list", Location(str(path), 1, 1)))
        return None
    result.files.append(SourceFile(path.name, hashlib.sha256(raw).hexdigest(), len(data)))
    return data


def read_inventory(path: Path, result: ImportResult) -> None:
    """measures-data.json: every quality measure, activity, PI and cost measure of the year."""
    data = _read_json_list(path, "measure inventory", result)
    if data is None:
        return
    where = Location(str(path), 1, 1)
    ecqm = result.tables.setdefault("ecqm.measures", [])  # empty when CMS lists no eCQM UUIDs (2026)
    for i, m in enumerate(data):
        if not isinstance(m, dict) or "measureId" not in m or "category" not in m:
            result.problems.append(Diagnostic(f"entry {i}: needs `measureId` and `category`", where))
            continue
        kind = _INVENTORY.get(CATEGORIES.get(str(m["category"]), ""))
        if kind is None:
            result.problems.append(Diagnostic(f"entry {i} ({m['measureId']}): unknown category {m['category']!r}",
                                              where))
            continue
        first = m.get("firstPerformanceYear")
        if isinstance(first, (int, Decimal)) and not isinstance(first, bool) and int(first) > result.year:
            result.problems.append(Diagnostic(
                f"entry {i} ({m['measureId']}): first performance year {first}, after {result.year}: "
                f"these are not the {result.year} files", where))
            continue
        last = m.get("lastPerformanceYear")
        if isinstance(last, (int, Decimal)) and not isinstance(last, bool) and int(last) < result.year:
            result.problems.append(Diagnostic(
                f"entry {i} ({m['measureId']}): last performance year {last}, before {result.year}: "
                f"these are not the {result.year} files", where))
            continue
        try:
            result.tables.setdefault(kind[0], []).append(kind[1](m))
            if kind[0] == "measures.quality" and m.get("eMeasureUuid") not in (None, ""):
                ecqm.append(_ecqm_row(m))
        except (KeyError, TypeError, ValueError) as exc:
            result.problems.append(Diagnostic(f"entry {i} ({m['measureId']}): {exc}", where))


def read_mvps(path: Path, result: ImportResult) -> None:
    """mvp.json: each MIPS Value Pathway of the year with its measures and activities (fields in
    snake_case, CMS's description kept out like the inventory's)."""
    data = _read_json_list(path, "MVP list", result)
    if data is None:
        return
    where = Location(str(path), 1, 1)
    for i, m in enumerate(data):
        if not isinstance(m, dict) or not isinstance(m.get("mvpId"), str):
            result.problems.append(Diagnostic(f"MVP entry {i}: needs `mvpId`", where))
            continue
        row = {snake(k): v for k, v in m.items() if k not in NOT_KEPT}
        for k, v in list(row.items()):
            if k.endswith("_ids") and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                result.problems.append(Diagnostic(f"MVP {m['mvpId']}: `{k}` must be a list of IDs", where))
        result.tables.setdefault("mvps.pathways", []).append(row)


def _percentiles_from_deciles(deciles: Any, inverse: bool) -> dict[str, Decimal | None]:
    """Older layouts (to 2021): 9 inclusive lower bounds of deciles 2–10 (the range's ends implied:
    0 and 100, or 100 and 0 for inverse measures), or 10 bounds (deciles 1–10) for non-proportion
    and cost measures. Decile k starts at p(10·(k−1)) — p(100 − 10·(k−1)) when inverse — and the
    first decile at p1 (p99 when inverse)."""
    if not isinstance(deciles, list) or len(deciles) not in (9, 10):
        raise ValueError("deciles must be a list of 9 or 10 numbers")
    values = [_dec(d) for d in deciles]
    if any(v is None for v in values):
        raise ValueError("deciles must be numbers")
    if len(values) == 9:
        first_start, other_end = (Decimal(100), Decimal(0)) if inverse else (Decimal(0), Decimal(100))
        starts = [first_start, *values]
    else:
        other_end = None
        starts = values
    names = ["p99", "p90", "p80", "p70", "p60", "p50", "p40", "p30", "p20", "p10"] if inverse else \
        ["p1", "p10", "p20", "p30", "p40", "p50", "p60", "p70", "p80", "p90"]
    out: dict[str, Decimal | None] = dict(zip(names, starts))
    out["p1" if inverse else "p99"] = other_end
    return {f"p{p}": out[f"p{p}"] for p in PERCENTILES}


def _percentiles(raw: Any) -> dict[str, Decimal | None]:
    if not isinstance(raw, dict):
        raise ValueError("percentiles must be a mapping of 1, 10 … 90, 99")
    out = {}
    for p in PERCENTILES:
        if p not in raw:
            raise ValueError(f"percentile {p} is missing")
        out[f"p{p}"] = _dec(raw[p])
    return out


_BENCHMARK_KNOWN = {"measureId", "submissionMethod", "isInverse", "isToppedOut", "isToppedOutByProgram",
                    "percentiles", "deciles", "performanceYear"}


def _benchmark_row(b: dict[str, Any], inverse_from_inventory: dict[str, bool]) -> tuple[dict[str, Any], str | None]:
    """A benchmark row, and a note when a field came from elsewhere than the benchmark itself."""
    measure_id = str(_need(b, "measureId")).strip()
    method = str(_need(b, "submissionMethod")).strip()
    if not measure_id or not method:
        raise ValueError("needs a measure ID and a submission method")
    note = None
    if b.get("isInverse") is not None:
        inverse = _yes(b["isInverse"])
    elif measure_id in inverse_from_inventory:
        inverse, note = inverse_from_inventory[measure_id], "isInverse from the measure inventory"
    else:
        raise ValueError("lacks `isInverse`, and the measure inventory does not say either")
    if b.get("percentiles") is not None:
        percentiles = _percentiles(b["percentiles"])
    elif b.get("deciles") is not None:
        percentiles = _percentiles_from_deciles(b["deciles"], inverse)
    else:
        raise ValueError("lacks `percentiles` (or the older `deciles`)")
    topped = b.get("isToppedOutByProgram")
    row = {"measure_id": measure_id, "submission_method": method, "inverse": inverse,
           "topped_out": _yes(_need(b, "isToppedOut")),
           "topped_out_by_program": None if topped is None or topped == "" else _yes(topped),
           "percentiles": percentiles}
    return {**row, **_kept(b, _BENCHMARK_KNOWN)}, note


def _check_benchmark_year(b: dict[str, Any], year: int) -> None:
    given = b.get("performanceYear")
    if given not in (None, "") and str(given).strip() != str(year):
        raise ValueError(f"a benchmark of {given}: these are not the {year} files")


def _inverse_index(result: ImportResult) -> dict[str, bool]:
    return {r["measure_id"]: r["inverse"] for table in ("measures.quality", "measures.cost")
            for r in result.tables.get(table, [])}


def read_benchmarks_json(path: Path, result: ImportResult) -> None:
    data = _read_json_list(path, "benchmarks", result)
    if data is None:
        return
    rows = result.tables.setdefault("benchmarks.quality", [])
    inverse = _inverse_index(result)
    notes = 0
    for i, b in enumerate(data):
        try:
            if not isinstance(b, dict):
                raise ValueError("not an object")
            _check_benchmark_year(b, result.year)
            row, note = _benchmark_row(b, inverse)
            rows.append(row)
            notes += note is not None
        except ValueError as exc:
            result.problems.append(Diagnostic(f"benchmark {i} ({b.get('measureId') if isinstance(b, dict) else '?'}): "
                                              f"{exc}", Location(str(path), 1, 1)))
    if notes:
        result.notes.append(f"{path.name}: isInverse taken from the measure inventory for {notes} benchmarks")


def read_benchmarks_csv(path: Path, result: ImportResult) -> None:
    """CMS's spreadsheet layout: one row per measure and collection type ("eCQM", "MIPS CQM" …)."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        result.problems.append(Diagnostic(f"cannot read the benchmarks: {exc}", Location(str(path), 1, 1)))
        return
    reader = csv.DictReader(text.splitlines())
    needed = {"measureId", "submissionMethod", "isInverse", "isToppedOut", "isToppedOutByProgram",
              *(f"percentile{p}" for p in PERCENTILES)}
    missing = needed - set(reader.fieldnames or [])
    if missing:
        result.problems.append(Diagnostic(f"the CSV lacks the columns {', '.join(sorted(missing))}",
                                          Location(str(path), 1, 1)))
        return
    rows = result.tables.setdefault("benchmarks.quality", [])
    count = 0
    for row in reader:
        line = reader.line_num
        count += 1
        try:
            method_name = (row["submissionMethod"] or "").strip()
            method = CSV_COLLECTION_TYPES.get(method_name.lower())
            if method is None:
                raise ValueError(f"unknown collection type {method_name!r}")
            _check_benchmark_year(row, result.year)
            b = {k: v for k, v in row.items() if k is not None and not k.startswith("percentile")}
            b.update(submissionMethod=method, percentiles={p: row[f"percentile{p}"] for p in PERCENTILES})
            rows.append(_benchmark_row(b, {})[0])
        except ValueError as exc:
            result.problems.append(Diagnostic(f"row {line}: {exc}", Location(str(path), line, 1)))
    result.files.append(SourceFile(path.name, hashlib.sha256(raw).hexdigest(), count))


def read_cms_folder(year: int, folder: Path) -> ImportResult:
    """Read the files CMS publishes for a year from one folder (or one file)."""
    result = ImportResult(int(year))
    folder = Path(folder)
    if folder.is_file():
        files = [folder]
    elif folder.is_dir():
        files = sorted(folder.iterdir())
        if re.fullmatch(r"(19|20)\d\d", folder.name) and int(folder.name) != int(year):
            raise DataError(Diagnostic(f"{folder} holds CMS's {folder.name} files, not {year}'s",
                                       hint=f"import them as `rulesctl data import {folder.name} {folder}`"))
    else:
        raise DataError(Diagnostic(f"not found: {folder}"))
    names = {f.name: f for f in files}
    if "measures-data.json" in names:
        read_inventory(names["measures-data.json"], result)
    if "benchmarks.json" in names:
        read_benchmarks_json(names["benchmarks.json"], result)
    elif "benchmarks.csv" in names:
        read_benchmarks_csv(names["benchmarks.csv"], result)
    if "mvp.json" in names:
        read_mvps(names["mvp.json"], result)
    if not result.files and not result.problems:
        raise DataError(Diagnostic(f"no CMS files found in {folder}",
                                   hint="expected measures-data.json and benchmarks.json (or benchmarks.csv)"))
    _split_cost_benchmarks(result)
    _uniform(result)
    _dedupe(result)
    return result


def _split_cost_benchmarks(result: ImportResult) -> None:
    """Cost measures' benchmarks (same file as quality's) go to their own table, `benchmarks.cost`."""
    rows = result.tables.get("benchmarks.quality")
    if rows is None:
        return
    cost_ids = {r["measure_id"] for r in result.tables.get("measures.cost", [])}

    def is_cost(row: dict[str, Any]) -> bool:
        return row["measure_id"] in cost_ids or row["measure_id"].startswith(("COST_", "TPCC", "MSPB"))

    result.tables["benchmarks.cost"] = [r for r in rows if is_cost(r)]
    result.tables["benchmarks.quality"] = [r for r in rows if not is_cost(r)]


def _uniform(result: ImportResult) -> None:
    """Every row of a table has the same fields (null where CMS's entry lacks one), sorted by key."""
    for table, rows in result.tables.items():
        fields: dict[str, None] = {}
        for row in rows:
            fields.update(dict.fromkeys(row))
        key = TABLE_KEYS[table]
        key_fields = (key,) if isinstance(key, str) else key
        result.tables[table] = sorted(({f: row.get(f) for f in fields} for row in rows),
                                      key=lambda r: tuple(str(r[f]) for f in key_fields))


def _dedupe(result: ImportResult) -> None:
    for table, rows in result.tables.items():
        key = TABLE_KEYS[table]
        fields = (key,) if isinstance(key, str) else key
        seen: set[tuple[Any, ...]] = set()
        for row in rows:
            k = tuple(row[f] for f in fields)
            if k in seen:
                result.problems.append(Diagnostic(f"{table}: {' / '.join(map(str, k))} appears twice"))
            seen.add(k)


# ---------------------------------------------------------------------------
# Writing the year folder's files
# ---------------------------------------------------------------------------

_NUMBER = "\x00number:"


def _jsonable(value: Any) -> Any:
    """Decimals marked for `_dumps`, which writes them as the exact JSON numbers they are."""
    if isinstance(value, Decimal):
        return _NUMBER + (format(value, "f") if value == value.to_integral_value() else str(value))
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _dumps(value: Any, indent: int | None = None) -> str:
    text = json.dumps(_jsonable(value), indent=indent, ensure_ascii=False, separators=(",", ": ") if indent
                      else (", ", ": "))
    return re.sub(r'"\\u0000number:([^"]*)"', r"\1", text)


def _file_text(content: dict[str, Any]) -> str:
    """One JSON object a line for rows (easy to read and to diff), the rest indented."""
    parts = []
    for name, item in content.items():
        if isinstance(item, dict) and "rows" in item:
            head = {k: v for k, v in item.items() if k != "rows"}
            rows = ",\n".join("    " + _dumps(r) for r in item["rows"])
            parts.append(f'  {json.dumps(name)}: {_dumps(head)[:-1]}, "rows": [\n{rows}\n  ]}}')
        else:
            parts.append(f"  {json.dumps(name)}: " + _dumps(item, 2).replace("\n", "\n  "))
    return "{\n" + ",\n".join(parts) + "\n}\n"


def provenance(result: ImportResult, cms_commit: str | None, imported_on: str, importer: str) -> dict[str, Any]:
    return {"importer": importer, "performance_year": result.year, "cms_commit": cms_commit,
            "imported_on": imported_on,
            "files": [{"name": f.name, "sha256": f.sha256, "rows": f.rows} for f in result.files],
            "not_kept": sorted(NOT_KEPT), "notes": result.notes}


def data_files(result: ImportResult, cms_commit: str | None, imported_on: str,
               importer: str) -> dict[str, str]:
    """The year folder's new data files (file name → text): `measures.json`, `benchmarks.json`."""
    prov = provenance(result, cms_commit, imported_on, importer)
    by_file: dict[str, dict[str, Any]] = {}
    for table in sorted(result.tables):
        ns, _, name = table.partition(".")
        rows = result.tables[table]
        wanted = TABLE_FILES.get(ns, ())
        wanted = (wanted,) if isinstance(wanted, str) else wanted
        origin = next((f for f in result.files if f.name in wanted), None)
        cite = (f"CMS qpp-measures-data {origin.name} for {result.year} (sha256 {origin.sha256[:12]}…"
                + (f", commit {cms_commit}" if cms_commit else "") + f"): {len(rows)} {TABLE_WHAT[table]}"
                if origin else f"CMS qpp-measures-data for {result.year}: {len(rows)} {TABLE_WHAT[table]}")
        key = TABLE_KEYS[table]
        item = {"source": cite, "key": key if isinstance(key, str) else list(key), "rows": rows}
        if ns == "measures":
            item["complete"] = True
        by_file.setdefault(ns, {"provenance": prov})[name] = item
    return {f"{ns}.json": _file_text(content) for ns, content in by_file.items()}


SUPERSEDED = {"measures.json": "measures.yaml", "benchmarks.json": "benchmarks.yaml"}
"""A hand-written subset a complete import replaces (one data file per namespace)."""


def staged_copy(folder: Path, files: dict[str, str], into: Path) -> Path:
    """A copy of the year folder's data and rule files with the new files in place, to check before writing."""
    target = into / folder.name
    target.mkdir(parents=True)
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink() and path.suffix in (".yaml", ".json", ".rules") \
                and path.name not in files and path.name not in SUPERSEDED.values():
            (target / path.name).write_bytes(path.read_bytes())
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    return target


def install(folder: Path, files: dict[str, str]) -> list[Path]:
    """Write each file atomically, then remove the subsets they replace (engine/outputs).

    Every target is checked first (a regular file or a new path in the year folder), then every file
    is written to a synced temporary file, and only then are they renamed into place: a refused
    target or an OS error (permissions, a full disk) leaves the folder as it was, as an OutputError."""
    import os
    import tempfile

    from mips_rules.engine.cli.outputs import check_output, commit, write_error

    targets = {name: check_output(folder / name) for name in sorted(files)}
    staged: dict[str, Path] = {}
    try:
        for name, target in targets.items():
            try:
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}-", suffix=".tmp")
            except OSError as exc:
                raise write_error(target, exc) from None
            staged[name] = Path(tmp)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(files[name])
                    out.flush()
                    os.fsync(out.fileno())
            except OSError as exc:
                raise write_error(target, exc) from None
        written = []
        for name, target in targets.items():
            try:
                commit(staged[name], target)
            except OSError as exc:
                raise write_error(target, exc) from None
            del staged[name]
            written.append(target)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
    for name in files:
        old = folder / SUPERSEDED.get(name, "")
        if name in SUPERSEDED and old.is_file() and not old.is_symlink():
            try:
                old.unlink()
            except OSError as exc:
                raise DataError(Diagnostic(f"imported {', '.join(sorted(files))} but cannot remove the subset "
                                           f"{old} they replace: {exc.strerror or exc}; remove it by hand")) from None
    return written
