"""A catalogue of bad outputs: every command that writes (`score -o`, `synth`, `plot`, `batch`, `new-year`,
`data import`, standard output) refuses what it must not replace and turns every OS error into a clear
message and a non-zero exit — never a traceback, never a lost byte. And text from the inputs or the rules
is never read as rich markup."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mips_rules.engine.cli.commands import app
from mips_rules.engine.cli.outputs import OutputError, check_output, write_file

from conftest import EXAMPLES, shared_path

runner = CliRunner()
SUB = EXAMPLES / "2024-full.json"
CTX = EXAMPLES / "2024-full-context.yaml"


# ---------------------------------------------------------------------------
# Targets: (id, make(tmp) -> (path, keep(tmp) -> None), fragment, exit code)
# `keep` asserts the target (and what it points at) was left as it was.
# ---------------------------------------------------------------------------

def _fifo(tmp):
    path = tmp / "pipe"
    os.mkfifo(path)
    return path, lambda: os.path.exists(path) and not path.is_file() and path.is_fifo()


def _device(tmp):
    """A character device like /dev/null, made in the test's folder (a regression must never replace the
    system's own /dev/null)."""
    import stat

    path = tmp / "null"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        pytest.skip("cannot make a device node here")
    return path, lambda: path.is_char_device()


def _symlink(tmp):
    real = tmp / "real.txt"
    real.write_text("keep me")
    link = tmp / "link.out"
    link.symlink_to(real)
    return link, lambda: link.is_symlink() and real.read_text() == "keep me"


def _dangling_symlink(tmp):
    link = tmp / "dangling.out"
    link.symlink_to(tmp / "nowhere")
    return link, lambda: link.is_symlink() and not (tmp / "nowhere").exists()


def _folder(tmp):
    path = tmp / "a-folder"
    path.mkdir()
    return path, lambda: path.is_dir() and not any(path.iterdir())


def _missing_folder(tmp):
    return tmp / "missing" / "out.txt", lambda: not (tmp / "missing").exists()


def _file_as_folder(tmp):
    plain = tmp / "plain.txt"
    plain.write_text("keep me")
    return plain / "out.txt", lambda: plain.read_text() == "keep me"


TARGETS = [
    ("fifo", _fifo, "it is a FIFO (named pipe)", 2),
    ("device", _device, "it is a device", 2),
    ("symlink", _symlink, "it is a symbolic link", 2),
    ("dangling-symlink", _dangling_symlink, "it is a symbolic link", 2),
    ("folder", _folder, "it is a folder", 2),
    ("missing-folder", _missing_folder, "does not exist", 2),
    ("file-as-folder", _file_as_folder, "is a file, not a folder", 2),
]


def _command(name, tmp, out):
    if name == "score-json":
        return ["score", str(SUB), "--context", str(CTX), "--format", "json", "-o", str(out)]
    if name == "score-table":
        return ["score", str(SUB), "--context", str(CTX), "-o", str(out)]
    if name == "synth":
        return ["synth", "--year", "2024", "--n", "3", "-o", str(out)]
    if name == "plot":
        return ["plot", "payment-adjustment", "2024", "-o", str(out)]
    if name == "batch":
        pop = tmp / "pop.jsonl"
        if not pop.exists():
            assert runner.invoke(app, ["synth", "--year", "2024", "--n", "3", "-o", str(pop)]).exit_code == 0
        return ["batch", str(pop), "--year", "2024", "-o", str(out), "--workers", "1"]
    raise AssertionError(name)


COMMANDS = ["score-json", "score-table", "synth", "plot", "batch"]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case, make, fragment, code", TARGETS, ids=[t[0] for t in TARGETS])
def test_outputs_that_must_not_be_replaced(tmp_path, command, case, make, fragment, code):
    out, kept = make(tmp_path)
    before = set(tmp_path.rglob("*"))
    result = runner.invoke(app, _command(command, tmp_path, out))
    assert result.exit_code == code, result.output
    assert fragment in result.output and str(out) in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert kept()
    assert {p for p in tmp_path.rglob("*") if p.name != "pop.jsonl"} <= before  # no temporary file left


