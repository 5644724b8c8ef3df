"""Parse rule-language text into `Definition`s: the lark grammar (`grammar.lark`, read by
`dsl/lark_reader.py`) is the reference; `dsl/descent.py` reads the same grammar by hand, faster,
and gives lark every file it does not read (a syntax error is always lark's message)."""

from __future__ import annotations

import re
from pathlib import Path

from mips_rules.dsl import ast, descent
from mips_rules.dsl.errors import Diagnostic, Location, RuleSyntaxError
from mips_rules.dsl.limits import MAX_RULE_FILE_BYTES, MAX_RULE_TOKENS

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|\w+|->|[<>=!]=|\S')


def _check_bounds(text: str, file: str) -> None:
    """Refuse, before parsing, a rule file too large to load in bounded time (`dsl/limits.py`)."""
    if len(text) > MAX_RULE_FILE_BYTES:
        raise RuleSyntaxError(Diagnostic(f"rule file is too large: {len(text):,} characters (the limit is "
                                         f"{MAX_RULE_FILE_BYTES:,})", Location(file, 1, 1),
                                         "split it into several files"))
    count = 0
    for m in _TOKEN.finditer(text):
        if m.group()[0] != "#":
            count += 1
            if count > MAX_RULE_TOKENS:
                line = text.count("\n", 0, m.start()) + 1
                col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
                raise RuleSyntaxError(Diagnostic(f"rule file has more than {MAX_RULE_TOKENS:,} tokens", Location(file, line, col),
                                                 "split it into several files"))


def parse_rules(text: str, file: str = "<rules>") -> list[ast.Definition]:
    """Parse one rule file; a syntax error becomes a RuleSyntaxError pointing at the spot."""
    _check_bounds(text, file)
    found = descent.read(text, file)  # the same definitions, read by hand; None: lark reads it
    if found is not None:
        for d in found:
            _check_depth(d)
        return found
    return _parse_with_lark(text, file)


def _parse_with_lark(text: str, file: str) -> list[ast.Definition]:
    """`parse_rules` by the grammar itself (`dsl/lark_reader.py`): the reference, and every syntax
    error's message. lark is imported only here: a year whose files read by hand never needs it."""
    from mips_rules.dsl import lark_reader

    definitions = lark_reader.parse(text, file)
    for d in definitions:
        _check_depth(d)
    return definitions


MAX_DEPTH = 100  # deeper expressions are refused: no real rule needs them, and they exhaust the stack


def _check_depth(d: ast.Definition) -> None:
    stack: list[tuple[ast.Node, int]] = [(d.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise RuleSyntaxError(Diagnostic(f"`{d.name}` is nested more than {MAX_DEPTH} levels deep", node.loc,
                                             "split it into named definitions"))
        stack.extend((child, depth + 1) for child in ast.children(node))


def parse_file(path: str | Path) -> list[ast.Definition]:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_RULE_FILE_BYTES:  # checked before reading anything
            raise RuleSyntaxError(Diagnostic(f"rule file is too large: {size:,} bytes (the limit is "
                                             f"{MAX_RULE_FILE_BYTES:,})", Location(str(p), 1, 1),
                                             "split it into several files"))
        with p.open("rb") as fh:
            raw = fh.read(MAX_RULE_FILE_BYTES + 1)
    except OSError as exc:
        raise RuleSyntaxError(Diagnostic(f"cannot read rule file: {exc.strerror}", Location(str(p), 1, 1))) from None
    return parse_bytes(raw, str(p))


def parse_bytes(raw: bytes, file: str) -> list[ast.Definition]:
    """Parse a rule file's bytes as read (UTF-8); `file` names it in locations and messages."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RuleSyntaxError(Diagnostic("rule file is not valid UTF-8", Location(file, line, col))) from None
    return parse_rules(text, file)
