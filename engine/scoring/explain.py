"""Explain a score: the tree of definitions that produced each value, with their inputs,
the data they read (value and source), the table rows they matched, and their citations."""

from __future__ import annotations

from typing import Any, Iterator

from mips_rules.dsl.compiler import TraceEntry
from mips_rules.engine.workbench.diff import value_text
from mips_rules.engine.years.loader import Year

MAX_VALUE_TEXT = 90


def _short(value: Any) -> str:
    text = value_text(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= MAX_VALUE_TEXT else text[: MAX_VALUE_TEXT - 1] + "…"


def _arg_text(arg: Any) -> str:
    if isinstance(arg, dict):
        ident = arg.get("measureId") or arg.get("measure_id") or arg.get("activity_id")
        return f"{{measure {ident}}}" if ident else "{…}"
    if isinstance(arg, tuple) and len(arg) > 4:
        return f"[{len(arg)} items]"
    return _short(arg)


def label(entry: TraceEntry) -> str:
    if entry.args is None:
        return entry.name
    return f"{entry.name}({', '.join(_arg_text(a) for a in entry.args)})"


def _data_lines(year: Year, name: str) -> list[str]:
    out = []
    for path in year.rules.data_refs.get(name, []):
        ns, _, item = path.partition(".")
        it = year.data.items.get(ns, {}).get(item)
        if it is None:
            continue
        shown = _short(it.value) if it.kind == "value" else f"table ({len(it.value)} rows)"
        flag = "" if it.confirmed else " [unconfirmed]"
        out.append(f"{path} = {shown}{flag}  — {it.source}")
    return out


def find(entries: list[TraceEntry], query: str, year: Year | None = None) -> list[TraceEntry]:
    """The entries a query names: a rule (`final_score`, `weight_in`), a report path
    (`categories.quality.points`, `quality.measures.236.points`) or a prefix (`weight`)."""
    parts = query.split(".")
    declared = year.report_layout.field_at(query) if year is not None and year.report_layout is not None else None
    if declared is not None and declared.rule is not None:
        # A report path: the definition behind it (under an `each` field, called with the key).
        each = year.report_layout.field_at(parts[0]) if year is not None else None
        key = parts[1] if each is not None and each.each is not None and len(parts) >= 3 else None
        return [e for e in _walk(entries) if e.name == declared.rule
                and (key is None or e.args == (key,))][:1]
    if len(parts) >= 3 and parts[1] == "measures":
        return [e for e in _walk(entries) if e.name.endswith("_result") and e.args
                and isinstance(e.args[0], dict)
                and parts[2] in (e.args[0].get("measureId"), e.args[0].get("measure_id"))]
    exact = [e for e in _walk(entries) if e.name == query or label(e) == query]
    if exact:
        return exact[:1] if exact[0].args is None else exact
    by_prefix = [e for e in _walk(entries) if e.name.startswith(query) and e.kind == "rule"]
    if by_prefix or year is None:
        return by_prefix
    # A data name (`weights`, `weights.redistribution`): the rules that read it.
    return [e for e in _walk(entries) if e.kind == "rule"
            and any(ref == query or ref.startswith(query + ".") for ref in year.rules.data_refs.get(e.name, []))]


def _walk(entries: list[TraceEntry]) -> Iterator[TraceEntry]:
    seen: set[int] = set()
    stack = list(reversed(entries))
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack.extend(reversed(e.uses))


def as_text(year: Year, entries: list[TraceEntry]) -> str:
    lines: list[str] = []
    printed: set[int] = set()

    def emit(entry: TraceEntry, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        if entry.kind == "row":
            lines.append(f"{prefix}{branch}row {entry.name} = {_short(entry.value)}")
            return
        d = year.definitions.get(entry.name)
        where = f"  [{d.loc.file.rsplit('/', 1)[-1]}:{d.loc.line}]" if d else ""
        if id(entry) in printed:
            lines.append(f"{prefix}{branch}{label(entry)} = {_short(entry.value)}  (see above)")
            return
        printed.add(id(entry))
        lines.append(f"{prefix}{branch}{label(entry)} = {_short(entry.value)}{where}")
        child_prefix = prefix + ("" if top else ("   " if last else "│  "))
        notes = []
        if d is not None and d.source:
            notes.append(f"source: {d.source}" + (" [unconfirmed]" if "unconfirmed" in d.annotations else ""))
        notes += [f"data: {line}" for line in _data_lines(year, entry.name)]
        children = _unique(entry.uses)
        for i, note in enumerate(notes):
            joint = "│  " if children or i < len(notes) - 1 else "   "
            lines.append(f"{child_prefix}{joint}{note}")
        for i, child in enumerate(children):
            emit(child, child_prefix, i == len(children) - 1, False)

    for e in entries:
        emit(e, "", True, True)
    return "\n".join(lines) + "\n"


def _unique(entries: list[TraceEntry]) -> list[TraceEntry]:
    seen: set[int] = set()
    out = []
    for e in entries:
        if id(e) not in seen:
            seen.add(id(e))
            out.append(e)
    return out


def as_json(year: Year, entries: list[TraceEntry]) -> list[dict[str, Any]]:
    done: set[int] = set()

    def node(entry: TraceEntry) -> dict[str, Any]:
        if entry.kind == "row":
            return {"row": entry.name, "value": _plain(entry.value)}
        if id(entry) in done:
            return {"rule": label(entry), "value": _plain(entry.value), "see": "above"}
        done.add(id(entry))
        d = year.definitions.get(entry.name)
        out: dict[str, Any] = {"rule": label(entry), "value": _plain(entry.value)}
        if d is not None:
            out["source"] = d.source
            out["location"] = str(d.loc)
            if "unconfirmed" in d.annotations:
                out["confirmed"] = False
        data = _data_lines(year, entry.name)
        if data:
            out["data"] = data
        uses = [node(u) for u in _unique(entry.uses)]
        if uses:
            out["uses"] = uses
        return out

    return [node(e) for e in entries]


def _plain(value: Any) -> Any:
    from mips_rules.dsl.values import Table, to_plain

    if isinstance(value, Table):
        return f"table {value.name}"
    if isinstance(value, (dict, tuple, list, frozenset)):
        plain = to_plain(value)
        text = value_text(value)
        return plain if len(text) <= 400 else text[:399] + "…"
    return value
