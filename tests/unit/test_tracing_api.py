"""The instrumentation API, through the plugin loaded in this run: spans are read back from the
`genai_trace` fixture, as an app's tests would."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import TracerProvider

from pytest_genai.outcome import truncate_text
from pytest_genai.session import get_session
from pytest_genai.tracing import api, capture
from pytest_genai.tracing.api import documents, start_attributes, start_span, trace
from pytest_genai.tracing.conventions import SPAN_TYPES, span_type_of
from pytest_genai.tracing.model import Span, Trace

INPUTS = "mlflow.spanInputs"
OUTPUTS = "mlflow.spanOutputs"


@pytest.fixture(scope="module", autouse=True)
def _sdk_provider() -> None:
    """The global provider must be an SDK one feeding our collector, whoever set it."""
    capture.attach(install=True)
    assert isinstance(trace_api.get_tracer_provider(), TracerProvider)


@pytest.fixture
def configure(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., None]:
    """Change this run's settings for the rest of the test (as `genai_*` ini options would)."""

    def apply(**changes: Any) -> None:
        session = get_session(request.config)
        assert session is not None
        monkeypatch.setattr(session, "settings", dataclasses.replace(session.settings, **changes))
        api.forget_item()  # the next span reads the settings again

    return apply


class QuotaError(Exception):
    pass


def only(trace_: Trace, name: str) -> Span:
    found = trace_.find_all(name)
    assert len(found) == 1, trace_.text()
    return found[0]


def inputs_of(span: Span) -> Any:
    return json.loads(span.attributes[INPUTS])


def outputs_of(span: Span) -> Any:
    return json.loads(span.attributes[OUTPUTS])


# -- @trace --------------------------------------------------------------------------------------


def test_bare_decorator(genai_trace: Trace) -> None:
    @trace
    def add(a: int, b: int) -> int:
        """Adds."""
        return a + b

    assert add.__name__ == "add" and add.__doc__ == "Adds."
    assert genai_trace.find("add") is None
    assert add(2, b=3) == 5
    span = only(genai_trace, "add")
    assert span.span_type == "UNKNOWN"
    assert inputs_of(span) == {"a": 2, "b": 3}
    assert outputs_of(span) == 5
    assert span.status == "UNSET" and span.error is None
    assert span.attributes["mlflow.spanType"] == "UNKNOWN"
    assert "gen_ai.operation.name" not in span.attributes


def test_decorator_with_options(genai_trace: Trace) -> None:
    @trace(
        name="weather lookup",
        span_type="tool",
        attributes={"team": "search", "limits": [1, 2], "config": {"k": 3}},
    )
    def get_weather(city: str) -> dict[str, Any]:
        return {"city": city, "temp": 21}

    assert get_weather("Paris") == {"city": "Paris", "temp": 21}
    span = only(genai_trace, "weather lookup")
    assert span.span_type == "TOOL"
    assert span.attributes["team"] == "search"
    assert span.attributes["limits"] == (1, 2)
    assert json.loads(span.attributes["config"]) == {"k": 3}
    assert span.attributes["gen_ai.tool.name"] == "weather lookup"
    call = genai_trace.assert_tool_called("weather lookup", city="Paris")
    assert call.result == {"city": "Paris", "temp": 21}


def test_each_call_is_a_span(genai_trace: Trace) -> None:
    @trace
    def echo(x: int) -> int:
        return x

    for i in range(3):
        echo(i)
    assert [outputs_of(s) for s in genai_trace.find_all("echo")] == [0, 1, 2]


def test_async_function(genai_trace: Trace) -> None:
    @trace(span_type="CHAT_MODEL")
    async def reply(prompt: str) -> str:
        await asyncio.sleep(0)
        return prompt.upper()

    assert asyncio.run(reply("hi")) == "HI"
    span = only(genai_trace, "reply")
    assert (span.span_type, inputs_of(span), outputs_of(span)) == (
        "CHAT_MODEL",
        {"prompt": "hi"},
        "HI",
    )
    assert [s.name for s in genai_trace.llm_calls] == ["reply"]


