"""Deterministic built-in scorers, published as `pytest_genai.scorers`.

Each factory returns a `Scorer`; every one takes `name=` so two of a kind can sit side by side.
Text scorers look at `outputs` as text: strings as they are, other values as compact JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pytest_genai.results import Feedback, as_text
from pytest_genai.scoring import trace_scorers
from pytest_genai.scoring.base import FunctionScorer, Scorer

EXPECTED_RESPONSE = "expected_response"


def _expected_response(expectations: Any) -> Any:
    if isinstance(expectations, Mapping) and EXPECTED_RESPONSE in expectations:
        return expectations[EXPECTED_RESPONSE]
    raise ValueError(
        f"needs expectations[{EXPECTED_RESPONSE!r}]; pass expectations={{"
        f"{EXPECTED_RESPONSE!r}: ...}}"
    )


def _normalize(text: str, *, case_sensitive: bool, normalize_whitespace: bool) -> str:
    if normalize_whitespace:
        text = " ".join(text.split())
    return text if case_sensitive else text.casefold()


def _equality(
    outputs: Any, expected: Any, case_sensitive: bool, normalize_whitespace: bool
) -> Feedback:
    if isinstance(outputs, str) and isinstance(expected, str):
        options = {"case_sensitive": case_sensitive, "normalize_whitespace": normalize_whitespace}
        ok = _normalize(outputs, **options) == _normalize(expected, **options)
    else:
        ok = bool(outputs == expected)
    return Feedback(
        value=ok, rationale=None if ok else f"expected {expected!r:.200}, got {outputs!r:.200}"
    )


def exact_match(
    expected: Any,
    *,
    case_sensitive: bool = True,
    normalize_whitespace: bool = True,
    name: str = "exact_match",
) -> Scorer:
    """Passes when `outputs` equals `expected`.

    Strings are compared with runs of whitespace collapsed and ends trimmed
    (`normalize_whitespace=False` compares them as they are) and, with `case_sensitive=False`,
    ignoring case; other values with `==`.
    """

    def score(outputs: Any) -> Feedback:
        return _equality(outputs, expected, case_sensitive, normalize_whitespace)

    return FunctionScorer(score, name)


def equals_expected(
    *, case_sensitive: bool = True, normalize_whitespace: bool = True, name: str = "equals_expected"
) -> Scorer:
    """Passes when `outputs` equals `expectations["expected_response"]` (as `exact_match`)."""

    def score(outputs: Any, expectations: Any) -> Feedback:
        expected = _expected_response(expectations)
        return _equality(outputs, expected, case_sensitive, normalize_whitespace)

    return FunctionScorer(score, name)


def contains(
    *needles: str,
    mode: Literal["all", "any"] = "all",
    case_sensitive: bool = False,
    name: str = "contains",
) -> Scorer:
    """Passes when the output text contains all (or, with `mode="any"`, any) of `needles`.

    Case is ignored unless `case_sensitive=True`.
    """
    if not needles:
        raise ValueError("contains() needs at least one string to look for")
    if mode not in ("all", "any"):
        raise ValueError(f"contains(mode=...) must be 'all' or 'any', got {mode!r}")

    def score(outputs: Any) -> Feedback:
        text = as_text(outputs)
        haystack = text if case_sensitive else text.casefold()
        found = [n for n in needles if (n if case_sensitive else n.casefold()) in haystack]
        missing = [n for n in needles if n not in found]
        ok = not missing if mode == "all" else bool(found)
        rationale = (
            f"found {found!r}" if ok else f"missing {missing!r}" if mode == "all" else "none found"
        )
        return Feedback(value=ok, rationale=rationale)

    scorer = FunctionScorer(score, name)
    case = "case-sensitive" if case_sensitive else "case-insensitive"
    scorer.pass_rule.description = f"contains {mode} of {list(needles)!r} ({case})"
    return scorer


def regex(
    pattern: str | re.Pattern[str],
    *,
    fullmatch: bool = False,
    flags: int = 0,
    name: str = "regex",
) -> Scorer:
    """Passes when the output text matches `pattern` (searched anywhere unless `fullmatch`)."""
    compiled = re.compile(pattern, flags) if isinstance(pattern, str) else pattern

    def score(outputs: Any) -> Feedback:
        text = as_text(outputs)
        match = compiled.fullmatch(text) if fullmatch else compiled.search(text)
        return Feedback(
            value=match is not None,
            rationale=f"matched {match.group(0)!r:.200}" if match else "no match",
        )

    scorer = FunctionScorer(score, name)
    how = "fully matches" if fullmatch else "matches"
    scorer.pass_rule.description = f"{how} /{compiled.pattern}/"
    return scorer


def is_json(schema: Mapping[str, Any] | type | None = None, *, name: str = "is_json") -> Scorer:
    """Passes when `outputs` is JSON (a JSON string, or already a dict/list).

    `schema` is either a JSON Schema (a dict; needs the `jsonschema` package, installed with the
    `pytest-genai[jsonschema]` extra) or a pydantic model class.
    """
    validate = _schema_validator(schema) if schema is not None else None

    def score(outputs: Any) -> Feedback:
        if isinstance(outputs, (str, bytes)):
            try:
                data = json.loads(outputs)
            except json.JSONDecodeError as exc:
                return Feedback(value=False, rationale=f"not JSON: {exc}")
        elif isinstance(outputs, (dict, list)):
            data = outputs
        else:
            return Feedback(value=False, rationale=f"not JSON: a {type(outputs).__name__}")
        if validate is not None:
            problem = validate(data)
            if problem:
                return Feedback(value=False, rationale=f"JSON does not match the schema: {problem}")
        return Feedback(value=True)

    return FunctionScorer(score, name)


def _schema_validator(schema: Mapping[str, Any] | type) -> Any:
    from pydantic import BaseModel, ValidationError

    if isinstance(schema, type) and issubclass(schema, BaseModel):
        model = schema

        def check_model(data: Any) -> str | None:
            try:
                model.model_validate(data)
            except ValidationError as exc:
                return str(exc).replace("\n", " ")
            return None

        return check_model
    if not isinstance(schema, Mapping):
        raise TypeError("is_json(schema=...) takes a JSON Schema dict or a pydantic model class")
    try:
        import jsonschema
    except ImportError:
        raise ImportError(
            "is_json(schema={...}) needs the jsonschema package: "
            "pip install 'pytest-genai[jsonschema]' (or pass a pydantic model class)"
        ) from None
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema)

    def check_schema(data: Any) -> str | None:
        error = jsonschema.exceptions.best_match(validator.iter_errors(data))
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return f"at {where}: {error.message}"

    return check_schema


def edit_ratio(a: str, b: str) -> float:
    """1 - Levenshtein distance / length of the longer text (1.0: identical)."""
    if a == b:
        return 1.0
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0.0
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return 1.0 - previous[-1] / len(a)


def similarity(
    expected: str | None = None,
    *,
    min_ratio: float = 0.8,
    case_sensitive: bool = False,
    name: str = "similarity",
) -> Scorer:
    """Normalised edit-distance ratio between the output text and `expected` (0..1).

    Without `expected`, compares with `expectations["expected_response"]`. Passes at or above
    `min_ratio`. Whitespace runs are collapsed and case ignored unless `case_sensitive=True`.
    """
    if not 0.0 <= min_ratio <= 1.0:
        raise ValueError(f"similarity(min_ratio=...) must be within 0..1, got {min_ratio!r}")

    def score(outputs: Any, expectations: Any) -> Feedback:
        target = expected if expected is not None else _expected_response(expectations)
        a = _normalize(as_text(outputs), case_sensitive=case_sensitive, normalize_whitespace=True)
        b = _normalize(as_text(target), case_sensitive=case_sensitive, normalize_whitespace=True)
        ratio = round(edit_ratio(a, b), 4)
        return Feedback(value=ratio, rationale=f"edit-distance ratio {ratio:.3f} to {target!r:.80}")

    return FunctionScorer(score, name, threshold=min_ratio)


def length(
    *,
    min: int | None = None,
    max: int | None = None,
    unit: Literal["chars", "words"] = "chars",
    name: str = "length",
) -> Scorer:
    """Passes when the output text's length (in characters or words) is within [min, max]."""
    if min is None and max is None:
        raise ValueError("length() needs min=, max= or both")
    if unit not in ("chars", "words"):
        raise ValueError(f"length(unit=...) must be 'chars' or 'words', got {unit!r}")
    low, high = min, max

    def score(outputs: Any) -> Feedback:
        text = as_text(outputs)
        size = len(text.split()) if unit == "words" else len(text)
        ok = (low is None or size >= low) and (high is None or size <= high)
        return Feedback(value=size, passed=ok, rationale=f"{size} {unit}")

    scorer = FunctionScorer(score, name)
    bounds = [f">= {low}" if low is not None else "", f"<= {high}" if high is not None else ""]
    scorer.pass_rule.description = f"{unit} " + " and ".join(b for b in bounds if b)
    return scorer


BUILTIN_FACTORIES = {
    "exact_match": exact_match,
    "equals_expected": equals_expected,
    "contains": contains,
    "regex": regex,
    "is_json": is_json,
    "similarity": similarity,
    "length": length,
    "max_llm_calls": trace_scorers.max_llm_calls,
    "max_tokens": trace_scorers.max_tokens,
    "max_cost": trace_scorers.max_cost,
    "max_latency": trace_scorers.max_latency,
    "tool_called": trace_scorers.tool_called,
}
"""Built-in scorers by name; those callable without arguments may be named as strings."""
