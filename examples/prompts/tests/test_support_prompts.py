"""Regression tests of the support bot's prompt, kept as versioned files in `prompts/support/`.

- `load_prompt` by version, alias and MLflow URI, and what a loaded prompt holds;
- strict rendering: a missing variable is an error, not an empty gap;
- `prompt_snapshot`: the exact text each version sends to the model, one file per version;
- `genai_snapshot`: the production reply, compared with the stored one by similarity;
- both versions scored side by side: the quality table has a `prompts` column.
"""

from __future__ import annotations

import pytest
from support_bot import POLICIES, SHOP, answer, context

from pytest_genai import PromptFormatError, assert_scored, load_prompt, scorers

VERSIONS = ["support@1", "support@2"]

QUESTIONS = {
    "refund": "Can I get a refund for an unopened teapot?",
    "shipping": "How long does shipping take?",
}


def test_versions_and_aliases() -> None:
    production = load_prompt("support@production")
    assert (production.version, production.alias) == (1, "production")
    assert production.uri == "prompts:/support/1"
    assert load_prompt("prompts:/support@production").version == 1  # MLflow's spelling
    assert load_prompt("support") == load_prompt("support@latest")  # both: the newest

    chat = load_prompt("support", version=2)
    assert chat.is_chat
    assert chat.variables == ["shop.name", "customer_name", "policy", "question"]
    assert chat.model_config == {"model": "openai/gpt-4o-mini", "temperature": 0}
    assert chat.tags == {"owner": "support-team"}


def test_rendering_is_strict() -> None:
    prompt = load_prompt("support@1")
    with pytest.raises(PromptFormatError, match="missing question"):
        prompt.format(shop=SHOP, policy=POLICIES["refund"])
    with pytest.raises(PromptFormatError, match="unexpected customer_name"):
        prompt.format(**context(QUESTIONS["refund"], "Ada"))


@pytest.mark.parametrize("ref", VERSIONS)
def test_rendered_prompt(ref: str, prompt_snapshot) -> None:
    # One snapshot file per version: __snapshots__/.../test_rendered_prompt[...][support-v1]...
    prompt = load_prompt(ref)
    rendered = prompt.render(context(QUESTIONS["refund"], "Ada"), allow_unexpected=True)
    assert rendered == prompt_snapshot


@pytest.mark.parametrize("topic", sorted(QUESTIONS))
def test_production_reply(topic: str, genai_snapshot) -> None:
    # A reworded reply still matches; a different answer does not. The verdict is also
    # recorded as the `snapshot` score.
    assert answer(QUESTIONS[topic], "Ada") == genai_snapshot(compare="similarity>=0.9")


@pytest.mark.parametrize("ref", VERSIONS)
@pytest.mark.parametrize("topic", sorted(QUESTIONS))
def test_each_version(topic: str, ref: str) -> None:
    reply = answer(QUESTIONS[topic], "Ada", prompt_ref=ref)

    assert_scored(
        reply,
        [scorers.contains(POLICIES[topic]), scorers.length(max=40, unit="words")],
        inputs={"question": QUESTIONS[topic]},
    )


def test_the_span_names_the_prompt_version(genai_trace) -> None:
    answer(QUESTIONS["refund"], "Ada")

    span = genai_trace.find("answer")
    assert span.attributes["genai.prompt.name"] == "support"
    assert span.attributes["genai.prompt.version"] == 1
    assert span.attributes["genai.prompt.alias"] == "production"
    assert span.attributes["genai.prompt.uri"] == "prompts:/support/1"
