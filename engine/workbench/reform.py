"""A policy change without writing a folder: `--set program.performance_threshold=80`.

Each `PATH=VALUE` replaces one value item of the base year (VALUE is YAML: `80`, `[a, b]`,
`{quality: 55, …}`). The changes are written as a temporary year folder that extends the base
(`year.yaml: extends`), so the reform is loaded, checked and typed exactly like a folder an analyst
would write: a text where the rules need a number, or a weight row that does not sum to 100, is
refused with its message. The temporary folder is removed when the reform is loaded.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from mips_rules.dsl.errors import DataError, Diagnostic, RulesError
from mips_rules.engine.inputs.safe_yaml import load_yaml_text


def parse_set(text: str) -> tuple[str, str, Any]:
    """`NS.ITEM=VALUE` → (namespace, item, value as plain YAML data)."""
    path, sep, raw = text.partition("=")
    parts = path.strip().split(".")
    if not sep or len(parts) != 2 or not all(p.isidentifier() for p in parts):
        raise RulesError(Diagnostic(f"--set {text!r}: write NAMESPACE.ITEM=VALUE (program.performance_threshold=80)"))
    try:
        value = load_yaml_text(raw).data
    except RulesError as exc:
        raise RulesError(Diagnostic(f"--set {path}: the value is not YAML ({exc.diagnostics[0].message})")) from None
    return parts[0], parts[1], value


def reform_year(base: Any, changes: list[str]) -> Any:
    """The base year with each `--set` change, loaded and checked like a folder."""
    from mips_rules.engine.years.loader import load_year

    parsed = [parse_set(c) for c in changes]
    by_file: dict[str, dict[str, Any]] = {}
    for ns, name, value in parsed:
        item = base.data.items.get(ns, {}).get(name)
        if item is None:
            known = sorted(f"{n}.{i}" for n, items in base.data.items.items() for i in items)
            import difflib

            close = difflib.get_close_matches(f"{ns}.{name}", known, n=1)
            raise RulesError(Diagnostic(f"--set {ns}.{name}: the {base.performance_year} rules have no such value",
                                        hint=f"did you mean {close[0]}?" if close else None))
        if item.kind != "value":
            raise RulesError(Diagnostic(f"--set {ns}.{name}: a table; change it in a draft folder (--draft)"))
        entry: dict[str, Any] = {"value": value}
        if item.unit:
            entry["unit"] = item.unit
        entry["source"] = f"rulesctl impact --set (the {base.performance_year} value: {item.raw!r})"
        by_file.setdefault(ns, {})[name] = entry
    parent = Path(tempfile.mkdtemp(prefix=".reform-"))
    try:
        folder = parent / "reform"
        folder.mkdir()
        (folder / "year.yaml").write_text(
            "extends: " + yaml.safe_dump(str(base.folder.resolve())).strip().removesuffix("...").strip()
            + "\nsource: rulesctl impact --set\n", encoding="utf-8")
        for ns, items in by_file.items():
            (folder / f"{ns}.yaml").write_text(yaml.safe_dump(_plain(items), sort_keys=False, allow_unicode=True),
                                               encoding="utf-8")
        try:
            return load_year(None, folder, keep=False)  # (a folder removed below: its entry would never be read)
        except DataError as exc:
            raise DataError([Diagnostic(f"--set: {d.message}", None, d.hint) for d in exc.diagnostics]) from None
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
