from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from pytest_genai.tracing.conventions import span_type_of
from pytest_genai.tracing.model import Span, Trace
from pytest_genai.tracing.render import MARK, render_tree

MS = 1_000_000
EXCEPTION = "exception"


def make(
    name: str,
    span_id: str,
    parent_id: str | None = None,
    *,
    span_type: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    start_ms: float = 0,
    end_ms: float = 1,
    status: str = "UNSET",
    status_message: str | None = None,
    events: Sequence[tuple[str, Mapping[str, Any]]] = (),
) -> Span:
    attrs = dict(attributes or {})
    if span_type is not None:
        attrs["mlflow.spanType"] = span_type
    return Span(
        name=name,
        span_id=span_id,
        parent_id=parent_id,
        trace_id="t" * 32,
        attributes=attrs,
        start_ns=int(start_ms * MS),
        end_ns=int(end_ms * MS),
        status=status,
        status_message=status_message,
        events=events,
    )


def failed(
    name: str, span_id: str, parent_id: str | None, exc_type: str, message: str, **kw: Any
) -> Span:
    event = (EXCEPTION, {"exception.type": exc_type, "exception.message": message})
    return make(
        name,
        span_id,
        parent_id,
        status="ERROR",
        status_message=f"{exc_type}: {message}",
        events=[event],
        **kw,
    )


def agent_trace() -> Trace:
    """agent ─┬─ plan (CHAT_MODEL)
              ├─ search (TOOL) ── http GET
              ├─ search_web (TOOL, failed)
              └─ answer (LLM)
    judge (EVALUATOR) ── judge call (LLM)"""
    return Trace(
        [
            # given out of start order on purpose
            make("answer", "a5", "a1", span_type="LLM", start_ms=40, end_ms=60),
            make("agent", "a1", span_type="AGENT", start_ms=0, end_ms=100),
            make("plan", "a2", "a1", span_type="CHAT_MODEL", start_ms=1, end_ms=10),
            make(
                "search",
                "a3",
                "a1",
                span_type="TOOL",
                attributes={"mlflow.spanInputs": json.dumps({"query": "refunds", "k": 3})},
                start_ms=11,
                end_ms=20,
            ),
            make("http GET", "a6", "a3", start_ms=12, end_ms=19),
            failed(
                "search_web",
                "a4",
                "a1",
                "TimeoutError",
                "too slow",
                span_type="TOOL",
                start_ms=21,
                end_ms=39,
            ),
            make("judge", "j1", span_type="EVALUATOR", start_ms=200, end_ms=300),
            make("judge call", "j2", "j1", span_type="LLM", start_ms=201, end_ms=299),
        ]
    )


def names(spans: Sequence[Span]) -> list[str]:
    return [s.name for s in spans]


# -- the tree ------------------------------------------------------------------------------------


def test_tree_links_parents_and_children_in_start_order() -> None:
    trace = agent_trace()
    assert names(trace.spans) == [
        "agent",
        "plan",
        "search",
        "http GET",
        "search_web",
        "answer",
        "judge",
        "judge call",
    ]
    assert names(trace.roots) == ["agent", "judge"]
    agent = trace.roots[0]
    assert names(agent.children) == ["plan", "search", "search_web", "answer"]
    http = trace.find("http GET")
    assert http is not None and http.parent is not None and http.parent.name == "search"
    assert names(http.ancestors()) == ["search", "agent"]
    assert names(agent.descendants()) == ["plan", "search", "http GET", "search_web", "answer"]
    assert len(trace) == 8 and list(trace) == trace.spans


def test_span_whose_parent_is_missing_becomes_a_root() -> None:
    trace = Trace(
        [
            make("root", "r", start_ms=0),
            make("orphan", "o", "not-captured", start_ms=1),
            make("child of orphan", "c", "o", start_ms=2),
        ]
    )
    assert names(trace.roots) == ["root", "orphan"]
    orphan = trace.roots[1]
    assert orphan.parent is None and orphan.parent_id == "not-captured"
    assert names(orphan.children) == ["child of orphan"]


