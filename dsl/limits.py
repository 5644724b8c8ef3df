"""Bounds on the work and memory of rules from untrusted hands.

Loading: a rule file is refused above `MAX_RULE_FILE_BYTES` (checked before it is read) or
`MAX_RULE_TOKENS` tokens, and expressions nest at most `parser.MAX_DEPTH` levels.

Evaluating: each evaluation (one submission's definitions) has a budget of steps, counted
in both execution paths alike: each computed definition or function call costs the size of its
body, and each item a built-in processes costs one plus the size of the `x -> …` functions it
runs. Texts are capped at `MAX_TEXT` characters and lists and records at `MAX_COLLECTION`
items where they are built. Running out of any of these is an `EvaluationError` naming the
definition and its location.
"""

from __future__ import annotations

from mips_rules.dsl.values import EvalFailure

MAX_RULE_FILE_BYTES = 1024 * 1024  # the largest real rule file is about 25 KB
MAX_RULE_TOKENS = 30_000  # ten times the largest real rule file; parsing that many takes about a second
DEFAULT_MAX_STEPS = 50_000_000  # a complete 2024 submission takes about 0.1% of this
MAX_TEXT = 1_000_000  # characters of one text
MAX_COLLECTION = 1_000_000  # items of one list, set or record
MAX_REPORT_ITEMS = 1_000_000  # values in one report


class LimitExceeded(EvalFailure):
    """An evaluation ran out of steps, or built a text or a collection over its cap."""


def check_text(s: str) -> str:
    if len(s) > MAX_TEXT:
        raise LimitExceeded(f"a text of more than {MAX_TEXT:,} characters")
    return s


def check_size(n: int) -> None:
    if n > MAX_COLLECTION:
        raise LimitExceeded(f"a list or record of more than {MAX_COLLECTION:,} items")
