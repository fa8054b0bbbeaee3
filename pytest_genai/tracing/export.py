"""Exporting a test's spans: as an OTLP-JSON record (`--genai-traces=PATH.jsonl`), or over
OTLP/HTTP (`--genai-traces=otlp`, the exporter package from the `otlp` extra).

Each exported span carries the test's node id, case id and outcome as attributes, so a collector
or MLflow can tell the tests apart.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_genai.secrets import MASK, secret_key
from pytest_genai.tracing import conventions as cv

OTLP_MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
INSTALL_HINT = "pip install 'pytest-genai[otlp]'"


def test_attributes(nodeid: str, case_id: str, outcome: str) -> dict[str, str]:
    return {cv.TEST_NODEID: nodeid, cv.CASE_ID: case_id, cv.TEST_OUTCOME: outcome}


# -- OTLP JSON (the protobuf JSON mapping of ExportTraceServiceRequest) -----------------------

_KINDS = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
_STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}


def any_value(value: Any) -> dict[str, Any]:
    """An OTLP `AnyValue` in its JSON form (64-bit integers as strings, as the mapping says)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        if math.isfinite(value):
            return {"doubleValue": value}
        return {
            "doubleValue": "NaN" if math.isnan(value) else f"{'-' if value < 0 else ''}Infinity"
        }
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, bytes):
        import base64

        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    return {"stringValue": str(value)}


def key_values(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in attributes.items()]


def clean_attributes(attributes: Mapping[str, Any] | None, redact: Any) -> dict[str, Any]:
    """Attributes as they leave the process: text with secrets masked, and the whole value of
    an attribute named like a credential (spans of other instrumentations were not cleaned when
    they were made)."""
    cleaned: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if secret_key(key):
            cleaned[key] = MASK
            continue
        if isinstance(value, str):
            value = redact(value)
        elif isinstance(value, (list, tuple)):
            value = [redact(v) if isinstance(v, str) else v for v in value]
        cleaned[key] = value
    return cleaned


def _span_json(span: Any, extra: Mapping[str, Any], redact: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "traceId": format(span.context.trace_id, "032x"),
        "spanId": format(span.context.span_id, "016x"),
        "name": span.name,
        "kind": _KINDS.get(span.kind.name, 1),
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or span.start_time or 0),
        "attributes": key_values({**clean_attributes(span.attributes, redact), **extra}),
        "status": {"code": _STATUS.get(span.status.status_code.name, 0)},
    }
    trace_state = span.context.trace_state
    if trace_state:
        record["traceState"] = trace_state.to_header()
    if span.parent is not None:
        record["parentSpanId"] = format(span.parent.span_id, "016x")
    if span.status.description:
        record["status"]["message"] = redact(span.status.description)
    if span.events:
        record["events"] = [
            {
                "timeUnixNano": str(e.timestamp),
                "name": e.name,
                "attributes": key_values(clean_attributes(e.attributes, redact)),
            }
            for e in span.events
        ]
    if span.links:
        record["links"] = [
            {
                "traceId": format(link.context.trace_id, "032x"),
                "spanId": format(link.context.span_id, "016x"),
                "attributes": key_values(clean_attributes(link.attributes, redact)),
            }
            for link in span.links
        ]
    return record


def to_otlp_json(spans: Sequence[Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """One OTLP-JSON `ExportTraceServiceRequest` holding `spans` (SDK `ReadableSpan`s), grouped
    by resource and instrumentation scope, each span with the `extra` attributes added and
    secrets masked in its text."""
    from pytest_genai.secrets import Redactor

    redact = Redactor()
    resources: dict[int, tuple[Any, dict[tuple[str, str], list[dict[str, Any]]]]] = {}
    for span in spans:
        resource = span.resource
        _, scopes = resources.setdefault(id(resource), (resource, {}))
        scope = span.instrumentation_scope
        key = (getattr(scope, "name", "") or "", getattr(scope, "version", "") or "")
        scopes.setdefault(key, []).append(_span_json(span, extra, redact))
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": key_values(dict(resource.attributes))},
                "scopeSpans": [
                    {"scope": _scope(name, version), "spans": records}
                    for (name, version), records in scopes.items()
                ],
            }
            for resource, scopes in resources.values()
        ]
    }


def _scope(name: str, version: str) -> dict[str, str]:
    scope = {"name": name}
    if version:
        scope["version"] = version
    return scope


# -- OTLP/HTTP ------------------------------------------------------------------------------


def otlp_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(OTLP_MODULE) is not None
    except ModuleNotFoundError:
        return False


class OtlpSink:
    """Sends finished tests' spans over OTLP/HTTP from a background thread (the SDK's OTLP
    exporter, configured by the `OTEL_EXPORTER_OTLP_*` variables). The queue is unbounded and
    every span is sent, whatever the app's sampler decided: nothing is dropped for speed."""

    BATCH = 512

    def __init__(self) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        self.exporter = OTLPSpanExporter()
        self.failed = 0
        self.error: str | None = None
        self._queue: queue.Queue[list[Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="genai-otlp-export", daemon=True)
        self._thread.start()

    def send(self, spans: Iterable[Any], extra: Mapping[str, Any]) -> None:
        from pytest_genai.secrets import Redactor

        redact = Redactor()
        self._queue.put([with_attributes(span, extra, redact) for span in spans])

    def _run(self) -> None:
        from opentelemetry.sdk.trace.export import SpanExportResult

        finished = False
        while not finished:
            batch = self._queue.get()
            if batch is None:
                break
            while len(batch) < self.BATCH:  # whatever else is waiting goes in the same request
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    finished = True
                    break
                batch.extend(more)
            try:
                result = self.exporter.export(batch)
            except Exception as exc:
                result, self.error = None, f"{type(exc).__name__}: {exc}"
            if result is not SpanExportResult.SUCCESS:
                self.failed += len(batch)

    def close(self, timeout: float = 60.0) -> str | None:
        """Send what is queued and stop; a problem (the collector was unreachable...) as text."""
        self._queue.put(None)
        self._thread.join(timeout)
        pending = self._thread.is_alive()
        with contextlib.suppress(Exception):
            self.exporter.shutdown()
        if self.failed:
            endpoint = getattr(self.exporter, "_endpoint", "the collector")
            cause = f" ({self.error})" if self.error else ""
            return (
                f"OTLP export failed: {self.failed} span(s) were not accepted by {endpoint}"
                f"{cause} (check OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)"
            )
        if pending:
            return f"OTLP export: not every span was sent within {timeout:g} s"
        return None


def with_attributes(span: Any, extra: Mapping[str, Any], redact: Any = None) -> Any:
    """A copy of an ended span with `extra` attributes added (ended spans are read-only),
    marked sampled, and with `redact`, secrets masked in its text."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import SpanContext, TraceFlags

    def clean(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        return (
            clean_attributes(attributes, redact) if redact is not None else dict(attributes or {})
        )

    context = span.context
    sampled = SpanContext(
        trace_id=context.trace_id,
        span_id=context.span_id,
        is_remote=context.is_remote,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=context.trace_state,
    )
    return ReadableSpan(
        name=span.name,
        context=sampled,
        parent=span.parent,
        resource=span.resource,
        attributes={**clean(span.attributes), **extra},
        events=[Event(e.name, clean(e.attributes), e.timestamp) for e in span.events],
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
