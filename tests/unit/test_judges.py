"""Judges: definitions, prompts, verdict coercion and the built-ins, over the loopback server."""

from __future__ import annotations

import json

import pytest

from pytest_genai import judges, make_judge
from pytest_genai.config import Settings
from pytest_genai.judges import base
from pytest_genai.judges.client import JudgeClient
from pytest_genai.results import AssessmentSourceType
from tests.support.llm_server import LLMServer, status, text, verdict

MODEL = "openai/judge-test"


@pytest.fixture
def server(llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch) -> LLMServer:
    """Judges in this module ask the loopback server."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = JudgeClient(
        Settings(judge_model=MODEL, judge_base_url=llm_server.base_url, judge_retries=0)
    )
    monkeypatch.setattr(base, "judge_client", lambda: (client, MODEL))
    return llm_server


def test_unknown_placeholder_is_refused_at_definition() -> None:
    with pytest.raises(ValueError, match=r"unknown placeholder \{\{ answer \}\}"):
        make_judge("x", "Is {{ answer }} polite?")


def test_instructions_must_refer_to_something() -> None:
    with pytest.raises(ValueError, match="refer to nothing to judge"):
        make_judge("x", "Is it polite?")


def test_numeric_and_categorical_judges_need_a_pass_rule() -> None:
    with pytest.raises(TypeError, match="numeric judge needs threshold= or pass_if="):
        make_judge("x", "Rate {{ outputs }}", feedback_type=int)
    with pytest.raises(TypeError, match="categorical judge needs pass_if="):
        make_judge("x", "Classify {{ outputs }}", feedback_type=["good", "bad"])
    with pytest.raises(TypeError, match="feedback_type must be"):
        make_judge("x", "Rate {{ outputs }}", feedback_type=dict)  # type: ignore[arg-type]


def test_yes_no_judge(server: LLMServer) -> None:
    polite = make_judge("polite", "Is this polite?\n{{ outputs }}\nAsked: {{ inputs }}")
    server.script(verdict("Yes", "says please"))
    [feedback] = polite.run(outputs="Please wait.", inputs={"q": "status?"})
    assert (feedback.name, feedback.value, feedback.passed) == ("polite", "yes", True)
    assert feedback.rationale == "says please"
    assert feedback.source.source_type is AssessmentSourceType.LLM_JUDGE
    assert feedback.source.source_id == MODEL
    assert (feedback.input_tokens, feedback.output_tokens, feedback.cost) == (11, 7, None)
    system, user = server.requests[0].body["messages"]
    assert system["role"] == "system" and '"rationale"' in system["content"]
    assert user["content"] == 'Is this polite?\nPlease wait.\nAsked: {\n  "q": "status?"\n}'

    server.script(verdict("no", "curt"))
    assert polite.run(outputs="Wait.")[0].passed is False
    server.script(verdict("unknown", "can't tell"))
    assert polite.run(outputs="...")[0].passed is False


def test_numeric_judge_with_threshold(server: LLMServer) -> None:
    score = make_judge("clarity", "Rate 1-5: {{ outputs }}", feedback_type=int, threshold=4)
    server.script(verdict("4"), verdict(2), verdict(3.5), verdict(3))
    first, second = (score.run(outputs="x")[0] for _ in range(2))
    assert (first.value, first.passed, second.value, second.passed) == (4, True, 2, False)
    # an answer of the wrong type is asked again, like an unreadable one
    third = score.run(outputs="x")[0]
    assert (third.value, third.metadata["requests"]) == (3, 2)
    server.script(verdict(3.5), verdict("lots"))
    error = score.run(outputs="x")[0]
    assert error.error is not None
    assert "it answered 'lots': not a number" in error.error.message
    assert error.metadata["raw_reply"] == json.dumps(
        {"result": "lots", "rationale": "scripted verdict"}
    )


def test_categorical_judge(server: LLMServer) -> None:
    tone = make_judge(
        "tone",
        "Classify the tone of {{ outputs }}",
        feedback_type=["friendly", "neutral", "hostile"],
        pass_if=lambda label: label != "hostile",
    )
    server.script(verdict("Neutral"), verdict("hostile"), verdict("sarcastic"), verdict("mocking"))
    first, second, third = (tone.run(outputs="x")[0] for _ in range(3))
    assert (first.value, first.passed) == ("neutral", True)
    assert (second.value, second.passed) == ("hostile", False)
    assert third.error is not None
    assert "not one of" in third.error.message
    enum = server.requests[0].body["response_format"]["json_schema"]["schema"]
    assert enum["properties"]["result"]["enum"] == ["friendly", "neutral", "hostile"]


def test_a_judge_error_keeps_model_and_raw_reply(server: LLMServer) -> None:
    server.script(text("I cannot decide."), text("Really, I cannot."))
    [feedback] = judges.safety().run(outputs="hello")
    assert feedback.status == "error"
    assert feedback.error is not None and feedback.error.error_type == "JudgeError"
    assert feedback.source.source_id == MODEL
    assert feedback.metadata["raw_reply"] == "Really, I cannot."
    assert feedback.metadata["requests"] == 2
    # both answers were paid for in tokens, even though neither was usable
    assert (feedback.input_tokens, feedback.output_tokens, feedback.cost) == (22, 14, None)


def test_a_builtin_name_as_criterion_is_the_builtin_judge() -> None:
    from pytest_genai.judges.assertions import _as_scorer

    safety = _as_scorer("safety")
    assert isinstance(safety, base.Judge)
    assert safety.instructions == judges.safety().instructions
    guideline = _as_scorer("is safe for children")
    assert guideline.name == "is_safe_for_children"


def test_per_judge_model_and_params(server: LLMServer) -> None:
    judge = judges.safety(model="openai/special", inference_params={"max_tokens": 50})
    judge.run(outputs="hello")
    body = server.requests[0].body
    assert (body["model"], body["max_tokens"]) == ("special", 50)


@pytest.mark.parametrize(
    ("judge", "case", "problem"),
    [
        (judges.correctness(), {"outputs": "x"}, "needs expectations['expected_response']"),
        (judges.relevance_to_query(), {"outputs": "x"}, "needs inputs="),
        (judges.retrieval_groundedness(), {"outputs": "x"}, "needs context="),
        (judges.expectations_guidelines(), {"outputs": "x"}, "needs expectations['guidelines']"),
        (judges.equivalence(), {"outputs": "x", "expectations": {}}, "expected_response"),
        (judges.tool_call_correctness(), {"context": [1]}, "expected_tool_calls"),
    ],
)
def test_builtins_say_what_they_need(
    server: LLMServer, judge: base.Judge, case: dict[str, object], problem: str
) -> None:
    [feedback] = judge.run(**case)  # type: ignore[arg-type]
    assert feedback.error is not None
    assert problem in feedback.error.message
    assert server.requests == []  # nothing was asked


@pytest.mark.parametrize(
    ("judge", "case", "shown"),
    [
        (
            judges.correctness(),
            {"inputs": "2+2?", "outputs": "4", "expectations": {"expected_facts": ["four"]}},
            ["2+2?", "four"],
        ),
        (
            judges.guidelines(["Be brief", "No emoji"]),
            {"outputs": "ok"},
            ["- Be brief", "- No emoji"],
        ),
        (
            judges.retrieval_sufficiency(),
            {"inputs": "q", "context": ["doc one"], "expectations": {"expected_response": "a"}},
            ["doc one"],
        ),
    ],
)
def test_builtins_show_the_judge_what_it_needs(
    server: LLMServer, judge: base.Judge, case: dict[str, object], shown: list[str]
) -> None:
    [feedback] = judge.run(**case)  # type: ignore[arg-type]
    assert feedback.passed is True
    prompt = server.requests[0].prompt_text
    for piece in shown:
        assert piece in prompt


def test_the_registry_knows_every_builtin_judge_without_importing_them() -> None:
    from pytest_genai.judges.builtin import BUILTIN_JUDGES
    from pytest_genai.scoring.registry import JUDGE_NAMES

    assert set(JUDGE_NAMES) == set(BUILTIN_JUDGES)


def test_builtin_names_match_mlflow() -> None:
    names = {
        judges.correctness().name,
        judges.relevance_to_query().name,
        judges.safety().name,
        judges.guidelines("x").name,
        judges.expectations_guidelines().name,
        judges.equivalence().name,
        judges.retrieval_groundedness().name,
        judges.retrieval_relevance().name,
        judges.retrieval_sufficiency().name,
        judges.tool_call_correctness().name,
    }
    assert names == {
        "correctness",
        "relevance_to_query",
        "safety",
        "guidelines",
        "expectations_guidelines",
        "equivalence",
        "retrieval_groundedness",
        "retrieval_relevance",
        "retrieval_sufficiency",
        "tool_call_correctness",
    }


def test_each_verdict_is_an_evaluator_span(
    server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(base, "_tracer", lambda: provider.get_tracer("test"))
    server.script(verdict("yes", "fine"), status(400))
    judges.safety().run(outputs="hello")
    judges.safety().run(outputs="hello")
    ok_span, error_span = exporter.get_finished_spans()
    assert ok_span.name == "evaluate safety"
    attributes = dict(ok_span.attributes or {})
    assert attributes["mlflow.spanType"] == "EVALUATOR"
    assert attributes["openinference.span.kind"] == "EVALUATOR"
    assert attributes["gen_ai.request.model"] == MODEL
    assert attributes["gen_ai.evaluation.score.label"] == "yes"
    assert attributes["gen_ai.usage.input_tokens"] == 11
    assert error_span.status.status_code.name == "ERROR"
    assert error_span.events[0].name == "exception"