def test_async_function_failure(genai_trace: Trace) -> None:
    @trace
    async def fail() -> None:
        raise QuotaError("quota exceeded")

    with pytest.raises(QuotaError, match="quota exceeded"):
        asyncio.run(fail())
    span = only(genai_trace, "fail")
    assert span.status == "ERROR"
    assert span.attributes["error.type"] == "QuotaError"
    assert OUTPUTS not in span.attributes


def test_spans_nest(genai_trace: Trace) -> None:
    @trace
    def inner(x: int) -> int:
        return x * 2

    @trace(span_type="AGENT")
    def outer(x: int) -> int:
        return inner(x) + inner(x + 1)

    assert outer(1) == 6
    agent = only(genai_trace, "outer")
    assert agent.parent is None
    children = genai_trace.find_all("inner")
    assert len(children) == 2
    assert all(c.parent is agent and c.trace_id == agent.trace_id for c in children)
    assert [inputs_of(c) for c in children] == [{"x": 1}, {"x": 2}]


def test_async_spans_nest_under_the_current_span(genai_trace: Trace) -> None:
    @trace
    async def step(i: int) -> int:
        return i

    async def run() -> list[int]:
        return list(await asyncio.gather(step(1), step(2)))

    with start_span("pipeline", span_type="CHAIN"):
        assert asyncio.run(run()) == [1, 2]
    genai_trace.assert_span("step", count=2, child_of="pipeline")


# -- inputs --------------------------------------------------------------------------------------


def test_inputs_are_the_bound_arguments_without_defaults(genai_trace: Trace) -> None:
    @trace
    def search(query: str, k: int = 5, *filters: str, **options: Any) -> None:
        return None

    search("refunds")
    search("refunds", 3, "faq", "en", rerank=True)
    first, second = genai_trace.find_all("search")
    assert inputs_of(first) == {"query": "refunds"}
    assert inputs_of(second) == {
        "query": "refunds",
        "k": 3,
        "filters": ["faq", "en"],
        "options": {"rerank": True},
    }
    assert outputs_of(first) is None


def test_inputs_leave_out_self_and_cls(genai_trace: Trace) -> None:
    class Agent:
        prefix = "> "

        @trace
        def run(self, question: str) -> str:
            return self.prefix + question

        @classmethod
        @trace
        def build(cls, name: str) -> str:
            return cls.__name__ + name

    assert Agent().run("why?") == "> why?"
    assert Agent.build("x") == "Agentx"
    assert inputs_of(only(genai_trace, "run")) == {"question": "why?"}
    assert inputs_of(only(genai_trace, "build")) == {"name": "x"}


def test_arguments_that_do_not_bind_are_kept_as_given(genai_trace: Trace) -> None:
    @trace
    def strict(a: int) -> int:
        return a

    with pytest.raises(TypeError):
        strict(1, 2)  # type: ignore[call-arg]
    span = only(genai_trace, "strict")
    assert inputs_of(span) == {"args": [1, 2], "kwargs": {}}
    assert span.status == "ERROR" and span.attributes["error.type"] == "TypeError"


def test_values_are_made_json_safe(genai_trace: Trace) -> None:
    @dataclasses.dataclass
    class Query:
        text: str
        tags: set[str]

    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    @trace
    def handle(query: Query, extra: Opaque) -> tuple[float, Opaque]:
        return (float("nan"), extra)

    handle(Query("q", {"b", "a"}), Opaque())
    span = only(genai_trace, "handle")
    assert inputs_of(span) == {"query": {"text": "q", "tags": ["a", "b"]}, "extra": "<Opaque>"}
    assert outputs_of(span) == ["nan", "<Opaque>"]


# -- failures ------------------------------------------------------------------------------------


