"""Baseline comparison: this run against an earlier JSON report, per suite and scorer.

Pass rates and means are compared over each run's own cases; whether a change is significant
is decided on the cases both runs share (same node id), paired: an exact McNemar test for
pass/fail verdicts, a paired bootstrap of the mean difference for numeric scores. Only a
significant drop is a regression.
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from pytest_genai.report.aggregate import by_scorer, case_status, numeric_values
from pytest_genai.report.repeats import RepeatedCase, decide
from pytest_genai.results import CaseResult, Feedback

ALPHA = 0.05
"""Significance level of both tests."""
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261126
"""A fixed seed: the same two reports always give the same figures."""
MIN_PAIRED = 10
"""Fewest paired numeric scores the bootstrap decides on: with fewer, resampling a handful
of differences that share a sign gives p ~ 0 for any change, however small."""

Status = str  # "passed" | "failed" | "error" | "info"


class ScorerChange(BaseModel):
    """One suite and scorer, before and after."""

    suite: str
    scorer: str
    cases_before: int = 0
    cases_after: int = 0
    """Cases with a verdict or score of this scorer (a repeated case once, whatever its runs)."""
    shared: int = 0
    """Cases of this scorer in both runs (by node id): what the tests are decided on."""
    pass_rate_before: float | None = None
    pass_rate_after: float | None = None
    pass_rate_delta: float | None = None
    passed_to_failed: int = 0
    """Shared cases that passed before and fail (or error) now."""
    failed_to_passed: int = 0
    mcnemar_p: float | None = None
    """Exact two-sided McNemar p-value on the shared cases with a verdict in both runs."""
    mean_before: float | None = None
    mean_after: float | None = None
    mean_delta: float | None = None
    paired: int = 0
    """Shared cases with a numeric score in both runs."""
    better: Literal["higher", "lower"] | None = None
    """Which way the numeric score is better, from its pass rule: `higher` for a minimum
    (`>= 0.8`), `lower` for a maximum (`<= 5 s`); None when the rule does not say (no rule, a
    range, a function). A significant change of a score with no direction is `significant`
    but neither a regression nor an improvement."""
    mean_diff: float | None = None
    """Mean of (after - before) over the paired cases."""
    mean_diff_low: float | None = None
    mean_diff_high: float | None = None
    """95% paired-bootstrap interval of `mean_diff`."""
    bootstrap_p: float | None = None
    significant: bool = False
    regressed: bool = False
    """A significant drop of the pass rate or of the mean."""
    improved: bool = False
    """A significant rise, and no significant drop."""

    def describe(self) -> str:
        """`pass rate 90.0% -> 60.0% (-30.0 pts, McNemar p=0.031, 6 of 20 shared cases now
        fail)`, and the mean likewise."""
        parts = []
        if self.pass_rate_before is not None and self.pass_rate_after is not None:
            p = f", McNemar {_p_is(self.mcnemar_p)}" if self.mcnemar_p is not None else ""
            parts.append(
                f"pass rate {self.pass_rate_before:.1%} -> {self.pass_rate_after:.1%} "
                f"({_points(self.pass_rate_delta)}{p}; {self.passed_to_failed} of "
                f"{self.shared} shared cases passed before and fail now)"
            )
        if self.mean_before is not None and self.mean_after is not None:
            p = f", bootstrap {_p_is(self.bootstrap_p)}" if self.bootstrap_p is not None else ""
            parts.append(
                f"mean {self.mean_before:.4g} -> {self.mean_after:.4g} "
                f"({_signed(self.mean_delta)}{p})"
            )
        return "; ".join(parts) or "no comparable scores"


class CaseChange(BaseModel):
    """A shared case whose verdict of one scorer went from passed to not passed."""

    nodeid: str
    suite: str
    case_id: str
    scorer: str
    before: Status
    after: Status


class BaselineComparison(BaseModel):
    """This run against a baseline report."""

    baseline: str
    """The baseline file as given."""
    baseline_commit: str | None = None
    baseline_started_at: str | None = None
    alpha: float = ALPHA
    scorers: list[ScorerChange] = Field(default_factory=list)
    regressed_cases: list[CaseChange] = Field(default_factory=list)
    new_cases: list[str] = Field(default_factory=list)
    """Node ids in this run and not in the baseline."""
    removed_cases: list[str] = Field(default_factory=list)
    """Node ids in the baseline and not in this run."""

    @property
    def regressions(self) -> list[ScorerChange]:
        return [s for s in self.scorers if s.regressed]


# -- statistics -------------------------------------------------------------------------------


def mcnemar_exact(passed_to_failed: int, failed_to_passed: int) -> float:
    """The exact two-sided McNemar p-value: the discordant pairs against Binomial(n, 1/2).
    With no discordant pair there is no evidence of a change: 1.0."""
    n = passed_to_failed + failed_to_passed
    if n == 0:
        return 1.0
    k = min(passed_to_failed, failed_to_passed)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2**n)


def paired_bootstrap(
    differences: Sequence[float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float, float]:
    """The 95% percentile interval of the mean of `differences` over `resamples` resamples
    with replacement, and the two-sided p-value of "the mean difference is 0": twice the share
    of resampled means on the far side of 0 (the sample itself counted as one of them, so the
    smallest p is 2 / (resamples + 1)), at most 1."""
    n = len(differences)
    if n == 0:
        raise ValueError("the bootstrap needs at least one paired case")
    if all(d == differences[0] for d in differences):  # every resample is the same
        only = differences[0]
        return only, only, 1.0 if only == 0 else min(1.0, 2 / (resamples + 1))
    rng = random.Random(seed)
    pick = rng.choices
    means = sorted(math.fsum(pick(differences, k=n)) / n for _ in range(resamples))
    low = means[int(0.025 * (resamples - 1))]
    high = means[math.ceil(0.975 * (resamples - 1))]
    # counted with the observed sample as one more resample: never an impossible p of 0
    at_or_below = (sum(1 for m in means if m <= 0) + 1) / (resamples + 1)
    at_or_above = (sum(1 for m in means if m >= 0) + 1) / (resamples + 1)
    return low, high, min(1.0, 2 * min(at_or_below, at_or_above))


# -- comparison -------------------------------------------------------------------------------


_AT_MOST = re.compile(r"(?:^|\s)<=?\s*-?\d")
_AT_LEAST = re.compile(r"(?:^|\s)>=?\s*-?\d")


def direction(pass_rule: str | None) -> Literal["higher", "lower"] | None:
    """Which way a score is better by its pass rule's description: `>= 0.8` higher, `<= 5 s`
    or `words <= 30` lower, anything else (`<lambda>`, a range, no rule) unknown."""
    if not pass_rule:
        return None
    at_most, at_least = bool(_AT_MOST.search(pass_rule)), bool(_AT_LEAST.search(pass_rule))
    if at_most != at_least:
        return "lower" if at_most else "higher"
    return None


class _Side:
    """One run's verdicts per (suite, scorer): each case's status and numeric scores, by run
    (as the quality table counts them) and by case (the runs of a repeated case together: the
    unit the tests pair on)."""

    def __init__(self, cases: Iterable[CaseResult], repeated: Iterable[RepeatedCase]) -> None:
        runs = {
            f"{r.suite}[{run}]": (f"{r.suite}[{r.case_id}]", r.case_id, r.rule)
            for r in repeated
            for run in r.runs
        }
        self.nodeids: set[str] = set()
        """The cases (a repeated case once, by its id without the run)."""
        self.status: dict[tuple[str, str], dict[str, Status]] = defaultdict(dict)
        """Per run, for the pass rate."""
        self.values: dict[tuple[str, str], list[float]] = defaultdict(list)
        """Every numeric value, for the mean (as the quality table's)."""
        self.case_status: dict[tuple[str, str], dict[str, Status]] = {}
        self.case_value: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        self.case_ids: dict[str, tuple[str, str]] = {}
        self.directions: dict[tuple[str, str], set[str | None]] = defaultdict(set)
        by_case: dict[tuple[str, str], dict[str, list[Status]]] = defaultdict(dict)
        case_values: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(dict)
        rules: dict[str, str] = {}
        suite_scorers: dict[str, set[str]] = defaultdict(set)
        found_by_case: list[tuple[CaseResult, dict[str, list[Feedback]]]] = []
        for case in cases:
            base, case_id, rule = runs.get(case.nodeid, (case.nodeid, case.case_id, None))
            self.nodeids.add(base)
            self.case_ids[base] = (case.suite, case_id)
            if rule is not None:
                rules[base] = rule
            if case.outcome == "skipped":
                continue
            found = by_scorer(case.feedback)
            suite_scorers[case.suite].update(found)
            found_by_case.append((case, found))
        for case, found in found_by_case:
            base = runs[case.nodeid][0] if case.nodeid in runs else case.nodeid
            for name in suite_scorers[case.suite]:
                key = (case.suite, name)
                mine = found.get(name)
                if mine:
                    status = case_status(mine)
                    self.directions[key].update(direction(f.pass_rule) for f in mine)
                    values = numeric_values(mine)
                    if values:
                        self.values[key].extend(values)
                        case_values[key].setdefault(base, []).extend(values)
                elif case.outcome in ("failed", "error"):
                    status = "error"  # as the quality table counts it
                else:
                    continue
                self.status[key][case.nodeid] = status
                by_case[key].setdefault(base, []).append(status)
        for key, statuses in by_case.items():
            self.case_status[key] = {
                base: _collapse(found, rules.get(base)) for base, found in statuses.items()
            }
        for key, found_values in case_values.items():
            for base, values in found_values.items():
                self.case_value[key][base] = math.fsum(values) / len(values)

    def keys(self) -> set[tuple[str, str]]:
        return set(self.status)

    def pass_rate(self, key: tuple[str, str]) -> float | None:
        judged = [s for s in self.status.get(key, {}).values() if s != "info"]
        return sum(s == "passed" for s in judged) / len(judged) if judged else None

    def mean(self, key: tuple[str, str]) -> float | None:
        values = self.values.get(key)
        return math.fsum(values) / len(values) if values else None


def _collapse(statuses: list[Status], rule: str | None) -> Status:
    """One case's status from its runs' (a case that ran once: its own); a repeated case
    passes by its suite's pass rule over the runs with a verdict."""
    if len(statuses) == 1 and rule is None:
        return statuses[0]
    judged = [s for s in statuses if s != "info"]
    if not judged:
        return "info"
    passed = sum(s == "passed" for s in judged)
    if decide(rule or "all", passed, len(judged)):
        return "passed"
    return "error" if "error" in judged else "failed"


def compare(
    current: Iterable[CaseResult],
    baseline: Iterable[CaseResult],
    *,
    name: str,
    commit: str | None = None,
    started_at: str | None = None,
    alpha: float = ALPHA,
    current_repeated: Iterable[RepeatedCase] = (),
    baseline_repeated: Iterable[RepeatedCase] = (),
) -> BaselineComparison:
    """Compare this run's cases with the baseline's, per suite and scorer (prompt versions
    are not split: a changed prompt is what a comparison is usually for). The runs of a
    repeated case (each run's `RepeatedCase`) are one case to the tests, decided by its pass
    rule over them: its runs are not independent cases."""
    after = _Side(current, current_repeated)
    before = _Side(baseline, baseline_repeated)
    changes: list[ScorerChange] = []
    regressed_cases: list[CaseChange] = []
    for key in sorted(after.keys() | before.keys()):
        change, lost = _compare_one(key, before, after, alpha)
        changes.append(change)
        regressed_cases += lost
    return BaselineComparison(
        baseline=name,
        baseline_commit=commit,
        baseline_started_at=started_at,
        alpha=alpha,
        scorers=changes,
        regressed_cases=regressed_cases,
        new_cases=sorted(after.nodeids - before.nodeids),
        removed_cases=sorted(before.nodeids - after.nodeids),
    )


def _compare_one(
    key: tuple[str, str], before: _Side, after: _Side, alpha: float
) -> tuple[ScorerChange, list[CaseChange]]:
    suite, scorer = key
    old, new = before.case_status.get(key, {}), after.case_status.get(key, {})
    shared = sorted(old.keys() & new.keys())
    change = ScorerChange(
        suite=suite,
        scorer=scorer,
        cases_before=len(old),
        cases_after=len(new),
        shared=len(shared),
        pass_rate_before=_round(before.pass_rate(key)),
        pass_rate_after=_round(after.pass_rate(key)),
        mean_before=_round(before.mean(key)),
        mean_after=_round(after.mean(key)),
    )
    if change.pass_rate_before is not None and change.pass_rate_after is not None:
        change.pass_rate_delta = _round(change.pass_rate_after - change.pass_rate_before)
    if change.mean_before is not None and change.mean_after is not None:
        change.mean_delta = _round(change.mean_after - change.mean_before)

    lost: list[CaseChange] = []
    moved = False
    verdicts = [(n, old[n], new[n]) for n in shared if old[n] != "info" and new[n] != "info"]
    drop = rise = False
    if verdicts:
        for nodeid, was, now in verdicts:
            if was == "passed" and now != "passed":
                change.passed_to_failed += 1
                case_suite, case_id = after.case_ids[nodeid]
                lost.append(
                    CaseChange(
                        nodeid=nodeid,
                        suite=case_suite,
                        case_id=case_id,
                        scorer=scorer,
                        before=was,
                        after=now,
                    )
                )
            elif was != "passed" and now == "passed":
                change.failed_to_passed += 1
        change.mcnemar_p = _round(mcnemar_exact(change.passed_to_failed, change.failed_to_passed))
        if change.mcnemar_p < alpha:
            drop = change.passed_to_failed > change.failed_to_passed
            rise = not drop

    old_values, new_values = before.case_value.get(key, {}), after.case_value.get(key, {})
    paired = sorted(old_values.keys() & new_values.keys())
    change.paired = len(paired)
    said = {d for d in before.directions[key] | after.directions[key] if d is not None}
    if len(said) == 1:
        change.better = "lower" if "lower" in said else "higher"
    if paired:
        differences = [new_values[n] - old_values[n] for n in paired]
        change.mean_diff = _round(math.fsum(differences) / len(differences))
    if len(paired) >= MIN_PAIRED:
        low, high, p = paired_bootstrap(differences)
        change.mean_diff_low, change.mean_diff_high = _round(low), _round(high)
        change.bootstrap_p = _round(p)
        if p < alpha and change.mean_diff:
            moved = True
            if change.better is not None:
                worse = (change.mean_diff > 0) == (change.better == "lower")
                drop = drop or worse
                rise = rise or not worse
    change.regressed = drop
    change.improved = rise and not drop
    change.significant = drop or rise or moved
    return change, lost


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _p(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "<0.001" if value < 0.001 else f"{value:.3g}"


def _p_is(value: float) -> str:
    shown = _p(value)
    return f"p{shown}" if shown.startswith("<") else f"p={shown}"


def _points(delta: float | None) -> str:
    if delta is None:
        return "n/a"
    return f"{delta * 100:+.1f} pts"


def _signed(delta: float | None) -> str:
    return "n/a" if delta is None else f"{delta:+.4g}"
