"""The data that travels: `Feedback`, `CaseResult` and the rules that decide a pass.

These are pydantic models because they cross process boundaries (xdist workers send them to
the controller as plain dicts on the test report) and end up in JSON reports.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pytest_genai.outcome import Outcome, truncate_text
from pytest_genai.secrets import MASK, SECRET_FIELD

Value = bool | int | float | str | None
"""What a scorer's verdict may hold: a boolean, a number, a verdict or label string, or nothing."""


class AssessmentSourceType(str, enum.Enum):
    """Who produced a `Feedback` (MLflow's assessment source types)."""

    CODE = "CODE"
    LLM_JUDGE = "LLM_JUDGE"
    HUMAN = "HUMAN"


class AssessmentSource(BaseModel):
    """Where a verdict came from: the kind of source and an id (scorer name, judge model, user)."""

    model_config = ConfigDict(frozen=True)

    source_type: AssessmentSourceType = AssessmentSourceType.CODE
    source_id: str | None = None


class FeedbackError(BaseModel):
    """Why a scorer could not produce a value: the exception type and its message."""

    model_config = ConfigDict(frozen=True)

    error_type: str
    message: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> FeedbackError:
        return cls(error_type=type(exc).__name__, message=str(exc) or repr(exc))

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"


class Feedback(BaseModel):
    """One verdict of one scorer on one case.

    `passed` is decided by the scorer's pass rule: `True`/`False`, or `None` for a value that is
    informational only (a number without a threshold). A `Feedback` with `error` set means the
    scorer could not produce a value; it is never counted as a pass.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    value: Value = None
    rationale: str | None = None
    passed: bool | None = None
    error: FeedbackError | None = None
    source: AssessmentSource = Field(default_factory=AssessmentSource)
    pass_rule: str | None = None
    aggregations: list[str] | None = None
    duration: float | None = None
    cost: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def status(self) -> Literal["passed", "failed", "error", "info"]:
        """`error` when no value was produced, else the pass rule's answer (`info`: no rule)."""
        if self.error is not None:
            return "error"
        if self.passed is None:
            return "info"
        return "passed" if self.passed else "failed"

    def describe(self) -> str:
        """A short human summary used in failure messages."""
        judge = ""
        if self.source.source_type is AssessmentSourceType.LLM_JUDGE and self.source.source_id:
            judge = f"judge {self.source.source_id}"
        if self.error is not None:
            named = judge and self.source.source_id in self.error.message
            text = f"{self.name}: ERROR {self.error}" + (
                f" ({judge})" if judge and not named else ""
            )
            raw = self.metadata.get("raw_reply")
            if raw:
                text += f"\n    raw reply: {truncate_text(str(raw), 300)!r}"
            return text
        details = [
            d for d in (judge, f"pass rule: {self.pass_rule}" if self.pass_rule else "") if d
        ]
        text = f"{self.name}: {self.value!r}" + (f" ({'; '.join(details)})" if details else "")
        if self.rationale:
            text += f"\n    rationale: {self.rationale}"
        return text


class PromptUse(BaseModel):
    """A prompt version a test loaded or rendered: its lineage in the report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int
    alias: str | None = None
    digest: str

    @property
    def label(self) -> str:
        """`name v3`, how reports show it."""
        return f"{self.name} v{self.version}"


class SpanRecord(BaseModel):
    """One span of a test's trace as reports keep it: the tree, timing, type, usage, errors and
    (cut short, secrets masked) inputs, outputs and other attributes."""

    model_config = ConfigDict(extra="forbid")

    name: str
    span_id: str
    parent_id: str | None = None
    """The parent's `span_id`; None for a root (or a parent not in the test's trace)."""
    type: str = "UNKNOWN"
    """MLflow's span type (`LLM`, `CHAT_MODEL`, `TOOL`, `RETRIEVER`, `EVALUATOR`, ...)."""
    start: float = 0.0
    """Seconds from the start of the test's first span."""
    duration: float = 0.0
    error: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    inputs: Any = None
    outputs: Any = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class CaseResult(BaseModel):
    """Everything one test recorded: what it evaluated and every verdict on it."""

    model_config = ConfigDict(extra="forbid")

    nodeid: str
    suite: str
    case_id: str
    inputs: Any = None
    outputs: Any = None
    expectations: Any = None
    feedback: list[Feedback] = Field(default_factory=list)
    outcome: Outcome = "passed"
    duration: float | None = None
    error: str | None = None
    prompts: list[PromptUse] = Field(default_factory=list)
    """The prompt versions the test loaded or rendered, in order of first use."""
    trace: list[SpanRecord] = Field(default_factory=list)
    """The spans the test produced (with span capture on), in start order."""


MAX_ITEMS = 1000
"""Longest list or mapping kept in a record; the rest is counted, not kept."""