def test_exception_is_recorded_and_reraised(genai_trace: Trace) -> None:
    @trace(span_type="LLM")
    def call() -> str:
        raise QuotaError("quota exceeded")

    with pytest.raises(QuotaError, match="quota exceeded"):
        call()
    span = only(genai_trace, "call")
    assert span.status == "ERROR"
    assert span.status_message == "QuotaError: quota exceeded"
    assert span.attributes["error.type"] == "QuotaError"
    [(event, attributes)] = span.events
    assert event == "exception"
    assert attributes["exception.type"] == f"{QuotaError.__module__}.QuotaError"
    assert attributes["exception.message"] == "quota exceeded"
    assert span.error == f"{QuotaError.__module__}.QuotaError: quota exceeded"
    assert OUTPUTS not in span.attributes
    with pytest.raises(AssertionError, match="1 span"):
        genai_trace.assert_no_errors()


def test_failure_inside_nested_spans_marks_each_span_it_leaves(genai_trace: Trace) -> None:
    @trace
    def inner() -> None:
        raise KeyError("missing")

    @trace
    def outer() -> None:
        inner()

    with pytest.raises(KeyError):
        outer()
    assert [s.name for s in genai_trace.errors] == ["outer", "inner"]


# -- generators ----------------------------------------------------------------------------------


def test_generator_outputs_are_the_items_yielded(genai_trace: Trace) -> None:
    @trace
    def count(n: int) -> Iterator[int]:
        for i in range(n):
            with start_span(f"make {i}"):
                pass
            yield i

    with start_span("consumer"):
        for i in count(3):
            with start_span(f"handle {i}"):
                pass

    span = only(genai_trace, "count")
    assert inputs_of(span) == {"n": 3}
    assert outputs_of(span) == [0, 1, 2]
    assert span.status == "UNSET"
    assert span.parent is not None and span.parent.name == "consumer"
    # the generator's own spans nest in it; the consumer's, made between items, do not
    assert [s.name for s in span.children] == ["make 0", "make 1", "make 2"]
    handled = genai_trace.find_all(name_contains="handle")
    assert [s.name for s in handled] == ["handle 0", "handle 1", "handle 2"]
    assert all(s.parent is not None and s.parent.name == "consumer" for s in handled)


def test_generator_span_ends_when_the_generator_is_exhausted(genai_trace: Trace) -> None:
    @trace
    def two() -> Iterator[str]:
        yield "a"
        yield "b"

    stream = two()
    assert next(stream) == "a"
    assert next(stream) == "b"
    assert genai_trace.find("two") is None  # not ended yet
    assert list(stream) == []
    assert outputs_of(only(genai_trace, "two")) == ["a", "b"]


def test_generator_stopped_early_is_not_an_error(genai_trace: Trace) -> None:
    closed = []

    @trace
    def endless() -> Iterator[int]:
        i = 0
        try:
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)

    stream = endless()
    assert [next(stream), next(stream)] == [0, 1]
    stream.close()
    assert closed == [True]  # the wrapped generator was closed too
    span = only(genai_trace, "endless")
    assert outputs_of(span) == [0, 1]
    assert span.status == "UNSET" and span.error is None


def test_generator_failure(genai_trace: Trace) -> None:
    @trace
    def broken() -> Iterator[int]:
        yield 1
        raise QuotaError("stream cut")

    got: list[int] = []
    with pytest.raises(QuotaError, match="stream cut"):
        got.extend(broken())
    assert got == [1]  # the item before the failure reached the consumer
    span = only(genai_trace, "broken")
    assert span.status == "ERROR" and span.attributes["error.type"] == "QuotaError"
    assert span.error is not None and span.error.endswith("QuotaError: stream cut")


