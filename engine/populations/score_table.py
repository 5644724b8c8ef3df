"""A population given as a table of category scores (CMS's QPP Experience public use file, as
CSV or Parquet) read into scoring records, as the year's `population_table.yaml` declares.

Each row becomes `{id, context}`: its category scores given directly, its statuses, allowed
charges and reporting option — the year's rules then weight, reweight and adjust as for any
context. A cell that cannot be read makes that row an error naming the row and the column;
a required column missing from the table is an error for the whole table.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from itertools import repeat
from operator import is_, is_not
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from mips_rules.dsl.errors import Diagnostic, InputError
from mips_rules.engine.years.population_table import DECLARATION, declaration

TRUE = {"true", "yes", "y", "1"}
FALSE = {"false", "no", "n", "0"}


def read_rows(path: Path) -> tuple[list[str], Iterator[list[Any]]]:
    """The header and the rows (lists of text values, or None) of a CSV or Parquet table."""
    from mips_rules.engine.cli.outputs import OutputError

    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise OutputError("a Parquet population needs pyarrow: pip install 'mips-rules[frames]'") from None
        try:
            table = pq.read_table(path)
        except (OSError, ValueError) as exc:
            raise OutputError(f"{path}: not a readable Parquet table ({exc})") from None
        columns = list(table.column_names)

        def parquet_rows() -> Iterator[list[Any]]:
            for batch in table.to_batches(65536):
                for row in zip(*[c.to_pylist() for c in batch.columns]):
                    yield [None if v is None else str(v) for v in row]
        return columns, parquet_rows()
    import csv

    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {exc.strerror or exc}") from None
    reader = csv.reader(handle)
    try:
        columns = next(reader, [])
        while columns == []:  # as csv.DictReader: blank lines before the header are skipped
            columns = next(reader)
    except StopIteration:
        columns = []
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        handle.close()
        raise OutputError(f"{path}: the header cannot be read ({exc})") from None

    def csv_rows() -> Iterator[list[Any]]:
        with handle:
            try:
                for row in reader:
                    if row:  # as csv.DictReader: a blank line is no row
                        yield row
            except (UnicodeDecodeError, csv.Error, OSError) as exc:
                raise OutputError(f"{path}: line {reader.line_num}: cannot be read ({exc})") from None
    return columns, csv_rows()


def records(year: Any, path: Path) -> Iterator[tuple[int, Any]]:
    """(row number, record) for `impact`, read as the study goes: a row that cannot be read is
    `{"__error__": …}`. The header is checked now (a missing column stops the study before it starts)."""
    return ((n, row.read()) for n, row in rows(year, path))


class _Reader:
    """How a table's rows read into records (one per table; a chunk of rows pickles it once)."""

    __slots__ = ("entity_type", "plan", "id_at", "numbers", "others", "signature", "width")

    def __init__(self, entity_type: Any, plan: list[tuple[int, str, list[str], dict[str, Any]]], id_at: int | None):
        self.entity_type, self.plan, self.id_at = entity_type, plan, id_at
        plain = [at for at, _, _, spec in plan if spec["type"] == "number" and "map" not in spec]
        self.numbers = tuple(plain)  # the cells read as numbers
        self.others = tuple(at for at, _, _, _ in plan if at not in plain)  # the cells whose text decides
        self.signature = repr((entity_type, [(at, column, parts, sorted(spec.items(), key=str))
                                             for at, column, parts, spec in plan]))
        self.width = 1 + max([at for at, _, _, _ in plan], default=-1)  # the cells a row needs


class Row:
    """A table row as read (its cells), read into its record by `read()` — where it is scored: a
    worker process gets the cells, which pickle faster than the record's Decimals."""

    __slots__ = ("n", "cells", "reader")

    def __init__(self, n: int, cells: list[Any], reader: _Reader):
        self.n, self.cells, self.reader = n, cells, reader

    def read(self) -> dict[str, Any]:
        r, row, n = self.reader, self.cells, self.n
        try:
            context = _context(r.entity_type, r.plan, row, n)
        except InputError as exc:
            return {"__error__": exc.diagnostics[0].message}
        return {"id": self.record_id(), "context": context}

    def record_id(self) -> Any:
        r, row = self.reader, self.cells
        return (row[r.id_at] if r.id_at < len(row) else None) if r.id_at is not None else str(self.n)

    def cells_form(self) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
        """(what decides the record's form: the text of each cell not read as a number, and which
        number cells are given; the reader's number cells read, in its order, _BLANK where empty) —
        None where a number cell does not read as one (`read` says why). Rows of one cells form
        read into records of one form (`replay.form`). `cells_forms` of a chunk of rows."""
        return cells_forms([self])[0]

    def number_order(self) -> tuple[Any, list[int]] | None:
        """(the record's form, for each of its numbers in the form's order, its place among the
        reader's number cells), or None (a row that cannot be read, a number that is not a cell's)."""
        from mips_rules.engine.populations.replay import form

        r = self.reader
        cells: dict[int, int] = {}
        try:
            context = _context(r.entity_type, r.plan, self.cells, self.n, cells)
        except InputError:
            return None
        found = form(context)
        if found is None:
            return None
        place = {at: j for j, at in enumerate(r.numbers)}
        order = [place.get(cells.get(id(x))) for x in found[1]]  # type: ignore[arg-type]
        return None if None in order else (found[0], order)  # type: ignore[return-value]


