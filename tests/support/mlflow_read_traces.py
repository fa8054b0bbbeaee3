"""Read the traces of one MLflow experiment and print them as JSON (run with MLflow's Python).

This script runs in the separate MLflow virtualenv (``.venv-mlflow``), never in the test
process, so that MLflow and its pins stay out of the project's own environment.
``tests/support/mlflow_server.py`` runs it as::

    .venv-mlflow/bin/python tests/support/mlflow_read_traces.py URL EXPERIMENT_ID

and parses its standard output: a JSON list with one object per trace, oldest first::

    [{"trace_id": "tr-<32 hex>", "otel_trace_id": "<32 hex>", "state": "OK",
      "request_time_ms": ..., "execution_duration_ms": ..., "token_usage": {...} | null,
      "request_preview": ..., "response_preview": ..., "tags": {...}, "metadata": {...},
      "spans": [{"name": ..., "span_id": "<16 hex>", "parent_id": "<16 hex>" | null,
                 "span_type": "LLM" | null, "status": "OK", "status_message": ...,
                 "start_time_ns": ..., "end_time_ns": ..., "inputs": ..., "outputs": ...,
                 "attributes": {...}, "events": [...]}]}]

Attribute values come back decoded (MLflow stores each one JSON-encoded). Values that JSON
cannot hold are printed with ``str``. MLflow is imported inside ``main`` so that importing this
module from the test venv (which has no MLflow) does not fail.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

#: Traces fetched per ``search_traces`` page.
_PAGE_SIZE = 100


def _status(span: Any) -> tuple[str, str | None]:
    """Return a span's status code name (``OK``, ``ERROR``, ``UNSET``) and its message."""
    status = span.status
    code = getattr(status.status_code, "value", status.status_code)
    return str(code), (status.description or None)


def _span_record(span: Any) -> dict[str, Any]:
    """Turn one ``mlflow.entities.Span`` into plain JSON-able data."""
    code, message = _status(span)
    return {
        "name": span.name,
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "span_type": span.span_type,
        "status": code,
        "status_message": message,
        "start_time_ns": span.start_time_ns,
        "end_time_ns": span.end_time_ns,
        "inputs": span.inputs,
        "outputs": span.outputs,
        "attributes": dict(span.attributes),
        "events": [
            {"name": e.name, "timestamp_ns": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in span.events
        ],
    }


def _trace_record(trace: Any) -> dict[str, Any]:
    """Turn one ``mlflow.entities.Trace`` into plain JSON-able data."""
    info = trace.info
    trace_id = info.trace_id
    state = getattr(info.state, "value", info.state)
    return {
        "trace_id": trace_id,
        "otel_trace_id": trace_id.removeprefix("tr-"),
        "state": str(state),
        "request_time_ms": info.request_time,
        "execution_duration_ms": info.execution_duration,
        "token_usage": info.token_usage,
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
        "tags": dict(info.tags or {}),
        "metadata": dict(info.trace_metadata or {}),
        "spans": [_span_record(span) for span in trace.data.spans],
    }


def read_traces(url: str, experiment_id: str) -> list[dict[str, Any]]:
    """Fetch every trace of ``experiment_id`` from the server at ``url``, oldest first."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    traces: list[Any] = []
    page_token: str | None = None
    while True:
        try:
            page = client.search_traces(
                locations=[experiment_id], max_results=_PAGE_SIZE, page_token=page_token
            )
        except TypeError:  # MLflow before 3.x names the argument experiment_ids
            page = client.search_traces(
                experiment_ids=[experiment_id], max_results=_PAGE_SIZE, page_token=page_token
            )
        traces.extend(page)
        page_token = page.token
        if not page_token:
            break
    records = [_trace_record(trace) for trace in traces]
    records.sort(key=lambda r: (r["request_time_ms"] or 0, r["trace_id"]))
    return records


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, read the traces and print them as JSON on standard output."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="tracking server URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("experiment_id", help="experiment whose traces to read")
    args = parser.parse_args(argv)
    records = read_traces(args.url, args.experiment_id)
    json.dump(records, sys.stdout, default=str, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
