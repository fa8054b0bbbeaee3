"""Per-test recording: the `genai` fixture's object; a test's outcome becomes a `CaseResult`."""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

import pytest

from pytest_genai.config import Settings
from pytest_genai.current import PROMPTS_KEY, RECORDER_KEY, current_item
from pytest_genai.outcome import OUTCOME_KEY, TestOutcome
from pytest_genai.results import (
    AssessmentSource,
    AssessmentSourceType,
    CaseResult,
    Feedback,
    PassRule,
    as_text,
    json_safe,
    truncate_text,
)
from pytest_genai.secrets import Redactor
from pytest_genai.session import SESSION_KEY

if TYPE_CHECKING:
    from pytest_genai.results import PromptUse, SpanRecord
    from pytest_genai.session import GenaiSession

_UNSET: Any = object()
_DEFAULT_RULE = PassRule()


class CaseRecorder:
    """What one test recorded: the case it evaluated and every `Feedback` on it.

    The `genai` fixture returns it. `record()` is safe to call from threads the test starts.
    """

    def __init__(self, item: pytest.Item, max_value_chars: int) -> None:
        self.config = item.config
        self.outcome = item.stash.get(OUTCOME_KEY, None) or TestOutcome(item, max_value_chars)
        self.nodeid = item.nodeid
        self.suite, self.case_id = self.outcome.suite, self.outcome.case_id
        self.max_value_chars = max_value_chars
        self.inputs: Any = None
        self.outputs: Any = None
        self.expectations: Any = None
        self._feedback: list[Feedback] = []
        self._lock = threading.Lock()
        self.evaluated: list[CaseResult] = []
        """Records of `evaluate()` calls in this test: cases of their own in the report."""
        self.scored_explicitly = False
        """A `genai_eval` test called `score()`: its return value is not scored again."""
        self._stash = item.stash
        self._prompts: list[PromptUse] | None = None
        self.pending: list[tuple[Any, list[Any]]] = []
        """Deferred judging: (future of the verdicts, the judges) not in yet."""
        self.trace: list[SpanRecord] = []
        """The test's spans as report records, set when the test's report is made."""

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
            rule = _DEFAULT_RULE if threshold is None else PassRule(threshold=threshold)
            if not (value is None or isinstance(value, (bool, int, float, str))):
                value = as_text(json_safe(value, 0))  # a structure is kept as its JSON text
            feedback = Feedback(
                name=name,
                value=value,
                rationale=rationale,
                passed=rule(value) if passed is None else passed,
                pass_rule=rule.describe(value),
                source=_record_source(AssessmentSourceType(source)),
                metadata=metadata or {},
            )
        self.add([feedback])
        return feedback

    def add(self, feedback: list[Feedback]) -> None:
        with self._lock:
            self._feedback.extend(feedback)

    @property
    def prompts(self) -> list[PromptUse]:
        """The prompt versions this test loaded or rendered, in order of first use."""
        if self._prompts is not None:
            return list(self._prompts)
        return list(self._stash.get(PROMPTS_KEY, {}).values())

    def freeze(self) -> None:
        """The test is over but its record is finished later (deferred judging): keep what
        lives on the item."""
        self._prompts = self.prompts

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

    def score(self, outputs: Any) -> list[Feedback]:
        """In a `genai_eval` test: score `outputs` with the marker's scorers against this test's
        case, record the verdicts and fail as `assert_scored` does (the test's return value is
        then not scored)."""
        __tracebackhide__ = True
        from pytest_genai.current import current_item
        from pytest_genai.datasets.collect import score

        item = current_item()
        case = getattr(item, "funcargs", {}).get("case") if item is not None else None
        if item is None or case is None:
            raise RuntimeError(
                "genai.score() scores a case of a @pytest.mark.genai_eval test; use "
                "assert_scored() elsewhere"
            )
        return score(item, case, outputs)

    def has_result(self) -> bool:
        """Whether this test is a case to report: it scored something, or it did not pass.

        A test that took the `genai` fixture and passed without recording anything is not one.
        """
        return bool(self._feedback) or self.outcome.outcome != "passed"

    def result(self) -> CaseResult:
        """The `CaseResult` so far, JSON-safe, truncated and with secrets masked; a scorer error
        makes the outcome `error`."""
        feedback = self.feedback
        base = self.outcome.as_dict()
        errors = [f for f in feedback if f.error is not None]
        if base["outcome"] != "error" and errors:
            base["outcome"] = "error"
            if base["error"] is None:  # the test itself passed (a gated case's late verdict)
                first = errors[0]
                assert first.error is not None
                base["error"] = f"{first.name}: {first.error.error_type}: {first.error.message}"
        limit = self.max_value_chars
        redact = Redactor()
        if base["error"]:
            base["error"] = redact(base["error"])
        return CaseResult(
            **base,
            inputs=json_safe(self.inputs, limit, redact),
            outputs=json_safe(self.outputs, limit, redact),
            expectations=json_safe(self.expectations, limit, redact),
            feedback=[_cleaned(f, limit, redact) for f in feedback],
            prompts=self.prompts,
            trace=self.trace,
        )

    def failed_result(self, exc: Exception) -> CaseResult:
        """What to report when `result()` itself failed: the verdicts' names and the reason."""
        base = self.outcome.as_dict()
        base["outcome"] = "error"
        base["prompts"] = self.prompts
        base["trace"] = self.trace
        base["error"] = Redactor()(
            f"pytest-genai could not record this case: {type(exc).__name__}: {exc}"
        )[: self.max_value_chars]
        return CaseResult(**base)


@functools.cache
def _record_source(source_type: AssessmentSourceType) -> AssessmentSource:
    """Shared, immutable: one per source type rather than one per recorded value."""
    return AssessmentSource(source_type=source_type, source_id="record")


def _cleaned(feedback: Feedback, limit: int, redact: Redactor) -> Feedback:
    """The feedback as it goes into a report: texts cut to `limit` and redacted, metadata
    JSON-safe."""
    updates: dict[str, Any] = {}
    for field in ("rationale", "value"):
        text = getattr(feedback, field)
        if isinstance(text, str) and (clean := redact(truncate_text(text, limit))) != text:
            updates[field] = clean
    if feedback.error is not None:
        message = redact(truncate_text(feedback.error.message, limit))
        if message != feedback.error.message:
            updates["error"] = feedback.error.model_copy(update={"message": message})
    if feedback.metadata:
        updates["metadata"] = json_safe(feedback.metadata, limit, redact)
    return feedback.model_copy(update=updates) if updates else feedback


def recorder_for(item: pytest.Item) -> CaseRecorder:
    """The item's recorder, made on first use."""
    recorder = item.stash.get(RECORDER_KEY, None)
    if recorder is None:
        session: GenaiSession | None = item.config.stash.get(SESSION_KEY, None)
        settings = session.settings if session is not None else Settings()
        max_chars = settings.max_value_chars
        recorder = item.stash[RECORDER_KEY] = CaseRecorder(item, max_chars)
    return recorder


def current_recorder() -> CaseRecorder | None:
    """The recorder of the test running in this process, if any."""
    item = current_item()
    return recorder_for(item) if item is not None else None