# -- queries -------------------------------------------------------------------------------------


def test_find_by_exact_name_and_regex() -> None:
    trace = agent_trace()
    assert names(trace.find_all("search")) == ["search"]
    assert trace.find("sear") is None
    assert names(trace.find_all(re.compile("^search"))) == ["search", "search_web"]
    # a compiled pattern is searched, not matched from the start
    assert names(trace.find_all(re.compile("web"))) == ["search_web"]
    assert names(trace.find_all(name_contains="call")) == ["judge call"]
    assert names(trace.find_all(name_regex=r"^(plan|answer)$")) == ["plan", "answer"]
    assert names(trace.find_all(name_regex="GET")) == ["http GET"]


def test_find_returns_the_first_in_start_order() -> None:
    trace = agent_trace()
    first = trace.find(span_type="TOOL")
    assert first is not None and first.name == "search"
    assert trace.find(span_type="RERANKER") is None


def test_find_by_span_type() -> None:
    trace = agent_trace()
    assert names(trace.find_all(span_type="TOOL")) == ["search", "search_web"]
    assert names(trace.find_all(span_type="chat_model")) == ["plan"]
    assert names(trace.find_all(span_type=["llm", "CHAT_MODEL"])) == [
        "plan",
        "answer",
        "judge call",
    ]
    assert names(trace.find_all(span_type=("AGENT", "EVALUATOR"))) == ["agent", "judge"]
    assert names(trace.find_all(span_type="UNKNOWN")) == ["http GET"]


