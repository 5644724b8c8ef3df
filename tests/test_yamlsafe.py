"""Tests for engine.yamlsafe: safe YAML loading with source positions."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mips_rules.dsl.errors import DataError, Location
from mips_rules.engine.inputs.safe_yaml import LocatedDoc, load_yaml, load_yaml_text


def fails(text: str, **kwargs: int) -> tuple[str, Location]:
    """Load text that must fail; return the message and location of the one diagnostic."""
    with pytest.raises(DataError) as info:
        load_yaml_text(text, "rules.yaml", **kwargs)
    (diag,) = info.value.diagnostics
    assert diag.location is not None
    return diag.message, diag.location


# --- values -------------------------------------------------------------------


def test_decimal_is_exact_from_literal_text() -> None:
    doc = load_yaml_text("a: 2.15\nb: 0.1\nc: 1e3\nd: -1_000.5\ne: 2.5e-3\n")
    assert doc.data == {
        "a": Decimal("2.15"),
        "b": Decimal("0.1"),
        "c": Decimal("1E+3"),
        "d": Decimal("-1000.5"),
        "e": Decimal("0.0025"),
    }
    assert str(doc.data["a"]) == "2.15"  # not 2.149999… from a float
    assert all(isinstance(v, Decimal) for v in doc.data.values())


def test_int_stays_int() -> None:
    doc = load_yaml_text("a: 3\nb: -12\nc: 1_000\nd: 0\ne: 0x1F\n")
    assert doc.data == {"a": 3, "b": -12, "c": 1000, "d": 0, "e": 31}
    assert all(type(v) is int for v in doc.data.values())


def test_plain_values_and_order() -> None:
    doc = load_yaml_text("z: text\ny: true\nx: no\nw: ~\nv: [1, 'two']\nu: '3'\nt: 2024-01-01\n")
    assert list(doc.data) == ["z", "y", "x", "w", "v", "u", "t"]
    assert doc.data == {
        "z": "text",
        "y": True,
        "x": False,
        "w": None,
        "v": [1, "two"],
        "u": "3",
        "t": "2024-01-01",  # dates stay text; the schema parses them
    }


def test_standard_explicit_tags_are_allowed() -> None:
    doc = load_yaml_text("a: !!str 12\nb: !!float 1\nc: !!int '7'\nd: !!map {x: 1}\ne: !!seq [1]\n")
    assert doc.data == {"a": "12", "b": Decimal("1"), "c": 7, "d": {"x": 1}, "e": [1]}


def test_integer_keys_become_strings_keeping_digits() -> None:
    doc = load_yaml_text("measures:\n  1: a\n  236: b\n  001: c\n")
    assert doc.data == {"measures": {"1": "a", "236": "b", "001": "c"}}


def test_empty_file_is_none() -> None:
    for text in ("", "# only a comment\n", "---\n"):
        doc = load_yaml_text(text, "e.yaml")
        assert doc.data is None
        assert doc.where(("anything",)) == Location("e.yaml", 1, 1)


# --- locations ----------------------------------------------------------------


NESTED = """\
# header
quality:
  measures:
    - id: "001"
      weight: 2.15
    - id: "236"
      cutoffs: [1, 2, 3]
