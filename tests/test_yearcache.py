"""The compiled-year cache: a second load reads it, and any change to the folder is a miss."""

from __future__ import annotations

import shutil

from mips_rules.engine.years import cache as yearcache
from mips_rules.engine.years.loader import fingerprint, load_year

from conftest import RULES


def test_a_cached_year_is_the_same_year(tmp_path):
    folder = tmp_path / "2024"
    shutil.copytree(RULES / "2024", folder)
    first = load_year(None, folder)
    assert yearcache.read(folder, first.fingerprint) is not None
    second = load_year(None, folder)
    assert second.fingerprint == first.fingerprint
    assert second.definitions.keys() == first.definitions.keys()
    assert second.namespaces()["program"]["performance_threshold"] == 75


def test_a_changed_file_is_never_read_from_the_cache(tmp_path):
    folder = tmp_path / "2024"
    shutil.copytree(RULES / "2024", folder)
    before = load_year(None, folder)
    program = folder / "program.yaml"
    program.write_text(program.read_text().replace("performance_threshold:\n  value: 75",
                                                   "performance_threshold:\n  value: 80"))
    assert fingerprint(folder) != before.fingerprint
    after = load_year(None, folder)
    assert after.namespaces()["program"]["performance_threshold"] == 80


def test_a_damaged_entry_is_rebuilt(tmp_path):
    folder = tmp_path / "2024"
    shutil.copytree(RULES / "2024", folder)
    loaded = load_year(None, folder)
    yearcache.entry(folder, loaded.fingerprint).write_bytes(b"not a pickle")
    again = load_year(None, folder)
    assert again.namespaces()["program"]["performance_threshold"] == 75
