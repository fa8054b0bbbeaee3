"""Exceptions a test sees from pytest-genai assertions."""

from __future__ import annotations

from typing import Any


class ScoresFailed(AssertionError):
    """One or more scorers gave a failing verdict: the test fails."""


class ScorerError(Exception):
    """A scorer could not produce a verdict: the case is an error, not a failed verdict."""


class JudgeError(ScorerError):
    """An LLM judge could not produce a verdict: the request failed or the reply was unusable.

    Raised by the judge client (and then recorded as an error `Feedback`), and by
    `assert_judged` / `assert_scored` when a judge gave no verdict; the test is reported with
    the status "judge error". `raw_reply` holds the model's last reply, if there was one, and
    `attempts` the HTTP requests made.
    """

    def __init__(
        self,
        message: str,
        *,
        raw_reply: str | None = None,
        attempts: int = 0,
        usage: Any = None,
    ) -> None:
        from pytest_genai.secrets import redact

        super().__init__(redact(message))
        self.raw_reply = redact(raw_reply) if raw_reply is not None else None
        self.attempts = attempts
        self.usage = usage
        """Tokens and cost of the answers that came, if any (`judges.client.Usage`)."""


class BudgetExhausted(JudgeError):
    """A judge call the run's spend limits (`--genai-max-cost`, `--genai-max-judge-calls`) do
    not allow: the judge was not asked."""


class ReplayMiss(JudgeError):
    """`--genai-cache=replay` and no cached verdict for the question: no model was asked."""


JUDGE_ERROR_TYPES = ("JudgeError", "BudgetExhausted", "ReplayMiss")
"""The `error_type` of a `Feedback` whose judge gave no verdict."""


class DatasetError(Exception):
    """A dataset that can't be used: names the file (or source), the line and case when known,
    what is wrong and how to fix it."""

    def __init__(
        self,
        source: str,
        problem: str,
        *,
        line: int | None = None,
        case: str | None = None,
        fix: str | None = None,
        item: int | None = None,
    ) -> None:
        self.source = source
        self.problem = problem
        self.line = line
        self.case = case
        self.fix = fix
        self.item = item
        where = f"{source}:{line}" if line is not None else source
        if line is None and item is not None:
            where += f" item {item}"
        if case is not None:
            where += f" (case {case!r})"
        text = f"{where}: {problem}"
        if fix:
            text += f"; {fix}"
        super().__init__(text)


class PromptError(Exception):
    """A prompt that can't be loaded: an unknown name, version or alias (the message lists
    what exists), a bad file (named, with its line when known), or a locked version whose file
    changed."""

    def __init__(
        self, problem: str, *, source: str | None = None, line: int | None = None, fix: str = ""
    ) -> None:
        self.source = source
        self.line = line
        self.problem = problem
        self.fix = fix
        where = f"{source}:{line}: " if source and line else f"{source}: " if source else ""
        super().__init__(f"{where}{problem}{'; ' + fix if fix else ''}")
