from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from pytest_genai import scorers
from pytest_genai.results import Feedback
from pytest_genai.scoring.base import Scorer


def one(s: Scorer, outputs: Any, expectations: Any = None) -> Feedback:
    [feedback] = s.run(outputs=outputs, expectations=expectations)
    return feedback


def test_exact_match() -> None:
    assert one(scorers.exact_match("Paris"), " Paris ").passed is True
    assert one(scorers.exact_match("Paris"), "paris").passed is False
    assert one(scorers.exact_match("Paris", case_sensitive=False), "paris").passed is True
    assert one(scorers.exact_match("a  b", normalize_whitespace=False), "a b").passed is False
    assert one(scorers.exact_match({"a": 1}), {"a": 1}).passed is True
    failed = one(scorers.exact_match("Paris"), "Rome")
    assert failed.rationale == "expected 'Paris', got 'Rome'"


def test_equals_expected() -> None:
    s = scorers.equals_expected()
    assert one(s, "42", {"expected_response": "42"}).passed is True
    assert one(s, "41", {"expected_response": "42"}).passed is False
    missing = one(s, "42", {"other": 1})
    assert missing.error is not None and "expected_response" in missing.error.message


def test_contains_all_any_and_case() -> None:
    assert one(scorers.contains("Refund", "policy"), "our REFUND policy").passed is True
    assert one(scorers.contains("refund", "days"), "refund policy").passed is False
    assert one(scorers.contains("refund", "days", mode="any"), "refund").passed is True
    assert one(scorers.contains("Refund", case_sensitive=True), "refund").passed is False
    assert one(scorers.contains("a"), {"text": "a"}).passed is True
    failed = one(scorers.contains("x", "y"), "y")
    assert failed.rationale == "missing ['x']"
    assert failed.pass_rule == "contains all of ['x', 'y'] (case-insensitive)"


def test_contains_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least one"):
        scorers.contains()
    with pytest.raises(ValueError, match="'all' or 'any'"):
        scorers.contains("a", mode="most")  # type: ignore[arg-type]


def test_regex() -> None:
    assert one(scorers.regex(r"\d{3}"), "call 555 now").passed is True
    assert one(scorers.regex(r"\d{3}", fullmatch=True), "call 555 now").passed is False
    assert one(scorers.regex(r"^\w+$", fullmatch=True), "word").rationale == "matched 'word'"


def test_is_json() -> None:
    assert one(scorers.is_json(), '{"a": 1}').passed is True
    assert one(scorers.is_json(), {"a": 1}).passed is True
    not_json = one(scorers.is_json(), "{oops")
    assert not_json.passed is False and not_json.rationale.startswith("not JSON")
    assert one(scorers.is_json(), 3).passed is False


def test_is_json_with_json_schema() -> None:
    schema = {
        "type": "object",
        "required": ["answer"],
        "properties": {"answer": {"type": "string"}},
    }
    s = scorers.is_json(schema)
    assert one(s, '{"answer": "yes"}').passed is True
    bad = one(s, '{"answer": 3}')
    assert bad.passed is False
    assert "at answer" in bad.rationale


def test_is_json_with_pydantic_model() -> None:
    class Answer(BaseModel):
        answer: str
        confidence: float

    s = scorers.is_json(Answer)
    assert one(s, '{"answer": "a", "confidence": 0.5}').passed is True
    assert one(s, '{"answer": "a"}').passed is False


def test_is_json_rejects_bad_schema() -> None:
    with pytest.raises(TypeError, match="JSON Schema dict or a pydantic model"):
        scorers.is_json(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b", "ratio"),
    [("kitten", "sitting", 1 - 3 / 7), ("same", "same", 1.0), ("", "abc", 0.0), ("ab", "", 0.0)],
)
def test_edit_ratio(a: str, b: str, ratio: float) -> None:
    assert scorers.edit_ratio(a, b) == pytest.approx(ratio)


def test_similarity() -> None:
    s = scorers.similarity("The capital is Paris", min_ratio=0.8)
    close = one(s, "the capital is  paris.")
    assert close.passed is True and close.value == pytest.approx(1 - 1 / 21, abs=1e-4)
    assert one(s, "Rome").passed is False
    from_expectations = one(scorers.similarity(), "abc", {"expected_response": "abd"})
    assert from_expectations.value == pytest.approx(2 / 3, abs=1e-4)
    assert from_expectations.passed is False
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        scorers.similarity("x", min_ratio=2)


def test_length() -> None:
    s = scorers.length(min=2, max=5)
    assert one(s, "abc").passed is True
    too_long = one(s, "abcdef")
    assert (too_long.value, too_long.passed, too_long.pass_rule) == (
        6,
        False,
        "chars >= 2 and <= 5",
    )
    assert one(scorers.length(max=2, unit="words"), "one two three").passed is False
    with pytest.raises(ValueError, match="min=, max="):
        scorers.length()