def test_async_generator(genai_trace: Trace) -> None:
    @trace(span_type="CHAT_MODEL")
    async def stream(prompt: str) -> AsyncIterator[str]:
        for word in prompt.split():
            with start_span(f"token {word}"):
                await asyncio.sleep(0)
            yield word

    async def consume() -> list[str]:
        words = []
        with start_span("consumer"):
            async for word in stream("hello big world"):
                with start_span(f"show {word}"):
                    words.append(word)
        return words

    assert asyncio.run(consume()) == ["hello", "big", "world"]
    span = only(genai_trace, "stream")
    assert (inputs_of(span), outputs_of(span)) == (
        {"prompt": "hello big world"},
        ["hello", "big", "world"],
    )
    assert span.parent is not None and span.parent.name == "consumer"
    assert [s.name for s in span.children] == ["token hello", "token big", "token world"]
    shown = genai_trace.find_all(name_contains="show")
    assert len(shown) == 3
    assert all(s.parent is not None and s.parent.name == "consumer" for s in shown)


def test_async_generator_stopped_early(genai_trace: Trace) -> None:
    closed = []

    @trace
    async def endless() -> AsyncIterator[int]:
        i = 0
        try:
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)

    async def take_two() -> list[int]:
        agen = endless()
        got = [await agen.__anext__(), await agen.__anext__()]
        await agen.aclose()
        return got

    assert asyncio.run(take_two()) == [0, 1]
    assert closed == [True]
    span = only(genai_trace, "endless")
    assert outputs_of(span) == [0, 1]
    assert span.status == "UNSET" and span.error is None


def test_async_generator_failure(genai_trace: Trace) -> None:
    @trace
    async def broken() -> AsyncIterator[int]:
        yield 1
        raise QuotaError("stream cut")

    async def consume() -> None:
        async for _ in broken():
            pass

    with pytest.raises(QuotaError):
        asyncio.run(consume())
    span = only(genai_trace, "broken")
    assert span.status == "ERROR" and span.attributes["error.type"] == "QuotaError"


# -- start_span ----------------------------------------------------------------------------------


def test_start_span(genai_trace: Trace) -> None:
    with start_span("retrieve", span_type="RETRIEVER", attributes={"k": 2}) as span:
        assert span.span_type == "RETRIEVER"
        assert trace_api.get_current_span() is span.span
        span.set_inputs({"query": "refunds"})
        span.set_attribute("db.name", "kb")
        span.set_attribute("score", 0.5)
        span.set_attribute("flags", ("a", "b"))
        span.set_attribute("filters", {"lang": "en", "tags": ["faq"]})
        span.set_attribute("mixed", [1, {"a": 1}])
        span.set_attributes({"top": 1, "empty": None})
        span.add_event("cache miss", {"key": "refunds"})
        span.add_event("no attributes")
        span.set_outputs(["Refunds take 5 days."])
    got = only(genai_trace, "retrieve")
    attributes = got.attributes
    assert attributes["k"] == 2
    assert inputs_of(got) == {"query": "refunds"}
    assert attributes["db.name"] == "kb" and attributes["score"] == 0.5
    assert attributes["flags"] == ("a", "b")
    assert json.loads(attributes["filters"]) == {"lang": "en", "tags": ["faq"]}
    assert json.loads(attributes["mixed"]) == [1, {"a": 1}]
    assert attributes["top"] == 1 and attributes["empty"] == "null"
    assert got.events == [("cache miss", {"key": "refunds"}), ("no attributes", {})]
    assert outputs_of(got) == [{"page_content": "Refunds take 5 days.", "metadata": {}}]
    assert got.status == "UNSET"


def test_start_span_nests_and_restores_the_current_span(genai_trace: Trace) -> None:
    before = trace_api.get_current_span()
    with start_span("outer") as outer, start_span("inner") as inner:
        assert trace_api.get_current_span() is inner.span
    assert trace_api.get_current_span() is before
    assert outer.span is not inner.span
    genai_trace.assert_span("inner", child_of="outer", count=1)


