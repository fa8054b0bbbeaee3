"""Exporting each test's spans: a JSONL file of OTLP-JSON records (merged from xdist workers),
OTLP/HTTP to a loopback receiver, and to a real MLflow tracking server."""

from __future__ import annotations

import http.server
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

# protobuf modules register themselves once per process: import them before any pytester run
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: F401
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.mlflow_server import MlflowNotFoundError, mlflow_server

APP = """
import pytest
from pytest_genai import start_span, trace

@trace(span_type="RETRIEVER")
def retrieve(query):
    return ["Refunds take 30 days."]

@trace(span_type="TOOL")
def refund(order_id):
    return {"refunded": order_id}

@trace(span_type="AGENT")
def agent(question):
    docs = retrieve(question)
    with start_span("chat demo-model", span_type="CHAT_MODEL") as span:
        span.set_inputs({"messages": [{"role": "user", "content": question}]})
        span.set_attributes({"gen_ai.request.model": "demo-model",
                             "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 5})
        span.set_outputs("I will refund order 7.")
    refund(order_id=7)
    return "Refunded: " + docs[0]

@pytest.mark.parametrize("question", ["refund order 7", "refund again"])
def test_agent(question):
    assert agent(question).startswith("Refunded")

def test_failing():
    agent("refund order 8")
    assert False

def test_without_spans():
    pass
"""


def spans_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        span
        for resource in record["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


def attributes(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def test_jsonl_export(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_app=APP)
    result = pytester.runpytest("--genai-traces=out/traces.jsonl", *xdist_args)
    result.assert_outcomes(passed=3, failed=1)
    lines = (pytester.path / "out" / "traces.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    by_test: dict[str, dict[str, Any]] = {}
    for record in records:
        spans = spans_of(record)
        [nodeid] = {attributes(s)["test.nodeid"] for s in spans}
        by_test[nodeid] = record
        # the record is valid OTLP JSON: protobuf's own parser accepts it
        from google.protobuf import json_format

        json_format.Parse(json.dumps(record), ExportTraceServiceRequest())
    assert sorted(by_test) == [
        "test_app.py::test_agent[refund again]",
        "test_app.py::test_agent[refund order 7]",
        "test_app.py::test_failing",
    ]
    spans = spans_of(by_test["test_app.py::test_agent[refund order 7]"])
    named = {s["name"]: s for s in spans}
    assert set(named) == {"agent", "retrieve", "chat demo-model", "refund"}
    agent = named["agent"]
    assert all(s["parentSpanId"] == agent["spanId"] for n, s in named.items() if n != "agent")
    assert len({s["traceId"] for s in spans}) == 1
    assert attributes(agent)["genai.case.id"] == "refund order 7"
    assert attributes(agent)["test.outcome"] == "passed"
    assert attributes(named["retrieve"])["mlflow.spanOutputs"] == json.dumps(
        [{"page_content": "Refunds take 30 days.", "metadata": {}}]
    )
    assert attributes(named["chat demo-model"])["gen_ai.usage.input_tokens"] == "12"
    failing = spans_of(by_test["test_app.py::test_failing"])
    assert {attributes(s)["test.outcome"] for s in failing} == {"failed"}


def test_jsonl_file_is_written_when_no_test_made_spans(pytester: pytest.Pytester) -> None:
    (pytester.path / "t.jsonl").write_text("stale\n")
    pytester.makepyfile(test_x="def test_x(): pass")
    pytester.runpytest("--genai-traces=t.jsonl").assert_outcomes(passed=1)
    assert (pytester.path / "t.jsonl").read_text() == ""


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[Any]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_otlp_export_to_a_loopback_receiver(
    pytester: pytest.Pytester,
    otlp_receiver: Any,
    monkeypatch: pytest.MonkeyPatch,
    xdist_args: list[str],
) -> None:
    port = otlp_receiver.server_address[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{port}/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-team=evals")
    pytester.makepyfile(test_app=APP)
    result = pytester.runpytest_subprocess("--genai-traces=otlp", *xdist_args)
    result.assert_outcomes(passed=3, failed=1)
    spans = []
    for path, headers, body in otlp_receiver.received:
        assert path == "/v1/traces"
        assert headers.get("x-team") == "evals"
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                spans.extend(scope.spans)
    assert len(spans) == 12  # 4 spans in each of the 3 tests that made spans
    nodeids = set()
    for span in spans:
        attrs = {a.key: a.value for a in span.attributes}
        nodeids.add(attrs["test.nodeid"].string_value)
        if span.name == "refund":
            assert attrs["mlflow.spanType"].string_value == "TOOL"
            assert attrs["gen_ai.tool.name"].string_value == "refund"
    assert len(nodeids) == 3


def test_otlp_without_the_exporter_package(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_genai.tracing import export

    monkeypatch.setattr(export, "otlp_available", lambda: False)
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("--genai-traces=otlp")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*needs the OTLP exporter package: pip install 'pytest-genai*"])
    assert "pip install 'pytest-genai[otlp]'" in result.stderr.str()


@pytest.fixture(scope="module")
def mlflow() -> Iterator[Any]:
    try:
        with mlflow_server() as server:
            yield server
    except MlflowNotFoundError as exc:
        if os.environ.get("GENAI_REQUIRE_MLFLOW"):
            raise
        pytest.skip(f"{exc} (.ci/run installs it; GENAI_REQUIRE_MLFLOW=1 makes this an error)")


@pytest.mark.mlflow
def test_export_to_mlflow(
    pytester: pytest.Pytester, mlflow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real MLflow tracking server takes our OTLP export and shows the span types, inputs,
    outputs and token usage we sent."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", mlflow.otlp_endpoint)
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ",".join(f"{k}={v}" for k, v in mlflow.otlp_headers.items()),
    )
    pytester.makepyfile(test_app=APP)
    result = pytester.runpytest_subprocess("--genai-traces=otlp", "-k", "agent and 7")
    result.assert_outcomes(passed=1)
    [trace] = mlflow.read_traces()
    spans = {s["name"]: s for s in trace["spans"]}
    assert {n: s["span_type"] for n, s in spans.items()} == {
        "agent": "AGENT",
        "retrieve": "RETRIEVER",
        "chat demo-model": "CHAT_MODEL",
        "refund": "TOOL",
    }
    assert spans["agent"]["inputs"] == {"question": "refund order 7"}
    assert spans["agent"]["outputs"] == "Refunded: Refunds take 30 days."
    assert spans["retrieve"]["outputs"] == [
        {"page_content": "Refunds take 30 days.", "metadata": {}}
    ]
    assert spans["refund"]["inputs"] == {"order_id": 7}
    assert spans["refund"]["outputs"] == {"refunded": 7}
    assert spans["chat demo-model"]["parent_id"] == spans["agent"]["span_id"]
    usage = trace["token_usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (12, 5, 17)
    assert spans["agent"]["attributes"]["test.nodeid"] == "test_app.py::test_agent[refund order 7]"


def test_otlp_export_failure_is_reported(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist_args: list[str]
) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{port}/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")
    pytester.makepyfile(test_app=APP)
    result = pytester.runpytest_subprocess("--genai-traces=otlp", "-k", "failing", *xdist_args)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [f"pytest-genai: OTLP export failed: 4 span(s) were not accepted by *:{port}/v1/traces*"]
    )
