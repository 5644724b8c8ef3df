"""Reference data from CMS's published files: measure and activity inventories, benchmarks.

`import_reference` reads CMS's qpp-measures-data files for a year
(`measures-data.json`, and `benchmarks.json` or the spreadsheet layout
`benchmarks.csv`), validates them, and stores normalised tables where the
engine finds them. When a year loads, imported rows take precedence over the
small cited subset shipped in `rules/<year>/measures.yaml` and
`benchmarks.yaml`; rows only the subset has are kept.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
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

STORE_FILE = "reference.json"


def reference_home() -> Path:
    """Where imported reference data lives: `$MIPS_REFERENCE_DIR`, else ~/.local/share/mips-rules/reference."""
    env = os.environ.get("MIPS_REFERENCE_DIR")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "mips-rules" / "reference"


@dataclass
class ImportResult:
    year: int
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()}


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
    if text in ("n", "no", "false", "0", ""):
        return False
    raise ValueError(f"expected yes/no, got {value!r}")


def _percentiles(raw: Any) -> dict[str, Decimal | None]:
    if not isinstance(raw, dict):
        raise ValueError("percentiles must be a mapping of 1, 10 … 90, 99")
    out = {}
    for p in PERCENTILES:
        if p not in raw:
            raise ValueError(f"percentile {p} is missing")
        out[f"p{p}"] = _dec(raw[p])
    return out


def _quality_measure(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "measure_id": str(m["measureId"]),
        "title": str(m.get("title") or ""),
        "measure_type": str(m.get("measureType") or ""),
        "high_priority": bool(m.get("isHighPriority", False)),
        "inverse": bool(m.get("isInverse", False)),
        "first_performance_year": int(m["firstPerformanceYear"]) if m.get("firstPerformanceYear") else None,
        "metric_type": m.get("metricType"),
        "overall_algorithm": m.get("overallAlgorithm"),
        "submission_methods": [str(s) for s in m.get("submissionMethods") or []],
    }


def _activity(m: dict[str, Any]) -> dict[str, Any]:
    weight = m.get("weight")
    if weight not in (None, "medium", "high"):
        raise ValueError(f"weight must be medium or high, got {weight!r}")
    return {"activity_id": str(m["measureId"]), "title": str(m.get("title") or ""), "weight": weight,
            "subcategory": m.get("subcategoryId")}


def _pi_measure(m: dict[str, Any]) -> dict[str, Any]:
    exclusion = m.get("exclusion")
    return {"measure_id": str(m["measureId"]), "title": str(m.get("title") or ""),
            "objective": m.get("objective"), "reporting_category": m.get("reportingCategory"),
            "metric_type": m.get("metricType"), "required": bool(m.get("isRequired", False)),
            "bonus": bool(m.get("isBonus", False)),
            "exclusions": [str(e) for e in exclusion] if isinstance(exclusion, list) else
            ([str(exclusion)] if exclusion else []),
            "substitutes": [str(s) for s in m.get("substitutes") or []]}


def _cost_measure(m: dict[str, Any]) -> dict[str, Any]:
    return {"measure_id": str(m["measureId"]), "title": str(m.get("title") or ""),
            "inverse": bool(m.get("isInverse", True))}


_INVENTORY: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "quality": ("measures.quality", _quality_measure),
    "ia": ("measures.ia", _activity),
    "pi": ("measures.pi", _pi_measure),
    "cost": ("measures.cost", _cost_measure),
}


def _read_json_list(path: Path, what: str, result: ImportResult) -> list[Any] | None:
    """A CMS JSON file that must hold a list; a problem is recorded, not raised."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        result.problems.append(Diagnostic(f"cannot read the {what}: {exc}", Location(str(path), 1, 1)))
        return None
    if not isinstance(data, list):
        result.problems.append(Diagnostic(f"the {what} must be a JSON list", Location(str(path), 1, 1)))
        return None
    result.sources.append(str(path))
    return data


