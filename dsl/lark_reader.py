"""The rule language's grammar (`grammar.lark`) read by lark, with a Transformer into our AST.

The reference reading of a rule file, and the one that says what is wrong with a file that does not
parse (`parser.parse_rules` tries `descent` first). Imported only when a file needs it.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from mips_rules.dsl import ast
from mips_rules.dsl.descent import unquote
from mips_rules.dsl.errors import Diagnostic, Location, RuleSyntaxError

_GRAMMAR = Path(__file__).with_name("grammar.lark")

# Human names for the grammar's terminals, used in "expected …" messages.
_TERMINAL_NAMES = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "EQUAL": "`=`",
    "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`", "RSQB": "`]`", "COMMA": "`,`",
    "DOT": "`.`", "PLUS": "`+`", "MINUS": "`-`", "STAR": "`*`", "SLASH": "`/`",
    "AT": "`@`", "THEN": "`then`", "ELSE": "`else`", "IF": "`if`", "__ANON_0": "`->`",
    "SEMICOLON": "`;`", "COLON": "`:`", "LBRACE": "`{`", "RBRACE": "`}`", "LET": "`let`",
    "$END": "end of file",
}


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(_GRAMMAR.read_text(encoding="utf-8"), parser="lalr", propagate_positions=True,
                maybe_placeholders=False)


def _loc(file: str, meta_or_token: object) -> Location:
    line = getattr(meta_or_token, "line", 1)
    column = getattr(meta_or_token, "column", 1)
    end_line = getattr(meta_or_token, "end_line", None)
    end_column = getattr(meta_or_token, "end_column", None)
    return Location(file, line, column, end_column if end_line == line else None)


class _ToAst(Transformer):
    """Turns lark's parse tree into our frozen AST nodes, keeping positions."""

    def __init__(self, file: str, text: str):
        super().__init__()
        self.file = file
        self.text = text

    def _l(self, meta: object) -> Location:
        return _loc(self.file, meta)

    @v_args(meta=True)
    def start(self, meta, items):
        return list(items)

    @v_args(meta=True)
    def definition(self, meta, items):
        annotations: dict[str, str | None] = {}
        rest = list(items)
        while rest and isinstance(rest[0], tuple) and rest[0][0] == "annotation":
            _, key, value = rest.pop(0)
            annotations[key] = value
        name_tok: Token = rest.pop(0)
        params: tuple[str, ...] | None = None
        if len(rest) == 2:
            params = rest.pop(0)
        body = rest[0]
        text = self.text[name_tok.start_pos: meta.end_pos]
        return ast.Definition(str(name_tok), params, body, _loc(self.file, name_tok), annotations, text)

    def annotation(self, items):
        key = str(items[0])
        value = unquote(str(items[1])) if len(items) > 1 else None
        return ("annotation", key, value)

    def params(self, items):
        return tuple(str(t) for t in items if t is not None)

    @v_args(meta=True)
    def lambda_expr(self, meta, items):
        return ast.Lambda(self._l(meta), str(items[0]), items[1])

    @v_args(meta=True)
    def let_expr(self, meta, items):
        return ast.Let(_loc(self.file, items[0]), str(items[0]), items[1], items[2])

    def field_init(self, items):
        return (str(items[0]), items[1], items[0])

    @v_args(meta=True)
    def record_(self, meta, items):
        fields = [i for i in items if i is not None]
        seen: set[str] = set()
        for name, _, tok in fields:
            if name in seen:
                raise RuleSyntaxError(Diagnostic(f"the record has the field `{name}` twice", _loc(self.file, tok)))
            seen.add(name)
        return ast.RecordLit(self._l(meta), tuple((n, v) for n, v, _ in fields))

    @v_args(meta=True)
    def if_expr(self, meta, items):
        return ast.If(self._l(meta), items[0], items[1], items[2])

    def _binary(op: str):  # noqa: N805 - a small factory used at class creation
        @v_args(meta=True)
        def build(self, meta, items):
            return ast.Binary(self._l(meta), op, items[0], items[-1])
        return build

    or_ = _binary("or")
    and_ = _binary("and")
    eq = _binary("==")
    ne = _binary("!=")
    lt = _binary("<")
    le = _binary("<=")
    gt = _binary(">")
    ge = _binary(">=")
    in_ = _binary("in")
    not_in = _binary("not in")
    add = _binary("+")
    sub = _binary("-")
    mul = _binary("*")
    div = _binary("/")

    @v_args(meta=True)
    def not_(self, meta, items):
        return ast.Unary(self._l(meta), "not", items[0])

    @v_args(meta=True)
    def neg(self, meta, items):
        return ast.Unary(self._l(meta), "-", items[0])

    @v_args(meta=True)
    def field(self, meta, items):
        name_tok = items[1]
        return ast.Field(_loc(self.file, name_tok), items[0], str(name_tok))

    @v_args(meta=True)
    def index(self, meta, items):
        return ast.Index(self._l(meta), items[0], items[1])

    @v_args(meta=True)
    def call(self, meta, items):
        name_tok = items[0]
        args = tuple(a for a in items[1:] if a is not None)
        return ast.Call(_loc(self.file, name_tok), str(name_tok), args)

    @v_args(meta=True)
    def number(self, meta, items):
        return ast.Number(self._l(meta), Decimal(str(items[0])))

    @v_args(meta=True)
    def string(self, meta, items):
        return ast.String(self._l(meta), unquote(str(items[0])))

    @v_args(meta=True)
    def true(self, meta, items):
        return ast.Const(self._l(meta), True)

    @v_args(meta=True)
    def false(self, meta, items):
        return ast.Const(self._l(meta), False)

    @v_args(meta=True)
    def none(self, meta, items):
        return ast.Const(self._l(meta), None)

    @v_args(meta=True)
    def name(self, meta, items):
        return ast.Name(self._l(meta), str(items[0]))

    @v_args(meta=True)
    def list_(self, meta, items):
        return ast.ListLit(self._l(meta), tuple(i for i in items if i is not None))


