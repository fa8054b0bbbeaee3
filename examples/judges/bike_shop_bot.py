"""A stand-in for an LLM application: a bike shop's assistant that answers from its documents.

A real app would retrieve with embeddings and write the answer with a model. The tests in
`tests/` would not change: they look only at what `answer()` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

DOCUMENTS = {
    "returns": "Bikes can be returned within 30 days of purchase with the receipt, for a full "
    "refund. Bikes that have been ridden outdoors can be exchanged but not refunded.",
    "repairs": "The workshop repairs all bikes, e-bikes included. A standard service costs 60 "
    "euros and takes two working days.",
    "opening hours": "The shop is open Tuesday to Saturday, 9:00 to 18:00.",
}


@dataclass
class Reply:
    text: str
    documents: list[str]
    """The documents the answer was written from (what a RAG app retrieved)."""


KEYWORDS = {
    "returns": ("return", "refund", "money back"),
    "repairs": ("repair", "service", "fix"),
    "opening hours": ("open", "hours", "when"),
}

ANSWERS = {
    "returns": "You can return a bike within 30 days of purchase with your receipt and get a "
    "full refund. If you have already ridden it outdoors, we can exchange it instead. Thanks "
    "for asking!",
    "repairs": "Yes, our workshop repairs every kind of bike, e-bikes included. A standard "
    "service costs 60 euros and takes two working days.",
    "opening hours": "We are open Tuesday to Saturday, from 9:00 to 18:00. See you soon!",
}

FALLBACK = "I can help with returns, repairs and our opening hours. What would you like to know?"


def topics(question: str) -> list[str]:
    """The topics a question is about, by keyword (a real app would use embeddings)."""
    text = question.lower()
    return [topic for topic, words in KEYWORDS.items() if any(w in text for w in words)]


def answer(question: str) -> Reply:
    """Retrieve the documents of the question's topics and answer from the first one."""
    found = topics(question)
    if not found:
        return Reply(FALLBACK, [])
    return Reply(ANSWERS[found[0]], [DOCUMENTS[topic] for topic in found])
