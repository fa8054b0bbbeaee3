"""Exporting a test's spans: as an OTLP-JSON record (`--genai-traces=PATH.jsonl`), or over
OTLP/HTTP (`--genai-traces=otlp`, the exporter package from the `otlp` extra).

Each exported span carries the test's node id, case id and outcome as attributes, so a collector
or MLflow can tell the tests apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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


def _span_json(span: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "traceId": format(span.context.trace_id, "032x"),
        "spanId": format(span.context.span_id, "016x"),
        "name": span.name,
        "kind": _KINDS.get(span.kind.name, 1),
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or span.start_time or 0),
        "attributes": key_values({**dict(span.attributes or {}), **extra}),
        "status": {"code": _STATUS.get(span.status.status_code.name, 0)},
    }
    if span.parent is not None:
        record["parentSpanId"] = format(span.parent.span_id, "016x")
    if span.status.description:
        record["status"]["message"] = span.status.description
    if span.events:
        record["events"] = [
            {
                "timeUnixNano": str(e.timestamp),
                "name": e.name,
                "attributes": key_values(dict(e.attributes or {})),
            }
            for e in span.events
        ]
    return record


def to_otlp_json(spans: Sequence[Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """One OTLP-JSON `ExportTraceServiceRequest` holding `spans` (SDK `ReadableSpan`s), grouped
    by resource and instrumentation scope, each span with the `extra` attributes added."""
    resources: dict[int, tuple[Any, dict[tuple[str, str], list[dict[str, Any]]]]] = {}
    for span in spans:
        resource = span.resource
        _, scopes = resources.setdefault(id(resource), (resource, {}))
        scope = span.instrumentation_scope
        key = (getattr(scope, "name", "") or "", getattr(scope, "version", "") or "")
        scopes.setdefault(key, []).append(_span_json(span, extra))
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
    """Sends finished tests' spans over OTLP/HTTP from a background thread (the SDK's batch
    processor around its OTLP exporter, configured by the `OTEL_EXPORTER_OTLP_*` variables)."""

    def __init__(self) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.exporter = _counting(OTLPSpanExporter())
        self.processor = BatchSpanProcessor(self.exporter)

    def send(self, spans: Iterable[Any], extra: Mapping[str, Any]) -> None:
        for span in spans:
            self.processor.on_end(with_attributes(span, extra))

    def close(self) -> str | None:
        """Flush and stop; a problem (the collector was unreachable...) as text."""
        flushed = self.processor.force_flush(timeout_millis=30_000)
        self.processor.shutdown()
        failed = self.exporter.failed
        if failed:
            endpoint = getattr(self.exporter.inner, "_endpoint", "the collector")
            return (
                f"OTLP export failed: {failed} span(s) were not accepted by {endpoint} "
                "(check OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)"
            )
        if not flushed:
            return "OTLP export: not every span was sent within 30 s"
        return None


def _counting(inner: Any) -> Any:
    """The exporter, counting the spans it failed to send (the OTLP exporter only logs them)."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Counting(SpanExporter):
        def __init__(self) -> None:
            self.inner = inner
            self.failed = 0

        def export(self, spans: Sequence[Any]) -> Any:
            result = inner.export(spans)
            if result is not SpanExportResult.SUCCESS:
                self.failed += len(spans)
            return result

        def shutdown(self) -> None:
            inner.shutdown()

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return inner.force_flush(timeout_millis)

    return Counting()


def with_attributes(span: Any, extra: Mapping[str, Any]) -> Any:
    """A copy of an ended span with `extra` attributes added (ended spans are read-only)."""
    from opentelemetry.sdk.trace import ReadableSpan

    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes={**dict(span.attributes or {}), **extra},
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
