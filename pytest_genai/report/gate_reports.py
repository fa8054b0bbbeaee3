"""A quality gate as a test result of its own: a line in the terminal, a JUnit testcase."""

from __future__ import annotations

import pytest

from pytest_genai.report.gates import Gate


def log_gates(config: pytest.Config, gates: list[Gate]) -> None:
    """Report every gate; the terminal shows them without a progress percentage (they were
    not collected, so pytest's count of tests does not include them)."""
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    showing = getattr(terminal, "_show_progress_info", None)
    if showing:
        terminal._show_progress_info = False  # type: ignore[union-attr]
    try:
        for gate in gates:
            log_gate(config, gate)
    finally:
        if showing:
            terminal._show_progress_info = showing  # type: ignore[union-attr]


def log_gate(config: pytest.Config, gate: Gate) -> None:
    """Report the gate through pytest's own hooks, as setup, call and teardown of a test named
    `<suite>[genai-gate:<scorer>>=<threshold>]`, so the terminal, JUnit XML and other plugins
    see it like any test."""
    nodeid = gate.nodeid
    path = gate.suite.split("::", 1)[0]
    location = (path, None, gate.suite.split("::", 1)[-1] + nodeid[len(gate.suite) :])
    config.hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
    properties = [
        ("genai.gate.value", "" if gate.value is None else f"{gate.value:.6g}"),
        ("genai.gate.threshold", f"{gate.threshold:.6g}"),
        ("genai.gate.cases", str(gate.cases)),
    ]
    for when, outcome, longrepr in (
        ("setup", "passed", None),
        ("call", "passed" if gate.passed else "failed", None if gate.passed else _why(gate)),
        ("teardown", "passed", None),
    ):
        report = pytest.TestReport(
            nodeid=nodeid,
            location=location,  # type: ignore[arg-type]
            keywords={"genai_gate": 1},
            outcome=outcome,  # type: ignore[arg-type]
            longrepr=longrepr,
            when=when,  # type: ignore[arg-type]
            user_properties=properties if when == "call" else [],
        )
        config.hook.pytest_runtest_logreport(report=report)
    config.hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)


def _why(gate: Gate) -> str:
    return f"quality gate missed: {gate.describe()}"
