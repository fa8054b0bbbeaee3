"""The judge client against the loopback server: litellm over real HTTP, faults injected."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from pytest_genai.config import Settings
from pytest_genai.errors import JudgeError
from pytest_genai.judges.base import _response_model
from pytest_genai.judges.client import REASK, JudgeClient, import_litellm
from tests.support.llm_server import (
    LLMServer,
    garbage_body,
    reject_response_format,
    stall,
    status,
    text,
    truncated,
    verdict,
)

MODEL = "openai/judge-test"
QUESTION = [{"role": "user", "content": "Is it polite?"}]
VERDICT = _response_model("yes_no")


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(
    llm_server: LLMServer, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> JudgeClient:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = Settings(
        judge_model=MODEL, judge_base_url=llm_server.base_url, judge_timeout=2, judge_retries=2
    )
    return JudgeClient(settings, backoff_base=0.01, sleep=sleeps.append)


def test_one_attempt_is_one_request_with_what_we_asked_for(
    client: JudgeClient, llm_server: LLMServer
) -> None:
    llm_server.script(verdict("yes", "polite enough"))
    reply = client.ask(QUESTION, response_model=VERDICT)
    assert (reply.result, reply.rationale, reply.attempts) == ("yes", "polite enough", 1)
    assert (reply.input_tokens, reply.output_tokens) == (11, 7)
    [request] = llm_server.requests
    body = request.body
    assert body["model"] == "judge-test"
    assert body["temperature"] == 0
    assert body["messages"] == QUESTION
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["result"]["enum"] == ["yes", "no", "unknown"]
    assert list(schema["properties"]) == ["rationale", "result"]


def test_inference_params_and_model_per_call(client: JudgeClient, llm_server: LLMServer) -> None:
    client.ask(QUESTION, model="openai/other", inference_params={"temperature": 0.3, "seed": 7})
    body = llm_server.requests[0].body
    assert (body["model"], body["temperature"], body["seed"]) == ("other", 0.3, 7)


def test_rate_limit_honours_retry_after(
    client: JudgeClient, llm_server: LLMServer, sleeps: list[float]
) -> None:
    llm_server.script(status(429, retry_after=0.25), status(429, retry_after=1.5), verdict("no"))
    reply = client.ask(QUESTION)
    assert (reply.result, reply.attempts) == ("no", 3)
    assert sleeps == [0.25, 1.5]
    assert len(llm_server.requests) == 3


def test_server_errors_back_off_exponentially_then_give_up(
    client: JudgeClient, llm_server: LLMServer, sleeps: list[float]
) -> None:
    llm_server.script(status(500), status(503), status(502))
    with pytest.raises(JudgeError, match=r"failed after 3 requests: HTTP 502") as caught:
        client.ask(QUESTION)
    assert caught.value.attempts == 3
    assert len(llm_server.requests) == 3
    assert 0.005 <= sleeps[0] <= 0.01
    assert 0.01 <= sleeps[1] <= 0.02


@pytest.mark.parametrize("code", [400, 401, 403, 404])
def test_client_errors_are_not_retried(
    client: JudgeClient, llm_server: LLMServer, code: int, sleeps: list[float]
) -> None:
    llm_server.script(status(code, message="nope"))
    with pytest.raises(JudgeError, match=rf"HTTP {code}"):
        client.ask(QUESTION)
    assert len(llm_server.requests) == 1
    assert sleeps == []


def test_a_stalled_request_times_out_and_is_retried(
    llm_server: LLMServer, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = Settings(
        judge_model=MODEL, judge_base_url=llm_server.base_url, judge_timeout=0.3, judge_retries=1
    )
    client = JudgeClient(settings, backoff_base=0.01, sleep=sleeps.append)
    llm_server.script(stall(2.0), verdict("yes"))
    reply = client.ask(QUESTION)
    assert (reply.result, reply.attempts) == ("yes", 2)


def test_structured_output_rejected_falls_back_to_instructions(
    client: JudgeClient, llm_server: LLMServer
) -> None:
    llm_server.script(reject_response_format(verdict("unused")), verdict("yes"), verdict("no"))
    assert client.ask(QUESTION, response_model=VERDICT).result == "yes"
    first, second = llm_server.requests
    assert "response_format" in first.body
    assert "response_format" not in second.body
    # remembered for the model: the next question goes without it at once
    assert client.ask(QUESTION, response_model=VERDICT).result == "no"
    assert "response_format" not in llm_server.requests[2].body


def test_unreadable_reply_is_asked_again_once(client: JudgeClient, llm_server: LLMServer) -> None:
    llm_server.script(text("Looks polite to me!"), verdict("yes", "second try"))
    reply = client.ask(QUESTION)
    assert (reply.result, reply.attempts) == ("yes", 2)
    messages = llm_server.requests[1].body["messages"]
    assert messages[-2] == {"role": "assistant", "content": "Looks polite to me!"}
    assert messages[-1] == {"role": "user", "content": REASK}


@pytest.mark.parametrize(
    "replies",
    [
        [text("hmm"), text("still prose")],
        [truncated('{"rationale": "the answer is'), truncated('{"rationale": "again')],
    ],
    ids=["prose", "truncated"],
)
def test_unreadable_twice_is_a_judge_error_with_the_raw_reply(
    client: JudgeClient, llm_server: LLMServer, replies: list[Any]
) -> None:
    llm_server.script(*replies)
    with pytest.raises(JudgeError, match="no usable verdict after a re-ask") as caught:
        client.ask(QUESTION)
    assert caught.value.raw_reply
    assert caught.value.attempts == 2


def test_garbage_body_is_a_judge_error(client: JudgeClient, llm_server: LLMServer) -> None:
    llm_server.script(garbage_body(), garbage_body(), garbage_body())
    with pytest.raises(JudgeError):
        client.ask(QUESTION)


def test_cost_from_litellm_pricing_or_none(client: JudgeClient, llm_server: LLMServer) -> None:
    litellm = import_litellm()
    llm_server.script(verdict("yes"))
    assert client.ask(QUESTION).cost is None  # a model litellm has no price for
    llm_server.script(verdict("yes"))
    priced = client.ask(QUESTION, model="openai/gpt-4o-mini")
    price = litellm.model_cost["gpt-4o-mini"]
    expected = 11 * price["input_cost_per_token"] + 7 * price["output_cost_per_token"]
    assert priced.cost == pytest.approx(expected)


def test_missing_credentials_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = JudgeClient(Settings(judge_model="openai/gpt-4o-mini"))
    with pytest.raises(JudgeError, match=r"no credentials.*set OPENAI_API_KEY.*genai_judge_model"):
        client.ask(QUESTION)


def test_unknown_model_string(monkeypatch: pytest.MonkeyPatch) -> None:
    client = JudgeClient(Settings(judge_model="no-such-provider-model"))
    with pytest.raises(JudgeError, match=r"unknown judge model 'no-such-provider-model'"):
        client.ask(QUESTION)


def test_the_api_key_is_sent_but_never_repeated(
    llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "sk-canary-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    client = JudgeClient(
        Settings(judge_model=MODEL, judge_base_url=llm_server.base_url, judge_retries=0)
    )
    llm_server.script(status(401, message=f"Incorrect API key provided: {canary}"))
    with pytest.raises(JudgeError) as caught:
        client.ask(QUESTION)
    assert llm_server.requests[0].headers["authorization"] == f"Bearer {canary}"
    assert canary not in str(caught.value)
    assert "***" in str(caught.value)


def test_reply_content_with_extra_json_noise(client: JudgeClient, llm_server: LLMServer) -> None:
    noisy = (
        "Here is my verdict:\n```json\n" + json.dumps({"verdict": "Yes", "reason": "ok"}) + "\n```"
    )
    llm_server.script(text(noisy))
    reply = client.ask(QUESTION)
    assert (reply.result, reply.rationale) == ("Yes", "ok")


def test_unavailable_reason(llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ready = JudgeClient(Settings(judge_model=MODEL, judge_base_url=llm_server.base_url))
    assert ready.unavailable_reason() is None
    assert llm_server.requests[-1].path == "/v1/models"
    gone = JudgeClient(Settings(judge_model=MODEL, judge_base_url="http://127.0.0.1:9/v1"))
    assert "does not answer" in (gone.unavailable_reason() or "")
    keyless = JudgeClient(Settings(judge_model="openai/gpt-4o-mini"))
    assert "set OPENAI_API_KEY" in (keyless.unavailable_reason() or "")
    assert "unknown judge model" in (keyless.unavailable_reason("nonsense") or "")


def test_a_long_retry_after_fails_at_once(
    client: JudgeClient, llm_server: LLMServer, sleeps: list[float]
) -> None:
    llm_server.script(status(429, retry_after=3600, message="rate limit"))
    with pytest.raises(JudgeError, match="the provider asks to wait 3600 s"):
        client.ask(QUESTION)
    assert (len(llm_server.requests), sleeps) == (1, [])


def test_retry_after_as_an_http_date(
    client: JudgeClient, llm_server: LLMServer, sleeps: list[float]
) -> None:
    import email.utils

    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    llm_server.script(status(503, headers={"Retry-After": when}), verdict("yes"))
    assert client.ask(QUESTION).result == "yes"
    assert 25 <= sleeps[0] <= 31


def test_a_provider_key_is_kept_with_a_base_url_and_a_bare_model_name(
    llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-0123456789")
    client = JudgeClient(Settings(judge_model="gpt-4o-mini", judge_base_url=llm_server.base_url))
    client.ask(QUESTION)
    assert llm_server.requests[0].headers["authorization"] == "Bearer sk-real-0123456789"


def test_a_key_given_as_an_inference_param_is_masked(
    client: JudgeClient, llm_server: LLMServer
) -> None:
    llm_server.script(status(401, message="Invalid key zzsecretvalue9876 for project"))
    with pytest.raises(JudgeError) as caught:
        client.ask(QUESTION, inference_params={"api_key": "zzsecretvalue9876"})
    assert "zzsecretvalue9876" not in str(caught.value)
    assert "Invalid key *** for project" in str(caught.value)
