"""Aggregation: per suite and scorer, how many cases passed, failed, errored, and the statistics."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

from pytest_genai.errors import JUDGE_ERROR_TYPES
from pytest_genai.results import AssessmentSourceType, CaseResult, Feedback

NO_SCORER = "(no score)"
"""The scorer column for cases of a suite that produced no score at all (e.g. setup errors)."""

DEFAULT_AGGREGATIONS = ("mean", "min")

CaseStatus = Literal["passed", "failed", "error", "info"]


class JudgeUsage(BaseModel):
    """What LLM judges cost: verdicts asked of a model, judge errors (whether or not a model
    was asked), tokens and price (where known)."""

    judge_calls: int = 0
    judge_errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    unpriced_calls: int = 0
    cached: int = 0
    """Verdicts answered from the judge cache (no call made)."""
    cost_saved: float = 0.0
    """What the cached verdicts cost when they were first asked."""
    not_judged: int = 0
    """Judge calls the spend limits did not allow."""
    replay_misses: int = 0
    """Questions `--genai-cache=replay` found no cached verdict for."""

    def add(self, feedback: Feedback) -> None:
        if feedback.source.source_type is not AssessmentSourceType.LLM_JUDGE:
            return
        metadata = feedback.metadata
        if metadata.get("cached"):
            self.cached += 1
            saved = metadata.get("cost_saved")
            if isinstance(saved, (int, float)):
                self.cost_saved = round(self.cost_saved + saved, 10)
            return
        error_type = feedback.error.error_type if feedback.error is not None else None
        self.judge_errors += error_type in JUDGE_ERROR_TYPES
        self.not_judged += error_type == "BudgetExhausted"
        self.replay_misses += error_type == "ReplayMiss"
        if feedback.error is not None and not metadata.get("requests"):
            return  # stopped before asking (no credentials, a missing expectation): no call
        self.judge_calls += 1
        self.input_tokens += feedback.input_tokens or 0
        self.output_tokens += feedback.output_tokens or 0
        if feedback.cost is not None:
            self.cost = round((self.cost or 0.0) + feedback.cost, 10)
        elif feedback.input_tokens is not None or feedback.output_tokens is not None:
            self.unpriced_calls += 1  # answered, by a model litellm has no price for

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class ScorerSummary(JudgeUsage):
    """One row of the quality summary: one scorer over the cases of one suite."""

    suite: str
    scorer: str
    prompts: str | None = None
    """The prompt versions this row's cases used (`greeting v3`): rows are split by it, so
    two versions evaluated in one run are compared side by side."""
    cases: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    info: int = 0
    pass_rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    stats: dict[str, float] = Field(default_factory=dict)
    aggregations: list[str] = Field(default_factory=lambda: list(DEFAULT_AGGREGATIONS))


def wilson_interval(
    successes: int, total: int, z: float = 1.959963984540054
) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion (95% by default)."""
    if total <= 0:
        raise ValueError("the Wilson interval needs at least one trial")
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    margin = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - margin), min(1.0, centre + margin)


def _quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def statistics(values: list[float], names: Iterable[str]) -> dict[str, float]:
    """The named statistics of `values` (mean, min, max, median, p90, variance)."""
    if not values:
        return {}
    ordered = sorted(values)
    mean = math.fsum(ordered) / len(ordered)
    available = {
        "mean": lambda: mean,
        "min": lambda: ordered[0],
        "max": lambda: ordered[-1],
        "median": lambda: _quantile(ordered, 0.5),
        "p90": lambda: _quantile(ordered, 0.9),
        "variance": lambda: math.fsum((v - mean) ** 2 for v in ordered) / len(ordered),
    }
    return {name: round(available[name](), 6) for name in names if name in available}


def case_status(feedback: list[Feedback]) -> CaseStatus:
    """One case's status for one scorer: any error wins, then any failure."""
    statuses = {f.status for f in feedback}
    for status in ("error", "failed", "passed"):
        if status in statuses:
            return status  # type: ignore[return-value]
    return "info"


def numeric_values(feedback: list[Feedback]) -> list[float]:
    """The numeric values (not booleans; NaN and infinities are no value to average)."""
    return [
        float(f.value)
        for f in feedback
        if f.error is None
        and isinstance(f.value, (int, float))
        and not isinstance(f.value, bool)
        and math.isfinite(f.value)
    ]