def read_inventory(path: Path, result: ImportResult) -> None:
    """measures-data.json: every quality measure, activity, PI and cost measure of the year."""
    data = _read_json_list(path, "measure inventory", result)
    if data is None:
        return
    for table, _ in _INVENTORY.values():
        result.tables.setdefault(table, [])
    for i, m in enumerate(data):
        where = Location(str(path), 1, 1)
        if not isinstance(m, dict) or "measureId" not in m or "category" not in m:
            result.problems.append(Diagnostic(f"entry {i}: needs `measureId` and `category`", where))
            continue
        kind = _INVENTORY.get(str(m["category"]))
        if kind is None:
            result.problems.append(Diagnostic(f"entry {i} ({m['measureId']}): unknown category {m['category']!r}", where))
            continue
        try:
            result.tables[kind[0]].append(kind[1](m))
        except (KeyError, TypeError, ValueError) as exc:
            result.problems.append(Diagnostic(f"entry {i} ({m['measureId']}): {exc}", where))


def _benchmark_row(measure_id: Any, method: Any, inverse: Any, topped: Any, topped_program: Any,
                   percentiles: dict[str, Any]) -> dict[str, Any]:
    if not measure_id or not method:
        raise ValueError("needs a measure ID and a submission method")
    return {"measure_id": str(measure_id), "submission_method": str(method), "inverse": _yes(inverse),
            "topped_out": _yes(topped), "topped_out_by_program": _yes(topped_program),
            "percentiles": _percentiles(percentiles)}


def read_benchmarks_json(path: Path, result: ImportResult) -> None:
    data = _read_json_list(path, "benchmarks", result)
    if data is None:
        return
    rows = result.tables.setdefault("benchmarks.quality", [])
    for i, b in enumerate(data):
        try:
            if not isinstance(b, dict):
                raise ValueError("not an object")
            rows.append(_benchmark_row(b.get("measureId"), b.get("submissionMethod"), b.get("isInverse", False),
                                       b.get("isToppedOut", False), b.get("isToppedOutByProgram", False),
                                       b.get("percentiles")))
        except ValueError as exc:
            result.problems.append(Diagnostic(f"benchmark {i} ({b.get('measureId') if isinstance(b, dict) else '?'}): "
                                              f"{exc}", Location(str(path), 1, 1)))


