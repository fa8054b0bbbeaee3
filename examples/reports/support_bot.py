"""A support bot with two versions: `BOT_VERSION=2` is a "refactor" that stops answering most
policy questions, the regression the baseline comparison catches."""

from __future__ import annotations

import os

from pytest_genai import start_span, trace

FACTS = {
    "refunds": "Refunds are accepted within 30 days.",
    "shipping": "Orders ship in 2-4 days.",
    "returns": "Returns are free.",
    "warranty": "The warranty lasts 2 years.",
    "exchange": "Exchanges are possible within 14 days.",
    "gift cards": "Gift cards never expire.",
    "payment": "We take cards and invoices.",
    "tracking": "The tracking link comes by email.",
    "damaged": "Damaged items are replaced.",
    "invoice": "Invoices are in your account.",
    "address": "The address can change until the order ships.",
    "stock": "Stock is updated daily.",
}
FORGOTTEN = ("refunds", "shipping", "returns", "warranty", "exchange", "gift cards", "payment")


@trace(span_type="RETRIEVER")
def look_up(topic: str) -> list[dict[str, str]]:
    fact = FACTS.get(topic)
    return [{"page_content": fact}] if fact else []


@trace(span_type="AGENT")
def answer(topic: str) -> str:
    pages = look_up(topic)
    with start_span("chat support-model", span_type="CHAT_MODEL") as span:
        span.set_attributes(
            {
                "gen_ai.request.model": "support-model",
                "gen_ai.usage.input_tokens": 60 + 4 * len(topic),
                "gen_ai.usage.output_tokens": 12,
            }
        )
        if os.environ.get("BOT_VERSION") == "2" and topic in FORGOTTEN:
            return "Please contact support."
        return pages[0]["page_content"] if pages else "I don't know."
