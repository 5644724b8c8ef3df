"""The Python API, for notebooks and scripts: `mips_rules.load_year(2024).score(submission, context)`."""

from mips_rules.engine.api.scoring_year import ScoringYear, load_year, plain

__all__ = ["ScoringYear", "load_year", "plain"]
