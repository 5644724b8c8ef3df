"""A year that extends others, written out whole: one folder with every effective file.

For an analyst who wants to read (or hand to someone) a year in one place, and for tests that
edit a copy of a year: `flatten_year(rules/2024, target)` writes 2023's files with 2024's items
and definitions in place of the ones they replace. Whole-item replacements and `removed: true`
are written out; a table changed with `changed_rows`/`removed_rows` is written as its full table.
"""

from __future__ import annotations

import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

from mips_rules.engine.years.cms_import import _file_text
from mips_rules.engine.inputs.safe_yaml import load_yaml
from mips_rules.engine.years.data_files import MANIFEST
from mips_rules.engine.years.layers import chain

_ITEM = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):")
_DEF = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(\(|=)")


def _blocks(lines: list[str], starts: list[int]) -> list[tuple[int, int]]:
    """Each entry's lines: from the comments and annotations right above it to the next entry."""
    out = []
    for j, s in enumerate(starts):
        begin = s
        floor = out[-1][1] if out else 0
        while begin > floor and (lines[begin - 1].startswith(("#", "@"))):
            begin -= 1
        end = starts[j + 1] if j + 1 < len(starts) else len(lines)
        while end > s + 1 and lines[end - 1].startswith(("#", "@")):
            end -= 1
        out.append((begin, end))
    return out


def _yaml_merge(parent: str, child: str) -> str:
    plines = parent.splitlines(keepends=True)
    pstarts = [i for i, line in enumerate(plines) if _ITEM.match(line)]
    pblocks = dict(zip((_ITEM.match(plines[s]).group(1) for s in pstarts), _blocks(plines, pstarts)))  # type: ignore[union-attr]
    cdata = load_yaml_text_safe(child)
    clines = child.splitlines(keepends=True)
    cstarts = [i for i, line in enumerate(clines) if _ITEM.match(line)]
    cblocks = dict(zip((_ITEM.match(clines[s]).group(1) for s in cstarts), _blocks(clines, cstarts)))  # type: ignore[union-attr]
    replaced: dict[str, str] = {}
    appended: list[str] = []
    for name, (b, e) in cblocks.items():
        raw = cdata.get(name)
        text = "".join(clines[b:e]).rstrip("\n") + "\n\n"
        if isinstance(raw, dict) and raw.get("removed") is True:
            replaced[name] = ""
        elif isinstance(raw, dict) and ("changed_rows" in raw or "removed_rows" in raw):
            raise ValueError(f"{name}: changed_rows/removed_rows are not written out by flatten_year")
        elif name in pblocks:
            replaced[name] = text
        else:
            appended.append(text)
    out: list[str] = []
    cursor = 0
    for name, (b, e) in sorted(pblocks.items(), key=lambda kv: kv[1][0]):
        out.append("".join(plines[cursor:b]))
        out.append(replaced.get(name, "".join(plines[b:e])))
        cursor = e
    out.append("".join(plines[cursor:]))
    text = "".join(out).rstrip("\n") + "\n"
    if appended:
        text += "\n" + "".join(appended).rstrip("\n") + "\n"
    return text


def _report_fields_merged(parent: str, child: str) -> str:
    """A report.yaml layer whose `fields` are the inherited ones with the layer's by name (replaced
    in place, new at the end, `removed: true` dropped), so that the top-level merge writes them whole."""
    import yaml

    old = load_yaml_text_safe(parent).get("fields") or []
    new = load_yaml_text_safe(child).get("fields")
    if new is None:
        return child
    merged = {f["name"]: f for f in old if isinstance(f, dict) and "name" in f}
    for f in new:
        if isinstance(f, dict) and f.get("removed") is True:
            merged.pop(f.get("name"), None)
        elif isinstance(f, dict) and "name" in f:
            merged[f["name"]] = f
    lines = child.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if _ITEM.match(line)]
    blocks = dict(zip((_ITEM.match(lines[i]).group(1) for i in starts), _blocks(lines, starts)))  # type: ignore[union-attr]
    b, e = blocks["fields"]
    dumped = yaml.safe_dump({"fields": list(merged.values())}, sort_keys=False, allow_unicode=True, width=110)
    return "".join(lines[:b]) + dumped + "".join(lines[e:])


def load_yaml_text_safe(text: str) -> dict:
    from mips_rules.engine.inputs.safe_yaml import load_yaml_text

    data = load_yaml_text(text).data
    return data if isinstance(data, dict) else {}


def _rules_merge(parent: str, replacements: dict[str, str], removed: set[str]) -> str:
    lines = parent.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if _DEF.match(line)]
    names = [_DEF.match(lines[s]).group(1) for s in starts]  # type: ignore[union-attr]
    out: list[str] = []
    cursor = 0
    for name, (b, e) in zip(names, _blocks(lines, starts)):
        out.append("".join(lines[cursor:b]))
        if name in replacements:
            out.append(replacements.pop(name))
        elif name not in removed:
            out.append("".join(lines[b:e]))
        cursor = e
    out.append("".join(lines[cursor:]))
    return "".join(out)


def _definitions(text: str) -> dict[str, str]:
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if _DEF.match(line)]
    names = [_DEF.match(lines[s]).group(1) for s in starts]  # type: ignore[union-attr]
    return {n: "".join(lines[b:e]).rstrip("\n") + "\n\n" for n, (b, e) in zip(names, _blocks(lines, starts))}


def flatten_year(folder: Path, target: Path, bundled_root: Path | None = None) -> Path:
    """Write the effective year of `folder` into `target` (created), its own tests/ included."""
    from mips_rules.engine.years.loader import default_rules_root

    layers = chain(folder, bundled_root or default_rules_root())
    files: dict[str, str] = {}
    for layer in layers:
        child_defs: dict[str, str] = {}
        for path in sorted(p for p in layer.folder.iterdir() if p.is_file() and not p.is_symlink()):
            if path.name == MANIFEST or path.suffix not in (".yaml", ".json", ".rules"):
                continue
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".rules" and layer is not layers[0]:
                child_defs.update({n: (path.name, t) for n, t in _definitions(text).items()})  # type: ignore[misc]
            elif path.name == "report.yaml" and path.name in files:
                files[path.name] = _yaml_merge(files[path.name], _report_fields_merged(files[path.name], text))
            elif path.name in files and path.suffix == ".yaml":
                files[path.name] = _yaml_merge(files[path.name], text)
            elif path.name in files and path.suffix == ".json":
                merged = json.loads(files[path.name], parse_float=Decimal, parse_int=Decimal)
                merged.update(json.loads(text, parse_float=Decimal, parse_int=Decimal))
                files[path.name] = _file_text(merged)
            else:
                files[path.name] = text
        removed = set(layer.removed_definitions)
        pending = {n: t for n, (f, t) in child_defs.items()}  # type: ignore[misc]
        for name in [n for n in files if n.endswith(".rules")]:
            files[name] = _rules_merge(files[name], pending, removed)
        for n, (f, t) in child_defs.items():  # type: ignore[misc]
            if n in pending:  # new definitions: at the end of the file of the same name
                files[f] = files.get(f, "").rstrip("\n") + ("\n\n" if files.get(f) else "") + pending.pop(n)
    target.mkdir(parents=True, exist_ok=False)
    for name, text in files.items():
        (target / name).write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    if (folder / "tests").is_dir():
        shutil.copytree(folder / "tests", target / "tests")
    return target
