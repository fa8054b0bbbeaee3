"""The pytest entry point (`pytest11: genai`). Each hook delegates to the run state or a helper.

Loaded in every pytest run of an environment where pytest-genai is installed, so it imports only
what every run needs; results, scorers and reports are imported when a test first uses them.
Turn it off with `-p no:genai`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_genai.config import Settings, add_options
from pytest_genai.current import (
    FIXTURE_SCOPES_PLUGIN,
    PLUGIN_SCORED_KEY,
    FixtureScopes,
    enter,
    prompt_dirs,
)
from pytest_genai.datasets.deferred import DEFERRED_KEY
from pytest_genai.judging import RUN_ID_KEY
from pytest_genai.session import JUDGE_ERROR_ATTR, SAMPLE_SEED_KEY, SESSION_KEY, GenaiSession

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion

    from pytest_genai.datasets.model import Case
    from pytest_genai.recording import CaseRecorder
    from pytest_genai.tracing.model import Trace


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Register the `pytest_genai_*` hooks other plugins may implement."""
    from pytest_genai import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Watch for litellm's import before the first conftest runs, so that a conftest's
    `from litellm import completion` gets the logged function (a finder; nothing is imported).
    Not with `genai_tracing = false`; a bad value is reported in `pytest_configure`."""
    try:
        tracing = Settings.from_pytest_config(early_config, early=True).tracing
    except (pytest.UsageError, ValueError, AttributeError):
        tracing = True
    if tracing:
        from pytest_genai.tracing import autolog

        autolog.install()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The 'genai' option group and its ini keys."""
    add_options(parser)


CONTROLLER_PLUGIN = "genai-controller"


def pytest_configure(config: pytest.Config) -> None:
    """Resolve settings once (a bad value is a usage error) and make the run state.

    The hooks that collect results and write reports run only in the controller process (or the
    single process without xdist), so they are registered only there.
    """
    config.addinivalue_line("markers", DATASET_MARKER_HELP)
    state = GenaiSession(config, Settings.from_pytest_config(config))
    config.stash[SESSION_KEY] = state
    prompt_dirs.append((state.settings.prompts_dir or config.rootpath / "prompts", True))
    if not state.is_worker:
        state.load_baseline()
        config.pluginmanager.register(ControllerHooks(state), CONTROLLER_PLUGIN)
    if state.settings.tracing:
        config.pluginmanager.register(FixtureScopes(), FIXTURE_SCOPES_PLUGIN)


def pytest_unconfigure(config: pytest.Config) -> None:
    for name in (CONTROLLER_PLUGIN, FIXTURE_SCOPES_PLUGIN):
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            config.pluginmanager.unregister(plugin)
    if SESSION_KEY in config.stash:
        config.stash[SESSION_KEY].close()
        del config.stash[SESSION_KEY]
        if prompt_dirs:
            prompt_dirs.pop()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Make the running item known to `assert_scored`, from setup until its teardown report,
    and capture its spans."""
    enter(item)
    item.config.stash[SESSION_KEY].tracing.before_setup(item)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Every process: the traces file is complete and OTLP spans are sent before the summary;
    a worker hands what went wrong to the controller, which prints it."""
    state = session.config.stash.get(SESSION_KEY, None)
    if state is not None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            interrupted = session.exitstatus == pytest.ExitCode.INTERRUPTED
            settled = state.settle_deferred(interrupted)
            if settled:
                workeroutput[DEFERRED_KEY] = settled
        state.tracing.close()
        problems = state.tracing.problems + state.judging.problems()
        if workeroutput is not None and problems:
            workeroutput[PROBLEMS_KEY] = problems


PROBLEMS_KEY = "genai_problems"


DATASET_MARKER = "genai_eval"
DATASET_MARKER_HELP = (
    "genai_eval(dataset, scorers=(), thresholds=None, repeats=1, pass_rule='all', sample=None, "
    "id_field='id'): run the test once per case of an evaluation dataset; the test's return "
    "value is scored by the scorers"
)


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say how datasets are sampled, and the seed that gives the same sample again."""
    state = config.stash.get(SESSION_KEY, None)
    if state is None or state.settings.sample is None:
        return None
    seed = state.sample_seed
    return (
        f"genai: a sample of {state.settings.sample} cases per dataset, seed {seed} "
        f"(--genai-sample-seed={seed} picks the same cases)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A `genai_eval` test becomes one test per case of its dataset."""
    if DATASET_MARKER not in metafunc.definition.keywords:  # cheap: dict lookups up the tree
        return
    marker = metafunc.definition.get_closest_marker(DATASET_MARKER)
    if marker is not None:
        from pytest_genai.datasets.collect import parametrize

        parametrize(metafunc, marker)


