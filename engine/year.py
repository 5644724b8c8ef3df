"""Load a year of rules: read its data and rule files, check everything, compile once."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from mips_rules.dsl import ast
from mips_rules.dsl.checker import Shape, check
from mips_rules.dsl.compiler import CompiledRules, Compiler
from mips_rules.dsl.errors import DataError, Diagnostic, Location, RuleCheckError, RulesError
from mips_rules.dsl.parser import parse_file
from mips_rules.engine.contract import REQUIRED_DATA, REQUIRED_DEFINITIONS
from mips_rules.engine.inputshapes import input_shapes
from mips_rules.engine.refdata import TABLE_KEYS, load_imported
from mips_rules.engine.yeardata import YearData, apply_imported, load_data_dir

RULE_SUFFIX = ".rules"


def default_rules_root() -> Path:
    """`$RULESCTL_RULES`, else the `rules/` folder beside the packages, else `./rules`."""
    env = os.environ.get("RULESCTL_RULES")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parent.parent / "rules"
    return beside if beside.is_dir() else Path("rules")


def is_year_folder(path: Path) -> bool:
    return path.is_dir() and (any(path.glob("*.yaml")) or any(path.glob(f"*{RULE_SUFFIX}")))


def available_years(root: Path) -> list[str]:
    """The year folders (named by their year) directly under a rules root."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.isdigit() and is_year_folder(p))


def year_folders(root: Path) -> list[Path]:
    """Every year folder under a rules root, or the root itself when it is one year's folder."""
    if not root.exists():
        raise RulesError(Diagnostic(f"rules folder not found: {root}"))
    years = available_years(root)
    if years:
        return [root / y for y in years]
    if is_year_folder(root):
        return [root]
    raise RulesError(Diagnostic(f"no year folders in {root}"))


def resolve_year_folder(year: int | str | None, rules: Path | None = None) -> Path:
    """Find the folder for a year: `rules` may be a rules root (holding year folders) or a year folder itself."""
    root = Path(rules) if rules is not None else default_rules_root()
    if not root.exists():
        raise RulesError(Diagnostic(f"rules folder not found: {root}"))
    if year is not None and (root / str(year)).is_dir():
        return root / str(year)
    if is_year_folder(root) and not available_years(root):
        return root
    years = available_years(root)
    if year is None:
        raise RulesError(Diagnostic(f"no year given; {root} has: {', '.join(years) or 'none'}"))
    raise RulesError(Diagnostic(f"no rules for {year} in {root}", hint=f"available: {', '.join(years) or 'none'}"))


def _overlay_imported(data: YearData, reference: Path | None | bool) -> None:
    if reference is False:
        return
    declared = data.items.get("program", {}).get("performance_year")
    if declared is None or not isinstance(declared.value, Decimal):
        return
    home = None if reference in (None, True) else Path(reference)  # type: ignore[arg-type]
    tables, path = load_imported(int(declared.value), home)
    if path is not None:
        apply_imported(data, tables, TABLE_KEYS, str(path))


def _carried_over_warnings(data: YearData) -> list[Diagnostic]:
    """One warning per data file listing the values not yet reviewed for this year."""
    out = []
    for ns, items in data.items.items():
        carried = [it for it in items.values() if it.carried_over]
        if carried:
            names = ", ".join(it.name for it in carried)
            out.append(Diagnostic(f"{len(carried)} value(s) of `{ns}` carried over from another year and not yet "
                                  f"reviewed: {names}", Location(carried[0].location.file, carried[0].location.line, 1),
                                  hint="review each and remove its `carried_over: true`", severity="warning"))
    return out


@dataclass
class Year:
    """A loaded, checked and compiled year of rules."""

    folder: Path
    performance_year: int
    data: YearData
    definitions: dict[str, ast.Definition]
    rules: CompiledRules
    warnings: list[Diagnostic] = field(default_factory=list)
    load_seconds: float = 0.0

    def namespaces(self) -> dict[str, Any]:
        return self.data.namespaces()


def load_year(year: int | str | None = None, rules: Path | None = None, *,
              shapes: Mapping[str, Shape] | None = None, reference: Path | None | bool = None) -> Year:
    """Parse, check and compile a year folder. Raises RulesError with every problem found.

    `reference` is where imported CMS reference data lives (default: `reference_home()`);
    False loads only the subset shipped with the rules.
    """
    started = time.perf_counter()
    folder = resolve_year_folder(year, rules)
    problems: list[Diagnostic] = []
    kinds: set[type[RulesError]] = set()
    data = YearData()
    try:
        data = load_data_dir(folder)
        _overlay_imported(data, reference)
    except DataError as exc:
        problems.extend(exc.diagnostics)
        kinds.add(type(exc))
    definitions: list[ast.Definition] = []
    rule_files = sorted(folder.glob(f"*{RULE_SUFFIX}"))
    for path in rule_files:
        try:
            definitions.extend(parse_file(path))
        except RulesError as exc:
            problems.extend(exc.diagnostics)
            kinds.add(type(exc))
    if problems:
        # One kind of problem raises its own class (DataError, RuleSyntaxError); a mix, the common base.
        raise (kinds.pop() if len(kinds) == 1 else RulesError)(problems)
    namespaces = data.namespaces()
    shapes = input_shapes() if shapes is None else shapes
    result = check(definitions, namespaces, shapes)
    problems.extend(result.diagnostics)
    by_name = {d.name: d for d in definitions}
    anchor = Location(str(rule_files[0] if rule_files else folder), 1, 1)
    for req in REQUIRED_DEFINITIONS:
        d = by_name.get(req.name)
        if d is None:
            problems.append(Diagnostic(f"the year has no definition `{req.name}` ({req.meaning})", anchor))
        elif (d.params is None) != (req.params is None) or (req.params and len(d.params or ()) != len(req.params)):
            want = req.name if req.params is None else f"{req.name}({', '.join(req.params)})"
            problems.append(Diagnostic(f"`{req.name}` must be defined as `{want} = …`", d.loc))
    for ns, item in REQUIRED_DATA:
        if item not in data.items.get(ns, {}):
            problems.append(Diagnostic(f"the year has no data item `{ns}.{item}`", Location(str(folder / f"{ns}.yaml"), 1, 1)))
    if problems:
        raise RuleCheckError(problems)
    declared = data.items["program"]["performance_year"]
    py = declared.value
    if not isinstance(py, Decimal) or py != py.to_integral_value():
        raise RuleCheckError(Diagnostic("`program.performance_year` must be a whole number", declared.location))
    if year is not None and str(year).isdigit() and int(year) != int(py):
        raise RuleCheckError(Diagnostic(f"asked for {year}, but {folder} holds the rules of {int(py)}",
                                        declared.location))
    compiled = Compiler(by_name, namespaces, shapes).compile_all(str(int(py)))
    warnings = _carried_over_warnings(data)
    return Year(folder, int(py), data, by_name, compiled, warnings, time.perf_counter() - started)
