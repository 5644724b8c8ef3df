"""A real install: a wheel built from the checkout installs one package, `mips_rules`, with the
rules as package data, and scores the bundled example from any working directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the setuptools already installed builds it (no download in tests).
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(ROOT)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"cannot build a wheel: {done.stderr[-2000:]}")
    return next(out.glob("mips_rules-*.whl"))


def test_the_wheel_installs_one_distinctive_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"mips_rules"}
    assert "mips_rules/rules/2024/final.rules" in names
    assert "mips_rules/rules/2023/tests/final_score.yaml" in names
    assert "mips_rules/dsl/grammar.lark" in names


def test_the_installed_wheel_scores_from_any_folder(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    zipfile.ZipFile(wheel).extractall(site)  # a wheel is a zip laid out for site-packages
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import sys; from mips_rules.engine.cli.commands import main; sys.argv = sys.argv[1:]; main()")
    done = subprocess.run([str(python), "-I", "-c", code, "rulesctl", "score", str(EXAMPLES / "2024-full.json"),
                           "--context", str(EXAMPLES / "2024-full-context.yaml"), "--format", "json"],
                          cwd=elsewhere, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["performance_year"] == 2024
    # Loaded from the installed package data, not from this checkout.
    where = subprocess.run([str(python), "-I", "-c", "import mips_rules.engine.years.loader as y; print(y.default_rules_root())"],
                           cwd=elsewhere, capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert Path(where).resolve() != (ROOT / "rules").resolve() and where.endswith("mips_rules/rules")
