"""Quality tests for the support bot, scored with pytest-genai's deterministic scorers."""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from support_bot import FAQ, answer, triage

from pytest_genai import assert_scored, scorer, scorers

CASES = [
    ("How do I get a refund?", ["refund", "30 days"]),
    ("When will my shipping arrive?", ["business days"]),
    ("I forgot my password", ["reset", "sign-in"]),
    ("Can I pay with a gift card?", ["agent", "24 hours"]),
]


@scorer
def no_apology(outputs: str) -> bool:
    """Replies are direct: no 'sorry', no 'unfortunately'."""
    text = outputs.lower()
    return "sorry" not in text and "unfortunately" not in text


@scorer(threshold=0.5)
def keyword_recall(outputs: str, expectations: dict) -> float:
    """The share of expected keywords the reply mentions; passes at 0.5 or more."""
    keywords = expectations["keywords"]
    found = [k for k in keywords if k.lower() in outputs.lower()]
    return len(found) / len(keywords)


@pytest.mark.parametrize(("question", "keywords"), CASES)
def test_answer_quality(question: str, keywords: list[str], genai) -> None:
    reply = answer(question)

    assert_scored(
        reply,
        [keyword_recall, no_apology, scorers.length(max=30, unit="words")],
        inputs={"question": question},
        expectations={"keywords": keywords},
    )
    # An informational number: shown in the report (mean, min), never fails the test.
    genai.record("reply_words", len(reply.split()))


@pytest.mark.parametrize("topic", sorted(FAQ))
def test_faq_answers_are_verbatim(topic: str) -> None:
    # "equals_expected" needs no arguments, so its name is enough.
    assert_scored(
        answer(f"a question about {topic}"),
        "equals_expected",
        expectations={"expected_response": FAQ[topic]},
    )


class Ticket(BaseModel):
    topic: str
    escalate: bool


@pytest.mark.parametrize(
    ("question", "escalate"),
    [("I want a refund", False), ("My parcel arrived broken", True)],
)
def test_triage_ticket(question: str, escalate: bool, genai) -> None:
    ticket = triage(question)

    assert_scored(ticket, scorers.is_json(Ticket), inputs={"question": question})
    # A verdict the test computes itself: recorded with an explicit pass/fail.
    escalated = Ticket.model_validate_json(ticket).escalate
    genai.record("escalation", escalated, passed=escalated == escalate)
    assert escalated == escalate