def test_find_by_attributes() -> None:
    trace = Trace(
        [
            make(
                "call",
                "1",
                attributes={
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.response.finish_reasons": ("stop", "length"),
                    "mlflow.spanInputs": json.dumps({"q": "refunds"}),
                    "gen_ai.request.temperature": 0.0,
                },
            ),
            make("other", "2", attributes={"gen_ai.request.model": "gpt-4o-mini"}, start_ms=1),
        ]
    )
    assert names(trace.find_all(attributes={"gen_ai.request.model": "gpt-4o"})) == ["call"]
    # OTel keeps sequences as tuples: a list compares by its items
    found = trace.find_all(attributes={"gen_ai.response.finish_reasons": ["stop", "length"]})
    assert names(found) == ["call"]
    assert trace.find_all(attributes={"gen_ai.response.finish_reasons": ["stop"]}) == []
    # JSON text compares by its decoded value, and as the text itself
    assert names(trace.find_all(attributes={"mlflow.spanInputs": {"q": "refunds"}})) == ["call"]
    assert trace.find_all(attributes={"mlflow.spanInputs": {"q": "other"}}) == []
    text = json.dumps({"q": "refunds"})
    assert names(trace.find_all(attributes={"mlflow.spanInputs": text})) == ["call"]
    # every attribute must match; a missing one never does
    both = {"gen_ai.request.model": "gpt-4o", "gen_ai.request.temperature": 0.0}
    assert names(trace.find_all(attributes=both)) == ["call"]
    mixed = {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.request.temperature": 0.0}
    assert trace.find_all(attributes=mixed) == []
    assert trace.find_all(attributes={"absent": None}) == []


def test_find_by_duration() -> None:
    trace = agent_trace()
    assert names(trace.find_all(min_duration=0.09)) == ["agent", "judge", "judge call"]
    assert names(trace.find_all(max_duration=0.008)) == ["http GET"]
    assert names(trace.find_all(min_duration=0.018, max_duration=0.02)) == ["search_web", "answer"]


def test_find_by_relation_to_a_span_or_a_name() -> None:
    trace = agent_trace()
    agent = trace.find("agent")
    search = trace.find("search")
    assert agent is not None and search is not None
    children = ["plan", "search", "search_web", "answer"]
    assert names(trace.find_all(child_of="agent")) == children
    assert names(trace.find_all(child_of=agent)) == children
    assert names(trace.find_all(child_of="search")) == ["http GET"]
    assert names(trace.find_all(descendant_of=agent)) == [*children[:2], "http GET", *children[2:]]
    assert names(trace.find_all(descendant_of="judge")) == ["judge call"]
    assert names(trace.find_all(parent_of="http GET")) == ["search"]
    assert names(trace.find_all(parent_of=search)) == ["agent"]
    assert names(trace.find_all(ancestor_of="http GET")) == ["agent", "search"]
    assert names(trace.find_all(ancestor_of="judge call")) == ["judge"]
    # a Span is matched by identity, not by name
    twin = make("agent", "other", span_type="AGENT")
    assert trace.find_all(child_of=twin) == []
    # conditions combine
    assert names(trace.find_all(span_type="TOOL", child_of="agent", errors=False)) == ["search"]


def test_find_by_errors() -> None:
    trace = agent_trace()
    assert names(trace.find_all(errors=True)) == ["search_web"]
    assert "search_web" not in names(trace.find_all(errors=False))
    assert len(trace.find_all(errors=False)) == len(trace) - 1
    assert names(trace.errors) == ["search_web"]


# -- errors --------------------------------------------------------------------------------------


def test_span_error_prefers_the_exception_event() -> None:
    span = failed("s", "1", None, "ValueError", "bad input")
    assert span.error == "ValueError: bad input"


def test_span_error_without_exception_event() -> None:
    by_message = make("s", "1", status="ERROR", status_message="upstream 503")
    assert by_message.error == "upstream 503"
    by_type = make("s", "2", status="ERROR", attributes={"error.type": "RateLimitError"})
    assert by_type.error == "RateLimitError"
    assert make("s", "3", status="ERROR").error == "error"


def test_exception_event_on_a_span_that_did_not_fail_is_no_error() -> None:
    """An exception the code caught and recorded leaves the span's status UNSET."""
    event = (EXCEPTION, {"exception.type": "KeyError", "exception.message": "x"})
    assert make("s", "1", events=[event]).error is None
    assert make("s", "2", status="OK", events=[event]).error is None


# -- views ---------------------------------------------------------------------------------------


def test_llm_calls_exclude_judges_and_everything_under_them() -> None:
    trace = Trace(
        [
            make("chat", "1", span_type="CHAT_MODEL", start_ms=0),
            make("complete", "2", span_type="LLM", start_ms=1),
            make("embed", "3", span_type="EMBEDDING", start_ms=2),
            make("judge", "4", span_type="EVALUATOR", start_ms=3),
            make("judge step", "5", "4", span_type="CHAIN", start_ms=4),
            make("judge chat", "6", "5", span_type="CHAT_MODEL", start_ms=5),
            # marked by our attribute rather than by its type
            make("judge 2", "7", attributes={"pytest_genai.evaluator": True}, start_ms=6),
            make("judge 2 chat", "8", "7", span_type="LLM", start_ms=7),
        ]
    )
    assert names(trace.llm_calls) == ["chat", "complete"]
    assert names(trace.app_spans) == ["chat", "complete", "embed"]
    assert names(trace.find_all(span_type="LLM")) == ["complete", "judge 2 chat"]


def test_tool_calls() -> None:
    exc = (EXCEPTION, {"exception.type": "KeyError", "exception.message": "'zz'"})
    trace = Trace(
        [
            make(
                "execute_tool get_weather",
                "1",
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "get_weather",
                    "mlflow.spanInputs": json.dumps({"city": "Paris", "unit": "C"}),
                    "mlflow.spanOutputs": json.dumps({"temp": 21}),
                },
                start_ms=0,
            ),
            make(
                "lookup",
                "2",
                attributes={
                    "openinference.span.kind": "TOOL",
                    "mlflow.spanInputs": json.dumps({"kwargs": {"code": "zz"}}),
                },
                status="ERROR",
                events=[exc],
                start_ms=1,
            ),
            make("judge", "3", span_type="EVALUATOR", start_ms=2),
            make("judge tool", "4", "3", span_type="TOOL", start_ms=3),
        ]
    )
    weather, lookup = trace.tool_calls
    assert (weather.name, weather.arguments, weather.result, weather.error) == (
        "get_weather",
        {"city": "Paris", "unit": "C"},
        {"temp": 21},
        None,
    )
    assert weather.span is trace.spans[0]
    # the name falls back to the span's; a function's **kwargs are its arguments
    assert (lookup.name, lookup.arguments, lookup.result, lookup.error) == (
        "lookup",
        {"code": "zz"},
        None,
        "KeyError: 'zz'",
    )


