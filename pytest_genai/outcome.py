"""A test's outcome across its setup, call and teardown phases, kept without heavy imports.

Every test that used pytest-genai, or did not pass, gets one; tests that pass without touching
pytest-genai never do.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest

from pytest_genai.errors import ScorerError

Outcome = Literal["passed", "failed", "error", "skipped"]

_TRUNCATED = "…[truncated {} chars]"


def truncate_text(text: str, limit: int) -> str:
    """Cut `text` to about `limit` characters, saying how much was dropped."""
    if limit <= 0 or len(text) <= limit:
        return text
    return text[:limit] + _TRUNCATED.format(len(text) - limit)


def suite_and_case(item: pytest.Item) -> tuple[str, str]:
    """The suite (the test function's node id, without parameters) and the case id."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and item.nodeid.endswith(f"[{callspec.id}]"):
        return item.nodeid[: -len(callspec.id) - 2], callspec.id
    return item.nodeid, item.name


def split_nodeid(nodeid: str) -> tuple[str, str]:
    """`suite_and_case` from a node id alone (when only a report is at hand)."""
    base, bracket, rest = nodeid.partition("[")
    if bracket and rest.endswith("]") and "::" in base:
        return base, rest[:-1]
    return nodeid, nodeid.rsplit("::", 1)[-1]


def is_failed_verdict(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    """An assertion (or `pytest.fail`) is a failed verdict; anything else the app or a scorer
    raised means the case could not be evaluated."""
    if excinfo.errisinstance(ScorerError):
        return False
    return excinfo.errisinstance((AssertionError, pytest.fail.Exception))


class TestOutcome:
    """The worst of a test's phases: error > failed > skipped > passed, its first error text
    and its total duration."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, item: pytest.Item, max_chars: int) -> None:
        self.nodeid = item.nodeid
        self.suite, self.case_id = suite_and_case(item)
        self.max_chars = max_chars
        self.outcome: Outcome = "passed"
        self.error: str | None = None
        self.duration = 0.0

    def note_phase(self, report: pytest.TestReport, call: pytest.CallInfo[Any]) -> None:
        """Fold one phase's report in."""
        self.duration += report.duration
        if report.passed:
            return
        if report.skipped:
            if self.outcome == "passed":
                self.outcome = "skipped"
            return
        excinfo = call.excinfo
        # a strict XPASS fails the call with no exception: a failed verdict too
        failed = report.when == "call" and (excinfo is None or is_failed_verdict(excinfo))
        if self.outcome != "error":
            self.outcome = "failed" if failed else "error"
        if self.error is None:
            text = excinfo.exconly() if excinfo is not None else report.longreprtext
            self.error = truncate_text(text.strip(), self.max_chars)

    def as_dict(self) -> dict[str, Any]:
        """The fields of a `CaseResult` that need no scoring (plain data, for xdist)."""
        return {
            "nodeid": self.nodeid,
            "suite": self.suite,
            "case_id": self.case_id,
            "outcome": self.outcome,
            "duration": round(self.duration, 6),
            "error": self.error,
        }


OUTCOME_KEY = pytest.StashKey[TestOutcome]()
"""Where an item keeps its outcome when it has no recorder (a test that did not pass)."""
