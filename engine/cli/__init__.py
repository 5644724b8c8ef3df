"""The `rulesctl` command line and how it writes outputs (atomically, regular files only)."""

from mips_rules.engine.cli.commands import app, main

__all__ = ["app", "main"]