def test_tool_call_arguments_from_the_genai_attribute() -> None:
    trace = Trace(
        [
            make(
                "t",
                "1",
                span_type="TOOL",
                attributes={
                    "gen_ai.tool.call.arguments": '{"a": [1, 2]}',
                    "gen_ai.tool.call.result": "done",
                },
            )
        ]
    )
    [call] = trace.tool_calls
    assert (call.name, call.arguments, call.result) == ("t", {"a": [1, 2]}, "done")


def test_retrieved_documents_in_mlflow_shape_and_plain_strings() -> None:
    mlflow_docs = [
        {"page_content": "Refunds take 5 days.", "metadata": {"doc_uri": "kb/refunds"}},
        {"page_content": "Shipping is free.", "metadata": {}},
    ]
    trace = Trace(
        [
            make(
                "retrieve",
                "1",
                span_type="RETRIEVER",
                attributes={"mlflow.spanOutputs": json.dumps(mlflow_docs)},
                start_ms=0,
            ),
            make(
                "retrieve strings",
                "2",
                span_type="RETRIEVER",
                attributes={"mlflow.spanOutputs": json.dumps(["plain text"])},
                start_ms=1,
            ),
            make(
                "retrieve wrapped",
                "3",
                span_type="RETRIEVER",
                attributes={
                    "mlflow.spanOutputs": json.dumps(
                        {"documents": [{"page_content": "wrapped", "metadata": {"doc_uri": "w"}}]}
                    )
                },
                start_ms=2,
            ),
            # not a retriever: its outputs are not documents
            make(
                "chain",
                "4",
                span_type="CHAIN",
                attributes={"mlflow.spanOutputs": json.dumps(["not a document"])},
                start_ms=3,
            ),
        ]
    )
    assert trace.retrieved_documents == [
        *mlflow_docs,
        {"page_content": "plain text", "metadata": {}},
        {"page_content": "wrapped", "metadata": {"doc_uri": "w"}},
    ]


def test_retrieved_documents_from_openinference_attributes() -> None:
    span = make(
        "vector search",
        "1",
        attributes={
            "retrieval.documents.0.document.content": "first",
            "retrieval.documents.0.document.id": "doc-1",
            "retrieval.documents.1.document.content": "second",
        },
    )
    assert span.span_type == "RETRIEVER"
    assert Trace([span]).retrieved_documents == [
        {"page_content": "first", "metadata": {"doc_uri": "doc-1"}},
        {"page_content": "second", "metadata": {}},
    ]


def test_retrieved_documents_exclude_judges() -> None:
    trace = Trace(
        [
            make("judge", "1", span_type="EVALUATOR"),
            make(
                "judge retrieve",
                "2",
                "1",
                span_type="RETRIEVER",
                attributes={"mlflow.spanOutputs": json.dumps(["doc"])},
            ),
        ]
    )
    assert trace.retrieved_documents == []


@pytest.mark.parametrize(
    ("attributes", "tokens"),
    [
        ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 4}, (10, 4)),
        ({"gen_ai.usage.prompt_tokens": 11, "gen_ai.usage.completion_tokens": 5}, (11, 5)),
        ({"llm.token_count.prompt": 12, "llm.token_count.completion": 6}, (12, 6)),
        ({"llm.usage.prompt_tokens": "13", "llm.usage.completion_tokens": 7}, (13, 7)),
        (
            {"mlflow.chat.tokenUsage": json.dumps({"input_tokens": 14, "output_tokens": 8})},
            (14, 8),
        ),
        ({"gen_ai.usage.input_tokens": 15}, (15, None)),
        ({}, (None, None)),
    ],
)
def test_token_attribute_names(attributes: dict[str, Any], tokens: tuple[Any, Any]) -> None:
    span = make("chat", "1", span_type="CHAT_MODEL", attributes=attributes)
    assert (span.input_tokens, span.output_tokens) == tokens


