"""Safe YAML loading with source positions.

Rule years and scoring contexts are YAML written by hand.  We want two things
from loading them that ``yaml.safe_load`` does not give:

* **Safety beyond "no Python objects"**: no custom tags, no anchors/aliases
  (which also rules out "billion laughs" bombs), no merge keys, no duplicate
  keys, no silently lossy numbers, bounded size and nesting, and every failure
  reported as a :class:`~dsl.errors.DataError` instead of a traceback.
* **Positions**: every key, list item and scalar remembers where it came from,
  so a later schema error (e.g. a pydantic ``loc`` tuple) can be reported as
  ``file:line:column``.

We use PyYAML only to *compose* the node tree (parse and resolve implicit tags);
the conversion to plain Python values is done here, so no PyYAML constructor ever
runs. The parsing is libyaml's (C) where it reads a text exactly as PyYAML's
pure-Python SafeLoader does, and that loader's everywhere else (`_compose_fast`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, CollectionStartEvent, StreamEndEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

try:
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    _CParser = None

from mips_rules.dsl.errors import DataError, Diagnostic, Location
from mips_rules.engine.inputs.numbers import MAX_DIGITS, NumberTooLarge, bounded_decimal

__all__ = ["LocatedDoc", "load_yaml", "load_yaml_text"]

KeyPath = tuple[str | int, ...]

_YAML_TAG = "tag:yaml.org,2002:"
_STR = _YAML_TAG + "str"
_INT = _YAML_TAG + "int"
_FLOAT = _YAML_TAG + "float"
_BOOL = _YAML_TAG + "bool"
_NULL = _YAML_TAG + "null"
_MAP = _YAML_TAG + "map"
_SEQ = _YAML_TAG + "seq"
_MERGE = _YAML_TAG + "merge"
_TIMESTAMP = _YAML_TAG + "timestamp"
_VALUE = _YAML_TAG + "value"

_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL})

# The YAML 1.1 spellings SafeLoader resolves; used to validate explicit tags
# such as ``!!bool "maybe"`` which SafeLoader's constructors would accept.
_TRUE = frozenset({"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
_FALSE = frozenset({"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})

_DECIMAL_DIGITS = re.compile(r"[0-9]+")
_NON_FINITE = re.compile(r"[-+]?\.?(inf|infinity|nan)", re.IGNORECASE)

_ALLOWED_HINT = "only plain strings, numbers, booleans, null, mappings and lists are allowed"


class _StrictComposing:
    """Composing that refuses anchors/aliases and limits nesting (for either parser below).

    PyYAML's composer is recursive, so the depth check has to happen here,
    before Python's recursion limit is reached on input like ``[[[[...``.
    """

    max_depth: int = 64
    _depth: int = 0
    last_mark: yaml.Mark | None = None

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        event = self.peek_event()
        self.last_mark = event.start_mark
        if isinstance(event, AliasEvent):
            raise _NodeError(
                f"YAML aliases are not allowed in rule files (found `*{event.anchor}`)",
                event.start_mark,
                hint="repeat the value instead of referring to it",
            )
        if event.anchor is not None:
            raise _NodeError(
                f"YAML aliases are not allowed in rule files (found anchor `&{event.anchor}`)",
                event.start_mark,
                hint="remove the anchor and repeat the value where it is needed",
            )
        if isinstance(event, CollectionStartEvent):
            self._depth += 1
            if self._depth > self.max_depth:
                raise _NodeError(
                    f"nesting is deeper than the limit of {self.max_depth} levels",
                    event.start_mark,
                )
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)  # type: ignore[misc]


class _StrictLoader(_StrictComposing, yaml.SafeLoader):
    """PyYAML's pure-Python scanner and parser: the reference, and every message of a bad file."""

    def __init__(self, stream: str, max_depth: int) -> None:
        super().__init__(stream)
        self.max_depth = max_depth


if _CParser is not None:
    class _FastLoader(_StrictComposing, _CParser, Composer, Resolver):  # type: ignore[misc, valid-type]
        """libyaml's scanner and parser (C) under the same composer and resolver: about 8× faster.
        Used only where it gives what `_StrictLoader` gives (see `_compose_fast`)."""

        def __init__(self, stream: str, max_depth: int) -> None:
            _CParser.__init__(self, stream)
            Composer.__init__(self)
            Resolver.__init__(self)
            self.max_depth = max_depth
