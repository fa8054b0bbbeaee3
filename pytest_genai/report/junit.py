"""Scores in pytest's own JUnit XML: per-testcase properties and suite-level summary properties."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_genai.report.aggregate import JudgeUsage, ScorerSummary, Totals
from pytest_genai.results import CaseResult, truncate_text

RATIONALE_CHARS = 1000


def case_properties(case: CaseResult) -> list[tuple[str, str]]:
    """`genai.<scorer>.value|passed|rationale|error` for one testcase, plus its outcome."""
    props: list[tuple[str, str]] = [("genai.outcome", case.outcome)]
    for f in case.feedback:
        prefix = f"genai.{f.name}"
        if f.error is not None:
            props.append((f"{prefix}.error", truncate_text(str(f.error), RATIONALE_CHARS)))
            continue
        props.append((f"{prefix}.value", "" if f.value is None else str(f.value)))
        if f.cost is not None:
            props.append((f"{prefix}.cost", f"{f.cost:.6g}"))
        if f.input_tokens is not None or f.output_tokens is not None:
            tokens = (f.input_tokens or 0) + (f.output_tokens or 0)
            props.append((f"{prefix}.tokens", str(tokens)))
        if f.passed is not None:
            props.append((f"{prefix}.passed", str(f.passed).lower()))
        if f.rationale:
            props.append((f"{prefix}.rationale", truncate_text(f.rationale, RATIONALE_CHARS)))
    return props


def suite_properties(summaries: Sequence[ScorerSummary], totals: Totals) -> list[tuple[str, str]]:
    """Run-level properties: totals, then per suite and scorer counts, pass rate and statistics."""
    props = [
        ("genai.cases", str(totals.cases)),
        ("genai.passed", str(totals.passed)),
        ("genai.failed", str(totals.failed)),
        ("genai.errors", str(totals.errors)),
        ("genai.skipped", str(totals.skipped)),
        *_usage("genai", totals),
    ]
    for s in summaries:
        prefix = f"genai.{s.suite}.{s.scorer}"
        if s.prompts:  # rows split by prompt versions: `genai.<suite>[greeting v3].<scorer>`
            prefix = f"genai.{s.suite}[{s.prompts}].{s.scorer}"
        props += [
            (f"{prefix}.cases", str(s.cases)),
            (f"{prefix}.passed", str(s.passed)),
            (f"{prefix}.failed", str(s.failed)),
            (f"{prefix}.errors", str(s.errors)),
            (f"{prefix}.skipped", str(s.skipped)),
        ]
        if s.pass_rate is not None:
            props += [
                (f"{prefix}.pass_rate", f"{s.pass_rate:.6g}"),
                (f"{prefix}.ci_low", f"{s.ci_low:.6g}"),
                (f"{prefix}.ci_high", f"{s.ci_high:.6g}"),
            ]
        props += [(f"{prefix}.{k}", f"{v:.6g}") for k, v in s.stats.items()]
        props += _usage(prefix, s)
    return props


def _usage(prefix: str, usage: JudgeUsage) -> list[tuple[str, str]]:
    if not usage.judge_calls:
        return []
    props = [
        (f"{prefix}.judge_calls", str(usage.judge_calls)),
        (f"{prefix}.judge_errors", str(usage.judge_errors)),
        (f"{prefix}.tokens", str(usage.tokens)),
    ]
    if usage.cost is not None:
        props.append((f"{prefix}.cost", f"{usage.cost:.6g}"))
    return props
