"""Deterministic built-in scorers, e.g. `scorers.contains("refund")` after
`from pytest_genai import scorers`."""

from __future__ import annotations

from pytest_genai.scoring.builtins import (
    contains,
    edit_ratio,
    equals_expected,
    exact_match,
    is_json,
    length,
    regex,
    similarity,
)
from pytest_genai.scoring.trace_scorers import (
    max_cost,
    max_latency,
    max_llm_calls,
    max_tokens,
    tool_called,
)

__all__ = [
    "contains",
    "edit_ratio",
    "equals_expected",
    "exact_match",
    "is_json",
    "length",
    "max_cost",
    "max_latency",
    "max_llm_calls",
    "max_tokens",
    "regex",
    "similarity",
    "tool_called",
]
