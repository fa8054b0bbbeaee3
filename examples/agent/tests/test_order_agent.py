"""Tests of the order agent that check what it did, not only what it said.

Each test asks the agent one question, then looks at the test's trace through the `genai_trace`
fixture: which help pages were retrieved, which tools were called with which arguments, how
many model calls and tokens the answer took. Scorers of the trace (`scorers.max_llm_calls`,
`scorers.tool_called`, ...) and a scorer of our own that reads it put the same facts in the
quality table at the end of the run.
"""

from __future__ import annotations

import re

import pytest
from order_agent import MODEL, NO_FACTS, answer

from pytest_genai import Feedback, assert_scored, scorer, scorers

# Limits every answer must stay within, whatever the question.
BUDGET = [scorers.max_llm_calls(1), scorers.max_tokens(200), scorers.max_cost(0.001)]


@scorer
def grounded_in_retrieved_pages(outputs: str, trace) -> Feedback:
    """Every sentence of the reply appears in a help page the agent retrieved: a string check
    that stands in for the `judges.retrieval_groundedness()` LLM judge."""
    pages = " ".join(doc["page_content"] for doc in trace.retrieved_documents)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", outputs.strip()) if s]
    unsupported = [s for s in sentences if s not in pages]
    if unsupported:
        return Feedback(value=False, rationale=f"not in the retrieved pages: {unsupported}")
    return Feedback(value=True, rationale=f"{len(sentences)} sentence(s), all retrieved")


POLICY_QUESTIONS = [
    ("Can I return a jacket I bought last week?", "help/returns.md", "30 days"),
    ("How long does shipping take?", "help/shipping.md", "working days"),
    ("Can I pay by card?", "help/payment.md", "cards"),
]


@pytest.mark.parametrize(
    ("question", "page", "keyword"), POLICY_QUESTIONS, ids=["returns", "shipping", "payment"]
)
def test_policy_answers_come_from_the_help_pages(
    question: str, page: str, keyword: str, genai_trace
) -> None:
    reply = answer(question)

    genai_trace.assert_span("search_help", span_type="RETRIEVER", child_of="answer")
    assert page in [doc["metadata"]["doc_uri"] for doc in genai_trace.retrieved_documents]
    assert genai_trace.tool_calls == []  # no order number, no lookup
    assert_scored(
        reply,
        [grounded_in_retrieved_pages, scorers.contains(keyword), *BUDGET],
        inputs={"question": question},
    )


ORDER_QUESTIONS = [
    ("Where is my order A-1042?", "A-1042", "Thursday"),
    ("Has A-1043 been shipped yet?", "A-1043", "next week"),
]


@pytest.mark.parametrize(
    ("question", "order_id", "arrives"), ORDER_QUESTIONS, ids=["A-1042", "A-1043"]
)
def test_order_questions_look_the_order_up(
    question: str, order_id: str, arrives: str, genai_trace
) -> None:
    reply = answer(question)

    call = genai_trace.assert_tool_called("lookup_order", order_id=order_id)
    assert call.result["arrives"] == arrives
    genai_trace.assert_no_errors()
    assert_scored(
        reply,
        [
            scorers.tool_called("lookup_order", order_id=order_id),
            scorers.contains(arrives),
            scorers.max_latency(5.0),
            *BUDGET,
        ],
        inputs={"question": question},
    )


def test_an_unknown_order_is_reported_not_invented(genai_trace) -> None:
    reply = answer("Where is my order Z-9999?")

    # The tool failed and its span says why; the agent caught the error and carried on.
    failed = genai_trace.assert_span("lookup_order", errors=True)
    assert failed.error == "order_agent.OrderNotFound: no order Z-9999"
    assert genai_trace.find("answer").error is None
    assert_scored(reply, [scorers.contains("no order Z-9999"), *BUDGET])


def test_an_unanswerable_question_is_handed_over(genai_trace) -> None:
    reply = answer("What is the meaning of life?")

    assert genai_trace.retrieved_documents == []
    assert genai_trace.tool_calls == []
    assert_scored(reply, [scorers.exact_match(NO_FACTS), *BUDGET])


def test_the_model_call(genai_trace) -> None:
    answer("How long does shipping take?")

    # litellm's call, as pytest-genai recorded it: model, settings, messages, tokens, cost.
    [call] = genai_trace.llm_calls
    assert call.name == f"chat {MODEL}"
    assert call.model == MODEL
    assert call.attributes["gen_ai.request.temperature"] == 0
    system, user = call.inputs["messages"]
    assert "3 to 5 working days" in system["content"]
    assert user == {"role": "user", "content": "How long does shipping take?"}
    assert call.input_tokens > 0 and call.output_tokens > 0
    assert genai_trace.usage.total_tokens == call.input_tokens + call.output_tokens
    assert genai_trace.cost == call.cost
    assert_scored(call.outputs, BUDGET)
