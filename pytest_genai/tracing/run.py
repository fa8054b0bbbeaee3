"""The tracing side of a run: open each test's capture, add the failure section, export.

Kept by the run state (`session.GenaiSession.tracing`). Imported when the plugin loads, so it
imports OpenTelemetry only once spans can exist (see `capture`).
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pytest

from pytest_genai.config import Settings

if TYPE_CHECKING:
    from pytest_genai.results import SpanRecord
    from pytest_genai.tracing.capture import TestSpans
    from pytest_genai.tracing.export import OtlpSink
    from pytest_genai.tracing.model import Trace

SPANS_KEY = pytest.StashKey["TestSpans"]()
TRACE_ATTR = "genai_trace"
"""The teardown-report attribute that carries a test's OTLP-JSON record (with `--genai-traces`
set to a `.jsonl` file) from a worker to the controller."""
SECTION = "genai trace"
NOT_CAPTURED = (
    "the test's spans can't be captured: the global OpenTelemetry tracer provider is not the "
    "SDK's TracerProvider, or OTEL_SDK_DISABLED is set (see the tracing page of the docs)"
)


def otel_loaded() -> bool:
    """Whether anything in this process imported the OpenTelemetry API yet (a dict lookup)."""
    return "opentelemetry.trace" in sys.modules


def _check_export(settings: Settings) -> None:
    if not settings.tracing:
        raise pytest.UsageError(
            "pytest-genai: --genai-traces exports captured spans, but capture is off "
            "(genai_tracing = false): turn tracing on, or drop --genai-traces"
        )
    if settings.traces == "otlp":
        from pytest_genai.tracing.export import INSTALL_HINT, otlp_available

        if not otlp_available():
            raise pytest.UsageError(
                f"pytest-genai: --genai-traces=otlp needs the OTLP exporter package: {INSTALL_HINT}"
            )


class TraceRun:
    """Per-test capture and export for one run."""

    def __init__(self, settings: Settings, is_worker: bool) -> None:
        self.settings = settings
        self.enabled = settings.tracing
        self.is_worker = is_worker
        self.jsonl = settings.traces if isinstance(settings.traces, Path) else None
        self._file: IO[str] | None = None
        self._closed = False
        self.used = False
        """Whether any test's spans were ever captured in this process (until then, a test's
        end has nothing to do here)."""
        self._open: list[TestSpans] = []
        self._opening = threading.Lock()
        self._sink: OtlpSink | None = None
        self.problems: list[str] = []
        if settings.traces is not None:
            _check_export(settings)
        from pytest_genai.tracing import autolog

        self._autolog_before = autolog.enabled  # a pytest run inside a test restores it
        autolog.enabled = self.enabled
        if self.enabled:
            autolog.install()

    # -- per test --------------------------------------------------------------------------------

    def before_setup(self, item: pytest.Item) -> None:
        """Capture from the start of setup when the app uses OpenTelemetry already (its own
        provider, if it set one, gets our processor; none is installed yet, so an app fixture
        may still install its own)."""
        if self.enabled and otel_loaded():
            self.open(item, install=False)

    def before_call(self, item: pytest.Item) -> None:
        """Capture from the call on. A provider of ours is installed only for a test that asked
        for `genai_trace`: otherwise the app may still set its own (our own spans install one
        when they are made)."""
        if self.enabled and otel_loaded():
            self.open(item, install="genai_trace" in getattr(item, "fixturenames", ()))

    def open(self, item: pytest.Item, install: bool) -> None:
        """Make sure the test's spans are captured (idempotent)."""
        if not self.enabled:
            return
        from pytest_genai.tracing import capture

        capture.attach(install)
        self.used = True
        with self._opening:  # two threads making a test's first spans at once
            if SPANS_KEY not in item.stash:
                spans = capture.collector().open(item.nodeid)
                item.stash[SPANS_KEY] = spans
                self._open.append(spans)

    def spans(self, item: pytest.Item) -> list[Any]:
        """The test's ended spans so far (SDK `ReadableSpan`s); an error when spans can't be
        captured, rather than an empty trace that would pass every check."""
        from pytest_genai.tracing import capture

        if not capture.attached():
            raise RuntimeError(NOT_CAPTURED)
        spans = item.stash.get(SPANS_KEY, None)
        return spans.spans if spans is not None else []

    def trace(self, item: pytest.Item) -> Trace | None:
        """The test's trace so far: None when tracing is off or spans can't be captured, empty
        when OpenTelemetry was never used (nothing can have been traced)."""
        if not self.enabled:
            return None
        from pytest_genai.tracing.model import Trace

        if not otel_loaded():
            return Trace(())
        from pytest_genai.tracing import capture

        if not capture.attached():
            return None
        spans = item.stash.get(SPANS_KEY, None)
        return Trace.from_readable(spans.spans if spans is not None else ())

    def records(self, item: pytest.Item) -> list[SpanRecord]:
        """The test's spans as report records (none when nothing was captured)."""
        spans = item.stash.get(SPANS_KEY, None) if self.used else None
        if spans is None or not spans.spans:
            return []
        from pytest_genai.tracing.records import span_records

        return span_records(spans.spans, self.settings.max_value_chars)

    def on_failed_phase(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """A failed setup or call shows the test's span tree in its report."""
        spans = item.stash.get(SPANS_KEY, None)
        if spans is None or not spans.spans:
            return
        from pytest_genai.secrets import redact
        from pytest_genai.tracing.model import Trace

        try:
            text = Trace.from_readable(spans.spans).text(max_lines=40)
        except Exception as exc:  # the failure itself matters more than its trace
            text = f"(the trace could not be shown: {type(exc).__name__}: {exc})"
        report.sections.append((SECTION, redact(text)))

    def finish_item(self, item: pytest.Item, report: pytest.TestReport, outcome: str) -> None:
        """The test's report is made: stop capturing for it, export, let go of its spans."""
        api = sys.modules.get("pytest_genai.tracing.api")
        if api is not None:  # not imported just for this: a run without spans never needs it
            api.forget_item()
        spans = item.stash.get(SPANS_KEY, None)
        if spans is None:
            return
        del item.stash[SPANS_KEY]
        from pytest_genai.tracing import capture

        capture.collector().close(spans)
        if spans in self._open:
            self._open.remove(spans)
        if not spans.spans or self.settings.traces is None:
            return
        try:
            self._export(item.nodeid, spans, report, outcome)
        except Exception as exc:  # an export problem must not fail the test
            problem = f"could not export the trace of {item.nodeid}: {type(exc).__name__}: {exc}"
            self.problems.append(problem)

    def _export(
        self, nodeid: str, spans: TestSpans, report: pytest.TestReport, outcome: str
    ) -> None:
        from pytest_genai.outcome import split_nodeid
        from pytest_genai.tracing.export import OtlpSink, test_attributes, to_otlp_json

        extra = test_attributes(nodeid, split_nodeid(nodeid)[1], outcome)
        if self.jsonl is None:
            if self._sink is None:
                self._sink = OtlpSink()
            self._sink.send(spans.spans, extra)
            return
        record = to_otlp_json(spans.spans, extra)
        if self.is_worker:
            setattr(report, TRACE_ATTR, record)
        else:
            self.write(record)

    # -- the controller --------------------------------------------------------------------------

    def on_report(self, report: pytest.TestReport) -> None:
        record = getattr(report, TRACE_ATTR, None)
        if record is not None:
            delattr(report, TRACE_ATTR)
            self.write(record)

    def write(self, record: dict[str, Any]) -> None:
        if self.jsonl is None:
            return
        try:
            if self._file is None:
                self.jsonl.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.jsonl.open("w", encoding="utf-8")
            self._file.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        except OSError as exc:
            problem = f"could not write the traces file {self.jsonl}: {exc}"
            if problem not in self.problems:
                self.problems.append(problem)

    def close(self) -> None:
        """End of the run: the traces file is complete, OTLP spans are flushed (once)."""
        if self._closed:
            return
        self._closed = True
        from pytest_genai.tracing import autolog

        autolog.enabled = self._autolog_before
        if self._open:  # tests that never got a teardown report (an interrupted run)
            from pytest_genai.tracing import capture

            for spans in self._open:
                capture.collector().close(spans)
            self._open.clear()
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                self.problems.append(f"could not write the traces file {self.jsonl}: {exc}")
            self._file = None
        elif self.jsonl is not None and not self.is_worker and not self.problems:
            try:  # a run without spans still leaves the file it was asked for
                self.jsonl.parent.mkdir(parents=True, exist_ok=True)
                self.jsonl.write_text("", encoding="utf-8")
            except OSError as exc:
                self.problems.append(f"could not write the traces file {self.jsonl}: {exc}")
        if self._sink is not None:
            problem = self._sink.close()
            if problem:
                self.problems.append(problem)
            self._sink = None