else:  # pragma: no cover - PyYAML built without libyaml: the pure-Python parser does everything
    _FastLoader = None  # type: ignore[assignment, misc]


# Where libyaml and PyYAML's own parser part ways (found by comparing both on mutated rule
# files, tests/test_yamlsafe.py): tabs, a byte-order mark, `?` as an indicator, and, inside
# flow collections, plain scalars that are empty or hold a `?`. Text with the first three, and
# a document with the last, is composed by the pure-Python parser; so is any text libyaml refuses.
_FAST_UNSAFE = re.compile(r"[\t\ufeff]|(?:^|[\s\[{,])\?(?:\s|$)", re.MULTILINE)


def _compose_fast(text: str, max_depth: int) -> tuple[Node | None, yaml.Mark | None] | None:
    """The document as libyaml composes it, or None where only `_StrictLoader` can say
    (it then composes the text, and reports any problem, exactly as before)."""
    if _FastLoader is None or _FAST_UNSAFE.search(text):
        return None
    loader = _FastLoader(text, max_depth)
    try:
        root, start = _compose_single(loader)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - whatever libyaml refuses, PyYAML reads or reports
        return None
    finally:
        loader.dispose()
    if root is not None and _flow_plain_doubt(root):
        return None
    return root, start


def _flow_plain_doubt(root: Node) -> bool:
    """A plain scalar inside a flow collection that is empty or holds `?` (the parsers differ)."""
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, flow = stack.pop()
        if isinstance(node, ScalarNode):
            if flow and not node.style and (not node.value or "?" in node.value):
                return True
            continue
        inner = flow or bool(node.flow_style)
        if isinstance(node, MappingNode):
            for key, value in node.value:
                stack.append((key, inner))
                stack.append((value, inner))
        else:
            stack.extend((child, inner) for child in node.value)
    return False


# Dates stay strings (the schema parses them; `!!timestamp` would yield
# datetime objects we never asked for) and `=` is not a special "value" key.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_TIMESTAMP, _VALUE)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# YAML 1.1 as PyYAML implements it reads `1e3`, `2.5e3` and `+.5` as strings
# (it wants a dot and a signed exponent, and no sign before a bare dot);
# read them as numbers.  Appended last, so PyYAML's own int/float win first.
_StrictLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+"
        r"|[-+]\.[0-9][0-9_]*)$"
    ),
    list("-+0123456789."),
)
if _FastLoader is not None:
    _FastLoader.yaml_implicit_resolvers = _StrictLoader.yaml_implicit_resolvers  # the same tags, either parser


