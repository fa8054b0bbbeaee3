from __future__ import annotations

import base64
import copy
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry import trace as trace_api
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as ProtoStatus
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from pytest_genai.tracing import export
from pytest_genai.tracing.export import any_value, to_otlp_json, with_attributes
from pytest_genai.tracing.model import Trace

EXTRA = export.test_attributes("tests/test_app.py::test_answer[refund]", "refund", "failed")


@dataclass
class Provider:
    provider: TracerProvider
    exporter: InMemorySpanExporter

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


def make_provider(service: str) -> Provider:
    """A standalone SDK provider (never the global one) keeping its ended spans in memory."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Provider(provider, exporter)


@pytest.fixture
def app() -> Iterator[Provider]:
    made = make_provider("app")
    yield made
    made.provider.shutdown()


def record_agent(app: Provider) -> list[ReadableSpan]:
    """agent (OK) ── call (CLIENT, failed, two events); "other" scope: cache (UNSET)."""
    tracer = app.provider.get_tracer("app.scope", "1.2")
    root = tracer.start_span(
        "agent",
        start_time=1_000,
        attributes={
            "text": "hello",
            "count": 42,
            "big": 2**62,
            "ratio": 0.5,
            "flag": True,
            "tags": ("a", "b"),
            "sizes": (1, 2),
            "test.outcome": "from the app",
        },
    )
    child = tracer.start_span(
        "call",
        context=trace_api.set_span_in_context(root),
        kind=SpanKind.CLIENT,
        start_time=1_500,
    )
    child.add_event("retry", {"attempt": 1}, timestamp=1_600)
    child.record_exception(ValueError("bad reply"), timestamp=1_700)
    child.set_status(Status(StatusCode.ERROR, "ValueError: bad reply"))
    child.end(end_time=1_800)
    root.set_status(Status(StatusCode.OK))
    root.end(end_time=2_000)
    other = app.provider.get_tracer("other")
    cache = other.start_span("cache", start_time=2_100)
    cache.end(end_time=2_200)
    return app.spans()


def attributes_of(record: dict[str, Any]) -> dict[str, Any]:
    return {kv["key"]: kv["value"] for kv in record["attributes"]}


def by_name(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        span["name"]: span
        for resource in request["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    }


# -- any_value -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", {"stringValue": "text"}),
        ("", {"stringValue": ""}),
        (True, {"boolValue": True}),
        (False, {"boolValue": False}),
        (0, {"intValue": "0"}),
        (-7, {"intValue": "-7"}),
        (2**63 - 1, {"intValue": "9223372036854775807"}),
        (1.25, {"doubleValue": 1.25}),
        (b"\x00\xff", {"bytesValue": "AP8="}),
        (
            ("a", 1, False),
            {
                "arrayValue": {
                    "values": [{"stringValue": "a"}, {"intValue": "1"}, {"boolValue": False}]
                }
            },
        ),
        ([], {"arrayValue": {"values": []}}),
        ([[1.5]], {"arrayValue": {"values": [{"arrayValue": {"values": [{"doubleValue": 1.5}]}}]}}),
    ],
)
def test_any_value(value: Any, expected: dict[str, Any]) -> None:
    assert any_value(value) == expected


def test_any_value_of_floats_json_cannot_hold() -> None:
    """The protobuf JSON mapping writes these as strings: a bare NaN in a record is not JSON."""
    encoded = [any_value(v) for v in (math.nan, math.inf, -math.inf)]
    assert encoded == [
        {"doubleValue": "NaN"},
        {"doubleValue": "Infinity"},
        {"doubleValue": "-Infinity"},
    ]
    json.dumps(encoded, allow_nan=False)


# -- to_otlp_json --------------------------------------------------------------------------------


def test_structure_groups_by_resource_and_scope(app: Provider) -> None:
    request = to_otlp_json(record_agent(app), EXTRA)
    [resource] = request["resourceSpans"]
    assert attributes_of(resource["resource"])["service.name"] == {"stringValue": "app"}
    scopes = resource["scopeSpans"]
    assert [s["scope"] for s in scopes] == [
        {"name": "app.scope", "version": "1.2"},
        {"name": "other"},
    ]
    assert [[span["name"] for span in s["spans"]] for s in scopes] == [["call", "agent"], ["cache"]]


def test_spans_of_two_resources(app: Provider) -> None:
    other = make_provider("worker")
    try:
        with other.provider.get_tracer("w").start_as_current_span("job"):
            pass
        spans = [*record_agent(app), *other.spans()]
    finally:
        other.provider.shutdown()
    request = to_otlp_json(spans, {})
    services = [
        attributes_of(r["resource"])["service.name"]["stringValue"]
        for r in request["resourceSpans"]
    ]
    assert services == ["app", "worker"]
    assert [s["name"] for s in request["resourceSpans"][1]["scopeSpans"][0]["spans"]] == ["job"]


def test_ids_times_kind_and_status(app: Provider) -> None:
    spans = {s.name: s for s in record_agent(app)}
    found = by_name(to_otlp_json(list(spans.values()), EXTRA))
    agent, call, cache = found["agent"], found["call"], found["cache"]
    for name, span in found.items():
        assert re.fullmatch("[0-9a-f]{32}", span["traceId"])
        assert re.fullmatch("[0-9a-f]{16}", span["spanId"])
        assert int(span["spanId"], 16) == spans[name].context.span_id
        assert int(span["traceId"], 16) == spans[name].context.trace_id
    assert call["traceId"] == agent["traceId"]
    assert call["parentSpanId"] == agent["spanId"]
    assert "parentSpanId" not in agent and "parentSpanId" not in cache
    assert (agent["startTimeUnixNano"], agent["endTimeUnixNano"]) == ("1000", "2000")
    assert (call["startTimeUnixNano"], call["endTimeUnixNano"]) == ("1500", "1800")
    assert (agent["kind"], call["kind"]) == (1, 3)
    assert agent["status"] == {"code": 1}
    assert call["status"] == {"code": 2, "message": "ValueError: bad reply"}
    assert cache["status"] == {"code": 0}


def test_attribute_kinds_and_the_tests_attributes(app: Provider) -> None:
    found = by_name(to_otlp_json(record_agent(app), EXTRA))
    agent = attributes_of(found["agent"])
    assert agent["text"] == {"stringValue": "hello"}
    assert agent["count"] == {"intValue": "42"}
    assert agent["big"] == {"intValue": str(2**62)}
    assert agent["ratio"] == {"doubleValue": 0.5}
    assert agent["flag"] == {"boolValue": True}
    assert agent["tags"] == {"arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}}
    assert agent["sizes"] == {"arrayValue": {"values": [{"intValue": "1"}, {"intValue": "2"}]}}
    expected_extra = {k: {"stringValue": v} for k, v in EXTRA.items()}
    assert set(EXTRA) == {"test.nodeid", "genai.case.id", "test.outcome"}
    for span in found.values():
        attributes = attributes_of(span)
        # the test's attributes win over an app attribute of the same name
        assert {k: attributes[k] for k in EXTRA} == expected_extra
        assert len(attributes) == len(span["attributes"])  # no key written twice
    assert agent["test.outcome"] == {"stringValue": "failed"}


def test_events(app: Provider) -> None:
    found = by_name(to_otlp_json(record_agent(app), EXTRA))
    retry, exception = found["call"]["events"]
    assert retry == {
        "timeUnixNano": "1600",
        "name": "retry",
        "attributes": [{"key": "attempt", "value": {"intValue": "1"}}],
    }
    assert (exception["timeUnixNano"], exception["name"]) == ("1700", "exception")
    attributes = attributes_of(exception)
    assert attributes["exception.type"] == {"stringValue": "ValueError"}
    assert attributes["exception.message"] == {"stringValue": "bad reply"}
    assert "events" not in found["agent"]


def test_record_is_plain_json(app: Provider) -> None:
    request = to_otlp_json(record_agent(app), EXTRA)
    assert json.loads(json.dumps(request, allow_nan=False)) == request


def test_no_spans() -> None:
    assert to_otlp_json([], EXTRA) == {"resourceSpans": []}


def test_extra_attributes_leave_the_spans_as_they_were(app: Provider) -> None:
    spans = record_agent(app)
    before = [dict(s.attributes or {}) for s in spans]
    to_otlp_json(spans, EXTRA)
    assert [dict(s.attributes or {}) for s in spans] == before


# -- the OTLP protobuf ---------------------------------------------------------------------------


def parse_otlp(request: dict[str, Any]) -> ExportTraceServiceRequest:
    """Parse OTLP JSON the way a receiver does: ids are hex (not the base64 of protobuf's own
    JSON mapping), everything else follows the mapping. Unknown fields are rejected."""
    shaped = copy.deepcopy(request)
    for resource in shaped["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode("ascii")
    return json_format.Parse(json.dumps(shaped), ExportTraceServiceRequest())


def test_record_is_a_valid_otlp_export_request(app: Provider) -> None:
    spans = {s.name: s for s in record_agent(app)}
    message = parse_otlp(to_otlp_json(list(spans.values()), EXTRA))
    [resource] = message.resource_spans
    service = {kv.key: kv.value.string_value for kv in resource.resource.attributes}
    assert service["service.name"] == "app"
    assert [(s.scope.name, s.scope.version) for s in resource.scope_spans] == [
        ("app.scope", "1.2"),
        ("other", ""),
    ]
    parsed = {span.name: span for scope in resource.scope_spans for span in scope.spans}
    assert set(parsed) == {"agent", "call", "cache"}
    for name, span in parsed.items():
        context = spans[name].context
        assert span.trace_id == context.trace_id.to_bytes(16, "big")
        assert span.span_id == context.span_id.to_bytes(8, "big")
    agent, call, cache = parsed["agent"], parsed["call"], parsed["cache"]
    assert call.parent_span_id == agent.span_id and agent.parent_span_id == b""
    assert (agent.start_time_unix_nano, agent.end_time_unix_nano) == (1_000, 2_000)
    assert (agent.kind, call.kind) == (ProtoSpan.SPAN_KIND_INTERNAL, ProtoSpan.SPAN_KIND_CLIENT)
    assert agent.status.code == ProtoStatus.STATUS_CODE_OK
    assert cache.status.code == ProtoStatus.STATUS_CODE_UNSET
    assert (call.status.code, call.status.message) == (
        ProtoStatus.STATUS_CODE_ERROR,
        "ValueError: bad reply",
    )
    values = {kv.key: kv.value for kv in agent.attributes}
    assert values["text"].string_value == "hello"
    assert values["count"].int_value == 42
    assert values["big"].int_value == 2**62
    assert values["ratio"].double_value == 0.5
    assert values["flag"].bool_value is True
    assert [v.string_value for v in values["tags"].array_value.values] == ["a", "b"]
    assert [v.int_value for v in values["sizes"].array_value.values] == [1, 2]
    assert values["test.nodeid"].string_value == EXTRA["test.nodeid"]
    assert [(e.name, e.time_unix_nano) for e in call.events] == [
        ("retry", 1_600),
        ("exception", 1_700),
    ]
    assert call.events[0].attributes[0].value.int_value == 1


def test_parse_rejects_a_malformed_record() -> None:
    """The check above can fail: a misspelt field is not valid OTLP."""
    bad = {"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x", "startTime": "1"}]}]}]}
    with pytest.raises(json_format.ParseError, match="startTime"):
        parse_otlp(bad)


# -- with_attributes -----------------------------------------------------------------------------


def test_with_attributes_keeps_everything_and_adds_attributes(app: Provider) -> None:
    spans = record_agent(app)
    call = next(s for s in spans if s.name == "call")
    copied = with_attributes(call, EXTRA)
    assert copied is not call
    assert dict(copied.attributes or {}) == {**dict(call.attributes or {}), **EXTRA}
    assert dict(call.attributes or {}) == {}  # the original is untouched
    for field in (
        "name",
        "parent",
        "resource",
        "links",
        "kind",
        "status",
        "start_time",
        "end_time",
        "instrumentation_scope",
    ):
        assert getattr(copied, field) == getattr(call, field), field
    assert (copied.context.trace_id, copied.context.span_id) == (
        call.context.trace_id,
        call.context.span_id,
    )
    assert copied.context.trace_flags.sampled  # exported whatever the app's sampler said
    assert [(e.name, dict(e.attributes or {}), e.timestamp) for e in copied.events] == [
        (e.name, dict(e.attributes or {}), e.timestamp) for e in call.events
    ]
    # exporting the copies is exporting the spans with the extra attributes
    copies = [with_attributes(s, EXTRA) for s in spans]
    assert to_otlp_json(copies, {}) == to_otlp_json(spans, EXTRA)


def test_exported_spans_read_back_as_a_trace(app: Provider) -> None:
    trace = Trace.from_readable(with_attributes(s, EXTRA) for s in record_agent(app))
    agent = trace.assert_span("agent", count=1)
    call = trace.assert_span("call", child_of=agent, errors=True)
    assert call.error == "ValueError: bad reply"
    assert call.attributes["test.nodeid"] == EXTRA["test.nodeid"]
    assert (agent.start_ns, agent.end_ns, agent.status) == (1_000, 2_000, "OK")


def test_credential_named_attributes_are_masked_whatever_they_hold() -> None:
    from pytest_genai.secrets import Redactor
    from pytest_genai.tracing.export import clean_attributes

    cleaned = clean_attributes(
        {
            "api_key": "plainvalue12345678",
            "llm.password": "hunter2hunter2",
            "http.request.header.authorization": ["Basic abc"],
            "gen_ai.request.model": "gpt-4o-mini",
        },
        Redactor({}),
    )
    assert cleaned == {
        "api_key": "***",
        "llm.password": "***",
        "http.request.header.authorization": "***",
        "gen_ai.request.model": "gpt-4o-mini",
    }