def aggregate(cases: Iterable[CaseResult]) -> list[ScorerSummary]:
    """Summaries per suite, prompt versions and scorer, sorted in that order.

    A skipped case counts as skipped for every scorer of its suite. A case that produced no score
    for a scorer its suite uses counts as an error when the case failed or errored: nothing is
    hidden from the pass rate.
    """
    by_suite: dict[tuple[str, str], list[CaseResult]] = defaultdict(list)
    for case in cases:
        by_suite[(case.suite, prompt_label(case))].append(case)
    merge_unsplit(by_suite)

    summaries: list[ScorerSummary] = []
    for suite, prompts in sorted(by_suite, key=_natural):
        suite_cases = by_suite[(suite, prompts)]
        per_case = [by_scorer(case.feedback) for case in suite_cases]
        names = sorted({name for found in per_case for name in found}) or [NO_SCORER]
        for name in names:
            counts = dict.fromkeys(("passed", "failed", "error", "skipped", "info"), 0)
            values: list[float] = []
            aggregations = list(DEFAULT_AGGREGATIONS)
            usage = JudgeUsage()
            for case, found in zip(suite_cases, per_case, strict=True):
                mine = found.get(name)
                for f in mine or ():
                    usage.add(f)
                if case.outcome == "skipped":
                    counts["skipped"] += 1  # whatever it recorded before skipping
                elif mine:
                    counts[case_status(mine)] += 1
                    values.extend(numeric_values(mine))
                    aggregations = next(
                        (list(f.aggregations) for f in mine if f.aggregations), aggregations
                    )
                elif case.outcome in ("failed", "error"):
                    counts["error"] += 1
                # else: this case passed without using this scorer
            judged = counts["passed"] + counts["failed"] + counts["error"]
            rate = low = high = None
            if judged:
                rate = round(counts["passed"] / judged, 6)
                low, high = (round(x, 6) for x in wilson_interval(counts["passed"], judged))
            # built from counts computed here: nothing for pydantic to validate
            summaries.append(
                ScorerSummary.model_construct(
                    suite=suite,
                    scorer=name,
                    prompts=prompts or None,
                    cases=sum(counts.values()),
                    passed=counts["passed"],
                    failed=counts["failed"],
                    errors=counts["error"],
                    skipped=counts["skipped"],
                    info=counts["info"],
                    pass_rate=rate,
                    ci_low=low,
                    ci_high=high,
                    stats=statistics(values, aggregations),
                    aggregations=aggregations,
                    **usage.model_dump(),
                )
            )
    return summaries


def merge_unsplit(groups: dict[tuple[str, str], list[CaseResult]]) -> None:
    """Rows are split by prompt versions only where a suite's cases used different ones: a
    suite whose cases used one version (some through a shared fixture, recorded on the test
    that ran first) stays one row, labelled with it."""
    labels: dict[str, set[str]] = defaultdict(set)
    for suite, label in groups:
        labels[suite].add(label)
    for suite, found in labels.items():
        named = found - {""}
        if len(named) == 1 and "" in found:
            label = named.pop()
            groups[(suite, label)].extend(groups.pop((suite, "")))


def _natural(key: tuple[str, str]) -> tuple[object, ...]:
    """Suite, then prompt versions in number order (`v2` before `v10`)."""
    suite, prompts = key
    return (suite, natural_key(prompts))


def natural_key(text: str) -> list[object]:
    """A sort key with the numbers in number order: `greeting v2` before `greeting v10`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def prompt_label(case: CaseResult) -> str:
    """The prompt versions a case used, as one sortable text (`chat v1, greeting v3`)."""
    if not case.prompts:
        return ""
    labels = dict.fromkeys(
        f"{p.name} v{p.version}" for p in sorted(case.prompts, key=lambda p: (p.name, p.version))
    )
    return ", ".join(labels)


def by_scorer(feedback: list[Feedback]) -> dict[str, list[Feedback]]:
    """A case's feedback grouped by scorer name, in order of first appearance."""
    grouped: dict[str, list[Feedback]] = {}
    for f in feedback:
        grouped.setdefault(f.name, []).append(f)
    return grouped


class Totals(JudgeUsage):
    """Case outcomes over the whole run (each case once, whatever its number of scorers),
    and what the judges cost."""

    cases: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    feedback: int = 0


def totals(cases: Iterable[CaseResult]) -> Totals:
    result = Totals()
    for case in cases:
        result.cases += 1
        result.feedback += len(case.feedback)
        for f in case.feedback:
            result.add(f)
        if case.outcome == "passed":
            result.passed += 1
        elif case.outcome == "failed":
            result.failed += 1
        elif case.outcome == "error":
            result.errors += 1
        else:
            result.skipped += 1
    return result
