"""mips-rules: MIPS scoring as data.

The installed distribution lives under this one name: `mips_rules.dsl` (the rule language,
from the repository's `dsl/`), `mips_rules.engine` (loading years, scoring, reports, the
workbench, populations and the command line, from `engine/`) and `mips_rules.rules` (the
year folders, from `rules/`, shipped as package data).
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """`load_year` (the Python API, engine/api/) and `__version__`, imported when first asked for
    (importlib.metadata is slow to import, and scoring never needs it)."""
    if name == "__version__":
        from importlib import metadata

        try:
            return metadata.version("mips-rules")
        except metadata.PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    if name in ("load_year", "ScoringYear"):
        from mips_rules.engine import api

        return getattr(api, name)
    raise AttributeError(name)
