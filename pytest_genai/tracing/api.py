"""The instrumentation API: `@trace` and `start_span`, with MLflow's span types.

Spans go through the global OpenTelemetry tracer provider, so they nest with spans of any other
instrumentation and reach whatever exporters the app set up. Under pytest, the first span of a
test makes sure the test's spans are captured (installing an SDK provider when the app has
none). Values are made JSON-safe, secrets masked, and strings truncated at
`genai_max_value_chars`; with `genai_capture_content = false` inputs and outputs are left out.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from pytest_genai.tracing import conventions as cv
from pytest_genai.tracing.values import attribute_value, documents, encode

__all__ = ["LiveSpan", "documents", "start_span", "trace"]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_VALUE_CHARS = 4000
_SKIPPED_PARAMETERS = ("self", "cls")


class _Options:
    """What the running test's settings say about span values (defaults outside pytest).
    Never changed once made: a new test gets a new one."""

    __slots__ = ("capture_content", "item", "max_chars")

    def __init__(
        self, item: Any = None, capture_content: bool = True, max_chars: int = DEFAULT_VALUE_CHARS
    ) -> None:
        self.item = item
        self.capture_content = capture_content
        self.max_chars = max_chars


_options = _Options()
_DETACHED_OPTIONS = _Options()
_tracer: tuple[Any, Any] | None = None  # (the provider, its tracer)


def _prepare() -> _Options:
    """Per span: the running test's options, and its spans captured."""
    global _options
    from pytest_genai.current import DETACHED, current_item

    if DETACHED.get():  # work of a finished test (deferred judging): no test's options
        return _DETACHED_OPTIONS
    item = current_item()
    options = _options
    if item is not options.item:
        options = _Options(item)
        if item is not None:
            from pytest_genai.session import get_session

            session = get_session(item.config)
            if session is not None:
                settings = session.settings
                options = _Options(item, settings.capture_content, settings.max_value_chars)
                session.tracing.open(item, install=True)
        _options = options
    return options


def _get_tracer() -> Any:
    """Our tracer from the current global provider (an app or its tests may swap it)."""
    global _tracer
    from opentelemetry import trace as trace_api

    provider = trace_api.get_tracer_provider()
    cached = _tracer
    if cached is None or cached[0] is not provider:
        cached = (provider, provider.get_tracer("pytest_genai"))
        _tracer = cached
    return cached[1]


def capture_content() -> bool:
    """Whether the running test's settings let spans hold content (True outside pytest)."""
    return _prepare().capture_content


def forget_item() -> None:
    """The running test ended: the next span looks again (called at each test's end)."""
    global _options
    _options = _Options()


def start_attributes(name: str, span_type: str) -> dict[str, Any]:
    """The attributes that declare a span's type under each convention."""
    kind = span_type.upper()
    attributes: dict[str, Any] = {
        cv.MLFLOW_SPAN_TYPE: kind,
        cv.OPENINFERENCE_SPAN_KIND: cv.OPENINFERENCE_KINDS.get(kind, "UNKNOWN"),
    }
    operation = cv.OPERATIONS.get(kind)
    if operation is not None:
        attributes[cv.GEN_AI_OPERATION_NAME] = operation
    if kind == cv.SpanType.TOOL:
        attributes[cv.GEN_AI_TOOL_NAME] = name
    return attributes


def _check_type(span_type: str) -> str:
    kind = str(span_type).upper()
    if kind not in cv.SPAN_TYPES:
        raise ValueError(
            f"unknown span_type {span_type!r}: use one of {', '.join(sorted(cv.SPAN_TYPES))}"
        )
    return kind


class LiveSpan:
    """A span being recorded: the object `start_span` gives and `@trace` fills in."""

    __slots__ = ("_options", "span", "span_type")

    def __init__(self, span: Any, span_type: str, options: _Options) -> None:
        self.span = span
        """The underlying OpenTelemetry span."""
        self.span_type = span_type
        self._options = options

    def set_inputs(self, inputs: Any) -> None:
        """Record the span's inputs (JSON-safe, truncated; left out without content capture)."""
        if self._options.capture_content and self.span.is_recording():
            self.span.set_attribute(cv.MLFLOW_SPAN_INPUTS, encode(inputs, self._options.max_chars))

    def set_outputs(self, outputs: Any) -> None:
        """Record the span's outputs; a RETRIEVER's documents take the shape
        `[{"page_content": ..., "metadata": {"doc_uri": ...}}]`."""
        if self._options.capture_content and self.span.is_recording():
            if self.span_type == cv.SpanType.RETRIEVER:
                outputs = documents(outputs)
            self.span.set_attribute(
                cv.MLFLOW_SPAN_OUTPUTS, encode(outputs, self._options.max_chars)
            )

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute; text is truncated and secrets masked like inputs, and values OTel
        can't hold are stored as JSON text."""
        self.span.set_attribute(key, attribute_value(value, self._options.max_chars))

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None) -> None:
        """Add an event; its attributes are cleaned as `set_attribute` cleans values."""
        max_chars = self._options.max_chars
        cleaned = {k: attribute_value(v, max_chars) for k, v in (attributes or {}).items()}
        self.span.add_event(name, cleaned)

    def record_exception(self, exc: BaseException) -> None:
        """Record `exc` and mark the span failed."""
        _fail(self.span, exc)