def test_usage_and_cost_sum_the_apps_llm_calls() -> None:
    trace = Trace(
        [
            make(
                "a",
                "1",
                span_type="CHAT_MODEL",
                attributes={
                    "gen_ai.usage.input_tokens": 100,
                    "gen_ai.usage.output_tokens": 20,
                    "pytest_genai.cost": 0.25,
                },
                start_ms=0,
            ),
            make(
                "b",
                "2",
                span_type="LLM",
                attributes={
                    "llm.token_count.prompt": 30,
                    "llm.token_count.completion": 7,
                    "gen_ai.usage.cost": 0.5,
                },
                start_ms=1,
            ),
            make(
                "c",
                "3",
                span_type="LLM",
                attributes={
                    "mlflow.chat.tokenUsage": json.dumps({"input_tokens": 3, "output_tokens": 1})
                },
                start_ms=2,
            ),
            # tokens outside LLM spans and inside judges do not count
            make("embed", "4", span_type="EMBEDDING", attributes={"gen_ai.usage.input_tokens": 9}),
            make("judge", "5", span_type="EVALUATOR", start_ms=3),
            make(
                "judge chat",
                "6",
                "5",
                span_type="CHAT_MODEL",
                attributes={
                    "gen_ai.usage.input_tokens": 1000,
                    "gen_ai.usage.output_tokens": 1000,
                    "pytest_genai.cost": 9.0,
                },
                start_ms=4,
            ),
        ]
    )
    usage = trace.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (133, 28, 161)
    assert trace.cost == pytest.approx(0.75)


def test_cost_ignores_values_that_are_not_numbers() -> None:
    assert make("a", "1", attributes={"pytest_genai.cost": "0.5"}).cost is None
    assert make("a", "2", attributes={"pytest_genai.cost": True}).cost is None
    assert make("a", "3", attributes={"llm.cost.total": 2}).cost == 2.0


def test_duration() -> None:
    trace = agent_trace()
    # the app's spans run from 0 to 100 ms; the judge's, later, do not count
    assert trace.duration == pytest.approx(0.1)
    assert Trace([]).duration == 0.0
    assert make("s", "1", start_ms=5, end_ms=2.5).duration == 0.0
    assert make("s", "1", start_ms=5, end_ms=7.5).duration == pytest.approx(0.0025)


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"mlflow.spanType": "RETRIEVER"}, "RETRIEVER"),
        ({"mlflow.spanType": "chat_model"}, "CHAT_MODEL"),
        ({"mlflow.spanType": '"TOOL"'}, "TOOL"),  # MLflow writes it as JSON text
        ({"mlflow.spanType": "AGENT", "openinference.span.kind": "TOOL"}, "AGENT"),
        ({"openinference.span.kind": "llm"}, "LLM"),
        ({"openinference.span.kind": "RERANKER"}, "RERANKER"),
        ({"openinference.span.kind": "GUARDRAIL"}, "UNKNOWN"),
        ({"gen_ai.operation.name": "chat"}, "CHAT_MODEL"),
        ({"gen_ai.operation.name": "text_completion"}, "LLM"),
        ({"gen_ai.operation.name": "execute_tool"}, "TOOL"),
        ({"gen_ai.operation.name": "invoke_agent"}, "AGENT"),
        ({"gen_ai.operation.name": "embeddings"}, "EMBEDDING"),
        ({"openinference.span.kind": "CHAIN", "gen_ai.operation.name": "chat"}, "CHAIN"),
        ({"pytest_genai.evaluator": True, "gen_ai.operation.name": "chat"}, "EVALUATOR"),
        ({"db.system": "postgresql"}, "RETRIEVER"),
        ({"mlflow.spanType": ""}, "UNKNOWN"),
        ({"http.method": "GET"}, "UNKNOWN"),
    ],
)
def test_span_type_of(attributes: dict[str, Any], expected: str) -> None:
    assert span_type_of(attributes) == expected


# -- assertions ----------------------------------------------------------------------------------


