"""A test's spans as `SpanRecord`s: the trace that goes into the JSON and HTML reports."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pytest_genai.results import SpanRecord, json_safe, valid_text
from pytest_genai.secrets import MASK, Redactor, secret_key
from pytest_genai.tracing import conventions as cv
from pytest_genai.tracing.model import Trace

MAX_SPANS = 500
"""Most spans kept per test; a longer trace keeps its first ones and says how many it left."""
ATTRIBUTE_CHARS = 500
"""Longest text kept for an attribute other than the inputs and outputs."""

# shown as fields of their own: not repeated among the attributes
_SHOWN = frozenset(
    {
        *cv._INPUTS,
        *cv._OUTPUTS,
        *cv._MODEL,
        *cv._COSTS,
        *cv._INPUT_TOKENS,
        *cv._OUTPUT_TOKENS,
        cv.MLFLOW_SPAN_TYPE,
        cv.MLFLOW_CHAT_TOKEN_USAGE,
    }
)


def span_records(spans: Iterable[Any], max_chars: int) -> list[SpanRecord]:
    """The SDK's ended spans of one test, in start order, as records: times relative to the
    first span, texts cut to `max_chars` (attributes to `ATTRIBUTE_CHARS`), secrets masked."""
    trace = Trace.from_readable(spans)
    if not trace.spans:
        return []
    redact = Redactor()
    origin = trace.spans[0].start_ns
    kept = trace.spans[:MAX_SPANS]
    ids = {s.span_id for s in kept}
    records = []
    for span in kept:
        attributes = {
            valid_text(key): MASK if secret_key(key) else json_safe(value, ATTRIBUTE_CHARS, redact)
            for key, value in span.attributes.items()
            if key not in _SHOWN
        }
        error = span.error
        records.append(
            SpanRecord.model_construct(
                name=redact(valid_text(span.name)),
                span_id=span.span_id,
                parent_id=span.parent_id if span.parent_id in ids else None,
                type=span.span_type,
                start=round((span.start_ns - origin) / 1e9, 6),
                duration=round(span.duration, 6),
                error=redact(valid_text(str(error)))[:max_chars] if error else None,
                model=span.model,
                input_tokens=span.input_tokens,
                output_tokens=span.output_tokens,
                cost=span.cost,
                inputs=json_safe(span.inputs, max_chars, redact),
                outputs=json_safe(span.outputs, max_chars, redact),
                attributes=attributes,
            )
        )
    if len(trace.spans) > MAX_SPANS:
        last = records[-1]
        last.attributes["pytest_genai.spans_left_out"] = len(trace.spans) - MAX_SPANS
    return records
