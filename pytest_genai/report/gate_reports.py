"""Results decided at the end of the run as tests of their own: a repeated case by its pass
rule, a quality gate. Each is a line in the terminal and a JUnit testcase."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pytest_genai.report.gates import Gate
from pytest_genai.report.repeats import RepeatedCase


def log_results(
    config: pytest.Config,
    repeated: list[RepeatedCase],
    gates: list[Gate],
    changed: dict[str, list[str]] | None = None,
    regressions: Sequence[tuple[str, str, str]] = (),
) -> None:
    """Report every repeated case's verdict, every gate, each suite whose pass bar changed
    since genai.lock, then each significant drop against the baseline (`nodeid, suite,
    why`, with --genai-fail-on-regression). The terminal shows them without a progress
    percentage (they were not collected: pytest's count does not include them)."""
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    showing = getattr(terminal, "_show_progress_info", None)
    if showing:
        terminal._show_progress_info = False  # type: ignore[union-attr]
    try:
        for case in repeated:
            why = None if case.passed else f"repeated case failed: {case.describe()}"
            _log(
                config,
                case.nodeid,
                case.suite,
                why,
                [("genai.runs.passed", str(case.passed_runs)), ("genai.runs", str(len(case.runs)))],
            )
        for gate in gates:
            log_gate(config, gate)
        for suite, changes in (changed or {}).items():
            log_lock(config, suite, changes)
        for nodeid, suite, why in regressions:
            _log(config, nodeid, suite, why, [("genai.baseline", "regressed")])
    finally:
        if showing:
            terminal._show_progress_info = showing  # type: ignore[union-attr]


def log_gate(config: pytest.Config, gate: Gate) -> None:
    """Report the gate as a test named `<suite>[genai-gate:<scorer>>=<threshold>]`."""
    properties = [
        ("genai.gate.value", "" if gate.value is None else f"{gate.value:.6g}"),
        ("genai.gate.threshold", f"{gate.threshold:.6g}"),
        ("genai.gate.cases", str(gate.cases)),
    ]
    _log(config, gate.nodeid, gate.suite, None if gate.passed else _why(gate), properties)


def _log(
    config: pytest.Config,
    nodeid: str,
    suite: str,
    failure: str | None,
    properties: list[tuple[str, str]],
) -> None:
    """Report through pytest's own hooks, as setup, call and teardown of a test, so that the
    terminal, JUnit XML and other plugins see it like any test."""
    path = suite.split("::", 1)[0]
    location = (path, None, suite.split("::", 1)[-1] + nodeid[len(suite) :])
    config.hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
    for when, outcome, longrepr in (
        ("setup", "passed", None),
        ("call", "passed" if failure is None else "failed", failure),
        ("teardown", "passed", None),
    ):
        report = pytest.TestReport(
            nodeid=nodeid,
            location=location,  # type: ignore[arg-type]
            keywords={"genai_result": 1},
            outcome=outcome,  # type: ignore[arg-type]
            longrepr=longrepr,
            when=when,  # type: ignore[arg-type]
            user_properties=properties if when == "call" else [],
        )
        config.hook.pytest_runtest_logreport(report=report)
    config.hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)


def _why(gate: Gate) -> str:
    return f"quality gate missed: {gate.describe()}"


def log_lock(config: pytest.Config, suite: str, changes: list[str]) -> None:
    """A suite whose pass bar differs from genai.lock: a failed test `<suite>[genai-lock]`."""
    why = (
        "pass bar changed since genai.lock was written: "
        + "; ".join(changes)
        + ". If this is on purpose, write the lock again with --genai-lock"
    )
    _log(config, f"{suite}[genai-lock]", suite, why, [("genai.lock", "changed")])