def test_assert_span_returns_the_first_match() -> None:
    trace = agent_trace()
    assert trace.assert_span(span_type="TOOL").name == "search"
    assert trace.assert_span("search_web", errors=True).span_id == "a4"
    assert trace.assert_span(span_type="TOOL", count=2).name == "search"


def test_assert_span_failure_shows_the_query_and_the_tree() -> None:
    trace = agent_trace()
    agent = trace.find("agent")
    with pytest.raises(AssertionError) as info:
        trace.assert_span("rerank", span_type="RERANKER", child_of=agent)
    message = str(info.value)
    first, rest = message.split("\n", 1)
    assert first == "no span matches name='rerank', span_type='RERANKER', child_of='agent'"
    assert rest.startswith("the test's trace:\n")
    for name in ("agent", "plan", "search", "search_web", "answer", "judge call"):
        assert name in rest
    assert MARK not in rest  # nothing matched: nothing is pointed at


def test_assert_span_count_failure_marks_the_matches() -> None:
    trace = agent_trace()
    with pytest.raises(AssertionError) as info:
        trace.assert_span(re.compile("^search"), count=1)
    lines = str(info.value).splitlines()
    assert lines[0] == "expected 1 span(s) matching name='^search', found 2"
    marked = [line for line in lines if line.startswith(MARK)]
    assert len(marked) == 2
    assert "search  TOOL" in marked[0] and "search_web  TOOL" in marked[1]


def test_assert_span_on_an_empty_trace() -> None:
    with pytest.raises(AssertionError, match="the test's trace is empty"):
        Trace([]).assert_span("anything")


def test_assert_span_count_zero_asserts_absence() -> None:
    trace = agent_trace()
    trace.assert_span("rerank", count=0)
    with pytest.raises(AssertionError, match=r"expected 0 span\(s\) matching name='plan', found 1"):
        trace.assert_span("plan", count=0)


def test_assert_tool_called_matches_a_subset_of_the_arguments() -> None:
    trace = agent_trace()
    assert trace.assert_tool_called("search").span.span_id == "a3"
    assert trace.assert_tool_called("search", query="refunds").arguments == {
        "query": "refunds",
        "k": 3,
    }
    assert trace.assert_tool_called("search", query="refunds", k=3).name == "search"
    assert trace.assert_tool_called("search_web").error == "TimeoutError: too slow"


def test_assert_tool_called_picks_the_call_with_matching_arguments() -> None:
    trace = Trace(
        [
            make(
                "search",
                str(i),
                span_type="TOOL",
                attributes={"mlflow.spanInputs": json.dumps({"query": q})},
                start_ms=i,
            )
            for i, q in enumerate(["first", "second"])
        ]
    )
    assert trace.assert_tool_called("search", query="second").span.span_id == "1"


def test_assert_tool_called_failure_lists_the_calls_made() -> None:
    trace = agent_trace()
    with pytest.raises(AssertionError) as info:
        trace.assert_tool_called("search", query="shipping")
    lines = str(info.value).splitlines()
    assert lines[0] == (
        "tool search(query='shipping') was not called with these arguments "
        "(tool calls made: search(query='refunds', k=3), search_web())"
    )
    assert lines[1] == "the test's trace:"
    marked = [line for line in lines if line.startswith(MARK)]
    assert len(marked) == 1 and "search  TOOL" in marked[0]

    with pytest.raises(AssertionError) as info:
        trace.assert_tool_called("calculator")
    assert str(info.value).splitlines()[0] == (
        "tool calculator was not called "
        "(tool calls made: search(query='refunds', k=3), search_web())"
    )


def test_assert_tool_called_without_any_tool_call() -> None:
    trace = Trace([make("chat", "1", span_type="CHAT_MODEL")])
    with pytest.raises(AssertionError, match=r"\(tool calls made: none\)"):
        trace.assert_tool_called("search")


