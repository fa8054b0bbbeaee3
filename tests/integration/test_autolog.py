"""litellm autolog over real HTTP to the loopback server: plain, streamed and async calls, errors,
content capture, and judge calls kept apart from the app's; with and without xdist."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pytest_genai.judges.client import import_litellm
from tests.support.llm_server import LLMServer, Recorded, Reply, status, text, verdict

CANARY = "sk-canary-autolog-0123456789abcdef"


@pytest.fixture(scope="module", autouse=True)
def _litellm_loaded_outside_pytester(_llm_server_session: LLMServer) -> None:
    """litellm and what it imports lazily on first calls (plain, streamed, async), imported
    before any in-process pytester run (modules first imported inside one are dropped after)."""
    import asyncio

    litellm = import_litellm()
    server = _llm_server_session
    params = {
        "api_base": server.base_url,
        "api_key": "warm-up",
        "messages": [{"role": "user", "content": "hi"}],
    }
    litellm.completion(model="openai/gpt-4o-mini", **params)
    list(litellm.completion(model="openai/gpt-4o-mini", stream=True, **params))

    async def warm() -> None:
        await litellm.acompletion(model="openai/gpt-4o-mini", **params)
        stream = await litellm.acompletion(model="openai/gpt-4o-mini", stream=True, **params)
        async for _ in stream:
            pass

    asyncio.run(warm())
    server.reset()


def app_replies(request: Recorded) -> Reply:
    """The judge gets a verdict, the app a text answer that quotes the question."""
    if "evaluator" in request.prompt_text:
        return verdict("yes", "polite enough")
    return text(f"answer to: {request.prompt_text}", prompt_tokens=21, completion_tokens=9)


@pytest.fixture
def server(llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[LLMServer]:
    llm_server.respond_with(app_replies)
    monkeypatch.setenv("APP_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    yield llm_server
    llm_server.reset()  # the server is shared by every test of this process


APP = """
import asyncio, json, os
import litellm
import pytest
from pytest_genai import assert_judged, trace

MODEL = "openai/gpt-4o-mini"
BASE = os.environ["APP_BASE_URL"]
KEY = os.environ["OPENAI_API_KEY"]

def ask(question, **options):
    return litellm.completion(
        model=MODEL, api_base=BASE, api_key=KEY, num_retries=0,
        messages=[{"role": "user", "content": question}], **options)

@trace(span_type="AGENT")
def agent(question):
    return ask(question, temperature=0.2, max_tokens=50).choices[0].message.content

def test_plain(genai_trace):
    assert agent("refund policy?") == "answer to: refund policy?"
    [call] = genai_trace.llm_calls
    assert call.name == "chat openai/gpt-4o-mini"
    assert call.span_type == "CHAT_MODEL"
    assert call.parent.name == "agent"
    attrs = call.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == MODEL
    assert attrs["gen_ai.system"] == "openai"
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert (call.input_tokens, call.output_tokens) == (21, 9)
    assert json.loads(attrs["mlflow.chat.tokenUsage"])["total_tokens"] == 30
    assert call.cost is not None and call.cost > 0
    assert call.inputs == {"messages": [{"role": "user", "content": "refund policy?"}]}
    assert call.outputs["choices"][0]["content"] == "answer to: refund policy?"
    assert genai_trace.usage.total_tokens == 30
    assert genai_trace.cost == call.cost

def test_streamed(genai_trace):
    chunks = [c.choices[0].delta.content or "" for c in ask("stream me", stream=True)]
    assert "".join(chunks) == "answer to: stream me"
    [call] = genai_trace.llm_calls
    assert call.attributes["gen_ai.request.stream"] is True
    assert call.attributes["gen_ai.response.chunks"] == len(chunks)
    assert call.outputs["choices"][0]["content"] == "answer to: stream me"
    assert call.input_tokens and call.output_tokens

def test_async(genai_trace):
    async def main():
        plain = await litellm.acompletion(
            model=MODEL, api_base=BASE, api_key=KEY,
            messages=[{"role": "user", "content": "async"}])
        stream = await litellm.acompletion(
            model=MODEL, api_base=BASE, api_key=KEY, stream=True,
            messages=[{"role": "user", "content": "async stream"}])
        parts = [c.choices[0].delta.content or "" async for c in stream]
        return plain.choices[0].message.content, "".join(parts)
    assert asyncio.run(main()) == ("answer to: async", "answer to: async stream")
    assert len(genai_trace.llm_calls) == 2
    assert all(c.output_tokens for c in genai_trace.llm_calls)

def test_error(genai_trace):
    with pytest.raises(Exception):
        ask("fail please")
    [call] = genai_trace.llm_calls
    assert call.status == "ERROR"
    assert "500" in call.error or "Error" in call.error

def test_judge_calls_are_not_the_apps(genai_trace):
    answer = agent("hello")
    assert_judged(answer, "is polite")
    assert len(genai_trace.llm_calls) == 1
    assert genai_trace.usage.total_tokens == 30
    judge = genai_trace.find(span_type="EVALUATOR")
    assert judge.name == "evaluate is_polite"
    [(name, event)] = judge.events
    assert name == "gen_ai.evaluation.result"
    assert event["gen_ai.evaluation.name"] == "is_polite"
    assert event["gen_ai.evaluation.score.label"] == "yes"
    assert event["gen_ai.evaluation.explanation"] == "polite enough"
    assert not list(judge.descendants())

def test_no_key_in_any_span(genai_trace):
    agent("what is my key?")
    for span in genai_trace.spans:
        assert KEY not in json.dumps(span.attributes, default=str)
