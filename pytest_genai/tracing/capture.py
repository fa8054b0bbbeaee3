"""Capture: a span processor that keeps each span with the test that was running when it began.

One collector per process, added to the global SDK `TracerProvider` (the app's, or one we
install when there is none) the first time spans can exist: when OpenTelemetry is already
imported as a test starts, or when our own API or litellm autolog makes a span. pytest runs one
test at a time per process, so the test open when a span starts owns it, whatever thread or
asyncio task starts it. A span that ends after its test's report was made is dropped.

This module imports the OTel SDK: it is imported only once spans can exist.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from pytest_genai.current import DETACHED, _fixture_scopes
from pytest_genai.tracing import conventions as cv

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import Span


class TestSpans:
    """The spans one test produced, in the order they ended."""

    __slots__ = ("closed", "nodeid", "spans", "started_ns")

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.started_ns = time.time_ns()
        self.spans: list[ReadableSpan] = []
        self.closed = False


_NOBODY = TestSpans("")
_NOBODY.closed = True
"""The owner of spans made for a test that has finished (deferred judging): dropped."""


class Collector(SpanProcessor):
    """Routes every ended span to the `TestSpans` of the test it started in."""

    def __init__(self) -> None:
        self._open: list[TestSpans] = []  # a stack: pytester runs a pytest inside a test
        self._current: TestSpans | None = None  # the top of the stack, read without a lock
        self._owners: dict[int, TestSpans] = {}
        self._changing = threading.Lock()

    # -- the tests -------------------------------------------------------------------------------

    def open(self, nodeid: str) -> TestSpans:
        spans = TestSpans(nodeid)
        with self._changing:
            self._open.append(spans)
            self._current = spans
        return spans

    def close(self, spans: TestSpans) -> None:
        """The test's report is made: later spans of it are dropped."""
        spans.closed = True
        with self._changing:
            if spans in self._open:
                self._open.remove(spans)
            self._current = self._open[-1] if self._open else None
        if self._owners:
            # a copy made in one step: app threads may start spans meanwhile
            for key, owner in list(self._owners.items()):
                if owner is spans:
                    self._owners.pop(key, None)

    @property
    def current(self) -> TestSpans | None:
        return self._current

    # -- the SDK's calls -------------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        owner = self._current
        if owner is not None and DETACHED.get():
            owner = _NOBODY
        if owner is not None:
            self._owners[span.context.span_id] = owner
            if _fixture_scopes:  # made by a session/module/... fixture: shared, not the test's
                span.set_attribute(cv.FIXTURE_SCOPE, _fixture_scopes[0])

    def on_end(self, span: ReadableSpan) -> None:
        owner = self._owners.pop(span.context.span_id, None)  # type: ignore[union-attr]
        if owner is None:
            # begun before capture was set up (a provider the app installed mid-test)
            owner = self._current
            if owner is None or (span.start_time or 0) < owner.started_ns:
                return
        if not owner.closed:
            owner.spans.append(span)

    def shutdown(self) -> None:
        self._owners.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_lock = threading.Lock()
_collector: Collector | None = None


def collector() -> Collector:
    """This process's collector (made on first use; see `attach`)."""
    global _collector
    if _collector is None:
        with _lock:
            if _collector is None:
                _collector = Collector()
    return _collector


def attach(install: bool) -> None:
    """Make the global tracer provider feed the collector: add it to the app's SDK provider,
    or with `install`, install an SDK provider of ours when there is none.

    Checked at each test: an app may set its provider late, or its tests may swap it.
    """
    created = collector()
    provider = trace_api.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        processors = getattr(provider._active_span_processor, "_span_processors", ())
        if created not in processors:
            provider.add_span_processor(created)
    elif install and isinstance(provider, trace_api.ProxyTracerProvider):
        with _lock:
            ours = TracerProvider()
            ours.add_span_processor(created)
            trace_api.set_tracer_provider(ours)


def attached() -> bool:
    """Whether spans of the global provider reach the collector (not so with a provider that
    is not the SDK's, or with `OTEL_SDK_DISABLED=true`)."""
    provider = trace_api.get_tracer_provider()
    if not isinstance(provider, TracerProvider) or getattr(provider, "_disabled", False):
        return False
    processors = getattr(provider._active_span_processor, "_span_processors", ())
    return _collector is not None and _collector in processors