@pytest.mark.parametrize("command", COMMANDS)
def test_permission_denied(tmp_path, command, monkeypatch):
    out = tmp_path / "out.txt"
    args = _command(command, tmp_path, out)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "cannot write" in result.output and "Permission denied" in result.output
    assert "Traceback" not in result.output and not out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = runner.invoke(app, _command("score-json", tmp_path, folder / "out.json"))
        assert result.exit_code == 1 and "Permission denied" in result.output
    finally:
        folder.chmod(0o755)


def test_a_full_disk_leaves_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "report.json"
    out.write_text("the old report")
    real_fsync = os.fsync

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    result = runner.invoke(app, _command("score-json", tmp_path, out))
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert result.exit_code == 1 and f"cannot write {out}: No space left on device" in result.output
    assert out.read_text() == "the old report" and [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_score_refuses_to_overwrite_its_input(tmp_path):
    sub, ctx = tmp_path / "sub.json", tmp_path / "ctx.yaml"
    sub.write_bytes(SUB.read_bytes())
    ctx.write_bytes(CTX.read_bytes())
    for target in (sub, ctx):
        result = runner.invoke(app, ["score", str(sub), "--context", str(ctx), "-f", "json", "-o", str(target)])
        assert result.exit_code == 2 and "it is also an input" in result.output, result.output
    assert sub.read_bytes() == SUB.read_bytes() and ctx.read_bytes() == CTX.read_bytes()


def test_a_regular_file_is_replaced_whole_keeping_its_mode(tmp_path):
    out = tmp_path / "report.json"
    out.write_text("old")
    out.chmod(0o600)
    result = runner.invoke(app, _command("score-json", tmp_path, out))
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["performance_year"] == 2024
    assert (out.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_the_module_refuses_and_writes(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "in.txt").write_text("input")
    with pytest.raises(OutputError, match="it is also an input"):
        check_output(tmp_path / "x" / ".." / "in.txt", [tmp_path / "in.txt"])
    write_file(tmp_path / "new.txt", "whole")
    assert (tmp_path / "new.txt").read_text() == "whole"
    with pytest.raises(OutputError) as err:
        write_file(tmp_path / "new.txt" / "below", b"x")
    assert err.value.exit_code == 2


# ---------------------------------------------------------------------------
# new-year's target and data import's year folder
# ---------------------------------------------------------------------------

def test_new_year_over_a_dangling_link_is_refused(year_copy):
    root = year_copy(2024).parent
    (root / "2031").symlink_to(root / "nowhere")
    result = runner.invoke(app, ["new-year", "2031", "--from", "2024", "--rules", str(root)])
    assert result.exit_code == 1 and "2031 already exists (and is not a folder)" in result.output
    assert "Traceback" not in result.output and not (root / "nowhere").exists()


def test_new_year_in_a_folder_it_cannot_write(year_copy, monkeypatch):
    root = year_copy(2024).parent
    before = sorted(p.name for p in root.iterdir())

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    result = runner.invoke(app, ["new-year", "2031", "--from", "2024", "--rules", str(root)])
    assert result.exit_code == 1 and f"cannot create {root / '2031'}: Permission denied" in result.output
    assert "Traceback" not in result.output and sorted(p.name for p in root.iterdir()) == before


def test_new_year_on_a_full_disk_leaves_nothing(year_copy, monkeypatch):
    import pathlib
    import shutil

    root = year_copy(2024).parent
    before = sorted(p.name for p in root.iterdir())

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copytree", full)
    monkeypatch.setattr(pathlib.Path, "write_text", full)  # new-year writes a small delta folder
    result = runner.invoke(app, ["new-year", "2031", "--from", "2024", "--rules", str(root)])
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert "Traceback" not in result.output and sorted(p.name for p in root.iterdir()) == before


def test_data_import_refuses_a_linked_data_file(year_copy, tmp_path):
    folder = year_copy(2024)
    real = tmp_path / "elsewhere.json"
    real.write_text("keep me")
    (folder / "measures.json").unlink()
    (folder / "measures.json").symlink_to(real)
    result = runner.invoke(app, ["data", "import", "2024", str(shared_path("cms", "qpp-measures-data", "2024")),
                                 "--rules", str(folder), "--date", "2026-11-29"])
    assert result.exit_code == 2 and "it is a symbolic link" in result.output, result.output
    assert real.read_text() == "keep me" and (folder / "measures.json").is_symlink()
    assert not list(folder.glob(".*.tmp"))


def test_data_import_into_a_folder_it_cannot_write(year_copy, monkeypatch):
    folder = year_copy(2024)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    real_mkstemp = tempfile.mkstemp

    def denied(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == folder:
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    result = runner.invoke(app, ["data", "import", "2024", str(shared_path("cms", "qpp-measures-data", "2024")),
                                 "--rules", str(folder), "--date", "2026-11-29"])
    assert result.exit_code == 1 and "Permission denied" in result.output and "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


# ---------------------------------------------------------------------------
# Standard output: a full disk (/dev/full) and a closed pipe
# ---------------------------------------------------------------------------

def _rulesctl(*args):
    return [sys.executable, "-c", "from mips_rules.engine.cli.commands import main; main()", *args]


STDOUT_CASES = [
    ("score-json", ["score", str(SUB), "--context", str(CTX), "--format", "json"], 1),
    ("score-table", ["score", str(SUB), "--context", str(CTX)], 1),
    ("score-markdown-explain", ["score", str(SUB), "--context", str(CTX), "--format", "markdown", "--explain"], 1),
    ("diff-json", ["diff", "2023", "2024", "--format", "json"], 2),
    ("diff-table", ["diff", "2023", "2024"], 2),
    ("show", ["show", "quality.case_minimum", "--year", "2024"], 1),
    ("check", ["check", "2024"], 1),
]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("case, args, code", STDOUT_CASES, ids=[c[0] for c in STDOUT_CASES])
def test_a_full_standard_output(case, args, code):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(_rulesctl(*args), stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == code, proc.stderr
    assert "cannot write to standard output: No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


@pytest.mark.parametrize("case, args, code", STDOUT_CASES[:2], ids=[c[0] for c in STDOUT_CASES[:2]])
def test_a_closed_pipe(case, args, code):
    read, write = os.pipe()
    os.close(read)  # nobody reads: the first write is a broken pipe
    try:
        proc = subprocess.run(_rulesctl(*args), stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert proc.returncode == code, proc.stderr
    assert "cannot write to standard output: the pipe was closed (broken pipe)" in proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


# ---------------------------------------------------------------------------
# Rich markup: text from the inputs or the rules is printed as it is
# ---------------------------------------------------------------------------

def _report():
    result = runner.invoke(app, ["score", str(SUB), "--context", str(CTX), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_report_table_prints_markup_as_text():
    from rich.console import Console

    from mips_rules.engine.scoring.render import print_table
    from mips_rules.engine.years.loader import load_year

    report = _report()
    quality = report["categories"]["quality"]
    quality["measures"][0]["measure_id"] = "[/bold]"
    quality["measures"][0]["reason"] = "[red]not red[/red] [/]"
    quality["reason"] = "[/italic] a reason"
    report["final_score_reason"] = "[link=x]why[/link] [/bold]"
    report["reporting_option"] = "[/traditional]"
    buffer = io.StringIO()
    print_table(report, load_year(report["performance_year"]).report_layout, Console(file=buffer, width=200))
    text = buffer.getvalue()
    for fragment in ("[/bold]", "[red]not red[/red] [/]", "[/italic] a reason", "[link=x]why[/link]",
                     "[/traditional]"):
        assert fragment in text


def test_diff_table_prints_markup_as_text(year_copy):
    folder = year_copy(2023)
    label = folder.parent / "draft[red]"
    folder.rename(label)
    with open(label / "program.yaml", "a", encoding="utf-8") as out:
        out.write('\nextra_value:\n  value: 1\n  source: "[/bold] a source [red]"\n')
    result = runner.invoke(app, ["diff", "2023", str(label)], env={"COLUMNS": "400"})
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "program.extra_value" in result.output and "[/bold] a source [red]" in result.output
    assert "draft[red]" in result.output


def test_rule_test_names_print_as_text(tmp_path):
    cases = tmp_path / "cases.yaml"
    cases.write_text('cases:\n  - name: "[/bold] a [red]case"\n'
                     '    context: {performance_year: 2024, category_scores: {quality: 50, cost: 50, ia: 50, pi: 50}}\n'
                     '    expect:\n      final_score: 1\n')
    result = runner.invoke(app, ["test", str(cases)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "[/bold] a [red]case" in result.output


def test_explain_names_print_as_text():
    result = runner.invoke(app, ["score", str(SUB), "--context", str(CTX), "--explain", "[/bold]"])
    assert result.exit_code == 1 and "nothing named `[/bold]`" in result.output and "Traceback" not in result.output
