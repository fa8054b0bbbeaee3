"""Scoring through pytest: outcomes, the terminal section, JUnit XML and the JSON report,
the same with and without xdist."""

from __future__ import annotations

import json
from typing import Any

import pytest
from junitparser import JUnitXml, Properties, TestCase

SUITE = """
import threading

import pytest
from pytest_genai import Feedback, assert_scored, scorer, scorers


@scorer(threshold=0.5, aggregations=["mean", "min", "max"])
def overlap(outputs, expectations):
    words = set(expectations["expected_response"].lower().split())
    return len(words & set(outputs.lower().split())) / len(words)


ANSWERS = {
    "refund": "Refunds are accepted within 30 days",
    "hours": "Our hours are nine to five",
    "rude": "Go away",
    "crash": None,
}


@pytest.mark.parametrize("question", ["refund", "hours", "rude"])
def test_answers(question):
    answer = ANSWERS[question]
    assert_scored(
        answer,
        [scorers.contains("refund", "hours", mode="any"), overlap],
        inputs={"question": question},
        expectations={"expected_response": ANSWERS["refund"]},
    )


def test_scorer_error():
    @scorer(name="explodes")
    def explodes(outputs):
        raise RuntimeError("judge unavailable")

    assert_scored("anything", [explodes, scorers.is_json()])


def test_app_crash(genai):
    genai.set_case(inputs={"question": "crash"})
    ANSWERS["crash"].upper()


def test_recorded(genai):
    genai.record("latency_ok", True)
    genai.record(Feedback(name="tone", value="polite", passed=True, rationale="says please"))
    worker = threading.Thread(target=genai.record, args=("threaded", 0.75))
    worker.start()
    worker.join()


def test_skipped(genai):
    pytest.skip("not today")


@pytest.fixture
def broken():
    raise RuntimeError("no database")


def test_setup_error(broken, genai):
    pass


def test_not_scored():
    pass
"""


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--genai-report=report.json", "--junitxml=junit.xml", *args)
    report = json.loads((pytester.path / "report.json").read_text())
    return result, report


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what differs between runs (times)."""
    cases = []
    for case in report["cases"]:
        case = dict(case, duration=None)
        case["feedback"] = [dict(f, duration=None) for f in case["feedback"]]
        cases.append(case)
    return {"totals": report["totals"], "summaries": report["summaries"], "cases": cases}


def test_outcomes_and_terminal_section(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    result, _ = run(pytester, "-rA", *xdist_args)
    result.assert_outcomes(passed=3, failed=4, skipped=1, errors=1)
    output = result.stdout.str()
    assert "INTERNALERROR" not in output
    result.stdout.fnmatch_lines(
        [
            "*= genai quality =*",
            "suite*scorer*cases*passed*failed*errors*skipped*pass rate*95% CI*mean*min*more",
            "test_suite.py::test_answers*contains*3*2*1*0*0*66.7%*",
            "test_suite.py::test_answers*overlap*3*1*2*0*0*33.3%*6.1%-79.2%*0.3889*0*max=1",
            "test_suite.py::test_app_crash*(no score)*1*0*0*1*0*0.0%*",
            "test_suite.py::test_recorded*threaded*1*0*0*0*0*-*0.75*0.75*",
            "test_suite.py::test_scorer_error*explodes*1*0*0*1*0*0.0%*",
            "test_suite.py::test_setup_error*(no score)*1*0*0*1*0*0.0%*",
            "test_suite.py::test_skipped*(no score)*1*0*0*0*1*-*",
            "8 cases: 2 passed, 2 failed, 3 errors, 1 skipped; 11 scores recorded",
            "genai report: *report.json",
        ]
    )
    section = output.split("genai quality")[1].split("genai report:")[0]
    assert "test_not_scored" not in section
    # a failing verdict and a scorer error read differently (xdist may reorder the failures)
    result.stdout.fnmatch_lines(
        ["*ScoresFailed: 1 of 2 scorers failed:", "*overlap: 0.1666* (pass rule: >= 0.5)"]
    )
    result.stdout.fnmatch_lines(
        [
            "*ScorerError: 1 of 2 scorers could not score (error, no verdict); 1 of 2*",
            "*explodes: ERROR RuntimeError: judge unavailable",
        ]
    )


def test_json_report(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    _, report = run(pytester, *xdist_args)
    assert report["schema_version"] == 1
    run_info = report["run"]
    assert run_info["exit_status"] == 1
    assert run_info["judge_model"] == "openai/gpt-4o-mini"
    assert "--genai-report=report.json" in run_info["pytest_args"]
    assert run_info["plugin_version"]
    cases = {c["case_id"]: c for c in report["cases"]}
    assert sorted(cases) == [
        "hours",
        "refund",
        "rude",
        "test_app_crash",
        "test_recorded",
        "test_scorer_error",
        "test_setup_error",
        "test_skipped",
    ]
    refund = cases["refund"]
    assert refund["suite"] == "test_suite.py::test_answers"
    assert refund["nodeid"] == "test_suite.py::test_answers[refund]"
    assert refund["inputs"] == {"question": "refund"}
    assert refund["outputs"] == "Refunds are accepted within 30 days"
    assert refund["outcome"] == "passed"
    assert [f["name"] for f in refund["feedback"]] == ["contains", "overlap"]
    assert cases["rude"]["outcome"] == "failed"
    assert cases["test_scorer_error"]["outcome"] == "error"
    crash = cases["test_app_crash"]
    assert crash["outcome"] == "error"
    assert "AttributeError" in crash["error"]
    assert crash["inputs"] == {"question": "crash"}
    assert cases["test_setup_error"]["error"].startswith("RuntimeError: no database")
    assert cases["test_skipped"]["outcome"] == "skipped"
    assert [f["name"] for f in cases["test_recorded"]["feedback"]] == [
        "latency_ok",
        "tone",
        "threaded",
    ]


def test_same_aggregates_with_and_without_xdist(pytester: pytest.Pytester) -> None:
    _, single = run(pytester)
    _, parallel = run(pytester, "-n", "2")
    assert comparable(single) == comparable(parallel)


def junit_case_props(case: TestCase) -> dict[str, str]:
    props = case.child(Properties)
    return {p.name: p.value for p in props} if props is not None else {}


def test_junit_properties(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    run(pytester, *xdist_args)
    xml = JUnitXml.fromfile(str(pytester.path / "junit.xml"))
    [suite] = list(xml)
    suite_props = {p.name: p.value for p in suite.properties()}
    assert suite_props["genai.cases"] == "8"
    assert suite_props["genai.errors"] == "3"
    assert suite_props["genai.test_suite.py::test_answers.contains.pass_rate"] == "0.666667"
    cases = {case.name: case for case in suite}
    props = junit_case_props(cases["test_answers[rude]"])
    assert props["genai.outcome"] == "failed"
    assert props["genai.overlap.passed"] == "false"
    assert props["genai.overlap.value"] == "0.0"
    assert props["genai.contains.rationale"] == "none found"
    error_props = junit_case_props(cases["test_scorer_error"])
    assert error_props["genai.explodes.error"] == "RuntimeError: judge unavailable"
    assert "genai.outcome" not in junit_case_props(cases["test_not_scored"])
    assert cases["test_answers[rude]"].is_failure
    assert cases["test_setup_error"].is_error


def test_report_is_written_when_nothing_was_scored(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_a(): pass")
    result = pytester.runpytest("--genai-report=out/r.json")
    result.assert_outcomes(passed=1)
    assert "genai quality" not in result.stdout.str()
    report = json.loads((pytester.path / "out" / "r.json").read_text())
    assert (report["cases"], report["summaries"], report["totals"]["cases"]) == ([], [], 0)


def test_nothing_printed_without_feedback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_a(genai): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "genai" not in result.stdout.str().split("collected")[1].replace("test_a(genai)", "")


def test_report_path_from_ini_and_env(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_plain="def test_a(genai): genai.record('x', True)")
    pytester.makeini("[pytest]\ngenai_report = from_ini.json\n")
    pytester.runpytest().assert_outcomes(passed=1)
    assert (pytester.path / "from_ini.json").exists()
    monkeypatch.setenv("GENAI_REPORT", "from_env.json")
    pytester.runpytest().assert_outcomes(passed=1)
    assert (pytester.path / "from_env.json").exists()
    pytester.runpytest("--genai-report=from_cli.json").assert_outcomes(passed=1)
    assert (pytester.path / "from_cli.json").exists()


def test_values_are_truncated(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_long="""
        from pytest_genai import assert_scored, scorers

        def test_long():
            assert_scored("x" * 500, scorers.length(max=1000), inputs={"q": "y" * 500})
        """
    )
    pytester.runpytest("--genai-max-value-chars=50", "--genai-report=r.json")
    [case] = json.loads((pytester.path / "r.json").read_text())["cases"]
    assert case["outputs"] == "x" * 50 + "…[truncated 450 chars]"
    assert case["inputs"]["q"].startswith("y" * 50 + "…")


def test_step_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist_args: list[str]
) -> None:
    summary = pytester.path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run(pytester, *xdist_args)
    text = summary.read_text()
    assert text.startswith("earlier step\n### genai quality")
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in text.splitlines()]
    assert ["test_suite.py::test_answers", "contains", "3", "2", "1", "0", "0"] in [
        row[:7] for row in rows
    ]
    assert "8 cases: 2 passed" in text


def test_assert_scored_returns_feedback_and_raises() -> None:
    from pytest_genai import assert_scored, scorers

    # This test itself runs under the plugin, so it records; the point is the return value.
    [feedback] = assert_scored('{"a": 1}', scorers.is_json())
    assert feedback.passed is True
    with pytest.raises(AssertionError, match="1 of 1 scorers failed"):
        assert_scored("nope", "is_json")


def test_scorer_names_resolve_in_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_names="""
        import pytest
        from pytest_genai import assert_scored

        def test_name():
            assert_scored("4", "equals_expected", expectations={"expected_response": "4"})

        def test_unknown():
            assert_scored("4", "no_such_scorer")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ValueError: no scorer named 'no_such_scorer'; known names:*"])


