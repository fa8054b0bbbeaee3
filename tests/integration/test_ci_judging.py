"""CI-grade judging through pytest, litellm and HTTP: the judge cache in each mode, spend
limits across xdist workers, deferred judging of gated suites, and genai.lock."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from tests.support.llm_server import LLMServer, status, verdict

KEY = "sk-test-not-a-real-key-0000000000"


pytestmark = pytest.mark.usefixtures("judge_client_warmed")


@pytest.fixture
def judged(pytester: pytest.Pytester, llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch):
    """Run pytester with the judge on the loopback server and the cache on by default."""
    monkeypatch.delenv("GENAI_CACHE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    def run(*args: str, model: str = "openai/judge-test") -> pytest.RunResult:
        return pytester.runpytest(
            f"--genai-judge-base-url={llm_server.base_url}",
            f"--genai-judge-model={model}",
            "--genai-judge-retries=0",
            "--genai-report=r.json",
            "-p",
            "no:randomly",
            *args,
        )

    return run


def report(pytester: pytest.Pytester) -> dict[str, Any]:
    return json.loads((pytester.path / "r.json").read_text())


def cache_rows(pytester: pytest.Pytester) -> list[tuple[str, str]]:
    with sqlite3.connect(pytester.path / ".genai_cache" / "judge.sqlite") as db:
        return db.execute("SELECT key, value FROM verdicts ORDER BY key").fetchall()


JUDGED = """
import pytest
from pytest_genai import assert_judged

ANSWERS = {answers!r}

@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_answer(name):
    assert_judged(ANSWERS[name], "{criterion}")
"""


def judged_tests(pytester: pytest.Pytester, n: int = 3, criterion: str = "is polite") -> None:
    answers = {f"a{i}": f"Thank you, answer {i}." for i in range(n)}
    pytester.makepyfile(test_judged=JUDGED.format(answers=answers, criterion=criterion))


def test_auto_mode_answers_an_unchanged_question_from_the_cache(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer, xdist_args: list[str]
) -> None:
    judged_tests(pytester)
    judged(*xdist_args).assert_outcomes(passed=3)
    assert len(llm_server.requests) == 3
    assert len(cache_rows(pytester)) == 3
    first = {c["case_id"]: c["feedback"][0] for c in report(pytester)["cases"]}

    llm_server.reset()
    result = judged(*xdist_args)
    result.assert_outcomes(passed=3)
    assert llm_server.requests == []
    result.stdout.fnmatch_lines(
        ["genai judge cache (auto, *judge.sqlite): 3 hits, 0 misses, 0 judge calls made"]
    )
    again = {c["case_id"]: c["feedback"][0] for c in report(pytester)["cases"]}
    for case, feedback in again.items():
        assert feedback["metadata"]["cached"] is True
        assert feedback["value"] == first[case]["value"]
        assert feedback["rationale"] == first[case]["rationale"]
    assert report(pytester)["totals"]["cached"] == 3

    # a changed question misses: other criterion, other output, other judge model
    llm_server.reset()
    judged_tests(pytester, criterion="is concise")
    judged(*xdist_args).assert_outcomes(passed=3)
    assert len(llm_server.requests) == 3
    llm_server.reset()
    judged(*xdist_args, model="openai/other-judge").assert_outcomes(passed=3)
    assert len(llm_server.requests) == 3
    llm_server.reset()
    judged(*xdist_args, "--genai-judge-temperature=0.5").assert_outcomes(passed=3)
    assert len(llm_server.requests) == 3


def test_record_replay_and_off(
    judged: Any,
    pytester: pytest.Pytester,
    llm_server: LLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    judged_tests(pytester, n=2)
    llm_server.respond_with(lambda request: verdict("yes", "first answer"))
    judged("--genai-cache=record").assert_outcomes(passed=2)
    assert len(llm_server.requests) == 2

    # record asks again and overwrites
    llm_server.reset()
    llm_server.respond_with(lambda request: verdict("yes", "second answer"))
    judged("--genai-cache=record").assert_outcomes(passed=2)
    assert len(llm_server.requests) == 2
    assert {json.loads(v)["rationale"] for _, v in cache_rows(pytester)} == {"second answer"}

    # replay: no request, no credentials, even with the server gone
    llm_server.reset()
    monkeypatch.delenv("OPENAI_API_KEY")
    result = pytester.runpytest(
        "--genai-cache=replay",
        "--genai-judge-base-url=http://127.0.0.1:9",
        "--genai-judge-model=openai/judge-test",
        "--genai-report=r.json",
    )
    result.assert_outcomes(passed=2)
    assert llm_server.requests == []
    assert {c["feedback"][0]["rationale"] for c in report(pytester)["cases"]} == {"second answer"}

    # a replay miss is a judge error saying how to record
    judged_tests(pytester, n=2, criterion="is short")
    result = pytester.runpytest(
        "--genai-cache=replay",
        "--genai-judge-base-url=http://127.0.0.1:9",
        "--genai-judge-model=openai/judge-test",
    )
    result.stdout.fnmatch_lines(
        [
            "*JUDGE ERROR*",
            "*no cached verdict of judge 'is_short' (openai/judge-test)*--genai-cache=record*",
        ]
    )
    assert "2 judge error" in result.stdout.str() or "2 failed" not in result.stdout.str()
    assert llm_server.requests == []

    # off: no file read or written
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    cache = pytester.path / ".genai_cache" / "judge.sqlite"
    before = cache.stat().st_mtime_ns
    judged("--genai-cache=off").assert_outcomes(passed=2)
    assert len(llm_server.requests) == 2
    assert cache.stat().st_mtime_ns == before


REPEATED = """
import pytest