def _fail(span: Any, exc: BaseException) -> None:
    """Record `exc` as OTel's `exception` event, with secrets masked in its message and
    stack trace, and mark the span failed."""
    import traceback

    from opentelemetry.trace import Status, StatusCode

    from pytest_genai.results import truncate_text
    from pytest_genai.secrets import Redactor

    redact = Redactor()
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    message = redact(truncate_text(str(exc), 2000))
    stacktrace = redact("".join(traceback.format_exception(kind, exc, exc.__traceback__)))
    span.add_event(
        "exception",
        {
            "exception.type": name,
            "exception.message": message,
            "exception.stacktrace": truncate_text(stacktrace, 8000),
            "exception.escaped": "False",
        },
    )
    span.set_status(Status(StatusCode.ERROR, f"{kind.__name__}: {message}"))
    span.set_attribute(cv.ERROR_TYPE, kind.__qualname__)


class start_span:
    """A span around a block: `with start_span("retrieve", span_type="RETRIEVER") as span:`.

    The block's exception is recorded on the span and re-raised. The span is the current one
    inside the block, so spans started there (litellm calls, other instrumentation) nest in it.
    """

    __slots__ = ("_cm", "_live", "attributes", "name", "span_type")

    def __init__(
        self,
        name: str,
        span_type: str = cv.SpanType.UNKNOWN,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.span_type = _check_type(span_type)
        self.attributes = attributes
        self._cm: Any = None
        self._live: LiveSpan | None = None

    def __enter__(self) -> LiveSpan:
        options = _prepare()
        self._cm = _get_tracer().start_as_current_span(
            self.name,
            attributes=start_attributes(self.name, self.span_type),
            record_exception=False,
            set_status_on_exception=False,
            end_on_exit=True,
        )
        span = self._cm.__enter__()
        self._live = LiveSpan(span, self.span_type, options)
        if self.attributes:
            self._live.set_attributes(self.attributes)
        return self._live

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None and self._live is not None:
            _fail(self._live.span, exc)
        self._cm.__exit__(exc_type, exc, tb)


@overload
def trace(func: F, /) -> F: ...


@overload
def trace(
    *,
    name: str | None = None,
    span_type: str = cv.SpanType.UNKNOWN,
    attributes: Mapping[str, Any] | None = None,
) -> Callable[[F], F]: ...


def trace(
    func: F | None = None,
    /,
    *,
    name: str | None = None,
    span_type: str = cv.SpanType.UNKNOWN,
    attributes: Mapping[str, Any] | None = None,
) -> F | Callable[[F], F]:
    """Trace a function: each call becomes a span named after it (or `name`), of `span_type`.

    Works on plain, async, generator and async-generator functions. The span's inputs are the
    call's bound arguments (without `self` / `cls`), its outputs the return value (for
    generators, the list of items yielded), and an exception is recorded and re-raised.
    Use bare (`@trace`) or with options (`@trace(span_type="TOOL")`).
    """
    kind = _check_type(span_type)

    def decorate(f: F) -> F:
        return _wrap(f, name or getattr(f, "__name__", "span"), kind, attributes)

    return decorate(func) if func is not None else decorate


def _binder(func: Any) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """The call's arguments by parameter name (without `self` / `cls`), as `Signature.bind`
    gives them, with a fast path for plain positional and keyword calls."""
    try:
        signature: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):
        signature = None
    if signature is None:
        return lambda args, kwargs: {"args": list(args), "kwargs": kwargs}
    parameters = list(signature.parameters.values())
    plain = all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in parameters)
    positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    names = frozenset(p.name for p in parameters)
    skip = 1 if positional and positional[0] in _SKIPPED_PARAMETERS else 0

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if plain and len(args) <= len(positional):
            bound = dict(zip(positional[skip:], args[skip:], strict=False))
            if not kwargs:
                return bound
            if names.issuperset(kwargs) and bound.keys().isdisjoint(kwargs):
                bound.update(kwargs)
                return bound
        try:
            arguments = signature.bind(*args, **kwargs).arguments
        except TypeError:
            return {"args": list(args), "kwargs": kwargs}
        return {k: v for k, v in arguments.items() if k not in _SKIPPED_PARAMETERS}

    return bind


