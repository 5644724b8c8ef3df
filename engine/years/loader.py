"""Load a year of rules: read its data and rule files, check everything, compile once."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from mips_rules.dsl import ast
if TYPE_CHECKING:
    from mips_rules.dsl.checker import Shape
from mips_rules.dsl.compiler import CompiledRules, Compiler
from mips_rules.dsl.errors import DataError, Diagnostic, Location, RuleCheckError, RulesError
from mips_rules.dsl.limits import MAX_RULE_FILE_BYTES
from mips_rules.engine.years.contract import REQUIRED_DATA, REQUIRED_DEFINITIONS
from mips_rules.engine.years import population_table
from mips_rules.engine.years.report_declaration import check_layout, read_layout
from mips_rules.engine.inputs.declared_context import load_schema
from mips_rules.engine.inputs.shapes import input_shapes, submission_shape
from mips_rules.engine.inputs.safe_yaml import load_yaml
from mips_rules.engine.years import cache as yearcache
from mips_rules.engine.years.layers import chain
from mips_rules.engine.years.data_files import MANIFEST, YearData, load_data_dir, regular_files

RULE_SUFFIX = ".rules"


def default_rules_root() -> Path:
    """The bundled `rules/` (beside the packages: the checkout's, or the installed package data), else `./rules`.

    No environment variable chooses it: what scores a submission is the folder given with
    `--rules`, or the bundled one."""
    beside = Path(__file__).resolve().parent.parent.parent / "rules"  # engine/years/loader.py → the packages' root
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


def fingerprint(folder: Path) -> str:
    """What scored a report: a sha256 of the year folder's data and rule files (names and bytes) and
    of every year it extends, so that the same fingerprint and the same submission give the same
    report on any machine. The folders' own rule tests (tests/) do not change a score and are left out."""
    try:
        layers = [layer.folder for layer in chain(folder, default_rules_root())]
    except RulesError:
        layers = [folder]  # loading reports the problem
    return layer_prints(layers)[-1]


def layer_prints(layers: list[Path]) -> list[str]:
    """The fingerprint of each chain of layers from the base year: the first layer, the first two …,
    all of them (the last is the year's `fingerprint`). Where a layer's `year.yaml` says the year it
    extends is no part of it: the layers below are in the chain, whatever folder they were read
    from (a `--set` reform extends the base by its path, a draft by a year or a relative path)."""
    digest = hashlib.sha256()
    prints = []
    for depth, layer in enumerate(layers):
        digest.update(f"layer {depth}\0".encode())
        for path in sorted(p for p in layer.iterdir() if p.suffix in (".yaml", ".json", RULE_SUFFIX)
                           and p.is_file() and not p.is_symlink()):
            content = path.read_bytes()
            if path.name == MANIFEST:
                content = _without_extends(content, path)
            digest.update(f"{path.name}\0{len(content)}\0".encode())
            digest.update(content)
        prints.append("sha256:" + digest.copy().hexdigest())
    return prints


def _without_extends(content: bytes, path: Path) -> bytes:
    """A `year.yaml` as the fingerprint reads it: its entries but `extends`, in a canonical form (its
    bytes as they are where it does not load: loading the year reports that)."""
    import json

    from mips_rules.engine.inputs.safe_yaml import load_yaml_text

    try:
        data = load_yaml_text(content.decode("utf-8"), str(path)).data
    except (RulesError, UnicodeDecodeError):
        return content
    if not isinstance(data, dict):
        return content
    kept = {k: v for k, v in data.items() if k != "extends"}
    return ("year.yaml " + json.dumps(kept, sort_keys=True, default=str)).encode()


_PREFIXES: dict[tuple[str, tuple[str, ...]], Any] = {}
"""The state after reading a chain of layers (data, definitions, rule files, warnings), by its
fingerprint and its folders: a year that extends a loaded one (a reform, a draft) reads only its
own layer. What reading those layers gives, so the same as reading them again."""
MAX_PREFIXES = 16


def _parsed(path: Path) -> list[ast.Definition]:
    """A rule file's definitions: from the cache of parsed files when these bytes (at this path)
    were parsed before, else parsed from the bytes read (and kept when they parse). A file too
    large, or unreadable, is refused by `parse_file` as ever."""
    from mips_rules.dsl.parser import parse_bytes, parse_file  # the grammar (lark) only when a file is parsed

    try:
        with path.open("rb") as fh:
            content = fh.read(MAX_RULE_FILE_BYTES + 1)
    except OSError:
        content = None
    if content is None or len(content) > MAX_RULE_FILE_BYTES:
        return parse_file(path)
    found = yearcache.read_parsed(path, content)
    if isinstance(found, list):
        return found
    parsed = parse_bytes(content, str(path))
    yearcache.write_parsed(path, content, parsed)
    return parsed


def _below_from_cache(layers: list[Any], prints: list[str], keys: list[Any]) -> int:
    """How many of the layers a year extends can be taken as the compiled-year cache holds the year
    they make (loaded before from its own folder: an edited 2026 reads only its own layer when 2025
    was loaded since the last change below it) — 0 when none; those layers' state is remembered
    (`_PREFIXES`). The entry names the layers it holds (`keys`), which must be these."""
    for depth in range(len(layers) - 2, -1, -1):
        below = yearcache.read(layers[depth].folder, prints[depth])
        if below is None:
            continue
        data, by_name, _, _, _, _, (key, files, warned) = below
        if key != keys[depth]:
            continue
        _remember_prefix(key, (data, by_name, files, warned))
        return depth + 1
    return 0


def _remember_prefix(key: tuple[str, tuple[str, ...]], state: Any) -> None:
    if len(_PREFIXES) >= MAX_PREFIXES:
        _PREFIXES.pop(next(iter(_PREFIXES)))
    _PREFIXES[key] = state


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
    fingerprint: str = ""
    context_schema: Any = None
    """The scoring context the year declares (`context.yaml`, a ContextSchema), or None."""
    report_layout: Any = None
    """The report the year declares (`report.yaml`, a ReportLayout): its fields and how they are shown."""

    def namespaces(self) -> dict[str, Any]:
        return self.data.namespaces()


def load_year(year: int | str | None = None, rules: Path | None = None, *,
              shapes: Mapping[str, Shape] | None = None, keep: bool = True) -> Year:
    """Parse, check and compile a year folder. Raises RulesError with every problem found.

    The folder is the whole truth: its data files (CMS's reference data included, as
    `rulesctl data import` wrote it) and its rule files, nothing else. `keep=False`: the compiled
    year is not written to the cache (a folder made for one load, such as a `--set` reform's,
    would only push out the entries of the years an analyst loads again)."""
    started = time.perf_counter()
    folder = resolve_year_folder(year, rules)
    try:
        layers = chain(folder, default_rules_root())
    except DataError as exc:
        layers, layers_error = None, exc  # reported below, when the folder is read
    prints = layer_prints([layer.folder for layer in layers] if layers is not None else [folder])
    print_ = prints[-1]  # the year's `fingerprint`, its files read once
    custom_shapes = shapes is not None
    cached = yearcache.read(folder, print_) if not custom_shapes else None
    if cached is not None:
        data, by_name, warnings, declaration, layout, generated, prefix = cached
        _remember_prefix(prefix[0], (data, by_name, *prefix[1:]))
        schema = load_schema(declaration, data.namespaces()) if declaration is not None else None
        return _finish(year, folder, data, by_name, _shapes(schema), warnings, started, print_, schema, layout,
                       generated)
    problems: list[Diagnostic] = []
    kinds: set[type[RulesError]] = set()
    data: YearData | None = None
    by_layer: dict[str, ast.Definition] = {}
    rule_files: list[Path] = []
    layer_warnings: list[Diagnostic] = []
    if layers is None:
        raise DataError(layers_error.diagnostics) from None
    keys = [(prints[i], tuple(str(layer.folder) for layer in layers[:i + 1])) for i in range(len(layers))]
    start = next((i + 1 for i in range(len(layers) - 2, -1, -1) if keys[i] in _PREFIXES), 0)
    if not start and not custom_shapes:
        start = _below_from_cache(layers, prints, keys)
    if start:  # the layers it extends, as a year loaded before read them
        data, known, files_before, warned = _PREFIXES[keys[start - 1]]
        by_layer, rule_files, layer_warnings = dict(known), list(files_before), list(warned)
    for depth, layer in enumerate(layers):
        if depth < start:
            continue
        try:
            data = load_data_dir(layer.folder, data)
        except DataError as exc:
            problems.extend(exc.diagnostics)
            kinds.add(type(exc))
            data = data or YearData()
        linked: list[Diagnostic] = []
        files = regular_files(layer.folder, (RULE_SUFFIX,), linked)
        if linked:
            problems.extend(linked)
            kinds.add(DataError)
        rule_files += files
        here: dict[str, ast.Definition] = {}
        for path in files:
            try:
                parsed = _parsed(path)
            except RulesError as exc:
                problems.extend(exc.diagnostics)
                kinds.add(type(exc))
                continue
            for d in parsed:
                if d.name in here:
                    problems.append(Diagnostic(f"`{d.name}` is defined twice", d.loc,
                                               f"first defined at {here[d.name].loc}"))
                    kinds.add(RuleCheckError)
                here[d.name] = d
        for name in layer.removed_definitions:
            if name not in by_layer:
                problems.append(Diagnostic(f"`removed_definitions` names `{name}`, which the year it extends "
                                           "does not define", layer.location))
                kinds.add(RuleCheckError)
            by_layer.pop(name, None)
        for name, d in here.items():
            old = by_layer.get(name)
            if old is not None and old.text == d.text and old.source == d.source:
                layer_warnings.append(Diagnostic(f"`{name}` repeats the definition it overrides "
                                                 f"({old.loc})", d.loc, hint="remove it: the inherited one applies",
                                                 severity="warning"))
            by_layer[name] = d
        if not problems and data is not None:
            _remember_prefix(keys[depth], (data, dict(by_layer), list(rule_files), list(layer_warnings)))
    data = data or YearData()
    definitions = list(by_layer.values())
    declaration, schema, layout = None, None, None
    try:
        layout = read_layout([layer.folder for layer in layers], load_yaml)
        population_table.check([layer.folder for layer in layers])
        declaration = _context_declaration(layers)
        if declaration is not None and data.items:
            schema = load_schema(declaration, data.namespaces())
            schema.model  # noqa: B018 - built once here, so a declaration pydantic refuses fails the load (a cached year built it)
    except DataError as exc:
        problems.extend(exc.diagnostics)
        kinds.add(DataError)
    if problems:
        # One kind of problem raises its own class (DataError, RuleSyntaxError); a mix, the common base.
        raise (kinds.pop() if len(kinds) == 1 else RulesError)(problems)
    namespaces = data.namespaces()
    shapes = _shapes(schema) if shapes is None else shapes
    from mips_rules.dsl.checker import check  # the checker and its typing pass: only for a year not cached

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
    warnings = [*data.warnings, *layer_warnings, *_carried_over_warnings(data)]
    problems.extend(check_layout(layout, by_name, shapes, Location(str(folder / "report.yaml"), 1, 1)))
    if problems:
        raise RuleCheckError(problems)
    loaded = _finish(year, folder, data, by_name, shapes, warnings, started, print_, schema, layout)
    if not custom_shapes and keep:
        yearcache.write(folder, print_, (data, by_name, warnings, declaration, layout, loaded.rules.generated,
                                         (keys[-1], rule_files, layer_warnings)))
    return loaded


def _shapes(schema: Any) -> Mapping[str, Shape]:
    """The inputs' shapes for the checker: the year's declared context, else the built-in one."""
    if schema is None:
        return input_shapes()
    return {"submission": submission_shape(), "context": schema.shape()}  # no model is built for this


def _declaration(path: Path) -> Any:
    """A declaration file of a year folder (context.yaml, report.yaml), or None when absent."""
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() or not path.is_file():
        raise DataError(Diagnostic(f"{path}: not a regular file; a year folder holds regular files only"))
    return load_yaml(path)


def _context_declaration(layers: list[Any]) -> dict[str, Any] | None:
    """The year's `context.yaml`, each layer's fields replacing the inherited ones (`removed: true` drops one)."""
    declaration: dict[str, Any] | None = None
    for layer in layers:
        doc = _declaration(layer.folder / "context.yaml")
        if doc is None:
            continue
        if not isinstance(doc.data, dict):
            raise DataError(Diagnostic("context.yaml must map field names to their declarations", doc.where(())))
        declaration = dict(declaration or {})
        for name, spec in doc.data.items():
            if isinstance(spec, dict) and spec.get("removed") is True:
                declaration.pop(name, None)
            else:
                declaration[name] = spec
    return declaration


def _finish(year: int | str | None, folder: Path, data: YearData, by_name: dict[str, ast.Definition],
            shapes: Mapping[str, Shape], warnings: list[Diagnostic], started: float, print_: str,
            schema: Any = None, layout: Any = None, generated: Any = None) -> Year:
    """The checks on the declared year, and compiling (also for a year read from the cache)."""
    namespaces = data.namespaces()
    declared = data.items["program"]["performance_year"]
    py = declared.value
    if not isinstance(py, Decimal) or py != py.to_integral_value():
        raise RuleCheckError(Diagnostic("`program.performance_year` must be a whole number", declared.location))
    if year is not None and str(year).isdigit() and int(year) != int(py):
        raise RuleCheckError(Diagnostic(f"asked for {year}, but {folder} holds the rules of {int(py)}",
                                        declared.location))
    compiled = Compiler(by_name, namespaces, shapes).compile_all(str(int(py)), generated)
    # A `rulesctl new-year` folder's review list is read afresh (its marker is not part of the fingerprint).
    from mips_rules.engine.workbench.new_year import review_warnings

    warnings = [*warnings, *review_warnings(folder, data, by_name)]
    return Year(folder, int(py), data, by_name, compiled, warnings, time.perf_counter() - started, print_, schema,
                layout)
