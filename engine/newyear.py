"""Start a new program year from an existing one: a copy whose every value is marked as
carried over (not yet reviewed), so `rulesctl check` warns until an analyst reviews it."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from mips_rules.dsl.errors import Diagnostic, RulesError
from mips_rules.engine.yamlsafe import load_yaml

CARRIED = "  carried_over: true"


def _mark_file(path: Path, set_values: dict[str, int]) -> None:
    """Insert `carried_over: true` under each item (keeping comments and layout); set given values."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        return
    lines = path.read_text(encoding="utf-8").split("\n")
    inserts: dict[int, str] = {}
    for name, item in doc.data.items():
        if not isinstance(item, dict):
            continue
        key_line = doc.where((name,)).line  # 1-based line of `name:`
        if name in set_values and "value" in item:
            value_line = doc.where((name, "value")).line - 1
            lines[value_line] = re.sub(r"(value:\s*)\S+", rf"\g<1>{set_values[name]}", lines[value_line], count=1)
            if name == "performance_year":
                continue  # the one value the new year is defined by
        if not item.get("carried_over"):
            inserts[key_line] = CARRIED
    for line_no in sorted(inserts, reverse=True):
        lines.insert(line_no, inserts[line_no])
    path.write_text("\n".join(lines), encoding="utf-8")


def new_year(root: Path, year: int, source_year: int) -> Path:
    """Copy `root/<source_year>` to `root/<year>`; nothing is written unless the whole copy succeeds."""
    src, dest = root / str(source_year), root / str(year)
    if not src.is_dir():
        raise RulesError(Diagnostic(f"no rules for {source_year} in {root}"))
    if dest.exists():
        raise RulesError(Diagnostic(f"{dest} already exists; remove it or pick another year"))
    tmp = Path(tempfile.mkdtemp(prefix=f".{year}-", dir=root))
    try:
        work = tmp / str(year)
        shutil.copytree(src, work)
        program = load_yaml(work / "program.yaml").data or {}
        offset = 0
        if isinstance(program.get("payment_year"), dict) and isinstance(program.get("performance_year"), dict):
            offset = int(program["payment_year"]["value"]) - int(program["performance_year"]["value"])
        for path in sorted(work.glob("*.yaml")):
            values = {"performance_year": year, "payment_year": year + offset} if path.name == "program.yaml" else {}
            _mark_file(path, values)
        work.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