"""


def test_autolog(pytester: pytest.Pytester, server: LLMServer, xdist_args: list[str]) -> None:
    def replies(request: Recorded) -> Reply:
        if "fail please" in request.prompt_text:
            return status(500, message="upstream broke")
        return app_replies(request)

    server.respond_with(replies)
    pytester.makepyfile(test_app=APP)
    result = pytester.runpytest(
        f"--genai-judge-base-url={server.base_url}",
        "--genai-judge-model=openai/judge",
        "--genai-traces=traces.jsonl",
        *xdist_args,
    )
    result.assert_outcomes(passed=6)
    exported = (pytester.path / "traces.jsonl").read_text()
    assert CANARY not in exported
    records = [json.loads(line) for line in exported.splitlines()]
    assert len(records) == 6


def test_a_stream_read_in_part_still_ends_its_span(
    pytester: pytest.Pytester, server: LLMServer
) -> None:
    pytester.makepyfile(
        test_app="""
        import os
        import litellm

        def test_first_chunk_only(genai_trace):
            stream = litellm.completion(
                model="openai/gpt-4o-mini", api_base=os.environ["APP_BASE_URL"], stream=True,
                messages=[{"role": "user", "content": "long story"}])
            next(iter(stream))
            stream.close()
            [call] = genai_trace.llm_calls
            assert call.attributes["gen_ai.response.chunks"] == 1
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_litellm_imported_by_a_conftest_is_logged(
    pytester: pytest.Pytester, server: LLMServer
) -> None:
    """`from litellm import completion` in a conftest binds the logged function (run in a fresh
    process, where litellm is first imported by that conftest)."""
    pytester.makeconftest("from litellm import completion\n")
    pytester.makepyfile(
        test_app="""
        import os
        from conftest import completion

        def test_call(genai_trace):
            completion(model="openai/gpt-4o-mini", api_base=os.environ["APP_BASE_URL"],
                       messages=[{"role": "user", "content": "hi"}])
            assert len(genai_trace.llm_calls) == 1
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_content_capture_off(pytester: pytest.Pytester, server: LLMServer) -> None:
    pytester.makepyfile(
        test_app="""
        import os
        import litellm

        def test_quiet(genai_trace):
            litellm.completion(
                model="openai/gpt-4o-mini", api_base=os.environ["APP_BASE_URL"],
                messages=[{"role": "user", "content": "private question"}])
            [call] = genai_trace.llm_calls
            assert call.inputs is None and call.outputs is None
            assert call.input_tokens == 21
            assert "private" not in repr(call.attributes)
        """
    )
    result = pytester.runpytest("--genai-capture-content=false")
    result.assert_outcomes(passed=1)


def test_autolog_needs_no_tracing_fixture(pytester: pytest.Pytester, server: LLMServer) -> None:
    """Without genai_trace, a failed test that called litellm still shows the call."""
    pytester.makepyfile(
        test_app="""
        import os
        import litellm

        def test_wrong():
            reply = litellm.completion(
                model="openai/gpt-4o-mini", api_base=os.environ["APP_BASE_URL"],
                messages=[{"role": "user", "content": "2+2?"}])
            assert reply.choices[0].message.content == "4"
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines(
        [r".*- genai trace -.*", r"\s+chat openai/gpt-4o-mini\s+CHAT_MODEL\s+.*tokens 21→9.*"]
    )


def test_judges_read_the_trace(pytester: pytest.Pytester, server: LLMServer) -> None:
    """Retrieval judges judge the documents of the app's RETRIEVER spans; tool_call_correctness
    the calls of its TOOL spans."""
    pytester.makepyfile(
        test_rag="""
        from pytest_genai import assert_judged, judges, trace

        @trace(span_type="RETRIEVER")
        def retrieve(query):
            return [{"page_content": "Refunds take 30 days.", "id": "policy.md"}]

        @trace(span_type="TOOL")
        def open_ticket(priority):
            return "T-1"

        def test_rag():
            retrieve("refunds")
            open_ticket(priority="high")
            assert_judged("30 days", [judges.retrieval_groundedness(),
                                      judges.tool_call_correctness()],
                          inputs={"q": "refunds"},
                          expectations={"expected_tool_calls": [{"name": "open_ticket"}]})

        def test_nothing_retrieved():
            assert_judged("30 days", judges.retrieval_groundedness())
        """
    )
    result = pytester.runpytest(
        f"--genai-judge-base-url={server.base_url}", "--genai-judge-model=openai/judge"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*needs context= (or RETRIEVER spans in the test's trace that returned documents)*"]
    )
    prompts = [r.prompt_text for r in server.requests]
    assert any("Refunds take 30 days." in p and "policy.md" in p for p in prompts)
    assert any('"name": "open_ticket"' in p and '"priority": "high"' in p for p in prompts)


def test_a_traced_stream_is_still_litellms_stream(
    pytester: pytest.Pytester, server: LLMServer
) -> None:
    pytester.makepyfile(
        test_app="""
        import asyncio, os
        import litellm
        from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

        def call(**options):
            return litellm.completion(
                model="openai/gpt-4o-mini", api_base=os.environ["APP_BASE_URL"], stream=True,
                messages=[{"role": "user", "content": "story"}], **options)

        def test_same_class_and_context_manager(genai_trace):
            stream = call()
            assert isinstance(stream, CustomStreamWrapper)
            with stream as s:
                next(iter(s))
            [span] = genai_trace.llm_calls
            assert span.attributes["gen_ai.response.chunks"] == 1

        def test_aclose_ends_the_span(genai_trace):
            async def main():
                stream = await litellm.acompletion(
                    model="openai/gpt-4o-mini", api_base=os.environ["APP_BASE_URL"],
                    stream=True, messages=[{"role": "user", "content": "story"}])
                await stream.__anext__()
                await stream.aclose()
            asyncio.run(main())
            assert len(genai_trace.llm_calls) == 1
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)
