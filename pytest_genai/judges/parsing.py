"""Reading a judge model's reply: JSON wherever it is, with the keys models actually use."""

from __future__ import annotations

import json
import re
from typing import Any

RESULT_KEYS = ("result", "verdict", "answer", "score", "rating", "value", "label")
RATIONALE_KEYS = ("rationale", "reason", "reasoning", "explanation", "justification")

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
# A verdict word alone or followed by punctuation ("Yes.", "**No**:", "No, because..."), not
# the first word of a sentence ("No problem, the answer is right").
_LEADING_VERDICT = re.compile(
    r"^[\W_]*(yes|no|unknown|pass|fail|true|false)[*_ \t]*(?:$|[\n.:;,!\-\u2013\u2014)\]]\W*)(.*)$",
    re.IGNORECASE | re.DOTALL,
)


class ReplyParseError(ValueError):
    """The reply holds no verdict we can read."""


def _objects(text: str) -> list[str]:
    """Every balanced `{...}` span of `text`, outermost first, in order (strings respected)."""
    spans: list[str] = []
    depth = 0
    start = -1
    in_string = False
    escaped = False
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = depth > 0
        elif char == "{":
            if depth == 0:
                start = i
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start : i + 1])
    return spans


def _pick(data: dict[str, Any], keys: tuple[str, ...]) -> tuple[bool, Any]:
    lowered = {str(k).strip().lower(): v for k, v in data.items()}
    for key in keys:
        if key in lowered:
            return True, lowered[key]
    return False, None


def parse_reply(text: str) -> tuple[Any, str]:
    """The `(result, rationale)` in a judge's reply.

    Accepts a JSON object alone, in a code fence, or among prose, with `result` (or `verdict`,
    `score`, ...) and `rationale` (or `reason`, `explanation`, ...); or, failing that, a reply
    that starts with a verdict word set apart by punctuation ("Yes. The answer cites...").
    Raises `ReplyParseError`.
    """
    if not isinstance(text, str) or not text.strip():
        raise ReplyParseError("the reply is empty")
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        # the whole candidate first; then objects last to first: a judge that quotes the judged
        # output (JSON and all) in its prose gives its own verdict after it
        for span in [candidate.strip(), *reversed(_objects(candidate))]:
            try:
                data = json.loads(span)
            except (json.JSONDecodeError, ValueError):
                continue
            if not isinstance(data, dict):
                continue
            found, result = _pick(data, RESULT_KEYS)
            if not found:
                continue
            _, rationale = _pick(data, RATIONALE_KEYS)
            return result, "" if rationale is None else str(rationale).strip()
    match = _LEADING_VERDICT.match(text.strip())
    if match:
        return match.group(1), match.group(2).strip()
    raise ReplyParseError("no JSON object with a 'result' and no leading verdict word in the reply")
