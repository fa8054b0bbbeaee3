"""Scoring: `Scorer`, `@scorer`, deterministic built-ins and `assert_scored`."""

from __future__ import annotations

from pytest_genai.scoring.base import SCORER_ARGUMENTS, FunctionScorer, Scorer, scorer

__all__ = ["SCORER_ARGUMENTS", "FunctionScorer", "Scorer", "scorer"]