def test_cases_that_crash_before_scoring_still_count(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makepyfile(
        test_crash="""
        import pytest
        from pytest_genai import assert_scored, scorers

        def app(q):
            if q.startswith("boom"):
                raise ConnectionError("model down")
            if q == "skip":
                pytest.skip("not applicable")
            return "ok " + q

        @pytest.mark.parametrize("q", ["a", "b", "c", "boom1", "boom2", "skip"])
        def test_app(q):
            assert_scored(app(q), scorers.contains("ok"))

        def test_unrelated_failure():
            assert 1 == 2

        @pytest.mark.skip(reason="unrelated")
        def test_unrelated_skip():
            pass
        """
    )
    result = pytester.runpytest("--genai-report=r.json", *xdist_args)
    result.assert_outcomes(passed=3, failed=3, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "test_crash.py::test_app*contains*6*3*0*2*1*60.0%*",
            "6 cases: 3 passed, 0 failed, 2 errors, 1 skipped; 3 scores recorded",
        ]
    )
    report = json.loads((pytester.path / "r.json").read_text())
    cases = {c["case_id"]: c for c in report["cases"]}
    assert sorted(cases) == ["a", "b", "boom1", "boom2", "c", "skip"]
    assert cases["boom1"]["outcome"] == "error"
    assert cases["boom1"]["error"] == "ConnectionError: model down"
    assert cases["skip"]["outcome"] == "skipped"


