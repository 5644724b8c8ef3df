"""Score whole populations: JSONL in, one compact report (or error) per line out.

Each worker process compiles the year once; records are scored in chunks, in
input order. Output goes to a temporary file that is renamed only when the
batch is complete, so a final name never holds a partial result.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from mips_rules.dsl.errors import RulesError

CHUNK = 200

# Per-process state: the compiled year, loaded once per worker.
_WORKER: dict[str, Any] = {}


@dataclass
class BatchStats:
    records: int = 0
    failed: int = 0
    resumed: int = 0  # records already in the part file when --resume started


def compact(report: dict[str, Any], record_id: Any) -> dict[str, Any]:
    """The population view of a report: id, final score, category scores and weights, adjustment."""
    return {
        "id": record_id,
        "performance_year": report["performance_year"],
        "rules_fingerprint": report["rules_fingerprint"],
        "final_score": report["final_score"],
        "categories": {c: {"score": v["score"], "weight": v["weight"]} for c, v in report["categories"].items()},
        "payment_adjustment": {k: report["payment_adjustment"][k] for k in ("applies", "direction", "percent")},
    }


def init_worker(year: int, rules: str | None) -> None:
    """Load and compile the year once in this process."""
    from mips_rules.engine.year import load_year

    _WORKER["year"] = load_year(year, Path(rules) if rules else None)


def score_line(line_no: int, text: str) -> dict[str, Any]:
    """Score one JSONL record; any problem becomes an error line, never an exception."""
    from mips_rules.engine.context import Context, parse_context, resolve_performance_year
    from mips_rules.engine.scoring import score
    from mips_rules.engine.submission import parse_submission

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
        return compact(score(year, sub, ctx, detail=False).report, record_id)
    except RulesError as exc:
        return {"id": record_id, "line": line_no, "error": " | ".join(d.message for d in exc.diagnostics)}
    except RecursionError:
        return {"id": record_id, "line": line_no, "error": "record nested too deeply"}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def score_chunk(chunk: list[tuple[int, str]]) -> list[dict[str, Any]]:
    return [score_line(n, text) for n, text in chunk]


def format_result(result: dict[str, Any], fmt: str) -> str:
    """One output line (JSON, or a CSV row), made in the worker so the parent only writes text."""
    from mips_rules.engine.render import format_number, to_json

    if fmt == "csv":
        out = io.StringIO()
        csv.DictWriter(out, fieldnames=CSV_FIELDS).writerow(
            {k: (format_number(v) if isinstance(v, Decimal) else v) for k, v in csv_row(result).items()})
        return out.getvalue()
    return to_json(result, indent=None)


def score_chunk_text(fmt: str, chunk: list[tuple[int, str]]) -> list[tuple[str, bool]]:
    """Score and format a chunk: (output line, whether the record failed) per record."""
    return [(format_result(r, fmt), "error" in r) for r in score_chunk(chunk)]


CSV_FIELDS = ["id", "line", "performance_year", "rules_fingerprint", "final_score", "quality_score", "quality_weight", "cost_score",
              "cost_weight", "ia_score", "ia_weight", "pi_score", "pi_weight", "adjustment_applies",
              "adjustment_direction", "adjustment_percent", "error"]


def csv_row(result: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"id": result.get("id"), "line": result.get("line"), "error": result.get("error")}
    if "error" not in result:
        row["performance_year"] = result["performance_year"]
        row["rules_fingerprint"] = result["rules_fingerprint"]
        row["final_score"] = result["final_score"]
        for c, v in result["categories"].items():
            row[f"{c}_score"], row[f"{c}_weight"] = v["score"], v["weight"]
        adj = result["payment_adjustment"]
        row["adjustment_applies"], row["adjustment_direction"], row["adjustment_percent"] = (
            adj["applies"], adj["direction"], adj["percent"])
    return row


def part_path(target: Path) -> Path:
    """Where a batch writes until it is complete (kept on interruption, for --resume)."""
    return target.with_name(f".{target.name}.part")


class Writer:
    """Writes results to `.NAME.part` beside the target; `commit` renames it into place.

    On an interruption the part file stays (never under the final name) so that `--resume`
    can continue from the records already written.
    """

    def __init__(self, target: Path, fmt: str, *, resume: bool = False):
        self.target = target
        self.fmt = fmt
        self.tmp = part_path(target)
        self.done = 0
        if resume and self.tmp.exists():
            self.done = _complete_records(self.tmp, fmt)
            self.handle = open(self.tmp, "a", encoding="utf-8", newline="")  # noqa: SIM115
        else:
            self.handle = open(self.tmp, "w", encoding="utf-8", newline="")  # noqa: SIM115
        if fmt == "csv" and self.handle.tell() == 0:
            csv.DictWriter(self.handle, fieldnames=CSV_FIELDS).writeheader()

    def write(self, line: str) -> None:
        self.handle.write(line)

    def flush(self) -> None:
        self.handle.flush()

    def commit(self) -> None:
        self.handle.close()
        os.chmod(self.tmp, 0o644)
        os.replace(self.tmp, self.target)

    def abort(self) -> None:
        """Keep what is complete for --resume; never leave anything under the final name."""
        self.handle.flush()
        self.handle.close()


def _complete_records(path: Path, fmt: str) -> int:
    """Count whole records in a part file and cut off a half-written last line."""
    data = path.read_bytes()
    keep = data[: data.rfind(b"\n") + 1]
    if len(keep) != len(data):
        with open(path, "r+b") as handle:
            handle.truncate(len(keep))
    lines = keep.count(b"\n")
    return lines - 1 if fmt == "csv" and lines else lines


def _skip(lines: Iterable[str], done: int) -> Iterator[tuple[int, str]]:
    """Numbered non-empty lines, after the first `done` of them."""
    seen = 0
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        seen += 1
        if seen > done:
            yield n, line


def numbered_chunks(numbered: Iterable[tuple[int, str]], size: int = CHUNK) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for item in numbered:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _in_order(executor: Any, fn: Callable[..., Any], parts: Iterable[Any], window: int) -> Iterator[Any]:
    """Results of fn over parts, in order, with at most `window` chunks in flight (bounded memory)."""
    from collections import deque

    pending: deque[Any] = deque()
    for part in parts:
        pending.append(executor.submit(fn, part))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def run_local(input_path: Path, output: Path, year: int, *, rules: Path | None = None,
              fmt: str = "jsonl", workers: int | None = None, resume: bool = False,
              progress: Callable[[int], None] | None = None) -> BatchStats:
    """Score every line with a pool of processes (or in this process when workers == 1).

    A worker that dies (killed, out of memory) stops the batch with an error; the part file
    keeps every record written so far.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    stats = BatchStats()
    writer = Writer(output, fmt, resume=resume)
    stats.resumed = writer.done
    init_args = (year, str(rules) if rules else None)
    try:
        with open(input_path, encoding="utf-8", errors="replace") as lines:
            parts = numbered_chunks(_skip(lines, writer.done))
            work = functools.partial(score_chunk_text, fmt)
            if workers == 1:
                init_worker(*init_args)
                _drain(map(work, parts), writer, stats, progress)
            else:
                n = workers or os.cpu_count() or 1
                ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
                with ProcessPoolExecutor(n, mp_context=ctx, initializer=init_worker, initargs=init_args) as pool:
                    try:
                        _drain(_in_order(pool, work, parts, 4 * n), writer, stats, progress)
                    except BrokenProcessPool:
                        raise RulesError("a worker process died; the records written so far are kept in "
                                         f"{writer.tmp} — run again with --resume to continue") from None
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return stats


