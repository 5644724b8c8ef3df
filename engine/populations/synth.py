"""A realistic synthetic population drawn from a year's reference data, deterministic for a seed.

Varied entity types and practice sizes; clinicians who report fully (most: six measures they do
well on, rates drawn at high percentiles of CMS's benchmarks, complete PI and IA) and others who
report partly or badly (fewer measures, some below the case minimum or short of data
completeness, PI and IA sets incomplete or invalid) — small practices and solo clinicians more
often; contexts with special statuses, exceptions, cost measures, elections and Part B allowed
charges. Calibrated against CMS's published PY2023 results (mean final score 83.18, median 85.49,
14% with a negative adjustment: 29% of small practices, 49% of solo clinicians, 18% of rural ones;
secondary reports of CMS's 2023 QPP Participation and Performance Results At-a-Glance); the
README gives the synthetic population's own figures.
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
        self.benchmark_rows = ns["benchmarks"]["quality"].rows
        # The APP's measures with a benchmark CMS scores from a submission (eCQM or MIPS CQM).
        app_rows = getattr(ns.get("quality", {}).get("app_required"), "rows", {}) or {}
        self.app_measures = sorted({(m, method) for row in app_rows.values() for m in (row.get("measures") or ())
                                    for method in ("electronicHealthRecord", "registry")
                                    if (m, method) in self.benchmark_rows})
        self.benchmarks = sorted((k for k in self.benchmark_rows if k[1] != "administrativeClaims"), key=str)
        self.activities = sorted(ns["measures"]["ia"].rows, key=str)
        self.cost_measures = sorted(k for k in ns["measures"]["cost"].rows)
        # The year's MVPs (CMS's mvp.json), for the records that report one: subgroups report MVPs only.
        # Their draws come from a random stream of their own, so that the other records stay the same.
        pathways = ns.get("mvps", {}).get("pathways")
        self.mvps = [row for _, row in sorted(getattr(pathways, "rows", {}).items())] if pathways is not None else []
        self.mvp_rng = random.Random(seed * 7919 + 17)

    def rate_value(self, bad: bool, row: dict[str, Any] | None = None, level: str = "mid") -> dict[str, int]:
        """Counts for one measure. An engaged clinician's rate sits where CMS's benchmark puts a high
        performance percentile (clinicians choose measures they do well on); others are spread wider."""
        rng = self.rng
        eligible = rng.randint(30, 600) if not bad else rng.randint(5, 40)
        short = rng.random() < {"high": 0.03, "mid": 0.12, "low": 0.3}[level]
        counted = int(eligible * rng.uniform(0.6, 0.95)) if short else eligible
        exclusions = rng.randint(0, counted // 10)
        performance = counted - exclusions
        target = self._target_rate(row, level)
        met = round(performance * target) if target is not None else int(performance * rng.random() ** 0.5)
        return {"performanceMet": met, "performanceNotMet": performance - met, "eligiblePopulation": eligible,
                "eligiblePopulationExclusion": exclusions, "eligiblePopulationException": 0}

    def app_quality_sets(self, level: str) -> list[dict[str, Any]]:
        """An APP submission: the APP's own measures (one collection type each)."""
        rng = self.rng
        by_id: dict[str, str] = {}
        for measure, method in rng.sample(self.app_measures, len(self.app_measures)):
            by_id.setdefault(measure, method)
        sets: dict[str, dict[str, Any]] = {}
        for measure, method in sorted(by_id.items()):
            ms = sets.setdefault(method, {"category": "quality", "submissionMethod": method, "programName": "mips",
                                          "performanceStart": f"{self.y}-01-01", "performanceEnd": f"{self.y}-12-31",
                                          "measurements": []})
            ms["measurements"].append({"measureId": measure, "value": self.rate_value(
                False, self.benchmark_rows.get((measure, method)), level)})
        return list(sets.values())

    def _scorable(self, key: tuple[str, str], small: bool) -> bool:
        row = self.benchmark_rows.get(key) or {}
        method = key[1]
        return (row.get("metric_type") in (None, "singlePerformanceRate", "multiPerformanceRate")
                and method in (("registry", "electronicHealthRecord", "claims") if small
                               else ("registry", "electronicHealthRecord")))

    def _target_rate(self, row: dict[str, Any] | None, level: str) -> float | None:
        """The rate at a drawn performance percentile of the measure's benchmark (None without one)."""
        points = (row or {}).get("percentiles")
        if not isinstance(points, dict):
            return None
        try:
            known = sorted((int(str(k).lstrip("p")), float(v)) for k, v in points.items())
        except (TypeError, ValueError):
            return None
        u = self.rng.random()
        q = {"high": 100 - 30 * u ** 2, "mid": 50 + 45 * u, "low": 85 * u}[level]
        for (q0, r0), (q1, r1) in zip(known, known[1:]):
            if q0 <= q <= q1:
                rate = r0 + (r1 - r0) * (q - q0) / (q1 - q0) if q1 > q0 else r0
                return min(1.0, max(0.0, rate / 100))
        return min(1.0, max(0.0, (known[0][1] if q < known[0][0] else known[-1][1]) / 100))

    def quality_sets(self, level: str = "mid", small: bool = False) -> list[dict[str, Any]]:
        """Quality measures. Engaged clinicians pick measures they can be scored on (single-rate
        measures of a collection type open to them); the less engaged also send what does not count."""
        rng = self.rng
        n = {"high": rng.choice([6, 6, 6, 6, 7, 8]), "mid": rng.randint(3, 7), "low": rng.randint(1, 4)}[level]
        pool = self.benchmarks if level == "low" else [k for k in self.benchmarks if self._scorable(k, small)]
        chosen = rng.sample(pool or self.benchmarks, min(n, len(pool or self.benchmarks)))
        by_method: dict[str, dict[str, Any]] = {}
        for measure, method in chosen:
            ms = by_method.setdefault(method, {"category": "quality", "submissionMethod": method, "programName": "mips",
                                               "performanceStart": f"{self.y}-01-01",
                                               "performanceEnd": f"{self.y}-12-31", "measurements": []})
            if any(m["measureId"] == measure for m in ms["measurements"]):
                continue
            row = self.benchmark_rows.get((measure, method))
            ms["measurements"].append({"measureId": measure,
                                       "value": self.rate_value(rng.random() < 0.04, row, level)})
        return list(by_method.values())

    def pi_set(self, level: str = "mid") -> dict[str, Any]:
        rng = self.rng
        fail = {"high": 0.005, "mid": 0.02, "low": 0.1}[level]
        values: dict[str, Any] = {k: rng.random() > fail for k in ("PI_INFBLO_1", "PI_ONCDIR_1", "PI_PPHI_1",
                                                                   "PI_PPHI_2")}
        low_share = {"high": 0.85, "mid": 0.55, "low": 0.0}[level]
        for m in PI_PROPORTIONS:
            d = rng.randint(1, 2000)
            n = 0 if rng.random() < fail else max(1, round(d * rng.uniform(low_share, 1.0)))
            values[m] = {"numerator": n, "denominator": d}
        if rng.random() < 0.1:
            values["PI_LVPP_1"] = True
            values.pop("PI_EP_1")
        values["PI_EP_2"] = rng.random() > fail * 2
        if rng.random() < 0.5:
            values["PI_HIE_5"] = True
        else:
            for m in ("PI_HIE_1", "PI_HIE_4"):
                d = rng.randint(1, 500)
                values[m] = {"numerator": max(1, round(d * rng.uniform(low_share, 1.0))), "denominator": d}
        for m in ("PI_PHCDRR_1", "PI_PHCDRR_3"):
            values[m] = True
            if rng.random() > fail * 3:
                values[f"{m}_{rng.choice(['PRE', 'PROD'])}"] = True
        if rng.random() < 0.3:
            values["PI_PHCDRR_4"] = True
            values["PI_PHCDRR_4_PROD"] = True
        days = rng.choice([180, 200, 365, 365] if level == "high" else [90, 120, 180, 200, 365])
        start = date(self.y, 1, 1) + timedelta(days=rng.randint(0, 365 - days))
        end = min(start + timedelta(days=days - 1), date(self.y, 12, 31))
        cehrt = rng.choice(["0015E8ABCDEFGHI"] * (60 if level == "high" else 20) + ["0015H8ABCDEFGHI", None])
        ms: dict[str, Any] = {"category": "pi", "submissionMethod": "electronicHealthRecord", "programName": "mips",
                              "performanceStart": start.isoformat(), "performanceEnd": end.isoformat(),
                              "measurements": [{"measureId": k, "value": v} for k, v in values.items()]}
        if cehrt:
            ms["cehrtId"] = cehrt
        return ms

    def ia_set(self, level: str = "mid") -> dict[str, Any]:
        low, high = {"high": (4, 4), "mid": (1, 4), "low": (1, 2)}[level]
        acts = self.rng.sample(self.activities, self.rng.randint(min(low, len(self.activities)),
                                                                 min(high, len(self.activities))))
        return {"category": "ia", "submissionMethod": "registry", "programName": "mips",
                "performanceStart": f"{self.y}-01-01", "performanceEnd": f"{self.y}-03-31",
                "measurements": [{"measureId": a, "value": True} for a in acts]}

    def engagement(self, ctx_type: str, small: bool) -> str:
        """How completely a clinician reports: most report fully (CMS's PY2023 results: mean final score
        83.18, median 85.49, 14% with a negative adjustment — 29% of small practices, 49% of solo
        clinicians); small practices and solo clinicians less often."""
        x = self.rng.random()
        low, mid = ((0.30, 0.12) if ctx_type == "individual" and small else (0.08, 0.10) if small
                    else (0.01, 0.03))
        return "low" if x < low else "mid" if x < low + mid else "high"

    def record(self, index: int) -> dict[str, Any]:
        rng = self.rng
        qpp_type, ctx_type = _pick_weighted(rng, ENTITIES)
        clinicians = 1 if ctx_type == "individual" else rng.choice([2, 5, 9, 14, 20, 45, 120, 600])
        small = clinicians <= 15 if ctx_type != "individual" else rng.random() < 0.3
        level = self.engagement(ctx_type, small)
        app = ctx_type in ("apm_entity", "group") and rng.random() < 0.15
        sets = []
        if rng.random() < {"high": 1.0, "mid": 0.95, "low": 0.7}[level]:
            sets += self.app_quality_sets(level) if app and self.app_measures else self.quality_sets(level, small)
        if rng.random() < {"high": 0.99, "mid": 0.85, "low": 0.3}[level] and ctx_type != "apm_entity":
            sets.append(self.pi_set(level))
        if rng.random() < {"high": 1.0, "mid": 0.9, "low": 0.5}[level]:
            sets.append(self.ia_set(level))
        submission: dict[str, Any] = {"entityType": qpp_type, "taxpayerIdentificationNumber": f"{rng.randrange(10**9):09d}",
                                      "performanceYear": self.y, "measurementSets": sets}
        if qpp_type == "individual":
            submission["nationalProviderIdentifier"] = _npi(rng)
        if qpp_type in ("apm", "virtualGroup", "subgroup"):
            submission["entityId"] = f"E{rng.randrange(10**5):05d}"
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
            context["cost"] = {"measures": [{"measure_id": m, "points": round(rng.uniform(3, 10), 1)}
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
        else:
            # Part B allowed charges for the budget-neutrality weights (a clinician's median about $180,000),
            # above every low-volume criterion.
            charges = round(180000 * clinicians * rng.lognormvariate(0, 0.6), -2)
            context["eligibility"] = {"allowed_charges": max(charges, 100000), "part_b_patients": 200 + 300 * clinicians,
                                      "covered_services": 200 + 800 * clinicians}
        if ctx_type == "apm_entity" and rng.random() < 0.5:
            context["pi_rollup"] = [{"npi": _npi(rng), "score": rng.randint(0, 100), "bonus": rng.choice([0, 5])}
                                    for _ in range(rng.randint(1, 5))]
        if ctx_type == "subgroup" and self.mvps:
            self._as_mvp(submission, context, level, small)
        return {"id": f"S{self.y}-{index:07d}", "submission": submission, "context": context}

    def _as_mvp(self, submission: dict[str, Any], context: dict[str, Any], level: str, small: bool) -> None:
        """The record reports an MVP: its quality measures, activities and cost measures come from the
        MVP, every set names it (programName), and CMS's population health measures are in the context."""
        main, self.rng = self.rng, self.mvp_rng
        try:
            rng = self.rng
            mvp = rng.choice(self.mvps)
            pool = [k for k in self.benchmarks if k[0] in set(mvp.get("quality_measure_ids") or ())
                    and self._scorable(k, small)]
            sets = []
            for s in submission["measurementSets"]:
                if s["category"] == "quality":
                    continue
                if s["category"] == "ia":
                    acts = [a for a in mvp.get("ia_measure_ids") or () if a in self.activities]
                    chosen = rng.sample(acts, min(len(acts), rng.randint(1, 2))) if acts else []
                    s = {**s, "measurements": [{"measureId": a, "value": True} for a in chosen]}
                sets.append({**s, "programName": mvp["mvp_id"]})
            if pool:
                n = {"high": 4, "mid": rng.randint(2, 4), "low": rng.randint(1, 2)}[level]
                by_method: dict[str, dict[str, Any]] = {}
                seen: set[str] = set()
                for measure, method in rng.sample(pool, min(len(pool), n + 2)):
                    if measure in seen or len(seen) >= n:
                        continue
                    seen.add(measure)
                    ms = by_method.setdefault(method, {
                        "category": "quality", "submissionMethod": method, "programName": mvp["mvp_id"],
                        "performanceStart": f"{self.y}-01-01", "performanceEnd": f"{self.y}-12-31", "measurements": []})
                    ms["measurements"].append({"measureId": measure, "value": self.rate_value(
                        False, self.benchmark_rows.get((measure, method)), level)})
                sets = list(by_method.values()) + sets
            submission["measurementSets"] = sets
            cost = [m for m in mvp.get("cost_measure_ids") or () if m in self.cost_measures]
            if cost and "cost" in context:
                context["cost"] = {**context["cost"], "measures": [
                    {"measure_id": m, "points": round(rng.uniform(3, 10), 1)} for m in cost]}
            health = list(mvp.get("foundation_quality_measure_ids") or ())
            context["quality"] = {**(context.get("quality") or {}), "admin_claims": [
                {"measure_id": m, "points": round(rng.uniform(1, 10), 2)} for m in health if rng.random() < 0.7]}
        finally:
            self.rng = main

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