def test_start_span_records_the_blocks_exception(genai_trace: Trace) -> None:
    with pytest.raises(QuotaError), start_span("block"):
        raise QuotaError("no more")
    span = only(genai_trace, "block")
    assert span.status == "ERROR" and span.status_message == "QuotaError: no more"
    assert [name for name, _ in span.events] == ["exception"]


def test_record_exception_marks_the_span_failed(genai_trace: Trace) -> None:
    with start_span("handled") as span:
        try:
            raise ValueError("bad reply")
        except ValueError as exc:
            span.record_exception(exc)
    got = only(genai_trace, "handled")
    assert got.status == "ERROR"
    assert got.error == "ValueError: bad reply"
    assert got.attributes["error.type"] == "ValueError"


def test_unknown_span_type() -> None:
    with pytest.raises(ValueError, match="unknown span_type 'TOLL'") as info:
        trace(span_type="TOLL")
    listed = str(info.value).split("use one of ", 1)[1]
    assert sorted(listed.split(", ")) == sorted(SPAN_TYPES)
    with pytest.raises(ValueError, match="unknown span_type 'chatmodel': use one of AGENT, "):
        start_span("x", span_type="chatmodel")


# -- retrieved documents -------------------------------------------------------------------------


@dataclasses.dataclass
class Document:
    """The shape of LangChain's `Document`."""

    page_content: str
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            ["a", "b"],
            [{"page_content": "a", "metadata": {}}, {"page_content": "b", "metadata": {}}],
        ),
        (
            [{"content": "c", "id": "doc-1", "score": 0.9}],
            [{"page_content": "c", "metadata": {"doc_uri": "doc-1", "score": 0.9}}],
        ),
        (
            [{"text": "t", "source": "faq.md"}],
            [{"page_content": "t", "metadata": {"doc_uri": "faq.md"}}],
        ),
        (
            [{"page_content": "p", "metadata": {"source": "x.pdf", "page": 2}}],
            [{"page_content": "p", "metadata": {"source": "x.pdf", "page": 2, "doc_uri": "x.pdf"}}],
        ),
        (
            ({"content": "c", "metadata": {"doc_uri": "kept"}, "id": "i"},),
            [{"page_content": "c", "metadata": {"doc_uri": "kept", "id": "i"}}],
        ),
        (
            [Document("d", {"source": "s"}), Document("e")],
            [
                {"page_content": "d", "metadata": {"source": "s", "doc_uri": "s"}},
                {"page_content": "e", "metadata": {}},
            ],
        ),
        ([{"title": "no content"}], [{"title": "no content"}]),
        (["text", {"title": "no content"}], ["text", {"title": "no content"}]),
        ([1, 2], [1, 2]),
        ("just text", "just text"),
        ({"documents": ["a"]}, {"documents": ["a"]}),
        ([], []),
    ],
)
def test_documents(value: Any, expected: Any) -> None:
    assert documents(value) == expected


def test_retriever_outputs_take_the_document_shape(genai_trace: Trace) -> None:
    @trace(span_type="RETRIEVER")
    def retrieve(query: str) -> list[Document]:
        return [Document("Refunds take 5 days.", {"source": "kb/refunds"})]

    @trace(span_type="CHAIN")
    def not_a_retriever() -> list[str]:
        return ["kept as it is"]

    assert retrieve("refunds")[0].page_content == "Refunds take 5 days."
    not_a_retriever()
    expected = [
        {
            "page_content": "Refunds take 5 days.",
            "metadata": {"source": "kb/refunds", "doc_uri": "kb/refunds"},
        }
    ]
    assert outputs_of(only(genai_trace, "retrieve")) == expected
    assert genai_trace.retrieved_documents == expected
    assert outputs_of(only(genai_trace, "not_a_retriever")) == ["kept as it is"]


# -- truncation, secrets, content capture ---------------------------------------------------------


