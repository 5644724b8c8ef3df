"""Score whole populations: JSONL in, one compact report (or error) per line out.

Each worker process compiles the year once; records are scored in chunks, in
input order. Output goes to a temporary file that is renamed only when the
batch is complete, so a final name never holds a partial result.

The part file (`.NAME.part`) has a sidecar, `.NAME.part.meta`, recording what it
belongs to: the input's sha256, the format (and CSV columns), the year and the
rules' fingerprint; `--resume` refuses a part file written for anything else.
On SIGTERM the workers are stopped and the part file is kept for `--resume`.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from mips_rules.dsl.errors import Diagnostic, InputError, RulesError
from mips_rules.engine.years.report_declaration import ReportField, ReportLayout
from mips_rules.engine.cli.outputs import USAGE, OutputError, check_output, commit, sha256_file, write_error, write_file

CHUNK = 200
DASK_CONNECT_TIMEOUT = 5  # seconds to reach the Dask scheduler before giving up

# Per-process state: the compiled year, loaded once per worker.
_WORKER: dict[str, Any] = {}


@dataclass
class BatchStats:
    records: int = 0
    failed: int = 0
    resumed: int = 0  # records already in the part file when --resume started


def compact(report: dict[str, Any], record_id: Any, layout: ReportLayout) -> dict[str, Any]:
    """The population view of a report: the id and the fields the year gives a batch column
    (`column:` in report.yaml — the final score, category scores and weights, the adjustment)."""
    return {"id": record_id, "performance_year": report["performance_year"],
            "rules_fingerprint": report["rules_fingerprint"], **_project(report, layout.fields)}


def _project(values: Any, fields: tuple[ReportField, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(values, dict):
        return out
    for f in fields:
        if f.name not in values:
            continue
        value = values[f.name]
        if f.each is not None and isinstance(value, dict):
            entries = {k: _project(e, f.fields) for k, e in value.items()}
            if any(entries.values()):
                out[f.name] = entries
        elif f.fields:
            inner = _project(value, f.fields)
            if inner:
                out[f.name] = inner
        elif f.column is not None:
            out[f.name] = value
    return out


def init_worker(year: int, rules: str | None) -> None:
    """Load and compile the year once in this process."""
    from mips_rules.engine.years.loader import load_year

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler: a worker just stops
    from mips_rules.engine.scoring.score import year_categories

    loaded = load_year(year, Path(rules) if rules else None)
    _WORKER["year"] = loaded
    _WORKER["csv_fields"] = csv_fields(loaded.report_layout, year_categories(loaded))


def score_line(line_no: int, text: str) -> dict[str, Any]:
    """Score one JSONL record; any problem becomes an error line, never an exception."""
    try:
        record = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        return {"id": None, "line": line_no, "error": f"not JSON: {exc}"}
    except RecursionError:
        return {"id": None, "line": line_no, "error": "record nested too deeply"}
    return score_record(_WORKER["year"], record, line_no)


def record_inputs(year: Any, record: dict[str, Any], where: str = "") -> tuple[Any, Any]:
    """A population record's submission (None without the key) and context, checked against the year
    (batch, impact and the Python API read records alike). Raises InputError naming the field."""
    from mips_rules.engine.inputs.context import Context, parse_context, resolve_performance_year
    from mips_rules.engine.inputs.submission import parse_submission

    sub = record.get("submission")
    if isinstance(sub, str):  # a QRDA Category III document, as text (engine/inputs/qrda.py)
        from mips_rules.engine.inputs.qrda import looks_like_xml, read_qrda

        if not looks_like_xml(sub):
            raise InputError(Diagnostic(f"{where}submission: a submission given as a string must be a QRDA "
                                        "Category III document (its first character `<`); QPP JSON is an object"))
        sub = read_qrda(sub, f"{where}submission").submission(year)
    sub = parse_submission(sub, source=f"{where}submission") if "submission" in record else None
    ctx = parse_context(record.get("context") or {}, source=f"{where}context", year=year) \
        if record.get("context") is not None else Context()
    if sub is not None:
        resolve_performance_year(sub, ctx, requested=year.performance_year)
    return sub, ctx


def score_record(year: Any, record: Any, line_no: int | None = None) -> dict[str, Any]:
    """One population record ({id, submission, context}) → its population view, or {id, line, error}.
    Never raises for bad input (batch lines and the Python API's populations share it)."""
    from mips_rules.engine.scoring.plain_inputs import plain_inputs, plain_report
    from mips_rules.engine.scoring.score import score

    record_id: Any = None
    try:
        if not isinstance(record, dict) or "submission" not in record:
            return {"id": None, "line": line_no, "error": "a record needs `id`, `submission` and `context`"}
        record_id = record.get("id")
        plain = plain_inputs(year, record)
        if plain is not None:  # plainly valid: checked and built without the input models
            return compact(plain_report(year, *plain), record_id, year.report_layout)
        sub, ctx = record_inputs(year, record, f"line {line_no}: " if line_no is not None else "")
        return compact(score(year, sub, ctx, detail=False).report, record_id, year.report_layout)
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
    from mips_rules.engine.scoring.render import format_number, to_json_line

    if fmt == "csv":
        out = io.StringIO()
        csv.DictWriter(out, fieldnames=_WORKER["csv_fields"]).writerow(
            {k: (format_number(v) if isinstance(v, Decimal) else v)
             for k, v in csv_row(result, _WORKER["year"].report_layout).items()})
        return out.getvalue()
    return to_json_line(result)


def score_chunk_text(fmt: str, chunk: list[tuple[int, str]]) -> list[tuple[str, bool]]:
    """Score and format a chunk: (output line, whether the record failed) per record. Parquet
    output is written as CSV rows until the batch is complete (see Writer.commit)."""
    line_fmt = "csv" if fmt == "parquet" else fmt
    return [(format_result(r, line_fmt), "error" in r) for r in score_chunk(chunk)]


def csv_fields(layout: ReportLayout, categories: Iterable[str]) -> list[str]:
    """The CSV columns: the record's id and line, the year and fingerprint, each `column:` of the
    year's report (an `each` field's once per category, in the year's order), and the error."""
    return (["id", "line", "performance_year", "rules_fingerprint"]
            + [name for _, name in layout.columns(tuple(categories))] + ["error"])


def csv_row(result: dict[str, Any], layout: ReportLayout) -> dict[str, Any]:
    row: dict[str, Any] = {"id": result.get("id"), "line": result.get("line"), "error": result.get("error")}
    if "error" not in result:
        row["performance_year"] = result["performance_year"]
        row["rules_fingerprint"] = result["rules_fingerprint"]
        _flatten(result, layout.fields, None, row)
    return row


def _flatten(values: Any, fields: tuple[ReportField, ...], key: str | None, row: dict[str, Any]) -> None:
    if not isinstance(values, dict):
        return
    for f in fields:
        value = values.get(f.name)
        if f.each is not None:
            for k, entry in (value or {}).items():
                _flatten(entry, f.fields, k, row)
        elif f.fields:
            _flatten(value, f.fields, key, row)
        elif f.column is not None:
            row[f.column.replace("{key}", key) if key is not None else f.column] = value


def part_path(target: Path) -> Path:
    """Where a batch writes until it is complete (kept on interruption, for --resume)."""
    return target.with_name(f".{target.name}.part")


def meta_path(target: Path) -> Path:
    """What the part file belongs to (input sha256, format, year, rules), checked by --resume."""
    return target.with_name(f".{target.name}.part.meta")


def _short(digest: Any) -> str:
    return str(digest)[:12] + "…" if isinstance(digest, str) and len(digest) > 12 else str(digest)


def _check_resumable(part: Path, meta: Path, identity: dict[str, Any]) -> None:
    """Refuse to continue a part file written for another input, format, year or rules."""
    again = "remove it (and its .meta) or run without --resume to start over"
    try:
        recorded = json.loads(meta.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OutputError(f"--resume: {part} has no record of the input it was written for ({meta.name} is "
                          f"missing); {again}", USAGE) from None
    except (OSError, ValueError) as exc:
        raise OutputError(f"--resume: cannot read {meta}: {exc}; {again}", USAGE) from None
    if not isinstance(recorded, dict):
        raise OutputError(f"--resume: {meta} is not a part-file record; {again}", USAGE)
    if recorded.get("input_sha256") != identity["input_sha256"]:
        raise OutputError(f"--resume: {part} was written for another input ({recorded.get('input', '?')}, sha256 "
                          f"{_short(recorded.get('input_sha256'))}), not {identity['input']} (sha256 "
                          f"{_short(identity['input_sha256'])}); {again}", USAGE)
    if recorded.get("format") != identity["format"]:
        raise OutputError(f"--resume: {part} was written as {recorded.get('format')}, not {identity['format']}; "
                          f"{again}", USAGE)
    if recorded.get("columns") != identity["columns"]:
        raise OutputError(f"--resume: {part} has other CSV columns than the {identity['year']} rules give; {again}",
                          USAGE)
    if recorded.get("year") != identity["year"] or recorded.get("rules_fingerprint") != identity["rules_fingerprint"]:
        raise OutputError(f"--resume: {part} was scored with other rules ({recorded.get('year')}, fingerprint "
                          f"{_short(recorded.get('rules_fingerprint'))}), not {identity['year']} (fingerprint "
                          f"{_short(identity['rules_fingerprint'])}); {again}", USAGE)


class Writer:
    """Writes results to `.NAME.part` beside the target; `commit` renames it into place.

    The target must be a regular file or a new path, and not the input. `.NAME.part.meta` records
    what the part file belongs to. On an interruption the part file stays (never under the final
    name) so that `--resume` can continue from the records already written — for the same input,
    format, year and rules only.
    """

    def __init__(self, target: Path, fmt: str, *, resume: bool = False, input_path: Path | None = None,
                 year: Any = None):
        self.target = check_output(target, [input_path])
        self.fmt = fmt
        self.tmp = part_path(target)
        self.meta = meta_path(target)
        check_output(self.tmp, [input_path], what="part file")
        check_output(self.meta, [input_path], what="part file record")
        identity = part_record(input_path, fmt, year)
        self.columns = identity["columns"] or []
        self.done = 0
        try:
            if resume and self.tmp.exists():
                _check_resumable(self.tmp, self.meta, identity)
                self.done = _complete_records(self.tmp, fmt)
                self.handle = _open_part(self.tmp, append=True)
            else:
                write_file(self.meta, json.dumps(identity, indent=1) + "\n")
                self.handle = _open_part(self.tmp, append=False)
            if fmt in TABULAR and self.handle.tell() == 0:
                csv.DictWriter(self.handle, fieldnames=self.columns).writeheader()
        except OSError as exc:
            raise write_error(self.tmp, exc) from None

    def write(self, line: str) -> None:
        self.handle.write(line)

    def flush(self) -> None:
        self.handle.flush()

    def commit(self) -> None:
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            if self.fmt == "parquet":
                table = self.tmp.with_name(self.tmp.name + ".parquet")
                write_parquet(self.tmp, table, self.columns)
                commit(table, self.target)
                self.tmp.unlink(missing_ok=True)
            else:
                commit(self.tmp, self.target)
        except OSError as exc:
            raise write_error(self.target, exc) from None
        self.meta.unlink(missing_ok=True)

    def abort(self) -> None:
        """Keep what is complete for --resume; never leave anything under the final name."""
        if self.handle.closed:
            return
        try:
            self.handle.flush()
        except OSError:
            pass  # a full disk: what was written is whole lines or cut off by --resume
        finally:
            try:
                self.handle.close()
            except OSError:
                pass


TABULAR = ("csv", "parquet")
"""Formats with the CSV's columns (Parquet is written from the complete CSV rows)."""
TEXT_COLUMNS = ("id", "rules_fingerprint", "error")


def write_parquet(rows_csv: Path, target: Path, columns: list[str]) -> None:
    """The batch's CSV rows as a Parquet table (pyarrow): the same columns; numbers as float64 or
    int64 as the values allow, ids, fingerprints and errors as text."""
    try:
        import pyarrow as pa
        from pyarrow import csv as pacsv
        from pyarrow import parquet as pq
    except ImportError:
        raise OutputError("--format parquet needs pyarrow: pip install 'mips-rules[frames]'", USAGE) from None
    types = {c: pa.string() for c in columns if c in TEXT_COLUMNS or c.endswith("_direction")}
    types["line"] = pa.int64()
    table = pacsv.read_csv(rows_csv, convert_options=pacsv.ConvertOptions(column_types=types,
                                                                         strings_can_be_null=True))
    pq.write_table(table, target)


def part_record(input_path: Path | None, fmt: str, year: Any) -> dict[str, Any]:
    """What a part file belongs to, as its `.meta` records it."""
    from mips_rules.engine.scoring.score import year_categories

    columns = csv_fields(year.report_layout, year_categories(year)) if year is not None else None
    return {"input": str(input_path) if input_path is not None else None,
            "input_sha256": _input_digest(input_path),
            "format": fmt, "columns": columns if fmt in TABULAR else None,
            "year": getattr(year, "performance_year", None),
            "rules_fingerprint": getattr(year, "fingerprint", None)}


def _input_digest(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return sha256_file(path)
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _open_part(path: Path, *, append: bool) -> Any:
    """The part file, never through a symbolic link."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o644)
    return open(fd, "a" if append else "w", encoding="utf-8", newline="")  # noqa: SIM115


def _complete_records(path: Path, fmt: str) -> int:
    """Count whole records in a part file and cut off a half-written last line."""
    data = path.read_bytes()
    keep = data[: data.rfind(b"\n") + 1]
    if len(keep) != len(data):
        with open(path, "r+b") as handle:
            handle.truncate(len(keep))
    lines = keep.count(b"\n")
    return lines - 1 if fmt in TABULAR and lines else lines


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


class Terminated(BaseException):
    """SIGTERM arrived: the batch stops, its workers are stopped, the part file is kept for --resume."""


@contextmanager
def sigterm_stops_the_batch() -> Iterator[None]:
    """While the block runs, SIGTERM raises `Terminated` (in the main thread) instead of killing the
    process outright, so that the workers are stopped and the part file is left whole."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one is enough: let the clean stop finish
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _load(year: int, rules: Path | None) -> Any:
    from mips_rules.engine.years.loader import load_year

    return load_year(year, rules)


def run_local(input_path: Path, output: Path, year: int, *, rules: Path | None = None,
              fmt: str = "jsonl", workers: int | None = None, resume: bool = False,
              progress: Callable[[int], None] | None = None) -> BatchStats:
    """Score every line with a pool of processes (or in this process when workers == 1).

    A worker that dies (killed, out of memory) stops the batch with an error; the part file
    keeps every record written so far. Any interruption (Ctrl-C, SIGTERM under
    `sigterm_stops_the_batch`) stops the workers and keeps the part file.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if workers is not None and workers < 1:
        raise OutputError(f"--workers: must be 1 or more, got {workers}", USAGE)
    stats = BatchStats()
    writer = Writer(output, fmt, resume=resume, input_path=input_path, year=_load(year, rules))
    stats.resumed = writer.done
    init_args = (year, str(rules) if rules else None)
    with _finished(writer):
        with open(input_path, encoding="utf-8", errors="replace") as lines:
            parts = numbered_chunks(_skip(lines, writer.done))
            work = functools.partial(score_chunk_text, fmt)
            if workers == 1:
                init_worker(*init_args)
                _drain(map(work, parts), writer, stats, progress)
            else:
                n = workers or os.cpu_count() or 1
                ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
                pool = ProcessPoolExecutor(n, mp_context=ctx, initializer=init_worker, initargs=init_args)
                try:
                    _drain(_in_order(pool, work, parts, 4 * n), writer, stats, progress)
                except BrokenProcessPool:
                    _stop(pool)
                    raise RulesError("a worker process died; the records written so far are kept in "
                                     f"{writer.tmp} — run again with --resume to continue") from None
                except BaseException:
                    _stop(pool)
                    raise
                pool.shutdown()
    return stats


@contextlib.contextmanager
def _finished(writer: "Writer") -> Iterator[None]:
    """Commit the output when the block ends; on any error abandon it (the part file stays, resumable)."""
    try:
        yield
        writer.commit()
    except OSError as exc:
        writer.abort()
        raise OutputError(f"{exc.filename or writer.tmp}: {exc.strerror or exc}; the records written so far are "
                          f"kept in {writer.tmp}") from None
    except BaseException:
        writer.abort()
        raise


def _stop(pool: Any) -> None:
    """Stop a process pool now: terminate its workers, drop what is queued, wait for them to exit."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for proc in processes:
        try:
            proc.terminate()
        except (OSError, ValueError, AttributeError):
            pass
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        try:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(1)
        except (OSError, ValueError, AttributeError, AssertionError):
            pass


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
    """The same batch on a Dask distributed cluster; each worker compiles the year once.

    A scheduler that cannot be reached within DASK_CONNECT_TIMEOUT seconds is an error (nothing written)."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise RulesError("the Dask engine needs the `dask` extra: pip install 'mips-rules[dask]'") from None
    loaded = _load(year, rules)
    check_output(output, [input_path])
    try:
        client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        detail = str(exc).strip() or type(exc).__name__
        raise RulesError(f"cannot reach the Dask scheduler at {scheduler} within {DASK_CONNECT_TIMEOUT} s: "
                         f"{detail}") from None
    stats = BatchStats()
    with client:
        writer = Writer(output, fmt, resume=resume, input_path=input_path, year=loaded)
        stats.resumed = writer.done
        init_args = (year, str(rules) if rules else None)
        with _finished(writer):
            with open(input_path, encoding="utf-8", errors="replace") as lines:
                parts = numbered_chunks(_skip(lines, writer.done))
                _drain(_in_order(_DaskSubmitter(client, init_args, fmt), None, parts, 16), writer, stats, progress)
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