def test_assert_max_llm_calls_does_not_count_judges() -> None:
    trace = agent_trace()  # plan and answer; the judge's call does not count
    trace.assert_max_llm_calls(2)
    with pytest.raises(AssertionError) as info:
        trace.assert_max_llm_calls(1)
    lines = str(info.value).splitlines()
    assert lines[0] == "expected at most 1 LLM call(s), the app made 2"
    marked = [line for line in lines if line.startswith(MARK)]
    assert [m.split("─ ")[1].split()[0] for m in marked] == ["plan", "answer"]


def test_assert_no_errors() -> None:
    Trace([make("ok", "1"), make("fine", "2", status="OK")]).assert_no_errors()
    trace = agent_trace()
    with pytest.raises(AssertionError) as info:
        trace.assert_no_errors()
    lines = str(info.value).splitlines()
    assert lines[0] == "1 span(s) failed: search_web: TimeoutError: too slow"
    marked = [line for line in lines if line.startswith(MARK)]
    assert len(marked) == 1 and "ERROR TimeoutError: too slow" in marked[0]


# -- the tree as text ----------------------------------------------------------------------------


def test_text_draws_the_tree() -> None:
    trace = agent_trace()
    lines = trace.text().splitlines()
    assert [line[:14] for line in lines] == [
        "  agent  AGENT",
        "  ├─ plan  CHA",
        "  ├─ search  T",
        "  │  └─ http G",
        "  ├─ search_we",
        "  └─ answer  L",
        "  judge  EVALU",
        "  └─ judge cal",
    ]
    assert lines[0] == "  agent  AGENT  100.0 ms"


def test_render_tree_marks_spans() -> None:
    trace = agent_trace()
    answer = trace.find("answer")
    assert answer is not None
    text = render_tree(trace.roots, marked={answer.span_id})
    [marked] = [line for line in text.splitlines() if line.startswith(MARK)]
    assert marked == f"{MARK}└─ answer  LLM  20.0 ms"


def test_render_tree_counts_what_it_leaves_out() -> None:
    trace = agent_trace()
    lines = render_tree(trace.roots, max_lines=3).splitlines()
    assert len(lines) == 4
    assert lines[-1] == "  … 5 more spans"
    assert "… " not in render_tree(trace.roots, max_lines=8)


def test_line_shows_model_tokens_cost_and_error() -> None:
    span = make(
        "chat",
        "1",
        span_type="CHAT_MODEL",
        attributes={
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 120,
            "gen_ai.usage.output_tokens": 30,
            "pytest_genai.cost": 0.0015,
        },
        status="ERROR",
        events=[(EXCEPTION, {"exception.type": "RateLimitError", "exception.message": "429\nx"})],
        end_ms=2500,
    )
    line = Trace([span]).text()
    assert line == (
        "  chat  CHAT_MODEL  2.50 s  gpt-4o-mini  tokens 120→30  $0.0015  ERROR RateLimitError: 429"
    )


def test_line_leaves_out_what_is_unknown() -> None:
    only_output = make(
        "gpt-4o call",
        "1",
        span_type="LLM",
        attributes={"gen_ai.request.model": "gpt-4o", "gen_ai.usage.output_tokens": 3},
        end_ms=1.25,
    )
    # the model is already in the name; a missing token count shows as 0
    assert Trace([only_output]).text() == "  gpt-4o call  LLM  1.2 ms  tokens 0→3"
    assert Trace([make("plain", "2")]).text() == "  plain  UNKNOWN  1.0 ms"


def test_an_llm_span_inside_another_is_one_call() -> None:
    wrapper = Span("answer", "a1", None, "t", {"mlflow.spanType": "LLM"}, 0, 10)
    inner = Span(
        "chat gpt",
        "a2",
        "a1",
        "t",
        {
            "mlflow.spanType": "CHAT_MODEL",
            "gen_ai.usage.input_tokens": 5,
            "gen_ai.usage.output_tokens": 3,
            "pytest_genai.cost": 0.5,
        },
        1,
        9,
    )
    trace = Trace([wrapper, inner])
    assert [s.name for s in trace.llm_calls] == ["answer"]
    assert (trace.usage.input_tokens, trace.usage.output_tokens) == (5, 3)
    assert trace.cost == 0.5
