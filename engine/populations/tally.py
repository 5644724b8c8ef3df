"""An impact study's running figures, added a column of records at a time and merged a part at a time.

A study of a million records is tallied where its records are scored — in each worker process, a
chunk at a time — and the parts are merged: the parent only adds them up. So every figure is one
that parts can make: counts, and sums kept exact (no rounding, whatever the order they are added
in: `EXACT`), rounded once when the study is written (`STUDY`). The final scores are kept as counts
by their digits, which is all a median, a mean and the histogram need. The same records give the
same study, digit for digit, in one process or in any number of workers.

Records come as columns (each figure's values, record by record): counting and summing a column
runs in C (`Counter`, `sum` in the exact context), not a Python step per record. One record is a
column of one.
"""

from __future__ import annotations

import bisect
import decimal
import operator
from collections import Counter
from decimal import Decimal
from typing import Any

EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN,
                        traps=[decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero])
"""Sums and products of the tally: exact (addition and multiplication of finite numbers never round
at this precision), so a sum is the same in any order."""

STUDY = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN,
                        traps=[decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero])
"""Where a study's figures are rounded and divided: 28 digits, half even (Python's own default,
named here so that nothing outside the rules folder changes a study)."""

HISTOGRAM_WIDTH = 10  # final-score bins of 10 points
BIN_LABELS = [f"{b}-{b + HISTOGRAM_WIDTH}" for b in range(0, 100, HISTOGRAM_WIDTH)]
MAX_ERRORS = 20  # the errors a study lists: the first in sorted order of the distinct ones
MAX_COMBINATIONS = 10_000  # combinations of groups whose counts are kept apart until the part is done

_ZERO = Decimal(0)
_add, _mul = EXACT.add, EXACT.multiply


def number(v: Any) -> Decimal:
    """`Decimal(v)`: a Decimal as it is (the same number, digit for digit)."""
    return v if type(v) is Decimal else Decimal(v)


def sign(adjustment: Any) -> int:
    """The adjustment's sign (a penalty is below 0): what "turned negative" means, whatever the year calls it."""
    if adjustment is None:
        return 0
    a = number(adjustment)
    return (a > 0) - (a < 0)


def mean_of(total: Decimal, n: int) -> Decimal | None:
    """A mean to the hundredth."""
    return STUDY.divide(total, n).quantize(Decimal("0.01"), context=STUDY) if n else None


def keep_error(kept: list[str], error: str, limit: int = MAX_ERRORS) -> None:
    """`sorted(set(errors))[:limit]`, kept as the errors come (and as parts merge)."""
    i = bisect.bisect_left(kept, error)
    if i < len(kept) and kept[i] == error:
        return
    if i < limit:
        kept.insert(i, error)
        del kept[limit:]


def exact_sum(values: Any, start: Decimal = Decimal(0)) -> Decimal:
    """Σ values (numbers), exact."""
    with decimal.localcontext(EXACT):
        return sum(values, start)


def median_of(counts: dict[str, int]) -> Decimal | None:
    """The median of the numbers counted by their text, as `statistics.median` gives it of the list
    (the mean of the middle two of an even count); equal numbers of other digits in order of their
    digits, so that the same numbers always give the same text."""
    n = sum(counts.values())
    if not n:
        return None
    ordered = sorted(((Decimal(k), k) for k in counts), key=lambda e: (e[0], e[0].as_tuple().exponent, e[1]))
    middle = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
    found: list[Decimal] = []
    seen = 0
    for value, text in ordered:
        seen += counts[text]
        while middle and middle[0] < seen:
            found.append(value)
            middle.pop(0)
        if not middle:
            break
    return found[0] if len(found) == 1 else STUDY.divide(STUDY.add(found[0], found[1]), 2)


class Budget:
    """One side's running totals for the scaling factor: adjustments weighted by each record's
    budget weight (allowed charges), and unweighted (used when no record has a weight). Exact."""

    __slots__ = ("scored", "weighted", "negative_weighted", "positive_weighted", "negative", "positive")

    def __init__(self) -> None:
        self.scored = self.weighted = 0
        self.negative_weighted = self.positive_weighted = self.negative = self.positive = _ZERO

    def add(self, negative: list[Decimal], positive: list[Decimal], weight: list[Decimal | None]) -> None:
        """Records' negative and positive sides (numbers) and their weights (None: no weight)."""
        self.scored += len(negative)
        self.negative = exact_sum(negative, self.negative)
        self.positive = exact_sum(positive, self.positive)
        if None in weight:
            kept = [i for i, w in enumerate(weight) if w is not None]
            negative, positive, weight = [negative[i] for i in kept], [positive[i] for i in kept], [weight[i] for i in kept]
        self.weighted += len(weight)
        with decimal.localcontext(EXACT):
            self.negative_weighted = sum(map(operator.mul, negative, weight), self.negative_weighted)
            self.positive_weighted = sum(map(operator.mul, positive, weight), self.positive_weighted)

    def merge(self, other: "Budget") -> None:
        self.scored += other.scored
        self.weighted += other.weighted
        for name in ("negative_weighted", "positive_weighted", "negative", "positive"):
            setattr(self, name, _add(getattr(self, name), getattr(other, name)))


