"""A direct, hand-written Python scorer for 2024 traditional MIPS (the APP and MVPs too), for the shape
of the synthetic population (`rulesctl synth`).

Two jobs: the speed limit the compiled rules are measured against (benchmarks/bench.py), and
a differential test — on the same records its final scores and adjustments must equal the
engine's (tests/test_reference.py). It shares no code with the engine's rules: the policy is
typed in here from ../shared/spec/scoring-rules.md; only CMS's reference data (benchmarks,
inventories) is read from the loaded year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal as D, localcontext, Context
from typing import Any

CTX = Context(prec=34)
THRESHOLD = D(75)
CATS = ("quality", "cost", "ia", "pi")
OUTCOME_TYPES = {"outcome", "intermediateOutcome", "patientReportedOutcome"}
EXCLUDED_QUALITY = {"389", "488"}
EXCLUDED_COST = {"COST_AKID_1"}
REDISTRIBUTION = {
    frozenset(): (30, 30, 15, 25), frozenset({"cost"}): (55, 0, 15, 30), frozenset({"pi"}): (55, 30, 15, 0),
    frozenset({"quality"}): (0, 30, 15, 55), frozenset({"ia"}): (45, 30, 0, 25),
    frozenset({"cost", "pi"}): (85, 0, 15, 0), frozenset({"cost", "quality"}): (0, 0, 15, 85),
    frozenset({"cost", "ia"}): (70, 0, 0, 30), frozenset({"pi", "quality"}): (0, 50, 50, 0),
    frozenset({"pi", "ia"}): (70, 30, 0, 0), frozenset({"quality", "ia"}): (0, 30, 0, 70),
}
SMALL = {**REDISTRIBUTION, frozenset({"pi"}): (40, 30, 30, 0), frozenset({"cost", "pi"}): (50, 0, 50, 0)}
APP = {frozenset({"cost"}): (50, 0, 20, 30), frozenset({"cost", "quality"}): (0, 0, 25, 75),
       frozenset({"cost", "pi"}): (75, 0, 25, 0)}
EUC = {  # submitted → (quality, cost, ia, pi)
    frozenset(): (0, 0, 0, 0), frozenset({"quality"}): (100, 0, 0, 0), frozenset({"pi"}): (0, 0, 0, 100),
    frozenset({"ia"}): (0, 0, 100, 0), frozenset({"quality", "pi"}): (70, 0, 0, 30),
    frozenset({"quality", "ia"}): (85, 0, 15, 0), frozenset({"ia", "pi"}): (0, 0, 15, 85),
    frozenset({"quality", "ia", "pi"}): (55, 0, 15, 30),
}
EUC_SMALL = {**EUC, frozenset({"quality", "ia"}): (50, 0, 50, 0)}
APP_SLOTS = [({"001", "001SSP"}, True), ({"134", "134SSP"}, True), ({"236", "236SSP"}, True), ({"321"}, True),
             ({"479"}, False), ({"484"}, False)]  # (measures, a missing measure scores 0)
PI_REQUIRED_YES = ("PI_INFBLO_1", "PI_ONCDIR_1", "PI_PPHI_1", "PI_PPHI_2")
PI_EXCLUSIONS = {"PI_LVPP_1": "PI_EP_1", "PI_EP_2_EX_1": "PI_EP_2", "PI_EP_2_EX_2": "PI_EP_2",
                 "PI_LVOTC_1": "PI_HIE_1", "PI_LVITC_2": "PI_HIE_4"}
for _m in ("PI_PHCDRR_1", "PI_PHCDRR_3"):
    for _k in (1, 2, 3):
        PI_EXCLUSIONS[f"{_m}_EX_{_k}"] = _m
PI_REWEIGHT_STATUSES = ("small_practice", "hospital_based", "asc_based", "non_patient_facing")
IA_DOUBLING = ("small_practice", "rural", "hpsa", "non_patient_facing")
WEB_INTERFACE, CAHPS = "cmsWebInterface", "certifiedSurveyVendor"
# MVPs (42 CFR 414.1365; 004_23d77edc1962e2e1.txt): a set's programName names the MVP; 4 measures from
# it, the better population health measure (+10 to the denominator), activities from it at twice
# their points, its cost measures only; subgroups report MVPs only, virtual groups never.
NOT_MVPS = {"mips", "app1", "app_plus", "cpcPlus", "pcf"}
MVP_ENTITY_TYPES = {"individual", "group", "subgroup", "apm_entity"}


def refused(method: str, ent_type: str, small: bool, other_categories: bool) -> bool:
    """Collection types CMS scores only for some entities (000: Part B claims only for small
    practices, and at group level only with another category; CAHPS and the Web Interface not
    for individuals)."""
    if method == "claims":
        return not small or (ent_type == "group" and not other_categories)
    if method == CAHPS:
        return ent_type not in ("group", "subgroup", "virtual_group", "apm_entity")
    if method == WEB_INTERFACE:
        return ent_type not in ("group", "virtual_group", "apm_entity")
    return False


def half_up(x: D, places: int) -> D:
    return x.quantize(D(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass
class Reference:
    """CMS reference data of the year: (measure, method) → benchmark; inventories."""

    benchmarks: dict[tuple[str, str], dict[str, Any]]
    measures: dict[str, dict[str, Any]]
    activities: dict[str, dict[str, Any]]
    mvps: dict[str, dict[str, Any]]

    @classmethod
    def from_year(cls, year: Any) -> "Reference":
        ns = year.namespaces()
        return cls(dict(ns["benchmarks"]["quality"].rows), dict(ns["measures"]["quality"].rows),
                   dict(ns["measures"]["ia"].rows), dict(ns["mvps"]["pathways"].rows))


def decile(rate: D, bench: dict[str, Any]) -> D:
    p = bench["percentiles"]
    if bench["inverse"]:
        starts = [p[k] for k in ("p99", "p90", "p80", "p70", "p60", "p50", "p40", "p30", "p20", "p10")]
        k = sum(1 for s in starts if rate <= s)
    else:
        starts = [p[k] for k in ("p1", "p10", "p20", "p30", "p40", "p50", "p60", "p70", "p80", "p90")]
        k = sum(1 for s in starts if rate >= s)
    if k == 0:
        return D(1)
    if k >= 10:
        return D(10)
    return k + (rate - starts[k - 1]) / (starts[k] - starts[k - 1])


def _measure(ref: Reference, mid: str, method: str, v: dict[str, Any], small: bool, app: bool) -> dict[str, Any]:
    info = ref.measures.get(mid)
    met, notmet = D(v["performanceMet"]), D(v.get("performanceNotMet") or 0)
    eligible = D(v["eligiblePopulation"])
    counted = met + notmet + D(v.get("eligiblePopulationExclusion") or 0) + D(v.get("eligiblePopulationException") or 0)
    rate = met / (met + notmet) * 100 if met + notmet else None
    dc = counted / eligible * 100 if eligible else None
    is_outcome = info is not None and info["measure_type"] in OUTCOME_TYPES
    out = {"id": mid, "method": method, "outcome": is_outcome,
           "hp": info is not None and (info["high_priority"] or is_outcome), "drop": False}
    low = D(3) if small else D(0)
    if mid in EXCLUDED_QUALITY or (info is not None and info["metric_type"] == "nonProportion"):
        return {**out, "points": None, "drop": True}  # excluded, or a non-proportion measure as a single rate
    bench = ref.benchmarks.get((mid, method))
    if info is None:
        return {**out, "points": low, "drop": True}
    if dc is None or dc < 75:
        return {**out, "points": low}
    if met + notmet < 20 or bench is None or rate is None:
        return {**out, "points": low, "drop": True}
    points = half_up(decile(rate, bench), 4)
    first = info["first_performance_year"]
    floor = D(7) if first == 2024 else D(5) if first == 2023 else D(0)
    points = max(points, floor)
    if bench["topped_out_by_program"] and not app and points > 7:
        points = D(7)
    return {**out, "points": points}


def accepted_quality_sets(sub: dict[str, Any], ctx: dict[str, Any], small: bool) -> list[dict[str, Any]]:
    other = any(s["category"] != "quality" for s in sub["measurementSets"])
    return [s for s in sub["measurementSets"] if s["category"] == "quality"
            and not refused(s["submissionMethod"], ctx["entity"]["type"], small, other)]


def _pct(points: D, denominator: D) -> D:
    return points / denominator * 100 if denominator else D(0)


def _claims_points(ref: Reference, a: dict[str, Any]) -> D | None:
    if a.get("points") is not None:
        return D(a["points"])
    bench = ref.benchmarks.get((a["measure_id"], "administrativeClaims"))
    return None if bench is None else half_up(decile(D(a["performance_rate"]), bench), 4)


def quality_score(ref: Reference, sub: dict[str, Any], ctx: dict[str, Any], small: bool, app: bool,
                  mvp: dict[str, Any] | None = None) -> D | None:
    sets = [s for s in sub["measurementSets"] if s["category"] == "quality"]
    all_results = [_measure(ref, m["measureId"], s["submissionMethod"], m["value"], small, app)
                   for s in accepted_quality_sets(sub, ctx, small) for m in s["measurements"]]
    if ctx.get("exceptions", {}).get("quality") and not any(s["measurements"] for s in accepted_quality_sets(sub, ctx, small)):
        return None  # 2024: only a qualifying submission cancels the exception's reweighting
    results = [r for r in all_results if r["method"] != WEB_INTERFACE]
    claims = (ctx.get("quality") or {}).get("admin_claims") or []
    health_points = None
    if mvp is not None:
        results = [r for r in results if r["id"] in mvp["quality_measure_ids"]]
        for a in claims:
            if a["measure_id"] in mvp["administrative_claims_measure_ids"]:
                info = ref.measures.get(a["measure_id"]) or {}
                results.append({"id": a["measure_id"], "method": "administrativeClaims", "drop": False,
                                "points": _claims_points(ref, a) or D(0), "hp": True,
                                "outcome": info.get("measure_type") in OUTCOME_TYPES})
        health = sorted(((p, a["measure_id"]) for a in claims if a["measure_id"] in mvp["foundation_quality_measure_ids"]
                         and (p := _claims_points(ref, a)) is not None), key=lambda t: (-t[0], t[1]))
        health_points = health[0][0] if health else None
    if app:
        points, slots = D(0), 0
        for ids, zero_if_missing in APP_SLOTS:
            cands = sorted((r for r in results if r["id"] in ids and r["points"] is not None),
                           key=lambda r: (-r["points"], r["id"]))
            if not cands:
                if zero_if_missing:
                    slots += 1
                continue
            if cands[0]["drop"]:
                continue
            slots += 1
            points += cands[0]["points"]
        denominator = D(10) * slots
    else:
        best: dict[str, dict[str, Any]] = {}
        for r in results:
            if r["points"] is None:
                continue
            cur = best.get(r["id"])
            if cur is None or (r["points"], _neg(r["method"])) > (cur["points"], _neg(cur["method"])):
                best[r["id"]] = r
        ranked = sorted(best.values(), key=lambda r: (-r["points"], r["id"]))
        pick = next((r for r in ranked if r["outcome"]), None) or next((r for r in ranked if r["hp"]), None)
        # A submitted measure excluded from scoring leaves the denominator where it would have filled
        # one of the 6 slots (fewer than 6 other measures).
        excluded = len({r["id"] for r in results if r["id"] in EXCLUDED_QUALITY})
        slots = 4 if mvp is not None else 6
        outcome_slot = True
        if mvp is not None and small:  # every Part B claims measure of the MVP reported by claims, fewer than 4
            claims_ids = [i for i in mvp["quality_measure_ids"]
                          if "claims" in ((ref.measures.get(i) or {}).get("submission_methods") or ())]
            if 0 < len(claims_ids) < 4 and all(any(r["id"] == i and r["method"] == "claims" for r in all_results)
                                               for i in claims_ids):
                slots = len(claims_ids)
                outcome_slot = any((ref.measures[i]["measure_type"] in OUTCOME_TYPES or ref.measures[i]["high_priority"])
                                   for i in claims_ids)
        required = slots - min(excluded, max(0, slots - len(best)))
        if required == 0:
            counted = []
        elif pick is None:
            counted = ranked[: required - (1 if outcome_slot else 0)]
        else:
            counted = [pick] + [r for r in ranked if r["id"] != pick["id"]][: required - 1]
        points = sum((r["points"] for r in counted), D(0))
        denominator = D(10 * required)
        if health_points is not None:
            points, denominator = points + health_points, denominator + 10
    bonus = D(6) if small and all_results else D(0)
    # The Web Interface set (with CAHPS) against the other collection types: the better one.
    wi = [r for r in all_results if r["method"] in (WEB_INTERFACE, CAHPS) and r["points"] is not None
          and not r["drop"]]
    if mvp is None and any(r["method"] == WEB_INTERFACE for r in all_results):
        others = any(r["method"] not in (WEB_INTERFACE, CAHPS) for r in all_results)
        wi_points, wi_den = sum((r["points"] for r in wi), D(0)), D(10 * len(wi))
        if not others or _pct(wi_points, wi_den) >= _pct(points + bonus, denominator):
            points, denominator = wi_points, wi_den
    if denominator == 0:
        return None
    achievement = points / denominator * 100
    prior = (ctx.get("quality") or {}).get("prior_achievement")
    improvement = D(0)
    if prior is not None:
        base = max(D(prior), D(30))
        improvement = min(D(10), max(D(0), (achievement - base) / base * 10))
    return min(D(100), (points + bonus) / denominator * 100 + improvement)


def _neg(text: str) -> tuple[int, ...]:
    """Sort key: alphabetically first wins a tie (the engine sorts methods ascending)."""
    return tuple(-ord(c) for c in text)


def pi_score(sub: dict[str, Any], ctx: dict[str, Any]) -> tuple[D | None, bool]:
    """(score, qualifying) — qualifying: every required element present, whatever the values
    (004, "Why Did I Receive a Performance Category Score of 0 Out of 25 Points …")."""
    sets = [s for s in sub["measurementSets"] if s["category"] == "pi"]
    ent = ctx["entity"]
    reweighted = any(ent.get(s) for s in PI_REWEIGHT_STATUSES) or ent.get("clinician_type") == "clinical_social_worker" \
        or ctx.get("exceptions", {}).get("pi")
    if not sets:
        rollup = ctx.get("pi_rollup") or []
        if ent["type"] == "apm_entity" and rollup:
            avg = sum((D(r["score"]) for r in rollup), D(0)) / len(rollup)
            return min(D(100), avg + (D(5) if any(D(r.get("bonus", 0)) > 0 for r in rollup) else D(0))), False
        if any(ent.get(s) for s in PI_REWEIGHT_STATUSES) or ent.get("clinician_type") == "clinical_social_worker" \
                or ctx.get("exceptions", {}).get("pi"):
            return None, False
        return D(0), False
    answers: dict[str, Any] = {}
    conflict = False
    for s in sets:
        for m in s["measurements"]:
            if m["measureId"] in answers and answers[m["measureId"]] != m["value"]:
                conflict = True
            answers.setdefault(m["measureId"], m["value"])
    excluded = {PI_EXCLUSIONS[k] for k, v in answers.items() if k in PI_EXCLUSIONS and v is True}

    def yes(k: str) -> bool:
        return answers.get(k) is True

    def accounted(k: str) -> bool:
        return k in answers or k in excluded

    cehrt = next((s.get("cehrtId") for s in sets if s.get("cehrtId")), None)
    options = {"ep": [["PI_EP_1", "PI_EP_2"]], "hie": [["PI_HIE_1", "PI_HIE_4"], ["PI_HIE_5"], ["PI_HIE_6"]],
               "pea": [["PI_PEA_1"]], "ph": [["PI_PHCDRR_1", "PI_PHCDRR_3"]]}
    base_points = {"PI_EP_1": 10, "PI_EP_2": 10, "PI_HIE_1": 15, "PI_HIE_4": 15, "PI_HIE_5": 30, "PI_HIE_6": 30,
                   "PI_PEA_1": 25}
    proportion = {"PI_EP_1", "PI_HIE_1", "PI_HIE_4", "PI_PEA_1"}

    def base(option: list[str]) -> D:
        total = D(0)
        for k in option:
            v = answers.get(k)
            if k in excluded or v is None or k not in base_points:
                continue
            if k in proportion:
                if isinstance(v, dict) and v["denominator"]:
                    total += D(v["numerator"]) / D(v["denominator"]) * base_points[k]
            elif v is True:
                total += base_points[k]
        return total

    chosen = {}
    for obj, opts in options.items():
        complete = [o for o in opts if all(accounted(k) for k in o)]
        chosen[obj] = max(complete, key=base) if complete else None
        if complete:  # the first of equally good options, as a stable sort would keep
            top = base(chosen[obj])
            chosen[obj] = next(o for o in complete if base(o) == top)
    days = [(date.fromisoformat(s["performanceEnd"]) - date.fromisoformat(s["performanceStart"])).days + 1
            for s in sets]
    qualifying = cehrt is not None and all(k in answers for k in PI_REQUIRED_YES) \
        and all(c is not None for c in chosen.values())
    if reweighted and not qualifying:
        return None, False
    pdmp_no = answers.get("PI_EP_2") is False and "PI_EP_2" not in excluded
    zero = (conflict or pdmp_no or cehrt is None or len(cehrt) != 15 or not ("15E" in cehrt or "15C" in cehrt)
            or "15H" in cehrt or not all(yes(k) for k in PI_REQUIRED_YES) or min(days) < 180
            or any(c is None for c in chosen.values()))
    if not zero:
        for o in chosen.values():
            for k in o:  # type: ignore[union-attr]
                v = answers.get(k)
                if k in proportion and k not in excluded and isinstance(v, dict) and v["numerator"] == 0:
                    zero = True
        for k in ("PI_PHCDRR_1", "PI_PHCDRR_3", "PI_PHCDRR_2", "PI_PHCDRR_4", "PI_PHCDRR_5"):
            if yes(k) and k not in excluded and not (yes(f"{k}_PRE") or yes(f"{k}_PROD")):
                zero = True
    if zero:
        return D(0), qualifying
    maxp = {k: D(v) for k, v in base_points.items()}
    hie = chosen["hie"] or []
    receivers = [k for k in hie if k not in excluded]
    ep_excl = {k for k in ("PI_EP_1", "PI_EP_2") if k in excluded}
    if ep_excl == {"PI_EP_1"}:
        for k in receivers:
            maxp[k] += D(10) / len(receivers)
    elif ep_excl == {"PI_EP_2"}:
        maxp["PI_EP_1"] += 10
    elif ep_excl == {"PI_EP_1", "PI_EP_2"}:
        for k in receivers:
            maxp[k] += D(20) / len(receivers)
    hie_excl = {k for k in ("PI_HIE_1", "PI_HIE_4") if k in excluded}
    if hie_excl == {"PI_HIE_1"}:
        maxp["PI_HIE_4"] += 15
    elif hie_excl == {"PI_HIE_4"}:
        maxp["PI_HIE_1"] += 15
    elif hie_excl == {"PI_HIE_1", "PI_HIE_4"}:
        maxp["PI_PEA_1"] += 30
    if {"PI_PHCDRR_1", "PI_PHCDRR_3"} <= excluded:
        maxp["PI_PEA_1"] += 25
    total = D(0)
    for obj in ("ep", "hie", "pea"):
        for k in chosen[obj]:  # type: ignore[union-attr]
            v = answers.get(k)
            if k in excluded or v is None:
                continue
            if k in proportion:
                if isinstance(v, dict) and v["numerator"] > 0:
                    total += max(D(1), half_up(D(v["numerator"]) / D(v["denominator"]) * maxp[k], 0))
            elif v is True:
                total += maxp[k]
    reported_ph = [k for k in chosen["ph"] if k not in excluded]  # type: ignore[union-attr]
    if reported_ph and all(yes(k) for k in reported_ph):
        total += 25
    if any(yes(k) for k in ("PI_PHCDRR_2", "PI_PHCDRR_4", "PI_PHCDRR_5")):
        total += 5
    return min(D(100), total), True


def ia_points(ref: Reference, sub: dict[str, Any], ctx: dict[str, Any],
              mvp: dict[str, Any] | None = None) -> tuple[D, bool]:
    """(points of attested activities, capped at 40; whether any were attested)."""
    ent = ctx["entity"]
    doubled = mvp is not None or any(ent.get(s) for s in IA_DOUBLING)
    ids: list[str] = []
    for s in sub["measurementSets"]:
        if s["category"] == "ia":
            for m in s["measurements"]:
                if m["value"] is True and m["measureId"] not in ids:
                    ids.append(m["measureId"])
    total = D(0)
    for i in ids:
        a = ref.activities.get(i)
        if mvp is not None and i not in mvp["ia_measure_ids"]:
            continue
        if i == "IA_PCMH":
            total += 40
        elif a is not None and a["weight"] is not None:
            total += (20 if a["weight"] == "high" else 10) * (2 if doubled else 1)
    return min(D(40), total), bool(ids)


def cost_score(ctx: dict[str, Any], mvp: dict[str, Any] | None = None) -> D | None:
    cost = ctx.get("cost") or {}
    points = [D(m["points"]) for m in cost.get("measures", []) if m["measure_id"] not in EXCLUDED_COST
              and m.get("points") is not None and (mvp is None or m["measure_id"] in mvp["cost_measure_ids"])]
    if ctx["entity"]["type"] == "apm_entity" or ctx.get("exceptions", {}).get("cost") or not points:
        return None
    achievement = sum(points, D(0)) / (10 * len(points)) * 100
    prior = cost.get("prior_score")
    improvement = D(0)
    if prior:
        improvement = min(D(1), max(D(0), (achievement - D(prior)) / D(prior)))
    return min(D(100), achievement + improvement)


class Rejected(Exception):
    """The inputs cannot be scored (the engine reports the same as an error line)."""


def score_record(ref: Reference, sub: dict[str, Any], ctx: dict[str, Any]) -> tuple[D, D]:
    """(final score, payment adjustment percent) for one synthetic record."""
    with localcontext(CTX):
        return _score(ref, sub, ctx)


def mvp_of(ref: Reference, sub: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any] | None:
    """The MVP the record reports (None: traditional MIPS or the APP); Rejected when it cannot."""
    named: list[str] = []
    for s in sub["measurementSets"]:
        p = s.get("programName")
        if p is not None and p not in NOT_MVPS and p not in named:
            named.append(p)
    mid = (ctx.get("mvp") or {}).get("id") or (named[0] if named else None)
    option = ctx.get("reporting_option") or "traditional"
    ent_type = ctx["entity"]["type"]
    if len(named) > 1 or (mid is not None and (mid not in ref.mvps or option == "app"
                                               or ent_type not in MVP_ENTITY_TYPES)) \
            or (mid is None and ((option == "mvp" and sub["measurementSets"]) or ent_type == "subgroup")):
        raise Rejected()
    return ref.mvps[mid] if mid is not None else None


def _score(ref: Reference, sub: dict[str, Any], ctx: dict[str, Any]) -> tuple[D, D]:
    mvp = mvp_of(ref, sub, ctx)
    if mvp is not None:
        sub = {**sub, "measurementSets": [s for s in sub["measurementSets"] if s.get("programName") in
                                          (None, mvp["mvp_id"]) or s["category"] == "pi"]}
    ent = ctx["entity"]
    small = bool(ent.get("small_practice"))
    app = ctx.get("reporting_option") == "app"
    election = ctx.get("election") or "none"
    elig = ctx.get("eligibility")
    status = "eligible"
    if elig:
        exceeded = sum([D(elig["allowed_charges"]) > 90000, D(elig["part_b_patients"]) > 200,
                        D(elig["covered_services"]) > 200])
        status = "eligible" if exceeded == 3 else "opt_in_eligible" if exceeded else "exempt"
    if (app and election == "voluntary") or (ent["type"] == "apm_entity" and election == "opt_in") or \
            (election == "opt_in" and status == "exempt"):
        raise Rejected()
    quality_sets = any(s["category"] == "quality" for s in sub["measurementSets"])
    pi, pi_qualifying = pi_score(sub, ctx)
    pi_submitted = any(s["category"] == "pi" for s in sub["measurementSets"])
    ia_pts, ia_any = ia_points(ref, sub, ctx, mvp)
    euc = bool(ctx.get("auto_euc")) and ent["type"] == "individual"
    # A qualifying quality submission: numerator and denominator data for one measure CMS scores.
    quality_qualifying = any(s["measurements"] for s in accepted_quality_sets(sub, ctx, small))
    if euc:
        apm_credit = bool(ent.get("apm_participant")) and (quality_qualifying or pi_qualifying)
    else:
        apm_credit = bool(ent.get("apm_participant")) and (quality_sets or pi_submitted)
    ia_total = max(ia_pts, D(20)) if apm_credit else ia_pts
    ia = None if (not ia_any and not apm_credit and ctx.get("exceptions", {}).get("ia")) else ia_total / 40 * 100
    scores: dict[str, D | None] = {"quality": quality_score(ref, sub, ctx, small, app, mvp), "cost": cost_score(ctx, mvp),
                                   "ia": ia, "pi": pi}
    if app:
        scores["cost"], scores["ia"] = None, D(100)
    if euc:
        submitted = set()
        if quality_qualifying:
            submitted.add("quality")
        if pi_qualifying:
            submitted.add("pi")
        if ia_any or apm_credit:
            submitted.add("ia")
        scores = {c: (scores[c] if c in submitted else None) for c in CATS}
        row = (EUC_SMALL if small else EUC)[frozenset(submitted)]
    else:
        reweighted = frozenset(c for c in CATS if scores[c] is None)
        table = APP if app else (SMALL if small else REDISTRIBUTION)
        row = table.get(reweighted, (0, 0, 0, 0))
    scored = [c for c in CATS if scores[c] is not None]
    if len(scored) < 2:
        final = THRESHOLD
    else:
        weights = dict(zip(CATS, row))
        total = sum((scores[c] * weights[c] / 100 for c in scored), D(0))  # type: ignore[operator]
        bonus = min(D(10), max(D(0), D(ctx.get("complex_patient_bonus") or 0)))
        final = half_up(min(D(100), total + bonus), 2)
    applies = election != "voluntary" and (status == "eligible" or (election == "opt_in" and status == "opt_in_eligible"))
    if not applies:
        return final, D(0)
    if final <= D("18.75"):
        pct = D(-9)
    elif final < THRESHOLD:
        pct = -9 * (THRESHOLD - final) / THRESHOLD
    elif final == THRESHOLD:
        pct = D(0)
    else:
        pct = (final - THRESHOLD) / 25 * D("1.05")
    return final, half_up(pct, 2)
