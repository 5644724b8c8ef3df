"""What the engine asks of every year's rules: the names a report is built from.

This is the only coupling between the year-agnostic engine and a year folder.
The policy behind each name lives in `rules/<year>/`; here are only the names,
their arity and what they mean in a report.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Requirement:
    name: str
    params: tuple[str, ...] | None  # None: a value
    meaning: str


REQUIRED_DEFINITIONS: tuple[Requirement, ...] = (
    Requirement("categories", None, "the performance categories, in report order"),
    Requirement("category_score", ("c",), "a category's score in percent (0–100), none when not scored"),
    Requirement("category_weight", ("c",), "a category's weight in percent of the final score"),
    Requirement("category_points", ("c",), "a category's contribution to the final score, score × weight / 100"),
    Requirement("category_reweighted", ("c",), "true when the category's weight was moved to others"),
    Requirement("category_measures", ("c",), "the per-measure detail of a computed category, or none"),
    Requirement("category_reason", ("c",), "why the category scored as it did (reweighting, a zero …), or none"),
    Requirement("scoring_basis", None, "standard, or facility when facility-based scores gave the higher final score"),
    Requirement("eligibility_status", None, "eligible, opt_in_eligible or exempt"),
    Requirement("attribute", ("reports",), "of several reports for one TIN/NPI, {index, reason} of the one that sets "
                                           "the payment adjustment"),
    Requirement("rejections", None, "reasons the inputs cannot be scored at all (an empty list when they can)"),
    Requirement("complex_patient_bonus", None, "bonus points added to the final score"),
    Requirement("final_score", None, "the final score, 0–100, as CMS publishes it"),
    Requirement("final_score_reason", None, "why a rule set the final score (the performance threshold when too few "
                                            "categories were scored …), or none"),
    Requirement("payment_adjustment_applies", None, "whether the final score sets a payment adjustment"),
    Requirement("payment_adjustment_direction", None, "positive, negative or neutral"),
    Requirement("payment_adjustment_percent", None, "the adjustment in percent, as published"),
    Requirement("payment_year", None, "the year the payment adjustment applies to"),
)

# Data every year must have (namespace, item).
REQUIRED_DATA: tuple[tuple[str, str], ...] = (("program", "performance_year"),)
