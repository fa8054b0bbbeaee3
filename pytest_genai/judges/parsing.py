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
    r"^[\W_]*(yes|no|unknown|pass|fail|true|false)[*_ \t]*"
    r"(?:$|[\n.:;,!)\]]\W*|[-\u2013\u2014](?=\s)\W*)(.*)$",
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


def _verdict_of(span: str) -> tuple[Any, Any, bool] | None:
    """`(result, rationale, has_rationale)` of a JSON object with a non-null result, else None."""
    try:
        data = json.loads(span)
    except (json.JSONDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    found, result = _pick(data, RESULT_KEYS)
    if not found or result is None:
        return None
    has_rationale, rationale = _pick(data, RATIONALE_KEYS)
    return result, rationale, has_rationale


def parse_reply(text: str) -> tuple[Any, str]:
    """The `(result, rationale)` in a judge's reply.

    The whole reply as a JSON object (what structured output gives) wins. Otherwise every JSON
    object in it (in code fences or among prose) with a `result` (or `verdict`, `score`, ...)
    and, preferably, a `rationale` (or `reason`, `explanation`, ...) is a candidate: if the
    candidates disagree, as when a judge quotes a JSON output besides its own verdict, the
    reply is unreadable rather than guessed at. Failing JSON, a reply that starts with a
    verdict word set apart by punctuation ("Yes. The answer cites..."). Raises
    `ReplyParseError`.
    """
    if not isinstance(text, str) or not text.strip():
        raise ReplyParseError("the reply is empty")
    whole = _verdict_of(text.strip())
    if whole is not None:
        return whole[0], _text(whole[1])
    spans = [m.group(1).strip() for m in _FENCE.finditer(text)] + _objects(text)
    found = [v for v in map(_verdict_of, spans) if v is not None]
    with_reasons = [v for v in found if v[2]] or found
    if with_reasons:
        results = {json.dumps(v[0], sort_keys=True, default=str).lower() for v in with_reasons}
        if len(results) > 1:
            raise ReplyParseError(f"the reply holds {len(results)} different verdicts")
        return with_reasons[-1][0], _text(with_reasons[-1][1])
    match = _LEADING_VERDICT.match(text.strip())
    if match:
        return match.group(1), match.group(2).strip()
    raise ReplyParseError("no JSON object with a 'result' and no leading verdict word in the reply")


def _text(rationale: Any) -> str:
    return "" if rationale is None else str(rationale).strip()