def _is_case(item: pytest.Item) -> bool:
    """Whether the item is a case of a `genai_eval` dataset (cheap: its `case` parameter)."""
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "case" in callspec.params


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Capture the test's spans from here on (one hook for both jobs: each costs per test); a
    `genai_eval` test is called by the plugin: its return value is the app's output."""
    pyfuncitem.config.stash[SESSION_KEY].tracing.before_call(pyfuncitem)
    if not _is_case(pyfuncitem) or pyfuncitem.get_closest_marker(DATASET_MARKER) is None:
        return None
    from pytest_genai.datasets.collect import run_case

    return run_case(pyfuncitem)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Fold each phase into the test's outcome; the teardown report carries its `CaseResult`."""
    report = yield
    if report.when == "call" and report.failed and item.stash.get(PLUGIN_SCORED_KEY, False):
        from pytest_genai.datasets.collect import shorten

        shorten(item, call, report)
    elif report.when == "teardown" and _is_case(item):
        from pytest_genai.datasets.collect import annotate_teardown

        annotate_teardown(item, report)
    item.config.stash[SESSION_KEY].on_phase(item, call, report)
    return report


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, tuple] | None:
    """A test whose judge gave no verdict is a judge error: `J` / `JUDGE ERROR`, not `F`."""
    if report.when == "call" and getattr(report, JUDGE_ERROR_ATTR, False):
        return JUDGE_ERROR_CATEGORY, "J", ("JUDGE ERROR", {"red": True})
    return None


JUDGE_ERROR_CATEGORY = "judge error"


class ControllerHooks:
    """Hooks of the process that aggregates: collect each `CaseResult`, then report."""

    def __init__(self, state: GenaiSession) -> None:
        self.state = state
        self.judge_errors: list[pytest.TestReport] = []
        self.lock_problems: list[str] = []
        self.locked_now: list[str] = []
        self.lock_lines: list[str] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Check `prompts.lock` (and add new versions to it when asked) before any worker
        starts; only a `stat` when the project has no lock and nothing asked for one."""
        root = prompt_dirs[-1][0]
        lock = self.state.settings.lock_prompts
        update = bool(session.config.getoption("update_snapshots", False))
        if lock or (root / "prompts.lock").exists():
            from pytest_genai.prompts import lock as prompt_lock
            from pytest_genai.prompts.store import store_for

            self.lock_problems, self.locked_now = prompt_lock.at_session_start(
                store_for(root), lock=lock, snapshot_update=update
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect the `CaseResult` a teardown report carries (from this process or a worker)."""
        if report.when == "teardown":
            self.state.on_report(report)
        elif getattr(report, JUDGE_ERROR_ATTR, False):
            self.judge_errors.append(report)
        elif report.when not in ("setup", "call") and report.failed:
            # xdist reports a test that took its worker down this way; no teardown follows
            self.state.on_crash(report)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Every xdist worker samples with the controller's seed, and counts judge spend
        under the controller's run id."""
        node.workerinput[SAMPLE_SEED_KEY] = self.state.sample_seed
        node.workerinput[RUN_ID_KEY] = self.state.judging.run_id

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """An xdist worker finished: keep its deferred cases and the problems it had (an OTLP
        export that failed)."""
        self.state.add_settled(getattr(node, "workeroutput", {}).get(DEFERRED_KEY, []))
        for problem in getattr(node, "workeroutput", {}).get(PROBLEMS_KEY, ()):
            if problem not in self.state.problems:
                self.state.problems.append(problem)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Quality gates, each reported as a test of its own (a result line, a JUnit testcase);
        then the JSON report and step summary; suite properties go in before JUnit XML is
        written. A missed gate fails the run; a report that can't be written fails it with
        exit code 4 rather than going missing.
        """
        self.state.settle_deferred(session.exitstatus == pytest.ExitCode.INTERRUPTED)
        self.state.lost_deferred()
        repeated = self.state.decide_repeated()
        gates = self.state.evaluate_gates()
        changed = self._pass_bars(session.config)
        regressions = self._regressions()
        if repeated or gates or changed or regressions:
            from pytest_genai.report.gate_reports import log_results

            log_results(session.config, repeated, gates, changed, regressions)
            missed = not all(g.passed for g in gates) or not all(r.passed for r in repeated)
            if (missed or changed or regressions) and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.lock_problems and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if not self.state.finish(int(session.exitstatus)) and (
            session.exitstatus == pytest.ExitCode.OK
        ):
            session.exitstatus = pytest.ExitCode.USAGE_ERROR

    def _regressions(self) -> list[tuple[str, str, str]]:
        """Compare with `--genai-baseline`; with --genai-fail-on-regression, each significant
        drop becomes a failed result `<suite>[genai-regression:<scorer>]`."""
        comparison = self.state.compare_baseline()
        if comparison is None or not self.state.settings.fail_on_regression:
            return []
        from pytest_genai.report.baseline_view import regression_message, regression_nodeid

        return [
            (regression_nodeid(c), c.suite, regression_message(comparison, c))
            for c in comparison.regressions
        ]

    def _pass_bars(self, config: pytest.Config) -> dict[str, list[str]]:
        """Write genai.lock (`--genai-lock`), or check the gated suites against it."""
        if not self.state.passbars_wanted:
            return {}
        from pytest_genai.report.passbar import LOCK_FILE, at_session_end

        changed, self.lock_lines = at_session_end(
            config.rootpath / LOCK_FILE, self.state.settings.lock, self.state.passbars
        )
        return changed

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Judge errors in full (pytest's FAILURES section lists only its own category), then
        the 'genai quality' section; nothing at all when no test recorded a score."""
        if self.judge_errors:
            terminalreporter.write_sep("=", "JUDGE ERRORS", red=True)
            for report in self.judge_errors:
                terminalreporter.write_sep("_", report.head_line or report.nodeid, red=True)
                terminalreporter.write_line(report.longreprtext)
            # pytest's short summary (-r) lists only its own categories: ours, in its style
            terminalreporter.write_sep("-", "judge errors (short)")
            for report in self.judge_errors:
                crash = getattr(report.longrepr, "reprcrash", None)
                text = crash.message if crash is not None else str(report.longrepr or "")
                message = text.splitlines()[0] if text else ""
                terminalreporter.write_line(f"JUDGE ERROR {report.nodeid} - {message}")
        if self.state.late_errors:
            terminalreporter.write_sep("-", "judge errors of gated cases (judged after the test)")
            for line in self.state.late_errors:
                terminalreporter.write_line(f"JUDGE ERROR {line}", red=True)
        lines = self.state.terminal_lines()
        if lines:
            terminalreporter.write_sep("=", "genai quality")
            for line in lines:
                terminalreporter.write_line(line)
            cache = self.state.cache_line()
            if cache:
                terminalreporter.write_line(cache)
        comparison = self.state.comparison
        if comparison is not None:
            from pytest_genai.report.baseline_view import terminal_lines

            terminalreporter.write_sep("=", "genai baseline", red=bool(comparison.regressions))
            for line in terminal_lines(comparison):
                terminalreporter.write_line(line)
        if self.lock_problems:
            terminalreporter.write_sep("=", "genai prompt lock", red=True)
            for problem in self.lock_problems:
                terminalreporter.write_line(problem, red=True)
        for line in self.lock_lines:
            terminalreporter.write_line(line)
        if self.locked_now:
            terminalreporter.write_line(
                f"genai: locked {len(self.locked_now)} prompt version(s) in prompts.lock: "
                + ", ".join(self.locked_now)
            )
        for problem in (
            self.state.problems + self.state.tracing.problems + self.state.judging.problems()
        ):
            terminalreporter.write_line(f"pytest-genai: {problem}", red=True)
        for path in self.state.written:
            terminalreporter.write_line(f"genai report: {path}")


