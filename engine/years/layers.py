"""Years that extend years: a year folder's `year.yaml` names the year it builds on.

    # rules/2024/year.yaml
    extends: 2023
    source: "the 2024 rules are the 2023 rules with the changes in this folder"
    removed_definitions: []        # inherited definitions this year drops (explicitly)

The folder then holds only what changes: data items and table rows by their path (see
`load_data_dir`), definitions by name (a definition here replaces the inherited one of the same
name, whatever the file), and its own rule tests. `extends` names a sibling year folder (or, from
a draft elsewhere, the bundled rules' year) or a path relative to the folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mips_rules.dsl.errors import DataError, Diagnostic, Location, did_you_mean
from mips_rules.engine.inputs.safe_yaml import load_yaml
from mips_rules.engine.years.data_files import MANIFEST

MAX_DEPTH = 12
_KEYS = {"extends", "source", "removed_definitions", "note"}


@dataclass
class Layer:
    folder: Path
    extends: Path | None = None
    removed_definitions: list[str] = field(default_factory=list)
    location: Location | None = None


def read_manifest(folder: Path, bundled_root: Path) -> Layer:
    path = folder / MANIFEST
    if not path.exists():
        return Layer(folder)
    if path.is_symlink() or not path.is_file():
        raise DataError(Diagnostic(f"{path}: not a regular file; a year folder holds regular files only"))
    doc = load_yaml(path)
    raw = doc.data or {}
    if not isinstance(raw, dict):
        raise DataError(Diagnostic("year.yaml must be a mapping (`extends: 2023` …)", doc.where(())))
    problems = []
    for key in raw:
        if key not in _KEYS:
            guess = did_you_mean(str(key), _KEYS)
            problems.append(Diagnostic(f"unknown key `{key}` in year.yaml", doc.where((key,)),
                                       f"did you mean `{guess}`?" if guess else f"allowed: {', '.join(sorted(_KEYS))}"))
    removed = raw.get("removed_definitions") or []
    if not isinstance(removed, list) or not all(isinstance(n, str) for n in removed):
        problems.append(Diagnostic("`removed_definitions` must be a list of definition names",
                                   doc.where(("removed_definitions",))))
    extends = raw.get("extends")
    target = None
    if extends is not None:
        name = str(extends)
        candidates = [folder.parent / name, bundled_root / name] if name.isdigit() else [folder / name]
        target = next((c for c in candidates if c.is_dir()), None)
        if target is None:
            problems.append(Diagnostic(f"`extends: {name}`: no such year folder beside {folder} "
                                       + ("or in the bundled rules" if name.isdigit() else ""),
                                       doc.where(("extends",))))
    if problems:
        raise DataError(problems)
    return Layer(folder, target, list(removed), doc.where(("extends",)))


def chain(folder: Path, bundled_root: Path) -> list[Layer]:
    """The layers a year is made of, the base year first."""
    layers: list[Layer] = []
    seen: set[Path] = set()
    current: Path | None = folder
    while current is not None:
        resolved = current.resolve()
        if resolved in seen:
            raise DataError(Diagnostic(f"{folder}: years extend each other in a circle ({current.name} again)"))
        if len(layers) >= MAX_DEPTH:
            raise DataError(Diagnostic(f"{folder}: more than {MAX_DEPTH} years extend one another"))
        seen.add(resolved)
        layer = read_manifest(current, bundled_root)
        layers.append(layer)
        current = layer.extends
    return list(reversed(layers))
