"""A stand-in for an LLM agent: a web shop's support agent with a retriever, a tool and a model.

For each question the agent searches the shop's help pages (a RETRIEVER span), looks up every
order number it finds (a TOOL span) and has a model write the reply from what it gathered (a
CHAT_MODEL span, which pytest-genai makes for every litellm call). The spans nest under one
AGENT span per question.

The model call is a real `litellm.completion` call with `mock_response=`: litellm returns that
text as the model's reply, with token usage, and needs no server and no API key. A real agent
would let the model write the reply from the same messages; the tests would not change.
"""

from __future__ import annotations

import re

import litellm

from pytest_genai import trace

MODEL = "openai/gpt-4o-mini"

HELP_PAGES = [
    {
        "doc_uri": "help/returns.md",
        "keywords": ("return", "refund", "send back"),
        "page_content": "Items can be returned within 30 days of delivery for a full refund.",
    },
    {
        "doc_uri": "help/shipping.md",
        "keywords": ("ship", "deliver", "arrive"),
        "page_content": "Standard shipping takes 3 to 5 working days; express takes 1 to 2.",
    },
    {
        "doc_uri": "help/payment.md",
        "keywords": ("pay", "card", "invoice"),
        "page_content": "We accept cards and PayPal. Invoices are sent by email.",
    },
]

ORDERS = {
    "A-1042": {"status": "shipped", "carrier": "DHL", "arrives": "Thursday"},
    "A-1043": {"status": "being packed", "carrier": "DHL", "arrives": "next week"},
}

ORDER_NUMBER = re.compile(r"\b[A-Z]-\d{4}\b")

SYSTEM_PROMPT = (
    "You are the support agent of a web shop. Answer the customer in one or two sentences, "
    "using only these facts:\n{facts}"
)
NO_FACTS = "I could not find an answer to that. A colleague will reply by email within a day."


class OrderNotFound(LookupError):
    """The order number is not in the shop's database."""


@trace(span_type="RETRIEVER")
def search_help(query: str, limit: int = 2) -> list[dict]:
    """The help pages that match the query, best first (a real app would use embeddings)."""
    text = query.lower()
    scored = [(sum(k in text for k in page["keywords"]), page) for page in HELP_PAGES]
    found = [page for score, page in sorted(scored, key=lambda s: -s[0]) if score > 0]
    return [
        {"page_content": page["page_content"], "doc_uri": page["doc_uri"]} for page in found[:limit]
    ]


@trace(span_type="TOOL")
def lookup_order(order_id: str) -> dict:
    """The order's status, from the shop's database."""
    if order_id not in ORDERS:
        raise OrderNotFound(f"no order {order_id}")
    return {"order_id": order_id, **ORDERS[order_id]}


def gather_facts(question: str) -> list[str]:
    """What the reply may say: the matching help pages and the orders the question names."""
    facts = [page["page_content"] for page in search_help(question)]
    for order_id in ORDER_NUMBER.findall(question):
        try:
            order = lookup_order(order_id)
        except OrderNotFound:
            facts.append(f"There is no order {order_id}; the customer should check the number.")
            continue
        facts.append(
            f"Order {order_id} is {order['status']} and arrives {order['arrives']} "
            f"with {order['carrier']}."
        )
    return facts


@trace(span_type="AGENT")
def answer(question: str) -> str:
    """The agent's reply to a customer's question."""
    facts = gather_facts(question)
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT.format(facts="\n".join(facts) or "(none)")},
        {"role": "user", "content": question},
    ]
    response = litellm.completion(
        model=MODEL,
        messages=messages,
        temperature=0,
        # The stand-in for the model's reply (see the module's docstring).
        mock_response=" ".join(facts) if facts else NO_FACTS,
    )
    return response.choices[0].message.content
