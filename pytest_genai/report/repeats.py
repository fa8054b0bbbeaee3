"""Repeated cases: each case run N times, and a pass rule that decides the case over its runs.

Runs of a repeated case do not fail on their own scores. Once every run has reported (on the
controller), each case gets a verdict by its rule (`all`, `any` for pass@k, `majority`,
`rate>=x`), reported as a test of its own with the case's plain id; cases whose runs disagree
are flaky and listed with their runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel

from pytest_genai.results import CaseResult

RULES = ("all", "any", "majority")
_RATE = re.compile(r"rate\s*>=\s*(0(?:\.\d+)?|1(?:\.0+)?)")
REPEAT_SUFFIX = re.compile(r"-r(\d+)$")


def check_rule(rule: str) -> str:
    """The rule as given, or ValueError naming the rules there are."""
    if rule in RULES or _RATE.fullmatch(rule.strip()):
        return rule.strip()
    raise ValueError(
        f"pass_rule={rule!r}: use 'all', 'any' (pass@k), 'majority' or 'rate>=x' with x "
        "between 0 and 1"
    )


def decide(rule: str, passed: int, runs: int) -> bool:
    """Whether a case with `passed` of `runs` passing runs passes by `rule`."""
    if runs == 0:
        return False
    if rule == "all":
        return passed == runs
    if rule == "any":
        return passed > 0
    if rule == "majority":
        return passed * 2 > runs
    match = _RATE.fullmatch(rule)
    if match is None:
        raise ValueError(f"unknown pass rule {rule!r}")
    return passed / runs >= float(match.group(1))


def run_passed(case: CaseResult) -> bool:
    """A run passes when it ran to the end and every verdict of it passed."""
    if case.outcome in ("failed", "error"):
        return False
    return all(f.error is None and f.passed is not False for f in case.feedback)


class RepeatedCase(BaseModel):
    """One case over its runs."""

    suite: str
    case_id: str
    rule: str
    runs: list[str]
    """The run ids, in order (`paris-r1`, ...)."""
    run_passed: list[bool]
    passed: bool

    @property
    def passed_runs(self) -> int:
        return sum(self.run_passed)

    @property
    def flaky(self) -> bool:
        return 0 < self.passed_runs < len(self.runs)

    @property
    def nodeid(self) -> str:
        return f"{self.suite}[{self.case_id}]"

    def describe(self) -> str:
        """`2 of 3 runs passed (pass rule 'any'): r1 passed, r2 failed, r3 passed`"""
        runs = ", ".join(
            f"{_run_label(run)} {'passed' if ok else 'failed'}"
            for run, ok in zip(self.runs, self.run_passed, strict=True)
        )
        return (
            f"{self.passed_runs} of {len(self.runs)} runs passed (pass rule {self.rule!r}): {runs}"
        )


_RUN_NUMBER = re.compile(r"-r(\d+)(?=-|$)")
"""A run's `-rN` in its id: at the end, or before other parameters (`paris-r1-bad`)."""


def _run_label(run_id: str) -> str:
    match = _RUN_NUMBER.search(run_id)
    return f"r{match.group(1)}" if match is not None else run_id


def run_number(run_id: str, case_id: str, default: int) -> int:
    """The N of the `-rN` whose removal leaves the case id (`item-r2-x-r10` of `item-r2-x`)."""
    for match in _RUN_NUMBER.finditer(run_id):
        if run_id[: match.start()] + run_id[match.end() :] == case_id:
            return int(match.group(1))
    return default


def decide_cases(
    rules: dict[str, str], runs: dict[str, tuple[str, int]], cases: Iterable[CaseResult]
) -> list[RepeatedCase]:
    """Every repeated case, in id order: `rules` maps a suite to its pass rule, `runs` a run's
    node id to its case and number (a run that crashed before reporting them is matched by its
    `-rN` suffix)."""
    grouped: dict[tuple[str, str], list[tuple[int, CaseResult]]] = {}
    for case in cases:
        if case.suite not in rules or case.outcome == "skipped":
            continue
        known = runs.get(case.nodeid)
        if known is None:
            match = REPEAT_SUFFIX.search(case.case_id)
            if match is None:
                continue
            known = (case.case_id[: match.start()], int(match.group(1)))
        grouped.setdefault((case.suite, known[0]), []).append((known[1], case))
    decided = []
    for (suite, base), numbered in sorted(grouped.items()):
        numbered.sort(key=lambda pair: pair[0])
        outcomes = [run_passed(c) for _, c in numbered]
        rule = rules[suite]
        decided.append(
            RepeatedCase(
                suite=suite,
                case_id=base,
                rule=rule,
                runs=[c.case_id for _, c in numbered],
                run_passed=outcomes,
                passed=decide(rule, sum(outcomes), len(outcomes)),
            )
        )
    return decided
