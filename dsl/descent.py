"""The grammar (`grammar.lark`) read by hand: recursive descent, about five times faster than lark.

Parsing the rule files was most of a year's first load. This reads the same language into the
same definitions — every node with the location lark's positions give it (a node spans its
children, parentheses included where they enclose one) — and gives up (None) on anything else:
a syntax error, an odd character, nesting too deep for it, a word lark's contextual lexer would
split (inside parentheses `a not inb` is `a not in b` to lark). Then `parser.parse_rules` parses
the text with lark, which says what is wrong exactly as before. So the grammar stays the
reference: `tests/test_parser.py` reads every rule file of every year, 1,500 generated files and
1,500 mutations of the real ones both ways and finds the same definitions, locations included,
and nothing read here that the grammar refuses.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Callable

from mips_rules.dsl import ast
from mips_rules.dsl.errors import Location

_KEYWORDS = frozenset({"if", "then", "else", "let", "and", "or", "not", "in", "true", "false", "none"})
_TOKENS = re.compile(r'(?P<skip>[ \t\f\r\n]+|#[^\n]*)|(?P<STRING>"(?:[^"\\\n]|\\["\\n])*")'
                     r'|(?P<NUMBER>\d+(?:\.\d+)?)|(?P<NAME>[A-Za-z_][A-Za-z0-9_]*)'
                     r'|(?P<op>->|==|!=|<=|>=|[<>+\-*/()\[\]{},.:;=@])')
_COMPARE = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "in": "in"}
_EOF = ("$END", "", 0, 0, 0, 0, 0, 0)


class _GiveUp(Exception):
    """Not read here: lark reads it (and says what is wrong)."""


Token = tuple[str, str, int, int, int, int, int, int]  # kind, text, line, column, pos, end line, end column, end pos
Span = tuple[int, int, int]  # line, column, offset


def _tokens(text: str) -> list[Token]:
    """The text's tokens with lark's positions (1-based lines and columns, 0-based offsets)."""
    out: list[Token] = []
    line, line_start, pos, n = 1, 0, 0, len(text)
    match = _TOKENS.match
    while pos < n:
        m = match(text, pos)
        if m is None:
            raise _GiveUp
        kind = m.lastgroup
        value = m.group()
        end = m.end()
        if kind != "skip":
            if kind == "NAME" and value in _KEYWORDS:
                kind = value
            elif kind == "op":
                kind = value
            out.append((kind, value, line, pos - line_start + 1, pos, line, end - line_start + 1, end))
        else:
            newlines = value.count("\n")
            if newlines:
                line += newlines
                line_start = pos + value.rindex("\n") + 1
        pos = end
    return out


class _Reader:
    def __init__(self, text: str, file: str):
        self.text, self.file = text, file
        self.toks = _tokens(text)
        self.i = 0

    # -- tokens ---------------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else _EOF

    def take(self, kind: str) -> Token:
        tok = self.peek()
        if tok[0] != kind:
            raise _GiveUp
        self.i += 1
        return tok

    def loc(self, start: Span, end: Span) -> Location:
        return Location(self.file, start[0], start[1], end[1] if end[0] == start[0] else None)

    def tok_loc(self, tok: Token) -> Location:
        return Location(self.file, tok[2], tok[3], tok[6] if tok[5] == tok[2] else None)

    # -- definitions ----------------------------------------------------------------------------
    def definitions(self) -> list[ast.Definition]:
        out = []
        while self.peek()[0] != "$END":
            annotations: dict[str, str | None] = {}
            while self.peek()[0] == "@":
                self.i += 1
                key = self.take("NAME")[1]
                annotations[key] = unquote(self.take("STRING")[1]) if self.peek()[0] == "STRING" else None
            name = self.take("NAME")
            params: tuple[str, ...] | None = None
            if self.peek()[0] == "(":
                self.i += 1
                names = []
                if self.peek()[0] != ")":
                    names.append(self.take("NAME")[1])
                    while self.peek()[0] == ",":
                        self.i += 1
                        names.append(self.take("NAME")[1])
                self.take(")")
                params = tuple(names)
            self.take("=")
            body, _, end = self.expr()
            out.append(ast.Definition(name[1], params, body, self.tok_loc(name), annotations,
                                      self.text[name[4]:end[2]]))
        return out

    # -- expressions: (node, where its container starts, where it ends) ------------------------
    def expr(self) -> tuple[ast.Node, Span, Span]:
        tok = self.peek()
        kind = tok[0]
        if kind == "NAME" and self.peek(1)[0] == "->":
            self.i += 2
            body, _, end = self.expr()
            start = (tok[2], tok[3], tok[4])
            return ast.Lambda(self.loc(start, end), tok[1], body), start, end
        if kind == "if":
            self.i += 1
            cond = self.expr()[0]
            self.take("then")
            then = self.expr()[0]
            self.take("else")
            otherwise, _, end = self.expr()
            start = (tok[2], tok[3], tok[4])
            return ast.If(self.loc(start, end), cond, then, otherwise), start, end
        if kind == "let":
            self.i += 1
            name = self.take("NAME")
            self.take("=")
            value = self.expr()[0]
            self.take(";")
            body, _, end = self.expr()
            return ast.Let(self.tok_loc(name), name[1], value, body), (tok[2], tok[3], tok[4]), end
        return self.disjunction()

    # The grammar's levels, loosest first: or, and, not, a comparison, + and -, * and /, unary -.
    def disjunction(self) -> tuple[ast.Node, Span, Span]:
        return self.chain(self.conjunction, ("or",))

    def conjunction(self) -> tuple[ast.Node, Span, Span]:
        return self.chain(self.negation, ("and",))

    def negation(self) -> tuple[ast.Node, Span, Span]:
        return self.prefixed("not", self.comparison)

    def comparison(self) -> tuple[ast.Node, Span, Span]:
        left, start, end = self.sum()
        kind = self.peek()[0]
        op = _COMPARE.get(kind)
        if op is None and kind == "not" and self.peek(1)[0] == "in":
            op = "not in"
        if op is None:
            return left, start, end
        self.i += 2 if op == "not in" else 1
        right, _, end = self.sum()
        return ast.Binary(self.loc(start, end), op, left, right), start, end

    def sum(self) -> tuple[ast.Node, Span, Span]:
        return self.chain(self.term, ("+", "-"))

    def term(self) -> tuple[ast.Node, Span, Span]:
        return self.chain(self.unary, ("*", "/"))

    def unary(self) -> tuple[ast.Node, Span, Span]:
        return self.prefixed("-", self.postfix)

    def chain(self, operand: Callable[[], tuple[ast.Node, Span, Span]], ops: tuple[str, ...]
              ) -> tuple[ast.Node, Span, Span]:
        """Operands joined by these operators, left to right (`a - b - c` is `(a - b) - c`)."""
        left, start, end = operand()
        while self.peek()[0] in ops:
            op = self.peek()[0]
            self.i += 1
            right, _, end = operand()
            left = ast.Binary(self.loc(start, end), op, left, right)
        return left, start, end

    def prefixed(self, op: str, operand: Callable[[], tuple[ast.Node, Span, Span]]) -> tuple[ast.Node, Span, Span]:
        """`op` before an operand (any number of times: `not not a`, `- -a`), or the operand alone."""
        tok = self.peek()
        if tok[0] != op:
            return operand()
        self.i += 1
        inner, _, end = self.prefixed(op, operand)
        start = (tok[2], tok[3], tok[4])
        return ast.Unary(self.loc(start, end), op, inner), start, end

    def postfix(self) -> tuple[ast.Node, Span, Span]:
        node, start, end = self.atom()
        while True:
            kind = self.peek()[0]
            if kind == ".":
                self.i += 1
                name = self.take("NAME")
                end = (name[5], name[6], name[7])
                node = ast.Field(self.tok_loc(name), node, name[1])
            elif kind == "[":
                self.i += 1
                key = self.expr()[0]
                close = self.take("]")
                end = (close[5], close[6], close[7])
                node = ast.Index(self.loc(start, end), node, key)
            else:
                return node, start, end

    def items(self, close: str, item: Callable[[], Any]) -> tuple[list[Any], Token]:
        found = []
        if self.peek()[0] != close:
            found.append(item())
            while self.peek()[0] == ",":
                self.i += 1
                found.append(item())
        return found, self.take(close)

    def atom(self) -> tuple[ast.Node, Span, Span]:
        tok = self.peek()
        kind = tok[0]
        self.i += 1
        start, end = (tok[2], tok[3], tok[4]), (tok[5], tok[6], tok[7])
        here = self.tok_loc(tok)
        if kind == "NAME":
            if self.peek()[0] != "(":
                return ast.Name(here, tok[1]), start, end
            self.i += 1
            args, close = self.items(")", lambda: self.expr()[0])
            return ast.Call(here, tok[1], tuple(args)), start, (close[5], close[6], close[7])
        if kind == "NUMBER":
            return ast.Number(here, Decimal(tok[1])), start, end
        if kind == "STRING":
            return ast.String(here, unquote(tok[1])), start, end
        if kind in ("true", "false", "none"):
            return ast.Const(here, {"true": True, "false": False, "none": None}[kind]), start, end
        if kind == "[":
            values, close = self.items("]", lambda: self.expr()[0])
            end = (close[5], close[6], close[7])
            return ast.ListLit(self.loc(start, end), tuple(values)), start, end
        if kind == "{":
            fields, close = self.items("}", self.field_init)
            names = [name for name, _ in fields]
            if len(set(names)) != len(names):
                raise _GiveUp  # lark's reading says which field is given twice
            end = (close[5], close[6], close[7])
            return ast.RecordLit(self.loc(start, end), tuple(fields)), start, end
        if kind == "(":
            node = self.expr()[0]
            close = self.take(")")
            return node, start, (close[5], close[6], close[7])  # the parentheses enclose it
        raise _GiveUp

    def field_init(self) -> tuple[str, ast.Node]:
        name = self.take("NAME")
        self.take(":")
        return name[1], self.expr()[0]


def unquote(text: str) -> str:
    """A string literal's text: the quotes off, its escapes (\\", \\n, \\\\) read."""
    s = text[1:-1]
    return s.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def read(text: str, file: str) -> list[ast.Definition] | None:
    """The definitions of a rule file's text as lark reads them, or None where only lark can say."""
    try:
        return _Reader(text, file).definitions()
    except Exception:  # noqa: BLE001 - a syntax error, nesting too deep for it: lark reads it, and says what
        return None
