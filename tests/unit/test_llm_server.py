"""The loopback OpenAI-compatible server (tests/support/llm_server.py), raw and through litellm."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.llm_server import (
    DEFAULT_REPLY,
    LLMServer,
    Recorded,
    Reply,
    garbage_body,
    ok,
    reject_response_format,
    stall,
    status,
    text,
    truncated,
    verdict,
)

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported

import litellm

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-test-canary"
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def _quiet_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    """litellm prints a "Give Feedback / Get Help" banner for every exception otherwise."""
    monkeypatch.setattr(litellm, "suppress_debug_info", True)


def chat(server: LLMServer, body: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
    """POST a chat-completions request straight to the server."""
    payload = {"model": "judge-test", "messages": MESSAGES, **(body or {})}
    kwargs.setdefault("timeout", 5)
    return httpx.post(f"{server.base_url}/chat/completions", json=payload, **kwargs)


def complete(server: LLMServer, **kwargs: Any) -> Any:
    """litellm.completion against the server: one attempt, no retries anywhere.

    A keyword given as None is left out of the call.
    """
    params: dict[str, Any] = {
        "model": "openai/judge-test",
        "api_base": server.base_url,
        "api_key": KEY,
        "messages": MESSAGES,
        "num_retries": 0,
        "max_retries": 0,
        "timeout": 5,
    }
    params.update(kwargs)
    return litellm.completion(**{k: v for k, v in params.items() if v is not None})


def sse_events(response: httpx.Response) -> list[str]:
    """The ``data:`` payloads of a Server-Sent Events body, in order."""
    events = []
    for block in response.text.split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            events.append(block.removeprefix("data: "))
    return events


# --- raw HTTP ------------------------------------------------------------------------------


def test_default_reply_has_openai_shape(llm_server: LLMServer) -> None:
    response = chat(llm_server, {"model": "some-model"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    data = response.json()
    assert set(data) == {"id", "object", "created", "model", "choices", "usage"}
    assert data["id"].startswith("chatcmpl-")
    assert data["object"] == "chat.completion"
    assert isinstance(data["created"], int)
    assert data["model"] == "some-model"
    [choice] = data["choices"]
    assert choice["index"] == 0
    assert choice["message"] == {"role": "assistant", "content": DEFAULT_REPLY.content}
    assert choice["finish_reason"] == "stop"
    assert json.loads(choice["message"]["content"]) == {
        "result": "yes",
        "rationale": "default reply",
    }
    assert data["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


def test_ok_options(llm_server: LLMServer) -> None:
    llm_server.script(
        ok("hello", prompt_tokens=3, completion_tokens=4, finish_reason="content_filter"),
        ok("named", model="gpt-judge-2"),
    )

    first = chat(llm_server).json()
    second = chat(llm_server).json()

    assert first["choices"][0]["message"]["content"] == "hello"
    assert first["choices"][0]["finish_reason"] == "content_filter"
    assert first["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert first["model"] == "judge-test"
    assert second["model"] == "gpt-judge-2"
    assert first["id"] != second["id"]


def test_verdict_text_and_truncated_replies(llm_server: LLMServer) -> None:
    llm_server.script(
        verdict("no", "off topic"), verdict(0.25), text("It is fine, I think."), truncated('{"re')
    )

    replies = [chat(llm_server).json()["choices"][0] for _ in range(4)]

    assert json.loads(replies[0]["message"]["content"]) == {
        "result": "no",
        "rationale": "off topic",
    }
    assert json.loads(replies[1]["message"]["content"])["result"] == 0.25
    assert replies[2]["message"]["content"] == "It is fine, I think."
    assert replies[2]["finish_reason"] == "stop"
    assert replies[3]["message"]["content"] == '{"re'
    assert replies[3]["finish_reason"] == "length"


def test_script_then_handler_then_default(llm_server: LLMServer) -> None:
    def handler(request: Recorded) -> Reply | None:
        prompt = request.body["messages"][-1]["content"]
        return ok(prompt.upper()) if prompt.startswith("echo") else None

    llm_server.script(ok("first"), ok("second"))
    llm_server.respond_with(handler)
    assert llm_server.pending == 2

    contents = [
        chat(llm_server, {"messages": [{"role": "user", "content": prompt}]}).json()["choices"][0][
            "message"
        ]["content"]
        for prompt in ("echo a", "echo b", "echo c", "other")
    ]

    assert contents == ["first", "second", "ECHO C", DEFAULT_REPLY.content]
    assert llm_server.pending == 0


def test_default_can_be_replaced(llm_server: LLMServer) -> None:
    llm_server.default = verdict("unknown", "changed")

    content = chat(llm_server).json()["choices"][0]["message"]["content"]

    assert json.loads(content) == {"result": "unknown", "rationale": "changed"}


def test_script_rejects_non_replies(llm_server: LLMServer) -> None:
    with pytest.raises(TypeError, match="Reply objects"):
        llm_server.script("yes")  # type: ignore[arg-type]


def test_handler_errors_become_500(llm_server: LLMServer) -> None:
    def broken(request: Recorded) -> Reply:
        raise RuntimeError("boom")

    llm_server.respond_with(broken)

    response = chat(llm_server)

    assert response.status_code == 500
    assert "boom" in response.json()["error"]["message"]
    assert [type(error) for error in llm_server.errors] == [RuntimeError]


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "invalid_request_error"),
        (404, "invalid_request_error"),
        (429, "requests"),
        (500, "server_error"),
        (503, "server_error"),
        (418, "invalid_request_error"),
        (599, "server_error"),
    ],
)
def test_status_replies(llm_server: LLMServer, code: int, error_type: str) -> None:
    llm_server.script(status(code), status(code, message="custom words"))

    plain = chat(llm_server)
    custom = chat(llm_server)

    assert plain.status_code == code
    assert "retry-after" not in plain.headers
    error = plain.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == error_type
    assert str(code) in error["message"]
    assert custom.status_code == code
    assert custom.json()["error"]["message"] == "custom words"


@pytest.mark.parametrize(("seconds", "header"), [(2, "2"), (2.0, "2"), (0.5, "0.5"), (0, "0")])
def test_retry_after_header(llm_server: LLMServer, seconds: float, header: str) -> None:
    llm_server.script(status(429, retry_after=seconds))

    response = chat(llm_server)

    assert response.status_code == 429
    assert response.headers["retry-after"] == header
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_status_extra_headers(llm_server: LLMServer) -> None:
    llm_server.script(status(503, retry_after=1, headers={"retry-after-ms": "250"}))

    response = chat(llm_server)

    assert response.headers["retry-after"] == "1"
    assert response.headers["retry-after-ms"] == "250"


@pytest.mark.parametrize("code", [200, 302, 399, 600])
def test_status_needs_an_error_code(code: int) -> None:
    with pytest.raises(ValueError, match="400-599"):
        status(code)


def test_garbage_body(llm_server: LLMServer) -> None:
    llm_server.script(garbage_body(), garbage_body(b"plain", content_type="text/plain"))

    first = chat(llm_server)
    second = chat(llm_server)

    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        first.json()
    assert second.status_code == 200
    assert second.headers["content-type"] == "text/plain"
    assert second.content == b"plain"


def test_reject_response_format(llm_server: LLMServer) -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "v", "schema": {"type": "object"}}}
    llm_server.script(
        reject_response_format(ok("first")),
        reject_response_format(ok("second")),
        ok("third"),
    )

    rejected = chat(llm_server, {"response_format": schema})
    accepted = chat(llm_server)
    after = chat(llm_server, {"response_format": schema})

    assert rejected.status_code == 400
    error = rejected.json()["error"]
    assert error["param"] == "response_format"
    assert "'response_format' of type 'json_schema' is not supported" in error["message"]
    assert accepted.status_code == 200
    assert accepted.json()["choices"][0]["message"]["content"] == "second"
    assert after.json()["choices"][0]["message"]["content"] == "third"  # one slot each


def test_stall_then_answer(llm_server: LLMServer) -> None:
    llm_server.script(stall(0.3, ok("late")), stall(0.05))

    start = time.monotonic()
    late = chat(llm_server)
    elapsed = time.monotonic() - start
    default_then = chat(llm_server)

    assert elapsed >= 0.3
    assert late.json()["choices"][0]["message"]["content"] == "late"
    assert json.loads(default_then.json()["choices"][0]["message"]["content"]) == {
        "result": "yes",
        "rationale": "after stall",
    }


def test_stall_past_client_timeout_is_quiet_and_server_recovers(
    llm_server: LLMServer, capfd: pytest.CaptureFixture[str]
) -> None:
    llm_server.script(stall(0.5, ok("too late")), ok("next"))

    with httpx.Client(timeout=0.15) as client:
        url = f"{llm_server.base_url}/chat/completions"
        body = {"model": "judge-test", "messages": MESSAGES}
        with pytest.raises(httpx.ReadTimeout):
            client.post(url, json=body)
        follow_up = client.post(url, json=body)
    time.sleep(0.6)  # let the stalled answer hit the closed connection

    assert follow_up.json()["choices"][0]["message"]["content"] == "next"
    assert len(llm_server.requests) == 2
    assert llm_server.errors == []
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("include_usage", [True, False])
def test_streaming_chunks(llm_server: LLMServer, include_usage: bool) -> None:
    content = '{"result": "no", "rationale": "streamed answer"}'
    llm_server.script(ok(content, prompt_tokens=5, completion_tokens=9, finish_reason="length"))

    response = chat(
        llm_server, {"stream": True, "stream_options": {"include_usage": include_usage}}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["transfer-encoding"] == "chunked"
    events = sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert {chunk["model"] for chunk in chunks} == {"judge-test"}
    with_choices = [chunk for chunk in chunks if chunk["choices"]]
    deltas = [chunk["choices"][0]["delta"] for chunk in with_choices]
    assert deltas[0]["role"] == "assistant"
    pieces = [delta.get("content") for delta in deltas if delta.get("content")]
    assert len(pieces) >= 2
    assert "".join(pieces) == content
    finish = [chunk["choices"][0]["finish_reason"] for chunk in with_choices]
    assert finish[-1] == "length"
    assert set(finish[:-1]) == {None}
    usage_chunks = [chunk for chunk in chunks if chunk.get("usage")]
    if include_usage:
        assert chunks[-1]["choices"] == []
        assert usage_chunks == [chunks[-1]]
        assert chunks[-1]["usage"] == {
            "prompt_tokens": 5,
            "completion_tokens": 9,
            "total_tokens": 14,
        }
    else:
        assert usage_chunks == []
        assert all("usage" not in chunk for chunk in chunks)


def test_streaming_errors_are_plain_json(llm_server: LLMServer) -> None:
    llm_server.script(status(429, retry_after=1))

    response = chat(llm_server, {"stream": True})

    assert response.status_code == 429
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["type"] == "requests"


def test_requests_are_recorded(llm_server: LLMServer) -> None:
    before = time.monotonic()
    chat(
        llm_server,
        {"messages": [{"role": "system", "content": "be fair"}, *MESSAGES], "temperature": 0},
        headers={"Authorization": "Bearer sk-raw", "X-Trace-Id": "abc"},
    )
    httpx.get(f"{llm_server.base_url}/models", timeout=5)

    first, second = llm_server.requests
    assert first.method == "POST"
    assert first.path == "/v1/chat/completions"
    assert first.headers["authorization"] == "Bearer sk-raw"
    assert first.headers["x-trace-id"] == "abc"
    assert all(name == name.lower() for name in first.headers)
    assert first.body["temperature"] == 0
    assert first.body["messages"][0] == {"role": "system", "content": "be fair"}
    assert first.prompt_text == "be fair\nhi"
    assert second.method == "GET"
    assert second.path == "/v1/models"
    assert second.body == {}
    assert before <= first.received_at <= second.received_at <= time.monotonic()


def test_chunked_request_body_is_read(llm_server: LLMServer) -> None:
    payload = json.dumps({"model": "judge-test", "messages": MESSAGES}).encode()

    def parts() -> Any:
        yield payload[:10]
        yield payload[10:]

    response = httpx.post(
        f"{llm_server.base_url}/chat/completions",
        content=parts(),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 200
    assert llm_server.requests[0].headers["transfer-encoding"] == "chunked"
    assert llm_server.requests[0].body["messages"] == MESSAGES


def test_models_unknown_paths_and_bad_json(llm_server: LLMServer) -> None:
    llm_server.script(ok("kept"))

    models = httpx.get(f"{llm_server.base_url}/models", timeout=5)
    unknown = httpx.post(f"{llm_server.base_url}/embeddings", json={}, timeout=5)
    bad_json = httpx.post(f"{llm_server.base_url}/chat/completions", content=b"{nope", timeout=5)
    not_object = httpx.post(f"{llm_server.base_url}/chat/completions", json=[1], timeout=5)

    assert models.status_code == 200
    assert models.json()["object"] == "list"
    assert [model["id"] for model in models.json()["data"]] == ["judge-test"]
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "invalid_request_error"
    assert bad_json.status_code == 400
    assert "not valid JSON" in bad_json.json()["error"]["message"]
    assert not_object.status_code == 400
    assert llm_server.pending == 1  # malformed requests take no scripted reply
    assert len(llm_server.requests) == 4


def test_latency(llm_server: LLMServer) -> None:
    llm_server.latency = 0.25

    start = time.monotonic()
    response = chat(llm_server)
    elapsed = time.monotonic() - start

    assert response.status_code == 200
    assert elapsed >= 0.25


def test_reset(llm_server: LLMServer) -> None:
    chat(llm_server)
    llm_server.script(ok("a"))
    llm_server.respond_with(lambda request: ok("handled"))
    llm_server.latency = 5.0
    llm_server.default = ok("changed")

    llm_server.reset()

    assert llm_server.requests == []
    assert llm_server.pending == 0
    assert llm_server.latency == 0.0
    assert llm_server.default == DEFAULT_REPLY
    assert llm_server.connections_opened == 0
    start = time.monotonic()
    assert chat(llm_server).json()["choices"][0]["message"]["content"] == DEFAULT_REPLY.content
    assert time.monotonic() - start < 2


def test_keep_alive_reuses_one_connection(llm_server: LLMServer) -> None:
    llm_server.script(ok("1"), stall(0.01, ok("2")), ok("3", model="x"), status(429), ok("5"))

    with httpx.Client(timeout=5) as client:
        url = f"{llm_server.base_url}/chat/completions"
        body = {"model": "judge-test", "messages": MESSAGES}
        codes = [client.post(url, json=body).status_code for _ in range(4)]
        streamed = client.post(url, json={**body, "stream": True})
        models = client.get(f"{llm_server.base_url}/models")

    assert codes == [200, 200, 200, 429]
    assert sse_events(streamed)[-1] == "[DONE]"
    assert models.status_code == 200
    assert llm_server.connections_opened == 1
    assert len(llm_server.requests) == 6


def test_concurrent_requests(llm_server: LLMServer) -> None:
    llm_server.latency = 0.2
    results: list[int] = []

    def worker() -> None:
        results.append(chat(llm_server).status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [200] * 8
    assert time.monotonic() - start < 1.2  # served in parallel, not 8 x 0.2 s
    assert len(llm_server.requests) == 8


def test_start_stop_lifecycle() -> None:
    server = LLMServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.base_url

    with server:
        url = server.base_url
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/v1")
        client = httpx.Client(timeout=5)
        assert client.get(f"{url}/models").status_code == 200  # leaves an idle keep-alive
        server.script(stall(30))
        stalled: list[BaseException] = []

        def stalled_call() -> None:
            try:
                httpx.post(f"{url}/chat/completions", json={"messages": []}, timeout=60)
            except httpx.HTTPError as exc:
                stalled.append(exc)

        thread = threading.Thread(target=stalled_call)
        thread.start()
        deadline = time.monotonic() + 5
        while len(server.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        start = time.monotonic()
    thread.join(5)
    with pytest.raises(httpx.ConnectError):  # the idle pooled connection was closed too
        client.get(f"{url}/models")
    client.close()

    assert time.monotonic() - start < 2  # neither the idle connection nor the stall holds stop()
    assert not thread.is_alive()
    assert len(stalled) == 1
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models", timeout=2)
    server.stop()  # stopping twice is fine


# --- through litellm ---------------------------------------------------------------------


def test_litellm_completion(llm_server: LLMServer) -> None:
    llm_server.script(verdict("no", "wrong city"))

    response = complete(llm_server)

    assert json.loads(response.choices[0].message.content) == {
        "result": "no",
        "rationale": "wrong city",
    }
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens == 11
    assert response.usage.completion_tokens == 7
    assert response.usage.total_tokens == 18
    [request] = llm_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body == {"model": "judge-test", "messages": MESSAGES}
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-stainless-retry-count"] == "0"


def test_litellm_truncated_reply(llm_server: LLMServer) -> None:
    llm_server.script(truncated('{"result": "y'))

    response = complete(llm_server)

    assert response.choices[0].finish_reason == "length"
    assert response.choices[0].message.content == '{"result": "y'


def test_litellm_sequence_is_one_request_per_call_on_one_connection(
    llm_server: LLMServer,
) -> None:
    llm_server.script(*(ok(str(n)) for n in range(5)))

    contents = [complete(llm_server).choices[0].message.content for _ in range(5)]

    assert contents == ["0", "1", "2", "3", "4"]
    assert len(llm_server.requests) == 5
    # litellm caches the OpenAI client and its httpx pool: at most one new connection
    # (none when an earlier test left a pooled one open).
    assert llm_server.connections_opened <= 1


def test_max_retries_is_the_openai_sdk_retry_count(llm_server: LLMServer) -> None:
    # retry_after keeps the SDK's backoff short; num_retries=None so max_retries counts.
    llm_server.script(*[status(500, retry_after=0.01)] * 3, ok("unused"))
    with pytest.raises(litellm.InternalServerError):
        complete(llm_server, num_retries=None, max_retries=0)
    assert len(llm_server.requests) == 1

    llm_server.reset()
    llm_server.script(status(500, retry_after=0.01), status(500, retry_after=0.01), ok("late"))
    response = complete(llm_server, num_retries=None, max_retries=2)
    assert response.choices[0].message.content == "late"
    assert [r.headers["x-stainless-retry-count"] for r in llm_server.requests] == ["0", "1", "2"]

    llm_server.reset()
    llm_server.script(*[status(500, retry_after=0.01)] * 4)
    with pytest.raises(litellm.InternalServerError):
        complete(llm_server, num_retries=None, max_retries=None)
    assert len(llm_server.requests) == 3  # given neither, the SDK retries twice


def test_num_retries_overrides_max_retries(llm_server: LLMServer) -> None:
    llm_server.script(*[status(500, retry_after=0.01)] * 3, ok("unused"))
    with pytest.raises(litellm.InternalServerError):
        complete(llm_server, num_retries=0, max_retries=2)
    assert len(llm_server.requests) == 1  # num_retries=0 became the SDK's max_retries

    llm_server.reset()
    llm_server.script(*[status(500, retry_after=0.01)] * 6)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - depends on tenacity, see below
        complete(llm_server, num_retries=1, max_retries=0)
    retry_counts = [r.headers["x-stainless-retry-count"] for r in llm_server.requests]
    assert retry_counts[:2] == ["0", "1"]  # num_retries=1 became the SDK's max_retries
    if importlib.util.find_spec("tenacity") is None:
        # ...and litellm's own retry wrapper then wants tenacity, which it does not depend on.
        assert "tenacity" in str(raised.value)
        assert len(llm_server.requests) == 2


def test_litellm_rate_limit(llm_server: LLMServer) -> None:
    llm_server.script(status(429, retry_after=3), ok("unused"))

    with pytest.raises(litellm.RateLimitError) as raised:
        complete(llm_server)

    exc = raised.value
    assert len(llm_server.requests) == 1
    assert isinstance(exc, openai.RateLimitError)
    assert exc.status_code == 429
    assert exc.response.status_code == 429
    assert exc.response.headers["retry-after"] == "3"
    assert exc.litellm_response_headers["retry-after"] == "3"
    assert exc.llm_provider == "openai"
    assert llm_server.pending == 1


@pytest.mark.parametrize(
    ("code", "exception"),
    [
        (400, litellm.BadRequestError),
        (401, litellm.AuthenticationError),
        (402, litellm.APIError),
        (403, litellm.APIError),  # not PermissionDeniedError for the openai provider
        (404, litellm.NotFoundError),
        (408, litellm.Timeout),
        (409, litellm.APIError),
        (422, litellm.BadRequestError),
        (429, litellm.RateLimitError),
        (500, litellm.InternalServerError),
        (502, litellm.BadGatewayError),
        (503, litellm.ServiceUnavailableError),
        (504, litellm.Timeout),
        (529, litellm.APIError),
    ],
)
def test_litellm_exception_per_status(
    llm_server: LLMServer, code: int, exception: type[Exception]
) -> None:
    llm_server.script(status(code, retry_after=7))

    with pytest.raises(exception) as raised:
        complete(llm_server)

    exc: Any = raised.value
    assert type(exc) is exception
    assert exc.status_code == code
    assert exc.response.status_code == code
    assert exc.response.headers["retry-after"] == "7"
    assert exc.litellm_response_headers["retry-after"] == "7"
    assert len(llm_server.requests) == 1


@pytest.mark.parametrize(
    ("reply", "exception", "status_code"),
    [
        (status(500, message="upstream rate limit hit"), litellm.RateLimitError, 429),
        (
            status(400, message="This model's maximum context length is 8192 tokens"),
            litellm.ContextWindowExceededError,
            400,
        ),
    ],
)
def test_litellm_exception_class_follows_message(
    llm_server: LLMServer, reply: Reply, exception: type[Exception], status_code: int
) -> None:
    llm_server.script(reply)

    with pytest.raises(exception) as raised:
        complete(llm_server)

    assert type(raised.value) is exception
    assert raised.value.status_code == status_code  # type: ignore[attr-defined]


def test_litellm_timeout(llm_server: LLMServer) -> None:
    llm_server.script(stall(3), ok("after the stall"))

    start = time.monotonic()
    with pytest.raises(litellm.Timeout) as raised:
        complete(llm_server, timeout=0.5)
    elapsed = time.monotonic() - start
    after = complete(llm_server)

    exc: Any = raised.value
    assert 0.5 <= elapsed < 2.5
    assert isinstance(exc, openai.APITimeoutError)
    assert isinstance(exc, openai.APIConnectionError)
    assert not isinstance(exc, litellm.APIConnectionError)
    assert exc.status_code == 408  # litellm's own code: no HTTP response was received
    assert getattr(exc, "response", None) is None
    assert len(llm_server.requests) == 2
    assert after.choices[0].message.content == "after the stall"


def test_litellm_streaming(llm_server: LLMServer) -> None:
    content = '{"result": "yes", "rationale": "streamed through litellm"}'
    llm_server.script(ok(content, prompt_tokens=5, completion_tokens=3))

    chunks = list(complete(llm_server, stream=True, stream_options={"include_usage": True}))

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == content
    usage = [c.usage for c in chunks if getattr(c, "usage", None)]
    assert usage[-1].prompt_tokens == 5
    assert usage[-1].completion_tokens == 3
    [request] = llm_server.requests
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}


def test_litellm_streaming_rate_limit(llm_server: LLMServer) -> None:
    llm_server.script(status(429, retry_after=2))

    with pytest.raises(litellm.RateLimitError) as raised:
        complete(llm_server, stream=True)

    assert raised.value.response.headers["retry-after"] == "2"


def test_litellm_sends_response_format_as_given(llm_server: LLMServer) -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {
            "name": "verdict",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"result": {"type": "string"}, "rationale": {"type": "string"}},
                "required": ["result", "rationale"],
                "additionalProperties": False,
            },
        },
    }

    complete(llm_server, response_format=response_format)

    assert llm_server.requests[0].body["response_format"] == response_format


def test_litellm_response_format_rejected(llm_server: LLMServer) -> None:
    llm_server.script(reject_response_format(verdict("yes")), reject_response_format(ok("ok")))
    response_format = {"type": "json_schema", "json_schema": {"name": "v", "schema": {}}}

    with pytest.raises(litellm.BadRequestError) as raised:
        complete(llm_server, response_format=response_format)
    retried = complete(llm_server)

    assert type(raised.value) is litellm.BadRequestError
    assert raised.value.status_code == 400
    assert "response_format" in str(raised.value)
    assert retried.choices[0].message.content == "ok"


@pytest.mark.parametrize("content_type", ["application/json", "text/html"])
def test_litellm_garbage_body(llm_server: LLMServer, content_type: str) -> None:
    llm_server.script(garbage_body(content_type=content_type))

    with pytest.raises(litellm.InternalServerError) as raised:
        complete(llm_server)

    assert raised.value.status_code == 500  # the server said 200
    assert len(llm_server.requests) == 1


def test_litellm_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = sock.getsockname()[1]
        with pytest.raises(litellm.InternalServerError) as raised:
            litellm.completion(
                model="openai/judge-test",
                api_base=f"http://127.0.0.1:{port}/v1",
                api_key=KEY,
                messages=MESSAGES,
                num_retries=0,
                max_retries=0,
                timeout=5,
            )

    assert raised.value.status_code == 500
    assert "Connection error" in str(raised.value)


def test_litellm_is_fast_against_the_server(llm_server: LLMServer) -> None:
    complete(llm_server)  # warm up: client cache, lazy imports
    durations = []
    for _ in range(20):
        start = time.perf_counter()
        complete(llm_server)
        durations.append(time.perf_counter() - start)

    # A Nagle/delayed-ACK stall would cost ~40 ms per call.
    assert statistics.median(durations) < 0.025


NETWORK_PROBE = """
import json, socket, sys

