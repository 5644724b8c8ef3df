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


def test_a_set_reform_leaves_no_entry(year_2024):
    """A `--set` reform's folder is made for one load and removed: its compiled year is not kept
    (each study would otherwise leave an entry of about 1 MB, pushing out the years loaded again)."""
    from mips_rules.engine.workbench.reform import reform_year

    yearcache.cache_dir().mkdir(parents=True, exist_ok=True)
    before = set(yearcache.cache_dir().glob("*.pickle"))
    reform = reform_year(year_2024, ["program.performance_threshold=80"])
    assert reform.namespaces()["program"]["performance_threshold"] == 80
    assert set(yearcache.cache_dir().glob("*.pickle")) == before


def test_a_year_extending_a_loaded_one_reads_only_its_own_layer(tmp_path, monkeypatch):
    """A reform or draft extends a year already loaded: the layers it extends are taken as that load
    read them (the same data and definitions), and a changed base file is read afresh."""
    from mips_rules.engine.years import loader

    base = tmp_path / "2024"
    shutil.copytree(RULES / "2024", base)

    def draft(name: str):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "year.yaml").write_text(f"extends: {base}\n")
        (folder / "program.yaml").write_text('performance_threshold:\n  value: 80\n  unit: points\n  source: "a draft"\n')
        return folder

    loader._PREFIXES.clear()
    whole = load_year(None, draft("read-whole"))  # nothing loaded before: every layer read
    assert whole.namespaces()["program"]["performance_threshold"] == 80
    load_year(None, base)
    read = []
    real = loader.load_data_dir
    monkeypatch.setattr(loader, "load_data_dir", lambda folder, data=None: read.append(folder) or real(folder, data))
    quick = load_year(None, draft("read-quick"))
    assert [f.name for f in read] == ["read-quick"]  # only its own layer
    assert quick.fingerprint == whole.fingerprint
    assert {n: (d.text, str(d.loc)) for n, d in quick.definitions.items()} == \
        {n: (d.text, str(d.loc)) for n, d in whole.definitions.items()}
    assert quick.namespaces() == whole.namespaces()
    assert [w.message for w in quick.warnings] == [w.message for w in whole.warnings]
    (base / "final.rules").write_text((base / "final.rules").read_text() + '\n@source "a test"\nunused_extra = 1\n')
    read.clear()
    changed = load_year(None, draft("read-changed"))
    assert "unused_extra" in changed.definitions and "read-changed" in [f.name for f in read] and len(read) > 1


def test_a_year_whose_lower_year_is_cached_reads_only_its_own_layer(tmp_path, monkeypatch):
    """An edited year whose compiled entry is gone, but the year it extends was loaded before (from
    its own folder, unchanged since): the layers below come from that year's entry, the same data
    and definitions as reading them; once the year below changes, they are read afresh."""
    from mips_rules.engine.years import loader

    shutil.copytree(RULES / "2023", tmp_path / "2023")
    shutil.copytree(RULES / "2024", tmp_path / "2024")
    top = tmp_path / "2030"
    top.mkdir()
    (top / "year.yaml").write_text("extends: 2024\n")
    (top / "program.yaml").write_text('performance_threshold:\n  value: 80\n  unit: points\n  source: "t"\n')
    loader._PREFIXES.clear()
    whole = load_year(None, top)  # nothing cached below: every layer read
    load_year(None, tmp_path / "2024")
    yearcache.entry(top, whole.fingerprint).unlink()
    loader._PREFIXES.clear()  # (a new process)
    read = []
    real = loader.load_data_dir
    monkeypatch.setattr(loader, "load_data_dir", lambda folder, data=None: read.append(folder) or real(folder, data))
    quick = load_year(None, top)
    assert [f.name for f in read] == ["2030"]
    assert quick.fingerprint == whole.fingerprint
    assert {n: (d.text, str(d.loc)) for n, d in quick.definitions.items()} == \
        {n: (d.text, str(d.loc)) for n, d in whole.definitions.items()}
    assert quick.namespaces() == whole.namespaces()
    assert [w.message for w in quick.warnings] == [w.message for w in whole.warnings]
    program = tmp_path / "2024" / "program.yaml"
    program.write_text(program.read_text() + "\n# edited\n")
    loader._PREFIXES.clear()
    read.clear()
    changed = load_year(None, top)
    assert [f.name for f in read] == ["2023", "2024", "2030"] and changed.fingerprint != whole.fingerprint


def test_rule_files_unchanged_are_read_parsed_and_an_edited_one_is_parsed_again(tmp_path, monkeypatch):
    """A year whose compiled entry is missing (one of its files edited) parses only what changed:
    the other rule files come from the cache of parsed files, the same definitions as parsing them.
    A damaged entry is parsed again; a file that does not parse is never kept."""
    import pytest

    from mips_rules.dsl import parser
    from mips_rules.dsl.errors import RulesError

    shutil.copytree(RULES / "2023", tmp_path / "2023")
    folder = tmp_path / "2023"
    first = load_year(None, folder)
    parsed: list[str] = []
    real = parser.parse_bytes
    monkeypatch.setattr(parser, "parse_bytes", lambda raw, file: parsed.append(file) or real(raw, file))
    rules = folder / "final.rules"
    rules.write_text(rules.read_text().replace("# Weights and the final score", "# Weights, and the final score"))
    again = load_year(None, folder)
    assert parsed == [str(rules)]  # only the edited file
    assert again.fingerprint != first.fingerprint
    assert {n: d for n, d in again.definitions.items()} == {n: d for n, d in first.definitions.items()}
    assert again.definitions["final_score"].loc.file == str(rules)

    for entry in (yearcache.cache_dir().parent / "parsed").glob("*.pickle"):
        entry.write_bytes(b"not a pickle")
    yearcache.entry(folder, again.fingerprint).unlink()
    parsed.clear()
    assert load_year(None, folder).definitions.keys() == first.definitions.keys()
    assert len(parsed) == len(list(folder.glob("*.rules")))  # every damaged entry parsed again

    rules.write_text(rules.read_text() + "\nbroken = (1 +\n")
    for _ in range(2):
        with pytest.raises(RulesError) as err:
            load_year(None, folder)
        assert "final.rules" in err.value.render()
    assert parsed.count(str(rules)) == 3  # refused each time, never kept
