"""A stand-in for an LLM application: a support bot that answers from a small FAQ.

A real app would call a model here. The tests in `tests/` would not change: they look only at
what `answer()` and `triage()` return.
"""

from __future__ import annotations

import json

FAQ = {
    "refund": "You can ask for a refund within 30 days of purchase: open Orders and choose Refund.",
    "shipping": "Standard shipping takes 3-5 business days; express shipping takes 1-2.",
    "password": "Reset your password on the sign-in page with the 'Forgot password?' link.",
}

FALLBACK = "I can't answer that yet. A support agent will reply by email within 24 hours."


def answer(question: str) -> str:
    """The reply to a customer's question."""
    text = question.lower()
    for topic, reply in FAQ.items():
        if topic in text:
            return reply
    return FALLBACK


def triage(question: str) -> str:
    """A ticket for the support queue, as JSON: its topic and whether a human must take it."""
    text = question.lower()
    topic = next((t for t in FAQ if t in text), "other")
    return json.dumps({"topic": topic, "escalate": topic == "other"})
