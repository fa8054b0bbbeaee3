"""The pytest entry point (`pytest11: genai`). Each hook delegates to the run state or a helper.

Loaded in every pytest run of an environment where pytest-genai is installed, so it imports only
what every run needs; results, scorers and reports are imported when a test first uses them.
Turn it off with `-p no:genai`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import pytest

from pytest_genai.config import Settings, add_options
from pytest_genai.current import CURRENT_ITEM, RECORDER_KEY
from pytest_genai.outcome import OUTCOME_KEY, TestOutcome
from pytest_genai.session import IMPLICIT_ATTR, REPORT_ATTR, SESSION_KEY, GenaiSession

if TYPE_CHECKING:
    from pytest_genai.recording import CaseRecorder


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Register the `pytest_genai_*` hooks other plugins may implement."""
    from pytest_genai import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The 'genai' option group and its ini keys."""
    add_options(parser)


CONTROLLER_PLUGIN = "genai-controller"


def pytest_configure(config: pytest.Config) -> None:
    """Resolve settings once (a bad value is a usage error) and make the run state.

    The hooks that collect results and write reports run only in the controller process (or the
    single process without xdist), so they are registered only there.
    """
    state = GenaiSession(config, Settings.from_pytest_config(config))
    config.stash[SESSION_KEY] = state
    if not state.is_worker:
        config.pluginmanager.register(ControllerHooks(state), CONTROLLER_PLUGIN)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin(CONTROLLER_PLUGIN)
    if plugin is not None:
        config.pluginmanager.unregister(plugin)
    if SESSION_KEY in config.stash:
        del config.stash[SESSION_KEY]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Make the running item known to `assert_scored`, from setup until its teardown report."""
    CURRENT_ITEM.set(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Fold each phase into the test's outcome; the teardown report carries its `CaseResult`.

    A test that did not pass gets an outcome even if it never used pytest-genai: it may be a
    case of a scored suite that crashed before reaching its scorers (the controller decides).
    """
    report = yield
    if report.when == "teardown":
        CURRENT_ITEM.set(None)
    recorder: CaseRecorder | None = item.stash.get(RECORDER_KEY, None)
    if recorder is not None:
        outcome = recorder.outcome
    elif "genai" in getattr(item, "fixturenames", ()):
        from pytest_genai.recording import recorder_for

        recorder = recorder_for(item)
        outcome = recorder.outcome
    else:
        outcome = item.stash.get(OUTCOME_KEY, None)
        if outcome is None:
            if report.passed:
                return report
            state = item.config.stash[SESSION_KEY]
            outcome = TestOutcome(item, state.settings.max_value_chars)
            item.stash[OUTCOME_KEY] = outcome
    outcome.note_phase(report, call)
    if report.when == "teardown":
        recorder = item.stash.get(RECORDER_KEY, None)  # a teardown may have scored
        # items live as long as the session: let go of what this one recorded
        for key in (RECORDER_KEY, OUTCOME_KEY):
            if key in item.stash:
                del item.stash[key]
        if recorder is not None and recorder.has_result():
            from pytest_genai.report.junit import case_properties

            case = recorder.result()
            report.user_properties.extend(case_properties(case))
            state = item.config.stash[SESSION_KEY]
            if state.is_worker:
                # to the controller as plain data, defaults left out to keep it small
                setattr(report, REPORT_ATTR, case.model_dump(mode="json", exclude_defaults=True))
            else:
                state.add_case(case)
        elif recorder is None and outcome.outcome != "passed":
            setattr(report, IMPLICIT_ATTR, outcome.as_dict())
    return report


class ControllerHooks:
    """Hooks of the process that aggregates: collect each `CaseResult`, then report."""

    def __init__(self, state: GenaiSession) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect the `CaseResult` a teardown report carries (from this process or a worker)."""
        if report.when == "teardown":
            self.state.on_report(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """JSON report and step summary; suite properties go in before JUnit XML is written.

        A report that can't be written fails the run (exit code 4) rather than going missing.
        """
        if not self.state.finish(int(exitstatus)) and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """The 'genai quality' section; nothing at all when no test recorded a score."""
        lines = self.state.terminal_lines()
        if lines:
            terminalreporter.write_sep("=", "genai quality")
            for line in lines:
                terminalreporter.write_line(line)
        if self.state.report_error is not None:
            terminalreporter.write_line(f"genai report: {self.state.report_error}", red=True)
        elif self.state.settings.report is not None:
            terminalreporter.write_line(f"genai report: {self.state.settings.report}")


@pytest.fixture
def genai(request: pytest.FixtureRequest) -> CaseRecorder:
    """This test's recorder: `genai.record("tone", 0.9)`, `genai.feedback`, `genai.set_case()`."""
    from pytest_genai.recording import recorder_for

    return recorder_for(request.node)