def cells_forms(rows: list[Row]) -> list[tuple[tuple[Any, ...], tuple[Any, ...]] | None]:
    """`Row.cells_form` of each of some rows of one reader, read a column at a time: each cell's
    text looked up (`_PARSED`) by C loops (`map`, `zip`), not a Python step per cell."""
    if not rows:
        return []
    r = rows[0].reader
    width = r.width
    cells = [row.cells if len(row.cells) >= width else [*row.cells, *[None] * (width - len(row.cells))]
             for row in rows]
    n = len(cells)
    get = _PARSED.get
    numbers, present = [], []
    bad: set[int] = set()
    for at in r.numbers:
        raws = [c[at] for c in cells]
        column = list(map(get, raws, repeat(_UNREAD)))
        if any(map(is_, column, repeat(_UNREAD))):
            column = [_number_in(raw) if v is _UNREAD else v for raw, v in zip(raws, column)]
        if any(map(is_, column, repeat(None))):
            bad.update(k for k, v in enumerate(column) if v is None)
        numbers.append(column)
        present.append(list(map(is_not, column, repeat(_BLANK))))
    texts = [[c[at] for c in cells] for at in r.others]
    keys = zip(zip(*texts) if texts else repeat((), n), zip(*present) if present else repeat((), n))
    values = zip(*numbers) if numbers else repeat((), n)
    forms: list[tuple[tuple[Any, ...], tuple[Any, ...]] | None] = list(zip(keys, values))
    for k in bad:
        forms[k] = None
    return forms


def packed(chunk: list[tuple[int, Any]]) -> Any:
    """A chunk of records as sent to a worker: rows of one table as (reader, row numbers, cells) —
    plain lists pickle in about half the time of the rows —, anything else as it is (`unpacked`)."""
    first = chunk[0][1] if chunk else None
    if type(first) is not Row or any(type(row) is not Row or row.reader is not first.reader or row.n != n
                                     for n, row in chunk):
        return chunk
    return _Packed(first.reader, [n for n, _ in chunk], [row.cells for _, row in chunk])


def unpacked(sent: Any) -> list[tuple[int, Any]]:
    """The chunk `packed` sent, or a slice's rows (`TableRows.slices`)."""
    if type(sent) is _Slice:
        return sent.rows()
    if type(sent) is not _Packed:
        return sent
    reader = sent.reader
    return [(n, Row(n, cells, reader)) for n, cells in zip(sent.numbers, sent.cells)]


class _Packed(NamedTuple):
    reader: _Reader
    numbers: list[int]
    cells: list[list[Any]]


def _number_in(raw: Any) -> Any:
    """A number cell's value (`_cell_number`), kept by its text (the cells of a table repeat)."""
    value = _cell_number(raw)
    if (type(raw) is str or raw is None) and len(_PARSED) < MAX_PARSED:
        _PARSED[raw] = value
    return value


_UNREAD, _BLANK = object(), object()
_PARSED: dict[str | None, Any] = {}  # a number cell's text → its number (_BLANK, or None: not a number)
MAX_PARSED = 100_000  # texts kept (the cells of a table repeat: scores, counts, flags)


def _cell_number(raw: Any) -> Any:
    """A number cell's value as `Row.cells_form` takes it: the number, _BLANK for an empty cell,
    None for a cell that is no finite number (`_read` says why)."""
    text = "" if raw is None else str(raw).strip()  # (none: an empty Parquet cell, a short row's)
    if not text:
        return _BLANK
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def rows(year: Any, path: Path) -> "TableRows":
    """(row number, Row) of a table, read as the study goes (`records`, each row not yet read into
    its record). The header is checked now."""
    layout = declaration(year)
    columns, table = read_rows(path)
    lowered = {c.strip().lower(): c for c in columns}
    index = {c: i for i, c in enumerate(columns)}  # a name given twice: its last column (as csv.DictReader reads it)
    missing = [c for c, spec in layout["columns"].items() if spec.get("required") and c.lower() not in lowered]
    if missing:
        raise InputError(Diagnostic(f"{path}: the table has no column {missing[0]!r} (the {year.performance_year} "
                                    f"layout, {DECLARATION}, needs it)"))
    ids = layout.get("id") or []
    id_column = next((lowered[i.lower()] for i in ([ids] if isinstance(ids, str) else ids) if i.lower() in lowered), None)
    reader = _Reader(layout.get("entity_type"), _plan(layout, lowered, index), index[id_column] if id_column else None)
    return TableRows(path, reader, ((n, Row(n, cells, reader)) for n, cells in enumerate(table, 1)))


