"""Each case's trace in the JSON report: the span tree with timing, type, usage, errors and
content, secrets masked; the same with and without xdist, for deferred cases too."""

from __future__ import annotations

import json
from typing import Any

import pytest

PROJECT = """
import pytest
from pytest_genai import assert_scored, scorers, start_span, trace


@trace(span_type="RETRIEVER")
def search(query):
    return [{"page_content": "Refunds within 30 days."}]


@trace(span_type="TOOL")
def lookup(order, api_key):
    if order == "bad":
        raise LookupError("no order bad")
    return {"status": "shipped", "note": "token sk-abcdefghijklmnopqrstuvwx"}


@trace(span_type="AGENT")
def agent(question, order):
    search(question)
    with start_span("chat gpt-4o-mini", span_type="CHAT_MODEL") as span:
        span.set_attributes({"gen_ai.request.model": "gpt-4o-mini",
                             "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 10,
                             "pytest_genai.cost": 0.002})
    return str(lookup(order, api_key="hunter2-hunter2"))


@pytest.mark.parametrize("order", ["ORD-1", "bad"])
def test_agent(order):
    answer = agent("refunds?", order)
    assert_scored(answer, scorers.contains("shipped"))


CASES = [{"id": "q1", "inputs": {"order": "ORD-1"}}, {"id": "q2", "inputs": {"order": "ORD-2"}}]


@pytest.mark.genai_eval(dataset=CASES, scorers=[scorers.contains("shipped")],
                        thresholds={"contains": 0.5})
def test_gated(case):
    return agent("where is it?", case.inputs["order"])


def test_untraced(genai):
    genai.record("plain", True)
"""


def run(pytester: pytest.Pytester, *args: str) -> dict[str, Any]:
    pytester.makepyfile(test_project=PROJECT)
    result = pytester.runpytest("--genai-report=report.json", *args)
    result.assert_outcomes(passed=5, failed=1)  # 4 tests and the gate; `bad` raises
    return json.loads((pytester.path / "report.json").read_text())


def test_cases_carry_their_span_tree(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    report = run(pytester, *xdist_args)
    cases = {c["case_id"]: c for c in report["cases"]}
    trace = cases["ORD-1"]["trace"]
    assert [(s["name"], s["type"]) for s in trace] == [
        ("agent", "AGENT"),
        ("search", "RETRIEVER"),
        ("chat gpt-4o-mini", "CHAT_MODEL"),
        ("lookup", "TOOL"),
    ]
    root = trace[0]
    assert root["parent_id"] is None and root["start"] == 0.0
    assert {s["parent_id"] for s in trace[1:]} == {root["span_id"]}
    assert all(0 <= s["start"] <= root["duration"] + 1e-6 for s in trace)
    chat = trace[2]
    assert (chat["model"], chat["input_tokens"], chat["output_tokens"], chat["cost"]) == (
        "gpt-4o-mini",
        40,
        10,
        0.002,
    )
    assert trace[1]["inputs"] == {"query": "refunds?"}
    assert trace[1]["outputs"][0]["page_content"] == "Refunds within 30 days."
    text = json.dumps(report)
    assert "hunter2" not in text and "sk-abcdefghijklmnopqrstuvwx" not in text
    assert trace[3]["inputs"]["api_key"] == "***"

    failed = cases["bad"]["trace"]
    tool = next(s for s in failed if s["name"] == "lookup")
    assert tool["error"] == "LookupError: no order bad"
    assert next(s for s in failed if s["name"] == "agent")["error"] is not None

    for case_id in ("q1", "q2"):  # gated: judged after the test, the trace still comes along
        assert cases[case_id]["trace"][0]["name"] == "agent"
    assert cases["test_untraced"]["trace"] == []


def test_no_trace_without_span_capture(pytester: pytest.Pytester) -> None:
    report = run(pytester, "--genai-tracing=false")
    assert all(case["trace"] == [] for case in report["cases"])


SECRETS = """
from pytest_genai import start_span


def test_attributes(genai):
    with start_span("call") as span:
        span.set_attributes({
            "api_key": "plainvalue12345678",
            "llm.password": "hunter2hunter2",
            "http.request.header.x-api-key": ["plainheader12345678"],
            "bad.text": "x\\ud800y",
            "fine": "kept",
        })
    genai.record("ok", True)
"""


def test_secret_named_attributes_are_masked_and_bad_text_is_written(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_secrets=SECRETS)
    result = pytester.runpytest("--genai-report=report.json", "--genai-html=report.html")
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    text = (pytester.path / "report.json").read_text(encoding="utf-8")
    page = (pytester.path / "report.html").read_text(encoding="utf-8")
    for secret in ("plainvalue12345678", "hunter2hunter2", "plainheader12345678"):
        assert secret not in text and secret not in page
    (span,) = json.loads(text)["cases"][0]["trace"]
    attributes = span["attributes"]
    assert attributes["api_key"] == attributes["llm.password"] == "***"
    assert attributes["http.request.header.x-api-key"] == "***"
    assert attributes["fine"] == "kept"
    assert attributes["bad.text"] == "x?y"  # a lone surrogate, replaced