def _drain(results: Iterable[list[tuple[str, bool]]], writer: Writer, stats: BatchStats,
           progress: Callable[[int], None] | None) -> None:
    for chunk in results:
        for line, failed in chunk:
            writer.write(line)
            stats.records += 1
            if failed:
                stats.failed += 1
        writer.flush()
        if progress:
            progress(len(chunk))


def run_dask(input_path: Path, output: Path, year: int, scheduler: str, *, rules: Path | None = None,
             fmt: str = "jsonl", resume: bool = False,
             progress: Callable[[int], None] | None = None) -> BatchStats:
    """The same batch on a Dask distributed cluster; each worker compiles the year once."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise RulesError("the Dask engine needs the `dask` extra: pip install 'mips-rules[dask]'") from None
    stats = BatchStats()
    writer = Writer(output, fmt, resume=resume)
    stats.resumed = writer.done
    init_args = (year, str(rules) if rules else None)
    try:
        with Client(scheduler) as client, open(input_path, encoding="utf-8", errors="replace") as lines:
            parts = numbered_chunks(_skip(lines, writer.done))
            _drain(_in_order(_DaskSubmitter(client, init_args, fmt), None, parts, 16), writer, stats, progress)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return stats


class _DaskSubmitter:
    """Lets `_in_order` drive a Dask client like an executor."""

    def __init__(self, client: Any, init_args: tuple[Any, ...], fmt: str):
        self.client = client
        self.init_args = init_args
        self.fmt = fmt

    def submit(self, _fn: Any, part: list[tuple[int, str]]) -> Any:
        return self.client.submit(_dask_chunk, self.init_args, self.fmt, part, pure=False)


def _dask_chunk(init_args: tuple[Any, ...], fmt: str, part: list[tuple[int, str]]) -> list[tuple[str, bool]]:
    if _WORKER.get("args") != init_args:
        init_worker(*init_args)
        _WORKER["args"] = init_args
    return score_chunk_text(fmt, part)


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def read_results(path: Path) -> list[dict[str, Any]]:
    """For tests and tools: the JSONL results, numbers as Decimal."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line, parse_float=Decimal) for line in handle if line.strip()]