def read_benchmarks_csv(path: Path, result: ImportResult) -> None:
    """CMS's spreadsheet layout: one row per measure and collection type ("eCQM", "MIPS CQM" …)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        result.problems.append(Diagnostic(f"cannot read the benchmarks: {exc.strerror}", Location(str(path), 1, 1)))
        return
    result.sources.append(str(path))
    rows = result.tables.setdefault("benchmarks.quality", [])
    with handle:
        reader = csv.DictReader(handle)
        needed = {"measureId", "submissionMethod", "isInverse", "isToppedOut", "isToppedOutByProgram",
                  *(f"percentile{p}" for p in PERCENTILES)}
        missing = needed - set(reader.fieldnames or [])
        if missing:
            result.problems.append(Diagnostic(f"the CSV lacks the columns {', '.join(sorted(missing))}",
                                              Location(str(path), 1, 1)))
            return
        for row in reader:
            line = reader.line_num
            try:
                method_name = (row["submissionMethod"] or "").strip()
                method = CSV_COLLECTION_TYPES.get(method_name.lower())
                if method is None:
                    raise ValueError(f"unknown collection type {method_name!r}")
                rows.append(_benchmark_row(row["measureId"].strip(), method, row["isInverse"], row["isToppedOut"],
                                           row["isToppedOutByProgram"],
                                           {p: row[f"percentile{p}"] for p in PERCENTILES}))
            except ValueError as exc:
                result.problems.append(Diagnostic(f"row {line}: {exc}", Location(str(path), line, 1)))


def read_cms_folder(year: int, folder: Path) -> ImportResult:
    """Read the files CMS publishes for a year from one folder (or one file)."""
    result = ImportResult(year)
    folder = Path(folder)
    if folder.is_file():
        files = [folder]
    elif folder.is_dir():
        files = sorted(folder.iterdir())
    else:
        raise DataError(Diagnostic(f"not found: {folder}"))
    names = {f.name: f for f in files}
    if "measures-data.json" in names:
        read_inventory(names["measures-data.json"], result)
    if "benchmarks.json" in names:
        read_benchmarks_json(names["benchmarks.json"], result)
    elif "benchmarks.csv" in names:
        read_benchmarks_csv(names["benchmarks.csv"], result)
    if not result.sources:
        raise DataError(Diagnostic(f"no CMS files found in {folder}",
                                   hint="expected measures-data.json and benchmarks.json (or benchmarks.csv)"))
    _split_cost_benchmarks(result)
    _dedupe(result)
    return result


def _split_cost_benchmarks(result: ImportResult) -> None:
    """Cost measures' benchmarks (same file as quality's) go to their own table, `benchmarks.cost`."""
    rows = result.tables.get("benchmarks.quality")
    if not rows:
        return
    cost_ids = {r["measure_id"] for r in result.tables.get("measures.cost", [])}

    def is_cost(row: dict[str, Any]) -> bool:
        return row["measure_id"] in cost_ids or row["measure_id"].startswith(("COST_", "TPCC", "MSPB"))

    result.tables["benchmarks.cost"] = [r for r in rows if is_cost(r)]
    result.tables["benchmarks.quality"] = [r for r in rows if not is_cost(r)]


TABLE_KEYS: dict[str, str | tuple[str, ...]] = {
    "measures.quality": "measure_id", "measures.ia": "activity_id", "measures.pi": "measure_id",
    "measures.cost": "measure_id", "benchmarks.quality": ("measure_id", "submission_method"),
    "benchmarks.cost": ("measure_id", "submission_method"),
}


def _dedupe(result: ImportResult) -> None:
    for table, rows in result.tables.items():
        key = TABLE_KEYS[table]
        fields = (key,) if isinstance(key, str) else key
        seen: dict[tuple[Any, ...], int] = {}
        for row in rows:
            k = tuple(row[f] for f in fields)
            if k in seen:
                result.problems.append(Diagnostic(f"{table}: {' / '.join(map(str, k))} appears twice"))
            seen[k] = 1


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def store(result: ImportResult, home: Path | None = None) -> Path:
    """Write the year's tables atomically (temporary file, then rename); numbers as exact decimal text."""
    target_dir = (home or reference_home()) / str(result.year)
    target_dir.mkdir(parents=True, exist_ok=True)
    payload = {"year": result.year, "imported_from": result.sources,
               "tables": {name: _jsonable(rows) for name, rows in result.tables.items()}}
    fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".reference-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(payload, out, separators=(",", ":"))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target_dir / STORE_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target_dir / STORE_FILE


def import_reference(year: int, path: Path, home: Path | None = None) -> tuple[ImportResult, Path | None]:
    """Read CMS's files and store them, unless there were problems (then nothing is written)."""
    result = read_cms_folder(year, path)
    if result.problems:
        return result, None
    return result, store(result, home)


def _restore_numbers(value: Any, numeric: bool = False) -> Any:
    if isinstance(value, dict):
        return {k: _restore_numbers(v, k == "percentiles" or numeric) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_numbers(v) for v in value]
    if numeric and isinstance(value, str):
        return Decimal(value)
    return value


def load_imported(year: int, home: Path | None = None) -> tuple[dict[str, list[dict[str, Any]]], Path | None]:
    """The imported tables of a year (table path → rows), or nothing when none were imported."""
    path = (home or reference_home()) / str(year) / STORE_FILE
    if not path.is_file():
        return {}, None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        tables = payload["tables"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(Diagnostic(f"imported reference data is unreadable: {exc}", Location(str(path), 1, 1),
                                   hint=f"run `rulesctl data import {year} PATH` again")) from None
    return {name: [_restore_numbers(r) for r in rows] for name, rows in tables.items()}, path
