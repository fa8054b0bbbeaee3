"""`assert_scored`: run scorers on an output, record every verdict, fail with a readable message."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pytest_genai.errors import JUDGE_ERROR_TYPES, JudgeError, ScorerError, ScoresFailed
from pytest_genai.judging import JUDGE_THREAD_PREFIX
from pytest_genai.recording import current_recorder
from pytest_genai.results import AssessmentSourceType, Feedback, truncate_text
from pytest_genai.scoring.base import Scorer
from pytest_genai.scoring.registry import ScorerSpec, resolve_scorers
from pytest_genai.session import GenaiSession, get_session

if TYPE_CHECKING:
    from pytest_genai.tracing.model import Trace

OUTPUT_CHARS = 500
"""How much of the judged output a failure message shows."""


def assert_scored(
    outputs: Any,
    scorers: ScorerSpec | Iterable[ScorerSpec],
    *,
    inputs: Any = None,
    expectations: Any = None,
    context: Any = None,
    trace: Trace | None = None,
) -> list[Feedback]:
    """Score `outputs` with each scorer, record the verdicts on the current test, and fail if any
    scorer failed.

    Scorers with a `trace` parameter get `trace`, by default the running test's trace (every
    span captured so far).

    `scorers` is one or a list of `Scorer` objects, plain functions (bound by parameter name like
    `@scorer`) or names of registered scorers. A scorer that fails raises `ScoresFailed` (an
    `AssertionError`); a scorer that could not score at all raises `ScorerError` (`JudgeError`
    when it was an LLM judge), so the case is reported as an error, not as a failed verdict.
    Returns the list of `Feedback`.
    """
    __tracebackhide__ = True
    session = current_session()
    resolved = resolve_scorers(scorers, session.registered_scorers if session is not None else {})
    return check(resolved, session, outputs, inputs, expectations, context, trace)


def current_session() -> GenaiSession | None:
    recorder = current_recorder()
    return get_session(recorder.config) if recorder is not None else None


def current_trace(session: GenaiSession) -> Trace | None:
    """The running test's trace so far (None outside a test, or with tracing off)."""
    from pytest_genai.current import current_item

    item = current_item()
    return session.tracing.trace(item) if item is not None else None


def check(
    scorers: Sequence[Scorer],
    session: GenaiSession | None,
    outputs: Any,
    inputs: Any,
    expectations: Any,
    context: Any,
    trace: Trace | None = None,
    fail_on_scores: bool = True,
) -> list[Feedback]:
    """Run, record, and raise as `assert_scored` describes; shared with `assert_judged`.
    With `fail_on_scores=False` (a gated dataset case) failed verdicts are recorded, not
    raised; a scorer that could not score still raises."""
    __tracebackhide__ = True
    names = [s.name for s in scorers]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ValueError(
            f"two scorers are both named {duplicate!r}; give one another name= so that their "
            "verdicts are reported apart"
        )
    if any(s.source_type is AssessmentSourceType.LLM_JUDGE for s in scorers):
        from pytest_genai.judges.client import import_litellm

        import_litellm()  # once, here: not inside the first judge's measured duration
    if trace is None and session is not None and any(s.wants_trace for s in scorers):
        trace = current_trace(session)
    feedback = run_all(
        scorers,
        session,
        inputs=inputs,
        outputs=outputs,
        expectations=expectations,
        context=context,
        trace=trace,
    )
    recorder = current_recorder()
    if recorder is not None:
        recorder.set_case(inputs=inputs, outputs=outputs, expectations=expectations)
        recorder.add(feedback)

    errors = [f for f in feedback if f.error is not None]
    failures = [f for f in feedback if f.error is None and f.passed is False]
    if not fail_on_scores:
        failures = []
    if not errors and not failures:
        return feedback
    message = _message(errors, failures, len(feedback), outputs)
    if any(f.error is not None and f.error.error_type in JUDGE_ERROR_TYPES for f in errors):
        raise JudgeError(message)  # a judge asked but gave no verdict (not a misused judge)
    if errors:
        raise ScorerError(message)
    raise ScoresFailed(message)


def run_all(scorers: Sequence[Scorer], session: GenaiSession | None, **case: Any) -> list[Feedback]:
    """Every scorer's feedback, in scorer order. LLM judges run at the same time (at most
    `genai_judge_concurrency` at once, on the run's judge pool) when there are several; each in
    a copy of this context, so they see per-call judge settings."""
    judges = sum(1 for s in scorers if s.source_type is AssessmentSourceType.LLM_JUDGE)
    pool = session.judge_pool() if session is not None and judges > 1 else None
    # a scorer that itself asserts, from a pool thread, must not wait on the pool it occupies
    if pool is None or threading.current_thread().name.startswith(JUDGE_THREAD_PREFIX):
        return [f for s in scorers for f in s.run(**case)]
    futures = [
        pool.submit(contextvars.copy_context().run, scorer.run, **case) for scorer in scorers
    ]
    return [f for future in futures for f in future.result()]


def _message(errors: list[Feedback], failures: list[Feedback], total: int, outputs: Any) -> str:
    parts = []
    if errors:
        parts.append(f"{len(errors)} of {total} scorers could not score (error, no verdict)")
    if failures:
        parts.append(f"{len(failures)} of {total} scorers failed")
    lines = ["; ".join(parts) + ":"]
    lines += ["  " + f.describe() for f in errors + failures]
    if any(f.source.source_type is AssessmentSourceType.LLM_JUDGE for f in errors + failures):
        lines.append(f"  judged output: {truncate_text(repr(outputs), OUTPUT_CHARS)}")
    return "\n".join(lines)
