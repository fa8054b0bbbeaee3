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

__all__ = [
    "contains",
    "edit_ratio",
    "equals_expected",
    "exact_match",
    "is_json",
    "length",
    "regex",
    "similarity",
]