def test_scores_recorded_before_a_skip_count_as_skipped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_skip="""
        import pytest

        @pytest.mark.parametrize("n", [1, 2])
        def test_n(genai, n):
            genai.record("check", True)
            if n == 2:
                pytest.skip("changed my mind")
        """
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["test_skip.py::test_n*check*2*1*0*0*1*100.0%*"])


def test_long_scorer_errors_are_truncated(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_err="""
        from pytest_genai import assert_scored

        def test_err():
            def explode(outputs):
                raise ValueError("x" * 500)
            assert_scored("a", explode)
        """
    )
    pytester.runpytest("--genai-max-value-chars=40", "--genai-report=r.json")
    [case] = json.loads((pytester.path / "r.json").read_text())["cases"]
    [feedback] = case["feedback"]
    assert feedback["error"]["message"] == "x" * 40 + "…[truncated 460 chars]"
    assert len(case["error"]) < 100


def test_empty_environment_value_means_unset(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENAI_REPORT", "")
    monkeypatch.setenv("GENAI_MAX_VALUE_CHARS", "")
    pytester.makepyfile(test_plain="def test_a(): pass")
    pytester.runpytest().assert_outcomes(passed=1)


def test_relative_ini_paths_count_from_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngenai_report = out/r.json\n")
    sub = pytester.mkdir("sub")
    sub.joinpath("test_sub.py").write_text("def test_a(genai):\n    genai.record('x', True)\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(sub)
        pytester.runpytest(str(sub)).assert_outcomes(passed=1)
    assert (pytester.path / "out" / "r.json").exists()
    assert not (sub / "out").exists()


def test_unwritable_report_fails_the_run_without_internal_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_a(genai): genai.record('x', True)")
    blocker = pytester.path / "blocker"
    blocker.write_text("a file where a folder should be")
    result = pytester.runpytest("--genai-report=blocker/r.json")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["pytest-genai: genai report: could not write *blocker*r.json: *"])
    assert "INTERNALERROR" not in result.stdout.str()
