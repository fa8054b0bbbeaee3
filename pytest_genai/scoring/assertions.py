"""`assert_scored`: run scorers on an output, record every verdict, fail with a readable message."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pytest_genai.errors import ScorerError, ScoresFailed
from pytest_genai.recording import current_recorder
from pytest_genai.results import Feedback
from pytest_genai.scoring.registry import ScorerSpec, resolve_scorers
from pytest_genai.session import get_session


def assert_scored(
    outputs: Any,
    scorers: ScorerSpec | Iterable[ScorerSpec],
    *,
    inputs: Any = None,
    expectations: Any = None,
    context: Any = None,
) -> list[Feedback]:
    """Score `outputs` with each scorer, record the verdicts on the current test, and fail if any
    scorer failed.

    `scorers` is one or a list of `Scorer` objects, plain functions (bound by parameter name like
    `@scorer`) or names of registered scorers. A scorer that fails raises `ScoresFailed` (an
    `AssertionError`); a scorer that could not score at all raises `ScorerError`, so the case is
    reported as an error, not as a failed verdict. Returns the list of `Feedback`.
    """
    __tracebackhide__ = True
    recorder = current_recorder()
    session = get_session(recorder.config) if recorder is not None else None
    resolved = resolve_scorers(scorers, session.registered_scorers if session is not None else {})

    feedback: list[Feedback] = []
    for scorer in resolved:
        feedback.extend(
            scorer.run(inputs=inputs, outputs=outputs, expectations=expectations, context=context)
        )
    if recorder is not None:
        recorder.set_case(inputs=inputs, outputs=outputs, expectations=expectations)
        recorder.add(feedback)

    errors = [f for f in feedback if f.error is not None]
    failures = [f for f in feedback if f.error is None and f.passed is False]
    if errors:
        raise ScorerError(_message(errors, failures, len(feedback)))
    if failures:
        raise ScoresFailed(_message(errors, failures, len(feedback)))
    return feedback


def _message(errors: list[Feedback], failures: list[Feedback], total: int) -> str:
    parts = []
    if errors:
        parts.append(f"{len(errors)} of {total} scorers could not score (error, no verdict)")
    if failures:
        parts.append(f"{len(failures)} of {total} scorers failed")
    lines = ["; ".join(parts) + ":"]
    lines += ["  " + f.describe() for f in errors + failures]
    return "\n".join(lines)
