"""The run state kept in `config.stash`: collects every `CaseResult` and writes the reports.

Imported when the plugin loads, so everything heavy (pydantic, tabulate) is imported inside the
methods that run only once some test recorded a score.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_genai.config import Settings
from pytest_genai.current import PROMPTS_KEY, RECORDER_KEY, leave
from pytest_genai.datasets.deferred import DeferredJudging
from pytest_genai.errors import JudgeError
from pytest_genai.judging import JudgeRun
from pytest_genai.outcome import OUTCOME_KEY, TestOutcome
from pytest_genai.tracing.run import TraceRun

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from pytest_genai.judges.client import JudgeClient
    from pytest_genai.recording import CaseRecorder
    from pytest_genai.report.aggregate import ScorerSummary, Totals
    from pytest_genai.report.baseline import BaselineComparison
    from pytest_genai.report.gates import Gate
    from pytest_genai.report.json_report import Report
    from pytest_genai.report.repeats import RepeatedCase
    from pytest_genai.results import CaseResult, SpanRecord
    from pytest_genai.scoring.base import Scorer

REPORT_ATTR = "genai_case"
"""The test-report attribute that carries a test's `CaseResult` (as a dict) to the controller."""
JUDGE_ERROR_ATTR = "genai_judge_error"
"""Set on the call report of a test that failed because a judge gave no verdict."""
DEFERRED_ATTR = "genai_deferred"
"""Set on the teardown report of a case whose verdicts come at the end of the run."""
EVALUATED_ATTR = "genai_evaluated"
"""Carries the records of a test's `evaluate()` calls (a list of dicts) to the controller."""
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
        workerinput = getattr(config, "workerinput", None)
        self.judging = JudgeRun(settings, config.rootpath, workerinput)
        self.deferred = DeferredJudging(settings.judge_concurrency)
        self.passbars_wanted = settings.lock or (config.rootpath / "genai.lock").exists()
        """Work out gated suites' pass bars: `--genai-lock`, or a genai.lock to check."""
        self.passbars: dict[str, dict[str, Any]] = {}
        self._awaited: set[str] = set()
        """Deferred cases reported by a worker whose verdicts have not come yet."""
        self.late_errors: list[str] = []
        """Deferred judging: cases whose judge gave no verdict after their test passed."""
        self._lock = threading.Lock()
        self._aggregates: tuple[list[ScorerSummary], Totals] | None = None
        self.written: list[Path] = []
        """The report files written at the end of the run."""
        self.problems: list[str] = []
        """Things that went wrong in reporting, shown at the end of the terminal summary."""
        self.tracing = TraceRun(settings, self.is_worker)
        self._gate_specs: dict[str, list[dict[str, Any]]] = {}
        self._pass_rules: dict[str, str] = {}
        self._runs: dict[str, tuple[str, int]] = {}
        """node id of a run of a repeated case -> (the case, the run's number)"""
        self.repeated: list[RepeatedCase] = []
        self.sample_seed = self._sample_seed()
        self.gates: list[Gate] = []
        self.unscored: list[CaseResult] = []
        """Tests that did not pass in suites no case of which was scored in this process: not
        cases here, but a merge of shard reports may find their suite scored elsewhere."""
        self.baseline: Report | None = None
        """The report of `--genai-baseline`, read at configure (controller only)."""
        self.comparison: BaselineComparison | None = None

    def _sample_seed(self) -> int:
        """The seed of sampling: `--genai-sample-seed`; else, with `--genai-sample`, one drawn
        by the controller (shown in the header); else 0, so that a marker's `sample=` picks the
        same cases every run. Workers get the controller's through `workerinput`."""
        if self.is_worker:
            seed = self.config.workerinput.get(SAMPLE_SEED_KEY)  # type: ignore[attr-defined]
            if seed is not None:
                return int(seed)
        if self.settings.sample_seed is not None:
            return self.settings.sample_seed
        if self.settings.sample is None:
            return 0
        import random

        return random.SystemRandom().randrange(2**32)

    # -- scorers ---------------------------------------------------------------------------------

    def registered_scorers(self) -> dict[str, Scorer]:
        """Scorers other plugins contribute by name (asked once, on first use)."""
        if self._scorers is None:
            from pytest_genai.scoring.registry import collect_plugin_scorers

            self._scorers = collect_plugin_scorers(self.config)
        return self._scorers

    def judge_client(self) -> JudgeClient:
        """The process's judge client, made on first use (no litellm import before)."""
        return self.judging.client()

    def judge_pool(self) -> ThreadPoolExecutor | None:
        """Threads for judging several criteria at once (None with concurrency 1)."""
        return self.judging.pool()

    def close(self) -> None:
        """End of the run: let the judge threads go, close the cache, end tracing."""
        self.deferred.close()
        self.judging.close()
        self.tracing.close()

    # -- per test ---------------------------------------------------------------------------------

    def on_phase(
        self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
    ) -> None:
        """Fold one phase's report into the test's outcome; at teardown, produce its case.

        A test that did not pass gets an outcome even if it never used pytest-genai: it may be a
        case of a scored suite that crashed before reaching its scorers (the controller decides).
        Nothing here may raise: a failure to record becomes an error on the case.
        """
        if report.when == "teardown":
            leave(item)
        elif report.failed:
            self._guarded(self.tracing.on_failed_phase, item, report)
        if (
            report.when == "call"
            and report.failed
            and call.excinfo is not None
            and call.excinfo.errisinstance(JudgeError)
        ):
            setattr(report, JUDGE_ERROR_ATTR, True)
        recorder: CaseRecorder | None = item.stash.get(RECORDER_KEY, None)
        if recorder is None and "genai" in getattr(item, "fixturenames", ()):
            from pytest_genai.recording import recorder_for

            recorder = recorder_for(item)
        if recorder is not None:
            outcome = recorder.outcome
        else:
            outcome = item.stash.get(OUTCOME_KEY, None)
            if outcome is None:
                if report.passed:
                    if report.when == "teardown" and self.tracing.used:
                        self._guarded(self.tracing.finish_item, item, report, "passed")
                    return
                outcome = TestOutcome(item, self.settings.max_value_chars)
                item.stash[OUTCOME_KEY] = outcome
        outcome.note_phase(report, call)
        if report.when == "teardown":
            try:
                self._finish_item(item, report, outcome)
            finally:
                self._guarded(self.tracing.finish_item, item, report, outcome.outcome)

    def _guarded(self, method: Any, *args: Any) -> None:
        """Tracing must not turn a test's report into an INTERNALERROR."""
        try:
            method(*args)
        except Exception as exc:
            problem = f"tracing failed: {type(exc).__name__}: {exc}"
            if problem not in self.problems:
                self.problems.append(problem)

    def _finish_item(
        self, item: pytest.Item, report: pytest.TestReport, outcome: TestOutcome
    ) -> None:
        try:
            self._report_item(item, report, outcome)
        finally:
            if PROMPTS_KEY in item.stash:
                del item.stash[PROMPTS_KEY]

    def _report_item(
        self, item: pytest.Item, report: pytest.TestReport, outcome: TestOutcome
    ) -> None:
        recorder = item.stash.get(RECORDER_KEY, None)  # a teardown may have scored
        # items live as long as the session: let go of what this one recorded
        for key in (RECORDER_KEY, OUTCOME_KEY):
            if key in item.stash:
                del item.stash[key]
        if recorder is not None and recorder.evaluated:
            if self.is_worker:
                payloads = [
                    c.model_dump(mode="json", exclude_defaults=True) for c in recorder.evaluated
                ]
                setattr(report, EVALUATED_ATTR, payloads)
            else:
                for evaluated in recorder.evaluated:
                    self.add_case(evaluated)
        trace = self._trace_records(item)
        if recorder is not None:
            recorder.trace = trace
        if recorder is not None and recorder.pending:
            self.deferred.park(recorder)  # its verdicts come in later: see settle_deferred
            setattr(report, DEFERRED_ATTR, True)
            return
        if recorder is None or not recorder.has_result():
            if outcome.outcome != "passed":
                implicit = outcome.as_dict()
                if trace:
                    implicit["trace"] = [r.model_dump(mode="json") for r in trace]
                setattr(report, IMPLICIT_ATTR, implicit)
            return
        from pytest_genai.report.junit import case_properties

        try:
            case = recorder.result()
            payload = self._payload(case)
        except Exception as exc:  # a value pydantic can't serialise, a repr that raises...
            case = recorder.failed_result(exc)
            payload = self._payload(case)
        report.user_properties.extend(case_properties(case))
        if payload is not None:
            setattr(report, REPORT_ATTR, payload)
        else:
            self.add_case(case)

    def _trace_records(self, item: pytest.Item) -> list[SpanRecord]:
        """The test's spans for the JSON and HTML reports (only when one is written: the
        terminal needs none); a failure to read them costs only the trace."""
        if self.settings.report is None and self.settings.html is None:
            return []
        try:
            return self.tracing.records(item)
        except Exception as exc:
            problem = f"tracing failed: {type(exc).__name__}: {exc}"
            if problem not in self.problems:
                self.problems.append(problem)
            return []

    def _payload(self, case: CaseResult) -> dict[str, Any] | None:
        """On a worker, the case as plain data for the controller (defaults left out to keep it
        small); in the controller itself, nothing: the case is kept directly."""
        return case.model_dump(mode="json", exclude_defaults=True) if self.is_worker else None

    # -- results ---------------------------------------------------------------------------------

    def on_report(self, report: pytest.TestReport) -> None:
        """Collect the `CaseResult` a worker's teardown report carries (controller only).

        Without xdist the plugin hands each case to `add_case` directly: it is already here.
        """
        if self.is_worker:
            return
        self.tracing.on_report(report)
        evaluated = getattr(report, EVALUATED_ATTR, None)
        if evaluated:
            from pytest_genai.results import CaseResult

            delattr(report, EVALUATED_ATTR)
            for payload in evaluated:
                self.add_case(CaseResult.model_validate(payload))
        if getattr(report, DEFERRED_ATTR, False):
            self._awaited.add(report.nodeid)
        gates = getattr(report, "genai_gates", None)
        rule = getattr(report, "genai_repeats", None)
        if gates is not None or rule is not None:
            from pytest_genai.outcome import split_nodeid

            suite = split_nodeid(report.nodeid)[0]
            if gates is not None:
                self._gate_specs.setdefault(suite, gates)
                bar = getattr(report, "genai_passbar", None)
                if bar is not None:
                    self.passbars.setdefault(suite, bar)
            if rule is not None:
                self._pass_rules.setdefault(suite, rule["rule"])
                self._runs[report.nodeid] = (rule["case"], int(rule["run"]))
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

    def settle_deferred(self, interrupted: bool = False) -> list[dict[str, Any]]:
        """Wait for deferred verdicts (after an interruption, only those already asked): the
        controller keeps the completed cases; a worker returns them as plain data for its
        `workeroutput`."""
        settled = self.deferred.settle(cancel=interrupted)
        if self.is_worker:
            return [c.model_dump(mode="json", exclude_defaults=True) for c in settled]
        for case in settled:
            self._add_settled(case)
        return []

    def add_settled(self, payloads: list[dict[str, Any]]) -> None:
        """A worker's settled deferred cases (controller)."""
        from pytest_genai.results import CaseResult

        for payload in payloads:
            self._add_settled(CaseResult.model_validate(payload))

    def lost_deferred(self) -> None:
        """Deferred cases whose verdicts never came (their xdist worker crashed): errors in
        the report, so a gate counts them instead of passing on the cases left."""
        if not self._awaited:
            return
        from pytest_genai.outcome import split_nodeid
        from pytest_genai.results import CaseResult

        for nodeid in sorted(self._awaited):
            suite, case_id = split_nodeid(nodeid)
            self._add_settled(
                CaseResult(
                    nodeid=nodeid,
                    suite=suite,
                    case_id=case_id,
                    outcome="error",
                    error="its judges' verdicts were lost: the xdist worker that ran it "
                    "stopped before it could send them",
                )
            )

    def _add_settled(self, case: CaseResult) -> None:
        self._awaited.discard(case.nodeid)
        self.add_case(case)
        if case.outcome == "error" and case.error:
            self.late_errors.append(f"{case.nodeid} - {case.error.splitlines()[0][:300]}")

    def add_case(self, case: CaseResult) -> None:
        """Keep one finished case (from a worker's report, or made in this process)."""
        self._cases[case.nodeid] = case
        self._aggregates = None
        try:
            self.config.hook.pytest_genai_case_result(case=case, config=self.config)
        except Exception as exc:
            problem = f"a pytest_genai_case_result hook raised {type(exc).__name__}: {exc}"
            if problem not in self.problems:
                self.problems.append(problem)

    def on_crash(self, report: pytest.TestReport) -> None:
        """A test whose worker crashed: an error, counted if its suite was scored."""
        from pytest_genai.outcome import split_nodeid

        if report.nodeid in self._cases:
            return
        suite, case_id = split_nodeid(report.nodeid)
        text = report.longreprtext.strip().splitlines()
        self._implicit[report.nodeid] = {
            "nodeid": report.nodeid,
            "suite": suite,
            "case_id": case_id,
            "outcome": "error",
            "duration": round(report.duration, 6),
            "error": (text[-1] if text else "the test's worker crashed")[:1000],
        }

    def _settle(self) -> None:
        """Count the failed, errored or skipped tests that never reached a scorer, when other
        cases of their suite (the same test function) were scored: a crash before
        `assert_scored` must not vanish from the pass rate."""
        scored_suites = {case.suite for case in self._cases.values()}
        # the others matter only to a report file (a merge may find their suite scored): a
        # run that uses nothing of pytest-genai makes none of them
        reported = self.settings.report is not None or self.settings.html is not None
        wanted = [
            (o["suite"] in scored_suites, o)
            for _, o in sorted(self._implicit.items())
            if reported or o["suite"] in scored_suites
        ]
        if wanted:
            from pytest_genai.results import CaseResult
            from pytest_genai.secrets import Redactor

            redact = Redactor()
            for scored, outcome in wanted:
                case = CaseResult.model_validate(outcome)
                if case.error:
                    case.error = redact(case.error)
                if scored:
                    self.add_case(case)
                else:
                    self.unscored.append(case)
        self._implicit.clear()
        self._aggregates = None

    def decide_repeated(self) -> list[RepeatedCase]:
        """Decide every repeated case by its pass rule over its runs (controller, at the end)."""
        if not self._pass_rules:
            return []
        from pytest_genai.report.repeats import decide_cases

        self._settle()
        self.repeated = decide_cases(self._pass_rules, self._runs, self.cases)
        return self.repeated

    def evaluate_gates(self) -> list[Gate]:
        """Measure every gated suite's gates over its cases (controller, after all reported)."""
        if not self._gate_specs:
            return []
        from pytest_genai.report.gates import GateSpec, measure

        self._settle()
        cases = self.cases
        self.gates = [
            measure(suite, GateSpec.model_validate(spec), cases)
            for suite, specs in sorted(self._gate_specs.items())
            for spec in specs
        ]
        return self.gates

    def load_baseline(self) -> None:
        """Read `--genai-baseline` before any test runs: a file that can't be compared with is
        a usage error now, not a surprise at the end."""
        settings = self.settings
        # only asked on the command line is it an error: from the ini file or the environment,
        # it is a policy for the runs that do give a baseline
        asked = self.config.getoption("genai_fail_on_regression", None)
        if asked and settings.baseline is None:
            raise pytest.UsageError(
                "pytest-genai: --genai-fail-on-regression compares with a baseline: give it "
                "one with --genai-baseline=PATH (a JSON report of an earlier run)"
            )
        if settings.baseline is None:
            return
        from pytest_genai.report.json_report import ReportFileError, load_report

        try:
            self.baseline = load_report(settings.baseline, slim=True)
        except ReportFileError as exc:
            raise pytest.UsageError(f"pytest-genai: --genai-baseline: {exc}") from None

    def compare_baseline(self) -> BaselineComparison | None:
        """This run against the baseline (controller, after every case reported)."""
        if self.baseline is None:
            return None
        from pytest_genai.report.baseline import compare

        self._settle()
        self.comparison = compare(
            self.cases,
            self.baseline.cases,
            name=self._shown(self.settings.baseline),
            commit=self.baseline.run.git_commit,
            started_at=self.baseline.run.started_at,
            current_repeated=self.repeated,
            baseline_repeated=self.baseline.repeated_cases,
        )
        return self.comparison

    def _shown(self, path: Path) -> str:
        """A path as the user would write it: relative to where pytest was started."""
        try:
            return str(path.relative_to(self.config.invocation_params.dir))
        except ValueError:
            return str(path)

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
        """At session end on the controller: JUnit suite properties, the JSON and HTML
        reports, step summary.

        Returns False when a report could not be written (the reason is among `problems`, for
        the terminal).
        """
        if self.is_worker:
            return True
        self._settle()
        written = True
        targets = [(self.settings.report, "JSON"), (self.settings.html, "HTML")]
        if any(path is not None for path, _ in targets):
            report = None
            for path, kind in targets:
                if path is None:
                    continue
                try:
                    if report is None:
                        report = self.build_report(exitstatus)
                    if kind == "JSON":
                        from pytest_genai.report.json_report import write_report

                        write_report(path, report)
                    else:
                        from pytest_genai.report.html import write_html

                        write_html(path, report)
                except Exception as exc:  # a full disk, or a value no report can hold
                    why = f"{type(exc).__name__}: {exc}"
                    self.problems.append(f"genai report: could not write {path}: {why}")
                    written = False
                else:
                    self.written.append(path)
        if self._cases or self.comparison is not None:
            self._add_junit_properties()
            self._write_step_summary()
        return written

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
        if self.comparison is not None:
            from pytest_genai.report.baseline_view import junit_properties

            for name, value in junit_properties(self.comparison):
                xml.add_global_property(name, value)

    def _write_step_summary(self) -> None:
        target = os.environ.get("GITHUB_STEP_SUMMARY")
        if not target:
            return
        from pytest_genai.report.github import append_step_summary, markdown

        text = markdown(*self.aggregates()) if self._cases else ""
        if self.comparison is not None:
            from pytest_genai.report.baseline_view import markdown as baseline_markdown

            text += "\n" + baseline_markdown(self.comparison)
        try:
            append_step_summary(Path(target), text)
        except OSError as exc:
            self.problems.append(f"could not write the GitHub step summary {target}: {exc}")

    def build_report(self, exitstatus: int) -> Report:
        """The whole run as a `Report`: what the JSON and HTML reports hold."""
        from pytest_genai import __version__
        from pytest_genai.report.json_report import (
            Report,
            RunInfo,
            git_commit,
            python_info,
            redact_args,
        )

        finished = time.time()
        python_version, platform_name = python_info()
        summaries, totals = self.aggregates()
        return Report(
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
            gates=self.gates,
            repeated_cases=self.repeated,
            baseline=self.comparison,
            cases=self.cases,
            unscored=self.unscored,
        )

    def cache_line(self) -> str | None:
        """The judge cache's part of the summary: hits, misses, calls made, cost saved."""
        settings = self.settings
        if settings.cache == "off":
            return None
        totals = self.aggregates()[1]
        misses = totals.judge_calls + totals.replay_misses
        if not (totals.cached or misses):
            return None
        from pytest_genai.report.table import _count, money

        saved = f", {money(totals.cost_saved)} saved" if totals.cost_saved else ""
        return (
            f"genai judge cache ({settings.cache}, {self.judging.cache_path}): "
            f"{_count(totals.cached, 'hit')}, {_count(misses, 'miss')}, "
            f"{_count(totals.judge_calls, 'judge call')} made{saved}"
        )

    def terminal_lines(self) -> list[str]:
        """The 'genai quality' section, or nothing when no test recorded a score."""
        if not self._cases:
            return []
        from pytest_genai.report.table import render, totals_line

        summaries, totals = self.aggregates()
        lines = [render(summaries, "plain"), totals_line(totals)]
        for suite in sorted({r.suite for r in self.repeated}):
            mine = [r for r in self.repeated if r.suite == suite]
            passed = sum(r.passed for r in mine)
            lines.append(
                f"repeats {suite}: {passed} of {len(mine)} cases passed by pass rule "
                f"{mine[0].rule!r}"
            )
            for flaky in (r for r in mine if r.flaky):
                lines.append(f"  flaky {flaky.case_id}: {flaky.describe()}")
        for gate in self.gates:
            lines.append(
                f"gate {'PASSED' if gate.passed else 'FAILED'} {gate.suite}: {gate.describe()}"
            )
        return lines


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")


SESSION_KEY = pytest.StashKey[GenaiSession]()
SAMPLE_SEED_KEY = "genai_sample_seed"
"""The `workerinput` key that carries the sampling seed to xdist workers."""


def get_session(config: pytest.Config) -> GenaiSession | None:
    return config.stash.get(SESSION_KEY, None)
