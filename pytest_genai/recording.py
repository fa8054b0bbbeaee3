"""Per-test recording: the `genai` fixture's object; a test's outcome becomes a `CaseResult`."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest

from pytest_genai.current import CURRENT_ITEM, RECORDER_KEY
from pytest_genai.errors import ScorerError
from pytest_genai.results import (
    AssessmentSource,
    AssessmentSourceType,
    CaseResult,
    Feedback,
    Outcome,
    PassRule,
    json_safe,
    truncate_text,
)
from pytest_genai.session import SESSION_KEY

if TYPE_CHECKING:
    from pytest_genai.session import GenaiSession

_UNSET: Any = object()


def suite_and_case(item: pytest.Item) -> tuple[str, str]:
    """The suite (the test function's node id, without parameters) and the case id."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and item.nodeid.endswith(f"[{callspec.id}]"):
        return item.nodeid[: -len(callspec.id) - 2], callspec.id
    return item.nodeid, item.name


class CaseRecorder:
    """What one test recorded: the case it evaluated and every `Feedback` on it.

    The `genai` fixture returns it. `record()` is safe to call from threads the test starts.
    """

    def __init__(self, item: pytest.Item, max_value_chars: int) -> None:
        self.config = item.config
        self.nodeid = item.nodeid
        self.suite, self.case_id = suite_and_case(item)
        self.max_value_chars = max_value_chars
        self.inputs: Any = None
        self.outputs: Any = None
        self.expectations: Any = None
        self._feedback: list[Feedback] = []
        self._lock = threading.Lock()
        self._outcome: Outcome = "passed"
        self._error: str | None = None
        self._duration = 0.0

    @property
    def feedback(self) -> list[Feedback]:
        """Every `Feedback` recorded so far, in order."""
        with self._lock:
            return list(self._feedback)

    def record(
        self,
        name: str | Feedback,
        value: Any = _UNSET,
        *,
        rationale: str | None = None,
        passed: bool | None = None,
        threshold: float | None = None,
        source: AssessmentSourceType | str = AssessmentSourceType.CODE,
        metadata: dict[str, Any] | None = None,
    ) -> Feedback:
        """Record one verdict on this test: `genai.record("tone", 0.9, threshold=0.8)`.

        Pass a `Feedback` instead of a name to record it as it is. Without `passed`, the value is
        judged by the default pass rule (or `threshold`); recording never fails the test.
        """
        if isinstance(name, Feedback):
            if value is not _UNSET:
                raise TypeError("record(Feedback) takes no value")
            feedback = name
            if not feedback.name:
                raise ValueError("a recorded Feedback needs a name")
        else:
            if not isinstance(name, str) or not name:
                raise ValueError("record() needs a non-empty scorer name")
            if value is _UNSET:
                raise TypeError(f"record({name!r}, value): the value is missing")
            rule = PassRule(threshold=threshold)
            value = json_safe(value, self.max_value_chars)
            feedback = Feedback(
                name=name,
                value=value if isinstance(value, (bool, int, float, str)) else str(value),
                rationale=rationale,
                passed=rule(value) if passed is None else passed,
                pass_rule=rule.describe(value),
                source=AssessmentSource(
                    source_type=AssessmentSourceType(source), source_id="record"
                ),
                metadata=metadata or {},
            )
        self.add([feedback])
        return feedback

    def add(self, feedback: list[Feedback]) -> None:
        with self._lock:
            self._feedback.extend(feedback)

    def set_case(
        self, *, inputs: Any = None, outputs: Any = None, expectations: Any = None
    ) -> None:
        """Remember what was evaluated; `None` leaves a value already set as it was."""
        if inputs is not None:
            self.inputs = inputs
        if outputs is not None:
            self.outputs = outputs
        if expectations is not None:
            self.expectations = expectations

    def note_phase(self, report: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
        """Fold one phase's report into the case outcome (worst wins: error > failed > skipped)."""
        self._duration += report.duration
        if report.passed:
            return
        if report.skipped:
            if self._outcome == "passed":
                self._outcome = "skipped"
            return
        excinfo = call.excinfo
        if report.when == "call" and excinfo is not None and _is_failed_verdict(excinfo):
            outcome: Outcome = "failed"
        else:
            outcome = "error"
        if self._outcome != "error":
            self._outcome = outcome
        if self._error is None:
            text = excinfo.exconly() if excinfo is not None else report.longreprtext
            self._error = truncate_text(text.strip(), self.max_value_chars)

    def has_result(self) -> bool:
        """Whether this test is a case to report: it scored something, or it did not pass.

        A test that took the `genai` fixture and passed without recording anything is not one.
        """
        return bool(self._feedback) or self._outcome != "passed"

    def result(self) -> CaseResult:
        """The `CaseResult` so far; a scorer error makes the outcome `error`."""
        feedback = self.feedback
        outcome = self._outcome
        if outcome != "error" and any(f.error is not None for f in feedback):
            outcome = "error"
        limit = self.max_value_chars
        if any(f.rationale and len(f.rationale) > limit for f in feedback):
            feedback = [
                f.model_copy(update={"rationale": truncate_text(f.rationale, limit)})
                if f.rationale
                else f
                for f in feedback
            ]
        return CaseResult(
            nodeid=self.nodeid,
            suite=self.suite,
            case_id=self.case_id,
            inputs=json_safe(self.inputs, limit),
            outputs=json_safe(self.outputs, limit),
            expectations=json_safe(self.expectations, limit),
            feedback=feedback,
            outcome=outcome,
            duration=round(self._duration, 6),
            error=self._error,
        )


def _is_failed_verdict(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    """An assertion (or `pytest.fail`) is a failed verdict; anything else the app or a scorer
    raised means the case could not be evaluated."""
    if excinfo.errisinstance(ScorerError):
        return False
    return excinfo.errisinstance((AssertionError, pytest.fail.Exception))


def recorder_for(item: pytest.Item) -> CaseRecorder:
    """The item's recorder, made on first use."""
    recorder = item.stash.get(RECORDER_KEY, None)
    if recorder is None:
        session: GenaiSession | None = item.config.stash.get(SESSION_KEY, None)
        max_chars = session.settings.max_value_chars if session is not None else 4000
        recorder = item.stash[RECORDER_KEY] = CaseRecorder(item, max_chars)
    return recorder


def current_recorder() -> CaseRecorder | None:
    """The recorder of the test running in this context, if any."""
    item = CURRENT_ITEM.get()
    return recorder_for(item) if item is not None else None