@pytest.fixture
def genai(request: pytest.FixtureRequest) -> CaseRecorder:
    """This test's recorder: `genai.record("tone", 0.9)`, `genai.feedback`, `genai.set_case()`."""
    from pytest_genai.recording import recorder_for

    return recorder_for(request.node)


@pytest.fixture
def genai_trace(request: pytest.FixtureRequest) -> Trace:
    """This test's trace: every span captured so far, with queries and assertions
    (`genai_trace.llm_calls`, `genai_trace.assert_tool_called("search")`, ...)."""
    state = request.config.stash[SESSION_KEY]
    if not state.settings.tracing:
        raise pytest.UsageError(
            "genai_trace needs span capture, which is off (genai_tracing = false): turn it on, "
            "or leave the fixture out"
        )
    from pytest_genai.tracing.model import LiveTrace

    # no provider installed here: a fixture set up after this one may still install the app's
    state.tracing.open(request.node, install=False)
    return LiveTrace(lambda: state.tracing.spans(request.node))


@pytest.fixture
def case(request: pytest.FixtureRequest) -> Case:
    """This test's case of its `genai_eval` dataset (id, inputs, expectations, tags, metadata)."""
    from pytest_genai.datasets.collect import case_value

    return case_value(request)


@pytest.fixture
def prompt_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """syrupy snapshot of a rendered prompt: `assert prompt.format(**vars) == prompt_snapshot`
    keeps one readable file per prompt, version and test under `__snapshots__`."""
    from pytest_genai.prompts.snapshots import PromptSnapshotAssertion, make

    return make(snapshot, PromptSnapshotAssertion)


@pytest.fixture
def genai_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """syrupy snapshot of an app output, compared by a comparator:
    `assert answer == genai_snapshot(compare="similarity>=0.9")` (exact by default;
    'whitespace', 'similarity>=x', 'judge' or a function)."""
    from pytest_genai.prompts.snapshots import OutputSnapshotAssertion, make

    return make(snapshot, OutputSnapshotAssertion)