def test_values_are_truncated_at_the_configured_size(
    genai_trace: Trace, configure: Callable[..., None]
) -> None:
    configure(max_value_chars=50)

    @trace
    def echo(text: str, items: list[str]) -> str:
        return text

    long = "x" * 80
    echo(long, ["short", "y" * 60])
    span = only(genai_trace, "echo")
    assert inputs_of(span) == {
        "text": truncate_text(long, 50),
        "items": ["short", truncate_text("y" * 60, 50)],
    }
    assert outputs_of(span) == truncate_text(long, 50)
    assert outputs_of(span).startswith("x" * 50) and outputs_of(span) != "x" * 50
    with start_span("block") as block:
        block.set_attribute("payload", {"text": long})
    assert json.loads(only(genai_trace, "block").attributes["payload"]) == {
        "text": truncate_text(long, 50)
    }


def test_values_are_cut_at_the_runs_setting(
    genai_trace: Trace, request: pytest.FixtureRequest
) -> None:
    session = get_session(request.config)
    assert session is not None
    limit = session.settings.max_value_chars

    @trace
    def echo(text: str) -> str:
        return text

    echo("z" * limit)
    echo("z" * (limit + 1))
    fits, cut = genai_trace.find_all("echo")
    assert outputs_of(fits) == "z" * limit
    assert outputs_of(cut) == truncate_text("z" * (limit + 1), limit) != "z" * (limit + 1)


def test_secrets_are_masked(genai_trace: Trace) -> None:
    key = "sk-" + "a1B2c3D4e5" * 3

    @trace
    def call(prompt: str, api_key: str, headers: dict[str, str]) -> str:
        return f"sent with {key}"

    call(f"my key is {key}, keep it", api_key="hunter2-secret", headers={"Authorization": "x"})
    span = only(genai_trace, "call")
    text = span.attributes[INPUTS] + span.attributes[OUTPUTS]
    assert key not in text and "hunter2" not in text
    assert inputs_of(span) == {
        "prompt": "my key is ***, keep it",
        "api_key": "***",
        "headers": {"Authorization": "***"},
    }
    assert outputs_of(span) == "sent with ***"


def test_without_content_capture_inputs_and_outputs_are_left_out(
    genai_trace: Trace, configure: Callable[..., None]
) -> None:
    configure(capture_content=False)

    @trace(span_type="TOOL", attributes={"team": "search"})
    def lookup(code: str) -> str:
        return "secret answer"

    with start_span("block") as block:
        block.set_inputs({"q": 1})
        block.set_outputs("out")
    assert lookup("zz") == "secret answer"
    for name in ("lookup", "block"):
        span = only(genai_trace, name)
        assert INPUTS not in span.attributes and OUTPUTS not in span.attributes
    tool = only(genai_trace, "lookup")
    assert tool.span_type == "TOOL" and tool.attributes["team"] == "search"


# -- the span type under each convention ---------------------------------------------------------


TYPE_DECLARATIONS = [
    # span type, openinference.span.kind, gen_ai.operation.name
    ("LLM", "LLM", "text_completion"),
    ("CHAT_MODEL", "LLM", "chat"),
    ("TOOL", "TOOL", "execute_tool"),
    ("AGENT", "AGENT", "invoke_agent"),
    ("EMBEDDING", "EMBEDDING", "embeddings"),
    ("RETRIEVER", "RETRIEVER", None),
    ("CHAIN", "CHAIN", None),
    ("RERANKER", "RERANKER", None),
    ("PARSER", "CHAIN", None),
    ("EVALUATOR", "EVALUATOR", None),
    ("UNKNOWN", "UNKNOWN", None),
]


def test_every_span_type_is_declared() -> None:
    assert {t for t, _, _ in TYPE_DECLARATIONS} == set(SPAN_TYPES)


