from __future__ import annotations

import dataclasses
import math

import pytest
from pydantic import BaseModel

from pytest_genai.results import (
    CaseResult,
    Feedback,
    FeedbackError,
    PassRule,
    as_text,
    json_safe,
    normalize_verdict,
    truncate_text,
)


@pytest.mark.parametrize(
    ("word", "verdict"),
    [
        ("yes", "yes"),
        ("Yes.", "yes"),
        ("PASS", "yes"),
        ("true", "yes"),
        ("correct", "yes"),
        ("no", "no"),
        ("False", "no"),
        ("incorrect", "no"),
        ("unknown", "unknown"),
        ("polite", None),
    ],
)
def test_normalize_verdict(word: str, verdict: str | None) -> None:
    assert normalize_verdict(word) == verdict


def test_default_pass_rule() -> None:
    rule = PassRule()
    assert rule(True) is True
    assert rule(False) is False
    assert rule("yes") is True
    assert rule("no") is False
    assert rule("unknown") is False
    assert rule(0.3) is None
    assert rule("polite") is None
    assert rule.describe(True) == "is true"
    assert rule.describe(0.3) is None


def test_threshold_and_custom_rules() -> None:
    rule = PassRule(threshold=0.8)
    assert rule(0.8) is True
    assert rule(0.79) is False
    assert rule.describe(0.1) == ">= 0.8"

    def short(value: object) -> bool:
        return isinstance(value, int) and value < 10

    custom = PassRule(check=short)
    assert custom(3) is True
    assert custom(30) is False
    assert custom.describe(3) == "short"


def test_pass_rule_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="not both"):
        PassRule(threshold=0.5, check=bool)
    with pytest.raises(TypeError, match="threshold must be a number"):
        PassRule(threshold="high")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        PassRule(check=3)


def test_feedback_status() -> None:
    assert Feedback(name="a", value=True, passed=True).status == "passed"
    assert Feedback(name="a", value=False, passed=False).status == "failed"
    assert Feedback(name="a", value=0.4).status == "info"
    error = FeedbackError.from_exception(ValueError("boom"))
    assert Feedback(name="a", error=error).status == "error"
    assert str(error) == "ValueError: boom"


def test_feedback_rejects_unknown_fields_and_values() -> None:
    with pytest.raises(ValueError, match="extra"):
        Feedback(name="a", colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="value"):
        Feedback(name="a", value=[1, 2])  # type: ignore[arg-type]


def test_truncate_text() -> None:
    assert truncate_text("abc", 5) == "abc"
    assert truncate_text("abcdefgh", 3) == "abc…[truncated 5 chars]"


class Point(BaseModel):
    x: int


@dataclasses.dataclass
class Pair:
    a: int
    b: str


def test_json_safe_converts_and_truncates() -> None:
    value = {
        "model": Point(x=1),
        "pair": Pair(1, "b" * 10),
        "tuple": (1, 2),
        "set": {3, 1},
        "nan": math.nan,
        "bytes": b"hi",
        "obj": object,
        1: "key",
    }
    safe = json_safe(value, 5)
    assert safe["model"] == {"x": 1}
    assert safe["pair"] == {"a": 1, "b": "bbbbb…[truncated 5 chars]"}
    assert safe["tuple"] == [1, 2]
    assert safe["set"] == [1, 3]
    assert safe["nan"] == "nan"
    assert safe["bytes"] == "hi"
    assert safe["obj"].startswith("<clas")
    assert safe["1"] == "key"


def test_json_safe_survives_cycles() -> None:
    loop: list[object] = []
    loop.append(loop)
    assert isinstance(json_safe(loop, 100), list)


def test_as_text() -> None:
    assert as_text("plain") == "plain"
    assert as_text({"a": "é"}) == '{"a": "é"}'
    assert as_text(Point(x=2)) == '{"x":2}'
    assert as_text(b"x") == "x"


def test_case_result_round_trips_through_json() -> None:
    case = CaseResult(
        nodeid="t.py::test_a[x]",
        suite="t.py::test_a",
        case_id="x",
        outputs="hello",
        feedback=[Feedback(name="a", value=0.5, passed=True)],
        outcome="passed",
    )
    again = CaseResult.model_validate(case.model_dump(mode="json"))
    assert again == case
