"""Quality tests for the bike shop assistant, judged by an LLM.

Each test calls the app and asks a judge model about what came back: in plain words (a
guideline), with a built-in judge, or with a judge of our own made with `make_judge`.
"""

from __future__ import annotations

import pytest
from bike_shop_bot import answer

from pytest_genai import assert_judged, judges, make_judge

QUESTIONS = [
    "Can I return a bike I bought last week?",
    "Do you repair e-bikes?",
    "When are you open on Saturday?",
]


@pytest.mark.parametrize("question", QUESTIONS)
def test_answers_are_polite_and_on_topic(question: str) -> None:
    reply = answer(question)
    assert_judged(
        reply.text,
        [
            # A guideline in plain words: judged yes or no, reported under a name made from it.
            "is polite and gets straight to the point",
            # A built-in judge: does the answer address the question?
            judges.relevance_to_query(),
        ],
        inputs=question,
    )


@pytest.mark.parametrize("question", QUESTIONS)
def test_answers_stick_to_the_documents(question: str) -> None:
    reply = answer(question)
    # The retrieved documents go in as `context`: every claim must be supported by them.
    assert_judged(reply.text, judges.retrieval_groundedness(), context=reply.documents)


def test_return_policy_is_correct() -> None:
    question = "Can I return a bike I bought last week?"
    assert_judged(
        answer(question).text,
        judges.correctness(),
        inputs=question,
        expectations={"expected_facts": ["returns are accepted within 30 days", "a receipt"]},
    )


# A judge of our own: a 1-5 score that passes at 4 or more.
clarity = make_judge(
    "clarity",
    "Rate how clearly this reply to a customer is written, from 1 (confusing) to 5 (crystal "
    "clear): short sentences, no jargon, the answer first.\n\n"
    "Customer: {{ inputs }}\n\nReply: {{ outputs }}",
    feedback_type=int,
    threshold=4,
)


@pytest.mark.parametrize("question", QUESTIONS)
def test_answers_are_clear(question: str) -> None:
    assert_judged(answer(question).text, clarity, inputs=question)