def json_safe(
    value: Any,
    max_chars: int,
    redact: Callable[[str], str] | None = None,
    _depth: int = 0,
) -> Any:
    """Turn any value into JSON-compatible data, with long strings truncated (`max_chars` <= 0:
    not truncated) and long collections cut at `MAX_ITEMS`.

    Pydantic models and dataclasses become dicts, sets and tuples become lists; floats JSON
    can't hold (nan, inf) and unknown objects become their `repr`; nothing raises. With
    `redact`, every string goes through it and values under secret-looking keys are masked.
    """
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        text = valid_text(truncate_text(value, max_chars))
        return redact(text) if redact is not None else text
    if _depth > 20:
        return _text(value, max_chars, redact)
    if isinstance(value, dict):
        safe: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i == MAX_ITEMS:
                safe["…"] = f"[{len(value) - MAX_ITEMS} more items]"
                break
            key = truncate_text(str(k), max_chars)
            if redact is not None and SECRET_FIELD.match(key) and v:
                safe[key] = MASK
            else:
                safe[key] = json_safe(v, max_chars, redact, _depth + 1)
        return safe
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        safe_items = [json_safe(v, max_chars, redact, _depth + 1) for v in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            safe_items.append(f"…[{len(items) - MAX_ITEMS} more items]")
        return safe_items
    if isinstance(value, bytes):
        return json_safe(value.decode("utf-8", errors="replace"), max_chars, redact, _depth)
    try:
        if isinstance(value, BaseModel):
            dumped: Any = value.model_dump(mode="json")
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            dumped = dataclasses.asdict(value)
        elif isinstance(value, enum.Enum):
            dumped = value.value
        else:
            return _text(value, max_chars, redact)
    except Exception:
        return _text(value, max_chars, redact)
    return json_safe(dumped, max_chars, redact, _depth + 1)


def valid_text(text: str) -> str:
    """The text with what UTF-8 can't hold (a lone surrogate from a bad decode) replaced, so
    that it can be written to a report."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _text(value: Any, max_chars: int, redact: Callable[[str], str] | None) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<unrepresentable {type(value).__name__}>"
    text = truncate_text(text, max_chars)
    return redact(text) if redact is not None else text


def as_text(value: Any) -> str:
    """The text a text scorer looks at: strings as they are, structures as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


YES_WORDS = frozenset({"yes", "y", "pass", "passed", "true", "correct", "ok", "good", "1"})
NO_WORDS = frozenset({"no", "n", "fail", "failed", "false", "incorrect", "wrong", "bad", "0"})
UNKNOWN_WORDS = frozenset({"unknown", "unsure", "n/a", "na", "none", "undetermined"})


def normalize_verdict(text: str) -> str | None:
    """Map a verdict word to MLflow's `yes` / `no` / `unknown`; `None` if it is no verdict."""
    word = text.strip().strip(".!\"'`*").lower()
    if word in YES_WORDS:
        return "yes"
    if word in NO_WORDS:
        return "no"
    if word in UNKNOWN_WORDS:
        return "unknown"
    return None


class PassRule:
    """Decides whether a scorer's value passes.

    The default rule: `True` and the verdict `yes` pass, `False`, `no` and `unknown` fail, numbers
    and other strings are informational (`None`). `threshold` makes numbers pass at or above it;
    `check` is any callable `value -> bool` with a description for messages.
    """

    __slots__ = ("_check", "description", "threshold")

    def __init__(
        self,
        *,
        threshold: float | None = None,
        check: Any = None,
        description: str | None = None,
    ) -> None:
        if threshold is not None and check is not None:
            raise TypeError("give a pass rule as threshold= or as pass_if=, not both")
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float))
        ):
            raise TypeError(f"threshold must be a number, got {threshold!r}")
        if check is not None and not callable(check):
            raise TypeError(f"pass_if must be callable (value -> bool), got {check!r}")
        self.threshold = threshold
        self._check = check
        if description is None:
            if threshold is not None:
                description = f">= {threshold:g}"
            elif check is not None:
                description = getattr(check, "__name__", "custom rule")
        self.description = description

    def __call__(self, value: Value) -> bool | None:
        if self._check is not None:
            return bool(self._check(value))
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return None if self.threshold is None else value >= self.threshold
        if isinstance(value, str):
            verdict = normalize_verdict(value)
            if verdict is None:
                return None
            return verdict == "yes"
        return None

    def describe(self, value: Value) -> str | None:
        """The rule as shown next to a value; the default rule only names itself for verdicts."""
        if self.description:
            return self.description
        if isinstance(value, bool):
            return "is true"
        if isinstance(value, str) and normalize_verdict(value) is not None:
            return "verdict is yes"
        return None
