"""A stand-in for an LLM application: a support bot that routes a question to a team by its
keywords and replies with that team's canned answer.

A real app would call a model here. The tests in `tests/` would not change: they look only at
what `route()` and `answer()` return.
"""

from __future__ import annotations

HELP = "help.example.com"

# Each team: the words that send a question to it, and its reply.
TEAMS = {
    "billing": (
        ("refund", "invoice", "charged"),
        "Invoices and refunds are under Orders in your account. A refund reaches your card "
        f"within 5 working days. See {HELP}/billing.",
    ),
    "shipping": (
        ("parcel", "delivery", "tracking"),
        "Orders leave our warehouse within 2 working days. The tracking link is in your "
        f"confirmation email. See {HELP}/shipping.",
    ),
    "accounts": (
        ("password", "log in", "sign in"),
        f"Reset your password with 'Forgot password?' on the sign-in page. See {HELP}/login.",
    ),
}

FALLBACK_TEAM = "agents"
FALLBACK = f"A support agent will answer by email within one working day. See {HELP}/contact."


def route(question: str) -> str:
    """The team that takes the question: the first whose keywords it mentions."""
    text = question.lower()
    for team, (keywords, _) in TEAMS.items():
        if any(keyword in text for keyword in keywords):
            return team
    return FALLBACK_TEAM


def answer(question: str) -> str:
    """The reply to a customer's question."""
    team = route(question)
    return TEAMS[team][1] if team in TEAMS else FALLBACK
