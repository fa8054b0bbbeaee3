"""Lineage: which prompt versions a test used, recorded on its `CaseResult` and its span."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from pytest_genai.current import PROMPTS_KEY, current_item

if TYPE_CHECKING:
    from pytest_genai.prompts.model import Prompt

NAME = "genai.prompt.name"
VERSION = "genai.prompt.version"
ALIAS = "genai.prompt.alias"
DIGEST = "genai.prompt.digest"
URI = "genai.prompt.uri"


def note_use(prompt: Prompt) -> None:
    """Record that `prompt` was loaded or rendered: on the running test's record (once per
    version and alias) and as `genai.prompt.*` attributes of the current span, if one records."""
    item = current_item()
    if item is not None:
        used = item.stash.setdefault(PROMPTS_KEY, {})
        key = (prompt.name, prompt.version, prompt.alias)
        if key not in used:
            from pytest_genai.results import PromptUse

            used.setdefault(
                key,
                PromptUse(
                    name=prompt.name,
                    version=prompt.version,
                    alias=prompt.alias,
                    digest=prompt.digest,
                ),
            )
    if "opentelemetry.trace" in sys.modules:
        _on_span(prompt)


def _on_span(prompt: Prompt) -> None:
    from opentelemetry import trace

    span = trace.get_current_span()
    if not span.is_recording():
        return
    attributes: dict[str, str | int] = {
        NAME: prompt.name,
        VERSION: prompt.version,
        DIGEST: prompt.digest,
        URI: prompt.uri,
    }
    if prompt.alias:
        attributes[ALIAS] = prompt.alias
    span.set_attributes(attributes)
