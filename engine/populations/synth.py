"""A realistic synthetic population drawn from a year's reference data, deterministic for a seed.

Varied entity types and practice sizes; 1–10 quality measures with plausible counts across
submission methods (some below the case minimum or short of data completeness); PI and IA
sets (some incomplete or invalid); contexts with special statuses, exceptions, cost
measures and elections.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

from mips_rules.engine.years.loader import Year

ENTITIES = [("individual", "individual", 0.62), ("group", "group", 0.28), ("apm", "apm_entity", 0.05),
            ("subgroup", "subgroup", 0.03), ("virtualGroup", "virtual_group", 0.02)]
PI_PROPORTIONS = ["PI_EP_1", "PI_PEA_1"]
CLINICIAN_TYPES = ["physician"] * 12 + ["nurse_practitioner", "physician_assistant", "physical_therapist",
                                        "clinical_social_worker"]


def _pick_weighted(rng: random.Random, options: list[tuple[str, str, float]]) -> tuple[str, str]:
    x = rng.random()
    for qpp, ctx, w in options:
        if x < w:
            return qpp, ctx
        x -= w
    return options[0][0], options[0][1]


def _npi(rng: random.Random) -> str:
    return "1" + "".join(str(rng.randrange(10)) for _ in range(9))


class Synthesizer:
    """Draws records for one year from that year's benchmarks and inventories."""

    def __init__(self, year: Year, seed: int):
        self.year = year
        self.y = year.performance_year
        self.rng = random.Random(seed)
        ns = year.namespaces()
        self.benchmarks = sorted((k for k in ns["benchmarks"]["quality"].rows
                                  if k[1] != "administrativeClaims"), key=str)
        self.activities = sorted(ns["measures"]["ia"].rows, key=str)
        self.cost_measures = sorted(k for k in ns["measures"]["cost"].rows)

    def rate_value(self, bad: bool) -> dict[str, int]:
        rng = self.rng
        eligible = rng.randint(8, 600) if not bad else rng.randint(5, 40)
        counted = eligible if rng.random() > 0.15 else int(eligible * rng.uniform(0.6, 0.95))
        exclusions = rng.randint(0, counted // 10)
        performance = counted - exclusions
        met = int(performance * rng.random() ** 0.5)
        return {"performanceMet": met, "performanceNotMet": performance - met, "eligiblePopulation": eligible,
                "eligiblePopulationExclusion": exclusions, "eligiblePopulationException": 0}

    def quality_sets(self) -> list[dict[str, Any]]:
        rng = self.rng
        n = rng.randint(1, 10)
        chosen = rng.sample(self.benchmarks, min(n, len(self.benchmarks)))
        by_method: dict[str, dict[str, Any]] = {}
        for measure, method in chosen:
            ms = by_method.setdefault(method, {"category": "quality", "submissionMethod": method, "programName": "mips",
                                               "performanceStart": f"{self.y}-01-01",
                                               "performanceEnd": f"{self.y}-12-31", "measurements": []})
            if any(m["measureId"] == measure for m in ms["measurements"]):
                continue
            ms["measurements"].append({"measureId": measure, "value": self.rate_value(rng.random() < 0.08)})
        return list(by_method.values())

    def pi_set(self) -> dict[str, Any]:
        rng = self.rng
        values: dict[str, Any] = {k: rng.random() > 0.03 for k in ("PI_INFBLO_1", "PI_ONCDIR_1", "PI_PPHI_1",
                                                                    "PI_PPHI_2")}
        for m in PI_PROPORTIONS:
            d = rng.randint(1, 2000)
            values[m] = {"numerator": rng.randint(0 if rng.random() < 0.03 else 1, d), "denominator": d}
        if rng.random() < 0.1:
            values["PI_LVPP_1"] = True
            values.pop("PI_EP_1")
        values["PI_EP_2"] = rng.random() > 0.1
        if rng.random() < 0.5:
            values["PI_HIE_5"] = True
        else:
            for m in ("PI_HIE_1", "PI_HIE_4"):
                d = rng.randint(1, 500)
                values[m] = {"numerator": rng.randint(1, d), "denominator": d}
        for m in ("PI_PHCDRR_1", "PI_PHCDRR_3"):
            values[m] = True
            if rng.random() > 0.05:
                values[f"{m}_{rng.choice(['PRE', 'PROD'])}"] = True
        if rng.random() < 0.3:
            values["PI_PHCDRR_4"] = True
            values["PI_PHCDRR_4_PROD"] = True
        days = rng.choice([90, 120, 180, 200, 365])
        start = date(self.y, 1, 1) + timedelta(days=rng.randint(0, 365 - days))
        end = min(start + timedelta(days=days - 1), date(self.y, 12, 31))
        cehrt = rng.choice(["0015E8ABCDEFGHI"] * 20 + ["0015H8ABCDEFGHI", None])
        ms: dict[str, Any] = {"category": "pi", "submissionMethod": "electronicHealthRecord", "programName": "mips",
                              "performanceStart": start.isoformat(), "performanceEnd": end.isoformat(),
                              "measurements": [{"measureId": k, "value": v} for k, v in values.items()]}
        if cehrt:
            ms["cehrtId"] = cehrt
        return ms

    def ia_set(self) -> dict[str, Any]:
        acts = self.rng.sample(self.activities, self.rng.randint(1, min(4, len(self.activities))))
        return {"category": "ia", "submissionMethod": "registry", "programName": "mips",
                "performanceStart": f"{self.y}-01-01", "performanceEnd": f"{self.y}-03-31",
                "measurements": [{"measureId": a, "value": True} for a in acts]}

    def record(self, index: int) -> dict[str, Any]:
        rng = self.rng
        qpp_type, ctx_type = _pick_weighted(rng, ENTITIES)
        clinicians = 1 if ctx_type == "individual" else rng.choice([2, 5, 9, 14, 20, 45, 120, 600])
        small = clinicians <= 15 if ctx_type != "individual" else rng.random() < 0.3
        sets = []
        if rng.random() < 0.95:
            sets += self.quality_sets()
        if rng.random() < (0.85 if not small else 0.5) and ctx_type != "apm_entity":
            sets.append(self.pi_set())
        if rng.random() < 0.9:
            sets.append(self.ia_set())
        submission: dict[str, Any] = {"entityType": qpp_type, "taxpayerIdentificationNumber": f"{rng.randrange(10**9):09d}",
                                      "performanceYear": self.y, "measurementSets": sets}
        if qpp_type == "individual":
            submission["nationalProviderIdentifier"] = _npi(rng)
        if qpp_type in ("apm", "virtualGroup", "subgroup"):
            submission["entityId"] = f"E{rng.randrange(10**5):05d}"
        app = ctx_type in ("apm_entity", "group") and rng.random() < 0.15
        context: dict[str, Any] = {
            "performance_year": self.y,
            "reporting_option": "app" if app else "traditional",
            "entity": {"type": ctx_type, "clinicians": clinicians, "small_practice": small,
                       "rural": rng.random() < 0.1, "hpsa": rng.random() < 0.05,
                       "non_patient_facing": rng.random() < 0.04, "hospital_based": rng.random() < 0.03,
                       "clinician_type": rng.choice(CLINICIAN_TYPES) if ctx_type == "individual" else "physician",
                       "apm_participant": ctx_type == "apm_entity" or rng.random() < 0.1},
            "exceptions": {c: rng.random() < 0.02 for c in ("quality", "cost", "ia", "pi")},
            "auto_euc": ctx_type == "individual" and rng.random() < 0.03,
            "complex_patient_bonus": round(rng.random() * 5, 2) if rng.random() < 0.4 else 0,
        }
        if rng.random() < 0.6 and ctx_type != "apm_entity":
            k = rng.randint(1, min(3, len(self.cost_measures)))
            context["cost"] = {"measures": [{"measure_id": m, "points": round(rng.uniform(1, 10), 1)}
                                            for m in rng.sample(self.cost_measures, k)],
                               "prior_score": round(rng.uniform(20, 90), 1) if rng.random() < 0.5 else None}
        if rng.random() < 0.3:
            context["quality"] = {"prior_achievement": round(rng.uniform(10, 95), 1)}
        if rng.random() < 0.2:
            charges = rng.choice([50000, 95000, 200000])
            context["eligibility"] = {"allowed_charges": charges, "part_b_patients": rng.choice([150, 250]),
                                      "covered_services": rng.choice([150, 400])}
            if not app:
                context["election"] = rng.choice(["none", "opt_in", "voluntary"])
        if ctx_type == "apm_entity" and rng.random() < 0.5:
            context["pi_rollup"] = [{"npi": _npi(rng), "score": rng.randint(0, 100), "bonus": rng.choice([0, 5])}
                                    for _ in range(rng.randint(1, 5))]
        return {"id": f"S{self.y}-{index:07d}", "submission": submission, "context": context}

    def records(self, n: int) -> Iterator[dict[str, Any]]:
        for i in range(n):
            yield self.record(i)


def write_population(year: Year, n: int, seed: int, output: Path) -> int:
    """Write n records as JSONL, whole or not at all (engine/outputs: temporary file, fsync, rename;
    only over a regular file or a new path). An OS error is an OutputError naming the file."""
    from mips_rules.engine.cli.outputs import atomic_file

    synth = Synthesizer(year, seed)
    with atomic_file(output) as out:
        for record in synth.records(n):
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    return n