class TableRows:
    """A table's (row number, Row)s, read as they are taken — and, for a worker process to read a
    part of a CSV file itself, the file cut into slices of rows (`slices`)."""

    def __init__(self, path: Path, reader: _Reader, rows: Iterator[tuple[int, Row]]):
        self.path, self.reader, self._rows = path, reader, rows
        self._taken = False  # rows taken already: the slices would read them again

    def __iter__(self) -> "TableRows":
        return self

    def __next__(self) -> tuple[int, Row]:
        self._taken = True
        return next(self._rows)

    def slices(self, size: int, at_least: int) -> list["_Slice"] | None:
        """The table's rows as slices of `size` rows (byte ranges of the file, each with the number
        of its first row), where a CSV file reads line by line alike in a slice and from the start —
        no quotes (a quoted field may hold a line break), no NUL, no lone carriage return, no line
        longer than a field may be, every line UTF-8 — and holds at least `at_least` rows; None
        otherwise, or once rows have been taken (the rows are read here, in order, and a worker gets
        their cells)."""
        if self.path.suffix.lower() == ".parquet" or self._taken:
            return None
        out: list[_Slice] = []
        n = count = start = offset = first = 0
        header = False
        try:
            with open(self.path, "rb") as fh:
                for line in fh:
                    here, offset = offset, offset + len(line)
                    if b'"' in line or b"\0" in line or len(line) > _LONGEST_LINE \
                            or line.count(b"\r") > line.endswith(b"\r\n"):
                        return None
                    line.decode("utf-8")
                    if not header:
                        header = line.removeprefix(b"\xef\xbb\xbf") not in _BLANK_LINES
                        continue
                    if line in _BLANK_LINES:
                        continue
                    n += 1
                    if count == 0:
                        start, first = here, n
                    count += 1
                    if count == size:
                        out.append(_Slice(self.path, start, offset, first, self.reader))
                        count = 0
        except (OSError, UnicodeDecodeError):
            return None
        if count:
            out.append(_Slice(self.path, start, offset, first, self.reader))
        if n < at_least:
            return None
        self.close()  # (the rows are read from the slices)
        return out

    def close(self) -> None:
        close = getattr(self._rows, "close", None)
        if close is not None:
            close()


_BLANK_LINES = (b"\n", b"\r\n")  # what the csv module reads as no row
_LONGEST_LINE = 131_072  # the csv module's field size limit: a longer line may not read as one row


class _Slice(NamedTuple):
    """Rows `first`, `first` + 1, … of a CSV file: its bytes from `start` to `end`."""

    path: Path
    start: int
    end: int
    first: int
    reader: _Reader

    def rows(self) -> list[tuple[int, Row]]:
        import csv
        import io

        from mips_rules.engine.cli.outputs import OutputError

        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.start)
                text = fh.read(self.end - self.start).decode("utf-8")
            cells = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:  # (the file changed since it was sliced)
            raise OutputError(f"{self.path}: the rows from row {self.first} on cannot be read ({exc})") from None
        return [(n, Row(n, row, self.reader)) for n, row in enumerate(cells, self.first)]


def _plan(layout: dict[str, Any], lowered: dict[str, str],
          index: dict[str, int]) -> list[tuple[int, str, list[str], dict[str, Any]]]:
    """(the table's column's place, the layout's column, the context path, its spec) of each column the table has."""
    return [(index[lowered[column.lower()]], column, spec["to"].split("."), spec)
            for column, spec in layout["columns"].items() if column.lower() in lowered]


def _context(entity_type: Any, plan: list[tuple[int, str, list[str], dict[str, Any]]], row: list[Any],
             n: int, cells: dict[int, int] | None = None) -> dict[str, Any]:
    """The row's context; `cells` (if given) gets the cell each number came from, by the number's id."""
    context: dict[str, Any] = {}
    if entity_type:
        context["entity"] = {"type": entity_type}
    width = len(row)
    for at, column, parts, spec in plan:
        raw = row[at] if at < width else None
        if raw is None or raw == "":
            continue
        value = _read(raw, spec, column, n)
        if value is None:
            continue
        if cells is not None and type(value) is Decimal:
            cells[id(value)] = at
        target = context
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return context


def _read(raw: Any, spec: dict[str, Any], column: str, n: int) -> Any:
    text = "" if raw is None else str(raw).strip()
    if text == "":
        return None
    where = f"row {n}, column {column!r}"
    if "map" in spec:
        mapping = spec["map"] or {}
        if text not in mapping:
            raise InputError(Diagnostic(f"{where}: {text!r} is not one of {', '.join(map(str, mapping))}"))
        return mapping[text]
    if spec["type"] == "number":
        value = _cell_number(text)  # (a new number each time: `_context` tells cells apart by it)
        if value is None:
            raise InputError(Diagnostic(f"{where}: {text!r} is not a number"))
        return value
    if spec["type"] == "boolean":
        low = text.lower()
        if low in TRUE:
            return True
        if low in FALSE:
            return False
        raise InputError(Diagnostic(f"{where}: {text!r} is not true or false"))
    return text