attempts = []
real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def host_of(address):
    return address[0] if isinstance(address, tuple) else str(address)


def connect(self, address):
    attempts.append(["connect", repr(address)])
    if host_of(address) not in LOOPBACK:
        raise OSError("network blocked by test")
    return real_connect(self, address)


def getaddrinfo(host, *args, **kwargs):
    attempts.append(["getaddrinfo", repr(host)])
    if host not in LOOPBACK:
        raise socket.gaierror("network blocked by test")
    return real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo

import litellm

at_import = list(attempts)
sys.path.insert(0, sys.argv[1])
from tests.support.llm_server import LLMServer

with LLMServer() as server:
    kwargs = dict(
        model="openai/judge-test", api_base=server.base_url, api_key="sk-x",
        messages=[{"role": "user", "content": "hi"}], num_retries=0, max_retries=0, timeout=5,
    )
    litellm.completion(**kwargs)
    list(litellm.completion(**kwargs, stream=True))
print(json.dumps({"import": at_import, "all": attempts}))
"""


def test_import_litellm_makes_no_network_attempt(tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent(NETWORK_PROBE))
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}

    result = subprocess.run(
        [sys.executable, str(script), str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["import"] == []
    hosts = {attempt[1] for attempt in report["all"]}
    assert hosts, "the probe saw no connection at all: it is not working"
    assert all("127.0.0.1" in host for host in hosts), report["all"]
