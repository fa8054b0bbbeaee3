"""LLM judges: built-in judges (named as MLflow names them), `make_judge`, `assert_judged`.

`from pytest_genai import judges; judges.correctness()`. Importing this does not import litellm:
that happens at the first judge call.
"""

from __future__ import annotations

from pytest_genai.judges.base import Judge, make_judge, unavailable_reason
from pytest_genai.judges.builtin import (
    correctness,
    equivalence,
    expectations_guidelines,
    guidelines,
    relevance_to_query,
    retrieval_groundedness,
    retrieval_relevance,
    retrieval_sufficiency,
    safety,
    tool_call_correctness,
)
from pytest_genai.judges.client import JudgeError

__all__ = [
    "Judge",
    "JudgeError",
    "correctness",
    "equivalence",
    "expectations_guidelines",
    "guidelines",
    "make_judge",
    "relevance_to_query",
    "retrieval_groundedness",
    "retrieval_relevance",
    "retrieval_sufficiency",
    "safety",
    "tool_call_correctness",
    "unavailable_reason",
]
