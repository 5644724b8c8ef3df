"""What the engine asks of every year's rules: the names a report is built from.

Besides these two names, the engine reads a year only through what the year
declares: its scoring context (`context.yaml`) and its report (`report.yaml`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Requirement:
    name: str
    params: tuple[str, ...] | None  # None: a value
    meaning: str


REQUIRED_DEFINITIONS: tuple[Requirement, ...] = (
    Requirement("rejections", None, "reasons the inputs cannot be scored at all (an empty list when they can)"),
    Requirement("attribute", ("reports",), "of several reports for one TIN/NPI, {index, reason} of the one that sets "
                                           "the payment adjustment"),
)
# Everything a report holds is the year's declaration (`report.yaml`, engine/years/report_declaration.py):
# the definitions it names are checked when the year loads.

# Data every year must have (namespace, item).
REQUIRED_DATA: tuple[tuple[str, str], ...] = (("program", "performance_year"),)