Columns = tuple[list[Any], list[Any], list[Any], list[Decimal], list[Decimal], list[Any]]
"""One side's figures of some records, a list each: final scores, adjustments, directions, the
budget's negative and positive sides (numbers), weights (a number or None)."""


class Side:
    """One side's running figures: the final scores counted by their digits (the median, the mean
    and the histogram come from the counts), the adjustments' sum, directions, and the budget."""

    __slots__ = ("finals", "adjustments", "adjustment_total", "directions", "budget")

    def __init__(self) -> None:
        self.finals: Counter[str] = Counter()
        self.adjustments = 0
        self.adjustment_total = _ZERO
        self.directions: Counter[str] = Counter()
        self.budget = Budget()

    def add(self, final: list[Any], adjustment: list[Any], direction: list[Any], negative: list[Decimal],
            positive: list[Decimal], weight: list[Any]) -> None:
        """Records scored on this side (`Columns`; a record that has an error is not added)."""
        self.budget.add(negative, positive, weight)
        if None in final:  # (a record without a final score: in the budget only)
            kept = [i for i, f in enumerate(final) if f is not None]
            final, adjustment, direction = [final[i] for i in kept], [adjustment[i] for i in kept], \
                [direction[i] for i in kept]
        self.finals.update(map(str, map(number, final)))
        adjustments = [number(a) for a in adjustment if a is not None]
        self.adjustments += len(adjustments)
        self.adjustment_total = exact_sum(adjustments, self.adjustment_total)
        self.directions.update(map(str, direction))

    def merge(self, other: "Side") -> None:
        self.finals.update(other.finals)
        self.adjustments += other.adjustments
        self.adjustment_total = _add(self.adjustment_total, other.adjustment_total)
        self.directions.update(other.directions)
        self.budget.merge(other.budget)

    def figures(self) -> dict[str, Any]:
        scored = sum(self.finals.values())
        bins = [0] * len(BIN_LABELS)
        total = _ZERO
        for text, n in self.finals.items():
            f = Decimal(text)
            total = _add(total, _mul(f, n))
            bins[max(0, min(int(f // HISTOGRAM_WIDTH), len(BIN_LABELS) - 1))] += n
        return {"scored": scored,
                "mean_final_score": mean_of(total, scored),
                "median_final_score": median_of(self.finals),
                "mean_adjustment": mean_of(self.adjustment_total, self.adjustments),
                "directions": dict(sorted(self.directions.items())),
                "final_scores": dict(zip(BIN_LABELS, bins))}


_GROUP_COUNTS = ("records", "negative_before", "negative_after", "turned_negative", "turned_positive")


def _columns_of(o: Any) -> Columns:
    """An outcome's figures as columns of one."""
    return [o.final_score], [o.adjustment], [o.direction], [o.negative], [o.positive], [o.weight]


class Tally:
    """A study's running figures over the records added (`add`, `add_scored`) and the parts merged
    (`merge`)."""

    def __init__(self) -> None:
        self.before, self.after = Side(), Side()
        self.records = self.scored_both = 0
        self.changed = self.up = self.down = self.turned_negative = self.turned_positive = 0
        self.change_total = _ZERO
        self.transitions: Counter[str] = Counter()
        self.errors: list[str] = []
        # each breakdown's path → its value → [the five counts of _GROUP_COUNTS, Σ final before, Σ after]
        self.groups: dict[str, dict[Any, list[Any]]] = {}
        # A record's groups → [their tallies, and the counts of its records]: a population has few
        # combinations; their counts go to each group's tally when the part is done (`settled`).
        self._in_groups: dict[tuple[Any, ...], list[Any]] = {}

    def add(self, b: Any, a: Any) -> None:
        """A record's outcomes before and after (`impact.Outcome`)."""
        if b.error is None and a.error is None:
            self.add_scored(_columns_of(b), _columns_of(a), [tuple(a.groups.items())])
            return
        self.records += 1
        for o, side in ((b, self.before), (a, self.after)):
            if o.error is None:
                side.add(*_columns_of(o))
            else:
                keep_error(self.errors, o.error)

    def add_scored(self, b: Columns, a: Columns, combinations: list[tuple[tuple[str, Any], ...]]) -> None:
        """Records both years scored: their figures before and after (`Columns`) and each one's
        groups after (a tuple of items)."""
        self.records += len(combinations)
        self.scored_both += len(combinations)
        self.before.add(*b)
        self.after.add(*a)
        changed = [(x, y) for x, y in zip(b[0], a[0]) if y != x]
        if changed:
            self.changed += len(changed)
            with decimal.localcontext(EXACT):
                self.change_total = sum([number(y) - number(x) for x, y in changed], self.change_total)
            self.up += sum([y > x for x, y in changed])
            self.down += sum([y < x for x, y in changed])
        moved = [f"{x} → {y}" for x, y in zip(b[2], a[2]) if y != x]
        if moved:
            self.transitions.update(moved)
        sign_b, sign_a = list(map(sign, b[1])), list(map(sign, a[1]))
        negative_b = [s < 0 for s in sign_b]
        negative_a = [s < 0 for s in sign_a]
        became_negative = [not x and y for x, y in zip(negative_b, negative_a)]
        became_positive = [x <= 0 < y for x, y in zip(sign_b, sign_a)]
        self.turned_negative += sum(became_negative)
        self.turned_positive += sum(became_positive)
        rows = range(len(combinations))
        if len(set(combinations)) > 1:
            by_combination: dict[Any, list[int]] = {}
            for i, c in enumerate(combinations):
                by_combination.setdefault(c, []).append(i)
        else:
            by_combination = {combinations[0]: rows} if combinations else {}
        for combination, at in by_combination.items():
            counts = self._in_groups.get(combination)
            if counts is None:
                counts = [[self._group(path, value) for path, value in combination], 0, 0, 0, 0, 0, _ZERO, _ZERO]
                if len(self._in_groups) < MAX_COMBINATIONS:
                    self._in_groups[combination] = counts
            counts[1] += len(at)
            counts[2] += sum([negative_b[i] for i in at])
            counts[3] += sum([negative_a[i] for i in at])
            counts[4] += sum([became_negative[i] for i in at])
            counts[5] += sum([became_positive[i] for i in at])
            counts[6] = exact_sum([number(b[0][i]) for i in at], counts[6])
            counts[7] = exact_sum([number(a[0][i]) for i in at], counts[7])
            if combination not in self._in_groups:  # past so many combinations: to its groups at once
                _count_groups(counts)

    def _group(self, path: str, value: Any) -> list[Any]:
        """The running tally of one group (a value of one breakdown), made on its first record."""
        by_value = self.groups.setdefault(path, {})
        g = by_value.get(value)
        if g is None:
            g = by_value[value] = [0, 0, 0, 0, 0, _ZERO, _ZERO]
        return g

    def settled(self) -> "Tally":
        """This part with its combinations' counts added to their groups (what a worker sends)."""
        for counts in self._in_groups.values():
            _count_groups(counts)
        self._in_groups = {}
        return self

    def merge(self, other: "Tally") -> None:
        """Add a later part (settled) to this one: merged in the records' order, the groups appear
        in the order of their first records, as when added one by one."""
        self.before.merge(other.before)
        self.after.merge(other.after)
        self.records += other.records
        self.scored_both += other.scored_both
        self.changed += other.changed
        self.up += other.up
        self.down += other.down
        self.turned_negative += other.turned_negative
        self.turned_positive += other.turned_positive
        self.change_total = _add(self.change_total, other.change_total)
        self.transitions.update(other.transitions)
        for error in other.errors:
            keep_error(self.errors, error)
        for path, by_value in other.groups.items():
            for value, g in by_value.items():
                mine = self._group(path, value)
                mine[:5] = [x + y for x, y in zip(mine[:5], g[:5])]
                mine[5], mine[6] = _add(mine[5], g[5]), _add(mine[6], g[6])

    def movers(self) -> dict[str, Any]:
        return {"final_score_changed": self.changed, "up": self.up, "down": self.down,
                "turned_negative": self.turned_negative, "turned_positive": self.turned_positive,
                "mean_change": mean_of(self.change_total, self.changed),
                "direction_changes": dict(sorted(self.transitions.items()))}

    def group_figures(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for path, by_value in self.groups.items():
            figures = {}
            for value, g in sorted(by_value.items()):
                figures[value] = {**dict(zip(_GROUP_COUNTS, g[:5])),
                                  "mean_final_score_before": mean_of(g[5], g[0]),
                                  "mean_final_score_after": mean_of(g[6], g[0])}
            out[path] = figures
        return out


def _count_groups(counts: list[Any]) -> None:
    """Add the counts and sums of the records of one combination of groups to each of its groups."""
    tallies, *added = counts
    for g in tallies:
        for i in range(5):
            g[i] += added[i]
        g[5], g[6] = _add(g[5], added[5]), _add(g[6], added[6])
