"""Differential test: the hand-written 2024 reference scorer and the engine agree on 10,000
synthetic submissions (final score and payment adjustment, exactly)."""

from __future__ import annotations

import json
from decimal import Decimal

from benchmarks.reference_2024 import Reference, Rejected, score_record
from mips_rules.dsl.errors import RulesError
from mips_rules.engine.inputs.context import parse_context
from mips_rules.engine.scoring.score import score
from mips_rules.engine.inputs.submission import parse_submission
from mips_rules.engine.populations.synth import Synthesizer

N = 10_000


def test_reference_scorer_agrees_with_the_engine(year_2024):
    ref = Reference.from_year(year_2024)
    differences = []
    scored = rejected = 0
    for record in Synthesizer(year_2024, seed=2024).records(N):
        record = json.loads(json.dumps(record), parse_float=Decimal)
        try:
            report = score(year_2024, parse_submission(record["submission"]), parse_context(record["context"])).report
            engine = (report["final_score"], Decimal(report["payment_adjustment"]["percent"]))
        except RulesError:
            engine = None
        try:
            reference = score_record(ref, record["submission"], record["context"])
        except Rejected:
            reference = None
        if engine != reference:
            differences.append((record["id"], engine, reference))
        elif engine is None:
            rejected += 1
        else:
            scored += 1
    assert not differences, differences[:5]
    assert scored > 9_000 and rejected > 0  # the population exercises both paths
