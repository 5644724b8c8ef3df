"""mips-rules: MIPS scoring as data.

The installed distribution lives under this one name: `mips_rules.dsl` (the rule language,
from the repository's `dsl/`), `mips_rules.engine` (loading years, scoring, reports, the
workbench, populations and the command line, from `engine/`) and `mips_rules.rules` (the
year folders, from `rules/`, shipped as package data).
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("mips-rules")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
