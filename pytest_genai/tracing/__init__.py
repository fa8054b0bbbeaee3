"""Tracing: per-test span capture, the `trace` / `start_span` API, litellm autolog, `Trace`
queries and exporters. Import the submodule you need: nothing here imports OpenTelemetry."""
