"""The run state kept in `config.stash`: collects every `CaseResult` and writes the reports.

Imported when the plugin loads, so everything heavy (pydantic, tabulate) is imported inside the
methods that run only once some test recorded a score.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_genai.config import Settings

if TYPE_CHECKING:
    from pytest_genai.report.aggregate import ScorerSummary, Totals
    from pytest_genai.results import CaseResult
    from pytest_genai.scoring.base import Scorer

REPORT_ATTR = "genai_case"
"""The test-report attribute that carries a test's `CaseResult` (as a dict) to the controller."""
IMPLICIT_ATTR = "genai_outcome"
"""Carries the outcome (a dict) of a test that did not pass and never used pytest-genai."""


class GenaiSession:
    """Everything pytest-genai knows about the current run.

    Workers only record; the controller (or the single process without xdist) collects the
    `CaseResult` of every test from its report and writes the terminal section and the files.
    """

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = hasattr(config, "workerinput")
        self.started = time.time()
        self._cases: dict[str, CaseResult] = {}
        self._implicit: dict[str, dict[str, object]] = {}
        self._scorers: dict[str, Scorer] | None = None
        self._aggregates: tuple[list[ScorerSummary], Totals] | None = None
        self.report_error: str | None = None

    # -- scorers ---------------------------------------------------------------------------------

    def registered_scorers(self) -> dict[str, Scorer]:
        """Scorers other plugins contribute by name (asked once, on first use)."""
        if self._scorers is None:
            from pytest_genai.scoring.registry import collect_plugin_scorers

            self._scorers = collect_plugin_scorers(self.config)
        return self._scorers

    # -- results ---------------------------------------------------------------------------------

    def on_report(self, report: pytest.TestReport) -> None:
        """Collect the `CaseResult` a worker's teardown report carries (controller only).

        Without xdist the plugin hands each case to `add_case` directly: it is already here.
        """
        if self.is_worker:
            return
        payload = getattr(report, REPORT_ATTR, None)
        if payload is None:
            outcome = getattr(report, IMPLICIT_ATTR, None)
            if outcome is not None:
                self._implicit[report.nodeid] = outcome
            return
        from pytest_genai.results import CaseResult

        # the report lives on in pytest's terminal stats; the result is kept here, once
        delattr(report, REPORT_ATTR)
        self.add_case(CaseResult.model_validate(payload))

    def add_case(self, case: CaseResult) -> None:
        """Keep one finished case (from a worker's report, or made in this process)."""
        self._cases[case.nodeid] = case
        self._aggregates = None
        self.config.hook.pytest_genai_case_result(case=case, config=self.config)

    def _settle(self) -> None:
        """Count the failed, errored or skipped tests that never reached a scorer, when other
        cases of their suite (the same test function) were scored: a crash before
        `assert_scored` must not vanish from the pass rate."""
        scored_suites = {case.suite for case in self._cases.values()}
        wanted = [o for _, o in sorted(self._implicit.items()) if o["suite"] in scored_suites]
        if wanted:
            from pytest_genai.results import CaseResult

            for outcome in wanted:
                self.add_case(CaseResult.model_validate(outcome))
        self._implicit.clear()
        self._aggregates = None

    @property
    def cases(self) -> list[CaseResult]:
        """Every collected result, in node-id order (the same with and without xdist)."""
        return [self._cases[k] for k in sorted(self._cases)]

    def aggregates(self) -> tuple[list[ScorerSummary], Totals]:
        if self._aggregates is None:
            from pytest_genai.report.aggregate import aggregate, totals

            cases = self.cases
            self._aggregates = (aggregate(cases), totals(cases))
        return self._aggregates

    # -- output ----------------------------------------------------------------------------------

    def finish(self, exitstatus: int) -> bool:
        """At session end on the controller: JUnit suite properties, JSON report, step summary.

        Returns False when the JSON report could not be written (the reason is kept in
        `report_error` for the terminal).
        """
        if self.is_worker:
            return True
        self._settle()
        if self._cases:
            self._add_junit_properties()
            self._write_step_summary()
        if self.settings.report is not None:
            try:
                self.write_json_report(self.settings.report, exitstatus)
            except OSError as exc:
                self.report_error = f"could not write {self.settings.report}: {exc}"
                return False
        return True

    def _add_junit_properties(self) -> None:
        # pytest has no public handle on its JUnit writer; `xml_key` is where it keeps it. On the
        # controller this works under xdist, where `record_testsuite_property` is lost.
        try:
            from _pytest.junitxml import xml_key
        except ImportError:  # pragma: no cover - a pytest that moved it
            return
        xml = self.config.stash.get(xml_key, None)
        if xml is None:
            return
        from pytest_genai.report.junit import suite_properties

        summaries, totals = self.aggregates()
        for name, value in suite_properties(summaries, totals):
            xml.add_global_property(name, value)

    def _write_step_summary(self) -> None:
        target = os.environ.get("GITHUB_STEP_SUMMARY")
        if not target:
            return
        from pytest_genai.report.github import append_step_summary, markdown

        try:
            append_step_summary(Path(target), markdown(*self.aggregates()))
        except OSError as exc:
            self.config.issue_config_time_warning(
                pytest.PytestWarning(f"pytest-genai: could not write the step summary: {exc}"), 2
            )

    def write_json_report(self, path: Path, exitstatus: int) -> None:
        from pytest_genai import __version__
        from pytest_genai.report.json_report import (
            Report,
            RunInfo,
            git_commit,
            python_info,
            redact_args,
            write_atomic,
        )

        finished = time.time()
        python_version, platform_name = python_info()
        summaries, totals = self.aggregates()
        report = Report(
            run=RunInfo(
                started_at=_iso(self.started),
                finished_at=_iso(finished),
                duration=round(finished - self.started, 3),
                exit_status=int(exitstatus),
                plugin_version=__version__,
                pytest_version=pytest.__version__,
                python_version=python_version,
                platform=platform_name,
                git_commit=git_commit(self.config.rootpath),
                pytest_args=redact_args(self.config.invocation_params.args),
                judge_model=self.settings.judge_model,
            ),
            totals=totals,
            summaries=summaries,
            cases=self.cases,
        )
        write_atomic(path, report.model_dump_json(indent=2) + "\n")

    def terminal_lines(self) -> list[str]:
        """The 'genai quality' section, or nothing when no test recorded a score."""
        if not self._cases:
            return []
        from pytest_genai.report.table import render, totals_line

        summaries, totals = self.aggregates()
        return [render(summaries, "plain"), totals_line(totals)]


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")


SESSION_KEY = pytest.StashKey[GenaiSession]()


def get_session(config: pytest.Config) -> GenaiSession | None:
    return config.stash.get(SESSION_KEY, None)