@pytest.mark.genai_eval(
    dataset=[{"id": "c1", "inputs": {"q": 1}}, {"id": "c2", "inputs": {"q": 2}}],
    scorers=[__import__("pytest_genai").make_judge("polite", "Is {{ outputs }} polite?")],
    repeats=3,
)
def test_rep(case):
    return f"thank you for question {case.inputs['q']}"
"""


def test_each_repeat_gets_its_own_cached_verdict(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_rep=REPEATED)
    judged(*xdist_args).assert_outcomes(passed=8)  # 6 runs and the 2 cases' verdicts
    assert len(llm_server.requests) == 6
    assert len(cache_rows(pytester)) == 6
    llm_server.reset()
    judged(*xdist_args).assert_outcomes(passed=8)
    assert llm_server.requests == []


def test_two_workers_share_one_cache(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer
) -> None:
    judged_tests(pytester, n=24)
    llm_server.latency = 0.02
    judged("-n", "2").assert_outcomes(passed=24)
    assert len(llm_server.requests) == 24
    keys = [k for k, _ in cache_rows(pytester)]
    assert len(keys) == len(set(keys)) == 24
    llm_server.reset()
    judged("-n", "2").assert_outcomes(passed=24)
    assert llm_server.requests == []


def test_a_corrupt_cache_file_is_moved_aside_and_rebuilt(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer
) -> None:
    folder = pytester.path / ".genai_cache"
    folder.mkdir()
    (folder / "judge.sqlite").write_bytes(b"this is not a database\x00" * 100)
    judged_tests(pytester, n=2)
    result = judged()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*judge cache*could not be read*moved to judge.sqlite.corrupt-*"])
    assert len(list(folder.glob("judge.sqlite.corrupt-*"))) == 1
    assert len(cache_rows(pytester)) == 2
    assert "INTERNALERROR" not in result.stdout.str()


def test_call_limit_holds_across_workers(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer
) -> None:
    judged_tests(pytester, n=8)
    llm_server.latency = 0.05
    result = judged("-n", "2", "--genai-max-judge-calls=3", "--genai-cache=off")
    assert len(llm_server.requests) == 3
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*judge budget exhausted: 3 of at most 3 judge calls made; the judge was not asked*",
            "*; 5 not judged (budget exhausted)",
        ]
    )
    totals = report(pytester)["totals"]
    assert (totals["judge_calls"], totals["not_judged"]) == (3, 5)


def test_cost_limit_counts_priced_calls_and_cached_verdicts_are_free(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer
) -> None:
    judged_tests(pytester, n=6)
    # gpt-4o-mini is in litellm's price table: 11 + 7 tokens cost about $0.0000059 a call
    result = judged("--genai-max-cost=0.00001", model="openai/gpt-4o-mini")
    assert len(llm_server.requests) == 2
    result.stdout.fnmatch_lines(
        ["*judge budget exhausted: $0.0000* spent of at most $0.00001; the judge*"]
    )
    llm_server.reset()
    result = judged("--genai-max-cost=0.00001", model="openai/gpt-4o-mini")
    # the two cached verdicts cost nothing; two more calls fit the limit again
    assert len(llm_server.requests) == 2
    assert report(pytester)["totals"]["cached"] == 2


GATED = """
import pytest
from pytest_genai import make_judge, scorer