def _wrap(func: Any, name: str, span_type: str, attributes: Mapping[str, Any] | None) -> Any:
    binder: list[Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]] = []

    def inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if not binder:  # on first call: decorating must stay cheap
            binder.append(_binder(func))
        return binder[0](args, kwargs)

    type_attributes = start_attributes(name, span_type)

    def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, _Options, Any]:
        """The span, started with its type and inputs (one attribute set, not several calls),
        made current."""
        from opentelemetry import context as context_api
        from opentelemetry.trace import set_span_in_context

        options = _prepare()
        start = dict(type_attributes)
        if attributes:
            start.update({k: attribute_value(v, options.max_chars) for k, v in attributes.items()})
        if options.capture_content:
            start[cv.MLFLOW_SPAN_INPUTS] = encode(inputs(args, kwargs), options.max_chars)
        span = _get_tracer().start_span(name, attributes=start)
        return span, options, context_api.attach(set_span_in_context(span))

    def end(span: Any, options: _Options, token: Any, result: Any) -> None:
        from opentelemetry import context as context_api

        try:
            if options.capture_content and span.is_recording():
                if span_type == cv.SpanType.RETRIEVER:
                    result = documents(result)
                span.set_attribute(cv.MLFLOW_SPAN_OUTPUTS, encode(result, options.max_chars))
        finally:
            context_api.detach(token)
            span.end()

    def fail(span: Any, token: Any, exc: BaseException) -> None:
        from opentelemetry import context as context_api

        try:
            _fail(span, exc)
        finally:
            context_api.detach(token)
            span.end()

    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            from opentelemetry import context as context_api

            span, live, ctx = open_detached(name, span_type, attributes)
            live.set_inputs(inputs(args, kwargs))
            items: list[Any] = []
            agen = func(*args, **kwargs)
            sent: Any = None
            thrown: BaseException | None = None
            try:
                while True:
                    token = context_api.attach(ctx)
                    try:
                        if thrown is not None:
                            exc, thrown = thrown, None
                            item = await agen.athrow(exc)
                        else:
                            item = await agen.asend(sent)
                    except StopAsyncIteration:
                        break
                    finally:
                        context_api.detach(token)
                    _keep(items, item)
                    try:
                        sent = yield item
                    except GeneratorExit:
                        raise
                    except BaseException as exc:
                        thrown = exc
            except GeneratorExit:  # the consumer stopped early: not an error
                live.set_outputs(items)
                span.end()
                await agen.aclose()
                raise
            except BaseException as exc:
                _fail(span, exc)
                span.end()
                raise
            live.set_outputs(items)
            span.end()

        return agen_wrapper

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            from opentelemetry import context as context_api

            span, live, ctx = open_detached(name, span_type, attributes)
            live.set_inputs(inputs(args, kwargs))
            items: list[Any] = []
            generator = func(*args, **kwargs)
            returned: Any = None
            sent: Any = None
            thrown: BaseException | None = None
            try:
                while True:
                    token = context_api.attach(ctx)
                    try:
                        if thrown is not None:  # the consumer's throw(), passed on
                            exc, thrown = thrown, None
                            item = generator.throw(exc)
                        else:
                            item = generator.send(sent)
                    except StopIteration as stop:
                        returned = stop.value
                        break
                    finally:
                        context_api.detach(token)
                    _keep(items, item)
                    try:
                        sent = yield item
                    except GeneratorExit:
                        raise
                    except BaseException as exc:
                        thrown = exc
            except GeneratorExit:
                live.set_outputs(items)
                span.end()
                generator.close()
                raise
            except BaseException as exc:
                _fail(span, exc)
                span.end()
                raise
            live.set_outputs(items)
            span.end()
            return returned

        return gen_wrapper

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            span, options, token = begin(args, kwargs)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                fail(span, token, exc)
                raise
            end(span, options, token, result)
            return result

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        span, options, token = begin(args, kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            fail(span, token, exc)
            raise
        end(span, options, token, result)
        return result

    return wrapper


def _keep(items: list[Any], item: Any) -> None:
    """Keep a generator's items for its outputs, up to what a record holds: a long or endless
    generator must not grow without bound."""
    from pytest_genai.results import MAX_ITEMS

    if len(items) < MAX_ITEMS:
        items.append(item)
    elif len(items) == MAX_ITEMS:
        items.append("…[more items not kept]")


def open_detached(
    name: str, span_type: str, attributes: Mapping[str, Any] | None
) -> tuple[Any, LiveSpan, Any]:
    """A span that is made current only while its generator runs, never across a `yield`
    (the consumer's own spans must not nest in it)."""
    from opentelemetry import trace as trace_api

    options = _prepare()
    span = _get_tracer().start_span(name, attributes=start_attributes(name, span_type))
    live = LiveSpan(span, span_type, options)
    if attributes:
        live.set_attributes(attributes)
    return span, live, trace_api.set_span_in_context(span)