def _expected(exc: UnexpectedInput) -> str | None:
    expected = getattr(exc, "expected", None) or getattr(exc, "allowed", None)
    if not expected:
        return None
    names = sorted({_TERMINAL_NAMES.get(t, f"`{t.lower()}`" if t.isupper() and len(t) < 8 else t) for t in expected})
    if len(names) > 8:
        return None
    return "expected " + ", ".join(names)


def _end_of(text: str, file: str) -> Location:
    lines = text.rstrip("\n").splitlines() or [""]
    return Location(file, len(lines), len(lines[-1]) + 1)



def parse(text: str, file: str) -> list[ast.Definition]:
    """A rule file's definitions as the grammar reads them; a syntax error becomes a RuleSyntaxError
    pointing at the spot (the depth of each definition is `parser`'s to check)."""
    try:
        tree = _lark().parse(text)
    except UnexpectedEOF as exc:
        raise RuleSyntaxError(Diagnostic("unexpected end of file: a definition is incomplete", _end_of(text, file),
                                         _expected(exc), source_text=text)) from None
    except UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            raise RuleSyntaxError(Diagnostic("unexpected end of file: a definition is incomplete",
                                             _end_of(text, file), _expected(exc), source_text=text)) from None
        loc = Location(file, exc.line, exc.column, exc.column + len(str(tok)))
        raise RuleSyntaxError(Diagnostic(f"syntax error: unexpected `{tok}`", loc, _expected(exc),
                                         source_text=text)) from None
    except UnexpectedCharacters as exc:
        loc = Location(file, exc.line, exc.column)
        ch = text[exc.pos_in_stream] if 0 <= exc.pos_in_stream < len(text) else "?"
        raise RuleSyntaxError(Diagnostic(f"syntax error: unexpected character `{ch}`", loc, _expected(exc),
                                         source_text=text)) from None
    except RecursionError:
        raise RuleSyntaxError(Diagnostic("expression nested too deeply", Location(file, 1, 1))) from None
    try:
        definitions = _ToAst(file, text).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, RuleSyntaxError):
            raise exc.orig_exc from None
        raise RuleSyntaxError(Diagnostic(f"could not read rule file: {exc.orig_exc}", Location(file, 1, 1))) from None
    except RecursionError:
        raise RuleSyntaxError(Diagnostic("expression nested too deeply", Location(file, 1, 1))) from None
    return definitions
