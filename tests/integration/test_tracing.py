"""Span capture per test through pytest: isolation, the app's own provider, the failure section,
the switches, and trace-aware scorers; with and without xdist."""

from __future__ import annotations

import json

import pytest

ISOLATION = """
import asyncio, threading, time
import pytest
from pytest_genai import start_span, trace

@trace(span_type="TOOL")
def tool(tag):
    return tag

late = []

def test_a(genai_trace):
    with start_span("a-root", span_type="AGENT"):
        tool("a")
        worker = threading.Thread(target=tool, args=("a-thread",))
        worker.start(); worker.join()
    # a thread still running when the test ends: its span must not land in test_b
    started = threading.Event()
    def slow():
        with start_span("a-late"):
            started.set()
            time.sleep(0.3)
    late.append(threading.Thread(target=slow)); late[0].start(); started.wait()
    names = sorted(s.name for s in genai_trace.spans)
    assert names == ["a-root", "tool", "tool"], names
    assert genai_trace.find("tool", child_of="a-root").inputs == {"tag": "a"}

def test_b(genai_trace):
    async def main():
        async def task(n):
            with start_span(f"b-task-{n}"):
                await asyncio.sleep(0.01)
        await asyncio.gather(task(1), task(2))
    asyncio.run(main())
    late[0].join()
    names = sorted(s.name for s in genai_trace.spans)
    assert names == ["b-task-1", "b-task-2"], names

@pytest.mark.parametrize("n", range(6))
def test_many(genai_trace, n):
    tool(f"many-{n}")
    assert [c.arguments for c in genai_trace.tool_calls] == [{"tag": f"many-{n}"}]

@pytest.fixture
def traced_fixture():
    with start_span("fixture-setup"):
        pass
    yield
    with start_span("fixture-teardown"):
        pass

def test_fixture_spans_belong_to_the_test(traced_fixture, genai_trace):
    assert [s.name for s in genai_trace.spans] == ["fixture-setup"]
"""


def test_spans_stay_with_their_test(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_iso=ISOLATION)
    result = pytester.runpytest(*xdist_args)
    result.assert_outcomes(passed=9)


APP_PROVIDER = """
from opentelemetry import trace as otel
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

EXPORTER = InMemorySpanExporter()

def pytest_configure(config):
    provider = otel.get_tracer_provider()
    if not hasattr(provider, "add_span_processor"):
        provider = TracerProvider()
        otel.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
"""

APP_TESTS = """
from opentelemetry import trace as otel
from conftest import EXPORTER

tracer = otel.get_tracer("my.app")

def test_app_spans(genai_trace):
    EXPORTER.clear()
    with tracer.start_as_current_span("handle", attributes={"openinference.span.kind": "AGENT"}):
        tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}
        with tracer.start_as_current_span("lookup", attributes=tool):
            pass
    assert [s.name for s in genai_trace.spans] == ["handle", "lookup"]
    assert genai_trace.find("handle").span_type == "AGENT"
    genai_trace.assert_tool_called("lookup")
    # the app's own exporter still gets every span
    assert sorted(s.name for s in EXPORTER.get_finished_spans()) == ["handle", "lookup"]
"""