@pytest.mark.parametrize(("span_type", "kind", "operation"), TYPE_DECLARATIONS)
def test_span_type_attributes(span_type: str, kind: str, operation: str | None) -> None:
    attributes = start_attributes("my span", span_type)
    assert attributes["mlflow.spanType"] == span_type
    assert attributes["openinference.span.kind"] == kind
    assert attributes.get("gen_ai.operation.name") == operation
    assert attributes.get("gen_ai.tool.name") == ("my span" if span_type == "TOOL" else None)
    assert span_type_of(attributes) == span_type


@pytest.mark.parametrize("span_type", ["CHAT_MODEL", "TOOL", "AGENT", "EMBEDDING"])
def test_spans_declare_their_type(genai_trace: Trace, span_type: str) -> None:
    @trace(name="step", span_type=span_type.lower())
    def step() -> None:
        return None

    step()
    span = only(genai_trace, "step")
    expected = start_attributes("step", span_type)
    assert {k: span.attributes.get(k) for k in expected} == expected
    assert span.span_type == span_type


def test_generator_send_and_throw_reach_the_function(genai_trace: Trace) -> None:
    @trace
    def accumulate() -> Any:
        total = 0
        while True:
            try:
                total += yield total
            except KeyError:
                total = -1

    gen = accumulate()
    assert next(gen) == 0
    assert gen.send(5) == 5
    assert gen.send(2) == 7
    assert gen.throw(KeyError("reset")) == -1
    gen.close()
    span = only(genai_trace, "accumulate")
    assert outputs_of(span) == [0, 5, 7, -1]
    assert span.error is None


def test_async_generator_asend_and_athrow(genai_trace: Trace) -> None:
    @trace
    async def accumulate() -> Any:
        total = 0
        while True:
            try:
                total += yield total
            except KeyError:
                total = -1

    async def main() -> list[int]:
        gen = accumulate()
        seen = [await gen.__anext__(), await gen.asend(4), await gen.athrow(KeyError("x"))]
        await gen.aclose()
        return seen

    assert asyncio.run(main()) == [0, 4, -1]
    assert outputs_of(only(genai_trace, "accumulate")) == [0, 4, -1]


def test_generator_return_value_passes_through(genai_trace: Trace) -> None:
    @trace
    def inner() -> Any:
        yield 1
        return "done"

    def outer() -> Any:
        result = yield from inner()
        yield result

    assert list(outer()) == [1, "done"]
    assert outputs_of(only(genai_trace, "inner")) == [1]


def test_an_exception_message_is_masked(
    genai_trace: Trace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-0123456789abcdef")

    @trace
    def call() -> None:
        raise RuntimeError("401 for Bearer tok-0123456789abcdef")

    with pytest.raises(RuntimeError):
        call()
    span = only(genai_trace, "call")
    assert "tok-0123456789abcdef" not in repr(span.events) + repr(span.status_message)
    assert span.error == "RuntimeError: 401 for Bearer ***"


def test_relations_hold_across_a_live_trace_rebuilding(genai_trace: Trace) -> None:
    with start_span("agent"), start_span("first"):
        pass
    agent_ref = genai_trace.find("agent")
    with start_span("later"):
        pass  # the live trace is rebuilt on the next query
    assert genai_trace.assert_span("first", child_of=agent_ref).name == "first"


def test_collector_survives_threads_starting_spans_while_tests_close() -> None:
    import threading

    from pytest_genai.tracing.capture import Collector

    collector = Collector()
    stop = threading.Event()
    errors: list[BaseException] = []

    class FakeSpan:
        def __init__(self, n: int) -> None:
            self.context = type("C", (), {"span_id": n})()

    def hammer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                collector.on_start(FakeSpan(n))  # type: ignore[arg-type]
            except BaseException as exc:  # pragma: no cover - the failure being tested
                errors.append(exc)

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        for i in range(300):
            collector.close(collector.open(f"t{i}"))
    finally:
        stop.set()
        worker.join()
    assert errors == []