polite = make_judge("polite", "Is this polite? {{{{ outputs }}}}")

@scorer
def nonempty(outputs):
    return bool(outputs)

@pytest.mark.genai_eval(
    dataset=[{{"id": f"c{{i}}", "inputs": {{"i": i}}}} for i in range({n})],
    scorers=[polite, nonempty],
    thresholds={{"polite": {threshold}}},
)
def test_gated(case):
    time.sleep({app})
    return f"answer {{case.inputs['i']}}"

import time
"""


def verdict_by_case(request: Any) -> Any:
    text = request.prompt_text
    if "answer 3" in text:
        return status(500, message="judge exploded on c3")
    return verdict("no" if "answer 1" in text else "yes", "scripted")


def test_deferred_judging_completes_every_case_before_the_gates(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_gated=GATED.format(n=8, threshold=0.7, app=0.0))
    llm_server.respond_with(verdict_by_case)
    llm_server.latency = 0.3
    result = judged("--genai-cache=off", "--genai-judge-concurrency=4", *xdist_args)
    assert len(llm_server.requests) == 8
    # each judge call takes 0.3 s: one after another, no two would start within 0.25 s of
    # each other (per process); deferred, the pool has several at once
    times = sorted(r.received_at for r in llm_server.requests)
    overlap = max(sum(t <= u < t + 0.25 for u in times) for t in times)
    assert overlap >= 3, times
    cases = {c["case_id"]: c for c in report(pytester)["cases"]}
    assert len(cases) == 8
    for case_id, case in cases.items():
        names = sorted(f["name"] for f in case["feedback"])
        assert names == ["nonempty", "polite"], case_id
    polite = {k: next(f for f in c["feedback"] if f["name"] == "polite") for k, c in cases.items()}
    assert polite["c1"]["value"] == "no"
    assert polite["c3"]["error"]["error_type"] == "JudgeError"
    assert "judge exploded on c3" in polite["c3"]["error"]["message"]
    assert cases["c3"]["outcome"] == "error"
    # 6 of 8 pass: 75% >= 70%; the gate saw every case
    [gate] = report(pytester)["gates"]
    assert (gate["cases"], gate["value"], gate["passed"]) == (8, 0.75, True)
    result.stdout.fnmatch_lines(
        [
            "*judge errors of gated cases (judged after the test)*",
            "JUDGE ERROR test_gated.py::test_gated[[]c3[]] - polite: JudgeError: *judge exploded*",
            "gate PASSED test_gated.py::test_gated: polite pass rate 75.0%*",
        ]
    )
    assert "judge exploded on c3" in cases["c3"]["error"]


def test_deferred_judging_gate_fails_on_late_verdicts(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_gated=GATED.format(n=8, threshold=0.9, app=0.0))
    llm_server.respond_with(verdict_by_case)
    result = judged("--genai-cache=off", *xdist_args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "gate FAILED test_gated.py::test_gated: polite pass rate 75.0%*over 8 cases, "
            "needs >= 90.0%"
        ]
    )


def test_lock_of_the_pass_bar(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer, xdist_args: list[str]
) -> None:
    source = GATED.format(n=4, threshold=0.5, app=0.0)
    pytester.makepyfile(test_gated=source)
    result = judged("--genai-lock", *xdist_args)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["genai: locked the pass bar of 1 gated suite(s) in *genai.lock"])
    lock = json.loads((pytester.path / "genai.lock").read_text())
    [(suite, bar)] = lock["suites"].items()
    assert suite == "test_gated.py::test_gated"
    assert bar["thresholds"] == {"polite": "pass_rate>=0.5"}
    assert bar["judge_model"] == "openai/judge-test"
    assert bar["scorers"]["nonempty"] == "code"

    judged(*xdist_args).assert_outcomes(passed=5)  # the 4 cases and the gate

    for changed, message in (
        (source.replace("0.5}", "0.4}"), "the threshold on polite changed: *>=0.5 -> *>=0.4"),
        (source.replace("Is this polite?", "Is it polite?"), "judge polite changed*"),
        (source.replace("range(4)", "range(5)"), "the dataset changed*"),
    ):
        pytester.makepyfile(test_gated=changed)
        result = judged(*xdist_args)
        assert result.ret == pytest.ExitCode.TESTS_FAILED, message
        result.stdout.fnmatch_lines(
            [f"pass bar changed*{message}*", "FAILED test_gated.py::test_gated[[]genai-lock[]]*"]
        )
    result = judged(*xdist_args, model="openai/another-judge")
    pytester.makepyfile(test_gated=source)
    result = judged(*xdist_args, model="openai/another-judge")
    result.stdout.fnmatch_lines(
        ["*the judge model changed: openai/judge-test -> openai/another-judge*"]
    )
    # renewed on purpose
    judged("--genai-lock", *xdist_args, model="openai/another-judge")
    assert judged(*xdist_args, model="openai/another-judge").ret == pytest.ExitCode.OK


CRASHING = """
import os
import pytest
from pytest_genai import make_judge