class _NodeError(Exception):
    """A problem at a YAML mark; turned into a DataError once path and text are known."""

    def __init__(
        self,
        message: str,
        mark: yaml.Mark | None,
        hint: str | None = None,
        end_column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.hint = hint
        self.end_column = end_column


@dataclass
class LocatedDoc:
    """A loaded YAML document plus where each part of it came from.

    ``locations`` maps a key path (mapping keys as ``str``, list indexes as
    ``int``) to the start of that entry: for a mapping entry the location of
    its *key*, for a list item the item itself.  ``()`` is the document start.
    """

    data: Any
    path: str
    locations: dict[KeyPath, Location] = field(default_factory=dict)

    def where(self, key_path: Sequence[str | int]) -> Location:
        """Location of the deepest known prefix of ``key_path``.

        Lets a schema error's ``loc`` tuple, which may go deeper than the YAML
        (a missing key, a pydantic union tag), still point at a line.  Ints and
        digit strings are tried both ways, because integer keys are stored as
        strings and validators may report either form.
        """
        best = self.locations.get(()) or Location(self.path, 1, 1)
        prefix: KeyPath = ()
        for part in key_path:
            for candidate in _spellings(part):
                longer = prefix + (candidate,)
                if longer in self.locations:
                    prefix = longer
                    best = self.locations[longer]
                    break
            else:
                break
        return best


def _spellings(part: str | int) -> list[str | int]:
    """Forms a path element may take in ``locations`` (int index vs str key)."""
    if isinstance(part, bool):
        return [part]
    if isinstance(part, int):
        return [part, str(part)]
    if isinstance(part, str) and _DECIMAL_DIGITS.fullmatch(part):
        return [part, int(part)]
    return [part]


def load_yaml(path: str | Path, *, max_bytes: int = 5_000_000, max_depth: int = 64) -> LocatedDoc:
    """Read a UTF-8 YAML file and load it safely with source positions.

    The size limit is checked before reading so an oversized file is never
    parsed (pure-Python parsing is slow and memory hungry).
    """
    name = str(path)
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise _file_error(name, f"file not found: {name}") from None
    except OSError as exc:
        raise _file_error(name, f"cannot read {name}: {exc.strerror or exc}") from None
    if p.is_dir():
        raise _file_error(name, f"cannot read {name}: it is a directory")
    if size > max_bytes:
        raise _file_error(name, f"file is too large ({size} bytes; the limit is {max_bytes})")
    try:
        with p.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise _file_error(name, f"cannot read {name}: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:  # grew since stat, or not a regular file
        raise _file_error(name, f"file is too large (more than {max_bytes} bytes)")
    return load_yaml_text(_decode_utf8(raw, name), name, max_depth=max_depth)


def load_yaml_text(text: str, path: str = "<string>", *, max_depth: int = 64) -> LocatedDoc:
    """Load YAML text safely; ``path`` is only used in locations and messages."""
    loader: _StrictLoader | None = None
    try:
        try:
            fast = _compose_fast(text, max_depth)
            if fast is not None:
                root, start = fast
            else:
                loader = _StrictLoader(text, max_depth)
                root, start = _compose_single(loader)
        except RecursionError:
            mark = loader.last_mark if loader is not None else None
            raise _NodeError("nesting is too deep to load", mark) from None
        doc = LocatedDoc(data=None, path=path)
        doc.locations[()] = _loc(path, start) if start is not None else Location(path, 1, 1)
        if root is None:
            return doc
        try:
            doc.data = _Converter(path, doc.locations, max_depth).convert(root, (), 0)
        except RecursionError:
            raise _NodeError("nesting is too deep to load", root.start_mark) from None
        return doc
    except _NodeError as err:
        loc = _loc(path, err.mark, err.end_column) if err.mark is not None else Location(path, 1, 1)
        raise DataError(Diagnostic(err.message, loc, err.hint, source_text=text)) from None
    except yaml.reader.ReaderError as err:
        raise DataError(_reader_diagnostic(err, text, path)) from None
    except yaml.MarkedYAMLError as err:
        raise DataError(_syntax_diagnostic(err, text, path)) from None
    except yaml.YAMLError as err:  # no position available; still no traceback
        raise DataError(
            Diagnostic(f"invalid YAML: {err}", Location(path, 1, 1), source_text=text)
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def _compose_single(loader: _StrictComposing) -> tuple[Node | None, yaml.Mark | None]:
    """Compose the one document of the stream and note where it starts.

    Returns (None, None) for an empty stream (only comments or whitespace).

    Done by hand rather than ``get_single_node`` to give a clearer message
    that points at the second document.
    """
    loader.get_event()  # StreamStartEvent
    if loader.check_event(StreamEndEvent):
        return None, None
    start = loader.peek_event().start_mark  # DocumentStartEvent: `---` or first token
    root = loader.compose_document()
    if not loader.check_event(StreamEndEvent):
        raise _NodeError(
            "more than one YAML document in the file",
            loader.peek_event().start_mark,
            hint="a rule or context file must hold exactly one document; remove the extra `---`",
        )
    return root, start


class _Converter:
    """Turns composed nodes into plain Python values and records locations."""

    def __init__(self, path: str, locations: dict[KeyPath, Location], max_depth: int) -> None:
        self.path = path
        self.locations = locations
        self.max_depth = max_depth

    def convert(self, node: Node, key_path: KeyPath, depth: int) -> Any:
        """Convert one node; the composer already bounded the depth, this re-checks it."""
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        depth += 1
        if depth > self.max_depth:
            raise _NodeError(f"nesting is deeper than the limit of {self.max_depth} levels", node.start_mark)
        if isinstance(node, SequenceNode):
            self.check_tag(node, _SEQ, "a list")
            items: list[Any] = []
            for index, child in enumerate(node.value):
                child_path = key_path + (index,)
                self.locations[child_path] = _node_loc(self.path, child)
                items.append(self.convert(child, child_path, depth))
            return items
        if isinstance(node, MappingNode):
            self.check_tag(node, _MAP, "a mapping")
            result: dict[str, Any] = {}
            key_lines: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = self.key(key_node)
                key_loc = _node_loc(self.path, key_node)
                if key in key_lines:
                    raise _NodeError(
                        f"duplicate key `{key}` (first defined on line {key_lines[key]})",
                        key_node.start_mark,
                        end_column=key_loc.end_column,
                    )
                key_lines[key] = key_loc.line
                child_path = key_path + (key,)
                self.locations[child_path] = key_loc
                result[key] = self.convert(value_node, child_path, depth)
            return result
        raise _NodeError(f"unsupported YAML node {type(node).__name__}", node.start_mark)

    def check_tag(self, node: Node, expected: str, kind: str) -> None:
        """Reject custom tags, and standard tags that do not fit the node kind."""
        if node.tag == expected:
            return
        if node.tag in _SCALAR_TAGS or node.tag in (_MAP, _SEQ):
            raise _NodeError(f"tag `{_short_tag(node.tag)}` cannot be used on {kind}", node.start_mark)
        raise _NodeError(f"tag `{_short_tag(node.tag)}` is not allowed", node.start_mark, hint=_ALLOWED_HINT)

    def key(self, node: Node) -> str:
        """A mapping key as a string: strings as is, integers by their digits."""
        if not isinstance(node, ScalarNode):
            raise _NodeError(
                "mapping keys must be strings or integers, not a list or mapping", node.start_mark
            )
        if node.tag == _MERGE:
            raise _NodeError(
                "merge keys (`<<`) are not allowed in rule files",
                node.start_mark,
                hint="write the keys out in full",
            )
        if node.tag == _STR:
            return node.value
        if node.tag == _INT:
            # Keep the digits as written: a measure table keyed `001:` must not
            # become "1" (str(int)) nor octal.
            if _DECIMAL_DIGITS.fullmatch(node.value):
                return node.value
            return str(self.integer(node))
        if node.tag in (_BOOL, _NULL, _FLOAT):
            kind = {_BOOL: "a boolean", _NULL: "null", _FLOAT: "a number"}[node.tag]
            shown = node.value or "(empty)"
            raise _NodeError(
                f"mapping key `{shown}` is read by YAML as {kind}, not a name",
                node.start_mark,
                hint=f'quote it: "{node.value}"' if node.value else "give the key a name",
            )
        raise _NodeError(f"tag `{_short_tag(node.tag)}` is not allowed", node.start_mark, hint=_ALLOWED_HINT)

    def scalar(self, node: ScalarNode) -> Any:
        """Convert a scalar by its (resolved or explicit) standard tag."""
        tag, text = node.tag, node.value
        if tag == _STR:
            return text
        if tag == _INT:
            return self.integer(node)
        if tag == _FLOAT:
            return self.decimal(node)
        if tag == _BOOL:
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise _NodeError(f"`{text}` is not a valid boolean", node.start_mark)
        if tag == _NULL:
            if text in _NULLS:
                return None
            raise _NodeError(f"`{text}` is not a valid null", node.start_mark)
        if tag == _MERGE:
            raise _NodeError("merge keys (`<<`) are not allowed in rule files", node.start_mark)
        if tag in (_MAP, _SEQ):
            raise _NodeError(f"tag `{_short_tag(tag)}` cannot be used on a plain value", node.start_mark)
        raise _NodeError(f"tag `{_short_tag(tag)}` is not allowed", node.start_mark, hint=_ALLOWED_HINT)

    def integer(self, node: ScalarNode) -> int:
        """Parse an integer, refusing YAML 1.1 forms that silently change the value."""
        text = node.value.strip()
        raw = text.replace("_", "")
        sign = -1 if raw.startswith("-") else 1
        digits = raw[1:] if raw[:1] in "+-" else raw
        if len(digits) > MAX_DIGITS:
            raise _NodeError(f"the number `{text[:20]}…` has more than {MAX_DIGITS} digits", node.start_mark)
        for prefix, base in (("0b", 2), ("0x", 16)):
            if digits.startswith(prefix):
                try:
                    return sign * int(digits[2:], base)
                except ValueError:
                    raise _NodeError(f"`{text}` is not a valid integer", node.start_mark) from None
        if ":" in digits:
            raise _NodeError(
                f"`{text}` would be read as a base-60 number by YAML 1.1",
                node.start_mark,
                hint=f'quote it if it is text: "{text}"',
            )
        if _DECIMAL_DIGITS.fullmatch(digits):
            if len(digits) > 1 and digits.startswith("0"):
                raise _NodeError(
                    f"`{text}` has a leading zero, which YAML 1.1 reads as an octal number",
                    node.start_mark,
                    hint=f'quote it if it is a code ("{text}") or drop the leading zero',
                )
            return sign * int(digits)
        raise _NodeError(f"`{text}` is not a valid integer", node.start_mark)

    def decimal(self, node: ScalarNode) -> Decimal:
        """Build a Decimal from the literal text, so `2.15` stays exactly 2.15."""
        text = node.value.strip()
        if _NON_FINITE.fullmatch(text):
            raise _NodeError(f"`{text}` is not a finite number", node.start_mark)
        if ":" in text:
            raise _NodeError(
                f"`{text}` would be read as a base-60 number by YAML 1.1",
                node.start_mark,
                hint=f'quote it if it is text: "{text}"',
            )
        try:
            return bounded_decimal(text.replace("_", ""))
        except NumberTooLarge as exc:
            raise _NodeError(str(exc), node.start_mark) from None
        except ValueError:
            raise _NodeError(f"`{text}` is not a valid number", node.start_mark) from None


def _short_tag(tag: str) -> str:
    """Show standard tags as `!!name`, the way they are usually written."""
    return "!!" + tag[len(_YAML_TAG):] if tag.startswith(_YAML_TAG) else tag


def _loc(path: str, mark: yaml.Mark, end_column: int | None = None) -> Location:
    """Convert PyYAML's 0-based mark to our 1-based Location."""
    return Location(path, mark.line + 1, mark.column + 1, end_column)


def _node_loc(path: str, node: Node) -> Location:
    """Where a node starts; scalars on one line also get an end column for the caret."""
    start, end = node.start_mark, node.end_mark
    end_column: int | None = None
    if isinstance(node, ScalarNode):
        if end is not None and end.line == start.line and end.column > start.column:
            end_column = end.column + 1
        elif "\n" not in node.value and node.value:
            end_column = start.column + 1 + len(node.value)
    return _loc(path, start, end_column)


def _file_error(path: str, message: str) -> DataError:
    """A whole-file problem; empty source text so rendering never re-reads the file."""
    return DataError(Diagnostic(message, Location(path, 1, 1), source_text=""))


def _decode_utf8(raw: bytes, path: str) -> str:
    """Decode UTF-8 (dropping a BOM), pointing at the first bad byte on failure."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.start
        line_start = raw.rfind(b"\n", 0, bad) + 1
        line = raw.count(b"\n", 0, bad) + 1
        column = len(raw[line_start:bad].decode("utf-8")) + 1
        text = raw.decode("utf-8", errors="replace")
        raise DataError(
            Diagnostic(
                f"not valid UTF-8 (byte 0x{raw[bad]:02x})",
                Location(path, line, column),
                hint="save the file as UTF-8",
                source_text=text,
            )
        ) from None


def _line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index, counting lines as YAML does."""
    index = max(0, min(index, len(text)))
    head = text[:index].replace("\r\n", "\n").replace("\r", "\n")
    line = head.count("\n") + 1
    return line, len(head) - (head.rfind("\n") + 1) + 1


def _reader_diagnostic(err: yaml.reader.ReaderError, text: str, path: str) -> Diagnostic:
    """A control character or similar the YAML reader refuses."""
    line, column = _line_col(text, err.position)
    char = err.character
    shown = f"#x{char:04x}" if isinstance(char, int) else repr(char)
    return Diagnostic(
        f"character {shown} is not allowed in YAML ({err.reason})",
        Location(path, line, column),
        source_text=text,
    )


def _syntax_diagnostic(err: yaml.MarkedYAMLError, text: str, path: str) -> Diagnostic:
    """A YAML syntax error at PyYAML's problem mark, with its context as a hint."""
    mark = err.problem_mark or err.context_mark
    loc = _loc(path, mark) if mark is not None else Location(path, 1, 1)
    problem = err.problem or err.context or "invalid YAML"
    hint = None
    if err.context and err.problem:
        hint = err.context
        if err.context_mark is not None and err.context_mark is not mark:
            hint += f" (line {err.context_mark.line + 1}, column {err.context_mark.column + 1})"
    if "\\t" in problem or "\t" in problem:
        hint = "YAML does not allow tabs for indentation; use spaces"
    return Diagnostic(f"YAML syntax error: {problem}", loc, hint, source_text=text)
