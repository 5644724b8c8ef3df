"""Shared fixtures: the repository's rules, broken copies of a year, CMS's shared data."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"

# The compiled-year cache of this test run lives in its own folder (never the user's).
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="mips-rules-test-cache-")



@pytest.fixture(scope="session")
def year_2023():
    from mips_rules.engine.years.loader import load_year

    return load_year(2023, RULES)


@pytest.fixture(scope="session")
def year_2024():
    from mips_rules.engine.years.loader import load_year

    return load_year(2024, RULES)


def copy_whole(folder: Path, target: Path) -> Path:
    """A complete copy of a year: a year that extends another is written out whole (flatten_year),
    so that tests can edit any of its files."""
    from mips_rules.engine.years.flatten import flatten_year

    if (folder / "year.yaml").exists():
        return flatten_year(folder, target)
    shutil.copytree(folder, target)
    return target


@pytest.fixture
def year_copy(tmp_path: Path) -> Callable[..., Path]:
    """Copy a year folder and apply text edits: {file: [(old, new), …]} or {file: full text}."""

    def make(year: int = 2024, edits: dict[str, list[tuple[str, str]] | str] | None = None) -> Path:
        target = tmp_path / "rules" / str(year)
        copy_whole(RULES / str(year), target)
        for name, change in (edits or {}).items():
            path = target / name
            if isinstance(change, str):
                path.write_text(change, encoding="utf-8")
                continue
            text = path.read_text(encoding="utf-8")
            for old, new in change:
                assert old in text, f"{old!r} not in {name}"
                text = text.replace(old, new, 1)
            path.write_text(text, encoding="utf-8")
        return target

    return make


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (CMS's shared data is not beside this checkout)")
    return path


def mutations(texts: list[str], inserts: list[str], n: int, seed: int) -> list[str]:
    """`n` pieces of the texts (up to 600 characters), each mutated 1 to 4 times: a string inserted,
    a few characters deleted, or a piece copied elsewhere (seeded: the same cases every run)."""
    import random

    r = random.Random(seed)
    out = []
    for _ in range(n):
        t = r.choice(texts)
        at = r.randrange(len(t))
        t = t[max(0, at - 300): at + 300]
        for _ in range(r.randint(1, 4)):
            p = r.randrange(len(t) + 1)
            op = r.random()
            if op < 0.5:
                t = t[:p] + r.choice(inserts) + t[p:]
            elif op < 0.8:
                t = t[:p] + t[p + r.randint(1, 5):]
            else:
                q = r.randrange(len(t) + 1)
                t = t[:p] + t[q: q + 20] + t[p:]
        out.append(t)
    return out


def masked(text: str) -> str:
    """A report with its rules fingerprint masked: snapshots check the numbers and words, not the exact
    bytes of the rules that scored them (tests/test_refdata.py checks the fingerprint itself)."""
    import re

    return re.sub(r"sha256:[0-9a-f]{64}", "sha256:<fingerprint>", text)
