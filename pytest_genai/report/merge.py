"""Merging shard reports: the JSON reports of one suite split over several CI machines become
the report one run would have written (aggregates recomputed, gates and repeated cases decided
again over all the cases)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pytest_genai.report.aggregate import aggregate, totals
from pytest_genai.report.gates import Gate, GateSpec, measure
from pytest_genai.report.json_report import (
    Report,
    ReportFileError,
    RunInfo,
    load_report,
    paused_collection,
    read_report_json,
)
from pytest_genai.report.repeats import RepeatedCase, decide_cases, run_number
from pytest_genai.results import CaseResult

SHOWN_OVERLAPS = 5


class MergeError(ValueError):
    """Reports that can't be merged; the message names the files and what is wrong."""


def load_shards(paths: Sequence[Path]) -> list[tuple[str, Report]]:
    """Read every shard report, refusing a mix of schema versions before anything else."""
    if not paths:
        raise MergeError("give at least one report to merge")
    raw: list[tuple[Path, dict[str, Any]]] = []
    with paused_collection():
        for path in paths:
            raw.append((path, _raw_report(path)))
    versions = {str(path): data["schema_version"] for path, data in raw}
    if len(set(map(repr, versions.values()))) > 1:
        listed = ", ".join(f"{name} has version {v!r}" for name, v in versions.items())
        raise MergeError(
            f"reports of different schema versions can't be merged ({listed}): write them with "
            "the same pytest-genai version"
        )
    try:
        return [(str(path), load_report(path, data)) for path, data in raw]
    except ReportFileError as exc:
        raise MergeError(str(exc)) from None


def _raw_report(path: Path) -> dict[str, Any]:
    """The file's JSON, any schema version (compared across the shards before anything else)."""
    try:
        return read_report_json(path)
    except ReportFileError as exc:
        raise MergeError(str(exc)) from None


def merge(shards: Sequence[tuple[str, Report]]) -> Report:
    """One report from the shards' reports (name, report): every case once, aggregates,
    gates and repeated cases computed over all of them. Overlapping cases are an error."""
    owner: dict[str, str] = {}
    overlaps: list[str] = []
    cases: list[CaseResult] = []
    for name, report in shards:
        for case in report.cases:
            first = owner.get(case.nodeid)
            if first is not None:
                overlaps.append(f"{case.nodeid} (in {first} and {name})")
            else:
                owner[case.nodeid] = name
                cases.append(case)
    # a test that failed before any score, in a suite another shard scored: a case of it
    scored = {c.suite for c in cases}
    unscored: list[CaseResult] = []
    for name, report in shards:
        for case in report.unscored:
            if case.suite not in scored:
                unscored.append(case)
            elif case.nodeid in owner:
                overlaps.append(f"{case.nodeid} (in {owner[case.nodeid]} and {name})")
            else:
                owner[case.nodeid] = name
                cases.append(case)
    if overlaps:
        shown = "; ".join(overlaps[:SHOWN_OVERLAPS])
        more = (
            f"; and {len(overlaps) - SHOWN_OVERLAPS} more" if len(overlaps) > SHOWN_OVERLAPS else ""
        )
        raise MergeError(
            f"{len(overlaps)} case(s) are in more than one report: {shown}{more}. Shards must "
            "run disjoint tests (merging a report with itself counts every case twice)"
        )
    cases.sort(key=lambda c: c.nodeid)
    gates = _gates(shards, cases)
    repeated = _repeated(shards, cases)
    unscored.sort(key=lambda c: c.nodeid)
    return Report(
        run=_run_info(shards, cases, gates, repeated, unscored),
        totals=totals(cases),
        summaries=aggregate(cases),
        gates=gates,
        repeated_cases=repeated,
        cases=cases,
        unscored=unscored,
    )


def _gates(shards: Sequence[tuple[str, Report]], cases: list[CaseResult]) -> list[Gate]:
    """Every gate any shard measured, measured again over all the cases (a shard that ran no
    case of a gated suite has no gate for it)."""
    specs: dict[str, dict[str, GateSpec]] = {}
    for _, report in shards:
        for gate in report.gates:
            spec = GateSpec(scorer=gate.scorer, statistic=gate.statistic, threshold=gate.threshold)
            specs.setdefault(gate.suite, {}).setdefault(spec.label, spec)
    return [
        measure(suite, spec, cases)
        for suite, by_label in sorted(specs.items())
        for spec in by_label.values()
    ]


def _repeated(shards: Sequence[tuple[str, Report]], cases: list[CaseResult]) -> list[RepeatedCase]:
    """Repeated cases decided again over all their runs. Each shard's `repeated_cases` says
    which run ids belong to which case (a run id may carry other parameters after `-rN`)."""
    rules: dict[str, str] = {}
    runs: dict[str, tuple[str, int]] = {}
    for _, report in shards:
        for repeated in report.repeated_cases:
            rules.setdefault(repeated.suite, repeated.rule)
            for index, run_id in enumerate(repeated.runs):
                runs[f"{repeated.suite}[{run_id}]"] = (
                    repeated.case_id,
                    run_number(run_id, repeated.case_id, index + 1),
                )
    return decide_cases(rules, runs, cases) if rules else []


def _fails_the_run(case: CaseResult, decided: set[str]) -> bool:
    """Whether the case's own test failed. In a gated or repeated suite a case's verdicts don't
    fail its test (a scorer or judge error only marks the case); its app raising does."""
    if case.outcome not in ("failed", "error"):
        return False
    if case.suite not in decided:
        return True
    return case.outcome == "failed" or not any(f.error is not None for f in case.feedback)


def _run_info(
    shards: Sequence[tuple[str, Report]],
    cases: list[CaseResult],
    gates: list[Gate],
    repeated: list[RepeatedCase],
    unscored: list[CaseResult],
) -> RunInfo:
    """The first shard's run, spanning from the first start to the last finish. Exit status 1
    when a gate or repeated case failed, or a case's own test failed; else the worst other
    status a shard had (2 interrupted, 3 internal error, 4 usage error); 5 when no shard
    collected a test."""
    runs = [report.run for _, report in shards]
    started = min(runs, key=lambda r: _time(r.started_at)).started_at
    finished = max(runs, key=lambda r: _time(r.finished_at)).finished_at
    decided = {g.suite for g in gates} | {r.suite for r in repeated}
    failed = (
        any(not g.passed for g in gates)
        or any(not r.passed for r in repeated)
        or any(_fails_the_run(c, decided) for c in cases)
        or any(c.outcome in ("failed", "error") for c in unscored)
    )
    other = max((r.exit_status for r in runs if r.exit_status not in (0, 1, 5)), default=0)
    if all(r.exit_status == 5 for r in runs):
        other = 5
    commits = {r.git_commit for r in runs}
    return runs[0].model_copy(
        update={
            "started_at": started,
            "finished_at": finished,
            "duration": round((_time(finished) - _time(started)).total_seconds(), 3),
            "exit_status": other or int(failed),
            "git_commit": runs[0].git_commit if len(commits) == 1 else None,
            "merged_from": [name for name, _ in shards],
        }
    )


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)
