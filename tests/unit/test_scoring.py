from __future__ import annotations

from typing import Any

import pytest

from pytest_genai.results import Feedback
from pytest_genai.scoring.base import Scorer, scorer
from pytest_genai.scoring.registry import resolve_scorers


def test_bare_decorator_names_after_function() -> None:
    @scorer
    def polite(outputs: str) -> bool:
        return "please" in outputs

    assert polite.name == "polite"
    [feedback] = polite.run(outputs="please wait")
    assert (feedback.name, feedback.value, feedback.passed) == ("polite", True, True)
    assert feedback.source.source_id == "polite"
    assert feedback.duration is not None and feedback.duration >= 0


def test_decorator_with_options() -> None:
    @scorer(name="overlap", threshold=0.5, aggregations=["mean", "p90"])
    def score(outputs: str, expectations: dict[str, Any]) -> float:
        return 0.4 if outputs != expectations["expected_response"] else 1.0

    [low] = score.run(outputs="a", expectations={"expected_response": "b"})
    assert (low.name, low.value, low.passed, low.pass_rule) == ("overlap", 0.4, False, ">= 0.5")
    assert low.aggregations == ["mean", "p90"]
    [high] = score.run(outputs="b", expectations={"expected_response": "b"})
    assert high.passed is True


def test_arguments_are_bound_by_name() -> None:
    seen: dict[str, Any] = {}

    @scorer
    def spy(context: Any, inputs: Any) -> bool:
        seen.update(context=context, inputs=inputs)
        return True

    spy.run(inputs={"q": 1}, outputs="x", expectations={}, context=["doc"])
    assert seen == {"context": ["doc"], "inputs": {"q": 1}}


def test_kwargs_receive_everything() -> None:
    @scorer
    def everything(**kwargs: Any) -> bool:
        return sorted(kwargs) == ["context", "expectations", "inputs", "outputs", "trace"]

    assert everything.run(outputs="x")[0].passed is True


def test_unknown_required_parameter_is_rejected_at_decoration() -> None:
    with pytest.raises(TypeError, match="parameter 'answer' is not one of inputs, outputs"):

        @scorer
        def bad(answer: str) -> bool:
            return True


def test_unknown_parameter_with_default_is_allowed() -> None:
    @scorer
    def ok(outputs: str, flavour: str = "x") -> bool:
        return flavour == "x"

    assert ok.run(outputs="a")[0].passed is True


def test_async_scorer_is_rejected() -> None:
    with pytest.raises(TypeError, match="async scorers"):

        @scorer
        async def slow(outputs: str) -> bool:
            return True


def test_unknown_aggregation_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown aggregation 'p99'"):
        scorer(aggregations=["p99"])(lambda outputs: 1.0)


@pytest.mark.parametrize(
    ("returned", "value", "passed"),
    [
        (True, True, True),
        (False, False, False),
        (3, 3, None),
        (0.25, 0.25, None),
        ("Yes", "yes", True),
        ("fail", "no", False),
        ("friendly", "friendly", None),
    ],
)
def test_return_normalisation(returned: Any, value: Any, passed: bool | None) -> None:
    [feedback] = scorer(lambda outputs: returned).run(outputs="x")
    assert feedback.error is None
    assert (feedback.value, feedback.passed) == (value, passed)


def test_feedback_and_lists_are_completed() -> None:
    @scorer(threshold=0.5)
    def multi(outputs: str) -> list[Feedback]:
        return [
            Feedback(value=0.9, rationale="fine"),
            Feedback(name="tone", value="no", rationale="rude"),
            Feedback(name="forced", value=0.1, passed=True),
        ]

    first, second, third = multi.run(outputs="x")
    assert (first.name, first.passed, first.rationale) == ("multi", True, "fine")
    assert (second.name, second.value, second.passed) == ("tone", "no", False)
    assert third.passed is True  # an explicit verdict is kept


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (None, "scorer returned NoneType"),
        ([1, 2], "scorer returned list"),
        (float("nan"), "not a usable score"),
        (Feedback(value=float("inf")), "not a usable score"),
    ],
)
def test_bad_returns_become_error_feedback(returned: Any, message: str) -> None:
    [feedback] = scorer(lambda outputs: returned).run(outputs="x")
    assert feedback.error is not None
    assert message in feedback.error.message
    assert feedback.passed is None


def test_raising_scorer_becomes_error_feedback() -> None:
    @scorer
    def boom(outputs: str) -> bool:
        raise KeyError("missing")

    [feedback] = boom.run(outputs="x")
    assert feedback.status == "error"
    assert feedback.error is not None
    assert (feedback.error.error_type, feedback.error.message) == ("KeyError", "'missing'")


def test_raising_pass_rule_becomes_error_feedback() -> None:
    def picky(value: object) -> bool:
        raise RuntimeError("rule broke")

    [feedback] = scorer(pass_if=picky)(lambda outputs: 1).run(outputs="x")
    assert feedback.error is not None and "rule broke" in feedback.error.message


def test_subclassing_scorer() -> None:
    class WordCount(Scorer):
        name = "word_count"

        def score(self, outputs: str) -> int:
            return len(outputs.split())

    counter = WordCount(threshold=3)
    [feedback] = counter.run(outputs="one two three")
    assert (feedback.name, feedback.value, feedback.passed) == ("word_count", 3, True)
    assert counter(outputs="a b", inputs="ignored") == 2


def test_subclass_without_score_is_an_error_feedback() -> None:
    [feedback] = Scorer("empty").run(outputs="x")
    assert feedback.error is not None
    assert feedback.error.error_type == "NotImplementedError"


def test_calling_a_scorer_calls_the_function() -> None:
    @scorer
    def echo(outputs: str) -> str:
        return outputs

    assert echo(outputs="hi", inputs="ignored") == "hi"


def test_resolve_accepts_scorers_functions_and_names() -> None:
    @scorer
    def mine(outputs: str) -> bool:
        return True

    resolved = resolve_scorers([mine, lambda outputs: True, "is_json"], {})
    assert [s.name for s in resolved] == ["mine", "<lambda>", "is_json"]
    assert resolve_scorers(mine, {}) == [mine]
    registered = {"polite": mine}
    assert resolve_scorers("polite", registered) == [mine]


def test_resolve_errors_are_explicit() -> None:
    with pytest.raises(ValueError, match=r"no scorer named 'nope'; known names: .*is_json"):
        resolve_scorers(["nope"], {})
    with pytest.raises(ValueError, match=r"needs arguments: use pytest_genai.scorers.contains"):
        resolve_scorers(["contains"], {})
    with pytest.raises(TypeError, match="not a scorer"):
        resolve_scorers([3], {})  # type: ignore[list-item]
    with pytest.raises(ValueError, match="no scorers given"):
        resolve_scorers([], {})
