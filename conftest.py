"""pytest collects the analysts' rule tests (rules/<year>/tests/*.yaml) as test items.

Each runs as `rulesctl test` runs it: against the year folder the file is in (its data and rules),
and a case whose inputs name another year fails, naming the case and both years."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".yaml" and file_path.parent.name == "tests" and file_path.parent.parent.parent.name == "rules":
        return RuleTestFile.from_parent(parent, path=file_path)
    return None


class RuleTestFile(pytest.File):
    def collect(self):
        from mips_rules.engine.workbench.rule_tests import load_cases

        for case in load_cases(self.path):
            yield RuleTestItem.from_parent(self, name=case.name, case=case)


class RuleTestItem(pytest.Item):
    def __init__(self, *, case, **kwargs):
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        from mips_rules.engine.workbench.rule_tests import run_case

        result = run_case(self.case, self.path)
        if result.error:
            raise RuleTestFailure(result.error)
        failed = [c for c in result.checks if not c.ok]
        if failed:
            raise RuleTestFailure("\n".join(f"{c.path}: expected {c.expected!r}, got {c.actual!r}" for c in failed))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, RuleTestFailure):
            return f"rule test failed: {self.name}\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, f"rule test: {self.name}"


class RuleTestFailure(Exception):
    """A rule test's expected values did not match."""
