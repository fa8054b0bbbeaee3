"""assert_judged through pytest, litellm and HTTP to the loopback server, with and without xdist."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.llm_server import LLMServer, status, text, verdict

CANARY = "sk-canary-judge-0123456789"


pytestmark = pytest.mark.usefixtures("judge_client_warmed")


@pytest.fixture
def judged(pytester: pytest.Pytester, llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch):
    """Run pytester with the judge pointed at the loopback server."""
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest(
            f"--genai-judge-base-url={llm_server.base_url}",
            "--genai-judge-model=openai/judge-test",
            "--genai-report=r.json",
            *args,
        )

    return run


def report(pytester: pytest.Pytester) -> dict[str, Any]:
    return json.loads((pytester.path / "r.json").read_text())


ANSWER_TESTS = """
import pytest
from pytest_genai import assert_judged, judges

ANSWERS = {"refund": "Refunds within 30 days, thank you!", "rude": "Read the manual."}

@pytest.mark.parametrize("question", ["refund", "rude"])
def test_answer(question):
    assert_judged(
        ANSWERS[question],
        "cites the refund policy and is polite",
        inputs={"question": question},
    )
"""


def by_content(server: LLMServer):
    """Reply yes when the judged output is polite, no otherwise."""

    def reply(request: Any) -> Any:
        polite = "thank you" in request.prompt_text
        return verdict("yes" if polite else "no", "thanks the user" if polite else "curt reply")

    return reply


def test_verdicts_and_the_failure_message(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer, xdist_args: list[str]
) -> None:
    llm_server.respond_with(by_content(llm_server))
    pytester.makepyfile(test_answers=ANSWER_TESTS)
    result = judged(*xdist_args)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ScoresFailed: 1 of 1 scorers failed:",
            "*cites_the_refund_policy_and_is_polite: 'no' (judge openai/judge-test; pass rule: "
            "verdict is yes)",
            "*rationale: curt reply",
            "*judged output: 'Read the manual.'",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "suite*scorer*judge calls*tokens*cost",
            "test_answers.py::test_answer*cites_the_refund_policy_and_is_polite*2*1*1*0*0*50.0%"
            "*2*36*?",
            "2 cases: 1 passed, 1 failed, 0 errors, 0 skipped; 2 scores recorded; judges: 2 "
            "verdicts asked, 0 judge errors, 36 tokens, cost ?",
        ]
    )
    data = report(pytester)
    assert data["totals"]["judge_calls"] == 2
    assert data["totals"]["input_tokens"] == 22
    [case] = [c for c in data["cases"] if c["case_id"] == "rude"]
    [feedback] = case["feedback"]
    assert feedback["source"] == {"source_type": "LLM_JUDGE", "source_id": "openai/judge-test"}
    assert feedback["rationale"] == "curt reply"
    assert len(llm_server.requests) == 2


def test_a_judge_that_cannot_answer_is_a_judge_error(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer, xdist_args: list[str]
) -> None:
    llm_server.default = text("I'd rather not say.")
    pytester.makepyfile(
        test_err="""
        from pytest_genai import assert_judged

        def test_err():
            assert_judged("anything", "is polite")

        def test_plain():
            assert 1
        """
    )
    result = judged("-rA", *xdist_args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*= 1 passed*, 1 judge error in *"])
    output = result.stdout.str()
    assert "INTERNALERROR" not in output
    result.stdout.fnmatch_lines(
        [
            "*= JUDGE ERRORS =*",
            "*JudgeError: 1 of 1 scorers could not score (error, no verdict):",
            "*is_polite: ERROR JudgeError: judge openai/judge-test gave no usable verdict*",
            '*raw reply: "I\'d rather not say."',
        ]
    )
    result.stdout.fnmatch_lines(
        ["JUDGE ERROR test_err.py::test_err - pytest_genai.errors.JudgeError: 1 of 1 scorers*"]
    )
    data = report(pytester)
    [case] = data["cases"]
    assert case["outcome"] == "error"
    assert data["totals"]["judge_errors"] == 1
    assert case["feedback"][0]["metadata"]["raw_reply"] == "I'd rather not say."


def test_judge_error_status_letter(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer
) -> None:
    llm_server.default = status(400, message="bad request")
    pytester.makepyfile(
        test_err="from pytest_genai import assert_judged\n\n"
        "def test_err():\n    assert_judged('x', 'is polite')\n"
    )
    result = judged("-v")
    result.stdout.fnmatch_lines(["*test_err.py::test_err JUDGE ERROR*"])
    quiet = judged()
    quiet.stdout.fnmatch_lines(["test_err.py J*"])


def test_criteria_are_judged_concurrently(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer
) -> None:
    llm_server.latency = 0.4
    pytester.makepyfile(
        test_many="""
        from pytest_genai import assert_judged, judges

        def test_many():
            assert_judged(
                "Thanks! Your refund is on its way.",
                ["is polite", "mentions the refund", judges.safety(), "is short"],
            )
        """
    )
    judged("--genai-judge-concurrency=4").assert_outcomes(passed=1)
    times = sorted(r.received_at for r in llm_server.requests)
    assert len(times) == 4
    assert times[-1] - times[0] < 0.35  # all four were sent before the first answer came
    llm_server.reset()
    llm_server.latency = 0.2
    judged("--genai-judge-concurrency=1").assert_outcomes(passed=1)
    times = sorted(r.received_at for r in llm_server.requests)
    assert times[-1] - times[0] >= 3 * 0.2 - 0.05  # one after another


def test_model_and_params_per_call(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer
) -> None:
    pytester.makepyfile(
        test_call="""
        from pytest_genai import assert_judged

        def test_call():
            assert_judged("ok", "is fine", model="openai:/judge-two", inference_params={"seed": 3})
        """
    )
    judged("--genai-judge-temperature=0.5").assert_outcomes(passed=1)
    body = llm_server.requests[0].body
    assert (body["model"], body["seed"], body["temperature"]) == ("judge-two", 3, 0.5)


def test_retries_over_http_with_retry_after(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer
) -> None:
    llm_server.script(
        status(429, retry_after=0.05, message="rate limit"), status(500), verdict("yes")
    )
    pytester.makepyfile(
        test_retry="from pytest_genai import assert_judged\n\n"
        "def test_retry():\n    assert_judged('ok', 'is fine')\n"
    )
    # 429 waits Retry-After; the 500 waits the client's own backoff (0.25-0.5 s)
    judged("--genai-judge-retries=2").assert_outcomes(passed=1)
    assert len(llm_server.requests) == 3
    assert report(pytester)["cases"][0]["feedback"][0]["metadata"]["requests"] == 3


def test_the_api_key_never_reaches_reports_or_output(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer
) -> None:
    llm_server.script(status(401, message=f"Incorrect API key provided: {CANARY}"))
    pytester.makepyfile(
        test_key="from pytest_genai import assert_judged\n\n"
        "def test_key():\n    assert_judged('ok', 'is fine')\n"
    )
    result = judged("--junitxml=j.xml")
    assert llm_server.requests[0].headers["authorization"] == f"Bearer {CANARY}"
    everything = (
        result.stdout.str()
        + result.stderr.str()
        + (pytester.path / "r.json").read_text()
        + (pytester.path / "j.xml").read_text()
    )
    assert "Incorrect API key provided: ***" in everything
    assert CANARY not in everything


def test_no_credentials_is_a_clear_judge_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    pytester.makepyfile(
        test_creds="""
        from pytest_genai import assert_judged

        def test_judged():
            assert_judged("ok", "is fine")

        def test_not_judged():
            assert True
        """
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*= 1 passed, 1 judge error in *"])
    result.stdout.fnmatch_lines(
        ["*no credentials for the judge model 'openai/gpt-4o-mini'*set OPENAI_API_KEY*"]
    )


def test_builtin_judges_by_name(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer
) -> None:
    pytester.makepyfile(
        test_names="""
        from pytest_genai import assert_scored

        def test_names():
            assert_scored(
                "4",
                ["correctness", "is_json"],
                inputs="2+2",
                expectations={"expected_response": "4"},
            )
        """
    )
    judged().assert_outcomes(passed=1)
    assert "Expected:" in llm_server.requests[0].prompt_text


def test_judge_usage_in_junit(
    judged: Any, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    import xml.etree.ElementTree as ET

    pytester.makepyfile(
        test_one="from pytest_genai import assert_judged\n\n"
        "def test_one():\n    assert_judged('ok', ['is fine', 'is short'])\n"
    )
    judged("--junitxml=j.xml", *xdist_args).assert_outcomes(passed=1)
    root = ET.parse(pytester.path / "j.xml").getroot()
    suite = {p.get("name"): p.get("value") for p in root.find("testsuite/properties") or []}
    assert (suite["genai.judge_calls"], suite["genai.tokens"]) == ("2", "36")
    case = {p.get("name"): p.get("value") for p in root.find("testsuite/testcase/properties") or []}
    assert (case["genai.is_fine.value"], case["genai.is_fine.tokens"]) == ("yes", "18")


def test_a_scorer_that_asserts_inside_the_pool_does_not_deadlock(
    pytester: pytest.Pytester, llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # two scorers that each wait on two judges would hold both pool threads and wait forever
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    pytester.makepyfile(
        test_nested="""
        from pytest_genai import assert_judged, scorer

        @scorer
        def polite_and_short(outputs):
            assert_judged(outputs, ["is polite", "is short"])
            return True

        @scorer
        def clear_and_kind(outputs):
            assert_judged(outputs, ["is clear", "is kind"])
            return True

        def test_nested():
            assert_judged("Thanks!", [polite_and_short, clear_and_kind, "is friendly", "is calm"])
        """
    )
    result = pytester.runpytest_subprocess(
        f"--genai-judge-base-url={llm_server.base_url}",
        "--genai-judge-model=openai/judge-test",
        "--genai-judge-concurrency=2",
        timeout=120,
    )
    result.assert_outcomes(passed=1)
    assert len(llm_server.requests) == 6


def test_a_misused_judge_is_a_scorer_error_not_a_judge_error(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer
) -> None:
    pytester.makepyfile(
        test_misuse="from pytest_genai import assert_judged, judges\n\n"
        "def test_misuse():\n    assert_judged('4', judges.correctness())\n"
    )
    result = judged()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ScorerError: 1 of 1 scorers could not score*",
            "*correctness: ERROR ValueError: judge 'correctness' needs expectations*",
        ]
    )
    assert report(pytester)["totals"]["judge_errors"] == 0
    assert llm_server.requests == []
