"""Exceptions a test sees from pytest-genai assertions."""

from __future__ import annotations


class ScoresFailed(AssertionError):
    """One or more scorers gave a failing verdict: the test fails."""


class ScorerError(Exception):
    """A scorer could not produce a verdict: the case is an error, not a failed verdict."""