polite = make_judge("polite", "Is this polite? {{ outputs }}")

@pytest.mark.genai_eval(
    dataset=[{"id": f"c{i}", "inputs": {"i": i}} for i in range(6)],
    scorers=[polite],
    thresholds={"polite": 0.5},
)
def test_gated(case):
    if case.inputs["i"] == 3:
        os._exit(1)
    return f"answer {case.inputs['i']}"
"""


def test_deferred_cases_of_a_crashed_worker_count_as_errors(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer
) -> None:
    """A worker that dies takes the verdicts it had not sent: those cases are errors in the
    report, so the gate is decided over every case, not the ones left."""
    pytester.makepyfile(test_gated=CRASHING)
    result = judged("--genai-cache=off", "-n", "1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    cases = {c["case_id"]: c for c in report(pytester)["cases"]}
    assert set(cases) == {f"c{i}" for i in range(6)}
    lost = [k for k, c in cases.items() if "verdicts were lost" in (c["error"] or "")]
    assert lost == ["c0", "c1", "c2"]
    [gate] = report(pytester)["gates"]
    assert gate["cases"] == 6 and gate["passed"] is False
    result.stdout.fnmatch_lines(["JUDGE ERROR test_gated.py::test_gated[[]c0[]] - *were lost*"])


def test_an_unreadable_genai_lock_fails_the_gated_suites_with_a_message(
    judged: Any, pytester: pytest.Pytester, llm_server: LLMServer
) -> None:
    pytester.makepyfile(test_gated=GATED.format(n=2, threshold=0.5, app=0.0))
    (pytester.path / "genai.lock").write_bytes(b"\xff\xfe not json")
    result = judged()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*genai.lock can't be read*write it again with --genai-lock*"])
    assert "INTERNALERROR" not in result.stdout.str()
    assert (pytester.path / "r.json").exists()