"""


def test_nested_key_location_points_at_key() -> None:
    doc = load_yaml_text(NESTED, "r.yaml")
    assert doc.locations[("quality",)] == Location("r.yaml", 2, 1, 8)
    assert doc.locations[("quality", "measures")] == Location("r.yaml", 3, 3, 11)
    assert doc.locations[("quality", "measures", 0)].line == 4
    assert doc.locations[("quality", "measures", 0, "weight")] == Location("r.yaml", 5, 7, 13)
    assert doc.locations[("quality", "measures", 1, "cutoffs", 2)] == Location("r.yaml", 7, 23, 24)
    assert doc.locations[()] == Location("r.yaml", 2, 1)


def test_where_uses_deepest_known_prefix() -> None:
    doc = load_yaml_text(NESTED, "r.yaml")
    # pydantic-style loc going deeper than the YAML (e.g. a missing field)
    assert doc.where(("quality", "measures", 1, "cutoffs", 7, "x")).line == 7
    assert doc.where(("quality", "measures", 1, "missing")) == doc.locations[("quality", "measures", 1)]
    assert doc.where(("quality", "nope", "deeper")) == doc.locations[("quality",)]
    assert doc.where(("unknown",)) == doc.locations[()]
    assert doc.where(()) == doc.locations[()]


def test_where_tolerates_int_or_str_for_integer_keys() -> None:
    doc = load_yaml_text("table:\n  236: {points: 3}\n")
    assert doc.where(("table", 236, "points")).line == 2
    assert doc.where(("table", "236", "points")).column == 9


def test_quoted_key_caret_covers_quotes() -> None:
    doc = load_yaml_text('"a b": 1\n')
    assert doc.locations[("a b",)] == Location("<string>", 1, 1, 6)


def test_locateddoc_is_plain_dataclass() -> None:
    doc = LocatedDoc(data={"a": 1}, path="x.yaml", locations={(): Location("x.yaml", 1, 1)})
    assert doc.where(("a",)) == Location("x.yaml", 1, 1)


# --- refused content ----------------------------------------------------------


@pytest.mark.parametrize(
    "text, tag",
    [
        ("ok: 1\nx: !!python/object:os.system ls\n", "!!python/object:os.system"),
        ("ok: 1\nx: !custom 1\n", "!custom"),
        ("ok: 1\nx: !!binary aGk=\n", "!!binary"),
        ("ok: 1\nx: !!timestamp 2024-01-01\n", "!!timestamp"),
        ("ok: 1\nx: !!python/name:os.system\n", "!!python/name:os.system"),
        ("ok: 1\nx: !thing {a: 1}\n", "!thing"),
    ],
)
def test_non_standard_tags_are_refused(text: str, tag: str) -> None:
    message, loc = fails(text)
    assert f"tag `{tag}` is not allowed" in message
    assert (loc.line, loc.column) == (2, 4)


def test_standard_tag_on_wrong_kind_is_refused() -> None:
    message, loc = fails("x: !!map [1]\n")
    assert "cannot be used on a list" in message and loc.line == 1


@pytest.mark.parametrize(
    "text, line, column",
    [
        ("base: &b {x: 1}\nother: *b\n", 1, 7),
        ("a: 1\nb: *undefined\n", 2, 4),
        ("- &x 1\n- 2\n", 1, 3),
    ],
)
def test_aliases_and_anchors_are_refused(text: str, line: int, column: int) -> None:
    message, loc = fails(text)
    assert "YAML aliases are not allowed in rule files" in message
    assert (loc.line, loc.column) == (line, column)


def test_billion_laughs_is_refused_quickly() -> None:
    bomb = 'a: &a ["lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
    message, _ = fails(bomb)
    assert "aliases are not allowed" in message


def test_merge_key_is_refused() -> None:
    message, loc = fails("a: 1\n<<: {b: 2}\n")
    assert "merge keys" in message
    assert loc.line == 2


def test_duplicate_key_names_key_and_both_lines() -> None:
    message, loc = fails("top:\n  x: 1\n  y: 2\n  x: 3\n")
    assert "duplicate key `x` (first defined on line 2)" in message
    assert (loc.line, loc.column, loc.end_column) == (4, 3, 4)


def test_duplicate_key_int_and_string_spelling() -> None:
    message, loc = fails("1: a\n'1': b\n")
    assert "duplicate key `1` (first defined on line 1)" in message and loc.line == 2


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("? [a, b]\n: 1\n", "mapping keys must be strings or integers"),
        ("? {a: 1}\n: 1\n", "mapping keys must be strings or integers"),
        ("on: 1\n", "read by YAML as a boolean"),
        ("~: 1\n", "read by YAML as null"),
        ("1.5: x\n", "read by YAML as a number"),
    ],
)
def test_non_string_keys_are_refused(text: str, fragment: str) -> None:
    message, loc = fails(text)
    assert fragment in message and loc.line == 1


@pytest.mark.parametrize("value", [".inf", "-.inf", ".NaN", "!!float nan", "!!float inf"])
def test_non_finite_numbers_are_refused(value: str) -> None:
    message, loc = fails(f"a: 1\nb: {value}\n")
    assert "not a finite number" in message
    assert (loc.line, loc.column) == (2, 4)


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("010", "leading zero"),
        ("1:30", "base-60"),
        ("!!int abc", "not a valid integer"),
        ("!!float abc", "not a valid number"),
        ("!!bool maybe", "not a valid boolean"),
    ],
)
def test_lossy_or_invalid_scalars_are_refused(value: str, fragment: str) -> None:
    message, loc = fails(f"a: 1\nb: {value}\n")
    assert fragment in message and loc.line == 2


# --- syntax and structure -----------------------------------------------------


def test_syntax_error_has_position() -> None:
    message, loc = fails("a: 1\nb: [1, 2\nc: 3\n")
    assert message.startswith("YAML syntax error:")
    assert loc.line == 3


def test_tab_indentation_is_a_syntax_error() -> None:
    with pytest.raises(DataError) as info:
        load_yaml_text("a:\n\tb: 1\n", "t.yaml")
    (diag,) = info.value.diagnostics
    assert "YAML syntax error" in diag.message and "\\t" in diag.message
    assert diag.location == Location("t.yaml", 2, 1)
    assert diag.hint is not None and "tabs" in diag.hint


def test_control_character_is_refused_with_position() -> None:
    message, loc = fails("a: 1\nb: x\x07y\n")
    assert "not allowed" in message
    assert (loc.line, loc.column) == (2, 5)


def test_multiple_documents_are_refused() -> None:
    message, loc = fails("a: 1\n---\nb: 2\n")
    assert "more than one YAML document" in message
    assert loc.line == 2


def test_depth_limit() -> None:
    message, loc = fails("a:\n  b:\n    c: [1]\n", max_depth=3)
    assert "deeper than the limit of 3" in message
    assert (loc.line, loc.column) == (3, 8)
    assert load_yaml_text("a:\n  b:\n    c: 1\n", max_depth=3).data == {"a": {"b": {"c": 1}}}


@pytest.mark.parametrize("text", ["[" * 10_000 + "]" * 10_000, "- " * 10_000 + "x\n", "{a: " * 10_000])
def test_very_deep_nesting_fails_cleanly(text: str) -> None:
    message, loc = fails(text)
    assert "nesting" in message and loc.line == 1


def test_recursion_error_becomes_data_error() -> None:
    # A caller-raised limit must still not leak RecursionError.
    message, _ = fails("[" * 20_000 + "]" * 20_000, max_depth=1_000_000)
    assert "nesting" in message


def test_error_renders_without_traceback() -> None:
    with pytest.raises(DataError) as info:
        load_yaml_text("a: 1\na: 2\n", "r.yaml")
    rendered = str(info.value)
    assert "r.yaml:2:1" in rendered and "a: 2" in rendered and "^" in rendered


# --- files --------------------------------------------------------------------


def test_load_yaml_reads_file_and_keeps_path(tmp_path: Path) -> None:
    f = tmp_path / "measures.yaml"
    f.write_text("weight: 2.15\n", encoding="utf-8")
    doc = load_yaml(f)
    assert doc.data == {"weight": Decimal("2.15")}
    assert doc.path == str(f)
    assert doc.where(("weight",)) == Location(str(f), 1, 1, 7)


def test_load_yaml_strips_utf8_bom(tmp_path: Path) -> None:
    f = tmp_path / "bom.yaml"
    f.write_bytes(b"\xef\xbb\xbfkey: 1\n")
    doc = load_yaml(f)
    assert doc.data == {"key": 1}
    assert doc.locations[("key",)].column == 1


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_yaml(tmp_path / "nope.yaml")
    (diag,) = info.value.diagnostics
    assert "file not found" in diag.message
    assert diag.location is not None and diag.location.line == 1


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="directory"):
        load_yaml(tmp_path)


def test_file_too_large_is_refused_before_parsing(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    f.write_text("a: [" * 50 + "\n", encoding="utf-8")  # would be a syntax error if parsed
    with pytest.raises(DataError) as info:
        load_yaml(f, max_bytes=100)
    (diag,) = info.value.diagnostics
    assert "too large" in diag.message and diag.location is not None and diag.location.line == 1


def test_invalid_utf8_points_at_first_bad_byte(tmp_path: Path) -> None:
    f = tmp_path / "latin1.yaml"
    f.write_bytes("a: 1\nname: café\nb: caf".encode("utf-8") + b"\xe9\n")
    with pytest.raises(DataError) as info:
        load_yaml(f)
    (diag,) = info.value.diagnostics
    assert "not valid UTF-8" in diag.message
    assert diag.location == Location(str(f), 3, 7)


def test_max_depth_passes_through_load_yaml(tmp_path: Path) -> None:
    f = tmp_path / "deep.yaml"
    f.write_text("a: {b: {c: 1}}\n", encoding="utf-8")
    with pytest.raises(DataError, match="deeper than the limit of 2"):
        load_yaml(f, max_depth=2)


# --- libyaml and PyYAML read the same ----------------------------------------------


def _outcome(text: str) -> object:
    """What loading gives: the values and every location, or the error as shown."""
    try:
        doc = load_yaml_text(text, "rules.yaml")
    except DataError as exc:
        return ("error", str(exc))
    return ("ok", doc.data, doc.locations)


_INSERTS = ["\t", ":", " ", "-", '"', "'", "&a", "*a", "!x", "!!str", "%", "{", "}", "[", "]", ",", "#", "\n",
            "é", "\u2028", "\x85", "\x01", "\ufeff", "? ", "?", "|", ">", "---", "...", "\r", "\\", "0x1F", "1e3",
            "~", "<<: ", "@", "`", "\x7f", "\r\n", "  ", "    - ", ": ", "\n- ", ":,", ":]", ":}"]


def test_libyaml_reads_every_text_as_the_python_parser_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading takes libyaml's parser (C) where it reads a text as PyYAML's pure-Python one
    does: the same values, locations and messages, on the project's YAML files and on
    thousands of mutations of them (tabs, `?`, flow collections, control characters, …)."""
    from conftest import mutations
    from mips_rules.engine.inputs import safe_yaml

    root = Path(__file__).resolve().parent.parent
    texts = [p.read_text(encoding="utf-8") for p in sorted((root / "rules").rglob("*.yaml"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((root / "examples").glob("*.yaml"))]
    cases = texts + mutations(texts, _INSERTS, 3000, 20261129)
    fast = [_outcome(t) for t in cases]
    assert safe_yaml._FastLoader is not None  # PyYAML's wheels carry libyaml; else this compares nothing
    monkeypatch.setattr(safe_yaml, "_FastLoader", None)
    for text, got in zip(cases, fast):
        assert got == _outcome(text), text
    assert sum(o[0] == "ok" for o in fast) > 400  # many mutations still load: both ways compared
