"""Score whole populations: JSONL in, one compact report (or error) per line out.

Each worker process compiles the year once; records are scored in chunks, in
input order. Output goes to a temporary file that is renamed only when the
batch is complete, so a final name never holds a partial result.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from dsl.errors import RulesError

CHUNK = 200

# Per-process state: the compiled year, loaded once per worker.
_WORKER: dict[str, Any] = {}


@dataclass
class BatchStats:
    records: int = 0
    failed: int = 0


def compact(report: dict[str, Any], record_id: Any) -> dict[str, Any]:
    """The population view of a report: id, final score, category scores and weights, adjustment."""
    return {
        "id": record_id,
        "performance_year": report["performance_year"],
        "final_score": report["final_score"],
        "categories": {c: {"score": v["score"], "weight": v["weight"]} for c, v in report["categories"].items()},
        "payment_adjustment": {k: report["payment_adjustment"][k] for k in ("applies", "direction", "percent")},
    }


def init_worker(year: int, rules: str | None, reference: str | None) -> None:
    """Load and compile the year once in this process."""
    from engine.year import load_year

    _WORKER["year"] = load_year(year, Path(rules) if rules else None,
                                reference=Path(reference) if reference else None)


def score_line(line_no: int, text: str) -> dict[str, Any]:
    """Score one JSONL record; any problem becomes an error line, never an exception."""
    from engine.context import Context, parse_context, resolve_performance_year
    from engine.scoring import score
    from engine.submission import parse_submission

    year = _WORKER["year"]
    record_id: Any = None
    try:
        try:
            record = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except (json.JSONDecodeError, ValueError) as exc:
            return {"id": None, "line": line_no, "error": f"not JSON: {exc}"}
        if not isinstance(record, dict) or "submission" not in record:
            return {"id": None, "line": line_no, "error": "a record needs `id`, `submission` and `context`"}
        record_id = record.get("id")
        sub = parse_submission(record["submission"], source=f"line {line_no}: submission")
        ctx = parse_context(record.get("context") or {}, source=f"line {line_no}: context") \
            if record.get("context") is not None else Context()
        resolve_performance_year(sub, ctx, requested=year.performance_year)
        return compact(score(year, sub, ctx).report, record_id)
    except RulesError as exc:
        return {"id": record_id, "line": line_no, "error": " | ".join(d.message for d in exc.diagnostics)}
    except RecursionError:
        return {"id": record_id, "line": line_no, "error": "record nested too deeply"}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def score_chunk(chunk: list[tuple[int, str]]) -> list[dict[str, Any]]:
    return [score_line(n, text) for n, text in chunk]


def chunks(lines: Iterable[str], size: int = CHUNK, start: int = 1) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for n, line in enumerate(lines, start=start):
        if not line.strip():
            continue
        batch.append((n, line))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


CSV_FIELDS = ["id", "line", "performance_year", "final_score", "quality_score", "quality_weight", "cost_score",
              "cost_weight", "ia_score", "ia_weight", "pi_score", "pi_weight", "adjustment_applies",
              "adjustment_direction", "adjustment_percent", "error"]


def csv_row(result: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"id": result.get("id"), "line": result.get("line"), "error": result.get("error")}
    if "error" not in result:
        row["performance_year"] = result["performance_year"]
        row["final_score"] = result["final_score"]
        for c, v in result["categories"].items():
            row[f"{c}_score"], row[f"{c}_weight"] = v["score"], v["weight"]
        adj = result["payment_adjustment"]
        row["adjustment_applies"], row["adjustment_direction"], row["adjustment_percent"] = (
            adj["applies"], adj["direction"], adj["percent"])
    return row


class Writer:
    """Writes results to a temporary file beside the target; `commit` renames it into place."""

    def __init__(self, target: Path, fmt: str):
        self.target = target
        self.fmt = fmt
        fd, self.tmp = tempfile.mkstemp(dir=target.resolve().parent, prefix=f".{target.name}.", suffix=".part")
        self.handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self.csv = csv.DictWriter(self.handle, fieldnames=CSV_FIELDS) if fmt == "csv" else None
        if self.csv:
            self.csv.writeheader()

    def write(self, result: dict[str, Any]) -> None:
        from engine.render import format_number

        if self.csv:
            self.csv.writerow({k: (format_number(v) if isinstance(v, Decimal) else v)
                               for k, v in csv_row(result).items()})
        else:
            from engine.render import to_json

            self.handle.write(to_json(result, indent=None))

    def commit(self) -> None:
        self.handle.close()
        os.chmod(self.tmp, 0o644)
        os.replace(self.tmp, self.target)

    def abort(self) -> None:
        self.handle.close()
        Path(self.tmp).unlink(missing_ok=True)


def run_local(input_path: Path, output: Path, year: int, *, rules: Path | None = None, reference: Path | None = None,
              fmt: str = "jsonl", workers: int | None = None,
              progress: Callable[[int], None] | None = None) -> BatchStats:
    """Score every line with a pool of processes (or in this process when workers == 1)."""
    import multiprocessing

    stats = BatchStats()
    writer = Writer(output, fmt)
    init_args = (year, str(rules) if rules else None, str(reference) if reference else None)
    try:
        with open(input_path, encoding="utf-8", errors="replace") as lines:
            parts = chunks(lines)
            if workers == 1:
                init_worker(*init_args)
                results: Iterable[list[dict[str, Any]]] = map(score_chunk, parts)
                _drain(results, writer, stats, progress)
            else:
                ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
                with ctx.Pool(workers or os.cpu_count() or 1, initializer=init_worker, initargs=init_args) as pool:
                    _drain(pool.imap(score_chunk, parts), writer, stats, progress)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return stats


def _drain(results: Iterable[list[dict[str, Any]]], writer: Writer, stats: BatchStats,
           progress: Callable[[int], None] | None) -> None:
    for chunk in results:
        for r in chunk:
            writer.write(r)
            stats.records += 1
            if "error" in r:
                stats.failed += 1
        if progress:
            progress(len(chunk))


def run_dask(input_path: Path, output: Path, year: int, scheduler: str, *, rules: Path | None = None,
             reference: Path | None = None, fmt: str = "jsonl",
             progress: Callable[[int], None] | None = None) -> BatchStats:
    """The same batch on a Dask distributed cluster; each worker compiles the year once."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise RulesError("the Dask engine needs the `dask` extra: pip install 'mips-rules[dask]'") from None
    stats = BatchStats()
    writer = Writer(output, fmt)
    init_args = (year, str(rules) if rules else None, str(reference) if reference else None)
    try:
        with Client(scheduler) as client, open(input_path, encoding="utf-8", errors="replace") as lines:
            futures = [client.submit(_dask_chunk, init_args, part, pure=False) for part in chunks(lines)]
            for future in futures:  # in input order
                _drain([future.result()], writer, stats, progress)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return stats


def _dask_chunk(init_args: tuple[Any, ...], part: list[tuple[int, str]]) -> list[dict[str, Any]]:
    if _WORKER.get("args") != init_args:
        init_worker(*init_args)
        _WORKER["args"] = init_args
    return score_chunk(part)


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def read_results(path: Path) -> list[dict[str, Any]]:
    """For tests and tools: the JSONL results, numbers as Decimal."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line, parse_float=Decimal) for line in handle if line.strip()]
