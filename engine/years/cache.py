"""A cache of checked years, so that `rulesctl score` does not re-parse a year it has seen (and of
parsed rule files, so that a year with one file edited parses that file only).

Content-addressed: an entry's name is a hash of the year folder's fingerprint, the folder's
path (locations in messages name its files) and the engine's own source code. A changed file
or a changed engine is a different name, so a stale entry is never read; entries are written
whole (a temporary file, then a rename), so concurrent runs are safe. An unreadable entry is
ignored and rebuilt. Only years that checked clean are cached, so a cache hit skips parsing and
checking, and generating and compiling the year's Python (the compiled module is kept). The cache can only make loading
faster: what it returns is what parsing the folder would return.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

MAX_ENTRIES = 32
"""Older entries beyond this many are removed when one is written (each is about 1 MB)."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mips-rules" / "years"


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the engine's and the rule language's source (a changed engine never reads old entries)."""
    digest = hashlib.sha256()
    engine = Path(__file__).resolve().parent.parent  # engine/years/cache.py → engine/
    for root in (engine, engine.parent / "dsl"):
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".lark") and path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def entry(folder: Path, fingerprint: str) -> Path:
    # The Python version too: an entry holds compiled (marshal) code, which is version-specific.
    key = hashlib.sha256(f"{fingerprint}\0{folder.resolve()}\0{code_version()}\0{sys.version}".encode()).hexdigest()
    return cache_dir() / f"{key}.pickle"


def read(folder: Path, fingerprint: str) -> Any | None:
    return _load(entry(folder, fingerprint))


def write(folder: Path, fingerprint: str, payload: Any) -> None:
    _store(entry(folder, fingerprint), payload, MAX_ENTRIES)


def _load(target: Path) -> Any | None:
    try:
        with target.open("rb") as fh:
            return pickle.load(fh)
    except Exception:  # noqa: BLE001 - a missing or damaged entry is rebuilt, never trusted
        return None


def _store(target: Path, payload: Any, keep: int) -> None:
    """Write an entry whole (a temporary file, then a rename), keeping the `keep` newest of its folder."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".entry-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                pickle.dump(payload, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(target.parent, keep)
    except (OSError, pickle.PicklingError, RecursionError, TypeError, AttributeError):
        return  # a read-only home or an unpicklable value: no cache, same result


def _prune(folder: Path, keep: int = MAX_ENTRIES) -> None:
    entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        old.unlink(missing_ok=True)


# -- parsed rule files ------------------------------------------------------------------------
# A year whose compiled entry is missing (a file of it was edited, a new draft) is parsed again;
# its rule files that did not change are read from here instead of parsed by the grammar, which is
# most of a first load's time. An entry is named by a hash of the file's bytes, its path (the
# definitions' locations name it) and the engine's code: it can only hold what parsing gives.

MAX_PARSED_ENTRIES = 512
"""Parsed rule files kept (each some tens of kilobytes)."""


def parsed_entry(path: Path, content: bytes) -> Path:
    key = hashlib.sha256(b"\0".join([hashlib.sha256(content).hexdigest().encode(), str(path).encode(),
                                      code_version().encode(), sys.version.encode()])).hexdigest()
    return cache_dir().parent / "parsed" / f"{key}.pickle"


def read_parsed(path: Path, content: bytes) -> Any | None:
    return _load(parsed_entry(path, content))


def write_parsed(path: Path, content: bytes, definitions: Any) -> None:
    _store(parsed_entry(path, content), definitions, MAX_PARSED_ENTRIES)
