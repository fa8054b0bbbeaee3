"""`assert_judged`: ask LLM judges about an output, record their verdicts, fail readably."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pytest_genai.judges.base import CALL_OVERRIDES, JudgeCall
from pytest_genai.judges.builtin import BUILTIN_JUDGES, NAMEABLE_JUDGES, guidelines
from pytest_genai.results import Feedback
from pytest_genai.scoring.assertions import check, current_session
from pytest_genai.scoring.base import FunctionScorer, Scorer

Criterion = str | Scorer | Any

if TYPE_CHECKING:
    from pytest_genai.tracing.model import Trace


def criterion_name(text: str, limit: int = 48) -> str:
    """A report-friendly name for a guideline: its words, lower-case, joined by underscores."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    name = ""
    for word in words:
        candidate = f"{name}_{word}" if name else word
        if len(candidate) > limit:
            break
        name = candidate
    return name or "guideline"


def _as_scorer(criterion: Criterion) -> Scorer:
    if isinstance(criterion, Scorer):
        return criterion
    if isinstance(criterion, str):
        if not criterion.strip():
            raise ValueError("assert_judged: an empty criterion")
        if criterion in NAMEABLE_JUDGES:  # "safety", "correctness": the built-in judge
            return BUILTIN_JUDGES[criterion]()
        return guidelines(criterion, name=criterion_name(criterion))
    if callable(criterion):
        return FunctionScorer(criterion)
    raise TypeError(
        f"assert_judged: not a criterion: {criterion!r} (pass a guideline string, a judge, "
        "a scorer or a list of these)"
    )


def assert_judged(
    outputs: Any,
    criteria: Criterion | Iterable[Criterion],
    *,
    inputs: Any = None,
    expectations: Any = None,
    context: Any = None,
    trace: Trace | None = None,
    model: str | None = None,
    inference_params: dict[str, Any] | None = None,
) -> list[Feedback]:
    """Ask an LLM judge whether `outputs` meets each criterion; record the verdicts and fail if
    any is "no".

    A criterion is a guideline in plain words ("cites the refund policy and is polite"), the
    name of a built-in judge ("safety"), a judge (`judges.correctness()`, `make_judge(...)`),
    any scorer, or a list of these; several are
    judged at the same time (at most `genai_judge_concurrency` at once). `model` and
    `inference_params` apply to every judge of this call. A judge that gives no verdict after
    its retries raises `JudgeError`: the test is a judge error, not a failure and not a pass.

    Judges read the test's trace (or `trace`): without `context`, the retrieval judges judge
    the documents the app's RETRIEVER spans returned, and `tool_call_correctness` the calls of
    its TOOL spans.
    """
    __tracebackhide__ = True
    items = [criteria] if isinstance(criteria, (str, Scorer)) else list(criteria)
    if not items:
        raise ValueError("assert_judged: no criteria given")
    scorers = [_as_scorer(item) for item in items]
    token = CALL_OVERRIDES.set(JudgeCall(model=model, inference_params=inference_params))
    try:
        return check(scorers, current_session(), outputs, inputs, expectations, context, trace)
    finally:
        CALL_OVERRIDES.reset(token)