def test_an_app_with_its_own_tracer_provider(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makeconftest(APP_PROVIDER)
    pytester.makepyfile(test_app=APP_TESTS)
    result = pytester.runpytest_subprocess(*xdist_args)
    result.assert_outcomes(passed=1)


FAILING = """
from pytest_genai import start_span, trace

@trace(span_type="TOOL")
def search(query):
    raise ValueError("index offline")

def test_agent():
    with start_span("agent", span_type="AGENT"):
        try:
            search("refunds")
        except ValueError:
            pass
    assert False, "the answer was wrong"

def test_passing():
    with start_span("quiet"):
        pass
"""


def test_a_failed_test_shows_its_trace(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_fail=FAILING)
    result = pytester.runpytest(*xdist_args)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.re_match_lines(
        [
            r".*- genai trace -.*",
            r"\s+agent\s+AGENT\s+[\d.]+ ms",
            r"\s+└─ search\s+TOOL\s+[\d.]+ ms\s+ERROR ValueError: index offline",
        ]
    )
    assert "quiet" not in result.stdout.str()


def test_tracing_off(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngenai_tracing = false\n")
    pytester.makepyfile(
        test_off="""
        from pytest_genai import start_span

        def test_span_still_runs():
            with start_span("s") as span:
                span.set_outputs(1)

        def test_fixture(genai_trace):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*genai_trace needs span capture, which is off*"])


def test_bad_tracing_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("--genai-tracing=maybe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--genai-tracing on the command line: expected true or false*"])
    result = pytester.runpytest("--genai-traces=out.json")
    result.stderr.fnmatch_lines(["*expected 'otlp' or a path ending in .jsonl*"])
    result = pytester.runpytest("--genai-tracing=false", "--genai-traces=t.jsonl")
    result.stderr.fnmatch_lines(["*capture is off*"])


CONTENT = """
from pytest_genai import trace

@trace
def answer(question, api_key):
    return "see sk-abcdefghijklmnopqrstuvwx for " + question

def test_content(genai_trace):
    answer("refunds", api_key="hunter2-hunter2")
    span = genai_trace.find("answer")
    print("INPUTS", span.inputs, "OUTPUTS", span.outputs)
"""


@pytest.mark.parametrize("capture", ["true", "false"])
def test_content_capture_and_secrets(pytester: pytest.Pytester, capture: str) -> None:
    pytester.makepyfile(test_content=CONTENT)
    result = pytester.runpytest("-s", f"--genai-capture-content={capture}")
    result.assert_outcomes(passed=1)
    if capture == "true":
        result.stdout.fnmatch_lines(
            ["*INPUTS {'question': 'refunds', 'api_key': '***'} OUTPUTS see *** for refunds"]
        )
    else:
        result.stdout.fnmatch_lines(["*INPUTS None OUTPUTS None"])
    assert "hunter2" not in result.stdout.str()


TRACE_SCORERS = """
from pytest_genai import assert_scored, scorer, scorers, start_span, trace

@trace(span_type="TOOL")
def lookup(order):
    return {"status": "shipped"}

def app():
    with start_span("chat gpt", span_type="CHAT_MODEL") as span:
        span.set_attributes({"gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 10,
                             "pytest_genai.cost": 0.002})
    lookup(order=7)
    return "shipped"

@scorer
def used_the_lookup(trace):
    return any(c.name == "lookup" for c in trace.tool_calls)

def test_within_budget():
    out = app()
    assert_scored(out, [scorers.max_llm_calls(1), scorers.max_tokens(50),
                        scorers.max_cost(0.01), scorers.max_latency(5),
                        scorers.tool_called("lookup", order=7), used_the_lookup])

def test_over_budget():
    out = app()
    app()
    assert_scored(out, [scorers.max_llm_calls(1), scorers.max_tokens(60)])
"""


def test_trace_scorers(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_budget=TRACE_SCORERS)
    result = pytester.runpytest("--genai-report=r.json", *xdist_args)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*2 of 2 scorers failed*",
            "*max_llm_calls: 2 (pass rule: <= 1 calls)",
            "*rationale: 2 LLM call(s) (limit 1 calls)",
            "*max_tokens: 100 (pass rule: <= 60 tokens)",
            "*rationale: 100 tokens (80 in, 20 out) (limit 60 tokens)",
        ]
    )
    report = json.loads((pytester.path / "r.json").read_text())
    values = {
        (case["case_id"], f["name"]): f["value"]
        for case in report["cases"]
        for f in case["feedback"]
    }
    assert values[("test_within_budget", "max_cost")] == 0.002
    assert values[("test_within_budget", "tool_called_lookup")] is True
    assert values[("test_within_budget", "used_the_lookup")] is True
    assert values[("test_over_budget", "max_llm_calls")] == 2


def test_trace_scorers_without_tracing_are_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_x="""
        from pytest_genai import assert_scored, scorers

        def test_x():
            assert_scored("out", scorers.max_llm_calls(1))
        """
    )
    result = pytester.runpytest("--genai-tracing=false")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*could not score*", "*needs the test's trace*"])


APP_SETS_PROVIDER_IN_TEST = """
from opentelemetry import trace as otel
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

def test_app_sets_its_provider_when_it_starts():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel.set_tracer_provider(provider)  # refused if a provider had been installed before
    with otel.get_tracer("app").start_as_current_span("request"):
        pass
    assert [s.name for s in exporter.get_finished_spans()] == ["request"]
"""


def test_no_provider_is_installed_under_an_app_that_sets_its_own(
    pytester: pytest.Pytester,
) -> None:
    """A test that uses no pytest-genai feature keeps OpenTelemetry as the app expects."""
    pytester.makepyfile(test_app=APP_SETS_PROVIDER_IN_TEST)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert "genai" not in result.stdout.str().replace("genai-0", "")


SDK_DISABLED = """
from pytest_genai import assert_scored, scorers, start_span

def test_scorer():
    with start_span("chat", span_type="CHAT_MODEL"):
        pass
    assert_scored("out", scorers.max_llm_calls(0))

def test_fixture(genai_trace):
    with start_span("chat", span_type="CHAT_MODEL"):
        pass
    assert genai_trace.llm_calls == []
"""


def test_spans_that_cannot_be_captured_are_an_error_not_a_pass(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    pytester.makepyfile(test_app=SDK_DISABLED)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*could not score*", "*OTEL_SDK_DISABLED*"])
    result.stdout.fnmatch_lines(["*RuntimeError: the test's spans can't be captured*"])


SHARED_FIXTURE = """
import pytest
from pytest_genai import start_span

@pytest.fixture(scope="session")
def index():
    with start_span("embed corpus", span_type="CHAT_MODEL") as span:
        span.set_attributes({"gen_ai.usage.input_tokens": 500})
    return "index"

@pytest.mark.parametrize("n", range(4))
def test_question(index, genai_trace, n):
    with start_span("answer", span_type="CHAT_MODEL"):
        pass
    genai_trace.assert_max_llm_calls(1)
    assert genai_trace.usage.input_tokens == 0
"""


def test_a_session_fixtures_spans_are_not_one_tests_own(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    """Whichever test sets the fixture up first must not be charged for it (that would depend
    on test order, and so differ under xdist); its spans stay visible, marked."""
    pytester.makepyfile(test_shared=SHARED_FIXTURE + "\n    assert False\n")
    result = pytester.runpytest(*xdist_args)
    result.assert_outcomes(failed=4)
    # every test got past the trace checks to the final `assert False`
    assert result.stdout.str().count("- assert False") == 4
    result.stdout.re_match_lines([r"\s+embed corpus\s+CHAT_MODEL\s+.*\(session fixture\)"])


@pytest.mark.parametrize(
    "switch", [["-o", "genai_tracing=false"], ["--genai-tracing=false"], []], ids=str
)
def test_the_litellm_import_hook_follows_the_switch(
    pytester: pytest.Pytester, switch: list[str]
) -> None:
    pytester.makepyfile(
        test_x="""
        import sys

        def test_hook(request):
            hooked = any(type(f).__name__ == "_LitellmFinder" for f in sys.meta_path)
            off = request.config.getoption("genai_tracing") == "false" or (
                request.config.getini("genai_tracing") == "false")
            assert hooked is not off
        """
    )
    pytester.runpytest_subprocess(*switch).assert_outcomes(passed=1)
