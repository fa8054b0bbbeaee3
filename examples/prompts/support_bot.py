"""A stand-in for an LLM application whose prompt lives in `prompts/support/`.

`answer()` loads a version of the `support` prompt, fills it in and sends it to the model. The
model here is `fake_model`, a function that answers from the policy it finds in the prompt, so
the example runs offline and every score is the same on every run. A real app would call a model
instead; the tests would not change.
"""

from __future__ import annotations

from pytest_genai import load_prompt, trace

SHOP = {"name": "Tea & Co", "email": "help@teaandco.example"}

POLICIES = {
    "refund": "Unused items can be returned within 30 days of delivery for a full refund.",
    "shipping": "Orders ship within 2 working days and arrive 3 to 5 days later.",
}


def context(question: str, customer_name: str) -> dict:
    """Every variable any version of the prompt uses; each version picks what it needs."""
    text = question.lower()
    topic = next((topic for topic in POLICIES if topic in text), None)
    return {
        "shop": SHOP,
        "policy": POLICIES[topic] if topic else "(no policy applies)",
        "question": question,
        "customer_name": customer_name,
    }


def fake_model(prompt: str | list[dict[str, str]]) -> str:
    """The stand-in for the model: it repeats the policy the prompt holds, in one sentence when
    the prompt asks for that, with a greeting and an offer of more help otherwise."""
    text = prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt)
    policy = next((p for p in POLICIES.values() if p in text), None)
    if policy is None:
        reply = f"Please write to {SHOP['email']} and a colleague will help you."
    else:
        reply = policy
    if "one sentence" in text:
        return reply
    return f"Thank you for contacting {SHOP['name']}! {reply} Is there anything else I can do?"


@trace
def answer(question: str, customer_name: str, prompt_ref: str = "support@production") -> str:
    """The reply to a customer's question, written with the prompt version `prompt_ref`."""
    prompt = load_prompt(prompt_ref)
    # v1 does not use `customer_name`: strict rendering would reject it, so say it may be unused.
    rendered = prompt.render(context(question, customer_name), allow_unexpected=True)
    return fake_model(rendered)
